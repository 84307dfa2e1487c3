/* A small in-memory replay set (DPoP jti) for verifiers without a store,
 * such as libtollgate. Keys are kept as HMAC-SHA256 under a random per-set
 * key, so nobody can choose jtis that pile into one bucket, and so the set
 * never holds a caller's identifiers in the clear.
 *
 * Fixed capacity, allocated up front: a chained table over an entry array
 * with a free list. When every slot is taken it sweeps once for expired
 * entries; if all are live it refuses (TG_ERR_CACHE_FULL) rather than
 * forget one, and the proof is refused. An entry is live while
 * now <= expires_at. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"
#include "verify/resource.h"

#define NIL UINT32_MAX

struct slot {
    uint8_t mac[TG_SHA256_LEN];
    int64_t expires_at;
    uint32_t next; /* bucket chain, or free list */
    uint8_t used;
};

struct tg_replay_mem {
    uint8_t salt[32]; /* immutable after _new */
    pthread_mutex_t replay_lock; /* guards everything below */
    struct slot *slots;
    uint32_t *buckets;
    uint32_t nbuckets, capacity, count, free_head;
};

struct tg_replay_mem *
tg_replay_mem_new(size_t max_entries)
{
    struct tg_replay_mem *r;
    uint32_t i;

    if (max_entries == 0 || max_entries > (1u << 24))
        return NULL;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->capacity = (uint32_t)max_entries;
    r->nbuckets = 1;
    while (r->nbuckets < r->capacity * 2)
        r->nbuckets <<= 1;
    r->slots = calloc(r->capacity, sizeof(*r->slots));
    r->buckets = malloc(r->nbuckets * sizeof(*r->buckets));
    if (r->slots == NULL || r->buckets == NULL || tg_random(r->salt, sizeof(r->salt)) != TG_OK ||
        pthread_mutex_init(&r->replay_lock, NULL) != 0) {
        free(r->slots);
        free(r->buckets);
        free(r);
        return NULL;
    }
    for (i = 0; i < r->nbuckets; i++)
        r->buckets[i] = NIL;
    for (i = 0; i < r->capacity; i++)
        r->slots[i].next = i + 1 < r->capacity ? i + 1 : NIL;
    r->free_head = 0;
    return r;
}

void
tg_replay_mem_free(struct tg_replay_mem *r)
{
    if (r == NULL)
        return;
    pthread_mutex_destroy(&r->replay_lock);
    tg_wipe(r->salt, sizeof(r->salt));
    free(r->slots);
    free(r->buckets);
    free(r);
}

static uint32_t
bucket_of(const struct tg_replay_mem *r, const uint8_t *mac)
{
    uint32_t h;

    memcpy(&h, mac, sizeof(h));
    return h & (r->nbuckets - 1);
}

/* Remove every expired entry. O(capacity), run only when the set is full. */
static void
sweep(struct tg_replay_mem *r, int64_t now)
{
    uint32_t b, *pp, i;

    for (b = 0; b < r->nbuckets; b++) {
        pp = &r->buckets[b];
        while (*pp != NIL) {
            i = *pp;
            if (now <= r->slots[i].expires_at) {
                pp = &r->slots[i].next;
                continue;
            }
            *pp = r->slots[i].next;
            r->slots[i].used = 0;
            r->slots[i].next = r->free_head;
            r->free_head = i;
            r->count--;
        }
    }
}

enum tg_err
tg_replay_mem_insert_once(void *arg, const void *key, size_t key_len, int64_t expires_at,
                          int64_t now)
{
    struct tg_replay_mem *r = arg;
    uint8_t mac[TG_SHA256_LEN];
    uint32_t i, b;
    enum tg_err rv = TG_OK;

    TG_ENSURE(r != NULL && key != NULL, TG_ERR_INVALID_ARG, "no replay set");
    TG_GUARD(tg_hmac_sha256(tg_slice(r->salt, sizeof(r->salt)), tg_slice(key, key_len), mac));
    b = bucket_of(r, mac);
    pthread_mutex_lock(&r->replay_lock);
    for (i = r->buckets[b]; i != NIL; i = r->slots[i].next) {
        if (memcmp(r->slots[i].mac, mac, sizeof(mac)) != 0)
            continue;
        if (now <= r->slots[i].expires_at) {
            rv = TG_ERR_REPLAY;
        } else {
            r->slots[i].expires_at = expires_at; /* seen long ago: a new use */
        }
        goto out;
    }
    if (r->free_head == NIL)
        sweep(r, now);
    if (r->free_head == NIL) {
        rv = TG_ERR_CACHE_FULL;
        goto out;
    }
    i = r->free_head;
    r->free_head = r->slots[i].next;
    memcpy(r->slots[i].mac, mac, sizeof(mac));
    r->slots[i].expires_at = expires_at;
    r->slots[i].used = 1;
    r->slots[i].next = r->buckets[b];
    r->buckets[b] = i;
    r->count++;
out:
    pthread_mutex_unlock(&r->replay_lock);
    if (rv != TG_OK)
        tg_err_raise(rv, rv == TG_ERR_REPLAY ? "replayed key" : "replay set full");
    return rv;
}
