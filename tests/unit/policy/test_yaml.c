#include "test.h"

#include <stdarg.h>

#include "policy/policy_yaml.h"

/* Append to a buffer (no sprintf/strcpy: the project bans them). */
static void
put(char *buf, size_t cap, size_t *off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off += (size_t)n < cap - *off ? (size_t)n : cap - *off - 1;
}

/* Replace everything from `marker` on with `text`. */
static void
replace_tail(char *doc, size_t cap, const char *marker, const char *text)
{
    char *at = strstr(doc, marker);
    size_t off;

    if (at == NULL)
        return;
    off = (size_t)(at - doc);
    snprintf(at, cap - off, "%s", text);
}

#define EC_X "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"
#define EC_Y "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"

/* Every field of the schema at least once. Line numbers matter below. */
static const char full_doc[] =
    "version: 1\n"                                                   /* 1 */
    "agents:\n"                                                      /* 2 */
    "  - id: billing-bot\n"                                          /* 3 */
    "    type: internal\n"                                           /* 4 */
    "    owner: alice@example.com\n"                                 /* 5 */
    "    auth: client_secret_basic\n"                                /* 6 */
    "    sender_constraint: dpop\n"                                  /* 7 */
    "    max_token_lifetime: 300\n"                                  /* 8 */
    "    status: active\n"                                           /* 9 */
    "  - id: crm-sync\n"                                             /* 10 */
    "    type: tenant\n"                                             /* 11 */
    "    owner: bob@example.com\n"                                   /* 12 */
    "    tenant: demo\n"                                             /* 13 */
    "    auth: private_key_jwt\n"                                    /* 14 */
    "    sender_constraint: any-pop\n"                               /* 15 */
    "    jwks:\n"                                                    /* 16 */
    "      keys:\n"                                                  /* 17 */
    "        - {kty: EC, crv: P-256, x: " EC_X ", y: " EC_Y "}\n"    /* 18 */
    "  - id: researcher\n"                                           /* 19 */
    "    type: browsing\n"                                           /* 20 */
    "    owner: carol@example.com\n"                                 /* 21 */
    "    auth: tls_client_auth\n"                                    /* 22 */
    "    sender_constraint: mtls\n"                                  /* 23 */
    "    tls: {subject_dn: \"CN=researcher,O=Example\"}\n"           /* 24 */
    "  - id: ops-bot\n"                                              /* 25 */
    "    type: internal\n"                                           /* 26 */
    "    owner: ops@example.com\n"                                   /* 27 */
    "    auth: spiffe_x509\n"                                        /* 28 */
    "    spiffe_id: spiffe://example.org/agents/ops\n"               /* 29 */
    "  - id: legacy\n"                                               /* 30 */
    "    type: internal\n"                                           /* 31 */
    "    owner: dave@example.com\n"                                  /* 32 */
    "    auth: self_signed_tls_client_auth\n"                        /* 33 */
    "    cert_x5t: NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs\n"    /* 34 */
    "    sender_constraint: bearer\n"                                /* 35 */
    "    status: disabled\n"                                         /* 36 */
    "  - id: jwt-svid\n"                                             /* 37 */
    "    type: internal\n"                                           /* 38 */
    "    owner: erin@example.com\n"                                  /* 39 */
    "    auth: spiffe_jwt\n"                                         /* 40 */
    "    spiffe_id: spiffe://example.org/agents/jwt\n"               /* 41 */
    "    jwks_unused_line: x\n"                                      /* 42 (removed below) */
    "tools:\n"
    "  - id: demo\n"
    "    resource: http://127.0.0.1:8080/tools/demo\n"
    "    upstream: http://127.0.0.1:9000\n"
    "    kind: http\n"
    "    endpoints:\n"
    "      - {method: GET, path: /items, action: read}\n"
    "      - {method: POST, path: /items, action: write}\n"
    "      - {method: DELETE, path: \"/items/{id}\", action: admin, risk: high}\n"
    "  - id: search\n"
    "    resource: https://search.example.com/\n"
    "    kind: mcp\n"
    "grants:\n"
    "  - agent: billing-bot\n"
    "    tool: demo\n"
    "    actions: [read, write]\n"
    "  - agent: ops-bot\n"
    "    tool: demo\n"
    "    actions: [read, admin]\n"
    "    endpoints: [\"GET /items\", \"DELETE /items/{id}\"]\n"
    "  - agent: crm-sync\n"
    "    tool: search\n"
    "    actions:\n"
    "      - read\n";

