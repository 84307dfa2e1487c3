/* HMAC-SHA256 and AES-256-GCM envelope sealing. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto/crypto.h"

enum tg_err
tg_hmac_sha256(struct tg_slice key, struct tg_slice data, uint8_t out[TG_SHA256_LEN])
{
    size_t n = 0;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key.p, key.len, data.p, data.len, out,
                  TG_SHA256_LEN, &n) == NULL ||
        n != TG_SHA256_LEN) {
        ERR_clear_error();
        TG_ENSURE(0, TG_ERR_INTERNAL, "HMAC failed");
    }
    return TG_OK;
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
