/* The resource-side decision (docs/verify.md). The checks, in order:
 *   1. credentials: exactly one Authorization header, DPoP or Bearer
 *      scheme, token68 syntax (RFC 9110 §11.4, RFC 6750 §2.1, RFC 9449 §7.1);
 *   2. the access token: from the cache by its SHA-256, or verified and
 *      cached (RFC 9068 §4); exp re-checked on a hit; aud holds the tool's
 *      resource (RFC 8707); live state (revocation, disabled agent) asked
 *      on every request;
 *   3. the binding: cnf.jkt needs the DPoP scheme and a valid proof
 *      (RFC 9449 §7), cnf["x5t#S256"] the matching client certificate
 *      (RFC 8705 §3); a bound token is never a bearer token; a proof's
 *      content_digest matches the body (MCP ext-auth DPoP profile);
 *   4. the endpoint: the tool's table, deny by default;
 *   5. the token's authorization_details allow the endpoint's action and
 *      endpoint; high-risk endpoints need a detail naming them and a
 *      sender-constrained token (docs/policy.md).
 * Each refusal carries its RFC error, status and WWW-Authenticate. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/str.h"
#include "crypto/crypto.h"
#include "policy/match.h"
#include "verify/resource.h"
#include "verify/token.h"

enum { SCHEME_DPOP = 1u, SCHEME_BEARER = 2u, SCHEME_BOTH = 3u };

/* ---- WWW-Authenticate (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9449 §7.1) ---- */

struct chal {
    char *p;
    size_t len, cap;
    int full;
};

static void
put_n(struct chal *c, const char *s, size_t n)
{
    if (c->full || c->len + n >= c->cap) {
        c->full = 1;
        return;
    }
    memcpy(c->p + c->len, s, n);
    c->len += n;
    c->p[c->len] = '\0';
}

static void
put(struct chal *c, const char *s)
{
    put_n(c, s, strlen(s));
}

/* quoted-string (RFC 9110 §5.6.4): '"' and '\' escaped; bytes outside
 * printable ASCII dropped (RFC 6750 §3 allows none in these values). */
static void
put_quoted(struct chal *c, const char *s)
{
    char esc[2] = {'\\', 0};

    put_n(c, "\"", 1);
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            continue;
        if (*s == '"' || *s == '\\') {
            esc[1] = *s;
            put_n(c, esc, 2);
        } else {
            put_n(c, s, 1);
        }
    }
    put_n(c, "\"", 1);
}

static void
param(struct chal *c, int *first, const char *name, const char *value)
{
    if (value == NULL)
        return;
    put(c, *first ? " " : ", ");
    *first = 0;
    put(c, name);
    put_n(c, "=", 1);
    put_quoted(c, value);
}

/* RFC 9449 §7.1: algs, the space-separated JWS algs accepted in proofs. */
static void
algs_list(unsigned algs, char *dst, size_t cap)
{
    struct chal c = {dst, 0, cap, 0};
    enum tg_jws_alg a;

    dst[0] = '\0';
    if (algs == 0)
        algs = TG_JWS_ALGS_ALL;
    for (a = TG_JWS_ES256; a < TG_JWS_ALG__COUNT; a++) {
        if (!(algs & TG_JWS_ALG_BIT(a)))
            continue;
        if (c.len > 0)
            put_n(&c, " ", 1);
        put(&c, tg_jws_alg_name(a));
    }
}

struct refusal {
    unsigned schemes; /* challenges to send; 0: none */
    const char *error, *desc, *scope;
};

