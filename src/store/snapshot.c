#include "store/snapshot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* How often the store's version is asked (a PRAGMA under the store's lock,
 * ~4% of a token request when asked every time) when nothing else says the
 * store changed. Between two asks, a commit is still noticed at once by
 * this handle's change count (this process) or by the WAL file's size and
 * time (any process): only a commit that leaves the WAL's size and mtime as
 * they were (a checkpoint restart within one clock tick) waits up to this
 * long. */
#define VERSION_CHECK_NS 2000000LL

struct tg_snapshots {
    struct tg_store *store;
    _Atomic int64_t checked_ns; /* monotonic time of the last version check */
    _Atomic uint64_t checked_local; /* this handle's change count at that check */
    _Atomic uint64_t checked_wal;   /* the WAL file's stamp at that check */
    pthread_mutex_t lock; /* guards cur; held for the swap, never across a reload */
    struct tg_snapshot *cur;
    pthread_mutex_t reload_lock; /* one reload at a time */
};

static void
snap_free(struct tg_snapshot *s)
{
    if (s == NULL)
        return;
    tg_store_agent_list_free(s->agents, s->n_agents);
    tg_store_tool_list_free(s->tools, s->n_tools);
    tg_store_grant_list_free(s->grants, s->n_grants);
    tg_store_revocation_list_free(s->revoked, s->n_revoked);
    free(s);
}

void
tg_snapshot_release(struct tg_snapshot *snap)
{
    if (snap != NULL && atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) == 1)
        snap_free(snap);
}

static int
cmp_agent(const void *a, const void *b)
{
    return strcmp(((const struct tg_agent *)a)->id, ((const struct tg_agent *)b)->id);
}

static int
cmp_grant(const void *a, const void *b)
{
    return strcmp(((const struct tg_grant *)a)->agent_id, ((const struct tg_grant *)b)->agent_id);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum tg_err
load(struct tg_store *store, uint64_t version, struct tg_snapshot **out)
{
    struct tg_snapshot *s = calloc(1, sizeof(*s));
    enum tg_err rv = TG_OK;

    *out = NULL;
    TG_CHECK(s != NULL, TG_ERR_NOMEM, "snapshot");
    atomic_init(&s->refs, 1);
    s->version = version;
    TG_TRY(tg_store_agent_list(store, &s->agents, &s->n_agents));
    TG_TRY(tg_store_tool_list(store, &s->tools, &s->n_tools));
    TG_TRY(tg_store_grant_list(store, NULL, &s->grants, &s->n_grants));
    TG_TRY(tg_store_revocation_list(store, &s->revoked, &s->n_revoked));
    if (s->n_revoked > 1)
        qsort(s->revoked, s->n_revoked, sizeof(*s->revoked), cmp_str);
    if (s->n_agents > 1)
        qsort(s->agents, s->n_agents, sizeof(*s->agents), cmp_agent);
    if (s->n_grants > 1)
        qsort(s->grants, s->n_grants, sizeof(*s->grants), cmp_grant);
    *out = s;
    s = NULL;
out:
    snap_free(s);
    return rv;
}

struct tg_snapshots *
tg_snapshots_new(struct tg_store *store)
{
    struct tg_snapshots *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->store = store;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->reload_lock, NULL);
    return s;
}

void
tg_snapshots_free(struct tg_snapshots *s)
{
    if (s == NULL)
        return;
    tg_snapshot_release(s->cur);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->reload_lock);
    free(s);
}

static struct tg_snapshot *
current(struct tg_snapshots *s, uint64_t version)
{
    struct tg_snapshot *snap = NULL;

    pthread_mutex_lock(&s->lock);
    if (s->cur != NULL && version != 0 && s->cur->version == version) {
        snap = s->cur;
        atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->lock);
    return snap;
}

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

