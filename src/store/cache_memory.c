/* The in-memory replay cache (DPoP jti, single-use assertion jti, nonces).
 *
 * A hash table with separate chaining, keyed by SipHash-2-4 under a random
 * per-cache key (so nobody can choose jtis that collide and turn lookups
 * linear) and confirmed by comparing the whole key. Expiry uses a min-heap
 * on expires_at: each insert first pops every entry that has expired, so
 * the table only ever holds live entries and each entry is reclaimed once.
 * Lookups are O(1) on average; inserts and reclamation O(log n).
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

static struct entry *
find(struct mem_cache *m, uint64_t hash, const uint8_t *key, size_t len)
{
    struct entry *e;

    for (e = m->buckets[hash & (m->n_buckets - 1)]; e != NULL; e = e->next)
        if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static void
unlink_entry(struct mem_cache *m, struct entry *e)
{
    struct entry **pp = &m->buckets[e->hash & (m->n_buckets - 1)];

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
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

/* Double the bucket array. On failure the table keeps working, only with
 * longer chains. */
static void
grow_buckets(struct mem_cache *m)
{
    struct entry **nb, *e, *next;
    size_t i, n = m->n_buckets * 2;

    if (n > SIZE_MAX / sizeof(*nb))
        return;
    nb = calloc(n, sizeof(*nb));
    if (nb == NULL)
        return;
    for (i = 0; i < m->n_buckets; i++) {
        for (e = m->buckets[i]; e != NULL; e = next) {
            next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->n_buckets = n;
}

/* Room in the heap for one more entry (never beyond max_entries). */
static enum tg_err
reserve_heap(struct mem_cache *m)
{
    struct entry **nh;
    size_t cap;

    if (m->count < m->heap_cap)
        return TG_OK;
    cap = m->heap_cap * 2;
    if (cap > m->max_entries)
        cap = m->max_entries;
    nh = realloc(m->heap, cap * sizeof(*nh));
    TG_ENSURE(nh != NULL, TG_ERR_NOMEM, "replay cache: growing the heap");
    m->heap = nh;
    m->heap_cap = cap;
    return TG_OK;
}

static enum tg_err
insert_locked(struct mem_cache *m, uint64_t hash, const uint8_t *key, size_t len,
              int64_t expires_at, int64_t now)
{
    struct entry *e;
    size_t b;

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
    TG_GUARD(reserve_heap(m));
    if (m->count + 1 > m->n_buckets / 4 * 3)
        grow_buckets(m);
    e = malloc(sizeof(*e) + len);
    TG_ENSURE(e != NULL, TG_ERR_NOMEM, "replay cache: entry");
    e->hash = hash;
    e->expires_at = expires_at;
    e->key_len = len;
    memcpy(e->key, key, len);
    b = hash & (m->n_buckets - 1);
    e->next = m->buckets[b];
    m->buckets[b] = e;
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
    m->heap_cap = max_entries < INITIAL_BUCKETS ? max_entries : INITIAL_BUCKETS;
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
