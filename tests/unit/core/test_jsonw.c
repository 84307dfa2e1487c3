#include <jansson.h>

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

int
main(void)
{
    RUN(test_roundtrip);
    RUN(test_invalid_utf8_refused);
    return t_report("core/jsonw");
}