/* full_doc without the deliberately unknown key of line 42. */
static char *
full(void)
{
    char *d = strdup(full_doc);
    char *bad = strstr(d, "    jwks_unused_line: x\n");

    memmove(bad, bad + strlen("    jwks_unused_line: x\n"),
            strlen(bad + strlen("    jwks_unused_line: x\n")) + 1);
    return d;
}

static enum tg_err
parse(const char *doc, unsigned flags, struct tg_policy_error *e)
{
    struct tg_policy p;
    enum tg_err rv = tg_policy_parse_yaml(doc, strlen(doc), flags, &p, e);

    /* A failed parse leaves nothing behind. */
    if (rv != TG_OK)
        CHECK(p.agents == NULL && p.n_agents == 0 && p.tools == NULL && p.grants == NULL);
    tg_policy_reset(&p);
    return rv;
}

/* Parse, expect a refusal at `line` whose message holds `needle`. */
#define REFUSED(doc, flags, want_line, needle)                                          \
    do {                                                                                \
        struct tg_policy_error e_;                                                      \
        CHECK_ERR(parse((doc), (flags), &e_), TG_ERR_POLICY_INVALID);                   \
        if (e_.line != (size_t)(want_line) || strstr(e_.message, (needle)) == NULL)     \
            fprintf(stderr, "    got line %zu: %s\n", e_.line, e_.message);             \
        CHECK(e_.line == (size_t)(want_line));                                          \
        CHECK(strstr(e_.message, (needle)) != NULL);                                    \
    } while (0)

