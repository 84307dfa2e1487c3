#include "core/clock_cache.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define MIN_SHARD 256 /* entries a shard keeps at least when the table is split */

struct entry {
    uint64_t hash;
    void *value; /* NULL: free slot */
    int64_t exp;
    uint32_t next; /* bucket chain, or the free list */
    uint32_t key_len;
    uint8_t referenced; /* CLOCK bit */
    union {
        uint8_t in[TG_CLOCK_CACHE_INLINE_KEY];
        uint8_t *heap; /* key_len > TG_CLOCK_CACHE_INLINE_KEY */
    } key;
};

/* One lock and everything it guards; a cache line of its own so that
 * workers on different shards do not share one. */
struct shard {
    alignas(64) pthread_mutex_t lock;
    struct entry *e;
    uint32_t *buckets;
    uint32_t nbuckets; /* power of two, >= 2 * cap */
    uint32_t cap;
    uint32_t used;      /* slots ever used; free ones below it are on free_head */
    uint32_t free_head;
    uint32_t hand;
    uint32_t size;
    uint64_t hits, misses, inserts, evictions, expired;
};

struct tg_clock_cache {
    struct shard *shards;
    uint32_t nshards; /* power of two */
    uint32_t capacity;
    uint8_t seed[16];
    void (*free_value)(void *value);
};

/* ---- SipHash-2-4 (Aumasson, Bernstein) --------------------------------- */

static uint64_t
le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                   \
    do {                                                                           \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                  \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                     \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                     \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                  \
    } while (0)

