#include "test.h"

#include "policy/authz.h"
#include "policy/policy_yaml.h"

#define DEMO "http://127.0.0.1:8080/tools/demo"
#define CRM "https://crm.example.com/api"
#define SEARCH "https://search.example.com/"
#define HIDDEN "https://hidden.example.com/"
#define WIKI "https://wiki.example.com/"

static const char fixture[] =
    "version: 1\n"
    "agents:\n"
    "  - {id: bot, type: internal, owner: o, auth: client_secret_basic, "
    "sender_constraint: bearer}\n"
    "  - {id: ops, type: internal, owner: o, auth: client_secret_basic, "
    "sender_constraint: bearer}\n"
    "  - {id: exporter, type: internal, owner: o, auth: client_secret_basic, "
    "sender_constraint: bearer}\n"
    "  - {id: pop-bot, type: internal, owner: o, auth: client_secret_basic}\n"
    "  - {id: off, type: internal, owner: o, auth: client_secret_basic, sender_constraint: bearer,"
    " status: disabled}\n"
    "tools:\n"
    "  - id: demo\n"
    "    resource: " DEMO "\n"
    "    endpoints:\n"
    "      - {method: GET, path: /items, action: read}\n"
    "      - {method: GET, path: \"/items/{id}\", action: read}\n"
    "      - {method: POST, path: /items, action: write}\n"
    "      - {method: DELETE, path: \"/items/{id}\", action: admin, risk: high}\n"
    "  - id: crm\n"
    "    resource: " CRM "\n"
    "    endpoints:\n"
    "      - {method: GET, path: /contacts, action: read}\n"
    "      - {method: PUT, path: \"/contacts/{id}\", action: write}\n"
    "      - {method: POST, path: /export, action: admin, risk: high}\n"
    "      - {method: DELETE, path: \"/contacts/{id}\", action: admin}\n"
    "  - {id: \"ns:search\", resource: \"" SEARCH "\", kind: mcp}\n"
    "  - id: wiki\n"
    "    resource: " WIKI "\n"
    "    endpoints:\n"
    "      - {method: GET, path: \"/pages/{id}\", action: read}\n"
    "      - {method: PUT, path: \"/pages/{id}\", action: write}\n"
    "      - {method: DELETE, path: \"/pages/{id}\", action: admin}\n"
    "  - id: hidden\n"
    "    resource: \"" HIDDEN "\"\n"
    "    endpoints: [{method: GET, path: /, action: read}]\n"
    "grants:\n"
    "  - {agent: bot, tool: demo, actions: [read, write]}\n"
    "  - {agent: bot, tool: crm, actions: [read, admin], "
    "endpoints: [\"GET /contacts\", \"POST /export\"]}\n"
    "  - {agent: bot, tool: \"ns:search\", actions: [read, write]}\n"
    "  - {agent: bot, tool: wiki, actions: [read]}\n"
    "  - {agent: ops, tool: demo, actions: [admin]}\n"
    "  - {agent: exporter, tool: crm, actions: [admin], endpoints: [\"POST /export\"]}\n"
    "  - {agent: off, tool: demo, actions: [read]}\n";

static struct tg_policy pol;

static const struct tg_agent *
agent(const char *id)
{
    size_t i;

    for (i = 0; i < pol.n_agents; i++)
        if (strcmp(pol.agents[i].id, id) == 0)
            return &pol.agents[i];
    return NULL;
}

static struct tg_slice
opt(const char *s)
{
    return s != NULL ? tg_slice(s, strlen(s)) : tg_slice(NULL, 0);
}

static enum tg_err
parse(const char *scope, const char *ad, const char *const *res, struct tg_authz_request *req,
      const char **why)
{
    struct tg_slice rs[32];
    size_t n = 0;

    while (res != NULL && res[n] != NULL && n < 32) {
        rs[n] = opt(res[n]);
        n++;
    }
    return tg_authz_request_parse(opt(scope), opt(ad), rs, n, req, why);
}

/* Parse and decide. The result stays in `out` on success. */
static enum tg_err
decide(const char *agent_id, const char *scope, const char *ad, const char *const *res, int sc,
       struct tg_authz_result *out, const char **why)
{
    struct tg_authz_request req;
    struct tg_authz_context ctx = {agent(agent_id), pol.grants, pol.n_grants, pol.tools,
                                   pol.n_tools, sc};
    enum tg_err rv;

