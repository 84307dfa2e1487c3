/* The resource-side decision: every rule of docs/verify.md, allowed and
 * refused, with the status, the error and the challenge text. Real keys
 * (keys.h), a fixed clock. */
#include "test.h"

#include "../jose/keys.h"
#include "jose/jwt.h"
#include "verify/resource.h"

#define RES "https://gw.example/tools/demo"
#define META "https://gw.example/.well-known/oauth-protected-resource/tools/demo"
#define ISS "https://as.example"
#define ALGS "algs=\"ES256 ES384 EdDSA RS256 PS256 Ed25519\""

static int64_t now = 1700000000;
static const struct tg_clock clock_ = {tg_clock_fixed_now, &now};

static struct tg_jwk iss_key, rogue, agent, other_agent;
static struct tg_rs_keyset *keyset;
static struct tg_replay_mem *replay;
static struct tg_token_cache *cache;
static struct tg_rs_config cfg;
static struct tg_tool tool;
static struct tg_endpoint eps[4];
static struct tg_rs_decision D;
static int find_calls, find_fail, state_value, state_calls;
static char agent_jkt[TG_THUMBPRINT_B64_LEN + 1], other_jkt[TG_THUMBPRINT_B64_LEN + 1];
static struct tg_buf cert_der;
static char cert_x5t[TG_THUMBPRINT_B64_LEN + 1];
static unsigned jti_counter;

/* ---- fixtures ---- */

static enum tg_err
find_key(void *arg, const char *kid, struct tg_jwk *out)
{
    find_calls++;
    if (find_fail)
        return TG_ERR_STORE;
    return tg_rs_keyset_find(arg, kid, out);
}

static int
state_active(void *arg, const char *jti, const char *client_id, int64_t iat)
{
    (void)arg;
    (void)jti;
    (void)client_id;
    (void)iat;
    state_calls++;
    return state_value;
}

static void
reset(void)
{
    tg_token_cache_free(cache);
    tg_replay_mem_free(replay);
    cache = tg_token_cache_new(64);
    replay = tg_replay_mem_new(256);
    memset(&cfg, 0, sizeof(cfg));
    cfg.issuer = ISS;
    cfg.keys.find = find_key;
    cfg.keys.arg = keyset;
    cfg.state.active = state_active;
    cfg.cache = cache;
    cfg.dpop.replay.insert_once = tg_replay_mem_insert_once;
    cfg.dpop.replay.arg = replay;
    cfg.clock = &clock_;
    cfg.skew = 30;
    cfg.resource_metadata = META;
    now = 1700000000;
    find_calls = find_fail = state_calls = 0;
    state_value = 1;
}

static char *
dumps(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);

    json_decref(o);
    return s;
}

/* The claims of a token Tollgate's authorization server would mint. */
static json_t *
claims(void)
{
    char jti[32];

    snprintf(jti, sizeof(jti), "at-%u", ++jti_counter);
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:o, s:s, s:s, s:s}", "iss",
                     ISS, "sub", "billing-bot", "client_id", "billing-bot", "aud", RES, "iat",
                     (json_int_t)now, "nbf", (json_int_t)now, "exp", (json_int_t)(now + 300),
                     "jti", jti, "scope", "demo:read demo:write other:read",
                     "authorization_details",
                     json_loads("[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\","
                                "\"write\"],\"locations\":[\"" RES "\"]},"
                                "{\"type\":\"tool\",\"tool\":\"other\",\"actions\":[\"read\"]}]",
                                0, NULL),
                     "tenant", "acme", "agent_type", "internal", "owner", "alice@example.com");
}

static void
set_details(json_t *c, const char *json)
{
    json_object_set_new(c, "authorization_details", json_loads(json, 0, NULL));
}

static void
bind_jkt(json_t *c, const char *jkt)
{
    json_object_set_new(c, "cnf", json_pack("{s:s}", "jkt", jkt));
}

static char *
sign_with(const struct tg_jwk *k, const char *header, json_t *c)
{
    char *payload = dumps(c), *t = t_token(k, TG_SIG_ECDSA_P256_SHA256, header, payload, 0);

    free(payload);
    return t;
}

