/* The in-memory replay cache (DPoP jti, single-use assertion jti, nonces).
 *
 * A hash table with separate chaining, keyed by SipHash-2-4 under a random
 * per-cache key (so nobody can choose jtis that collide and turn lookups
 * linear) and confirmed by comparing the whole key. Expiry uses a min-heap
 * on expires_at: each insert first pops every entry that has expired, so
 * the table only ever holds live entries and each entry is reclaimed once.
 * Lookups are O(1) on average; inserts and reclamation O(log n).
 *
 * No insert pays for the table's growth at once: when it must grow, the
 * bucket array doubles and the old one is moved over a few buckets per
 * insert (incremental rehashing), so a table of a million live jtis never
 * stalls every request for the tens of milliseconds a whole rehash takes.
 * The heap's array is reserved for max_entries up front (untouched pages
 * cost no memory) and never copied.
 *
 * The cache never forgets a live entry to make room: when it holds
 * max_entries live entries it refuses (TG_ERR_CACHE_FULL) and the caller
 * refuses the request. An entry is live while now <= expires_at. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock_cache.h"
#include "crypto/crypto.h"
#include "store/cache.h"

#define INITIAL_BUCKETS 16
/* Old buckets moved to the new array per insert while the table grows. A
 * doubling from n to 2n buckets happens at 3n/4 entries and the next one at
 * 3n/2, 3n/4 inserts later; moving the n old buckets takes n/MIGRATE_STEP
 * inserts, so a growth has always ended before the next is due. */
#define MIGRATE_STEP 16

struct entry {
    struct entry *next; /* bucket chain */
    uint64_t hash;
    int64_t expires_at;
    size_t heap_idx;
    size_t key_len;
    uint8_t key[];
};

struct mem_cache {
    struct tg_cache base; /* first, so a tg_cache * is a mem_cache * */
    uint8_t seed[16];     /* SipHash key; immutable after _new */
    size_t max_entries;   /* immutable after _new */
    pthread_mutex_t cache_lock; /* guards everything below */
    struct entry **buckets;
    size_t n_buckets; /* a power of two */
    /* While growing: the previous array, its size, and how many of its
     * buckets (from 0) have been moved into `buckets` already. */
    struct entry **old;
    size_t n_old, moved;
    struct entry **heap; /* min-heap on expires_at */
    size_t heap_cap;
    size_t count; /* entries in the table (== in the heap) */
};

/* ---- min-heap on expires_at; entries know their index ---- */

static void
heap_set(struct mem_cache *m, size_t i, struct entry *e)
{
    m->heap[i] = e;
    e->heap_idx = i;
}

static void
heap_up(struct mem_cache *m, size_t i)
{
    struct entry *e = m->heap[i];
    size_t parent;

    while (i > 0) {
        parent = (i - 1) / 2;
        if (m->heap[parent]->expires_at <= e->expires_at)
            break;
        heap_set(m, i, m->heap[parent]);
        i = parent;
    }
    heap_set(m, i, e);
}

static void
heap_down(struct mem_cache *m, size_t i)
{
    struct entry *e = m->heap[i];
    size_t child;

    for (;;) {
        child = 2 * i + 1;
        if (child >= m->count)
            break;
        if (child + 1 < m->count && m->heap[child + 1]->expires_at < m->heap[child]->expires_at)
            child++;
        if (e->expires_at <= m->heap[child]->expires_at)
            break;
        heap_set(m, i, m->heap[child]);
        i = child;
    }
    heap_set(m, i, e);
}

/* ---- table ---- */

/* The bucket that holds (or would hold) an entry of this hash: in the old
 * array while that part of it has not been moved yet. */
static struct entry **
bucket(struct mem_cache *m, uint64_t hash)
{
    size_t j;

    if (m->old != NULL) {
        j = hash & (m->n_old - 1);
        if (j >= m->moved)
            return &m->old[j];
    }
    return &m->buckets[hash & (m->n_buckets - 1)];
}

