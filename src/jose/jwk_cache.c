/* The JWK cache on the generic CLOCK table: thumbprint -> a key reference. */
#include "jose/jwk_cache.h"

#include <stdlib.h>

#include "core/clock_cache.h"

struct tg_jwk_cache {
    struct tg_clock_cache *t;
};

static void
free_key(void *v)
{
    tg_key_free(v);
}

static void
copy_key(const void *v, void *arg)
{
    *(struct tg_key **)arg = tg_key_ref((struct tg_key *)v);
}

struct tg_jwk_cache *
tg_jwk_cache_new(size_t capacity)
{
    struct tg_jwk_cache *c = malloc(sizeof(*c));

    if (c == NULL || (c->t = tg_clock_cache_new_random(capacity, free_key)) == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void
tg_jwk_cache_free(struct tg_jwk_cache *c)
{
    if (c == NULL)
        return;
    tg_clock_cache_free(c->t);
    free(c);
}

struct tg_key *
tg_jwk_cache_get(struct tg_jwk_cache *c, const uint8_t tp[TG_SHA256_LEN])
{
    struct tg_key *key = NULL;

    (void)tg_clock_cache_get(c->t, tp, TG_SHA256_LEN, copy_key, &key);
    return key;
}

enum tg_err
tg_jwk_cache_put(struct tg_jwk_cache *c, const uint8_t tp[TG_SHA256_LEN], struct tg_key *key)
{
    /* The table owns what it is given: its own reference. */
    return tg_clock_cache_put(c->t, tp, TG_SHA256_LEN, tg_key_ref(key),
                              TG_CLOCK_CACHE_NO_EXPIRY, 0);
}

void
tg_jwk_cache_stats(struct tg_jwk_cache *c, struct tg_jwk_cache_stats *out)
{
    struct tg_clock_cache_stats st;

    tg_clock_cache_stats(c->t, &st);
    out->hits = st.hits;
    out->misses = st.misses;
    out->inserts = st.inserts;
    out->evictions = st.evictions;
    out->size = st.size;
    out->capacity = st.capacity;
}
