/* Schema migrations: a new (empty) file is brought to the latest version; a
 * database at an older version is migrated step by step with its data kept;
 * a step that fails leaves the previous version intact; a database from a
 * newer build is refused and left untouched; a file that is not a database
 * is refused. */
#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "core/log.h"
#include "store/sqlite_schema.h"
#include "store/store.h"
#include "store/store_test_util.h"

static const char *const tables[] = {"agents", "tools", "tool_endpoints", "grants",
                                     "grant_endpoints", "signing_keys", "revocations", "blobs",
                                     "schema_version"};

static void
test_from_empty_file(void)
{
    const char *path = t_db_path("empty");
    struct tg_store *s = NULL;
    char sql[200];
    size_t i;
    int fd;

    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600); /* version 0: zero bytes */
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK_OK(tg_store_open_sqlite(path, &s));
    CHECK(tg_store_schema_version(s) == tg_sq_migrations_count);
    tg_store_close(s);
    CHECK(t_file_sql_int(path, "SELECT version FROM schema_version") == tg_sq_migrations_count);
    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'",
                 tables[i]);
        CHECK(t_file_sql_int(path, sql) == 1);
    }
    /* Opening again applies nothing and keeps one version row. */
    s = NULL;
    CHECK_OK(tg_store_open_sqlite(path, &s));
    CHECK(tg_store_schema_version(s) == tg_sq_migrations_count);
    tg_store_close(s);
    CHECK(t_file_sql_int(path, "SELECT count(*) FROM schema_version") == 1);
}

static void
test_future_version_refused(void)
{
    const char *path = t_db_path("future");
    struct tg_store *s = NULL;
    char sql[100];

    CHECK_OK(tg_store_open_sqlite(path, &s));
    CHECK_OK(tg_store_blob_put(s, "marker", (const uint8_t *)"m", 1));
    tg_store_close(s);
    snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d",
             tg_sq_migrations_count + 1);
    CHECK(t_file_sql_exec(path, sql) == SQLITE_OK);

    s = (struct tg_store *)1;
    CHECK_ERR(tg_store_open_sqlite(path, &s), TG_ERR_STORE);
    CHECK(s == NULL);
    /* Left untouched. */
    CHECK(t_file_sql_int(path, "SELECT version FROM schema_version") ==
          tg_sq_migrations_count + 1);
    CHECK(t_file_sql_int(path, "SELECT count(*) FROM blobs") == 1);
}

static void
test_not_a_database(void)
{
    const char *path = t_db_path("garbage");
    struct tg_store *s = NULL;
    char junk[4096];
    int fd;

    memset(junk, 'x', sizeof(junk));
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    if (fd >= 0)
        close(fd);
    CHECK_ERR(tg_store_open_sqlite(path, &s), TG_ERR_STORE);
    CHECK(s == NULL);
}

/* A data directory written by the version-1 schema (before agents.introspect)
 * opens: its agents are kept, none may introspect, and the new column is
 * read and written from then on. */
static void
test_v1_to_v2_introspect(void)
{
    const char *path = t_db_path("v1");
    struct tg_store *s = NULL;
    struct tg_agent a, got;
    sqlite3 *db = NULL;
    int v = -1;

    memset(&a, 0, sizeof(a));
    memset(&got, 0, sizeof(got));
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK_OK(tg_sq_migrate(db, tg_sq_migrations, 1, &v));
    CHECK(v == 1);
    CHECK(sqlite3_exec(db,
                       "INSERT INTO agents (id, type, owner, status, auth_method, pop,"
                       " max_token_lifetime, tokens_not_before, created_at, updated_at)"
                       " VALUES ('old-agent', 1, 'o@example.com', 1, 1, 1, 0, 0, 10, 10)",
                       NULL, NULL, NULL) == SQLITE_OK);
    CHECK(t_sql_int(db, "SELECT count(*) FROM pragma_table_info('agents') "
                        "WHERE name = 'introspect'") == 0);
    sqlite3_close(db);

    CHECK(tg_sq_migrations_count >= 2);
    CHECK_OK(tg_store_open_sqlite(path, &s));
    CHECK(tg_store_schema_version(s) == tg_sq_migrations_count);
    CHECK_OK(tg_store_agent_get(s, "old-agent", &got));
    CHECK(t_streq(got.owner, "o@example.com") && got.created_at == 10);
    CHECK(got.introspect == 0);
    CHECK_OK(tg_agent_copy(&got, &a));
    a.introspect = 1;
    CHECK_OK(tg_store_agent_put(s, &a));
    tg_agent_reset(&got);
    CHECK_OK(tg_store_agent_get(s, "old-agent", &got));
    CHECK(got.introspect == 1);
    tg_agent_reset(&got);
    tg_agent_reset(&a);
    tg_store_close(s);
    CHECK(t_file_sql_int(path, "SELECT version FROM schema_version") == tg_sq_migrations_count);
}

