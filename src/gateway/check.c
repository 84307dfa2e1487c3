/* The external authorizer: /check answers for a request a front proxy
 * (nginx auth_request, Envoy ext_authz in HTTP mode) is about to pass on,
 * with the same decision as the gateway's own proxy and without forwarding
 * anything. The original request comes in headers the proxy sets:
 *   X-Original-Method   the client's method
 *   X-Original-URI      the client's request-target (/tools/<id>/...?query)
 *   X-Forwarded-Proto, X-Forwarded-Host   (optional, together) the scheme
 *                       and authority the client used, for the DPoP htu;
 *                       without them, this listener's base URL
 * plus the client's own Authorization and DPoP headers (and, through a
 * trusted proxy, its certificate). 200 with the identity headers, or the
 * refusal with its challenge.
 *
 * Tools of kind mcp are decided as the MCP proxy decides (mcp_authz.c):
 * with the client's body (Envoy ext_authz with_request_body), exactly as
 * the proxy; without one (nginx auth_request sends none), a POST by its
 * SEP-2243 Mcp-Method / Mcp-Name headers. docs/gateway.md, "/check". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "gateway/internal.h"
#include "gateway/mcp.h"
#include "gateway/remote.h"

#define MAX_URI 4096

/* Exactly one occurrence, or NULL. */
static const char *
one_header(const struct tg_http_request *req, const char *name, int *dup)
{
    const char *v[2];
    size_t n = tg_http_header_values(req, name, v, 2);

    if (n > 1)
        *dup = 1;
    return n == 1 ? v[0] : NULL;
}

static int
method_ok(const char *m)
{
    size_t i, n = strlen(m);

    if (n == 0 || n > 16)
        return 0;
    for (i = 0; i < n; i++) {
        if (m[i] < 'A' || m[i] > 'Z')
            return 0;
    }
    return 1;
}

/* An authority as a client may have written it: host name, IPv4, [IPv6],
 * optional port. Nothing that could end the URL early or smuggle a path. */
