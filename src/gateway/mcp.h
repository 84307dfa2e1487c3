/* MCP awareness of the gateway, the pure part: the JSON-RPC body of a
 * Streamable HTTP POST read as MCP messages (which tool a tools/call names),
 * the Mcp-Method / Mcp-Name headers checked against it (SEP-2243), the
 * JSON-RPC error body, and tools/list answers (JSON or SSE) filtered to the
 * tools a token allows. No I/O; the handler is mcp_proxy.c. docs/gateway.md,
 * "MCP servers". */
#ifndef TG_GATEWAY_MCP_H
#define TG_GATEWAY_MCP_H

#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "verify/resource.h"

/* The largest JSON-RPC request body the gateway reads (the HTTP server's own
 * cap may be lower); larger: 413. */
#define TG_MCP_MAX_BODY (4u * 1024 * 1024)
/* Messages in one JSON-RPC batch (MCP 2025-03-26; later revisions dropped
 * batches). Every element is authorized; more: -32600. */
#define TG_MCP_MAX_BATCH 32

/* JSON-RPC 2.0 error codes the gateway answers with. */
#define TG_MCP_ERR_PARSE (-32700)
#define TG_MCP_ERR_INVALID_REQUEST (-32600)
#define TG_MCP_ERR_INVALID_PARAMS (-32602)
#define TG_MCP_ERR_HEADER_MISMATCH (-32020) /* SEP-2243 */

enum tg_mcp_kind {
    TG_MCP_TOOLS_CALL = 1, /* needs the named tool's action */
    TG_MCP_TOOLS_LIST,     /* any action; the answer is filtered */
    TG_MCP_OTHER,          /* any other request or notification: any action */
    TG_MCP_RESPONSE,       /* the client answering a server request: any action */
};

struct tg_mcp_msg {
    enum tg_mcp_kind kind;
    const char *method; /* NULL for a response */
    /* What Mcp-Name must equal: params.name of tools/call and prompts/get,
     * params.uri of resources/read; NULL for other methods. */
    const char *name;
    const json_t *id;   /* borrowed; NULL for a notification */
};

struct tg_mcp_req {
    json_t *doc; /* owned */
    int batch;   /* the body was an array */
    size_t n;
    struct tg_mcp_msg msgs[TG_MCP_MAX_BATCH];
};

/* Read a POST body. TG_OK, or TG_ERR_OAUTH_INVALID_REQUEST with *code
 * (-32700 not JSON, duplicate member names included; -32600 not a JSON-RPC
 * 2.0 request, notification or response, an empty or too large batch;
 * -32602 a tools/call without a string params.name) and a client-safe *why;
 * TG_ERR_NOMEM. Reset `out` either way. */
enum tg_err tg_mcp_parse(struct tg_slice body, struct tg_mcp_req *out, int *code,
                         const char **why) TG_MUST_CHECK;
void tg_mcp_req_reset(struct tg_mcp_req *r);

/* SEP-2243: every Mcp-Method value must equal the method, every Mcp-Name
 * value the name, of the body's one message (a header for a message that
 * has no such value, or any of them with a batch, disagrees). 1 = agree
 * (including: no headers at all). *why says what disagreed. */
int tg_mcp_headers_agree(const struct tg_mcp_req *r, const char *const *methods, size_t n_methods,
                         const char *const *names, size_t n_names, const char **why);

/* {"jsonrpc":"2.0","id":<id or null>,"error":{"code":code,"message":msg}},
 * malloc'd; NULL when out of memory. */
char *tg_mcp_error_body(const json_t *id, int code, const char *message);
/* The id to answer an error with: the single message's id, else null. */
const json_t *tg_mcp_reply_id(const struct tg_mcp_req *r);

/* 1 when `r` holds a tools/list request. */
int tg_mcp_has_tools_list(const struct tg_mcp_req *r);

