#include "test.h"

#include "policy/model.h"

/* The RFC 9449 §4.1 public key, as an inline JWKS. */
#define EC_X "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"
#define EC_Y "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
#define JWKS_EC \
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}]}"
/* RFC 8037 §A.1: an Ed25519 private key. */
#define JWKS_PRIVATE                                                                  \
    "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":"                           \
    "\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\",\"x\":"                          \
    "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}"
#define X5T "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

static char *
dup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static struct tg_slice
sl(const char *s)
{
    return tg_slice(s, strlen(s));
}

/* A valid internal agent with a client secret. */
static void
agent_init(struct tg_agent *a)
{
    memset(a, 0, sizeof(*a));
    a->id = dup("billing-bot");
    a->type = TG_AGENT_INTERNAL;
    a->owner = dup("alice@example.com");
    a->status = TG_AGENT_ACTIVE;
    a->auth_method = TG_AUTH_CLIENT_SECRET_BASIC;
    a->pop = TG_POP_DPOP;
}

static void
set(char **field, const char *v)
{
    free(*field);
    *field = dup(v);
}

static void
tool_init(struct tg_tool *t)
{
    memset(t, 0, sizeof(*t));
    t->id = dup("demo");
    t->resource = dup("http://127.0.0.1:8080/tools/demo");
    t->kind = dup("http");
    t->n_endpoints = 2;
    t->endpoints = calloc(2, sizeof(*t->endpoints));
    t->endpoints[0].method = dup("GET");
    t->endpoints[0].path = dup("/items");
    t->endpoints[0].action = TG_ACTION_READ;
    t->endpoints[0].risk = TG_RISK_NORMAL;
    t->endpoints[1].method = dup("DELETE");
    t->endpoints[1].path = dup("/items/{id}");
    t->endpoints[1].action = TG_ACTION_ADMIN;
    t->endpoints[1].risk = TG_RISK_HIGH;
}

static void
grant_init(struct tg_grant *g)
{
    memset(g, 0, sizeof(*g));
    g->agent_id = dup("billing-bot");
    g->tool_id = dup("demo");
    g->actions = TG_ACTION_BIT(TG_ACTION_READ) | TG_ACTION_BIT(TG_ACTION_ADMIN);
    g->n_endpoints = 2;
    g->endpoints = calloc(2, sizeof(char *));
    g->endpoints[0] = dup("GET /items");
    g->endpoints[1] = dup("DELETE /items/{id}");
}