static char *
sign(json_t *c)
{
    return sign_with(&iss_key, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", c);
}

static char *
tok_bearer(void)
{
    return sign(claims());
}

static char *
tok_dpop(void)
{
    json_t *c = claims();

    bind_jkt(c, agent_jkt);
    return sign(c);
}

static char *
proof_by(const struct tg_jwk *k, const char *htm, const char *path, const char *at,
         const char *extra)
{
    char hdr[1024], cl[2048], ath[TG_THUMBPRINT_B64_LEN + 1], *pub = t_pub_json(k), *p;
    uint8_t md[32];

    if (tg_sha256(tg_slice(at, strlen(at)), md) != TG_OK)
        return NULL;
    tg_thumbprint_b64(md, ath);
    snprintf(hdr, sizeof(hdr), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}", pub);
    snprintf(cl, sizeof(cl),
             "{\"jti\":\"p-%u\",\"htm\":\"%s\",\"htu\":\"" RES "%s\",\"iat\":%lld,\"ath\":\"%s\"%s}",
             ++jti_counter, htm, path, (long long)now, ath, extra ? extra : "");
    p = t_token(k, TG_SIG_ECDSA_P256_SHA256, hdr, cl, 0);
    free(pub);
    return p;
}

static char *
proof(const char *htm, const char *path, const char *at)
{
    return proof_by(&agent, htm, path, at, NULL);
}

/* One request. auth2/dpop2 add a second header of that name. */
static struct tg_slice g_cert, g_body;

static void
call2(const char *method, const char *path, const char *auth, const char *auth2,
      const char *dpop, const char *dpop2)
{
    const char *a[2] = {auth, auth2}, *d[2] = {dpop, dpop2};
    char url[2048];
    struct tg_rs_request req;

    snprintf(url, sizeof(url), RES "%s", path);
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.url = url;
    req.authorization = a;
    req.n_authorization = auth == NULL ? 0 : auth2 == NULL ? 1 : 2;
    req.dpop = d;
    req.n_dpop = dpop == NULL ? 0 : dpop2 == NULL ? 1 : 2;
    req.client_cert = g_cert;
    req.body = g_body;
    tg_rs_decide(&cfg, &tool, &req, &D);
}

static char authbuf[70000];

static const char *
scheme(const char *s, const char *token)
{
    snprintf(authbuf, sizeof(authbuf), "%s %s", s, token);
    return authbuf;
}

static void
call(const char *method, const char *path, const char *auth, const char *dpop)
{
    call2(method, path, auth, NULL, dpop, NULL);
}

/* A DPoP request with a fresh proof for it. */
static void
call_dpop(const char *method, const char *path, const char *token)
{
    char *p = proof(method, path, token);

    call(method, path, scheme("DPoP", token), p);
    free(p);
}

static int
has(const char *needle)
{
    if (strstr(D.www_authenticate, needle) != NULL)
        return 1;
    fprintf(stderr, "  challenge '%s' lacks '%s'\n", D.www_authenticate, needle);
    return 0;
}

static int
refused(int status, const char *error)
{
    if (D.err != TG_OK && D.status == status &&
        ((error == NULL && D.error == NULL) ||
         (error != NULL && D.error != NULL && strcmp(D.error, error) == 0)))
        return 1;
    fprintf(stderr, "  got %d %s (%s), want %d %s\n", D.status, D.error ? D.error : "-",
            D.description ? D.description : "-", status, error ? error : "-");
    return 0;
}

static int
allowed(void)
{
    if (D.err == TG_OK && D.status == 200)
        return 1;
    fprintf(stderr, "  refused: %d %s (%s) [%s]\n", D.status, D.error ? D.error : "-",
            D.description ? D.description : "-", tg_err_detail());
    return 0;
}

/* ---- 1. credentials ---- */

static void
test_no_credentials(void)
{
    reset();
    call("GET", "/items", NULL, NULL);
    CHECK(refused(401, NULL));
    /* RFC 6750 §3.1: no error code; both schemes; RFC 9728 §5.1 metadata. */
    CHECK(strcmp(D.www_authenticate, "DPoP " ALGS ", resource_metadata=\"" META
                                     "\", Bearer resource_metadata=\"" META "\"") == 0);
    CHECK(strstr(D.www_authenticate, "error") == NULL);
    CHECK(state_calls == 0 && find_calls == 0);
    /* A scheme we do not support is the same as none. */
    call("GET", "/items", "Basic YWxpY2U6c2VjcmV0", NULL);
    CHECK(refused(401, NULL));
    CHECK(has("DPoP " ALGS) && has(", Bearer resource_metadata="));
    CHECK(strstr(D.www_authenticate, "error") == NULL);
    /* algs follow the configuration; no metadata configured, none sent. */
    cfg.dpop.algs = TG_JWS_ALG_BIT(TG_JWS_ES256) | TG_JWS_ALG_BIT(TG_JWS_EDDSA);
    cfg.resource_metadata = NULL;
    call("GET", "/items", NULL, NULL);
    CHECK(strcmp(D.www_authenticate, "DPoP algs=\"ES256 EdDSA\", Bearer") == 0);
}

static void
test_two_authorization_headers(void)
{
    char *t;

    reset();
    t = tok_bearer();
    call2("GET", "/items", scheme("Bearer", t), "Bearer abc", NULL, NULL);
    CHECK(refused(400, "invalid_request"));
    CHECK(has("DPoP error=\"invalid_request\"") && has("Bearer error=\"invalid_request\""));
    CHECK(has("error_description=\"exactly one Authorization header is allowed\""));
    CHECK(find_calls == 0);
    free(t);
}

static void
test_header_syntax(void)
{
    static const char *const bad[] = {"Bearer", "Bearer ", "Bearer a b", "Bearer a=b",
                                      "Bearer a,b", "Bearer \"a\"", "Bearer\ta", "",
                                      "DPoP a=b=c", " =x", "Bearer a\xc3\xa9" "b", "Bearer a\x7f",
                                      "Bearer a\x01" "b"};
    char *t;
    size_t i;

    reset();
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        call("GET", "/items", bad[i], NULL);
        CHECK(refused(400, "invalid_request"));
        CHECK(has("error=\"invalid_request\""));
    }
    /* The scheme is case-insensitive; spaces around are tolerated; a
     * token68 may end in '='. */
    t = tok_bearer();
    call("GET", "/items", scheme("bEARER", t), NULL);
    CHECK(allowed());
    snprintf(authbuf, sizeof(authbuf), "  Bearer   %s  ", t);
    call("GET", "/items", authbuf, NULL);
    CHECK(allowed());
    call("GET", "/items", "Bearer abc==", NULL);
    CHECK(refused(401, "invalid_token"));
    CHECK(strcmp(D.www_authenticate,
                 "Bearer error=\"invalid_token\", error_description=\"the access token is not "
                 "a well-formed JWT\", resource_metadata=\"" META "\"") == 0);
    free(t);
}

