/* libFuzzer target: the HTTP/1.1 request parser (src/http/parse.c), the
 * first code to see a client's bytes. The input is read three ways:
 *   - as a request head: tg_http_head_end on a copy, in one call and fed in
 *     pieces (same result), then tg_http_head_parse on what it found, with
 *     the parsed head checked against the buffer;
 *   - as a chunked body: the whole input, and the bytes after a head that
 *     parsed, decoded in one call and in pieces (same result, same body,
 *     same bytes used), with a small and a large cap on the body.
 * Piece lengths come from the input bytes themselves, so the fuzzer
 * explores the splits along with the content. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEAD 512
#define MAX_FIELDS 16

static void
invariant(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http: invariant violated: %s\n", what);
        abort();
    }
}

/* Length of the piece starting at data[off]: 1..8, from the byte there. */
static size_t
piece(const uint8_t *data, size_t size, size_t off)
{
    size_t n = (size_t)(data[off] % 8) + 1;

    return n < size - off ? n : size - off;
}

static int
inside(const char *p, const char *buf, size_t len)
{
    return p >= buf && p < buf + len;
}

static void
check_head(const char *buf, size_t head_len, const struct tg_http_head *h)
{
    size_t i;
    const char *p;

    invariant(inside(h->method, buf, head_len) && inside(h->target, buf, head_len),
              "request line outside the head");
    invariant(h->minor == 0 || h->minor == 1, "minor version not 0 or 1");
    invariant(h->n_fields <= MAX_FIELDS, "more fields than room");
    invariant(!(h->chunked && h->has_length), "both chunked and Content-Length");
    invariant(!h->chunked || h->minor == 1, "chunked in HTTP/1.0");
    invariant(h->content_length < (UINT64_C(1) << 62), "Content-Length past 2^62");
    for (i = 0; i < h->n_fields; i++) {
        const struct tg_http_field *f = &h->fields[i];

        invariant(inside(f->name, buf, head_len) && inside(f->value, buf, head_len),
                  "field outside the head");
        invariant(f->name[0] != '\0', "empty field name");
        for (p = f->value; *p != '\0'; p++)
            invariant(((uint8_t)*p >= 0x20 && *p != 0x7f) || *p == '\t',
                      "CTL in a field value");
        invariant(*f->value != ' ' && *f->value != '\t', "leading whitespace in a value");
        invariant(p == f->value || (p[-1] != ' ' && p[-1] != '\t'),
                  "trailing whitespace in a value");
    }
    invariant(tg_http_head_field(h, "host") != NULL || h->minor == 0,
              "HTTP/1.1 without Host");
}

/* Returns where the body starts when a head parsed, else 0. */
static size_t
fuzz_head(const uint8_t *data, size_t size)
{
    char *buf = NULL;
    struct tg_http_field fields[MAX_FIELDS];
    struct tg_http_head h;
    enum tg_http_parse_rc rc, rc2 = TG_HTTP_PARSE_MORE;
    size_t scan = 0, head_len = 0, head_len2 = 0, len = 0, body = 0;

    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        abort();
    if (size > 0)
        memcpy(buf, data, size);
    rc = tg_http_head_end(buf, size, MAX_HEAD, &scan, &head_len);
    invariant(memcmp(buf, data, size) == 0, "head_end wrote to the buffer");

    /* The same bytes arriving in pieces. */
    scan = 0;
    while (rc2 == TG_HTTP_PARSE_MORE && len < size) {
        len += piece(data, size, len);
        rc2 = tg_http_head_end(buf, len, MAX_HEAD, &scan, &head_len2);
        invariant(rc2 != TG_HTTP_PARSE_MORE || scan <= len, "scan past the bytes");
    }
    if (size == 0)
        rc2 = tg_http_head_end(buf, 0, MAX_HEAD, &scan, &head_len2);
    invariant(rc == rc2, "head_end differs when fed in pieces");
    invariant(rc != TG_HTTP_PARSE_OK || head_len == head_len2,
              "head_end length differs when fed in pieces");

    if (rc == TG_HTTP_PARSE_OK) {
        invariant(head_len > 0 && head_len <= size, "head_len outside the input");
        invariant(buf[head_len - 1] == '\n', "head does not end with LF");
        if (tg_http_head_parse(buf, head_len, fields, MAX_FIELDS, &h) == TG_HTTP_PARSE_OK) {
            check_head(buf, head_len, &h);
            body = head_len;
        }
    }
    free(buf);
    return body;
}

struct decoded {
    enum tg_http_parse_rc rc;
    size_t used;
    struct tg_buf out;
};

static void
decode(const uint8_t *in, size_t n, size_t cap, int split, struct decoded *d)
{
    struct tg_http_chunked st;
    size_t off = 0, used, k;

    memset(&st, 0, sizeof(st));
    tg_buf_init(&d->out, cap);
    d->used = 0;
    d->rc = TG_HTTP_PARSE_MORE;
    do {
        if (n == 0)
            k = 0;
        else
            k = split ? piece(in, n, off) : n - off;
        used = 0;
        d->rc = tg_http_chunked_decode(&st, in + off, k, &d->out, &used);
        invariant(used <= k, "chunked used more than it was given");
        invariant(d->rc != TG_HTTP_PARSE_MORE || used == k, "MORE without using all");
        invariant(d->rc != TG_HTTP_PARSE_OK || st.done, "OK but not done");
        d->used += used;
        off += k;
    } while (d->rc == TG_HTTP_PARSE_MORE && off < n);
    invariant(d->out.len <= cap, "body past its cap");
    if (d->rc == TG_HTTP_PARSE_OK) {
        /* Done is done: nothing more is taken. */
        invariant(tg_http_chunked_decode(&st, in, n, &d->out, &used) == TG_HTTP_PARSE_OK &&
                      used == 0,
                  "a finished decoder took more");
    }
}

/* One call and pieces agree on everything, errors included: chunk data is
 * appended as soon as it is seen, and an over-cap size fails before any of
 * its data, so even a failed decode leaves the same body behind. */
static void
fuzz_chunked(const uint8_t *in, size_t n, size_t cap)
{
    struct decoded a, b;

    decode(in, n, cap, 0, &a);
    decode(in, n, cap, 1, &b);
    invariant(a.rc == b.rc, "chunked result differs when fed in pieces");
    invariant(a.used == b.used, "chunked bytes used differ when fed in pieces");
    invariant(a.out.len == b.out.len &&
                  (a.out.len == 0 || memcmp(a.out.p, b.out.p, a.out.len) == 0),
              "chunked body differs when fed in pieces");
    tg_buf_reset(&a.out);
    tg_buf_reset(&b.out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t body = fuzz_head(data, size);

    fuzz_chunked(data, size, 1 << 16);
    fuzz_chunked(data, size, 16);
    if (body > 0) {
        fuzz_chunked(data + body, size - body, 1 << 16);
        fuzz_chunked(data + body, size - body, 16);
    }
    return 0;
}
