/* Tools (with their ordered endpoints) and grants (with their optional
 * endpoint lists) in the SQLite store. */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_impl.h"

/* An upsert, not INSERT OR REPLACE: REPLACE deletes the row first, and the
 * delete would cascade to every grant on the tool. */
#define SQL_TOOL_UPSERT                                                                   \
    "INSERT INTO tools (id, resource, upstream, kind) VALUES (?1, ?2, ?3, ?4)"            \
    " ON CONFLICT (id) DO UPDATE SET resource = excluded.resource,"                       \
    " upstream = excluded.upstream, kind = excluded.kind"
#define SQL_TOOL_ENDPOINTS_CLEAR "DELETE FROM tool_endpoints WHERE tool_id = ?1"
#define SQL_TOOL_ENDPOINT_INSERT                                                          \
    "INSERT INTO tool_endpoints (tool_id, position, method, path, action, risk)"          \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
#define SQL_TOOL_SELECT                                                                   \
    "SELECT t.id, t.resource, t.upstream, t.kind, e.method, e.path, e.action, e.risk"     \
    " FROM tools t LEFT JOIN tool_endpoints e ON e.tool_id = t.id"
#define SQL_TOOL_GET SQL_TOOL_SELECT " WHERE t.id = ?1 ORDER BY e.position"
#define SQL_TOOL_FIND_RESOURCE SQL_TOOL_SELECT " WHERE t.resource = ?1 ORDER BY e.position"
#define SQL_TOOL_LIST SQL_TOOL_SELECT " ORDER BY t.id, e.position"
#define SQL_TOOL_DELETE "DELETE FROM tools WHERE id = ?1"

#define SQL_GRANT_UPSERT                                                                  \
    "INSERT INTO grants (agent_id, tool_id, actions) VALUES (?1, ?2, ?3)"                 \
    " ON CONFLICT (agent_id, tool_id) DO UPDATE SET actions = excluded.actions"
#define SQL_GRANT_ENDPOINTS_CLEAR                                                         \
    "DELETE FROM grant_endpoints WHERE agent_id = ?1 AND tool_id = ?2"
#define SQL_GRANT_ENDPOINT_INSERT                                                         \
    "INSERT INTO grant_endpoints (agent_id, tool_id, position, endpoint)"                 \
    " VALUES (?1, ?2, ?3, ?4)"
#define SQL_GRANT_SELECT                                                                  \
    "SELECT g.agent_id, g.tool_id, g.actions, e.endpoint FROM grants g"                   \
    " LEFT JOIN grant_endpoints e ON e.agent_id = g.agent_id AND e.tool_id = g.tool_id"
#define SQL_GRANT_LIST_AGENT SQL_GRANT_SELECT " WHERE g.agent_id = ?1 ORDER BY g.tool_id, e.position"
#define SQL_GRANT_LIST_ALL SQL_GRANT_SELECT " ORDER BY g.agent_id, g.tool_id, e.position"
#define SQL_GRANT_DELETE "DELETE FROM grants WHERE agent_id = ?1 AND tool_id = ?2"

#define ALL_ACTIONS \
    (TG_ACTION_BIT(TG_ACTION_READ) | TG_ACTION_BIT(TG_ACTION_WRITE) | TG_ACTION_BIT(TG_ACTION_ADMIN))

static int
endpoint_enums_ok(int64_t action, int64_t risk)
{
    return action >= TG_ACTION_READ && action <= TG_ACTION_ADMIN && risk >= TG_RISK_NORMAL &&
           risk <= TG_RISK_HIGH;
}

/* `arr` (of `size`-byte elements) grown so index `len` fits; NULL (and
 * `arr` untouched) when out of memory. */
static void *
grow(void *arr, size_t *cap, size_t len, size_t size)
{
    void *p;
    size_t ncap;

    if (len < *cap)
        return arr;
    ncap = *cap ? *cap * 2 : 8;
    if (ncap >= SIZE_MAX / size)
        return NULL;
    p = realloc(arr, ncap * size);
    if (p != NULL)
        *cap = ncap;
    return p;
}