    memset(out, 0, sizeof(*out));
    rv = parse(scope, ad, res, &req, why);
    if (rv != TG_OK)
        return rv;
    rv = tg_authz_decide(&ctx, &req, out, why);
    tg_authz_request_reset(&req);
    return rv;
}

/* Decide and throw the result away. */
static enum tg_err
outcome(const char *agent_id, const char *scope, const char *ad, const char *const *res, int sc,
        const char **why)
{
    struct tg_authz_result r;
    const char *w = NULL;
    enum tg_err rv = decide(agent_id, scope, ad, res, sc, &r, why != NULL ? why : &w);

    if (rv != TG_OK)
        CHECK(r.details == NULL && r.scope == NULL && r.authorization_details == NULL);
    tg_authz_result_reset(&r);
    return rv;
}

static char *
json(const json_t *j)
{
    return j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
}

/* The result's authorization_details as compact JSON equals `want`. */
static int
details_are(const struct tg_authz_result *r, const char *want)
{
    char *got = json(r->authorization_details);
    int ok = got != NULL && strcmp(got, want) == 0;

    if (!ok)
        fprintf(stderr, "    got  %s\n    want %s\n", got ? got : "(null)", want);
    free(got);
    return ok;
}

static int
scope_is(const struct tg_authz_result *r, const char *want)
{
    int ok = r->scope != NULL && strcmp(r->scope, want) == 0;

    if (!ok)
        fprintf(stderr, "    scope got \"%s\" want \"%s\"\n", r->scope ? r->scope : "(null)",
                want);
    return ok;
}

#define SCOPE_ERR TG_ERR_OAUTH_INVALID_SCOPE
#define AD_ERR TG_ERR_OAUTH_INVALID_AUTHZ_DETAILS
#define TARGET_ERR TG_ERR_OAUTH_INVALID_TARGET

static enum tg_err
parse_only(const char *scope, const char *ad, const char *const *res)
{
    struct tg_authz_request req;
    const char *why = NULL;
    enum tg_err rv = parse(scope, ad, res, &req, &why);

    if (rv != TG_OK)
        CHECK(why != NULL && req.details == NULL && req.resources == NULL);
    tg_authz_request_reset(&req);
    return rv;
}

