/* Client authentication at the token, introspection and revocation
 * endpoints: RFC 6749 §2.3.1 (client_secret_basic/post), RFC 7523 §2.2 and
 * §3 (private_key_jwt, and SPIFFE JWT-SVIDs as assertions), RFC 8705 §2
 * (tls_client_auth, self_signed_tls_client_auth, and X.509-SVIDs). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "jose/jwt.h"
#include "oauth/as.h"

#define DENY(reason)                                                    \
    do {                                                                \
        out->why = (reason);                                            \
        TG_FAIL(TG_ERR_OAUTH_INVALID_CLIENT, "%s", (reason));           \
    } while (0)

void
tg_client_reset(struct tg_client *c)
{
    tg_agent_reset(&c->agent);
    memset(c, 0, sizeof(*c));
}

enum tg_err
tg_as_secret_mac(const uint8_t key[32], const char *secret, uint8_t mac[TG_SECRET_MAC_LEN])
{
    return tg_hmac_sha256(tg_slice(key, 32), tg_slice(secret, strlen(secret)), mac);
}

static enum tg_err
load_agent(struct tg_as *as, const char *id, struct tg_client *out)
{
    struct tg_snapshot *snap = NULL;
    const struct tg_agent *a;
    enum tg_err rv = TG_OK;

    /* From the in-memory inventory, current as of this request. */
    TG_CHECK(tg_snapshot_get(as->snapshots, &snap) == TG_OK, TG_ERR_STORE, "agent lookup");
    a = tg_snapshot_agent(snap, id);
    if (a == NULL)
        DENY("unknown client");
    TG_TRY(tg_agent_copy(a, &out->agent));
out:
    tg_snapshot_release(snap);
    return rv;
}

static enum tg_err
by_secret(struct tg_as *as, const char *id, const char *secret, enum tg_auth_method used,
          struct tg_client *out)
{
    uint8_t mac[TG_SECRET_MAC_LEN];
    enum tg_err rv = TG_OK;
    int format_ok;

    /* The HMAC is computed whatever happens, so timing does not tell a
     * malformed secret from an unknown client from a wrong secret. */
    format_ok = tg_secret_check_format(tg_slice(secret, strlen(secret))) == TG_OK;
    TG_TRY(tg_as_secret_mac(as->secret_key, secret, mac));
    TG_TRY(load_agent(as, id, out));
    if (out->agent.auth_method != TG_AUTH_CLIENT_SECRET_BASIC &&
        out->agent.auth_method != TG_AUTH_CLIENT_SECRET_POST)
        DENY("client is not registered for client_secret authentication");
    if (!format_ok || !out->agent.has_secret ||
        !tg_ct_eq(mac, out->agent.secret_mac, TG_SECRET_MAC_LEN))
        DENY("invalid client secret");
    out->method = used;
out:
    tg_wipe(mac, sizeof(mac));
    return rv;
}

static int
aud_ok(const struct tg_as *as, const json_t *claims, const char *endpoint_path)
{
    char tok[1024], mtls[1024];
    const char *list[4];
    size_t n = 0;
    const json_t *aud = json_object_get(claims, "aud"), *v;
    size_t i, k;

    /* RFC 7523 §3: aud identifies the authorization server; the issuer
     * identifier and the token endpoint URL (either base) are accepted. */
    snprintf(tok, sizeof(tok), "%s%s", as->issuer, endpoint_path);
    list[n++] = as->issuer;
    list[n++] = tok;
    if (as->mtls_base != NULL) {
        snprintf(mtls, sizeof(mtls), "%s%s", as->mtls_base, endpoint_path);
        list[n++] = mtls;
    }
    for (k = 0; k < n; k++) {
        if (json_is_string(aud) && strcmp(json_string_value(aud), list[k]) == 0)
            return 1;
        json_array_foreach(aud, i, v)
            if (json_is_string(v) && strcmp(json_string_value(v), list[k]) == 0)
                return 1;
    }
    return 0;
}