enum tg_err
tg_snapshot_get(struct tg_snapshots *s, struct tg_snapshot **out)
{
    int64_t now = mono_ns(), last = atomic_load_explicit(&s->checked_ns, memory_order_relaxed);
    uint64_t local = tg_store_local_changes(s->store), wal = tg_store_wal_stamp(s->store);
    struct tg_snapshot *fresh = NULL, *old;
    uint64_t version;
    enum tg_err rv;

    if (now - last < VERSION_CHECK_NS &&
        local == atomic_load_explicit(&s->checked_local, memory_order_relaxed) && wal != 0 &&
        wal == atomic_load_explicit(&s->checked_wal, memory_order_relaxed)) {
        pthread_mutex_lock(&s->lock);
        *out = s->cur;
        if (*out != NULL)
            atomic_fetch_add_explicit(&(*out)->refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&s->lock);
        if (*out != NULL)
            return TG_OK;
    }
    version = tg_store_version(s->store);
    *out = current(s, version);
    if (*out != NULL) {
        atomic_store_explicit(&s->checked_local, local, memory_order_relaxed);
        atomic_store_explicit(&s->checked_wal, wal, memory_order_relaxed);
        atomic_store_explicit(&s->checked_ns, now, memory_order_relaxed);
        return TG_OK;
    }
    /* Changed (or unknown): reload, one thread at a time; the others that
     * queued behind find the new one. */
    pthread_mutex_lock(&s->reload_lock);
    version = tg_store_version(s->store);
    *out = current(s, version);
    if (*out == NULL) {
        rv = load(s->store, version, &fresh);
        if (rv != TG_OK) {
            pthread_mutex_unlock(&s->reload_lock);
            tg_log_warnx("policy snapshot reload failed: %s", tg_err_detail());
            return TG_ERR_STORE;
        }
        /* A write that lands during the load changes the version again,
         * so the next request reloads: nothing is missed. */
        atomic_fetch_add_explicit(&fresh->refs, 1, memory_order_relaxed);
        pthread_mutex_lock(&s->lock);
        old = s->cur;
        s->cur = fresh;
        pthread_mutex_unlock(&s->lock);
        tg_snapshot_release(old);
        *out = fresh;
    }
    atomic_store_explicit(&s->checked_local, local, memory_order_relaxed);
    atomic_store_explicit(&s->checked_wal, wal, memory_order_relaxed);
    atomic_store_explicit(&s->checked_ns, now, memory_order_relaxed);
    pthread_mutex_unlock(&s->reload_lock);
    return TG_OK;
}

const struct tg_agent *
tg_snapshot_agent(const struct tg_snapshot *snap, const char *id)
{
    size_t lo = 0, hi = snap->n_agents;
    int c;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        c = strcmp(id, snap->agents[mid].id);
        if (c == 0)
            return &snap->agents[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct tg_grant *
tg_snapshot_grants(const struct tg_snapshot *snap, const char *agent_id, size_t *n)
{
    size_t lo = 0, hi = snap->n_grants, first, end;

    /* lower bound of agent_id */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(snap->grants[mid].agent_id, agent_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    first = end = lo;
    while (end < snap->n_grants && strcmp(snap->grants[end].agent_id, agent_id) == 0)
        end++;
    *n = end - first;
    return *n ? &snap->grants[first] : NULL;
}

int
tg_snapshot_is_revoked(const struct tg_snapshot *snap, const char *jti)
{
    const char *key = jti;

    return snap->n_revoked > 0 &&
           bsearch(&key, snap->revoked, snap->n_revoked, sizeof(*snap->revoked), cmp_str) != NULL;
}

int
tg_snapshot_token_active(const struct tg_snapshot *snap, const char *jti, const char *client_id,
                         int64_t iat)
{
    const struct tg_agent *a;

    if (jti == NULL || client_id == NULL || tg_snapshot_is_revoked(snap, jti))
        return 0;
    a = tg_snapshot_agent(snap, client_id);
    /* Whole seconds: a token issued in the second of a disable is dead too. */
    return a != NULL && a->status == TG_AGENT_ACTIVE &&
           !(a->tokens_not_before > 0 && iat <= a->tokens_not_before);
}
