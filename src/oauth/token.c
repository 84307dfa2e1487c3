/* The token endpoint: client_credentials (RFC 6749 §4.4) and the JWT bearer
 * grant for JWT-SVIDs (RFC 7523 §2.1), DPoP (RFC 9449 §5) and mTLS
 * (RFC 8705 §3) binding, tool-scoped JWT access tokens (RFC 9068, RFC 9396,
 * RFC 8707). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "crypto/crypto.h"
#include "core/jsonw.h"
#include "jose/b64url.h"
#include "oauth/endpoints.h"
#include "policy/authz.h"

struct token_req {
    struct tg_as *as;
    const struct tg_http_request *req;
    struct tg_http_response *res;
    struct tg_form form;
    struct tg_client client;
    struct tg_dpop_result dpop;
    int dpop_used, mtls_bound;
    struct tg_authz_request areq;
    struct tg_authz_result ares;
    struct tg_snapshot *snap; /* the inventory this decision is made on */
    const char *grant_type, *scope_param;
    char jti[32];
    char *details_json; /* authorization_details serialised once, for token and response */
};

static enum tg_err
audit_decision(struct token_req *t, const char *decision, enum tg_err err, const char *why)
{
    struct tg_audit_event ev = {0};
    const struct tg_agent *a = &t->client.agent;

    if (t->as->audit == NULL)
        return TG_OK;
    ev.event = err == TG_OK ? "token.issued" : "token.refused";
    ev.decision = decision;
    ev.agent_id = a->id;
    ev.agent_type = a->id ? tg_agent_type_name(a->type) : NULL;
    ev.owner = a->owner;
    ev.tenant = a->tenant;
    ev.auth_method = a->id ? tg_auth_method_name(t->client.method) : NULL;
    ev.key_thumbprint = t->dpop_used ? t->dpop.jkt : (t->mtls_bound ? t->client.x5t : NULL);
    ev.peer = tg_http_peer(t->req);
    ev.grant_type = t->grant_type;
    ev.scope = err == TG_OK ? t->ares.scope : t->scope_param;
    ev.jti = err == TG_OK ? t->jti : NULL;
    ev.error = err == TG_OK ? NULL : tg_err_oauth(err, "invalid_request");
    ev.reason = why;
    ev.status = err == TG_OK ? 200 : tg_err_status(err);
    ev.details = err == TG_OK ? t->ares.authorization_details : NULL;
    ev.details_json = err == TG_OK ? t->details_json : NULL;
    return tg_audit_emit(t->as->audit, &ev);
}

static void
refuse(struct token_req *t, enum tg_err err, const char *why)
{
    char nonce[TG_DPOP_NONCE_LEN + 1];

    (void)audit_decision(t, "deny", err, why);
    tg_oauth_error(t->res, err, why, t->client.used_authorization_header);
    /* RFC 9449 §8: a fresh nonce with use_dpop_nonce. */
    if (err == TG_ERR_OAUTH_USE_DPOP_NONCE && tg_dpop_nonce_issue(&t->as->dpop, nonce) == TG_OK)
        TG_IGNORE(tg_http_response_header(t->res, "DPoP-Nonce", nonce));
    if (err == TG_ERR_CACHE_FULL)
        TG_IGNORE(tg_http_response_header(t->res, "Retry-After", "1"));
}