uint64_t
tg_clock_cache_hash(const uint8_t seed[16], const void *data, size_t len)
{
    const uint8_t *p = data, *end = p + (len & ~(size_t)7);
    uint64_t k0 = le64(seed), k1 = le64(seed + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    uint64_t m, b = (uint64_t)len << 56;
    size_t i;

    for (; p != end; p += 8) {
        m = le64(p);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (i = 0; i < (len & 7); i++)
        b |= (uint64_t)p[i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- lifecycle -------------------------------------------------------- */

static uint32_t
auto_shards(uint32_t capacity)
{
    uint32_t n = 1;

    while (n < TG_CLOCK_CACHE_MAX_SHARDS && capacity / (2 * n) >= MIN_SHARD)
        n <<= 1;
    return n;
}

static int
shard_init(struct shard *s, uint32_t cap)
{
    uint32_t i;

    s->cap = cap;
    s->nbuckets = 1;
    while (s->nbuckets < 2 * cap)
        s->nbuckets <<= 1;
    s->e = calloc(cap, sizeof(*s->e));
    s->buckets = malloc(s->nbuckets * sizeof(*s->buckets));
    if (s->e == NULL || s->buckets == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s->e);
        free(s->buckets);
        s->e = NULL;
        s->buckets = NULL;
        return -1;
    }
    for (i = 0; i < s->nbuckets; i++)
        s->buckets[i] = NIL;
    s->free_head = NIL;
    return 0;
}

static const uint8_t *
key_of(const struct entry *e)
{
    return e->key_len > TG_CLOCK_CACHE_INLINE_KEY ? e->key.heap : e->key.in;
}

static void
entry_release(const struct tg_clock_cache *c, struct entry *e)
{
    c->free_value(e->value);
    if (e->key_len > TG_CLOCK_CACHE_INLINE_KEY)
        free(e->key.heap);
    e->value = NULL;
}

/* Release every entry of a shard; the caller holds its lock or owns it. */
static void
shard_drop_all(const struct tg_clock_cache *c, struct shard *s)
{
    uint32_t i;

    for (i = 0; i < s->used; i++)
        if (s->e[i].value != NULL)
            entry_release(c, &s->e[i]);
}

struct tg_clock_cache *
tg_clock_cache_new(const struct tg_clock_cache_opts *o)
{
    struct tg_clock_cache *c;
    uint32_t i, n;

    if (o == NULL || o->capacity == 0 || o->capacity > TG_CLOCK_CACHE_MAX_CAPACITY ||
        o->free_value == NULL || o->shards > TG_CLOCK_CACHE_MAX_SHARDS ||
        (o->shards & (o->shards - 1)) != 0 || o->shards > o->capacity)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->capacity = (uint32_t)o->capacity;
    c->nshards = o->shards ? (uint32_t)o->shards : auto_shards(c->capacity);
    memcpy(c->seed, o->seed, sizeof(c->seed));
    c->free_value = o->free_value;
    c->shards = aligned_alloc(alignof(struct shard), c->nshards * sizeof(*c->shards));
    if (c->shards == NULL) {
        free(c);
        return NULL;
    }
    memset(c->shards, 0, c->nshards * sizeof(*c->shards));
    for (n = 0; n < c->nshards; n++) {
        /* The first capacity % nshards shards take one more. */
        if (shard_init(&c->shards[n], c->capacity / c->nshards +
                                          (n < c->capacity % c->nshards)) != 0) {
            for (i = 0; i < n; i++) {
                pthread_mutex_destroy(&c->shards[i].lock);
                free(c->shards[i].e);
                free(c->shards[i].buckets);
            }
            free(c->shards);
            free(c);
            return NULL;
        }
    }
    return c;
}

void
tg_clock_cache_free(struct tg_clock_cache *c)
{
    uint32_t n;

    if (c == NULL)
        return;
    for (n = 0; n < c->nshards; n++) {
        shard_drop_all(c, &c->shards[n]);
        pthread_mutex_destroy(&c->shards[n].lock);
        free(c->shards[n].e);
        free(c->shards[n].buckets);
    }
    free(c->shards);
    free(c);
}

/* ---- the table -------------------------------------------------------- */

static struct shard *
shard_of(const struct tg_clock_cache *c, uint64_t h)
{
    /* The high half picks the shard, the low bits the bucket. */
    return &c->shards[(uint32_t)(h >> 32) & (c->nshards - 1)];
}

static uint32_t
find(const struct shard *s, uint64_t h, const void *key, size_t len)
{
    const struct entry *e;
    uint32_t i;

    for (i = s->buckets[h & (s->nbuckets - 1)]; i != NIL; i = e->next) {
        e = &s->e[i];
        if (e->hash == h && e->key_len == len && memcmp(key_of(e), key, len) == 0)
            return i;
    }
    return NIL;
}

static void
unlink_entry(struct shard *s, uint32_t i)
{
    uint32_t *pp = &s->buckets[s->e[i].hash & (s->nbuckets - 1)];

    while (*pp != i)
        pp = &s->e[*pp].next;
    *pp = s->e[i].next;
}

int
tg_clock_cache_get(struct tg_clock_cache *c, const void *key, size_t key_len,
                   void (*copy)(const void *value, void *arg), void *arg)
{
    uint64_t h = tg_clock_cache_hash(c->seed, key, key_len);
    struct shard *s = shard_of(c, h);
    uint32_t i;

    pthread_mutex_lock(&s->lock);
    i = find(s, h, key, key_len);
    if (i != NIL) {
        s->e[i].referenced = 1;
        copy(s->e[i].value, arg);
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->lock);
    return i != NIL;
}

/* CLOCK sweep over a full shard: an expired entry at once, else the first
 * whose reference bit is clear (clearing bits on the way): two turns at
 * most. The victim is unlinked and its contents moved to *old for the
 * caller to release after unlocking. */
static uint32_t
evict(struct shard *s, int64_t now, struct entry *old)
{
    struct entry *e;
    uint32_t victim;

    for (;;) {
        victim = s->hand;
        e = &s->e[victim];
        s->hand = victim + 1 == s->cap ? 0 : victim + 1;
        if (e->exp <= now) {
            s->expired++;
        } else if (e->referenced) {
            e->referenced = 0;
            continue;
        } else {
            s->evictions++;
        }
        unlink_entry(s, victim);
        *old = *e;
        e->value = NULL;
        s->size--;
        return victim;
    }
}

enum tg_err
tg_clock_cache_put(struct tg_clock_cache *c, const void *key, size_t key_len, void *value,
                   int64_t exp, int64_t now)
{
    struct entry old = {0}, *e;
    uint8_t *heap = NULL;
    uint64_t h;
    struct shard *s;
    uint32_t i, b;

    if (value == NULL)
        return TG_ERR_INVALID_ARG;
    if (key_len == 0 || key_len > TG_CLOCK_CACHE_MAX_KEY) {
        c->free_value(value);
        return TG_ERR_INVALID_ARG;
    }
    /* A long key is copied before the lock is taken. */
    if (key_len > TG_CLOCK_CACHE_INLINE_KEY) {
        heap = malloc(key_len);
        if (heap == NULL) {
            c->free_value(value);
            return TG_ERR_NOMEM;
        }
        memcpy(heap, key, key_len);
    }
    h = tg_clock_cache_hash(c->seed, key, key_len);
    s = shard_of(c, h);
    pthread_mutex_lock(&s->lock);
    if (find(s, h, key, key_len) != NIL) {
        pthread_mutex_unlock(&s->lock);
        free(heap);
        c->free_value(value);
        return TG_OK;
    }
    if (s->free_head != NIL) {
        i = s->free_head;
        s->free_head = s->e[i].next;
    } else if (s->used < s->cap) {
        i = s->used++;
    } else {
        i = evict(s, now, &old);
    }
    e = &s->e[i];
    e->hash = h;
    e->value = value;
    e->exp = exp;
    e->key_len = (uint32_t)key_len;
    e->referenced = 0;
    if (heap != NULL)
        e->key.heap = heap;
    else
        memcpy(e->key.in, key, key_len);
    b = (uint32_t)(h & (s->nbuckets - 1));
    e->next = s->buckets[b];
    s->buckets[b] = i;
    s->inserts++;
    s->size++;
    pthread_mutex_unlock(&s->lock);
    /* The victim's value may be costly to free (keys, JSON): not under the lock. */
    if (old.value != NULL)
        entry_release(c, &old);
    return TG_OK;
}

int
tg_clock_cache_remove(struct tg_clock_cache *c, const void *key, size_t key_len)
{
    uint64_t h = tg_clock_cache_hash(c->seed, key, key_len);
    struct shard *s = shard_of(c, h);
    struct entry old = {0};
    uint32_t i;

    pthread_mutex_lock(&s->lock);
    i = find(s, h, key, key_len);
    if (i != NIL) {
        unlink_entry(s, i);
        old = s->e[i];
        s->e[i].value = NULL;
        s->e[i].next = s->free_head;
        s->free_head = i;
        s->size--;
        s->expired++;
    }
    pthread_mutex_unlock(&s->lock);
    if (old.value != NULL)
        entry_release(c, &old);
    return i != NIL;
}

void
tg_clock_cache_clear(struct tg_clock_cache *c)
{
    struct shard *s;
    uint32_t n, i;

    if (c == NULL)
        return;
    for (n = 0; n < c->nshards; n++) {
        s = &c->shards[n];
        pthread_mutex_lock(&s->lock);
        shard_drop_all(c, s);
        for (i = 0; i < s->nbuckets; i++)
            s->buckets[i] = NIL;
        s->used = 0;
        s->free_head = NIL;
        s->hand = 0;
        s->size = 0;
        pthread_mutex_unlock(&s->lock);
    }
}

void
tg_clock_cache_stats(struct tg_clock_cache *c, struct tg_clock_cache_stats *out)
{
    struct shard *s;
    uint32_t n;

    memset(out, 0, sizeof(*out));
    for (n = 0; n < c->nshards; n++) {
        s = &c->shards[n];
        pthread_mutex_lock(&s->lock);
        out->hits += s->hits;
        out->misses += s->misses;
        out->inserts += s->inserts;
        out->evictions += s->evictions;
        out->expired += s->expired;
        out->size += s->size;
        pthread_mutex_unlock(&s->lock);
    }
    out->capacity = c->capacity;
}