/* Verify the assertion's signature with one of the keys of a JWKS text. */
static enum tg_err
verify_with_jwks(struct tg_as *as, const struct tg_jwt *jwt, const char *jwks_text)
{
    json_t *doc = NULL, *keys, *k;
    struct tg_jwk jwk;
    const char *kid = jwt->jws.kid;
    size_t i;
    enum tg_err rv = TG_ERR_JWS_SIG_INVALID;

    doc = jwks_text ? json_loads(jwks_text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    keys = json_object_get(doc, "keys");
    json_array_foreach(keys, i, k) {
        const char *kkid = json_string_value(json_object_get(k, "kid"));

        if (kid != NULL && (kkid == NULL || strcmp(kid, kkid) != 0))
            continue;
        if (tg_jwk_from_json(k, TG_JWK_PUBLIC_ONLY, as->jwk_cache, &jwk) != TG_OK)
            continue;
        if (tg_jws_alg_fits(jwt->jws.alg, jwk.type) && tg_jws_verify(&jwt->jws, &jwk) == TG_OK)
            rv = TG_OK;
        tg_jwk_reset(&jwk);
        if (rv == TG_OK)
            break;
    }
    json_decref(doc);
    return rv;
}

static enum tg_err
by_assertion(struct tg_as *as, const char *client_id, const char *assertion,
             const char *endpoint_path, struct tg_client *out)
{
    struct tg_jws_opts opts = {TG_JWS_ALGS_ALL, NULL, 16384};
    int64_t now = tg_as_now(as), exp = 0;
    struct tg_jwt_expect ex = {.clock = as->cfg.clock, .skew = 5, .require = TG_JWT_REQ_EXP};
    struct tg_jwt jwt;
    const char *iss, *sub, *jti, *typ;
    char key[512];
    int svid;
    enum tg_err rv = TG_OK, e;

    memset(&jwt, 0, sizeof(jwt));
    if (tg_jwt_parse(tg_slice(assertion, strlen(assertion)), &opts, &jwt) != TG_OK)
        DENY("client assertion is not a valid JWT");
    typ = jwt.jws.typ;
    /* Another kind of JWT (an access token, a DPoP proof) is not an assertion. */
    if (typ != NULL && (strcasecmp(typ, "at+jwt") == 0 || strcasecmp(typ, "dpop+jwt") == 0))
        DENY("client assertion has the wrong typ");
    iss = tg_jwt_claim_str(jwt.claims, "iss");
    sub = tg_jwt_claim_str(jwt.claims, "sub");
    if (sub == NULL)
        DENY("client assertion has no sub");
    svid = strncmp(sub, "spiffe://", 9) == 0;
    if (svid) {
        e = tg_store_agent_find_spiffe(as->store, sub, &out->agent);
        if (e == TG_ERR_NOT_FOUND)
            DENY("no agent registered for this SPIFFE ID");
        TG_CHECK(e == TG_OK, TG_ERR_STORE, "agent lookup");
        if (out->agent.auth_method != TG_AUTH_SPIFFE_JWT)
            DENY("agent is not registered for JWT-SVID authentication");
        if (client_id != NULL && strcmp(client_id, out->agent.id) != 0)
            DENY("client_id does not match the assertion");
        if (verify_with_jwks(as, &jwt, as->cfg.spiffe_jwks) != TG_OK)
            DENY("JWT-SVID signature does not verify with the trust bundle");
        out->method = TG_AUTH_SPIFFE_JWT;
    } else {
        /* RFC 7523 §3: iss and sub are both the client_id. */
        if (iss == NULL || strcmp(iss, sub) != 0)
            DENY("client assertion iss and sub must both be the client_id");
        if (client_id != NULL && strcmp(client_id, sub) != 0)
            DENY("client_id does not match the assertion");
        TG_TRY(load_agent(as, sub, out));
        if (out->agent.auth_method != TG_AUTH_PRIVATE_KEY_JWT)
            DENY("client is not registered for private_key_jwt");
        if (verify_with_jwks(as, &jwt, out->agent.jwks) != TG_OK)
            DENY("client assertion signature does not verify");
        out->method = TG_AUTH_PRIVATE_KEY_JWT;
    }
    if (!aud_ok(as, jwt.claims, endpoint_path))
        DENY("client assertion aud is not this authorization server");
    e = tg_jwt_validate(&jwt, &ex);
    if (e == TG_ERR_JWT_EXPIRED)
        DENY("client assertion has expired");
    if (e != TG_OK)
        DENY("client assertion claims are invalid");
    TG_CHECK(tg_jwt_numeric_date(jwt.claims, "exp", &exp) == TG_OK, TG_ERR_INTERNAL, "exp");
    if (exp - now > (as->cfg.assertion_max_age > 0 ? as->cfg.assertion_max_age : 600))
        DENY("client assertion lifetime is too long");
    /* RFC 7523 §3 item 7: a jti used once only, remembered until exp. */
    jti = tg_jwt_claim_str(jwt.claims, "jti");
    if (jti == NULL && !svid)
        DENY("client assertion has no jti");
    if (jti != NULL) {
        if (strlen(jti) > 256)
            DENY("client assertion jti is too long");
        snprintf(key, sizeof(key), "assertion:%s:%s", out->agent.id, jti);
    } else {
        uint8_t md[TG_SHA256_LEN];
        char b64[TG_THUMBPRINT_B64_LEN + 1];

        TG_TRY(tg_sha256(tg_slice(assertion, strlen(assertion)), md));
        tg_thumbprint_b64(md, b64);
        snprintf(key, sizeof(key), "assertion:%s:#%s", out->agent.id, b64);
    }
    e = tg_cache_insert_once(as->replay, key, strlen(key), exp + 6, now);
    if (e == TG_ERR_REPLAY)
        DENY("client assertion has been used before");
    if (e != TG_OK) {
        out->why = "replay cache unavailable";
        TG_FAIL(e == TG_ERR_CACHE_FULL ? TG_ERR_CACHE_FULL : TG_ERR_INTERNAL, "assertion replay");
    }
out:
    tg_jwt_reset(&jwt);
    return rv;
}

static int
cert_matches_tls_auth(const struct tg_agent *a, const struct tg_cert_info *ci)
{
    size_t i;

    /* RFC 8705 §2.1.2: exactly one of the registered values is matched. */
    if (a->tls_subject_dn != NULL)
        return ci->subject_dn != NULL && strcmp(ci->subject_dn, a->tls_subject_dn) == 0;
    if (a->tls_san_dns != NULL) {
        for (i = 0; i < ci->n_dns; i++)
            if (strcasecmp(ci->san_dns[i], a->tls_san_dns) == 0)
                return 1;
        return 0;
    }
    if (a->tls_san_uri != NULL) {
        for (i = 0; i < ci->n_uri; i++)
            if (strcmp(ci->san_uri[i], a->tls_san_uri) == 0)
                return 1;
        return 0;
    }
    return 0;
}

static enum tg_err
by_certificate(struct tg_as *as, const struct tg_http_request *req, const char *client_id,
               struct tg_slice cert, struct tg_client *out)
{
    struct tg_cert_info ci;
    enum tg_err rv = TG_OK;

    memset(&ci, 0, sizeof(ci));
    TG_TRY(load_agent(as, client_id, out));
    switch (out->agent.auth_method) {
    case TG_AUTH_TLS_CLIENT_AUTH:
        if (!tg_http_client_cert_verified(req))
            DENY("client certificate does not chain to a trusted CA");
        if (tg_cert_info_from_der(cert, &ci) != TG_OK || !cert_matches_tls_auth(&out->agent, &ci))
            DENY("client certificate does not match the registered subject");
        out->method = TG_AUTH_TLS_CLIENT_AUTH;
        break;
    case TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH:
        /* RFC 8705 §2.2: the certificate itself is what was registered. */
        if (out->agent.cert_x5t == NULL || strlen(out->agent.cert_x5t) != TG_THUMBPRINT_B64_LEN ||
            !tg_ct_eq(out->agent.cert_x5t, out->x5t, TG_THUMBPRINT_B64_LEN))
            DENY("client certificate is not the registered one");
        out->method = TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH;
        break;
    case TG_AUTH_SPIFFE_X509:
        /* An X.509-SVID: chains to the trust bundle, one URI SAN = the SPIFFE ID. */
        if (as->cfg.spiffe_bundle != NULL ? tg_cert_verify_der(cert, as->cfg.spiffe_bundle) != TG_OK
                                          : !tg_http_client_cert_verified(req))
            DENY("X.509-SVID does not chain to the SPIFFE trust bundle");
        if (tg_cert_info_from_der(cert, &ci) != TG_OK || ci.n_uri != 1 ||
            out->agent.spiffe_id == NULL || strcmp(ci.san_uri[0], out->agent.spiffe_id) != 0)
            DENY("X.509-SVID SPIFFE ID does not match the agent");
        out->method = TG_AUTH_SPIFFE_X509;
        break;
    default:
        DENY("client is not registered for certificate authentication");
    }
out:
    tg_cert_info_reset(&ci);
    return rv;
}

/* RFC 6749 §2.3.1: Basic credentials are form-urlencoded, then base64. */
static enum tg_err
parse_basic(const char *authz, char **id, char **secret)
{
    struct tg_buf dec;
    const char *colon, *s;
    enum tg_err rv = TG_OK;

    *id = *secret = NULL;
    tg_buf_init_secret(&dec, 4096);
    s = authz + 6;
    while (*s == ' ')
        s++;
    TG_TRY(tg_base64_decode(s, strlen(s), &dec));
    colon = memchr(dec.p, ':', dec.len);
    TG_CHECK(colon != NULL, TG_ERR_OAUTH_INVALID_CLIENT, "basic credentials without a colon");
    TG_TRY(tg_url_decode((const char *)dec.p, (size_t)(colon - (const char *)dec.p), 1, id));
    TG_TRY(tg_url_decode(colon + 1, dec.len - (size_t)(colon + 1 - (const char *)dec.p), 1,
                         secret));
out:
    if (rv != TG_OK) {
        free(*id);
        free(*secret);
        *id = *secret = NULL;
        rv = TG_ERR_OAUTH_INVALID_CLIENT;
    }
    tg_buf_reset(&dec);
    return rv;
}

enum tg_err
tg_client_authenticate(struct tg_as *as, const struct tg_http_request *req,
                       const struct tg_form *form, const char *endpoint_path,
                       struct tg_client *out)
{
    const char *authz = tg_http_header(req, "Authorization");
    const char *client_id, *client_secret, *atype, *assertion;
    struct tg_slice cert = tg_http_client_cert(req);
    char *bid = NULL, *bsecret = NULL;
    uint8_t md[TG_SHA256_LEN];
    int basic, n;
    enum tg_err rv = TG_OK;

    memset(out, 0, sizeof(*out));
    TG_TRY(tg_form_get1(form, "client_id", &client_id));
    TG_TRY(tg_form_get1(form, "client_secret", &client_secret));
    TG_TRY(tg_form_get1(form, "client_assertion_type", &atype));
    TG_TRY(tg_form_get1(form, "client_assertion", &assertion));
    if (cert.len > 0) {
        TG_TRY(tg_sha256(cert, md));
        tg_thumbprint_b64(md, out->x5t);
    }
    basic = authz != NULL && strncasecmp(authz, "Basic ", 6) == 0;
    out->used_authorization_header = authz != NULL;
    n = basic + (client_secret != NULL) + (assertion != NULL);
    /* RFC 6749 §2.3: one authentication method per request. */
    if (n > 1) {
        out->why = "more than one client authentication method";
        TG_FAIL(TG_ERR_OAUTH_INVALID_REQUEST, "%s", out->why);
    }
    if (authz != NULL && !basic)
        DENY("unsupported Authorization scheme at this endpoint");
    if (basic) {
        if (parse_basic(authz, &bid, &bsecret) != TG_OK)
            DENY("malformed Basic credentials");
        if (client_id != NULL && strcmp(client_id, bid) != 0)
            DENY("client_id does not match the Basic credentials");
        TG_TRY(by_secret(as, bid, bsecret, TG_AUTH_CLIENT_SECRET_BASIC, out));
    } else if (client_secret != NULL) {
        if (client_id == NULL)
            DENY("client_secret without client_id");
        TG_TRY(by_secret(as, client_id, client_secret, TG_AUTH_CLIENT_SECRET_POST, out));
    } else if (assertion != NULL) {
        if (atype == NULL || strcmp(atype, TG_CLIENT_ASSERTION_TYPE) != 0)
            DENY("unsupported client_assertion_type");
        TG_TRY(by_assertion(as, client_id, assertion, endpoint_path, out));
    } else if (cert.len > 0 && client_id != NULL) {
        TG_TRY(by_certificate(as, req, client_id, cert, out));
    } else {
        DENY("client authentication is required");
    }
    if (out->agent.status != TG_AGENT_ACTIVE)
        DENY("agent is disabled");
out:
    if (bsecret != NULL) {
        tg_wipe(bsecret, strlen(bsecret));
        free(bsecret);
    }
    free(bid);
    if (rv != TG_OK) {
        const char *why = out->why;
        int hdr = out->used_authorization_header;
        char x5t[sizeof(out->x5t)];

        memcpy(x5t, out->x5t, sizeof(x5t));
        tg_client_reset(out);
        out->why = why ? why : "client authentication failed";
        out->used_authorization_header = hdr;
        memcpy(out->x5t, x5t, sizeof(x5t));
    }
    return rv;
}