static int
build_challenges(const struct tg_rs_config *cfg, const struct refusal *r, int with_desc,
                 char *dst, size_t cap)
{
    struct chal c = {dst, 0, cap, 0};
    const char *desc = with_desc && r->error != NULL ? r->desc : NULL;
    char algs[96];
    int first;

    dst[0] = '\0';
    if (r->schemes & SCHEME_DPOP) {
        algs_list(cfg->dpop.algs, algs, sizeof(algs));
        put(&c, "DPoP");
        first = 1;
        param(&c, &first, "error", r->error);
        param(&c, &first, "error_description", desc);
        param(&c, &first, "scope", r->scope);
        param(&c, &first, "algs", algs);
        param(&c, &first, "resource_metadata", cfg->resource_metadata);
    }
    if (r->schemes & SCHEME_BEARER) {
        if (c.len > 0)
            put(&c, ", ");
        put(&c, "Bearer");
        first = 1;
        param(&c, &first, "error", r->error);
        param(&c, &first, "error_description", desc);
        param(&c, &first, "scope", r->scope);
        param(&c, &first, "resource_metadata", cfg->resource_metadata);
    }
    return !c.full;
}

static void
deny(const struct tg_rs_config *cfg, struct tg_rs_decision *out, enum tg_err err, int status,
     const struct refusal *r)
{
    out->err = err;
    out->status = status;
    out->error = r->error;
    out->description = r->desc;
    out->www_authenticate[0] = '\0';
    if (r->scope != NULL)
        snprintf(out->scope_needed, sizeof(out->scope_needed), "%s", r->scope);
    if (r->schemes == 0 || cfg == NULL)
        return;
    /* The metadata URL's length is capped, so the challenges always fit
     * once the description is left out. */
    if (!build_challenges(cfg, r, 1, out->www_authenticate, sizeof(out->www_authenticate)) &&
        !build_challenges(cfg, r, 0, out->www_authenticate, sizeof(out->www_authenticate)))
        out->www_authenticate[0] = '\0';
}

#define DENY(err_, status_, schemes_, error_, desc_, scope_)                               \
    do {                                                                                 \
        struct refusal r_ = {(schemes_), (error_), (desc_), (scope_)};                   \
        deny(cfg, out, (err_), (status_), &r_);                                          \
        goto out;                                                                        \
    } while (0)

#define UNAVAILABLE(err_, desc_)                                                         \
    do {                                                                                 \
        out->retry_after = 1;                                                            \
        DENY((err_), 503, 0, "temporarily_unavailable", (desc_), NULL);                  \
    } while (0)

/* ---- the Authorization header ---- */

enum cred { CRED_OK, CRED_UNKNOWN_SCHEME, CRED_MALFORMED };

