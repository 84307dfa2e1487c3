/* Invariants of a single record. Every refusal is TG_ERR_POLICY_INVALID with
 * a message naming the field (the policy file's error report and the CLI
 * print it); cross-record checks (references, duplicates) are policy.c's. */
#include "policy/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "jose/b64url.h"
#include "jose/jwk.h"

#define DN_MAX 1024
#define DNS_MAX 253
/* Where a tenant-bound tool's upstream takes the token's tenant. */
#define TENANT_PLACEHOLDER "{tenant}"

struct why {
    char *buf;
    size_t len;
};

/* Record the message for the caller and the thread's error detail. */
static enum tg_err bad(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static enum tg_err
bad(struct why *w, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w->buf != NULL && w->len > 0)
        snprintf(w->buf, w->len, "%s", msg);
    tg_err_raise(TG_ERR_POLICY_INVALID, "%s", msg);
    return TG_ERR_POLICY_INVALID;
}

#define BAD_IF(cond, w, ...)                 \
    do {                                     \
        if (cond)                            \
            return bad((w), __VA_ARGS__);    \
    } while (0)

static struct tg_slice
sl(const char *s)
{
    return tg_slice(s, s != NULL ? strlen(s) : 0);
}

static int
id_ok(const char *s)
{
    return s != NULL && tg_policy_id_valid(sl(s));
}

/* Printable text (UTF-8 allowed): no control characters. */
static int
text_ok(const char *s, size_t max)
{
    size_t n, i;

    if (s == NULL || (n = strlen(s)) == 0 || n > max)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

static int
dns_ok(const char *s)
{
    size_t n, i;

    if (s == NULL || (n = strlen(s)) == 0 || n > DNS_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '*'))
            return 0;
    }
    return 1;
}

static int
in_range(int v, int lo, int hi)
{
    return v >= lo && v <= hi;
}

/* An inline JWKS (RFC 7517 §5) of public signing keys, each one a key
 * jose/jwk.c accepts: the keys private_key_jwt assertions are checked with. */
static enum tg_err
jwks_check(const char *text, struct why *w)
{
    json_t *doc = NULL, *keys, *k;
    struct tg_jwk jwk;
    json_error_t jerr;
    enum tg_err rv = TG_OK;
    size_t i;

    if (strlen(text) > TG_POLICY_JWKS_MAX) {
        rv = bad(w, "jwks: longer than %d bytes", TG_POLICY_JWKS_MAX);
        goto out;
    }
    doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        rv = bad(w, "jwks: not a JSON object");
        goto out;
    }
    keys = json_object_get(doc, "keys");
    if (!json_is_array(keys) || json_array_size(keys) == 0 ||
        json_array_size(keys) > TG_POLICY_JWKS_MAX_KEYS) {
        rv = bad(w, "jwks: \"keys\" must be an array of 1 to %d keys", TG_POLICY_JWKS_MAX_KEYS);
        goto out;
    }
    json_array_foreach(keys, i, k) {
        memset(&jwk, 0, sizeof(jwk));
        rv = tg_jwk_from_json(k, TG_JWK_PUBLIC_ONLY, NULL, &jwk);
        tg_jwk_reset(&jwk);
        if (rv == TG_ERR_JWK_PRIVATE_MEMBER) {
            rv = bad(w, "jwks: key %zu holds private key material; give public keys only", i);
            goto out;
        }
        if (rv != TG_OK) {
            rv = bad(w, "jwks: key %zu is not an accepted public key (%s)", i,
                     tg_err_description(rv));
            goto out;
        }
    }
out:
    json_decref(doc);
    return rv;
}

