/* Pure helpers of the gateway: the /tools/<id> path split, the path safety
 * rule for URIs that did not come through the router, which headers cross
 * the gateway in each direction, the upstream URL, and a tenant-bound
 * upstream's tenant. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/internal.h"

enum tg_err
tg_gw_split_tool_path(const char *path, char id[TG_POLICY_ID_MAX + 1], const char **rest)
{
    const char *p, *end;
    size_t n;

    id[0] = '\0';
    *rest = NULL;
    TG_ENSURE(path != NULL && strncmp(path, TG_GW_TOOLS_PREFIX, strlen(TG_GW_TOOLS_PREFIX)) == 0,
              TG_ERR_NOT_FOUND, "not under /tools/");
    p = path + strlen(TG_GW_TOOLS_PREFIX);
    end = strchr(p, '/');
    n = end != NULL ? (size_t)(end - p) : strlen(p);
    TG_ENSURE(n >= 1 && n <= TG_POLICY_ID_MAX && tg_policy_id_valid(tg_slice(p, n)),
              TG_ERR_NOT_FOUND, "not a tool id");
    memcpy(id, p, n);
    id[n] = '\0';
    *rest = p + n;
    return TG_OK;
}

int
tg_gw_path_is_safe(const char *path)
{
    const char *p;

    if (path == NULL)
        return 0;
    /* Stricter than the router: no raw space, control, non-ASCII, "?" or
     * "#" in the path a tool will see; then the router's own rules. */
    for (p = path; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
            return 0;
    }
    return tg_http_path_is_safe(path);
}

static int
name_in(const char *name, const char *const *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcasecmp(name, list[i]) == 0)
            return 1;
    }
    return 0;
}

static int
has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int
contains_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);

    for (; *s != '\0'; s++) {
        if (strncasecmp(s, needle, n) == 0)
            return 1;
    }
    return 0;
}

/* Whether `name` is one of the comma-separated tokens of a Connection
 * header (RFC 9110 §7.6.1: those are hop-by-hop too). */
static int
listed_in_connection(const char *name, const char *connection)
{
    const char *p = connection;
    size_t n = strlen(name);

    if (connection == NULL)
        return 0;
    while (*p != '\0') {
        const char *start, *end;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        start = p;
        while (*p != '\0' && *p != ',')
            p++;
        end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) == n && strncasecmp(start, name, n) == 0)
            return 1;
    }
    return 0;
}

int
tg_gw_forward_request_header(const char *name, const char *connection)
{
    static const char *const never[] = {
        /* the agent's credentials: never reach a tool */
        "Authorization", "Proxy-Authorization", "DPoP", "Cookie",
        /* framing, hop-by-hop (RFC 9110 §7.6.1), and what libcurl sets */
        "Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
        "Proxy-Connection", "TE", "Trailer", "Upgrade", "Expect", "Accept-Encoding",
        /* forwarding headers: the gateway writes its own */
        "Forwarded", "X-Real-IP",
        /* /check inputs, meaningless upstream */
        TG_GW_HDR_ORIG_METHOD, TG_GW_HDR_ORIG_URI};

    if (name == NULL || name[0] == '\0')
        return 0;
    if (name_in(name, never, sizeof(never) / sizeof(never[0])))
        return 0;
    /* Identity comes from the gateway only; the tenant from the token only. */
    if (has_prefix_ci(name, "X-Tollgate-") || has_prefix_ci(name, "X-Forwarded-") ||
        contains_ci(name, "tenant"))
        return 0;
    return !listed_in_connection(name, connection);
}

int
tg_gw_forward_response_header(const char *name)
{
    static const char *const allowed[] = {
        "Content-Type", "Content-Language", "Content-Disposition", "Content-Location",
        "Content-Range", "Accept-Ranges", "Cache-Control", "ETag", "Last-Modified", "Expires",
        "Vary", "Location", "Retry-After",
        /* MCP Streamable HTTP: the session and the negotiated revision */
        "Mcp-Session-Id", "Mcp-Protocol-Version"};

    return name != NULL && name_in(name, allowed, sizeof(allowed) / sizeof(allowed[0]));
}