static void
test_full_document(void)
{
    struct tg_policy p;
    struct tg_policy_error e;
    char *doc = full();
    const struct tg_agent *a;
    const struct tg_tool *t;

    CHECK_OK(tg_policy_parse_yaml(doc, strlen(doc), TG_POLICY_YAML_SELF_CONTAINED, &p, &e));
    CHECK(p.n_agents == 6 && p.n_tools == 2 && p.n_grants == 3);
    if (p.n_agents == 6 && p.n_tools == 2 && p.n_grants == 3) {
        a = &p.agents[0];
        CHECK(strcmp(a->id, "billing-bot") == 0 && a->type == TG_AGENT_INTERNAL);
        CHECK(strcmp(a->owner, "alice@example.com") == 0 && a->tenant == NULL);
        CHECK(a->auth_method == TG_AUTH_CLIENT_SECRET_BASIC && a->pop == TG_POP_DPOP);
        CHECK(a->max_token_lifetime == 300 && a->status == TG_AGENT_ACTIVE && !a->has_secret);
        CHECK(p.agent_lines[0] == 3 && p.agent_lines[1] == 10);
        a = &p.agents[1];
        CHECK(a->type == TG_AGENT_TENANT && strcmp(a->tenant, "demo") == 0);
        CHECK(a->auth_method == TG_AUTH_PRIVATE_KEY_JWT && a->pop == TG_POP_ANY);
        /* The inline JWKS becomes compact JSON with sorted members. */
        CHECK(a->jwks != NULL &&
              strcmp(a->jwks, "{\"keys\":[{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" EC_X
                              "\",\"y\":\"" EC_Y "\"}]}") == 0);
        a = &p.agents[2];
        CHECK(a->type == TG_AGENT_BROWSING && a->pop == TG_POP_MTLS);
        CHECK(strcmp(a->tls_subject_dn, "CN=researcher,O=Example") == 0);
        CHECK(a->tls_san_dns == NULL && a->tls_san_uri == NULL);
        a = &p.agents[3];
        CHECK(a->auth_method == TG_AUTH_SPIFFE_X509 && a->pop == TG_POP_DPOP);
        CHECK(strcmp(a->spiffe_id, "spiffe://example.org/agents/ops") == 0);
        a = &p.agents[4];
        CHECK(a->auth_method == TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH && a->pop == TG_POP_BEARER);
        CHECK(a->status == TG_AGENT_DISABLED && a->cert_x5t != NULL);
        /* Only the record that names its status says so (apply keeps an
         * existing agent's own status otherwise). */
        CHECK(p.agent_status_given != NULL && p.agent_status_given[4] == 1 &&
              p.agent_status_given[0] == 1 && p.agent_status_given[1] == 0 &&
              p.agent_status_given[3] == 0);
        CHECK(p.agents[5].auth_method == TG_AUTH_SPIFFE_JWT);
        t = &p.tools[0];
        CHECK(strcmp(t->id, "demo") == 0 && strcmp(t->kind, "http") == 0);
        CHECK(strcmp(t->resource, "http://127.0.0.1:8080/tools/demo") == 0);
        CHECK(strcmp(t->upstream, "http://127.0.0.1:9000") == 0);
        CHECK(t->n_endpoints == 3);
        CHECK(strcmp(t->endpoints[2].method, "DELETE") == 0);
        CHECK(strcmp(t->endpoints[2].path, "/items/{id}") == 0);
        CHECK(t->endpoints[2].action == TG_ACTION_ADMIN && t->endpoints[2].risk == TG_RISK_HIGH);
        CHECK(t->endpoints[0].risk == TG_RISK_NORMAL && t->endpoints[1].action == TG_ACTION_WRITE);
        t = &p.tools[1];
        CHECK(strcmp(t->kind, "mcp") == 0 && t->upstream == NULL && t->n_endpoints == 0);
        CHECK(p.grants[0].actions ==
              (TG_ACTION_BIT(TG_ACTION_READ) | TG_ACTION_BIT(TG_ACTION_WRITE)));
        CHECK(p.grants[0].n_endpoints == 0);
        CHECK(p.grants[1].n_endpoints == 2 &&
              strcmp(p.grants[1].endpoints[1], "DELETE /items/{id}") == 0);
        CHECK(p.grants[2].actions == TG_ACTION_BIT(TG_ACTION_READ));
    }
    tg_policy_reset(&p);
    tg_policy_reset(&p);
    free(doc);
}

/* The example in docs/policy.md parses and is self-contained. */
static void
test_docs_example(void)
{
    size_t len = 0;
    char *md = t_read_source_file("docs/policy.md", &len);
    char *start, *end;

    CHECK(md != NULL);
    if (md == NULL)
        return;
    start = strstr(md, "```yaml\n");
    CHECK(start != NULL);
    if (start != NULL) {
        start += strlen("```yaml\n");
        end = strstr(start, "```");
        CHECK(end != NULL);
        if (end != NULL) {
            *end = '\0';
            CHECK_OK(parse(start, TG_POLICY_YAML_SELF_CONTAINED, NULL));
        }
    }
    free(md);
}

static void
test_unknown_keys(void)
{
    char *doc = strdup(full_doc);

    REFUSED(doc, 0, 42, "unknown key \"jwks_unused_line\"");
    CHECK(strstr(tg_err_detail(), "line 42") != NULL);
    free(doc);
    REFUSED("version: 1\nagent: []\n", 0, 2, "unknown key \"agent\"");
    REFUSED("version: 1\ntools:\n  - id: t\n    resource: http://x/\n"
            "    endpoints:\n      - {method: GET, path: /, action: read, weight: 2}\n",
            0, 6, "unknown key \"weight\"");
    REFUSED("version: 1\nagents:\n  - id: a\n    type: internal\n    owner: o\n"
            "    auth: tls_client_auth\n    tls: {subject: CN=x}\n",
            0, 7, "unknown key \"subject\"");
    REFUSED("version: 1\ngrants:\n  - {agent: a, tool: t, actions: [read], note: x}\n", 0, 3,
            "unknown key \"note\"");
}

