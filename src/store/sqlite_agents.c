/* Agents in the SQLite store. */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite_impl.h"

#define AGENT_COLS                                                                       \
    "id, type, owner, tenant, status, auth_method, pop, max_token_lifetime, secret_mac, " \
    "jwks, tls_subject_dn, tls_san_dns, tls_san_uri, cert_x5t, spiffe_id, "              \
    "tokens_not_before, created_at, updated_at, introspect"
#define AGENT_PARAMS                                                                      \
    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19"

#define SQL_AGENT_INSERT "INSERT INTO agents (" AGENT_COLS ") VALUES (" AGENT_PARAMS ")"

/* An update keeps created_at; keeps the stored secret when the record has
 * none (a policy file never carries secrets, and re-applying it must not
 * lock agents out: use tg_store_agent_set_secret to change or clear one);
 * and never lowers tokens_not_before, which moves up to updated_at when the
 * update disables the agent, so a put cannot bring revoked tokens back. */
#define SQL_AGENT_PUT                                                                     \
    SQL_AGENT_INSERT                                                                      \
    " ON CONFLICT (id) DO UPDATE SET"                                                     \
    " type = excluded.type, owner = excluded.owner, tenant = excluded.tenant,"            \
    " status = excluded.status, auth_method = excluded.auth_method, pop = excluded.pop,"  \
    " max_token_lifetime = excluded.max_token_lifetime,"                                  \
    " secret_mac = coalesce(excluded.secret_mac, agents.secret_mac),"                     \
    " jwks = excluded.jwks, tls_subject_dn = excluded.tls_subject_dn,"                    \
    " tls_san_dns = excluded.tls_san_dns, tls_san_uri = excluded.tls_san_uri,"            \
    " cert_x5t = excluded.cert_x5t, spiffe_id = excluded.spiffe_id,"                      \
    " introspect = excluded.introspect,"                                                  \
    " tokens_not_before = max(agents.tokens_not_before, excluded.tokens_not_before,"      \
    "   CASE WHEN excluded.status = 2 AND agents.status <> 2"                             \
    "   THEN excluded.updated_at ELSE 0 END),"                                            \
    " updated_at = excluded.updated_at"

#define SQL_AGENT_GET "SELECT " AGENT_COLS " FROM agents WHERE id = ?1"
#define SQL_AGENT_FIND_SPIFFE "SELECT " AGENT_COLS " FROM agents WHERE spiffe_id = ?1"
#define SQL_AGENT_LIST "SELECT " AGENT_COLS " FROM agents ORDER BY id"

/* 2 = TG_AGENT_DISABLED, 1 = TG_AGENT_ACTIVE. Enabling leaves
 * tokens_not_before alone: tokens issued before the disable stay dead. */
#define SQL_AGENT_DISABLE                                                                 \
    "UPDATE agents SET status = 2, tokens_not_before = max(tokens_not_before, ?2),"       \
    " updated_at = ?2 WHERE id = ?1"
#define SQL_AGENT_ENABLE "UPDATE agents SET status = 1, updated_at = ?2 WHERE id = ?1"
#define SQL_AGENT_SET_SECRET "UPDATE agents SET secret_mac = ?2 WHERE id = ?1"
#define SQL_AGENT_DELETE "DELETE FROM agents WHERE id = ?1"

static int
agent_enums_ok(int64_t type, int64_t status, int64_t method, int64_t pop)
{
    return type >= TG_AGENT_INTERNAL && type <= TG_AGENT_BROWSING &&
           status >= TG_AGENT_ACTIVE && status <= TG_AGENT_DISABLED &&
           method >= TG_AUTH_CLIENT_SECRET_BASIC && method <= TG_AUTH_SPIFFE_JWT &&
           pop >= TG_POP_DPOP && pop <= TG_POP_BEARER;
}

static enum tg_err
check_agent(const struct tg_agent *a)
{
    TG_ENSURE(a != NULL && a->id != NULL && a->id[0] != '\0', TG_ERR_INVALID_ARG,
              "agent: missing id");
    TG_ENSURE(agent_enums_ok(a->type, a->status, a->auth_method, a->pop), TG_ERR_INVALID_ARG,
              "agent %s: enumeration out of range", a->id);
    TG_ENSURE(a->introspect == 0 || a->introspect == 1, TG_ERR_INVALID_ARG,
              "agent %s: introspect is not 0 or 1", a->id);
    return TG_OK;
}

