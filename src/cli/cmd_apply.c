/* tollgate apply -f policy.yaml [--dry-run] [--json]: make the store hold
 * the agents, tools and grants of a policy file (docs/policy.md).
 *
 * Declarative and idempotent: every record of the file is created or
 * updated to match it, records it leaves out are kept, and a second apply of
 * the same file writes nothing and says so. All of it happens in one store
 * transaction with one audit event, or not at all. A policy file never
 * carries secrets: an existing agent keeps its client secret and its
 * tokens_not_before; a client-secret agent that has no secret yet (a new
 * one) gets a secret, printed once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/ctx.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "policy/policy.h"
#include "policy/policy_yaml.h"

#define HELP "apply"

static const char usage_text[] =
    "usage: tollgate apply -f POLICY.yaml [--dry-run] [--json] [--data DIR] [--master-key FILE]\n"
    "\n"
    "Creates or updates every agent, tool and grant of the file in one transaction;\n"
    "records the file leaves out are kept. New client-secret agents get a secret,\n"
    "printed once. --dry-run reports what would change and writes nothing.\n";

enum change { SAME = 0, CREATED, UPDATED };
static const char *const change_names[] = {"unchanged", "created", "updated"};
static const char *const change_verbs[] = {"keep", "create", "update"};

enum kind { K_AGENT = 0, K_TOOL, K_GRANT, K__COUNT };
static const char *const kind_names[] = {"agents", "tools", "grants"};

struct apply {
    const char *file;
    int dry_run, json;
    struct tg_cli_opts opts;
    struct tg_cli_ctx ctx;
    int opened, in_tx;
    char sha256[2 * TG_SHA256_LEN + 1];
    struct tg_policy p;
    /* What the store holds before the apply. */
    struct tg_agent *known_agents;
    size_t n_known_agents;
    struct tg_tool *known_tools;
    size_t n_known_tools;
    struct tg_grant *known_grants;
    size_t n_known_grants;
    /* The plan, one entry per record of the document. */
    enum change *agent_change, *tool_change, *grant_change;
    const struct tg_agent **old_agent;
    int *needs_secret;
    char (*secrets)[TG_SECRET_LEN + 1];
    size_t counts[K__COUNT][3];
};

/* ---- Arguments and the document -------------------------------------- */

static int
parse_args(int argc, char **argv, struct apply *ap)
{
    const char *val = NULL;
    int i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0) {
            ap->dry_run = 1;
            continue;
        }
        r = tg_cli_take_opt(argc, argv, &i, "-f", &val);
        if (r == 0)
            r = tg_cli_take_opt(argc, argv, &i, "--file", &val);
        if (r < 0)
            return tg_cli_usage_error(HELP, "apply: -f needs a policy file");
        if (r == 0)
            return tg_cli_usage_error(HELP, "apply: unexpected argument %s", argv[i]);
        if (ap->file != NULL)
            return tg_cli_usage_error(HELP, "apply: one policy file at a time");
        ap->file = val;
    }
    if (ap->file == NULL)
        return tg_cli_usage_error(HELP, "apply: which policy file? (-f POLICY.yaml)");
    return TG_CLI_EXIT_OK;
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* "FILE:LINE:COLUMN: message", as compilers print it. */
static int
policy_error(const struct apply *ap, const struct tg_policy_error *err)
{
    if (err->line > 0 && err->column > 0)
        return tg_cli_error("%s:%zu:%zu: %s", ap->file, err->line, err->column, err->message);
    if (err->line > 0)
        return tg_cli_error("%s:%zu: %s", ap->file, err->line, err->message);
    return tg_cli_error("%s: %s", ap->file, err->message);
}

static int
load_document(struct apply *ap)
{
    struct tg_policy_error err;
    uint8_t md[TG_SHA256_LEN];
    char *text;
    size_t len;
    enum tg_err rv;

    text = tg_cli_read_file(ap->file, TG_POLICY_YAML_MAX_BYTES, &len);
    if (text == NULL)
        return TG_CLI_EXIT_FAIL;
    rv = tg_sha256(tg_slice(text, len), md);
    if (rv == TG_OK) {
        hex(md, sizeof(md), ap->sha256);
        rv = tg_policy_parse_yaml(text, len, 0, &ap->p, &err);
    }
    free(text);
    if (rv == TG_ERR_POLICY_INVALID)
        return policy_error(ap, &err);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "%s", ap->file);
    return TG_CLI_EXIT_OK;
}