static void
test_secrets_refused(void)
{
    REFUSED("version: 1\n"
            "agents:\n"
            "  - id: a\n"
            "    type: internal\n"
            "    owner: o\n"
            "    auth: client_secret_basic\n"
            "    client_secret: hunter2\n",
            0, 7, "secrets never go in a policy file");
    /* The value is never echoed. */
    CHECK(strstr(tg_err_detail(), "hunter2") == NULL);
    REFUSED("version: 1\nsecret: x\n", 0, 2, "secrets never go");
    REFUSED("version: 1\ntools:\n  - {id: t, resource: http://x/, api_key: k}\n", 0, 3,
            "secrets never go");
    /* A private key in an inline JWKS. */
    REFUSED("version: 1\n"
            "agents:\n"
            "  - id: a\n"
            "    type: internal\n"
            "    owner: o\n"
            "    auth: private_key_jwt\n"
            "    jwks: {keys: [{kty: OKP, crv: Ed25519, "
            "d: nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A, "
            "x: 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo}]}\n",
            0, 3, "private key material");
}

static void
test_duplicates(void)
{
    REFUSED("version: 1\nversion: 1\n", 0, 2, "appears twice");
    REFUSED("version: 1\n"
            "agents:\n"
            "  - {id: a, type: internal, owner: o, auth: client_secret_basic}\n"
            "  - {id: b, type: internal, owner: o, auth: client_secret_basic}\n"
            "  - {id: a, type: internal, owner: p, auth: client_secret_post}\n",
            0, 5, "agent \"a\" is defined twice (first at line 3)");
    REFUSED("version: 1\n"
            "tools:\n"
            "  - {id: t, resource: http://x/t}\n"
            "  - {id: t, resource: http://x/u}\n",
            0, 4, "tool \"t\" is defined twice");
    REFUSED("version: 1\n"
            "tools:\n"
            "  - {id: t, resource: http://x/t}\n"
            "  - {id: u, resource: http://x/t}\n",
            0, 4, "has the resource of tool \"t\"");
    REFUSED("version: 1\n"
            "grants:\n"
            "  - {agent: a, tool: t, actions: [read]}\n"
            "  - {agent: a, tool: t, actions: [write]}\n",
            0, 4, "second grant");
    REFUSED("version: 1\ngrants:\n  - {agent: a, tool: t, actions: [read, read]}\n", 0, 3,
            "listed twice");
    REFUSED("version: 1\ngrants:\n  - {agent: a, tool: t, actions: [read], "
            "endpoints: [\"GET /\", \"GET /\"]}\n",
            0, 3, "listed twice");
    REFUSED("version: 1\nagents:\n  - {id: a, id: b}\n", 0, 3, "key \"id\" appears twice");
}

static const char refs_doc[] =
    "version: 1\n"
    "agents:\n"
    "  - {id: a, type: internal, owner: o, auth: client_secret_basic}\n"
    "tools:\n"
    "  - id: t\n"
    "    resource: http://x/t\n"
    "    endpoints:\n"
    "      - {method: GET, path: /items, action: read}\n"
    "      - {method: DELETE, path: \"/items/{id}\", action: admin, risk: high}\n"
    "grants:\n"
    "  - {agent: a, tool: t, actions: [read]}\n"
    "  - {agent: ghost, tool: t, actions: [read]}\n";

static void
test_references(void)
{
    struct tg_policy p;
    struct tg_policy_error e;
    struct tg_agent ghost = {0};
    struct tg_tool other = {0};

    /* Without the flag, references are left to tg_policy_check. */
    CHECK_OK(parse(refs_doc, 0, NULL));
    REFUSED(refs_doc, TG_POLICY_YAML_SELF_CONTAINED, 12, "unknown agent \"ghost\"");
    CHECK_OK(tg_policy_parse_yaml(refs_doc, strlen(refs_doc), 0, &p, &e));
    CHECK_ERR(tg_policy_check(&p, NULL, 0, NULL, 0, &e), TG_ERR_POLICY_INVALID);
    CHECK(e.line == 12);
    ghost.id = "ghost";
    CHECK_OK(tg_policy_check(&p, &ghost, 1, NULL, 0, &e));
    /* A known tool with this document's resource but another id collides. */
    other.id = "other";
    other.resource = "http://x/t";
    CHECK_ERR(tg_policy_check(&p, &ghost, 1, &other, 1, &e), TG_ERR_POLICY_INVALID);
    CHECK(e.line == 5 && strstr(e.message, "existing tool \"other\"") != NULL);
    /* ...but not when the document replaces that tool. */
    other.id = "t";
    CHECK_OK(tg_policy_check(&p, &ghost, 1, &other, 1, &e));
    tg_policy_reset(&p);

    REFUSED("version: 1\n"
            "agents:\n"
            "  - {id: a, type: internal, owner: o, auth: client_secret_basic}\n"
            "grants:\n"
            "  - {agent: a, tool: nope, actions: [read]}\n",
            TG_POLICY_YAML_SELF_CONTAINED, 5, "unknown tool \"nope\"");
}

