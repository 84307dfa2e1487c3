#include "test.h"

#include "oauth/form.h"

static enum tg_err
parse(const char *body, struct tg_form *f)
{
    return tg_form_parse(tg_slice(body, strlen(body)), f);
}

static void
test_parse(void)
{
    struct tg_form f;
    const char *v;

    CHECK_OK(parse("grant_type=client_credentials&scope=demo%3Aread+demo%3Awrite&x=&flag", &f));
    CHECK(f.n == 4);
    CHECK_OK(tg_form_get1(&f, "scope", &v));
    CHECK(v != NULL && strcmp(v, "demo:read demo:write") == 0);
    CHECK_OK(tg_form_get1(&f, "x", &v));
    CHECK(v != NULL && v[0] == '\0');
    CHECK_OK(tg_form_get1(&f, "flag", &v));
    CHECK(v != NULL && v[0] == '\0');
    CHECK_OK(tg_form_get1(&f, "absent", &v));
    CHECK(v == NULL);
    tg_form_reset(&f);
    /* RFC 6749 §3.2: no parameter twice (resource may, RFC 8707: counted). */
    CHECK_OK(parse("a=1&a=2&resource=x&resource=y", &f));
    CHECK_ERR(tg_form_get1(&f, "a", &v), TG_ERR_OAUTH_INVALID_REQUEST);
    CHECK(tg_form_count(&f, "resource") == 2);
    tg_form_reset(&f);
    CHECK_OK(parse("", &f));
    CHECK(f.n == 0);
    CHECK_OK(parse("&&a=1&", &f));
    CHECK(f.n == 1);
    tg_form_reset(&f);
}

static void
test_refusals(void)
{
    struct tg_form f;
    char big[64 * 8 + 16];
    int i, o = 0;

    CHECK_ERR(parse("=value", &f), TG_ERR_OAUTH_INVALID_REQUEST);
    CHECK_ERR(parse("a=%zz", &f), TG_ERR_OAUTH_INVALID_REQUEST);
    CHECK_ERR(parse("a=%4", &f), TG_ERR_OAUTH_INVALID_REQUEST);
    CHECK_ERR(parse("a=%00", &f), TG_ERR_OAUTH_INVALID_REQUEST);
    CHECK_ERR(tg_form_parse(tg_slice("a=b\0c", 5), &f), TG_ERR_OAUTH_INVALID_REQUEST);
    for (i = 0; i < TG_FORM_MAX_PARAMS + 1; i++)
        o += snprintf(big + o, sizeof(big) - (size_t)o, "p%d=1&", i % 10);
    CHECK_ERR(parse(big, &f), TG_ERR_OAUTH_INVALID_REQUEST);
}

static void
test_base64(void)
{
    struct tg_buf b;

    tg_buf_init(&b, 256);
    CHECK_OK(tg_base64_decode("Zm9vOmJhcg==", 12, &b));
    CHECK(b.len == 7 && memcmp(b.p, "foo:bar", 7) == 0);
    tg_buf_reset(&b);
    CHECK_ERR(tg_base64_decode("Zm9vOmJhcg", 10, &b), TG_ERR_OAUTH_INVALID_REQUEST);
    CHECK_ERR(tg_base64_decode("Zm=vOmJh", 8, &b), TG_ERR_OAUTH_INVALID_REQUEST);
    CHECK_ERR(tg_base64_decode("Zm9v-mJh", 8, &b), TG_ERR_OAUTH_INVALID_REQUEST);
    tg_buf_reset(&b);
}

int
main(void)
{
    RUN(test_parse);
    RUN(test_refusals);
    RUN(test_base64);
    return t_report("oauth/form");
}
