/* MCP messages in a Streamable HTTP POST body (JSON-RPC 2.0), the SEP-2243
 * header check, and tools/list answers filtered per tool. Pure: see mcp.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/mcp.h"

void
tg_mcp_req_reset(struct tg_mcp_req *r)
{
    if (r == NULL)
        return;
    json_decref(r->doc);
    memset(r, 0, sizeof(*r));
}

/* JSON-RPC 2.0 §4: a request id is a string or a number (MCP: string or
 * integer, never null). */
static int
id_ok(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

/* One element: a request, a notification or a response. 0, or the
 * JSON-RPC error code. */
static int
read_msg(const json_t *m, struct tg_mcp_msg *out, const char **why)
{
    const json_t *v, *id, *params, *method;
    const char *name_key = NULL;

    memset(out, 0, sizeof(*out));
    *why = "not a JSON-RPC 2.0 message";
    if (!json_is_object(m))
        return TG_MCP_ERR_INVALID_REQUEST;
    v = json_object_get(m, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
        return TG_MCP_ERR_INVALID_REQUEST;
    id = json_object_get(m, "id");
    method = json_object_get(m, "method");
    if (method == NULL) {
        /* A response to a request of the server (sampling, elicitation...). */
        if (!id_ok(id) || (json_object_get(m, "result") == NULL) ==
                              (json_object_get(m, "error") == NULL))
            return TG_MCP_ERR_INVALID_REQUEST;
        out->kind = TG_MCP_RESPONSE;
        out->id = id;
        return 0;
    }
    if (!json_is_string(method) || json_string_length(method) == 0 ||
        (id != NULL && !id_ok(id)) || json_object_get(m, "result") != NULL ||
        json_object_get(m, "error") != NULL)
        return TG_MCP_ERR_INVALID_REQUEST;
    out->method = json_string_value(method);
    out->id = id;
    params = json_object_get(m, "params");
    if (params != NULL && !json_is_object(params) && !json_is_array(params))
        return TG_MCP_ERR_INVALID_REQUEST;
    if (strcmp(out->method, "tools/call") == 0) {
        out->kind = TG_MCP_TOOLS_CALL;
        name_key = "name";
    } else if (strcmp(out->method, "tools/list") == 0) {
        out->kind = TG_MCP_TOOLS_LIST;
    } else {
        out->kind = TG_MCP_OTHER;
        if (strcmp(out->method, "prompts/get") == 0)
            name_key = "name";
        else if (strcmp(out->method, "resources/read") == 0)
            name_key = "uri";
    }
    if (name_key != NULL) {
        v = json_is_object(params) ? json_object_get(params, name_key) : NULL;
        if (json_is_string(v))
            out->name = json_string_value(v);
    }
    if (out->kind == TG_MCP_TOOLS_CALL && out->name == NULL) {
        *why = "tools/call needs params.name";
        return TG_MCP_ERR_INVALID_PARAMS;
    }
    return 0;
}

enum tg_err
tg_mcp_parse(struct tg_slice body, struct tg_mcp_req *out, int *code, const char **why)
{
    json_error_t jerr;
    const json_t *m;
    size_t i;
    int c;

    memset(out, 0, sizeof(*out));
    *code = 0;
    *why = NULL;
    if (body.len > TG_MCP_MAX_BODY) {
        *code = TG_MCP_ERR_INVALID_REQUEST;
        *why = "the JSON-RPC body is too large";
        TG_ENSURE(0, TG_ERR_OAUTH_INVALID_REQUEST, "MCP body of %zu bytes", body.len);
    }
    /* Duplicate member names are refused: the upstream's parser might read
     * another "name" than the one authorized. */
    out->doc = json_loadb((const char *)body.p, body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (out->doc == NULL) {
        *code = TG_MCP_ERR_PARSE;
        *why = "the body is not JSON (or repeats a member name)";
        TG_ENSURE(0, TG_ERR_OAUTH_INVALID_REQUEST, "MCP body: %s", jerr.text);
    }
    if (json_is_array(out->doc)) {
        out->batch = 1;
        if (json_array_size(out->doc) == 0 || json_array_size(out->doc) > TG_MCP_MAX_BATCH) {
            *code = TG_MCP_ERR_INVALID_REQUEST;
            *why = "a batch holds 1 to 32 messages";
            TG_ENSURE(0, TG_ERR_OAUTH_INVALID_REQUEST, "MCP batch of %zu",
                      json_array_size(out->doc));
        }
        json_array_foreach(out->doc, i, m) {
            c = read_msg(m, &out->msgs[i], why);
            if (c != 0) {
                *code = c;
                TG_ENSURE(0, TG_ERR_OAUTH_INVALID_REQUEST, "MCP batch element %zu", i);
            }
            out->n++;
        }
        return TG_OK;
    }
    c = read_msg(out->doc, &out->msgs[0], why);
    out->n = 1; /* on a refusal too: its id (when read) answers the error */
    if (c != 0) {
        *code = c;
        TG_ENSURE(0, TG_ERR_OAUTH_INVALID_REQUEST, "MCP message");
    }
    return TG_OK;
}

int
tg_mcp_headers_agree(const struct tg_mcp_req *r, const char *const *methods, size_t n_methods,
                     const char *const *names, size_t n_names, const char **why)
{
    const struct tg_mcp_msg *m = r->n == 1 && !r->batch ? &r->msgs[0] : NULL;
    size_t i;

    *why = NULL;
    if (n_methods == 0 && n_names == 0)
        return 1;
    if (m == NULL) {
        *why = "Mcp-Method and Mcp-Name cannot describe a batch";
        return 0;
    }
    for (i = 0; i < n_methods; i++) {
        if (m->method == NULL || methods[i] == NULL || strcmp(methods[i], m->method) != 0) {
            *why = "the Mcp-Method header does not match the body";
            return 0;
        }
    }
    for (i = 0; i < n_names; i++) {
        if (m->name == NULL || names[i] == NULL || strcmp(names[i], m->name) != 0) {
            *why = "the Mcp-Name header does not match the body";
            return 0;
        }
    }
    return 1;
}

char *
tg_mcp_error_body(const json_t *id, int code, const char *message)
{
    json_t *o = json_object(), *e = json_object();
    char *text = NULL;

    if (o == NULL || e == NULL)
        goto out;
    if (json_object_set_new(e, "code", json_integer(code)) != 0 ||
        json_object_set_new(e, "message", json_string(message != NULL ? message : "error")) != 0 ||
        json_object_set_new(o, "jsonrpc", json_string("2.0")) != 0 ||
        json_object_set_new(o, "id", id != NULL ? json_deep_copy(id) : json_null()) != 0 ||
        json_object_set(o, "error", e) != 0)
        goto out;
    text = json_dumps(o, JSON_COMPACT);
out:
    json_decref(e);
    json_decref(o);
    return text;
}

const json_t *
tg_mcp_reply_id(const struct tg_mcp_req *r)
{
    return r != NULL && !r->batch && r->n == 1 ? r->msgs[0].id : NULL;
}

int
tg_mcp_has_tools_list(const struct tg_mcp_req *r)
{
    size_t i;

    for (i = 0; r != NULL && i < r->n; i++)
        if (r->msgs[i].kind == TG_MCP_TOOLS_LIST)
            return 1;
    return 0;
}

/* ---- filtering ---- */

static int
is_list_id(const struct tg_mcp_req *r, const json_t *id)
{
    size_t i;

    if (id == NULL)
        return 0;
    for (i = 0; i < r->n; i++)
        if (r->msgs[i].kind == TG_MCP_TOOLS_LIST && r->msgs[i].id != NULL &&
            json_equal((json_t *)r->msgs[i].id, (json_t *)id))
            return 1;
    return 0;
}

/* One JSON-RPC response (object): filter result.tools if it answers a
 * tools/list of r. Returns the number removed. */
static size_t
filter_one(const struct tg_mcp_req *r, json_t *resp, tg_mcp_allow_fn allow, void *arg)
{
    json_t *result, *tools, *t, *name;
    size_t i, removed = 0;

    if (!json_is_object(resp) || !is_list_id(r, json_object_get(resp, "id")))
        return 0;
    result = json_object_get(resp, "result");
    tools = json_is_object(result) ? json_object_get(result, "tools") : NULL;
    if (!json_is_array(tools))
        return 0;
    for (i = 0; i < json_array_size(tools);) {
        t = json_array_get(tools, i);
        name = json_is_object(t) ? json_object_get(t, "name") : NULL;
        if (json_is_string(name) && allow(arg, json_string_value(name))) {
            i++;
            continue;
        }
        json_array_remove(tools, i);
        removed++;
    }
    return removed;
}

static size_t
filter_value(const struct tg_mcp_req *r, json_t *v, tg_mcp_allow_fn allow, void *arg)
{
    json_t *e;
    size_t i, removed = 0;

    if (!json_is_array(v))
        return filter_one(r, v, allow, arg);
    json_array_foreach(v, i, e)
        removed += filter_one(r, e, allow, arg);
    return removed;
}

/* "type/subtype" of a Content-Type, case-insensitive, parameters ignored. */
static int
media_is(const char *ct, const char *type)
{
    size_t n = strlen(type);

    if (ct == NULL)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return strncasecmp(ct, type, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static enum tg_err
filter_json(const struct tg_mcp_req *r, struct tg_buf *body, tg_mcp_allow_fn allow, void *arg,
            size_t *removed)
{
    json_error_t jerr;
    json_t *doc = NULL;
    char *text = NULL;
    struct tg_buf nb;
    enum tg_err rv = TG_OK;

    doc = json_loadb((const char *)body->p, body->len, 0, &jerr);
    TG_CHECK(doc != NULL, TG_ERR_INVALID_ARG, "tools/list answer is not JSON: %s", jerr.text);
    *removed = filter_value(r, doc, allow, arg);
    if (*removed == 0)
        goto out;
    text = json_dumps(doc, JSON_COMPACT);
    TG_CHECK(text != NULL, TG_ERR_NOMEM, "json_dumps");
    tg_buf_init(&nb, body->cap);
    rv = tg_buf_append_str(&nb, text);
    if (rv != TG_OK) {
        tg_buf_reset(&nb);
        goto out;
    }
    tg_buf_reset(body);
    *body = nb;
out:
    free(text);
    json_decref(doc);
    return rv;
}

/* The end of the line starting at i (index of its terminator) and where the
 * next one starts: SSE lines end in CRLF, LF or CR. */
static size_t
line_end(const uint8_t *p, size_t len, size_t i, size_t *next)
{
    size_t e = i;

    while (e < len && p[e] != '\n' && p[e] != '\r')
        e++;
    if (e < len && p[e] == '\r' && e + 1 < len && p[e + 1] == '\n')
        *next = e + 2;
    else
        *next = e < len ? e + 1 : e;
    return e;
}

/* One event, the bytes [s, e) without its blank line: rewritten into nb
 * when its data is a tools/list response that lost tools, else copied. */
static enum tg_err
sse_event(const struct tg_mcp_req *r, const uint8_t *p, size_t s, size_t e, struct tg_buf *nb,
          tg_mcp_allow_fn allow, void *arg, size_t *removed)
{
    struct tg_buf data;
    json_t *doc = NULL;
    char *text = NULL;
    size_t i, next, le, n = 0;
    enum tg_err rv = TG_OK;

    tg_buf_init(&data, TG_MCP_MAX_BODY * 4);
    for (i = s; i < e; i = next) {
        le = line_end(p, e, i, &next);
        if (le - i >= 5 && memcmp(p + i, "data", 4) == 0 && (p[i + 4] == ':')) {
            size_t vs = i + 5;

            if (vs < le && p[vs] == ' ')
                vs++;
            if (data.len > 0 || n > 0)
                TG_CHECK(tg_buf_append(&data, "\n", 1) == TG_OK, TG_ERR_TOO_LARGE, "sse data");
            TG_CHECK(tg_buf_append(&data, p + vs, le - vs) == TG_OK, TG_ERR_TOO_LARGE,
                     "sse data");
            n++;
        } else if (le - i == 4 && memcmp(p + i, "data", 4) == 0) {
            if (data.len > 0 || n > 0)
                TG_CHECK(tg_buf_append(&data, "\n", 1) == TG_OK, TG_ERR_TOO_LARGE, "sse data");
            n++;
        }
    }
    if (n > 0)
        doc = json_loadb((const char *)data.p, data.len, 0, NULL);
    if (doc != NULL) {
        size_t k = filter_value(r, doc, allow, arg);

        if (k > 0) {
            *removed += k;
            text = json_dumps(doc, JSON_COMPACT);
            TG_CHECK(text != NULL, TG_ERR_NOMEM, "json_dumps");
            /* The other fields (event, id, retry, comments) in order, then
             * the one data line (compact JSON holds no line break). */
            for (i = s; i < e; i = next) {
                le = line_end(p, e, i, &next);
                if (le - i >= 4 && memcmp(p + i, "data", 4) == 0 &&
                    (le - i == 4 || p[i + 4] == ':'))
                    continue;
                TG_CHECK(tg_buf_append(nb, p + i, le - i) == TG_OK &&
                             tg_buf_append(nb, "\n", 1) == TG_OK,
                         TG_ERR_TOO_LARGE, "sse");
            }
            TG_CHECK(tg_buf_append_str(nb, "data: ") == TG_OK &&
                         tg_buf_append_str(nb, text) == TG_OK &&
                         tg_buf_append(nb, "\n", 1) == TG_OK,
                     TG_ERR_TOO_LARGE, "sse");
            goto out;
        }
    }
    TG_CHECK(tg_buf_append(nb, p + s, e - s) == TG_OK, TG_ERR_TOO_LARGE, "sse");
out:
    free(text);
    json_decref(doc);
    tg_buf_reset(&data);
    return rv;
}

static enum tg_err
filter_sse(const struct tg_mcp_req *r, struct tg_buf *body, tg_mcp_allow_fn allow, void *arg,
           size_t *removed)
{
    const uint8_t *p = body->p;
    size_t len = body->len, i = 0, s = 0, next, le;
    struct tg_buf nb;
    enum tg_err rv = TG_OK;

    tg_buf_init(&nb, body->cap);
    while (i < len) {
        le = line_end(p, len, i, &next);
        if (le == i) {
            /* A blank line ends the event [s, i): the event, then the
             * terminator bytes as they were. */
            if (i > s)
                TG_TRY(sse_event(r, p, s, i, &nb, allow, arg, removed));
            TG_CHECK(tg_buf_append(&nb, p + i, next - i) == TG_OK, TG_ERR_TOO_LARGE, "sse");
            s = next;
        }
        i = next;
    }
    /* An unterminated last event is copied as it is: a client does not
     * dispatch it. */
    if (s < len)
        TG_CHECK(tg_buf_append(&nb, p + s, len - s) == TG_OK, TG_ERR_TOO_LARGE, "sse");
    if (*removed > 0) {
        tg_buf_reset(body);
        *body = nb;
        return TG_OK;
    }
out:
    tg_buf_reset(&nb);
    return rv;
}

enum tg_err
tg_mcp_filter_response(const struct tg_mcp_req *r, const char *content_type,
                       struct tg_buf *body, tg_mcp_allow_fn allow, void *arg, size_t *removed)
{
    *removed = 0;
    if (!tg_mcp_has_tools_list(r))
        return TG_OK;
    if (media_is(content_type, "application/json"))
        return filter_json(r, body, allow, arg, removed);
    if (media_is(content_type, "text/event-stream"))
        return filter_sse(r, body, allow, arg, removed);
    tg_err_raise(TG_ERR_INVALID_ARG, "tools/list answered as %s",
                 content_type != NULL ? content_type : "(no Content-Type)");
    return TG_ERR_INVALID_ARG;
}