static void
test_grant_endpoints_checked(void)
{
    char doc[2048];

    snprintf(doc, sizeof(doc),
             "%s  - {agent: a, tool: t, actions: [read], endpoints: [\"GET /x\"]}\n",
             "version: 1\n"
             "agents:\n"
             "  - {id: a, type: internal, owner: o, auth: client_secret_basic}\n"
             "tools:\n"
             "  - id: t\n"
             "    resource: http://x/t\n"
             "    endpoints:\n"
             "      - {method: GET, path: /items, action: read}\n"
             "      - {method: DELETE, path: \"/items/{id}\", action: admin, risk: high}\n"
             "grants:\n");
    REFUSED(doc, TG_POLICY_YAML_SELF_CONTAINED, 11, "not an endpoint of tool \"t\"");
    /* Named endpoints restrict the grant: its actions must be theirs. */
    replace_tail(doc, sizeof(doc), "  - {agent: a",
                 "  - {agent: a, tool: t, actions: [read, write], endpoints: [\"GET /items\"]}\n");
    REFUSED(doc, TG_POLICY_YAML_SELF_CONTAINED, 11, "actions must be exactly");
    replace_tail(doc, sizeof(doc), "  - {agent: a",
                 "  - {agent: a, tool: t, actions: [read], endpoints: [\"DELETE /items/{id}\"]}\n");
    REFUSED(doc, TG_POLICY_YAML_SELF_CONTAINED, 11, "actions must be exactly");
    replace_tail(doc, sizeof(doc), "  - {agent: a",
                 "  - {agent: a, tool: t, actions: [admin], "
                 "endpoints: [\"DELETE /items/{id}\"]}\n");
    CHECK_OK(parse(doc, TG_POLICY_YAML_SELF_CONTAINED, NULL));
    replace_tail(doc, sizeof(doc), "  - {agent: a",
                 "  - {agent: a, tool: t, actions: [read], endpoints: []}\n");
    REFUSED(doc, 0, 11, "non-empty list");
    replace_tail(doc, sizeof(doc), "  - {agent: a",
                 "  - {agent: a, tool: t, actions: []}\n");
    REFUSED(doc, 0, 11, "actions");
    replace_tail(doc, sizeof(doc), "  - {agent: a",
                 "  - {agent: a, tool: t, actions: [read], endpoints: [\"get /items\"]}\n");
    REFUSED(doc, 0, 11, "METHOD /path");
}

/* introspect: plain true or false; absent is false. */
static void
test_introspect_key(void)
{
    static const char doc[] =
        "version: 1\nagents:\n"
        "  - {id: rs, type: internal, owner: o, auth: client_secret_basic, introspect: true}\n"
        "  - {id: b, type: internal, owner: o, auth: client_secret_basic, introspect: false}\n"
        "  - {id: c, type: internal, owner: o, auth: client_secret_basic}\n";
    struct tg_policy p;
    struct tg_policy_error e;

    CHECK_OK(tg_policy_parse_yaml(doc, strlen(doc), TG_POLICY_YAML_SELF_CONTAINED, &p, &e));
    CHECK(p.n_agents == 3);
    if (p.n_agents == 3)
        CHECK(p.agents[0].introspect == 1 && p.agents[1].introspect == 0 &&
              p.agents[2].introspect == 0);
    tg_policy_reset(&p);
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, "
            "auth: client_secret_basic, introspect: yes}\n",
            0, 3, "introspect: expected true or false");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, "
            "auth: client_secret_basic, introspect: \"true\"}\n",
            0, 3, "introspect: expected true or false");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, "
            "auth: client_secret_basic, introspect: [true]}\n",
            0, 3, "introspect: expected true or false");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, "
            "auth: client_secret_basic, introspect: 1}\n",
            0, 3, "introspect: expected true or false");
}

