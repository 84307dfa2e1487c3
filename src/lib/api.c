/* libtollgate (include/tollgate.h): the resource-side decision of
 * src/verify/ behind an opaque, thread-safe handle, with the state a tool
 * without a store needs: the issuer's key set (swappable), a verified-token
 * cache and a DPoP replay set, all in memory. Links only the pure layers. */
#define TOLLGATE_BUILDING
#include "tollgate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "policy/match.h"
#include "verify/resource.h"

#define DEFAULT_SKEW 30
#define DEFAULT_TOKEN_CACHE 4096
#define DEFAULT_REPLAY 65536

struct tollgate_verifier {
    struct tg_rs_config cfg;    /* immutable after _new */
    struct tg_tool tool;        /* owned copy of the table */
    char *issuer, *metadata;
    struct tg_clock clock;
    uint8_t nonce_key[32];
    pthread_mutex_t keys_lock;  /* guards `keys` */
    struct tg_rs_keyset *keys;
    struct tg_token_cache *cache;
    struct tg_replay_mem *replay;
    struct tg_jwk_cache *proof_keys;           /* DPoP proof keys by thumbprint */
    struct tg_jws_header_cache *proof_headers; /* repeated proof headers */
};

struct tollgate_decision {
    struct tg_rs_decision d;
    char nonce[TG_DPOP_NONCE_LEN + 1];
};

const char *
tollgate_version(void)
{
    return TOLLGATE_VERSION;
}

const char *
tollgate_error_name(int err)
{
    return tg_err_name((enum tg_err)err);
}

const char *
tollgate_error_oauth(int err, const char *context_error)
{
    return tg_err_oauth((enum tg_err)err, context_error);
}

/* tg_rs_keys.find over the current key set (a reference outlives a swap). */
static enum tg_err
find_key(void *arg, const char *kid, struct tg_jwk *out)
{
    struct tollgate_verifier *v = arg;
    enum tg_err rv;

    pthread_mutex_lock(&v->keys_lock);
    rv = tg_rs_keyset_find(v->keys, kid, out);
    pthread_mutex_unlock(&v->keys_lock);
    return rv;
}

static enum tg_err
copy_table(struct tg_tool *t, const struct tollgate_endpoint *eps, size_t n)
{
    enum tg_action a;
    size_t i;

    TG_ENSURE(n <= TG_POLICY_MAX_ENDPOINTS, TG_ERR_POLICY_INVALID, "too many endpoints");
    TG_ENSURE(n == 0 || eps != NULL, TG_ERR_INVALID_ARG, "no endpoints");
    t->endpoints = calloc(n ? n : 1, sizeof(*t->endpoints));
    TG_ENSURE(t->endpoints != NULL, TG_ERR_NOMEM, "endpoints");
    for (i = 0; i < n; i++) {
        TG_ENSURE(eps[i].method != NULL && eps[i].path != NULL && eps[i].action != NULL,
                  TG_ERR_POLICY_INVALID, "endpoint %zu incomplete", i);
        TG_ENSURE(tg_action_parse(eps[i].action, &a) == TG_OK, TG_ERR_POLICY_INVALID,
                  "endpoint %zu: action must be read, write or admin", i);
        t->n_endpoints = i + 1;
        t->endpoints[i].method = strdup(eps[i].method);
        t->endpoints[i].path = strdup(eps[i].path);
        t->endpoints[i].action = a;
        t->endpoints[i].risk = eps[i].high_risk ? TG_RISK_HIGH : TG_RISK_NORMAL;
        TG_ENSURE(t->endpoints[i].method != NULL && t->endpoints[i].path != NULL, TG_ERR_NOMEM,
                  "endpoint");
    }
    return TG_OK;
}

void
tollgate_verifier_free(tollgate_verifier *v)
{
    if (v == NULL)
        return;
    tg_token_cache_free(v->cache);
    tg_replay_mem_free(v->replay);
    tg_jwk_cache_free(v->proof_keys);
    tg_jws_header_cache_free(v->proof_headers);
    tg_rs_keyset_free(v->keys);
    pthread_mutex_destroy(&v->keys_lock);
    tg_tool_reset(&v->tool);
    free(v->issuer);
    free(v->metadata);
    tg_wipe(v->nonce_key, sizeof(v->nonce_key));
    free(v);
}

