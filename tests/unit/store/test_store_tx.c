/* SQLite store transactions, persistence and concurrency, against real
 * files: rollback leaves nothing, a failed write inside a transaction undoes
 * only itself, a transaction belongs to its thread (others wait), holds the
 * write lock across handles, fails closed when SQLite ends it; data
 * survives reopening; four concurrent writers lose nothing. */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "core/log.h"
#include "store/sqlite_impl.h"
#include "store/sqlite_schema.h"
#include "store/store.h"
#include "store/store_test_util.h"

static void
test_tx_rollback_and_commit(void)
{
    struct tg_store *s = open_fresh("tx");
    struct tg_tool t;
    char *saved;

    CHECK_OK(tg_store_begin(s));
    write_one_of_each(s, "rolled");
    CHECK(count_one_of_each(s, "rolled") == 6); /* visible inside */
    CHECK_ERR(tg_store_begin(s), TG_ERR_INVALID_ARG); /* not nested */
    tg_store_rollback(s);
    CHECK(count_one_of_each(s, "rolled") == 0);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM grant_endpoints") == 0);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM tool_endpoints") == 0);

    CHECK_ERR(tg_store_commit(s), TG_ERR_INVALID_ARG); /* none open */
    tg_store_rollback(s);                              /* harmless */

    /* A failed write inside a transaction undoes only itself. */
    CHECK_OK(tg_store_begin(s));
    write_one_of_each(s, "kept");
    t_tool_make(&t, "half", 3);
    saved = t.endpoints[1].method;
    t.endpoints[1].method = NULL;
    CHECK_ERR(tg_store_tool_put(s, &t), TG_ERR_INVALID_ARG);
    t.endpoints[1].method = saved;
    tg_tool_reset(&t);
    CHECK_OK(tg_store_commit(s));
    CHECK(count_one_of_each(s, "kept") == 6);
    CHECK_ERR(tg_store_tool_get(s, "half", &t), TG_ERR_NOT_FOUND);

    /* Closing with a transaction open rolls it back. */
    CHECK_OK(tg_store_begin(s));
    write_one_of_each(s, "closed");
    tg_store_close(s);
    s = NULL;
    CHECK_OK(tg_store_open_sqlite(t_db_path("tx"), &s));
    if (s != NULL) {
        CHECK(count_one_of_each(s, "closed") == 0);
        CHECK(count_one_of_each(s, "kept") == 6);
    }
    tg_store_close(s);
}

struct waiter {
    struct tg_store *s;
    atomic_int done;
    enum tg_err rv;
};

static void *
insert_agent_y(void *arg)
{
    struct waiter *w = arg;
    struct tg_agent a;

    t_agent_min(&a, "Y");
    w->rv = tg_store_agent_insert(w->s, &a);
    tg_agent_reset(&a);
    atomic_store(&w->done, 1);
    return NULL;
}

/* Another thread's write waits for the transaction instead of joining it,
 * and survives its rollback. */
static void
test_tx_belongs_to_its_thread(void)
{
    struct tg_store *s = open_fresh("tx_thread");
    struct waiter w = {s, 0, TG_ERR_INTERNAL};
    struct tg_agent a, got;
    pthread_t th;

    t_agent_min(&a, "X");
    CHECK_OK(tg_store_begin(s));
    CHECK_OK(tg_store_agent_insert(s, &a));
    CHECK(pthread_create(&th, NULL, insert_agent_y, &w) == 0);
    sleep_ms(150);
    CHECK(atomic_load(&w.done) == 0); /* still waiting */
    tg_store_rollback(s);
    pthread_join(th, NULL);
    CHECK_OK(w.rv);
    CHECK_ERR(tg_store_agent_get(s, "X", &got), TG_ERR_NOT_FOUND);
    CHECK_OK(tg_store_agent_get(s, "Y", &got));
    tg_agent_reset(&got);
    tg_agent_reset(&a);
    tg_store_close(s);
}

static void *
tx_insert_agent_z(void *arg)
{
    struct waiter *w = arg;
    struct tg_agent a;

    t_agent_min(&a, "Z");
    w->rv = tg_store_begin(w->s);
    if (w->rv == TG_OK)
        w->rv = tg_store_agent_insert(w->s, &a);
    if (w->rv == TG_OK)
        w->rv = tg_store_commit(w->s);
    tg_agent_reset(&a);
    atomic_store(&w->done, 1);
    return NULL;
}

/* A second thread's begin waits for the first transaction to end. */
static void
test_tx_begin_waits(void)
{
    struct tg_store *s = open_fresh("tx_begin_waits");
    struct waiter w = {s, 0, TG_ERR_INTERNAL};
    struct tg_agent a, got;
    pthread_t th;

    t_agent_min(&a, "X");
    CHECK_OK(tg_store_begin(s));
    CHECK(pthread_create(&th, NULL, tx_insert_agent_z, &w) == 0);
    sleep_ms(150);
    CHECK(atomic_load(&w.done) == 0);
    CHECK_OK(tg_store_agent_insert(s, &a));
    CHECK_OK(tg_store_commit(s));
    pthread_join(th, NULL);
    CHECK_OK(w.rv);
    CHECK_OK(tg_store_agent_get(s, "X", &got));
    tg_agent_reset(&got);
    CHECK_OK(tg_store_agent_get(s, "Z", &got));
    tg_agent_reset(&got);
    tg_agent_reset(&a);
    tg_store_close(s);
}

