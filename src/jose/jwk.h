/* JSON Web Keys (RFC 7517) for the asymmetric types of RFC 7518 §6 and
 * RFC 8037: EC P-256/P-384, OKP Ed25519, RSA >= 2048 bits. Parsing is pure
 * (JSON in, key out); a thumbprint-keyed cache spares re-parsing keys seen
 * before. */
#ifndef TG_JOSE_JWK_H
#define TG_JOSE_JWK_H

#include <jansson.h>

#include "core/err.h"
#include "crypto/crypto.h"
#include "jose/alg.h"
#include "jose/jwk_cache.h"

#define TG_JWK_MAX_JSON 16384
#define TG_THUMBPRINT_B64_LEN 43 /* base64url of 32 octets */

enum tg_jwk_flags {
    /* Refuse any private member (d, p, q, dp, dq, qi, oth, k): the rule for a
     * JWK carried in a header, such as a DPoP proof (RFC 9449 §4.2). */
    TG_JWK_PUBLIC_ONLY = 1u << 0,
    /* Require a private key (for signing). */
    TG_JWK_REQUIRE_PRIVATE = 1u << 1,
};

struct tg_jwk {
    struct tg_key *key;        /* one reference, owned */
    enum tg_key_type type;
    enum tg_jws_alg alg;       /* the "alg" member, TG_JWS_ALG_UNSET when absent */
    char *kid;                 /* the "kid" member, owned, or NULL */
    uint8_t thumbprint[TG_SHA256_LEN]; /* RFC 7638, SHA-256 */
};

/* Parse a JWK object. `cache` may be NULL; public keys are looked up in and
 * added to it by thumbprint. On success `out` owns a key reference; release
 * it with tg_jwk_reset. */
enum tg_err tg_jwk_from_json(const json_t *obj, unsigned flags, struct tg_jwk_cache *cache,
                             struct tg_jwk *out) TG_MUST_CHECK;
enum tg_err tg_jwk_parse(const char *json, size_t len, unsigned flags, struct tg_jwk_cache *cache,
                         struct tg_jwk *out) TG_MUST_CHECK;
/* Wrap a key made elsewhere (generated, loaded from PEM). Takes a reference. */
enum tg_err tg_jwk_from_key(struct tg_key *key, enum tg_jws_alg alg, const char *kid,
                            struct tg_jwk *out) TG_MUST_CHECK;
void tg_jwk_reset(struct tg_jwk *jwk);

/* RFC 7638 §3: SHA-256 over the required members in lexicographic order. */
enum tg_err tg_jwk_thumbprint_json(const json_t *obj, uint8_t out[TG_SHA256_LEN]) TG_MUST_CHECK;
/* base64url of a thumbprint (RFC 9449 jkt, RFC 8705 x5t#S256), 43 chars + NUL. */
void tg_thumbprint_b64(const uint8_t tp[TG_SHA256_LEN], char out[TG_THUMBPRINT_B64_LEN + 1]);
/* RFC 8705 §3.1: x5t#S256 = base64url(SHA-256(DER certificate)). */
enum tg_err tg_x5t_s256(struct tg_slice der, char out[TG_THUMBPRINT_B64_LEN + 1]) TG_MUST_CHECK;

/* Export: the public JWK (kty and key members, plus kid, alg and "use":"sig"
 * when set) or, for key storage and tests, the private JWK. */
enum tg_err tg_jwk_public_json(const struct tg_jwk *jwk, json_t **out) TG_MUST_CHECK;
enum tg_err tg_jwk_private_json(const struct tg_jwk *jwk, json_t **out) TG_MUST_CHECK;

#endif
