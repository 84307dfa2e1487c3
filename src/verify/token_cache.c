/* The verified-token cache: SHA-256 of the token text -> struct tg_rs_token,
 * on the generic CLOCK table (core/clock_cache.h). Each entry expires with
 * its token, so a sweep for room takes an expired one first. A hit hands out
 * a reference to the immutable token; no lock is held across a signature
 * check. */
#include <stdlib.h>

#include "core/clock_cache.h"
#include "verify/token.h"

struct tg_token_cache {
    struct tg_clock_cache *t;
};

static void
free_token(void *v)
{
    tg_rs_token_unref(v);
}

static void
copy_token(const void *v, void *arg)
{
    *(struct tg_rs_token **)arg = tg_rs_token_ref((struct tg_rs_token *)v);
}

struct tg_token_cache *
tg_token_cache_new(size_t capacity)
{
    struct tg_token_cache *c = malloc(sizeof(*c));

    if (c == NULL || (c->t = tg_clock_cache_new_random(capacity, free_token)) == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void
tg_token_cache_free(struct tg_token_cache *c)
{
    if (c == NULL)
        return;
    tg_clock_cache_free(c->t);
    free(c);
}

struct tg_rs_token *
tg_token_cache_get(struct tg_token_cache *c, const uint8_t key[TG_SHA256_LEN])
{
    struct tg_rs_token *t = NULL;

    (void)tg_clock_cache_get(c->t, key, TG_SHA256_LEN, copy_token, &t);
    return t;
}

void
tg_token_cache_put(struct tg_token_cache *c, const uint8_t key[TG_SHA256_LEN],
                   struct tg_rs_token *t, int64_t now)
{
    /* Out of memory cannot happen for a digest key (stored inline); a
     * token that is not cached is verified again next time. */
    (void)tg_clock_cache_put(c->t, key, TG_SHA256_LEN, tg_rs_token_ref(t), t->exp, now);
}

void
tg_token_cache_remove(struct tg_token_cache *c, const uint8_t key[TG_SHA256_LEN])
{
    (void)tg_clock_cache_remove(c->t, key, TG_SHA256_LEN);
}

void
tg_token_cache_clear(struct tg_token_cache *c)
{
    if (c == NULL)
        return;
    tg_clock_cache_clear(c->t);
}

void
tg_token_cache_stats(struct tg_token_cache *c, struct tg_token_cache_stats *out)
{
    struct tg_clock_cache_stats st;

    tg_clock_cache_stats(c->t, &st);
    out->hits = st.hits;
    out->misses = st.misses;
    out->inserts = st.inserts;
    out->evictions = st.evictions;
    out->expired = st.expired;
    out->size = st.size;
    out->capacity = st.capacity;
}
