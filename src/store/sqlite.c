/* The SQLite store: opening (pragmas, migrations), the statement cache, the
 * lock, transactions and the helpers the per-table files share. The tables
 * themselves live in sqlite_agents.c, sqlite_tools.c and sqlite_keys.c. */
#include "store/sqlite_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/sqlite_schema.h"

static void map_wal_index(struct tg_store *s);

/* How long a writer waits for another process (e.g. the CLI next to the
 * daemon) to finish its transaction before giving up with TG_ERR_STORE. */
#define TG_STORE_BUSY_TIMEOUT_MS 5000

enum tg_err
tg_sq_error(struct tg_store *s, int rc, const char *what)
{
    const char *msg = (s != NULL && s->db != NULL) ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    enum tg_err err;

    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        err = TG_ERR_CONFLICT;
        break;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        err = TG_ERR_NOT_FOUND;
        break;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_DATATYPE:
        err = TG_ERR_INVALID_ARG;
        break;
    case SQLITE_NOMEM:
        err = TG_ERR_NOMEM;
        break;
    case SQLITE_TOOBIG:
        err = TG_ERR_TOO_LARGE;
        break;
    default:
        err = TG_ERR_STORE;
        break;
    }
    /* Constraint messages name the table and column, never a value. */
    tg_err_raise(err, "sqlite %s: %s (%d)", what, msg, rc);
    return err;
}

enum tg_err
tg_sq_lock(struct tg_store *s)
{
    pthread_t self = pthread_self();

    pthread_mutex_lock(&s->db_lock);
    while (s->tx_open && !pthread_equal(s->tx_owner, self))
        pthread_cond_wait(&s->tx_cond, &s->db_lock);
    if (s->tx_open && sqlite3_get_autocommit(s->db)) {
        tg_err_raise(TG_ERR_STORE, "the open transaction was rolled back by SQLite; "
                                   "call tg_store_rollback");
        return tg_sq_unlock(s, TG_ERR_STORE);
    }
    return TG_OK;
}

enum tg_err
tg_sq_unlock(struct tg_store *s, enum tg_err rv)
{
    pthread_mutex_unlock(&s->db_lock);
    if (rv == TG_ERR_STORE || rv == TG_ERR_NOMEM || rv == TG_ERR_INTERNAL)
        tg_log_warnx("store: %s", tg_err_detail());
    return rv;
}

enum tg_err
tg_sq_prepare(struct tg_store *s, enum tg_sq_stmt id, const char *sql, sqlite3_stmt **out)
{
    int rc;

    *out = NULL;
    TG_ENSURE((unsigned)id < SQ__COUNT, TG_ERR_INTERNAL, "bad statement id %d", (int)id);
    if (s->stmts[id] == NULL) {
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL);
        if (rc != SQLITE_OK) {
            s->stmts[id] = NULL;
            return tg_sq_error(s, rc, "prepare");
        }
    }
    *out = s->stmts[id];
    return TG_OK;
}

void
tg_sq_done(sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

enum tg_err
tg_sq_step_done(struct tg_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_DONE)
        return TG_OK;
    if (rc == SQLITE_ROW) {
        tg_err_raise(TG_ERR_INTERNAL, "%s: statement returned a row", what);
        return TG_ERR_INTERNAL;
    }
    return tg_sq_error(s, rc, what);
}

enum tg_err
tg_sq_run(struct tg_store *s, enum tg_sq_stmt id, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;

    TG_GUARD(tg_sq_prepare(s, id, sql, &st));
    rv = tg_sq_step_done(s, st, what);
    tg_sq_done(st);
    return rv;
}

void
tg_sq_bind_text(sqlite3_stmt *st, int idx, const char *v, int *rc)
{
    if (*rc != SQLITE_OK)
        return;
    *rc = v != NULL ? sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, idx);
}

void
tg_sq_bind_int64(sqlite3_stmt *st, int idx, int64_t v, int *rc)
{
    if (*rc != SQLITE_OK)
        return;
    *rc = sqlite3_bind_int64(st, idx, (sqlite3_int64)v);
}

