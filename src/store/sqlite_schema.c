/* The SQLite schema as an ordered list of migrations, and the runner that
 * applies them. Enumerations are stored as the integers model.h and store.h
 * give them (explicitly numbered from 1); their ranges are checked in C on
 * write and on read, so adding an enum value needs no table rebuild. */
#include "store/sqlite_schema.h"

#include "core/log.h"

/* Version 1: the inventory, signing keys, revocations and blobs. Every
 * table is STRICT (a column holds only its declared type). Deleting an
 * agent or a tool deletes its grants, and a grant's endpoint list goes with
 * it (foreign keys are switched on per connection when the store opens). */
static const char schema_v1[] =
    "CREATE TABLE agents ("
    "  id                 TEXT PRIMARY KEY NOT NULL,"
    "  type               INTEGER NOT NULL,"
    "  owner              TEXT NOT NULL,"
    "  tenant             TEXT,"
    "  status             INTEGER NOT NULL,"
    "  auth_method        INTEGER NOT NULL,"
    "  pop                INTEGER NOT NULL,"
    "  max_token_lifetime INTEGER NOT NULL CHECK (max_token_lifetime >= 0),"
    "  secret_mac         BLOB CHECK (secret_mac IS NULL OR length(secret_mac) = 32),"
    "  jwks               TEXT,"
    "  tls_subject_dn     TEXT,"
    "  tls_san_dns        TEXT,"
    "  tls_san_uri        TEXT,"
    "  cert_x5t           TEXT,"
    /* one agent per SPIFFE ID: an ambiguous identity must not authenticate */
    "  spiffe_id          TEXT UNIQUE,"
    "  tokens_not_before  INTEGER NOT NULL,"
    "  created_at         INTEGER NOT NULL,"
    "  updated_at         INTEGER NOT NULL"
    ") STRICT;"

    "CREATE TABLE tools ("
    "  id       TEXT PRIMARY KEY NOT NULL,"
    /* one tool per resource: the token's aud names exactly one tool */
    "  resource TEXT UNIQUE,"
    "  upstream TEXT,"
    "  kind     TEXT"
    ") STRICT;"

    "CREATE TABLE tool_endpoints ("
    "  tool_id  TEXT NOT NULL REFERENCES tools (id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL,"
    "  method   TEXT NOT NULL,"
    "  path     TEXT NOT NULL,"
    "  action   INTEGER NOT NULL,"
    "  risk     INTEGER NOT NULL,"
    "  PRIMARY KEY (tool_id, position)"
    ") STRICT, WITHOUT ROWID;"

    "CREATE TABLE grants ("
    "  agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,"
    "  tool_id  TEXT NOT NULL REFERENCES tools (id) ON DELETE CASCADE,"
    "  actions  INTEGER NOT NULL,"
    "  PRIMARY KEY (agent_id, tool_id)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX grants_by_tool ON grants (tool_id);"

    "CREATE TABLE grant_endpoints ("
    "  agent_id TEXT NOT NULL,"
    "  tool_id  TEXT NOT NULL,"
    "  position INTEGER NOT NULL,"
    "  endpoint TEXT NOT NULL,"
    "  PRIMARY KEY (agent_id, tool_id, position),"
    "  FOREIGN KEY (agent_id, tool_id) REFERENCES grants (agent_id, tool_id)"
    "    ON DELETE CASCADE"
    ") STRICT, WITHOUT ROWID;"

    "CREATE TABLE signing_keys ("
    "  kid          TEXT PRIMARY KEY NOT NULL,"
    "  alg          TEXT NOT NULL,"
    "  state        INTEGER NOT NULL,"
    "  sealed       BLOB NOT NULL,"
    "  public_jwk   TEXT NOT NULL,"
    "  created_at   INTEGER NOT NULL,"
    "  activated_at INTEGER NOT NULL,"
    "  retired_at   INTEGER NOT NULL"
    ") STRICT;"
    /* at most one key signs (state 2 = TG_KEYSTATE_CURRENT) */
    "CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state)"
    "  WHERE state = 2;"

    "CREATE TABLE revocations ("
    "  jti TEXT PRIMARY KEY NOT NULL,"
    "  exp INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX revocations_by_exp ON revocations (exp);"

    "CREATE TABLE blobs ("
    "  name  TEXT PRIMARY KEY NOT NULL,"
    "  value BLOB NOT NULL"
    ") STRICT;";

/* Version 2: agents.introspect (RFC 7662 §4: who may introspect tokens
 * issued to others). Existing agents get 0: none of them gains a right by
 * the upgrade. ALTER TABLE ... ADD COLUMN keeps the rows and STRICT. */
