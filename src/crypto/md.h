/* Private to src/crypto: digests fetched once from the default provider
 * (OpenSSL 3 would otherwise fetch on every call). */
#ifndef TG_CRYPTO_MD_H
#define TG_CRYPTO_MD_H

#include <openssl/evp.h>

const EVP_MD *tg_md_sha256(void);
const EVP_MD *tg_md_sha384(void);

#endif