static enum tg_err
auth_material_check(const struct tg_agent *a, struct why *w)
{
    enum tg_auth_method m = a->auth_method;
    int n_tls = (a->tls_subject_dn != NULL) + (a->tls_san_dns != NULL) + (a->tls_san_uri != NULL);
    int spiffe = m == TG_AUTH_SPIFFE_X509 || m == TG_AUTH_SPIFFE_JWT;

    /* Material that belongs to another method is refused rather than kept
     * unused: it is almost always a mistake in the method. */
    BAD_IF(a->jwks != NULL && m != TG_AUTH_PRIVATE_KEY_JWT, w,
           "jwks is only used with auth private_key_jwt");
    BAD_IF(n_tls > 0 && m != TG_AUTH_TLS_CLIENT_AUTH, w,
           "tls subject_dn/san_dns/san_uri are only used with auth tls_client_auth");
    BAD_IF(a->cert_x5t != NULL && m != TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH, w,
           "cert_x5t is only used with auth self_signed_tls_client_auth");
    BAD_IF(a->spiffe_id != NULL && !spiffe, w,
           "spiffe_id is only used with auth spiffe_x509 or spiffe_jwt");
    switch (m) {
    case TG_AUTH_CLIENT_SECRET_BASIC:
    case TG_AUTH_CLIENT_SECRET_POST:
        /* The secret is set apart from the record (never in a policy file). */
        return TG_OK;
    case TG_AUTH_PRIVATE_KEY_JWT:
        BAD_IF(a->jwks == NULL, w, "auth private_key_jwt needs jwks");
        return jwks_check(a->jwks, w);
    case TG_AUTH_TLS_CLIENT_AUTH:
        /* RFC 8705 §2.1.2: exactly one of the subject metadata values. */
        BAD_IF(n_tls != 1, w,
               "auth tls_client_auth needs exactly one of tls subject_dn, san_dns, san_uri");
        BAD_IF(a->tls_subject_dn != NULL && !text_ok(a->tls_subject_dn, DN_MAX), w,
               "tls subject_dn: 1 to %d printable characters", DN_MAX);
        BAD_IF(a->tls_san_dns != NULL && !dns_ok(a->tls_san_dns), w,
               "tls san_dns: not a DNS name");
        BAD_IF(a->tls_san_uri != NULL && !tg_uri_absolute_valid(sl(a->tls_san_uri)), w,
               "tls san_uri: not an absolute URI");
        return TG_OK;
    case TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH:
        BAD_IF(a->cert_x5t == NULL, w, "auth self_signed_tls_client_auth needs cert_x5t");
        BAD_IF(strlen(a->cert_x5t) != TG_THUMBPRINT_B64_LEN ||
                   tg_b64url_check(sl(a->cert_x5t)) != TG_OK,
               w, "cert_x5t: not a base64url SHA-256 certificate thumbprint (x5t#S256)");
        return TG_OK;
    case TG_AUTH_SPIFFE_X509:
    case TG_AUTH_SPIFFE_JWT:
        BAD_IF(a->spiffe_id == NULL, w, "auth %s needs spiffe_id", tg_auth_method_name(m));
        BAD_IF(!tg_spiffe_id_valid(sl(a->spiffe_id)), w,
               "spiffe_id: not a SPIFFE ID (spiffe://trust-domain/path)");
        return TG_OK;
    default:
        return bad(w, "auth: unknown method");
    }
}

static enum tg_err
agent_check(const struct tg_agent *a, struct why *w)
{
    BAD_IF(a == NULL, w, "no agent");
    BAD_IF(!id_ok(a->id), w, "id: 1 to %d characters of A-Z a-z 0-9 . _ : -", TG_POLICY_ID_MAX);
    BAD_IF(!in_range((int)a->type, TG_AGENT_INTERNAL, TG_AGENT_BROWSING), w, "type: unknown");
    BAD_IF(!in_range((int)a->status, TG_AGENT_ACTIVE, TG_AGENT_DISABLED), w, "status: unknown");
    BAD_IF(!in_range((int)a->pop, TG_POP_DPOP, TG_POP_BEARER), w,
           "sender_constraint: unknown");
    BAD_IF(a->owner == NULL, w, "owner: required");
    BAD_IF(!text_ok(a->owner, TG_POLICY_OWNER_MAX), w,
           "owner: 1 to %d printable characters", TG_POLICY_OWNER_MAX);
    BAD_IF(a->type == TG_AGENT_TENANT && a->tenant == NULL, w,
           "tenant: required for tenant agents");
    BAD_IF(a->tenant != NULL && !id_ok(a->tenant), w,
           "tenant: 1 to %d characters of A-Z a-z 0-9 . _ : -", TG_POLICY_ID_MAX);
    /* A browsing agent reads untrusted pages: a token that leaks into its
     * context must be worthless, so it is always sender-constrained. */
    BAD_IF(a->type == TG_AGENT_BROWSING && a->pop == TG_POP_BEARER, w,
           "sender_constraint: browsing agents may not use bearer tokens");
    BAD_IF(a->max_token_lifetime < 0 || a->max_token_lifetime > TG_POLICY_MAX_LIFETIME, w,
           "max_token_lifetime: 0 to %d seconds", TG_POLICY_MAX_LIFETIME);
    BAD_IF(a->introspect != 0 && a->introspect != 1, w, "introspect: true or false");
    return auth_material_check(a, w);
}

/* Two endpoints collide when their methods are equal and their templates
 * have the same shape ("{id}" and "*" both match any one segment). */
static int
same_shape(const char *p, const char *q)
{
    while (*p != '\0' && *q != '\0') {
        const char *pe = strchr(p, '/'), *qe = strchr(q, '/');
        size_t pl, ql;
        int pv, qv;

        pe = pe != NULL ? pe : p + strlen(p);
        qe = qe != NULL ? qe : q + strlen(q);
        pl = (size_t)(pe - p);
        ql = (size_t)(qe - q);
        pv = pl > 0 && (*p == '{' || *p == '*');
        qv = ql > 0 && (*q == '{' || *q == '*');
        if (pv != qv || (!pv && (pl != ql || memcmp(p, q, pl) != 0)))
            return 0;
        p = *pe == '/' ? pe + 1 : pe;
        q = *qe == '/' ? qe + 1 : qe;
        if ((*pe == '/') != (*qe == '/'))
            return 0;
    }
    return *p == '\0' && *q == '\0';
}