static int
is_alnum(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 9110 §5.6.2 tchar */
static int
is_tchar(int c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 9110 §11.2 token68 (RFC 6750 §2.1 b64token), without the "=" tail */
static int
is_token68(int c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

static unsigned char token68_table[256];

static void
token68_table_init(void)
{
    int c;

    for (c = 1; c < 256; c++)
        token68_table[c] = (unsigned char)is_token68(c);
}

/* How many token68 characters s starts with: a table lookup per byte (an
 * access token is ~1 KB, read on every request). */
static size_t
token68_span(const char *s)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    const unsigned char *p = (const unsigned char *)s;

    pthread_once(&once, token68_table_init);
    while (token68_table[*p])
        p++;
    return (size_t)(p - (const unsigned char *)s);
}

/* credentials = auth-scheme 1*SP token68, with optional whitespace around
 * the field value (RFC 9110 §5.5). The scheme is case-insensitive
 * (§11.1). */
static enum cred
parse_credentials(const char *h, unsigned *scheme, const char **tok, size_t *len)
{
    const char *p = h, *s, *t;
    size_t n;

    *scheme = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    for (s = p; is_tchar((unsigned char)*p); p++)
        ;
    n = (size_t)(p - s);
    if (n == 4 && strncasecmp(s, "DPoP", 4) == 0)
        *scheme = SCHEME_DPOP;
    else if (n == 6 && strncasecmp(s, "Bearer", 6) == 0)
        *scheme = SCHEME_BEARER;
    else
        return n > 0 && (*p == '\0' || *p == ' ') ? CRED_UNKNOWN_SCHEME : CRED_MALFORMED;
    if (*p != ' ')
        return CRED_MALFORMED;
    while (*p == ' ')
        p++;
    t = p;
    p += token68_span(p);
    if (p == t)
        return CRED_MALFORMED;
    while (*p == '=')
        p++;
    *tok = t;
    *len = (size_t)(p - t);
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' ? CRED_OK : CRED_MALFORMED;
}

/* ---- pieces of the decision ---- */

static int
has_str(char *const *v, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* The token's scope tokens that name this tool (the tool part of
 * "<tool>:<action>" is everything before the last ':'), space-separated. */
static void
scope_for_tool(const char *scope, const char *tool, char *dst, size_t cap)
{
    size_t tl = strlen(tool), n = 0, len, i;
    const char *p = scope, *sp, *colon;

    dst[0] = '\0';
    while (p != NULL && *p != '\0') {
        sp = strchr(p, ' ');
        len = sp != NULL ? (size_t)(sp - p) : strlen(p);
        colon = NULL;
        for (i = 0; i < len; i++)
            if (p[i] == ':')
                colon = p + i;
        if (colon != NULL && (size_t)(colon - p) == tl && memcmp(p, tool, tl) == 0 &&
            n + len + 2 <= cap) {
            if (n > 0)
                dst[n++] = ' ';
            memcpy(dst + n, p, len);
            n += len;
            dst[n] = '\0';
        }
        p = sp != NULL ? sp + 1 : NULL;
    }
}

static void
fill_identity(struct tg_rs_identity *id, const struct tg_rs_token *t, const struct tg_tool *tool)
{
    /* The fields have the sizes the token's claims were checked against. */
    memcpy(id->sub, t->sub, sizeof(id->sub));
    memcpy(id->client_id, t->client_id, sizeof(id->client_id));
    memcpy(id->tenant, t->tenant, sizeof(id->tenant));
    memcpy(id->owner, t->owner, sizeof(id->owner));
    memcpy(id->agent_type, t->agent_type, sizeof(id->agent_type));
    memcpy(id->jti, t->jti, sizeof(id->jti));
    if (t->scope != NULL)
        scope_for_tool(t->scope, tool->id, id->scope, sizeof(id->scope));
    id->exp = t->exp;
}

static void
b64_std(const uint8_t *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    uint32_t v;

    for (i = 0; i + 2 < n; i += 3) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = tbl[v >> 18];
        *out++ = tbl[(v >> 12) & 63];
        *out++ = tbl[(v >> 6) & 63];
        *out++ = tbl[v & 63];
    }
    if (i < n) {
        v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        *out++ = tbl[v >> 18];
        *out++ = tbl[(v >> 12) & 63];
        *out++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

/* RFC 9530 §2: the Content-Digest field value for SHA-256,
 * "sha-256=:<base64>:" (a Structured Fields byte sequence, RFC 8941 §3.3.5). */
static enum tg_err
content_digest(struct tg_slice body, char out[64])
{
    uint8_t md[TG_SHA256_LEN];

    TG_GUARD(tg_sha256(body, md));
    memcpy(out, "sha-256=:", 9);
    b64_std(md, sizeof(md), out + 9);
    memcpy(out + 9 + 44, ":", 2);
    return TG_OK;
}

static int
endpoint_listed(const struct tg_authz_detail *d, const struct tg_endpoint *ep)
{
    size_t i;

    for (i = 0; i < d->n_endpoints; i++)
        if (tg_endpoint_ref_eq(ep, tg_slice(d->endpoints[i], strlen(d->endpoints[i]))))
            return 1;
    return 0;
}

/* docs/policy.md, "What the token means to a verifier". */
static int
authorized(const struct tg_rs_token *t, const struct tg_tool *tool, const struct tg_endpoint *ep,
           int constrained, const char **why)
{
    const struct tg_authz_detail *d;
    int tool_seen = 0, needs_pop = 0;
    size_t i;

    for (i = 0; i < t->n_details; i++) {
        d = &t->details[i];
        if (strcmp(d->tool, tool->id) != 0)
            continue;
        /* RFC 9396 §2.2: a detail with locations is for those resources only. */
        if (d->locations != NULL && !has_str(d->locations, d->n_locations, tool->resource))
            continue;
        tool_seen = 1;
        if (!(d->actions & TG_ACTION_BIT(ep->action)))
            continue;
        /* Restricted: the endpoint must be listed. Unrestricted: normal risk only. */
        if (d->endpoints != NULL ? !endpoint_listed(d, ep) : ep->risk == TG_RISK_HIGH)
            continue;
        if (ep->risk == TG_RISK_HIGH && !constrained) {
            needs_pop = 1;
            continue;
        }
        return 1;
    }
    *why = needs_pop ? "a high-risk endpoint requires a sender-constrained token"
           : tool_seen ? "the access token does not allow this action or endpoint"
                       : "the access token does not allow this tool";
    return 0;
}

static int
config_ok(const struct tg_rs_config *cfg, const struct tg_tool *tool,
          const struct tg_rs_request *req)
{
    return cfg != NULL && tool != NULL && req != NULL && cfg->issuer != NULL &&
           cfg->keys.find != NULL && cfg->dpop.replay.insert_once != NULL && tool->id != NULL &&
           tool->resource != NULL && (tool->endpoints != NULL || tool->n_endpoints == 0) &&
           req->method != NULL && req->path != NULL && req->url != NULL &&
           (req->n_authorization == 0 || req->authorization != NULL) &&
           (req->n_dpop == 0 || req->dpop != NULL) &&
           (req->client_cert.len == 0 || req->client_cert.p != NULL) &&
           (req->body.len == 0 || req->body.p != NULL) &&
           (cfg->resource_metadata == NULL ||
            strlen(cfg->resource_metadata) <= TG_RS_MAX_METADATA_URL);
}

void
tg_rs_auth_reset(struct tg_rs_auth *a)
{
    if (a == NULL)
        return;
    tg_rs_token_unref(a->tok);
    a->tok = NULL;
    a->scheme = 0;
}

/* Steps 1-3: the credentials, the token and its binding. On success out is
 * an allow (no action or endpoint yet) and auth holds the token. */
void
tg_rs_authenticate(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                   const struct tg_rs_request *req, struct tg_rs_auth *auth,
                   struct tg_rs_decision *out)
{
    const struct tg_clock *clock;
    struct tg_rs_token *tok = NULL;
    struct tg_dpop_config dcfg;
    struct tg_dpop_request dreq;
    struct tg_dpop_result dres;
    uint8_t key[TG_SHA256_LEN];
    char *owned = NULL, x5t[TG_THUMBPRINT_B64_LEN + 1], digest[64];
    const char *token = NULL, *why = NULL;
    size_t len = 0;
    unsigned scheme = 0;
    int64_t now, skew;
    int active;
    enum tg_err e;

    memset(out, 0, sizeof(*out));
    if (auth != NULL) {
        auth->tok = NULL;
        auth->scheme = 0;
    }
    /* Fail closed until the end says otherwise. */
    out->err = TG_ERR_INTERNAL;
    out->status = 500;
    out->error = "server_error";
    if (!config_ok(cfg, tool, req) || auth == NULL) {
        tg_err_raise(TG_ERR_CONFIG, "tg_rs_decide: incomplete configuration or request");
        DENY(TG_ERR_CONFIG, 500, 0, "server_error", "the resource is misconfigured", NULL);
    }
    clock = cfg->clock != NULL ? cfg->clock : &tg_clock_system;
    now = tg_clock_now(clock);
    skew = cfg->skew > 0 ? cfg->skew : 0;

    /* 1. Credentials. RFC 6750 §3.1: no credentials (or only in a scheme we
     * do not support) gets the challenges without an error code. */
    if (req->n_authorization == 0)
        DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, SCHEME_BOTH, NULL, "an access token is required",
             NULL);
    if (req->n_authorization > 1)
        DENY(TG_ERR_OAUTH_INVALID_REQUEST, 400, SCHEME_BOTH, "invalid_request",
             "exactly one Authorization header is allowed", NULL);
    switch (req->authorization[0] != NULL
                ? parse_credentials(req->authorization[0], &scheme, &token, &len)
                : CRED_MALFORMED) {
    case CRED_OK:
        break;
    case CRED_UNKNOWN_SCHEME:
        DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, SCHEME_BOTH, NULL,
             "the Authorization scheme must be DPoP or Bearer", NULL);
    case CRED_MALFORMED:
    default:
        DENY(TG_ERR_OAUTH_INVALID_REQUEST, 400, scheme ? scheme : SCHEME_BOTH, "invalid_request",
             "the Authorization header is malformed", NULL);
    }
    if (len > TG_RS_MAX_TOKEN)
        DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, scheme, "invalid_token",
             "the access token is too large", NULL);
    if (token[len] != '\0') {
        owned = strndup(token, len);
        if (owned == NULL)
            DENY(TG_ERR_NOMEM, 500, 0, "server_error", "out of memory", NULL);
        token = owned;
    }

    /* 2. The token: cached, or verified now and cached until its exp. */
    if (tg_sha256(tg_slice(token, len), key) != TG_OK)
        DENY(TG_ERR_INTERNAL, 500, 0, "server_error", "internal error", NULL);
    if (cfg->cache != NULL)
        tok = tg_token_cache_get(cfg->cache, key);
    if (tok != NULL) {
        out->cache_hit = 1;
        /* RFC 7519 §4.1.4, as on a miss: refused on or after exp + skew. */
        if (now >= tok->exp + skew) {
            tg_token_cache_remove(cfg->cache, key);
            tg_err_raise(TG_ERR_OAUTH_INVALID_TOKEN, "cached token expired");
            DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, scheme, "invalid_token",
                 "the access token has expired", NULL);
        }
    } else {
        e = tg_rs_token_verify(cfg, token, len, &tok, &why, &out->unknown_kid);
        switch (e) {
        case TG_OK:
            if (cfg->cache != NULL)
                tg_token_cache_put(cfg->cache, key, tok, now);
            break;
        case TG_ERR_OAUTH_INVALID_TOKEN:
            DENY(e, 401, scheme, "invalid_token", why, NULL);
        case TG_ERR_STORE:
            UNAVAILABLE(e, "the issuer's keys are unavailable, try again");
        default:
            DENY(e, 500, 0, "server_error", "internal error", NULL);
        }
    }
    fill_identity(&out->id, tok, tool);
    /* RFC 8707 §2, RFC 9068 §4: the token must be meant for this resource. */
    if (!has_str(tok->aud, tok->n_aud, tool->resource)) {
        tg_err_raise(TG_ERR_OAUTH_INVALID_TOKEN, "aud does not name %s", tool->resource);
        DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, scheme, "invalid_token",
             "the access token is not meant for this resource", NULL);
    }
    /* Revocation and disabled agents, on every request (a warm cache too). */
    if (cfg->state.active != NULL) {
        active = cfg->state.active(cfg->state.arg, tok->jti, tok->client_id, tok->iat);
        if (active < 0) {
            tg_err_raise(TG_ERR_STORE, "token state unavailable");
            UNAVAILABLE(TG_ERR_STORE, "the token's state is unavailable, try again");
        }
        if (active == 0) {
            tg_err_raise(TG_ERR_OAUTH_INVALID_TOKEN, "token inactive (revoked or agent disabled)");
            DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, scheme, "invalid_token",
                 "the access token is no longer active", NULL);
        }
    }

    /* 3. The binding. RFC 9449 §7.2: a DPoP-bound token is never accepted
     * as a bearer token; the DPoP scheme is for DPoP-bound tokens only. */
    if (tok->jkt[0] != '\0' && scheme != SCHEME_DPOP) {
        tg_err_raise(TG_ERR_OAUTH_INVALID_TOKEN, "DPoP-bound token used as %s", "Bearer");
        DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, scheme, "invalid_token",
             "a token bound to a key is never accepted as a bearer token", NULL);
    }
    if (tok->jkt[0] == '\0' && scheme == SCHEME_DPOP) {
        tg_err_raise(TG_ERR_OAUTH_INVALID_TOKEN, "DPoP scheme with a token without cnf.jkt");
        DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, scheme, "invalid_token",
             "the DPoP scheme requires a DPoP-bound access token", NULL);
    }
    if (tok->jkt[0] != '\0') {
        dcfg = cfg->dpop;
        if (dcfg.clock == NULL)
            dcfg.clock = clock;
        memset(&dreq, 0, sizeof(dreq));
        dreq.proof = req->n_dpop > 0 ? req->dpop[0] : NULL;
        dreq.n_proof_headers = req->n_dpop;
        dreq.htm = req->method;
        dreq.htu = req->url;
        dreq.access_token = token; /* ath (§4.3 step 12) */
        dreq.access_token_sha256 = key; /* its SHA-256, computed once above */
        dreq.jkt = tok->jkt;       /* the proof key is the bound key (§7.1) */
        e = tg_dpop_verify(&dcfg, &dreq, &dres);
        switch (e) {
        case TG_OK:
            break;
        case TG_ERR_OAUTH_INVALID_DPOP_PROOF:
            DENY(e, 401, SCHEME_DPOP, "invalid_dpop_proof",
                 dres.why != NULL ? dres.why : "invalid DPoP proof", NULL);
        case TG_ERR_OAUTH_USE_DPOP_NONCE:
            /* §9: a fresh nonce in DPoP-Nonce, with this challenge. */
            out->need_nonce = 1;
            DENY(e, 401, SCHEME_DPOP, "use_dpop_nonce",
                 "the resource server requires a nonce in the DPoP proof", NULL);
        case TG_ERR_CACHE_FULL:
            UNAVAILABLE(e, "too many requests, try again");
        default:
            DENY(e, 500, 0, "server_error", "internal error", NULL);
        }
        /* MCP ext-auth DPoP profile: the proof covers the body. */
        if (!dres.has_content_digest && cfg->require_content_digest) {
            tg_err_raise(TG_ERR_OAUTH_INVALID_DPOP_PROOF, "content_digest required");
            DENY(TG_ERR_OAUTH_INVALID_DPOP_PROOF, 401, SCHEME_DPOP, "invalid_dpop_proof",
                 "the DPoP proof must carry content_digest", NULL);
        }
        if (dres.has_content_digest) {
            if (content_digest(req->body, digest) != TG_OK)
                DENY(TG_ERR_INTERNAL, 500, 0, "server_error", "internal error", NULL);
            if (strlen(dres.content_digest) != strlen(digest) ||
                !tg_ct_eq(dres.content_digest, digest, strlen(digest))) {
                tg_err_raise(TG_ERR_OAUTH_INVALID_DPOP_PROOF, "content_digest mismatch");
                DENY(TG_ERR_OAUTH_INVALID_DPOP_PROOF, 401, SCHEME_DPOP, "invalid_dpop_proof",
                     "the DPoP proof's content_digest does not match the body", NULL);
            }
        }
    }
    /* RFC 8705 §3: the certificate on this connection is the bound one. */
    if (tok->x5t[0] != '\0') {
        if (req->client_cert.len == 0) {
            tg_err_raise(TG_ERR_OAUTH_INVALID_TOKEN, "certificate-bound token without a certificate");
            DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, scheme, "invalid_token",
                 "the access token is bound to a client certificate; none was presented", NULL);
        }
        if (tg_x5t_s256(req->client_cert, x5t) != TG_OK)
            DENY(TG_ERR_INTERNAL, 500, 0, "server_error", "internal error", NULL);
        if (!tg_ct_eq(x5t, tok->x5t, TG_THUMBPRINT_B64_LEN)) {
            tg_err_raise(TG_ERR_OAUTH_INVALID_TOKEN, "certificate does not match cnf.x5t#S256");
            DENY(TG_ERR_OAUTH_INVALID_TOKEN, 401, scheme, "invalid_token",
                 "the client certificate does not match the access token's binding", NULL);
        }
    }
    (void)tg_join(out->id.binding, sizeof(out->id.binding),
                  tok->jkt[0] != '\0' ? "dpop" : tok->x5t[0] != '\0' ? "mtls" : "bearer", NULL);

    out->err = TG_OK;
    out->status = 200;
    out->error = NULL;
    out->description = NULL;
    auth->tok = tok;
    auth->scheme = scheme;
    tok = NULL;
