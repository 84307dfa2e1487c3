#include "core/jsonw.h"

#include "core/str.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (RFC 3629 §4), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
            return 0; /* overlong, surrogates */
        return 3;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Whether a byte of w is below 0x20, '"', '\\' or 0x80 and up: the classic
 * "has a byte less than n" and "has a byte equal to n" word tests (a false
 * alarm only sends that word through the byte loop). */
static int
needs_look(uint64_t w)
{
    uint64_t quote = w ^ (ONES * '"'), bslash = w ^ (ONES * '\\');

    return (((w - ONES * 0x20) | (quote - ONES) | (bslash - ONES) | w) & HIGHS) != 0;
}

enum tg_err
tg_jsonw_str(struct tg_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0, n, left = strlen(s);
    char esc[8];

    TG_GUARD(tg_buf_append(b, "\"", 1));
    while (run < left) {
        unsigned char c;
        uint64_t w;

        /* Eight bytes at a time while none needs a look (most strings:
         * tokens, ids, URLs), within the string's own bytes. */
        while (left - run >= sizeof(w)) {
            memcpy(&w, p + run, sizeof(w));
            if (needs_look(w))
                break;
            run += sizeof(w);
        }
        if (run == left)
            break;
        c = p[run];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            run++;
            continue;
        }
        left -= run;
        TG_GUARD(tg_buf_append(b, p, run));
        p += run;
        run = 0;
        if (c >= 0x80) {
            n = utf8_len(p);
            TG_ENSURE(n > 0, TG_ERR_INVALID_ARG, "string is not valid UTF-8");
            TG_GUARD(tg_buf_append(b, p, n));
            p += n;
            left -= n;
            continue;
        }
        switch (c) {
        case '"':
            TG_GUARD(tg_buf_append(b, "\\\"", 2));
            break;
        case '\\':
            TG_GUARD(tg_buf_append(b, "\\\\", 2));
            break;
        case '\n':
            TG_GUARD(tg_buf_append(b, "\\n", 2));
            break;
        case '\r':
            TG_GUARD(tg_buf_append(b, "\\r", 2));
            break;
        case '\t':
            TG_GUARD(tg_buf_append(b, "\\t", 2));
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            TG_GUARD(tg_buf_append(b, esc, 6));
            break;
        }
        p++;
        left--;
    }
    TG_GUARD(tg_buf_append(b, p, run));
    return tg_buf_append(b, "\"", 1);
}

static enum tg_err
key(struct tg_buf *b, int first, const char *k)
{
    if (!first)
        TG_GUARD(tg_buf_append(b, ",", 1));
    TG_GUARD(tg_jsonw_str(b, k));
    return tg_buf_append(b, ":", 1);
}

enum tg_err
tg_jsonw_kv_str(struct tg_buf *b, int first, const char *k, const char *v)
{
    TG_GUARD(key(b, first, k));
    return tg_jsonw_str(b, v);
}

enum tg_err
tg_jsonw_kv_int(struct tg_buf *b, int first, const char *k, int64_t v)
{
    char num[21];
    size_t n = tg_i64_dec(v, num);

    TG_GUARD(key(b, first, k));
    return tg_buf_append(b, num, n);
}

enum tg_err
tg_jsonw_kv_raw(struct tg_buf *b, int first, const char *k, const char *raw)
{
    TG_GUARD(key(b, first, k));
    return tg_buf_append_str(b, raw);
}
