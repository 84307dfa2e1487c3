#include "core/mem.h"
#include "oauth/form.h"

#include <stdlib.h>
#include <string.h>

enum tg_err
tg_url_decode(const char *s, size_t len, int plus, char **out)
{
    char *d;
    size_t i, o = 0;
    int hi, lo;

    *out = NULL;
    d = malloc(len + 1);
    TG_ENSURE(d != NULL, TG_ERR_NOMEM, "url decode");
    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            hi = i + 2 < len ? tg_hex_digit((unsigned char)s[i + 1]) : -1;
            lo = i + 2 < len ? tg_hex_digit((unsigned char)s[i + 2]) : -1;
            /* a decoded NUL would cut the value short when read as a string */
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(d);
                TG_ENSURE(0, TG_ERR_OAUTH_INVALID_REQUEST, "bad percent-encoding");
            }
            d[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '+' && plus) {
            d[o++] = ' ';
        } else if (s[i] == '\0') {
            free(d);
            TG_ENSURE(0, TG_ERR_OAUTH_INVALID_REQUEST, "NUL in form");
        } else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    *out = d;
    return TG_OK;
}

enum tg_err
tg_form_parse(struct tg_slice body, struct tg_form *out)
{
    const char *p = (const char *)body.p, *end = p + body.len, *amp, *eq;
    enum tg_err rv = TG_OK;

    memset(out, 0, sizeof(*out));
    while (p < end) {
        amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp == p) { /* empty pair: skip, as browsers do */
            p++;
            continue;
        }
        TG_CHECK(out->n < TG_FORM_MAX_PARAMS, TG_ERR_OAUTH_INVALID_REQUEST, "too many parameters");
        eq = memchr(p, '=', (size_t)(amp - p));
        /* "name" alone is name with an empty value (WHATWG urlencoded
         * parsing); an empty name is refused. */
        if (eq == NULL)
            eq = amp;
        TG_CHECK(eq > p, TG_ERR_OAUTH_INVALID_REQUEST, "parameter without a name");
        TG_TRY(tg_url_decode(p, (size_t)(eq - p), 1, &out->p[out->n].name));
        TG_TRY(tg_url_decode(eq < amp ? eq + 1 : amp, eq < amp ? (size_t)(amp - eq - 1) : 0, 1,
                             &out->p[out->n].value));
        out->n++;
        p = amp + 1;
    }
out:
    if (rv != TG_OK) {
        if (out->n < TG_FORM_MAX_PARAMS) {
            free(out->p[out->n].name);
            free(out->p[out->n].value);
            out->p[out->n].name = out->p[out->n].value = NULL;
        }
        tg_form_reset(out);
    }
    return rv;
}

void
tg_form_reset(struct tg_form *f)
{
    size_t i;

    for (i = 0; i < f->n; i++) {
        free(f->p[i].name);
        if (f->p[i].value != NULL) {
            /* values may hold client secrets */
            memset(f->p[i].value, 0, strlen(f->p[i].value));
            free(f->p[i].value);
        }
    }
    f->n = 0;
}

size_t
tg_form_count(const struct tg_form *f, const char *name)
{
    size_t i, c = 0;

    for (i = 0; i < f->n; i++)
        c += strcmp(f->p[i].name, name) == 0;
    return c;
}

enum tg_err
tg_form_get1(const struct tg_form *f, const char *name, const char **value)
{
    size_t i;

    *value = NULL;
    for (i = 0; i < f->n; i++) {
        if (strcmp(f->p[i].name, name) != 0)
            continue;
        /* RFC 6749 §3.2: parameters MUST NOT be included more than once. */
        TG_ENSURE(*value == NULL, TG_ERR_OAUTH_INVALID_REQUEST, "repeated parameter %s", name);
        *value = f->p[i].value;
    }
    return TG_OK;
}

static int
b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

enum tg_err
tg_base64_decode(const char *s, size_t len, struct tg_buf *out)
{
    size_t i, pad = 0;
    int v[4], k;
    uint8_t *dst;

    TG_ENSURE(len % 4 == 0, TG_ERR_OAUTH_INVALID_REQUEST, "base64 length");
    if (len >= 1 && s[len - 1] == '=')
        pad++;
    if (len >= 2 && s[len - 2] == '=')
        pad++;
    TG_GUARD(tg_buf_reserve(out, len / 4 * 3, &dst));
    for (i = 0; i < len; i += 4) {
        for (k = 0; k < 4; k++) {
            int last_group = i + 4 == len;

            if (last_group && s[i + k] == '=' && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            v[k] = b64val((unsigned char)s[i + k]);
            TG_ENSURE(v[k] >= 0, TG_ERR_OAUTH_INVALID_REQUEST, "bad base64 character");
        }
        dst[0] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        dst[1] = (uint8_t)(v[1] << 4 | v[2] >> 2);
        dst[2] = (uint8_t)(v[2] << 6 | v[3]);
        dst += 3;
    }
    out->len += len / 4 * 3 - pad;
    return TG_OK;
}