/* ---- 2. the token ---- */

static void
test_bearer_allowed_identity(void)
{
    char *t;

    reset();
    t = tok_bearer();
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed());
    CHECK(D.www_authenticate[0] == '\0' && D.error == NULL);
    CHECK(strcmp(D.id.sub, "billing-bot") == 0 && strcmp(D.id.client_id, "billing-bot") == 0);
    CHECK(strcmp(D.id.tenant, "acme") == 0 && strcmp(D.id.owner, "alice@example.com") == 0);
    CHECK(strcmp(D.id.agent_type, "internal") == 0);
    CHECK(strncmp(D.id.jti, "at-", 3) == 0);
    CHECK(strcmp(D.id.scope, "demo:read demo:write") == 0); /* only this tool's */
    CHECK(strcmp(D.id.binding, "bearer") == 0);
    CHECK(strcmp(D.id.action, "read") == 0 && strcmp(D.id.endpoint, "GET /items") == 0);
    CHECK(D.id.exp == now + 300);
    CHECK(state_calls == 1);
    call("POST", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed());
    CHECK(strcmp(D.id.action, "write") == 0 && strcmp(D.id.endpoint, "POST /items") == 0);
    call("GET", "/items/42", scheme("Bearer", t), NULL);
    CHECK(allowed());
    CHECK(strcmp(D.id.endpoint, "GET /items/{id}") == 0);
    free(t);
}

static void
test_dpop_cache_hit(void)
{
    char *t;
    struct tg_token_cache_stats st;

    reset();
    t = tok_dpop();
    call_dpop("GET", "/items", t);
    CHECK(allowed());
    CHECK(find_calls == 1 && D.cache_hit == 0);
    CHECK(strcmp(D.id.binding, "dpop") == 0);
    /* A second request, a fresh proof: the token is not verified again
     * (no key lookup, so no token signature check; only the proof's). */
    call_dpop("GET", "/items/7", t);
    CHECK(allowed());
    CHECK(find_calls == 1 && D.cache_hit == 1);
    CHECK(strcmp(D.id.binding, "dpop") == 0 && strcmp(D.id.sub, "billing-bot") == 0);
    tg_token_cache_stats(cache, &st);
    CHECK(st.hits == 1 && st.misses == 1 && st.inserts == 1 && st.size == 1);
    /* Without a cache every request verifies the token. */
    cfg.cache = NULL;
    call_dpop("GET", "/items", t);
    CHECK(allowed());
    call_dpop("GET", "/items", t);
    CHECK(allowed());
    CHECK(find_calls == 3);
    free(t);
}

static void
test_revoked_with_warm_cache(void)
{
    char *t;

    reset();
    t = tok_dpop();
    call_dpop("GET", "/items", t);
    CHECK(allowed());
    state_value = 0; /* revoked, or the agent disabled */
    call_dpop("GET", "/items", t);
    CHECK(D.cache_hit == 1);
    CHECK(refused(401, "invalid_token"));
    CHECK(has("DPoP error=\"invalid_token\", error_description=\"the access token is no longer "
              "active\", " ALGS));
    CHECK(strcmp(D.id.jti, "") != 0); /* for the audit line */
    state_value = -1; /* the store is down: deny, and say so */
    call_dpop("GET", "/items", t);
    CHECK(refused(503, "temporarily_unavailable"));
    CHECK(D.retry_after == 1 && D.www_authenticate[0] == '\0');
    CHECK(state_calls == 3 && find_calls == 1);
    free(t);
}

static void
test_expiry(void)
{
    char *t;
    json_t *c;

    reset();
    t = tok_dpop();
    call_dpop("GET", "/items", t);
    CHECK(allowed());
    /* Within the skew after exp: still accepted from the cache. */
    now += 300 + 29;
    call_dpop("GET", "/items", t);
    CHECK(allowed() && D.cache_hit == 1);
    now += 1; /* exp + skew */
    call_dpop("GET", "/items", t);
    CHECK(refused(401, "invalid_token") && D.cache_hit == 1);
    CHECK(has("error_description=\"the access token has expired\""));
    /* Gone from the cache: verified again, and refused again. */
    call_dpop("GET", "/items", t);
    CHECK(refused(401, "invalid_token") && D.cache_hit == 0);
    CHECK(has("error_description=\"the access token has expired\""));
    free(t);
    now = 1700000000;
    /* Not yet valid, issued in the future, no iat, no jti, no exp. */
    c = claims();
    json_object_set_new(c, "nbf", json_integer(now + 60));
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && has("not valid yet"));
    free(t);
    c = claims();
    json_object_set_new(c, "iat", json_integer(now + 60));
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    c = claims();
    json_object_del(c, "iat");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    c = claims();
    json_object_del(c, "jti");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    c = claims();
    json_object_del(c, "exp");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
}