#define GROW(arr, cap, len)                                                   \
    do {                                                                      \
        void *grown_ = grow((arr), (cap), (len), sizeof(*(arr)));             \
        TG_ENSURE(grown_ != NULL, TG_ERR_NOMEM, "store: growing a list");     \
        (arr) = grown_;                                                       \
    } while (0)

/* Run a cached statement binding text ?1 (and ?2 when b is set). */
static enum tg_err
run_keyed(struct tg_store *s, enum tg_sq_stmt id, const char *sql, const char *a, const char *b,
          const char *what)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    int rc = SQLITE_OK;

    TG_GUARD(tg_sq_prepare(s, id, sql, &st));
    tg_sq_bind_text(st, 1, a, &rc);
    if (b != NULL)
        tg_sq_bind_text(st, 2, b, &rc);
    rv = rc != SQLITE_OK ? tg_sq_error(s, rc, what) : tg_sq_step_done(s, st, what);
    tg_sq_done(st);
    return rv;
}

static enum tg_err
delete_keyed(struct tg_store *s, enum tg_sq_stmt id, const char *sql, const char *a,
             const char *b, const char *what)
{
    enum tg_err rv;

    TG_ENSURE(s != NULL && a != NULL, TG_ERR_INVALID_ARG, "%s: missing argument", what);
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(run_keyed(s, id, sql, a, b, what));
    TG_CHECK(sqlite3_changes(s->db) > 0, TG_ERR_NOT_FOUND, "%s: not found", what);
out:
    return tg_sq_unlock(s, rv);
}

/* ---- tools ---- */

static enum tg_err
check_tool(const struct tg_tool *t)
{
    size_t i;

    TG_ENSURE(t != NULL && t->id != NULL && t->id[0] != '\0', TG_ERR_INVALID_ARG,
              "tool: missing id");
    TG_ENSURE(t->n_endpoints == 0 || t->endpoints != NULL, TG_ERR_INVALID_ARG,
              "tool %s: endpoints missing", t->id);
    for (i = 0; i < t->n_endpoints; i++)
        TG_ENSURE(endpoint_enums_ok(t->endpoints[i].action, t->endpoints[i].risk),
                  TG_ERR_INVALID_ARG, "tool %s: endpoint %zu: enumeration out of range", t->id, i);
    return TG_OK;
}

static enum tg_err
tool_write(struct tg_store *s, const struct tg_tool *t)
{
    const struct tg_endpoint *e;
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    size_t i;
    int rc = SQLITE_OK;

    TG_TRY(tg_sq_prepare(s, SQ_TOOL_UPSERT, SQL_TOOL_UPSERT, &st));
    tg_sq_bind_text(st, 1, t->id, &rc);
    tg_sq_bind_text(st, 2, t->resource, &rc);
    tg_sq_bind_text(st, 3, t->upstream, &rc);
    tg_sq_bind_text(st, 4, t->kind, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "tool bind"));
    TG_TRY(tg_sq_step_done(s, st, "tool put"));
    tg_sq_done(st);
    st = NULL;

    TG_TRY(run_keyed(s, SQ_TOOL_ENDPOINTS_CLEAR, SQL_TOOL_ENDPOINTS_CLEAR, t->id, NULL,
                     "tool endpoints clear"));
    TG_TRY(tg_sq_prepare(s, SQ_TOOL_ENDPOINT_INSERT, SQL_TOOL_ENDPOINT_INSERT, &st));
    for (i = 0; i < t->n_endpoints; i++) {
        e = &t->endpoints[i];
        tg_sq_bind_text(st, 1, t->id, &rc);
        tg_sq_bind_int64(st, 2, (int64_t)i, &rc);
        tg_sq_bind_text(st, 3, e->method, &rc);
        tg_sq_bind_text(st, 4, e->path, &rc);
        tg_sq_bind_int64(st, 5, e->action, &rc);
        tg_sq_bind_int64(st, 6, e->risk, &rc);
        if (rc != SQLITE_OK)
            TG_TRY(tg_sq_error(s, rc, "tool endpoint bind"));
        TG_TRY(tg_sq_step_done(s, st, "tool endpoint insert"));
        tg_sq_done(st);
    }
