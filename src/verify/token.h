/* Internal to src/verify: a verified access token (RFC 9068) reduced to what
 * the resource-side decision needs, shared between resource.c and the token
 * cache. Immutable once built; reference-counted so a cache hit hands it out
 * without copying and without holding the cache's lock. */
#ifndef TG_VERIFY_TOKEN_H
#define TG_VERIFY_TOKEN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "policy/authz.h"
#include "verify/resource.h"

#define TG_RS_MAX_TOKEN 65536 /* bytes of an access token */

struct tg_rs_token {
    atomic_uint refs;
    int64_t exp, iat;
    char sub[129], client_id[129], tenant[129], owner[257], agent_type[16], jti[129];
    char *scope;   /* the scope claim, or NULL */
    char **aud;    /* the aud claim, one or more */
    size_t n_aud;
    char jkt[TG_THUMBPRINT_B64_LEN + 1]; /* cnf.jkt, or empty */
    char x5t[TG_THUMBPRINT_B64_LEN + 1]; /* cnf["x5t#S256"], or empty */
    /* authorization_details of type "tool" (others are not ours). endpoints
     * is non-NULL exactly when the detail restricts them (n may be 0). */
    struct tg_authz_detail *details;
    size_t n_details;
};

/* Verify the JWT (typ, kid, signature, iss, exp/nbf/iat, jti, sub,
 * client_id, aud present, cnf, authorization_details) at `now`. Errors:
 *   TG_ERR_OAUTH_INVALID_TOKEN  with a client-safe *why; *unknown_kid set
 *                               when the key is unknown;
 *   TG_ERR_STORE                the keys could not be consulted;
 *   TG_ERR_NOMEM, TG_ERR_CONFIG. */
enum tg_err tg_rs_token_verify(const struct tg_rs_config *cfg, const char *token, size_t len,
                               struct tg_rs_token **out, const char **why,
                               int *unknown_kid) TG_MUST_CHECK;
struct tg_rs_token *tg_rs_token_ref(struct tg_rs_token *t);
void tg_rs_token_unref(struct tg_rs_token *t);

/* The cache, by SHA-256 of the token text. get: a new reference, or NULL.
 * put: keeps its own reference (an existing entry for the key is kept).
 * remove: forget the entry (an expired token). */
struct tg_rs_token *tg_token_cache_get(struct tg_token_cache *c, const uint8_t key[TG_SHA256_LEN]);
void tg_token_cache_put(struct tg_token_cache *c, const uint8_t key[TG_SHA256_LEN],
                        struct tg_rs_token *t, int64_t now);
void tg_token_cache_remove(struct tg_token_cache *c, const uint8_t key[TG_SHA256_LEN]);

#endif