static void
test_audience(void)
{
    json_t *c;
    char *t;

    reset();
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "https://gw.example/tools/crm", RES));
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed());
    free(t);
    c = claims();
    json_object_set_new(c, "aud", json_string("https://gw.example/tools/crm"));
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    CHECK(has("Bearer error=\"invalid_token\", error_description=\"the access token is not "
              "meant for this resource\""));
    free(t);
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "https://a.example", RES "/"));
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    c = claims();
    json_object_del(c, "aud");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    /* A cached token for one tool is still checked for the next. */
    t = tok_bearer();
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed());
    tool.resource = "https://gw.example/tools/crm";
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && D.cache_hit == 1);
    tool.resource = RES;
    free(t);
}

static void
test_key_and_signature(void)
{
    char *t;

    reset();
    /* Unknown kid: refused, and the caller told to refetch the JWKS. */
    t = sign_with(&iss_key, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"k9\"}", claims());
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && D.unknown_kid == 1);
    CHECK(has("signed by an unknown key"));
    free(t);
    t = sign_with(&iss_key, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", claims());
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && D.unknown_kid == 0);
    free(t);
    /* Signed by another key under our kid. */
    t = sign_with(&rogue, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", claims());
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && has("signature is invalid"));
    free(t);
    /* RFC 9068 §4: typ must be at+jwt (application/at+jwt is the same). */
    t = sign_with(&iss_key, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", claims());
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && has("typ"));
    free(t);
    t = sign_with(&iss_key, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", claims());
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    t = sign_with(&iss_key, "{\"alg\":\"ES256\",\"typ\":\"application/at+jwt\",\"kid\":\"k1\"}",
                  claims());
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed());
    free(t);
    /* alg none */
    t = t_token(&iss_key, 0, "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
                "{\"iss\":\"" ISS "\"}", 1);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    /* Another issuer. */
    {
        json_t *c = claims();

        json_object_set_new(c, "iss", json_string("https://evil.example"));
        t = sign(c);
        call("GET", "/items", scheme("Bearer", t), NULL);
        CHECK(refused(401, "invalid_token") && has("another issuer"));
        free(t);
    }
    /* The key store is down: 503, not a verdict on the token. */
    find_fail = 1;
    t = tok_bearer();
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(503, "temporarily_unavailable") && D.retry_after == 1);
    find_fail = 0;
    free(t);
    /* A bad token is never cached: refused again, verified again. */
    t = sign_with(&rogue, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", claims());
    find_calls = 0;
    call("GET", "/items", scheme("Bearer", t), NULL);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && find_calls == 2 && D.cache_hit == 0);
    free(t);
}

static void
test_identity_claims(void)
{
    json_t *c;
    char *t, big[300];

    reset();
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    /* Never truncated: a claim that does not fit refuses the token. */
    c = claims();
    json_object_set_new(c, "tenant", json_string(big));
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    c = claims();
    json_object_set_new(c, "sub", json_integer(7));
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    c = claims();
    json_object_del(c, "client_id");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
    /* No tenant: fine, and empty in the identity. */
    c = claims();
    json_object_del(c, "tenant");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed() && D.id.tenant[0] == '\0');
    free(t);
}

/* ---- 3. the binding ---- */

static void
test_bound_token_as_bearer(void)
{
    char *t, *p;

    reset();
    t = tok_dpop();
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    CHECK(strcmp(D.www_authenticate,
                 "Bearer error=\"invalid_token\", error_description=\"a token bound to a key is "
                 "never accepted as a bearer token\", resource_metadata=\"" META "\"") == 0);
    /* ... even with a valid proof beside it. */
    p = proof("GET", "/items", t);
    call("GET", "/items", scheme("Bearer", t), p);
    CHECK(refused(401, "invalid_token"));
    free(p);
    free(t);
    /* And the DPoP scheme is for DPoP-bound tokens only. */
    t = tok_bearer();
    call_dpop("GET", "/items", t);
    CHECK(refused(401, "invalid_token"));
    CHECK(has("DPoP error=\"invalid_token\", error_description=\"the DPoP scheme requires a "
              "DPoP-bound access token\", " ALGS ", resource_metadata=\"" META "\""));
    CHECK(strstr(D.www_authenticate, "Bearer") == NULL);
    free(t);
}

