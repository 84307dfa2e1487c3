/* Short-lived shared state: the DPoP jti replay cache, single-use client
 * assertion jtis, nonces. In memory for one node (cache_memory.c); Redis in a
 * later issue. Implementations are thread-safe. */
#ifndef TG_STORE_CACHE_H
#define TG_STORE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct tg_cache;

/* Longest key insert_once accepts (longer: TG_ERR_INVALID_ARG). Callers
 * with longer identifiers insert a digest of them. */
#define TG_CACHE_KEY_MAX 256

struct tg_cache_ops {
    /* Record `key` until `expires_at` (seconds since the epoch) if it is not
     * already there. TG_OK: new. TG_ERR_REPLAY: seen and not yet expired.
     * TG_ERR_CACHE_FULL: no room without forgetting a live entry — callers
     * refuse the request (fail closed) rather than forget. */
    enum tg_err (*insert_once)(struct tg_cache *c, const void *key, size_t key_len,
                               int64_t expires_at, int64_t now);
    void (*free)(struct tg_cache *c);
};

struct tg_cache {
    const struct tg_cache_ops *ops;
};

static inline enum tg_err
tg_cache_insert_once(struct tg_cache *c, const void *key, size_t key_len, int64_t expires_at,
                     int64_t now)
{
    return c->ops->insert_once(c, key, key_len, expires_at, now);
}

static inline void
tg_cache_free(struct tg_cache *c)
{
    if (c != NULL)
        c->ops->free(c);
}

/* In-memory cache holding at most `max_entries` live entries; an entry is
 * live while now <= expires_at. NULL when max_entries is 0 or out of memory. */
struct tg_cache *tg_cache_memory_new(size_t max_entries);

#endif
