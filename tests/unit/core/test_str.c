#include <inttypes.h>
#include <stdio.h>

#include "test.h"

#include "core/str.h"

static void
test_join(void)
{
    char b[8];

    CHECK(tg_join(b, sizeof(b), "ab", ":", "cd", NULL) == 5 && strcmp(b, "ab:cd") == 0);
    CHECK(tg_join(b, sizeof(b), NULL) == 0 && b[0] == '\0');
    CHECK(tg_join(b, sizeof(b), "", "", NULL) == 0 && b[0] == '\0');
    /* 7 bytes and the NUL fit exactly; one more is refused, never cut */
    CHECK(tg_join(b, sizeof(b), "abc", "defg", NULL) == 7 && strcmp(b, "abcdefg") == 0);
    CHECK(tg_join(b, sizeof(b), "abcd", "efgh", NULL) == -1 && b[0] == '\0');
    CHECK(tg_join(b, sizeof(b), "abcdefgh", NULL) == -1 && b[0] == '\0');
    CHECK(tg_join(b, 1, "", NULL) == 0 && b[0] == '\0');
    CHECK(tg_join(b, 1, "a", NULL) == -1 && b[0] == '\0');
    CHECK(tg_join(b, 0, "a", NULL) == -1);
}

/* Every value against printf's own digits. */
static void
dec_same(int64_t v)
{
    char want[32], got[21];
    size_t n;

    snprintf(want, sizeof(want), "%" PRId64, v);
    n = tg_i64_dec(v, got);
    CHECK(n == strlen(want) && strcmp(got, want) == 0);
    if (v >= 0) {
        n = tg_u64_dec((uint64_t)v, got);
        CHECK(n == strlen(want) && strcmp(got, want) == 0);
    }
}

static void
test_dec(void)
{
    char got[21];
    int64_t v;
    int i;

    dec_same(0);
    dec_same(-1);
    dec_same(INT64_MAX);
    dec_same(INT64_MIN);
    dec_same(INT64_MIN + 1);
    for (v = 1, i = 0; i < 18; i++, v *= 10) {
        dec_same(v - 1);
        dec_same(v);
        dec_same(-v);
        dec_same(v + 1);
    }
    CHECK(tg_u64_dec(UINT64_MAX, got) == 20 && strcmp(got, "18446744073709551615") == 0);
}

int
main(void)
{
    RUN(test_join);
    RUN(test_dec);
    return t_report("core/str");
}