static void
test_dpop_proof_refusals(void)
{
    char *t, *t2, *p, *p2;

    reset();
    t = tok_dpop();
    t2 = tok_dpop();
#define PROOF_REFUSED(why)                                                                  \
    do {                                                                                    \
        CHECK(refused(401, "invalid_dpop_proof"));                                          \
        CHECK(has("DPoP error=\"invalid_dpop_proof\", error_description=\"") && has(why) && \
              has(ALGS));                                                                   \
        CHECK(strstr(D.www_authenticate, "Bearer") == NULL);                                \
    } while (0)
    call("GET", "/items", scheme("DPoP", t), NULL);
    PROOF_REFUSED("exactly one DPoP header");
    p = proof("GET", "/items", t);
    p2 = proof("GET", "/items", t);
    call2("GET", "/items", scheme("DPoP", t), NULL, p, p2);
    PROOF_REFUSED("exactly one DPoP header");
    free(p);
    free(p2);
    p = proof("GET", "/other", t); /* proof for another URL */
    call("GET", "/items", scheme("DPoP", t), p);
    PROOF_REFUSED("htu");
    free(p);
    p = proof("POST", "/items", t); /* for another method */
    call("GET", "/items", scheme("DPoP", t), p);
    PROOF_REFUSED("htm");
    free(p);
    p = proof("GET", "/items", t2); /* ath of another token */
    call("GET", "/items", scheme("DPoP", t), p);
    PROOF_REFUSED("ath");
    free(p);
    p = proof_by(&other_agent, "GET", "/items", t, NULL); /* another agent's key */
    call("GET", "/items", scheme("DPoP", t), p);
    PROOF_REFUSED("binding");
    free(p);
    p = proof("GET", "/items", t); /* replayed */
    call("GET", "/items", scheme("DPoP", t), p);
    CHECK(allowed());
    call("GET", "/items", scheme("DPoP", t), p);
    PROOF_REFUSED("used before");
    free(p);
    p = proof("GET", "/items", t); /* too old */
    now += 301;
    call("GET", "/items", scheme("DPoP", t), p);
    PROOF_REFUSED("too old");
    now -= 301;
    free(p);
    call("GET", "/items", scheme("DPoP", t), "not-a-jwt");
    PROOF_REFUSED("well-formed");
#undef PROOF_REFUSED
    free(t);
    free(t2);
}

static void
test_dpop_nonce_and_full(void)
{
    uint8_t nk[32];
    char *t, *p, nonce[TG_DPOP_NONCE_LEN + 1], extra[128];

    reset();
    memset(nk, 9, sizeof(nk));
    cfg.dpop.nonce_key = nk;
    t = tok_dpop();
    call_dpop("GET", "/items", t);
    CHECK(refused(401, "use_dpop_nonce") && D.need_nonce == 1);
    CHECK(has("DPoP error=\"use_dpop_nonce\"") && has(ALGS));
    cfg.dpop.clock = &clock_;
    CHECK_OK(tg_dpop_nonce_issue(&cfg.dpop, nonce));
    snprintf(extra, sizeof(extra), ",\"nonce\":\"%s\"", nonce);
    p = proof_by(&agent, "GET", "/items", t, extra);
    call("GET", "/items", scheme("DPoP", t), p);
    CHECK(allowed() && D.need_nonce == 0);
    free(p);
    cfg.dpop.nonce_key = NULL;
    /* The replay cache cannot remember another proof: refuse, 503. */
    tg_replay_mem_free(replay);
    replay = tg_replay_mem_new(1);
    cfg.dpop.replay.arg = replay;
    call_dpop("GET", "/items", t);
    CHECK(allowed());
    call_dpop("GET", "/items", t);
    CHECK(refused(503, "temporarily_unavailable") && D.retry_after == 1);
    free(t);
}

static void
test_mtls_binding(void)
{
    json_t *c;
    char *t, *p;
    uint8_t *wrong;

    reset();
    c = claims();
    json_object_set_new(c, "cnf", json_pack("{s:s}", "x5t#S256", cert_x5t));
    t = sign(c);
    g_cert = tg_slice(cert_der.p, cert_der.len);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed());
    CHECK(strcmp(D.id.binding, "mtls") == 0);
    /* Another certificate. */
    wrong = malloc(cert_der.len);
    memcpy(wrong, cert_der.p, cert_der.len);
    wrong[cert_der.len - 1] ^= 1;
    g_cert = tg_slice(wrong, cert_der.len);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    CHECK(has("Bearer error=\"invalid_token\", error_description=\"the client certificate does "
              "not match the access token's binding\""));
    /* No certificate. */
    g_cert = tg_slice(NULL, 0);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && has("none was presented"));
    /* The DPoP scheme with a certificate-bound token. */
    g_cert = tg_slice(cert_der.p, cert_der.len);
    p = proof("GET", "/items", t);
    call("GET", "/items", scheme("DPoP", t), p);
    CHECK(refused(401, "invalid_token") && has("DPoP error=\"invalid_token\""));
    free(p);
    g_cert = tg_slice(NULL, 0);
    free(wrong);
    free(t);
    /* A cnf we cannot check is not a bearer token either. */
    c = claims();
    json_object_set_new(c, "cnf", json_pack("{s:s}", "x5t", "abc"));
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && has("binding (cnf) is not supported"));
    free(t);
}

