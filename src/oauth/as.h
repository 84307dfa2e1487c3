/* The authorization server: shared state of the OAuth endpoints and the
 * routes they register. Immutable after tg_as_new except through the
 * thread-safe objects it holds (store, keyring, caches, audit). */
#ifndef TG_OAUTH_AS_H
#define TG_OAUTH_AS_H

#include <stdint.h>

#include "audit/audit.h"
#include "http/http.h"
#include "jose/jwk_cache.h"
#include "oauth/form.h"
#include "oauth/keys.h"
#include "store/snapshot.h"
#include "policy/model.h"
#include "store/cache.h"
#include "store/store.h"
#include "verify/dpop.h"

#define TG_CLIENT_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define TG_GRANT_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"

struct tg_as_config {
    const char *issuer;         /* "http://127.0.0.1:8080" (no trailing slash) */
    const char *mtls_base;      /* "https://127.0.0.1:8443", or NULL */
    int64_t token_lifetime;     /* default 300 */
    int64_t dpop_iat_window;    /* default 300 */
    int dpop_require_nonce;     /* server nonces on the token endpoint */
    unsigned dpop_algs;         /* default: all five */
    int64_t assertion_max_age;  /* how far exp of a client assertion may be, default 600 */
    size_t replay_max_entries;  /* default 1,000,000 */
    const char *spiffe_bundle;  /* PEM CA bundle for X.509-SVIDs, or NULL */
    const char *spiffe_jwks;    /* JWKS JSON text of the trust domain for JWT-SVIDs, or NULL */
    const struct tg_clock *clock; /* NULL: system */
};

struct tg_as {
    struct tg_as_config cfg;
    char *issuer, *mtls_base;
    struct tg_store *store;       /* borrowed */
    struct tg_keyring *keys;      /* borrowed */
    struct tg_audit *audit;       /* borrowed */
    struct tg_cache *replay;      /* owned: DPoP jti and client assertion jti */
    struct tg_jwk_cache *jwk_cache; /* owned */
    struct tg_jws_header_cache *hdr_cache; /* owned */
    struct tg_snapshots *snapshots; /* owned: the inventory in memory */
    uint8_t secret_key[32];       /* HMAC key for client secrets */
    uint8_t nonce_key[32];        /* DPoP nonces */
    struct tg_dpop_config dpop;
};

/* `secret_key` is the HMAC key for client secrets (see tg_as_secret_key). */
enum tg_err tg_as_new(const struct tg_as_config *cfg, struct tg_store *store,
                      struct tg_keyring *keys, struct tg_audit *audit,
                      const uint8_t secret_key[32], struct tg_as **out) TG_MUST_CHECK;
void tg_as_free(struct tg_as *as);
int64_t tg_as_now(const struct tg_as *as);
/* /token, /introspect, /revoke, /jwks, /.well-known/oauth-authorization-server */
enum tg_err tg_as_routes(struct tg_as *as, struct tg_http_router *r) TG_MUST_CHECK;

/* The HMAC key for client secrets: sealed under the master key in the
 * store (blob "client-secret-key"), created on first use. */
enum tg_err tg_as_secret_key(struct tg_store *store, const uint8_t master[TG_MASTER_KEY_LEN],
                             uint8_t out[32]) TG_MUST_CHECK;
/* HMAC of a client secret as stored on the agent. */
enum tg_err tg_as_secret_mac(const uint8_t key[32], const char *secret,
                             uint8_t mac[TG_SECRET_MAC_LEN]) TG_MUST_CHECK;

/* Client authentication (RFC 6749 §2.3, RFC 7523 §2.2, RFC 8705 §2). */
struct tg_client {
    struct tg_agent agent;      /* the authenticated agent (owned) */
    enum tg_auth_method method; /* how it authenticated this time */
    int used_authorization_header;
    char x5t[TG_THUMBPRINT_B64_LEN + 1]; /* of the TLS client certificate, "" if none */
    const char *why;            /* on failure: client-safe reason */
};
enum tg_err tg_client_authenticate(struct tg_as *as, const struct tg_http_request *req,
                                   const struct tg_form *form, const char *endpoint_path,
                                   struct tg_client *out) TG_MUST_CHECK;
void tg_client_reset(struct tg_client *c);

#endif
