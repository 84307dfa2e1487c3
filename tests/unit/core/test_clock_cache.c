#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "test.h"

#include "core/clock_cache.h"

/* A value that knows its key and counts its references, so a test can see
 * that a hit returns the right value and that every value is released. */
struct val {
    atomic_int refs;
    char key[128];
};

static atomic_int live;

static struct val *
val_new(const char *key)
{
    struct val *v = calloc(1, sizeof(*v));

    atomic_init(&v->refs, 1);
    snprintf(v->key, sizeof(v->key), "%s", key);
    atomic_fetch_add(&live, 1);
    return v;
}

static void
val_unref(void *p)
{
    struct val *v = p;

    if (atomic_fetch_sub(&v->refs, 1) == 1) {
        atomic_fetch_sub(&live, 1);
        free(v);
    }
}

static void
copy_ref(const void *p, void *arg)
{
    struct val *v = (struct val *)p;

    atomic_fetch_add(&v->refs, 1);
    *(struct val **)arg = v;
}

static struct tg_clock_cache *
mk(size_t capacity, size_t shards)
{
    struct tg_clock_cache_opts o = {.capacity = capacity, .free_value = val_unref,
                                    .shards = shards};

    memcpy(o.seed, "0123456789abcdef", 16);
    return tg_clock_cache_new(&o);
}

static enum tg_err
put(struct tg_clock_cache *c, const char *key, int64_t exp, int64_t now)
{
    return tg_clock_cache_put(c, key, strlen(key), val_new(key), exp, now);
}

/* 1 when `key` is cached (and its value is the one put under it). */
static int
has(struct tg_clock_cache *c, const char *key)
{
    struct val *v = NULL;
    int hit = tg_clock_cache_get(c, key, strlen(key), copy_ref, &v);

    if (!hit)
        return 0;
    CHECK(strcmp(v->key, key) == 0);
    val_unref(v);
    return 1;
}

