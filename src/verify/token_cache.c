/* The verified-token cache: SHA-256 of the token text -> struct tg_rs_token.
 *
 * A fixed array of entries, allocated up front, and a chained hash table
 * over it (the key is already a uniform hash). Eviction is CLOCK (second
 * chance), except that an expired entry is taken at once. One mutex guards
 * everything; it is held for a lookup or an insert only, never across a
 * signature check, and a hit hands out a reference to the immutable token. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "verify/token.h"

#define NIL UINT32_MAX

struct entry {
    uint8_t key[TG_SHA256_LEN];
    struct tg_rs_token *tok; /* NULL: free slot */
    uint32_t next;           /* bucket chain */
    uint8_t referenced;      /* CLOCK bit */
};

struct tg_token_cache {
    pthread_mutex_t cache_lock; /* guards everything below */
    struct entry *entries;
    uint32_t *buckets;
    uint32_t nbuckets; /* power of two */
    uint32_t capacity;
    uint32_t used;     /* slots ever used; free slots below it are on `free_head` */
    uint32_t free_head;
    uint32_t hand;
    struct tg_token_cache_stats st;
};

struct tg_token_cache *
tg_token_cache_new(size_t capacity)
{
    struct tg_token_cache *c;
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
    if (c->entries == NULL || c->buckets == NULL ||
        pthread_mutex_init(&c->cache_lock, NULL) != 0) {
        free(c->entries);
        free(c->buckets);
        free(c);
        return NULL;
    }
    for (i = 0; i < c->nbuckets; i++)
        c->buckets[i] = NIL;
    c->free_head = NIL;
    c->st.capacity = capacity;
    return c;
}

void
tg_token_cache_free(struct tg_token_cache *c)
{
    uint32_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->capacity; i++)
        tg_rs_token_unref(c->entries[i].tok);
    pthread_mutex_destroy(&c->cache_lock);
    free(c->entries);
    free(c->buckets);
    free(c);
}

static uint32_t
bucket_of(const struct tg_token_cache *c, const uint8_t *key)
{
    uint32_t h;

    memcpy(&h, key, sizeof(h));
    return h & (c->nbuckets - 1);
}

static uint32_t
find(const struct tg_token_cache *c, const uint8_t *key)
{
    uint32_t i;

    for (i = c->buckets[bucket_of(c, key)]; i != NIL; i = c->entries[i].next)
        if (memcmp(c->entries[i].key, key, TG_SHA256_LEN) == 0)
            return i;
    return NIL;
}

/* Unlink and release slot i; returns it to the caller (not to the free list). */
static void
drop(struct tg_token_cache *c, uint32_t i)
{
    uint32_t *pp = &c->buckets[bucket_of(c, c->entries[i].key)];

    while (*pp != i)
        pp = &c->entries[*pp].next;
    *pp = c->entries[i].next;
    tg_rs_token_unref(c->entries[i].tok);
    c->entries[i].tok = NULL;
    c->st.size--;
}

struct tg_rs_token *
tg_token_cache_get(struct tg_token_cache *c, const uint8_t key[TG_SHA256_LEN])
{
    struct tg_rs_token *t = NULL;
    uint32_t i;

    pthread_mutex_lock(&c->cache_lock);
    i = find(c, key);
    if (i != NIL) {
        c->entries[i].referenced = 1;
        t = tg_rs_token_ref(c->entries[i].tok);
        c->st.hits++;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->cache_lock);
    return t;
}

/* CLOCK sweep: an expired entry at once, else the first whose reference bit
 * is clear (clearing bits on the way). Two turns at most. */
static uint32_t
evict(struct tg_token_cache *c, int64_t now)
{
    struct entry *e;
    uint32_t victim;

    for (;;) {
        victim = c->hand;
        e = &c->entries[victim];
        c->hand = (c->hand + 1) % c->capacity;
        if (e->tok->exp <= now) {
            c->st.expired++;
        } else if (e->referenced) {
            e->referenced = 0;
            continue;
        } else {
            c->st.evictions++;
        }
        drop(c, victim);
        return victim;
    }
}

void
tg_token_cache_put(struct tg_token_cache *c, const uint8_t key[TG_SHA256_LEN],
                   struct tg_rs_token *t, int64_t now)
{
    uint32_t i, b;

    pthread_mutex_lock(&c->cache_lock);
    if (find(c, key) == NIL) {
        if (c->free_head != NIL) {
            i = c->free_head;
            c->free_head = c->entries[i].next;
        } else if (c->used < c->capacity) {
            i = c->used++;
        } else {
            i = evict(c, now);
        }
        memcpy(c->entries[i].key, key, TG_SHA256_LEN);
        c->entries[i].tok = tg_rs_token_ref(t);
        c->entries[i].referenced = 0;
        b = bucket_of(c, key);
        c->entries[i].next = c->buckets[b];
        c->buckets[b] = i;
        c->st.inserts++;
        c->st.size++;
    }
    pthread_mutex_unlock(&c->cache_lock);
}

void
tg_token_cache_remove(struct tg_token_cache *c, const uint8_t key[TG_SHA256_LEN])
{
    uint32_t i;

    pthread_mutex_lock(&c->cache_lock);
    i = find(c, key);
    if (i != NIL) {
        drop(c, i);
        c->st.expired++;
        c->entries[i].next = c->free_head;
        c->free_head = i;
    }
    pthread_mutex_unlock(&c->cache_lock);
}

void
tg_token_cache_clear(struct tg_token_cache *c)
{
    uint32_t i;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->cache_lock);
    for (i = 0; i < c->used; i++) {
        tg_rs_token_unref(c->entries[i].tok);
        c->entries[i].tok = NULL;
    }
    for (i = 0; i < c->nbuckets; i++)
        c->buckets[i] = NIL;
    c->used = 0;
    c->free_head = NIL;
    c->hand = 0;
    c->st.size = 0;
    pthread_mutex_unlock(&c->cache_lock);
}

void
tg_token_cache_stats(struct tg_token_cache *c, struct tg_token_cache_stats *out)
{
    pthread_mutex_lock(&c->cache_lock);
    *out = c->st;
    pthread_mutex_unlock(&c->cache_lock);
}
