/* Tenant-bound routing: where a token's tenant may stand in a tool's
 * upstream, and the gate that refuses a token without a usable tenant.
 * End to end (tokens, the echo upstream, MCP, /check, `apply`) in
 * tests/integration/test_tenant.py. */
#include "test.h"

#include "gateway/internal.h"

#define PATH_UP "http://127.0.0.1:9000/{tenant}/api"
#define HOST_UP "http://{tenant}.crm.internal:8443/v1"

/* The upstream for `tenant`, or NULL when refused (*err says how). */
static const char *
resolve(const char *upstream, const char *tenant, enum tg_err *err)
{
    static char out[256];

    *err = tg_gw_upstream_for_tenant(upstream, tenant, out, sizeof(out));
    return *err == TG_OK ? out : NULL;
}

static int
resolves_to(const char *upstream, const char *tenant, const char *want)
{
    enum tg_err e;
    const char *got = resolve(upstream, tenant, &e);

    return got != NULL && strcmp(got, want) == 0;
}

static int
refused(const char *upstream, const char *tenant, enum tg_err want)
{
    enum tg_err e;

    return resolve(upstream, tenant, &e) == NULL && e == want;
}

static void
test_bound(void)
{
    CHECK(tg_gw_upstream_tenant_bound(PATH_UP));
    CHECK(tg_gw_upstream_tenant_bound(HOST_UP));
    CHECK(!tg_gw_upstream_tenant_bound("http://127.0.0.1:9000/api"));
    CHECK(!tg_gw_upstream_tenant_bound("http://127.0.0.1:9000/{tenants}x"));
    CHECK(!tg_gw_upstream_tenant_bound("http://127.0.0.1:9000/{TENANT}/"));
    CHECK(!tg_gw_upstream_tenant_bound(NULL));
}

static void
test_path_segment(void)
{
    CHECK(resolves_to(PATH_UP, "acme", "http://127.0.0.1:9000/acme/api"));
    CHECK(resolves_to(PATH_UP, "globex.eu_2-b", "http://127.0.0.1:9000/globex.eu_2-b/api"));
    CHECK(resolves_to("http://h/{tenant}", "acme", "http://h/acme"));
    CHECK(resolves_to("http://h/x/{tenant}?k=1", "acme", "http://h/x/acme?k=1"));
    /* A tool that is not tenant-bound: as it is, with or without a tenant. */
    CHECK(resolves_to("http://h/api", NULL, "http://h/api"));
    CHECK(resolves_to("http://h/api", "acme", "http://h/api"));
    /* No tenant in the token. */
    CHECK(refused(PATH_UP, NULL, TG_ERR_NOT_FOUND));
    CHECK(refused(PATH_UP, "", TG_ERR_NOT_FOUND));
    /* Outside [A-Za-z0-9._-], or a dot segment an upstream resolves away. */
    CHECK(refused(PATH_UP, "a:b", TG_ERR_INVALID_ARG));
    CHECK(refused(PATH_UP, "a/b", TG_ERR_INVALID_ARG));
    CHECK(refused(PATH_UP, "a%2fb", TG_ERR_INVALID_ARG));
    CHECK(refused(PATH_UP, "a?b", TG_ERR_INVALID_ARG));
    CHECK(refused(PATH_UP, "a#b", TG_ERR_INVALID_ARG));
    CHECK(refused(PATH_UP, "a b", TG_ERR_INVALID_ARG));
    CHECK(refused(PATH_UP, "a@b", TG_ERR_INVALID_ARG));
    CHECK(refused(PATH_UP, "caf\xc3\xa9", TG_ERR_INVALID_ARG));
    CHECK(refused(PATH_UP, ".", TG_ERR_INVALID_ARG));
    CHECK(refused(PATH_UP, "..", TG_ERR_INVALID_ARG));
    CHECK(resolves_to(PATH_UP, "...", "http://127.0.0.1:9000/.../api"));
    CHECK(resolves_to(PATH_UP, ".a", "http://127.0.0.1:9000/.a/api"));
}

static void
test_host_label(void)
{
    char label[80];

    CHECK(resolves_to(HOST_UP, "acme", "http://acme.crm.internal:8443/v1"));
    CHECK(resolves_to(HOST_UP, "Acme-2", "http://Acme-2.crm.internal:8443/v1"));
    CHECK(resolves_to("https://api.{tenant}.example.com", "acme",
                      "https://api.acme.example.com"));
    CHECK(refused(HOST_UP, NULL, TG_ERR_NOT_FOUND));
    /* A dot would add a label, "_" is not a host name character, ":" or "@"
     * would make a port or userinfo of the rest. */
    CHECK(refused(HOST_UP, "evil.com", TG_ERR_INVALID_ARG));
    CHECK(refused(HOST_UP, "a_b", TG_ERR_INVALID_ARG));
    CHECK(refused(HOST_UP, "a:b", TG_ERR_INVALID_ARG));
    CHECK(refused(HOST_UP, "a@b", TG_ERR_INVALID_ARG));
    CHECK(refused(HOST_UP, "..", TG_ERR_INVALID_ARG));
    /* At most 63 characters in a label. */
    memset(label, 'a', 63);
    label[63] = '\0';
    CHECK(resolve(HOST_UP, label, &(enum tg_err){TG_OK}) != NULL);
    label[63] = 'a';
    label[64] = '\0';
    CHECK(refused(HOST_UP, label, TG_ERR_INVALID_ARG));
    /* 64 is fine in a path segment. */
    CHECK(resolve(PATH_UP, label, &(enum tg_err){TG_OK}) != NULL);
}

