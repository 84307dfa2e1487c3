/* The gateway's handlers without a socket: requests built from parts,
 * a SQLite store in a temporary directory, a pinned clock. What needs a
 * valid token (allow, forward) is in tests/integration/test_gateway.py. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "test.h"

#include "gateway/internal.h"

#define ISSUER "http://127.0.0.1:8080"

static char t_dir[64];
static struct tg_store *store;
static struct tg_audit *audit;
static struct tg_gateway *gw;
static struct tg_http_router *router;
static int64_t now = 1800000000;
static const struct tg_clock pinned = {tg_clock_fixed_now, &now};
static int key_lookups;

static enum tg_err
no_keys(void *arg, const char *kid, struct tg_jwk *out)
{
    (void)arg;
    (void)kid;
    memset(out, 0, sizeof(*out));
    key_lookups++;
    return TG_ERR_NOT_FOUND;
}

static void
dir_remove(void)
{
    char path[512];
    struct dirent *de;
    DIR *d = opendir(t_dir);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", t_dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(t_dir);
}

static void
put_tool(const char *id, const char *resource, const char *upstream)
{
    struct tg_endpoint eps[3] = {
        {"GET", "/items", TG_ACTION_READ, TG_RISK_NORMAL},
        {"POST", "/items", TG_ACTION_WRITE, TG_RISK_NORMAL},
        {"DELETE", "/items/{id}", TG_ACTION_ADMIN, TG_RISK_HIGH},
    };
    struct tg_tool t = {0};

    t.id = (char *)id;
    t.resource = (char *)resource;
    t.upstream = (char *)upstream;
    t.kind = "http";
    t.endpoints = eps;
    t.n_endpoints = 3;
    CHECK_OK(tg_store_tool_put(store, &t));
}

static void
setup(void)
{
    struct tg_gateway_config cfg = {0};
    char path[256];

    snprintf(t_dir, sizeof(t_dir), "/tmp/tg-gw-XXXXXX");
    if (mkdtemp(t_dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(path, sizeof(path), "%s/t.db", t_dir);
    if (tg_store_open_sqlite(path, &store) != TG_OK)
        exit(2);
    snprintf(path, sizeof(path), "%s/audit.log", t_dir);
    if (tg_audit_open(path, &audit) != TG_OK)
        exit(2);
    put_tool("t1", ISSUER "/tools/t1", "http://127.0.0.1:9/up");
    cfg.issuer = ISSUER;
    cfg.keys.find = no_keys;
    cfg.store = store;
    cfg.audit = audit;
    cfg.tool_ttl = 5;
    cfg.clock = &pinned;
    if (tg_gateway_new(&cfg, &gw) != TG_OK)
        exit(2);
    router = tg_http_router_new();
    if (router == NULL || tg_gateway_routes(gw, router) != TG_OK ||
        tg_gateway_echo_routes(router) != TG_OK)
        exit(2);
}

static void
teardown(void)
{
    tg_http_router_free(router);
    tg_gateway_free(gw);
    tg_audit_close(audit);
    tg_store_close(store);
    dir_remove();
}

struct answer {
    int status;
    json_t *body;
    char www[4096], headers[4096];
};

/* Dispatch one request through the router; headers is a NULL-terminated
 * name, value list. */
static void
ask(const char *method, const char *path, const char *const *headers, struct answer *a)
{
    struct tg_http_request_spec spec = {0};
    struct tg_http_request *req = NULL;
    struct tg_http_response res;
    size_t i;

    memset(a, 0, sizeof(*a));
    spec.method = method;
    spec.path = path;
    spec.headers = headers;
    spec.base_url = ISSUER;
    if (tg_http_request_new(&spec, &req) != TG_OK) {
        a->status = -1;
        return;
    }
    tg_http_response_init(&res);
    tg_http_router_dispatch(router, req, &res);
    a->status = res.status;
    a->body = json_loadb((const char *)res.body.p, res.body.len, 0, NULL);
    for (i = 0; i < res.n_headers; i++) {
        size_t len = strlen(a->headers);

        snprintf(a->headers + len, sizeof(a->headers) - len, "%s: %s\n", res.headers[i].name,
                 res.headers[i].value);
        if (strcmp(res.headers[i].name, "WWW-Authenticate") == 0)
            snprintf(a->www, sizeof(a->www), "%s", res.headers[i].value);
    }
    tg_http_response_reset(&res);
    tg_http_request_free(req);
}

