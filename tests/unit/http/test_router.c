/* The router and the response helpers: routing over a real socket (exact
 * and prefix routes, 404, 405 with Allow, HEAD, refused paths), the error
 * JSON shape from the error table, and the same dispatch without a socket. */
#include <jansson.h>

#include "core/log.h"
#include "http_test.h"

/* --- handlers --- */

static void
h_text(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    (void)req;
    res->status = 200;
    if (tg_buf_append_str(&res->body, ctx) != TG_OK ||
        tg_http_response_header(res, "Content-Type", "text/plain") != TG_OK)
        res->status = 500;
}

static void
h_nocontent(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    (void)ctx;
    (void)req;
    res->status = 204;
    if (tg_buf_append_str(&res->body, "should not be sent") != TG_OK)
        res->status = 500;
}

static void
h_error(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    const char *which = ctx;
    enum tg_err rv = TG_ERR_INTERNAL;

    (void)req;
    if (strcmp(which, "client") == 0) {
        rv = tg_http_response_error(res, TG_ERR_OAUTH_INVALID_CLIENT, NULL, NULL);
    } else if (strcmp(which, "dpop") == 0) {
        /* A code whose RFC error depends on the context. */
        rv = tg_http_response_error(res, TG_ERR_JWS_SIG_INVALID, "invalid_dpop_proof", NULL);
    } else if (strcmp(which, "notfound") == 0) {
        rv = tg_http_response_error(res, TG_ERR_NOT_FOUND, NULL, NULL);
    } else if (strcmp(which, "internal") == 0) {
        tg_err_raise(TG_ERR_INTERNAL, "secret-detail-xyz in %s", "/var/lib/key");
        rv = tg_http_response_error(res, TG_ERR_INTERNAL, NULL, NULL);
    } else if (strcmp(which, "quote") == 0) {
        rv = tg_http_response_error(res, TG_ERR_OAUTH_INVALID_REQUEST, NULL,
                                    "a \"quoted\"\\ line\nand a tab\t");
    } else if (strcmp(which, "utf8") == 0) {
        rv = tg_http_response_error(res, TG_ERR_OAUTH_INVALID_SCOPE, NULL, "bad \xff\xfe bytes");
    } else if (strcmp(which, "ok") == 0) {
        rv = tg_http_response_error(res, TG_OK, NULL, NULL);
    } else if (strcmp(which, "nostatus") == 0) {
        rv = TG_OK; /* sets nothing */
    }
    if (rv != TG_OK)
        res->status = 599;
}

static void
h_info(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    json_t *o = json_object();
    const char *q = tg_http_query(req);
    char *text;

    (void)ctx;
    json_object_set_new(o, "method", json_string(tg_http_method(req)));
    json_object_set_new(o, "path", json_string(tg_http_path(req)));
    json_object_set_new(o, "query", q != NULL ? json_string(q) : json_null());
    json_object_set_new(o, "dpop_count", json_integer((json_int_t)tg_http_header_count(req, "dpop")));
    json_object_set_new(o, "dpop", json_string(tg_http_header(req, "DPoP") ? tg_http_header(req, "DPoP") : ""));
    text = json_dumps(o, JSON_COMPACT);
    if (tg_http_response_json(res, 200, text) != TG_OK)
        res->status = 500;
    free(text);
    json_decref(o);
}

static void
h_override(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    (void)ctx;
    (void)req;
    if (tg_http_response_json(res, 200, "{\"keys\":[]}") != TG_OK ||
        tg_http_response_header(res, "Content-Type", "application/jwk-set+json") != TG_OK ||
        tg_http_response_header(res, "Cache-Control", "public, max-age=60") != TG_OK ||
        tg_http_response_header(res, "WWW-Authenticate", "DPoP algs=\"ES256\"") != TG_OK)
        res->status = 500;
}

