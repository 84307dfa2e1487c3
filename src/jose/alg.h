/* JWS algorithms Tollgate accepts (RFC 7518 §3, RFC 8037 §3.1). Symmetric
 * (HS*) and "none" are never accepted: they have names here only so that
 * refusing them is a distinct error. */
#ifndef TG_JOSE_ALG_H
#define TG_JOSE_ALG_H

#include "core/buf.h"
#include "core/err.h"
#include "crypto/crypto.h"

enum tg_jws_alg {
    TG_JWS_ALG_UNSET = 0,
    TG_JWS_ES256,
    TG_JWS_ES384,
    TG_JWS_EDDSA,
    TG_JWS_RS256,
    TG_JWS_PS256,
    TG_JWS_ED25519, /* RFC 9864: the fully-specified name of EdDSA with Ed25519 */
    TG_JWS_ALG__COUNT
};

#define TG_JWS_ALG_BIT(a) (1u << (unsigned)(a))
#define TG_JWS_ALGS_ALL                                                                   \
    (TG_JWS_ALG_BIT(TG_JWS_ES256) | TG_JWS_ALG_BIT(TG_JWS_ES384) |                        \
     TG_JWS_ALG_BIT(TG_JWS_EDDSA) | TG_JWS_ALG_BIT(TG_JWS_RS256) | TG_JWS_ALG_BIT(TG_JWS_PS256) | \
     TG_JWS_ALG_BIT(TG_JWS_ED25519))

const char *tg_jws_alg_name(enum tg_jws_alg alg);
/* TG_ERR_JWS_ALG_NONE for "none", TG_ERR_JWS_ALG_SYMMETRIC for HS256/384/512,
 * TG_ERR_JWS_ALG_UNKNOWN for anything else we do not implement. */
enum tg_err tg_jws_alg_parse(const char *name, enum tg_jws_alg *out) TG_MUST_CHECK;
enum tg_sig_scheme tg_jws_alg_scheme(enum tg_jws_alg alg);
/* 1 when `alg` can be used with a key of `type` (RFC 7518 §3.1 table). */
int tg_jws_alg_fits(enum tg_jws_alg alg, enum tg_key_type type);
/* 1 when a key restricted to `key_alg` may be used with `alg` (equal, or
 * EdDSA and Ed25519, the same algorithm under two names). */
int tg_jws_alg_same(enum tg_jws_alg key_alg, enum tg_jws_alg alg);
/* The natural alg of a key (RS256 for RSA). */
enum tg_jws_alg tg_jws_alg_for_key(enum tg_key_type type);

#endif