static void
test_record_validation(void)
{
    /* Each record goes through its _validate; the message names the field. */
    REFUSED("version: 1\nagents:\n  - {id: a, type: tenant, owner: o, auth: client_secret_basic}\n",
            0, 3, "tenant: required");
    REFUSED("version: 1\nagents:\n  - {id: a, type: browsing, owner: o, "
            "auth: client_secret_basic, sender_constraint: bearer}\n",
            0, 3, "bearer");
    REFUSED("version: 1\nagents:\n  - {id: \"a b\", type: internal, owner: o, "
            "auth: client_secret_basic}\n",
            0, 3, "id:");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, auth: tls_client_auth}\n",
            0, 3, "exactly one");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, auth: spiffe_jwt, "
            "spiffe_id: \"spiffe://x/\"}\n",
            0, 3, "spiffe_id");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, auth: private_key_jwt}\n",
            0, 3, "needs jwks");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, "
            "auth: client_secret_basic, jwks: {keys: []}}\n",
            0, 3, "jwks");
    REFUSED("version: 1\nagents:\n  - {id: a, type: robot, owner: o, auth: client_secret_basic}\n",
            0, 3, "type: expected one of internal, tenant, browsing");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, auth: password}\n", 0, 3,
            "auth: expected one of");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, auth: client_secret_basic,"
            " sender_constraint: none}\n",
            0, 3, "sender_constraint");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, auth: client_secret_basic,"
            " status: paused}\n",
            0, 3, "status");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, auth: client_secret_basic,"
            " max_token_lifetime: -5}\n",
            0, 3, "max_token_lifetime");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, auth: client_secret_basic,"
            " max_token_lifetime: 86401}\n",
            0, 3, "max_token_lifetime");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: o, auth: client_secret_basic,"
            " max_token_lifetime: \"300\"}\n",
            0, 3, "max_token_lifetime");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, auth: client_secret_basic}\n", 0, 3,
            "\"owner\" is required");
    REFUSED("version: 1\nagents:\n"
            "  - {id: a, type: internal, owner: ~, auth: client_secret_basic}\n",
            0, 3, "owner: empty");
    REFUSED("version: 1\nagents:\n  - {id: a, type: internal, owner: [o], "
            "auth: client_secret_basic}\n",
            0, 3, "owner: expected a string");
    REFUSED("version: 1\ntools:\n  - {id: t, resource: /relative}\n", 0, 3, "resource:");
    REFUSED("version: 1\ntools:\n  - {id: t, resource: \"http://x/t#f\"}\n", 0, 3, "resource:");
    REFUSED("version: 1\ntools:\n  - {id: t}\n", 0, 3, "\"resource\" are required");
    REFUSED("version: 1\ntools:\n  - {id: t, resource: http://x/, kind: grpc}\n", 0, 3, "kind");
    REFUSED("version: 1\ntools:\n  - id: t\n    resource: http://x/\n    endpoints:\n"
            "      - {method: get, path: /items, action: read}\n",
            0, 3, "method");
    REFUSED("version: 1\ntools:\n  - id: t\n    resource: http://x/\n    endpoints:\n"
            "      - {method: GET, path: items, action: read}\n",
            0, 3, "path");
    REFUSED("version: 1\ntools:\n  - id: t\n    resource: http://x/\n    endpoints:\n"
            "      - {method: GET, path: /items}\n",
            0, 6, "method, path and action are required");
    REFUSED("version: 1\ntools:\n  - id: t\n    resource: http://x/\n    endpoints:\n"
            "      - {method: GET, path: /items, action: read, risk: extreme}\n",
            0, 6, "risk");
    REFUSED("version: 1\ngrants:\n  - {agent: a, tool: t}\n", 0, 3, "\"actions\" are required");
    REFUSED("version: 1\ngrants:\n  - {agent: a, tool: t, actions: [delete]}\n", 0, 3,
            "actions: expected one of");
}