static enum tg_err
authenticate(struct token_req *t, const char **why)
{
    struct tg_form synth;
    const char *assertion;
    enum tg_err rv;

    if (strcmp(t->grant_type, "client_credentials") == 0) {
        rv = tg_client_authenticate(t->as, t->req, &t->form, TG_PATH_TOKEN, &t->client);
        *why = t->client.why;
        return rv;
    }
    if (strcmp(t->grant_type, TG_GRANT_JWT_BEARER) == 0) {
        /* RFC 7523 §2.1: the assertion is the grant and identifies the agent;
         * accepted for agents registered for JWT-SVIDs. */
        rv = tg_form_get1(&t->form, "assertion", &assertion);
        if (rv != TG_OK || assertion == NULL) {
            *why = "assertion is required";
            return TG_ERR_OAUTH_INVALID_REQUEST;
        }
        memset(&synth, 0, sizeof(synth));
        synth.n = 2;
        synth.p[0].name = "client_assertion_type";
        synth.p[0].value = TG_CLIENT_ASSERTION_TYPE;
        synth.p[1].name = "client_assertion";
        synth.p[1].value = (char *)assertion;
        rv = tg_client_authenticate(t->as, t->req, &synth, TG_PATH_TOKEN, &t->client);
        *why = t->client.why;
        if (rv == TG_ERR_OAUTH_INVALID_CLIENT) {
            /* the grant itself is what failed */
            rv = TG_ERR_OAUTH_INVALID_GRANT;
        } else if (rv == TG_OK && t->client.method != TG_AUTH_SPIFFE_JWT) {
            *why = "the jwt-bearer grant is for JWT-SVIDs";
            rv = TG_ERR_OAUTH_UNAUTHORIZED_CLIENT;
        }
        return rv;
    }
    *why = "grant_type must be client_credentials or jwt-bearer";
    return TG_ERR_OAUTH_UNSUPPORTED_GRANT_TYPE;
}

/* RFC 9449 §5 and RFC 8705 §3: bind the token to the proof key or the
 * client certificate, and enforce the agent's required constraint. */
static enum tg_err
bind_token(struct token_req *t, const char **why)
{
    char htu[1024];
    size_t n_dpop = tg_http_header_count(t->req, "DPoP");
    struct tg_dpop_request dr = {0};
    enum tg_err rv;
    enum tg_pop pop = t->client.agent.pop;

    if (n_dpop > 0) {
        snprintf(htu, sizeof(htu), "%s%s", tg_http_base_url(t->req), TG_PATH_TOKEN);
        dr.proof = tg_http_header(t->req, "DPoP");
        dr.n_proof_headers = n_dpop;
        dr.htm = "POST";
        dr.htu = htu;
        rv = tg_dpop_verify(&t->as->dpop, &dr, &t->dpop);
        if (rv != TG_OK) {
            *why = t->dpop.why;
            return rv;
        }
        t->dpop_used = 1;
    } else if (t->client.x5t[0] != '\0') {
        t->mtls_bound = 1;
    }
    if (pop == TG_POP_DPOP && !t->dpop_used) {
        *why = "this agent's tokens must be DPoP-bound: send a DPoP proof";
        return TG_ERR_OAUTH_INVALID_DPOP_PROOF;
    }
    if (pop == TG_POP_MTLS && !t->mtls_bound) {
        *why = "this agent's tokens must be certificate-bound: use the mTLS endpoint";
        return TG_ERR_OAUTH_INVALID_REQUEST;
    }
    if (pop == TG_POP_ANY && !t->dpop_used && !t->mtls_bound) {
        *why = "this agent's tokens must be sender-constrained: use DPoP or mTLS";
        return TG_ERR_OAUTH_INVALID_REQUEST;
    }
    return TG_OK;
}

static enum tg_err
decide(struct token_req *t, const char **why)
{
    struct tg_slice res[TG_AUTHZ_MAX_RESOURCES];
    const char *authz_details;
    size_t i, n_res = 0;
    struct tg_authz_context ctx;
    enum tg_err rv;

    TG_GUARD(tg_form_get1(&t->form, "scope", &t->scope_param));
    rv = tg_form_get1(&t->form, "authorization_details", &authz_details);
    if (rv != TG_OK) {
        *why = "authorization_details appears more than once";
        return rv;
    }
    /* RFC 8707 §2: resource may be repeated. */
    for (i = 0; i < t->form.n; i++) {
        if (strcmp(t->form.p[i].name, "resource") != 0)
            continue;
        if (n_res == TG_AUTHZ_MAX_RESOURCES) {
            *why = "too many resource parameters";
            return TG_ERR_OAUTH_INVALID_TARGET;
        }
        res[n_res++] = tg_slice(t->form.p[i].value, strlen(t->form.p[i].value));
    }
    rv = tg_authz_request_parse(
        t->scope_param ? tg_slice(t->scope_param, strlen(t->scope_param)) : tg_slice(NULL, 0),
        authz_details ? tg_slice(authz_details, strlen(authz_details)) : tg_slice(NULL, 0), res,
        n_res, &t->areq, why);
    if (rv != TG_OK)
        return rv;
    if (tg_snapshot_get(t->as->snapshots, &t->snap) != TG_OK) {
        *why = "policy unavailable";
        return TG_ERR_STORE;
    }
    ctx.agent = &t->client.agent;
    ctx.grants = tg_snapshot_grants(t->snap, t->client.agent.id, &ctx.n_grants);
    ctx.tools = t->snap->tools;
    ctx.n_tools = t->snap->n_tools;
    ctx.sender_constrained = t->dpop_used || t->mtls_bound;
    return tg_authz_decide(&ctx, &t->areq, &t->ares, why);
}