static void
test_parse_scope(void)
{
    struct tg_authz_request req;
    char big[TG_AUTHZ_MAX_SCOPE + 2];
    size_t i;

    CHECK_OK(parse("demo:read crm:admin ns:search:write", NULL, NULL, &req, NULL));
    CHECK(req.n_details == 3);
    if (req.n_details == 3) {
        CHECK(strcmp(req.details[0].tool, "demo") == 0);
        CHECK(req.details[0].actions == TG_ACTION_BIT(TG_ACTION_READ));
        CHECK(req.details[0].origin == TG_AUTHZ_FROM_SCOPE);
        CHECK(req.details[1].actions == TG_ACTION_BIT(TG_ACTION_ADMIN));
        /* The action follows the last colon. */
        CHECK(strcmp(req.details[2].tool, "ns:search") == 0);
        CHECK(req.details[2].actions == TG_ACTION_BIT(TG_ACTION_WRITE));
        CHECK(req.details[2].endpoints == NULL && req.details[2].locations == NULL);
    }
    tg_authz_request_reset(&req);
    tg_authz_request_reset(&req);
    /* Empty is absent (RFC 6749 §3.1). */
    CHECK_OK(parse("", "", NULL, &req, NULL));
    CHECK(req.n_details == 0);
    tg_authz_request_reset(&req);

    CHECK_ERR(parse_only("openid", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("demo", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("demo:", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only(":read", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("demo:delete", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("demo:READ", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("demo:read  crm:read", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only(" demo:read", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("demo:read ", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("demo:read\tcrm:read", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("de/mo:read", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("demo:\"read", NULL, NULL), SCOPE_ERR);
    CHECK_ERR(parse_only("d\xc3\xa9mo:read", NULL, NULL), SCOPE_ERR);
    memset(big, 'a', sizeof(big));
    memcpy(big, "demo:read ", 10);
    big[sizeof(big) - 1] = '\0';
    CHECK_ERR(parse_only(big, NULL, NULL), SCOPE_ERR);
    /* Too many tokens, each valid. */
    big[0] = '\0';
    for (i = 0; i <= TG_AUTHZ_MAX_DETAILS; i++)
        strncat(big, i ? " t:read" : "t:read", sizeof(big) - strlen(big) - 1);
    CHECK_ERR(parse_only(big, NULL, NULL), SCOPE_ERR);
}

/* RFC 9396 §5: unknown type, unknown member, wrong type, bad value, missing
 * member: invalid_authorization_details. */
static void
test_parse_authorization_details(void)
{
    struct tg_authz_request req;
    char *big;
    size_t i, off;

    CHECK_OK(parse(NULL,
                   "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"read\",\"admin\",\"read\"],"
                   "\"endpoints\":[\"GET /contacts\",\"POST /export\",\"GET /contacts\"],"
                   "\"locations\":[\"" CRM "\"]}]",
                   NULL, &req, NULL));
    CHECK(req.n_details == 1);
    if (req.n_details == 1) {
        CHECK(req.details[0].origin == TG_AUTHZ_FROM_DETAILS);
        CHECK(req.details[0].actions ==
              (TG_ACTION_BIT(TG_ACTION_READ) | TG_ACTION_BIT(TG_ACTION_ADMIN)));
        CHECK(req.details[0].n_endpoints == 2); /* deduplicated */
        CHECK(req.details[0].n_locations == 1 && strcmp(req.details[0].locations[0], CRM) == 0);
    }
    tg_authz_request_reset(&req);

    CHECK_ERR(parse_only(NULL, "not json", NULL), AD_ERR);
    CHECK_ERR(parse_only(NULL, "{\"type\":\"tool\"}", NULL), AD_ERR);
    CHECK_ERR(parse_only(NULL, "[]", NULL), AD_ERR);
    CHECK_ERR(parse_only(NULL, "[\"tool\"]", NULL), AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"tool\":\"demo\",\"actions\":[\"read\"]}]", NULL), AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":7,\"tool\":\"demo\",\"actions\":[\"read\"]}]", NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":\"payment_initiation\",\"actions\":[\"initiate\"]}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                         "\"datatypes\":[\"x\"]}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                         "\"identifier\":\"x\"}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":\"tool\",\"actions\":[\"read\"]}]", NULL), AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":\"tool\",\"tool\":5,\"actions\":[\"read\"]}]", NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":\"tool\",\"tool\":\"a b\",\"actions\":[\"read\"]}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":\"tool\",\"tool\":\"demo\"}]", NULL), AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[]}]", NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":\"read\"}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"delete\"]}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[1]}]", NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                         "\"endpoints\":[]}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                         "\"endpoints\":\"GET /items\"}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                         "\"endpoints\":[\"GET  /items\"]}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                         "\"endpoints\":[\"/items\"]}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                         "\"locations\":[\"/tools/demo\"]}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                         "\"locations\":[\"" DEMO "#x\"]}]",
                         NULL),
              AD_ERR);
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                         "\"locations\":[]}]",
                         NULL),
              AD_ERR);
    /* Duplicate member names are ambiguous: refused. */
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"demo\",\"tool\":\"crm\","
                         "\"actions\":[\"read\"]}]",
                         NULL),
              AD_ERR);
    /* A NUL inside a string. */
    CHECK_ERR(parse_only(NULL,
                         "[{\"type\":\"tool\",\"tool\":\"de\\u0000mo\",\"actions\":[\"read\"]}]",
                         NULL),
              AD_ERR);
    /* Too many details. */
    big = malloc(64 * (TG_AUTHZ_MAX_DETAILS + 2));
    off = 0;
    big[off++] = '[';
    for (i = 0; i <= TG_AUTHZ_MAX_DETAILS; i++) {
        static const char one[] = "{\"type\":\"tool\",\"tool\":\"t\",\"actions\":[\"read\"]},";

        memcpy(big + off, one, sizeof(one) - 1);
        off += sizeof(one) - 1;
    }
    big[off - 1] = ']';
    big[off] = '\0';
    CHECK_ERR(parse_only(NULL, big, NULL), AD_ERR);
    free(big);
    /* Too large. */
    big = malloc(TG_AUTHZ_MAX_DETAILS_JSON + 8);
    memset(big, ' ', TG_AUTHZ_MAX_DETAILS_JSON + 7);
    big[0] = '[';
    big[TG_AUTHZ_MAX_DETAILS_JSON + 6] = ']';
    big[TG_AUTHZ_MAX_DETAILS_JSON + 7] = '\0';
    CHECK_ERR(parse_only(NULL, big, NULL), AD_ERR);
    free(big);
    /* Scope and authorization_details together: both count. */
    CHECK_OK(parse("demo:read", "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"read\"]}]",
                   NULL, &req, NULL));
    CHECK(req.n_details == 2 && req.details[0].origin == TG_AUTHZ_FROM_SCOPE &&
          req.details[1].origin == TG_AUTHZ_FROM_DETAILS);
    tg_authz_request_reset(&req);
}

static void
test_parse_resource(void)
{
    struct tg_authz_request req;
    const char *res[] = {DEMO, CRM, DEMO, "", NULL};
    const char *many[TG_AUTHZ_MAX_RESOURCES + 2];
    size_t i;

    CHECK_OK(parse(NULL, NULL, res, &req, NULL));
    CHECK(req.n_resources == 2); /* deduplicated; the empty one omitted */
    tg_authz_request_reset(&req);
    {
        const char *r1[] = {"/tools/demo", NULL};
        const char *r2[] = {DEMO "#frag", NULL};
        const char *r3[] = {"demo", NULL};
        const char *r4[] = {"http://exa mple.com/", NULL};

        CHECK_ERR(parse_only(NULL, NULL, r1), TARGET_ERR);
        CHECK_ERR(parse_only(NULL, NULL, r2), TARGET_ERR);
        CHECK_ERR(parse_only(NULL, NULL, r3), TARGET_ERR);
        CHECK_ERR(parse_only(NULL, NULL, r4), TARGET_ERR);
    }
    for (i = 0; i <= TG_AUTHZ_MAX_RESOURCES; i++)
        many[i] = DEMO;
    many[TG_AUTHZ_MAX_RESOURCES + 1] = NULL;
    CHECK_ERR(parse_only(NULL, NULL, many), TARGET_ERR);
}

static void
test_exact_grant(void)
{
    struct tg_authz_result r;

    CHECK_OK(decide("bot", "demo:read", NULL, NULL, 0, &r, NULL));
    CHECK(scope_is(&r, "demo:read"));
    CHECK(r.n_audience == 1 && strcmp(r.audience[0], DEMO) == 0);
    CHECK(r.n_details == 1 && r.details[0].n_endpoints == 0);
    CHECK(details_are(&r, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                          "\"locations\":[\"" DEMO "\"]}]"));
    tg_authz_result_reset(&r);
    tg_authz_result_reset(&r);
    /* A tool without an endpoint table: the actions alone. */
    CHECK_OK(decide("bot", "ns:search:write", NULL, NULL, 0, &r, NULL));
    CHECK(scope_is(&r, "ns:search:write"));
    CHECK(r.n_audience == 1 && strcmp(r.audience[0], SEARCH) == 0);
    tg_authz_result_reset(&r);
}

/* Asking for more than granted is refused, not trimmed. */
static void
test_refuse_not_trim(void)
{
    const char *why1 = NULL, *why2 = NULL;

    CHECK_ERR(outcome("bot", "demo:read demo:admin", NULL, NULL, 1, NULL), SCOPE_ERR);
    CHECK_ERR(outcome("bot", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\",\"admin\"]}]",
                      NULL, 1, NULL),
              AD_ERR);
    /* Write on crm is not granted at all. */
    CHECK_ERR(outcome("bot", "crm:write", NULL, NULL, 1, NULL), SCOPE_ERR);
    /* One bad detail spoils the request, whichever parameter it came in. */
    CHECK_ERR(outcome("bot", "demo:read",
                      "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"write\"]}]", NULL, 1,
                      NULL),
              AD_ERR);
    CHECK_ERR(outcome("bot", "crm:write",
                      "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"]}]", NULL, 1,
                      NULL),
              SCOPE_ERR);
    /* Actions whose endpoints are all normal-risk, on an unrestricted
     * grant that lists only read. */
    CHECK_OK(outcome("bot", "wiki:read", NULL, NULL, 0, NULL));
    CHECK_ERR(outcome("bot", "wiki:write", NULL, NULL, 1, NULL), SCOPE_ERR);
    CHECK_ERR(outcome("bot", "wiki:read wiki:admin", NULL, NULL, 1, NULL), SCOPE_ERR);
    CHECK_ERR(outcome("bot", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"wiki\",\"actions\":[\"write\"],"
                      "\"endpoints\":[\"PUT /pages/{id}\"]}]",
                      NULL, 1, NULL),
              AD_ERR);
    /* Unknown and ungranted tools are indistinguishable. */
    CHECK_ERR(outcome("bot", "nope:read", NULL, NULL, 1, &why1), SCOPE_ERR);
    CHECK_ERR(outcome("bot", "hidden:read", NULL, NULL, 1, &why2), SCOPE_ERR);
    CHECK(why1 != NULL && why2 != NULL && strcmp(why1, why2) == 0);
}