static void
test_document_shape(void)
{
    REFUSED("", 0, 1, "empty policy");
    REFUSED("# nothing\n", 0, 1, "empty policy");
    REFUSED("- version: 1\n", 0, 1, "expected a mapping");
    REFUSED("agents: []\n", 0, 1, "\"version: 1\" is required");
    REFUSED("version: 2\n", 0, 1, "only version 1");
    REFUSED("version: \"1\"\n", 0, 1, "version");
    REFUSED("version: 1\nagents: {id: a}\n", 0, 2, "agents: expected a list");
    REFUSED("version: 1\nagents:\n  - just-a-name\n", 0, 3, "agent: expected a mapping");
    REFUSED("version: 1\n? [a, b]\n: c\n", 0, 2, "mapping key");
    REFUSED("version: 1\n---\nversion: 1\n", 0, 2, "only one document");
    REFUSED("version: 1\nagents: [\n", 0, 3, "YAML syntax");
    REFUSED("version: 1\n  bad: indent\n", 0, 2, "YAML syntax");
    REFUSED("version: !!int 1\n", 0, 1, "tags");
    REFUSED("version: 1\nagents:\n  - {id: \"a\\0b\", type: internal}\n", 0, 3, "NUL");
    {
        struct tg_policy p;
        struct tg_policy_error e;

        CHECK_ERR(tg_policy_parse_yaml(NULL, 0, 0, &p, &e), TG_ERR_POLICY_INVALID);
        CHECK(e.line == 1 && strstr(e.message, "empty policy") != NULL);
        CHECK_ERR(tg_policy_parse_yaml(NULL, 5, 0, &p, NULL), TG_ERR_POLICY_INVALID);
    }
    /* An empty list, or none, is fine. */
    CHECK_OK(parse("version: 1\nagents:\ntools: []\ngrants: ~\n", 0, NULL));
    CHECK_OK(parse("version: 1\n", 0, NULL));
}

static void
test_billion_laughs(void)
{
    static const char lol[] = "version: 1\n"
                              "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
                              "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                              "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                              "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                              "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                              "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                              "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";

    REFUSED(lol, 0, 2, "anchors");
    /* An alias is refused on its own too, even inside an allowed place. */
    REFUSED("version: 1\nagents:\n  - *x\n", 0, 3, "aliases");
    REFUSED("version: 1\nagents: &list []\n", 0, 2, "anchors");
    REFUSED("version: 1\nagents:\n  - &one {id: a}\n", 0, 3, "anchors");
}

