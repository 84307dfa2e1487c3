/* Gateway state, the tool cache, the live-state callback of the decision,
 * and what the proxy and /check share: deciding, refusing, identity
 * headers, audit events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/jsonw.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "crypto/crypto.h"
#include "gateway/internal.h"
#include "gateway/remote.h"

int64_t
tg_gw_now(const struct tg_gateway *gw)
{
    return tg_clock_now(gw->cfg.clock != NULL ? gw->cfg.clock : &tg_clock_system);
}

static enum tg_err
replay_insert(void *arg, const void *key, size_t len, int64_t exp, int64_t now)
{
    return tg_cache_insert_once(arg, key, len, exp, now);
}

/* What the token alone cannot tell, as introspection checks it
 * (src/oauth/introspect.c): revoked jti, agent gone or disabled, token
 * issued before the agent was disabled. Fails closed on storage errors. */
static int
state_active(void *arg, const char *jti, const char *client_id, int64_t iat)
{
    struct tg_gateway *gw = arg;
    struct tg_snapshot *snap = NULL;
    int active;

    /* In memory: revoked jtis and agents' state, current within 10 ms of
     * a change by another process, at once for this one's. */
    if (gw->snapshots == NULL || tg_snapshot_get(gw->snapshots, &snap) != TG_OK)
        return -1; /* fail closed */
    active = tg_snapshot_token_active(snap, jti, client_id, iat);
    tg_snapshot_release(snap);
    return active;
}

enum tg_err
tg_gateway_new(const struct tg_gateway_config *cfg, struct tg_gateway **out)
{
    struct tg_gateway *gw = NULL;
    enum tg_err rv = TG_OK;

    *out = NULL;
    TG_ENSURE(cfg != NULL && cfg->issuer != NULL && cfg->store != NULL && cfg->keys.find != NULL,
              TG_ERR_CONFIG, "gateway needs an issuer, a store and the issuer's keys");
    gw = calloc(1, sizeof(*gw));
    TG_ENSURE(gw != NULL, TG_ERR_NOMEM, "gateway");
    gw->cfg = *cfg;
    if (gw->cfg.dpop_iat_window <= 0)
        gw->cfg.dpop_iat_window = 300;
    if (gw->cfg.replay_max_entries == 0)
        gw->cfg.replay_max_entries = 1000000;
    if (gw->cfg.token_cache_entries == 0)
        gw->cfg.token_cache_entries = 10000;
    if (gw->cfg.tool_ttl <= 0)
        gw->cfg.tool_ttl = 2;
    if (gw->cfg.connect_timeout_ms <= 0)
        gw->cfg.connect_timeout_ms = 5000;
    if (gw->cfg.upstream_timeout_ms <= 0)
        gw->cfg.upstream_timeout_ms = 30000;
    if (gw->cfg.stream_idle_timeout_ms <= 0)
        gw->cfg.stream_idle_timeout_ms = 300000;
    if (gw->cfg.max_upstream_body == 0 || gw->cfg.max_upstream_body > TG_HTTP_MAX_RESPONSE_SIZE)
        gw->cfg.max_upstream_body = TG_HTTP_MAX_RESPONSE_SIZE;
    if (pthread_mutex_init(&gw->tools_lock, NULL) != 0) {
        free(gw);
        TG_ENSURE(0, TG_ERR_INTERNAL, "mutex");
    }
    if (pthread_mutex_init(&gw->curl_lock, NULL) != 0) {
        pthread_mutex_destroy(&gw->tools_lock);
        free(gw);
        TG_ENSURE(0, TG_ERR_INTERNAL, "mutex");
    }
    gw->issuer = strdup(cfg->issuer);
    TG_CHECK(gw->issuer != NULL, TG_ERR_NOMEM, "issuer");
    gw->cfg.issuer = gw->issuer;
    gw->metadata_base = strdup(cfg->metadata_base != NULL ? cfg->metadata_base : cfg->issuer);
    TG_CHECK(gw->metadata_base != NULL, TG_ERR_NOMEM, "metadata base");
    gw->cfg.metadata_base = gw->metadata_base;
    gw->replay = tg_cache_memory_new(gw->cfg.replay_max_entries);
    gw->tokens = tg_token_cache_new(gw->cfg.token_cache_entries);
    /* Without these every proof's key would be rebuilt (EVP_PKEY_fromdata,
     * ~20% of a decision) and its header re-parsed. */
    gw->snapshots = cfg->store != NULL ? tg_snapshots_new(cfg->store) : NULL;
    gw->proof_keys = tg_jwk_cache_new(4096);
    gw->proof_headers = tg_jws_header_cache_new(4096);
    TG_CHECK(gw->replay != NULL && gw->tokens != NULL && gw->proof_keys != NULL &&
                 gw->proof_headers != NULL,
             TG_ERR_NOMEM, "gateway caches");
    TG_TRY(tg_random(gw->nonce_key, sizeof(gw->nonce_key)));
    TG_TRY(tg_gw_curl_init(gw));

    gw->algs = gw->cfg.dpop_algs ? gw->cfg.dpop_algs : TG_JWS_ALGS_ALL;
    gw->rs.issuer = gw->issuer;
    gw->rs.keys = gw->cfg.keys;
    gw->rs.state.active = state_active;
    gw->rs.state.arg = gw;
    if (cfg->state.active != NULL)
        gw->rs.state = cfg->state;
    gw->rs.cache = gw->tokens;
    gw->rs.dpop.algs = gw->algs;
    gw->rs.dpop.iat_window = gw->cfg.dpop_iat_window;
    gw->rs.dpop.replay.insert_once = replay_insert;
    gw->rs.dpop.replay.arg = gw->replay;
    gw->rs.dpop.nonce_key = gw->cfg.dpop_require_nonce ? gw->nonce_key : NULL;
    gw->rs.dpop.clock = gw->cfg.clock;
    gw->rs.dpop.key_cache = gw->proof_keys;
    gw->rs.dpop.header_cache = gw->proof_headers;
    gw->rs.clock = gw->cfg.clock;
    gw->rs.skew = gw->cfg.skew;
    *out = gw;
    gw = NULL;
out:
    tg_gateway_free(gw);
    return rv;
}