static struct tg_http_router *
make_router(void)
{
    struct tg_http_router *r = tg_http_router_new();
    int ok = r != NULL;

    ok = ok && tg_http_route(r, "GET", "/a", h_text, "a") == TG_OK;
    ok = ok && tg_http_route(r, "POST", "/a", h_text, "a-post") == TG_OK;
    ok = ok && tg_http_route(r, NULL, "/any", h_text, "any") == TG_OK;
    ok = ok && tg_http_route(r, "GET", "/tools/*", h_text, "tools") == TG_OK;
    ok = ok && tg_http_route(r, "GET", "/tools/admin/*", h_text, "admin") == TG_OK;
    ok = ok && tg_http_route(r, "GET", "/tools/exact", h_text, "exact") == TG_OK;
    ok = ok && tg_http_route(r, "DELETE", "/tools/*", h_text, "tools-delete") == TG_OK;
    ok = ok && tg_http_route(r, "GET", "/info", h_info, NULL) == TG_OK;
    ok = ok && tg_http_route(r, "GET", "/nocontent", h_nocontent, NULL) == TG_OK;
    ok = ok && tg_http_route(r, "GET", "/override", h_override, NULL) == TG_OK;
    if (!ok) {
        tg_http_router_free(r);
        return NULL;
    }
    return r;
}

/* h_error takes its case from the path, so give each its own route. */
static int
add_error_routes(struct tg_http_router *r)
{
    static const char *const cases[] = {"client", "dpop",   "notfound", "internal",
                                        "quote",  "utf8",   "ok",       "nostatus"};
    char path[64];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "/error/%s", cases[i]);
        if (tg_http_route(r, "GET", path, h_error, (void *)cases[i]) != TG_OK)
            return -1;
    }
    return 0;
}

static struct t_server srv;
static char base[64];

static json_t *
body_json(const struct t_resp *r)
{
    return json_loads(r->body, 0, NULL);
}

static const char *
jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

/* GET path; the body as text. */
static void
get(struct t_resp *r, const char *method, const char *path)
{
    t_curl(r, "--path-as-is -X %s '%s%s'", method, base, path);
}

/* --- over a socket --- */

static void
test_exact_and_methods(void)
{
    struct t_resp r;
    char v[256];

    get(&r, "GET", "/a");
    CHECK(r.status == 200 && strcmp(r.body, "a") == 0);
    t_resp_free(&r);
    get(&r, "POST", "/a");
    CHECK(r.status == 200 && strcmp(r.body, "a-post") == 0);
    t_resp_free(&r);
    /* Known path, other method: 405 with Allow (RFC 9110 §15.5.6). */
    get(&r, "PUT", "/a");
    CHECK(r.status == 405);
    CHECK(t_header(&r, "Allow", v, sizeof(v)) && strcmp(v, "GET, POST, HEAD") == 0);
    CHECK(strcmp(r.body, "{\"error\":\"invalid_request\",\"error_description\":\"method not allowed\"}") == 0);
    t_resp_free(&r);
    get(&r, "DELETE", "/tools/exact");
    CHECK(r.status == 405 && t_header(&r, "Allow", v, sizeof(v)) && strcmp(v, "GET, HEAD") == 0);
    t_resp_free(&r);
    /* HEAD is served by the GET handler, without a body. */
    {
        const char *head = "HEAD /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        const char *nc = "GET /nocontent HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        char reply[4096];
        size_t n;

        n = t_raw(srv.port, head, strlen(head), reply, sizeof(reply));
        CHECK(t_raw_status(reply) == 200 && strstr(reply, "Content-Length: 1\r\n") != NULL);
        CHECK(n > 4 && strcmp(reply + n - 4, "\r\n\r\n") == 0); /* and no content */
        /* 204 carries no content either, whatever the handler put there. */
        n = t_raw(srv.port, nc, strlen(nc), reply, sizeof(reply));
        CHECK(t_raw_status(reply) == 204 && n > 4 && strcmp(reply + n - 4, "\r\n\r\n") == 0);
    }
    t_resp_free(&r);
    /* Methods are case-sensitive; the server answers 501 to ones it does not implement. */
    get(&r, "get", "/a");
    CHECK(r.status != 200);
    t_resp_free(&r);
    /* A route for any method. */
    get(&r, "DELETE", "/any");
    CHECK(r.status == 200 && strcmp(r.body, "any") == 0);
    t_resp_free(&r);
    get(&r, "PATCH", "/any");
    CHECK(r.status == 200 && strcmp(r.body, "any") == 0);
    t_resp_free(&r);
    get(&r, "OPTIONS", "/any");
    CHECK(r.status == 200 && strcmp(r.body, "any") == 0);
    t_resp_free(&r);
}