static void
test_caps(void)
{
    size_t n = TG_POLICY_YAML_MAX_BYTES + 1, i, off;
    char *big = malloc(n + 1);

    /* Size: refused before parsing, whatever the content. */
    memset(big, ' ', n);
    memcpy(big, "version: 1\n#", 12);
    big[n] = '\0';
    REFUSED(big, 0, 0, "larger than");
    big[n - 1] = '\0'; /* exactly the cap is parsed */
    CHECK_OK(parse(big, 0, NULL));
    free(big);

    /* Nodes: a flat list of many tiny scalars. */
    n = 2 * (TG_POLICY_YAML_MAX_NODES + 10) + 64;
    big = malloc(n);
    off = (size_t)snprintf(big, n, "version: 1\nx: [");
    for (i = 0; i < TG_POLICY_YAML_MAX_NODES + 5; i++) {
        big[off++] = '1';
        big[off++] = ',';
    }
    memcpy(big + off, "1]\n", 4);
    REFUSED(big, 0, 2, "too many nodes");
    free(big);

    /* Depth. */
    big = malloc(4096);
    off = (size_t)snprintf(big, 4096, "version: 1\nx: ");
    for (i = 0; i < 100; i++)
        big[off++] = '[';
    for (i = 0; i < 100; i++)
        big[off++] = ']';
    memcpy(big + off, "\n", 2);
    REFUSED(big, 0, 2, "nests too deep");
    free(big);

    /* Counts: one agent too many. */
    n = 80 * (TG_POLICY_MAX_AGENTS + 2) + 64;
    big = malloc(n);
    off = 0;
    put(big, n, &off, "version: 1\nagents:\n");
    for (i = 0; i <= TG_POLICY_MAX_AGENTS; i++)
        put(big, n, &off, "  - {id: a%zu, type: internal, owner: o, auth: client_secret_basic}\n",
            i);
    REFUSED(big, 0, 3, "more than 4096 entries");
    /* Exactly the cap is fine. */
    *strrchr(big, '\n') = '\0';
    *(strrchr(big, '\n') + 1) = '\0';
    CHECK_OK(parse(big, 0, NULL));
    free(big);

    /* Endpoints per tool. */
    n = 64 * (TG_POLICY_MAX_ENDPOINTS + 2) + 128;
    big = malloc(n);
    off = 0;
    put(big, n, &off, "version: 1\ntools:\n  - id: t\n    resource: http://x/\n    endpoints:\n");
    for (i = 0; i <= TG_POLICY_MAX_ENDPOINTS; i++)
        put(big, n, &off, "      - {method: GET, path: /e%zu, action: read}\n", i);
    REFUSED(big, 0, 6, "more than 256 entries");
    free(big);
}

/* The largest documents the caps allow are still checked quickly: a
 * self-contained one with every grant, and a duplicate at its very end. */
static void
test_large_document(void)
{
    size_t n = 1024 * 1024, off = 0, i, line, first_grant_line;
    char *big = malloc(n);
    struct tg_policy p;
    struct tg_policy_error e;

    put(big, n, &off, "version: 1\nagents:\n");
    for (i = 0; i < 1024; i++)
        put(big, n, &off, "  - {id: a%zu, type: internal, owner: o, auth: client_secret_basic}\n",
            i);
    put(big, n, &off, "tools:\n");
    for (i = 0; i < 16; i++)
        put(big, n, &off, "  - {id: t%zu, resource: \"http://x/t%zu\"}\n", i, i);
    put(big, n, &off, "grants:\n");
    line = 1 + 1 + 1024 + 1 + 16 + 1;
    first_grant_line = line + 1;
    for (i = 0; i < TG_POLICY_MAX_GRANTS; i++) {
        put(big, n, &off, "  - {agent: a%zu, tool: t%zu, actions: [read]}\n", i / 16, i % 16);
        line++;
    }
    CHECK(off < n - 1);
    CHECK_OK(tg_policy_parse_yaml(big, off, TG_POLICY_YAML_SELF_CONTAINED, &p, &e));
    CHECK(p.n_grants == TG_POLICY_MAX_GRANTS && p.n_agents == 1024);
    tg_policy_reset(&p);
    /* The last grant becomes a copy of the first. */
    off = (size_t)(strrchr(big, '{') - big);
    put(big, n, &off, "{agent: a0, tool: t0, actions: [write]}\n");
    CHECK_ERR(tg_policy_parse_yaml(big, off, TG_POLICY_YAML_SELF_CONTAINED, &p, &e),
              TG_ERR_POLICY_INVALID);
    CHECK(e.line == line);
    CHECK(strstr(e.message, "second grant") != NULL);
    CHECK(e.line == line && strstr(e.message, "first at line") != NULL);
    {
        char want[32];

        snprintf(want, sizeof(want), "line %zu", first_grant_line);
        CHECK(strstr(e.message, want) != NULL);
    }
    free(big);
}

int
main(void)
{
    RUN(test_full_document);
    RUN(test_docs_example);
    RUN(test_unknown_keys);
    RUN(test_secrets_refused);
    RUN(test_duplicates);
    RUN(test_references);
    RUN(test_grant_endpoints_checked);
    RUN(test_record_validation);
    RUN(test_introspect_key);
    RUN(test_document_shape);
    RUN(test_billion_laughs);
    RUN(test_caps);
    RUN(test_large_document);
    return t_report("policy/yaml");
}