void
tg_gateway_free(struct tg_gateway *gw)
{
    size_t i;

    if (gw == NULL)
        return;
    tg_gw_curl_free(gw);
    for (i = 0; i < gw->n_tools; i++) {
        tg_tool_reset(&gw->tools[i]->t);
        free(gw->tools[i]);
    }
    tg_cache_free(gw->replay);
    tg_token_cache_free(gw->tokens);
    tg_jwk_cache_free(gw->proof_keys);
    tg_snapshots_free(gw->snapshots);
    tg_jws_header_cache_free(gw->proof_headers);
    tg_wipe(gw->nonce_key, sizeof(gw->nonce_key));
    free(gw->issuer);
    free(gw->metadata_base);
    pthread_mutex_destroy(&gw->curl_lock);
    pthread_mutex_destroy(&gw->tools_lock);
    free(gw);
}

enum tg_err
tg_gateway_routes(struct tg_gateway *gw, struct tg_http_router *r)
{
    TG_GUARD(tg_http_route(r, NULL, TG_GW_TOOLS_PREFIX "*", tg_gw_handle_proxy, gw));
    TG_GUARD(tg_http_route(r, NULL, TG_GW_CHECK_PATH, tg_gw_handle_check, gw));
    TG_GUARD(tg_http_route(r, "GET", TG_GW_PRM_PREFIX "*", tg_gw_handle_prm, gw));
    return TG_OK;
}

/* --- the tool cache --- */

static void
tool_unref_locked(struct tg_gw_tool *t)
{
    if (--t->refs == 0) {
        tg_tool_reset(&t->t);
        free(t);
    }
}

void
tg_gw_tool_release(struct tg_gateway *gw, struct tg_gw_tool *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&gw->tools_lock);
    tool_unref_locked(t);
    pthread_mutex_unlock(&gw->tools_lock);
}

/* Publish a fresh definition (replacing the old one, which lives on until
 * its last user releases it) and take a reference for the caller. */
static void
tool_publish_locked(struct tg_gateway *gw, struct tg_gw_tool *fresh)
{
    size_t i;

    fresh->refs = 2; /* the cache's and the caller's */
    for (i = 0; i < gw->n_tools; i++) {
        if (strcmp(gw->tools[i]->t.id, fresh->t.id) == 0) {
            tool_unref_locked(gw->tools[i]);
            gw->tools[i] = fresh;
            return;
        }
    }
    if (gw->n_tools < TG_GW_TOOL_CACHE_MAX) {
        gw->tools[gw->n_tools++] = fresh;
        return;
    }
    fresh->refs = 1; /* full: not cached, the caller's only */
}

static void
tool_forget_locked(struct tg_gateway *gw, const char *id)
{
    size_t i;

    for (i = 0; i < gw->n_tools; i++) {
        if (strcmp(gw->tools[i]->t.id, id) == 0) {
            tool_unref_locked(gw->tools[i]);
            gw->tools[i] = gw->tools[--gw->n_tools];
            return;
        }
    }
}

