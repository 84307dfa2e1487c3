/* Token introspection (RFC 7662) and revocation (RFC 7009). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "oauth/endpoints.h"

enum tg_err
tg_as_check_token(struct tg_as *as, const char *token, struct tg_jwt *jwt, const char **why)
{
    struct tg_jws_opts opts = {0, NULL, 0};
    struct tg_jwt_expect ex = {.clock = as->cfg.clock,
                               .typ = "at+jwt",
                               .iss = as->issuer,
                               .require = TG_JWT_REQ_EXP | TG_JWT_REQ_IAT | TG_JWT_REQ_JTI |
                                          TG_JWT_REQ_SUB};
    struct tg_jwk key;
    struct tg_snapshot *snap = NULL;
    const char *jti, *client_id;
    int64_t iat = 0;
    enum tg_err rv = TG_OK;

    memset(&key, 0, sizeof(key));
    *why = NULL;
#define INACTIVE(r)                                                        \
    do {                                                                   \
        *why = (r);                                                        \
        TG_FAIL(TG_ERR_OAUTH_INVALID_TOKEN, "%s", (r));                    \
    } while (0)
    if (tg_jwt_parse(tg_slice(token, strlen(token)), &opts, jwt) != TG_OK)
        INACTIVE("not a JWT");
    if (tg_jwt_check_typ(jwt, "at+jwt") != TG_OK)
        INACTIVE("not an access token (typ)");
    if (jwt->jws.kid == NULL || tg_keyring_find(as->keys, jwt->jws.kid, &key) != TG_OK)
        INACTIVE("signed by an unknown key");
    if (tg_jws_verify(&jwt->jws, &key) != TG_OK)
        INACTIVE("bad signature");
    if (tg_jwt_validate(jwt, &ex) != TG_OK)
        INACTIVE("expired or invalid claims");
    jti = tg_jwt_claim_str(jwt->claims, "jti");
    client_id = tg_jwt_claim_str(jwt->claims, "client_id");
    TG_IGNORE(tg_jwt_numeric_date(jwt->claims, "iat", &iat));
    if (tg_snapshot_get(as->snapshots, &snap) != TG_OK)
        INACTIVE("revocation state unavailable");
    if (!tg_snapshot_token_active(snap, jti, client_id, iat))
        INACTIVE("revoked, or its agent is unknown, disabled or was disabled since");
#undef INACTIVE
out:
    tg_snapshot_release(snap);
    tg_jwk_reset(&key);
    return rv;
}

static void
audit(struct tg_as *as, const struct tg_http_request *req, const char *event,
      const struct tg_client *c, const char *decision, const char *jti, const char *reason,
      const char *error)
{
    struct tg_audit_event ev = {0};

    if (as->audit == NULL)
        return;
    ev.event = event;
    ev.decision = decision;
    ev.agent_id = c->agent.id;
    ev.agent_type = c->agent.id ? tg_agent_type_name(c->agent.type) : NULL;
    ev.owner = c->agent.owner;
    ev.tenant = c->agent.tenant;
    ev.auth_method = c->agent.id ? tg_auth_method_name(c->method) : NULL;
    ev.peer = tg_http_peer(req);
    ev.jti = jti;
    ev.reason = reason;
    ev.error = error;
    TG_IGNORE(tg_audit_emit(as->audit, &ev));
}

/* RFC 7662 §4: the server "SHOULD require protected resources to be
 * specifically authorized to call the introspection endpoint". An agent
 * registered with `introspect` (a resource server) may introspect any token
 * of this issuer; any other agent only the tokens issued to itself (the
 * token's client_id is its id). A token without client_id belongs to no
 * one: only an introspecting agent sees it. */
static int
may_introspect(const struct tg_client *c, const struct tg_jwt *jwt)
{
    const char *owner;

    if (c->agent.introspect == 1)
        return 1;
    owner = tg_jwt_claim_str(jwt->claims, "client_id");
    return owner != NULL && c->agent.id != NULL && strcmp(owner, c->agent.id) == 0;
}