static int
bind_agent(sqlite3_stmt *st, const struct tg_agent *a)
{
    int rc = SQLITE_OK;

    tg_sq_bind_text(st, 1, a->id, &rc);
    tg_sq_bind_int64(st, 2, a->type, &rc);
    tg_sq_bind_text(st, 3, a->owner, &rc);
    tg_sq_bind_text(st, 4, a->tenant, &rc);
    tg_sq_bind_int64(st, 5, a->status, &rc);
    tg_sq_bind_int64(st, 6, a->auth_method, &rc);
    tg_sq_bind_int64(st, 7, a->pop, &rc);
    tg_sq_bind_int64(st, 8, a->max_token_lifetime, &rc);
    tg_sq_bind_blob(st, 9, a->has_secret ? a->secret_mac : NULL, TG_SECRET_MAC_LEN, &rc);
    tg_sq_bind_text(st, 10, a->jwks, &rc);
    tg_sq_bind_text(st, 11, a->tls_subject_dn, &rc);
    tg_sq_bind_text(st, 12, a->tls_san_dns, &rc);
    tg_sq_bind_text(st, 13, a->tls_san_uri, &rc);
    tg_sq_bind_text(st, 14, a->cert_x5t, &rc);
    tg_sq_bind_text(st, 15, a->spiffe_id, &rc);
    tg_sq_bind_int64(st, 16, a->tokens_not_before, &rc);
    tg_sq_bind_int64(st, 17, a->created_at, &rc);
    tg_sq_bind_int64(st, 18, a->updated_at, &rc);
    tg_sq_bind_int64(st, 19, a->introspect, &rc);
    return rc;
}

/* Copy the current row into *a (zeroed first). On failure *a holds what was
 * copied so far; the caller resets it. A row that cannot have been written
 * by this code (an enum out of range, a MAC of the wrong size) is refused as
 * corrupt rather than trusted. */
static enum tg_err
read_agent(sqlite3_stmt *st, struct tg_agent *a)
{
    int64_t type = sqlite3_column_int64(st, 1), status = sqlite3_column_int64(st, 4),
            method = sqlite3_column_int64(st, 5), pop = sqlite3_column_int64(st, 6),
            introspect = sqlite3_column_int64(st, 18);
    const void *mac;

    memset(a, 0, sizeof(*a));
    TG_ENSURE(agent_enums_ok(type, status, method, pop), TG_ERR_STORE,
              "agents row: enumeration out of range");
    TG_ENSURE(introspect == 0 || introspect == 1, TG_ERR_STORE,
              "agents row: introspect is not 0 or 1");
    a->introspect = (int)introspect;
    a->type = (enum tg_agent_type)type;
    a->status = (enum tg_agent_status)status;
    a->auth_method = (enum tg_auth_method)method;
    a->pop = (enum tg_pop)pop;
    a->max_token_lifetime = sqlite3_column_int64(st, 7);
    if (sqlite3_column_type(st, 8) != SQLITE_NULL) {
        mac = sqlite3_column_blob(st, 8);
        TG_ENSURE(mac != NULL && sqlite3_column_bytes(st, 8) == TG_SECRET_MAC_LEN, TG_ERR_STORE,
                  "agents row: secret_mac has the wrong size");
        memcpy(a->secret_mac, mac, TG_SECRET_MAC_LEN);
        a->has_secret = 1;
    }
    a->tokens_not_before = sqlite3_column_int64(st, 15);
    a->created_at = sqlite3_column_int64(st, 16);
    a->updated_at = sqlite3_column_int64(st, 17);
    TG_GUARD(tg_sq_col_strdup(st, 0, &a->id));
    TG_GUARD(tg_sq_col_strdup(st, 2, &a->owner));
    TG_GUARD(tg_sq_col_strdup(st, 3, &a->tenant));
    TG_GUARD(tg_sq_col_strdup(st, 9, &a->jwks));
    TG_GUARD(tg_sq_col_strdup(st, 10, &a->tls_subject_dn));
    TG_GUARD(tg_sq_col_strdup(st, 11, &a->tls_san_dns));
    TG_GUARD(tg_sq_col_strdup(st, 12, &a->tls_san_uri));
    TG_GUARD(tg_sq_col_strdup(st, 13, &a->cert_x5t));
    TG_GUARD(tg_sq_col_strdup(st, 14, &a->spiffe_id));
    return TG_OK;
}

static enum tg_err
agent_write(struct tg_store *s, enum tg_sq_stmt id, const char *sql, const struct tg_agent *a)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    int rc;

    TG_ENSURE(s != NULL, TG_ERR_INVALID_ARG, "agent write: no store");
    TG_GUARD(check_agent(a));
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, id, sql, &st));
    rc = bind_agent(st, a);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "agent bind"));
    TG_TRY(tg_sq_step_done(s, st, "agent write"));
out:
    tg_sq_done(st);
    return tg_sq_unlock(s, rv);
}

enum tg_err
tg_store_agent_insert(struct tg_store *s, const struct tg_agent *a)
{
    return agent_write(s, SQ_AGENT_INSERT, SQL_AGENT_INSERT, a);
}

enum tg_err
tg_store_agent_put(struct tg_store *s, const struct tg_agent *a)
{
    return agent_write(s, SQ_AGENT_PUT, SQL_AGENT_PUT, a);
}