static int
load_store(struct apply *ap)
{
    struct tg_store *s = ap->ctx.store;
    enum tg_err rv;

    rv = tg_store_agent_list(s, &ap->known_agents, &ap->n_known_agents);
    if (rv == TG_OK)
        rv = tg_store_tool_list(s, &ap->known_tools, &ap->n_known_tools);
    if (rv == TG_OK)
        rv = tg_store_grant_list(s, NULL, &ap->known_grants, &ap->n_known_grants);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "reading the store");
    return TG_CLI_EXIT_OK;
}

/* ---- Checks against the store ---------------------------------------- */

static const struct tg_grant *
find_grant(const struct tg_grant *g, size_t n, const char *agent, const char *tool)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(g[i].agent_id, agent) == 0 && strcmp(g[i].tool_id, tool) == 0)
            return &g[i];
    return NULL;
}

static const struct tg_agent *
find_agent(const struct tg_agent *a, size_t n, const char *id)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(a[i].id, id) == 0)
            return &a[i];
    return NULL;
}

/* A grant the file leaves alone must still make sense against a tool the
 * file redefines: every endpoint it names still exists with the actions
 * the grant gives. */
static enum tg_err
check_kept_grants(const struct apply *ap, struct tg_policy_error *err)
{
    const struct tg_policy *p = &ap->p;
    const struct tg_grant *g;
    const struct tg_tool *t;
    const struct tg_endpoint *e;
    size_t i, j, line;
    unsigned named;

    for (i = 0; i < ap->n_known_grants; i++) {
        g = &ap->known_grants[i];
        if (g->n_endpoints == 0 || find_grant(p->grants, p->n_grants, g->agent_id, g->tool_id))
            continue;
        t = tg_policy_find_tool(p->tools, p->n_tools, g->tool_id);
        if (t == NULL)
            continue;
        line = p->tool_lines != NULL ? p->tool_lines[t - p->tools] : 0;
        named = 0;
        for (j = 0; j < g->n_endpoints; j++) {
            e = tg_tool_find_endpoint(t, tg_slice(g->endpoints[j], strlen(g->endpoints[j])));
            if (e == NULL)
                return tg_policy_fail(err, line, 0,
                                      "tool \"%s\" drops endpoint \"%s\" that its existing grant "
                                      "to agent \"%s\" names (put that grant in the file too)",
                                      t->id, g->endpoints[j], g->agent_id);
            named |= TG_ACTION_BIT(e->action);
        }
        if (named != g->actions)
            return tg_policy_fail(err, line, 0,
                                  "tool \"%s\" changes the action of an endpoint that its "
                                  "existing grant to agent \"%s\" names (put that grant in the "
                                  "file too)",
                                  t->id, g->agent_id);
    }
    return TG_OK;
}

static int
check_document(struct apply *ap)
{
    struct tg_policy_error err;
    enum tg_err rv;

    memset(&err, 0, sizeof(err));
    rv = tg_policy_check(&ap->p, ap->known_agents, ap->n_known_agents, ap->known_tools,
                         ap->n_known_tools, &err);
    if (rv == TG_OK)
        rv = check_kept_grants(ap, &err);
    if (rv == TG_ERR_POLICY_INVALID)
        return policy_error(ap, &err);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "%s", ap->file);
    return TG_CLI_EXIT_OK;
}

/* ---- The plan -------------------------------------------------------- */

static int
same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static int
agent_same(const struct tg_agent *a, const struct tg_agent *b)
{
    return a->type == b->type && same_str(a->owner, b->owner) &&
           same_str(a->tenant, b->tenant) && a->status == b->status &&
           a->auth_method == b->auth_method && a->pop == b->pop &&
           a->max_token_lifetime == b->max_token_lifetime && a->introspect == b->introspect &&
           same_str(a->jwks, b->jwks) &&
           same_str(a->tls_subject_dn, b->tls_subject_dn) &&
           same_str(a->tls_san_dns, b->tls_san_dns) && same_str(a->tls_san_uri, b->tls_san_uri) &&
           same_str(a->cert_x5t, b->cert_x5t) && same_str(a->spiffe_id, b->spiffe_id);
}

