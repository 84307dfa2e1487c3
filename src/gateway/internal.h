/* Internals of src/gateway/ shared between its files; nothing outside the
 * folder includes this (its unit tests do). */
#ifndef TG_GATEWAY_INTERNAL_H
#define TG_GATEWAY_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/gateway.h"
#include "policy/model.h"
#include "store/cache.h"
#include "store/snapshot.h"

#define TG_GW_TOOLS_PREFIX "/tools/"
#define TG_GW_PRM_PREFIX "/.well-known/oauth-protected-resource/tools/"
#define TG_GW_CHECK_PATH "/check"
/* Longest URL we build (htu, upstream URL, metadata URL). */
#define TG_GW_URL_MAX 8192
/* At most this many Authorization or DPoP values are handed to the
 * decision: more than one is refused there anyway. */
#define TG_GW_MAX_CREDENTIAL_HEADERS 4
/* Tools kept in the cache (the policy allows 1024). */
#define TG_GW_TOOL_CACHE_MAX 2048

/* Headers /check reads (set by nginx in the auth_request location). */
#define TG_GW_HDR_ORIG_METHOD "X-Original-Method"
#define TG_GW_HDR_ORIG_URI "X-Original-URI"
#define TG_GW_HDR_FWD_PROTO "X-Forwarded-Proto"
#define TG_GW_HDR_FWD_HOST "X-Forwarded-Host"

/* A cached tool: immutable once published, shared by reference. */
struct tg_gw_tool {
    struct tg_tool t;
    int64_t loaded_at;
    size_t refs;              /* under gw->tools_lock */
};

struct tg_gw_curl_slot;

struct tg_gateway {
    struct tg_gateway_config cfg;
    char *issuer;
    char *metadata_base;              /* cfg.metadata_base or the issuer */
    struct tg_cache *replay;          /* DPoP proof jti */
    struct tg_token_cache *tokens;    /* verified access tokens */
    struct tg_jwk_cache *proof_keys;  /* DPoP proof keys by thumbprint */
    struct tg_snapshots *snapshots;   /* agents' state and revocations in memory */
    struct tg_jws_header_cache *proof_headers; /* a client's proofs share one header */
    uint8_t nonce_key[32];
    struct tg_rs_config rs;           /* per request: copied, resource_metadata set */
    unsigned algs;                    /* effective DPoP algs */

    pthread_mutex_t tools_lock;       /* the tool cache; never held across I/O */
    struct tg_gw_tool *tools[TG_GW_TOOL_CACHE_MAX];
    size_t n_tools;

    pthread_key_t curl_key;           /* a thread's CURL handle for calls without a server */
    int curl_key_made;
    pthread_mutex_t curl_lock;        /* the list of every thread's handle */
    struct tg_gw_curl_slot *curl_slots;
};

/* --- pure helpers (uri.c) --- */

/* "/tools/<id>" optionally followed by "/..." (the path within the tool):
 * the id is 1..128 characters of [A-Za-z0-9._:-] (no percent-encoding).
 * `rest` points into path ("" when nothing follows the id).
 * TG_ERR_NOT_FOUND when the path is not of that shape. */
enum tg_err tg_gw_split_tool_path(const char *path, char id[TG_POLICY_ID_MAX + 1],
                                  const char **rest) TG_MUST_CHECK;
/* The router's rule for paths, for URIs that did not come through it
 * (/check): starts with "/", printable ASCII only, no dot segments (raw or
 * percent-encoded), no encoded "/", "\" or NUL, no raw "\". 1 = safe. */
int tg_gw_path_is_safe(const char *path);
/* The URL a call goes to: the tool's upstream, the path within the tool
 * (as received), then the upstream's own query if it has one and the
 * agent's after it ("http://h/api?k=1" + "/items" + "x=2" ->
 * "http://h/api/items?k=1&x=2"); one "/" where both sides have one.
 * TG_ERR_TOO_LARGE when it does not fit. */
enum tg_err tg_gw_upstream_url(const char *upstream, const char *rest, const char *query,
                               char *out, size_t cap) TG_MUST_CHECK;
/* Tenant-bound tools (docs/gateway.md, "Tenant-bound routing"): an
 * upstream holding this placeholder takes the verified token's tenant there. */
