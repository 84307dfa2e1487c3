/* The HTTP/1.1 request parser (src/http/parse.c): where a head ends, the
 * head itself, and the chunked transfer coding, against RFC 9112 and
 * RFC 9110, with the request smuggling shapes. */
#include <stdint.h>
#include <string.h>

#include "http/parse.h"
#include "test.h"

#define MAX_HEAD 8192
#define N_FIELDS 16

static char hbuf[MAX_HEAD + 64];
static struct tg_http_field hfields[N_FIELDS];
static struct tg_http_head h;

/* The head end and the head of s[0..n), with room for max_fields fields. */
static int
parse_nf(const char *s, size_t n, size_t max_fields)
{
    size_t scan = 0, head_len = 0;
    enum tg_http_parse_rc rc;

    if (n > sizeof(hbuf))
        return -1;
    memcpy(hbuf, s, n);
    rc = tg_http_head_end(hbuf, n, MAX_HEAD, &scan, &head_len);
    if (rc != TG_HTTP_PARSE_OK)
        return 100 + (int)rc;
    if (head_len != n)
        return -2;
    return (int)tg_http_head_parse(hbuf, head_len, hfields, max_fields, &h);
}

static int
parse_n(const char *s, size_t n)
{
    return parse_nf(s, n, N_FIELDS);
}

static int
parse(const char *s)
{
    return parse_n(s, strlen(s));
}

/* For literals holding a NUL. */
#define PARSE_LIT(s) parse_n((s), sizeof(s) - 1)

/* A 1.1 request with one extra field line (no CRLF given). */
static int
parse_field(const char *line)
{
    char req[1024];

    snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: a\r\n%s\r\n\r\n", line);
    return parse(req);
}

static int
field_is(const char *name, const char *want)
{
    const char *v = tg_http_head_field(&h, name);

    return v != NULL && strcmp(v, want) == 0;
}

/* ---------------------------------------------------------------------- */
/* tg_http_head_end                                                        */

static int
end_of(const char *s, size_t max, size_t *head_len)
{
    size_t scan = 0;

    return (int)tg_http_head_end(s, strlen(s), max, &scan, head_len);
}

static void
test_head_end_basic(void)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t n = 0;

    CHECK(end_of(req, 100, &n) == TG_HTTP_PARSE_OK && n == strlen(req));
    /* The body after the head is not part of it. */
    CHECK(end_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 100, &n) ==
              TG_HTTP_PARSE_OK &&
          n == 47);
    /* RFC 9112 §2.2: a bare LF ends a line too; mixed is fine. */
    CHECK(end_of("GET / HTTP/1.1\nHost: a\n\nxyz", 100, &n) == TG_HTTP_PARSE_OK && n == 24);
    CHECK(end_of("GET / HTTP/1.1\r\nHost: a\n\r\n", 100, &n) == TG_HTTP_PARSE_OK && n == 26);
    CHECK(end_of("GET / HTTP/1.1\r\nHost: a\r\n\n", 100, &n) == TG_HTTP_PARSE_OK && n == 26);
    /* A request line alone ends at its empty line (1.0 needs no Host). */
    CHECK(end_of("GET / HTTP/1.0\r\n\r\n", 100, &n) == TG_HTTP_PARSE_OK && n == 18);
    /* Not there yet. */
    CHECK(end_of("", 100, &n) == TG_HTTP_PARSE_MORE);
    CHECK(end_of("GET / HTTP/1.1\r\nHost: a\r\n", 100, &n) == TG_HTTP_PARSE_MORE);
    CHECK(end_of("GET / HTTP/1.1\r\nHost: a\r\n\r", 100, &n) == TG_HTTP_PARSE_MORE);
    /* "\r\r\n" is a line holding a bare CR, not an empty line. */
    CHECK(end_of("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 100, &n) == TG_HTTP_PARSE_MORE);
    CHECK(end_of("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n", 100, &n) == TG_HTTP_PARSE_OK &&
          n == 30);
}

static void
test_head_end_leading_empty_lines(void)
{
    const char *req = "\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t n = 0;

    /* RFC 9112 §2.2: ignored before the request line, but part of head_len. */
    CHECK(end_of(req, 100, &n) == TG_HTTP_PARSE_OK && n == strlen(req));
    CHECK(end_of("\r\n", 100, &n) == TG_HTTP_PARSE_MORE);
    CHECK(end_of("\n\n\n\n", 100, &n) == TG_HTTP_PARSE_MORE);
    CHECK(end_of("\r\n\r\n\r\n", 100, &n) == TG_HTTP_PARSE_MORE);
    /* They do not count against max: the head proper is 27 bytes. */
    CHECK(end_of(req, 27, &n) == TG_HTTP_PARSE_OK && n == strlen(req));
    CHECK(end_of(req, 26, &n) == TG_HTTP_PARSE_TOO_LARGE);
    /* But a stream of nothing but empty lines is not read for ever. */
    CHECK(end_of("\r\n\r\n\r\n\r\n\r\n\r\n", 10, &n) == TG_HTTP_PARSE_TOO_LARGE);
    CHECK(end_of("\r\n\r\n\r\n\r\n\r\n", 10, &n) == TG_HTTP_PARSE_MORE);
    CHECK(end_of("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n", 18, &n) == TG_HTTP_PARSE_OK &&
          n == 28);
}

static void
test_head_end_max(void)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"; /* 27 bytes */
    size_t n = 0;

    CHECK(end_of(req, 27, &n) == TG_HTTP_PARSE_OK && n == 27);
    CHECK(end_of(req, 26, &n) == TG_HTTP_PARSE_TOO_LARGE);
    CHECK(end_of(req, 0, &n) == TG_HTTP_PARSE_TOO_LARGE);
    /* No end yet: MORE up to max bytes, TOO_LARGE past it. */
    CHECK(end_of("GET / HTTP/1.1\r\nHost: a\r\n", 25, &n) == TG_HTTP_PARSE_MORE);
    CHECK(end_of("GET / HTTP/1.1\r\nHost: a\r\n", 24, &n) == TG_HTTP_PARSE_TOO_LARGE);
    /* A head within max followed by a long body is fine. */
    {
        char big[400];

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        memcpy(big, req, 27);
        CHECK(end_of(big, 27, &n) == TG_HTTP_PARSE_OK && n == 27);
        CHECK(end_of(big, 26, &n) == TG_HTTP_PARSE_TOO_LARGE);
    }
}

