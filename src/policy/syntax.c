/* Syntax of the names policy records hold: ids, SPIFFE IDs, URIs, endpoint
 * methods, path templates and "METHOD /path" references. Every function
 * reads a slice, since some of these come straight from a token request. */
#include "policy/model.h"

#include <string.h>

#define SPIFFE_PREFIX "spiffe://"
#define SPIFFE_TD_MAX 255
#define PARAM_NAME_MAX 64

static int
is_alpha(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static int
is_hex(uint8_t c)
{
    return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* RFC 3986 §2.3 */
static int
is_unreserved(uint8_t c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 §2.2 */
static int
is_sub_delim(uint8_t c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

int
tg_policy_id_valid(struct tg_slice s)
{
    size_t i;

    if (s.len == 0 || s.len > TG_POLICY_ID_MAX)
        return 0;
    for (i = 0; i < s.len; i++) {
        uint8_t c = s.p[i];

        if (!(is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

/* SPIFFE ID (spiffe/standards SPIFFE-ID.md §2): the trust domain is
 * lowercase letters, digits, ".", "-" and "_"; path segments are letters,
 * digits, ".", "-" and "_", never empty, "." or ".."; no query, fragment,
 * port, userinfo or trailing slash. We also require a non-empty path: a
 * workload, not a whole trust domain. */
int
tg_spiffe_id_valid(struct tg_slice s)
{
    size_t plen = strlen(SPIFFE_PREFIX), i, td_len = 0, seg_start;

    if (s.len > TG_POLICY_URI_MAX || s.len <= plen || memcmp(s.p, SPIFFE_PREFIX, plen) != 0)
        return 0;
    for (i = plen; i < s.len && s.p[i] != '/'; i++) {
        uint8_t c = s.p[i];

        if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '.' || c == '-' || c == '_'))
            return 0;
        td_len++;
    }
    if (td_len == 0 || td_len > SPIFFE_TD_MAX || i == s.len)
        return 0;
    /* s.p[i] == '/': one or more segments follow. */
    while (i < s.len) {
        i++; /* the '/' */
        seg_start = i;
        while (i < s.len && s.p[i] != '/') {
            uint8_t c = s.p[i];

            if (!(is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_'))
                return 0;
            i++;
        }
        if (i == seg_start)
            return 0; /* empty segment or trailing slash */
        if ((i - seg_start == 1 && s.p[seg_start] == '.') ||
            (i - seg_start == 2 && s.p[seg_start] == '.' && s.p[seg_start + 1] == '.'))
            return 0;
    }
    return 1;
}

/* Characters of the hier-part and query (RFC 3986 §3.3, §3.4), and valid
 * percent-encodings. No fragment, no space or control characters. */
static int
uri_rest_valid(struct tg_slice s, size_t from)
{
    size_t i;

    for (i = from; i < s.len; i++) {
        uint8_t c = s.p[i];

        if (c == '%') {
            if (i + 2 >= s.len || !is_hex(s.p[i + 1]) || !is_hex(s.p[i + 2]))
                return 0;
            i += 2;
            continue;
        }
        if (!(is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '/' ||
              c == '?' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

/* Length of the scheme (RFC 3986 §3.1) before ':', or 0. */
static size_t
scheme_len(struct tg_slice s)
{
    size_t i;

    if (s.len == 0 || !is_alpha(s.p[0]))
        return 0;
    for (i = 1; i < s.len; i++) {
        uint8_t c = s.p[i];

        if (c == ':')
            return i;
        if (!(is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.'))
            return 0;
    }
    return 0;
}

int
tg_uri_absolute_valid(struct tg_slice s)
{
    size_t n;

    if (s.len == 0 || s.len > TG_POLICY_URI_MAX)
        return 0;
    n = scheme_len(s);
    if (n == 0 || n + 1 == s.len)
        return 0;
    return uri_rest_valid(s, n + 1);
}

/* authority = host [":" port], no userinfo; host is an IP-literal in
 * brackets or a reg-name / IPv4 address. */
static int
authority_valid(const uint8_t *p, size_t len)
{
    size_t i = 0, host_end, j;

    if (len == 0)
        return 0;
    if (p[0] == '[') {
        for (i = 1; i < len && p[i] != ']'; i++)
            if (!(is_hex(p[i]) || p[i] == ':' || p[i] == '.'))
                return 0;
        if (i == len || i == 1)
            return 0;
        host_end = i + 1;
    } else {
        for (i = 0; i < len && p[i] != ':'; i++) {
            if (p[i] == '@' || p[i] == '[' || p[i] == ']')
                return 0;
            if (p[i] == '%')
                return 0; /* keep hosts plain: they are compared as strings */
        }
        if (i == 0)
            return 0;
        host_end = i;
    }
    if (host_end == len)
        return 1;
    if (p[host_end] != ':' || host_end + 1 == len || len - host_end - 1 > 5)
        return 0;
    for (j = host_end + 1; j < len; j++)
        if (!is_digit(p[j]))
            return 0;
    return 1;
}

int
tg_uri_http_valid(struct tg_slice s)
{
    size_t start, end;

    if (!tg_uri_absolute_valid(s))
        return 0;
    if (s.len > 7 && memcmp(s.p, "http://", 7) == 0)
        start = 7;
    else if (s.len > 8 && memcmp(s.p, "https://", 8) == 0)
        start = 8;
    else
        return 0;
    for (end = start; end < s.len && s.p[end] != '/' && s.p[end] != '?'; end++)
        ;
    return authority_valid(s.p + start, end - start);
}

int
tg_endpoint_method_valid(struct tg_slice s)
{
    static const char *const methods[] = {"GET",    "POST", "PUT",     "PATCH",
                                          "DELETE", "HEAD", "OPTIONS", "*"};
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (tg_slice_eq_str(s, methods[i]))
            return 1;
    return 0;
}

static int
literal_char_valid(uint8_t c)
{
    /* pchar (RFC 3986 §3.3) minus '%' (literals are compared decoded), '*'
     * (the wildcard) and the braces of "{name}". */
    return c != '*' && (is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@');
}

static int
segment_valid(const uint8_t *p, size_t len)
{
    size_t i;

    if (len == 0)
        return 0;
    if (len == 1 && p[0] == '*')
        return 1;
    if (p[0] == '{') {
        if (len < 3 || len - 2 > PARAM_NAME_MAX || p[len - 1] != '}')
            return 0;
        for (i = 1; i + 1 < len; i++)
            if (!(is_alpha(p[i]) || is_digit(p[i]) || p[i] == '_'))
                return 0;
        return 1;
    }
    if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
        return 0;
    for (i = 0; i < len; i++)
        if (!literal_char_valid(p[i]))
            return 0;
    return 1;
}

int
tg_endpoint_path_valid(struct tg_slice s)
{
    size_t i, start;

    if (s.len == 0 || s.len > TG_POLICY_PATH_MAX || s.p[0] != '/')
        return 0;
    if (s.len == 1)
        return 1;
    i = 1;
    while (i <= s.len) {
        start = i;
        while (i < s.len && s.p[i] != '/')
            i++;
        if (!segment_valid(s.p + start, i - start))
            return 0;
        i++;
    }
    return 1;
}

static int
mcp_name_char(uint8_t c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.';
}

int
tg_mcp_tool_name_valid(struct tg_slice s)
{
    size_t i;

    if (s.len == 0 || s.len > 128)
        return 0;
    for (i = 0; i < s.len; i++)
        if (!mcp_name_char(s.p[i]))
            return 0;
    return 1;
}

int
tg_mcp_tool_pattern_valid(struct tg_slice s)
{
    size_t i;

    if (s.len == 0 || s.len > 128)
        return 0;
    for (i = 0; i < s.len; i++)
        if (!mcp_name_char(s.p[i]) && s.p[i] != '*')
            return 0;
    return 1;
}

enum tg_err
tg_endpoint_ref_split(struct tg_slice ref, struct tg_slice *method, struct tg_slice *path)
{
    const uint8_t *sp = ref.len ? memchr(ref.p, ' ', ref.len) : NULL;
    struct tg_slice m, p;

    TG_ENSURE(sp != NULL, TG_ERR_INVALID_ARG, "endpoint reference without a space");
    m = tg_slice(ref.p, (size_t)(sp - ref.p));
    p = tg_slice(sp + 1, ref.len - m.len - 1);
    if (tg_slice_eq_str(m, TG_ENDPOINT_METHOD_MCP)) {
        TG_ENSURE(tg_mcp_tool_pattern_valid(p), TG_ERR_INVALID_ARG,
                  "endpoint reference: bad MCP tool name or pattern");
        *method = m;
        *path = p;
        return TG_OK;
    }
    TG_ENSURE(tg_endpoint_method_valid(m), TG_ERR_INVALID_ARG, "endpoint reference: bad method");
    TG_ENSURE(tg_endpoint_path_valid(p), TG_ERR_INVALID_ARG, "endpoint reference: bad path");
    *method = m;
    *path = p;
    return TG_OK;
}

int
tg_endpoint_ref_eq(const struct tg_endpoint *e, struct tg_slice ref)
{
    size_t ml = strlen(e->method), pl = strlen(e->path);

    return ref.len == ml + 1 + pl && memcmp(ref.p, e->method, ml) == 0 && ref.p[ml] == ' ' &&
           memcmp(ref.p + ml + 1, e->path, pl) == 0;
}