/* When SQLite itself ends a transaction (it does on I/O errors, a full disk
 * or out of memory), later writes must not silently autocommit one by one:
 * they fail until the owner rolls back. Simulated with a raw ROLLBACK. */
static void
test_tx_lost_fails_closed(void)
{
    struct tg_store *s = open_fresh("tx_lost");
    uint8_t *p = NULL;
    size_t len = 0;

    CHECK_OK(tg_store_begin(s));
    CHECK_OK(tg_store_blob_put(s, "first", (const uint8_t *)"1", 1));
    CHECK(sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    CHECK_ERR(tg_store_blob_put(s, "second", (const uint8_t *)"2", 1), TG_ERR_STORE);
    CHECK(tg_store_is_revoked(s, "x") < 0);
    CHECK_ERR(tg_store_commit(s), TG_ERR_STORE);
    /* The transaction is over; the store works again, and nothing stuck. */
    CHECK_ERR(tg_store_blob_get(s, "first", &p, &len), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_store_blob_get(s, "second", &p, &len), TG_ERR_NOT_FOUND);
    CHECK_OK(tg_store_blob_put(s, "third", (const uint8_t *)"3", 1));

    /* Same, ended with rollback instead of commit. */
    CHECK_OK(tg_store_begin(s));
    CHECK(sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    CHECK_ERR(tg_store_revoke(s, "j", 5), TG_ERR_STORE);
    tg_store_rollback(s);
    CHECK(tg_store_is_revoked(s, "j") == 0);
    tg_store_close(s);
}

static void *
blob_put_other_handle(void *arg)
{
    struct waiter *w = arg;

    w->rv = tg_store_blob_put(w->s, "v", (const uint8_t *)"B", 1);
    atomic_store(&w->done, 1);
    return NULL;
}

/* Across two handles on one file (two processes): a transaction holds the
 * write lock from begin on, so a writer elsewhere waits (busy_timeout)
 * instead of invalidating what the transaction read. */
static void
test_tx_isolated_across_handles(void)
{
    const char *path = t_db_path("tx_handles");
    struct tg_store *s1 = open_fresh("tx_handles"), *s2 = NULL;
    struct waiter w = {NULL, 0, TG_ERR_INTERNAL};
    uint8_t *p = NULL;
    size_t len = 0;
    pthread_t th;

    CHECK_OK(tg_store_open_sqlite(path, &s2));
    if (s2 == NULL) {
        tg_store_close(s1);
        return;
    }
    w.s = s2;
    CHECK_OK(tg_store_blob_put(s1, "v", (const uint8_t *)"0", 1));
    CHECK_OK(tg_store_begin(s1));
    CHECK_OK(tg_store_blob_get(s1, "v", &p, &len)); /* read first ... */
    free(p);
    CHECK(pthread_create(&th, NULL, blob_put_other_handle, &w) == 0);
    sleep_ms(150);
    CHECK(atomic_load(&w.done) == 0); /* ... the other writer waits ... */
    CHECK_OK(tg_store_blob_put(s1, "v", (const uint8_t *)"A", 1)); /* ... then write */
    CHECK_OK(tg_store_commit(s1));
    pthread_join(th, NULL);
    CHECK_OK(w.rv);
    CHECK_OK(tg_store_blob_get(s1, "v", &p, &len));
    CHECK(len == 1 && p != NULL && p[0] == 'B'); /* B wrote after A committed */
    free(p);
    tg_store_close(s2);
    tg_store_close(s1);
}

static void
test_reopen_persists(void)
{
    struct tg_store *s = open_fresh("reopen");
    struct tg_agent a, got;

    write_one_of_each(s, "p");
    CHECK_OK(tg_store_agent_set_status(s, "agent-p", TG_AGENT_DISABLED, 4242));
    tg_store_close(s);
    s = NULL;
    CHECK_OK(tg_store_open_sqlite(t_db_path("reopen"), &s));
    if (s == NULL)
        return;
    CHECK(tg_store_schema_version(s) == tg_sq_migrations_count);
    CHECK(count_one_of_each(s, "p") == 6);
    t_agent_full(&a, "agent-p");
    a.status = TG_AGENT_DISABLED;
    a.tokens_not_before = 4242;
    a.updated_at = 4242;
    CHECK_OK(tg_store_agent_get(s, "agent-p", &got));
    CHECK(t_agent_eq(&a, &got));
    tg_agent_reset(&got);
    tg_agent_reset(&a);
    tg_store_close(s);
}

/* ---- concurrency ---- */

#define WRITERS 4
#define PER_WRITER 60

struct writer {
    struct tg_store *s;
    pthread_barrier_t *start;
    int idx;
    int failures;
};

/* Each writer inserts its own agents, grants and revocations, and bumps a
 * shared counter blob with read-modify-write in a transaction. */
static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    struct tg_agent a;
    struct tg_grant g;
    uint8_t *p = NULL, buf[8];
    size_t len = 0;
    uint64_t counter;
    char id[64];
    int i, j;

    pthread_barrier_wait(w->start);
    for (i = 0; i < PER_WRITER; i++) {
        snprintf(id, sizeof(id), "w%d-agent-%d", w->idx, i);
        t_agent_min(&a, id);
        w->failures += tg_store_agent_insert(w->s, &a) != TG_OK;
        t_grant_make(&g, id, "shared-tool", RW, NULL);
        w->failures += tg_store_grant_put(w->s, &g) != TG_OK;
        tg_grant_reset(&g);
        tg_agent_reset(&a);
        snprintf(id, sizeof(id), "w%d-jti-%d", w->idx, i);
        w->failures += tg_store_revoke(w->s, id, 10000 + i) != TG_OK;

        if (tg_store_begin(w->s) != TG_OK) {
            w->failures++;
            continue;
        }
        counter = 0;
        if (tg_store_blob_get(w->s, "counter", &p, &len) == TG_OK && len == 8)
            for (j = 0; j < 8; j++)
                counter = (counter << 8) | p[j];
        free(p);
        p = NULL;
        /* Widen the read-modify-write window so that a transaction that
         * did not isolate (or a deferred one that failed to upgrade) shows. */
        sched_yield();
        counter++;
        for (j = 7; j >= 0; j--, counter >>= 8)
            buf[j] = (uint8_t)counter;
        if (tg_store_blob_put(w->s, "counter", buf, sizeof(buf)) != TG_OK) {
            w->failures++;
            tg_store_rollback(w->s);
            continue;
        }
        w->failures += tg_store_commit(w->s) != TG_OK;
    }
    return NULL;
}

/* Four writers: two share one store handle, two share a second handle on the
 * same file (as the daemon and the CLI would), so both the in-process lock
 * and SQLite's file locking (busy_timeout) are exercised. */
static void
test_concurrent_writers(void)
{
    const char *path = t_db_path("concurrent");
    struct tg_store *s1 = open_fresh("concurrent"), *s2 = NULL;
    struct writer w[WRITERS];
    pthread_t th[WRITERS];
    pthread_barrier_t start;
    struct tg_agent *agents = NULL;
    struct tg_tool t;
    uint8_t *p = NULL;
    size_t n = 0, len = 0;
    uint64_t counter = 0;
    int i, revoked = 0;
    char id[64];

    CHECK_OK(tg_store_open_sqlite(path, &s2));
    if (s2 == NULL) {
        tg_store_close(s1);
        return;
    }
    t_tool_make(&t, "shared-tool", 1);
    CHECK_OK(tg_store_tool_put(s1, &t));
    tg_tool_reset(&t);
    pthread_barrier_init(&start, NULL, WRITERS);
    for (i = 0; i < WRITERS; i++) {
        w[i].s = i < 2 ? s1 : s2;
        w[i].start = &start;
        w[i].idx = i;
        w[i].failures = 0;
        CHECK(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);
    }
    for (i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].failures == 0);
    }
    pthread_barrier_destroy(&start);
    CHECK_OK(tg_store_agent_list(s2, &agents, &n));
    CHECK(n == WRITERS * PER_WRITER);
    tg_store_agent_list_free(agents, n);
    CHECK(t_sql_int(s1->db, "SELECT count(*) FROM grants") == WRITERS * PER_WRITER);
    for (i = 0; i < WRITERS * PER_WRITER; i++) {
        snprintf(id, sizeof(id), "w%d-jti-%d", i / PER_WRITER, i % PER_WRITER);
        revoked += tg_store_is_revoked(s1, id) == 1;
    }
    CHECK(revoked == WRITERS * PER_WRITER);
    CHECK_OK(tg_store_blob_get(s1, "counter", &p, &len));
    CHECK(len == 8);
    for (i = 0; p != NULL && i < 8 && len == 8; i++)
        counter = (counter << 8) | p[i];
    free(p);
    CHECK(counter == WRITERS * PER_WRITER); /* no lost increment */
    tg_store_close(s2);
    tg_store_close(s1);
}

int
main(void)
{
    /* The negative tests make the store log warnings on purpose. */
    tg_log_set_level(TG_LOG_ERROR);
    t_dir_make();
    RUN(test_tx_rollback_and_commit);
    RUN(test_tx_belongs_to_its_thread);
    RUN(test_tx_begin_waits);
    RUN(test_tx_lost_fails_closed);
    RUN(test_tx_isolated_across_handles);
    RUN(test_reopen_persists);
    RUN(test_concurrent_writers);
    t_dir_remove();
    return t_report("store/tx");
}