/* Fed a byte at a time, with *scan carried: MORE until the whole head is
 * there, then the same head_len as in one call; and *scan never goes back. */
static int
end_bytewise(const char *s, size_t max, size_t *head_len)
{
    size_t scan = 0, len, last = 0;
    enum tg_http_parse_rc rc = TG_HTTP_PARSE_MORE;

    for (len = 0; len <= strlen(s); len++) {
        rc = tg_http_head_end(s, len, max, &scan, head_len);
        if (rc != TG_HTTP_PARSE_MORE)
            return (int)rc;
        if (scan < last || scan != len)
            return -1;
        last = scan;
    }
    return (int)rc;
}

static void
test_head_end_split(void)
{
    static const char *const heads[] = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nbody",
        "\n\nGET / HTTP/1.1\nHost: a\n\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "\r\nGET /pub/WWW/TheProject.html HTTP/1.1\r\nHost: www.example.org\r\n\n",
    };
    size_t i, k;

    for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        const char *s = heads[i];
        size_t one = 0, n = 0, max;

        CHECK(end_of(s, 200, &one) == TG_HTTP_PARSE_OK);
        CHECK(end_bytewise(s, 200, &n) == TG_HTTP_PARSE_OK && n == one);
        /* Two pieces, split anywhere. */
        for (k = 0; k <= strlen(s); k++) {
            size_t scan = 0, hl = 0;
            int rc1 = (int)tg_http_head_end(s, k, 200, &scan, &hl);

            if (k < one) {
                CHECK(rc1 == TG_HTTP_PARSE_MORE);
                CHECK(tg_http_head_end(s, strlen(s), 200, &scan, &hl) == TG_HTTP_PARSE_OK);
            } else {
                CHECK(rc1 == TG_HTTP_PARSE_OK);
            }
            CHECK(hl == one);
        }
        /* With every max, a byte at a time agrees with one call. */
        for (max = 0; max <= strlen(s) + 1; max++) {
            size_t a = 0, b = 0;
            int r1 = end_of(s, max, &a), r2 = end_bytewise(s, max, &b);

            CHECK(r1 == r2);
            CHECK(r1 != TG_HTTP_PARSE_OK || a == b);
        }
    }
    /* The end split between calls: "\r\n\r" then "\n". */
    {
        const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        size_t scan = 0, n = 0;

        CHECK(tg_http_head_end(s, 26, 100, &scan, &n) == TG_HTTP_PARSE_MORE && scan == 26);
        CHECK(tg_http_head_end(s, 27, 100, &scan, &n) == TG_HTTP_PARSE_OK && n == 27);
    }
}

static void
test_head_end_leaves_buf(void)
{
    char buf[] = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    char copy[sizeof(buf)];
    size_t scan = 0, n = 0;

    memcpy(copy, buf, sizeof(buf));
    CHECK(tg_http_head_end(buf, sizeof(buf) - 1, 100, &scan, &n) == TG_HTTP_PARSE_OK);
    CHECK(memcmp(buf, copy, sizeof(buf)) == 0);
}

/* ---------------------------------------------------------------------- */
/* tg_http_head_parse: the request line                                    */

static void
test_rfc9112_example(void)
{
    /* RFC 9112 §3.2 */
    CHECK(parse("GET /pub/WWW/TheProject.html HTTP/1.1\r\nHost: www.example.org\r\n\r\n") ==
          TG_HTTP_PARSE_OK);
    CHECK(strcmp(h.method, "GET") == 0);
    CHECK(strcmp(h.target, "/pub/WWW/TheProject.html") == 0);
    CHECK(h.minor == 1);
    CHECK(h.n_fields == 1 && h.fields == hfields);
    CHECK(strcmp(h.fields[0].name, "Host") == 0);
    CHECK(field_is("host", "www.example.org"));
    CHECK(field_is("HOST", "www.example.org"));
    CHECK(h.chunked == 0 && h.has_length == 0 && h.content_length == 0);
    CHECK(h.keep_alive == 1 && h.expect_continue == 0);
    /* The strings are inside the buffer. */
    CHECK(h.method == hbuf && h.target > hbuf && h.target < hbuf + sizeof(hbuf));
    CHECK(h.fields[0].value > hbuf && h.fields[0].value < hbuf + sizeof(hbuf));

    /* RFC 9112 §3.2.2 absolute-form, §3.2.3 authority-form, §3.2.4 asterisk-form */
    CHECK(parse("GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\n"
                "Host: www.example.org\r\n\r\n") == TG_HTTP_PARSE_OK);
    CHECK(strcmp(h.target, "http://www.example.org/pub/WWW/TheProject.html") == 0);
    CHECK(parse("CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com:80\r\n\r\n") ==
          TG_HTTP_PARSE_OK);
    CHECK(strcmp(h.method, "CONNECT") == 0 && strcmp(h.target, "www.example.com:80") == 0);
    CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: www.example.org:8001\r\n\r\n") == TG_HTTP_PARSE_OK);
    CHECK(strcmp(h.target, "*") == 0);
}