void
tg_sq_bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t len, int *rc)
{
    if (*rc != SQLITE_OK)
        return;
    if (p == NULL)
        *rc = sqlite3_bind_null(st, idx);
    else if (len == 0) /* an empty blob, not SQL NULL */
        *rc = sqlite3_bind_zeroblob(st, idx, 0);
    else
        *rc = sqlite3_bind_blob64(st, idx, p, (sqlite3_uint64)len, SQLITE_STATIC);
}

enum tg_err
tg_sq_col_strdup(sqlite3_stmt *st, int col, char **out)
{
    const unsigned char *v;
    int len;

    *out = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return TG_OK;
    v = sqlite3_column_text(st, col);
    len = sqlite3_column_bytes(st, col);
    TG_ENSURE(v != NULL && len >= 0, TG_ERR_NOMEM, "sqlite column text");
    *out = malloc((size_t)len + 1);
    TG_ENSURE(*out != NULL, TG_ERR_NOMEM, "copy column");
    memcpy(*out, v, (size_t)len);
    (*out)[len] = '\0';
    return TG_OK;
}

/* Undo statements (ROLLBACK, ROLLBACK TO, RELEASE) run on a path that has
 * already failed, whose error is the one returned. Should the undo fail
 * too, its detail (the graver news) replaces the first one in the log. */
static void
run_undo(struct tg_store *s, enum tg_sq_stmt id, const char *sql)
{
    enum tg_err rv = tg_sq_run(s, id, sql, sql);

    (void)rv;
}

enum tg_err
tg_sq_write_begin(struct tg_store *s)
{
    if (s->tx_open)
        return tg_sq_run(s, SQ_SAVEPOINT, "SAVEPOINT tg_write", "savepoint");
    return tg_sq_run(s, SQ_BEGIN, "BEGIN IMMEDIATE", "begin");
}

enum tg_err
tg_sq_write_end(struct tg_store *s, enum tg_err rv)
{
    if (s->tx_open) {
        if (rv == TG_OK)
            rv = tg_sq_run(s, SQ_RELEASE, "RELEASE tg_write", "release");
        if (rv != TG_OK && !sqlite3_get_autocommit(s->db)) {
            /* Undo only this write; the caller's transaction goes on. */
            run_undo(s, SQ_ROLLBACK_TO, "ROLLBACK TO tg_write");
            run_undo(s, SQ_RELEASE, "RELEASE tg_write");
        }
        return rv;
    }
    if (rv == TG_OK)
        rv = tg_sq_run(s, SQ_COMMIT, "COMMIT", "commit");
    if (rv != TG_OK && !sqlite3_get_autocommit(s->db))
        run_undo(s, SQ_ROLLBACK, "ROLLBACK");
    return rv;
}

/* Create the file owner-only before SQLite does (SQLite would use 0644 less
 * the umask): it holds secret HMACs and sealed keys. SQLite gives its -wal
 * and -shm files the database file's mode. An existing file keeps its mode. */
static enum tg_err
create_private(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        tg_log_warn("store: %s", path);
        tg_err_raise(TG_ERR_STORE, "open %s: %s", path, strerror(errno));
        return TG_ERR_STORE;
    }
    close(fd);
    return TG_OK;
}

/* Run a PRAGMA and check the single value it returns (when `want` is set). */
static enum tg_err
pragma(sqlite3 *db, const char *sql, const char *want)
{
    sqlite3_stmt *st = NULL;
    const char *got;
    enum tg_err rv = TG_OK;
    int rc;

    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        tg_log_warnx("store: %s: %s", sql, sqlite3_errmsg(db));
        tg_err_raise(TG_ERR_STORE, "sqlite %s: %s (%d)", sql, sqlite3_errmsg(db), rc);
        rv = TG_ERR_STORE;
    } else if (want != NULL) {
        got = (const char *)sqlite3_column_text(st, 0);
        if (got == NULL || strcmp(got, want) != 0) {
            tg_log_warnx("store: %s gave %s, want %s", sql, got != NULL ? got : "nothing", want);
            tg_err_raise(TG_ERR_STORE, "%s gave %s, want %s", sql,
                         got != NULL ? got : "nothing", want);
            rv = TG_ERR_STORE;
        }
    }
    sqlite3_finalize(st);
    return rv;
}

