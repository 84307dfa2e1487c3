/* A policy document's lifecycle and the checks that span its records. */
#include "policy/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
tg_policy_reset(struct tg_policy *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->n_agents; i++)
        tg_agent_reset(&p->agents[i]);
    for (i = 0; i < p->n_tools; i++)
        tg_tool_reset(&p->tools[i]);
    for (i = 0; i < p->n_grants; i++)
        tg_grant_reset(&p->grants[i]);
    free(p->agents);
    free(p->tools);
    free(p->grants);
    free(p->agent_lines);
    free(p->agent_status_given);
    free(p->tool_lines);
    free(p->grant_lines);
    memset(p, 0, sizeof(*p));
}

enum tg_err
tg_policy_fail(struct tg_policy_error *err, size_t line, size_t column, const char *fmt, ...)
{
    char msg[sizeof(err->message)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err != NULL) {
        err->line = line;
        err->column = column;
        snprintf(err->message, sizeof(err->message), "%s", msg);
    }
    if (line > 0)
        tg_err_raise(TG_ERR_POLICY_INVALID, "line %zu: %s", line, msg);
    else
        tg_err_raise(TG_ERR_POLICY_INVALID, "%s", msg);
    return TG_ERR_POLICY_INVALID;
}

const struct tg_tool *
tg_policy_find_tool(const struct tg_tool *tools, size_t n, const char *id)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (tools[i].id != NULL && strcmp(tools[i].id, id) == 0)
            return &tools[i];
    return NULL;
}

const struct tg_endpoint *
tg_tool_find_endpoint(const struct tg_tool *t, struct tg_slice ref)
{
    size_t i;

    for (i = 0; i < t->n_endpoints; i++)
        if (tg_endpoint_ref_eq(&t->endpoints[i], ref))
            return &t->endpoints[i];
    return NULL;
}

static size_t
line_of(const size_t *lines, size_t i)
{
    return lines != NULL ? lines[i] : 0;
}

/* A record's key (one or two strings) and its index in the document. The
 * checks sort these instead of comparing every pair: the counts the parser
 * allows would make pairwise checks take seconds. */
struct key {
    const char *a, *b;
    size_t i;
};

static int
cmp_key(const void *x, const void *y)
{
    const struct key *p = x, *q = y;
    int c = strcmp(p->a, q->a);

    if (c == 0 && p->b != NULL && q->b != NULL)
        c = strcmp(p->b, q->b);
    if (c == 0)
        c = p->i < q->i ? -1 : p->i > q->i;
    return c;
}

static int
same_key(const struct key *p, const struct key *q)
{
    return strcmp(p->a, q->a) == 0 && (p->b == NULL || q->b == NULL || strcmp(p->b, q->b) == 0);
}

/* Sort, then report the duplicate whose second occurrence comes first in
 * the document, as a reader scanning down would meet it. 1 when found, with
 * the indexes of both occurrences. */
static int
find_duplicate(struct key *k, size_t n, size_t *first, size_t *second)
{
    size_t i;
    int found = 0;

    if (n > 1)
        qsort(k, n, sizeof(*k), cmp_key);
    for (i = 1; i < n; i++) {
        if (!same_key(&k[i - 1], &k[i]))
            continue;
        if (!found || k[i].i < *second) {
            /* Equal keys sort by index: k[i - 1] is the earlier one. */
            *first = k[i - 1].i;
            *second = k[i].i;
            found = 1;
        }
    }
    return found;
}

enum dup_kind { DUP_AGENT, DUP_TOOL, DUP_RESOURCE, DUP_GRANT };

/* Records missing a key (not validated) are left out, not crashed on. */
static void
fill_keys(const struct tg_policy *p, enum dup_kind kind, struct key *k, size_t *n)
{
    const char *a, *b;
    size_t i, count;

    *n = 0;
    count = kind == DUP_AGENT ? p->n_agents : kind == DUP_GRANT ? p->n_grants : p->n_tools;
    for (i = 0; i < count; i++) {
        switch (kind) {
        case DUP_AGENT:
            a = p->agents[i].id;
            b = NULL;
            break;
        case DUP_TOOL:
            a = p->tools[i].id;
            b = NULL;
            break;
        case DUP_RESOURCE:
            a = p->tools[i].resource;
            b = NULL;
            break;
        case DUP_GRANT:
        default:
            a = p->grants[i].agent_id;
            b = p->grants[i].tool_id != NULL ? p->grants[i].tool_id : "";
            break;
        }
        if (a != NULL)
            k[(*n)++] = (struct key){a, b, i};
    }
}