static void
test_not_found(void)
{
    static const char *const paths[] = {"/nope", "/a/", "/A", "/tools", "/", "/any/x", "/infox"};
    struct t_resp r;
    char v[256];
    size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get(&r, "GET", paths[i]);
        CHECK(r.status == 404);
        CHECK(strcmp(r.body,
                     "{\"error\":\"invalid_request\",\"error_description\":\"no such endpoint\"}") == 0);
        CHECK(t_header(&r, "Content-Type", v, sizeof(v)) && strcmp(v, "application/json") == 0);
        CHECK(t_header(&r, "Cache-Control", v, sizeof(v)) && strcmp(v, "no-store") == 0);
        t_resp_free(&r);
    }
}

static void
test_prefix_routes(void)
{
    static const struct {
        const char *method, *path, *want;
    } cases[] = {
        {"GET", "/tools/x", "tools"},
        {"GET", "/tools/", "tools"},
        {"GET", "/tools/x/y/z", "tools"},
        {"GET", "/tools/admin", "tools"},       /* "/tools/admin/" is the longer prefix */
        {"GET", "/tools/admin/", "admin"},
        {"GET", "/tools/admin/users/1", "admin"},
        {"GET", "/tools/exact", "exact"},       /* exact beats prefix */
        {"GET", "/tools/exact/more", "tools"},
        {"DELETE", "/tools/x", "tools-delete"},
        {"GET", "/tools/.hidden", "tools"},     /* not a dot segment */
        {"GET", "/tools/a..b/c.", "tools"},
    };
    struct t_resp r;
    char v[256];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        get(&r, cases[i].method, cases[i].path);
        CHECK(r.status == 200 && strcmp(r.body, cases[i].want) == 0);
        if (r.status != 200 || strcmp(r.body, cases[i].want) != 0)
            fprintf(stderr, "  %s %s -> %d %s\n", cases[i].method, cases[i].path, r.status, r.body);
        t_resp_free(&r);
    }
    /* A prefix route's Allow lists its own methods. */
    get(&r, "POST", "/tools/x");
    CHECK(r.status == 405 && t_header(&r, "Allow", v, sizeof(v)) &&
          strcmp(v, "GET, DELETE, HEAD") == 0);
    t_resp_free(&r);
}

static void
test_refused_paths(void)
{
    static const char *const paths[] = {
        "/tools/../a",     "/tools/./x",      "/tools/x/..",     "/tools/%2e%2e/a",
        "/tools/%2E./a",   "/tools/.%2e",     "/tools/%2e",      "/tools/a%2fb",
        "/tools/a%2Fb",    "/tools/a%5cb",    "/tools/a%00",     "/tools/a\\b",
    };
    struct t_resp r;
    size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get(&r, "GET", paths[i]);
        CHECK(r.status == 400);
        CHECK(strcmp(r.body, "{\"error\":\"invalid_request\",\"error_description\":\"invalid path\"}") == 0);
        if (r.status != 400)
            fprintf(stderr, "  %s -> %d\n", paths[i], r.status);
        t_resp_free(&r);
    }
}

