/* The enforcement point in front of tools: a reverse proxy on
 * /tools/<tool-id>/..., an external authorizer on /check (nginx
 * auth_request), and RFC 9728 protected-resource metadata per tool. Every
 * request is decided by tg_rs_decide (src/verify/resource.h); this folder
 * only gathers the request, asks, answers and forwards. See docs/gateway.md. */
#ifndef TG_GATEWAY_GATEWAY_H
#define TG_GATEWAY_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/err.h"
#include "http/http.h"
#include "store/store.h"
#include "verify/resource.h"

struct tg_gateway_config {
    const char *issuer;          /* the authorization server: iss, authorization_servers */
    struct tg_rs_keys keys;      /* the issuer's published keys (required) */
    struct tg_store *store;      /* tools, revocations, agents (borrowed, required) */
    struct tg_audit *audit;      /* borrowed; NULL: no audit events */
    unsigned dpop_algs;          /* TG_JWS_ALG_BIT set; 0 = all */
    int64_t dpop_iat_window;     /* seconds; 0 = 300 */
    int dpop_require_nonce;      /* RFC 9449 §9: proofs carry a nonce this gateway issued */
    size_t replay_max_entries;   /* DPoP jti replay cache; 0 = 1,000,000 */
    size_t token_cache_entries;  /* verified tokens; 0 = 10,000 */
    int64_t tool_ttl;            /* seconds a tool definition stays cached; 0 = 2 */
    int64_t skew;                /* leeway on exp/nbf, seconds (0: none: the issuer's clock) */
    long connect_timeout_ms;     /* upstream connect; 0 = 5,000 */
    long upstream_timeout_ms;    /* whole upstream exchange (buffered); 0 = 30,000 */
    /* A streamed (SSE) answer: cut after this long without a byte from the
     * upstream, instead of the total timeout; 0 = 300,000. */
    long stream_idle_timeout_ms;
    size_t max_upstream_body;    /* response body cap; 0 (and most) TG_HTTP_MAX_RESPONSE_SIZE */
    const struct tg_clock *clock; /* NULL: system */
    /* A gateway-only process (src/gateway/remote.h): the token's live state
     * from the issuer (introspection), or none (tg_gw_state_until_exp);
     * active NULL: the store's, as the issuer in this process keeps it. */
    struct tg_rs_state state;
    /* Base URL of the resource_metadata in challenges (this gateway's own
     * metadata); NULL: the issuer, which serves it in the same process. */
    const char *metadata_base;
};

struct tg_gateway;

/* Strings in cfg are copied; store, audit and the keys' arg are borrowed and
 * must outlive the gateway. */
enum tg_err tg_gateway_new(const struct tg_gateway_config *cfg,
                           struct tg_gateway **out) TG_MUST_CHECK;
/* After every server using its routes has stopped. NULL is fine. */
void tg_gateway_free(struct tg_gateway *gw);
/* /tools/ (any method), /check (any method: nginx subrequests keep the
 * client's), /.well-known/oauth-protected-resource/tools/ (GET). */
enum tg_err tg_gateway_routes(struct tg_gateway *gw, struct tg_http_router *r) TG_MUST_CHECK;

/* The built-in echo upstream of the --dev quickstart: every path, every
 * method answers 200 {"method","path","query","headers":{...},"body"} with
 * what it received (header names lower-cased, repeated ones joined with
 * ", "), so a user and the tests see exactly what reached the tool. */
enum tg_err tg_gateway_echo_routes(struct tg_http_router *r) TG_MUST_CHECK;

#endif
