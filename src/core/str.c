#include "core/str.h"

#include <stdarg.h>
#include <string.h>

int
tg_join(char *dst, size_t cap, ...)
{
    va_list ap;
    const char *s;
    size_t len = 0, n;

    if (cap == 0)
        return -1;
    va_start(ap, cap);
    while ((s = va_arg(ap, const char *)) != NULL) {
        n = strlen(s);
        if (n >= cap - len) {
            va_end(ap);
            dst[0] = '\0';
            return -1;
        }
        memcpy(dst + len, s, n);
        len += n;
    }
    va_end(ap);
    dst[len] = '\0';
    return len <= (size_t)INT32_MAX ? (int)len : -1;
}

size_t
tg_u64_dec(uint64_t v, char out[21])
{
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

size_t
tg_i64_dec(int64_t v, char out[21])
{
    /* -(v + 1) + 1: INT64_MIN has no positive twin in int64_t */
    char digits[21];
    size_t n;

    if (v >= 0)
        return tg_u64_dec((uint64_t)v, out);
    n = tg_u64_dec((uint64_t)(-(v + 1)) + 1, digits); /* at most 19 digits */
    out[0] = '-';
    memcpy(out + 1, digits, n + 1);
    return n + 1;
}
