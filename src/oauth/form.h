/* application/x-www-form-urlencoded bodies (RFC 6749 §3.2, Appendix B;
 * WHATWG URL "application/x-www-form-urlencoded parsing"). */
#ifndef TG_OAUTH_FORM_H
#define TG_OAUTH_FORM_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

#define TG_FORM_MAX_PARAMS 64

struct tg_form {
    size_t n;
    struct {
        char *name, *value;
    } p[TG_FORM_MAX_PARAMS];
};

/* Parse a body. Empty names, bad percent-encodings, NULs and more than
 * TG_FORM_MAX_PARAMS parameters are refused (TG_ERR_OAUTH_INVALID_REQUEST). */
enum tg_err tg_form_parse(struct tg_slice body, struct tg_form *out) TG_MUST_CHECK;
void tg_form_reset(struct tg_form *f);
/* The value of a parameter that may appear at most once (RFC 6749 §3.2):
 * TG_OK with *value NULL when absent, TG_ERR_OAUTH_INVALID_REQUEST when repeated. */
enum tg_err tg_form_get1(const struct tg_form *f, const char *name,
                         const char **value) TG_MUST_CHECK;
size_t tg_form_count(const struct tg_form *f, const char *name);
/* Percent-decode (and '+' to space when `plus`) into a new string. */
enum tg_err tg_url_decode(const char *s, size_t len, int plus, char **out) TG_MUST_CHECK;

/* Standard base64 with padding (RFC 4648 §4), strict; for HTTP Basic. */
enum tg_err tg_base64_decode(const char *s, size_t len, struct tg_buf *out) TG_MUST_CHECK;

#endif