/* One agent by a unique key (id or SPIFFE ID). */
static enum tg_err
agent_get_by(struct tg_store *s, enum tg_sq_stmt id, const char *sql, const char *key,
             struct tg_agent *out)
{
    sqlite3_stmt *st = NULL;
    struct tg_agent a;
    enum tg_err rv;
    int rc = SQLITE_OK;

    memset(&a, 0, sizeof(a));
    TG_ENSURE(s != NULL && key != NULL && out != NULL, TG_ERR_INVALID_ARG,
              "agent get: missing argument");
    memset(out, 0, sizeof(*out));
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, id, sql, &st));
    tg_sq_bind_text(st, 1, key, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "agent bind"));
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        TG_FAIL(TG_ERR_NOT_FOUND, "agent not found");
    if (rc != SQLITE_ROW)
        TG_TRY(tg_sq_error(s, rc, "agent get"));
    TG_TRY(read_agent(st, &a));
    *out = a;
    memset(&a, 0, sizeof(a));
out:
    tg_sq_done(st);
    rv = tg_sq_unlock(s, rv);
    tg_agent_reset(&a);
    return rv;
}

enum tg_err
tg_store_agent_get(struct tg_store *s, const char *id, struct tg_agent *out)
{
    return agent_get_by(s, SQ_AGENT_GET, SQL_AGENT_GET, id, out);
}

enum tg_err
tg_store_agent_find_spiffe(struct tg_store *s, const char *spiffe_id, struct tg_agent *out)
{
    return agent_get_by(s, SQ_AGENT_FIND_SPIFFE, SQL_AGENT_FIND_SPIFFE, spiffe_id, out);
}

enum tg_err
tg_store_agent_list(struct tg_store *s, struct tg_agent **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct tg_agent *list = NULL, *grown;
    size_t len = 0, cap = 0;
    enum tg_err rv;
    int rc;

    TG_ENSURE(s != NULL && out != NULL && n != NULL, TG_ERR_INVALID_ARG,
              "agent list: missing argument");
    *out = NULL;
    *n = 0;
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, SQ_AGENT_LIST, SQL_AGENT_LIST, &st));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            grown = realloc(list, cap * sizeof(*list));
            TG_CHECK(grown != NULL, TG_ERR_NOMEM, "agent list");
            list = grown;
        }
        rv = read_agent(st, &list[len]);
        len++; /* counted even on failure: it may hold copies to free */
        TG_TRY(rv);
    }
    if (rc != SQLITE_DONE)
        TG_TRY(tg_sq_error(s, rc, "agent list"));
    *out = list;
    *n = len;
    list = NULL;
    len = 0;
out:
    tg_sq_done(st);
    rv = tg_sq_unlock(s, rv);
    tg_store_agent_list_free(list, len);
    return rv;
}

/* Run an UPDATE/DELETE keyed by agent id; TG_ERR_NOT_FOUND when no row. */
static enum tg_err
agent_update(struct tg_store *s, enum tg_sq_stmt id, const char *sql, const char *agent_id,
             const uint8_t *mac, int64_t now, const char *what)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    int rc = SQLITE_OK;

    TG_ENSURE(s != NULL && agent_id != NULL, TG_ERR_INVALID_ARG, "%s: missing argument", what);
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, id, sql, &st));
    tg_sq_bind_text(st, 1, agent_id, &rc);
    if (id == SQ_AGENT_SET_SECRET)
        tg_sq_bind_blob(st, 2, mac, TG_SECRET_MAC_LEN, &rc);
    else if (id != SQ_AGENT_DELETE)
        tg_sq_bind_int64(st, 2, now, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, what));
    TG_TRY(tg_sq_step_done(s, st, what));
    TG_CHECK(sqlite3_changes(s->db) > 0, TG_ERR_NOT_FOUND, "%s: agent not found", what);
out:
    tg_sq_done(st);
    return tg_sq_unlock(s, rv);
}

enum tg_err
tg_store_agent_set_status(struct tg_store *s, const char *id, enum tg_agent_status st,
                          int64_t now)
{
    switch (st) {
    case TG_AGENT_DISABLED:
        return agent_update(s, SQ_AGENT_DISABLE, SQL_AGENT_DISABLE, id, NULL, now, "disable");
    case TG_AGENT_ACTIVE:
        return agent_update(s, SQ_AGENT_ENABLE, SQL_AGENT_ENABLE, id, NULL, now, "enable");
    default:
        break;
    }
    tg_err_raise(TG_ERR_INVALID_ARG, "set_status: unknown status %d", (int)st);
    return TG_ERR_INVALID_ARG;
}

enum tg_err
tg_store_agent_set_secret(struct tg_store *s, const char *id, const uint8_t mac[TG_SECRET_MAC_LEN])
{
    return agent_update(s, SQ_AGENT_SET_SECRET, SQL_AGENT_SET_SECRET, id, mac, 0, "set secret");
}

enum tg_err
tg_store_agent_delete(struct tg_store *s, const char *id)
{
    return agent_update(s, SQ_AGENT_DELETE, SQL_AGENT_DELETE, id, NULL, 0, "agent delete");
}
