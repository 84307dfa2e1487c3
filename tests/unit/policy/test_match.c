#include "test.h"

#include "policy/match.h"

static struct tg_endpoint table[] = {
    {"GET", "/items", TG_ACTION_READ, TG_RISK_NORMAL},                 /* 0 */
    {"POST", "/items", TG_ACTION_WRITE, TG_RISK_NORMAL},               /* 1 */
    {"GET", "/items/{id}", TG_ACTION_READ, TG_RISK_NORMAL},            /* 2 */
    {"DELETE", "/items/{id}", TG_ACTION_ADMIN, TG_RISK_HIGH},          /* 3 */
    {"GET", "/items/special", TG_ACTION_ADMIN, TG_RISK_NORMAL},        /* 4 */
    {"GET", "/items/{id}/parts/*", TG_ACTION_READ, TG_RISK_NORMAL},    /* 5 */
    {"*", "/health", TG_ACTION_READ, TG_RISK_NORMAL},                  /* 6 */
    {"POST", "/health", TG_ACTION_WRITE, TG_RISK_NORMAL},              /* 7 */
    {"GET", "/", TG_ACTION_READ, TG_RISK_NORMAL},                      /* 8 */
    {"GET", "/a:b/~x", TG_ACTION_READ, TG_RISK_NORMAL},                /* 9 */
    {"GET", "/*/{b}/c", TG_ACTION_READ, TG_RISK_NORMAL},               /* 10 */
    {"GET", "/x/{b}/*", TG_ACTION_WRITE, TG_RISK_NORMAL},              /* 11 */
};
#define N (sizeof(table) / sizeof(table[0]))

/* Index of the matched entry, -1 for NOT_FOUND, -2 for INVALID_ARG, -3 else. */
static int
m(const char *method, const char *path)
{
    const struct tg_endpoint *e = NULL;
    enum tg_err rv = tg_endpoint_match(table, N, tg_slice(method, strlen(method)),
                                       tg_slice(path, strlen(path)), &e);

    if (rv == TG_ERR_NOT_FOUND)
        return e == NULL ? -1 : -3;
    if (rv == TG_ERR_INVALID_ARG)
        return e == NULL ? -2 : -3;
    if (rv != TG_OK || e == NULL)
        return -3;
    return (int)(e - table);
}

static void
test_literals_and_params(void)
{
    CHECK(m("GET", "/items") == 0);
    CHECK(m("POST", "/items") == 1);
    CHECK(m("GET", "/items/42") == 2);
    CHECK(m("DELETE", "/items/42") == 3);
    CHECK(m("GET", "/items/42/parts/7") == 5);
    CHECK(m("GET", "/") == 8);
    CHECK(m("GET", "/a:b/~x") == 9);
    /* Exact segment count: no prefix or suffix matching. */
    CHECK(m("GET", "/items/42/parts") == -1);
    CHECK(m("GET", "/items/42/parts/7/8") == -1);
    CHECK(m("GET", "/item") == -1);
    CHECK(m("GET", "/itemsx") == -1);
    CHECK(m("DELETE", "/items") == -1);
    CHECK(m("PUT", "/items/42") == -1);
    /* Literal segments are case-sensitive. */
    CHECK(m("GET", "/Items") == -1);
}

static void
test_empty_segments(void)
{
    /* {name} and * need a non-empty segment; a trailing slash is a segment. */
    CHECK(m("GET", "/items/") == -1);
    CHECK(m("DELETE", "/items/") == -1);
    CHECK(m("GET", "//items") == -1);
    CHECK(m("GET", "/items//parts/7") == -1);
    CHECK(m("GET", "/items/42/parts/") == -1);
    CHECK(m("GET", "/items/42/parts//") == -1);
}

static void
test_methods(void)
{
    /* Case-sensitive (RFC 9110 §9.1); "*" matches any, an exact one wins. */
    CHECK(m("get", "/items") == -1);
    CHECK(m("HEAD", "/items") == -1);
    CHECK(m("GET", "/health") == 6);
    CHECK(m("PATCH", "/health") == 6);
    CHECK(m("POST", "/health") == 7);
    CHECK(m("", "/items") == -2);
}

static void
test_specificity(void)
{
    /* A literal beats a variable at the first place they differ. */
    CHECK(m("GET", "/items/special") == 4);
    CHECK(m("GET", "/items/specia") == 2);
    CHECK(m("GET", "/x/y/c") == 11); /* "/x/..." is literal first */
    CHECK(m("GET", "/z/y/c") == 10);
    CHECK(m("GET", "/z/y/d") == -1);
}

static void
test_percent_encoding(void)
{
    /* Encoded unreserved characters equal their plain form. */
    CHECK(m("GET", "/%69tems") == 0);
    CHECK(m("GET", "/item%73") == 0);
    CHECK(m("GET", "/%61%3Ab/%7Ex") == -1); /* %3A is ':' — reserved, stays encoded */
    CHECK(m("GET", "/a:b/%7ex") == 9);
    /* An encoded slash is not a separator: one segment for {id}. */
    CHECK(m("GET", "/items/a%2Fb") == 2);
    CHECK(m("DELETE", "/items/a%2fb") == 3);
    CHECK(m("GET", "/items%2F42") == -1);
    /* Bad encodings are not paths. */
    CHECK(m("GET", "/items/%") == -2);
    CHECK(m("GET", "/items/%4") == -2);
    CHECK(m("GET", "/items/%zz") == -2);
}

static void
test_not_paths(void)
{
    CHECK(m("GET", "") == -2);
    CHECK(m("GET", "items") == -2);
    CHECK(m("GET", "/items?x=1") == -2);
    CHECK(m("GET", "/items#x") == -2);
    CHECK(m("GET", "/items/4 2") == -2);
    CHECK(m("GET", "/items/\xc3\xa9") == -2);
    CHECK(m("GET", "/items/\t") == -2);
    /* Dot segments, plain or encoded: an upstream resolves them elsewhere. */
    CHECK(m("DELETE", "/items/..") == -2);
    CHECK(m("DELETE", "/items/.") == -2);
    CHECK(m("GET", "/items/%2e%2E") == -2);
    CHECK(m("GET", "/items/.%2e/x") == -2);
    CHECK(m("GET", "/items/%2e") == -2);
    /* Three dots are a name. */
    CHECK(m("GET", "/items/...") == 2);
    CHECK(m("GET", "/items/.a") == 2);
}

static void
test_no_match_and_empty_table(void)
{
    const struct tg_endpoint *e = table;

    CHECK_ERR(tg_endpoint_match(table, 0, TG_SLICE_STR("GET"), TG_SLICE_STR("/items"), &e),
              TG_ERR_NOT_FOUND);
    CHECK(e == NULL);
    CHECK_ERR(tg_endpoint_match(NULL, 0, TG_SLICE_STR("GET"), TG_SLICE_STR("/"), &e),
              TG_ERR_NOT_FOUND);
    CHECK(m("GET", "/nothing/here") == -1);
}

int
main(void)
{
    RUN(test_literals_and_params);
    RUN(test_empty_segments);
    RUN(test_methods);
    RUN(test_specificity);
    RUN(test_percent_encoding);
    RUN(test_not_paths);
    RUN(test_no_match_and_empty_table);
    return t_report("policy/match");
}