static const char *
str(const struct answer *a, const char *key)
{
    return json_string_value(json_object_get(a->body, key));
}

static void
done(struct answer *a)
{
    json_decref(a->body);
    a->body = NULL;
}

static void
test_prm(void)
{
    struct answer a;
    json_t *sc;

    ask("GET", "/.well-known/oauth-protected-resource/tools/t1", NULL, &a);
    CHECK(a.status == 200);
    CHECK(str(&a, "resource") != NULL && strcmp(str(&a, "resource"), ISSUER "/tools/t1") == 0);
    CHECK(json_array_size(json_object_get(a.body, "authorization_servers")) == 1);
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(a.body, "authorization_servers"),
                                                  0)),
                 ISSUER) == 0);
    sc = json_object_get(a.body, "scopes_supported");
    CHECK(json_array_size(sc) == 3);
    CHECK(strcmp(json_string_value(json_array_get(sc, 0)), "t1:read") == 0);
    CHECK(strcmp(json_string_value(json_array_get(sc, 2)), "t1:admin") == 0);
    CHECK(json_is_false(json_object_get(a.body, "dpop_bound_access_tokens_required")));
    CHECK(json_is_true(json_object_get(a.body, "tls_client_certificate_bound_access_tokens")));
    CHECK(json_array_size(json_object_get(a.body, "dpop_signing_alg_values_supported")) >= 5);
    CHECK(strcmp(str(&a, "resource_name"), "t1") == 0);
    CHECK(strstr(a.headers, "Cache-Control: public") != NULL);
    done(&a);
    ask("GET", "/.well-known/oauth-protected-resource/tools/nope", NULL, &a);
    CHECK(a.status == 404);
    done(&a);
    ask("GET", "/.well-known/oauth-protected-resource/tools/t1/x", NULL, &a);
    CHECK(a.status == 404);
    done(&a);
    ask("GET", "/.well-known/oauth-protected-resource/tools/", NULL, &a);
    CHECK(a.status == 404);
    done(&a);
    ask("POST", "/.well-known/oauth-protected-resource/tools/t1", NULL, &a);
    CHECK(a.status == 405);
    done(&a);
}

static void
test_proxy_refusals(void)
{
    static const char *const garbage[] = {"Authorization", "Bearer a.b.c", NULL};
    static const char *const basic[] = {"Authorization", "Basic dXNlcjpwdw==", NULL};
    struct answer a;

    /* No credentials: both challenges, no error code, the metadata URL. */
    ask("GET", "/tools/t1/items", NULL, &a);
    CHECK(a.status == 401);
    CHECK(strncmp(a.www, "DPoP ", 5) == 0 && strstr(a.www, ", Bearer ") != NULL);
    CHECK(strstr(a.www, "error=") == NULL);
    CHECK(strstr(a.www, "resource_metadata=\"" ISSUER
                        "/.well-known/oauth-protected-resource/tools/t1\"") != NULL);
    CHECK(a.body != NULL && json_object_get(a.body, "error") == NULL);
    done(&a);
    /* Another scheme counts as none (RFC 6750 §3.1). */
    ask("GET", "/tools/t1/items", basic, &a);
    CHECK(a.status == 401 && strstr(a.www, "error=") == NULL);
    done(&a);
    /* A token signed by no key we know. */
    key_lookups = 0;
    ask("GET", "/tools/t1/items", garbage, &a);
    CHECK(a.status == 401 && str(&a, "error") != NULL &&
          strcmp(str(&a, "error"), "invalid_token") == 0);
    CHECK(strstr(a.www, "Bearer error=\"invalid_token\"") != NULL);
    done(&a);
    ask("GET", "/tools/nope/items", garbage, &a);
    CHECK(a.status == 404 && strcmp(str(&a, "error"), "invalid_request") == 0);
    done(&a);
    ask("GET", "/tools/", NULL, &a);
    CHECK(a.status == 404);
    done(&a);
    ask("GET", "/tools/t%31/items", NULL, &a);
    CHECK(a.status == 404);
    done(&a);
    /* The router refuses these before the gateway sees them. */
    ask("GET", "/tools/t1/../t1/items", NULL, &a);
    CHECK(a.status == 400);
    done(&a);
    ask("GET", "/tools/t1/items%2Fx", NULL, &a);
    CHECK(a.status == 400);
    done(&a);
}

