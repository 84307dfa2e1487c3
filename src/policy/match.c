/* Endpoint templates against request paths. See match.h for the rules. */
#include "policy/match.h"

#include <string.h>

static int
hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int
is_unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* The next character of a request segment at *i: percent-encoded unreserved
 * characters decoded (RFC 3986 §6.2.2.2), anything else encoded returned as
 * -1 (it can equal no literal). The path was checked, so "%HH" is whole. */
static int
next_char(const uint8_t *s, size_t *i)
{
    int c;

    if (s[*i] != '%')
        return s[(*i)++];
    c = hexval(s[*i + 1]) * 16 + hexval(s[*i + 2]);
    *i += 3;
    return is_unreserved((uint8_t)c) ? c : -1;
}

/* "." or "..", decoded: an upstream would resolve it away. */
static int
is_dot_segment(const uint8_t *s, size_t len)
{
    size_t i = 0, n = 0;

    while (i < len) {
        if (next_char(s, &i) != '.' || ++n > 2)
            return 0;
    }
    return n == 1 || n == 2;
}

static enum tg_err
path_check(struct tg_slice p)
{
    size_t i, seg = 1;

    TG_ENSURE(p.len > 0 && p.len <= TG_MATCH_PATH_MAX && p.p[0] == '/', TG_ERR_INVALID_ARG,
              "request path must start with / and be at most %d bytes", TG_MATCH_PATH_MAX);
    for (i = 0; i < p.len; i++) {
        uint8_t c = p.p[i];

        TG_ENSURE(c > 0x20 && c < 0x7f && c != '?' && c != '#', TG_ERR_INVALID_ARG,
                  "request path: byte 0x%02x at %zu", c, i);
        if (c == '%') {
            TG_ENSURE(i + 2 < p.len && hexval(p.p[i + 1]) >= 0 && hexval(p.p[i + 2]) >= 0,
                      TG_ERR_INVALID_ARG, "request path: bad percent-encoding at %zu", i);
            i += 2;
        }
    }
    for (i = 1; i <= p.len; i++) {
        if (i == p.len || p.p[i] == '/') {
            TG_ENSURE(!is_dot_segment(p.p + seg, i - seg), TG_ERR_INVALID_ARG,
                      "request path: dot segment");
            seg = i + 1;
        }
    }
    return TG_OK;
}

static size_t
seg_end(const uint8_t *s, size_t len, size_t from)
{
    while (from < len && s[from] != '/')
        from++;
    return from;
}

static int
is_var(const uint8_t *t, size_t len)
{
    return len > 0 && (t[0] == '{' || t[0] == '*');
}

static int
literal_eq(const uint8_t *t, size_t tlen, const uint8_t *r, size_t rlen)
{
    size_t i = 0, j = 0;

    while (i < rlen && j < tlen) {
        if (next_char(r, &i) != t[j])
            return 0;
        j++;
    }
    return i == rlen && j == tlen;
}

static int
template_matches(const char *tmpl, struct tg_slice path)
{
    const uint8_t *t = (const uint8_t *)tmpl;
    size_t tlen = strlen(tmpl), ti = 1, pi = 1, te, pe;

    if (tlen == 1 || path.len == 1)
        return tlen == path.len; /* "/" matches only "/" */
    for (;;) {
        te = seg_end(t, tlen, ti);
        pe = seg_end(path.p, path.len, pi);
        if (is_var(t + ti, te - ti)) {
            if (pe == pi)
                return 0;
        } else if (!literal_eq(t + ti, te - ti, path.p + pi, pe - pi)) {
            return 0;
        }
        if ((te == tlen) != (pe == path.len))
            return 0; /* different segment counts */
        if (te == tlen)
            return 1;
        ti = te + 1;
        pi = pe + 1;
    }
}

/* > 0 when `a` is more specific than `b` (both match the same path, so
 * they have the same number of segments). */
