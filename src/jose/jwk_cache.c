#include "jose/jwk_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct entry {
    uint8_t tp[TG_SHA256_LEN];
    struct tg_key *key; /* NULL: free slot */
    uint32_t next;      /* bucket chain */
    uint8_t referenced; /* CLOCK bit */
};

struct tg_jwk_cache {
    pthread_mutex_t lock;
    struct entry *entries;
    uint32_t *buckets;
    uint32_t nbuckets; /* power of two */
    uint32_t capacity;
    uint32_t used;
    uint32_t hand;
    struct tg_jwk_cache_stats st;
};

struct tg_jwk_cache *
tg_jwk_cache_new(size_t capacity)
{
    struct tg_jwk_cache *c;
    uint32_t i;

    if (capacity == 0 || capacity > (1u << 24))
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->capacity = (uint32_t)capacity;
    c->nbuckets = 1;
    while (c->nbuckets < c->capacity * 2)
        c->nbuckets <<= 1;
    c->entries = calloc(c->capacity, sizeof(*c->entries));
    c->buckets = malloc(c->nbuckets * sizeof(*c->buckets));
    if (c->entries == NULL || c->buckets == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->entries);
        free(c->buckets);
        free(c);
        return NULL;
    }
    for (i = 0; i < c->nbuckets; i++)
        c->buckets[i] = NIL;
    c->st.capacity = capacity;
    return c;
}

void
tg_jwk_cache_free(struct tg_jwk_cache *c)
{
    uint32_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->capacity; i++)
        tg_key_free(c->entries[i].key);
    pthread_mutex_destroy(&c->lock);
    free(c->entries);
    free(c->buckets);
    free(c);
}

static uint32_t
bucket_of(const struct tg_jwk_cache *c, const uint8_t *tp)
{
    uint32_t h;

    /* The thumbprint is already a uniform hash. */
    memcpy(&h, tp, sizeof(h));
    return h & (c->nbuckets - 1);
}

static uint32_t
find(const struct tg_jwk_cache *c, const uint8_t *tp)
{
    uint32_t i;

    for (i = c->buckets[bucket_of(c, tp)]; i != NIL; i = c->entries[i].next)
        if (memcmp(c->entries[i].tp, tp, TG_SHA256_LEN) == 0)
            return i;
    return NIL;
}

struct tg_key *
tg_jwk_cache_get(struct tg_jwk_cache *c, const uint8_t tp[TG_SHA256_LEN])
{
    struct tg_key *key = NULL;
    uint32_t i;

    pthread_mutex_lock(&c->lock);
    i = find(c, tp);
    if (i != NIL) {
        c->entries[i].referenced = 1;
        key = tg_key_ref(c->entries[i].key);
        c->st.hits++;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return key;
}

static void
unlink_entry(struct tg_jwk_cache *c, uint32_t victim)
{
    uint32_t *pp = &c->buckets[bucket_of(c, c->entries[victim].tp)];

    while (*pp != victim)
        pp = &c->entries[*pp].next;
    *pp = c->entries[victim].next;
}

/* CLOCK: sweep, clearing reference bits, until an unreferenced entry. */
static uint32_t
evict(struct tg_jwk_cache *c)
{
    struct entry *e;
    uint32_t victim;

    for (;;) {
        e = &c->entries[c->hand];
        victim = c->hand;
        c->hand = (c->hand + 1) % c->capacity;
        if (e->referenced) {
            e->referenced = 0;
            continue;
        }
        unlink_entry(c, victim);
        tg_key_free(e->key);
        e->key = NULL;
        c->st.evictions++;
        return victim;
    }
}

enum tg_err
tg_jwk_cache_put(struct tg_jwk_cache *c, const uint8_t tp[TG_SHA256_LEN], struct tg_key *key)
{
    uint32_t i, b;

    pthread_mutex_lock(&c->lock);
    if (find(c, tp) == NIL) {
        if (c->used < c->capacity)
            i = c->used++;
        else
            i = evict(c);
        memcpy(c->entries[i].tp, tp, TG_SHA256_LEN);
        c->entries[i].key = tg_key_ref(key);
        c->entries[i].referenced = 0;
        b = bucket_of(c, tp);
        c->entries[i].next = c->buckets[b];
        c->buckets[b] = i;
        c->st.inserts++;
    }
    pthread_mutex_unlock(&c->lock);
    return TG_OK;
}

void
tg_jwk_cache_stats(struct tg_jwk_cache *c, struct tg_jwk_cache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    out->size = c->used;
    pthread_mutex_unlock(&c->lock);
}
