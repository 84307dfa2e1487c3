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
};

#endif
