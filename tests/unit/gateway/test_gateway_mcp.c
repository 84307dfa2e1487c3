/* The pure MCP part of the gateway (src/gateway/mcp.c): JSON-RPC bodies read
 * as MCP messages, Mcp-Method / Mcp-Name agreement (SEP-2243), error bodies,
 * tools/list answers filtered (JSON and SSE). */
#include <stdlib.h>
#include <string.h>

#include "gateway/mcp.h"
#include "test.h"

static int
parse(const char *body, struct tg_mcp_req *r, int *code)
{
    const char *why = NULL;

    return tg_mcp_parse(tg_slice(body, strlen(body)), r, code, &why) == TG_OK;
}

static void
test_parse(void)
{
    struct tg_mcp_req r;
    int code;

    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                "\"params\":{\"name\":\"search_notes\",\"arguments\":{}}}", &r, &code));
    CHECK(r.n == 1 && !r.batch && r.msgs[0].kind == TG_MCP_TOOLS_CALL);
    CHECK(r.msgs[0].name != NULL && strcmp(r.msgs[0].name, "search_notes") == 0);
    CHECK(json_integer_value(tg_mcp_reply_id(&r)) == 1);
    tg_mcp_req_reset(&r);

    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\"}", &r, &code));
    CHECK(r.msgs[0].kind == TG_MCP_TOOLS_LIST && tg_mcp_has_tools_list(&r));
    tg_mcp_req_reset(&r);
    CHECK(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r, &code));
    CHECK(r.msgs[0].kind == TG_MCP_OTHER && r.msgs[0].id == NULL);
    tg_mcp_req_reset(&r);
    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}", &r, &code));
    CHECK(r.msgs[0].kind == TG_MCP_RESPONSE);
    tg_mcp_req_reset(&r);
    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/read\","
                "\"params\":{\"uri\":\"file:///a\"}}", &r, &code));
    CHECK(r.msgs[0].name != NULL && strcmp(r.msgs[0].name, "file:///a") == 0);
    tg_mcp_req_reset(&r);
    CHECK(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}]",
                &r, &code));
    CHECK(r.batch && r.n == 2 && r.msgs[1].kind == TG_MCP_TOOLS_CALL);
    CHECK(tg_mcp_reply_id(&r) == NULL);
    tg_mcp_req_reset(&r);

    /* Refusals, with their JSON-RPC codes. */
    CHECK(!parse("{nope", &r, &code) && code == TG_MCP_ERR_PARSE);
    tg_mcp_req_reset(&r);
    CHECK(!parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                 "{\"name\":\"a\",\"name\":\"b\"}}", &r, &code) && code == TG_MCP_ERR_PARSE);
    tg_mcp_req_reset(&r);
    CHECK(!parse("{\"id\":1,\"method\":\"ping\"}", &r, &code) &&
          code == TG_MCP_ERR_INVALID_REQUEST);
    tg_mcp_req_reset(&r);
    CHECK(!parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", &r, &code) &&
          code == TG_MCP_ERR_INVALID_REQUEST);
    tg_mcp_req_reset(&r);
    CHECK(!parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", &r, &code) &&
          code == TG_MCP_ERR_INVALID_REQUEST);
    tg_mcp_req_reset(&r);
    CHECK(!parse("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{}}", &r,
                 &code) && code == TG_MCP_ERR_INVALID_PARAMS);
    CHECK(json_integer_value(tg_mcp_reply_id(&r)) == 9);
    tg_mcp_req_reset(&r);
    CHECK(!parse("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":3}}",
                 &r, &code) && code == TG_MCP_ERR_INVALID_PARAMS);
    tg_mcp_req_reset(&r);
    CHECK(!parse("[]", &r, &code) && code == TG_MCP_ERR_INVALID_REQUEST);
    tg_mcp_req_reset(&r);
    CHECK(!parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}, 3]", &r, &code) &&
          code == TG_MCP_ERR_INVALID_REQUEST);
    tg_mcp_req_reset(&r);
    CHECK(!parse("\"tools/call\"", &r, &code) && code != 0); /* not an object */
    tg_mcp_req_reset(&r);
    {
        /* 33 messages: more than a batch may hold. */
        char big[33 * 48 + 8];
        size_t i, n = 0;

        big[n++] = '[';
        for (i = 0; i < 33; i++)
            n += (size_t)snprintf(big + n, sizeof(big) - n, "%s{\"jsonrpc\":\"2.0\",\"method\":\"p\"}",
                                  i ? "," : "");
        big[n++] = ']';
        big[n] = '\0';
        CHECK(!parse(big, &r, &code) && code == TG_MCP_ERR_INVALID_REQUEST);
        tg_mcp_req_reset(&r);
    }
}