/* Nothing specific asked: everything granted. */
static void
test_empty_request_gets_all(void)
{
    struct tg_authz_result r;

    CHECK_OK(decide("bot", NULL, NULL, NULL, 1, &r, NULL));
    CHECK(scope_is(&r, "crm:admin crm:read demo:read demo:write ns:search:read ns:search:write "
                       "wiki:read"));
    CHECK(details_are(&r, "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"read\",\"admin\"],"
                          "\"endpoints\":[\"GET /contacts\",\"POST /export\"],"
                          "\"locations\":[\"" CRM "\"]},"
                          "{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\",\"write\"],"
                          "\"locations\":[\"" DEMO "\"]},"
                          "{\"type\":\"tool\",\"tool\":\"ns:search\","
                          "\"actions\":[\"read\",\"write\"],\"locations\":[\"" SEARCH "\"]},"
                          "{\"type\":\"tool\",\"tool\":\"wiki\",\"actions\":[\"read\"],"
                          "\"locations\":[\"" WIKI "\"]}]"));
    CHECK(r.n_audience == 4 && strcmp(r.audience[0], DEMO) == 0 &&
          strcmp(r.audience[1], CRM) == 0 && strcmp(r.audience[2], SEARCH) == 0 &&
          strcmp(r.audience[3], WIKI) == 0);
    tg_authz_result_reset(&r);
    /* A bearer token: the high-risk endpoint is left out, and with it the
     * action it alone carried. */
    CHECK_OK(decide("bot", NULL, NULL, NULL, 0, &r, NULL));
    CHECK(scope_is(&r, "crm:read demo:read demo:write ns:search:read ns:search:write wiki:read"));
    CHECK(r.n_details == 4 && r.details[0].n_endpoints == 1 &&
          strcmp(r.details[0].endpoints[0], "GET /contacts") == 0);
    tg_authz_result_reset(&r);
}