static void
test_request_line(void)
{
    CHECK(parse("GET / HTTP/1.0\r\n\r\n") == TG_HTTP_PARSE_OK && h.minor == 0);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_OK && h.minor == 1);
    /* RFC 9110 §6.2: a later 1.x is answered as 1.1. */
    CHECK(parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_OK && h.minor == 1);
    CHECK(parse("GET / HTTP/1.9\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_OK && h.minor == 1);
    /* Any token is a method (RFC 9110 §9.1), case as sent. */
    CHECK(parse("get /x?y=1&z HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_OK);
    CHECK(strcmp(h.method, "get") == 0 && strcmp(h.target, "/x?y=1&z") == 0);
    CHECK(parse("M-SEARCH! /~a%20b HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_OK);
    /* Leading empty lines (RFC 9112 §2.2). */
    CHECK(parse("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_OK);
    CHECK(strcmp(h.method, "GET") == 0);
    /* Bare LF line ends. */
    CHECK(parse("GET / HTTP/1.1\nHost: a\n\n") == TG_HTTP_PARSE_OK && field_is("Host", "a"));

    /* RFC 9112 §2.3 / RFC 9110 §15.6.6: other major versions are 505. */
    CHECK(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_VERSION);
    CHECK(parse("GET / HTTP/0.9\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_VERSION);
    CHECK(parse("GET / HTTP/3.1\r\n\r\n") == TG_HTTP_PARSE_VERSION);

    /* Malformed request lines: 400. */
    CHECK(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET /  HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse(" GET / HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / http/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.10\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/11.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1,1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/a.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.x\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / \r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET /\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("/ HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("G\x80T / HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.1\rHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(PARSE_LIT("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(PARSE_LIT("G\0T / HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(PARSE_LIT("GET / HTTP/1.1\0\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    /* Empty lines with a bare CR before the request line. */
    CHECK(parse("\r\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
}

static void
test_head_shape(void)
{
    char buf[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET";
    struct tg_http_field f[4];
    struct tg_http_head hh;

    /* The head must end at its empty line: not before, not after. */
    CHECK(tg_http_head_parse(buf, sizeof(buf) - 1, f, 4, &hh) == TG_HTTP_PARSE_BAD);
    memcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET", sizeof(buf));
    CHECK(tg_http_head_parse(buf, 25, f, 4, &hh) == TG_HTTP_PARSE_BAD);
    memcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET", sizeof(buf));
    CHECK(tg_http_head_parse(buf, 10, f, 4, &hh) == TG_HTTP_PARSE_BAD);
    CHECK(tg_http_head_parse(buf, 0, f, 4, &hh) == TG_HTTP_PARSE_BAD);
    memcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET", sizeof(buf));
    CHECK(tg_http_head_parse(buf, 27, f, 4, &hh) == TG_HTTP_PARSE_OK);
    CHECK(hh.n_fields == 1 && strcmp(hh.fields[0].value, "a") == 0);
    /* Only empty lines. */
    memcpy(buf, "\r\n\r\n", 4);
    CHECK(tg_http_head_parse(buf, 4, f, 4, &hh) == TG_HTTP_PARSE_BAD);
}

/* ---------------------------------------------------------------------- */
/* Field lines                                                             */

static void
test_fields(void)
{
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A:1\r\nx-b: \t two  words \t\r\nX-Empty:\r\n"
                "X-Sp:   \r\nX-A: 2\r\n\r\n") == TG_HTTP_PARSE_OK);
    CHECK(h.n_fields == 6);
    CHECK(field_is("x-a", "1")); /* the first of two */
    CHECK(strcmp(h.fields[5].value, "2") == 0);
    CHECK(field_is("X-B", "two  words"));
    CHECK(field_is("x-empty", ""));
    CHECK(field_is("x-sp", ""));
    CHECK(tg_http_head_field(&h, "x") == NULL);
    CHECK(tg_http_head_field(&h, "x-a-") == NULL);
    CHECK(tg_http_head_field(&h, "") == NULL);
    /* obs-text is allowed in values (RFC 9110 §5.5), so is any token name. */
    CHECK(parse_field("X-Utf8: caf\xc3\xa9 \xff") == TG_HTTP_PARSE_OK);
    CHECK(field_is("x-utf8", "caf\xc3\xa9 \xff"));
    CHECK(parse_field("!#$%&'*+-.^_`|~09azAZ: \"quoted\", (comment) {}") == TG_HTTP_PARSE_OK);

    /* RFC 9112 §5.1: no whitespace between name and colon. */
    CHECK(parse_field("X-A : 1") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X-A\t: 1") == TG_HTTP_PARSE_BAD);
    /* RFC 9112 §5.2: obs-fold is rejected. */
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  2\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n") == TG_HTTP_PARSE_BAD);
    /* RFC 9112 §2.2: whitespace before the first field line. */
    CHECK(parse("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    /* No colon, empty name, non-token name. */
    CHECK(parse_field("X-A 1") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X-A") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field(": 1") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X(A): 1") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X\xc3\xa9: 1") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X A: 1") == TG_HTTP_PARSE_BAD);
    /* CTLs in values: bare CR, DEL, others; NUL (RFC 9110 §5.5). */
    CHECK(parse_field("X-A: 1\r2") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X-A: 1\r") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X-A: \r1") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X-A: 1\x7f") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X-A: 1\x01") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X-A: \x1b[1m") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("X-A: 1\x0b") == TG_HTTP_PARSE_BAD);
    CHECK(PARSE_LIT("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\0002\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(PARSE_LIT("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(PARSE_LIT("GET / HTTP/1.1\r\nHost: a\r\nX\0A: 1\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(PARSE_LIT("GET / HTTP/1.1\r\nHost: a\r\n\0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    /* A bare CR between lines. */
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\rX-A: 1\r\n\r\n") == TG_HTTP_PARSE_BAD);
}

static void
test_max_fields(void)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";

    CHECK(parse_nf(req, strlen(req), 3) == TG_HTTP_PARSE_OK && h.n_fields == 3);
    CHECK(parse_nf(req, strlen(req), 2) == TG_HTTP_PARSE_TOO_LARGE);
    CHECK(parse_nf(req, strlen(req), 0) == TG_HTTP_PARSE_TOO_LARGE);
    CHECK(parse_nf("GET / HTTP/1.0\r\n\r\n", 18, 0) == TG_HTTP_PARSE_OK && h.n_fields == 0);
    {
        char buf[] = "GET / HTTP/1.0\r\n\r\n";
        struct tg_http_head hh;

        CHECK(tg_http_head_parse(buf, 18, NULL, 0, &hh) == TG_HTTP_PARSE_OK);
        CHECK(tg_http_head_field(&hh, "host") == NULL);
    }
}

/* ---------------------------------------------------------------------- */
/* Host, Content-Length, Transfer-Encoding                                 */

static void
test_host(void)
{
    /* RFC 9112 §3.2 */
    CHECK(parse("GET / HTTP/1.1\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.0\r\n\r\n") == TG_HTTP_PARSE_OK);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nhOST: b\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n") == TG_HTTP_PARSE_OK); /* RFC 9110 §7.2 */
    CHECK(parse("GET / HTTP/1.1\r\nhost: [::1]:8443\r\n\r\n") == TG_HTTP_PARSE_OK);
    CHECK(parse("GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n") == TG_HTTP_PARSE_OK);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n") == TG_HTTP_PARSE_BAD);
}

static void
test_content_length(void)
{
    CHECK(parse_field("Content-Length: 5") == TG_HTTP_PARSE_OK);
    CHECK(h.has_length == 1 && h.content_length == 5 && h.chunked == 0);
    CHECK(parse_field("content-length:0") == TG_HTTP_PARSE_OK);
    CHECK(h.has_length == 1 && h.content_length == 0);
    CHECK(parse_field("Content-Length: 007") == TG_HTTP_PARSE_OK && h.content_length == 7);
    CHECK(parse_field("Content-Length: 999999999999999999") == TG_HTTP_PARSE_OK);
    CHECK(h.content_length == UINT64_C(999999999999999999));
    CHECK(parse_field("Content-Length: 000000000999999999999999999") == TG_HTTP_PARSE_OK);
    CHECK(h.content_length == UINT64_C(999999999999999999));
    CHECK(parse_field("Content-Length: 1000000000000000000") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: 18446744073709551616") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: 99999999999999999999999999") == TG_HTTP_PARSE_BAD);
    /* RFC 9112 §6.2: 1*DIGIT; §6.3 item 5: anything else is 400. */
    CHECK(parse_field("Content-Length: +5") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: -1") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: 5, 5") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: 5,5") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: 5 5") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: 0x10") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: 1e3") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length:") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: \"5\"") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length : 5") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: 5\r\nContent-Length: 5") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Content-Length: 5\r\ncontent-length: 6") == TG_HTTP_PARSE_BAD);
    /* Not Content-Length. */
    CHECK(parse_field("Content-Lengths: x") == TG_HTTP_PARSE_OK && h.has_length == 0);
    CHECK(parse_field("X-Content-Length: x") == TG_HTTP_PARSE_OK && h.has_length == 0);
    /* 1.0 with a length. */
    CHECK(parse("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n") == TG_HTTP_PARSE_OK);
    CHECK(h.has_length == 1 && h.content_length == 3);
}

static void
test_transfer_encoding(void)
{
    CHECK(parse_field("Transfer-Encoding: chunked") == TG_HTTP_PARSE_OK);
    CHECK(h.chunked == 1 && h.has_length == 0);
    CHECK(parse_field("transfer-encoding: Chunked") == TG_HTTP_PARSE_OK && h.chunked == 1);
    CHECK(parse_field("Transfer-Encoding:\tCHUNKED\t") == TG_HTTP_PARSE_OK && h.chunked == 1);
    CHECK(parse_field("Transfer-Encoding: , chunked ,") == TG_HTTP_PARSE_OK && h.chunked == 1);
    CHECK(parse_field("Transfer-Encoding:\r\nTransfer-Encoding: chunked") == TG_HTTP_PARSE_OK);
    CHECK(h.chunked == 1);
    /* RFC 9110 §10.1.4, §15.6.2: codings we do not implement: 501. */
    CHECK(parse_field("Transfer-Encoding: gzip, chunked") == TG_HTTP_PARSE_UNSUPPORTED);
    CHECK(parse_field("Transfer-Encoding: gzip,chunked") == TG_HTTP_PARSE_UNSUPPORTED);
    CHECK(parse_field("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked") ==
          TG_HTTP_PARSE_UNSUPPORTED);
    CHECK(parse_field("Transfer-Encoding: x;q=1;r=\"a,b;c\\\"\", chunked") ==
          TG_HTTP_PARSE_UNSUPPORTED);
    CHECK(parse_field("Transfer-Encoding: x ; q = 1 , chunked") == TG_HTTP_PARSE_UNSUPPORTED);
    /* RFC 9112 §6.3 item 4: chunked absent or not last in a request: 400. */
    CHECK(parse_field("Transfer-Encoding: chunked, identity") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunked, gzip") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip") ==
          TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: identity") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: gzip") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding:") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: ,") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: xchunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunkedx") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: \"chunked\"") == TG_HTTP_PARSE_BAD);
    /* RFC 9112 §6.1: chunked at most once, and with no parameters (§7). */
    CHECK(parse_field("Transfer-Encoding: chunked, chunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked") ==
          TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunked;q=1") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunked ; a=b") == TG_HTTP_PARSE_BAD);
    /* Malformed lists and parameters. */
    CHECK(parse_field("Transfer-Encoding: chunked chunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: gzip chunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunked;") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: x;q, chunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: x;q=, chunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: x;q=\"a, chunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: ;q=1, chunked") == TG_HTTP_PARSE_BAD);
    /* Smuggling: both framings (RFC 9112 §6.3 item 3, §6.1). */
    CHECK(parse_field("Content-Length: 5\r\nTransfer-Encoding: chunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunked\r\nContent-Length: 5") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunked\r\nContent-Length: 0") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: gzip, chunked\r\nContent-Length: 5") ==
          TG_HTTP_PARSE_BAD);
    /* Smuggling: a TE a front end may not have seen as one. */
    CHECK(parse_field("Transfer-Encoding : chunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n") ==
          TG_HTTP_PARSE_BAD);
    CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n") ==
          TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: \x0b" "chunked") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chunked\r") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Transfer-Encoding: chu\rnked") == TG_HTTP_PARSE_BAD);
    /* RFC 9112 §6.1: Transfer-Encoding in 1.0 is a framing fault. */
    CHECK(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(parse("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") ==
          TG_HTTP_PARSE_BAD);
    CHECK(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n") ==
          TG_HTTP_PARSE_BAD);
}

/* ---------------------------------------------------------------------- */
/* Connection and Expect                                                   */

static void
test_connection(void)
{
    /* RFC 9112 §9.3 */
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == TG_HTTP_PARSE_OK && h.keep_alive == 1);
    CHECK(parse_field("Connection: close") == TG_HTTP_PARSE_OK && h.keep_alive == 0);
    CHECK(parse_field("Connection: CLOSE") == TG_HTTP_PARSE_OK && h.keep_alive == 0);
    CHECK(parse_field("Connection: keep-alive, close") == TG_HTTP_PARSE_OK && h.keep_alive == 0);
    CHECK(parse_field("Connection: Upgrade,Close ,") == TG_HTTP_PARSE_OK && h.keep_alive == 0);
    CHECK(parse_field("Connection: keep-alive\r\nConnection: close") == TG_HTTP_PARSE_OK &&
          h.keep_alive == 0);
    CHECK(parse_field("Connection: keep-alive") == TG_HTTP_PARSE_OK && h.keep_alive == 1);
    CHECK(parse_field("Connection: upgrade") == TG_HTTP_PARSE_OK && h.keep_alive == 1);
    CHECK(parse_field("Connection: closed") == TG_HTTP_PARSE_OK && h.keep_alive == 1);
    CHECK(parse_field("Connection:") == TG_HTTP_PARSE_OK && h.keep_alive == 1);
    CHECK(parse("GET / HTTP/1.0\r\n\r\n") == TG_HTTP_PARSE_OK && h.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") == TG_HTTP_PARSE_OK &&
          h.keep_alive == 1);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") == TG_HTTP_PARSE_OK &&
          h.keep_alive == 1);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n") ==
              TG_HTTP_PARSE_OK &&
          h.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n") == TG_HTTP_PARSE_OK &&
          h.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n") == TG_HTTP_PARSE_OK &&
          h.keep_alive == 0);
    /* connection-option = token */
    CHECK(parse_field("Connection: clo se") == TG_HTTP_PARSE_BAD);
    CHECK(parse_field("Connection: \"close\"") == TG_HTTP_PARSE_BAD);
}

static void
test_expect(void)
{
    /* RFC 9110 §10.1.1 */
    CHECK(parse_field("Expect: 100-continue") == TG_HTTP_PARSE_OK && h.expect_continue == 1);
    CHECK(parse_field("Expect: 100-Continue") == TG_HTTP_PARSE_OK && h.expect_continue == 1);
    CHECK(parse_field("expect:100-CONTINUE ") == TG_HTTP_PARSE_OK && h.expect_continue == 1);
    CHECK(parse_field("Expect: 100-continue\r\nExpect: 100-continue") == TG_HTTP_PARSE_OK &&
          h.expect_continue == 1);
    CHECK(parse_field("Expect:") == TG_HTTP_PARSE_OK && h.expect_continue == 0);
    CHECK(parse_field("X-Expect: 100-continue") == TG_HTTP_PARSE_OK && h.expect_continue == 0);
    /* A 100-continue in 1.0 is ignored. */
    CHECK(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n") == TG_HTTP_PARSE_OK &&
          h.expect_continue == 0);
    /* Anything else: 417. */
    CHECK(parse_field("Expect: 200-ok") == TG_HTTP_PARSE_EXPECTATION);
    CHECK(parse_field("Expect: 100-continue, foo") == TG_HTTP_PARSE_EXPECTATION);
    CHECK(parse_field("Expect: 100-continue\r\nExpect: foo") == TG_HTTP_PARSE_EXPECTATION);
    CHECK(parse_field("Expect: foo\r\nExpect: 100-continue") == TG_HTTP_PARSE_EXPECTATION);
    CHECK(parse_field("Expect: 100-continue=1") == TG_HTTP_PARSE_EXPECTATION);
    CHECK(parse_field("Expect: 100-continued") == TG_HTTP_PARSE_EXPECTATION);
    CHECK(parse("POST / HTTP/1.0\r\nExpect: foo\r\n\r\n") == TG_HTTP_PARSE_EXPECTATION);
    /* A framing fault wins over 417. */
    CHECK(parse_field("Expect: foo\r\nContent-Length: 1\r\nContent-Length: 1") ==
          TG_HTTP_PARSE_BAD);
}

/* ---------------------------------------------------------------------- */
/* The chunked transfer coding                                             */

struct decoded {
    int rc;
    size_t used; /* over all calls */
    size_t len;
    uint8_t data[1024];
};

/* Decodes in[0..n), cutting it where cut(i) is non-zero (before byte i);
 * out has cap `cap`. Stops at the first result other than MORE. */
static void
decode_cut(const uint8_t *in, size_t n, size_t cap, int (*cut)(size_t i, void *arg), void *arg,
           struct decoded *d)
{
    struct tg_http_chunked st;
    struct tg_buf out;
    size_t off = 0;

    memset(&st, 0, sizeof(st));
    memset(d, 0, sizeof(*d));
    tg_buf_init(&out, cap);
    d->rc = TG_HTTP_PARSE_MORE;
    while (off < n) {
        size_t end = off + 1, used = 0;

        while (end < n && !cut(end, arg))
            end++;
        d->rc = (int)tg_http_chunked_decode(&st, in + off, end - off, &out, &used);
        if (used > end - off)
            d->rc = -1;
        d->used += used;
        if (d->rc != TG_HTTP_PARSE_MORE)
            break;
        if (used != end - off)
            d->rc = -2;
        off = end;
    }
    if (out.len <= sizeof(d->data)) {
        d->len = out.len;
        if (out.len > 0)
            memcpy(d->data, out.p, out.len);
    } else {
        d->len = SIZE_MAX;
    }
    tg_buf_reset(&out);
}

static int
cut_none(size_t i, void *arg)
{
    (void)i;
    (void)arg;
    return 0;
}

static int
cut_all(size_t i, void *arg)
{
    (void)i;
    (void)arg;
    return 1;
}

static int
cut_at(size_t i, void *arg)
{
    return i == *(size_t *)arg;
}

static int
cut_at_two(size_t i, void *arg)
{
    const size_t *k = arg;

    return i == k[0] || i == k[1];
}

static int
same(const struct decoded *a, const struct decoded *b)
{
    /* Errors included: data is appended as soon as it is seen and an
     * over-cap size fails before its data, so a failed decode leaves the
     * same body and the same count of bytes used however it was split. */
    return a->rc == b->rc && a->used == b->used && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static int
decode_cap(const char *s, size_t n, size_t cap, const char *want, size_t want_used)
{
    struct decoded one, d;
    size_t k, kk[2];

    decode_cut((const uint8_t *)s, n, cap, cut_none, NULL, &one);
    /* A byte at a time, two pieces at every split point, three pieces. */
    decode_cut((const uint8_t *)s, n, cap, cut_all, NULL, &d);
    if (!same(&one, &d))
        return -1;
    /* Long inputs (the limit tests) at every 61st point only, to stay fast. */
    for (k = 1; k < n; k += n > 512 ? 61 : 1) {
        decode_cut((const uint8_t *)s, n, cap, cut_at, &k, &d);
        if (!same(&one, &d))
            return -1;
        kk[0] = k;
        kk[1] = k + (n - k) / 2;
        decode_cut((const uint8_t *)s, n, cap, cut_at_two, kk, &d);
        if (!same(&one, &d))
            return -1;
    }
    if (want != NULL) {
        if (one.rc != TG_HTTP_PARSE_OK || one.len != strlen(want) ||
            memcmp(one.data, want, one.len) != 0 || one.used != want_used)
            return -3;
    }
    return one.rc;
}

/* The result of decoding s whole (and checked against every split). */
static int
decode(const char *s)
{
    return decode_cap(s, strlen(s), 1024, NULL, 0);
}

#define DECODE_LIT(s) decode_cap((s), sizeof(s) - 1, 1024, NULL, 0)

/* OK with exactly `want` as the body, using all of s. */
static int
decodes_to(const char *s, const char *want)
{
    return decode_cap(s, strlen(s), 1024, want, strlen(s)) == TG_HTTP_PARSE_OK;
}

static void
test_chunked_valid(void)
{
    /* RFC 9112 §7.1 */
    CHECK(decodes_to("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n", "Wikipedia"));
    CHECK(decodes_to("0\r\n\r\n", ""));
    CHECK(decodes_to("000\r\n\r\n", "")); /* last-chunk = 1*("0") */
    CHECK(decodes_to("a\r\n0123456789\r\n0\r\n\r\n", "0123456789"));
    CHECK(decodes_to("A\r\n0123456789\r\n0\r\n\r\n", "0123456789"));
    CHECK(decodes_to("00000000000000000000001\r\nx\r\n0\r\n\r\n", "x"));
    CHECK(decodes_to("1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n", "\r\n")); /* data is opaque */
    CHECK(DECODE_LIT("3\r\n\0\xff\x80\r\n0\r\n\r\n") == TG_HTTP_PARSE_OK);
    /* §7.1.1 chunk extensions, with BWS (RFC 9110 §5.6.3). */
    CHECK(decodes_to("4;name=value\r\nWiki\r\n0;last\r\n\r\n", "Wiki"));
    CHECK(decodes_to("4;a;b=c;d=\"e;f\\\"g\"\r\nWiki\r\n0\r\n\r\n", "Wiki"));
    CHECK(decodes_to("4 ; a = b ;c\t;\td\r\nWiki\r\n0\r\n\r\n", "Wiki"));
    CHECK(decodes_to("4;a=\"\"\r\nWiki\r\n0\r\n\r\n", "Wiki"));
    CHECK(decodes_to("4;a=\"x\" ;b\r\nWiki\r\n0\r\n\r\n", "Wiki"));
    /* §7.1.2 trailer fields, read and dropped. */
    CHECK(decodes_to("4\r\nWiki\r\n0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\nX:\r\n\r\n",
                     "Wiki"));
    CHECK(decodes_to("0\r\nX-Utf8: caf\xc3\xa9\r\n\r\n", ""));

    /* What follows the body is the next request's: not consumed. */
    CHECK(decode_cap("4\r\nWiki\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 30, 1024, "Wiki", 14) ==
          TG_HTTP_PARSE_OK);
    CHECK(decode_cap("0\r\n\r\nX", 6, 1024, "", 5) == TG_HTTP_PARSE_OK);
}

static void
test_chunked_invalid(void)
{
    /* chunk-size = 1*HEXDIG, nothing before it. */
    CHECK(decode("\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode(" 4\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("+4\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("-1\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("0x4\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4x\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("g\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode(";a\r\n") == TG_HTTP_PARSE_BAD);
    /* Whitespace after the size is BWS before ";" only. */
    CHECK(decode("4 \r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4 4\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4;a=b \r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    /* Malformed extensions. */
    CHECK(decode("4;\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4;=b\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4;a=\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4;a=\"b\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4;a=\"b\"c\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4;a=b=c\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4;a b\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4;a\x01\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(DECODE_LIT("4;a\0\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    /* Size overflow: at most 2^62 - 1. */
    CHECK(decode("10000000000000000\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4000000000000000\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("ffffffffffffffffff\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode_cap("3fffffffffffffff\r\n", 18, SIZE_MAX, NULL, 0) == TG_HTTP_PARSE_MORE);
    /* Bare CR, and no CRLF after chunk-data. */
    CHECK(decode("4\rWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\r\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWikiX\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWikiX\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\n\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWi\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWik\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    /* Only CRLF ends a line here: a bare LF anywhere is 400. */
    CHECK(decode("4\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4;a=b\nWiki\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\r\n0\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\r\n0\r\nX: y\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\r\n0\r\n\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\rX\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\r\r\n0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\r\n0\r\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\r\n0\r\n\r\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("4\r\nWiki\r\n0\r\n\rX") == TG_HTTP_PARSE_BAD);
    /* Trailer field lines (RFC 9112 §5, §7.1.2). */
    CHECK(decode("0\r\nX : y\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("0\r\nX y\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("0\r\n: y\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("0\r\nX: y\r\n z\r\n\r\n") == TG_HTTP_PARSE_BAD); /* obs-fold */
    CHECK(decode("0\r\n X: y\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("0\r\nX: y\rz\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(decode("0\r\nX: y\x7f\r\n\r\n") == TG_HTTP_PARSE_BAD);
    CHECK(DECODE_LIT("0\r\nX: \0\r\n\r\n") == TG_HTTP_PARSE_BAD);
    /* Not there yet. */
    CHECK(decode("4\r\nWiki\r\n0\r\n") == TG_HTTP_PARSE_MORE);
    CHECK(decode("4\r\nWiki\r\n0\r\n\r") == TG_HTTP_PARSE_MORE);
    CHECK(decode("4\r\nWi") == TG_HTTP_PARSE_MORE);
    CHECK(decode("4;a=\"") == TG_HTTP_PARSE_MORE);
    CHECK(decode("") == TG_HTTP_PARSE_MORE);
}

static void
test_chunked_limits(void)
{
    char line[5000], big[9000];
    size_t n;

    /* The size line: 4096 bytes including its CRLF. */
    memset(line, 0, sizeof(line));
    line[0] = '0';
    line[1] = ';';
    memset(line + 2, 'a', 4092);
    memcpy(line + 4094, "\r\n\r\n", 4);
    CHECK(decode_cap(line, 4098, 1024, "", 4098) == TG_HTTP_PARSE_OK);
    memset(line + 2, 'a', 4093);
    memcpy(line + 4095, "\r\n\r\n", 4);
    CHECK(decode_cap(line, 4099, 1024, NULL, 0) == TG_HTTP_PARSE_BAD);
    memset(line, '0', 4200);
    CHECK(decode_cap(line, 4200, 1024, NULL, 0) == TG_HTTP_PARSE_BAD);
    /* The trailer section: 8192 bytes including the final CRLF. */
    memcpy(big, "0\r\nX:", 5);
    n = 8191; /* trailer bytes: big[3..n) and two CRLF */
    memset(big + 5, 'v', n - 5);
    memcpy(big + n, "\r\n\r\n", 4);
    CHECK(decode_cap(big, n + 4, 1024, "", n + 4) == TG_HTTP_PARSE_OK);
    big[n] = 'v';
    memcpy(big + n + 1, "\r\n\r\n", 4);
    CHECK(decode_cap(big, n + 5, 1024, NULL, 0) == TG_HTTP_PARSE_TOO_LARGE);

    /* The cap on out: 413 as soon as a size says the body would pass it. */
    CHECK(decode_cap("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n", 24, 9, "Wikipedia", 24) ==
          TG_HTTP_PARSE_OK);
    CHECK(decode_cap("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n", 24, 8, NULL, 0) ==
          TG_HTTP_PARSE_TOO_LARGE);
    CHECK(decode_cap("4\r\nWiki\r\n5\r\n", 12, 8, NULL, 0) == TG_HTTP_PARSE_TOO_LARGE);
    CHECK(decode_cap("4\r\nWiki\r\n0\r\n\r\n", 15, 0, NULL, 0) == TG_HTTP_PARSE_TOO_LARGE);
    CHECK(decode_cap("0\r\n\r\n", 5, 0, "", 5) == TG_HTTP_PARSE_OK);
    CHECK(decode_cap("ffffffff\r\n", 10, 1u << 20, NULL, 0) == TG_HTTP_PARSE_TOO_LARGE);
}

static void
test_chunked_calls(void)
{
    struct tg_http_chunked st;
    struct tg_buf out;
    size_t used = 99;
    const char *body = "4\r\nWiki\r\n0\r\n\r\nNEXT";
    char large[3000];

    /* Done: OK with nothing used, again and again. */
    memset(&st, 0, sizeof(st));
    tg_buf_init(&out, 64);
    CHECK(tg_http_chunked_decode(&st, (const uint8_t *)body, strlen(body), &out, &used) ==
          TG_HTTP_PARSE_OK);
    CHECK(used == 14 && st.done == 1 && out.len == 4);
    CHECK(tg_http_chunked_decode(&st, (const uint8_t *)"NEXT", 4, &out, &used) ==
          TG_HTTP_PARSE_OK);
    CHECK(used == 0 && out.len == 4);
    CHECK(tg_http_chunked_decode(&st, NULL, 0, &out, &used) == TG_HTTP_PARSE_OK && used == 0);
    tg_buf_reset(&out);

    /* Nothing in: MORE. */
    memset(&st, 0, sizeof(st));
    CHECK(tg_http_chunked_decode(&st, NULL, 0, &out, &used) == TG_HTTP_PARSE_MORE && used == 0);

    /* A failed decoder keeps failing. */
    memset(&st, 0, sizeof(st));
    CHECK(tg_http_chunked_decode(&st, (const uint8_t *)"x", 1, &out, &used) ==
          TG_HTTP_PARSE_BAD);
    CHECK(tg_http_chunked_decode(&st, (const uint8_t *)"0\r\n\r\n", 5, &out, &used) ==
          TG_HTTP_PARSE_BAD);
    CHECK(tg_http_chunked_decode(&st, NULL, 0, &out, &used) == TG_HTTP_PARSE_BAD);
    CHECK(st.done == 0);
    memset(&st, 0, sizeof(st));
    tg_buf_init(&out, 2);
    CHECK(tg_http_chunked_decode(&st, (const uint8_t *)"3\r\n", 3, &out, &used) ==
          TG_HTTP_PARSE_TOO_LARGE);
    CHECK(tg_http_chunked_decode(&st, (const uint8_t *)"0\r\n\r\n", 5, &out, &used) ==
          TG_HTTP_PARSE_TOO_LARGE);
    tg_buf_reset(&out);

    /* A large chunk arrives whole in out, in as few appends as calls:
     * after the first call the whole of what was given is there. */
    memset(&st, 0, sizeof(st));
    tg_buf_init(&out, 4096);
    memcpy(large, "9c4\r\n", 5); /* 2500 */
    memset(large + 5, 'z', sizeof(large) - 5);
    CHECK(tg_http_chunked_decode(&st, (const uint8_t *)large, 2005, &out, &used) ==
          TG_HTTP_PARSE_MORE);
    CHECK(used == 2005 && out.len == 2000 && st.remaining == 500);
    CHECK(tg_http_chunked_decode(&st, (const uint8_t *)large + 2005, 500, &out, &used) ==
          TG_HTTP_PARSE_MORE);
    CHECK(used == 500 && out.len == 2500 && st.remaining == 0);
    CHECK(tg_http_chunked_decode(&st, (const uint8_t *)"\r\n0\r\n\r\n", 7, &out, &used) ==
          TG_HTTP_PARSE_OK);
    CHECK(used == 7 && out.len == 2500);
    tg_buf_reset(&out);
}

/* Every body, valid or not, split at every point and byte by byte, gives
 * the one-shot result: checked inside decode() for each case above, and
 * here for a mix of everything. */
static void
test_chunked_split_mix(void)
{
    static const char *const bodies[] = {
        "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
        "1;a=\"\\\\\";b\r\nx\r\n10\r\n0123456789abcdef\r\n0;z\r\nA: b\r\nC:d\r\n\r\nrest",
        "4\nWiki\n0\n\n",
        "4\r\nWiki\r\n0\r\nX: y\n",
        "4\r\nWiki\r\n0\r\nA: b\r\n C\r\n\r\n",
        "4\r\nWiki\r\n0\r\nA: b\r\n\r\r\n",
        "5\r\nWiki\r\n0\r\n\r\n",
    };
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        int rc = decode(bodies[i]);

        CHECK(rc >= 0);
    }
    CHECK(decode(bodies[0]) == TG_HTTP_PARSE_OK);
    CHECK(decode_cap(bodies[0], strlen(bodies[0]), 1024, "Wikipedia in\r\n\r\nchunks.",
                     strlen(bodies[0])) == TG_HTTP_PARSE_OK);
    CHECK(decode(bodies[1]) == TG_HTTP_PARSE_OK);
    for (i = 2; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        CHECK(decode(bodies[i]) == TG_HTTP_PARSE_BAD);
    /* Cap crossed by a later chunk, split anywhere. */
    CHECK(decode_cap(bodies[0], strlen(bodies[0]), 20, NULL, 0) == TG_HTTP_PARSE_TOO_LARGE);
}

/* RFC 9110 §5.6.2 token: every tchar passes, anything else fails. */
static void
test_is_token(void)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~0123456789"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char one[2] = {0, 0};
    int c, n = 0;

    CHECK(tg_http_is_token(tchars));
    CHECK(!tg_http_is_token("") && !tg_http_is_token(NULL));
    for (c = 1; c < 256; c++) {
        one[0] = (char)c;
        if (tg_http_is_token(one) != (strchr(tchars, c) != NULL))
            n++;
    }
    CHECK(n == 0);
    CHECK(!tg_http_is_token("X-Name ") && !tg_http_is_token("X:Name"));
}

int
main(void)
{
    RUN(test_is_token);
    RUN(test_head_end_basic);
    RUN(test_head_end_leading_empty_lines);
    RUN(test_head_end_max);
    RUN(test_head_end_split);
    RUN(test_head_end_leaves_buf);
    RUN(test_rfc9112_example);
    RUN(test_request_line);
    RUN(test_head_shape);
    RUN(test_fields);
    RUN(test_max_fields);
    RUN(test_host);
    RUN(test_content_length);
    RUN(test_transfer_encoding);
    RUN(test_connection);
    RUN(test_expect);
    RUN(test_chunked_valid);
    RUN(test_chunked_invalid);
    RUN(test_chunked_limits);
    RUN(test_chunked_calls);
    RUN(test_chunked_split_mix);
    return t_report("http/parse");
}
