#include <pthread.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

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