static void
test_resource_filtering(void)
{
    struct tg_authz_result r;
    const char *crm[] = {CRM, NULL};
    const char *demo[] = {DEMO, NULL};
    const char *both[] = {DEMO, CRM, NULL};
    const char *unknown[] = {"https://unknown.example.com/", NULL};
    const char *hidden[] = {HIDDEN, NULL};
    const char *why = NULL;

    CHECK_OK(decide("bot", NULL, NULL, crm, 1, &r, NULL));
    CHECK(scope_is(&r, "crm:admin crm:read"));
    CHECK(r.n_audience == 1 && strcmp(r.audience[0], CRM) == 0);
    tg_authz_result_reset(&r);
    CHECK_OK(decide("bot", NULL, NULL, both, 0, &r, NULL));
    CHECK(scope_is(&r, "crm:read demo:read demo:write"));
    CHECK(r.n_audience == 2);
    tg_authz_result_reset(&r);
    CHECK_OK(decide("bot", "demo:read", NULL, demo, 0, &r, NULL));
    CHECK(r.n_audience == 1 && strcmp(r.audience[0], DEMO) == 0);
    tg_authz_result_reset(&r);
    /* Unknown resource: invalid_target; known but not granted: invalid_scope. */
    CHECK_ERR(outcome("bot", NULL, NULL, unknown, 1, NULL), TARGET_ERR);
    CHECK_ERR(outcome("bot", "demo:read", NULL, unknown, 1, NULL), TARGET_ERR);
    CHECK_ERR(outcome("bot", NULL, NULL, hidden, 1, NULL), SCOPE_ERR);
    {
        const char *demo_hidden[] = {DEMO, HIDDEN, NULL};

        CHECK_ERR(outcome("bot", "demo:read", NULL, demo_hidden, 1, NULL), SCOPE_ERR);
    }
    /* Resources and requested tools must agree, both ways. */
    CHECK_ERR(outcome("bot", "demo:read", NULL, crm, 1, NULL), TARGET_ERR);
    CHECK_ERR(outcome("bot", "demo:read", NULL, both, 1, NULL), TARGET_ERR);
    CHECK_ERR(outcome("bot", "demo:read crm:read", NULL, demo, 1, NULL), TARGET_ERR);
    CHECK_OK(outcome("bot", "demo:read crm:read", NULL, both, 1, NULL));
    /* A resource whose grant leaves nothing for a bearer token. */
    CHECK_ERR(outcome("exporter", NULL, NULL, crm, 0, &why), SCOPE_ERR);
    CHECK(why != NULL && strstr(why, "sender-constrained") != NULL);
}

