/* The DPoP claims parser (src/verify/dpop_claims.c): what it extracts, what
 * it refuses, and that it agrees with jansson (json_loadb with
 * JSON_REJECT_DUPLICATES, the reader it replaces) on a table of tricky
 * inputs, each on its own and inside a few documents. */
#include "test.h"

#include <math.h>

#include "claims_oracle.h"
#include "verify/dpop_claims.h"

/* A literal with its length, NUL bytes included. */
#define B(s) {s, sizeof(s) - 1}

struct bytes {
    const char *p;
    size_t len;
};

static struct tg_dpop_claims c;

static enum tg_err
parse_n(const char *p, size_t len)
{
    return tg_dpop_claims_parse(tg_slice(p, len), &c);
}

static enum tg_err
parse(const char *s)
{
    return parse_n(s, strlen(s));
}

static int
str_is(enum tg_dpop_claim which, const char *want, size_t len)
{
    return c.m[which].present && c.m[which].str != NULL && c.m[which].len == len &&
           memcmp(c.m[which].str, want, len + 1) == 0;
}

#define STR_IS(which, lit) str_is((which), (lit), sizeof(lit) - 1)

/* Agreement with jansson, with the input in the failure message. */
static int
agrees(const char *p, size_t len)
{
    char why[256];

    if (t_claims_disagree((const uint8_t *)p, len, why, sizeof(why)) == NULL)
        return 1;
    fprintf(stderr, "  disagree on %zu bytes '%.*s': %s\n", len, (int)(len > 80 ? 80 : len), p,
            why);
    return 0;
}

static void
test_realistic_proof(void)
{
    const char *p = "{\"jti\":\"4tCmzPG3cjVAzG2VUDgQ1A\",\"htm\":\"GET\","
                    "\"htu\":\"http://127.0.0.1:40143/tools/demo/items\",\"iat\":1764450000,"
                    "\"ath\":\"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo\"}";

    CHECK_OK(parse(p));
    CHECK(STR_IS(TG_DPOP_CLAIM_JTI, "4tCmzPG3cjVAzG2VUDgQ1A"));
    CHECK(STR_IS(TG_DPOP_CLAIM_HTM, "GET"));
    CHECK(STR_IS(TG_DPOP_CLAIM_HTU, "http://127.0.0.1:40143/tools/demo/items"));
    CHECK(STR_IS(TG_DPOP_CLAIM_ATH, "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"));
    CHECK(!c.m[TG_DPOP_CLAIM_NONCE].present && c.m[TG_DPOP_CLAIM_NONCE].str == NULL);
    CHECK(!c.m[TG_DPOP_CLAIM_CONTENT_DIGEST].present);
    CHECK_OK(c.iat_rv);
    CHECK(c.iat == 1764450000);
    CHECK(agrees(p, strlen(p)));
}