static int
tool_same(const struct tg_tool *a, const struct tg_tool *b)
{
    size_t i;

    if (!same_str(a->resource, b->resource) || !same_str(a->upstream, b->upstream) ||
        !same_str(a->kind != NULL ? a->kind : "http", b->kind != NULL ? b->kind : "http") ||
        a->n_endpoints != b->n_endpoints)
        return 0;
    for (i = 0; i < a->n_endpoints; i++) {
        const struct tg_endpoint *x = &a->endpoints[i], *y = &b->endpoints[i];

        if (!same_str(x->method, y->method) || !same_str(x->path, y->path) ||
            x->action != y->action || x->risk != y->risk)
            return 0;
    }
    return 1;
}

static int
grant_same(const struct tg_grant *a, const struct tg_grant *b)
{
    size_t i;

    if (a->actions != b->actions || a->n_endpoints != b->n_endpoints)
        return 0;
    for (i = 0; i < a->n_endpoints; i++)
        if (!same_str(a->endpoints[i], b->endpoints[i]))
            return 0;
    return 1;
}

static int
alloc_plan(struct apply *ap)
{
    const struct tg_policy *p = &ap->p;

    /* +1: calloc(0) may return NULL. */
    ap->agent_change = calloc(p->n_agents + 1, sizeof(*ap->agent_change));
    ap->tool_change = calloc(p->n_tools + 1, sizeof(*ap->tool_change));
    ap->grant_change = calloc(p->n_grants + 1, sizeof(*ap->grant_change));
    ap->old_agent = calloc(p->n_agents + 1, sizeof(*ap->old_agent));
    ap->needs_secret = calloc(p->n_agents + 1, sizeof(*ap->needs_secret));
    ap->secrets = calloc(p->n_agents + 1, sizeof(*ap->secrets));
    if (ap->agent_change == NULL || ap->tool_change == NULL || ap->grant_change == NULL ||
        ap->old_agent == NULL || ap->needs_secret == NULL || ap->secrets == NULL)
        return tg_cli_error("out of memory");
    return TG_CLI_EXIT_OK;
}

static void
warn_reenable(const struct apply *ap, size_t i)
{
    const struct tg_agent *a = &ap->p.agents[i];

    fprintf(stderr,
            "tollgate: warning: %s:%zu: agent \"%s\" is disabled and the file's "
            "\"status: active\" %s it again\n",
            ap->file, ap->p.agent_lines != NULL ? ap->p.agent_lines[i] : 0, a->id,
            ap->dry_run ? "would enable" : "enables");
}

static int
make_plan(struct apply *ap)
{
    const struct tg_policy *p = &ap->p;
    const struct tg_agent *old;
    const struct tg_tool *t;
    const struct tg_grant *g;
    size_t i;
    int rc;

    if ((rc = alloc_plan(ap)) != 0)
        return rc;
    for (i = 0; i < p->n_agents; i++) {
        old = find_agent(ap->known_agents, ap->n_known_agents, p->agents[i].id);
        ap->old_agent[i] = old;
        /* A record without `status` leaves an existing agent's as it is: an
         * operator's `agent disable` (an incident, a leaked key) is not
         * undone by the next routine apply; only "status: active" does. */
        if (old != NULL && p->agent_status_given != NULL && !p->agent_status_given[i])
            ap->p.agents[i].status = old->status;
        /* A client-secret agent without a secret could never authenticate. */
        ap->needs_secret[i] =
            tg_cli_uses_secret(p->agents[i].auth_method) && (old == NULL || !old->has_secret);
        if (old == NULL)
            ap->agent_change[i] = CREATED;
        else if (!agent_same(&p->agents[i], old) || ap->needs_secret[i])
            ap->agent_change[i] = UPDATED;
        if (old != NULL && old->status == TG_AGENT_DISABLED &&
            p->agents[i].status == TG_AGENT_ACTIVE)
            warn_reenable(ap, i);
        ap->counts[K_AGENT][ap->agent_change[i]]++;
    }
    for (i = 0; i < p->n_tools; i++) {
        t = tg_policy_find_tool(ap->known_tools, ap->n_known_tools, p->tools[i].id);
        ap->tool_change[i] = t == NULL ? CREATED : tool_same(&p->tools[i], t) ? SAME : UPDATED;
        ap->counts[K_TOOL][ap->tool_change[i]]++;
    }
    for (i = 0; i < p->n_grants; i++) {
        g = find_grant(ap->known_grants, ap->n_known_grants, p->grants[i].agent_id,
                       p->grants[i].tool_id);
        ap->grant_change[i] = g == NULL ? CREATED : grant_same(&p->grants[i], g) ? SAME : UPDATED;
        ap->counts[K_GRANT][ap->grant_change[i]]++;
    }
    return TG_CLI_EXIT_OK;
}