static void
test_high_risk(void)
{
    struct tg_authz_result r;
    const char *why = NULL;
    static const char export_ad[] =
        "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"admin\"],"
        "\"endpoints\":[\"POST /export\"]}]";
    static const char demo_delete_ad[] =
        "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"admin\"],"
        "\"endpoints\":[\"DELETE /items/{id}\"]}]";

    /* Named by the grant, sender-constrained: granted, by name. */
    CHECK_OK(decide("bot", NULL, export_ad, NULL, 1, &r, NULL));
    CHECK(details_are(&r, "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"admin\"],"
                          "\"endpoints\":[\"POST /export\"],\"locations\":[\"" CRM "\"]}]"));
    tg_authz_result_reset(&r);
    /* The same without a sender constraint: refused, invalid_scope. */
    CHECK_ERR(outcome("bot", NULL, export_ad, NULL, 0, &why), SCOPE_ERR);
    CHECK(why != NULL && strcmp(why, "high-risk action requires a sender-constrained token") == 0);
    /* Asked as an action whose only endpoint is high-risk. */
    CHECK_OK(decide("bot", "crm:admin", NULL, NULL, 1, &r, NULL));
    CHECK(r.n_details == 1 && r.details[0].n_endpoints == 1 &&
          strcmp(r.details[0].endpoints[0], "POST /export") == 0);
    tg_authz_result_reset(&r);
    why = NULL;
    CHECK_ERR(outcome("bot", "crm:admin", NULL, NULL, 0, &why), SCOPE_ERR);
    CHECK(why != NULL && strstr(why, "sender-constrained") != NULL);
    /* exporter: only the high-risk endpoint. */
    CHECK_OK(outcome("exporter", "crm:admin", NULL, NULL, 1, NULL));
    CHECK_ERR(outcome("exporter", "crm:admin", NULL, NULL, 0, NULL), SCOPE_ERR);
    CHECK_ERR(outcome("exporter", NULL, NULL, NULL, 0, &why), SCOPE_ERR);
    CHECK(why != NULL && strstr(why, "sender-constrained") != NULL);
    CHECK_OK(outcome("exporter", NULL, NULL, NULL, 1, NULL));
    /* ops: admin on demo, but the grant names no endpoint, so the
     * high-risk DELETE stays out of reach even with a sender constraint. */
    why = NULL;
    CHECK_ERR(outcome("ops", "demo:admin", NULL, NULL, 1, &why), SCOPE_ERR);
    CHECK(why != NULL && strstr(why, "grant names them") != NULL);
    CHECK_ERR(outcome("ops", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"admin\"]}]", NULL,
                      1, NULL),
              AD_ERR);
    CHECK_ERR(outcome("ops", NULL, demo_delete_ad, NULL, 1, NULL), AD_ERR);
    why = NULL;
    CHECK_ERR(outcome("ops", NULL, NULL, NULL, 1, &why), SCOPE_ERR);
    CHECK(why != NULL && strstr(why, "no tool is granted") != NULL);
}

