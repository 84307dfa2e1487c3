/* The proxy for tools of kind mcp: an MCP server behind the gateway
 * (Streamable HTTP). The token and its proof are verified once per request;
 * each JSON-RPC message is then authorized on its own (tools/call by the MCP
 * tool it names, everything else by the token naming this tool at all);
 * tools/list answers are filtered to the tools the token allows; every
 * other answer (SSE included) streams through. docs/gateway.md, "MCP
 * servers". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "gateway/internal.h"
#include "gateway/mcp.h"
#include "gateway/remote.h"

/* A JSON-RPC error answer (the gateway's own: 400 for a body or headers it
 * refuses, 413 for a body too large). */
static void
respond_rpc_error(struct tg_http_response *res, int status, const json_t *id, int code,
                  const char *message)
{
    char *text = tg_mcp_error_body(id, code, message);

    if (text == NULL || tg_http_response_json(res, status, text) != TG_OK) {
        tg_http_response_reset(res);
        res->status = 500;
    }
    free(text);
}

struct allow_ctx {
    const struct tg_tool *tool;
    const struct tg_rs_auth *auth;
};

static int
tool_allowed(void *arg, const char *name)
{
    const struct allow_ctx *c = arg;

    return tg_rs_mcp_tool_allowed(c->tool, c->auth, name);
}

/* A tools/list answer is read whole and filtered (5. below): the state the
 * filter needs, kept until the upstream answered. */
struct list_filter {
    struct tg_mcp_req m;
    struct tg_rs_auth auth;
};

static void
list_filter_free(void *arg)
{
    struct list_filter *f = arg;

    if (f == NULL)
        return;
    tg_mcp_req_reset(&f->m);
    tg_rs_auth_reset(&f->auth);
    free(f);
}

static const char *
response_header(const struct tg_http_response *res, const char *name)
{
    size_t i;

    for (i = 0; i < res->n_headers; i++)
        if (strcasecmp(res->headers[i].name, name) == 0)
            return res->headers[i].value;
    return NULL;
}

/* 5. tools/list: only the tools this token may call. Fail closed: an
 * answer that cannot be read is not passed on. */
static void
list_filter(void *arg, const struct tg_tool *tool, struct tg_http_response *res,
            struct tg_gw_audit *a)
{
    struct list_filter *f = arg;
    struct allow_ctx ac = {tool, &f->auth};
    size_t removed = 0;

    if (res->status < 200 || res->status > 299)
        return;
    if (tg_mcp_filter_response(&f->m, response_header(res, "Content-Type"), &res->body,
                               tool_allowed, &ac, &removed) != TG_OK) {
        tg_log_warnx("gateway: tools/list answer of %s: %s", tool->id, tg_err_detail());
        tg_http_response_reset(res);
        a->status = 502;
        a->reason = "the tool's tools/list answer could not be filtered";
        tg_gw_respond_error(res, 502, "server_error", a->reason);
        return;
    }
    if (removed > 0)
        a->reason = "forwarded; tools/list filtered";
}

int
tg_gw_mcp_proxy(struct tg_gateway *gw, struct tg_gw_tool *tool,
                const struct tg_http_request *req, const char *rest, const char *url,
                struct tg_rs_decision *d, struct tg_http_response *res, struct tg_gw_audit *a)
{
    struct tg_rs_auth auth = {0};
    struct tg_mcp_req m;
    struct tg_rs_config cfg;
    struct tg_gw_rs_request rq;
    struct tg_mcp_headers h;
    struct tg_mcp_authz z;
    struct tg_slice body = tg_http_body(req);
    const char *method = tg_http_method(req);
    char prm[TG_GW_URL_MAX];
    int forwarded = 0, post = strcmp(method, "POST") == 0;

    memset(&m, 0, sizeof(m));
    memset(&h, 0, sizeof(h));
    a->event = "gateway.deny";
    a->d = d;
    /* 1. Once per request: credentials, token, binding, proof (and the
     * proof's content_digest over the raw body). */
    tg_gw_rs_config(gw, tool, &cfg, prm, sizeof(prm));
    tg_gw_rs_request(req, method, rest[0] != '\0' ? rest : "/", url, body, &rq);
    tg_rs_authenticate(&cfg, &tool->t, &rq.rq, &auth, d);
    /* The request's Authorization was lent to remote introspection for
     * this decision only (remote_state.c). */
    tg_gw_remote_set_authorization(NULL);
    /* A tenant-bound server: every message needs a token with a tenant
     * that can name its upstream. */
    tg_gw_tenant_gate(gw, tool, d);
    if (d->err != TG_OK) {
        a->status = d->status;
        tg_gw_respond_deny(gw, d, res);
        goto out;
    }

    /* 2.-4. The JSON-RPC body decides, never the headers: parsed (capped),
     * Mcp-Method / Mcp-Name compared with it (SEP-2243), then every message
     * authorized (tools/call by its MCP tool, the rest by the tool); GET
     * (the server's SSE stream), DELETE (end of session), ...: any action
     * on this tool. The same decision as /check's (mcp_authz.c). */
    h.n_methods = tg_http_header_values(req, "Mcp-Method", h.methods, TG_MCP_MAX_HEADER_VALUES);
    h.n_names = tg_http_header_values(req, "Mcp-Name", h.names, TG_MCP_MAX_HEADER_VALUES);
    tg_mcp_authorize(&cfg, &tool->t, &auth, method, body, &h, TG_MCP_FROM_BODY, &m, d, &z);
    if (z.outcome == TG_MCP_RPC_ERROR) {
        a->status = z.status;
        a->error = z.error;
        a->reason = z.message;
        respond_rpc_error(res, z.status, z.id, z.code, z.message);
        goto out;
    }
    if (z.outcome != TG_MCP_ALLOW && d->err == TG_OK) {
        /* Never an allow without TG_MCP_ALLOW. */
        d->err = TG_ERR_INTERNAL;
        d->status = 500;
        d->error = "server_error";
        d->description = "MCP authorization";
    }
    if (d->err != TG_OK) {
        a->status = d->status;
        tg_gw_respond_deny(gw, d, res);
        goto out;
    }

    a->event = "gateway.allow";
    if (tool->t.upstream == NULL || tool->t.upstream[0] == '\0') {
        a->status = 502;
        a->reason = "the tool has no upstream";
        tg_gw_respond_error(res, 502, "server_error", a->reason);
        goto out;
    }
    /* 5. A tools/list answer is read whole and filtered (list_filter);
     * everything else, SSE answers to tools/call and the GET stream
     * included, streams through. tg_gw_forward owns d and the tool now. */
    if (post && tg_mcp_has_tools_list(&m)) {
        struct list_filter *f = calloc(1, sizeof(*f));

        if (f == NULL) {
            a->status = 500;
            a->reason = "out of memory";
            tg_gw_respond_error(res, 500, "server_error", a->reason);
            goto out;
        }
        f->m = m;
        f->auth = auth;
        memset(&m, 0, sizeof(m));
        memset(&auth, 0, sizeof(auth));
        tg_gw_forward(gw, tool, req, rest, d, a, 1, list_filter, f, list_filter_free, res);
    } else {
        tg_gw_forward(gw, tool, req, rest, d, a, 0, NULL, NULL, NULL, res);
    }
    forwarded = 1;
out:
    tg_mcp_req_reset(&m);
    tg_rs_auth_reset(&auth);
    return forwarded;
}