static enum tg_err
report_duplicate(const struct tg_policy *p, enum dup_kind kind, size_t first, size_t second,
                 struct tg_policy_error *err)
{
    switch (kind) {
    case DUP_AGENT:
        return tg_policy_fail(err, line_of(p->agent_lines, second), 0,
                              "agent \"%s\" is defined twice (first at line %zu)",
                              p->agents[second].id, line_of(p->agent_lines, first));
    case DUP_TOOL:
        return tg_policy_fail(err, line_of(p->tool_lines, second), 0,
                              "tool \"%s\" is defined twice (first at line %zu)",
                              p->tools[second].id, line_of(p->tool_lines, first));
    case DUP_RESOURCE:
        /* The resource is the tokens' audience: it must name one tool. */
        return tg_policy_fail(err, line_of(p->tool_lines, second), 0,
                              "tool \"%s\" has the resource of tool \"%s\"",
                              p->tools[second].id, p->tools[first].id);
    case DUP_GRANT:
    default:
        return tg_policy_fail(err, line_of(p->grant_lines, second), 0,
                              "a second grant of tool \"%s\" to agent \"%s\" (first at line "
                              "%zu): merge them",
                              p->grants[second].tool_id, p->grants[second].agent_id,
                              line_of(p->grant_lines, first));
    }
}

static enum tg_err
check_unique(const struct tg_policy *p, struct tg_policy_error *err)
{
    static const enum dup_kind kinds[] = {DUP_AGENT, DUP_TOOL, DUP_RESOURCE, DUP_GRANT};
    size_t most = p->n_agents, n, first = 0, second = 0, i;
    struct key *k;
    enum tg_err rv = TG_OK;

    most = p->n_tools > most ? p->n_tools : most;
    most = p->n_grants > most ? p->n_grants : most;
    if (most < 2)
        return TG_OK;
    k = calloc(most, sizeof(*k));
    TG_ENSURE(k != NULL, TG_ERR_NOMEM, "keys");
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        fill_keys(p, kinds[i], k, &n);
        if (find_duplicate(k, n, &first, &second)) {
            rv = report_duplicate(p, kinds[i], first, second, err);
            break;
        }
    }
    free(k);
    return rv;
}

