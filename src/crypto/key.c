/* Asymmetric keys: construction from JWK components, validation, export. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "crypto/crypto.h"
#include "crypto/key_impl.h"

static size_t
ec_coord_len(enum tg_key_type type)
{
    switch (type) {
    case TG_KEY_EC_P256:
        return 32;
    case TG_KEY_EC_P384:
        return 48;
    default:
        return 0;
    }
}

static enum tg_err
key_wrap(EVP_PKEY *pkey, enum tg_key_type type, int priv, struct tg_key **out)
{
    struct tg_key *k;

    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        tg_err_raise(TG_ERR_NOMEM, "key alloc");
        return TG_ERR_NOMEM;
    }
    atomic_init(&k->refs, 1);
    k->pkey = pkey;
    k->type = type;
    k->priv = priv;
    k->bits = (unsigned)EVP_PKEY_get_bits(pkey);
    switch (type) {
    case TG_KEY_EC_P256:
        k->sig_len = 64;
        break;
    case TG_KEY_EC_P384:
        k->sig_len = 96;
        break;
    case TG_KEY_ED25519:
        k->sig_len = 64;
        break;
    case TG_KEY_RSA:
        k->sig_len = (k->bits + 7) / 8;
        break;
    default:
        k->sig_len = 0;
        break;
    }
    *out = k;
    return TG_OK;
}

static EVP_PKEY *
pkey_fromdata(const char *name, int selection, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, selection, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return pkey;
}

/* Private keys: the public part must belong to the private part. */
static int
pairwise_ok(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok;

    ok = ctx != NULL && EVP_PKEY_pairwise_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

enum tg_err
tg_key_from_ec(enum tg_key_type type, struct tg_slice x, struct tg_slice y, struct tg_slice d,
               struct tg_key **out)
{
    enum tg_err rv = TG_OK;
    size_t clen = ec_coord_len(type);
    uint8_t point[1 + 2 * 48];
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *bn = NULL;
    EVP_PKEY *pkey = NULL;
    const char *group;

    *out = NULL;
    TG_CHECK(clen != 0, TG_ERR_JWK_CRV, "not an EC key type");
    /* RFC 7518 §6.2.1.2/.3, §6.2.2.1: full-size coordinates and d. */
    TG_CHECK(x.len == clen && y.len == clen, TG_ERR_JWK_MEMBER_INVALID, "EC coordinate length");
    TG_CHECK(d.len == 0 || d.len == clen, TG_ERR_JWK_MEMBER_INVALID, "EC d length");
    group = type == TG_KEY_EC_P256 ? "P-256" : "P-384";
    point[0] = 0x04;
    memcpy(point + 1, x.p, clen);
    memcpy(point + 1 + clen, y.p, clen);

    bld = OSSL_PARAM_BLD_new();
    TG_CHECK(bld != NULL, TG_ERR_NOMEM, "param bld");
    TG_CHECK(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
                 OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                                  1 + 2 * clen),
             TG_ERR_NOMEM, "param push");
    if (d.len > 0) {
        bn = BN_secure_new();
        TG_CHECK(bn != NULL && BN_bin2bn(d.p, (int)d.len, bn) != NULL, TG_ERR_NOMEM, "bn");
        TG_CHECK(!BN_is_zero(bn), TG_ERR_JWK_INVALID_KEY, "EC d is zero");
        TG_CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn), TG_ERR_NOMEM, "push");
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    TG_CHECK(params != NULL, TG_ERR_NOMEM, "to_param");
    /* Decoding the point checks that it is on the curve (P-256 and P-384
     * have cofactor 1, so that is the whole public-key check). */
    pkey = pkey_fromdata("EC", d.len > 0 ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
    TG_CHECK(pkey != NULL, TG_ERR_JWK_INVALID_KEY, "EC point not on curve or bad d");
    if (d.len > 0)
        TG_CHECK(pairwise_ok(pkey), TG_ERR_JWK_INVALID_KEY, "EC d does not match x,y");
    rv = key_wrap(pkey, type, d.len > 0, out);
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(bn);
    OPENSSL_cleanse(point, sizeof(point));
    return rv;
}

