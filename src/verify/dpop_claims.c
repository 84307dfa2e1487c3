/* A DPoP proof's claims set (RFC 9449 §4.2, a JSON object per RFC 7519
 * §7.2 step 10), read in one pass over the payload without allocating.
 *
 * The grammar is RFC 8259's; where jansson 2.14 (json_loadb with
 * JSON_REJECT_DUPLICATES, then json_is_object) departs from it or the RFC
 * leaves a choice, the parser does what jansson does, so that the bytes a
 * client signed mean one thing to every reader in Tollgate:
 *
 *   - the top-level value must be an object or an array (jansson without
 *     JSON_DECODE_ANY); an array is well-formed but not a claims set;
 *   - whitespace is RFC 8259 §2's four characters; any byte after the
 *     value and its trailing whitespace is refused, a NUL byte included;
 *   - strings are UTF-8 (RFC 8259 §8.1) with jansson's strict decoder: no
 *     overlong forms, no surrogates, nothing past U+10FFFF, no truncated
 *     sequence; bytes below 0x20 are refused, 0x7F is not;
 *   - \u escapes: a high surrogate must be followed by a \u low surrogate, a
 *     lone low one is refused, and \u0000 is refused in names and values
 *     (no JSON_ALLOW_NUL);
 *   - duplicate names are refused in every object at any depth, compared
 *     after escapes are resolved (JSON_REJECT_DUPLICATES);
 *   - an integer (no fraction, no exponent) must fit json_int_t (long
 *     long): strtoll's ERANGE is a failure; any other number is a double
 *     from strtod, refused when it overflows to +-HUGE_VAL and kept (0 or
 *     subnormal) when it underflows;
 *   - nesting: a value may sit at most JSON_PARSER_MAX_DEPTH (2048) deep,
 *     counting itself: 2048 empty arrays nest, 2048 around a number do not;
 *   - jansson reads one byte past a number or a literal and pushes it back;
 *     a pushed-back NUL byte is lost (its one-byte lookahead takes NUL as
 *     "empty"), so exactly one NUL right after a number, true, false or
 *     null is skipped: {"a":1<NUL>} is accepted.
 *
 * Only the top-level members tg_dpop_verify reads are kept (struct
 * tg_dpop_claims). Everything lives on the stack: the names of the open
 * objects (for the duplicate check) and the container stack are bounded by
 * TG_DPOP_CLAIMS_MAX. */
#include "verify/dpop_claims.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "jose/jwt.h"

/* jansson's JSON_PARSER_MAX_DEPTH (jansson_config.h, 2.14). */
#define DEPTH_MAX 2048
/* Names of the open objects. Every name but the last one read is followed
 * by ':' and a value (at least 4 bytes in all), so a payload of n bytes has
 * fewer than n / 4 + 1 of them. */
#define KEYS_MAX (TG_DPOP_CLAIMS_MAX / 4 + 1)
#define LEVEL_ARRAY 0xffffu
#define KEY_ESCAPED 0x8000u

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u

_Static_assert(TG_DPOP_CLAIMS_MAX < KEY_ESCAPED, "key offsets and lengths fit 15 bits");
_Static_assert(KEYS_MAX < LEVEL_ARRAY, "key indexes below the array mark");

/* A name of an open object: where its raw text is and a hash of its
 * decoded bytes (FNV-1a), so that most comparisons stop at the hash. */
struct key {
    uint16_t off; /* first byte after the opening quote */
    uint16_t raw; /* raw length, | KEY_ESCAPED when it holds a backslash */
    uint32_t hash;
};

enum member {
    MEMBER_NONE = -1,
    /* 0 .. TG_DPOP_CLAIM__COUNT - 1: enum tg_dpop_claim */
    MEMBER_IAT = TG_DPOP_CLAIM__COUNT,
};

enum state {
    ST_VALUE, /* a value starts here (whitespace skipped) */
    ST_NAME,  /* a member name starts here (whitespace skipped) */
    ST_AFTER, /* a value ended: ',' or the container's end */
    ST_DONE,
    ST_FAIL,
};

