/* base64url without padding (RFC 7515 §2, RFC 4648 §5), strict: characters
 * outside the alphabet, padding, impossible lengths and non-zero trailing
 * bits are all refused, so every value has exactly one encoding. */
#ifndef TG_JOSE_B64URL_H
#define TG_JOSE_B64URL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

static inline size_t
tg_b64url_encoded_len(size_t n)
{
    return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
}

static inline size_t
tg_b64url_decoded_max(size_t n)
{
    return (n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0);
}

/* Writes tg_b64url_encoded_len(in.len) characters and a NUL to `out`. */
void tg_b64url_encode_to(struct tg_slice in, char *out);
enum tg_err tg_b64url_encode(struct tg_slice in, struct tg_buf *out) TG_MUST_CHECK;

enum tg_err tg_b64url_decode_to(struct tg_slice in, uint8_t *out, size_t cap,
                                size_t *out_len) TG_MUST_CHECK;
enum tg_err tg_b64url_decode(struct tg_slice in, struct tg_buf *out) TG_MUST_CHECK;
/* Validate without decoding. */
enum tg_err tg_b64url_check(struct tg_slice in) TG_MUST_CHECK;

#endif
