/* HTTP/1.1 request parsing (RFC 9112): where a request head ends, the head
 * parsed in place, and the chunked transfer coding. Strict where a lenient
 * reading could frame a message differently from a proxy in front of us
 * (request smuggling): one Content-Length, Transfer-Encoding ending in
 * chunked and never with Content-Length, no obs-fold, no whitespace before
 * a field's colon, no bare CR. Pure: no I/O; the only allocation is the
 * caller's tg_buf for chunk data. */
#include "http/parse.h"

#include <string.h>

/* Byte classes, one table lookup per byte. */
enum {
    C_TCHAR = 0x01,  /* RFC 9110 §5.6.2 tchar */
    C_VCHAR = 0x02,  /* RFC 5234 VCHAR %x21-7E: request-target bytes */
    C_FIELD = 0x04,  /* RFC 9110 §5.5 field-vchar, obs-text, SP, HTAB */
    C_QDTEXT = 0x08, /* RFC 9110 §5.6.4 qdtext */
    C_HEX = 0x10,    /* RFC 5234 HEXDIG (either case) */
    C_HOST = 0x20,   /* RFC 3986 §3.2.2-3 host and port bytes, "[" "]" ":" */
};

static const uint8_t cls[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0c, 0x2f, 0x06, 0x0f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2e, 0x2e, 0x2f, 0x2f, 0x2e, 0x2f, 0x2f, 0x0e,
    0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x2e, 0x2e, 0x0e, 0x2e, 0x0e, 0x0e,
    0x0e, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f,
    0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2e, 0x06, 0x2e, 0x0f, 0x2f,
    0x0f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f,
    0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x0e, 0x0f, 0x0e, 0x2f, 0x00,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
};

static int
is(uint8_t c, int class)
{
    return (cls[c] & class) != 0;
}

/* RFC 9110 §5.6.3: OWS = *( SP / HTAB ) */
static int
is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* End of the run of `class` bytes in p[i..len). */
static size_t
span(const char *p, size_t len, size_t i, int class)
{
    while (i < len && is((uint8_t)p[i], class))
        i++;
    return i;
}

int
tg_http_is_token(const char *s)
{
    size_t n;

    if (s == NULL || *s == '\0')
        return 0;
    n = strlen(s);
    return span(s, n, 0, C_TCHAR) == n;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* span(p, len, i, C_FIELD), 8 bytes at a time while none of them can be
 * outside the class (a byte below 0x20 or a DEL: the classic "has a byte
 * less than n" and "has a byte equal to n" word tests, counting only the
 * bytes below 0x80); such a word, or a false alarm, goes through span.
 * Field values are most of a head (tokens, proofs). */
static size_t
field_value_span(const char *p, size_t len, size_t i)
{
    uint64_t w, low, del;

    while (len - i >= sizeof(w)) {
        memcpy(&w, p + i, sizeof(w));
        low = (w - ONES * 0x20) & ~w;
        del = ((w ^ (ONES * 0x7f)) - ONES) & ~(w ^ (ONES * 0x7f));
        if (((low | del) & HIGHS) != 0)
            break;
        i += sizeof(w);
    }
    return span(p, len, i, C_FIELD);
}

static uint8_t
lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive: p[0..n) against a lowercase literal. Field names
 * and codings are case-insensitive (RFC 9110 §5.1, §10.1.4); no locale. */
static int
eq_ci(const char *p, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (lit[i] == '\0' || lower((uint8_t)p[i]) != (uint8_t)lit[i])
            return 0;
    }
    return lit[n] == '\0';
}

/* ---------------------------------------------------------------------- */
/* Where the head ends                                                     */

/* RFC 9112 §2.2: a server SHOULD ignore empty lines (CRLF, or a bare LF)
 * received before the request-line. Returns where the request line starts. */
static size_t
skip_empty_lines(const char *buf, size_t len)
{
    size_t i = 0;

    for (;;) {
        if (i < len && buf[i] == '\n')
            i += 1;
        else if (len - i >= 2 && buf[i] == '\r' && buf[i + 1] == '\n')
            i += 2;
        else
            return i;
    }
}

