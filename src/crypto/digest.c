#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/clock_cache.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/md.h"

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256, *md_sha384;

static void
md_fetch(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
}

const EVP_MD *
tg_md_sha256(void)
{
    pthread_once(&md_once, md_fetch);
    return md_sha256 != NULL ? md_sha256 : EVP_sha256();
}

const EVP_MD *
tg_md_sha384(void)
{
    pthread_once(&md_once, md_fetch);
    return md_sha384 != NULL ? md_sha384 : EVP_sha384();
}

enum tg_err
tg_sha256(struct tg_slice data, uint8_t out[TG_SHA256_LEN])
{
    unsigned int n = 0;

    if (EVP_Digest(data.p, data.len, out, &n, tg_md_sha256(), NULL) != 1 || n != TG_SHA256_LEN) {
        ERR_clear_error();
        TG_ENSURE(0, TG_ERR_INTERNAL, "sha256");
    }
    return TG_OK;
}

enum tg_err
tg_random(void *buf, size_t len)
{
    TG_ENSURE(len <= 1 << 20, TG_ERR_INVALID_ARG, "random request too large");
    if (RAND_bytes(buf, (int)len) != 1) {
        ERR_clear_error();
        TG_ENSURE(0, TG_ERR_INTERNAL, "RAND_bytes failed");
    }
    return TG_OK;
}

/* tg_random_id's pools: a fork bumps the generation, so a child never hands
 * out ids its parent's thread already did. */
#define ID_POOL 512
static atomic_uint id_generation = 1;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void
id_after_fork(void)
{
    atomic_fetch_add(&id_generation, 1);
}

static void
id_init(void)
{
    TG_IGNORE(pthread_atfork(NULL, NULL, id_after_fork));
}

enum tg_err
tg_random_id(void *buf, size_t len)
{
    static _Thread_local struct {
        unsigned generation;
        size_t used;
        uint8_t bytes[ID_POOL];
    } pool;
    unsigned gen;

    TG_ENSURE(len <= 64, TG_ERR_INVALID_ARG, "id too long");
    pthread_once(&id_once, id_init);
    gen = atomic_load(&id_generation);
    if (pool.generation != gen || pool.used + len > ID_POOL) {
        pool.generation = 0;
        TG_GUARD(tg_random(pool.bytes, ID_POOL));
        pool.generation = gen;
        pool.used = 0;
    }
    memcpy(buf, pool.bytes + pool.used, len);
    /* Each byte is handed out once. */
    memset(pool.bytes + pool.used, 0, len);
    pool.used += len;
    return TG_OK;
}

struct tg_clock_cache *
tg_clock_cache_new_random(size_t capacity, void (*free_value)(void *))
{
    struct tg_clock_cache_opts o = {.capacity = capacity, .free_value = free_value};
    struct tg_clock_cache *c;

    if (tg_random(o.seed, sizeof(o.seed)) != TG_OK)
        return NULL;
    c = tg_clock_cache_new(&o);
    tg_wipe(o.seed, sizeof(o.seed)); /* the table keeps its own copy */
    return c;
}
