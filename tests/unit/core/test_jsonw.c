#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

#include "core/jsonw.h"

static void
test_roundtrip(void)
{
    static const char *const samples[] = {
        "plain", "", "quote\" back\\slash", "ctl\x01\x1f\n\r\t", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    };
    struct tg_buf b;
    const char *out;
    json_t *v;
    size_t i;

    for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        tg_buf_init(&b, 4096);
        CHECK_OK(tg_buf_append(&b, "{", 1));
        CHECK_OK(tg_jsonw_kv_str(&b, 1, "s", samples[i]));
        CHECK_OK(tg_jsonw_kv_int(&b, 0, "n", -42));
        CHECK_OK(tg_jsonw_kv_raw(&b, 0, "r", "[1,{\"a\":null}]"));
        CHECK_OK(tg_buf_append(&b, "}", 1));
        CHECK_OK(tg_buf_cstr(&b, &out));
        v = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
        CHECK(v != NULL);
        CHECK(v != NULL && strcmp(json_string_value(json_object_get(v, "s")), samples[i]) == 0);
        CHECK(v != NULL && json_integer_value(json_object_get(v, "n")) == -42);
        json_decref(v);
        tg_buf_reset(&b);
    }
}

static void
test_invalid_utf8_refused(void)
{
    static const char *const bad[] = {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf5\x80\x80\x80",
                                      "a\xffz", "\xe2\x82"};
    struct tg_buf b;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tg_buf_init(&b, 256);
        CHECK_ERR(tg_jsonw_str(&b, bad[i]), TG_ERR_INVALID_ARG);
        tg_buf_reset(&b);
    }
    tg_buf_init(&b, 4);
    CHECK_ERR(tg_jsonw_str(&b, "too long for the cap"), TG_ERR_TOO_LARGE);
    tg_buf_reset(&b);
}


/* The writer scans eight bytes at a time: every character that needs a
 * look, at every offset of strings around the word size, against a
 * byte-at-a-time reference; and invalid UTF-8 at every offset. */
static void
ref_escape(const char *s, char *out)
{
    const unsigned char *p = (const unsigned char *)s;

    *out++ = '"';
    for (; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            *out++ = '\\';
            *out++ = (char)*p;
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            *out++ = '\\';
            *out++ = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
        } else if (*p < 0x20) {
            out += snprintf(out, 7, "\\u%04x", *p); /* 6 characters and the NUL */
        } else {
            *out++ = (char)*p;
        }
    }
    *out++ = '"';
    *out = '\0';
}

static void
test_every_offset(void)
{
    static const char *const special[] = {"\"", "\\", "\n", "\x01", "\x1f", "\x7f", " ", "~",
                                          "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    static const char *const bad[] = {"\xc3", "\xff", "\xed\xa0\x80", "\x80"};
    char in[64], want[256];
    const char *got;
    struct tg_buf b;
    size_t len, at, k;
    int ok = 1;

    for (len = 0; len <= 26; len++) {
        for (at = 0; at <= len; at++) {
            for (k = 0; k < sizeof(special) / sizeof(special[0]); k++) {
                memset(in, 'a', len);
                in[len] = '\0';
                memcpy(in + at, special[k], strlen(special[k]));
                in[at + strlen(special[k]) > len ? at + strlen(special[k]) : len] = '\0';
                ref_escape(in, want);
                tg_buf_init(&b, 1024);
                if (tg_jsonw_str(&b, in) != TG_OK || tg_buf_cstr(&b, &got) != TG_OK ||
                    strcmp(got, want) != 0)
                    ok = 0;
                tg_buf_reset(&b);
            }
            for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
                memset(in, 'a', len + 8);
                memcpy(in + at, bad[k], strlen(bad[k]));
                in[len + 4] = '\0';
                tg_buf_init(&b, 1024);
                if (tg_jsonw_str(&b, in) != TG_ERR_INVALID_ARG)
                    ok = 0;
                tg_buf_reset(&b);
            }
        }
    }
    CHECK(ok);
}

int
main(void)
{
    RUN(test_roundtrip);
    RUN(test_invalid_utf8_refused);
    RUN(test_every_offset);
    return t_report("core/jsonw");
}
