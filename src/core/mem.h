/* Memory helpers that do not need OpenSSL, so the pure layers stay light. */
#ifndef TG_CORE_MEM_H
#define TG_CORE_MEM_H

#include <stddef.h>

/* Zero memory in a way the compiler may not elide. */
void tg_wipe(void *p, size_t len);
/* Constant-time equality of two equal-length byte strings: 1 when equal. */
int tg_ct_eq(const void *a, const void *b, size_t len);

/* The value of a hexadecimal digit (either case), or -1. */
int tg_hex_digit(int c);

#endif