static void
test_enum_names(void)
{
    enum tg_agent_type t;
    enum tg_agent_status st;
    enum tg_auth_method m;
    enum tg_pop p;
    enum tg_action a;
    enum tg_risk r;
    static const char *const methods[] = {"client_secret_basic", "client_secret_post",
                                          "private_key_jwt", "tls_client_auth",
                                          "self_signed_tls_client_auth", "spiffe_x509",
                                          "spiffe_jwt"};
    size_t i;

    CHECK_OK(tg_agent_type_parse("internal", &t));
    CHECK(t == TG_AGENT_INTERNAL);
    CHECK_OK(tg_agent_type_parse("tenant", &t));
    CHECK(t == TG_AGENT_TENANT);
    CHECK_OK(tg_agent_type_parse("browsing", &t));
    CHECK(t == TG_AGENT_BROWSING);
    CHECK(strcmp(tg_agent_type_name(TG_AGENT_BROWSING), "browsing") == 0);
    CHECK_ERR(tg_agent_type_parse("Internal", &t), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_agent_type_parse("", &t), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_agent_type_parse(NULL, &t), TG_ERR_INVALID_ARG);

    CHECK_OK(tg_agent_status_parse("disabled", &st));
    CHECK(st == TG_AGENT_DISABLED);
    CHECK(strcmp(tg_agent_status_name(TG_AGENT_ACTIVE), "active") == 0);
    CHECK_ERR(tg_agent_status_parse("enabled", &st), TG_ERR_INVALID_ARG);

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        CHECK_OK(tg_auth_method_parse(methods[i], &m));
        CHECK((size_t)m == i + 1);
        CHECK(strcmp(tg_auth_method_name(m), methods[i]) == 0);
    }
    CHECK_ERR(tg_auth_method_parse("none", &m), TG_ERR_INVALID_ARG);

    CHECK_OK(tg_pop_parse("dpop", &p));
    CHECK(p == TG_POP_DPOP);
    CHECK_OK(tg_pop_parse("mtls", &p));
    CHECK(p == TG_POP_MTLS);
    CHECK_OK(tg_pop_parse("any-pop", &p));
    CHECK(p == TG_POP_ANY);
    CHECK_OK(tg_pop_parse("bearer", &p));
    CHECK(p == TG_POP_BEARER);
    CHECK(strcmp(tg_pop_name(TG_POP_ANY), "any-pop") == 0);
    CHECK_ERR(tg_pop_parse("any_pop", &p), TG_ERR_INVALID_ARG);

    CHECK_OK(tg_action_parse("read", &a));
    CHECK(a == TG_ACTION_READ);
    CHECK_OK(tg_action_parse("write", &a));
    CHECK(a == TG_ACTION_WRITE);
    CHECK_OK(tg_action_parse("admin", &a));
    CHECK(a == TG_ACTION_ADMIN);
    CHECK_ERR(tg_action_parse("delete", &a), TG_ERR_INVALID_ARG);
    CHECK(strcmp(tg_action_name(TG_ACTION_WRITE), "write") == 0);

    CHECK_OK(tg_risk_parse("high", &r));
    CHECK(r == TG_RISK_HIGH);
    CHECK_OK(tg_risk_parse("normal", &r));
    CHECK(r == TG_RISK_NORMAL);
    CHECK_ERR(tg_risk_parse("low", &r), TG_ERR_INVALID_ARG);

    /* Out-of-range values print as "unknown", never crash. */
    CHECK(strcmp(tg_action_name((enum tg_action)0), "unknown") == 0);
    CHECK(strcmp(tg_risk_name((enum tg_risk)99), "unknown") == 0);
    CHECK(strcmp(tg_auth_method_name((enum tg_auth_method)-1), "unknown") == 0);
}

static void
test_reset_null_safe(void)
{
    struct tg_agent a;
    struct tg_tool t;
    struct tg_grant g;

    tg_agent_reset(NULL);
    tg_tool_reset(NULL);
    tg_grant_reset(NULL);
    agent_init(&a);
    a.has_secret = 1;
    memset(a.secret_mac, 0xab, sizeof(a.secret_mac));
    tg_agent_reset(&a);
    CHECK(a.id == NULL && a.owner == NULL && a.has_secret == 0 && a.secret_mac[0] == 0);
    tg_agent_reset(&a); /* twice is fine */
    tool_init(&t);
    tg_tool_reset(&t);
    CHECK(t.endpoints == NULL && t.n_endpoints == 0 && t.id == NULL);
    tg_tool_reset(&t);
    grant_init(&g);
    tg_grant_reset(&g);
    CHECK(g.endpoints == NULL && g.n_endpoints == 0);
    tg_grant_reset(&g);
}

static void
test_copy_is_deep(void)
{
    struct tg_agent a, ac;
    struct tg_tool t, tc;
    struct tg_grant g, gc;

    agent_init(&a);
    a.tenant = dup("demo");
    a.max_token_lifetime = 120;
    memset(a.secret_mac, 7, sizeof(a.secret_mac));
    a.has_secret = 1;
    a.introspect = 1;
    CHECK_OK(tg_agent_copy(&a, &ac));
    CHECK(ac.introspect == 1);
    CHECK(ac.id != a.id && strcmp(ac.id, "billing-bot") == 0);
    CHECK(ac.tenant != a.tenant && strcmp(ac.tenant, "demo") == 0);
    CHECK(ac.jwks == NULL && ac.spiffe_id == NULL);
    CHECK(ac.max_token_lifetime == 120 && ac.has_secret && ac.secret_mac[31] == 7);
    a.id[0] = 'X';
    CHECK(ac.id[0] == 'b');
    tg_agent_reset(&a);
    CHECK_OK(tg_agent_validate(&ac)); /* still whole after the source is gone */
    tg_agent_reset(&ac);

    tool_init(&t);
    CHECK_OK(tg_tool_copy(&t, &tc));
    CHECK(tc.n_endpoints == 2 && tc.endpoints != t.endpoints);
    CHECK(tc.endpoints[1].path != t.endpoints[1].path);
    CHECK(strcmp(tc.endpoints[1].path, "/items/{id}") == 0);
    CHECK(tc.endpoints[1].risk == TG_RISK_HIGH && tc.endpoints[1].action == TG_ACTION_ADMIN);
    CHECK(tc.upstream == NULL);
    tg_tool_reset(&t);
    CHECK_OK(tg_tool_validate(&tc));
    tg_tool_reset(&tc);

    grant_init(&g);
    CHECK_OK(tg_grant_copy(&g, &gc));
    CHECK(gc.n_endpoints == 2 && gc.endpoints[0] != g.endpoints[0]);
    CHECK(strcmp(gc.endpoints[1], "DELETE /items/{id}") == 0);
    CHECK(gc.actions == g.actions);
    tg_grant_reset(&g);
    CHECK_OK(tg_grant_validate(&gc));
    tg_grant_reset(&gc);
}

