/* String building for the per-request paths, where snprintf's format
 * parsing costs more than the copying (a /check joins a dozen short
 * strings). Both refuse rather than truncate. */
#ifndef TG_CORE_STR_H
#define TG_CORE_STR_H

#include <stddef.h>
#include <stdint.h>

/* dst = the strings that follow, up to a NULL, one after another. Returns
 * the length, or -1 with dst "" when they do not fit in cap (with the
 * NUL). */
int tg_join(char *dst, size_t cap, ...) __attribute__((sentinel));
/* The decimal digits of v, NUL-terminated, in out (21 bytes hold any);
 * returns their number. */
size_t tg_u64_dec(uint64_t v, char out[21]);
/* The same for a signed value ("-" first when negative). */
size_t tg_i64_dec(int64_t v, char out[21]);

#endif