static int
more_specific(const struct tg_endpoint *a, const struct tg_endpoint *b)
{
    const uint8_t *p = (const uint8_t *)a->path, *q = (const uint8_t *)b->path;
    size_t pl = strlen(a->path), ql = strlen(b->path), pi = 1, qi = 1, pe, qe;
    int av, bv;

    while (pi < pl && qi < ql) {
        pe = seg_end(p, pl, pi);
        qe = seg_end(q, ql, qi);
        av = is_var(p + pi, pe - pi);
        bv = is_var(q + qi, qe - qi);
        if (av != bv)
            return bv ? 1 : -1;
        pi = pe + 1;
        qi = qe + 1;
    }
    av = strcmp(a->method, "*") == 0;
    bv = strcmp(b->method, "*") == 0;
    return av == bv ? 0 : (bv ? 1 : -1);
}

enum tg_err
tg_endpoint_match(const struct tg_endpoint *table, size_t n, struct tg_slice method,
                  struct tg_slice path, const struct tg_endpoint **out)
{
    const struct tg_endpoint *best = NULL;
    size_t i;

    *out = NULL;
    TG_ENSURE(method.len > 0, TG_ERR_INVALID_ARG, "no method");
    TG_GUARD(path_check(path));
    for (i = 0; i < n; i++) {
        const struct tg_endpoint *e = &table[i];

        if (strcmp(e->method, "*") != 0 && !tg_slice_eq_str(method, e->method))
            continue;
        if (!template_matches(e->path, path))
            continue;
        if (best == NULL || more_specific(e, best) > 0)
            best = e;
    }
    TG_ENSURE(best != NULL, TG_ERR_NOT_FOUND, "no endpoint matches");
    *out = best;
    return TG_OK;
}

/* Glob with "*" only, iterative with one backtrack point (linear in
 * practice; names and patterns are at most 128 bytes). */
static int
glob_matches(const char *pat, struct tg_slice name)
{
    size_t pi = 0, ni = 0, star_p = (size_t)-1, star_n = 0, pl = strlen(pat);

    while (ni < name.len) {
        if (pi < pl && pat[pi] == '*') {
            star_p = pi++;
            star_n = ni;
        } else if (pi < pl && (uint8_t)pat[pi] == name.p[ni]) {
            pi++;
            ni++;
        } else if (star_p != (size_t)-1) {
            pi = star_p + 1;
            ni = ++star_n;
        } else {
            return 0;
        }
    }
    while (pi < pl && pat[pi] == '*')
        pi++;
    return pi == pl;
}

/* Literal characters of a pattern; an exact name ranks above every pattern. */
static size_t
mcp_rank(const char *pat)
{
    size_t n = 0, stars = 0;

    for (; *pat != '\0'; pat++) {
        if (*pat == '*')
            stars++;
        else
            n++;
    }
    return stars == 0 ? (size_t)1 << 16 : n;
}

enum tg_err
tg_mcp_tool_match(const struct tg_endpoint *table, size_t n, struct tg_slice name,
                  const struct tg_endpoint **out)
{
    const struct tg_endpoint *best = NULL;
    size_t i, best_rank = 0, r;

    *out = NULL;
    TG_ENSURE(tg_mcp_tool_name_valid(name), TG_ERR_INVALID_ARG, "not an MCP tool name");
    for (i = 0; i < n; i++) {
        const struct tg_endpoint *e = &table[i];

        if (e->method == NULL || e->path == NULL ||
            strcmp(e->method, TG_ENDPOINT_METHOD_MCP) != 0 || !glob_matches(e->path, name))
            continue;
        r = mcp_rank(e->path);
        if (best == NULL || r > best_rank) {
            best = e;
            best_rank = r;
        }
    }
    TG_ENSURE(best != NULL, TG_ERR_NOT_FOUND, "no MCP tool entry matches");
    *out = best;
    return TG_OK;
}
