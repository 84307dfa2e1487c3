/* The in-memory replay cache: new / replay, expiry and reuse, refusal when
 * full (and only while the entries are live), exact reclamation order,
 * key limits, scale, and exact counts under four threads. */
#include "test.h"

#include <pthread.h>
#include <stdio.h>

#include "store/cache.h"

static enum tg_err
ins(struct tg_cache *c, const char *key, int64_t exp, int64_t now)
{
    return tg_cache_insert_once(c, key, strlen(key), exp, now);
}

static void
test_new_and_replay(void)
{
    struct tg_cache *c = tg_cache_memory_new(16);

    CHECK(c != NULL);
    if (c == NULL)
        return;
    CHECK_OK(ins(c, "jti-1", 100, 50));
    CHECK_ERR(ins(c, "jti-1", 100, 60), TG_ERR_REPLAY);
    CHECK_ERR(ins(c, "jti-1", 500, 60), TG_ERR_REPLAY); /* a later exp changes nothing */
    CHECK_OK(ins(c, "jti-2", 100, 60));
    CHECK_OK(ins(c, "jti-", 100, 60));   /* prefix */
    CHECK_OK(ins(c, "jti-1x", 100, 60)); /* extension */
    CHECK_OK(ins(c, "jti-3", 100, 60));
    /* Keys are bytes, not strings: embedded NULs count. */
    CHECK_OK(tg_cache_insert_once(c, "a\0b", 3, 100, 60));
    CHECK_OK(tg_cache_insert_once(c, "a\0c", 3, 100, 60));
    CHECK_ERR(tg_cache_insert_once(c, "a\0b", 3, 100, 60), TG_ERR_REPLAY);
    CHECK_OK(tg_cache_insert_once(c, "a", 1, 100, 60));
    tg_cache_free(c);
    tg_cache_free(NULL);
}

static void
test_expiry_and_reuse(void)
{
    struct tg_cache *c = tg_cache_memory_new(4);

    if (c == NULL) {
        CHECK(c != NULL);
        return;
    }
    CHECK_OK(ins(c, "k", 100, 50));
    CHECK_ERR(ins(c, "k", 100, 99), TG_ERR_REPLAY);
    CHECK_ERR(ins(c, "k", 100, 100), TG_ERR_REPLAY); /* live through expires_at */
    CHECK_OK(ins(c, "k", 200, 101));                 /* expired: new again */
    CHECK_ERR(ins(c, "k", 200, 150), TG_ERR_REPLAY); /* and recorded anew */
    CHECK_OK(ins(c, "k", 300, 201));
    tg_cache_free(c);
}

static void
test_full_refusal(void)
{
    struct tg_cache *c = tg_cache_memory_new(3);

    if (c == NULL) {
        CHECK(c != NULL);
        return;
    }
    CHECK_OK(ins(c, "a", 100, 0));
    CHECK_OK(ins(c, "b", 100, 0));
    CHECK_OK(ins(c, "c", 100, 0));
    CHECK_ERR(ins(c, "d", 100, 0), TG_ERR_CACHE_FULL);
    /* Still refusing while the entries are live, and never by forgetting one. */
    CHECK_ERR(ins(c, "d", 100, 50), TG_ERR_CACHE_FULL);
    CHECK_ERR(ins(c, "e", 100, 100), TG_ERR_CACHE_FULL);
    CHECK_ERR(ins(c, "a", 100, 100), TG_ERR_REPLAY);
    CHECK_ERR(ins(c, "b", 100, 100), TG_ERR_REPLAY);
    CHECK_ERR(ins(c, "c", 100, 100), TG_ERR_REPLAY);
    /* Once they expire there is room again. */
    CHECK_OK(ins(c, "d", 300, 101));
    CHECK_OK(ins(c, "e", 300, 101));
    CHECK_OK(ins(c, "a", 300, 101));
    CHECK_ERR(ins(c, "f", 300, 101), TG_ERR_CACHE_FULL);
    tg_cache_free(c);

    /* Mixed expiries: only the expired one makes room. */
    c = tg_cache_memory_new(2);
    if (c == NULL) {
        CHECK(c != NULL);
        return;
    }
    CHECK_OK(ins(c, "early", 10, 0));
    CHECK_OK(ins(c, "late", 20, 0));
    CHECK_ERR(ins(c, "x", 30, 5), TG_ERR_CACHE_FULL);
    CHECK_OK(ins(c, "x", 30, 11));
    CHECK_ERR(ins(c, "late", 30, 11), TG_ERR_REPLAY);
    CHECK_ERR(ins(c, "y", 30, 11), TG_ERR_CACHE_FULL);
    tg_cache_free(c);
}