out:
    tg_sq_done(st);
    return rv;
}

enum tg_err
tg_store_tool_put(struct tg_store *s, const struct tg_tool *t)
{
    enum tg_err rv;

    TG_ENSURE(s != NULL, TG_ERR_INVALID_ARG, "tool put: no store");
    TG_GUARD(check_tool(t));
    TG_GUARD(tg_sq_lock(s));
    rv = tg_sq_write_begin(s);
    if (rv == TG_OK)
        rv = tg_sq_write_end(s, tool_write(s, t));
    return tg_sq_unlock(s, rv);
}

/* Append the current row's endpoint (if the LEFT JOIN found one) to t. */
static enum tg_err
read_tool_endpoint(sqlite3_stmt *st, struct tg_tool *t, size_t *cap)
{
    struct tg_endpoint *e;
    int64_t action, risk;

    if (sqlite3_column_type(st, 4) == SQLITE_NULL)
        return TG_OK;
    action = sqlite3_column_int64(st, 6);
    risk = sqlite3_column_int64(st, 7);
    TG_ENSURE(endpoint_enums_ok(action, risk), TG_ERR_STORE,
              "tool_endpoints row: enumeration out of range");
    GROW(t->endpoints, cap, t->n_endpoints);
    e = &t->endpoints[t->n_endpoints++];
    memset(e, 0, sizeof(*e));
    e->action = (enum tg_action)action;
    e->risk = (enum tg_risk)risk;
    TG_GUARD(tg_sq_col_strdup(st, 4, &e->method));
    TG_GUARD(tg_sq_col_strdup(st, 5, &e->path));
    return TG_OK;
}

/* Fold the rows of a tools-join-endpoints query (ordered by tool, then
 * position) into tools. On failure *out and *n still describe what was built. */
static enum tg_err
read_tools(struct tg_store *s, sqlite3_stmt *st, struct tg_tool **out, size_t *n)
{
    struct tg_tool *t = NULL;
    size_t cap = 0, ep_cap = 0;
    const char *id;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        id = (const char *)sqlite3_column_text(st, 0);
        TG_ENSURE(id != NULL, TG_ERR_STORE, "tools row without id");
        if (t == NULL || strcmp(t->id, id) != 0) {
            GROW(*out, &cap, *n);
            t = &(*out)[(*n)++];
            memset(t, 0, sizeof(*t));
            ep_cap = 0;
            TG_GUARD(tg_sq_col_strdup(st, 0, &t->id));
            TG_GUARD(tg_sq_col_strdup(st, 1, &t->resource));
            TG_GUARD(tg_sq_col_strdup(st, 2, &t->upstream));
            TG_GUARD(tg_sq_col_strdup(st, 3, &t->kind));
        }
        TG_GUARD(read_tool_endpoint(st, t, &ep_cap));
    }
    if (rc != SQLITE_DONE)
        return tg_sq_error(s, rc, "tool read");
    return TG_OK;
}

/* Tools selected by statement `id` with optional text key ?1. */
static enum tg_err
tool_query(struct tg_store *s, enum tg_sq_stmt id, const char *sql, const char *key,
           struct tg_tool **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct tg_tool *list = NULL;
    size_t len = 0;
    enum tg_err rv;
    int rc = SQLITE_OK;

    *out = NULL;
    *n = 0;
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, id, sql, &st));
    if (key != NULL)
        tg_sq_bind_text(st, 1, key, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "tool bind"));
    TG_TRY(read_tools(s, st, &list, &len));
    *out = list;
    *n = len;
    list = NULL;
    len = 0;
out:
    tg_sq_done(st);
    rv = tg_sq_unlock(s, rv);
    tg_store_tool_list_free(list, len);
    return rv;
}

static enum tg_err
tool_get_by(struct tg_store *s, enum tg_sq_stmt id, const char *sql, const char *key,
            struct tg_tool *out)
{
    struct tg_tool *list = NULL;
    size_t n = 0;