static void
test_ids(void)
{
    char long_id[TG_POLICY_ID_MAX + 2];

    CHECK(tg_policy_id_valid(sl("a")));
    CHECK(tg_policy_id_valid(sl("billing-bot.v2_x:prod")));
    CHECK(!tg_policy_id_valid(sl("")));
    CHECK(!tg_policy_id_valid(sl("has space")));
    CHECK(!tg_policy_id_valid(sl("a/b")));
    CHECK(!tg_policy_id_valid(sl("a@b")));
    CHECK(!tg_policy_id_valid(sl("caf\xc3\xa9")));
    memset(long_id, 'a', sizeof(long_id));
    long_id[TG_POLICY_ID_MAX] = '\0';
    CHECK(tg_policy_id_valid(sl(long_id)));
    long_id[TG_POLICY_ID_MAX] = 'a';
    long_id[TG_POLICY_ID_MAX + 1] = '\0';
    CHECK(!tg_policy_id_valid(sl(long_id)));
}

static void
test_spiffe_ids(void)
{
    CHECK(tg_spiffe_id_valid(sl("spiffe://example.org/agents/billing")));
    CHECK(tg_spiffe_id_valid(sl("spiffe://td-1_x.local/a")));
    CHECK(!tg_spiffe_id_valid(sl("spiffe://example.org")));          /* no path */
    CHECK(!tg_spiffe_id_valid(sl("spiffe://example.org/")));         /* trailing slash */
    CHECK(!tg_spiffe_id_valid(sl("spiffe://example.org/a/")));
    CHECK(!tg_spiffe_id_valid(sl("spiffe://example.org//a")));       /* empty segment */
    CHECK(!tg_spiffe_id_valid(sl("spiffe://Example.org/a")));        /* uppercase domain */
    CHECK(!tg_spiffe_id_valid(sl("spiffe://example.org:443/a")));    /* port */
    CHECK(!tg_spiffe_id_valid(sl("spiffe://user@example.org/a")));   /* userinfo */
    CHECK(!tg_spiffe_id_valid(sl("spiffe://example.org/a?x=1")));    /* query */
    CHECK(!tg_spiffe_id_valid(sl("spiffe://example.org/a#f")));      /* fragment */
    CHECK(!tg_spiffe_id_valid(sl("spiffe://example.org/a/../b")));   /* dot segment */
    CHECK(!tg_spiffe_id_valid(sl("spiffe://example.org/a/%41")));    /* percent */
    CHECK(!tg_spiffe_id_valid(sl("spiffe:///a")));                   /* no trust domain */
    CHECK(!tg_spiffe_id_valid(sl("SPIFFE://example.org/a")));
    CHECK(!tg_spiffe_id_valid(sl("https://example.org/a")));
}

