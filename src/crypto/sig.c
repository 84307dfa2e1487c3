/* Sign and verify in JOSE form (RFC 7518 §3, RFC 8037 §3.1). ECDSA
 * signatures travel as fixed-length R||S; OpenSSL speaks DER, so we convert
 * at this boundary. */
#include <stdatomic.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "crypto/crypto.h"
#include "crypto/key_impl.h"
#include "crypto/md.h"

static int
scheme_fits_key(enum tg_sig_scheme scheme, enum tg_key_type type)
{
    switch (scheme) {
    case TG_SIG_ECDSA_P256_SHA256:
        return type == TG_KEY_EC_P256;
    case TG_SIG_ECDSA_P384_SHA384:
        return type == TG_KEY_EC_P384;
    case TG_SIG_ED25519:
        return type == TG_KEY_ED25519;
    case TG_SIG_RSA_PKCS1_SHA256:
    case TG_SIG_RSA_PSS_SHA256:
        return type == TG_KEY_RSA;
    default:
        return 0;
    }
}

static const EVP_MD *
scheme_md(enum tg_sig_scheme scheme)
{
    switch (scheme) {
    case TG_SIG_ECDSA_P256_SHA256:
    case TG_SIG_RSA_PKCS1_SHA256:
    case TG_SIG_RSA_PSS_SHA256:
        return tg_md_sha256();
    case TG_SIG_ECDSA_P384_SHA384:
        return tg_md_sha384();
    case TG_SIG_ED25519:
    default:
        return NULL; /* EdDSA hashes internally */
    }
}

/* Append one DER INTEGER holding the unsigned big-endian value `v`. */
static size_t
der_uint(uint8_t *out, const uint8_t *v, size_t len)
{
    size_t o = 0;

    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    out[o++] = 0x02;
    if (v[0] & 0x80) {
        out[o++] = (uint8_t)(len + 1);
        out[o++] = 0x00;
    } else {
        out[o++] = (uint8_t)len;
    }
    memcpy(out + o, v, len);
    return o + len;
}

/* R||S (each half <= 48 octets) to a DER ECDSA-Sig-Value; the result is
 * under 128 octets so every length is in short form. */
static size_t
rs_to_der(const uint8_t *rs, size_t half, uint8_t *der)
{
    size_t n = 2;

    n += der_uint(der + n, rs, half);
    n += der_uint(der + n, rs + half, half);
    der[0] = 0x30;
    der[1] = (uint8_t)(n - 2);
    return n;
}

static int
set_pss(EVP_PKEY_CTX *pctx)
{
    /* RFC 7518 §3.5: MGF1 with SHA-256 and a salt as long as the hash. */
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, tg_md_sha256()) > 0;
}

/* A verification context for (key, scheme), initialised once and kept on
 * the key; NULL when the scheme cannot be prepared (Ed25519 is one-shot). */