static void
test_content_digest(void)
{
    /* sha-256=:<base64 SHA-256 of the body>: (RFC 9530 §2) */
    const char *body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
    char *t, *p, extra[256], want[64];
    uint8_t md[32];
    struct tg_buf b64;
    const char *s;
    size_t i;

    reset();
    t = tok_dpop();
    g_body = tg_slice(body, strlen(body));
    /* Standard base64 via base64url + translation (the body digest has padding). */
    CHECK_OK(tg_sha256(g_body, md));
    tg_buf_init(&b64, 128);
    CHECK_OK(tg_b64url_encode(tg_slice(md, 32), &b64));
    CHECK_OK(tg_buf_cstr(&b64, &s));
    snprintf(want, sizeof(want), "sha-256=:%s=:", s);
    for (i = 9; want[i] != '\0'; i++)
        want[i] = want[i] == '-' ? '+' : want[i] == '_' ? '/' : want[i];
    tg_buf_reset(&b64);
    snprintf(extra, sizeof(extra), ",\"content_digest\":\"%s\"", want);
    p = proof_by(&agent, "POST", "/items", t, extra);
    call("POST", "/items", scheme("DPoP", t), p);
    CHECK(allowed());
    free(p);
    /* The digest of another body. */
    p = proof_by(&agent, "POST", "/items", t, extra);
    g_body = tg_slice("{}", 2);
    call("POST", "/items", scheme("DPoP", t), p);
    CHECK(refused(401, "invalid_dpop_proof") && has("content_digest does not match the body"));
    free(p);
    /* Not a string. */
    p = proof_by(&agent, "POST", "/items", t, ",\"content_digest\":7");
    call("POST", "/items", scheme("DPoP", t), p);
    CHECK(refused(401, "invalid_dpop_proof"));
    free(p);
    /* Required by the tool, and absent. */
    cfg.require_content_digest = 1;
    call_dpop("POST", "/items", t);
    CHECK(refused(401, "invalid_dpop_proof") && has("must carry content_digest"));
    /* Empty body: the digest of nothing. */
    g_body = tg_slice(NULL, 0);
    p = proof_by(&agent, "POST", "/items", t,
                 ",\"content_digest\":\"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:\"");
    call("POST", "/items", scheme("DPoP", t), p);
    CHECK(allowed());
    free(p);
    cfg.require_content_digest = 0;
    free(t);
}

/* ---- 4. the endpoint, 5. the token's details ---- */

static void
test_path_tricks(void)
{
    static const char *const paths[] = {"/items/../admin", "/items/%2e%2e/x", "//items",
                                        "/items%2F1", "/items/%2E%2E", "/items/./1",
                                        "/admin", "/items/1/", "items", "/items?x=1"};
    char *t;
    size_t i;

    reset();
    t = tok_dpop();
    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        call_dpop("GET", paths[i], t);
        CHECK(refused(403, "insufficient_scope"));
        CHECK(has("DPoP error=\"insufficient_scope\""));
        CHECK(strstr(D.www_authenticate, "scope=") == NULL && D.scope_needed[0] == '\0');
    }
    /* An unknown method on a known path. */
    call_dpop("PUT", "/items", t);
    CHECK(refused(403, "insufficient_scope") && has("no such endpoint"));
    free(t);
}

static void
test_action_and_tool_scoping(void)
{
    json_t *c;
    char *t;

    reset();
    /* read only: write is refused, with the scope that would be needed. */
    c = claims();
    set_details(c, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"]}]");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed());
    call("POST", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(403, "insufficient_scope"));
    CHECK(strcmp(D.scope_needed, "demo:write") == 0);
    CHECK(strcmp(D.www_authenticate,
                 "Bearer error=\"insufficient_scope\", error_description=\"the access token does "
                 "not allow this action or endpoint\", scope=\"demo:write\", "
                 "resource_metadata=\"" META "\"") == 0);
    CHECK(strcmp(D.id.action, "write") == 0); /* for the audit line */
    free(t);
    /* Another tool's detail only. */
    c = claims();
    set_details(c, "[{\"type\":\"tool\",\"tool\":\"crm\",\"actions\":[\"read\",\"write\"]}]");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(403, "insufficient_scope") && has("scope=\"demo:read\""));
    CHECK(has("does not allow this tool"));
    free(t);
    /* Endpoint-restricted detail. */
    c = claims();
    set_details(c, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                   "\"endpoints\":[\"GET /items\"]}]");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed());
    call("GET", "/items/1", scheme("Bearer", t), NULL);
    CHECK(refused(403, "insufficient_scope") && has("scope=\"demo:read\""));
    free(t);
    /* A detail for this tool name but another resource (locations). */
    c = claims();
    set_details(c, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                   "\"locations\":[\"https://elsewhere.example/demo\"]}]");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(403, "insufficient_scope"));
    free(t);
    /* No authorization_details at all: nothing allowed. */
    c = claims();
    json_object_del(c, "authorization_details");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(403, "insufficient_scope"));
    free(t);
    /* Details of other types are not ours and grant nothing. */
    c = claims();
    set_details(c, "[{\"type\":\"payment\",\"tool\":\"demo\",\"actions\":[\"read\"]}]");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(403, "insufficient_scope"));
    free(t);
    /* Malformed details: the token is invalid (never partly read). */
    c = claims();
    set_details(c, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\"],"
                   "\"endpoints\":\"GET /items\"}]");
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token") && has("authorization_details"));
    free(t);
    c = claims();
    json_object_set_new(c, "authorization_details", json_string("demo:read"));
    t = sign(c);
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(refused(401, "invalid_token"));
    free(t);
}