static void
test_headers(void)
{
    struct tg_mcp_req r;
    const char *why, *call = "tools/call", *list = "tools/list", *a = "search", *b = "delete";
    int code;

    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"search\"}}",
                &r, &code));
    CHECK(tg_mcp_headers_agree(&r, NULL, 0, NULL, 0, &why));
    CHECK(tg_mcp_headers_agree(&r, &call, 1, &a, 1, &why));
    CHECK(!tg_mcp_headers_agree(&r, &list, 1, NULL, 0, &why));
    CHECK(!tg_mcp_headers_agree(&r, NULL, 0, &b, 1, &why));
    {
        const char *two[] = {"search", "delete"};

        CHECK(!tg_mcp_headers_agree(&r, NULL, 0, two, 2, &why));
    }
    tg_mcp_req_reset(&r);
    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", &r, &code));
    CHECK(tg_mcp_headers_agree(&r, &list, 1, NULL, 0, &why));
    CHECK(!tg_mcp_headers_agree(&r, NULL, 0, &a, 1, &why)); /* no name to agree with */
    tg_mcp_req_reset(&r);
    CHECK(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}]", &r, &code));
    CHECK(tg_mcp_headers_agree(&r, NULL, 0, NULL, 0, &why));
    CHECK(!tg_mcp_headers_agree(&r, &list, 1, NULL, 0, &why)); /* a batch */
    tg_mcp_req_reset(&r);
}

static void
test_error_body(void)
{
    json_t *id = json_string("x");
    char *s = tg_mcp_error_body(id, TG_MCP_ERR_HEADER_MISMATCH, "mismatch");

    CHECK(s != NULL && strcmp(s, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-32020,"
                                 "\"message\":\"mismatch\"}}") == 0);
    free(s);
    s = tg_mcp_error_body(NULL, TG_MCP_ERR_PARSE, "bad");
    CHECK(s != NULL && strstr(s, "\"id\":null") != NULL);
    free(s);
    json_decref(id);
}

static int
allow_search(void *arg, const char *name)
{
    (void)arg;
    return strncmp(name, "search_", 7) == 0;
}

static void
body_set(struct tg_buf *b, const char *s)
{
    tg_buf_reset(b);
    tg_buf_init(b, 1 << 20);
    CHECK_OK(tg_buf_append_str(b, s));
}

static int
body_is(struct tg_buf *b, const char *s)
{
    return b->len == strlen(s) && memcmp(b->p, s, b->len) == 0;
}

static void
test_filter(void)
{
    struct tg_mcp_req r;
    struct tg_buf b;
    size_t removed;
    int code;
    const char *list_resp = "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":"
                            "\"search_a\"},{\"name\":\"delete_b\"},{\"x\":1},{\"name\":\"search_c\"}]}}";

    tg_buf_init(&b, 1 << 20);
    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}", &r, &code));
    body_set(&b, list_resp);
    CHECK_OK(tg_mcp_filter_response(&r, "application/json; charset=utf-8", &b, allow_search,
                                    NULL, &removed));
    CHECK(removed == 2);
    CHECK(body_is(&b, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":"
                      "\"search_a\"},{\"name\":\"search_c\"}]}}"));
    /* Another id: not the answer to this tools/list, untouched. */
    body_set(&b, "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{\"tools\":[{\"name\":\"delete_b\"}]}}");
    CHECK_OK(tg_mcp_filter_response(&r, "application/json", &b, allow_search, NULL, &removed));
    CHECK(removed == 0);
    /* SSE: multi-line data, other fields kept, other events byte for byte. */
    body_set(&b, ": hi\r\n\r\nevent: message\nid: 3\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\n"
                 "data: \"result\":{\"tools\":[{\"name\":\"delete_b\"},{\"name\":\"search_a\"}]}}\n\n"
                 "data: {\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n\n");
    CHECK_OK(tg_mcp_filter_response(&r, "text/event-stream", &b, allow_search, NULL, &removed));
    CHECK(removed == 1);
    CHECK(body_is(&b, ": hi\r\n\r\nevent: message\nid: 3\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,"
                      "\"result\":{\"tools\":[{\"name\":\"search_a\"}]}}\n\n"
                      "data: {\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n\n"));
    /* Fail closed: an unreadable answer or another content type. */
    body_set(&b, "{not json");
    CHECK_ERR(tg_mcp_filter_response(&r, "application/json", &b, allow_search, NULL, &removed),
              TG_ERR_INVALID_ARG);
    body_set(&b, list_resp);
    CHECK_ERR(tg_mcp_filter_response(&r, "text/plain", &b, allow_search, NULL, &removed),
              TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_mcp_filter_response(&r, NULL, &b, allow_search, NULL, &removed),
              TG_ERR_INVALID_ARG);
    tg_mcp_req_reset(&r);
    /* A batch: only the tools/list element's answer. */
    CHECK(parse("[{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"},"
                "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}]",
                &r, &code));
    body_set(&b, "[{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{\"tools\":[{\"name\":\"delete_b\"}]}},"
                 "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"delete_b\"}]}}]");
    CHECK_OK(tg_mcp_filter_response(&r, "application/json", &b, allow_search, NULL, &removed));
    CHECK(removed == 1);
    CHECK(strstr((const char *)b.p, "\"id\":8,\"result\":{\"tools\":[{\"name\":\"delete_b\"}]}") !=
          NULL);
    tg_mcp_req_reset(&r);
    /* No tools/list asked: nothing read, whatever the answer. */
    CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r, &code));
    body_set(&b, "garbage");
    CHECK_OK(tg_mcp_filter_response(&r, "text/plain", &b, allow_search, NULL, &removed));
    CHECK(body_is(&b, "garbage"));
    tg_mcp_req_reset(&r);
    tg_buf_reset(&b);
}

int
main(void)
{
    RUN(test_parse);
    RUN(test_headers);
    RUN(test_error_body);
    RUN(test_filter);
    return t_report("gateway-mcp");
}