static void
test_endpoint_restrictions(void)
{
    struct tg_authz_result r;

    /* The grant names endpoints: the token names them too. */
    CHECK_OK(decide("bot", "crm:read", NULL, NULL, 0, &r, NULL));
    CHECK(details_are(&r, "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"read\"],"
                          "\"endpoints\":[\"GET /contacts\"],\"locations\":[\"" CRM "\"]}]"));
    tg_authz_result_reset(&r);
    /* The request names endpoints on an unrestricted grant. */
    CHECK_OK(decide("bot", NULL,
                    "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                    "\"endpoints\":[\"GET /items/{id}\"]}]",
                    NULL, 0, &r, NULL));
    CHECK(details_are(&r, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                          "\"endpoints\":[\"GET /items/{id}\"],\"locations\":[\"" DEMO "\"]}]"));
    tg_authz_result_reset(&r);
    /* Not in the table. */
    CHECK_ERR(outcome("bot", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                      "\"endpoints\":[\"GET /nope\"]}]",
                      NULL, 1, NULL),
              AD_ERR);
    /* In the table, not named by a grant that names endpoints. */
    CHECK_ERR(outcome("bot", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"admin\"],"
                      "\"endpoints\":[\"DELETE /contacts/{id}\"]}]",
                      NULL, 1, NULL),
              AD_ERR);
    /* Actions and endpoints disagree, either way. */
    CHECK_ERR(outcome("bot", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\",\"write\"],"
                      "\"endpoints\":[\"GET /items\"]}]",
                      NULL, 1, NULL),
              AD_ERR);
    CHECK_ERR(outcome("bot", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                      "\"endpoints\":[\"POST /items\"]}]",
                      NULL, 1, NULL),
              AD_ERR);
    /* A normal endpoint of a granted action, on an unrestricted grant. */
    CHECK_ERR(outcome("bot", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"write\"],"
                      "\"endpoints\":[\"POST /items\"]}]",
                      NULL, 1, NULL),
              TG_OK);
}

static void
test_locations(void)
{
    CHECK_OK(outcome("bot", NULL,
                     "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                     "\"locations\":[\"" DEMO "\"]}]",
                     NULL, 1, NULL));
    CHECK_ERR(outcome("bot", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                      "\"locations\":[\"" CRM "\"]}]",
                      NULL, 1, NULL),
              AD_ERR);
    CHECK_ERR(outcome("bot", NULL,
                      "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                      "\"locations\":[\"" DEMO "\",\"" DEMO "/x\"]}]",
                      NULL, 1, NULL),
              AD_ERR);
}

static void
test_scope_sorted_deduplicated(void)
{
    struct tg_authz_result r;

    CHECK_OK(decide("bot", "ns:search:read demo:write demo:read demo:read",
                    "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"]}]", NULL, 0, &r,
                    NULL));
    CHECK(scope_is(&r, "demo:read demo:write ns:search:read"));
    /* Details of one tool merge into one. */
    CHECK(details_are(&r, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\",\"write\"],"
                          "\"locations\":[\"" DEMO "\"]},"
                          "{\"type\":\"tool\",\"tool\":\"ns:search\",\"actions\":[\"read\"],"
                          "\"locations\":[\"" SEARCH "\"]}]"));
    CHECK(r.n_audience == 2 && strcmp(r.audience[0], DEMO) == 0);
    tg_authz_result_reset(&r);
    /* An action-only detail and an endpoint-restricted one for the same
     * tool stay apart: merging them would widen the restricted one. */
    CHECK_OK(decide("bot", "demo:write",
                    "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                    "\"endpoints\":[\"GET /items\"]}]",
                    NULL, 0, &r, NULL));
    CHECK(scope_is(&r, "demo:read demo:write"));
    CHECK(details_are(&r, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"write\"],"
                          "\"locations\":[\"" DEMO "\"]},"
                          "{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                          "\"endpoints\":[\"GET /items\"],\"locations\":[\"" DEMO "\"]}]"));
    CHECK(r.n_audience == 1);
    tg_authz_result_reset(&r);
}

static void
test_agent_checks(void)
{
    struct tg_authz_result r;
    struct tg_authz_request req;
    struct tg_authz_context ctx = {NULL, pol.grants, pol.n_grants, pol.tools, pol.n_tools, 1};

    CHECK_ERR(outcome("off", "demo:read", NULL, NULL, 1, NULL), TG_ERR_OAUTH_INVALID_CLIENT);
    /* pop-bot is registered for DPoP: never a bearer token. */
    CHECK_ERR(outcome("pop-bot", NULL, NULL, NULL, 0, NULL), TG_ERR_OAUTH_INVALID_REQUEST);
    /* Other agents' grants are not pop-bot's. */
    CHECK_ERR(outcome("pop-bot", NULL, NULL, NULL, 1, NULL), SCOPE_ERR);
    CHECK_ERR(outcome("pop-bot", "demo:read", NULL, NULL, 1, NULL), SCOPE_ERR);
    /* No agent. */
    memset(&req, 0, sizeof(req));
    CHECK_ERR(tg_authz_decide(&ctx, &req, &r, NULL), TG_ERR_INVALID_ARG);
    tg_authz_result_reset(&r);
    tg_authz_result_reset(NULL);
    tg_authz_request_reset(NULL);
    tg_authz_detail_reset(NULL);
}