out:
    tg_rs_token_unref(tok);
    if (owned != NULL) {
        tg_wipe(owned, len);
        free(owned);
    }
}

/* Steps 4-5 for the matched entry `ep` (NULL: none matched, `nomatch` says
 * why): the token's details allow its action and endpoint. */
static void
authorize_entry(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                const struct tg_rs_auth *auth, const struct tg_endpoint *ep,
                const char *nomatch, struct tg_rs_decision *out)
{
    const struct tg_rs_token *tok = auth->tok;
    unsigned scheme = auth->scheme;
    const char *why = NULL;
    char scope[256];

    out->scope_needed[0] = '\0';
    out->need_nonce = 0;
    out->retry_after = 0;
    out->id.action[0] = '\0';
    out->id.endpoint[0] = '\0';
    if (ep == NULL)
        DENY(TG_ERR_OAUTH_INSUFFICIENT_SCOPE, 403, scheme, "insufficient_scope", nomatch, NULL);
    if (tg_join(out->id.action, sizeof(out->id.action), tg_action_name(ep->action), NULL) < 0 ||
        tg_join(out->id.endpoint, sizeof(out->id.endpoint), ep->method, " ", ep->path, NULL) <
            0 ||
        tg_join(scope, sizeof(scope), tool->id, ":", tg_action_name(ep->action), NULL) < 0)
        DENY(TG_ERR_CONFIG, 500, 0, "server_error", "the resource is misconfigured", NULL);

    /* 5. The token allows this tool, action and endpoint. */
    if (!authorized(tok, tool, ep, tok->jkt[0] != '\0' || tok->x5t[0] != '\0', &why)) {
        tg_err_raise(TG_ERR_OAUTH_INSUFFICIENT_SCOPE, "%s: %s", scope, why);
        DENY(TG_ERR_OAUTH_INSUFFICIENT_SCOPE, 403, scheme, "insufficient_scope", why, scope);
    }
    out->err = TG_OK;
    out->status = 200;
    out->error = NULL;
    out->description = NULL;
out:
    return;
}