struct parser {
    const uint8_t *base, *cur, *end;
    struct tg_dpop_claims *out;
    size_t used;           /* bytes of out->store taken */
    enum member member;    /* the value about to be read belongs to this claim */
    int top_object;        /* the top-level value is an object */
    enum tg_err err;       /* on ST_FAIL */
    const char *why;       /* on ST_FAIL, for the log */
    size_t depth;          /* open containers */
    size_t n_keys;
    uint16_t level[DEPTH_MAX]; /* per open container: LEVEL_ARRAY, or the
                                  index of its object's first name */
    struct key keys[KEYS_MAX];
};

static enum state
fail(struct parser *ps, enum tg_err err, const char *why)
{
    ps->err = err;
    ps->why = why;
    return ST_FAIL;
}

static enum state
malformed(struct parser *ps, const char *why)
{
    return fail(ps, TG_ERR_JSON_MALFORMED, why);
}

/* RFC 8259 §2: ws = *( %x20 / %x09 / %x0A / %x0D ) */
static void
skip_ws(struct parser *ps)
{
    while (ps->cur < ps->end &&
           (*ps->cur == ' ' || *ps->cur == '\t' || *ps->cur == '\n' || *ps->cur == '\r'))
        ps->cur++;
}

static int
is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* 4HEXDIG at p, or -1 (also when the input ends first). */
static int32_t
hex4(const uint8_t *p, const uint8_t *end)
{
    int32_t v = 0;
    int i, h;

    if (end - p < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        h = tg_hex_digit(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 §4), or 0:
 * exactly the sequences jansson's utf8_check_first/utf8_check_full take. */
static size_t
utf8_len(const uint8_t *p, const uint8_t *end)
{
    size_t n, i;
    uint8_t lo = 0x80, hi = 0xbf;

    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4;
    else
        return 0; /* a continuation byte, C0/C1 (overlong ASCII), F5..FF */
    if ((size_t)(end - p) < n)
        return 0;
    if (p[0] == 0xe0)
        lo = 0xa0; /* overlong below U+0800 */
    else if (p[0] == 0xed)
        hi = 0x9f; /* U+D800..DFFF, surrogates */
    else if (p[0] == 0xf0)
        lo = 0x90; /* overlong below U+10000 */
    else if (p[0] == 0xf4)
        hi = 0x8f; /* past U+10FFFF */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

static size_t
utf8_put(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* The escape whose backslash is at *pp, decoded into out (1..4 bytes), or 0
 * when it is not one jansson takes. RFC 8259 §7:
 *   escape = %x5C ( %x22 / %x5C / %x2F / %x62 / %x66 / %x6E / %x72 / %x74 /
 *                   %x75 4HEXDIG )
 * with a UTF-16 surrogate pair written as two \u escapes ("\uD834\uDD1E"). */
static size_t
unescape(const uint8_t **pp, const uint8_t *end, uint8_t out[4])
{
    const uint8_t *p = *pp + 1;
    int32_t cp, lo;

    if (p >= end)
        return 0;
    switch (*p) {
    case '"':
    case '\\':
    case '/':
        out[0] = *p;
        break;
    case 'b':
        out[0] = '\b';
        break;
    case 'f':
        out[0] = '\f';
        break;
    case 'n':
        out[0] = '\n';
        break;
    case 'r':
        out[0] = '\r';
        break;
    case 't':
        out[0] = '\t';
        break;
    case 'u':
        cp = hex4(p + 1, end);
        if (cp < 0)
            return 0;
        p += 5;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return 0; /* a low surrogate first */
        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* jansson: the next escape must be \u and a low surrogate */
            if (end - p < 2 || p[0] != '\\' || p[1] != 'u')
                return 0;
            lo = hex4(p + 2, end);
            if (lo < 0xdc00 || lo > 0xdfff)
                return 0;
            p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0)
            return 0; /* no JSON_ALLOW_NUL: a NUL in a name or a value */
        *pp = p;
        return utf8_put((uint32_t)cp, out);
    default:
        return 0;
    }
    *pp = p + 1;
    return 1;
}

/* What scan_string found. */
struct str_info {
    size_t raw;    /* bytes between the quotes */
    size_t len;    /* decoded bytes */
    uint32_t hash; /* FNV-1a of the decoded bytes, when asked for */
    int escaped;
};

/* Bytes that stand for themselves in a string: unescaped (RFC 8259 §7)
 * and ASCII, so not '"', '\\', a control byte or the start of a UTF-8
 * sequence (those take a closer look). */
static const uint8_t plain_byte[256] = {
    /* 0x00 - 0x1f: control */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 - 0x7f but 0x22 '"' and 0x5c '\\' */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80 - 0xff: UTF-8, checked by utf8_len */
};

/* The string at ps->cur (on its opening quote), RFC 8259 §7:
 *   string = quotation-mark *char quotation-mark
 *   char = unescaped / escape
 *   unescaped = %x20-21 / %x23-5B / %x5D-10FFFF
 * Decoded into dst (room for `cap` bytes) unless dst is NULL; hashed when
 * `hash` (names). Leaves ps->cur after the closing quote. */
static enum state
scan_string(struct parser *ps, uint8_t *dst, size_t cap, int hash, struct str_info *si)
{
    const uint8_t *p = ps->cur + 1, *end = ps->end, *start = p, *run, *src;
    uint8_t u[4];
    size_t n = 0, k, i;
    uint32_t h = FNV_BASIS;
    int escaped = 0;

    for (;;) {
        run = p;
        while (p < end && plain_byte[*p])
            p++;
        src = run;
        k = (size_t)(p - run);
        if (k == 0) {
            if (p >= end)
                return malformed(ps, "unterminated string");
            if (*p == '"')
                break;
            if (*p < 0x20)
                return malformed(ps, "control character in a string");
            if (*p == '\\') {
                k = unescape(&p, end, u);
                if (k == 0)
                    return malformed(ps, "invalid escape");
                src = u;
                escaped = 1;
            } else {
                k = utf8_len(p, end);
                if (k == 0)
                    return malformed(ps, "invalid UTF-8");
                p += k;
            }
        }
        if (dst != NULL) {
            if (cap - n < k)
                return fail(ps, TG_ERR_TOO_LARGE, "string store full");
            memcpy(dst + n, src, k);
        }
        if (hash)
            for (i = 0; i < k; i++)
                h = (h ^ src[i]) * FNV_PRIME;
        n += k;
    }
    si->raw = (size_t)(p - start);
    si->len = n;
    si->hash = h;
    si->escaped = escaped;
    ps->cur = p + 1;
    return ST_AFTER;
}

/* The decoded bytes of a string already scanned, one at a time: names are
 * compared after unescaping without a copy of either. */
struct decoder {
    const uint8_t *p, *end;
    uint8_t buf[4];
    size_t n, i;
};

static int
decoder_next(struct decoder *d)
{
    if (d->i < d->n)
        return d->buf[d->i++];
    if (*d->p == '"')
        return -1;
    if (*d->p != '\\')
        return *d->p++;
    /* validated when it was scanned: unescape cannot fail here */
    d->n = unescape(&d->p, d->end, d->buf);
    d->i = 1;
    return d->buf[0];
}

static void
decoder_init(struct decoder *d, const struct parser *ps, const struct key *k)
{
    d->p = ps->base + k->off;
    d->end = ps->end;
    d->n = d->i = 0;
}

static int
key_eq(const struct parser *ps, const struct key *a, const struct key *b)
{
    struct decoder da, db;
    int ca, cb;

    if (a->hash != b->hash)
        return 0;
    if (!((a->raw | b->raw) & KEY_ESCAPED))
        return a->raw == b->raw && memcmp(ps->base + a->off, ps->base + b->off, a->raw) == 0;
    decoder_init(&da, ps, a);
    decoder_init(&db, ps, b);
    do {
        ca = decoder_next(&da);
        cb = decoder_next(&db);
        if (ca != cb)
            return 0;
    } while (ca >= 0);
    return 1;
}

/* The claim a decoded top-level name stands for, or MEMBER_NONE. */
static enum member
member_of(const uint8_t *s, size_t len)
{
#define NAME_IS(lit) (len == sizeof(lit) - 1 && memcmp(s, lit, sizeof(lit) - 1) == 0)
    if (NAME_IS("jti"))
        return (enum member)TG_DPOP_CLAIM_JTI;
    if (NAME_IS("htm"))
        return (enum member)TG_DPOP_CLAIM_HTM;
    if (NAME_IS("htu"))
        return (enum member)TG_DPOP_CLAIM_HTU;
    if (NAME_IS("iat"))
        return MEMBER_IAT;
    if (NAME_IS("ath"))
        return (enum member)TG_DPOP_CLAIM_ATH;
    if (NAME_IS("nonce"))
        return (enum member)TG_DPOP_CLAIM_NONCE;
    if (NAME_IS("content_digest"))
        return (enum member)TG_DPOP_CLAIM_CONTENT_DIGEST;
#undef NAME_IS
    return MEMBER_NONE;
}

#define NAME_MAX_LEN 14 /* "content_digest" */

/* The claim a top-level name (of `len` decoded bytes) stands for. */
static enum member
which_member(const struct parser *ps, const struct key *k, size_t len)
{
    uint8_t buf[NAME_MAX_LEN];
    struct decoder d;
    size_t i;

    if (len > NAME_MAX_LEN)
        return MEMBER_NONE;
    if (!(k->raw & KEY_ESCAPED))
        return member_of(ps->base + k->off, len);
    decoder_init(&d, ps, k);
    for (i = 0; i < len; i++)
        buf[i] = (uint8_t)decoder_next(&d);
    return member_of(buf, len);
}

/* A value of the current member that is not a string (or, for iat, not a
 * number): present, no string; iat as tg_jwt_numeric_date judges it. */
static void
member_other(struct parser *ps, enum member m)
{
    if (m == MEMBER_IAT) {
        ps->out->iat = 0;
        ps->out->iat_rv = TG_ERR_JWT_CLAIM_INVALID;
    } else if (m != MEMBER_NONE) {
        ps->out->m[m].present = 1;
    }
}

/* RFC 8259 §6:
 *   number = [ minus ] int [ frac ] [ exp ]
 *   int = zero / ( digit1-9 *DIGIT )
 *   frac = decimal-point 1*DIGIT
 *   exp = e [ minus / plus ] 1*DIGIT
 * An int alone is a json_int_t (strtoll: out of range fails); anything else
 * a double (strtod: overflow fails, underflow does not). */
static enum state
scan_number(struct parser *ps, enum member m)
{
    const uint8_t *p = ps->cur, *end = ps->end, *start = p;
    uint64_t mag = 0, limit;
    int neg = 0, real = 0, over = 0;
    long long iv;
    double dv;
    char *num, *dot, point;
    size_t len;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return malformed(ps, "invalid number");
    if (*p == '0') {
        p++;
    } else {
        for (; p < end && is_digit(*p); p++) {
            /* past this, mag * 10 + 9 would wrap; and the value is past
             * 2^63 anyway */
            if (mag > UINT64_MAX / 10 - 1)
                over = 1;
            else
                mag = mag * 10 + (uint64_t)(*p - '0');
        }
    }
    if (p < end && *p == '.') {
        real = 1;
        if (++p >= end || !is_digit(*p))
            return malformed(ps, "invalid number");
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return malformed(ps, "invalid number");
        while (p < end && is_digit(*p))
            p++;
    }
    ps->cur = p;
    if (!real) {
        limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (over || mag > limit)
            return malformed(ps, "integer overflow");
        /* -(2^63) has no positive counterpart: negate one less */
        iv = !neg ? (long long)mag : mag == 0 ? 0 : -(long long)(mag - 1) - 1;
        if (m == MEMBER_IAT)
            ps->out->iat_rv = tg_jwt_date_from_int(iv, "iat", &ps->out->iat);
        else
            member_other(ps, m);
        return ST_AFTER;
    }
    /* strtod needs a NUL-terminated copy; jansson's strtod also puts the
     * locale's decimal point in place of '.'. */
    len = (size_t)(p - start);
    if (sizeof(ps->out->store) - ps->used < len + 1)
        return fail(ps, TG_ERR_TOO_LARGE, "number store full");
    num = ps->out->store + ps->used;
    memcpy(num, start, len);
    num[len] = '\0';
    point = localeconv()->decimal_point[0];
    if (point != '.' && (dot = memchr(num, '.', len)) != NULL)
        *dot = point;
    errno = 0;
    dv = strtod(num, NULL);
    if ((dv == HUGE_VAL || dv == -HUGE_VAL) && errno == ERANGE)
        return malformed(ps, "real number overflow");
    if (m == MEMBER_IAT)
        ps->out->iat_rv = tg_jwt_date_from_real(dv, "iat", &ps->out->iat);
    else
        member_other(ps, m);
    return ST_AFTER;
}

/* A string value: copied into the store when it is one of the claims. */
static enum state
string_value(struct parser *ps, enum member m)
{
    struct tg_dpop_claim_value *v;
    struct str_info si;
    char *dst;

    if (m == MEMBER_NONE || m == MEMBER_IAT) {
        member_other(ps, m);
        return scan_string(ps, NULL, 0, 0, &si);
    }
    /* room for the value and its NUL */
    dst = ps->out->store + ps->used;
    if (scan_string(ps, (uint8_t *)dst, sizeof(ps->out->store) - ps->used - 1, 0, &si) !=
        ST_AFTER)
        return ST_FAIL;
    dst[si.len] = '\0';
    ps->used += si.len + 1;
    v = &ps->out->m[m];
    v->present = 1;
    v->str = dst;
    v->len = si.len;
    return ST_AFTER;
}

/* true, false, null: RFC 8259 §3, lowercase only. */
static enum state
literal(struct parser *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->cur) < n || memcmp(ps->cur, word, n) != 0)
        return malformed(ps, "invalid literal");
    ps->cur += n;
    return ST_AFTER;
}

static enum state
open_container(struct parser *ps, uint16_t level, uint8_t close, enum state first)
{
    ps->level[ps->depth++] = level;
    ps->cur++;
    skip_ws(ps);
    if (ps->cur < ps->end && *ps->cur == close) {
        ps->cur++;
        ps->depth--;
        return ST_AFTER;
    }
    return first;
}

/* RFC 8259 §3: value = false / null / true / object / array / number / string */
static enum state
value(struct parser *ps)
{
    enum member m = ps->member;
    enum state st;

    ps->member = MEMBER_NONE;
    /* jansson counts the value itself: at most DEPTH_MAX deep. */
    if (ps->depth >= DEPTH_MAX)
        return malformed(ps, "maximum nesting depth");
    if (ps->cur >= ps->end)
        return malformed(ps, "value expected");
    switch (*ps->cur) {
    case '{':
        member_other(ps, m);
        return open_container(ps, (uint16_t)ps->n_keys, '}', ST_NAME);
    case '[':
        member_other(ps, m);
        return open_container(ps, LEVEL_ARRAY, ']', ST_VALUE);
    case '"':
        return string_value(ps, m);
    case 't':
        member_other(ps, m);
        st = literal(ps, "true", 4);
        break;
    case 'f':
        member_other(ps, m);
        st = literal(ps, "false", 5);
        break;
    case 'n':
        member_other(ps, m);
        st = literal(ps, "null", 4);
        break;
    default:
        if (*ps->cur != '-' && !is_digit(*ps->cur))
            return malformed(ps, "value expected");
        st = scan_number(ps, m);
        break;
    }
    /* jansson's pushed-back lookahead: a NUL right after a number or a
     * literal is lost (see the top of this file). */
    if (st == ST_AFTER && ps->cur < ps->end && *ps->cur == '\0')
        ps->cur++;
    return st;
}

/* RFC 8259 §4: member = string name-separator value, names unique here
 * (JSON_REJECT_DUPLICATES) after escapes are resolved. */
static enum state
name(struct parser *ps)
{
    struct str_info si;
    struct key *k;
    size_t i;

    if (ps->cur >= ps->end || *ps->cur != '"')
        return malformed(ps, "member name expected");
    if (scan_string(ps, NULL, 0, 1, &si) != ST_AFTER)
        return ST_FAIL;
    if (ps->n_keys >= KEYS_MAX)
        return fail(ps, TG_ERR_TOO_LARGE, "too many names");
    k = &ps->keys[ps->n_keys];
    k->off = (uint16_t)(ps->cur - si.raw - 1 - ps->base);
    k->raw = (uint16_t)(si.raw | (si.escaped ? KEY_ESCAPED : 0));
    k->hash = si.hash;
    for (i = ps->level[ps->depth - 1]; i < ps->n_keys; i++)
        if (key_eq(ps, &ps->keys[i], k))
            return malformed(ps, "duplicate member name");
    ps->n_keys++;
    /* the claims are the top-level object's members */
    if (ps->depth == 1)
        ps->member = which_member(ps, k, si.len);
    skip_ws(ps);
    if (ps->cur >= ps->end || *ps->cur != ':')
        return malformed(ps, "':' expected");
    ps->cur++;
    skip_ws(ps);
    return ST_VALUE;
}

/* RFC 8259 §4, §5: object = begin-object [ member *( value-separator member ) ]
 * end-object; array = begin-array [ value *( value-separator value ) ]
 * end-array. After the top-level value only whitespace may follow. */
static enum state
after(struct parser *ps)
{
    int in_object;

    skip_ws(ps);
    if (ps->depth == 0)
        return ps->cur == ps->end ? ST_DONE : malformed(ps, "end of input expected");
    if (ps->cur >= ps->end)
        return malformed(ps, "',' or end of container expected");
    in_object = ps->level[ps->depth - 1] != LEVEL_ARRAY;
    switch (*ps->cur++) {
    case ',':
        skip_ws(ps);
        return in_object ? ST_NAME : ST_VALUE;
    case '}':
        if (!in_object)
            break;
        ps->n_keys = ps->level[--ps->depth];
        return ST_AFTER;
    case ']':
        if (in_object)
            break;
        ps->depth--;
        return ST_AFTER;
    default:
        break;
    }
    return malformed(ps, "',' or end of container expected");
}

static void
clear(struct tg_dpop_claims *out)
{
    memset(out->m, 0, sizeof(out->m));
    out->iat_rv = TG_ERR_JWT_CLAIM_MISSING;
    out->iat = 0;
}

enum tg_err
tg_dpop_claims_parse(struct tg_slice payload, struct tg_dpop_claims *out)
{
    struct parser ps;
    enum state st = ST_VALUE;

    clear(out);
    TG_ENSURE(payload.len <= TG_DPOP_CLAIMS_MAX, TG_ERR_TOO_LARGE, "claims of %zu bytes",
              payload.len);
    ps.base = ps.cur = payload.p;
    ps.end = payload.p + payload.len;
    ps.out = out;
    ps.used = 0;
    ps.member = MEMBER_NONE;
    ps.depth = 0;
    ps.n_keys = 0;
    ps.err = TG_OK;
    ps.why = NULL;
    skip_ws(&ps);
    /* jansson without JSON_DECODE_ANY: an object or an array at the top */
    TG_ENSURE(ps.cur < ps.end && (*ps.cur == '{' || *ps.cur == '['), TG_ERR_JSON_MALFORMED,
              "claims JSON: '{' or '[' expected");
    ps.top_object = *ps.cur == '{';
    while (st != ST_DONE && st != ST_FAIL) {
        switch (st) {
        case ST_VALUE:
            st = value(&ps);
            break;
        case ST_NAME:
            st = name(&ps);
            break;
        case ST_AFTER:
            st = after(&ps);
            break;
        default:
            st = fail(&ps, TG_ERR_INTERNAL, "parser state");
            break;
        }
    }
    if (st == ST_FAIL) {
        clear(out);
        tg_err_raise(ps.err, "claims JSON: %s at byte %zu", ps.why,
                     (size_t)(ps.cur - ps.base));
        return ps.err;
    }
    TG_ENSURE(ps.top_object, TG_ERR_JWT_CLAIMS, "claims not an object");
    return TG_OK;
}