static void
test_uris(void)
{
    CHECK(tg_uri_http_valid(sl("http://127.0.0.1:8080/tools/demo")));
    CHECK(tg_uri_http_valid(sl("https://api.example.com")));
    CHECK(tg_uri_http_valid(sl("https://[::1]:8443/x?y=1")));
    CHECK(!tg_uri_http_valid(sl("https://api.example.com/x#frag")));
    CHECK(!tg_uri_http_valid(sl("ftp://example.com/")));
    CHECK(!tg_uri_http_valid(sl("HTTP://example.com/")));
    CHECK(!tg_uri_http_valid(sl("http:///path")));
    CHECK(!tg_uri_http_valid(sl("http://user:pw@example.com/")));
    CHECK(!tg_uri_http_valid(sl("http://user@example.com/")));
    CHECK(!tg_uri_http_valid(sl("http://[::1/")));
    CHECK(!tg_uri_http_valid(sl("http://example.com:99999999/")));
    CHECK(!tg_uri_http_valid(sl("http://example.com/a b")));
    CHECK(!tg_uri_http_valid(sl("/relative/path")));
    CHECK(!tg_uri_http_valid(sl("http://example.com/%zz")));
    CHECK(tg_uri_absolute_valid(sl("urn:example:tool")));
    CHECK(tg_uri_absolute_valid(sl("https://x.example/a?b=c")));
    CHECK(!tg_uri_absolute_valid(sl("https://x.example/a#b")));
    CHECK(!tg_uri_absolute_valid(sl("no-scheme")));
    CHECK(!tg_uri_absolute_valid(sl("1http://x")));
    CHECK(!tg_uri_absolute_valid(sl("")));
    CHECK(!tg_uri_absolute_valid(sl("urn:")));
}

static void
test_paths_and_refs(void)
{
    struct tg_slice m, p;
    struct tg_endpoint e = {"DELETE", "/items/{id}", TG_ACTION_ADMIN, TG_RISK_HIGH};

    CHECK(tg_endpoint_path_valid(sl("/")));
    CHECK(tg_endpoint_path_valid(sl("/items")));
    CHECK(tg_endpoint_path_valid(sl("/items/{id}/parts/*")));
    CHECK(tg_endpoint_path_valid(sl("/v1/a:b@c~d")));
    CHECK(!tg_endpoint_path_valid(sl("")));
    CHECK(!tg_endpoint_path_valid(sl("items")));
    CHECK(!tg_endpoint_path_valid(sl("/items/")));
    CHECK(!tg_endpoint_path_valid(sl("//items")));
    CHECK(!tg_endpoint_path_valid(sl("/items/{}")));
    CHECK(!tg_endpoint_path_valid(sl("/items/{id")));
    CHECK(!tg_endpoint_path_valid(sl("/items/x{id}")));
    CHECK(!tg_endpoint_path_valid(sl("/items/{i-d}")));
    CHECK(!tg_endpoint_path_valid(sl("/items/a*")));
    CHECK(!tg_endpoint_path_valid(sl("/items/%2F")));
    CHECK(!tg_endpoint_path_valid(sl("/items/..")));
    CHECK(!tg_endpoint_path_valid(sl("/items/.")));
    CHECK(!tg_endpoint_path_valid(sl("/items?x=1")));
    CHECK(!tg_endpoint_path_valid(sl("/items#x")));
    CHECK(!tg_endpoint_path_valid(sl("/it ems")));

    CHECK(tg_endpoint_method_valid(sl("GET")));
    CHECK(tg_endpoint_method_valid(sl("OPTIONS")));
    CHECK(tg_endpoint_method_valid(sl("*")));
    CHECK(!tg_endpoint_method_valid(sl("get")));
    CHECK(!tg_endpoint_method_valid(sl("TRACE")));
    CHECK(!tg_endpoint_method_valid(sl("")));

    CHECK_OK(tg_endpoint_ref_split(sl("DELETE /items/{id}"), &m, &p));
    CHECK(tg_slice_eq_str(m, "DELETE") && tg_slice_eq_str(p, "/items/{id}"));
    CHECK_ERR(tg_endpoint_ref_split(sl("DELETE  /items"), &m, &p), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_endpoint_ref_split(sl("DELETE"), &m, &p), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_endpoint_ref_split(sl("/items"), &m, &p), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_endpoint_ref_split(sl("delete /items"), &m, &p), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_endpoint_ref_split(sl("GET /items "), &m, &p), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_endpoint_ref_split(sl(""), &m, &p), TG_ERR_INVALID_ARG);
    CHECK(tg_endpoint_ref_eq(&e, sl("DELETE /items/{id}")));
    CHECK(!tg_endpoint_ref_eq(&e, sl("DELETE /items/*")));
    CHECK(!tg_endpoint_ref_eq(&e, sl("GET /items/{id}")));
    CHECK(!tg_endpoint_ref_eq(&e, sl("DELETE /items/{id}x")));
}

/* One change to a valid agent, and the expected outcome. Zero fields keep
 * the base value; -1 in an enum field sets it to 0 (no valid value). */