static void
test_misplaced(void)
{
    char small[20];

    /* What validation refuses fails closed here too. */
    CHECK(refused("http://h/api?t={tenant}", "acme", TG_ERR_CONFIG));
    CHECK(refused("http://h/{tenant}/{tenant}", "acme", TG_ERR_CONFIG));
    CHECK(refused("{tenant}://h/", "acme", TG_ERR_CONFIG));
    CHECK_ERR(tg_gw_upstream_for_tenant(PATH_UP, "acme", small, sizeof(small)),
              TG_ERR_TOO_LARGE);
}

static struct tg_gw_tool *
tool_new(const char *upstream)
{
    static struct tg_gw_tool t;

    memset(&t, 0, sizeof(t));
    t.t.id = (char *)"crm";
    t.t.upstream = (char *)upstream;
    return &t;
}

static void
allow(struct tg_rs_decision *d, const char *tenant, const char *binding)
{
    memset(d, 0, sizeof(*d));
    d->err = TG_OK;
    d->status = 200;
    snprintf(d->id.tenant, sizeof(d->id.tenant), "%s", tenant);
    snprintf(d->id.binding, sizeof(d->id.binding), "%s", binding);
}

static void
test_gate(void)
{
    static struct tg_gateway gw;
    struct tg_rs_decision d;

    memset(&gw, 0, sizeof(gw));
    gw.metadata_base = (char *)"http://127.0.0.1:8080";
    gw.algs = TG_JWS_ALG_BIT(TG_JWS_ES256) | TG_JWS_ALG_BIT(TG_JWS_EDDSA);

    /* A tenant that fits: still allowed. */
    allow(&d, "acme", "bearer");
    tg_gw_tenant_gate(&gw, tool_new(PATH_UP), &d);
    CHECK(d.err == TG_OK && d.status == 200 && d.www_authenticate[0] == '\0');

    /* No tenant: 403 insufficient_scope, Bearer challenge, no scope. */
    allow(&d, "", "bearer");
    tg_gw_tenant_gate(&gw, tool_new(PATH_UP), &d);
    CHECK(d.err == TG_ERR_OAUTH_INSUFFICIENT_SCOPE && d.status == 403);
    CHECK(d.error != NULL && strcmp(d.error, "insufficient_scope") == 0);
    CHECK(d.description != NULL && strstr(d.description, "no tenant") != NULL);
    CHECK(strncmp(d.www_authenticate, "Bearer error=\"insufficient_scope\"", 33) == 0);
    CHECK(strstr(d.www_authenticate, "resource_metadata=\"http://127.0.0.1:8080"
                                     "/.well-known/oauth-protected-resource/tools/crm\"") !=
          NULL);
    CHECK(strstr(d.www_authenticate, "scope=") == NULL);
    CHECK(strstr(d.www_authenticate, "algs=") == NULL);

    /* With a DPoP-bound token: the DPoP scheme and its algs. */
    allow(&d, "", "dpop");
    tg_gw_tenant_gate(&gw, tool_new(HOST_UP), &d);
    CHECK(d.status == 403 && strncmp(d.www_authenticate, "DPoP error=", 11) == 0);
    CHECK(strstr(d.www_authenticate, "algs=\"ES256 EdDSA\"") != NULL);

    /* A tenant that cannot stand in a host label. */
    allow(&d, "evil.com", "mtls");
    tg_gw_tenant_gate(&gw, tool_new(HOST_UP), &d);
    CHECK(d.status == 403 && d.description != NULL &&
          strstr(d.description, "cannot name") != NULL);
    CHECK(strncmp(d.www_authenticate, "Bearer ", 7) == 0);

    /* Not tenant-bound: a token without a tenant is fine. */
    allow(&d, "", "bearer");
    tg_gw_tenant_gate(&gw, tool_new("http://h/api"), &d);
    CHECK(d.err == TG_OK);
    allow(&d, "", "bearer");
    tg_gw_tenant_gate(&gw, tool_new(NULL), &d);
    CHECK(d.err == TG_OK);

    /* A refusal stays that refusal. */
    memset(&d, 0, sizeof(d));
    d.err = TG_ERR_OAUTH_INVALID_REQUEST;
    d.status = 401;
    d.error = "invalid_token";
    tg_gw_tenant_gate(&gw, tool_new(PATH_UP), &d);
    CHECK(d.status == 401 && strcmp(d.error, "invalid_token") == 0);

    /* The tool's own upstream is broken: 502, not the agent's fault. */
    allow(&d, "acme", "bearer");
    tg_gw_tenant_gate(&gw, tool_new("http://h/?q={tenant}"), &d);
    CHECK(d.err != TG_OK && d.status == 502 && strcmp(d.error, "server_error") == 0 &&
          d.www_authenticate[0] == '\0');
}

int
main(void)
{
    RUN(test_bound);
    RUN(test_path_segment);
    RUN(test_host_label);
    RUN(test_misplaced);
    RUN(test_gate);
    return t_report("gateway-tenant");
}