static int
host_ok(const char *h)
{
    size_t i, n = strlen(h);

    if (n == 0 || n > 255)
        return 0;
    for (i = 0; i < n; i++) {
        char c = h[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

static int
set_identity(void *arg, const char *name, const char *value)
{
    return tg_http_response_header(arg, name, value) == TG_OK ? 0 : 1;
}

/* The MCP decision of a /check (docs/gateway.md, "/check"): authenticate
 * once, then tg_mcp_authorize. TG_MCP_ALLOW leaves d the allow and *mcp_tool
 * the tools/call's MCP tool (borrowed from m or req); otherwise the answer
 * is written to res and `a` filled. */
static enum tg_mcp_outcome
check_mcp(struct tg_gateway *gw, const struct tg_gw_tool *tool, const struct tg_http_request *req,
          const char *method, const char *path, const char *url, struct tg_mcp_req *m,
          struct tg_rs_decision *d, struct tg_http_response *res, struct tg_gw_audit *a,
          const char **mcp_tool)
{
    struct tg_rs_auth auth = {0};
    struct tg_rs_config cfg;
    struct tg_gw_rs_request rq;
    struct tg_mcp_headers h;
    struct tg_mcp_authz z;
    struct tg_slice body = tg_http_body(req);
    char prm[TG_GW_URL_MAX], *text = NULL;

    memset(&h, 0, sizeof(h));
    tg_gw_rs_config(gw, tool, &cfg, prm, sizeof(prm));
    tg_gw_rs_request(req, method, path, url, body, &rq);
    memset(d, 0, sizeof(*d));
    tg_rs_authenticate(&cfg, &tool->t, &rq.rq, &auth, d);
    tg_gw_remote_set_authorization(NULL);
    tg_gw_tenant_gate(gw, tool, d);
    h.n_methods = tg_http_header_values(req, "Mcp-Method", h.methods, TG_MCP_MAX_HEADER_VALUES);
    h.n_names = tg_http_header_values(req, "Mcp-Name", h.names, TG_MCP_MAX_HEADER_VALUES);
    /* The client's body when the front proxy sent it; nginx never does. An
     * MCP POST always has one, so none means "decide from the headers". */
    tg_mcp_authorize(&cfg, &tool->t, &auth, method, body, &h,
                     body.len > 0 ? TG_MCP_FROM_BODY : TG_MCP_FROM_HEADERS, m, d, &z);
    tg_rs_auth_reset(&auth);
    a->d = d;
    switch (z.outcome) {
    case TG_MCP_ALLOW:
        *mcp_tool = z.mcp_tool;
        break;
    case TG_MCP_RPC_ERROR:
        /* 400 -32020 (headers), -32700/-32600/-32602 (body), 413. */
        a->status = z.status;
        a->error = z.error;
        a->reason = z.message;
        text = tg_mcp_error_body(z.id, z.code, z.message);
        if (text == NULL || tg_http_response_json(res, z.status, text) != TG_OK) {
            tg_http_response_reset(res);
            a->status = 500;
            a->error = "server_error";
            tg_gw_respond_error(res, 500, a->error, "out of memory");
        }
        free(text);
        break;
    case TG_MCP_DENY:
    default:
        if (d->err == TG_OK) {
            /* Never an allow without TG_MCP_ALLOW. */
            d->err = TG_ERR_INTERNAL;
            d->status = 500;
            d->error = "server_error";
            d->description = "MCP authorization";
        }
        a->status = d->status;
        tg_gw_respond_deny(gw, d, res);
        z.outcome = TG_MCP_DENY;
        break;
    }
    return z.outcome;
}

void
tg_gw_handle_check(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_gateway *gw = ctx;
    struct tg_gw_tool *tool = NULL;
    struct tg_rs_decision *d = NULL;
    struct tg_gw_audit a = {0};
    struct tg_mcp_req m;
    const char *method, *uri, *proto, *host, *rest = NULL, *query, *mcp_tool = NULL;
    char id[TG_POLICY_ID_MAX + 1], path[MAX_URI + 1], base[300], url[TG_GW_URL_MAX];
    int dup = 0, n;
    size_t plen;
    enum tg_err e;

    id[0] = '\0';
    memset(&m, 0, sizeof(m));
    a.event = "check.deny";
    method = one_header(req, TG_GW_HDR_ORIG_METHOD, &dup);
    uri = one_header(req, TG_GW_HDR_ORIG_URI, &dup);
    proto = one_header(req, TG_GW_HDR_FWD_PROTO, &dup);
    host = one_header(req, TG_GW_HDR_FWD_HOST, &dup);
    a.method = method;
    a.path = uri;
    if (dup || method == NULL || uri == NULL || !method_ok(method) || strlen(uri) > MAX_URI ||
        (proto == NULL) != (host == NULL)) {
        a.status = 400;
        a.error = "invalid_request";
        a.reason = "X-Original-Method and X-Original-URI are required, once each";
        tg_gw_respond_error(res, 400, a.error, a.reason);
        goto audit;
    }
    if (proto != NULL) {
        if ((strcmp(proto, "http") != 0 && strcmp(proto, "https") != 0) || !host_ok(host)) {
            a.status = 400;
            a.error = "invalid_request";
            a.reason = "bad X-Forwarded-Proto or X-Forwarded-Host";
            tg_gw_respond_error(res, 400, a.error, a.reason);
            goto audit;
        }
        (void)tg_join(base, sizeof(base), proto, "://", host, NULL); /* fits: host_ok */
    } else {
        (void)tg_join(base, sizeof(base), tg_http_base_url(req), NULL);
    }
    query = strchr(uri, '?');
    plen = query != NULL ? (size_t)(query - uri) : strlen(uri);
    memcpy(path, uri, plen);
    path[plen] = '\0';
    if (query != NULL)
        query++;
    /* What the router refuses on the proxy, refused here alike. */
    if (!tg_gw_path_is_safe(path) || (query != NULL && strchr(query, '#') != NULL)) {
        a.status = 400;
        a.error = "invalid_request";
        a.reason = "invalid path";
        tg_gw_respond_error(res, 400, a.error, a.reason);
        goto audit;
    }
    a.path = path;
    if (tg_gw_split_tool_path(path, id, &rest) != TG_OK) {
        a.status = 404;
        a.error = "invalid_request";
        a.reason = "no such tool";
        tg_gw_respond_error(res, 404, a.error, a.reason);
        goto audit;
    }
    a.tool = id;
    e = tg_gw_tool_get(gw, id, &tool);
    if (e != TG_OK) {
        a.status = e == TG_ERR_NOT_FOUND ? 404 : 500;
        a.error = e == TG_ERR_NOT_FOUND ? "invalid_request" : "server_error";
        a.reason = e == TG_ERR_NOT_FOUND ? "no such tool" : "tool lookup failed";
        tg_gw_respond_error(res, a.status, a.error, a.reason);
        goto audit;
    }
    n = tg_join(url, sizeof(url), base, uri, NULL);
    d = malloc(sizeof(*d));
    if (n < 0 || d == NULL) {
        a.status = 500;
        a.error = "server_error";
        a.reason = "out of memory";
        tg_gw_respond_error(res, 500, a.error, a.reason);
        goto audit;
    }
    if (tg_tool_is_mcp(&tool->t)) {
        if (check_mcp(gw, tool, req, method, rest[0] != '\0' ? rest : "/", url, &m, d, res, &a,
                      &mcp_tool) != TG_MCP_ALLOW)
            goto audit;
    } else {
        tg_gw_decide(gw, tool, req, method, rest[0] != '\0' ? rest : "/", url, tg_http_body(req),
                     d);
        /* The proxy's decision includes a tenant-bound tool's tenant rule. */
        tg_gw_tenant_gate(gw, tool, d);
        a.d = d;
        if (d->err != TG_OK) {
            a.status = d->status;
            tg_gw_respond_deny(gw, d, res);
            goto audit;
        }
    }
    a.status = 200;
    a.event = "check.allow";
    a.reason = "allowed";
    /* X-Tollgate-Mcp-Tool: the MCP tool a tools/call names (the front proxy
     * may log or route by it); its name passed the MCP tool alphabet. */
    if (tg_http_response_json(res, 200, "{\"allow\":true}") != TG_OK ||
        tg_gw_identity_each(&d->id, set_identity, res) != 0 ||
        (mcp_tool != NULL && (!tg_gw_field_value_ok(mcp_tool) ||
                              tg_http_response_header(res, "X-Tollgate-Mcp-Tool", mcp_tool) !=
                                  TG_OK))) {
        tg_log_warnx("gateway: cannot build the /check answer: %s", tg_err_detail());
        tg_http_response_reset(res);
        a.event = "check.deny";
        a.status = 500;
        a.error = "server_error";
        a.reason = "identity headers";
        tg_gw_respond_error(res, 500, a.error, a.reason);
    }
audit:
    if (tg_gw_audit_emit(gw, req, &a) != TG_OK && a.status == 200) {
        /* An allow that cannot be recorded is a deny. */
        tg_http_response_reset(res);
        tg_gw_respond_error(res, 500, "server_error", "audit log unavailable");
    }
    tg_mcp_req_reset(&m);
    free(d);
    tg_gw_tool_release(gw, tool);
}