enum tg_err
tg_key_from_ed25519(struct tg_slice x, struct tg_slice d, struct tg_key **out)
{
    enum tg_err rv = TG_OK;
    EVP_PKEY *pkey = NULL;
    uint8_t pub[32];
    size_t publen = sizeof(pub);

    *out = NULL;
    /* RFC 8037 §2: x (and d) are 32 octets for Ed25519. */
    TG_CHECK(x.len == 32, TG_ERR_JWK_MEMBER_INVALID, "Ed25519 x length %zu", x.len);
    TG_CHECK(d.len == 0 || d.len == 32, TG_ERR_JWK_MEMBER_INVALID, "Ed25519 d length");
    if (d.len == 0) {
        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x.p, x.len);
        TG_CHECK(pkey != NULL, TG_ERR_JWK_INVALID_KEY, "Ed25519 public key");
    } else {
        pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d.p, d.len);
        TG_CHECK(pkey != NULL, TG_ERR_JWK_INVALID_KEY, "Ed25519 private key");
        TG_CHECK(EVP_PKEY_get_raw_public_key(pkey, pub, &publen) == 1 && publen == 32 &&
                     CRYPTO_memcmp(pub, x.p, 32) == 0,
                 TG_ERR_JWK_INVALID_KEY, "Ed25519 d does not match x");
    }
    rv = key_wrap(pkey, TG_KEY_ED25519, d.len > 0, out);
    pkey = NULL;
out:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    return rv;
}

static int
push_bn(OSSL_PARAM_BLD *bld, const char *name, struct tg_slice s, BIGNUM **slot)
{
    *slot = BN_secure_new();
    return *slot != NULL && BN_bin2bn(s.p, (int)s.len, *slot) != NULL &&
           OSSL_PARAM_BLD_push_BN(bld, name, *slot);
}

enum tg_err
tg_key_from_rsa(const struct tg_rsa_params *rp, struct tg_key **out)
{
    enum tg_err rv = TG_OK;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn[8] = {NULL};
    size_t nbits, i;
    int priv;

    *out = NULL;
    TG_CHECK(rp->n.len > 0 && rp->e.len > 0, TG_ERR_JWK_MEMBER_MISSING, "RSA n/e");
    TG_CHECK(rp->n.len <= TG_RSA_MAX_BITS / 8 && rp->e.len <= 8, TG_ERR_JWK_MEMBER_INVALID,
             "RSA n/e too long");
    /* RFC 7518 §2 Base64urlUInt: the minimum number of octets. */
    TG_CHECK(rp->n.p[0] != 0 && rp->e.p[0] != 0, TG_ERR_JWK_MEMBER_INVALID,
             "RSA integer with leading zero octet");
    nbits = rp->n.len * 8;
    for (i = 0x80; i > 0 && !(rp->n.p[0] & i); i >>= 1)
        nbits--;
    /* RFC 7518 §3.3: a key of size 2048 bits or larger MUST be used. */
    TG_CHECK(nbits >= TG_RSA_MIN_BITS, TG_ERR_JWK_RSA_TOO_SMALL, "RSA modulus %zu bits", nbits);
    TG_CHECK(rp->e.len > 1 || rp->e.p[0] >= 3, TG_ERR_JWK_INVALID_KEY, "RSA e too small");
    TG_CHECK((rp->e.p[rp->e.len - 1] & 1) && (rp->n.p[rp->n.len - 1] & 1),
             TG_ERR_JWK_INVALID_KEY, "RSA n or e even");

    priv = rp->d.len > 0;
    if (priv)
        /* RFC 7518 §6.3.2: we require the CRT members with d (no "oth"). */
        TG_CHECK(rp->p.len && rp->q.len && rp->dp.len && rp->dq.len && rp->qi.len,
                 TG_ERR_JWK_MEMBER_MISSING, "RSA private key without CRT members");
    else
        TG_CHECK(!rp->p.len && !rp->q.len && !rp->dp.len && !rp->dq.len && !rp->qi.len,
                 TG_ERR_JWK_MEMBER_INVALID, "RSA CRT members without d");

    bld = OSSL_PARAM_BLD_new();
    TG_CHECK(bld != NULL, TG_ERR_NOMEM, "bld");
    TG_CHECK(push_bn(bld, OSSL_PKEY_PARAM_RSA_N, rp->n, &bn[0]) &&
                 push_bn(bld, OSSL_PKEY_PARAM_RSA_E, rp->e, &bn[1]),
             TG_ERR_NOMEM, "push n/e");
    if (priv)
        TG_CHECK(push_bn(bld, OSSL_PKEY_PARAM_RSA_D, rp->d, &bn[2]) &&
                     push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, rp->p, &bn[3]) &&
                     push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, rp->q, &bn[4]) &&
                     push_bn(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, rp->dp, &bn[5]) &&
                     push_bn(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, rp->dq, &bn[6]) &&
                     push_bn(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, rp->qi, &bn[7]),
                 TG_ERR_NOMEM, "push private");
    params = OSSL_PARAM_BLD_to_param(bld);
    TG_CHECK(params != NULL, TG_ERR_NOMEM, "to_param");
    pkey = pkey_fromdata("RSA", priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
    TG_CHECK(pkey != NULL, TG_ERR_JWK_INVALID_KEY, "RSA fromdata");
    if (priv)
        TG_CHECK(pairwise_ok(pkey), TG_ERR_JWK_INVALID_KEY, "RSA private key inconsistent");
    rv = key_wrap(pkey, TG_KEY_RSA, priv, out);
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (i = 0; i < 8; i++)
        BN_clear_free(bn[i]);
    return rv;
}