    TG_ENSURE(s != NULL && key != NULL && out != NULL, TG_ERR_INVALID_ARG,
              "tool get: missing argument");
    memset(out, 0, sizeof(*out));
    TG_GUARD(tool_query(s, id, sql, key, &list, &n));
    if (n != 1) {
        tg_store_tool_list_free(list, n);
        TG_ENSURE(0, TG_ERR_NOT_FOUND, "tool not found");
    }
    *out = list[0];
    free(list);
    return TG_OK;
}

enum tg_err
tg_store_tool_get(struct tg_store *s, const char *id, struct tg_tool *out)
{
    return tool_get_by(s, SQ_TOOL_GET, SQL_TOOL_GET, id, out);
}

enum tg_err
tg_store_tool_find_resource(struct tg_store *s, const char *resource, struct tg_tool *out)
{
    return tool_get_by(s, SQ_TOOL_FIND_RESOURCE, SQL_TOOL_FIND_RESOURCE, resource, out);
}

enum tg_err
tg_store_tool_list(struct tg_store *s, struct tg_tool **out, size_t *n)
{
    TG_ENSURE(s != NULL && out != NULL && n != NULL, TG_ERR_INVALID_ARG,
              "tool list: missing argument");
    return tool_query(s, SQ_TOOL_LIST, SQL_TOOL_LIST, NULL, out, n);
}

enum tg_err
tg_store_tool_delete(struct tg_store *s, const char *id)
{
    return delete_keyed(s, SQ_TOOL_DELETE, SQL_TOOL_DELETE, id, NULL, "tool delete");
}

/* ---- grants ---- */

static enum tg_err
check_grant(const struct tg_grant *g)
{
    size_t i;

    TG_ENSURE(g != NULL && g->agent_id != NULL && g->tool_id != NULL, TG_ERR_INVALID_ARG,
              "grant: missing agent or tool");
    TG_ENSURE((g->actions & ~(unsigned)ALL_ACTIONS) == 0, TG_ERR_INVALID_ARG,
              "grant %s/%s: unknown action bits 0x%x", g->agent_id, g->tool_id, g->actions);
    TG_ENSURE(g->n_endpoints == 0 || g->endpoints != NULL, TG_ERR_INVALID_ARG,
              "grant %s/%s: endpoints missing", g->agent_id, g->tool_id);
    for (i = 0; i < g->n_endpoints; i++)
        TG_ENSURE(g->endpoints[i] != NULL, TG_ERR_INVALID_ARG, "grant %s/%s: endpoint %zu is NULL",
                  g->agent_id, g->tool_id, i);
    return TG_OK;
}

static enum tg_err
grant_write(struct tg_store *s, const struct tg_grant *g)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    size_t i;
    int rc = SQLITE_OK;

    TG_TRY(tg_sq_prepare(s, SQ_GRANT_UPSERT, SQL_GRANT_UPSERT, &st));
    tg_sq_bind_text(st, 1, g->agent_id, &rc);
    tg_sq_bind_text(st, 2, g->tool_id, &rc);
    tg_sq_bind_int64(st, 3, g->actions, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "grant bind"));
    /* A missing agent or tool is a foreign key failure: TG_ERR_NOT_FOUND. */
    TG_TRY(tg_sq_step_done(s, st, "grant put"));
    tg_sq_done(st);
    st = NULL;

    TG_TRY(run_keyed(s, SQ_GRANT_ENDPOINTS_CLEAR, SQL_GRANT_ENDPOINTS_CLEAR, g->agent_id,
                     g->tool_id, "grant endpoints clear"));
    TG_TRY(tg_sq_prepare(s, SQ_GRANT_ENDPOINT_INSERT, SQL_GRANT_ENDPOINT_INSERT, &st));
    for (i = 0; i < g->n_endpoints; i++) {
        tg_sq_bind_text(st, 1, g->agent_id, &rc);
        tg_sq_bind_text(st, 2, g->tool_id, &rc);
        tg_sq_bind_int64(st, 3, (int64_t)i, &rc);
        tg_sq_bind_text(st, 4, g->endpoints[i], &rc);
        if (rc != SQLITE_OK)
            TG_TRY(tg_sq_error(s, rc, "grant endpoint bind"));
        TG_TRY(tg_sq_step_done(s, st, "grant endpoint insert"));
        tg_sq_done(st);
    }