int
tg_gw_field_value_ok(const char *v)
{
    const unsigned char *p;

    if (v == NULL)
        return 0;
    for (p = (const unsigned char *)v; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    }
    return 1;
}

enum tg_err
tg_gw_upstream_url(const char *base, const char *rest, const char *query, char *out, size_t cap)
{
    const char *bq = strchr(base, '?');
    size_t blen = bq != NULL ? (size_t)(bq - base) : strlen(base);
    int n;

    /* "http://h/api/" + "/items": one slash between them. */
    if (blen > 0 && base[blen - 1] == '/' && rest[0] == '/')
        blen--;
    if (bq != NULL)
        n = snprintf(out, cap, "%.*s%s%s%s%s", (int)blen, base, rest, bq,
                     query != NULL && bq[1] != '\0' ? "&" : "", query != NULL ? query : "");
    else
        n = snprintf(out, cap, "%.*s%s%s%s", (int)blen, base, rest, query != NULL ? "?" : "",
                     query != NULL ? query : "");
    TG_ENSURE(n >= 0 && (size_t)n < cap, TG_ERR_TOO_LARGE, "upstream URL too long");
    return TG_OK;
}

int
tg_gw_upstream_tenant_bound(const char *upstream)
{
    return upstream != NULL && strstr(upstream, TG_GW_TENANT_PLACEHOLDER) != NULL;
}

/* A tenant that can stand where the placeholder is, without changing what
 * the rest of the URL means: no "/", "?", "#", "%", ":" or "@". */
static int
tenant_fits(const char *t, size_t n, int host)
{
    size_t i;

    if (n == 0 || n > (host ? TG_GW_TENANT_LABEL_MAX : TG_POLICY_ID_MAX))
        return 0;
    for (i = 0; i < n; i++) {
        char c = t[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || (!host && (c == '.' || c == '_'))))
            return 0;
    }
    /* A dot segment would be resolved away by the upstream. */
    return !(t[0] == '.' && (n == 1 || (n == 2 && t[1] == '.')));
}

enum tg_err
tg_gw_upstream_for_tenant(const char *upstream, const char *tenant, char *out, size_t cap)
{
    const size_t phn = strlen(TG_GW_TENANT_PLACEHOLDER);
    const char *at = strstr(upstream, TG_GW_TENANT_PLACEHOLDER), *auth, *q;
    size_t tn = tenant != NULL ? strlen(tenant) : 0;
    int n, host;

    if (at == NULL) {
        n = snprintf(out, cap, "%s", upstream);
        TG_ENSURE(n >= 0 && (size_t)n < cap, TG_ERR_TOO_LARGE, "upstream URL too long");
        return TG_OK;
    }
    TG_ENSURE(strstr(at + phn, TG_GW_TENANT_PLACEHOLDER) == NULL, TG_ERR_CONFIG,
              "upstream holds {tenant} twice");
    q = strchr(upstream, '?');
    TG_ENSURE(q == NULL || at < q, TG_ERR_CONFIG, "upstream holds {tenant} in its query");
    auth = strstr(upstream, "://");
    TG_ENSURE(auth != NULL && auth < at, TG_ERR_CONFIG, "upstream without an authority");
    auth += 3;
    host = at < auth + strcspn(auth, "/?#");
    TG_ENSURE(tn > 0, TG_ERR_NOT_FOUND, "the token has no tenant");
    TG_ENSURE(tenant_fits(tenant, tn, host), TG_ERR_INVALID_ARG,
              "tenant not usable in the upstream's %s", host ? "host" : "path");
    n = snprintf(out, cap, "%.*s%s%s", (int)(at - upstream), upstream, tenant, at + phn);
    TG_ENSURE(n >= 0 && (size_t)n < cap, TG_ERR_TOO_LARGE, "upstream URL too long");
    return TG_OK;
}