static void
test_already_expired_takes_no_room(void)
{
    struct tg_cache *c = tg_cache_memory_new(1);

    if (c == NULL) {
        CHECK(c != NULL);
        return;
    }
    CHECK_OK(ins(c, "stale", 5, 10));
    CHECK_OK(ins(c, "fresh", 100, 10));
    CHECK_ERR(ins(c, "fresh", 100, 10), TG_ERR_REPLAY);
    tg_cache_free(c);
}

static void
test_key_limits(void)
{
    struct tg_cache *c = tg_cache_memory_new(8);
    uint8_t key[TG_CACHE_KEY_MAX + 1];

    CHECK(tg_cache_memory_new(0) == NULL);
    if (c == NULL) {
        CHECK(c != NULL);
        return;
    }
    memset(key, 'k', sizeof(key));
    CHECK_ERR(tg_cache_insert_once(c, key, TG_CACHE_KEY_MAX + 1, 100, 0), TG_ERR_INVALID_ARG);
    CHECK_OK(tg_cache_insert_once(c, key, TG_CACHE_KEY_MAX, 100, 0));
    CHECK_ERR(tg_cache_insert_once(c, key, TG_CACHE_KEY_MAX, 100, 0), TG_ERR_REPLAY);
    CHECK_ERR(tg_cache_insert_once(c, key, 0, 100, 0), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_cache_insert_once(c, NULL, 4, 100, 0), TG_ERR_INVALID_ARG);
    CHECK(TG_CACHE_KEY_MAX == 256);
    tg_cache_free(c);
}

/* Reclamation is exact: after random expiries, at time T exactly the entries
 * with exp < T have been given back, and the others still answer REPLAY. */
static void
test_reclaim_exact(void)
{
    enum { N = 2000, T = 500 };
    static int64_t exp[N];
    struct tg_cache *c = tg_cache_memory_new(N);
    uint32_t x = 12345;
    char key[32];
    int i, expired = 0, ok = 0, replay = 0;

    if (c == NULL) {
        CHECK(c != NULL);
        return;
    }
    for (i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        exp[i] = 1 + (int64_t)((x >> 8) % 1000);
        expired += exp[i] < T;
        snprintf(key, sizeof(key), "r%d", i);
        CHECK_OK(ins(c, key, exp[i], 0));
    }
    CHECK_ERR(ins(c, "one-more", 5000, 0), TG_ERR_CACHE_FULL);
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "r%d", i);
        if (exp[i] >= T)
            replay += ins(c, key, 5000, T) == TG_ERR_REPLAY;
    }
    CHECK(replay == N - expired);
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "n%d", i);
        if (ins(c, key, 5000, T) != TG_OK)
            break;
        ok++;
    }
    CHECK(ok == expired);
    CHECK(expired > N / 4 && expired < N * 3 / 4); /* the test means something */
    tg_cache_free(c);
}

static void
test_many(void)
{
    enum { N = 100000 };
    struct tg_cache *c = tg_cache_memory_new(N);
    char key[32];
    int i, ok = 0, replay = 0;

    if (c == NULL) {
        CHECK(c != NULL);
        return;
    }
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "jti-%08d", i);
        ok += ins(c, key, 1000 + i % 100, 0) == TG_OK;
    }
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "jti-%08d", i);
        replay += ins(c, key, 1000, 1) == TG_ERR_REPLAY;
    }
    CHECK(ok == N && replay == N);
    CHECK_ERR(ins(c, "overflow", 2000, 1), TG_ERR_CACHE_FULL);
    /* All expire: the whole capacity comes back. */
    ok = 0;
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "new-%08d", i);
        ok += ins(c, key, 9000, 2000) == TG_OK;
    }
    CHECK(ok == N);
    tg_cache_free(c);
}

/* Growth is incremental: while the bucket array is being moved, an entry
 * may sit in the old or the new array. Replays of keys from before, during
 * and after each doubling are caught at every step, and expiry (which
 * unlinks from either array) goes on meanwhile: keys of even i live until
 * i + 50, keys of odd i for good. */
static void
test_growth_interleaved(void)
{
    enum { N = 20000 };
    struct tg_cache *c = tg_cache_memory_new(N);
    char key[32];
    int i, j, bad = 0;

    if (c == NULL) {
        CHECK(c != NULL);
        return;
    }
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k-%d", i);
        bad += ins(c, key, i % 2 == 0 ? i + 50 : 1000000, i) != TG_OK;
        /* The key just put, one from long before, and one from just before
         * a doubling (entries 12, 24, 48, ... 3/4 of 16 << k). */
        bad += ins(c, key, 1000000, i) != TG_ERR_REPLAY;
        j = (i / 2) | 1; /* odd: still live */
        snprintf(key, sizeof(key), "k-%d", j);
        bad += j < i && ins(c, key, 1000000, i) != TG_ERR_REPLAY;
        j = (i * 3 / 4) | 1;
        snprintf(key, sizeof(key), "k-%d", j);
        bad += j < i && ins(c, key, 1000000, i) != TG_ERR_REPLAY;
        /* An even key 60 steps back has expired: new again (then expired
         * at once, so it takes no room). */
        if (i >= 60 && i % 2 == 0) {
            snprintf(key, sizeof(key), "k-%d", i - 60);
            bad += ins(c, key, i - 1, i) != TG_OK;
        }
    }
    CHECK(bad == 0);
    tg_cache_free(c);
}

