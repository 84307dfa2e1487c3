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

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

void
tg_cert_info_reset(struct tg_cert_info *info)
{
    size_t i;

    free(info->subject_dn);
    for (i = 0; i < info->n_dns; i++)
        free(info->san_dns[i]);
    for (i = 0; i < info->n_uri; i++)
        free(info->san_uri[i]);
    memset(info, 0, sizeof(*info));
}

static char *
asn1_string_dup(const ASN1_STRING *s)
{
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);
    char *r;

    /* An embedded NUL would let "a.example\0.evil" pass as "a.example". */
    if (n < 0 || memchr(p, 0, (size_t)n) != NULL)
        return NULL;
    r = malloc((size_t)n + 1);
    if (r != NULL) {
        memcpy(r, p, (size_t)n);
        r[n] = '\0';
    }
    return r;
}

enum tg_err
tg_cert_info_from_der(struct tg_slice der, struct tg_cert_info *out)
{
    enum tg_err rv = TG_OK;
    const unsigned char *p = der.p;
    X509 *x = NULL;
    BIO *mem = NULL;
    GENERAL_NAMES *sans = NULL;
    BUF_MEM *bm;
    int i, n;

    memset(out, 0, sizeof(*out));
    x = d2i_X509(NULL, &p, (long)der.len);
    TG_CHECK(x != NULL && p == der.p + der.len, TG_ERR_INVALID_ARG, "not a DER certificate");
    mem = BIO_new(BIO_s_mem());
    TG_CHECK(mem != NULL, TG_ERR_NOMEM, "bio");
    TG_CHECK(X509_NAME_print_ex(mem, X509_get_subject_name(x), 0,
                                XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0,
             TG_ERR_INVALID_ARG, "subject");
    BIO_get_mem_ptr(mem, &bm);
    out->subject_dn = malloc(bm->length + 1);
    TG_CHECK(out->subject_dn != NULL, TG_ERR_NOMEM, "dn");
    memcpy(out->subject_dn, bm->data, bm->length);
    out->subject_dn[bm->length] = '\0';
    sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    n = sans ? sk_GENERAL_NAME_num(sans) : 0;
    for (i = 0; i < n; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        char *v;

        if (g->type == GEN_DNS && out->n_dns < TG_CERT_MAX_SANS) {
            v = asn1_string_dup(g->d.dNSName);
            TG_CHECK(v != NULL, TG_ERR_INVALID_ARG, "bad dNSName");
            out->san_dns[out->n_dns++] = v;
        } else if (g->type == GEN_URI && out->n_uri < TG_CERT_MAX_SANS) {
            v = asn1_string_dup(g->d.uniformResourceIdentifier);
            TG_CHECK(v != NULL, TG_ERR_INVALID_ARG, "bad URI SAN");
            out->san_uri[out->n_uri++] = v;
        }
    }
out:
    if (rv != TG_OK)
        tg_cert_info_reset(out);
    GENERAL_NAMES_free(sans);
    BIO_free(mem);
    X509_free(x);
    ERR_clear_error();
    return rv;
}

enum tg_err
tg_cert_verify_der(struct tg_slice der, const char *ca_file)
{
    enum tg_err rv = TG_OK;
    const unsigned char *p = der.p;
    X509 *x = NULL;
    X509_STORE *st = NULL;
    X509_STORE_CTX *ctx = NULL;

    x = d2i_X509(NULL, &p, (long)der.len);
    TG_CHECK(x != NULL, TG_ERR_INVALID_ARG, "not a DER certificate");
    st = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    TG_CHECK(st != NULL && ctx != NULL, TG_ERR_NOMEM, "x509 store");
    TG_CHECK(X509_STORE_load_file(st, ca_file) == 1, TG_ERR_CONFIG, "CA bundle %s", ca_file);
    TG_CHECK(X509_STORE_CTX_init(ctx, st, x, NULL) == 1, TG_ERR_INTERNAL, "ctx init");
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    TG_CHECK(X509_verify_cert(ctx) == 1, TG_ERR_OAUTH_INVALID_CLIENT, "certificate: %s",
             X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    X509_free(x);
    ERR_clear_error();
    return rv;
}
