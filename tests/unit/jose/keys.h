/* Test helpers: keys and hand-made tokens, so refusal tests can put any
 * header or signature on the wire. */
#ifndef TG_TEST_KEYS_H
#define TG_TEST_KEYS_H

#include <jansson.h>

#include "crypto/crypto.h"
#include "jose/b64url.h"
#include "jose/jwk.h"
#include "jose/jws.h"

static inline struct tg_jwk
t_gen(enum tg_key_type type)
{
    struct tg_key *k = NULL;
    struct tg_jwk j;

    memset(&j, 0, sizeof(j));
    if (tg_key_generate(type, 2048, &k) != TG_OK)
        return j;
    if (tg_jwk_from_key(k, TG_JWS_ALG_UNSET, NULL, &j) != TG_OK)
        memset(&j, 0, sizeof(j));
    tg_key_free(k);
    return j;
}

/* header_json and payload are raw JSON text; `scheme` signs (0 = garbage
 * signature of sig_len bytes). Result is malloc'd. */
static inline char *
t_token(const struct tg_jwk *jwk, enum tg_sig_scheme scheme, const char *header_json,
        const char *payload, size_t sig_len_override)
{
    struct tg_buf b;
    uint8_t sig[TG_SIG_MAX_LEN];
    size_t sig_len = 0;
    const char *s;
    char *r;

    tg_buf_init(&b, 1 << 20);
    if (tg_b64url_encode(tg_slice(header_json, strlen(header_json)), &b) != TG_OK ||
        tg_buf_append(&b, ".", 1) != TG_OK ||
        tg_b64url_encode(tg_slice(payload, strlen(payload)), &b) != TG_OK)
        return NULL;
    if (scheme != 0) {
        if (tg_sign(jwk->key, scheme, tg_slice(b.p, b.len), sig, sizeof(sig), &sig_len) != TG_OK)
            return NULL;
    } else {
        memset(sig, 0x5a, sizeof(sig));
    }
    if (sig_len_override)
        sig_len = sig_len_override;
    if (tg_buf_append(&b, ".", 1) != TG_OK ||
        tg_b64url_encode(tg_slice(sig, sig_len), &b) != TG_OK || tg_buf_cstr(&b, &s) != TG_OK)
        return NULL;
    r = strdup(s);
    tg_buf_reset(&b);
    return r;
}

static inline char *
t_pub_json(const struct tg_jwk *jwk)
{
    json_t *o = NULL;
    char *s;

    if (tg_jwk_public_json(jwk, &o) != TG_OK)
        return NULL;
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

#endif