/* Sorted ids, for lookups. */
static int
cmp_id(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int
cmp_tool(const void *x, const void *y)
{
    return strcmp((*(const struct tg_tool *const *)x)->id, (*(const struct tg_tool *const *)y)->id);
}

/* The document's tools and the known ones it does not replace, by id. */
struct index {
    const char **agents;
    size_t n_agents;
    const struct tg_tool **tools;
    size_t n_tools;
};

static const struct tg_tool *
index_tool(const struct index *x, const char *id)
{
    struct tg_tool probe = {0};
    const struct tg_tool *pp = &probe, *const *hit;

    probe.id = (char *)id;
    hit = x->n_tools ? bsearch(&pp, x->tools, x->n_tools, sizeof(*x->tools), cmp_tool) : NULL;
    return hit != NULL ? *hit : NULL;
}

static int
index_agent(const struct index *x, const char *id)
{
    return x->n_agents && bsearch(&id, x->agents, x->n_agents, sizeof(*x->agents), cmp_id);
}

static enum tg_err
index_build(const struct tg_policy *p, const struct tg_agent *ka, size_t nka,
            const struct tg_tool *kt, size_t nkt, struct index *x)
{
    size_t i, n_doc;

    memset(x, 0, sizeof(*x));
    x->agents = calloc(p->n_agents + nka + 1, sizeof(*x->agents));
    x->tools = calloc(p->n_tools + nkt + 1, sizeof(*x->tools));
    TG_ENSURE(x->agents != NULL && x->tools != NULL, TG_ERR_NOMEM, "index");
    for (i = 0; i < p->n_agents; i++)
        if (p->agents[i].id != NULL)
            x->agents[x->n_agents++] = p->agents[i].id;
    for (i = 0; i < nka; i++)
        if (ka[i].id != NULL)
            x->agents[x->n_agents++] = ka[i].id;
    if (x->n_agents > 1)
        qsort(x->agents, x->n_agents, sizeof(*x->agents), cmp_id);
    for (i = 0; i < p->n_tools; i++)
        if (p->tools[i].id != NULL && p->tools[i].resource != NULL)
            x->tools[x->n_tools++] = &p->tools[i];
    if (x->n_tools > 1)
        qsort(x->tools, x->n_tools, sizeof(*x->tools), cmp_tool);
    /* Known tools count only where the document does not replace them. */
    n_doc = x->n_tools;
    for (i = 0; i < nkt; i++) {
        struct index doc = {NULL, 0, x->tools, n_doc};

        if (kt[i].id != NULL && kt[i].resource != NULL && index_tool(&doc, kt[i].id) == NULL)
            x->tools[x->n_tools++] = &kt[i];
    }
    if (x->n_tools > 1)
        qsort(x->tools, x->n_tools, sizeof(*x->tools), cmp_tool);
    return TG_OK;
}

static void
index_reset(struct index *x)
{
    free(x->agents);
    free(x->tools);
    memset(x, 0, sizeof(*x));
}

static enum tg_err
check_grant_endpoints(const struct tg_grant *g, const struct tg_tool *t, size_t line,
                      struct tg_policy_error *err)
{
    const struct tg_endpoint *e;
    unsigned named = 0;
    size_t i;

    if (g->n_endpoints == 0)
        return TG_OK;
    for (i = 0; i < g->n_endpoints; i++) {
        e = tg_tool_find_endpoint(t, tg_slice(g->endpoints[i], strlen(g->endpoints[i])));
        if (e == NULL)
            return tg_policy_fail(err, line, 0,
                                  "grant names \"%s\", not an endpoint of tool \"%s\"",
                                  g->endpoints[i], t->id);
        named |= TG_ACTION_BIT(e->action);
    }
    /* Naming endpoints restricts the grant to them: an action with no named
     * endpoint would grant nothing, one missing from actions would make the
     * named endpoint unreachable. Either way the grant says two things. */
    if (named != g->actions)
        return tg_policy_fail(err, line, 0,
                              "grant of tool \"%s\" to agent \"%s\": when endpoints are named, "
                              "actions must be exactly the actions of those endpoints",
                              g->tool_id, g->agent_id);
    return TG_OK;
}

enum tg_err
tg_policy_check_unique(const struct tg_policy *p, struct tg_policy_error *err)
{
    return check_unique(p, err);
}

static int
in_document(const struct tg_policy *p, const struct tg_tool *t)
{
    return t >= p->tools && t < p->tools + p->n_tools;
}

/* A resource names one tool, across the document and the store. Pairs of
 * known tools are the store's business, not this document's. */
static enum tg_err
check_resources(const struct tg_policy *p, const struct index *x, struct tg_policy_error *err)
{
    const struct tg_tool *t, *u;
    struct key *k;
    enum tg_err rv = TG_OK;
    size_t i;

    if (x->n_tools < 2)
        return TG_OK;
    k = calloc(x->n_tools, sizeof(*k));
    TG_ENSURE(k != NULL, TG_ERR_NOMEM, "keys");
    for (i = 0; i < x->n_tools; i++)
        k[i] = (struct key){x->tools[i]->resource, NULL, i};
    qsort(k, x->n_tools, sizeof(*k), cmp_key);
    for (i = 1; i < x->n_tools; i++) {
        t = x->tools[k[i - 1].i];
        u = x->tools[k[i].i];
        if (!same_key(&k[i - 1], &k[i]) || in_document(p, t) == in_document(p, u))
            continue;
        if (!in_document(p, t)) {
            t = u;
            u = x->tools[k[i - 1].i];
        }
        rv = tg_policy_fail(err, line_of(p->tool_lines, (size_t)(t - p->tools)), 0,
                            "tool \"%s\" has the resource of existing tool \"%s\"", t->id,
                            u->id);
        break;
    }
    free(k);
    return rv;
}

enum tg_err
tg_policy_check(const struct tg_policy *p, const struct tg_agent *known_agents,
                size_t n_known_agents, const struct tg_tool *known_tools, size_t n_known_tools,
                struct tg_policy_error *err)
{
    struct index x;
    const struct tg_tool *t;
    size_t i, line;
    enum tg_err rv = TG_OK;

    TG_GUARD(check_unique(p, err));
    TG_TRY(index_build(p, known_agents, n_known_agents, known_tools, n_known_tools, &x));
    TG_TRY(check_resources(p, &x, err));
    for (i = 0; i < p->n_grants; i++) {
        const struct tg_grant *g = &p->grants[i];

        line = line_of(p->grant_lines, i);
        if (g->agent_id == NULL || !index_agent(&x, g->agent_id)) {
            rv = tg_policy_fail(err, line, 0, "grant names unknown agent \"%s\"",
                                g->agent_id ? g->agent_id : "");
            goto out;
        }
        t = g->tool_id != NULL ? index_tool(&x, g->tool_id) : NULL;
        if (t == NULL) {
            rv = tg_policy_fail(err, line, 0, "grant names unknown tool \"%s\"",
                                g->tool_id ? g->tool_id : "");
            goto out;
        }
        TG_TRY(check_grant_endpoints(g, t, line, err));
    }
out:
    index_reset(&x);
    return rv;
}