/* Is the line ending with the LF at buf[i] empty (LF or CRLF alone)?
 * RFC 9112 §2.2: a recipient MAY take a bare LF as a line terminator. */
static int
line_is_empty(const char *buf, size_t i, size_t *start)
{
    if (i == 0 || buf[i - 1] == '\n') {
        *start = i;
        return 1;
    }
    if (buf[i - 1] == '\r' && (i == 1 || buf[i - 2] == '\n')) {
        *start = i - 1;
        return 1;
    }
    return 0;
}

/* The LF at buf[i] ends the head when its line is empty and the line before
 * it is not: that one is the request line or a field line. Empty lines
 * after empty lines are the ones before the request line (the scan stops at
 * the first empty line after a non-empty one), so looking back two lines
 * is enough and a resumed scan needs no other state. */
static int
ends_head(const char *buf, size_t i)
{
    size_t start, prev;

    if (!line_is_empty(buf, i, &start))
        return 0;
    return start > 0 && !line_is_empty(buf, start - 1, &prev);
}

enum tg_http_parse_rc
tg_http_head_end(const char *buf, size_t len, size_t max, size_t *scan, size_t *head_len)
{
    size_t pos = *scan <= len ? *scan : 0, lim = len, start = 0;
    const char *nl;

    /* Only a buffer longer than max can be over it: only then find where the
     * request line starts, reading at most max + 2 bytes of empty lines.
     * Empty lines beyond max are TOO_LARGE too, or a peer could send them
     * for ever. Past start + max, any end found would be too far anyway. */
    if (len > max) {
        start = skip_empty_lines(buf, len - max >= 2 ? max + 2 : len);
        if (start > max)
            return TG_HTTP_PARSE_TOO_LARGE;
        if (len - start > max)
            lim = start + max;
    }
    while (pos < lim && (nl = memchr(buf + pos, '\n', lim - pos)) != NULL) {
        size_t i = (size_t)(nl - buf);

        if (ends_head(buf, i)) {
            *head_len = i + 1;
            return TG_HTTP_PARSE_OK;
        }
        pos = i + 1;
    }
    if (lim < len)
        return TG_HTTP_PARSE_TOO_LARGE;
    *scan = len;
    return TG_HTTP_PARSE_MORE;
}

/* ---------------------------------------------------------------------- */
/* The head                                                                */

/* What the fields say about framing and the connection, gathered while
 * they are read and judged once all are in. */
struct framing {
    int hosts, lengths;
    uint64_t length;
    int te;           /* a Transfer-Encoding field was seen */
    int te_chunked;   /* chunked was seen */
    int te_last;      /* the last coding so far is chunked */
    int te_other;     /* a coding other than chunked was seen */
    int close, keep_alive;
    int expect;       /* 100-continue */
    int expect_other; /* any other expectation: 417 once the rest is sound */
};

/* Next line of buf[*pos..end): its content without the terminator (CRLF or
 * a bare LF, RFC 9112 §2.2). 0 when there is no terminated line left. Any
 * other CR stays in the line, where no byte class admits it: a bare CR is
 * 400 (§2.2 allows 400 or reading it as SP), and so is NUL. */
static int
next_line(char *buf, size_t end, size_t *pos, char **line, size_t *len)
{
    char *nl = memchr(buf + *pos, '\n', end - *pos);
    size_t n;

    if (nl == NULL)
        return 0;
    n = (size_t)(nl - (buf + *pos));
    if (n > 0 && nl[-1] == '\r')
        n--;
    *line = buf + *pos;
    *len = n;
    *pos = (size_t)(nl - buf) + 1;
    return 1;
}

/* RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, HTTP-name =
 * %s"HTTP" (case-sensitive). A major version other than 1 is 505 (RFC 9110
 * §15.6.6); a later 1.x minor is answered as 1.1 (RFC 9110 §6.2). */