int
tollgate_verifier_new(const char *issuer, const char *jwks_json, const char *resource,
                      const char *tool_id, const struct tollgate_endpoint *endpoints,
                      size_t n_endpoints, const struct tollgate_options *opts,
                      tollgate_verifier **out)
{
    static const struct tollgate_options none;
    struct tollgate_verifier *v = NULL;
    enum tg_err rv = TG_OK;

    if (out == NULL)
        return TG_ERR_INVALID_ARG;
    *out = NULL;
    if (opts == NULL)
        opts = &none;
    TG_CHECK(issuer != NULL && jwks_json != NULL && resource != NULL && tool_id != NULL,
             TG_ERR_INVALID_ARG, "issuer, jwks, resource and tool id are required");
    TG_CHECK(opts->resource_metadata == NULL ||
                 strlen(opts->resource_metadata) <= TG_RS_MAX_METADATA_URL,
             TG_ERR_INVALID_ARG, "resource_metadata too long");
    v = calloc(1, sizeof(*v));
    TG_CHECK(v != NULL, TG_ERR_NOMEM, "verifier");
    if (pthread_mutex_init(&v->keys_lock, NULL) != 0) {
        free(v);
        v = NULL;
        TG_FAIL(TG_ERR_NOMEM, "mutex");
    }
    v->issuer = strdup(issuer);
    v->tool.id = strdup(tool_id);
    v->tool.resource = strdup(resource);
    v->metadata = opts->resource_metadata ? strdup(opts->resource_metadata) : NULL;
    TG_CHECK(v->issuer != NULL && v->tool.id != NULL && v->tool.resource != NULL &&
                 (opts->resource_metadata == NULL || v->metadata != NULL),
             TG_ERR_NOMEM, "strings");
    TG_TRY(copy_table(&v->tool, endpoints, n_endpoints));
    /* The same rules as a tool in the policy file. */
    TG_TRY(tg_tool_validate(&v->tool));
    TG_TRY(tg_rs_keyset_parse(jwks_json, strlen(jwks_json), &v->keys));
    v->cache = tg_token_cache_new(opts->token_cache_size ? opts->token_cache_size
                                                         : DEFAULT_TOKEN_CACHE);
    v->replay = tg_replay_mem_new(opts->replay_cache_size ? opts->replay_cache_size
                                                          : DEFAULT_REPLAY);
    v->proof_keys = tg_jwk_cache_new(1024);
    v->proof_headers = tg_jws_header_cache_new(1024);
    TG_CHECK(v->cache != NULL && v->replay != NULL && v->proof_keys != NULL &&
                 v->proof_headers != NULL,
             TG_ERR_NOMEM, "caches");
    v->cfg.issuer = v->issuer;
    v->cfg.keys.find = find_key;
    v->cfg.keys.arg = v;
    v->cfg.state.active = opts->active;
    v->cfg.state.arg = opts->active_arg;
    v->cfg.cache = v->cache;
    v->cfg.dpop.replay.insert_once = tg_replay_mem_insert_once;
    v->cfg.dpop.replay.arg = v->replay;
    v->cfg.dpop.key_cache = v->proof_keys;
    v->cfg.dpop.header_cache = v->proof_headers;
    v->cfg.dpop.iat_window = opts->dpop_window;
    if (opts->dpop_nonce_key != NULL) {
        memcpy(v->nonce_key, opts->dpop_nonce_key, sizeof(v->nonce_key));
        v->cfg.dpop.nonce_key = v->nonce_key;
    }
    if (opts->now != NULL) {
        v->clock.now = opts->now;
        v->clock.arg = opts->now_arg;
        v->cfg.clock = &v->clock;
        v->cfg.dpop.clock = &v->clock;
    }
    v->cfg.skew = opts->skew > 0 ? opts->skew : DEFAULT_SKEW;
    v->cfg.resource_metadata = v->metadata;
    v->cfg.require_content_digest = opts->require_content_digest != 0;
    *out = v;
    v = NULL;
out:
    tollgate_verifier_free(v);
    return (int)rv;
}

int
tollgate_verifier_set_jwks(tollgate_verifier *v, const char *jwks_json)
{
    struct tg_rs_keyset *ks = NULL, *old;
    enum tg_err rv;

    if (v == NULL || jwks_json == NULL)
        return TG_ERR_INVALID_ARG;
    rv = tg_rs_keyset_parse(jwks_json, strlen(jwks_json), &ks);
    if (rv != TG_OK)
        return (int)rv;
    pthread_mutex_lock(&v->keys_lock);
    old = v->keys;
    v->keys = ks;
    pthread_mutex_unlock(&v->keys_lock);
    tg_rs_keyset_free(old);
    /* Tokens verified with a key that is gone are verified again. */
    tg_token_cache_clear(v->cache);
    return TOLLGATE_OK;
}

/* The path component of an absolute URL (RFC 3986 §3.3), "/" when empty. */
static char *
url_path(const char *url)
{
    const char *p = strstr(url, "://"), *end;

    if (p == NULL)
        return NULL;
    p += 3;
    p += strcspn(p, "/?#");
    if (*p != '/')
        return strdup("/");
    end = p + strcspn(p, "?#");
    if ((size_t)(end - p) > TG_MATCH_PATH_MAX)
        return NULL;
    return strndup(p, (size_t)(end - p));
}