static enum tg_err
configure(sqlite3 *db)
{
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, TG_STORE_BUSY_TIMEOUT_MS);
    /* No writable_schema tricks, no functions with side effects in the schema. */
    (void)sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    (void)sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    /* WAL: readers never block the writer; persistent in the file. */
    TG_GUARD(pragma(db, "PRAGMA journal_mode = WAL", "wal"));
    /* In WAL mode NORMAL is durable against corruption; a power cut may
     * lose the last commits, never consistency. */
    TG_GUARD(pragma(db, "PRAGMA synchronous = NORMAL", NULL));
    /* Per connection and off by default: the cascades depend on it. */
    TG_GUARD(pragma(db, "PRAGMA foreign_keys = ON", NULL));
    TG_GUARD(pragma(db, "PRAGMA foreign_keys", "1"));
    return TG_OK;
}

enum tg_err
tg_store_open_sqlite(const char *path, struct tg_store **out)
{
    struct tg_store *s = NULL;
    enum tg_err rv;
    int rc;

    TG_ENSURE(path != NULL && out != NULL && path[0] != '\0', TG_ERR_INVALID_ARG,
              "store open: missing path");
    *out = NULL;
    TG_GUARD(create_private(path));
    s = calloc(1, sizeof(*s));
    TG_ENSURE(s != NULL, TG_ERR_NOMEM, "store open");
    pthread_mutex_init(&s->db_lock, NULL);
    pthread_cond_init(&s->tx_cond, NULL);

    /* NOMUTEX: db_lock already serializes every use of the connection. */
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        tg_log_warnx("store: open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        TG_FAIL(TG_ERR_STORE, "sqlite open %s: %s", path, sqlite3_errstr(rc));
    }
    TG_TRY(configure(s->db));
    TG_TRY(tg_sq_migrate(s->db, tg_sq_migrations, tg_sq_migrations_count, &s->version));
    map_wal_index(s);
    *out = s;
    s = NULL;
out:
    tg_store_close(s);
    return rv;
}

void
tg_store_close(struct tg_store *s)
{
    int i;

    if (s == NULL)
        return;
    if (s->shm != NULL)
        munmap((void *)(uintptr_t)s->shm, s->shm_len);
    for (i = 0; i < SQ__COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    /* Closing with a transaction open rolls it back. */
    if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
        tg_log_warnx("store: close: %s", sqlite3_errmsg(s->db));
    pthread_cond_destroy(&s->tx_cond);
    pthread_mutex_destroy(&s->db_lock);
    free(s);
}

int
tg_store_schema_version(struct tg_store *s)
{
    return s != NULL ? s->version : -1;
}

enum tg_err
tg_store_begin(struct tg_store *s)
{
    pthread_t self = pthread_self();
    enum tg_err rv;

    TG_ENSURE(s != NULL, TG_ERR_INVALID_ARG, "begin: no store");
    pthread_mutex_lock(&s->db_lock);
    if (s->tx_open && pthread_equal(s->tx_owner, self)) {
        tg_err_raise(TG_ERR_INVALID_ARG, "begin: a transaction is already open on this thread");
        return tg_sq_unlock(s, TG_ERR_INVALID_ARG);
    }
    while (s->tx_open)
        pthread_cond_wait(&s->tx_cond, &s->db_lock);
    /* IMMEDIATE: take the write lock now, so no statement later in the
     * transaction can fail to upgrade a read lock. */
    rv = tg_sq_run(s, SQ_BEGIN, "BEGIN IMMEDIATE", "begin");
    if (rv == TG_OK) {
        s->tx_open = 1;
        s->tx_owner = self;
    }
    return tg_sq_unlock(s, rv);
}

/* With db_lock held: 1 when this thread owns the open transaction. */
static int
owns_tx(struct tg_store *s)
{
    return s->tx_open && pthread_equal(s->tx_owner, pthread_self());
}

static void
end_tx(struct tg_store *s)
{
    s->tx_open = 0;
    pthread_cond_broadcast(&s->tx_cond);
}

enum tg_err
tg_store_commit(struct tg_store *s)
{
    enum tg_err rv;

    TG_ENSURE(s != NULL, TG_ERR_INVALID_ARG, "commit: no store");
    pthread_mutex_lock(&s->db_lock);
    if (!owns_tx(s)) {
        tg_err_raise(TG_ERR_INVALID_ARG, "commit: no transaction open on this thread");
        return tg_sq_unlock(s, TG_ERR_INVALID_ARG);
    }
    /* Fails too when SQLite already rolled the transaction back. */
    rv = tg_sq_run(s, SQ_COMMIT, "COMMIT", "commit");
    if (rv != TG_OK && !sqlite3_get_autocommit(s->db))
        run_undo(s, SQ_ROLLBACK, "ROLLBACK");
    end_tx(s);
    return tg_sq_unlock(s, rv);
}

void
tg_store_rollback(struct tg_store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->db_lock);
    if (owns_tx(s)) {
        if (!sqlite3_get_autocommit(s->db))
            run_undo(s, SQ_ROLLBACK, "ROLLBACK");
        end_tx(s);
    }
    (void)tg_sq_unlock(s, TG_OK);
}