static void
test_error_shapes(void)
{
    struct t_resp r;
    json_t *o;

    get(&r, "GET", "/error/client");
    CHECK(r.status == 401);
    CHECK(strcmp(r.body, "{\"error\":\"invalid_client\",\"error_description\":\"client authentication "
                         "failed\"}") == 0);
    t_resp_free(&r);
    get(&r, "GET", "/error/dpop");
    CHECK(r.status == 400);
    CHECK(strcmp(r.body, "{\"error\":\"invalid_dpop_proof\",\"error_description\":\"signature "
                         "verification failed\"}") == 0);
    t_resp_free(&r);
    /* No RFC string in the table and none given: the status decides. */
    get(&r, "GET", "/error/notfound");
    CHECK(r.status == 404);
    CHECK(strcmp(r.body, "{\"error\":\"invalid_request\",\"error_description\":\"not found\"}") == 0);
    t_resp_free(&r);
    /* Internal detail stays in the log. */
    get(&r, "GET", "/error/internal");
    CHECK(r.status == 500);
    CHECK(strcmp(r.body, "{\"error\":\"server_error\",\"error_description\":\"internal error\"}") == 0);
    CHECK(strstr(r.body, "secret-detail") == NULL && strstr(r.headers, "secret-detail") == NULL);
    t_resp_free(&r);
    /* Descriptions are escaped into valid JSON. */
    get(&r, "GET", "/error/quote");
    o = body_json(&r);
    CHECK(r.status == 400 && o != NULL);
    CHECK(strcmp(jstr(o, "error_description"), "a \"quoted\"\\ line\nand a tab\t") == 0);
    json_decref(o);
    t_resp_free(&r);
    /* A description that is not UTF-8 falls back to the table's. */
    get(&r, "GET", "/error/utf8");
    CHECK(r.status == 400);
    CHECK(strcmp(r.body, "{\"error\":\"invalid_scope\",\"error_description\":\"scope not granted\"}") == 0);
    t_resp_free(&r);
    /* TG_OK is not an error: reported as an internal one. */
    get(&r, "GET", "/error/ok");
    CHECK(r.status == 500);
    t_resp_free(&r);
    /* A handler that sets nothing: 500, not an empty 200. */
    get(&r, "GET", "/error/nostatus");
    CHECK(r.status == 500);
    CHECK(strcmp(r.body, "{\"error\":\"server_error\",\"error_description\":\"internal error\"}") == 0);
    t_resp_free(&r);
}

static void
test_request_accessors(void)
{
    struct t_resp r;
    json_t *o;

    t_curl(&r, "-H 'DPoP: one' -H 'dpop: two' '%s/info?x=1&y=%%20'", base);
    o = body_json(&r);
    CHECK(r.status == 200 && o != NULL);
    CHECK(strcmp(jstr(o, "method"), "GET") == 0 && strcmp(jstr(o, "path"), "/info") == 0);
    CHECK(strcmp(jstr(o, "query"), "x=1&y=%20") == 0);
    CHECK(json_integer_value(json_object_get(o, "dpop_count")) == 2);
    CHECK(strcmp(jstr(o, "dpop"), "one") == 0);
    json_decref(o);
    t_resp_free(&r);
    get(&r, "GET", "/info");
    o = body_json(&r);
    CHECK(o != NULL && json_is_null(json_object_get(o, "query")));
    CHECK(o != NULL && json_integer_value(json_object_get(o, "dpop_count")) == 0);
    json_decref(o);
    t_resp_free(&r);
}

static void
test_header_override(void)
{
    struct t_resp r;
    char v[256];
    const char *p;
    int n = 0;

    get(&r, "GET", "/override");
    CHECK(r.status == 200);
    CHECK(t_header(&r, "Content-Type", v, sizeof(v)) && strcmp(v, "application/jwk-set+json") == 0);
    CHECK(t_header(&r, "Cache-Control", v, sizeof(v)) && strcmp(v, "public, max-age=60") == 0);
    CHECK(t_header(&r, "WWW-Authenticate", v, sizeof(v)) && strcmp(v, "DPoP algs=\"ES256\"") == 0);
    for (p = r.headers; *p != '\0'; p++)
        n += strncasecmp(p, "\r\nContent-Type:", 15) == 0;
    CHECK(n == 1);
    t_resp_free(&r);
}

/* --- without a socket --- */