int
tollgate_verify_request(tollgate_verifier *v, const struct tollgate_request *r,
                        tollgate_decision **out)
{
    struct tollgate_decision *d;
    struct tg_rs_request req;
    char *path = NULL;

    if (out == NULL)
        return TG_ERR_INVALID_ARG;
    *out = NULL;
    if (v == NULL || r == NULL || r->method == NULL || r->url == NULL ||
        (r->n_authorization > 0 && r->authorization == NULL) ||
        (r->n_dpop > 0 && r->dpop == NULL) || (r->cert_len > 0 && r->cert_der == NULL) ||
        (r->body_len > 0 && r->body == NULL))
        return TG_ERR_INVALID_ARG;
    if (r->path == NULL && (path = url_path(r->url)) == NULL)
        return TG_ERR_INVALID_ARG;
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        free(path);
        return TG_ERR_NOMEM;
    }
    memset(&req, 0, sizeof(req));
    req.method = r->method;
    req.url = r->url;
    req.path = r->path != NULL ? r->path : path;
    req.authorization = r->authorization;
    req.n_authorization = r->n_authorization;
    req.dpop = r->dpop;
    req.n_dpop = r->n_dpop;
    req.client_cert = tg_slice(r->cert_der, r->cert_len);
    req.body = tg_slice(r->body, r->body_len);
    tg_rs_decide(&v->cfg, &v->tool, &req, &d->d);
    /* RFC 9449 §9: a nonce with the use_dpop_nonce refusal, and a next one
     * with every other answer, so the client need not fail first. */
    if (v->cfg.dpop.nonce_key != NULL && tg_dpop_nonce_issue(&v->cfg.dpop, d->nonce) != TG_OK)
        d->nonce[0] = '\0';
    free(path);
    *out = d;
    return TOLLGATE_OK;
}

int
tollgate_verify(tollgate_verifier *v, const char *method, const char *url, const char *path,
                const char *authorization, const char *dpop, const unsigned char *cert_der,
                size_t cert_len, const unsigned char *body, size_t body_len,
                tollgate_decision **out)
{
    struct tollgate_request r;

    memset(&r, 0, sizeof(r));
    r.method = method;
    r.url = url;
    r.path = path;
    r.authorization = authorization != NULL ? &authorization : NULL;
    r.n_authorization = authorization != NULL;
    r.dpop = dpop != NULL ? &dpop : NULL;
    r.n_dpop = dpop != NULL;
    r.cert_der = cert_der;
    r.cert_len = cert_der != NULL ? cert_len : 0;
    r.body = body;
    r.body_len = body != NULL ? body_len : 0;
    return tollgate_verify_request(v, &r, out);
}

int
tollgate_decision_allowed(const tollgate_decision *d)
{
    return d != NULL && d->d.err == TG_OK && d->d.status == 200;
}

int
tollgate_decision_status(const tollgate_decision *d)
{
    return d != NULL ? d->d.status : 500;
}

const char *
tollgate_decision_error(const tollgate_decision *d)
{
    return d != NULL ? d->d.error : "server_error";
}

const char *
tollgate_decision_description(const tollgate_decision *d)
{
    return d != NULL ? d->d.description : NULL;
}

const char *
tollgate_decision_www_authenticate(const tollgate_decision *d)
{
    return d != NULL && d->d.www_authenticate[0] != '\0' ? d->d.www_authenticate : NULL;
}

const char *
tollgate_decision_scope_needed(const tollgate_decision *d)
{
    return d != NULL && d->d.scope_needed[0] != '\0' ? d->d.scope_needed : NULL;
}

const char *
tollgate_decision_dpop_nonce(const tollgate_decision *d)
{
    return d != NULL && d->nonce[0] != '\0' ? d->nonce : NULL;
}

int
tollgate_decision_retry_after(const tollgate_decision *d)
{
    return d != NULL ? d->d.retry_after : 0;
}

int
tollgate_decision_unknown_key(const tollgate_decision *d)
{
    return d != NULL && d->d.unknown_kid;
}

int
tollgate_decision_code(const tollgate_decision *d)
{
    return d != NULL ? (int)d->d.err : TG_ERR_INTERNAL;
}

const char *
tollgate_decision_field(const tollgate_decision *d, enum tollgate_field f)
{
    if (d == NULL)
        return "";
    switch (f) {
    case TOLLGATE_SUBJECT:
        return d->d.id.sub;
    case TOLLGATE_CLIENT_ID:
        return d->d.id.client_id;
    case TOLLGATE_TENANT:
        return d->d.id.tenant;
    case TOLLGATE_OWNER:
        return d->d.id.owner;
    case TOLLGATE_AGENT_TYPE:
        return d->d.id.agent_type;
    case TOLLGATE_TOKEN_ID:
        return d->d.id.jti;
    case TOLLGATE_SCOPE:
        return d->d.id.scope;
    case TOLLGATE_BINDING:
        return d->d.id.binding;
    case TOLLGATE_ACTION:
        return d->d.id.action;
    case TOLLGATE_ENDPOINT:
        return d->d.id.endpoint;
    default:
        return "";
    }
}

int64_t
tollgate_decision_expires_at(const tollgate_decision *d)
{
    return d != NULL ? d->d.id.exp : 0;
}

void
tollgate_decision_free(tollgate_decision *d)
{
    free(d);
}