static size_t
n_changes(const struct apply *ap)
{
    size_t k, n = 0;

    for (k = 0; k < K__COUNT; k++)
        n += ap->counts[k][CREATED] + ap->counts[k][UPDATED];
    return n;
}

/* ---- Writing --------------------------------------------------------- */

static size_t
line_of(const size_t *lines, size_t i)
{
    return lines != NULL ? lines[i] : 0;
}

static int
write_agent(struct apply *ap, size_t i, int64_t now)
{
    struct tg_agent *a = &ap->p.agents[i];
    const struct tg_agent *old = ap->old_agent[i];
    size_t line = line_of(ap->p.agent_lines, i);
    enum tg_err rv;

    a->updated_at = now;
    a->created_at = now;
    if (old != NULL) {
        /* What the file cannot say is kept: never drop a secret, never
         * bring back tokens a disable killed. */
        a->created_at = old->created_at;
        a->tokens_not_before = old->tokens_not_before;
        a->has_secret = old->has_secret;
        memcpy(a->secret_mac, old->secret_mac, sizeof(a->secret_mac));
    }
    if (ap->needs_secret[i]) {
        rv = tg_cli_new_secret(&ap->ctx, ap->secrets[i], a->secret_mac);
        if (rv != TG_OK)
            return tg_cli_fail(rv, "%s:%zu: agent \"%s\": cannot make a client secret", ap->file,
                               line, a->id);
        a->has_secret = 1;
    }
    rv = old != NULL ? tg_store_agent_put(ap->ctx.store, a)
                     : tg_store_agent_insert(ap->ctx.store, a);
    if (rv == TG_ERR_CONFLICT)
        return tg_cli_error("%s:%zu: agent \"%s\": another agent already has SPIFFE ID %s",
                            ap->file, line, a->id, a->spiffe_id != NULL ? a->spiffe_id : "-");
    if (rv != TG_OK)
        return tg_cli_fail(rv, "%s:%zu: agent \"%s\"", ap->file, line, a->id);
    return TG_CLI_EXIT_OK;
}

static int
write_all(struct apply *ap)
{
    const struct tg_policy *p = &ap->p;
    int64_t now = tg_cli_now();
    enum tg_err rv;
    size_t i;
    int rc;

    for (i = 0; i < p->n_agents; i++)
        if (ap->agent_change[i] != SAME && (rc = write_agent(ap, i, now)) != 0)
            return rc;
    for (i = 0; i < p->n_tools; i++) {
        if (ap->tool_change[i] == SAME)
            continue;
        rv = tg_store_tool_put(ap->ctx.store, &p->tools[i]);
        if (rv == TG_ERR_CONFLICT)
            return tg_cli_error("%s:%zu: tool \"%s\": another tool already has resource %s",
                                ap->file, line_of(p->tool_lines, i), p->tools[i].id,
                                p->tools[i].resource);
        if (rv != TG_OK)
            return tg_cli_fail(rv, "%s:%zu: tool \"%s\"", ap->file, line_of(p->tool_lines, i),
                               p->tools[i].id);
    }
    for (i = 0; i < p->n_grants; i++) {
        if (ap->grant_change[i] == SAME)
            continue;
        rv = tg_store_grant_put(ap->ctx.store, &p->grants[i]);
        if (rv != TG_OK)
            return tg_cli_fail(rv, "%s:%zu: grant of tool \"%s\" to agent \"%s\"", ap->file,
                               line_of(p->grant_lines, i), p->grants[i].tool_id,
                               p->grants[i].agent_id);
    }
    return TG_CLI_EXIT_OK;
}

