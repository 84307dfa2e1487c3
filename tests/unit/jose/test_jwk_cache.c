#include <pthread.h>

#include "test.h"

#include "keys.h"

#define NKEYS 12

static char *pubs[NKEYS];
static struct tg_jwk gens[NKEYS];

static void
test_hit_returns_same_key(void)
{
    struct tg_jwk_cache *c = tg_jwk_cache_new(16);
    struct tg_jwk a, b;
    struct tg_jwk_cache_stats st;

    CHECK_OK(tg_jwk_parse(pubs[0], strlen(pubs[0]), TG_JWK_PUBLIC_ONLY, c, &a));
    CHECK_OK(tg_jwk_parse(pubs[0], strlen(pubs[0]), TG_JWK_PUBLIC_ONLY, c, &b));
    CHECK(a.key == b.key); /* the cached object, not a re-parse */
    tg_jwk_cache_stats(c, &st);
    CHECK(st.hits == 1 && st.misses == 1 && st.inserts == 1 && st.size == 1);
    tg_jwk_reset(&a);
    tg_jwk_reset(&b);
    tg_jwk_cache_free(c);
}

static void
test_alg_kid_not_cached(void)
{
    /* The cache holds key material only: the per-JWK alg restriction comes
     * from the JWK being parsed, not from whichever came first. */
    struct tg_jwk_cache *c = tg_jwk_cache_new(4);
    json_t *o = json_loads(pubs[0], 0, NULL);
    struct tg_jwk a, b;

    json_object_set_new(o, "alg", json_string("ES256"));
    json_object_set_new(o, "kid", json_string("one"));
    CHECK_OK(tg_jwk_from_json(o, 0, c, &a));
    json_object_del(o, "alg");
    json_object_set_new(o, "kid", json_string("two"));
    CHECK_OK(tg_jwk_from_json(o, 0, c, &b));
    CHECK(a.key == b.key);
    CHECK(a.alg == TG_JWS_ES256 && b.alg == TG_JWS_ALG_UNSET);
    CHECK(strcmp(a.kid, "one") == 0 && strcmp(b.kid, "two") == 0);
    tg_jwk_reset(&a);
    tg_jwk_reset(&b);
    json_decref(o);
    tg_jwk_cache_free(c);
}

static void
test_private_keys_not_cached(void)
{
    struct tg_jwk_cache *c = tg_jwk_cache_new(4);
    json_t *priv = NULL;
    struct tg_jwk a;
    struct tg_jwk_cache_stats st;

    CHECK_OK(tg_jwk_private_json(&gens[0], &priv));
    CHECK_OK(tg_jwk_from_json(priv, 0, c, &a));
    CHECK(tg_key_is_private(a.key));
    tg_jwk_cache_stats(c, &st);
    CHECK(st.size == 0 && st.inserts == 0);
    tg_jwk_reset(&a);
    /* And a later public lookup does not get the private key. */
    CHECK_OK(tg_jwk_parse(pubs[0], strlen(pubs[0]), 0, c, &a));
    CHECK(!tg_key_is_private(a.key));
    tg_jwk_reset(&a);
    json_decref(priv);
    tg_jwk_cache_free(c);
}

static void
test_bounded_eviction(void)
{
    struct tg_jwk_cache *c = tg_jwk_cache_new(4);
    struct tg_jwk j, held;
    struct tg_jwk_cache_stats st;
    int i, round;

    /* Hold a reference to a key, then push it out: it must stay usable. */
    CHECK_OK(tg_jwk_parse(pubs[0], strlen(pubs[0]), 0, c, &held));
    for (round = 0; round < 3; round++) {
        for (i = 0; i < NKEYS; i++) {
            CHECK_OK(tg_jwk_parse(pubs[i], strlen(pubs[i]), 0, c, &j));
            CHECK(memcmp(j.thumbprint, gens[i].thumbprint, 32) == 0);
            tg_jwk_reset(&j);
        }
    }
    tg_jwk_cache_stats(c, &st);
    CHECK(st.size == 4 && st.capacity == 4);
    CHECK(st.evictions > 0);
    {
        uint8_t sig[64];
        size_t len;

        CHECK_OK(tg_sign(gens[0].key, TG_SIG_ECDSA_P256_SHA256, TG_SLICE_STR("x"), sig,
                         sizeof(sig), &len));
        CHECK_OK(tg_verify(held.key, TG_SIG_ECDSA_P256_SHA256, TG_SLICE_STR("x"),
                           tg_slice(sig, len)));
    }
    tg_jwk_reset(&held);
    /* A key used again and again survives a scan of one-off keys (CLOCK). */
    tg_jwk_cache_free(c);
    CHECK(tg_jwk_cache_new(0) == NULL);
}

static void *
worker(void *arg)
{
    struct tg_jwk_cache *c = arg;
    struct tg_jwk j;
    long bad = 0;
    int i;

    for (i = 0; i < 4000; i++) {
        int k = (i * 7) % NKEYS;

        if (tg_jwk_parse(pubs[k], strlen(pubs[k]), TG_JWK_PUBLIC_ONLY, c, &j) != TG_OK ||
            memcmp(j.thumbprint, gens[k].thumbprint, 32) != 0)
            bad++;
        tg_jwk_reset(&j);
    }
    return (void *)bad;
}

static void
test_threads(void)
{
    struct tg_jwk_cache *c = tg_jwk_cache_new(5);
    pthread_t th[4];
    void *r;
    long bad = 0;
    int i;

    for (i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, worker, c) == 0);
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], &r);
        bad += (long)r;
    }
    CHECK(bad == 0);
    tg_jwk_cache_free(c);
}

int
main(void)
{
    int i;

    for (i = 0; i < NKEYS; i++) {
        gens[i] = t_gen(TG_KEY_EC_P256);
        pubs[i] = t_pub_json(&gens[i]);
        if (pubs[i] == NULL)
            return 1;
    }
    RUN(test_hit_returns_same_key);
    RUN(test_alg_kid_not_cached);
    RUN(test_private_keys_not_cached);
    RUN(test_bounded_eviction);
    RUN(test_threads);
    for (i = 0; i < NKEYS; i++) {
        free(pubs[i]);
        tg_jwk_reset(&gens[i]);
    }
    return t_report("jose/jwk_cache");
}