#define TG_GW_TENANT_PLACEHOLDER "{tenant}"
/* Longest tenant that can name a host label (RFC 1035 §2.3.4). */
#define TG_GW_TENANT_LABEL_MAX 63
/* 1 when `upstream` holds the placeholder (NULL: 0). */
int tg_gw_upstream_tenant_bound(const char *upstream);
/* The upstream for `tenant`: the placeholder replaced by it, or `upstream`
 * copied when it holds none. Where it stands decides what a tenant may be:
 * in the host (before the first "/", "?" or "#" after "://") 1..63 of
 * [A-Za-z0-9-]; elsewhere (a path segment) 1..128 of [A-Za-z0-9._-], not
 * "." or "..". TG_ERR_NOT_FOUND: tenant-bound and `tenant` is NULL or empty;
 * TG_ERR_INVALID_ARG: the tenant is outside that alphabet; TG_ERR_CONFIG:
 * the placeholder in the query or twice (validation refuses those);
 * TG_ERR_TOO_LARGE: it does not fit. */
enum tg_err tg_gw_upstream_for_tenant(const char *upstream, const char *tenant, char *out,
                                      size_t cap) TG_MUST_CHECK;
/* 1 when a request header of this name may be forwarded upstream:
 * credentials (Authorization, Proxy-Authorization, DPoP, Cookie), framing
 * and hop-by-hop headers, Host, Expect, Accept-Encoding, forwarding headers,
 * every X-Tollgate-* and every name holding "tenant" never are; nor any
 * name listed in one of the request's Connection headers (`connection`, the
 * values joined with ","; may be NULL). */
int tg_gw_forward_request_header(const char *name, const char *connection);
/* 1 when an upstream response header of this name is passed back to the
 * agent (an allowlist: content metadata, caching, Location, Retry-After). */
int tg_gw_forward_response_header(const char *name);
/* 1 when `v` can be an HTTP field value (no CR, LF, NUL or other controls). */
int tg_gw_field_value_ok(const char *v);

/* --- gateway.c: shared by the proxy and /check --- */

int64_t tg_gw_now(const struct tg_gateway *gw);
/* A tool by id, from the cache (refreshed after tool_ttl) or the store.
 * TG_ERR_NOT_FOUND, TG_ERR_STORE. Release with tg_gw_tool_release. */
enum tg_err tg_gw_tool_get(struct tg_gateway *gw, const char *id,
                           struct tg_gw_tool **out) TG_MUST_CHECK;
void tg_gw_tool_release(struct tg_gateway *gw, struct tg_gw_tool *t);

/* Decide one call of `tool` (method and path within the tool, htu), with the
 * credentials of `req` (every Authorization and DPoP header, its client
 * certificate). */
void tg_gw_decide(struct tg_gateway *gw, const struct tg_gw_tool *tool,
                  const struct tg_http_request *req, const char *method, const char *path,
                  const char *url, struct tg_slice body, struct tg_rs_decision *d);
/* The decision's configuration for `tool` (resource_metadata written into
 * prm; content_digest required for kind mcp+content_digest). */
void tg_gw_rs_config(const struct tg_gateway *gw, const struct tg_gw_tool *tool,
                     struct tg_rs_config *cfg, char *prm, size_t prm_cap);
/* The request the decision reads (credential arrays filled, at most
 * TG_GW_MAX_CREDENTIAL_HEADERS each). */
struct tg_gw_rs_request {
    const char *auth[TG_GW_MAX_CREDENTIAL_HEADERS], *dpop[TG_GW_MAX_CREDENTIAL_HEADERS];
    struct tg_rs_request rq;
};
void tg_gw_rs_request(const struct tg_http_request *req, const char *method, const char *path,
                      const char *url, struct tg_slice body, struct tg_gw_rs_request *out);
/* The refusal: status, {"error","error_description"} (no "error" when the
 * request carried no credentials, RFC 6750 §3.1), WWW-Authenticate, and a
 * fresh DPoP-Nonce when the decision asks for one. */
void tg_gw_respond_deny(struct tg_gateway *gw, const struct tg_rs_decision *d,
                        struct tg_http_response *res);
/* A JSON error the gateway itself decides (unknown tool, upstream failure). */
void tg_gw_respond_error(struct tg_http_response *res, int status, const char *error,
                         const char *description);