static json_t *
counts_json(const struct apply *ap)
{
    json_t *o = json_object();
    size_t k;

    for (k = 0; o != NULL && k < K__COUNT; k++) {
        if (json_object_set_new(o, kind_names[k],
                                json_pack("{s:I, s:I, s:I}", "created",
                                          (json_int_t)ap->counts[k][CREATED], "updated",
                                          (json_int_t)ap->counts[k][UPDATED], "unchanged",
                                          (json_int_t)ap->counts[k][SAME])) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

static int
audit_apply(struct apply *ap)
{
    struct tg_audit_event ev;
    json_t *details = counts_json(ap);
    enum tg_err rv = TG_ERR_NOMEM;

    if (details != NULL && json_object_set_new(details, "file", json_string(ap->file)) == 0 &&
        json_object_set_new(details, "sha256", json_string(ap->sha256)) == 0) {
        memset(&ev, 0, sizeof(ev));
        ev.event = "policy.apply";
        ev.actor = tg_cli_actor();
        ev.details = details;
        rv = tg_audit_emit(ap->ctx.audit, &ev);
    }
    json_decref(details);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "the audit event could not be written; nothing was applied");
    return TG_CLI_EXIT_OK;
}

/* ---- Report ---------------------------------------------------------- */

static json_t *
change_json(const char *kind, const char *k1, const char *v1, const char *k2, const char *v2,
            enum change c)
{
    if (k2 != NULL)
        return json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, k1, v1, k2, v2, "change",
                         change_names[c]);
    return json_pack("{s:s, s:s, s:s}", "kind", kind, k1, v1, "change", change_names[c]);
}

static int
append(json_t *arr, json_t *v)
{
    return json_array_append_new(arr, v) == 0;
}

static int
report_json(const struct apply *ap)
{
    const struct tg_policy *p = &ap->p;
    json_t *o = counts_json(ap), *changes = json_array(), *secrets = json_array();
    size_t i;
    int ok = o != NULL && changes != NULL && secrets != NULL;

    for (i = 0; ok && i < p->n_agents; i++) {
        if (ap->agent_change[i] != SAME)
            ok = append(changes, change_json("agent", "id", p->agents[i].id, NULL, NULL,
                                             ap->agent_change[i]));
        if (ok && ap->needs_secret[i] && !ap->dry_run)
            ok = append(secrets, json_pack("{s:s, s:s}", "client_id", p->agents[i].id,
                                           "client_secret", ap->secrets[i]));
    }
    for (i = 0; ok && i < p->n_tools; i++)
        if (ap->tool_change[i] != SAME)
            ok = append(changes, change_json("tool", "id", p->tools[i].id, NULL, NULL,
                                             ap->tool_change[i]));
    for (i = 0; ok && i < p->n_grants; i++)
        if (ap->grant_change[i] != SAME)
            ok = append(changes, change_json("grant", "agent", p->grants[i].agent_id, "tool",
                                             p->grants[i].tool_id, ap->grant_change[i]));
    if (ok)
        ok = json_object_set_new(o, "file", json_string(ap->file)) == 0 &&
             json_object_set_new(o, "dry_run", json_boolean(ap->dry_run)) == 0 &&
             json_object_set_new(o, "changed",
                                 json_boolean(!ap->dry_run && n_changes(ap) > 0)) == 0 &&
             json_object_set(o, "changes", changes) == 0 &&
             json_object_set(o, "client_secrets", secrets) == 0;
    json_decref(changes);
    json_decref(secrets);
    if (!ok) {
        json_decref(o);
        o = NULL;
    }
    return tg_cli_print_json(o);
}

static void
print_line(const struct apply *ap, enum change c, const char *what)
{
    if (c == SAME)
        return;
    if (ap->dry_run)
        printf("  would %s %s\n", change_verbs[c], what);
    else
        printf("  %s %s\n", change_names[c], what);
}

static int
report_human(const struct apply *ap)
{
    const struct tg_policy *p = &ap->p;
    char what[512], acts[64];
    size_t i, k;

    if (n_changes(ap) == 0) {
        printf("no changes: the store already matches %s (%zu agent(s), %zu tool(s), %zu "
               "grant(s) unchanged)\n",
               ap->file, p->n_agents, p->n_tools, p->n_grants);
        return fflush(stdout) == 0 ? TG_CLI_EXIT_OK : tg_cli_error("writing output failed");
    }
    printf(ap->dry_run ? "dry run of %s (nothing written):\n" : "applied %s:\n", ap->file);
    for (i = 0; i < p->n_agents; i++) {
        snprintf(what, sizeof(what), "agent %s", p->agents[i].id);
        print_line(ap, ap->agent_change[i], what);
    }
    for (i = 0; i < p->n_tools; i++) {
        snprintf(what, sizeof(what), "tool %s", p->tools[i].id);
        print_line(ap, ap->tool_change[i], what);
    }
    for (i = 0; i < p->n_grants; i++) {
        tg_cli_actions_str(p->grants[i].actions, acts, sizeof(acts));
        snprintf(what, sizeof(what), "grant of tool %s to agent %s (%s)", p->grants[i].tool_id,
                 p->grants[i].agent_id, acts);
        print_line(ap, ap->grant_change[i], what);
    }
    for (k = 0; k < K__COUNT; k++)
        printf("%s: %zu created, %zu updated, %zu unchanged\n", kind_names[k],
               ap->counts[k][CREATED], ap->counts[k][UPDATED], ap->counts[k][SAME]);
    for (i = 0; i < p->n_agents; i++) {
        if (!ap->needs_secret[i])
            continue;
        if (ap->dry_run)
            printf("agent %s would get a client secret (printed once, when applied)\n",
                   p->agents[i].id);
        else
            tg_cli_show_secret(p->agents[i].id, ap->secrets[i]);
    }
    return fflush(stdout) == 0 ? TG_CLI_EXIT_OK : tg_cli_error("writing output failed");
}

/* ---- The command ----------------------------------------------------- */

static int
run(struct apply *ap)
{
    enum tg_err rv;
    int rc;

    if ((rc = load_document(ap)) != 0)
        return rc;
    ap->opts.create = !ap->dry_run;
    rv = tg_cli_open(&ap->opts, &ap->ctx);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "cannot open the data directory");
    ap->opened = 1;
    if (!ap->dry_run) {
        /* Read and write under one lock: what the plan compares against is
         * what the writes change. */
        rv = tg_store_begin(ap->ctx.store);
        if (rv != TG_OK)
            return tg_cli_fail(rv, "apply");
        ap->in_tx = 1;
    }
    if ((rc = load_store(ap)) != 0 || (rc = check_document(ap)) != 0 ||
        (rc = make_plan(ap)) != 0)
        return rc;
    if (!ap->dry_run && n_changes(ap) > 0) {
        if ((rc = write_all(ap)) != 0 || (rc = audit_apply(ap)) != 0)
            return rc;
        ap->in_tx = 0;
        rv = tg_store_commit(ap->ctx.store);
        if (rv != TG_OK)
            return tg_cli_fail(rv, "apply: commit failed; nothing was applied");
    }
    return ap->json ? report_json(ap) : report_human(ap);
}