static void
test_high_risk(void)
{
    const char *named = "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\",\"admin\"],"
                        "\"endpoints\":[\"GET /items\",\"DELETE /items/{id}\"]}]";
    json_t *c;
    char *t;

    reset();
    /* admin action, endpoint not named: refused even with DPoP. */
    c = claims();
    set_details(c, "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\",\"admin\"]}]");
    bind_jkt(c, agent_jkt);
    t = sign(c);
    call_dpop("DELETE", "/items/1", t);
    CHECK(refused(403, "insufficient_scope") && has("scope=\"demo:admin\""));
    free(t);
    /* Named and DPoP-bound: allowed. */
    c = claims();
    set_details(c, named);
    bind_jkt(c, agent_jkt);
    t = sign(c);
    call_dpop("DELETE", "/items/1", t);
    CHECK(allowed());
    CHECK(strcmp(D.id.action, "admin") == 0 && strcmp(D.id.endpoint, "DELETE /items/{id}") == 0);
    free(t);
    /* Named, but a bearer token: refused. */
    c = claims();
    set_details(c, named);
    t = sign(c);
    call("DELETE", "/items/1", scheme("Bearer", t), NULL);
    CHECK(refused(403, "insufficient_scope"));
    CHECK(has("requires a sender-constrained token") && has("scope=\"demo:admin\""));
    call("GET", "/items", scheme("Bearer", t), NULL);
    CHECK(allowed());
    free(t);
    /* Named and certificate-bound: allowed. */
    c = claims();
    set_details(c, named);
    json_object_set_new(c, "cnf", json_pack("{s:s}", "x5t#S256", cert_x5t));
    t = sign(c);
    g_cert = tg_slice(cert_der.p, cert_der.len);
    call("DELETE", "/items/1", scheme("Bearer", t), NULL);
    CHECK(allowed());
    g_cert = tg_slice(NULL, 0);
    free(t);
}

/* ---- challenges, configuration ---- */

static void
test_challenge_escaping_and_config(void)
{
    reset();
    cfg.resource_metadata = "https://gw.example/a\"b\\c";
    call("GET", "/items", NULL, NULL);
    CHECK(has("resource_metadata=\"https://gw.example/a\\\"b\\\\c\""));
    reset();
    cfg.issuer = NULL;
    call("GET", "/items", "Bearer abc", NULL);
    CHECK(refused(500, "server_error") && D.www_authenticate[0] == '\0');
    reset();
    cfg.dpop.replay.insert_once = NULL;
    call("GET", "/items", "Bearer abc", NULL);
    CHECK(refused(500, "server_error"));
    reset();
    {
        static char longurl[TG_RS_MAX_METADATA_URL + 2];

        memset(longurl, 'a', sizeof(longurl) - 1);
        cfg.resource_metadata = longurl;
        call("GET", "/items", NULL, NULL);
        CHECK(refused(500, "server_error"));
    }
    tg_rs_decide(NULL, NULL, NULL, &D);
    CHECK(refused(500, "server_error"));
}

/* ---- the pieces: token cache, key set, replay set ---- */

static void
test_token_cache_bounded(void)
{
    char *t[5];
    struct tg_token_cache_stats st;
    size_t i;

    reset();
    tg_token_cache_free(cache);
    cache = tg_token_cache_new(2);
    cfg.cache = cache;
    for (i = 0; i < 5; i++) {
        t[i] = tok_bearer();
        call("GET", "/items", scheme("Bearer", t[i]), NULL);
        CHECK(allowed());
    }
    tg_token_cache_stats(cache, &st);
    CHECK(st.size == 2 && st.capacity == 2 && st.inserts == 5 && st.evictions == 3);
    /* The most recent are there. */
    call("GET", "/items", scheme("Bearer", t[4]), NULL);
    CHECK(allowed() && D.cache_hit == 1);
    /* Expired entries go first. */
    now += 400;
    for (i = 0; i < 5; i++)
        free(t[i]);
    t[0] = tok_bearer();
    call("GET", "/items", scheme("Bearer", t[0]), NULL);
    CHECK(allowed());
    tg_token_cache_stats(cache, &st);
    CHECK(st.expired == 1 && st.size == 2);
    free(t[0]);
    CHECK(tg_token_cache_new(0) == NULL);
    tg_token_cache_free(NULL);
}

static void
test_keyset(void)
{
    struct tg_rs_keyset *ks = NULL;
    struct tg_jwk k;
    char *pub = t_pub_json(&iss_key), json[4096];
    json_t *priv = NULL;
    char *privs;

    snprintf(json, sizeof(json),
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bad\"},%.*s,\"kid\":\"a\"},"
             "%.*s,\"kid\":\"enc\",\"use\":\"enc\"}]}",
             (int)strlen(pub) - 1, pub, (int)strlen(pub) - 1, pub);
    CHECK_OK(tg_rs_keyset_parse(json, strlen(json), &ks));
    CHECK(tg_rs_keyset_count(ks) == 1);
    CHECK_OK(tg_rs_keyset_find(ks, "a", &k));
    CHECK(k.key != NULL && memcmp(k.thumbprint, iss_key.thumbprint, 32) == 0);
    tg_jwk_reset(&k);
    CHECK_ERR(tg_rs_keyset_find(ks, "enc", &k), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_rs_keyset_find(ks, "bad", &k), TG_ERR_NOT_FOUND);
    tg_rs_keyset_free(ks);
    /* Duplicate kid, no usable key, private members, not JSON. */
    snprintf(json, sizeof(json), "{\"keys\":[%.*s,\"kid\":\"a\"},%.*s,\"kid\":\"a\"}]}",
             (int)strlen(pub) - 1, pub, (int)strlen(pub) - 1, pub);
    CHECK_ERR(tg_rs_keyset_parse(json, strlen(json), &ks), TG_ERR_JWK_MEMBER_INVALID);
    CHECK_ERR(tg_rs_keyset_parse("{\"keys\":[]}", 11, &ks), TG_ERR_NOT_FOUND);
    CHECK_OK(tg_jwk_private_json(&iss_key, &priv));
    json_object_set_new(priv, "kid", json_string("p"));
    privs = json_dumps(priv, JSON_COMPACT);
    snprintf(json, sizeof(json), "{\"keys\":[%s]}", privs);
    CHECK_ERR(tg_rs_keyset_parse(json, strlen(json), &ks), TG_ERR_JWK_PRIVATE_MEMBER);
    CHECK(ks == NULL);
    CHECK_ERR(tg_rs_keyset_parse("{\"keys\":", 8, &ks), TG_ERR_JSON_MALFORMED);
    /* A symmetric key in a published set is a published secret. */
    snprintf(json, sizeof(json), "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\",\"kid\":\"s\"}]}");
    CHECK_ERR(tg_rs_keyset_parse(json, strlen(json), &ks), TG_ERR_JWK_PRIVATE_MEMBER);
    free(privs);
    json_decref(priv);
    free(pub);
}

