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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock_cache.h"

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

/* Parsed certificate details by SHA-256 of the DER: a client presents the
 * same certificate on every request of a connection, and OpenSSL 3's
 * d2i_X509 decodes its public key through the provider decoders, under
 * global locks, every time. What is kept is a pure function of the bytes;
 * a certificate that does not parse is not kept. */
#define CERT_INFO_CACHE 1024

static pthread_once_t info_once = PTHREAD_ONCE_INIT;
static struct tg_clock_cache *info_cache;

static void
info_free(void *v)
{
    tg_cert_info_reset(v);
    free(v);
}

static void
info_cache_init(void)
{
    info_cache = tg_clock_cache_new_random(CERT_INFO_CACHE, info_free);
}

/* A deep copy of `in` into `out` (zeroed first); 0 when out of memory
 * (out is then reset). */
static int
info_copy(const struct tg_cert_info *in, struct tg_cert_info *out)
{
    size_t i;
    int ok;

    memset(out, 0, sizeof(*out));
    ok = (out->subject_dn = strdup(in->subject_dn)) != NULL;
    for (i = 0; ok && i < in->n_dns; i++, out->n_dns++)
        ok = (out->san_dns[i] = strdup(in->san_dns[i])) != NULL;
    for (i = 0; ok && i < in->n_uri; i++, out->n_uri++)
        ok = (out->san_uri[i] = strdup(in->san_uri[i])) != NULL;
    if (!ok)
        tg_cert_info_reset(out);
    return ok;
}

struct info_get {
    struct tg_cert_info *out;
    int ok;
};

static void
info_get_copy(const void *value, void *arg)
{
    struct info_get *g = arg;

    g->ok = info_copy(value, g->out);
}

static enum tg_err parse_info(struct tg_slice der, struct tg_cert_info *out);

enum tg_err
tg_cert_info_from_der(struct tg_slice der, struct tg_cert_info *out)
{
    uint8_t md[TG_SHA256_LEN];
    struct info_get g = {out, 0};
    struct tg_cert_info *kept;

    memset(out, 0, sizeof(*out));
    pthread_once(&info_once, info_cache_init);
    if (info_cache == NULL || tg_sha256(der, md) != TG_OK)
        return parse_info(der, out);
    if (tg_clock_cache_get(info_cache, md, sizeof(md), info_get_copy, &g) == 1 && g.ok)
        return TG_OK;
    TG_GUARD(parse_info(der, out));
    kept = malloc(sizeof(*kept));
    if (kept != NULL && info_copy(out, kept))
        TG_IGNORE(tg_clock_cache_put(info_cache, md, sizeof(md), kept,
                                     TG_CLOCK_CACHE_NO_EXPIRY, 0));
    else
        free(kept);
    return TG_OK;
}

static enum tg_err
parse_info(struct tg_slice der, struct tg_cert_info *out)
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

/* Loaded CA bundles, by path, reloaded when the file changes (size,
 * modification time, inode: a rotated SPIFFE bundle is picked up at the next
 * verification). A store is shared by reference: X509_STORE is safe for
 * concurrent verifications. */
#define CA_STORES 8

static struct {
    char *path;
    struct stat st;
    X509_STORE *store;
} ca_stores[CA_STORES];
static size_t ca_next;
static pthread_mutex_t ca_lock = PTHREAD_MUTEX_INITIALIZER;

static int
same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The store for `ca_file`, with a reference for the caller; NULL when the
 * file cannot be read or holds no certificate. */
static X509_STORE *
ca_store(const char *ca_file)
{
    X509_STORE *st = NULL;
    struct stat now;
    size_t i, slot;

    if (stat(ca_file, &now) != 0)
        return NULL;
    pthread_mutex_lock(&ca_lock);
    for (i = 0; i < CA_STORES; i++)
        if (ca_stores[i].path != NULL && strcmp(ca_stores[i].path, ca_file) == 0)
            break;
    if (i < CA_STORES && same_file(&ca_stores[i].st, &now)) {
        st = ca_stores[i].store;
        if (X509_STORE_up_ref(st) != 1)
            st = NULL;
        pthread_mutex_unlock(&ca_lock);
        return st;
    }
    pthread_mutex_unlock(&ca_lock);
    /* Loaded outside the lock (file I/O); the last load wins the slot. */
    st = X509_STORE_new();
    if (st == NULL || X509_STORE_load_file(st, ca_file) != 1) {
        X509_STORE_free(st);
        return NULL;
    }
    pthread_mutex_lock(&ca_lock);
    for (i = 0; i < CA_STORES; i++)
        if (ca_stores[i].path != NULL && strcmp(ca_stores[i].path, ca_file) == 0)
            break;
    slot = i < CA_STORES ? i : ca_next++ % CA_STORES;
    if (X509_STORE_up_ref(st) == 1) {
        char *path = ca_stores[slot].path;

        if (path == NULL || strcmp(path, ca_file) != 0) {
            path = strdup(ca_file);
            if (path != NULL) {
                free(ca_stores[slot].path);
                ca_stores[slot].path = path;
            }
        }
        if (path != NULL) {
            X509_STORE_free(ca_stores[slot].store);
            ca_stores[slot].store = st;
            ca_stores[slot].st = now;
        } else {
            X509_STORE_free(st); /* the slot's reference, not kept */
        }
    }
    pthread_mutex_unlock(&ca_lock);
    return st;
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
    st = ca_store(ca_file);
    TG_CHECK(st != NULL, TG_ERR_CONFIG, "CA bundle %s", ca_file);
    ctx = X509_STORE_CTX_new();
    TG_CHECK(ctx != NULL, TG_ERR_NOMEM, "x509 store");
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
