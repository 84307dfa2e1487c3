/* A bounded, thread-safe cache of parsed public keys keyed by their RFC 7638
 * thumbprint. Building an OpenSSL key from a JWK costs tens of
 * microseconds; a lookup costs a hash and a lock. Eviction is CLOCK
 * (second chance). Entries hold a key reference; callers get their own. */
#ifndef TG_JOSE_JWK_CACHE_H
#define TG_JOSE_JWK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

struct tg_jwk_cache;

struct tg_jwk_cache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t size, capacity;
};

struct tg_jwk_cache *tg_jwk_cache_new(size_t capacity);
void tg_jwk_cache_free(struct tg_jwk_cache *cache);
/* A new reference to the cached key, or NULL. */
struct tg_key *tg_jwk_cache_get(struct tg_jwk_cache *cache, const uint8_t tp[TG_SHA256_LEN]);
/* Insert (or keep the existing entry); the cache takes its own reference. */
enum tg_err tg_jwk_cache_put(struct tg_jwk_cache *cache, const uint8_t tp[TG_SHA256_LEN],
                             struct tg_key *key) TG_MUST_CHECK;
void tg_jwk_cache_stats(struct tg_jwk_cache *cache, struct tg_jwk_cache_stats *out);

#endif