/* Filter the upstream's answer to `r` in place: in every JSON-RPC response
 * whose id is that of one of r's tools/list requests, result.tools keeps
 * only the entries with a string "name" that allow(arg, name) accepts.
 * `content_type` application/json: the body is one JSON value (object or
 * batch array); text/event-stream: each event's data is read (data lines
 * joined with "\n", RFC/WHATWG SSE) and an event that holds such a response
 * is rewritten as its non-data lines plus one data line. Other events and
 * answers without a tools/list response stay byte-for-byte. *removed counts
 * the tools taken out. Errors (the caller answers 502, fail closed):
 * TG_ERR_INVALID_ARG: a JSON answer that does not parse, or another content
 * type; TG_ERR_TOO_LARGE, TG_ERR_NOMEM. */
typedef int (*tg_mcp_allow_fn)(void *arg, const char *name);
enum tg_err tg_mcp_filter_response(const struct tg_mcp_req *r, const char *content_type,
                                   struct tg_buf *body, tg_mcp_allow_fn allow, void *arg,
                                   size_t *removed) TG_MUST_CHECK;

/* --- One request authorized (mcp_authz.c): steps 2-5 of docs/gateway.md,
 * "MCP servers", shared by the proxy and /check. Pure: the caller has
 * authenticated the token (tg_rs_authenticate), read the headers and
 * answers. --- */

/* Mcp-Method / Mcp-Name values handed over; more are refused (-32020). */
#define TG_MCP_MAX_HEADER_VALUES 4

/* Every Mcp-Method and Mcp-Name value of the request (SEP-2243). n_* count
 * every value, and may exceed the arrays (then the request is refused). */
struct tg_mcp_headers {
    const char *methods[TG_MCP_MAX_HEADER_VALUES], *names[TG_MCP_MAX_HEADER_VALUES];
    size_t n_methods, n_names;
};

enum tg_mcp_mode {
    /* The proxy, and /check given the body (Envoy ext_authz with the body):
     * the body decides, the headers must agree with it. */
    TG_MCP_FROM_BODY = 0,
    /* /check without the body (nginx auth_request): a POST is decided by
     * its Mcp-Method (required, once) and, for tools/call, Mcp-Name
     * (required, once). Safe only where the MCP server refuses a body that
     * disagrees with them (docs/gateway.md). */
    TG_MCP_FROM_HEADERS,
};

enum tg_mcp_outcome {
    TG_MCP_ALLOW = 0, /* d is the allow (id.action, id.endpoint of the last tools/call) */
    TG_MCP_DENY,      /* d is the decision's refusal (401/403/...): answer it */
    TG_MCP_RPC_ERROR, /* refused before authorization: answer `status` with a
                       * JSON-RPC error (tg_mcp_error_body(id, code, message)) */
};

struct tg_mcp_authz {
    enum tg_mcp_outcome outcome;
    int status;           /* RPC_ERROR: 400, 413; 500 (out of memory) */
    int code;             /* RPC_ERROR: -32700, -32600, -32602, -32020; -32603 */
    const char *message;  /* RPC_ERROR: client-safe, static */
    const char *error;    /* RPC_ERROR: the audit's error: invalid_request or server_error */
    const json_t *id;     /* RPC_ERROR: the id to answer with (borrowed from req; NULL: null) */
    const char *mcp_tool; /* ALLOW: the MCP tool of the last tools/call (borrowed from req or
                           * the headers), NULL when none */
};

/* Authorize one request of an MCP server `tool` for the token `auth`.
 * `d` is the allow tg_rs_authenticate (and the tenant gate) made; a refusal
 * there is passed on as TG_MCP_DENY. `method` is the client's HTTP method:
 * anything but POST (GET stream, DELETE session) needs any action on the
 * tool (tg_rs_authorize_mcp_any). A POST, by `mode`: the body (at most
 * TG_MCP_MAX_BODY, else 413) parsed into `req`, the headers compared
 * (tg_mcp_headers_agree, else 400 -32020), then every message authorized
 * (tools/call: tg_rs_authorize_mcp_tool; the rest: any action; one refusal
 * refuses all); or the headers alone (missing or repeated: 400 -32020).
 * `req` is the caller's in every outcome (the proxy filters tools/list
 * answers with it): tg_mcp_req_reset it. */
void tg_mcp_authorize(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                      const struct tg_rs_auth *auth, const char *method, struct tg_slice body,
                      const struct tg_mcp_headers *h, enum tg_mcp_mode mode,
                      struct tg_mcp_req *req, struct tg_rs_decision *d,
                      struct tg_mcp_authz *out);

#endif
