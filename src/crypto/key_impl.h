/* Private to src/crypto: the layout of struct tg_key. */
#ifndef TG_CRYPTO_KEY_IMPL_H
#define TG_CRYPTO_KEY_IMPL_H

#include <stdatomic.h>

#include <openssl/evp.h>

#include "crypto/crypto.h"

struct tg_key {
    atomic_uint refs;
    EVP_PKEY *pkey;
    enum tg_key_type type;
    int priv;
    unsigned bits;
    size_t sig_len;
    /* Verification contexts initialised once per scheme and copied per
     * call: EVP_DigestVerifyInit costs ~2.5 µs in OpenSSL 3, a copy ~0.2.
     * Set once (compare-and-swap), read-only afterwards. */
    _Atomic(EVP_MD_CTX *) verify_ctx[6];
    _Atomic(EVP_MD_CTX *) sign_ctx[6]; /* the same for signing (private keys) */
};

#endif