static void
test_get_put_duplicate(void)
{
    struct tg_clock_cache *c = mk(8, 0);
    struct tg_clock_cache_stats st;
    struct val *v = NULL, *first = val_new("a");

    CHECK(c != NULL);
    CHECK(!has(c, "a"));
    CHECK_OK(tg_clock_cache_put(c, "a", 1, first, TG_CLOCK_CACHE_NO_EXPIRY, 0));
    /* A second put under the same key keeps the first and releases the new. */
    CHECK_OK(put(c, "a", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK(atomic_load(&live) == 1);
    CHECK(tg_clock_cache_get(c, "a", 1, copy_ref, &v) && v == first);
    val_unref(v);
    tg_clock_cache_stats(c, &st);
    CHECK(st.hits == 1 && st.misses == 1 && st.inserts == 1 && st.size == 1 &&
          st.capacity == 8 && st.evictions == 0);
    tg_clock_cache_free(c);
    CHECK(atomic_load(&live) == 0);
}

static void
test_eviction_order(void)
{
    struct tg_clock_cache *c = mk(4, 1);
    struct tg_clock_cache_stats st;

    CHECK_OK(put(c, "k0", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK_OK(put(c, "k1", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK_OK(put(c, "k2", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK_OK(put(c, "k3", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK(has(c, "k1") && has(c, "k3")); /* second chances */
    /* The hand starts at k0: unreferenced, it goes. */
    CHECK_OK(put(c, "k4", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    /* k1 loses its bit and stays; k2 goes. */
    CHECK_OK(put(c, "k5", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    /* k3 loses its bit and stays; k4 (never read) goes. */
    CHECK_OK(put(c, "k6", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    tg_clock_cache_stats(c, &st);
    CHECK(st.evictions == 3 && st.size == 4);
    /* has() sets the bits again: the order was settled above. */
    CHECK(!has(c, "k0") && !has(c, "k2") && !has(c, "k4"));
    CHECK(has(c, "k1") && has(c, "k3") && has(c, "k5") && has(c, "k6"));
    /* Every entry referenced: a full turn clears them, then the hand's first. */
    CHECK_OK(put(c, "k7", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    tg_clock_cache_stats(c, &st);
    CHECK(st.evictions == 4 && st.size == 4);
    tg_clock_cache_free(c);
    CHECK(atomic_load(&live) == 0);
}

static void
test_capacity_bound(void)
{
    struct tg_clock_cache *c;
    struct tg_clock_cache_stats st;
    char key[32];
    size_t cap[] = {1, 7, 100, 4096, 10000}, i, n;

    for (i = 0; i < sizeof(cap) / sizeof(cap[0]); i++) {
        c = mk(cap[i], 0);
        CHECK(c != NULL);
        for (n = 0; n < 3 * cap[i] + 10; n++) {
            snprintf(key, sizeof(key), "key-%zu", n);
            CHECK_OK(put(c, key, TG_CLOCK_CACHE_NO_EXPIRY, 0));
            tg_clock_cache_stats(c, &st);
            if (st.size > cap[i])
                break;
        }
        tg_clock_cache_stats(c, &st);
        CHECK(st.capacity == cap[i] && st.size <= cap[i] && st.inserts == n);
        CHECK(st.evictions == st.inserts - st.size);
        CHECK((size_t)atomic_load(&live) == st.size);
        /* A single shard fills exactly. */
        if (cap[i] < 512)
            CHECK(st.size == cap[i]);
        tg_clock_cache_free(c);
        CHECK(atomic_load(&live) == 0);
    }
}

static void
test_expiry(void)
{
    struct tg_clock_cache *c = mk(3, 1);
    struct tg_clock_cache_stats st;

    CHECK_OK(put(c, "a", 100, 0));
    CHECK_OK(put(c, "b", 50, 0));
    CHECK_OK(put(c, "c", 200, 0));
    CHECK(has(c, "a") && has(c, "b") && has(c, "c")); /* all referenced */
    /* At 60, b has expired: it goes before any unreferenced entry would,
     * and a (the hand's first, referenced) keeps its place. */
    CHECK_OK(put(c, "d", 300, 60));
    tg_clock_cache_stats(c, &st);
    CHECK(st.expired == 1 && st.evictions == 0 && st.size == 3);
    CHECK(!has(c, "b") && has(c, "a") && has(c, "c") && has(c, "d"));
    /* At 250 a and c have expired, though both were just read. */
    CHECK_OK(put(c, "e", 400, 250));
    CHECK_OK(put(c, "f", 400, 250));
    tg_clock_cache_stats(c, &st);
    CHECK(st.expired == 3 && st.evictions == 0);
    CHECK(!has(c, "a") && !has(c, "c") && has(c, "d"));
    /* exp == now is expired (d, at the hand). */
    CHECK_OK(put(c, "g", 400, 300));
    tg_clock_cache_stats(c, &st);
    CHECK(st.expired == 4);
    tg_clock_cache_free(c);
    CHECK(atomic_load(&live) == 0);
}

static void
test_remove_clear(void)
{
    struct tg_clock_cache *c = mk(2, 1);
    struct tg_clock_cache_stats st;

    CHECK_OK(put(c, "a", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK_OK(put(c, "b", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK(tg_clock_cache_remove(c, "a", 1) == 1);
    CHECK(tg_clock_cache_remove(c, "a", 1) == 0);
    CHECK(atomic_load(&live) == 1);
    /* The freed slot is used before anything is evicted. */
    CHECK_OK(put(c, "c", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    tg_clock_cache_stats(c, &st);
    CHECK(st.evictions == 0 && st.expired == 1 && st.size == 2);
    CHECK(has(c, "b") && has(c, "c"));
    tg_clock_cache_clear(c);
    CHECK(atomic_load(&live) == 0);
    tg_clock_cache_stats(c, &st);
    CHECK(st.size == 0 && st.inserts == 3);
    CHECK(!has(c, "b"));
    CHECK_OK(put(c, "d", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK_OK(put(c, "e", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK(has(c, "d") && has(c, "e"));
    tg_clock_cache_clear(NULL);
    tg_clock_cache_free(c);
    tg_clock_cache_free(NULL);
    CHECK(atomic_load(&live) == 0);
}

static void
test_keys(void)
{
    struct tg_clock_cache *c = mk(16, 1);
    char long1[100], long2[100];
    uint8_t bin[32] = {0};
    struct val *v = NULL;

    /* Prefixes, inline and heap keys, keys with NULs. */
    memset(long1, 'x', sizeof(long1) - 1);
    long1[sizeof(long1) - 1] = '\0';
    memcpy(long2, long1, sizeof(long2));
    long2[98] = 'y';
    CHECK_OK(put(c, "abc", TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK_OK(put(c, long1, TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK(has(c, "abc") && !has(c, "abcd") && !has(c, "ab"));
    CHECK(has(c, long1) && !has(c, long2));
    CHECK_OK(put(c, long2, TG_CLOCK_CACHE_NO_EXPIRY, 0));
    CHECK(has(c, long1) && has(c, long2));
    CHECK_OK(tg_clock_cache_put(c, bin, sizeof(bin), val_new("bin"), TG_CLOCK_CACHE_NO_EXPIRY,
                                0));
    bin[31] = 1;
    CHECK(!tg_clock_cache_get(c, bin, sizeof(bin), copy_ref, &v));
    bin[31] = 0;
    CHECK(tg_clock_cache_get(c, bin, sizeof(bin), copy_ref, &v) && strcmp(v->key, "bin") == 0);
    val_unref(v);
    /* Refused, and the value released all the same. */
    CHECK_ERR(tg_clock_cache_put(c, "", 0, val_new(""), TG_CLOCK_CACHE_NO_EXPIRY, 0),
              TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_clock_cache_put(c, long1, TG_CLOCK_CACHE_MAX_KEY + 1, val_new("big"),
                                 TG_CLOCK_CACHE_NO_EXPIRY, 0),
              TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_clock_cache_put(c, "n", 1, NULL, TG_CLOCK_CACHE_NO_EXPIRY, 0),
              TG_ERR_INVALID_ARG);
    CHECK(atomic_load(&live) == 4);
    tg_clock_cache_free(c);
    CHECK(atomic_load(&live) == 0);
}

static void
test_bad_options(void)
{
    struct tg_clock_cache_opts o = {.capacity = 4, .free_value = val_unref};

    CHECK(mk(0, 0) == NULL);
    CHECK(mk(TG_CLOCK_CACHE_MAX_CAPACITY + 1, 0) == NULL);
    CHECK(mk(8, 3) == NULL);                              /* not a power of two */
    CHECK(mk(64, TG_CLOCK_CACHE_MAX_SHARDS * 2) == NULL); /* too many */
    CHECK(mk(2, 4) == NULL);                              /* more shards than entries */
    o.free_value = NULL;
    CHECK(tg_clock_cache_new(&o) == NULL);
    CHECK(tg_clock_cache_new(NULL) == NULL);
}

/* Keys that fall in one bucket under a known seed, found by trying. */
static void
test_collisions(void)
{
    static const uint8_t seed[16] = "0123456789abcdef", other[16] = "fedcba9876543210";
    struct tg_clock_cache *c = mk(8, 1); /* 16 buckets */
    char keys[8][16], key[16];
    size_t n = 0, i, same_other = 0;
    uint64_t h0 = 0;

    for (i = 0; n < 8 && i < 100000; i++) {
        snprintf(key, sizeof(key), "c%zu", i);
        if (n == 0)
            h0 = tg_clock_cache_hash(seed, key, strlen(key));
        if ((tg_clock_cache_hash(seed, key, strlen(key)) & 15) == (h0 & 15))
            memcpy(keys[n++], key, sizeof(key));
    }
    CHECK(n == 8);
    for (i = 0; i < n; i++)
        CHECK_OK(put(c, keys[i], TG_CLOCK_CACHE_NO_EXPIRY, 0));
    for (i = 0; i < n; i++)
        CHECK(has(c, keys[i]));
    /* Unlink from the middle of the chain, and from its ends. */
    CHECK(tg_clock_cache_remove(c, keys[4], strlen(keys[4])));
    CHECK(tg_clock_cache_remove(c, keys[0], strlen(keys[0])));
    CHECK(tg_clock_cache_remove(c, keys[7], strlen(keys[7])));
    for (i = 0; i < n; i++)
        CHECK(has(c, keys[i]) == (i != 0 && i != 4 && i != 7));
    /* Eviction through the chain keeps it whole. */
    for (i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "e%zu", i);
        CHECK_OK(put(c, key, TG_CLOCK_CACHE_NO_EXPIRY, 0));
        CHECK(has(c, key));
    }
    tg_clock_cache_free(c);
    CHECK(atomic_load(&live) == 0);
    /* Under another seed the same keys scatter: collisions cannot be aimed
     * without the seed. */
    for (i = 1; i < n; i++)
        same_other += (tg_clock_cache_hash(other, keys[i], strlen(keys[i])) & 15) ==
                      (tg_clock_cache_hash(other, keys[0], strlen(keys[0])) & 15);
    CHECK(same_other < 7);
}

static void
test_hash(void)
{
    static const uint8_t seed[16] = "0123456789abcdef";
    uint8_t buf[64], k[16];
    uint64_t h[65];
    size_t i, j;

    /* The reference vectors (SipHash paper, appendix A; vectors.h): key
     * 00..0f, messages 00..0e and empty. */
    for (i = 0; i < sizeof(k); i++)
        k[i] = (uint8_t)i;
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)i;
    CHECK(tg_clock_cache_hash(k, buf, 15) == 0xa129ca6149be45e5ULL);
    CHECK(tg_clock_cache_hash(k, buf, 0) == 0x726fdb47dd0e0e31ULL);
    /* Every length, across the 8-byte blocks and the tail, hashes apart. */
    for (i = 0; i <= sizeof(buf); i++)
        h[i] = tg_clock_cache_hash(seed, buf, i);
    for (i = 0; i <= sizeof(buf); i++)
        for (j = 0; j < i; j++)
            CHECK(h[i] != h[j]);
    CHECK(tg_clock_cache_hash(seed, buf, 20) == h[20]);
}

/* ---- threads ---------------------------------------------------------- */

#define T_THREADS 8
#define T_OPS 20000
#define T_KEYS 1500

static struct tg_clock_cache *shared;

static void *
worker(void *arg)
{
    unsigned r = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    char key[80];
    struct val *v;
    int i, k;
    struct tg_clock_cache_stats st;

    for (i = 0; i < T_OPS; i++) {
        r = r * 1103515245u + 12345u;
        k = (int)((r >> 8) % T_KEYS);
        /* Short keys inline, every third one long (on the heap). */
        if (k % 3 == 0)
            snprintf(key, sizeof(key), "long-key-%060d", k);
        else
            snprintf(key, sizeof(key), "k%d", k);
        switch ((r >> 24) % 16) {
        case 0:
            (void)tg_clock_cache_remove(shared, key, strlen(key));
            break;
        case 1:
            if (i % 1000 == 1)
                tg_clock_cache_clear(shared);
            else
                tg_clock_cache_stats(shared, &st);
            break;
        case 2:
        case 3:
        case 4:
        case 5:
            CHECK_OK(tg_clock_cache_put(shared, key, strlen(key), val_new(key), 1000 + k,
                                        1000 + i % 700));
            break;
        default:
            v = NULL;
            if (tg_clock_cache_get(shared, key, strlen(key), copy_ref, &v)) {
                /* The value outlives its eviction while we hold it. */
                CHECK(strcmp(v->key, key) == 0);
                val_unref(v);
            }
            break;
        }
    }
    return NULL;
}

static void
test_threads(void)
{
    pthread_t th[T_THREADS];
    struct tg_clock_cache_stats st;
    size_t i;

    shared = mk(1024, 0); /* four shards */
    CHECK(shared != NULL);
    for (i = 0; i < T_THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    for (i = 0; i < T_THREADS; i++)
        pthread_join(th[i], NULL);
    tg_clock_cache_stats(shared, &st);
    CHECK(st.size <= 1024 && (size_t)atomic_load(&live) == st.size);
    CHECK(st.hits > 0 && st.misses > 0 && st.inserts > 0);
    tg_clock_cache_free(shared);
    CHECK(atomic_load(&live) == 0);
}

int
main(void)
{
    RUN(test_get_put_duplicate);
    RUN(test_eviction_order);
    RUN(test_capacity_bound);
    RUN(test_expiry);
    RUN(test_remove_clear);
    RUN(test_keys);
    RUN(test_bad_options);
    RUN(test_collisions);
    RUN(test_hash);
    RUN(test_threads);
    return t_report("core/clock_cache");
}
