/* libtollgate: what a tool links to verify Tollgate access tokens
 * in-process: the token (RFC 9068), its proof of possession (DPoP, RFC
 * 9449, or the TLS client certificate, RFC 8705) and the tool's own
 * endpoint table (tool, endpoint, action), with the same decision as the
 * gateway (docs/verify.md). No I/O: the caller hands in the issuer's JWKS
 * text and the request; the library keeps a token cache and a DPoP replay
 * set in memory.
 *
 * Opaque handles; errors are ints (TOLLGATE_OK = 0, anything else is a code
 * for tollgate_error_name). A verifier is safe to use from many threads at
 * once. Only symbols marked TOLLGATE_API are exported. */
#ifndef TOLLGATE_H
#define TOLLGATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOLLGATE_API __attribute__((visibility("default")))
#define TOLLGATE_MUST_CHECK __attribute__((warn_unused_result))
/* Callers are warned about a NULL they pass where one is never valid; the
 * library itself is built without the attribute, so that its own checks
 * (which turn a NULL into TG_ERR_INVALID_ARG) are not optimised away. */
#ifdef TOLLGATE_BUILDING
#define TOLLGATE_NONNULL(...)
#else
#define TOLLGATE_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#endif

#define TOLLGATE_VERSION "0.1.0"

#define TOLLGATE_OK 0

typedef struct tollgate_verifier tollgate_verifier;
typedef struct tollgate_decision tollgate_decision;

/* The library's version string, e.g. "0.1.0". */
TOLLGATE_API const char *tollgate_version(void);

/* Name of an error code returned by this library (e.g. "TG_ERR_JWS_SIG_INVALID"). */
TOLLGATE_API const char *tollgate_error_name(int err);

/* The OAuth error string for an error code in a given context (e.g.
 * "invalid_dpop_proof"): the code's own RFC string when it has one,
 * otherwise `context_error`. */
TOLLGATE_API const char *tollgate_error_oauth(int err, const char *context_error);

/* One entry of the tool's endpoint table (docs/policy.md). */
struct tollgate_endpoint {
    const char *method; /* GET POST PUT PATCH DELETE HEAD OPTIONS, or "*" */
    const char *path;   /* template: "/items", "/items/{id}", "*" segments */
    const char *action; /* "read", "write" or "admin" */
    int high_risk;      /* 1: allowed only to a token that names this endpoint
                         * and is sender-constrained (DPoP or mTLS) */
};

/* Zero-initialise, then set what you need. */
struct tollgate_options {
    const char *resource_metadata;  /* RFC 9728 metadata URL for the challenges, or NULL */
    int64_t skew;                   /* leeway on exp/nbf in seconds; 0: 30 */
    int64_t dpop_window;            /* how old a DPoP proof may be, seconds; 0: 300 */
    size_t token_cache_size;        /* verified tokens remembered; 0: 4096 */
    size_t replay_cache_size;       /* DPoP proof ids remembered; 0: 65536 */
    const unsigned char *dpop_nonce_key; /* 32 secret bytes: require server nonces
                                          * (RFC 9449 §9); NULL: no nonces */
    int require_content_digest;     /* DPoP proofs must cover the body (content_digest) */
    /* Revocation and disabled agents (e.g. from the issuer's introspection):
     * 1 active, 0 inactive, negative when unknown (the request is refused
     * with 503). NULL: not consulted. Called on every request. */
    int (*active)(void *arg, const char *jti, const char *client_id, int64_t iat);
    void *active_arg;
    /* Clock (seconds since the epoch); NULL: the system clock. */
    int64_t (*now)(void *arg);
    void *now_arg;
};

/* A verifier for one tool. `issuer` is the expected iss; `jwks_json` the
 * issuer's JWKS text (its /jwks document); `resource` the tool's RFC 8707
 * resource URI (the tokens' aud); `tool_id` the tool's id in the tokens'
 * authorization_details; `endpoints` its table (copied). `opts` may be NULL.
 * Errors: an invalid table or resource (TG_ERR_POLICY_INVALID), a JWKS
 * without a usable key, out of memory. */
TOLLGATE_API int tollgate_verifier_new(const char *issuer, const char *jwks_json,
                                       const char *resource, const char *tool_id,
                                       const struct tollgate_endpoint *endpoints,
                                       size_t n_endpoints, const struct tollgate_options *opts,
                                       tollgate_verifier **out) TOLLGATE_MUST_CHECK
    TOLLGATE_NONNULL(1, 2, 3, 4, 8);

/* Replace the issuer's keys (after a rotation; see
 * tollgate_decision_unknown_key). Safe while other threads verify. */
TOLLGATE_API int tollgate_verifier_set_jwks(tollgate_verifier *v, const char *jwks_json)
    TOLLGATE_MUST_CHECK TOLLGATE_NONNULL(1, 2);

