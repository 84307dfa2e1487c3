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

#endif