/* The runner on a schema of its own. */
static const struct tg_sq_migration steps[] = {
    {"one", "CREATE TABLE t1 (x INTEGER NOT NULL) STRICT;"},
    {"two", "CREATE TABLE t2 (y TEXT) STRICT; ALTER TABLE t1 ADD COLUMN z TEXT;"},
    /* fails after its first statement: the whole step must roll back */
    {"bad", "CREATE TABLE t3 (w INTEGER); INSERT INTO no_such_table VALUES (1);"},
};

static sqlite3 *
raw_open(const char *name)
{
    sqlite3 *db = NULL;

    if (sqlite3_open(t_db_path(name), &db) != SQLITE_OK) {
        fprintf(stderr, "cannot open %s\n", t_db_path(name));
        exit(2);
    }
    return db;
}

static void
test_runner_steps(void)
{
    sqlite3 *db = raw_open("runner");
    int v = -1;

    CHECK_OK(tg_sq_migrate(db, steps, 0, &v));
    CHECK(v == 0);
    CHECK(t_sql_int(db, "SELECT version FROM schema_version") == 0);

    CHECK_OK(tg_sq_migrate(db, steps, 1, &v));
    CHECK(v == 1);
    CHECK(sqlite3_exec(db, "INSERT INTO t1 (x) VALUES (42)", NULL, NULL, NULL) == SQLITE_OK);

    /* An older database is migrated forward, its data kept. */
    CHECK_OK(tg_sq_migrate(db, steps, 2, &v));
    CHECK(v == 2);
    CHECK(t_sql_int(db, "SELECT version FROM schema_version") == 2);
    CHECK(t_sql_int(db, "SELECT x FROM t1 WHERE z IS NULL") == 42);
    CHECK(t_sql_int(db, "SELECT count(*) FROM t2") == 0);

    /* A failing step leaves the database at the version before it. */
    v = -1;
    CHECK_ERR(tg_sq_migrate(db, steps, 3, &v), TG_ERR_STORE);
    CHECK(t_sql_int(db, "SELECT version FROM schema_version") == 2);
    CHECK(t_sql_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't3'") == 0);
    CHECK(sqlite3_get_autocommit(db)); /* no transaction left open */

    /* This "build" knows one step; the database has two: refused. */
    CHECK_ERR(tg_sq_migrate(db, steps, 1, &v), TG_ERR_STORE);
    CHECK(t_sql_int(db, "SELECT version FROM schema_version") == 2);
    sqlite3_close(db);
}

/* Two steps at once from version 0: each applied in order. */
static void
test_runner_from_zero(void)
{
    sqlite3 *db = raw_open("runner0");
    int v = -1;

    CHECK_OK(tg_sq_migrate(db, steps, 2, &v));
    CHECK(v == 2);
    CHECK(t_sql_int(db, "SELECT count(*) FROM pragma_table_info('t1') WHERE name = 'z'") == 1);
    CHECK_ERR(tg_sq_migrate(NULL, steps, 2, &v), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_sq_migrate(db, NULL, 2, &v), TG_ERR_INVALID_ARG);
    sqlite3_close(db);
}

int
main(void)
{
    /* The negative tests make the store log warnings on purpose. */
    tg_log_set_level(TG_LOG_ERROR);
    t_dir_make();
    RUN(test_from_empty_file);
    RUN(test_future_version_refused);
    RUN(test_not_a_database);
    RUN(test_v1_to_v2_introspect);
    RUN(test_runner_steps);
    RUN(test_runner_from_zero);
    t_dir_remove();
    return t_report("store/migrate");
}