void
tg_rs_decide(const struct tg_rs_config *cfg, const struct tg_tool *tool,
             const struct tg_rs_request *req, struct tg_rs_decision *out)
{
    struct tg_rs_auth auth = {0};
    const struct tg_endpoint *ep = NULL;
    enum tg_err e;

    tg_rs_authenticate(cfg, tool, req, &auth, out);
    if (out->err != TG_OK)
        return;
    /* 4. The endpoint: deny by default; paths an upstream would resolve to
     * another endpoint (dot segments, encoded ones) are refused by the matcher. */
    e = tg_endpoint_match(tool->endpoints, tool->n_endpoints,
                          tg_slice(req->method, strlen(req->method)),
                          tg_slice(req->path, strlen(req->path)), &ep);
    authorize_entry(cfg, tool, &auth, e == TG_OK ? ep : NULL,
                    e == TG_ERR_NOT_FOUND ? "no such endpoint" : "the request path is not allowed",
                    out);
    tg_rs_auth_reset(&auth);
}

/* ---- MCP: authenticate once, authorize per MCP tool ---- */

void
tg_rs_authorize_mcp_tool(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                         const struct tg_rs_auth *auth, const char *name,
                         struct tg_rs_decision *out)
{
    const struct tg_endpoint *ep = NULL;
    enum tg_err e;