static enum tg_http_parse_rc
parse_version(const char *p, size_t len, int *minor)
{
    if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.')
        return TG_HTTP_PARSE_BAD;
    if (p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
        return TG_HTTP_PARSE_BAD;
    if (p[5] != '1')
        return TG_HTTP_PARSE_VERSION;
    *minor = p[7] == '0' ? 0 : 1;
    return TG_HTTP_PARSE_OK;
}

/* RFC 9112 §3: request-line = method SP request-target SP HTTP-version,
 * exactly one SP each (no other whitespace, §3 last paragraph); method =
 * token (RFC 9110 §9.1). The request-target (§3.2) is read as one or more
 * VCHAR: any form's bytes are a subset, and CTL, SP and bytes >= 0x80 are
 * rejected, not guessed at. */
static enum tg_http_parse_rc
parse_request_line(char *p, size_t len, struct tg_http_head *out)
{
    size_t m, t, e;

    m = span(p, len, 0, C_TCHAR);
    if (m == 0 || m == len || p[m] != ' ')
        return TG_HTTP_PARSE_BAD;
    t = m + 1;
    e = span(p, len, t, C_VCHAR);
    if (e == t || e == len || p[e] != ' ')
        return TG_HTTP_PARSE_BAD;
    p[m] = '\0';
    p[e] = '\0';
    out->method = p;
    out->target = p + t;
    return parse_version(p + e + 1, len - e - 1, &out->minor);
}

/* RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. The name is
 * a token right before the colon: whitespace there is 400 (§5.1), and so is
 * a line starting with SP or HTAB (obs-fold, §5.2), whose name is empty.
 * field-value (RFC 9110 §5.5) = field-vchar, obs-text, and SP/HTAB inside:
 * any other CTL (NUL, CR, DEL, ...) is 400 (RFC 9110 §5.5 last paragraph). */
static enum tg_http_parse_rc
parse_field_line(char *p, size_t len, struct tg_http_field *f, size_t *vlen)
{
    size_t n, vs, ve;

    n = span(p, len, 0, C_TCHAR);
    if (n == 0 || n == len || p[n] != ':')
        return TG_HTTP_PARSE_BAD;
    vs = n + 1;
    ve = len;
    while (vs < ve && is_ows((uint8_t)p[vs]))
        vs++;
    while (ve > vs && is_ows((uint8_t)p[ve - 1]))
        ve--;
    if (field_value_span(p, ve, vs) != ve)
        return TG_HTTP_PARSE_BAD;
    /* p[len] is the line's CR or LF, so p[ve] is inside the head. */
    p[n] = '\0';
    p[ve] = '\0';
    f->name = p;
    f->name_len = n;
    f->value = p + vs;
    *vlen = ve - vs;
    return TG_HTTP_PARSE_OK;
}

/* RFC 9110 §5.6.1: #element = [ element ] *( OWS "," OWS [ element ] ):
 * skips OWS and empty elements; 0 at the end of the list. */
static int
list_next(const char *v, size_t len, size_t *i)
{
    while (*i < len && (is_ows((uint8_t)v[*i]) || v[*i] == ','))
        (*i)++;
    return *i < len;
}

/* After an element: OWS, then "," or the end. */
static int
list_sep(const char *v, size_t len, size_t *i)
{
    while (*i < len && is_ows((uint8_t)v[*i]))
        (*i)++;
    return *i == len || v[*i] == ',';
}

/* RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE,
 * quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ). */
static int
skip_quoted(const char *v, size_t len, size_t *i)
{
    size_t j = *i + 1;

    while (j < len) {
        uint8_t c = (uint8_t)v[j];

        if (c == '"') {
            *i = j + 1;
            return 1;
        }
        if (c == '\\') {
            if (j + 1 == len || !is((uint8_t)v[j + 1], C_FIELD))
                return 0;
            j += 2;
        } else if (is(c, C_QDTEXT)) {
            j++;
        } else {
            return 0;
        }
    }
    return 0;
}

/* RFC 9110 §10.1.4: transfer-coding = token *( OWS ";" OWS
 * transfer-parameter ), transfer-parameter = token BWS "=" BWS ( token /
 * quoted-string ). Returns the number of parameters, or -1 when malformed. */
static int
skip_parameters(const char *v, size_t len, size_t *i)
{
    int n = 0;

    for (;;) {
        size_t j = *i, s;

        while (j < len && is_ows((uint8_t)v[j]))
            j++;
        if (j == len || v[j] != ';')
            return n;
        j++;
        while (j < len && is_ows((uint8_t)v[j]))
            j++;
        s = j;
        j = span(v, len, j, C_TCHAR);
        if (j == s)
            return -1;
        while (j < len && is_ows((uint8_t)v[j]))
            j++;
        if (j == len || v[j] != '=')
            return -1;
        j++;
        while (j < len && is_ows((uint8_t)v[j]))
            j++;
        if (j < len && v[j] == '"') {
            if (!skip_quoted(v, len, &j))
                return -1;
        } else {
            s = j;
            j = span(v, len, j, C_TCHAR);
            if (j == s)
                return -1;
        }
        *i = j;
        n++;
    }
}

/* RFC 9112 §6.1: Transfer-Encoding = #transfer-coding. Several fields make
 * one list (RFC 9110 §5.3). Chunked must come last and once (§6.1: a sender
 * MUST NOT apply it more than once; §6.3 item 4: otherwise 400), and takes
 * no parameters (§7). */
static enum tg_http_parse_rc
field_te(const char *v, size_t len, struct framing *fr)
{
    size_t i = 0;

    fr->te = 1;
    while (list_next(v, len, &i)) {
        size_t s = i;
        int chunked, params;

        i = span(v, len, i, C_TCHAR);
        if (i == s)
            return TG_HTTP_PARSE_BAD;
        chunked = eq_ci(v + s, i - s, "chunked");
        params = skip_parameters(v, len, &i);
        if (params < 0 || !list_sep(v, len, &i))
            return TG_HTTP_PARSE_BAD;
        if (chunked && (params > 0 || fr->te_chunked))
            return TG_HTTP_PARSE_BAD;
        fr->te_chunked |= chunked;
        fr->te_other |= !chunked;
        fr->te_last = chunked;
    }
    return TG_HTTP_PARSE_OK;
}

/* RFC 9112 §6.2: Content-Length = 1*DIGIT: no sign, no list; 18 digits
 * (leading zeros aside) keep it below 2^62. */
static enum tg_http_parse_rc
field_length(const char *v, size_t len, struct framing *fr)
{
    size_t i, digits = 0;
    uint64_t n = 0;

    fr->lengths++;
    if (len == 0)
        return TG_HTTP_PARSE_BAD;
    for (i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return TG_HTTP_PARSE_BAD;
        if (n == 0 && v[i] == '0')
            continue;
        if (++digits > 18)
            return TG_HTTP_PARSE_BAD;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    fr->length = n;
    return TG_HTTP_PARSE_OK;
}

/* RFC 9110 §7.6.1: Connection = #connection-option, connection-option =
 * token, case-insensitive; RFC 9112 §9.3 reads "close" and "keep-alive". */
static enum tg_http_parse_rc
field_connection(const char *v, size_t len, struct framing *fr)
{
    size_t i = 0;

    while (list_next(v, len, &i)) {
        size_t s = i, e;

        e = i = span(v, len, i, C_TCHAR);
        if (e == s || !list_sep(v, len, &i))
            return TG_HTTP_PARSE_BAD;
        if (eq_ci(v + s, e - s, "close"))
            fr->close = 1;
        else if (eq_ci(v + s, e - s, "keep-alive"))
            fr->keep_alive = 1;
    }
    return TG_HTTP_PARSE_OK;
}

/* RFC 9110 §10.1.1: Expect = #expectation; 100-continue (case-insensitive)
 * is the only one defined; any other may be answered with 417. An element
 * is read up to the next comma: a quoted comma only splits an expectation
 * that is not 100-continue into two that are not either. */
static enum tg_http_parse_rc
field_expect(const char *v, size_t len, struct framing *fr)
{
    size_t i = 0;

    while (list_next(v, len, &i)) {
        size_t s = i, e;

        while (i < len && v[i] != ',')
            i++;
        e = i;
        while (e > s && is_ows((uint8_t)v[e - 1]))
            e--;
        if (eq_ci(v + s, e - s, "100-continue"))
            fr->expect = 1;
        else
            fr->expect_other = 1;
    }
    return TG_HTTP_PARSE_OK;
}

/* RFC 9112 §3.2: Host = uri-host [ ":" port ] (RFC 9110 §7.2); an invalid
 * value is 400. Checked by bytes only: reg-name, IP literals and port. */
static enum tg_http_parse_rc
field_host(const char *v, size_t len, struct framing *fr)
{
    fr->hosts++;
    return span(v, len, 0, C_HOST) == len ? TG_HTTP_PARSE_OK : TG_HTTP_PARSE_BAD;
}

static enum tg_http_parse_rc
field_semantics(const struct tg_http_field *f, size_t vlen, struct framing *fr)
{
    size_t n = strlen(f->name);

    switch (n) {
    case 4:
        return eq_ci(f->name, n, "host") ? field_host(f->value, vlen, fr) : TG_HTTP_PARSE_OK;
    case 6:
        return eq_ci(f->name, n, "expect") ? field_expect(f->value, vlen, fr) : TG_HTTP_PARSE_OK;
    case 10:
        return eq_ci(f->name, n, "connection") ? field_connection(f->value, vlen, fr)
                                               : TG_HTTP_PARSE_OK;
    case 14:
        return eq_ci(f->name, n, "content-length") ? field_length(f->value, vlen, fr)
                                                   : TG_HTTP_PARSE_OK;
    case 17:
        return eq_ci(f->name, n, "transfer-encoding") ? field_te(f->value, vlen, fr)
                                                      : TG_HTTP_PARSE_OK;
    default:
        return TG_HTTP_PARSE_OK;
    }
}

/* RFC 9112 §6.3 (message body length) and §3.2 (Host), once all fields are
 * in. */
static enum tg_http_parse_rc
judge_framing(const struct framing *fr, struct tg_http_head *out)
{
    /* §3.2: a 1.1 request without Host, or any with more than one: 400. */
    if (fr->hosts > 1 || (out->minor == 1 && fr->hosts == 0))
        return TG_HTTP_PARSE_BAD;
    /* §6.3 item 5: several Content-Length fields are invalid, even when
     * equal: a proxy may have read another one (no list either, §6.2). */
    if (fr->lengths > 1)
        return TG_HTTP_PARSE_BAD;
    if (fr->te) {
        /* §6.1: Transfer-Encoding in 1.0 is a framing fault: 400. */
        if (out->minor == 0)
            return TG_HTTP_PARSE_BAD;
        /* §6.3 item 3 and §6.1: both is a smuggling attempt: 400. */
        if (fr->lengths > 0)
            return TG_HTTP_PARSE_BAD;
        /* §6.3 item 4: chunked not final (or absent) in a request: 400. */
        if (!fr->te_last)
            return TG_HTTP_PARSE_BAD;
        /* RFC 9110 §10.1.4 / §15.6.2: a coding we do not implement: 501. */
        if (fr->te_other)
            return TG_HTTP_PARSE_UNSUPPORTED;
        out->chunked = 1;
    }
    out->has_length = fr->lengths == 1;
    out->content_length = fr->lengths == 1 ? fr->length : 0;
    /* RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with
     * "keep-alive" (§C.2.2). */
    out->keep_alive = !fr->close && (out->minor == 1 || fr->keep_alive);
    /* RFC 9110 §10.1.1: a 100-continue in a 1.0 request MUST be ignored. */
    out->expect_continue = out->minor == 1 && fr->expect;
    return TG_HTTP_PARSE_OK;
}

enum tg_http_parse_rc
tg_http_head_parse(char *buf, size_t head_len, struct tg_http_field *fields, size_t max_fields,
                   struct tg_http_head *out)
{
    struct framing fr;
    enum tg_http_parse_rc rc;
    size_t pos, len, vlen;
    char *line;

    memset(&fr, 0, sizeof(fr));
    memset(out, 0, sizeof(*out));
    out->fields = fields;
    pos = skip_empty_lines(buf, head_len);
    if (!next_line(buf, head_len, &pos, &line, &len))
        return TG_HTTP_PARSE_BAD;
    rc = parse_request_line(line, len, out);
    if (rc != TG_HTTP_PARSE_OK)
        return rc;
    for (;;) {
        if (!next_line(buf, head_len, &pos, &line, &len))
            return TG_HTTP_PARSE_BAD;
        if (len == 0)
            break;
        if (out->n_fields == max_fields)
            return TG_HTTP_PARSE_TOO_LARGE;
        rc = parse_field_line(line, len, &fields[out->n_fields], &vlen);
        if (rc != TG_HTTP_PARSE_OK)
            return rc;
        rc = field_semantics(&fields[out->n_fields], vlen, &fr);
        if (rc != TG_HTTP_PARSE_OK)
            return rc;
        out->n_fields++;
    }
    /* The empty line ends the head: nothing may follow it inside head_len. */
    if (pos != head_len)
        return TG_HTTP_PARSE_BAD;
    rc = judge_framing(&fr, out);
    if (rc != TG_HTTP_PARSE_OK)
        return rc;
    /* RFC 9110 §10.1.1: 417 only once the rest of the head is sound. */
    return fr.expect_other ? TG_HTTP_PARSE_EXPECTATION : TG_HTTP_PARSE_OK;
}

const char *
tg_http_head_field(const struct tg_http_head *h, const char *name)
{
    size_t i, n = strlen(name);

    for (i = 0; i < h->n_fields; i++) {
        const char *f = h->fields[i].name;
        size_t j;

        for (j = 0; j < n && f[j] != '\0'; j++) {
            if (lower((uint8_t)f[j]) != lower((uint8_t)name[j]))
                break;
        }
        if (j == n && f[j] == '\0')
            return h->fields[i].value;
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* The chunked transfer coding (RFC 9112 §7.1)                              */
/*
 *   chunked-body   = *chunk last-chunk trailer-section CRLF
 *   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-size     = 1*HEXDIG
 *   last-chunk     = 1*("0") [ chunk-ext ] CRLF
 *   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-name = token
 *   chunk-ext-val  = token / quoted-string
 *   trailer-section = *( field-line CRLF )
 *
 * One state per place in this grammar, so that the input may be split
 * anywhere: a byte at a time gives what one call gives. Every line ends
 * with CRLF, and anything else is 400: RFC 9112 §2.2 lets a bare LF end the
 * start-line and fields only, and a chunk line that one parser ends at a
 * bare LF and another does not is a known way to smuggle a request. */

enum {
    CH_SIZE0,      /* first HEXDIG of chunk-size (no whitespace before it) */
    CH_SIZE,       /* more HEXDIG, or what may follow the size */
    CH_EXT_BWS,    /* BWS before ";" */
    CH_EXT_NAME0,  /* after ";": BWS, then the first tchar of chunk-ext-name */
    CH_EXT_NAME,   /* in chunk-ext-name */
    CH_EXT_EQ,     /* BWS after the name: "=" or ";" next */
    CH_EXT_VAL0,   /* after "=": BWS, then token or DQUOTE */
    CH_EXT_VAL,    /* in a token chunk-ext-val */
    CH_EXT_QUOTED, /* in a quoted-string chunk-ext-val */
    CH_EXT_QPAIR,  /* after "\" in it */
    CH_EXT_QEND,   /* after the closing DQUOTE */
    CH_SIZE_LF,    /* CR seen: LF ends the size line */
    CH_DATA,       /* chunk-data: `remaining` bytes */
    CH_DATA_CR,    /* CRLF after chunk-data */
    CH_DATA_LF,
    CH_TRAILER,    /* start of a trailer field line, or the final CRLF */
    CH_TR_NAME,    /* field-name up to ":" */
    CH_TR_VALUE,   /* field-value up to CRLF */
    CH_TR_LF,      /* CR seen after a field line */
    CH_END_LF,     /* CR of the final empty line seen */
    CH_DONE,
    CH_BAD,        /* sticky: a decoder that failed keeps failing */
    CH_TOO_LARGE,
};

/* A size line (size, extensions, CRLF) is bounded; so is the trailer
 * section. Both are headers in all but name. */
#define CH_MAX_SIZE_LINE 4096
#define CH_MAX_TRAILER 8192

static int
hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return lower(c) - 'a' + 10;
}

/* The LF of a size line: chunk-data follows, or the trailer section after
 * the last chunk. A size beyond what `out` may still take fails now, not
 * after the peer sent it all. */
static int
size_line_end(struct tg_http_chunked *st, const struct tg_buf *out)
{
    st->line = 0;
    if (st->remaining == 0)
        return CH_TRAILER;
    if (st->remaining > out->cap - out->len)
        return CH_TOO_LARGE;
    return CH_DATA;
}

/* After the size or an extension: BWS, ";", or the CR ending the line. */
static int
ext_next(uint8_t c)
{
    switch (c) {
    case ' ':
    case '\t':
        return CH_EXT_BWS;
    case ';':
        return CH_EXT_NAME0;
    case '\r':
        return CH_SIZE_LF;
    default:
        return CH_BAD;
    }
}

/* One byte of a size line. */
static int
size_line_byte(struct tg_http_chunked *st, uint8_t c, const struct tg_buf *out)
{
    if (++st->line > CH_MAX_SIZE_LINE)
        return CH_BAD;
    switch (st->state) {
    case CH_SIZE0:
        if (!is(c, C_HEX))
            return CH_BAD;
        st->remaining = (uint64_t)hex_value(c);
        return CH_SIZE;
    case CH_SIZE:
        if (!is(c, C_HEX))
            return ext_next(c);
        /* At most 2^62 - 1: 16 significant hex digits overflow sooner. */
        if (st->remaining >= (UINT64_C(1) << 58))
            return CH_BAD;
        st->remaining = st->remaining << 4 | (uint64_t)hex_value(c);
        return CH_SIZE;
    case CH_EXT_BWS:
        if (is_ows(c))
            return CH_EXT_BWS;
        return c == ';' ? CH_EXT_NAME0 : CH_BAD;
    case CH_EXT_NAME0:
        if (is_ows(c))
            return CH_EXT_NAME0;
        return is(c, C_TCHAR) ? CH_EXT_NAME : CH_BAD;
    case CH_EXT_NAME:
        if (is(c, C_TCHAR))
            return CH_EXT_NAME;
        if (is_ows(c))
            return CH_EXT_EQ;
        return c == '=' ? CH_EXT_VAL0 : ext_next(c);
    case CH_EXT_EQ:
        if (is_ows(c))
            return CH_EXT_EQ;
        if (c == '=')
            return CH_EXT_VAL0;
        return c == ';' ? CH_EXT_NAME0 : CH_BAD;
    case CH_EXT_VAL0:
        if (is_ows(c))
            return CH_EXT_VAL0;
        if (c == '"')
            return CH_EXT_QUOTED;
        return is(c, C_TCHAR) ? CH_EXT_VAL : CH_BAD;
    case CH_EXT_VAL:
        return is(c, C_TCHAR) ? CH_EXT_VAL : ext_next(c);
    case CH_EXT_QUOTED:
        if (c == '"')
            return CH_EXT_QEND;
        if (c == '\\')
            return CH_EXT_QPAIR;
        return is(c, C_QDTEXT) ? CH_EXT_QUOTED : CH_BAD;
    case CH_EXT_QPAIR:
        return is(c, C_FIELD) ? CH_EXT_QUOTED : CH_BAD;
    case CH_EXT_QEND:
        return ext_next(c);
    case CH_SIZE_LF:
        return c == '\n' ? size_line_end(st, out) : CH_BAD;
    default:
        return CH_BAD;
    }
}

/* One byte of the trailer section: field lines (RFC 9112 §7.1.2), read for
 * their syntax and dropped, then the empty line. Too long is TOO_LARGE. */
static int
trailer_byte(struct tg_http_chunked *st, uint8_t c)
{
    if (++st->trailer > CH_MAX_TRAILER)
        return CH_TOO_LARGE;
    switch (st->state) {
    case CH_TRAILER:
        if (c == '\r')
            return CH_END_LF;
        /* A name is a token: no obs-fold, no empty name (RFC 9112 §5). */
        return is(c, C_TCHAR) ? CH_TR_NAME : CH_BAD;
    case CH_TR_NAME:
        if (is(c, C_TCHAR))
            return CH_TR_NAME;
        return c == ':' ? CH_TR_VALUE : CH_BAD;
    case CH_TR_VALUE:
        if (c == '\r')
            return CH_TR_LF;
        return is(c, C_FIELD) ? CH_TR_VALUE : CH_BAD;
    case CH_TR_LF:
        return c == '\n' ? CH_TRAILER : CH_BAD;
    case CH_END_LF:
        return c == '\n' ? CH_DONE : CH_BAD;
    default:
        return CH_BAD;
    }
}

/* chunk-data: as much of the chunk as `in` holds, in one append. */
static enum tg_http_parse_rc
chunk_data(struct tg_http_chunked *st, const uint8_t *in, size_t n, struct tg_buf *out,
           size_t *i)
{
    size_t k = n - *i;
    enum tg_err err;

    if ((uint64_t)k > st->remaining)
        k = (size_t)st->remaining;
    err = tg_buf_append(out, in + *i, k);
    if (err != TG_OK) {
        st->state = err == TG_ERR_TOO_LARGE ? CH_TOO_LARGE : CH_BAD;
        return err == TG_ERR_TOO_LARGE ? TG_HTTP_PARSE_TOO_LARGE : TG_HTTP_PARSE_BAD;
    }
    *i += k;
    st->remaining -= k;
    if (st->remaining == 0)
        st->state = CH_DATA_CR;
    return TG_HTTP_PARSE_MORE;
}

static int
data_end_byte(struct tg_http_chunked *st, uint8_t c)
{
    switch (st->state) {
    case CH_DATA_CR:
        return c == '\r' ? CH_DATA_LF : CH_BAD;
    case CH_DATA_LF:
        return c == '\n' ? CH_SIZE0 : CH_BAD;
    default:
        return CH_BAD;
    }
}

enum tg_http_parse_rc
tg_http_chunked_decode(struct tg_http_chunked *st, const uint8_t *in, size_t n,
                       struct tg_buf *out, size_t *used)
{
    size_t i = 0;
    enum tg_http_parse_rc rc;

    *used = 0;
    if (st->done)
        return TG_HTTP_PARSE_OK;
    if (st->state == CH_BAD)
        return TG_HTTP_PARSE_BAD;
    if (st->state == CH_TOO_LARGE)
        return TG_HTTP_PARSE_TOO_LARGE;
    while (i < n) {
        switch (st->state) {
        case CH_DATA:
            rc = chunk_data(st, in, n, out, &i);
            if (rc != TG_HTTP_PARSE_MORE) {
                *used = i;
                return rc;
            }
            continue;
        case CH_DATA_CR:
        case CH_DATA_LF:
            st->state = data_end_byte(st, in[i]);
            break;
        case CH_TRAILER:
        case CH_TR_NAME:
        case CH_TR_VALUE:
        case CH_TR_LF:
        case CH_END_LF:
            st->state = trailer_byte(st, in[i]);
            break;
        default:
            st->state = size_line_byte(st, in[i], out);
            break;
        }
        switch (st->state) {
        case CH_DONE:
            st->done = 1;
            *used = i + 1;
            return TG_HTTP_PARSE_OK;
        case CH_BAD:
            *used = i;
            return TG_HTTP_PARSE_BAD;
        case CH_TOO_LARGE:
            *used = i;
            return TG_HTTP_PARSE_TOO_LARGE;
        default:
            i++;
            break;
        }
    }
    *used = n;
    return TG_HTTP_PARSE_MORE;
}