enum tg_err
tg_gw_tool_get(struct tg_gateway *gw, const char *id, struct tg_gw_tool **out)
{
    struct tg_gw_tool *fresh;
    int64_t now = tg_gw_now(gw);
    enum tg_err e;
    size_t i;

    *out = NULL;
    pthread_mutex_lock(&gw->tools_lock);
    for (i = 0; i < gw->n_tools; i++) {
        struct tg_gw_tool *t = gw->tools[i];

        if (strcmp(t->t.id, id) == 0 && now - t->loaded_at < gw->cfg.tool_ttl &&
            now >= t->loaded_at) {
            t->refs++;
            *out = t;
            break;
        }
    }
    pthread_mutex_unlock(&gw->tools_lock);
    if (*out != NULL)
        return TG_OK;

    /* Not cached, or stale: read the store without holding the lock. */
    fresh = calloc(1, sizeof(*fresh));
    TG_ENSURE(fresh != NULL, TG_ERR_NOMEM, "tool");
    e = tg_store_tool_get(gw->cfg.store, id, &fresh->t);
    if (e != TG_OK) {
        free(fresh);
        if (e == TG_ERR_NOT_FOUND) {
            pthread_mutex_lock(&gw->tools_lock);
            tool_forget_locked(gw, id);
            pthread_mutex_unlock(&gw->tools_lock);
        }
        return e;
    }
    fresh->loaded_at = now;
    pthread_mutex_lock(&gw->tools_lock);
    tool_publish_locked(gw, fresh);
    pthread_mutex_unlock(&gw->tools_lock);
    *out = fresh;
    return TG_OK;
}

/* --- deciding and answering --- */

void
tg_gw_rs_config(const struct tg_gateway *gw, const struct tg_gw_tool *tool,
                struct tg_rs_config *cfg, char *prm, size_t prm_cap)
{
    *cfg = gw->rs;
    if (tg_join(prm, prm_cap, gw->metadata_base, TG_GW_PRM_PREFIX, tool->t.id, NULL) >= 0)
        cfg->resource_metadata = prm;
    /* MCP ext-auth DPoP profile, required by the tool's kind. */
    cfg->require_content_digest = tg_tool_requires_content_digest(&tool->t);
}

void
tg_gw_rs_request(const struct tg_http_request *req, const char *method, const char *path,
                 const char *url, struct tg_slice body, struct tg_gw_rs_request *out)
{
    size_t n_auth, n_dpop;

    memset(out, 0, sizeof(*out));
    n_auth = tg_http_header_values(req, "Authorization", out->auth, TG_GW_MAX_CREDENTIAL_HEADERS);
    n_dpop = tg_http_header_values(req, "DPoP", out->dpop, TG_GW_MAX_CREDENTIAL_HEADERS);
    /* More than the array holds: hand over what fits, which is already more
     * than one, and refused as such. */
    if (n_auth > TG_GW_MAX_CREDENTIAL_HEADERS)
        n_auth = TG_GW_MAX_CREDENTIAL_HEADERS;
    if (n_dpop > TG_GW_MAX_CREDENTIAL_HEADERS)
        n_dpop = TG_GW_MAX_CREDENTIAL_HEADERS;
    out->rq.method = method;
    out->rq.path = path;
    out->rq.url = url;
    out->rq.authorization = out->auth;
    out->rq.n_authorization = n_auth;
    out->rq.dpop = out->dpop;
    out->rq.n_dpop = n_dpop;
    out->rq.client_cert = tg_http_client_cert(req);
    out->rq.body = body;
    /* For introspection at a remote issuer (remote.h), which needs the
     * token itself: the decision that follows on this thread reads it. */
    tg_gw_remote_set_authorization(n_auth == 1 ? out->auth[0] : NULL);
}

void
tg_gw_decide(struct tg_gateway *gw, const struct tg_gw_tool *tool,
             const struct tg_http_request *req, const char *method, const char *path,
             const char *url, struct tg_slice body, struct tg_rs_decision *d)
{
    char prm[TG_GW_URL_MAX];
    struct tg_rs_config cfg;
    struct tg_gw_rs_request rq;

    tg_gw_rs_config(gw, tool, &cfg, prm, sizeof(prm));
    tg_gw_rs_request(req, method, path, url, body, &rq);
    memset(d, 0, sizeof(*d));
    tg_rs_decide(&cfg, &tool->t, &rq.rq, d);
    tg_gw_remote_set_authorization(NULL);
}

void
tg_gw_respond_error(struct tg_http_response *res, int status, const char *error,
                    const char *description)
{
    json_t *o = json_object();
    char *text = NULL;

    if (o != NULL) {
        if (error != NULL)
            json_object_set_new(o, "error", json_string(error));
        if (description != NULL)
            json_object_set_new(o, "error_description", json_string(description));
        text = json_dumps(o, JSON_COMPACT);
    }
    json_decref(o);
    if (text == NULL || tg_http_response_json(res, status, text) != TG_OK) {
        tg_http_response_reset(res);
        res->status = 500;
    }
    free(text);
}

