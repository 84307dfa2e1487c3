/* MCP tool entries in the policy: names and patterns, "MCP <name>"
 * references, the matcher, and which tools may hold them. */
#include <string.h>

#include "policy/match.h"
#include "policy/model.h"
#include "test.h"

#define S(x) tg_slice((x), strlen(x))

static void
test_names(void)
{
    struct tg_slice m, p;

    CHECK(tg_mcp_tool_name_valid(S("search_notes")));
    CHECK(tg_mcp_tool_name_valid(S("a.b-c_D9")));
    CHECK(!tg_mcp_tool_name_valid(S("")));
    CHECK(!tg_mcp_tool_name_valid(S("a*")));
    CHECK(!tg_mcp_tool_name_valid(S("a/b")));
    CHECK(!tg_mcp_tool_name_valid(S("a b")));
    CHECK(tg_mcp_tool_pattern_valid(S("search_*")));
    CHECK(tg_mcp_tool_pattern_valid(S("*")));
    CHECK(!tg_mcp_tool_pattern_valid(S("/search")));
    CHECK_OK(tg_endpoint_ref_split(S("MCP search_*"), &m, &p));
    CHECK(tg_slice_eq_str(m, "MCP") && tg_slice_eq_str(p, "search_*"));
    CHECK_ERR(tg_endpoint_ref_split(S("MCP /items"), &m, &p), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_endpoint_ref_split(S("MCP "), &m, &p), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_endpoint_ref_split(S("mcp x"), &m, &p), TG_ERR_INVALID_ARG);
    CHECK_OK(tg_endpoint_ref_split(S("GET /items"), &m, &p));
}

static struct tg_endpoint table[] = {
    {"MCP", "search_*", TG_ACTION_READ, TG_RISK_NORMAL},
    {"MCP", "search_secrets", TG_ACTION_ADMIN, TG_RISK_HIGH},
    {"MCP", "*", TG_ACTION_WRITE, TG_RISK_NORMAL},
    {"MCP", "s*_*s", TG_ACTION_ADMIN, TG_RISK_NORMAL},
    {"GET", "/x", TG_ACTION_READ, TG_RISK_NORMAL},
};

static const char *
match(const char *name)
{
    const struct tg_endpoint *e = NULL;

    if (tg_mcp_tool_match(table, sizeof(table) / sizeof(table[0]), S(name), &e) != TG_OK)
        return NULL;
    return e->path;
}

static void
test_match(void)
{
    const struct tg_endpoint *e = NULL;

    CHECK(strcmp(match("search_notes"), "search_*") == 0);
    CHECK(strcmp(match("search_secrets"), "search_secrets") == 0); /* exact wins */
    CHECK(strcmp(match("delete"), "*") == 0);
    CHECK(strcmp(match("search_"), "search_*") == 0);             /* "*" may be empty */
    CHECK(strcmp(match("sx_ys"), "s*_*s") == 0);
    CHECK(strcmp(match("search_tags"), "search_*") == 0);         /* more literal chars */
    CHECK_ERR(tg_mcp_tool_match(table, 5, S("a/b"), &e), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_mcp_tool_match(table, 5, S(""), &e), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_mcp_tool_match(table, 1, S("delete"), &e), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_mcp_tool_match(table + 4, 1, S("x"), &e), TG_ERR_NOT_FOUND); /* HTTP entries */
    CHECK_ERR(tg_mcp_tool_match(NULL, 0, S("x"), &e), TG_ERR_NOT_FOUND);
}

static void
test_validate(void)
{
    struct tg_endpoint ep[2] = {{"MCP", "search_*", TG_ACTION_READ, TG_RISK_NORMAL},
                                {"MCP", "delete", TG_ACTION_ADMIN, TG_RISK_HIGH}};
    struct tg_tool t = {"notes", "https://gw.example/tools/notes", NULL, "mcp", ep, 2};
    struct tg_grant g = {"bot", "notes", TG_ACTION_BIT(TG_ACTION_READ), NULL, 0};
    char *refs[] = {"MCP search_*"};

    CHECK_OK(tg_tool_validate(&t));
    CHECK(tg_tool_is_mcp(&t) && !tg_tool_requires_content_digest(&t));
    t.kind = "mcp+content_digest";
    CHECK_OK(tg_tool_validate(&t));
    CHECK(tg_tool_is_mcp(&t) && tg_tool_requires_content_digest(&t));
    t.kind = "http";
    CHECK_ERR(tg_tool_validate(&t), TG_ERR_POLICY_INVALID); /* MCP entries: kind mcp only */
    t.kind = "mcp";
    ep[1].path = "search_*";
    CHECK_ERR(tg_tool_validate(&t), TG_ERR_POLICY_INVALID); /* listed twice */
    ep[1].path = "bad name";
    CHECK_ERR(tg_tool_validate(&t), TG_ERR_POLICY_INVALID);
    ep[1].path = "delete";
    t.kind = "mcp+other";
    CHECK_ERR(tg_tool_validate(&t), TG_ERR_POLICY_INVALID);
    g.endpoints = refs;
    g.n_endpoints = 1;
    CHECK_OK(tg_grant_validate(&g));
}

int
main(void)
{
    RUN(test_names);
    RUN(test_match);
    RUN(test_validate);
    return t_report("policy-mcp");
}