static void
test_check_inputs(void)
{
    static const char *const none[] = {"Authorization", "Bearer a.b.c", NULL};
    static const char *const no_uri[] = {"X-Original-Method", "GET", NULL};
    static const char *const two[] = {"X-Original-Method", "GET", "X-Original-Method", "POST",
                                      "X-Original-URI", "/tools/t1/items", NULL};
    static const char *const lower[] = {"X-Original-Method", "get", "X-Original-URI",
                                        "/tools/t1/items", NULL};
    static const char *const proto_only[] = {"X-Original-Method", "GET", "X-Original-URI",
                                             "/tools/t1/items", "X-Forwarded-Proto", "https",
                                             NULL};
    static const char *const bad_proto[] = {"X-Original-Method", "GET", "X-Original-URI",
                                            "/tools/t1/items", "X-Forwarded-Proto", "ftp",
                                            "X-Forwarded-Host", "a.example", NULL};
    static const char *const bad_host[] = {"X-Original-Method", "GET", "X-Original-URI",
                                           "/tools/t1/items", "X-Forwarded-Proto", "https",
                                           "X-Forwarded-Host", "a.example/evil", NULL};
    static const char *const dots[] = {"X-Original-Method", "GET", "X-Original-URI",
                                       "/tools/t1/%2e%2e/items", NULL};
    static const char *const slash[] = {"X-Original-Method", "GET", "X-Original-URI",
                                        "/tools/t1/items%2f1", NULL};
    static const char *const frag[] = {"X-Original-Method", "GET", "X-Original-URI",
                                       "/tools/t1/items?a#b", NULL};
    static const char *const other[] = {"X-Original-Method", "GET", "X-Original-URI", "/token",
                                        NULL};
    static const char *const unknown[] = {"X-Original-Method", "GET", "X-Original-URI",
                                          "/tools/nope/items", NULL};
    static const char *const ok[] = {"X-Original-Method", "GET", "X-Original-URI",
                                     "/tools/t1/items?x=1", NULL};
    const char *const *bad400[] = {none, no_uri, two, lower, proto_only, bad_proto, bad_host,
                                   dots, slash, frag};
    struct answer a;
    size_t i;

    for (i = 0; i < sizeof(bad400) / sizeof(bad400[0]); i++) {
        ask("GET", "/check", bad400[i], &a);
        if (a.status != 400)
            fprintf(stderr, "  case %zu: %d\n", i, a.status);
        CHECK(a.status == 400 && str(&a, "error") != NULL &&
              strcmp(str(&a, "error"), "invalid_request") == 0);
        done(&a);
    }
    ask("GET", "/check", other, &a);
    CHECK(a.status == 404);
    done(&a);
    ask("POST", "/check", unknown, &a);
    CHECK(a.status == 404);
    done(&a);
    /* Well-formed, no credentials: the proxy's answer. */
    ask("GET", "/check", ok, &a);
    CHECK(a.status == 401 && strncmp(a.www, "DPoP ", 5) == 0 && strstr(a.www, "error=") == NULL);
    CHECK(strstr(a.headers, "X-Tollgate-") == NULL);
    done(&a);
    /* nginx subrequests keep the client's method: any is accepted. */
    ask("DELETE", "/check", ok, &a);
    CHECK(a.status == 401);
    done(&a);
}

