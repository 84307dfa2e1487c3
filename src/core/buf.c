#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

int
tg_slice_eq_str(struct tg_slice s, const char *str)
{
    size_t n = strlen(str);

    return s.len == n && (n == 0 || memcmp(s.p, str, n) == 0);
}

void
tg_buf_init(struct tg_buf *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->cap = cap;
}

void
tg_buf_init_secret(struct tg_buf *b, size_t cap)
{
    tg_buf_init(b, cap);
    b->secret = 1;
}

void
tg_buf_reset(struct tg_buf *b)
{
    size_t cap = b->cap;
    int secret = b->secret;

    if (b->p != NULL && secret)
        tg_wipe(b->p, b->alloc);
    free(b->p);
    memset(b, 0, sizeof(*b));
    b->cap = cap;
    b->secret = secret;
}

enum tg_err
tg_buf_reserve(struct tg_buf *b, size_t len, uint8_t **out)
{
    size_t need, nalloc;
    uint8_t *np;

    /* +1 keeps room for tg_buf_cstr's NUL. */
    TG_ENSURE(len <= b->cap && b->len <= b->cap - len, TG_ERR_TOO_LARGE, "buffer cap %zu", b->cap);
    need = b->len + len + 1;
    if (need > b->alloc) {
        /* 256 first: most buffers (JSON texts, headers, lines) then grow
         * once or never. */
        nalloc = b->alloc ? b->alloc : 256;
        while (nalloc < need)
            nalloc *= 2;
        if (nalloc > b->cap + 1)
            nalloc = b->cap + 1;
        np = malloc(nalloc);
        TG_ENSURE(np != NULL, TG_ERR_NOMEM, "malloc %zu", nalloc);
        if (b->p != NULL) {
            memcpy(np, b->p, b->len);
            if (b->secret)
                tg_wipe(b->p, b->alloc);
            free(b->p);
        }
        b->p = np;
        b->alloc = nalloc;
    }
    *out = b->p + b->len;
    return TG_OK;
}

enum tg_err
tg_buf_append_slow(struct tg_buf *b, const void *p, size_t len)
{
    uint8_t *dst;

    TG_GUARD(tg_buf_reserve(b, len, &dst));
    if (len > 0)
        memcpy(dst, p, len);
    b->len += len;
    return TG_OK;
}

enum tg_err
tg_buf_append_str(struct tg_buf *b, const char *s)
{
    return tg_buf_append(b, s, strlen(s));
}

enum tg_err
tg_buf_cstr(struct tg_buf *b, const char **out)
{
    uint8_t *dst;

    TG_GUARD(tg_buf_reserve(b, 0, &dst));
    *dst = '\0';
    *out = (const char *)b->p;
    return TG_OK;
}