TOLLGATE_API void tollgate_verifier_free(tollgate_verifier *v);

/* Verify one request. `method` ("GET"), `url` (the full URL the client
 * used: the DPoP htu), `path` (the path the endpoint table is matched
 * against, still percent-encoded; NULL: the path of `url`),
 * `authorization` and `dpop` (the header values, NULL when absent),
 * `cert_der` (the TLS client certificate, or NULL), `body` (for a DPoP
 * content_digest, or NULL). On TOLLGATE_OK, *out is a decision (allow or
 * deny) to free with tollgate_decision_free; on any other return there is
 * no decision and the caller must refuse the request (500). */
TOLLGATE_API int tollgate_verify(tollgate_verifier *v, const char *method, const char *url,
                                 const char *path, const char *authorization, const char *dpop,
                                 const unsigned char *cert_der, size_t cert_len,
                                 const unsigned char *body, size_t body_len,
                                 tollgate_decision **out) TOLLGATE_MUST_CHECK
    TOLLGATE_NONNULL(1, 2, 3, 11);

/* The same with every header value the request carried, so that two
 * Authorization or two DPoP headers are refused as RFC 6750 §3.1 and
 * RFC 9449 §4.3 require. */
struct tollgate_request {
    const char *method, *url, *path;
    const char *const *authorization;
    size_t n_authorization;
    const char *const *dpop;
    size_t n_dpop;
    const unsigned char *cert_der;
    size_t cert_len;
    const unsigned char *body;
    size_t body_len;
};
TOLLGATE_API int tollgate_verify_request(tollgate_verifier *v, const struct tollgate_request *req,
                                         tollgate_decision **out) TOLLGATE_MUST_CHECK
    TOLLGATE_NONNULL(1, 2, 3);

/* 1 when the request may proceed. */
TOLLGATE_API int tollgate_decision_allowed(const tollgate_decision *d);
/* HTTP status to answer a refusal with: 400, 401, 403, 503 or 500 (200 on allow). */
TOLLGATE_API int tollgate_decision_status(const tollgate_decision *d);
/* The RFC error code ("invalid_token", "insufficient_scope", ...), or NULL
 * (allowed, or no credentials at all: RFC 6750 §3.1). */
TOLLGATE_API const char *tollgate_decision_error(const tollgate_decision *d);
/* A client-safe description, or NULL. */
TOLLGATE_API const char *tollgate_decision_description(const tollgate_decision *d);
/* The WWW-Authenticate value to send with the refusal, or NULL. */
TOLLGATE_API const char *tollgate_decision_www_authenticate(const tollgate_decision *d);
/* For insufficient_scope: the "tool:action" the call needs, or NULL. */
TOLLGATE_API const char *tollgate_decision_scope_needed(const tollgate_decision *d);
/* A fresh DPoP nonce to send as DPoP-Nonce (nonces configured), or NULL. */
TOLLGATE_API const char *tollgate_decision_dpop_nonce(const tollgate_decision *d);
/* Seconds for Retry-After with a 503, or 0. */
TOLLGATE_API int tollgate_decision_retry_after(const tollgate_decision *d);
/* 1 when the token names a key the JWKS lacks: fetch the issuer's JWKS
 * again and tollgate_verifier_set_jwks (at most once in a while). */
TOLLGATE_API int tollgate_decision_unknown_key(const tollgate_decision *d);
/* The internal error code, for the log (tollgate_error_name). */
TOLLGATE_API int tollgate_decision_code(const tollgate_decision *d);

/* The identity the tool may trust, from the verified token ("" when
 * absent or not reached). */
enum tollgate_field {
    TOLLGATE_SUBJECT = 1,  /* sub */
    TOLLGATE_CLIENT_ID,    /* the agent */
    TOLLGATE_TENANT,
    TOLLGATE_OWNER,
    TOLLGATE_AGENT_TYPE,   /* internal, tenant, browsing */
    TOLLGATE_TOKEN_ID,     /* jti */
    TOLLGATE_SCOPE,        /* this tool's scope tokens: "demo:read demo:write" */
    TOLLGATE_BINDING,      /* dpop, mtls or bearer */
    TOLLGATE_ACTION,       /* the endpoint's action: read, write, admin */
    TOLLGATE_ENDPOINT,     /* "METHOD /template" */
};
TOLLGATE_API const char *tollgate_decision_field(const tollgate_decision *d,
                                                 enum tollgate_field f);
/* The token's exp (seconds since the epoch), or 0. */
TOLLGATE_API int64_t tollgate_decision_expires_at(const tollgate_decision *d);

TOLLGATE_API void tollgate_decision_free(tollgate_decision *d);

#ifdef __cplusplus
}
#endif

#endif