static void
test_tool_cache(void)
{
    struct answer a;

    put_tool("t2", ISSUER "/tools/t2", NULL);
    ask("GET", "/.well-known/oauth-protected-resource/tools/t2", NULL, &a);
    CHECK(a.status == 200 && strcmp(str(&a, "resource"), ISSUER "/tools/t2") == 0);
    done(&a);
    /* Changed in the store: the cached definition serves until the TTL. */
    put_tool("t2", "https://api.example.com/t2", NULL);
    now += 4;
    ask("GET", "/.well-known/oauth-protected-resource/tools/t2", NULL, &a);
    CHECK(a.status == 200 && strcmp(str(&a, "resource"), ISSUER "/tools/t2") == 0);
    done(&a);
    now += 1;
    ask("GET", "/.well-known/oauth-protected-resource/tools/t2", NULL, &a);
    CHECK(a.status == 200 && strcmp(str(&a, "resource"), "https://api.example.com/t2") == 0);
    done(&a);
    /* Deleted: gone once the cache refreshes. */
    CHECK_OK(tg_store_tool_delete(store, "t2"));
    now += 5;
    ask("GET", "/.well-known/oauth-protected-resource/tools/t2", NULL, &a);
    CHECK(a.status == 404);
    done(&a);
    /* A clock that went back does not keep a stale entry forever. */
    put_tool("t2", ISSUER "/tools/t2", NULL);
    ask("GET", "/.well-known/oauth-protected-resource/tools/t2", NULL, &a);
    CHECK(a.status == 200);
    done(&a);
    put_tool("t2", "https://b.example.com/t2", NULL);
    now -= 100;
    ask("GET", "/.well-known/oauth-protected-resource/tools/t2", NULL, &a);
    CHECK(a.status == 200 && strcmp(str(&a, "resource"), "https://b.example.com/t2") == 0);
    done(&a);
    now += 100;
}

static void
test_echo(void)
{
    static const char *const hs[] = {"X-A", "1", "x-a", "2", "Authorization", "Bearer t", NULL};
    struct tg_http_request_spec spec = {0};
    struct tg_http_request *req = NULL;
    struct tg_http_response res;
    json_t *o, *h;

    spec.method = "POST";
    spec.path = "/any/where";
    spec.query = "q=1";
    spec.headers = hs;
    spec.body = tg_slice("hello", 5);
    CHECK_OK(tg_http_request_new(&spec, &req));
    if (req == NULL)
        return;
    tg_http_response_init(&res);
    tg_http_router_dispatch(router, req, &res);
    CHECK(res.status == 200);
    o = json_loadb((const char *)res.body.p, res.body.len, 0, NULL);
    h = json_object_get(o, "headers");
    CHECK(strcmp(json_string_value(json_object_get(o, "method")), "POST") == 0);
    CHECK(strcmp(json_string_value(json_object_get(o, "path")), "/any/where") == 0);
    CHECK(strcmp(json_string_value(json_object_get(o, "query")), "q=1") == 0);
    CHECK(strcmp(json_string_value(json_object_get(o, "body")), "hello") == 0);
    CHECK(strcmp(json_string_value(json_object_get(h, "x-a")), "1, 2") == 0);
    /* The echo shows everything, credentials included: that is how the
     * tests see what the gateway let through. */
    CHECK(strcmp(json_string_value(json_object_get(h, "authorization")), "Bearer t") == 0);
    json_decref(o);
    tg_http_response_reset(&res);
    tg_http_request_free(req);
}

static void
test_audit_events(void)
{
    char path[256], line[8192];
    FILE *f;
    int deny = 0, check = 0, allow = 0, leaked = 0;

    snprintf(path, sizeof(path), "%s/audit.log", t_dir);
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        deny += strstr(line, "\"event\":\"gateway.deny\"") != NULL;
        check += strstr(line, "\"event\":\"check.deny\"") != NULL;
        allow += strstr(line, ".allow\"") != NULL;
        leaked += strstr(line, "a.b.c") != NULL || strstr(line, "dXNlcjpwdw") != NULL;
    }
    fclose(f);
    /* One event per refusal of the proxy and of /check (PRM is not audited). */
    CHECK(deny == 6);
    CHECK(check == 14);
    CHECK(allow == 0);
    CHECK(leaked == 0);
}

static void
test_config(void)
{
    struct tg_gateway_config cfg = {0};
    struct tg_gateway *g = NULL;

    CHECK_ERR(tg_gateway_new(&cfg, &g), TG_ERR_CONFIG);
    CHECK(g == NULL);
    cfg.issuer = ISSUER;
    cfg.store = store;
    CHECK_ERR(tg_gateway_new(&cfg, &g), TG_ERR_CONFIG);
    cfg.keys.find = no_keys;
    CHECK_OK(tg_gateway_new(&cfg, &g));
    tg_gateway_free(g);
    tg_gateway_free(NULL);
}

int
main(void)
{
    setup();
    RUN(test_prm);
    RUN(test_proxy_refusals);
    RUN(test_check_inputs);
    RUN(test_tool_cache);
    RUN(test_echo);
    RUN(test_audit_events);
    RUN(test_config);
    teardown();
    return t_report("gateway-handlers");
}