void
tg_handle_introspect(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_as *as = ctx;
    struct tg_form form;
    struct tg_client client;
    struct tg_jwt jwt;
    const char *token, *why = NULL, *refused_jti = NULL;
    json_t *out = NULL;
    char *text = NULL;
    enum tg_err e;
    int active, refused = 0;
    const char *k;
    json_t *v;
    static const char *const copy[] = {"scope", "client_id", "sub", "aud", "iss", "exp", "iat",
                                       "nbf", "jti", "cnf", "authorization_details", "tenant",
                                       "agent_type", "owner"};
    size_t i;

    memset(&client, 0, sizeof(client));
    memset(&jwt, 0, sizeof(jwt));
    memset(&form, 0, sizeof(form));
    e = tg_oauth_read_form(req, &form, &why);
    if (e == TG_OK)
        e = tg_client_authenticate(as, req, &form, TG_PATH_INTROSPECT, &client);
    if (e != TG_OK) {
        audit(as, req, "introspect", &client, "deny", NULL, why ? why : client.why,
              tg_err_oauth(e, "invalid_request"));
        tg_oauth_error(res, e, why ? why : client.why, client.used_authorization_header);
        goto out;
    }
    if (tg_form_get1(&form, "token", &token) != TG_OK || token == NULL) {
        tg_oauth_error(res, TG_ERR_OAUTH_INVALID_REQUEST, "exactly one token parameter", 0);
        goto out;
    }
    out = json_object();
    active = tg_as_check_token(as, token, &jwt, &why) == TG_OK;
    if (active && !may_introspect(&client, &jwt)) {
        /* RFC 7662 §2.2: "the protected resource is not allowed to introspect
         * this particular token" is answered like any inactive token, by the
         * same code below, so the caller cannot tell that it exists. */
        active = 0;
        refused = 1;
        refused_jti = tg_jwt_claim_str(jwt.claims, "jti");
        why = "token issued to another client, and this client may introspect only its own";
    }
    if (active) {
        json_object_set_new(out, "active", json_true());
        for (i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
            k = copy[i];
            v = json_object_get(jwt.claims, k);
            if (v != NULL)
                json_object_set(out, k, v);
        }
        /* RFC 9449 §6.2 / RFC 8705 §3.2: the token type follows the binding. */
        json_object_set_new(out, "token_type",
                            json_string(json_object_get(json_object_get(jwt.claims, "cnf"), "jkt")
                                            ? "DPoP"
                                            : "Bearer"));
        audit(as, req, "introspect", &client, "allow",
              tg_jwt_claim_str(jwt.claims, "jti"), "active", NULL);
    } else {
        /* RFC 7662 §2.2: nothing but active=false for an inactive token. */
        json_object_set_new(out, "active", json_false());
        /* The audit log (never the caller) tells a refusal from an inactive
         * token; it names the jti, never the token. */
        audit(as, req, "introspect", &client, refused ? "deny" : "allow", refused_jti,
              why, NULL);
    }
    text = json_dumps(out, JSON_COMPACT);
    if (text == NULL || tg_http_response_json(res, 200, text) != TG_OK)
        TG_IGNORE(tg_http_response_error(res, TG_ERR_NOMEM, NULL, NULL));
out:
    free(text);
    json_decref(out);
    tg_jwt_reset(&jwt);
    tg_client_reset(&client);
    tg_form_reset(&form);
}

void
tg_handle_revoke(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_as *as = ctx;
    struct tg_form form;
    struct tg_client client;
    struct tg_jwt jwt;
    const char *token, *why = NULL, *owner, *jti;
    int64_t exp = 0;
    enum tg_err e;

    memset(&client, 0, sizeof(client));
    memset(&jwt, 0, sizeof(jwt));
    memset(&form, 0, sizeof(form));
    e = tg_oauth_read_form(req, &form, &why);
    if (e == TG_OK)
        e = tg_client_authenticate(as, req, &form, TG_PATH_REVOKE, &client);
    if (e != TG_OK) {
        audit(as, req, "revoke", &client, "deny", NULL, why ? why : client.why,
              tg_err_oauth(e, "invalid_request"));
        tg_oauth_error(res, e, why ? why : client.why, client.used_authorization_header);
        goto out;
    }
    if (tg_form_get1(&form, "token", &token) != TG_OK || token == NULL) {
        tg_oauth_error(res, TG_ERR_OAUTH_INVALID_REQUEST, "exactly one token parameter", 0);
        goto out;
    }
    if (tg_as_check_token(as, token, &jwt, &why) != TG_OK) {
        /* RFC 7009 §2.2: an invalid (or already inactive) token is not an error. */
        audit(as, req, "revoke", &client, "allow", NULL, why, NULL);
        TG_IGNORE(tg_http_response_json(res, 200, "{}"));
        goto out;
    }
    owner = tg_jwt_claim_str(jwt.claims, "client_id");
    jti = tg_jwt_claim_str(jwt.claims, "jti");
    /* RFC 7009 §2.1: the server "verifies whether the token was issued to the
     * client making the revocation request. If this validation fails, the
     * request is refused and the client is informed of the error" (§2.2.1:
     * an RFC 6749 §5.2 error). Only the owner may revoke, whatever its
     * introspect right: introspection reads, revocation destroys. */
    if (owner == NULL || strcmp(owner, client.agent.id) != 0) {
        audit(as, req, "revoke", &client, "deny", jti, "token was issued to another client",
              "unauthorized_client");
        tg_oauth_error(res, TG_ERR_OAUTH_UNAUTHORIZED_CLIENT,
                       "the token was not issued to this client", 0);
        goto out;
    }
    TG_IGNORE(tg_jwt_numeric_date(jwt.claims, "exp", &exp));
    if (tg_store_revoke(as->store, jti, exp) != TG_OK) {
        audit(as, req, "revoke", &client, "deny", jti, "storage error", "server_error");
        tg_oauth_error(res, TG_ERR_STORE, NULL, 0);
        goto out;
    }
    audit(as, req, "revoke", &client, "allow", jti, "revoked", NULL);
    TG_IGNORE(tg_http_response_json(res, 200, "{}"));
out:
    tg_jwt_reset(&jwt);
    tg_client_reset(&client);
    tg_form_reset(&form);
}