/* Claims (RFC 9068 §2.2) and the response (RFC 6749 §5.1) are written as
 * JSON text directly: building jansson trees only to serialise them cost
 * more than a tenth of a token request. */
static enum tg_err
mint(struct token_req *t, struct tg_buf *token, int64_t *lifetime)
{
    const struct tg_agent *a = &t->client.agent;
    int64_t now = tg_as_now(t->as);
    uint8_t rnd[16];
    struct tg_buf c;
    size_t i;
    enum tg_err rv = TG_OK;

    tg_buf_init(&c, 65536);
    *lifetime = t->as->cfg.token_lifetime;
    if (a->max_token_lifetime > 0 && a->max_token_lifetime < *lifetime)
        *lifetime = a->max_token_lifetime;
    TG_TRY(tg_random_id(rnd, sizeof(rnd)));
    tg_b64url_encode_to(tg_slice(rnd, sizeof(rnd)), t->jti);
    if (t->ares.authorization_details != NULL && t->details_json == NULL) {
        t->details_json = json_dumps(t->ares.authorization_details, JSON_COMPACT);
        TG_CHECK(t->details_json != NULL, TG_ERR_NOMEM, "details");
    }
    TG_TRY(tg_buf_append(&c, "{", 1));
    TG_TRY(tg_jsonw_kv_str(&c, 1, "iss", t->as->issuer));
    TG_TRY(tg_jsonw_kv_str(&c, 0, "sub", a->id));
    TG_TRY(tg_jsonw_kv_str(&c, 0, "client_id", a->id));
    if (t->ares.n_audience == 1) {
        TG_TRY(tg_jsonw_kv_str(&c, 0, "aud", t->ares.audience[0]));
    } else {
        TG_TRY(tg_buf_append_str(&c, ",\"aud\":["));
        for (i = 0; i < t->ares.n_audience; i++) {
            if (i > 0)
                TG_TRY(tg_buf_append(&c, ",", 1));
            TG_TRY(tg_jsonw_str(&c, t->ares.audience[i]));
        }
        TG_TRY(tg_buf_append(&c, "]", 1));
    }
    TG_TRY(tg_jsonw_kv_int(&c, 0, "iat", now));
    TG_TRY(tg_jsonw_kv_int(&c, 0, "nbf", now));
    TG_TRY(tg_jsonw_kv_int(&c, 0, "exp", now + *lifetime));
    TG_TRY(tg_jsonw_kv_str(&c, 0, "jti", t->jti));
    if (t->ares.scope != NULL && t->ares.scope[0] != '\0')
        TG_TRY(tg_jsonw_kv_str(&c, 0, "scope", t->ares.scope));
    if (t->details_json != NULL)
        TG_TRY(tg_jsonw_kv_raw(&c, 0, "authorization_details", t->details_json));
    /* RFC 9449 §6.1 / RFC 8705 §3.1 */
    if (t->dpop_used) {
        TG_TRY(tg_buf_append_str(&c, ",\"cnf\":{"));
        TG_TRY(tg_jsonw_kv_str(&c, 1, "jkt", t->dpop.jkt));
        TG_TRY(tg_buf_append(&c, "}", 1));
    } else if (t->mtls_bound) {
        TG_TRY(tg_buf_append_str(&c, ",\"cnf\":{"));
        TG_TRY(tg_jsonw_kv_str(&c, 1, "x5t#S256", t->client.x5t));
        TG_TRY(tg_buf_append(&c, "}", 1));
    }
    if (a->tenant != NULL)
        TG_TRY(tg_jsonw_kv_str(&c, 0, "tenant", a->tenant));
    TG_TRY(tg_jsonw_kv_str(&c, 0, "agent_type", tg_agent_type_name(a->type)));
    TG_TRY(tg_jsonw_kv_str(&c, 0, "owner", a->owner));
    TG_TRY(tg_buf_append(&c, "}", 1));
    TG_TRY(tg_keyring_sign_text(t->as->keys, "at+jwt", tg_slice(c.p, c.len), token));
out:
    tg_buf_reset(&c);
    return rv;
}