enum tg_err
tg_key_generate(enum tg_key_type type, unsigned rsa_bits, struct tg_key **out)
{
    EVP_PKEY *pkey = NULL;

    *out = NULL;
    switch (type) {
    case TG_KEY_EC_P256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case TG_KEY_EC_P384:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;
    case TG_KEY_ED25519:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case TG_KEY_RSA:
        TG_ENSURE(rsa_bits >= TG_RSA_MIN_BITS && rsa_bits <= TG_RSA_MAX_BITS,
                  TG_ERR_JWK_RSA_TOO_SMALL, "RSA bits %u", rsa_bits);
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits);
        break;
    default:
        TG_ENSURE(0, TG_ERR_INVALID_ARG, "key type %d", (int)type);
    }
    ERR_clear_error();
    TG_ENSURE(pkey != NULL, TG_ERR_INTERNAL, "keygen failed");
    return key_wrap(pkey, type, 1, out);
}

enum tg_err
tg_key_from_pem(const char *pem, size_t len, struct tg_key **out)
{
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    enum tg_key_type type;
    int priv = 1;

    *out = NULL;
    TG_ENSURE(len <= 65536, TG_ERR_TOO_LARGE, "PEM too large");
    bio = BIO_new_mem_buf(pem, (int)len);
    TG_ENSURE(bio != NULL, TG_ERR_NOMEM, "bio");
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (pkey == NULL) {
        priv = 0;
        (void)BIO_reset(bio);
        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    }
    BIO_free(bio);
    ERR_clear_error();
    TG_ENSURE(pkey != NULL, TG_ERR_JWK_INVALID_KEY, "no key in PEM");
    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        type = TG_KEY_ED25519;
    } else if (EVP_PKEY_is_a(pkey, "RSA")) {
        type = TG_KEY_RSA;
        if (EVP_PKEY_get_bits(pkey) < TG_RSA_MIN_BITS) {
            EVP_PKEY_free(pkey);
            TG_ENSURE(0, TG_ERR_JWK_RSA_TOO_SMALL, "RSA PEM key too small");
        }
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[32];
        size_t glen = 0;

        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                            sizeof(group), &glen))
            group[0] = '\0';
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
            type = TG_KEY_EC_P256;
        } else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
            type = TG_KEY_EC_P384;
        } else {
            EVP_PKEY_free(pkey);
            TG_ENSURE(0, TG_ERR_JWK_CRV, "unsupported EC group");
        }
    } else {
        EVP_PKEY_free(pkey);
        TG_ENSURE(0, TG_ERR_JWK_KTY, "unsupported PEM key type");
    }
    return key_wrap(pkey, type, priv, out);
}

struct tg_key *
tg_key_ref(struct tg_key *key)
{
    if (key != NULL)
        atomic_fetch_add_explicit(&key->refs, 1, memory_order_relaxed);
    return key;
}