void
tg_gw_respond_deny(struct tg_gateway *gw, const struct tg_rs_decision *d,
                   struct tg_http_response *res)
{
    char nonce[TG_DPOP_NONCE_LEN + 1];
    int status = d->status >= 400 && d->status <= 599 ? d->status : 500;

    tg_gw_respond_error(res, status, d->error,
                        d->description != NULL ? d->description : "access denied");
    if (d->www_authenticate[0] != '\0' &&
        tg_http_response_header(res, "WWW-Authenticate", d->www_authenticate) != TG_OK)
        tg_log_warnx("gateway: cannot send the challenge: %s", tg_err_detail());
    if (d->retry_after > 0) {
        char ra[16];

        snprintf(ra, sizeof(ra), "%d", d->retry_after);
        TG_IGNORE(tg_http_response_header(res, "Retry-After", ra));
    }
    if (d->need_nonce) {
        if (tg_dpop_nonce_issue(&gw->rs.dpop, nonce) != TG_OK ||
            tg_http_response_header(res, "DPoP-Nonce", nonce) != TG_OK)
            tg_log_warnx("gateway: cannot issue a DPoP nonce: %s", tg_err_detail());
    }
}

int
tg_gw_identity_each(const struct tg_rs_identity *id,
                    int (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    const struct {
        const char *name, *value;
    } h[] = {
        {"X-Tollgate-Agent", id->sub},
        {"X-Tollgate-Client-Id", id->client_id},
        {"X-Tollgate-Tenant", id->tenant},
        {"X-Tollgate-Owner", id->owner},
        {"X-Tollgate-Agent-Type", id->agent_type},
        {"X-Tollgate-Scope", id->scope},
        {"X-Tollgate-Jti", id->jti},
        {"X-Tollgate-Action", id->action},
        {"X-Tollgate-Endpoint", id->endpoint},
        {"X-Tollgate-Binding", id->binding},
    };
    size_t i;
    int r;

    for (i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
        if (h[i].value[0] == '\0')
            continue;
        if (!tg_gw_field_value_ok(h[i].value))
            return -1;
        r = fn(arg, h[i].name, h[i].value);
        if (r != 0)
            return r;
    }
    return 0;
}

static const char *
nonempty(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

enum tg_err
tg_gw_audit_emit(struct tg_gateway *gw, const struct tg_http_request *req,
                 const struct tg_gw_audit *a)
{
    struct tg_audit_event ev;
    const struct tg_rs_identity *id = a->d != NULL ? &a->d->id : NULL;
    struct tg_buf details;
    enum tg_err rv;
    int allow = strstr(a->event, ".allow") != NULL;

    if (gw->cfg.audit == NULL)
        return TG_OK;
    memset(&ev, 0, sizeof(ev));
    ev.event = a->event;
    ev.decision = allow ? "allow" : "deny";
    if (id != NULL) {
        ev.agent_id = nonempty(id->client_id) ? id->client_id : nonempty(id->sub);
        ev.agent_type = nonempty(id->agent_type);
        ev.owner = nonempty(id->owner);
        ev.tenant = nonempty(id->tenant);
        ev.scope = nonempty(id->scope);
        ev.action = nonempty(id->action);
        ev.jti = nonempty(id->jti);
    }
    ev.peer = tg_http_peer(req);
    ev.tool = a->tool;
    ev.method = a->method;
    ev.path = a->path;
    ev.error = a->error != NULL ? a->error : (a->d != NULL && !allow ? a->d->error : NULL);
    ev.reason = a->reason != NULL ? a->reason
                                  : (a->d != NULL ? a->d->description : NULL);
    ev.status = a->status;
    /* "details", written straight (no jansson tree on every decision) */
    tg_buf_init(&details, 4096);
    rv = tg_buf_append(&details, "{", 1);
    if (rv == TG_OK && id != NULL && nonempty(id->endpoint))
        rv = tg_jsonw_kv_str(&details, details.len == 1, "endpoint", id->endpoint);
    if (rv == TG_OK && id != NULL && nonempty(id->binding))
        rv = tg_jsonw_kv_str(&details, details.len == 1, "binding", id->binding);
    if (rv == TG_OK && a->upstream_status > 0)
        rv = tg_jsonw_kv_int(&details, details.len == 1, "upstream_status", a->upstream_status);
    if (rv == TG_OK && details.len > 1) {
        rv = tg_buf_append(&details, "}", 1);
        if (rv == TG_OK)
            rv = tg_buf_cstr(&details, &ev.details_json);
    }
    if (rv == TG_OK)
        rv = tg_audit_emit(gw->cfg.audit, &ev);
    tg_buf_reset(&details);
    if (rv != TG_OK)
        tg_log_warnx("gateway: audit event %s not written: %s", a->event, tg_err_detail());
    return rv;
}