static void
respond(struct token_req *t, const char *token, int64_t lifetime)
{
    struct tg_buf r;
    const char *text;
    char nonce[TG_DPOP_NONCE_LEN + 1];
    enum tg_err rv = TG_OK;

    tg_buf_init(&r, 131072);
    TG_TRY(tg_buf_append(&r, "{", 1));
    TG_TRY(tg_jsonw_kv_str(&r, 1, "access_token", token));
    /* RFC 9449 §5: token_type DPoP for a DPoP-bound token. */
    TG_TRY(tg_jsonw_kv_str(&r, 0, "token_type", t->dpop_used ? "DPoP" : "Bearer"));
    TG_TRY(tg_jsonw_kv_int(&r, 0, "expires_in", lifetime));
    if (t->ares.scope != NULL && t->ares.scope[0] != '\0')
        TG_TRY(tg_jsonw_kv_str(&r, 0, "scope", t->ares.scope));
    if (t->details_json != NULL)
        TG_TRY(tg_jsonw_kv_raw(&r, 0, "authorization_details", t->details_json));
    TG_TRY(tg_buf_append(&r, "}", 1));
    TG_TRY(tg_buf_cstr(&r, &text));
    TG_TRY(tg_http_response_json(t->res, 200, text));
    /* RFC 6749 §5.1 */
    TG_IGNORE(tg_http_response_header(t->res, "Pragma", "no-cache"));
    if (t->as->dpop.nonce_key != NULL && tg_dpop_nonce_issue(&t->as->dpop, nonce) == TG_OK)
        TG_IGNORE(tg_http_response_header(t->res, "DPoP-Nonce", nonce));
out:
    if (rv != TG_OK)
        TG_IGNORE(tg_http_response_error(t->res, TG_ERR_NOMEM, NULL, NULL));
    tg_buf_reset(&r);
}

void
tg_handle_token(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct token_req t;
    struct tg_buf token;
    const char *why = NULL, *tok;
    int64_t lifetime = 0;
    enum tg_err e;

    memset(&t, 0, sizeof(t));
    t.as = ctx;
    t.req = req;
    t.res = res;
    tg_buf_init(&token, 65536);
    e = tg_oauth_read_form(req, &t.form, &why);
    if (e == TG_OK && tg_form_get1(&t.form, "grant_type", &t.grant_type) != TG_OK) {
        e = TG_ERR_OAUTH_INVALID_REQUEST;
        why = "grant_type appears more than once";
    }
    if (e == TG_OK && t.grant_type == NULL) {
        e = TG_ERR_OAUTH_INVALID_REQUEST;
        why = "grant_type is required";
    }
    if (e == TG_OK)
        e = authenticate(&t, &why);
    if (e == TG_OK)
        e = bind_token(&t, &why);
    if (e == TG_OK)
        e = decide(&t, &why);
    if (e == TG_OK) {
        e = mint(&t, &token, &lifetime);
        if (e != TG_OK)
            why = "could not sign the token";
    }
    if (e == TG_OK)
        e = tg_buf_cstr(&token, &tok);
    if (e != TG_OK) {
        refuse(&t, e, why);
    } else if (audit_decision(&t, "allow", TG_OK, NULL) != TG_OK) {
        /* Fail closed: a token whose issue cannot be recorded is not issued. */
        tg_oauth_error(res, TG_ERR_IO, "the decision could not be recorded", 0);
    } else {
        respond(&t, tok, lifetime);
    }
    tg_buf_reset(&token);
    tg_authz_result_reset(&t.ares);
    tg_authz_request_reset(&t.areq);
    tg_snapshot_release(t.snap);
    free(t.details_json);
    tg_client_reset(&t.client);
    tg_form_reset(&t.form);
}