#define THREADS 4
#define DISTINCT 5000
#define SHARED 5000
#define ROUNDS 8
#define KEYLEN 24

struct hammer {
    struct tg_cache *c;
    pthread_barrier_t *start;
    int idx;
    char (*own)[KEYLEN];    /* this thread's keys */
    char (*shared)[KEYLEN]; /* keys every thread tries, in its own order */
    int ok_own, ok_shared, replay_shared, other;
};

/* Keys are formatted before the threads start, so the threads spend their
 * time inside the cache and races there have room to show. */
static void *
hammer_main(void *arg)
{
    struct hammer *h = arg;
    enum tg_err rv;
    int i;

    pthread_barrier_wait(h->start);
    for (i = 0; i < DISTINCT + SHARED; i++) {
        if (i % 2 == 0 && i / 2 < DISTINCT) {
            rv = ins(h->c, h->own[i / 2], 100, 1);
            h->ok_own += rv == TG_OK;
            h->other += rv != TG_OK;
        } else {
            rv = ins(h->c, h->shared[(i * 7 + h->idx * 1013) % SHARED], 100, 1);
            h->ok_shared += rv == TG_OK;
            h->replay_shared += rv == TG_ERR_REPLAY;
            h->other += rv != TG_OK && rv != TG_ERR_REPLAY;
        }
    }
    for (i = 0; i < DISTINCT; i++)
        h->other += ins(h->c, h->own[i], 100, 2) != TG_ERR_REPLAY;
    return NULL;
}

static void
hammer_round(char (*own)[DISTINCT][KEYLEN], char (*shared)[KEYLEN])
{
    struct tg_cache *c = tg_cache_memory_new(THREADS * DISTINCT + SHARED);
    struct hammer h[THREADS];
    pthread_t th[THREADS];
    pthread_barrier_t start;
    int i, ok_shared = 0, replay_shared = 0, shared_tries = 0;

    if (c == NULL) {
        CHECK(c != NULL);
        return;
    }
    pthread_barrier_init(&start, NULL, THREADS);
    for (i = 0; i < THREADS; i++) {
        memset(&h[i], 0, sizeof(h[i]));
        h[i].c = c;
        h[i].start = &start;
        h[i].idx = i;
        h[i].own = own[i];
        h[i].shared = shared;
        CHECK(pthread_create(&th[i], NULL, hammer_main, &h[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK(h[i].ok_own == DISTINCT);
        CHECK(h[i].other == 0);
        ok_shared += h[i].ok_shared;
        replay_shared += h[i].replay_shared;
        shared_tries += h[i].ok_shared + h[i].replay_shared;
    }
    pthread_barrier_destroy(&start);
    /* Each shared key was new for exactly one thread. */
    CHECK(ok_shared == SHARED);
    CHECK(replay_shared == shared_tries - SHARED);
    /* Exactly at capacity now. */
    CHECK_ERR(ins(c, "one-more", 100, 2), TG_ERR_CACHE_FULL);
    for (i = 0; i < SHARED; i += 97)
        CHECK_ERR(ins(c, shared[i], 100, 2), TG_ERR_REPLAY);
    tg_cache_free(c);
}

static void
test_thread_hammer(void)
{
    static char own[THREADS][DISTINCT][KEYLEN], shared[SHARED][KEYLEN];
    int t, i, round;

    for (t = 0; t < THREADS; t++)
        for (i = 0; i < DISTINCT; i++)
            snprintf(own[t][i], KEYLEN, "own-%d-%d", t, i);
    for (i = 0; i < SHARED; i++)
        snprintf(shared[i], KEYLEN, "shared-%d", i);
    for (round = 0; round < ROUNDS; round++)
        hammer_round(own, shared);
}

int
main(void)
{
    RUN(test_new_and_replay);
    RUN(test_growth_interleaved);
    RUN(test_expiry_and_reuse);
    RUN(test_full_refusal);
    RUN(test_already_expired_takes_no_room);
    RUN(test_key_limits);
    RUN(test_reclaim_exact);
    RUN(test_many);
    RUN(test_thread_hammer);
    return t_report("store/cache_memory");
}