static void
test_replay_mem(void)
{
    struct tg_replay_mem *r = tg_replay_mem_new(2);

    CHECK(r != NULL);
    CHECK_OK(tg_replay_mem_insert_once(r, "a", 1, 100, 10));
    CHECK_ERR(tg_replay_mem_insert_once(r, "a", 1, 100, 50), TG_ERR_REPLAY);
    CHECK_OK(tg_replay_mem_insert_once(r, "b", 1, 200, 50));
    CHECK_ERR(tg_replay_mem_insert_once(r, "c", 1, 200, 60), TG_ERR_CACHE_FULL);
    /* a has expired: its room is reclaimed, and it may be seen anew. */
    CHECK_OK(tg_replay_mem_insert_once(r, "c", 1, 200, 101));
    CHECK_ERR(tg_replay_mem_insert_once(r, "b", 1, 200, 101), TG_ERR_REPLAY);
    CHECK_ERR(tg_replay_mem_insert_once(r, "c", 1, 200, 150), TG_ERR_REPLAY);
    tg_replay_mem_free(r);
    CHECK(tg_replay_mem_new(0) == NULL);
    tg_replay_mem_free(NULL);
}

int
main(void)
{
    char *pub, jwks[2048], *pem;
    size_t pem_len;

    iss_key = t_gen(TG_KEY_EC_P256);
    rogue = t_gen(TG_KEY_EC_P256);
    agent = t_gen(TG_KEY_EC_P256);
    other_agent = t_gen(TG_KEY_EC_P256);
    tg_thumbprint_b64(agent.thumbprint, agent_jkt);
    tg_thumbprint_b64(other_agent.thumbprint, other_jkt);
    pub = t_pub_json(&iss_key);
    snprintf(jwks, sizeof(jwks), "{\"keys\":[%.*s,\"kid\":\"k1\",\"alg\":\"ES256\"}]}",
             (int)strlen(pub) - 1, pub);
    free(pub);
    if (tg_rs_keyset_parse(jwks, strlen(jwks), &keyset) != TG_OK) {
        fprintf(stderr, "keyset: %s\n", tg_err_detail());
        return 1;
    }
    pem = t_read_source_file("tests/unit/data/cert.pem", &pem_len);
    tg_buf_init(&cert_der, 1 << 16);
    if (pem == NULL || tg_cert_pem_to_der(pem, pem_len, &cert_der) != TG_OK ||
        tg_x5t_s256(tg_slice(cert_der.p, cert_der.len), cert_x5t) != TG_OK)
        return 1;
    free(pem);
    eps[0] = (struct tg_endpoint){"GET", "/items", TG_ACTION_READ, TG_RISK_NORMAL};
    eps[1] = (struct tg_endpoint){"GET", "/items/{id}", TG_ACTION_READ, TG_RISK_NORMAL};
    eps[2] = (struct tg_endpoint){"POST", "/items", TG_ACTION_WRITE, TG_RISK_NORMAL};
    eps[3] = (struct tg_endpoint){"DELETE", "/items/{id}", TG_ACTION_ADMIN, TG_RISK_HIGH};
    tool.id = "demo";
    tool.resource = RES;
    tool.endpoints = eps;
    tool.n_endpoints = 4;

    RUN(test_no_credentials);
    RUN(test_two_authorization_headers);
    RUN(test_header_syntax);
    RUN(test_bearer_allowed_identity);
    RUN(test_dpop_cache_hit);
    RUN(test_revoked_with_warm_cache);
    RUN(test_expiry);
    RUN(test_audience);
    RUN(test_key_and_signature);
    RUN(test_identity_claims);
    RUN(test_bound_token_as_bearer);
    RUN(test_dpop_proof_refusals);
    RUN(test_dpop_nonce_and_full);
    RUN(test_mtls_binding);
    RUN(test_content_digest);
    RUN(test_path_tricks);
    RUN(test_action_and_tool_scoping);
    RUN(test_high_risk);
    RUN(test_challenge_escaping_and_config);
    RUN(test_token_cache_bounded);
    RUN(test_keyset);
    RUN(test_replay_mem);

    tg_token_cache_free(cache);
    tg_replay_mem_free(replay);
    tg_rs_keyset_free(keyset);
    tg_buf_reset(&cert_der);
    tg_jwk_reset(&iss_key);
    tg_jwk_reset(&rogue);
    tg_jwk_reset(&agent);
    tg_jwk_reset(&other_agent);
    return t_report("verify/resource");
}
