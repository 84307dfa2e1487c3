/* A policy document: the agents, tools and grants `tollgate apply` loads
 * (policy_yaml.c parses one), and the checks that span records. */
#ifndef TG_POLICY_POLICY_H
#define TG_POLICY_POLICY_H

#include <stddef.h>

#include "core/err.h"
#include "policy/model.h"

#define TG_POLICY_MAX_AGENTS 4096
#define TG_POLICY_MAX_TOOLS 1024
#define TG_POLICY_MAX_GRANTS 16384

struct tg_policy {
    struct tg_agent *agents;
    size_t n_agents;
    struct tg_tool *tools;
    size_t n_tools;
    struct tg_grant *grants;
    size_t n_grants;
    /* 1-based source line of each record, for messages; NULL when the
     * document was not parsed from text. */
    size_t *agent_lines, *tool_lines, *grant_lines;
    /* 1 where an agent record names its `status` (apply then sets it; an
     * existing agent whose record does not keeps its own); NULL when the
     * document was not parsed from text. */
    unsigned char *agent_status_given;
};

/* What went wrong, for a person: where (1-based; 0 when unknown) and why.
 * The message never holds a secret. */
struct tg_policy_error {
    size_t line, column;
    char message[256];
};

void tg_policy_reset(struct tg_policy *p);

/* Checks across records, TG_ERR_POLICY_INVALID on the first failure:
 *   - agent ids, tool ids, tool resources and (agent, tool) grant pairs are
 *     unique within the document;
 *   - every grant names an agent and a tool of the document or of the
 *     `known_*` lists (what the store already holds; either may be NULL).
 *     A tool of the document replaces a known tool with the same id;
 *   - a tool's resource is not also another tool's (known or not);
 *   - every endpoint a grant names is an endpoint of its tool, and when a
 *     grant names endpoints its actions are exactly those endpoints'
 *     actions (naming endpoints restricts the grant to them).
 * `err` may be NULL. */
enum tg_err tg_policy_check(const struct tg_policy *p, const struct tg_agent *known_agents,
                            size_t n_known_agents, const struct tg_tool *known_tools,
                            size_t n_known_tools, struct tg_policy_error *err) TG_MUST_CHECK;

/* Only the uniqueness checks (the parser always runs them). */
enum tg_err tg_policy_check_unique(const struct tg_policy *p,
                                   struct tg_policy_error *err) TG_MUST_CHECK;

/* Record a failure in `err` (may be NULL) and the thread's error detail;
 * returns TG_ERR_POLICY_INVALID. For the parser and the checks. */
enum tg_err tg_policy_fail(struct tg_policy_error *err, size_t line, size_t column,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The tool with this id, or NULL. */
const struct tg_tool *tg_policy_find_tool(const struct tg_tool *tools, size_t n, const char *id);
/* The endpoint of `t` that "METHOD /path" names, or NULL. */
const struct tg_endpoint *tg_tool_find_endpoint(const struct tg_tool *t, struct tg_slice ref);

#endif
