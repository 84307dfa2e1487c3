#include "core/mem.h"

#include <string.h>

void
tg_wipe(void *p, size_t len)
{
    volatile unsigned char *v = p;

    while (len--)
        *v++ = 0;
}

int
tg_ct_eq(const void *a, const void *b, size_t len)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    size_t i;

    for (i = 0; i < len; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}
