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

/* jansson's allocator for the daemon: every block jansson frees is wiped
 * first (its whole usable size), so the private members of a parsed JWK,
 * a form's client secret or a sealed key's JSON do not linger in freed
 * memory. tg_json_wipe_install() sets it (json_set_alloc_funcs) and must
 * run before jansson allocates anything; a library leaves that choice to
 * its host program. tg_json_wipe_free frees through tg_json_wipe_inner_free
 * (free; a test may watch it). */
void tg_json_wipe_install(void);
void tg_json_wipe_free(void *p);
extern void (*tg_json_wipe_inner_free)(void *p);

#endif
