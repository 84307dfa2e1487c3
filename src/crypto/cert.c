#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"

enum tg_err
tg_cert_pem_to_der(const char *pem, size_t len, struct tg_buf *der)
{
    enum tg_err rv = TG_OK;
    BIO *bio = NULL;
    X509 *x = NULL;
    uint8_t *dst, *p;
    int n;

    TG_CHECK(len <= 65536, TG_ERR_TOO_LARGE, "PEM too large");
    bio = BIO_new_mem_buf(pem, (int)len);
    TG_CHECK(bio != NULL, TG_ERR_NOMEM, "bio");
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    TG_CHECK(x != NULL, TG_ERR_INVALID_ARG, "no certificate in PEM");
    n = i2d_X509(x, NULL);
    TG_CHECK(n > 0, TG_ERR_INVALID_ARG, "i2d_X509");
    TG_TRY(tg_buf_reserve(der, (size_t)n, &dst));
    p = dst;
    TG_CHECK(i2d_X509(x, &p) == n, TG_ERR_INTERNAL, "i2d_X509");
    der->len += (size_t)n;
out:
    X509_free(x);
    BIO_free(bio);
    ERR_clear_error();
    return rv;
}