uint64_t
tg_store_version(struct tg_store *s)
{
    sqlite3_stmt *st = NULL;
    uint64_t v = 0;

    if (tg_sq_lock(s) != TG_OK)
        return 0;
    if (tg_sq_prepare(s, SQ_DATA_VERSION, "PRAGMA data_version", &st) == TG_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = ((uint64_t)sqlite3_column_int64(st, 0) << 32) ^
            (uint64_t)sqlite3_total_changes64(s->db) ^ 1; /* never 0 on success */
    tg_sq_done(st);
    TG_IGNORE(tg_sq_unlock(s, TG_OK));
    return v;
}

uint64_t
tg_store_local_changes(struct tg_store *s)
{
    return (uint64_t)sqlite3_total_changes64(s->db);
}

/* The wal-index header of the unix VFS (https://sqlite.org/walformat.html
 * §2.1, "The WAL-Index Header"): two 48-byte copies at the start of the
 * "-shm" file, in native byte order; u32 iChange at byte 8 is incremented by
 * every transaction that writes the header (each commit, each WAL restart),
 * u32 mxFrame at byte 16, the WAL salts at bytes 32..39. The file is
 * truncated only by a connection that opens it while no other connection
 * holds it, and ours is open until tg_store_close: mapping it is safe. */
#define WAL_INDEX_HDR_WORDS 12

static void
map_wal_index(struct tg_store *s)
{
    const char *db = sqlite3_db_filename(s->db, "main");
    char shm[4096];
    struct stat st;
    void *p;
    int fd;

    if (db == NULL || db[0] == '\0' || snprintf(shm, sizeof(shm), "%s-shm", db) >= (int)sizeof(shm))
        return;
    fd = open(shm, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)(2 * WAL_INDEX_HDR_WORDS * 4)) {
        p = mmap(NULL, (size_t)(2 * WAL_INDEX_HDR_WORDS * 4), PROT_READ, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            s->shm = p;
            s->shm_len = 2 * WAL_INDEX_HDR_WORDS * 4;
        }
    }
    close(fd);
}

uint64_t
tg_store_wal_stamp(struct tg_store *s)
{
    const char *db;
    char wal[4096];
    struct stat st;
    uint64_t v;

    if (s->shm != NULL) {
        /* No syscall, no lock: a torn read only makes the stamp differ,
         * and then the caller asks SQLite (tg_store_version). */
        v = ((uint64_t)s->shm[2] << 32 | s->shm[4]) ^ ((uint64_t)s->shm[8] << 16) ^ s->shm[9];
        return v != 0 ? v : 1;
    }
    /* No wal-index mapped (another VFS, a file we could not open): the WAL
     * file's size, modification time and inode, one stat(2). */
    db = sqlite3_db_filename(s->db, "main");
    if (db == NULL || snprintf(wal, sizeof(wal), "%s-wal", db) >= (int)sizeof(wal) ||
        stat(wal, &st) != 0)
        return 0;
    return ((uint64_t)st.st_size * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)st.st_mtim.tv_nsec ^
           ((uint64_t)st.st_mtim.tv_sec << 20) ^ ((uint64_t)st.st_ino << 40) ^ 1;
}
