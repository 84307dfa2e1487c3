/* A bounded, thread-safe hash table with CLOCK (second chance) eviction: the
 * one behind the JWK cache, the protected-header cache and the verified-token
 * cache.
 *
 * - Bounded: the entries are allocated up front; a put past capacity evicts.
 *   The hash table has at least two buckets per entry, and a chain can never
 *   be longer than the entries of its shard, so no lookup probes unboundedly.
 * - Keyed by bytes (a digest, a string, a header segment): keys of up to
 *   TG_CLOCK_CACHE_INLINE_KEY bytes live in the entry, longer ones on the heap.
 *   The hash is SipHash-2-4 under a seed the caller draws (tg_random), so
 *   whoever chooses the keys cannot aim them at one chain.
 * - Expiry: each entry may carry an expiry; a put sweeping for room takes an
 *   expired entry at once, before any second chance.
 * - Values are opaque and owned by the cache once put; `free_value` releases
 *   them. A get copies out what the caller needs through a callback run under
 *   the lock (take a reference, copy a few fields), so the value itself never
 *   leaves the cache's control. Values are released outside the lock on
 *   eviction and on a duplicate put; with the lock held only by clear and
 *   free. Neither callback may call back into the cache.
 * - Threads: the table is split into up to TG_CLOCK_CACHE_MAX_SHARDS shards
 *   (by the hash's high bits), each with its own lock, entries and CLOCK hand,
 *   so workers looking up different keys rarely meet. Small caches have one
 *   shard, so their eviction order is exactly CLOCK's. A lock is held for a
 *   lookup or an insert only. */
#ifndef TG_CORE_CLOCK_CACHE_H
#define TG_CORE_CLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define TG_CLOCK_CACHE_INLINE_KEY 32
#define TG_CLOCK_CACHE_MAX_CAPACITY (1u << 24)
#define TG_CLOCK_CACHE_MAX_SHARDS 16
#define TG_CLOCK_CACHE_MAX_KEY 65536
#define TG_CLOCK_CACHE_NO_EXPIRY INT64_MAX

struct tg_clock_cache;

struct tg_clock_cache_opts {
    size_t capacity;                  /* entries, 1 .. TG_CLOCK_CACHE_MAX_CAPACITY */
    uint8_t seed[16];                 /* the hash key: random (tg_random) */
    void (*free_value)(void *value);  /* required */
    size_t shards;                    /* 0: chosen from capacity; else a power of two,
                                         at most TG_CLOCK_CACHE_MAX_SHARDS */
};

struct tg_clock_cache_stats {
    uint64_t hits, misses, inserts, evictions, expired;
    size_t size, capacity;
};

/* NULL when the options are out of range or out of memory. */
struct tg_clock_cache *tg_clock_cache_new(const struct tg_clock_cache_opts *opts);
void tg_clock_cache_free(struct tg_clock_cache *c);

/* On a hit, sets the entry's reference bit and calls copy(value, arg) under
 * the lock; returns 1. A miss returns 0. */
int tg_clock_cache_get(struct tg_clock_cache *c, const void *key, size_t key_len,
                       void (*copy)(const void *value, void *arg), void *arg);

/* Insert `value` (owned by the cache from here on, whatever the outcome)
 * under `key`, expiring at `exp` (TG_CLOCK_CACHE_NO_EXPIRY: never); `now`
 * decides which entries have expired when room is needed. An existing entry
 * for the key is kept and `value` released. TG_ERR_NOMEM (value released)
 * when a long key cannot be copied; TG_ERR_INVALID_ARG for an empty key or
 * one past TG_CLOCK_CACHE_MAX_KEY. */
enum tg_err tg_clock_cache_put(struct tg_clock_cache *c, const void *key, size_t key_len,
                               void *value, int64_t exp, int64_t now);

/* Forget the entry for `key`, if any (counted as expired); returns 1 when
 * there was one. */
int tg_clock_cache_remove(struct tg_clock_cache *c, const void *key, size_t key_len);

/* Forget every entry; the counters are kept. */
void tg_clock_cache_clear(struct tg_clock_cache *c);

void tg_clock_cache_stats(struct tg_clock_cache *c, struct tg_clock_cache_stats *out);

/* SipHash-2-4 of `data` under the 16-byte `seed`: this table's hash, and
 * the replay cache's (src/store/cache_memory.c). */
uint64_t tg_clock_cache_hash(const uint8_t seed[16], const void *data, size_t len);

#endif
