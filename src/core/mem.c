#include "core/mem.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void
tg_wipe(void *p, size_t len)
{
    /* glibc's explicit_bzero: memset's speed, and a barrier so the
     * compiler cannot drop it as a dead store (a volatile byte loop was a
     * percent of the token endpoint's CPU through jansson's frees). */
    explicit_bzero(p, len);
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

int
tg_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void (*tg_json_wipe_inner_free)(void *p) = free;

void
tg_json_wipe_free(void *p)
{
    if (p == NULL)
        return;
    /* The usable size covers what jansson wrote, whatever it asked for. */
    tg_wipe(p, malloc_usable_size(p));
    tg_json_wipe_inner_free(p);
}

void
tg_json_wipe_install(void)
{
    json_set_alloc_funcs(malloc, tg_json_wipe_free);
}