static void
apply_reset(struct apply *ap)
{
    size_t n = ap->p.n_agents;

    if (ap->in_tx)
        tg_store_rollback(ap->ctx.store);
    if (ap->secrets != NULL)
        tg_wipe(ap->secrets, (n + 1) * sizeof(*ap->secrets));
    free(ap->secrets);
    free(ap->needs_secret);
    free(ap->old_agent);
    free(ap->agent_change);
    free(ap->tool_change);
    free(ap->grant_change);
    tg_store_agent_list_free(ap->known_agents, ap->n_known_agents);
    tg_store_tool_list_free(ap->known_tools, ap->n_known_tools);
    tg_store_grant_list_free(ap->known_grants, ap->n_known_grants);
    tg_policy_reset(&ap->p);
    if (ap->opened)
        tg_cli_close(&ap->ctx);
}

int
tg_cmd_apply(int argc, char **argv)
{
    struct apply ap;
    int rc, i;

    memset(&ap, 0, sizeof(ap));
    argc = tg_cli_common_args(argc, argv, &ap.opts, &ap.json);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return TG_CLI_EXIT_OK;
        }
    }
    if ((rc = parse_args(argc, argv, &ap)) != 0)
        return rc;
    rc = run(&ap);
    apply_reset(&ap);
    return rc;
}
