/* Writing JSON text straight into a capped buffer, for the hot paths where
 * building a jansson tree only to serialise it costs more than the crypto
 * around it (token claims, token responses). Strings are escaped per RFC
 * 8259 §7 and must be valid UTF-8 (RFC 8259 §8.1): anything else is refused,
 * never passed through. */
#ifndef TG_CORE_JSONW_H
#define TG_CORE_JSONW_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* Append "<escaped s>" (with the quotes). */
enum tg_err tg_jsonw_str(struct tg_buf *b, const char *s) TG_MUST_CHECK;
/* Append ,"key":"value" — or without the comma when `first`. */
enum tg_err tg_jsonw_kv_str(struct tg_buf *b, int first, const char *key,
                            const char *value) TG_MUST_CHECK;
enum tg_err tg_jsonw_kv_int(struct tg_buf *b, int first, const char *key,
                            int64_t value) TG_MUST_CHECK;
/* `raw_json` must already be valid JSON (e.g. from json_dumps). */
enum tg_err tg_jsonw_kv_raw(struct tg_buf *b, int first, const char *key,
                            const char *raw_json) TG_MUST_CHECK;

#endif