/* Grants the policy check would refuse, as a store may still hold them
 * after a tool changed: never wider than what they name. */
static void
test_stale_grants(void)
{
    char *named_read[] = {"GET /contacts"};
    char *gone[] = {"GET /gone"};
    struct tg_grant g[2] = {
        {"bot", "crm", TG_ACTION_BIT(TG_ACTION_READ) | TG_ACTION_BIT(TG_ACTION_WRITE), named_read,
         1},
        {"bot", "demo", TG_ACTION_BIT(TG_ACTION_READ), gone, 1},
    };
    struct tg_authz_context ctx = {agent("bot"), g, 2, pol.tools, pol.n_tools, 1};
    struct tg_authz_request req;
    struct tg_authz_result r;

    /* write names no endpoint of a grant that names endpoints. */
    CHECK_OK(parse("crm:write", NULL, NULL, &req, NULL));
    CHECK_ERR(tg_authz_decide(&ctx, &req, &r, NULL), SCOPE_ERR);
    tg_authz_request_reset(&req);
    /* The named endpoint is gone from the table: nothing left. */
    CHECK_OK(parse("demo:read", NULL, NULL, &req, NULL));
    CHECK_ERR(tg_authz_decide(&ctx, &req, &r, NULL), SCOPE_ERR);
    tg_authz_request_reset(&req);
    /* Asked for nothing: only the named endpoint, only its action. */
    memset(&req, 0, sizeof(req));
    CHECK_OK(tg_authz_decide(&ctx, &req, &r, NULL));
    CHECK(scope_is(&r, "crm:read"));
    CHECK(details_are(&r, "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"read\"],"
                          "\"endpoints\":[\"GET /contacts\"],\"locations\":[\"" CRM "\"]}]"));
    tg_authz_result_reset(&r);
}

/* With no tools and no grants, nothing at all. */
static void
test_deny_by_default(void)
{
    struct tg_authz_result r;
    struct tg_authz_request req;
    struct tg_authz_context ctx = {agent("bot"), NULL, 0, pol.tools, pol.n_tools, 1};

    memset(&req, 0, sizeof(req));
    CHECK_ERR(tg_authz_decide(&ctx, &req, &r, NULL), SCOPE_ERR);
    ctx.grants = pol.grants;
    ctx.n_grants = pol.n_grants;
    ctx.tools = NULL;
    ctx.n_tools = 0;
    CHECK_ERR(tg_authz_decide(&ctx, &req, &r, NULL), SCOPE_ERR);
    CHECK_OK(parse("demo:read", NULL, NULL, &req, NULL));
    CHECK_ERR(tg_authz_decide(&ctx, &req, &r, NULL), SCOPE_ERR);
    tg_authz_request_reset(&req);
}

int
main(void)
{
    struct tg_policy_error e;
    int rc;

    if (tg_policy_parse_yaml(fixture, strlen(fixture), TG_POLICY_YAML_SELF_CONTAINED, &pol, &e) !=
        TG_OK) {
        fprintf(stderr, "fixture: line %zu: %s\n", e.line, e.message);
        printf("policy/authz: 0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_parse_scope);
    RUN(test_parse_authorization_details);
    RUN(test_parse_resource);
    RUN(test_exact_grant);
    RUN(test_refuse_not_trim);
    RUN(test_empty_request_gets_all);
    RUN(test_resource_filtering);
    RUN(test_high_risk);
    RUN(test_endpoint_restrictions);
    RUN(test_locations);
    RUN(test_scope_sorted_deduplicated);
    RUN(test_agent_checks);
    RUN(test_stale_grants);
    RUN(test_deny_by_default);
    rc = t_report("policy/authz");
    tg_policy_reset(&pol);
    return rc;
}
