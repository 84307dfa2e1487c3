/* Key and certificate export/issuance for the --dev quickstart and tests. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"
#include "crypto/key_impl.h"

static enum tg_err
bio_to_buf(BIO *b, struct tg_buf *out)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);

    TG_ENSURE(n > 0, TG_ERR_INTERNAL, "empty PEM");
    return tg_buf_append(out, p, (size_t)n);
}

enum tg_err
tg_key_private_pem(const struct tg_key *key, struct tg_buf *out)
{
    BIO *b = BIO_new(BIO_s_secmem());
    enum tg_err rv = TG_OK;

    TG_CHECK(b != NULL, TG_ERR_NOMEM, "bio");
    TG_CHECK(key->priv, TG_ERR_JWK_NOT_PRIVATE, "public key");
    TG_CHECK(PEM_write_bio_PrivateKey(b, key->pkey, NULL, NULL, 0, NULL, NULL) == 1,
             TG_ERR_INTERNAL, "PEM_write_bio_PrivateKey");
    TG_TRY(bio_to_buf(b, out));
out:
    BIO_free(b);
    ERR_clear_error();
    return rv;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ex;
    int ok;

    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ex == NULL)
        return 0;
    ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok;
}

enum tg_err
tg_cert_issue(const struct tg_cert_spec *spec, const struct tg_key *subject_key,
              const struct tg_key *issuer_key, const char *issuer_cert_pem, struct tg_buf *out)
{
    enum tg_err rv = TG_OK;
    X509 *x = NULL, *issuer = NULL;
    X509_NAME *name = NULL;
    BIO *b = NULL;
    ASN1_INTEGER *serial = NULL;
    BIGNUM *bn = NULL;
    char san[1024];
    size_t n = 0;

    x = X509_new();
    TG_CHECK(x != NULL, TG_ERR_NOMEM, "X509_new");
    TG_CHECK(X509_set_version(x, 2) == 1, TG_ERR_INTERNAL, "version");
    bn = BN_new();
    TG_CHECK(bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1,
             TG_ERR_INTERNAL, "serial");
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    TG_CHECK(serial != NULL && X509_set_serialNumber(x, serial) == 1, TG_ERR_INTERNAL, "serial");
    TG_CHECK(X509_gmtime_adj(X509_getm_notBefore(x), -300) != NULL &&
                 X509_gmtime_adj(X509_getm_notAfter(x), (long)spec->days * 86400) != NULL,
             TG_ERR_INTERNAL, "validity");
    name = X509_NAME_new();
    TG_CHECK(name != NULL, TG_ERR_NOMEM, "name");
    if (spec->org != NULL)
        TG_CHECK(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                            (const unsigned char *)spec->org, -1, -1, 0) == 1,
                 TG_ERR_INTERNAL, "O");
    TG_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        (const unsigned char *)spec->cn, -1, -1, 0) == 1,
             TG_ERR_INTERNAL, "CN");
    TG_CHECK(X509_set_subject_name(x, name) == 1, TG_ERR_INTERNAL, "subject");
    TG_CHECK(X509_set_pubkey(x, subject_key->pkey) == 1, TG_ERR_INTERNAL, "pubkey");
    if (issuer_cert_pem != NULL) {
        b = BIO_new_mem_buf(issuer_cert_pem, -1);
        issuer = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        TG_CHECK(issuer != NULL, TG_ERR_INVALID_ARG, "issuer certificate");
        TG_CHECK(X509_set_issuer_name(x, X509_get_subject_name(issuer)) == 1, TG_ERR_INTERNAL,
                 "issuer");
        BIO_free(b);
        b = NULL;
    } else {
        TG_CHECK(X509_set_issuer_name(x, name) == 1, TG_ERR_INTERNAL, "issuer");
    }
    TG_CHECK(add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash"), TG_ERR_INTERNAL,
             "ski");
    if (issuer != NULL)
        TG_CHECK(add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"),
                 TG_ERR_INTERNAL, "aki");
    if (spec->is_ca) {
        TG_CHECK(add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
                     add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign"),
                 TG_ERR_INTERNAL, "ca ext");
    } else {
        TG_CHECK(add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:FALSE") &&
                     add_ext(x, issuer ? issuer : x, NID_key_usage,
                             "critical,digitalSignature,keyEncipherment") &&
                     add_ext(x, issuer ? issuer : x, NID_ext_key_usage,
                             spec->server ? "serverAuth" : "clientAuth"),
                 TG_ERR_INTERNAL, "leaf ext");
    }
    san[0] = '\0';
#define SAN_ADD(fmt, v)                                                                   \
    do {                                                                                  \
        if ((v) != NULL)                                                                  \
            n += (size_t)snprintf(san + n, n < sizeof(san) ? sizeof(san) - n : 0, "%s" fmt, \
                                  n ? "," : "", (v));                                     \
    } while (0)
    SAN_ADD("DNS:%s", spec->san_dns);
    SAN_ADD("IP:%s", spec->san_ip);
    SAN_ADD("IP:%s", spec->san_ip2);
    SAN_ADD("URI:%s", spec->san_uri);
#undef SAN_ADD
    TG_CHECK(n < sizeof(san), TG_ERR_INVALID_ARG, "SAN too long");
    if (n > 0)
        TG_CHECK(add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san), TG_ERR_INTERNAL,
                 "san");
    TG_CHECK(X509_sign(x, issuer_key->pkey,
                       issuer_key->type == TG_KEY_ED25519 ? NULL : EVP_sha256()) > 0,
             TG_ERR_INTERNAL, "X509_sign");
    b = BIO_new(BIO_s_mem());
    TG_CHECK(b != NULL && PEM_write_bio_X509(b, x) == 1, TG_ERR_INTERNAL, "PEM_write_bio_X509");
    TG_TRY(bio_to_buf(b, out));
out:
    BIO_free(b);
    X509_free(issuer);
    X509_NAME_free(name);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    X509_free(x);
    ERR_clear_error();
    return rv;
}
