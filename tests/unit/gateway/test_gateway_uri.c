/* The gateway's pure helpers: the /tools/<id> split, the path rule for
 * /check, and which headers cross the gateway. */
#include "test.h"

#include "gateway/internal.h"

static int
split(const char *path, const char *want_id, const char *want_rest)
{
    char id[TG_POLICY_ID_MAX + 1];
    const char *rest = NULL;

    if (tg_gw_split_tool_path(path, id, &rest) != TG_OK)
        return want_id == NULL;
    return want_id != NULL && strcmp(id, want_id) == 0 && strcmp(rest, want_rest) == 0;
}

static void
test_split(void)
{
    char long_id[200];

    CHECK(split("/tools/demo/items", "demo", "/items"));
    CHECK(split("/tools/demo", "demo", ""));
    CHECK(split("/tools/demo/", "demo", "/"));
    CHECK(split("/tools/a:b.c_d-e/x/y?z", "a:b.c_d-e", "/x/y?z"));
    CHECK(split("/tools/demo//items", "demo", "//items"));
    CHECK(split("/tools/", NULL, NULL));
    CHECK(split("/tools//demo", NULL, NULL));
    CHECK(split("/tool/demo", NULL, NULL));
    CHECK(split("/toolsdemo", NULL, NULL));
    CHECK(split("tools/demo", NULL, NULL));
    CHECK(split("/tools/de%6Do/items", NULL, NULL)); /* ids are never percent-encoded */
    CHECK(split("/tools/de mo", NULL, NULL));
    memset(long_id, 'a', 7 + 129);
    memcpy(long_id, "/tools/", 7);
    long_id[7 + 129] = '\0';
    CHECK(split(long_id, NULL, NULL));
    long_id[7 + 128] = '\0';
    CHECK(split(long_id, long_id + 7, ""));
}

