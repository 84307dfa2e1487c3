/* HTTP/1.1 request parsing (RFC 9112): the request head, parsed in place,
 * and the chunked transfer coding of a request body. Pure: no I/O, no
 * allocation; the server (server.c) feeds it the bytes it has read. */
#ifndef TG_HTTP_PARSE_H
#define TG_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum tg_http_parse_rc {
    TG_HTTP_PARSE_OK = 0,
    TG_HTTP_PARSE_MORE,          /* incomplete: read more and call again */
    TG_HTTP_PARSE_BAD,           /* malformed: 400, then close */
    TG_HTTP_PARSE_TOO_LARGE,     /* head over its limit: 431; chunked body over its cap: 413 */
    TG_HTTP_PARSE_VERSION,       /* not HTTP/1.x: 505 */
    TG_HTTP_PARSE_UNSUPPORTED,   /* a transfer coding other than chunked: 501 */
    TG_HTTP_PARSE_EXPECTATION,   /* an Expect other than 100-continue: 417 */
};

/* One header field; both strings are NUL-terminated inside the parsed
 * buffer. The value has no leading or trailing whitespace. */
struct tg_http_field {
    const char *name, *value;
    size_t name_len; /* strlen(name), for lookups that compare lengths first */
};

struct tg_http_head {
    const char *method;     /* a token (RFC 9110 §9), case as sent */
    const char *target;     /* the request-target as sent */
    int minor;              /* HTTP/1.<minor>: 0 or 1 (1.2 and up read as 1) */
    struct tg_http_field *fields; /* the caller's array */
    size_t n_fields;
    /* Message framing (RFC 9112 §6.3) and connection handling (§9.3). */
    int chunked;            /* Transfer-Encoding: chunked */
    int has_length;         /* Content-Length present */
    uint64_t content_length;
    int keep_alive;         /* 1.1 without "close"; 1.0 with "keep-alive" */
    int expect_continue;    /* Expect: 100-continue */
};

/* Looks for the end of a request head in buf[0..len): the empty line after
 * the fields. Empty lines before the request line (RFC 9112 §2.2) count as
 * part of the head. `*scan` (start at 0 for a new head) remembers how far an
 * earlier call got, so feeding a head in pieces stays linear. Returns OK
 * with *head_len = bytes up to and including the empty line; MORE when not
 * there yet; TOO_LARGE when the head would exceed `max` bytes (counting
 * from the request line; leading empty lines excluded), or when the leading
 * empty lines alone exceed `max` (so a peer cannot send them for ever).
 * Does not modify buf. */
enum tg_http_parse_rc tg_http_head_end(const char *buf, size_t len, size_t max, size_t *scan,
                                       size_t *head_len);

/* Parses a complete head (buf[0..head_len), as found by tg_http_head_end)
 * in place: NUL-terminates the method, target, field names and values in
 * buf. Fields go into fields[0..max_fields); more than that is TOO_LARGE.
 * Returns OK, BAD, TOO_LARGE, VERSION, UNSUPPORTED or EXPECTATION; on
 * anything but OK, *out is unspecified. */
/* 1 when s is a non-empty RFC 9110 §5.6.2 token (header names, methods). */
int tg_http_is_token(const char *s);

enum tg_http_parse_rc tg_http_head_parse(char *buf, size_t head_len, struct tg_http_field *fields,
                                         size_t max_fields, struct tg_http_head *out);

/* Case-insensitive lookup in a parsed head: the first value, or NULL. */
const char *tg_http_head_field(const struct tg_http_head *h, const char *name);

/* Incremental decoder of the chunked transfer coding (RFC 9112 §7.1).
 * Zero it (memset) for each body. */
struct tg_http_chunked {
    int state;
    uint64_t remaining;     /* bytes left in the current chunk */
    size_t line;            /* bytes of the current size or trailer line */
    size_t trailer;         /* bytes of trailer section so far */
    int done;               /* the last chunk and the trailer section were read */
};

/* Decodes in[0..n): chunk data is appended to `out` (its cap is the body
 * limit: going past it is TOO_LARGE, 413); *used = bytes of in consumed.
 * Returns OK once the body is complete (st->done = 1; *used may be less
 * than n: the rest belongs to the next request), MORE when all of in was
 * consumed and more is needed, BAD when malformed. Lines end with CRLF only
 * (a bare LF is BAD); a size line (size, extensions, CRLF) over 4096 bytes
 * is BAD; a trailer section over 8192 bytes is TOO_LARGE, and so is a chunk
 * size that `out` could not take, before any of its data; an allocation
 * failure in `out` is BAD. The result does not depend on how the input is
 * split across calls. After BAD or TOO_LARGE (*used = bytes before the
 * offending one) every call returns the same; after OK, OK with *used = 0. */
enum tg_http_parse_rc tg_http_chunked_decode(struct tg_http_chunked *st, const uint8_t *in,
                                             size_t n, struct tg_buf *out, size_t *used);

#endif