static struct entry *
find(struct mem_cache *m, uint64_t hash, const uint8_t *key, size_t len)
{
    struct entry *e;

    for (e = *bucket(m, hash); e != NULL; e = e->next)
        if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static void
unlink_entry(struct mem_cache *m, struct entry *e)
{
    struct entry **pp = bucket(m, e->hash);

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
}

/* Move up to `steps` old buckets into the new array; the old array goes
 * when the last one has moved. */
static void
migrate(struct mem_cache *m, size_t steps)
{
    struct entry *e, *next;
    size_t b;

    while (m->old != NULL && steps-- > 0) {
        for (e = m->old[m->moved]; e != NULL; e = next) {
            next = e->next;
            b = e->hash & (m->n_buckets - 1);
            e->next = m->buckets[b];
            m->buckets[b] = e;
        }
        m->old[m->moved] = NULL;
        if (++m->moved == m->n_old) {
            free(m->old);
            m->old = NULL;
            m->n_old = m->moved = 0;
        }
    }
}

/* Drop every entry that expired before `now`, oldest first. */
static void
reclaim(struct mem_cache *m, int64_t now)
{
    struct entry *e;

    while (m->count > 0 && m->heap[0]->expires_at < now) {
        e = m->heap[0];
        unlink_entry(m, e);
        m->count--;
        if (m->count > 0) {
            heap_set(m, 0, m->heap[m->count]);
            heap_down(m, 0);
        }
        free(e);
    }
}

/* Start doubling the bucket array (migrate() moves the entries over). A
 * growth still under way is finished first. On failure the table keeps
 * working, only with longer chains. */
static void
grow_buckets(struct mem_cache *m)
{
    struct entry **nb;
    size_t n = m->n_buckets * 2;

    if (n > SIZE_MAX / sizeof(*nb))
        return;
    nb = calloc(n, sizeof(*nb));
    if (nb == NULL)
        return;
    migrate(m, SIZE_MAX);
    m->old = m->buckets;
    m->n_old = m->n_buckets;
    m->moved = 0;
    m->buckets = nb;
    m->n_buckets = n;
}

static enum tg_err
insert_locked(struct mem_cache *m, uint64_t hash, const uint8_t *key, size_t len,
              int64_t expires_at, int64_t now)
{
    struct entry *e, **pb;

    reclaim(m, now);
    if (find(m, hash, key, len) != NULL) {
        tg_err_raise(TG_ERR_REPLAY, "replay cache: key seen before");
        return TG_ERR_REPLAY;
    }
    /* Already expired: new, and nothing left to guard against. */
    if (expires_at < now)
        return TG_OK;
    if (m->count >= m->max_entries) {
        tg_err_raise(TG_ERR_CACHE_FULL, "replay cache: %zu live entries", m->count);
        return TG_ERR_CACHE_FULL;
    }
    migrate(m, MIGRATE_STEP);
    if (m->old == NULL && m->count + 1 > m->n_buckets / 4 * 3)
        grow_buckets(m);
    e = malloc(sizeof(*e) + len);
    TG_ENSURE(e != NULL, TG_ERR_NOMEM, "replay cache: entry");
    e->hash = hash;
    e->expires_at = expires_at;
    e->key_len = len;
    memcpy(e->key, key, len);
    pb = bucket(m, hash);
    e->next = *pb;
    *pb = e;
    heap_set(m, m->count, e);
    m->count++;
    heap_up(m, e->heap_idx);
    return TG_OK;
}

static enum tg_err
mem_insert_once(struct tg_cache *c, const void *key, size_t key_len, int64_t expires_at,
                int64_t now)
{
    struct mem_cache *m = (struct mem_cache *)c;
    uint64_t hash;
    enum tg_err rv;

    TG_ENSURE(c != NULL && key != NULL && key_len > 0, TG_ERR_INVALID_ARG,
              "replay cache: missing key");
    TG_ENSURE(key_len <= TG_CACHE_KEY_MAX, TG_ERR_INVALID_ARG,
              "replay cache: key of %zu bytes (max %d)", key_len, TG_CACHE_KEY_MAX);
    hash = tg_clock_cache_hash(m->seed, key, key_len); /* SipHash-2-4 */
    pthread_mutex_lock(&m->cache_lock);
    rv = insert_locked(m, hash, key, key_len, expires_at, now);
    pthread_mutex_unlock(&m->cache_lock);
    return rv;
}

static void
mem_free(struct tg_cache *c)
{
    struct mem_cache *m = (struct mem_cache *)c;
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->count; i++)
        free(m->heap[i]);
    free(m->heap);
    free(m->buckets);
    free(m->old);
    pthread_mutex_destroy(&m->cache_lock);
    free(m);
}

static const struct tg_cache_ops mem_ops = {
    .insert_once = mem_insert_once,
    .free = mem_free,
};

struct tg_cache *
tg_cache_memory_new(size_t max_entries)
{
    struct mem_cache *m;

    if (max_entries == 0 || max_entries > SIZE_MAX / (2 * sizeof(struct entry *)))
        return NULL;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->base.ops = &mem_ops;
    m->max_entries = max_entries;
    m->n_buckets = INITIAL_BUCKETS;
    m->heap_cap = max_entries;
    m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
    m->heap = calloc(m->heap_cap, sizeof(*m->heap));
    if (m->buckets == NULL || m->heap == NULL || tg_random(m->seed, sizeof(m->seed)) != TG_OK) {
        free(m->buckets);
        free(m->heap);
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->cache_lock, NULL);
    return &m->base;
}
