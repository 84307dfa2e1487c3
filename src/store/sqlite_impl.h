/* Internals of the SQLite store, shared by sqlite*.c (and white-box tests).
 *
 * One connection behind one mutex (`db_lock`). Every SQLite call happens
 * with db_lock held, and nothing but SQLite calls (and the mallocs that copy
 * rows out) happens while it is held. A transaction opened by tg_store_begin
 * belongs to the thread that opened it: other threads wait on `tx_cond`
 * (not holding db_lock) until it is committed or rolled back, so their
 * writes never join, or get rolled back with, someone else's transaction. */
#ifndef TG_STORE_SQLITE_IMPL_H
#define TG_STORE_SQLITE_IMPL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store.h"

/* Every prepared statement, prepared on first use and cached for the life of
 * the connection. The SQL text sits next to the code that runs it. */
enum tg_sq_stmt {
    /* transaction control */
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_SAVEPOINT,
    SQ_RELEASE,
    SQ_ROLLBACK_TO,
    SQ_SCHEMA_VERSION,
    /* agents */
    SQ_AGENT_INSERT,
    SQ_AGENT_PUT,
    SQ_AGENT_GET,
    SQ_AGENT_FIND_SPIFFE,
    SQ_AGENT_LIST,
    SQ_AGENT_DISABLE,
    SQ_AGENT_ENABLE,
    SQ_AGENT_SET_SECRET,
    SQ_AGENT_DELETE,
    /* tools and endpoints */
    SQ_TOOL_UPSERT,
    SQ_TOOL_ENDPOINTS_CLEAR,
    SQ_TOOL_ENDPOINT_INSERT,
    SQ_TOOL_GET,
    SQ_TOOL_FIND_RESOURCE,
    SQ_TOOL_LIST,
    SQ_TOOL_DELETE,
    /* grants */
    SQ_GRANT_UPSERT,
    SQ_GRANT_ENDPOINTS_CLEAR,
    SQ_GRANT_ENDPOINT_INSERT,
    SQ_GRANT_LIST_AGENT,
    SQ_GRANT_LIST_ALL,
    SQ_GRANT_DELETE,
    /* signing keys */
    SQ_KEY_PUT,
    SQ_KEY_LIST,
    SQ_KEY_SET_STATE,
    /* revocations */
    SQ_REVOKE,
    SQ_IS_REVOKED,
    SQ_PURGE,
    /* blobs */
    SQ_BLOB_PUT,
    SQ_BLOB_GET,
    /* change detection */
    SQ_DATA_VERSION,
    SQ_REVOKED_LIST,
    SQ__COUNT
};

struct tg_store {
    pthread_mutex_t db_lock; /* guards everything below */
    pthread_cond_t tx_cond;  /* broadcast when a tg_store_begin transaction ends */
    sqlite3 *db;
    sqlite3_stmt *stmts[SQ__COUNT];
    int tx_open;         /* a tg_store_begin transaction is open ... */
    pthread_t tx_owner;  /* ... and belongs to this thread */
    int version;         /* schema version after open */
    /* The wal-index header (first page of the "-shm" file, mapped read-only)
     * or NULL: tg_store_wal_stamp reads its change counter. */
    const volatile uint32_t *shm;
    size_t shm_len;
};

/* Take db_lock, first waiting out a transaction owned by another thread.
 * Fails (lock released) when this thread's transaction was rolled back
 * behind its back by SQLite (I/O error, disk full): every later call in it
 * fails until the owner rolls back, so no write silently autocommits. */
enum tg_err tg_sq_lock(struct tg_store *s) TG_MUST_CHECK;
/* Release db_lock, then (the log is I/O, never done under the lock) log a
 * storage failure's detail. Returns rv. */
enum tg_err tg_sq_unlock(struct tg_store *s, enum tg_err rv);

/* The cached statement `id`, prepared from `sql` on first use. */
enum tg_err tg_sq_prepare(struct tg_store *s, enum tg_sq_stmt id, const char *sql,
                          sqlite3_stmt **out) TG_MUST_CHECK;
/* Reset a statement after use and drop its bindings (NULL is fine). */
void tg_sq_done(sqlite3_stmt *st);
/* Map a SQLite result code to a tg_err and record the detail (read under
 * db_lock; logged by tg_sq_unlock). Constraint kinds: primary key / unique -> CONFLICT,
 * foreign key -> NOT_FOUND, check / not null -> INVALID_ARG. */
enum tg_err tg_sq_error(struct tg_store *s, int rc, const char *what) TG_MUST_CHECK;
/* Step a statement that returns no rows. */
enum tg_err tg_sq_step_done(struct tg_store *s, sqlite3_stmt *st, const char *what) TG_MUST_CHECK;
/* Run a cached statement without parameters or rows (transaction control). */
enum tg_err tg_sq_run(struct tg_store *s, enum tg_sq_stmt id, const char *sql,
                      const char *what) TG_MUST_CHECK;

/* Binding with an accumulated result: each does nothing once *rc is set. A
 * NULL string binds SQL NULL. Strings are bound SQLITE_STATIC: they must
 * outlive the step. */
void tg_sq_bind_text(sqlite3_stmt *st, int idx, const char *v, int *rc);
void tg_sq_bind_int64(sqlite3_stmt *st, int idx, int64_t v, int *rc);
void tg_sq_bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t len, int *rc);

/* Copy a TEXT column (NULL stays NULL). */
enum tg_err tg_sq_col_strdup(sqlite3_stmt *st, int col, char **out) TG_MUST_CHECK;

/* Atomic multi-statement writes: BEGIN IMMEDIATE outside a transaction, a
 * savepoint inside one (so a failed tool_put inside `apply` undoes only
 * itself). _end commits / releases when rv is TG_OK, rolls back otherwise,
 * and returns the final result. Called with db_lock held. */
enum tg_err tg_sq_write_begin(struct tg_store *s) TG_MUST_CHECK;
enum tg_err tg_sq_write_end(struct tg_store *s, enum tg_err rv) TG_MUST_CHECK;

#endif