static const char schema_v2[] =
    "ALTER TABLE agents ADD COLUMN"
    "  introspect INTEGER NOT NULL DEFAULT 0 CHECK (introspect IN (0, 1));";

const struct tg_sq_migration tg_sq_migrations[] = {
    {"inventory, signing keys, revocations, blobs", schema_v1},
    {"agents.introspect", schema_v2},
};
const int tg_sq_migrations_count = (int)(sizeof(tg_sq_migrations) / sizeof(tg_sq_migrations[0]));

/* The version table holds one row. Created inside the first transaction so
 * two processes opening a new file at once cannot both bootstrap it. */
static const char bootstrap_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "  id      INTEGER PRIMARY KEY CHECK (id = 1),"
    "  version INTEGER NOT NULL CHECK (version >= 0)"
    ") STRICT;"
    "INSERT OR IGNORE INTO schema_version (id, version) VALUES (1, 0);";

static enum tg_err
exec(sqlite3 *db, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc;

    rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        tg_log_warnx("store: %s: %s", what, msg != NULL ? msg : sqlite3_errstr(rc));
        tg_err_raise(TG_ERR_STORE, "sqlite %s: %s (%d)", what,
                     msg != NULL ? msg : sqlite3_errstr(rc), rc);
        sqlite3_free(msg);
        return TG_ERR_STORE;
    }
    return TG_OK;
}

static enum tg_err
read_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv = TG_ERR_STORE;
    sqlite3_int64 v;
    int rc;

    rc = sqlite3_prepare_v2(db, "SELECT version FROM schema_version WHERE id = 1", -1, &st,
                            NULL);
    if (rc != SQLITE_OK) {
        tg_err_raise(rv, "sqlite read schema version: %s", sqlite3_errmsg(db));
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        tg_err_raise(rv, "sqlite read schema version: %s", sqlite3_errmsg(db));
        goto out;
    }
    v = sqlite3_column_int64(st, 0);
    if (v < 0 || v > 1000000) {
        tg_err_raise(rv, "schema version %lld out of range", (long long)v);
        goto out;
    }
    *out = (int)v;
    rv = TG_OK;
out:
    sqlite3_finalize(st);
    return rv;
}

static enum tg_err
write_version(sqlite3 *db, int version)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db, "UPDATE schema_version SET version = ?1 WHERE id = 1", -1, &st,
                            NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 1, version);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        tg_err_raise(TG_ERR_STORE, "sqlite write schema version: %s", sqlite3_errmsg(db));
        return TG_ERR_STORE;
    }
    return TG_OK;
}

/* One transaction: read the version and apply at most one step. *done when
 * the database is at n_steps. */
static enum tg_err
migrate_one(sqlite3 *db, const struct tg_sq_migration *steps, int n_steps, int *version,
            int *done)
{
    enum tg_err rv;
    int v = 0;

    TG_GUARD(exec(db, "BEGIN IMMEDIATE", "begin migration"));
    TG_TRY(exec(db, bootstrap_sql, "create schema_version"));
    TG_TRY(read_version(db, &v));
    if (v > n_steps) {
        tg_log_warnx("store: database schema version %d is newer than this build's %d; "
                     "refusing to open it", v, n_steps);
        TG_FAIL(TG_ERR_STORE, "schema version %d newer than supported %d", v, n_steps);
    }
    if (v == n_steps) {
        *done = 1;
    } else {
        TG_TRY(exec(db, steps[v].sql, steps[v].name));
        TG_TRY(write_version(db, v + 1));
        v++;
    }
    TG_TRY(exec(db, "COMMIT", "commit migration"));
    if (!*done)
        tg_log_info("store: schema migrated to version %d (%s)", v, steps[v - 1].name);
    *version = v;
out:
    if (rv != TG_OK && !sqlite3_get_autocommit(db))
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rv;
}

enum tg_err
tg_sq_migrate(sqlite3 *db, const struct tg_sq_migration *steps, int n_steps, int *version)
{
    int done = 0, v = 0, rounds;

    TG_ENSURE(db != NULL && version != NULL && n_steps >= 0 && (steps != NULL || n_steps == 0),
              TG_ERR_INVALID_ARG, "migrate: bad arguments");
    /* n_steps + 1 rounds at most: each applies one step or finds none left. */
    for (rounds = 0; !done && rounds <= n_steps; rounds++)
        TG_GUARD(migrate_one(db, steps, n_steps, &v, &done));
    TG_ENSURE(done, TG_ERR_STORE, "migration did not converge at version %d", v);
    *version = v;
    return TG_OK;
}