    if (cfg == NULL || tool == NULL || auth == NULL || auth->tok == NULL || name == NULL) {
        struct refusal r = {0, "server_error", "the resource is misconfigured", NULL};

        tg_err_raise(TG_ERR_CONFIG, "tg_rs_authorize_mcp_tool: not authenticated");
        deny(cfg, out, TG_ERR_CONFIG, 500, &r);
        return;
    }
    e = tg_mcp_tool_match(tool->endpoints, tool->n_endpoints, tg_slice(name, strlen(name)), &ep);
    authorize_entry(cfg, tool, auth, e == TG_OK ? ep : NULL, "no such MCP tool", out);
}

/* Some detail of the token names this tool (and its resource, when it has
 * locations) with at least one action. */
static int
names_tool(const struct tg_rs_token *t, const struct tg_tool *tool)
{
    size_t i;

    for (i = 0; i < t->n_details; i++) {
        const struct tg_authz_detail *d = &t->details[i];

        if (strcmp(d->tool, tool->id) != 0)
            continue;
        if (d->locations != NULL && !has_str(d->locations, d->n_locations, tool->resource))
            continue;
        if (d->actions != 0)
            return 1;
    }
    return 0;
}

void
tg_rs_authorize_mcp_any(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                        const struct tg_rs_auth *auth, struct tg_rs_decision *out)
{
    char scope[256];

    if (cfg == NULL || tool == NULL || auth == NULL || auth->tok == NULL) {
        struct refusal r = {0, "server_error", "the resource is misconfigured", NULL};

        tg_err_raise(TG_ERR_CONFIG, "tg_rs_authorize_mcp_any: not authenticated");
        deny(cfg, out, TG_ERR_CONFIG, 500, &r);
        return;
    }
    /* id.action and id.endpoint stay as an earlier message of a batch set
     * them. */
    out->scope_needed[0] = '\0';
    if (!names_tool(auth->tok, tool)) {
        struct refusal r = {auth->scheme, "insufficient_scope",
                            "the access token does not allow this tool", scope};

        snprintf(scope, sizeof(scope), "%s:read", tool->id);
        tg_err_raise(TG_ERR_OAUTH_INSUFFICIENT_SCOPE, "token does not name tool %s", tool->id);
        deny(cfg, out, TG_ERR_OAUTH_INSUFFICIENT_SCOPE, 403, &r);
        return;
    }
    out->err = TG_OK;
    out->status = 200;
    out->error = NULL;
    out->description = NULL;
    out->www_authenticate[0] = '\0';
}

int
tg_rs_mcp_tool_allowed(const struct tg_tool *tool, const struct tg_rs_auth *auth,
                       const char *name)
{
    const struct tg_endpoint *ep = NULL;
    const char *why = NULL;

    if (tool == NULL || auth == NULL || auth->tok == NULL || name == NULL)
        return 0;
    if (tg_mcp_tool_match(tool->endpoints, tool->n_endpoints, tg_slice(name, strlen(name)),
                          &ep) != TG_OK)
        return 0;
    return authorized(auth->tok, tool, ep, auth->tok->jkt[0] != '\0' || auth->tok->x5t[0] != '\0',
                      &why);
}
