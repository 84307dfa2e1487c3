/* One request to an MCP server authorized, after its token was: the
 * JSON-RPC body read (or, for /check without a body, the SEP-2243 headers),
 * the headers compared with the body, each message authorized. Shared by
 * the MCP proxy and /check so both decide alike. Pure: no I/O, no answer
 * written. docs/gateway.md, "MCP servers" and "/check". */
#include <string.h>

#include "gateway/mcp.h"

static void
rpc_error(struct tg_mcp_authz *out, int status, int code, const char *error,
          const char *message, const json_t *id)
{
    out->outcome = TG_MCP_RPC_ERROR;
    out->status = status;
    out->code = code;
    out->error = error;
    out->message = message;
    out->id = id;
}

/* Every message of the body; one refusal refuses the whole request. */
static void
authorize_messages(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                   const struct tg_rs_auth *auth, const struct tg_mcp_req *m,
                   struct tg_rs_decision *d, const char **mcp_tool)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (m->msgs[i].kind == TG_MCP_TOOLS_CALL) {
            tg_rs_authorize_mcp_tool(cfg, tool, auth, m->msgs[i].name, d);
            *mcp_tool = m->msgs[i].name;
        } else {
            tg_rs_authorize_mcp_any(cfg, tool, auth, d);
        }
        if (d->err != TG_OK)
            return;
    }
}

static void
from_body(const struct tg_rs_config *cfg, const struct tg_tool *tool,
          const struct tg_rs_auth *auth, struct tg_slice body, const struct tg_mcp_headers *h,
          struct tg_mcp_req *req, struct tg_rs_decision *d, struct tg_mcp_authz *out)
{
    const char *why = NULL;
    int code = 0;

    if (body.len > TG_MCP_MAX_BODY) {
        rpc_error(out, 413, TG_MCP_ERR_INVALID_REQUEST, "invalid_request",
                  "the JSON-RPC body is too large", NULL);
        return;
    }
    /* The body decides, never the headers. */
    if (tg_mcp_parse(body, req, &code, &why) != TG_OK) {
        if (code != 0)
            rpc_error(out, 400, code, "invalid_request", why != NULL ? why : "bad JSON-RPC body",
                      tg_mcp_reply_id(req));
        else
            rpc_error(out, 500, -32603, "server_error", "out of memory", NULL);
        return;
    }
    /* SEP-2243: Mcp-Method / Mcp-Name agree with the body, or 400 -32020. */
    if (h->n_methods > TG_MCP_MAX_HEADER_VALUES || h->n_names > TG_MCP_MAX_HEADER_VALUES ||
        !tg_mcp_headers_agree(req, h->methods, h->n_methods, h->names, h->n_names, &why)) {
        rpc_error(out, 400, TG_MCP_ERR_HEADER_MISMATCH, "invalid_request",
                  why != NULL ? why : "too many Mcp-Method or Mcp-Name headers",
                  tg_mcp_reply_id(req));
        return;
    }
    authorize_messages(cfg, tool, auth, req, d, &out->mcp_tool);
}

/* No body (nginx auth_request): the headers are all there is. A client
 * that follows SEP-2243 sends Mcp-Method on every request and Mcp-Name on a
 * tools/call; without them the call cannot be told from a tools/call, so it
 * is refused (fail closed), as the MCP SDK v2 server refuses a request
 * missing them (400 -32020). */
static void
from_headers(const struct tg_rs_config *cfg, const struct tg_tool *tool,
             const struct tg_rs_auth *auth, const struct tg_mcp_headers *h,
             struct tg_rs_decision *d, struct tg_mcp_authz *out)
{
    if (h->n_methods != 1 || h->methods[0] == NULL || h->methods[0][0] == '\0') {
        rpc_error(out, 400, TG_MCP_ERR_HEADER_MISMATCH, "invalid_request",
                  "without the body, one Mcp-Method header is required", NULL);
        return;
    }
    if (h->n_names > 1) {
        rpc_error(out, 400, TG_MCP_ERR_HEADER_MISMATCH, "invalid_request",
                  "more than one Mcp-Name header", NULL);
        return;
    }
    if (strcmp(h->methods[0], "tools/call") != 0) {
        tg_rs_authorize_mcp_any(cfg, tool, auth, d);
        return;
    }
    if (h->n_names != 1 || h->names[0] == NULL) {
        rpc_error(out, 400, TG_MCP_ERR_HEADER_MISMATCH, "invalid_request",
                  "without the body, tools/call needs one Mcp-Name header", NULL);
        return;
    }
    /* A name outside the MCP tool alphabet (a SEP-2243 "=?base64?...?="
     * value included) matches no entry: 403 without a scope. */
    tg_rs_authorize_mcp_tool(cfg, tool, auth, h->names[0], d);
    out->mcp_tool = h->names[0];
}

void
tg_mcp_authorize(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                 const struct tg_rs_auth *auth, const char *method, struct tg_slice body,
                 const struct tg_mcp_headers *h, enum tg_mcp_mode mode,
                 struct tg_mcp_req *req, struct tg_rs_decision *d, struct tg_mcp_authz *out)
{
    memset(out, 0, sizeof(*out));
    memset(req, 0, sizeof(*req));
    if (d->err == TG_OK) {
        if (method == NULL || strcmp(method, "POST") != 0)
            /* GET (the server's SSE stream), DELETE (end of session), ...:
             * any action on this tool. */
            tg_rs_authorize_mcp_any(cfg, tool, auth, d);
        else if (mode == TG_MCP_FROM_BODY)
            from_body(cfg, tool, auth, body, h, req, d, out);
        else
            from_headers(cfg, tool, auth, h, d, out);
    }
    if (out->outcome == TG_MCP_RPC_ERROR)
        return;
    if (d->err != TG_OK) {
        out->outcome = TG_MCP_DENY;
        out->mcp_tool = NULL;
        return;
    }
    out->outcome = TG_MCP_ALLOW;
}