/* Calls fn(arg, name, value) for every identity header of an allowed call
 * (X-Tollgate-Agent, -Client-Id, -Tenant, -Owner, -Agent-Type, -Scope,
 * -Jti, -Action, -Endpoint, -Binding), skipping empty values. Stops at and
 * returns the first non-zero fn result; -1 when a value holds a control
 * character (fail closed: the token's claims are not safe to forward).
 * /check adds X-Tollgate-Mcp-Tool for an MCP tools/call (check.c). */
int tg_gw_identity_each(const struct tg_rs_identity *id,
                        int (*fn)(void *arg, const char *name, const char *value), void *arg);

/* One audit event per allow and per deny. `d` may be NULL (refused before
 * the decision: unknown tool); `status` is what the agent gets,
 * `upstream_status` 0 when nothing was forwarded. */
struct tg_gw_audit {
    const char *event;          /* "gateway.allow", "check.deny", ... */
    const char *tool, *method, *path;
    const struct tg_rs_decision *d;
    const char *reason;         /* overrides d->description */
    const char *error;          /* overrides d->error */
    int status, upstream_status;
};
enum tg_err tg_gw_audit_emit(struct tg_gateway *gw, const struct tg_http_request *req,
                             const struct tg_gw_audit *a) TG_MUST_CHECK;

/* tenant.c: for a tenant-bound tool, turn the allow `d` into 403
 * insufficient_scope when the token has no tenant, or one that cannot name
 * the tool's upstream; anything else is left as it is. */
void tg_gw_tenant_gate(const struct tg_gateway *gw, const struct tg_gw_tool *tool,
                       struct tg_rs_decision *d);

/* proxy.c: what a caller does with a buffered 2xx..5xx answer before it
 * is audited and sent (the tools/list filter): it may rewrite res and a. */
typedef void (*tg_gw_forward_hook)(void *arg, const struct tg_tool *tool,
                                   struct tg_http_response *res, struct tg_gw_audit *a);
/* proxy.c: forward an allowed call (`d` the allow, `a` its audit record so
 * far) and answer it. Takes ownership of d (malloc'd), of the reference to
 * tool and of hook_arg (hook_free), whatever happens: the caller only
 * returns. Normally the handler's response is deferred and the exchange
 * runs on the worker's loop; without a server (tests) it blocks. The
 * answer: a text/event-stream one streamed as it comes (unless `buffer`:
 * the caller reads the body), anything else buffered under the cap; the
 * upstream failing before anything was sent -> 502, timing out -> 504. One
 * audit event, written before any of the upstream's answer reaches the
 * agent (an allow that cannot be recorded gets a 500 instead). */
void tg_gw_forward(struct tg_gateway *gw, struct tg_gw_tool *tool,
                   const struct tg_http_request *req, const char *rest,
                   struct tg_rs_decision *d, const struct tg_gw_audit *a, int buffer,
                   tg_gw_forward_hook hook, void *hook_arg, void (*hook_free)(void *arg),
                   struct tg_http_response *res);
/* mcp_proxy.c: a call to a tool of kind mcp (docs/gateway.md, "MCP
 * servers"): decided, then forwarded (1: tg_gw_forward took d and the
 * tool, and answers and audits) or refused (0: res is the answer, `a`
 * filled for the audit event, which the caller writes). */
int tg_gw_mcp_proxy(struct tg_gateway *gw, struct tg_gw_tool *tool,
                    const struct tg_http_request *req, const char *rest, const char *url,
                    struct tg_rs_decision *d, struct tg_http_response *res,
                    struct tg_gw_audit *a);

/* --- handlers --- */

void tg_gw_handle_proxy(void *ctx, const struct tg_http_request *req, struct tg_http_response *res);
void tg_gw_handle_check(void *ctx, const struct tg_http_request *req, struct tg_http_response *res);
void tg_gw_handle_prm(void *ctx, const struct tg_http_request *req, struct tg_http_response *res);
/* proxy.c: the per-thread CURL handles, freed with the gateway. */
enum tg_err tg_gw_curl_init(struct tg_gateway *gw) TG_MUST_CHECK;
void tg_gw_curl_free(struct tg_gateway *gw);

#endif