static void
test_route_registration(void)
{
    struct tg_http_router *r = tg_http_router_new();

    CHECK(r != NULL);
    if (r == NULL)
        return;
    CHECK_ERR(tg_http_route(NULL, "GET", "/x", h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "GET", NULL, h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "GET", "/x", NULL, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "GET", "x", h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "GET", "", h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "GET", "/a*", h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "GET", "/a/*/b", h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "GET", "/a b", h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "GET", "/a?b", h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "G T", "/a", h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_route(r, "", "/a", h_text, NULL), TG_ERR_INVALID_ARG);
    CHECK_OK(tg_http_route(r, "GET", "/t/", h_text, NULL));
    CHECK_OK(tg_http_route(r, "GET", "/t/*", h_text, NULL)); /* prefix and exact differ */
    CHECK_OK(tg_http_route(r, NULL, "/t/*", h_text, NULL));
    CHECK_OK(tg_http_route(r, "POST", "/t/*", h_text, NULL));
    CHECK_ERR(tg_http_route(r, "GET", "/t/*", h_text, NULL), TG_ERR_CONFLICT);
    CHECK_ERR(tg_http_route(r, NULL, "/t/*", h_text, NULL), TG_ERR_CONFLICT);
    CHECK_ERR(tg_http_route(r, "GET", "/t/", h_text, NULL), TG_ERR_CONFLICT);
    CHECK_OK(tg_http_route(r, "GET", "/*", h_text, NULL)); /* catch-all */
    tg_http_router_free(r);
    tg_http_router_free(NULL);
}

static void
test_response_helpers(void)
{
    struct tg_http_response res;
    char name[32];
    int i;

    tg_http_response_init(&res);
    CHECK(res.status == 0 && res.body.cap == TG_HTTP_MAX_RESPONSE_SIZE);
    CHECK_ERR(tg_http_response_header(&res, "X-A", "a\r\nInjected: 1"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_header(&res, "X-A", "a\nb"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_header(&res, "X-A\r\nB", "a"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_header(&res, "X A", "a"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_header(&res, "X:A", "a"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_header(&res, "", "a"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_header(&res, "X-A", NULL), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_header(&res, "content-length", "5"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_header(&res, "Transfer-Encoding", "chunked"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_header(&res, "Connection", "close"), TG_ERR_INVALID_ARG);
    CHECK(res.n_headers == 0);
    CHECK_OK(tg_http_response_header(&res, "X-A", "tab\tand obs-text \xe9"));
    CHECK_OK(tg_http_response_header(&res, "x-a", "second"));
    CHECK(res.n_headers == 1 && strcmp(res.headers[0].value, "second") == 0);
    for (i = 1; i < 16; i++) {
        snprintf(name, sizeof(name), "X-H%d", i);
        CHECK_OK(tg_http_response_header(&res, name, "v"));
    }
    CHECK(res.n_headers == 16);
    CHECK_ERR(tg_http_response_header(&res, "X-One-Too-Many", "v"), TG_ERR_TOO_LARGE);
    CHECK_OK(tg_http_response_header(&res, "X-H3", "replaced")); /* replacing still fits */
    CHECK_ERR(tg_http_response_json(&res, 200, "{}"), TG_ERR_TOO_LARGE); /* no room left */
    tg_http_response_reset(&res);
    CHECK(res.n_headers == 0 && res.body.len == 0 && res.status == 0);

    CHECK_ERR(tg_http_response_json(&res, 99, "{}"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_json(&res, 101, "{}"), TG_ERR_INVALID_ARG); /* not final */
    CHECK_ERR(tg_http_response_json(&res, 600, "{}"), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_response_json(&res, 200, NULL), TG_ERR_INVALID_ARG);
    CHECK_OK(tg_http_response_json(&res, 201, "{\"a\":1}"));
    CHECK_OK(tg_http_response_json(&res, 200, "{}")); /* replaces, not appends */
    CHECK(res.status == 200 && res.body.len == 2 && res.n_headers == 2);
    tg_http_response_reset(&res);
    /* The body cap holds. */
    res.body.cap = 8;
    CHECK_ERR(tg_http_response_json(&res, 200, "{\"long\":true}"), TG_ERR_TOO_LARGE);
    tg_http_response_reset(&res);
    CHECK(res.body.cap == 8);
    tg_http_response_reset(&res);
}

static void
seen_handler(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    int *seen = ctx;
    struct tg_slice c = tg_http_client_cert(req), b = tg_http_body(req);

    *seen = 1;
    if (strcmp(tg_http_path(req), "/tools/x") == 0 && tg_http_header(req, "X-SSL-Client-Cert") == NULL &&
        tg_http_header(req, "X-Forwarded-Client-Cert") == NULL &&
        strcmp(tg_http_header(req, "dpop"), "proof") == 0 && c.len == 3 &&
        memcmp(c.p, "\x30\x01\x00", 3) == 0 && tg_http_client_cert_verified(req) && b.len == 4 &&
        memcmp(b.p, "a\0bc", 4) == 0 && tg_http_is_tls(req) &&
        strcmp(tg_http_peer(req), "10.9.8.7") == 0 &&
        strcmp(tg_http_base_url(req), "https://as.example") == 0)
        res->status = 204;
    else
        res->status = 418;
}

static void
test_dispatch_without_socket(void)
{
    static const char *const headers[] = {"DPoP", "proof", "X-SSL-Client-Cert", "forged",
                                          "x-forwarded-client-cert", "Cert=forged", NULL};
    struct tg_http_router *r = tg_http_router_new();
    struct tg_http_request *req = NULL;
    struct tg_http_response res;
    struct tg_http_request_spec spec = {0};
    int seen = 0;

    CHECK(r != NULL);
    if (r == NULL)
        return;
    CHECK_OK(tg_http_route(r, "POST", "/tools/*", seen_handler, &seen));
    spec.method = "POST";
    spec.path = "/tools/x";
    spec.headers = headers;
    spec.body = tg_slice("a\0bc", 4);
    spec.peer = "10.9.8.7";
    spec.tls = 1;
    spec.base_url = "https://as.example";
    spec.client_cert = tg_slice("\x30\x01\x00", 3);
    spec.client_cert_verified = 1;
    CHECK_OK(tg_http_request_new(&spec, &req));
    tg_http_response_init(&res);
    if (req != NULL)
        tg_http_router_dispatch(r, req, &res);
    CHECK(seen && res.status == 204);
    tg_http_response_reset(&res);
    tg_http_request_free(req);
    req = NULL;

    /* 404 and 405 the same way. */
    spec.path = "/nope";
    CHECK_OK(tg_http_request_new(&spec, &req));
    if (req != NULL)
        tg_http_router_dispatch(r, req, &res);
    CHECK(res.status == 404);
    tg_http_response_reset(&res);
    tg_http_request_free(req);
    req = NULL;
    spec.path = "/tools/y";
    spec.method = "GET";
    CHECK_OK(tg_http_request_new(&spec, &req));
    if (req != NULL)
        tg_http_router_dispatch(r, req, &res);
    CHECK(res.status == 405 && res.n_headers >= 1);
    tg_http_response_reset(&res);
    tg_http_request_free(req);

    /* Bad specs. */
    spec.method = NULL;
    CHECK_ERR(tg_http_request_new(&spec, &req), TG_ERR_INVALID_ARG);
    CHECK(req == NULL);
    {
        static const char *const odd[] = {"DPoP", NULL};
        static const char *const badname[] = {"Bad Name", "x", NULL};

        spec.method = "GET";
        spec.headers = odd;
        CHECK_ERR(tg_http_request_new(&spec, &req), TG_ERR_INVALID_ARG);
        spec.headers = badname;
        CHECK_ERR(tg_http_request_new(&spec, &req), TG_ERR_INVALID_ARG);
    }
    tg_http_request_free(NULL);
    tg_http_router_free(r);
}

int
main(void)
{
    struct tg_http_config cfg;
    struct tg_http_router *r;

    tg_log_set_level(TG_LOG_ERROR); /* one test makes the router warn */
    t_dir_make();
    r = make_router();
    if (r == NULL || add_error_routes(r) != 0) {
        fprintf(stderr, "router setup failed\n");
        return 1;
    }
    t_config_plain(&cfg);
    if (t_server_start(&srv, &cfg, r, 0) != 0) {
        fprintf(stderr, "server start failed\n");
        return 1;
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", srv.port);

    RUN(test_exact_and_methods);
    RUN(test_not_found);
    RUN(test_prefix_routes);
    RUN(test_refused_paths);
    RUN(test_error_shapes);
    RUN(test_request_accessors);
    RUN(test_header_override);
    RUN(test_route_registration);
    RUN(test_response_helpers);
    RUN(test_dispatch_without_socket);

    if (t_server_stop(&srv) != TG_OK)
        t_failed++;
    tg_http_router_free(r);
    t_dir_remove();
    return t_report("http/router");
}
