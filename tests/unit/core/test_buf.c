#include "test.h"

#include "core/buf.h"
#include "core/mem.h"

static void
test_append_and_cap(void)
{
    struct tg_buf b;
    const char *s;
    int i;

    tg_buf_init(&b, 10);
    CHECK_OK(tg_buf_append_str(&b, "hello"));
    CHECK_OK(tg_buf_append_str(&b, "world"));
    CHECK(b.len == 10);
    CHECK_ERR(tg_buf_append(&b, "x", 1), TG_ERR_TOO_LARGE);
    CHECK(b.len == 10);
    CHECK_OK(tg_buf_cstr(&b, &s));
    CHECK(strcmp(s, "helloworld") == 0);
    tg_buf_reset(&b);
    CHECK(b.len == 0 && b.p == NULL && b.cap == 10);

    tg_buf_init(&b, 100000);
    for (i = 0; i < 1000; i++)
        CHECK_OK(tg_buf_append(&b, "0123456789", 10));
    CHECK(b.len == 10000);
    CHECK(memcmp(b.p + 9990, "0123456789", 10) == 0);
    tg_buf_reset(&b);
}

static void
test_overflow_len(void)
{
    struct tg_buf b;

    tg_buf_init(&b, 16);
    CHECK_ERR(tg_buf_append(&b, "x", SIZE_MAX), TG_ERR_TOO_LARGE);
    tg_buf_reset(&b);
}

static void
test_secret_buf(void)
{
    struct tg_buf b;

    tg_buf_init_secret(&b, 1024);
    CHECK_OK(tg_buf_append_str(&b, "top secret"));
    CHECK(b.secret);
    tg_buf_reset(&b);
    CHECK(b.secret && b.p == NULL);
}

static void
test_slices_and_mem(void)
{
    uint8_t z[4] = {1, 2, 3, 4};

    CHECK(tg_slice_eq_str(TG_SLICE_STR("abc"), "abc"));
    CHECK(!tg_slice_eq_str(TG_SLICE_STR("abc"), "abcd"));
    CHECK(!tg_slice_eq_str(TG_SLICE_STR("abd"), "abc"));
    CHECK(tg_slice_eq_str(tg_slice(NULL, 0), ""));
    CHECK(tg_ct_eq("abcd", "abcd", 4));
    CHECK(!tg_ct_eq("abcd", "abce", 4));
    tg_wipe(z, sizeof(z));
    CHECK(z[0] == 0 && z[3] == 0);
}

int
main(void)
{
    RUN(test_append_and_cap);
    RUN(test_overflow_len);
    RUN(test_secret_buf);
    RUN(test_slices_and_mem);
    return t_report("core/buf");
}