void
tg_key_free(struct tg_key *key)
{
    if (key == NULL)
        return;
    if (atomic_fetch_sub_explicit(&key->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < sizeof(key->verify_ctx) / sizeof(key->verify_ctx[0]); i++)
    {
        EVP_MD_CTX_free(atomic_load(&key->verify_ctx[i]));
        EVP_MD_CTX_free(atomic_load(&key->sign_ctx[i]));
    }
    EVP_PKEY_free(key->pkey);
    free(key);
}

enum tg_key_type
tg_key_type(const struct tg_key *key)
{
    return key->type;
}

int
tg_key_is_private(const struct tg_key *key)
{
    return key->priv;
}

unsigned
tg_key_bits(const struct tg_key *key)
{
    return key->bits;
}

size_t
tg_key_sig_len(const struct tg_key *key)
{
    return key->sig_len;
}

static enum tg_err
bn_param_export(const EVP_PKEY *pkey, const char *name, size_t pad, struct tg_buf *out)
{
    BIGNUM *bn = NULL;
    uint8_t *dst;
    size_t n;
    enum tg_err rv = TG_OK;

    TG_CHECK(EVP_PKEY_get_bn_param(pkey, name, &bn) == 1, TG_ERR_INTERNAL, "get %s", name);
    n = pad ? pad : (size_t)BN_num_bytes(bn);
    TG_CHECK((size_t)BN_num_bytes(bn) <= n, TG_ERR_INTERNAL, "bn too long");
    TG_TRY(tg_buf_reserve(out, n, &dst));
    TG_CHECK(BN_bn2binpad(bn, dst, (int)n) == (int)n, TG_ERR_INTERNAL, "bn2bin");
    out->len += n;
out:
    BN_clear_free(bn);
    ERR_clear_error();
    return rv;
}

enum tg_err
tg_key_ec_export(const struct tg_key *key, struct tg_buf *x, struct tg_buf *y, struct tg_buf *d)
{
    size_t clen = ec_coord_len(key->type);

    TG_ENSURE(clen != 0, TG_ERR_INVALID_ARG, "not an EC key");
    TG_ENSURE(d == NULL || key->priv, TG_ERR_JWK_NOT_PRIVATE, "EC key is public");
    TG_GUARD(bn_param_export(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, clen, x));
    TG_GUARD(bn_param_export(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, clen, y));
    if (d != NULL)
        TG_GUARD(bn_param_export(key->pkey, OSSL_PKEY_PARAM_PRIV_KEY, clen, d));
    return TG_OK;
}

enum tg_err
tg_key_ed25519_export(const struct tg_key *key, struct tg_buf *x, struct tg_buf *d)
{
    uint8_t *dst;
    size_t n = 32;

    TG_ENSURE(key->type == TG_KEY_ED25519, TG_ERR_INVALID_ARG, "not Ed25519");
    TG_ENSURE(d == NULL || key->priv, TG_ERR_JWK_NOT_PRIVATE, "Ed25519 key is public");
    TG_GUARD(tg_buf_reserve(x, 32, &dst));
    TG_ENSURE(EVP_PKEY_get_raw_public_key(key->pkey, dst, &n) == 1 && n == 32, TG_ERR_INTERNAL,
              "raw public");
    x->len += 32;
    if (d != NULL) {
        TG_GUARD(tg_buf_reserve(d, 32, &dst));
        TG_ENSURE(EVP_PKEY_get_raw_private_key(key->pkey, dst, &n) == 1 && n == 32,
                  TG_ERR_INTERNAL, "raw private");
        d->len += 32;
    }
    return TG_OK;
}

enum tg_err
tg_key_rsa_export(const struct tg_key *key, struct tg_buf *n, struct tg_buf *e, struct tg_buf *priv)
{
    static const char *const names[6] = {
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    int i;

    TG_ENSURE(key->type == TG_KEY_RSA, TG_ERR_INVALID_ARG, "not RSA");
    TG_ENSURE(priv == NULL || key->priv, TG_ERR_JWK_NOT_PRIVATE, "RSA key is public");
    TG_GUARD(bn_param_export(key->pkey, OSSL_PKEY_PARAM_RSA_N, 0, n));
    TG_GUARD(bn_param_export(key->pkey, OSSL_PKEY_PARAM_RSA_E, 0, e));
    if (priv != NULL)
        for (i = 0; i < 6; i++)
            TG_GUARD(bn_param_export(key->pkey, names[i], 0, &priv[i]));
    return TG_OK;
}