static enum tg_err
endpoint_check(const struct tg_endpoint *e, size_t i, int mcp, struct why *w)
{
    int mcp_entry = e->method != NULL && strcmp(e->method, TG_ENDPOINT_METHOD_MCP) == 0;

    /* MCP tool entries (method "MCP", path a tool name or pattern) belong to
     * MCP servers only. */
    BAD_IF(mcp_entry && !mcp, w, "endpoints[%zu]: mcp_tool entries need a tool of kind mcp", i);
    BAD_IF(mcp_entry && (e->path == NULL || !tg_mcp_tool_pattern_valid(sl(e->path))), w,
           "endpoints[%zu].mcp_tool: 1 to 128 characters of A-Z a-z 0-9 _ - . and *", i);
    BAD_IF(!mcp_entry && (e->method == NULL || !tg_endpoint_method_valid(sl(e->method))), w,
           "endpoints[%zu].method: one of GET POST PUT PATCH DELETE HEAD OPTIONS *", i);
    BAD_IF(!mcp_entry && (e->path == NULL || !tg_endpoint_path_valid(sl(e->path))), w,
           "endpoints[%zu].path: a template such as /items/{id} (segments: literal, "
           "{name} or *)",
           i);
    BAD_IF(!in_range((int)e->action, TG_ACTION_READ, TG_ACTION_ADMIN), w,
           "endpoints[%zu].action: read, write or admin", i);
    BAD_IF(!in_range((int)e->risk, TG_RISK_NORMAL, TG_RISK_HIGH), w,
           "endpoints[%zu].risk: normal or high", i);
    return TG_OK;
}

/* A tenant-bound upstream (docs/policy.md): "{tenant}" once, as a whole
 * host label that is not the last one ("http://{tenant}.crm.internal"), or
 * as a whole path segment ("http://h/{tenant}/api"); never in the port, the
 * query, an IP literal or part of a label or segment. The gateway puts the
 * token's tenant there (src/gateway/uri.c, tg_gw_upstream_for_tenant). */
static enum tg_err
upstream_check(const char *u, struct why *w)
{
    static const char ph[] = TENANT_PLACEHOLDER;
    const size_t phn = sizeof(ph) - 1;
    const char *at = strstr(u, ph), *auth, *auth_end, *host_end, *q, *after, *last, *p;
    char sample[TG_POLICY_URI_MAX + 1];
    size_t n = strlen(u);

    if (at == NULL) {
        BAD_IF(!tg_uri_http_valid(sl(u)), w,
               "upstream: an absolute http(s) URI without fragment or userinfo");
        return TG_OK;
    }
    BAD_IF(strstr(at + phn, ph) != NULL, w, "upstream: {tenant} at most once");
    BAD_IF(n > TG_POLICY_URI_MAX, w, "upstream: longer than %d bytes", TG_POLICY_URI_MAX);
    auth = strstr(u, "://");
    BAD_IF(auth == NULL || auth > at, w,
           "upstream: an absolute http(s) URI without fragment or userinfo");
    auth += 3;
    auth_end = auth + strcspn(auth, "/?#");
    q = strchr(u, '?');
    after = at + phn;
    if (at < auth_end) {
        /* A host label: "://" or "." before it, "." after it (another label
         * follows), and a host name, not an address, around it. */
        host_end = auth + strcspn(auth, ":/?#");
        BAD_IF(at >= host_end, w, "upstream: {tenant} may not stand in the port");
        BAD_IF(!((at == auth || at[-1] == '.') && *after == '.'), w,
               "upstream: {tenant} must be a whole host label followed by the rest of "
               "the host name ({tenant}.example.com)");
        last = after;
        for (p = after; p < host_end; p++)
            if (*p == '.')
                last = p + 1;
        /* A top-level label never starts with a digit (RFC 3696 §2): one
         * that does could make "{tenant}.0.0.1" an address. */
        BAD_IF(last == host_end || !((*last >= 'a' && *last <= 'z') ||
                                     (*last >= 'A' && *last <= 'Z')),
               w, "upstream: a tenant-bound host must be a DNS name, not an address");
    } else {
        BAD_IF(q != NULL && at > q, w, "upstream: {tenant} may not stand in the query");
        BAD_IF(!(at[-1] == '/' && (*after == '/' || *after == '?' || *after == '\0')), w,
               "upstream: {tenant} must be a whole path segment (/{tenant}/)");
    }
    /* The rest is an ordinary upstream once a tenant stands in the
     * placeholder ("t" is valid in both places). */
    snprintf(sample, sizeof(sample), "%.*st%s", (int)(at - u), u, after);
    BAD_IF(!tg_uri_http_valid(sl(sample)), w,
           "upstream: an absolute http(s) URI without fragment or userinfo");
    return TG_OK;
}

