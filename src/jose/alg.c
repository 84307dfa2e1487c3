#include "jose/alg.h"

#include <string.h>

static const char *const names[TG_JWS_ALG__COUNT] = {
    [TG_JWS_ES256] = "ES256", [TG_JWS_ES384] = "ES384", [TG_JWS_EDDSA] = "EdDSA",
    [TG_JWS_RS256] = "RS256", [TG_JWS_PS256] = "PS256", [TG_JWS_ED25519] = "Ed25519",
};

const char *
tg_jws_alg_name(enum tg_jws_alg alg)
{
    if ((unsigned)alg >= TG_JWS_ALG__COUNT || names[alg] == NULL)
        return "unset";
    return names[alg];
}

enum tg_err
tg_jws_alg_parse(const char *name, enum tg_jws_alg *out)
{
    int i;

    *out = TG_JWS_ALG_UNSET;
    /* Algorithm names are case-sensitive (RFC 7515 §4.1.1). */
    for (i = 1; i < TG_JWS_ALG__COUNT; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum tg_jws_alg)i;
            return TG_OK;
        }
    }
    /* RFC 8725 §3.1 / RFC 7518 §3.6: never "none". */
    TG_ENSURE(strcmp(name, "none") != 0, TG_ERR_JWS_ALG_NONE, "alg none");
    /* RFC 8725 §2.1: an HMAC alg where an asymmetric key is expected is the
     * classic key-confusion attack; refuse it by name. */
    TG_ENSURE(strcmp(name, "HS256") != 0 && strcmp(name, "HS384") != 0 &&
                  strcmp(name, "HS512") != 0,
              TG_ERR_JWS_ALG_SYMMETRIC, "symmetric alg");
    TG_ENSURE(0, TG_ERR_JWS_ALG_UNKNOWN, "unknown alg");
}

enum tg_sig_scheme
tg_jws_alg_scheme(enum tg_jws_alg alg)
{
    switch (alg) {
    case TG_JWS_ES256:
        return TG_SIG_ECDSA_P256_SHA256;
    case TG_JWS_ES384:
        return TG_SIG_ECDSA_P384_SHA384;
    case TG_JWS_EDDSA:
    case TG_JWS_ED25519:
        return TG_SIG_ED25519;
    case TG_JWS_RS256:
        return TG_SIG_RSA_PKCS1_SHA256;
    case TG_JWS_PS256:
        return TG_SIG_RSA_PSS_SHA256;
    default:
        return 0;
    }
}

int
tg_jws_alg_fits(enum tg_jws_alg alg, enum tg_key_type type)
{
    switch (alg) {
    case TG_JWS_ES256:
        return type == TG_KEY_EC_P256;
    case TG_JWS_ES384:
        return type == TG_KEY_EC_P384;
    case TG_JWS_EDDSA:
    case TG_JWS_ED25519:
        return type == TG_KEY_ED25519;
    case TG_JWS_RS256:
    case TG_JWS_PS256:
        return type == TG_KEY_RSA;
    default:
        return 0;
    }
}

enum tg_jws_alg
tg_jws_alg_for_key(enum tg_key_type type)
{
    switch (type) {
    case TG_KEY_EC_P256:
        return TG_JWS_ES256;
    case TG_KEY_EC_P384:
        return TG_JWS_ES384;
    case TG_KEY_ED25519:
        return TG_JWS_EDDSA;
    case TG_KEY_RSA:
        return TG_JWS_RS256;
    default:
        return TG_JWS_ALG_UNSET;
    }
}

int
tg_jws_alg_same(enum tg_jws_alg key_alg, enum tg_jws_alg alg)
{
    if (key_alg == alg)
        return 1;
    return (key_alg == TG_JWS_EDDSA || key_alg == TG_JWS_ED25519) &&
           (alg == TG_JWS_EDDSA || alg == TG_JWS_ED25519);
}