static void
test_path_safety(void)
{
    CHECK(tg_gw_path_is_safe("/tools/demo/items"));
    CHECK(tg_gw_path_is_safe("/tools/demo/items/42"));
    CHECK(tg_gw_path_is_safe("/tools/demo/a.b/..c/.d"));
    CHECK(tg_gw_path_is_safe("/tools/demo//items")); /* the matcher refuses it */
    CHECK(tg_gw_path_is_safe("/tools/demo/%41"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/../admin"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/./items"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/.."));
    CHECK(!tg_gw_path_is_safe("/tools/demo/%2e%2e/admin"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/%2E%2e/admin"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/.%2e/admin"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/%2e"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/items%2F42"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/items%2f42"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/items%5C42"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/items%00"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/items\\42"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/it ems"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/items?x"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/items#x"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/\x7f"));
    CHECK(!tg_gw_path_is_safe("/tools/demo/\xc3\xa9"));
    CHECK(!tg_gw_path_is_safe("tools/demo"));
    CHECK(!tg_gw_path_is_safe(""));
    CHECK(!tg_gw_path_is_safe(NULL));
}

static void
test_request_headers(void)
{
    static const char *const never[] = {
        "Authorization", "authorization", "Proxy-Authorization", "DPoP", "dpop", "Cookie",
        "Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
        "Proxy-Connection", "TE", "Trailer", "Upgrade", "Expect", "Accept-Encoding",
        "Forwarded", "X-Forwarded-For", "x-forwarded-host", "X-Real-IP", "X-Tollgate-Agent",
        "x-tollgate-tenant", "X-Tollgate-Anything", "X-Tenant", "X-Tenant-Id", "Tenant",
        "X-Acme-Tenant", "X-TENANTID", "X-Original-Method", "X-Original-URI", ""};
    static const char *const ok[] = {"Content-Type", "Accept", "User-Agent", "X-Request-Id",
                                     "If-None-Match", "Range", "Mcp-Session-Id", "X-Custom"};
    size_t i;

    for (i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        if (tg_gw_forward_request_header(never[i], NULL))
            fprintf(stderr, "  forwarded: %s\n", never[i]);
        CHECK(!tg_gw_forward_request_header(never[i], NULL));
    }
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        CHECK(tg_gw_forward_request_header(ok[i], NULL));
    CHECK(!tg_gw_forward_request_header(NULL, NULL));
    /* RFC 9110 §7.6.1: what Connection names is hop-by-hop too. */
    CHECK(!tg_gw_forward_request_header("X-Custom", "keep-alive, x-custom"));
    CHECK(!tg_gw_forward_request_header("X-Custom", "X-Custom"));
    CHECK(!tg_gw_forward_request_header("x-custom", " foo ,\tX-CUSTOM\t"));
    CHECK(tg_gw_forward_request_header("X-Custom", "x-custom2, x-custo"));
    CHECK(tg_gw_forward_request_header("X-Custom", ""));
}

static void
test_response_headers(void)
{
    CHECK(tg_gw_forward_response_header("Content-Type"));
    CHECK(tg_gw_forward_response_header("content-type"));
    CHECK(tg_gw_forward_response_header("ETag"));
    CHECK(tg_gw_forward_response_header("Location"));
    CHECK(tg_gw_forward_response_header("Retry-After"));
    CHECK(!tg_gw_forward_response_header("Set-Cookie"));
    CHECK(!tg_gw_forward_response_header("WWW-Authenticate"));
    CHECK(!tg_gw_forward_response_header("Content-Length"));
    CHECK(!tg_gw_forward_response_header("Content-Encoding"));
    CHECK(!tg_gw_forward_response_header("Transfer-Encoding"));
    CHECK(!tg_gw_forward_response_header("Connection"));
    CHECK(!tg_gw_forward_response_header("X-Tollgate-Agent"));
    CHECK(!tg_gw_forward_response_header("Server"));
    CHECK(!tg_gw_forward_response_header(NULL));
}

static void
test_field_values(void)
{
    CHECK(tg_gw_field_value_ok(""));
    CHECK(tg_gw_field_value_ok("demo:read demo:write"));
    CHECK(tg_gw_field_value_ok("a\tb"));
    CHECK(tg_gw_field_value_ok("caf\xc3\xa9"));
    CHECK(!tg_gw_field_value_ok("a\r\nX-Tollgate-Tenant: evil"));
    CHECK(!tg_gw_field_value_ok("a\nb"));
    CHECK(!tg_gw_field_value_ok("a\x7f"));
    CHECK(!tg_gw_field_value_ok(NULL));
}

static int
collect(void *arg, const char *name, const char *value)
{
    char *out = arg;
    size_t len = strlen(out);

    snprintf(out + len, 2048 - len, "%s=%s;", name, value);
    return 0;
}

static void
test_identity_headers(void)
{
    struct tg_rs_identity id;
    char out[2048] = "";

    memset(&id, 0, sizeof(id));
    snprintf(id.sub, sizeof(id.sub), "bot");
    snprintf(id.client_id, sizeof(id.client_id), "bot");
    snprintf(id.owner, sizeof(id.owner), "alice@example.com");
    snprintf(id.agent_type, sizeof(id.agent_type), "internal");
    snprintf(id.scope, sizeof(id.scope), "demo:read");
    snprintf(id.jti, sizeof(id.jti), "j1");
    snprintf(id.action, sizeof(id.action), "read");
    snprintf(id.endpoint, sizeof(id.endpoint), "GET /items");
    snprintf(id.binding, sizeof(id.binding), "dpop");
    CHECK(tg_gw_identity_each(&id, collect, out) == 0);
    CHECK(strcmp(out, "X-Tollgate-Agent=bot;X-Tollgate-Client-Id=bot;"
                      "X-Tollgate-Owner=alice@example.com;X-Tollgate-Agent-Type=internal;"
                      "X-Tollgate-Scope=demo:read;X-Tollgate-Jti=j1;X-Tollgate-Action=read;"
                      "X-Tollgate-Endpoint=GET /items;X-Tollgate-Binding=dpop;") == 0);
    /* No tenant claim: no tenant header at all (never an empty one). */
    CHECK(strstr(out, "Tenant") == NULL);
    snprintf(id.tenant, sizeof(id.tenant), "acme");
    out[0] = '\0';
    CHECK(tg_gw_identity_each(&id, collect, out) == 0);
    CHECK(strstr(out, "X-Tollgate-Tenant=acme;") != NULL);
    /* A claim that would split a header: fail closed. */
    snprintf(id.owner, sizeof(id.owner), "x\r\nX-Tollgate-Tenant: other");
    out[0] = '\0';
    CHECK(tg_gw_identity_each(&id, collect, out) == -1);
}

static int
url_is(const char *base, const char *rest, const char *query, const char *want)
{
    char out[256];

    if (tg_gw_upstream_url(base, rest, query, out, sizeof(out)) != TG_OK)
        return want == NULL;
    if (want == NULL || strcmp(out, want) != 0)
        fprintf(stderr, "  got %s\n", out);
    return want != NULL && strcmp(out, want) == 0;
}

static void
test_upstream_url(void)
{
    char big[300];

    CHECK(url_is("http://h:9000", "/items", NULL, "http://h:9000/items"));
    CHECK(url_is("http://h:9000", "/items", "x=1&y=%20", "http://h:9000/items?x=1&y=%20"));
    CHECK(url_is("http://h:9000/", "/items", NULL, "http://h:9000/items"));
    CHECK(url_is("http://h/api", "/items/42", NULL, "http://h/api/items/42"));
    CHECK(url_is("http://h/api/", "/items", "q", "http://h/api/items?q"));
    CHECK(url_is("http://h/api", "", NULL, "http://h/api"));
    CHECK(url_is("http://h/api", "/", NULL, "http://h/api/"));
    /* Sent as received: nothing decoded, nothing squashed. */
    CHECK(url_is("http://h", "/a%20b//c", NULL, "http://h/a%20b//c"));
    CHECK(url_is("http://h/api?k=1", "/items", NULL, "http://h/api/items?k=1"));
    CHECK(url_is("http://h/api?k=1", "/items", "x=2", "http://h/api/items?k=1&x=2"));
    CHECK(url_is("http://h/api?", "/items", "x=2", "http://h/api/items?x=2"));
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(url_is("http://h", big, NULL, NULL));
}

int
main(void)
{
    RUN(test_split);
    RUN(test_path_safety);
    RUN(test_request_headers);
    RUN(test_response_headers);
    RUN(test_field_values);
    RUN(test_identity_headers);
    RUN(test_upstream_url);
    return t_report("gateway-uri");
}
