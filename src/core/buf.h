/* Slices for untrusted bytes (never rely on NUL) and a dynamic buffer with a
 * mandatory size cap for everything fed by the network. */
#ifndef TG_CORE_BUF_H
#define TG_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct tg_slice {
    const uint8_t *p;
    size_t len;
};

#define TG_SLICE_STR(s) ((struct tg_slice){(const uint8_t *)(s), sizeof(s) - 1})

static inline struct tg_slice
tg_slice(const void *p, size_t len)
{
    return (struct tg_slice){(const uint8_t *)p, len};
}

int tg_slice_eq_str(struct tg_slice s, const char *str);

struct tg_buf {
    uint8_t *p;
    size_t len;
    size_t alloc;
    size_t cap; /* hard limit on len; appends past it fail with TG_ERR_TOO_LARGE */
    int secret; /* wipe on growth and on reset */
};

void tg_buf_init(struct tg_buf *b, size_t cap);
void tg_buf_init_secret(struct tg_buf *b, size_t cap);
void tg_buf_reset(struct tg_buf *b);
enum tg_err tg_buf_append_slow(struct tg_buf *b, const void *p, size_t len) TG_MUST_CHECK;

/* Appends; TG_ERR_TOO_LARGE past the cap. Inline when it fits what is
 * allocated (and the cap): the common case of every JSON and header writer. */
static inline TG_MUST_CHECK enum tg_err
tg_buf_append(struct tg_buf *b, const void *p, size_t len)
{
    /* +1 keeps room for tg_buf_cstr's NUL (as tg_buf_reserve does). */
    if (b->alloc - b->len > len && b->cap - b->len >= len) {
        if (len > 0)
            __builtin_memcpy(b->p + b->len, p, len);
        b->len += len;
        return TG_OK;
    }
    return tg_buf_append_slow(b, p, len);
}
enum tg_err tg_buf_append_str(struct tg_buf *b, const char *s) TG_MUST_CHECK;
/* Ensure room for `len` more bytes and return where they go (not committed). */
enum tg_err tg_buf_reserve(struct tg_buf *b, size_t len, uint8_t **out) TG_MUST_CHECK;
/* NUL-terminate without counting the NUL in len. */
enum tg_err tg_buf_cstr(struct tg_buf *b, const char **out) TG_MUST_CHECK;

#endif
