/* The resource-side decision, shared by the gateway, /check and libtollgate:
 * is this request, with this access token and proof of possession, allowed
 * to call this endpoint of this tool? Pure: keys, revocation state, the
 * replay cache and time are injected. RFC 9068 (JWT access tokens), RFC 6750
 * §3 and RFC 9449 §7 (challenges), RFC 8705 §3 (certificate binding), RFC
 * 9396 (authorization_details of type "tool"), RFC 8707 (audience). */
#ifndef TG_VERIFY_RESOURCE_H
#define TG_VERIFY_RESOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "jose/jwk.h"
#include "policy/model.h"
#include "verify/dpop.h"

/* Finds the issuer's published key by kid (a new reference in out):
 * TG_ERR_NOT_FOUND when unknown (the caller may refetch the JWKS once). */
struct tg_rs_keys {
    enum tg_err (*find)(void *arg, const char *kid, struct tg_jwk *out);
    void *arg;
};

/* Live state the token alone cannot tell: revoked jti, disabled agent.
 * Returns 1 active, 0 inactive, negative on error (the decision denies).
 * NULL: no such state (libtollgate without introspection). */
struct tg_rs_state {
    int (*active)(void *arg, const char *jti, const char *client_id, int64_t iat);
    void *arg;
};

struct tg_token_cache; /* verified tokens by SHA-256, bounded, thread-safe */
struct tg_token_cache *tg_token_cache_new(size_t capacity);
void tg_token_cache_free(struct tg_token_cache *c);

struct tg_rs_config {
    const char *issuer;             /* expected iss */
    struct tg_rs_keys keys;         /* required */
    struct tg_rs_state state;       /* optional */
    struct tg_token_cache *cache;   /* optional: a DPoP request then costs one signature check */
    struct tg_dpop_config dpop;     /* algs, window, replay (required), nonces, clock */
    const struct tg_clock *clock;   /* NULL: system */
    int64_t skew;                   /* leeway on exp/nbf, seconds */
    const char *resource_metadata;  /* URL for the challenges' resource_metadata (RFC 9728 §5.1), or NULL */
};

struct tg_rs_request {
    const char *method;             /* "GET" */
    const char *path;               /* the path within the tool, raw ("/items/42") */
    const char *url;                /* the full request URL as the client used it (htu) */
    const char *const *authorization; /* every Authorization header value */
    size_t n_authorization;
    const char *const *dpop;        /* every DPoP header value */
    size_t n_dpop;
    struct tg_slice client_cert;    /* DER of the TLS client certificate, or empty */
    struct tg_slice body;           /* for a content_digest in the proof, may be empty */
};

/* The identity a tool may trust, copied out of the verified token. */
struct tg_rs_identity {
    char sub[129], client_id[129], tenant[129], owner[257], agent_type[16];
    char jti[129], scope[1024];
    char binding[16];   /* "dpop", "mtls" or "bearer" */
    char action[8];     /* the endpoint's action class */
    char endpoint[300]; /* "METHOD /template" of the matched endpoint */
    int64_t exp;
};

struct tg_rs_decision {
    enum tg_err err;          /* TG_OK: allow */
    int status;               /* 200, 400, 401, 403 (or 503 when the replay cache is full) */
    const char *error;        /* RFC error code or NULL (no credentials at all: RFC 6750 §3.1) */
    const char *description;  /* client-safe */
    char www_authenticate[1024]; /* the challenge(s) to send with 401/403 */
    char scope_needed[256];   /* for insufficient_scope: "tool:action" */
    int need_nonce;           /* send a fresh DPoP-Nonce */
    struct tg_rs_identity id; /* filled as far as the token was verified */
};

/* Decide. Never fails open: any internal error denies. */
void tg_rs_decide(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                  const struct tg_rs_request *req, struct tg_rs_decision *out);

#endif