static const EVP_MD_CTX *
prepared_ctx_for(const struct tg_key *key, enum tg_sig_scheme scheme, int sign)
{
    struct tg_key *k = (struct tg_key *)key;
    _Atomic(EVP_MD_CTX *) *slot;
    EVP_MD_CTX *ctx, *expected = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int ok;

    if (scheme == TG_SIG_ED25519 || (unsigned)scheme >= 6)
        return NULL;
    slot = sign ? &k->sign_ctx[scheme] : &k->verify_ctx[scheme];
    ctx = atomic_load_explicit(slot, memory_order_acquire);
    if (ctx != NULL)
        return ctx;
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL &&
         (sign ? EVP_DigestSignInit(ctx, &pctx, scheme_md(scheme), NULL, k->pkey)
               : EVP_DigestVerifyInit(ctx, &pctx, scheme_md(scheme), NULL, k->pkey)) == 1 &&
         (scheme != TG_SIG_RSA_PSS_SHA256 || set_pss(pctx));
    if (!ok) {
        EVP_MD_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    if (!atomic_compare_exchange_strong_explicit(slot, &expected, ctx, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        EVP_MD_CTX_free(ctx);
        ctx = expected;
    }
    return ctx;
}

enum tg_err
tg_verify(const struct tg_key *key, enum tg_sig_scheme scheme, struct tg_slice data,
          struct tg_slice sig)
{
    enum tg_err rv = TG_ERR_JWS_SIG_INVALID;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    const EVP_MD_CTX *prep;
    uint8_t der[2 + 2 * (3 + 48)];
    const uint8_t *s = sig.p;
    size_t slen = sig.len;

    TG_ENSURE(scheme_fits_key(scheme, key->type), TG_ERR_JWS_ALG_KEY_MISMATCH,
              "scheme %d vs key %d", (int)scheme, (int)key->type);
    /* RFC 7518 §3.4: an ECDSA signature is exactly 2 * coordinate octets;
     * RSA signatures are as long as the modulus (RFC 8017 §8.2.2). */
    TG_ENSURE(sig.len == key->sig_len, TG_ERR_JWS_SIG_LENGTH, "sig len %zu want %zu", sig.len,
              key->sig_len);
    if (scheme == TG_SIG_ECDSA_P256_SHA256 || scheme == TG_SIG_ECDSA_P384_SHA384) {
        slen = rs_to_der(sig.p, sig.len / 2, der);
        s = der;
    }
    mctx = EVP_MD_CTX_new();
    TG_CHECK(mctx != NULL, TG_ERR_NOMEM, "md ctx");
    prep = prepared_ctx_for(key, scheme, 0);
    if (prep != NULL) {
        TG_CHECK(EVP_MD_CTX_copy_ex(mctx, prep) == 1, TG_ERR_INTERNAL, "ctx copy");
        /* The copy is used once: let the final step work on its own key
         * context instead of duplicating it again (one allocation set less
         * per signature). */
        EVP_MD_CTX_set_flags(mctx, EVP_MD_CTX_FLAG_FINALISE);
    } else {
        TG_CHECK(EVP_DigestVerifyInit(mctx, &pctx, scheme_md(scheme), NULL, key->pkey) == 1,
                 TG_ERR_INTERNAL, "verify init");
        if (scheme == TG_SIG_RSA_PSS_SHA256)
            TG_CHECK(set_pss(pctx), TG_ERR_INTERNAL, "pss params");
    }
    if (EVP_DigestVerify(mctx, s, slen, data.p, data.len) == 1)
        rv = TG_OK;
    else
        tg_err_raise(rv, "signature does not verify");
out:
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return rv;
}

static enum tg_err
der_to_rs(const uint8_t *der, size_t der_len, size_t half, uint8_t *rs)
{
    ECDSA_SIG *es = NULL;
    const BIGNUM *r, *s;
    const uint8_t *p = der;
    enum tg_err rv = TG_OK;

    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    TG_CHECK(es != NULL, TG_ERR_INTERNAL, "d2i ECDSA sig");
    ECDSA_SIG_get0(es, &r, &s);
    TG_CHECK(BN_bn2binpad(r, rs, (int)half) == (int)half &&
                 BN_bn2binpad(s, rs + half, (int)half) == (int)half,
             TG_ERR_INTERNAL, "bn2binpad");
out:
    ECDSA_SIG_free(es);
    return rv;
}

enum tg_err
tg_sign(const struct tg_key *key, enum tg_sig_scheme scheme, struct tg_slice data, uint8_t *sig,
        size_t sig_cap, size_t *sig_len)
{
    enum tg_err rv = TG_OK;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    const EVP_MD_CTX *prep;
    uint8_t der[2 + 2 * (3 + 48)];
    size_t dlen;
    int ec = scheme == TG_SIG_ECDSA_P256_SHA256 || scheme == TG_SIG_ECDSA_P384_SHA384;

    *sig_len = 0;
    TG_ENSURE(key->priv, TG_ERR_JWK_NOT_PRIVATE, "signing needs a private key");
    TG_ENSURE(scheme_fits_key(scheme, key->type), TG_ERR_JWS_ALG_KEY_MISMATCH, "scheme/key");
    TG_ENSURE(sig_cap >= key->sig_len, TG_ERR_INVALID_ARG, "sig buffer too small");
    mctx = EVP_MD_CTX_new();
    TG_CHECK(mctx != NULL, TG_ERR_NOMEM, "md ctx");
    prep = prepared_ctx_for(key, scheme, 1);
    if (prep != NULL) {
        TG_CHECK(EVP_MD_CTX_copy_ex(mctx, prep) == 1, TG_ERR_INTERNAL, "ctx copy");
        EVP_MD_CTX_set_flags(mctx, EVP_MD_CTX_FLAG_FINALISE); /* as in tg_verify */
    } else {
        TG_CHECK(EVP_DigestSignInit(mctx, &pctx, scheme_md(scheme), NULL, key->pkey) == 1,
                 TG_ERR_INTERNAL, "sign init");
        if (scheme == TG_SIG_RSA_PSS_SHA256)
            TG_CHECK(set_pss(pctx), TG_ERR_INTERNAL, "pss params");
    }
    if (ec) {
        dlen = sizeof(der);
        TG_CHECK(EVP_DigestSign(mctx, der, &dlen, data.p, data.len) == 1, TG_ERR_INTERNAL,
                 "sign");
        TG_TRY(der_to_rs(der, dlen, key->sig_len / 2, sig));
        *sig_len = key->sig_len;
    } else {
        dlen = sig_cap;
        TG_CHECK(EVP_DigestSign(mctx, sig, &dlen, data.p, data.len) == 1, TG_ERR_INTERNAL,
                 "sign");
        TG_CHECK(dlen == key->sig_len, TG_ERR_INTERNAL, "unexpected signature length");
        *sig_len = dlen;
    }
out:
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return rv;
}