out:
    tg_sq_done(st);
    return rv;
}

enum tg_err
tg_store_grant_put(struct tg_store *s, const struct tg_grant *g)
{
    enum tg_err rv;

    TG_ENSURE(s != NULL, TG_ERR_INVALID_ARG, "grant put: no store");
    TG_GUARD(check_grant(g));
    TG_GUARD(tg_sq_lock(s));
    rv = tg_sq_write_begin(s);
    if (rv == TG_OK)
        rv = tg_sq_write_end(s, grant_write(s, g));
    return tg_sq_unlock(s, rv);
}

/* Fold grant-join-endpoint rows (ordered by agent, tool, position). */
static enum tg_err
read_grants(struct tg_store *s, sqlite3_stmt *st, struct tg_grant **out, size_t *n)
{
    struct tg_grant *g = NULL;
    size_t cap = 0, ep_cap = 0;
    const char *agent, *tool;
    int64_t actions;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        agent = (const char *)sqlite3_column_text(st, 0);
        tool = (const char *)sqlite3_column_text(st, 1);
        TG_ENSURE(agent != NULL && tool != NULL, TG_ERR_STORE, "grants row without key");
        if (g == NULL || strcmp(g->agent_id, agent) != 0 || strcmp(g->tool_id, tool) != 0) {
            actions = sqlite3_column_int64(st, 2);
            TG_ENSURE(actions >= 0 && (actions & ~(int64_t)ALL_ACTIONS) == 0, TG_ERR_STORE,
                      "grants row: unknown action bits");
            GROW(*out, &cap, *n);
            g = &(*out)[(*n)++];
            memset(g, 0, sizeof(*g));
            ep_cap = 0;
            g->actions = (unsigned)actions;
            TG_GUARD(tg_sq_col_strdup(st, 0, &g->agent_id));
            TG_GUARD(tg_sq_col_strdup(st, 1, &g->tool_id));
        }
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            GROW(g->endpoints, &ep_cap, g->n_endpoints);
            g->endpoints[g->n_endpoints] = NULL;
            g->n_endpoints++;
            TG_GUARD(tg_sq_col_strdup(st, 3, &g->endpoints[g->n_endpoints - 1]));
        }
    }
    if (rc != SQLITE_DONE)
        return tg_sq_error(s, rc, "grant read");
    return TG_OK;
}

enum tg_err
tg_store_grant_list(struct tg_store *s, const char *agent_id, struct tg_grant **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct tg_grant *list = NULL;
    size_t len = 0;
    enum tg_err rv;
    int rc = SQLITE_OK;

    TG_ENSURE(s != NULL && out != NULL && n != NULL, TG_ERR_INVALID_ARG,
              "grant list: missing argument");
    *out = NULL;
    *n = 0;
    TG_GUARD(tg_sq_lock(s));
    if (agent_id != NULL) {
        TG_TRY(tg_sq_prepare(s, SQ_GRANT_LIST_AGENT, SQL_GRANT_LIST_AGENT, &st));
        tg_sq_bind_text(st, 1, agent_id, &rc);
        if (rc != SQLITE_OK)
            TG_TRY(tg_sq_error(s, rc, "grant bind"));
    } else {
        TG_TRY(tg_sq_prepare(s, SQ_GRANT_LIST_ALL, SQL_GRANT_LIST_ALL, &st));
    }
    TG_TRY(read_grants(s, st, &list, &len));
    *out = list;
    *n = len;
    list = NULL;
    len = 0;
out:
    tg_sq_done(st);
    rv = tg_sq_unlock(s, rv);
    tg_store_grant_list_free(list, len);
    return rv;
}

enum tg_err
tg_store_grant_delete(struct tg_store *s, const char *agent_id, const char *tool_id)
{
    TG_ENSURE(tool_id != NULL, TG_ERR_INVALID_ARG, "grant delete: missing tool");
    return delete_keyed(s, SQ_GRANT_DELETE, SQL_GRANT_DELETE, agent_id, tool_id, "grant delete");
}