static enum tg_err
tool_check(const struct tg_tool *t, struct why *w)
{
    size_t i, j;

    BAD_IF(t == NULL, w, "no tool");
    BAD_IF(!id_ok(t->id), w, "id: 1 to %d characters of A-Z a-z 0-9 . _ : -", TG_POLICY_ID_MAX);
    BAD_IF(t->resource == NULL || !tg_uri_http_valid(sl(t->resource)), w,
           "resource: an absolute http(s) URI without fragment or userinfo");
    if (t->upstream != NULL)
        TG_GUARD(upstream_check(t->upstream, w));
    BAD_IF(t->kind != NULL && strcmp(t->kind, "http") != 0 && !tg_tool_is_mcp(t), w,
           "kind: http, mcp or mcp+content_digest");
    BAD_IF(t->n_endpoints > TG_POLICY_MAX_ENDPOINTS, w, "endpoints: more than %d",
           TG_POLICY_MAX_ENDPOINTS);
    BAD_IF(t->n_endpoints > 0 && t->endpoints == NULL, w, "endpoints: missing");
    for (i = 0; i < t->n_endpoints; i++) {
        TG_GUARD(endpoint_check(&t->endpoints[i], i, tg_tool_is_mcp(t), w));
        for (j = 0; j < i; j++)
            BAD_IF(strcmp(t->endpoints[i].method, t->endpoints[j].method) == 0 &&
                       (strcmp(t->endpoints[i].method, TG_ENDPOINT_METHOD_MCP) == 0
                            ? strcmp(t->endpoints[i].path, t->endpoints[j].path) == 0
                            : same_shape(t->endpoints[i].path, t->endpoints[j].path)),
                   w, "endpoints[%zu]: same method and path shape as endpoints[%zu]", i, j);
    }
    return TG_OK;
}

static enum tg_err
grant_check(const struct tg_grant *g, struct why *w)
{
    const unsigned all = TG_ACTION_BIT(TG_ACTION_READ) | TG_ACTION_BIT(TG_ACTION_WRITE) |
                         TG_ACTION_BIT(TG_ACTION_ADMIN);
    struct tg_slice m, p;
    size_t i, j;

    BAD_IF(g == NULL, w, "no grant");
    BAD_IF(!id_ok(g->agent_id), w, "agent: not a valid agent id");
    BAD_IF(!id_ok(g->tool_id), w, "tool: not a valid tool id");
    BAD_IF(g->actions == 0, w, "actions: at least one of read, write, admin");
    BAD_IF((g->actions & ~all) != 0, w, "actions: only read, write, admin");
    BAD_IF(g->n_endpoints > TG_POLICY_MAX_ENDPOINTS, w, "endpoints: more than %d",
           TG_POLICY_MAX_ENDPOINTS);
    BAD_IF(g->n_endpoints > 0 && g->endpoints == NULL, w, "endpoints: missing");
    for (i = 0; i < g->n_endpoints; i++) {
        BAD_IF(g->endpoints[i] == NULL ||
                   tg_endpoint_ref_split(sl(g->endpoints[i]), &m, &p) != TG_OK,
               w, "endpoints[%zu]: \"METHOD /path\" naming an endpoint of the tool", i);
        for (j = 0; j < i; j++)
            BAD_IF(strcmp(g->endpoints[i], g->endpoints[j]) == 0, w,
                   "endpoints[%zu]: listed twice", i);
    }
    return TG_OK;
}

enum tg_err
tg_agent_validate_msg(const struct tg_agent *a, char *why, size_t why_len)
{
    struct why w = {why, why_len};

    return agent_check(a, &w);
}

enum tg_err
tg_tool_validate_msg(const struct tg_tool *t, char *why, size_t why_len)
{
    struct why w = {why, why_len};

    return tool_check(t, &w);
}

enum tg_err
tg_grant_validate_msg(const struct tg_grant *g, char *why, size_t why_len)
{
    struct why w = {why, why_len};

    return grant_check(g, &w);
}

enum tg_err
tg_agent_validate(const struct tg_agent *a)
{
    return tg_agent_validate_msg(a, NULL, 0);
}

enum tg_err
tg_tool_validate(const struct tg_tool *t)
{
    return tg_tool_validate_msg(t, NULL, 0);
}

enum tg_err
tg_grant_validate(const struct tg_grant *g)
{
    return tg_grant_validate_msg(g, NULL, 0);
}