struct agent_case {
    const char *what;
    enum tg_err want;
    const char *msg; /* a substring of the message, or NULL */
    const char *id, *owner, *tenant, *jwks, *dn, *dns, *uri, *x5t, *spiffe;
    int type, status, method, pop;
    int64_t lifetime;
    int no_id, no_owner;
    int introspect; /* the value to set (0 keeps the base's 0) */
};

#define BAD TG_ERR_POLICY_INVALID

static const struct agent_case agent_cases[] = {
    {"base", TG_OK, NULL, .id = NULL},
    {"space in id", BAD, "id:", .id = "billing bot"},
    {"slash in id", BAD, "id:", .id = "a/b"},
    {"no id", BAD, "id:", .no_id = 1},
    {"no owner", BAD, "owner", .no_owner = 1},
    {"control character in owner", BAD, "owner", .owner = "alice\nbob"},
    {"tenant agent without tenant", BAD, "tenant: required", .type = TG_AGENT_TENANT},
    {"tenant agent", TG_OK, NULL, .type = TG_AGENT_TENANT, .tenant = "demo"},
    {"bad tenant id", BAD, "tenant", .type = TG_AGENT_TENANT, .tenant = "de mo"},
    {"browsing bearer", BAD, "bearer", .type = TG_AGENT_BROWSING, .pop = TG_POP_BEARER},
    {"browsing dpop", TG_OK, NULL, .type = TG_AGENT_BROWSING},
    {"internal bearer", TG_OK, NULL, .pop = TG_POP_BEARER},
    {"no type", BAD, "type", .type = -1},
    {"no pop", BAD, "sender_constraint", .pop = -1},
    {"no status", BAD, "status", .status = -1},
    {"no method", BAD, "auth", .method = -1},
    {"negative lifetime", BAD, "max_token_lifetime", .lifetime = -1},
    {"lifetime too long", BAD, "max_token_lifetime", .lifetime = TG_POLICY_MAX_LIFETIME + 1},
    {"longest lifetime", TG_OK, NULL, .lifetime = TG_POLICY_MAX_LIFETIME},
    {"introspect", TG_OK, NULL, .introspect = 1},
    {"introspect not 0 or 1", BAD, "introspect", .introspect = 2},
    {"introspect negative", BAD, "introspect", .introspect = -1},
    {"client_secret_post", TG_OK, NULL, .method = TG_AUTH_CLIENT_SECRET_POST},
    {"private_key_jwt without jwks", BAD, "needs jwks", .method = TG_AUTH_PRIVATE_KEY_JWT},
    {"private_key_jwt", TG_OK, NULL, .method = TG_AUTH_PRIVATE_KEY_JWT, .jwks = JWKS_EC},
    {"private key in jwks", BAD, "private key material", .method = TG_AUTH_PRIVATE_KEY_JWT,
     .jwks = JWKS_PRIVATE},
    {"jwks not JSON", BAD, "jwks", .method = TG_AUTH_PRIVATE_KEY_JWT, .jwks = "{keys"},
    {"jwks without keys", BAD, "jwks", .method = TG_AUTH_PRIVATE_KEY_JWT,
     .jwks = "{\"keys\":[]}"},
    {"symmetric key in jwks", BAD, "jwks", .method = TG_AUTH_PRIVATE_KEY_JWT,
     .jwks = "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}"},
    {"jwks with another method", BAD, "jwks", .jwks = JWKS_EC},
    {"tls_client_auth without subject", BAD, "exactly one", .method = TG_AUTH_TLS_CLIENT_AUTH},
    {"tls subject_dn", TG_OK, NULL, .method = TG_AUTH_TLS_CLIENT_AUTH, .dn = "CN=agent,O=Ex"},
    {"tls san_dns", TG_OK, NULL, .method = TG_AUTH_TLS_CLIENT_AUTH, .dns = "agent.example.com"},
    {"tls san_uri", TG_OK, NULL, .method = TG_AUTH_TLS_CLIENT_AUTH,
     .uri = "spiffe://example.org/a"},
    {"two tls subjects", BAD, "exactly one", .method = TG_AUTH_TLS_CLIENT_AUTH, .dn = "CN=a",
     .dns = "agent.example.com"},
    {"bad san_dns", BAD, "san_dns", .method = TG_AUTH_TLS_CLIENT_AUTH, .dns = "a b"},
    {"bad san_uri", BAD, "san_uri", .method = TG_AUTH_TLS_CLIENT_AUTH, .uri = "not a uri"},
    {"tls subject with another method", BAD, "tls", .dn = "CN=x"},
    {"self-signed without x5t", BAD, "cert_x5t", .method = TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH},
    {"self-signed", TG_OK, NULL, .method = TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH, .x5t = X5T},
    {"short x5t", BAD, "cert_x5t", .method = TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH, .x5t = "abc"},
    {"x5t not base64url", BAD, "cert_x5t", .method = TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH,
     .x5t = "NzbLsXh8uDCcd+6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
    {"x5t with another method", BAD, "cert_x5t", .x5t = X5T},
    {"spiffe_x509 without id", BAD, "spiffe_id", .method = TG_AUTH_SPIFFE_X509},
    {"spiffe_x509", TG_OK, NULL, .method = TG_AUTH_SPIFFE_X509,
     .spiffe = "spiffe://example.org/agents/billing"},
    {"spiffe_jwt", TG_OK, NULL, .method = TG_AUTH_SPIFFE_JWT,
     .spiffe = "spiffe://example.org/agents/billing"},
    {"bad spiffe id", BAD, "spiffe_id", .method = TG_AUTH_SPIFFE_JWT,
     .spiffe = "spiffe://example.org/"},
    {"spiffe id with another method", BAD, "spiffe_id", .spiffe = "spiffe://example.org/a"},
};

static int
enum_value(int v, int base)
{
    return v == -1 ? 0 : (v != 0 ? v : base);
}

static enum tg_err
agent_case_run(const struct agent_case *c, char *why, size_t why_len)
{
    struct tg_agent a;
    enum tg_err rv;

    agent_init(&a);
    if (c->id != NULL || c->no_id)
        set(&a.id, c->id);
    if (c->owner != NULL || c->no_owner)
        set(&a.owner, c->owner);
    if (c->tenant != NULL)
        set(&a.tenant, c->tenant);
    if (c->jwks != NULL)
        set(&a.jwks, c->jwks);
    if (c->dn != NULL)
        set(&a.tls_subject_dn, c->dn);
    if (c->dns != NULL)
        set(&a.tls_san_dns, c->dns);
    if (c->uri != NULL)
        set(&a.tls_san_uri, c->uri);
    if (c->x5t != NULL)
        set(&a.cert_x5t, c->x5t);
    if (c->spiffe != NULL)
        set(&a.spiffe_id, c->spiffe);
    a.type = (enum tg_agent_type)enum_value(c->type, (int)a.type);
    a.status = (enum tg_agent_status)enum_value(c->status, (int)a.status);
    a.auth_method = (enum tg_auth_method)enum_value(c->method, (int)a.auth_method);
    a.pop = (enum tg_pop)enum_value(c->pop, (int)a.pop);
    if (c->lifetime != 0)
        a.max_token_lifetime = c->lifetime;
    a.introspect = c->introspect;
    rv = tg_agent_validate_msg(&a, why, why_len);
    tg_agent_reset(&a);
    return rv;
}

static void
test_agent_validate(void)
{
    char why[256];
    size_t i;

    for (i = 0; i < sizeof(agent_cases) / sizeof(agent_cases[0]); i++) {
        const struct agent_case *c = &agent_cases[i];
        enum tg_err rv;

        why[0] = '\0';
        rv = agent_case_run(c, why, sizeof(why));
        if (rv != c->want || (c->msg != NULL && strstr(why, c->msg) == NULL))
            fprintf(stderr, "    agent case \"%s\": %s, \"%s\"\n", c->what, tg_err_name(rv), why);
        CHECK(rv == c->want);
        CHECK(c->msg == NULL || strstr(why, c->msg) != NULL);
    }
    CHECK_ERR(tg_agent_validate(NULL), BAD);
    /* The thread's detail carries the message too; why may be NULL. */
    CHECK_ERR(agent_case_run(&agent_cases[6], NULL, 0), BAD);
    CHECK(strstr(tg_err_detail(), "tenant") != NULL);
}

struct tool_case {
    const char *what;
    enum tg_err want;
    const char *id, *resource, *upstream, *kind, *method, *path;
    int action, risk, no_resource, no_kind, no_endpoints;
    const char *method1, *path1; /* endpoint 1 */
};

static const struct tool_case tool_cases[] = {
    {"base", TG_OK, .id = NULL},
    {"bad id", BAD, .id = "de mo"},
    {"no resource", BAD, .no_resource = 1},
    {"relative resource", BAD, .resource = "/tools/demo"},
    {"resource with fragment", BAD, .resource = "https://x.example/t#a"},
    {"ftp resource", BAD, .resource = "ftp://x.example/t"},
    {"upstream", TG_OK, .upstream = "http://127.0.0.1:9000"},
    {"upstream without scheme", BAD, .upstream = "127.0.0.1:9000"},
    {"mcp", TG_OK, .kind = "mcp"},
    {"no kind", TG_OK, .no_kind = 1},
    {"unknown kind", BAD, .kind = "grpc"},
    {"lowercase method", BAD, .method = "get"},
    {"any method", TG_OK, .method = "*"},
    {"relative path", BAD, .path = "items"},
    {"wildcard path", TG_OK, .path = "/items/*/x"},
    {"no action", BAD, .action = -1},
    {"bad risk", BAD, .risk = 3},
    {"duplicate endpoint", BAD, .method = "DELETE", .path = "/items/{id}"},
    {"same shape", BAD, .method = "DELETE", .path = "/items/*"},
    {"same shape, other names", BAD, .method1 = "GET", .path1 = "/items/{x}",
     .path = "/items/{y}"},
    {"GET and DELETE of one path", TG_OK, .path = "/items/{id}"},
    {"different shapes", TG_OK, .method = "DELETE", .path = "/items/x"},
    {"no endpoints", TG_OK, .no_endpoints = 1},
    /* Tenant-bound upstreams: {tenant} once, a whole path segment or host label. */
    {"tenant path segment", TG_OK, .upstream = "http://127.0.0.1:9000/{tenant}/api"},
    {"tenant last segment", TG_OK, .upstream = "http://127.0.0.1:9000/api/{tenant}"},
    {"tenant segment, query", TG_OK, .upstream = "http://h.example/{tenant}?k=1"},
    {"tenant host label", TG_OK, .upstream = "http://{tenant}.crm.internal"},
    {"tenant inner host label", TG_OK, .upstream = "https://api.{tenant}.example.com:8443/x"},
    {"tenant twice", BAD, .upstream = "http://{tenant}.crm.internal/{tenant}"},
    {"tenant in a segment", BAD, .upstream = "http://h.example/t-{tenant}/api"},
    {"tenant segment prefix", BAD, .upstream = "http://h.example/{tenant}x/api"},
    {"tenant in the query", BAD, .upstream = "http://h.example/api?t={tenant}"},
    {"tenant as the query", BAD, .upstream = "http://h.example/api?{tenant}"},
    {"tenant in a label", BAD, .upstream = "http://x{tenant}.crm.internal"},
    {"tenant last label", BAD, .upstream = "http://crm.{tenant}"},
    {"tenant whole host", BAD, .upstream = "http://{tenant}:8080/"},
    {"tenant in the port", BAD, .upstream = "http://h.example:{tenant}/"},
    {"tenant before an address", BAD, .upstream = "http://{tenant}.0.0.1/"},
    {"tenant in userinfo", BAD, .upstream = "http://{tenant}@h.example/"},
    {"tenant in the scheme", BAD, .upstream = "{tenant}://h.example/"},
    {"tenant in a fragment", BAD, .upstream = "http://h.example/a#/{tenant}"},
    {"tenant, another brace", BAD, .upstream = "http://h.example/{tenant}/{id}"},
    {"tenant misspelt", BAD, .upstream = "http://h.example/{Tenant}/"},
    {"tenant in resource", BAD, .resource = "http://127.0.0.1:8080/tools/{tenant}"},
};

static enum tg_err
tool_case_run(const struct tool_case *c)
{
    struct tg_tool t;
    enum tg_err rv;

    tool_init(&t);
    if (c->id != NULL)
        set(&t.id, c->id);
    if (c->resource != NULL || c->no_resource)
        set(&t.resource, c->resource);
    if (c->upstream != NULL)
        set(&t.upstream, c->upstream);
    if (c->kind != NULL || c->no_kind)
        set(&t.kind, c->kind);
    if (c->method != NULL)
        set(&t.endpoints[0].method, c->method);
    if (c->path != NULL)
        set(&t.endpoints[0].path, c->path);
    if (c->method1 != NULL)
        set(&t.endpoints[1].method, c->method1);
    if (c->path1 != NULL)
        set(&t.endpoints[1].path, c->path1);
    t.endpoints[0].action = (enum tg_action)enum_value(c->action, (int)t.endpoints[0].action);
    t.endpoints[0].risk = (enum tg_risk)enum_value(c->risk, (int)t.endpoints[0].risk);
    if (c->no_endpoints) {
        struct tg_tool bare = {0};

        bare.id = t.id;
        bare.resource = t.resource;
        t.id = t.resource = NULL;
        tg_tool_reset(&t);
        t = bare;
    }
    rv = tg_tool_validate(&t);
    tg_tool_reset(&t);
    return rv;
}

static void
test_tool_validate(void)
{
    size_t i;

    for (i = 0; i < sizeof(tool_cases) / sizeof(tool_cases[0]); i++) {
        enum tg_err rv = tool_case_run(&tool_cases[i]);

        if (rv != tool_cases[i].want)
            fprintf(stderr, "    tool case \"%s\": %s\n", tool_cases[i].what, tg_err_detail());
        CHECK(rv == tool_cases[i].want);
    }
    CHECK_ERR(tg_tool_validate(NULL), BAD);
    CHECK_ERR(tool_case_run(&tool_cases[18]), BAD);
    CHECK(strstr(tg_err_detail(), "path shape") != NULL);
}

struct grant_case {
    const char *what;
    enum tg_err want;
    const char *agent, *tool, *ep0, *ep1;
    unsigned actions;
    int no_tool, no_endpoints;
};

static const struct grant_case grant_cases[] = {
    {"base", TG_OK, .agent = NULL},
    {"bad agent id", BAD, .agent = "a b"},
    {"no tool", BAD, .no_tool = 1},
    {"no actions", BAD, .actions = 1u << 31},
    {"unknown action bit", BAD, .actions = TG_ACTION_BIT(TG_ACTION_READ) | 1u << 7},
    {"endpoint without a space", BAD, .ep0 = "/items"},
    {"relative endpoint path", BAD, .ep0 = "GET items"},
    {"endpoint listed twice", BAD, .ep1 = "GET /items"},
    {"no endpoints", TG_OK, .no_endpoints = 1},
};

static enum tg_err
grant_case_run(const struct grant_case *c)
{
    struct tg_grant g;
    enum tg_err rv;

    grant_init(&g);
    if (c->agent != NULL)
        set(&g.agent_id, c->agent);
    if (c->tool != NULL || c->no_tool)
        set(&g.tool_id, c->tool);
    if (c->ep0 != NULL)
        set(&g.endpoints[0], c->ep0);
    if (c->ep1 != NULL)
        set(&g.endpoints[1], c->ep1);
    if (c->actions == 1u << 31)
        g.actions = 0;
    else if (c->actions != 0)
        g.actions = c->actions;
    if (c->no_endpoints) {
        set(&g.endpoints[0], NULL);
        set(&g.endpoints[1], NULL);
        free(g.endpoints);
        g.endpoints = NULL;
        g.n_endpoints = 0;
    }
    rv = tg_grant_validate(&g);
    tg_grant_reset(&g);
    return rv;
}

static void
test_grant_validate(void)
{
    size_t i;

    for (i = 0; i < sizeof(grant_cases) / sizeof(grant_cases[0]); i++) {
        enum tg_err rv = grant_case_run(&grant_cases[i]);

        if (rv != grant_cases[i].want)
            fprintf(stderr, "    grant case \"%s\": %s\n", grant_cases[i].what, tg_err_detail());
        CHECK(rv == grant_cases[i].want);
    }
    CHECK_ERR(tg_grant_validate(NULL), BAD);
}

int
main(void)
{
    RUN(test_enum_names);
    RUN(test_reset_null_safe);
    RUN(test_copy_is_deep);
    RUN(test_ids);
    RUN(test_spiffe_ids);
    RUN(test_uris);
    RUN(test_paths_and_refs);
    RUN(test_agent_validate);
    RUN(test_tool_validate);
    RUN(test_grant_validate);
    return t_report("policy/model");
}