static void
test_escapes_in_values(void)
{
    CHECK_OK(parse("{\"htu\":\"https:\\/\\/a.example\\/p?q=\\\"x\\\"\",\"htm\":\"\\u0047ET\","
                   "\"jti\":\"\\b\\f\\n\\r\\t\\\\\",\"nonce\":\"\\u00e9\\u20AC\\ud83d\\ude00\","
                   "\"ath\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"}"));
    CHECK(STR_IS(TG_DPOP_CLAIM_HTU, "https://a.example/p?q=\"x\""));
    CHECK(STR_IS(TG_DPOP_CLAIM_HTM, "GET"));
    CHECK(STR_IS(TG_DPOP_CLAIM_JTI, "\b\f\n\r\t\\"));
    /* \u escapes become UTF-8, the same bytes as written raw */
    CHECK(STR_IS(TG_DPOP_CLAIM_NONCE, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    CHECK(STR_IS(TG_DPOP_CLAIM_ATH, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f"));
    /* empty strings are strings */
    CHECK_OK(parse("{\"jti\":\"\",\"content_digest\":\"\"}"));
    CHECK(STR_IS(TG_DPOP_CLAIM_JTI, ""));
    CHECK(STR_IS(TG_DPOP_CLAIM_CONTENT_DIGEST, ""));
}

static void
test_escaped_names(void)
{
    CHECK_OK(parse("{\"\\u006a\\u0074\\u0069\":\"a\",\"ht\\u006D\":\"b\",\"n\\u006fnce\":\"c\","
                   "\"content\\u005fdigest\":\"d\",\"\\u0069at\":5}"));
    CHECK(STR_IS(TG_DPOP_CLAIM_JTI, "a"));
    CHECK(STR_IS(TG_DPOP_CLAIM_HTM, "b"));
    CHECK(STR_IS(TG_DPOP_CLAIM_NONCE, "c"));
    CHECK(STR_IS(TG_DPOP_CLAIM_CONTENT_DIGEST, "d"));
    CHECK(c.iat_rv == TG_OK && c.iat == 5);
    /* near misses are other members */
    CHECK_ERR(parse("{\"jti\\u0000\":1}"), TG_ERR_JSON_MALFORMED);
    CHECK_OK(parse("{\"jt\":\"a\",\"jtii\":\"b\",\"JTI\":\"c\",\" jti\":\"d\"}"));
    CHECK(!c.m[TG_DPOP_CLAIM_JTI].present);
}

static void
test_unknown_members_skipped(void)
{
    const char *p = "{\"s\":\"x\\u00e9\",\"i\":-12,\"r\":1.5e-3,\"t\":true,\"f\":false,\"n\":null,"
                    "\"o\":{\"jti\":\"inner\",\"a\":[1,{\"b\":{}},[]],\"c\":{\"d\":[[[\"e\"]]]}},"
                    "\"a\":[\"jti\",{\"jti\":1},null,0,-0.0,[{}]],\"e\":{},\"ea\":[],"
                    "\"jti\":\"outer\",\"iat\":0}";

    CHECK_OK(parse(p));
    /* a jti inside a nested object is not the claim */
    CHECK(STR_IS(TG_DPOP_CLAIM_JTI, "outer"));
    CHECK(c.iat_rv == TG_OK && c.iat == 0);
    CHECK(!c.m[TG_DPOP_CLAIM_HTM].present && !c.m[TG_DPOP_CLAIM_HTU].present);
    CHECK(agrees(p, strlen(p)));
    /* nested only: absent at the top */
    CHECK_OK(parse("{\"x\":{\"jti\":\"a\",\"iat\":1,\"htm\":\"GET\"}}"));
    CHECK(!c.m[TG_DPOP_CLAIM_JTI].present && !c.m[TG_DPOP_CLAIM_HTM].present);
    CHECK(c.iat_rv == TG_ERR_JWT_CLAIM_MISSING);
    /* the same names in sibling objects are not duplicates */
    CHECK_OK(parse("{\"a\":{\"k\":1},\"b\":{\"k\":1},\"c\":[{\"k\":1},{\"k\":2}],\"k\":3}"));
    CHECK_OK(parse("{\"a\":{\"b\":1},\"b\":2}"));
}

static void
test_member_types(void)
{
    /* present whatever the type, a string only when it is one */
    CHECK_OK(parse("{\"jti\":1,\"htm\":null,\"htu\":[\"x\"],\"ath\":{\"a\":\"b\"},\"nonce\":true,"
                   "\"content_digest\":{}}"));
    for (int i = 0; i < TG_DPOP_CLAIM__COUNT; i++)
        CHECK(c.m[i].present && c.m[i].str == NULL);
    CHECK(c.iat_rv == TG_ERR_JWT_CLAIM_MISSING && c.iat == 0);
    CHECK_OK(parse("{\"content_digest\":7}"));
    CHECK(c.m[TG_DPOP_CLAIM_CONTENT_DIGEST].present &&
          c.m[TG_DPOP_CLAIM_CONTENT_DIGEST].str == NULL);
}

static void
test_iat(void)
{
    static const struct {
        const char *v;
        enum tg_err rv;
        int64_t iat;
    } cases[] = {
        {"1764450000", TG_OK, 1764450000},
        {"0", TG_OK, 0},
        {"-0", TG_OK, 0},
        {"-1", TG_OK, -1},
        {"999999999999", TG_OK, 999999999999},
        {"1000000000000", TG_ERR_JWT_CLAIM_INVALID, 1000000000000},
        {"-999999999999", TG_OK, -999999999999},
        {"-1000000000000", TG_ERR_JWT_CLAIM_INVALID, -1000000000000},
        {"9223372036854775807", TG_ERR_JWT_CLAIM_INVALID, INT64_MAX},
        {"-9223372036854775808", TG_ERR_JWT_CLAIM_INVALID, INT64_MIN},
        {"1.5", TG_OK, 1},
        {"-1.5", TG_OK, -2},
        {"1764450000.999", TG_OK, 1764450000},
        {"1.76445e9", TG_OK, 1764450000},
        {"1E3", TG_OK, 1000},
        {"0.0", TG_OK, 0},
        {"-0.0", TG_OK, 0},
        {"1e-400", TG_OK, 0}, /* underflow is zero, not an error */
        {"-1e-400", TG_OK, 0},
        {"999999999999.9", TG_OK, 999999999999},
        {"1e12", TG_ERR_JWT_CLAIM_INVALID, 0},
        {"-999999999999.5", TG_ERR_JWT_CLAIM_INVALID, -1000000000000}, /* floor is out */
        {"1e300", TG_ERR_JWT_CLAIM_INVALID, 0},
        {"\"1764450000\"", TG_ERR_JWT_CLAIM_INVALID, 0},
        {"true", TG_ERR_JWT_CLAIM_INVALID, 0},
        {"null", TG_ERR_JWT_CLAIM_INVALID, 0},
        {"[1]", TG_ERR_JWT_CLAIM_INVALID, 0},
        {"{\"iat\":1}", TG_ERR_JWT_CLAIM_INVALID, 0},
    };
    char doc[128];
    size_t i;
    int n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = snprintf(doc, sizeof(doc), "{\"iat\":%s}", cases[i].v);
        CHECK_OK(parse(doc));
        CHECK_ERR(c.iat_rv, cases[i].rv);
        CHECK(c.iat == cases[i].iat);
        CHECK(agrees(doc, (size_t)n));
    }
    CHECK_OK(parse("{}"));
    CHECK(c.iat_rv == TG_ERR_JWT_CLAIM_MISSING && c.iat == 0);
    /* too big for json_int_t: the whole document is malformed */
    CHECK_ERR(parse("{\"iat\":9223372036854775808}"), TG_ERR_JSON_MALFORMED);
}

/* Each is refused as malformed JSON, and so is it by jansson. */
static const struct bytes rejected[] = {
    /* not an object or an array at the top, or nothing */
    B(""), B(" "), B("\"jti\""), B("1"), B("true"), B("null"), B("\xef\xbb\xbf{}"),
    /* whitespace outside RFC 8259 §2's four, garbage after the value */
    B("{}\f"), B("{}\v"), B("\f{}"), B("{\xc2\xa0}"), B("{} x"), B("{}{}"), B("{}]"), B("{}\0"),
    B("\0{}"), B("{}\n\0"),
    /* structure */
    B("{"), B("}"), B("{,}"), B("{\"a\"}"), B("{\"a\":}"), B("{\"a\" 1}"), B("{\"a\":1,}"),
    B("{\"a\":1 \"b\":2}"), B("{1:2}"), B("{a:1}"), B("{'a':1}"), B("{\"a\":1]"), B("[1}"),
    B("[,]"), B("[1,]"), B("[1,,2]"), B("{\"a\":[}"), B("{\"a\":1"), B("{\"a\":{}"),
    B("{\"a\"::1}"), B("{\"a\":1,,\"b\":2}"), B("{\"a\":1}}"),
    /* strings */
    B("{\"a\":\"x}"), B("{\"a\":\"\\\"}"), B("{\"a\":\"\\a\"}"), B("{\"a\":\"\\x41\"}"),
    B("{\"a\":\"\\U0041\"}"), B("{\"a\":\"\\'\"}"), B("{\"a\":\"\\0\"}"), B("{\"a\":\"\\u041\"}"),
    B("{\"a\":\"\\u00g1\"}"), B("{\"a\":\"\\u\"}"), B("{\"a\":\"\\u0000\"}"),
    B("{\"\\u0000\":1}"), B("{\"a\\u0000b\":1}"), B("{\"a\":\"x\\u0000\"}"),
    B("{\"a\":\"\t\"}"), B("{\"a\":\"\n\"}"), B("{\"a\":\"\x01\"}"), B("{\"a\":\"\x1f\"}"),
    B("{\"a\":\"\0\"}"), B("{\"\x1f\":1}"),
    /* surrogates */
    B("{\"a\":\"\\ud800\"}"), B("{\"a\":\"\\udbff\"}"), B("{\"a\":\"\\udc00\"}"),
    B("{\"a\":\"\\udfff\\ud800\"}"), B("{\"a\":\"\\ud800\\ud800\"}"),
    B("{\"a\":\"\\ud800\\u0041\"}"), B("{\"a\":\"\\ud800x\"}"), B("{\"a\":\"\\ud800\\n\"}"),
    B("{\"a\":\"\\ud800\\\\udc00\"}"), B("{\"a\":\"\\ud800\\udc0\"}"),
    B("{\"a\":\"\\ud800\\u\"}"), B("{\"a\":\"\\ud800"),
    /* UTF-8 (RFC 3629): overlong, surrogates, past U+10FFFF, stray and cut */
    B("{\"a\":\"\xc0\x80\"}"), B("{\"a\":\"\xc1\xbf\"}"), B("{\"a\":\"\xe0\x80\x80\"}"),
    B("{\"a\":\"\xe0\x9f\xbf\"}"), B("{\"a\":\"\xed\xa0\x80\"}"), B("{\"a\":\"\xed\xbf\xbf\"}"),
    B("{\"a\":\"\xf0\x8f\xbf\xbf\"}"), B("{\"a\":\"\xf4\x90\x80\x80\"}"),
    B("{\"a\":\"\xf5\x80\x80\x80\"}"), B("{\"a\":\"\xff\"}"), B("{\"a\":\"\xfe\"}"),
    B("{\"a\":\"\x80\"}"), B("{\"a\":\"\xbf\"}"), B("{\"a\":\"\xc3\"}"), B("{\"a\":\"\xe2\x82\"}"),
    B("{\"a\":\"\xf0\x9f\x98\"}"), B("{\"a\":\"\xc3\x28\"}"), B("{\"a\":\"\xe2\x28\xa1\"}"),
    B("{\"a\":\"\xc3"), B("{\"\xc3\xa9\xff\":1}"), B("{\"a\":1}\xc3\xa9"), B("{\"a\":\xc3\xa9}"),
    /* duplicates, at any depth, after unescaping */
    B("{\"a\":1,\"a\":2}"), B("{\"a\":1,\"\\u0061\":2}"), B("{\"\\/\":1,\"/\":2}"),
    B("{\"\xc3\xa9\":1,\"\\u00e9\":2}"), B("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}"),
    B("{\"\":1,\"\":2}"), B("{\"jti\":\"a\",\"jti\":\"a\"}"), B("{\"o\":{\"b\":1,\"b\":2}}"),
    B("{\"a\":[{\"b\":1,\"b\":2}]}"), B("[{\"b\":1,\"b\":2}]"),
    B("{\"a\":{\"a\":1},\"a\":2}"), B("{\"a\":1,\"b\":{\"c\":{}},\"a\":3}"),
    B("{\"iat\":1,\"iat\":1}"),
    /* numbers (RFC 8259 §6) */
    B("{\"a\":01}"), B("{\"a\":-01}"), B("{\"a\":00}"), B("{\"a\":1.}"), B("{\"a\":.5}"),
    B("{\"a\":-.5}"), B("{\"a\":+1}"), B("{\"a\":-}"), B("{\"a\":1e}"), B("{\"a\":1e+}"),
    B("{\"a\":1e-}"), B("{\"a\":1.e5}"), B("{\"a\":1.5.5}"), B("{\"a\":1e5e5}"),
    B("{\"a\":0x10}"), B("{\"a\":1_000}"), B("{\"a\":- 1}"), B("{\"a\":--1}"),
    B("{\"a\":Infinity}"), B("{\"a\":-Infinity}"), B("{\"a\":NaN}"), B("{\"a\":inf}"),
    B("{\"a\":9223372036854775808}"), B("{\"a\":-9223372036854775809}"),
    B("{\"a\":18446744073709551616}"), B("{\"a\":99999999999999999999999}"),
    B("{\"a\":1e309}"), B("{\"a\":-1e309}"), B("{\"a\":1e400}"), B("{\"a\":1.7976931348623159e308}"),
    B("{\"a\":1e99999999999999999999}"), B("{\"a\":123456789e305}"),
    /* literals */
    B("{\"a\":tru}"), B("{\"a\":truex}"), B("{\"a\":True}"), B("{\"a\":NULL}"), B("{\"a\":nul}"),
    B("{\"a\":nulll}"), B("{\"a\":truefalse}"), B("{\"a\":true1}"), B("{\"a\":t}"),
    B("{\"a\":undefined}"),
    /* NUL bytes where jansson does not lose them */
    B("{\"a\":\"x\"\0}"), B("{\"a\":1\0\0}"), B("{\"a\":1 \0}"), B("{\"a\":\0 1}"),
    B("{\0\"a\":1}"), B("{\"a\"\0:1}"), B("[\0]"), B("[[]\0]"), B("{\"a\":{}\0}"),
    B("{\"a\":-\0}"), B("{\"a\":1.\0}"), B("{\"a\":1e\0}"), B("{\"a\":tru\0e}"),
};

static void
test_rejections(void)
{
    size_t i;

    for (i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        CHECK_ERR(parse_n(rejected[i].p, rejected[i].len), TG_ERR_JSON_MALFORMED);
        CHECK(agrees(rejected[i].p, rejected[i].len));
        /* a failed parse leaves nothing behind */
        CHECK(!c.m[TG_DPOP_CLAIM_JTI].present && c.iat_rv == TG_ERR_JWT_CLAIM_MISSING);
    }
}

static void
test_top_level_array(void)
{
    CHECK_ERR(parse("[]"), TG_ERR_JWT_CLAIMS);
    CHECK_ERR(parse(" [ {\"jti\":\"a\"} , 1 ] "), TG_ERR_JWT_CLAIMS);
    CHECK(!c.m[TG_DPOP_CLAIM_JTI].present);
    /* an array is checked whole: malformed inside is malformed */
    CHECK_ERR(parse("[{\"a\":1,\"a\":1}]"), TG_ERR_JSON_MALFORMED);
}

/* jansson loses a NUL byte read as the lookahead after a number or a
 * literal; the parser does the same (see dpop_claims.c). */
static void
test_nul_after_scalar(void)
{
    static const struct bytes ok[] = {
        B("{\"a\":1\0}"), B("{\"a\":true\0}"), B("{\"a\":false\0 }"), B("{\"a\":null\0,\"b\":2}"),
        B("{\"a\":[1\0]}"), B("{\"a\":1.5\0}"), B("{\"a\":1e5\0}"), B("{\"a\":0\0}"),
        B("{\"a\":-0\0\n}"), B("{\"a\":[1\0,2\0]}"),
    };
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        CHECK_OK(parse_n(ok[i].p, ok[i].len));
        CHECK(agrees(ok[i].p, ok[i].len));
    }
    CHECK_OK(parse_n("{\"iat\":7\0,\"jti\":\"x\"}", 20));
    CHECK(c.iat_rv == TG_OK && c.iat == 7 && STR_IS(TG_DPOP_CLAIM_JTI, "x"));
}

/* A document of `n` containers (`open` / `close`) around `inner`. */
static size_t
nest(char *buf, size_t n, const char *open, const char *inner, const char *close)
{
    size_t i, len = 0, lo = strlen(open), li = strlen(inner), lc = strlen(close);

    for (i = 0; i < n; i++, len += lo)
        memcpy(buf + len, open, lo);
    memcpy(buf + len, inner, li);
    len += li;
    for (i = 0; i < n; i++, len += lc)
        memcpy(buf + len, close, lc);
    return len;
}

static void
test_depth(void)
{
    static char buf[TG_DPOP_CLAIMS_MAX + 1];
    size_t len;

    /* JSON_PARSER_MAX_DEPTH counts every value, scalars too */
    len = nest(buf, 2048, "[", "", "]");
    CHECK_ERR(parse_n(buf, len), TG_ERR_JWT_CLAIMS);
    CHECK(agrees(buf, len));
    len = nest(buf, 2049, "[", "", "]");
    CHECK_ERR(parse_n(buf, len), TG_ERR_JSON_MALFORMED);
    CHECK(agrees(buf, len));
    len = nest(buf, 2047, "[", "1", "]");
    CHECK_ERR(parse_n(buf, len), TG_ERR_JWT_CLAIMS);
    CHECK(agrees(buf, len));
    len = nest(buf, 2048, "[", "1", "]");
    CHECK_ERR(parse_n(buf, len), TG_ERR_JSON_MALFORMED);
    CHECK(agrees(buf, len));
    /* objects {"":{"":...{}}} (2048 of them would not fit the cap) */
    len = nest(buf, 1000, "{\"\":", "{\"\":[]}", "}");
    CHECK_OK(parse_n(buf, len));
    CHECK(agrees(buf, len));
    /* mixed: an object around 2046 arrays around an empty one is 2048 */
    len = (size_t)snprintf(buf, sizeof(buf), "{\"jti\":");
    len += nest(buf + len, 2046, "[", "[]", "]");
    buf[len++] = '}';
    CHECK_OK(parse_n(buf, len));
    CHECK(c.m[TG_DPOP_CLAIM_JTI].present && c.m[TG_DPOP_CLAIM_JTI].str == NULL);
    CHECK(agrees(buf, len));
    len = (size_t)snprintf(buf, sizeof(buf), "{\"jti\":");
    len += nest(buf + len, 2046, "[", "[0]", "]");
    buf[len++] = '}';
    CHECK_ERR(parse_n(buf, len), TG_ERR_JSON_MALFORMED);
    CHECK(agrees(buf, len));
}

static void
test_size_cap(void)
{
    static char buf[TG_DPOP_CLAIMS_MAX + 2];
    size_t len;

    /* exactly the cap, all of it one string: the store holds it */
    len = (size_t)snprintf(buf, sizeof(buf), "{\"htu\":\"");
    memset(buf + len, 'a', TG_DPOP_CLAIMS_MAX - len - 2);
    memcpy(buf + TG_DPOP_CLAIMS_MAX - 2, "\"}", 2);
    CHECK_OK(parse_n(buf, TG_DPOP_CLAIMS_MAX));
    CHECK(c.m[TG_DPOP_CLAIM_HTU].len == TG_DPOP_CLAIMS_MAX - 10);
    CHECK(agrees(buf, TG_DPOP_CLAIMS_MAX));
    /* one number as long as the cap allows (strtod sees a copy): 1.999...
     * rounds to 2.0 */
    len = (size_t)snprintf(buf, sizeof(buf), "{\"iat\":1.");
    memset(buf + len, '9', TG_DPOP_CLAIMS_MAX - len - 1);
    buf[TG_DPOP_CLAIMS_MAX - 1] = '}';
    CHECK_OK(parse_n(buf, TG_DPOP_CLAIMS_MAX));
    CHECK(c.iat_rv == TG_OK && c.iat == 2);
    CHECK(agrees(buf, TG_DPOP_CLAIMS_MAX));
    /* names up to the cap: "a0":0,"a1":0,... */
    len = 1;
    buf[0] = '{';
    for (int i = 0; len + 16 < TG_DPOP_CLAIMS_MAX; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s\"%x\":0", i ? "," : "", i);
    buf[len++] = '}';
    CHECK_OK(parse_n(buf, len));
    CHECK(agrees(buf, len));
    /* refused, not truncated, past the cap */
    len = (size_t)snprintf(buf, sizeof(buf), "{\"htu\":\"");
    memset(buf + len, 'a', TG_DPOP_CLAIMS_MAX + 1 - len - 2);
    memcpy(buf + TG_DPOP_CLAIMS_MAX - 1, "\"}", 2);
    CHECK_ERR(parse_n(buf, TG_DPOP_CLAIMS_MAX + 1), TG_ERR_TOO_LARGE);
    CHECK(!c.m[TG_DPOP_CLAIM_HTU].present);
    CHECK(agrees(buf, TG_DPOP_CLAIMS_MAX + 1));
}

/* Values (the text of one JSON value, or something that is not one), each
 * put in several places of a document below; NUL bytes are part of them. */
static const struct bytes fragments[] = {
    B("\"\""), B("\"x\""), B("\"GET\""), B("\"https://a.example/x?y#z\""), B("\"\\\"\""),
    B("\"\\\\\""), B("\"\\/\""), B("\"\\b\\f\\n\\r\\t\""), B("\"\\u0001\""), B("\"\\u001F\""),
    B("\"\\u007f\""), B("\"\\u0080\""), B("\"\\u07FF\""), B("\"\\u0800\""), B("\"\\uFFFF\""),
    B("\"\\uFFFE\""), B("\"\\uD7FF\""), B("\"\\uE000\""), B("\"\\uD800\\uDC00\""),
    B("\"\\uDBFF\\uDFFF\""), B("\"\\ud83d\\ude00 \\u00E9\""), B("\"\\u00e9\xc3\xa9\""),
    B("\"\xc2\x80\""), B("\"\xdf\xbf\""), B("\"\xe0\xa0\x80\""), B("\"\xed\x9f\xbf\""),
    B("\"\xee\x80\x80\""), B("\"\xef\xbf\xbf\""), B("\"\xf0\x90\x80\x80\""),
    B("\"\xf4\x8f\xbf\xbf\""), B("\"\x7f\""), B("\" \""), B("\"\\u0000\""), B("\"\\uDC00\""),
    B("\"\\uD800\""), B("\"\\uD800\\uD800\""), B("\"\\uD800\\\""), B("\"\xc0\xaf\""),
    B("\"\xed\xa0\x80\""), B("\"\xf4\x90\x80\x80\""), B("\"\x80\""), B("\"\t\""), B("\"\x1b\""),
    B("\"\\z\""), B("\"\\u12\""), B("\"abc"), B("\"\0\""), B("\"\\"), B("\"\\u"),
    B("0"), B("-0"), B("1"), B("-1"), B("7"), B("10"), B("1764450000"), B("-1764450000"),
    B("999999999999"), B("1000000000000"), B("-999999999999"), B("-1000000000000"),
    B("9223372036854775807"), B("-9223372036854775808"), B("9223372036854775808"),
    B("-9223372036854775809"), B("18446744073709551615"), B("00"), B("01"), B("-00"),
    B("0.5"), B("-0.5"), B("1.0"), B("1.5"), B("-1.5"), B("0e0"), B("0E+0"), B("0e-0"),
    B("-0e0"), B("1e0"), B("1E1"), B("1e+1"), B("1e-1"), B("1.25e2"), B("17644500e2"),
    B("1764450000.5"), B("-1764450000.5"), B("999999999999.99"), B("-999999999999.01"),
    B("1e12"), B("-1e12"), B("1e300"), B("1e308"), B("1.7976931348623157e308"),
    B("1.7976931348623158e308"), B("1.7976931348623159e308"), B("-1.7976931348623159e308"),
    B("2e308"), B("1e309"), B("4.9e-324"), B("2.4e-324"), B("2.5e-324"), B("1e-400"),
    B("-1e-400"), B("0e99999999999999999999"), B("1e-99999999999999999999"),
    B("0.0000000000000000000000000000000000000001e40"), B("100000000000000000000000e-24"),
    B("1."), B(".1"), B("+1"), B("-"), B("1e"), B("1e+"), B("1E-"), B("--1"), B("0x1"),
    B("1.0.0"), B("0.e1"), B("1e1.5"), B("NaN"), B("Infinity"),
    B("true"), B("false"), B("null"), B("True"), B("nul"), B("nulls"), B("t"), B("fals"),
    B("{}"), B("[]"), B("{\"a\":1}"), B("[1,2]"), B("[\"x\",{\"y\":[null]}]"), B("{\"jti\":\"z\"}"),
    B("{\"a\":1,\"a\":2}"), B("{\"a\":{\"a\":{}}}"), B("[[[[[[[[[[]]]]]]]]]]"), B("{"), B("["),
    B("]"), B("}"), B("{,}"), B("[,]"), B("[1,]"), B("{\"a\"}"), B(""), B(" "), B(","), B(":"),
    B("1\0"), B("true\0"), B("null\0"), B("\"x\"\0"), B("[]\0"), B("1 \0"), B("\0"), B("-\0"),
    B("1.5\0"), B("1e5\0"), B("\xc3\xa9"), B("\xff"), B("'x'"),
};

static void
test_differential_table(void)
{
    /* Where each fragment goes: before it, after it. */
    static const struct bytes ctx[][2] = {
        {B("{\"a\":"), B("}")},
        {B("{\"jti\":"), B(",\"htm\":\"GET\"}")},
        {B("{\"iat\":"), B("}")},
        {B("{\"content_digest\":"), B(",\"nonce\":\"n\"}")},
        {B("["), B("]")},
        {B("{\"x\":["), B(",0]}")},
        {B("{\"o\":{\"htu\":"), B("},\"htu\":\"u\"}")},
        {B(" {\r\n\t\"ath\" :\t"), B(" \n} \r\n")},
        {B("{\"a\":"), B("\0}")},
    };
    char doc[512];
    size_t i, j, len;
    int bad = 0;

    for (i = 0; i < sizeof(fragments) / sizeof(fragments[0]); i++) {
        for (j = 0; j < sizeof(ctx) / sizeof(ctx[0]); j++) {
            len = 0;
            memcpy(doc, ctx[j][0].p, ctx[j][0].len);
            len += ctx[j][0].len;
            memcpy(doc + len, fragments[i].p, fragments[i].len);
            len += fragments[i].len;
            memcpy(doc + len, ctx[j][1].p, ctx[j][1].len);
            len += ctx[j][1].len;
            bad += !agrees(doc, len);
        }
        /* and alone, as a whole document */
        bad += !agrees(fragments[i].p, fragments[i].len);
    }
    CHECK(bad == 0);
}

int
main(void)
{
    RUN(test_realistic_proof);
    RUN(test_escapes_in_values);
    RUN(test_escaped_names);
    RUN(test_unknown_members_skipped);
    RUN(test_member_types);
    RUN(test_iat);
    RUN(test_rejections);
    RUN(test_top_level_array);
    RUN(test_nul_after_scalar);
    RUN(test_depth);
    RUN(test_size_cap);
    RUN(test_differential_table);
    return t_report("verify/dpop_claims");
}
