/* HMAC-SHA256 and AES-256-GCM envelope sealing. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto/crypto.h"
#include "crypto/md.h"

/* RFC 2104 over the pre-fetched SHA-256: EVP_Q_mac would fetch the HMAC
 * implementation and the digest by name on every call (~3 µs). */
enum tg_err
tg_hmac_sha256(struct tg_slice key, struct tg_slice data, uint8_t out[TG_SHA256_LEN])
{
    uint8_t k[64], pad[64], inner[TG_SHA256_LEN];
    EVP_MD_CTX *ctx = NULL;
    unsigned int n = 0;
    enum tg_err rv = TG_OK;
    size_t i;

    memset(k, 0, sizeof(k));
    if (key.len > sizeof(k)) {
        TG_TRY(tg_sha256(key, k)); /* RFC 2104 §2: long keys are hashed first */
    } else if (key.len > 0) {
        memcpy(k, key.p, key.len);
    }
    ctx = EVP_MD_CTX_new();
    TG_CHECK(ctx != NULL, TG_ERR_NOMEM, "md ctx");
    for (i = 0; i < sizeof(pad); i++)
        pad[i] = k[i] ^ 0x36;
    TG_CHECK(EVP_DigestInit_ex(ctx, tg_md_sha256(), NULL) == 1 &&
                 EVP_DigestUpdate(ctx, pad, sizeof(pad)) == 1 &&
                 EVP_DigestUpdate(ctx, data.p, data.len) == 1 &&
                 EVP_DigestFinal_ex(ctx, inner, &n) == 1,
             TG_ERR_INTERNAL, "HMAC inner");
    for (i = 0; i < sizeof(pad); i++)
        pad[i] = k[i] ^ 0x5c;
    TG_CHECK(EVP_DigestInit_ex(ctx, tg_md_sha256(), NULL) == 1 &&
                 EVP_DigestUpdate(ctx, pad, sizeof(pad)) == 1 &&
                 EVP_DigestUpdate(ctx, inner, sizeof(inner)) == 1 &&
                 EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == TG_SHA256_LEN,
             TG_ERR_INTERNAL, "HMAC outer");
out:
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(inner, sizeof(inner));
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}

enum tg_err
tg_aead_seal(const uint8_t key[TG_AEAD_KEY_LEN], struct tg_slice aad, struct tg_slice plain,
             struct tg_buf *out)
{
    enum tg_err rv = TG_OK;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *dst;
    int n = 0, fin = 0;
    size_t start = out->len;

    TG_CHECK(plain.len < (1u << 30) && aad.len < (1u << 30), TG_ERR_TOO_LARGE, "seal size");
    TG_TRY(tg_buf_reserve(out, TG_AEAD_OVERHEAD + plain.len, &dst));
    TG_TRY(tg_random(dst, TG_AEAD_NONCE_LEN));
    ctx = EVP_CIPHER_CTX_new();
    TG_CHECK(ctx != NULL, TG_ERR_NOMEM, "cipher ctx");
    TG_CHECK(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, dst) == 1, TG_ERR_INTERNAL,
             "gcm init");
    if (aad.len > 0)
        TG_CHECK(EVP_EncryptUpdate(ctx, NULL, &n, aad.p, (int)aad.len) == 1, TG_ERR_INTERNAL,
                 "gcm aad");
    TG_CHECK(EVP_EncryptUpdate(ctx, dst + TG_AEAD_NONCE_LEN, &n, plain.p, (int)plain.len) == 1,
             TG_ERR_INTERNAL, "gcm update");
    TG_CHECK(EVP_EncryptFinal_ex(ctx, dst + TG_AEAD_NONCE_LEN + n, &fin) == 1 && fin == 0,
             TG_ERR_INTERNAL, "gcm final");
    TG_CHECK(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TG_AEAD_TAG_LEN,
                                 dst + TG_AEAD_NONCE_LEN + plain.len) == 1,
             TG_ERR_INTERNAL, "gcm tag");
    out->len += TG_AEAD_OVERHEAD + plain.len;
out:
    if (rv != TG_OK)
        out->len = start;
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}

enum tg_err
tg_aead_open(const uint8_t key[TG_AEAD_KEY_LEN], struct tg_slice aad, struct tg_slice sealed,
             struct tg_buf *out)
{
    enum tg_err rv = TG_OK;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *dst, tag[TG_AEAD_TAG_LEN];
    size_t clen, start = out->len;
    int n = 0, fin = 0;

    TG_CHECK(sealed.len >= TG_AEAD_OVERHEAD, TG_ERR_DECRYPT, "sealed blob too short");
    clen = sealed.len - TG_AEAD_OVERHEAD;
    TG_CHECK(clen < (1u << 30) && aad.len < (1u << 30), TG_ERR_TOO_LARGE, "open size");
    TG_TRY(tg_buf_reserve(out, clen, &dst));
    memcpy(tag, sealed.p + TG_AEAD_NONCE_LEN + clen, TG_AEAD_TAG_LEN);
    ctx = EVP_CIPHER_CTX_new();
    TG_CHECK(ctx != NULL, TG_ERR_NOMEM, "cipher ctx");
    TG_CHECK(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed.p) == 1,
             TG_ERR_INTERNAL, "gcm init");
    if (aad.len > 0)
        TG_CHECK(EVP_DecryptUpdate(ctx, NULL, &n, aad.p, (int)aad.len) == 1, TG_ERR_INTERNAL,
                 "gcm aad");
    TG_CHECK(EVP_DecryptUpdate(ctx, dst, &n, sealed.p + TG_AEAD_NONCE_LEN, (int)clen) == 1,
             TG_ERR_INTERNAL, "gcm update");
    TG_CHECK(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TG_AEAD_TAG_LEN, tag) == 1,
             TG_ERR_INTERNAL, "gcm set tag");
    if (EVP_DecryptFinal_ex(ctx, dst + n, &fin) != 1) {
        OPENSSL_cleanse(dst, clen);
        TG_FAIL(TG_ERR_DECRYPT, "GCM tag mismatch");
    }
    out->len += clen;
out:
    if (rv != TG_OK)
        out->len = start;
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}
