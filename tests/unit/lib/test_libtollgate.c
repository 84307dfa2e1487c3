/* libtollgate through its public header. The internal headers below are
 * used only to build fixtures (sign tokens and proofs); every call under
 * test is a tollgate_* function. The example of docs/verify.md is compiled
 * here, and checked to be the same text as the one in the document. */
#include "tollgate.h"

#include <pthread.h>
#include <time.h>

#include "test.h"

#include "../jose/keys.h"

/* BEGIN EXAMPLE (docs/verify.md) */
#include <stdio.h>
#include <tollgate.h>

static const struct tollgate_endpoint endpoints[] = {
    {"GET", "/items", "read", 0},
    {"GET", "/items/{id}", "read", 0},
    {"POST", "/items", "write", 0},
    {"DELETE", "/items/{id}", "admin", 1}, /* high risk */
};

/* Once, at start-up (and tollgate_verifier_set_jwks after a key rotation). */
static tollgate_verifier *
make_verifier(const char *jwks_json)
{
    struct tollgate_options opts = {0};
    tollgate_verifier *v = NULL;
    int err;

    opts.resource_metadata = "https://tool.example/.well-known/oauth-protected-resource";
    err = tollgate_verifier_new("https://as.example", jwks_json, "https://tool.example",
                                "demo", endpoints, 4, &opts, &v);
    if (err != TOLLGATE_OK)
        fprintf(stderr, "tollgate: %s\n", tollgate_error_name(err));
    return v;
}

/* For every request: 0 to serve it (identity headers in `headers`), or the
 * status to refuse it with (the challenge in `headers`). */
static int
check_request(tollgate_verifier *v, const char *method, const char *url,
              const char *authorization, const char *dpop, const unsigned char *body,
              size_t body_len, char *headers, size_t headers_len)
{
    tollgate_decision *d = NULL;
    int status;

    if (tollgate_verify(v, method, url, NULL, authorization, dpop, NULL, 0, body, body_len,
                        &d) != TOLLGATE_OK)
        return 500; /* no decision: refuse */
    headers[0] = '\0';
    if (tollgate_decision_allowed(d)) {
        status = 0;
        snprintf(headers, headers_len, "X-Agent: %s\r\nX-Tenant: %s\r\n",
                 tollgate_decision_field(d, TOLLGATE_CLIENT_ID),
                 tollgate_decision_field(d, TOLLGATE_TENANT));
    } else {
        status = tollgate_decision_status(d);
        if (tollgate_decision_www_authenticate(d) != NULL)
            snprintf(headers, headers_len, "WWW-Authenticate: %s\r\n",
                     tollgate_decision_www_authenticate(d));
    }
    tollgate_decision_free(d);
    return status;
}
/* END EXAMPLE */

#define ISS "https://as.example"
#define RES "https://tool.example"
#define META "https://tool.example/.well-known/oauth-protected-resource"

static struct tg_jwk iss_key, iss_key2, agent, other_agent;
static char agent_jkt[TG_THUMBPRINT_B64_LEN + 1];
static char *jwks1, *jwks12;
static int64_t now = 1700000000;
static unsigned counter;
static int active_value = 1;

static int64_t
fixed_now(void *arg)
{
    return *(const int64_t *)arg;
}

static int
active_cb(void *arg, const char *jti, const char *client_id, int64_t iat)
{
    (void)arg;
    (void)iat;
    return jti != NULL && client_id != NULL ? active_value : -1;
}

static char *
jwks_of(const struct tg_jwk *a, const char *kid_a, const struct tg_jwk *b, const char *kid_b)
{
    char *pa = t_pub_json(a), *pb = b ? t_pub_json(b) : NULL, buf[4096];

    if (pb != NULL)
        snprintf(buf, sizeof(buf), "{\"keys\":[%.*s,\"kid\":\"%s\"},%.*s,\"kid\":\"%s\"}]}",
                 (int)strlen(pa) - 1, pa, kid_a, (int)strlen(pb) - 1, pb, kid_b);
    else
        snprintf(buf, sizeof(buf), "{\"keys\":[%.*s,\"kid\":\"%s\"}]}", (int)strlen(pa) - 1, pa,
                 kid_a);
    free(pa);
    free(pb);
    return strdup(buf);
}

/* A token as Tollgate's authorization server mints it, at time `iat`. */
static char *
mint(const struct tg_jwk *k, const char *kid, int64_t iat, const char *cnf, const char *details)
{
    char hdr[128], cl[2048];

    snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    snprintf(cl, sizeof(cl),
             "{\"iss\":\"" ISS "\",\"sub\":\"billing-bot\",\"client_id\":\"billing-bot\","
             "\"aud\":\"" RES "\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,\"jti\":\"t%u\","
             "\"scope\":\"demo:read demo:write\",\"authorization_details\":%s,"
             "\"tenant\":\"acme\",\"agent_type\":\"tenant\",\"owner\":\"bob@example.com\"%s}",
             (long long)iat, (long long)iat, (long long)iat + 300, ++counter,
             details ? details
                     : "[{\"type\":\"tool\",\"tool\":\"demo\",\"actions\":[\"read\",\"write\"]}]",
             cnf ? cnf : "");
    return t_token(k, TG_SIG_ECDSA_P256_SHA256, hdr, cl, 0);
}

static char *
dpop_token(int64_t iat)
{
    char cnf[128];

    snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"jkt\":\"%s\"}", agent_jkt);
    return mint(&iss_key, "k1", iat, cnf, NULL);
}

static char *
proof_at(const struct tg_jwk *k, const char *htm, const char *htu, const char *at, int64_t iat,
         const char *extra)
{
    char hdr[1024], cl[2048], ath[TG_THUMBPRINT_B64_LEN + 1], *pub = t_pub_json(k), *p;
    uint8_t md[32];

    if (tg_sha256(tg_slice(at, strlen(at)), md) != TG_OK)
        return NULL;
    tg_thumbprint_b64(md, ath);
    snprintf(hdr, sizeof(hdr), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}", pub);
    snprintf(cl, sizeof(cl),
             "{\"jti\":\"p%u\",\"htm\":\"%s\",\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\"%s}",
             ++counter, htm, htu, (long long)iat, ath, extra ? extra : "");
    p = t_token(k, TG_SIG_ECDSA_P256_SHA256, hdr, cl, 0);
    free(pub);
    return p;
}

static char *
hdr(const char *scheme, const char *token)
{
    size_t n = strlen(scheme) + strlen(token) + 2;
    char *s = malloc(n);

    snprintf(s, n, "%s %s", scheme, token);
    return s;
}

static tollgate_verifier *
verifier(struct tollgate_options *opts)
{
    tollgate_verifier *v = NULL;
    struct tollgate_options o = {0};

    if (opts == NULL)
        opts = &o;
    opts->resource_metadata = META;
    opts->now = fixed_now;
    opts->now_arg = &now;
    if (tollgate_verifier_new(ISS, jwks1, RES, "demo", endpoints, 4, opts, &v) != TOLLGATE_OK)
        return NULL;
    return v;
}

/* ---- the documented example, and that the document shows this code ---- */

static void
test_example(void)
{
    tollgate_verifier *v = make_verifier(jwks1);
    int64_t t = (int64_t)time(NULL);
    char headers[4096], *tok = dpop_token(t), *auth = hdr("DPoP", tok);
    char *p = proof_at(&agent, "GET", RES "/items", tok, t, NULL);

    CHECK(v != NULL);
    CHECK(check_request(v, "GET", RES "/items", auth, p, NULL, 0, headers, sizeof(headers)) == 0);
    CHECK(strcmp(headers, "X-Agent: billing-bot\r\nX-Tenant: acme\r\n") == 0);
    /* The same proof again: a replay. */
    CHECK(check_request(v, "GET", RES "/items", auth, p, NULL, 0, headers, sizeof(headers)) ==
          401);
    CHECK(strstr(headers, "WWW-Authenticate: DPoP error=\"invalid_dpop_proof\"") != NULL);
    CHECK(check_request(v, "GET", RES "/items", NULL, NULL, NULL, 0, headers, sizeof(headers)) ==
          401);
    CHECK(strstr(headers, "resource_metadata=\"" META "\"") != NULL);
    tollgate_verifier_free(v);
    free(p);
    free(auth);
    free(tok);
}

static void
test_example_matches_doc(void)
{
    char *src = t_read_source_file("tests/unit/lib/test_libtollgate.c", NULL);
    char *doc = t_read_source_file("docs/verify.md", NULL);
    const char *b = "/* BEGIN EXAMPLE (docs/verify.md) */\n", *e = "/* END EXAMPLE */";
    char *s0 = src ? strstr(src, b) : NULL, *s1 = s0 ? strstr(s0, e) : NULL;
    char *d0 = doc ? strstr(doc, "<!-- example: tests/unit/lib/test_libtollgate.c -->\n```c\n")
                   : NULL;
    char *d1;

    CHECK(s0 != NULL && s1 != NULL && d0 != NULL);
    if (s0 != NULL && s1 != NULL && d0 != NULL) {
        s0 += strlen(b);
        d0 = strstr(d0, "```c\n") + 5;
        d1 = strstr(d0, "```");
        CHECK(d1 != NULL && d1 - d0 == s1 - s0 && memcmp(d0, s0, (size_t)(s1 - s0)) == 0);
    }
    free(src);
    free(doc);
}

/* ---- the API ---- */

static void
test_allow_and_identity(void)
{
    tollgate_verifier *v = verifier(NULL);
    tollgate_decision *d = NULL;
    char *tok = mint(&iss_key, "k1", now, NULL, NULL), *auth = hdr("Bearer", tok);

    CHECK(tollgate_verify(v, "GET", RES "/items/42?x=1", NULL, auth, NULL, NULL, 0, NULL, 0,
                          &d) == TOLLGATE_OK);
    CHECK(tollgate_decision_allowed(d) && tollgate_decision_status(d) == 200);
    CHECK(tollgate_decision_error(d) == NULL && tollgate_decision_www_authenticate(d) == NULL);
    CHECK(tollgate_decision_code(d) == TOLLGATE_OK);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_SUBJECT), "billing-bot") == 0);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_CLIENT_ID), "billing-bot") == 0);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_TENANT), "acme") == 0);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_OWNER), "bob@example.com") == 0);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_AGENT_TYPE), "tenant") == 0);
    CHECK(strncmp(tollgate_decision_field(d, TOLLGATE_TOKEN_ID), "t", 1) == 0);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_SCOPE), "demo:read demo:write") == 0);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_BINDING), "bearer") == 0);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_ACTION), "read") == 0);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_ENDPOINT), "GET /items/{id}") == 0);
    CHECK(strcmp(tollgate_decision_field(d, (enum tollgate_field)99), "") == 0);
    CHECK(tollgate_decision_expires_at(d) == now + 300);
    CHECK(tollgate_decision_dpop_nonce(d) == NULL);
    tollgate_decision_free(d);
    /* An explicit path (the tool mounted under a prefix). */
    CHECK(tollgate_verify(v, "POST", RES "/api/items", "/items", auth, NULL, NULL, 0, NULL, 0,
                          &d) == TOLLGATE_OK);
    CHECK(tollgate_decision_allowed(d));
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_ACTION), "write") == 0);
    tollgate_decision_free(d);
    tollgate_decision_free(NULL);
    free(auth);
    free(tok);
    tollgate_verifier_free(v);
}

static void
test_refusals(void)
{
    tollgate_verifier *v = verifier(NULL);
    tollgate_decision *d = NULL;
    char *tok = dpop_token(now), *bearer = hdr("Bearer", tok), *dp = hdr("DPoP", tok);
    char *p;
    const char *two[2];
    struct tollgate_request r;

    /* No credentials: 401, both challenges, no error code. */
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, NULL, NULL, NULL, 0, NULL, 0, &d) == 0);
    CHECK(!tollgate_decision_allowed(d) && tollgate_decision_status(d) == 401);
    CHECK(tollgate_decision_error(d) == NULL);
    CHECK(strcmp(tollgate_decision_www_authenticate(d),
                 "DPoP algs=\"ES256 ES384 EdDSA RS256 PS256 Ed25519\", resource_metadata=\"" META
                 "\", Bearer resource_metadata=\"" META "\"") == 0);
    tollgate_decision_free(d);
    /* A DPoP-bound token as a bearer token. */
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, bearer, NULL, NULL, 0, NULL, 0, &d) == 0);
    CHECK(tollgate_decision_status(d) == 401 &&
          strcmp(tollgate_decision_error(d), "invalid_token") == 0);
    CHECK(strstr(tollgate_decision_www_authenticate(d), "Bearer error=\"invalid_token\"") != NULL);
    CHECK(strcmp(tollgate_error_name(tollgate_decision_code(d)), "TG_ERR_OAUTH_INVALID_TOKEN") ==
          0);
    tollgate_decision_free(d);
    /* The token allows read and write, not admin. */
    p = proof_at(&agent, "DELETE", RES "/items/1", tok, now, NULL);
    CHECK(tollgate_verify(v, "DELETE", RES "/items/1", NULL, dp, p, NULL, 0, NULL, 0, &d) == 0);
    CHECK(tollgate_decision_status(d) == 403);
    CHECK(strcmp(tollgate_decision_error(d), "insufficient_scope") == 0);
    CHECK(strcmp(tollgate_decision_scope_needed(d), "demo:admin") == 0);
    CHECK(strstr(tollgate_decision_www_authenticate(d), "scope=\"demo:admin\"") != NULL);
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_BINDING), "dpop") == 0);
    tollgate_decision_free(d);
    free(p);
    /* Another agent's key. */
    p = proof_at(&other_agent, "GET", RES "/items", tok, now, NULL);
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, dp, p, NULL, 0, NULL, 0, &d) == 0);
    CHECK(tollgate_decision_status(d) == 401 &&
          strcmp(tollgate_decision_error(d), "invalid_dpop_proof") == 0);
    tollgate_decision_free(d);
    free(p);
    /* A path trick. */
    p = proof_at(&agent, "GET", RES "/items/../admin", tok, now, NULL);
    CHECK(tollgate_verify(v, "GET", RES "/items/../admin", NULL, dp, p, NULL, 0, NULL, 0, &d) ==
          0);
    CHECK(tollgate_decision_status(d) == 403 && tollgate_decision_scope_needed(d) == NULL);
    tollgate_decision_free(d);
    free(p);
    /* Two Authorization headers, through tollgate_verify_request. */
    memset(&r, 0, sizeof(r));
    two[0] = dp;
    two[1] = bearer;
    r.method = "GET";
    r.url = RES "/items";
    r.authorization = two;
    r.n_authorization = 2;
    CHECK(tollgate_verify_request(v, &r, &d) == TOLLGATE_OK);
    CHECK(tollgate_decision_status(d) == 400 &&
          strcmp(tollgate_decision_error(d), "invalid_request") == 0);
    tollgate_decision_free(d);
    /* Expired. */
    now += 400;
    p = proof_at(&agent, "GET", RES "/items", tok, now, NULL);
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, dp, p, NULL, 0, NULL, 0, &d) == 0);
    CHECK(tollgate_decision_status(d) == 401 &&
          strstr(tollgate_decision_description(d), "expired") != NULL);
    tollgate_decision_free(d);
    free(p);
    now -= 400;
    free(bearer);
    free(dp);
    free(tok);
    tollgate_verifier_free(v);
}

static void
test_dpop_body_and_nonce(void)
{
    static const unsigned char nk[32] = {1, 2, 3};
    const char *body = "{\"name\":\"x\"}";
    struct tollgate_options o = {0};
    tollgate_verifier *v;
    tollgate_decision *d = NULL;
    char *tok = dpop_token(now), *dp = hdr("DPoP", tok), *p, extra[256], nonce[64];

    o.dpop_nonce_key = nk;
    o.require_content_digest = 1;
    v = verifier(&o);
    CHECK(v != NULL);
    /* No nonce: 401 use_dpop_nonce, and a nonce to use. */
    p = proof_at(&agent, "POST", RES "/items", tok, now, NULL);
    CHECK(tollgate_verify(v, "POST", RES "/items", NULL, dp, p, NULL, 0,
                          (const unsigned char *)body, strlen(body), &d) == 0);
    CHECK(tollgate_decision_status(d) == 401 &&
          strcmp(tollgate_decision_error(d), "use_dpop_nonce") == 0);
    CHECK(tollgate_decision_dpop_nonce(d) != NULL);
    snprintf(nonce, sizeof(nonce), "%s", tollgate_decision_dpop_nonce(d));
    tollgate_decision_free(d);
    free(p);
    /* With the nonce, but no content_digest: required here. */
    snprintf(extra, sizeof(extra), ",\"nonce\":\"%s\"", nonce);
    p = proof_at(&agent, "POST", RES "/items", tok, now, extra);
    CHECK(tollgate_verify(v, "POST", RES "/items", NULL, dp, p, NULL, 0,
                          (const unsigned char *)body, strlen(body), &d) == 0);
    CHECK(tollgate_decision_status(d) == 401 &&
          strcmp(tollgate_decision_error(d), "invalid_dpop_proof") == 0);
    tollgate_decision_free(d);
    free(p);
    /* Nonce and the body's digest: allowed. SHA-256 of {"name":"x"}. */
    snprintf(extra, sizeof(extra), ",\"nonce\":\"%s\",\"content_digest\":\"%s\"", nonce,
             "sha-256=:AinTfjParhSb9AVDpc4dtEWdEPgw1ROSeaor/V9khaE=:");
    p = proof_at(&agent, "POST", RES "/items", tok, now, extra);
    CHECK(tollgate_verify(v, "POST", RES "/items", NULL, dp, p, NULL, 0,
                          (const unsigned char *)body, strlen(body), &d) == 0);
    CHECK(tollgate_decision_allowed(d));
    if (!tollgate_decision_allowed(d))
        fprintf(stderr, "  %s\n", tollgate_decision_description(d));
    CHECK(tollgate_decision_dpop_nonce(d) != NULL);
    tollgate_decision_free(d);
    free(p);
    free(dp);
    free(tok);
    tollgate_verifier_free(v);
}

static void
test_key_rotation(void)
{
    tollgate_verifier *v = verifier(NULL);
    tollgate_decision *d = NULL;
    char *tok = mint(&iss_key2, "k2", now, NULL, NULL), *auth = hdr("Bearer", tok);

    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, auth, NULL, NULL, 0, NULL, 0, &d) == 0);
    CHECK(tollgate_decision_status(d) == 401 && tollgate_decision_unknown_key(d));
    tollgate_decision_free(d);
    CHECK(tollgate_verifier_set_jwks(v, jwks12) == TOLLGATE_OK);
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, auth, NULL, NULL, 0, NULL, 0, &d) == 0);
    CHECK(tollgate_decision_allowed(d) && !tollgate_decision_unknown_key(d));
    tollgate_decision_free(d);
    /* k2 withdrawn: its tokens stop working at once, cached or not. */
    CHECK(tollgate_verifier_set_jwks(v, jwks1) == TOLLGATE_OK);
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, auth, NULL, NULL, 0, NULL, 0, &d) == 0);
    CHECK(tollgate_decision_status(d) == 401);
    tollgate_decision_free(d);
    CHECK(tollgate_verifier_set_jwks(v, "{\"keys\":[]}") != TOLLGATE_OK);
    free(auth);
    free(tok);
    tollgate_verifier_free(v);
}

static void
test_revocation_and_mtls(void)
{
    struct tollgate_options o = {0};
    tollgate_verifier *v;
    tollgate_decision *d = NULL;
    struct tg_buf der;
    char *pem = t_read_source_file("tests/unit/data/cert.pem", NULL), x5t[64], cnf[128];
    char *tok, *auth;

    o.active = active_cb;
    v = verifier(&o);
    tg_buf_init(&der, 1 << 16);
    CHECK(pem != NULL && tg_cert_pem_to_der(pem, strlen(pem), &der) == TG_OK &&
          tg_x5t_s256(tg_slice(der.p, der.len), x5t) == TG_OK);
    snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"x5t#S256\":\"%s\"}", x5t);
    tok = mint(&iss_key, "k1", now, cnf, NULL);
    auth = hdr("Bearer", tok);
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, auth, NULL, der.p, der.len, NULL, 0,
                          &d) == 0);
    CHECK(tollgate_decision_allowed(d));
    CHECK(strcmp(tollgate_decision_field(d, TOLLGATE_BINDING), "mtls") == 0);
    tollgate_decision_free(d);
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, auth, NULL, NULL, 0, NULL, 0, &d) == 0);
    CHECK(tollgate_decision_status(d) == 401);
    tollgate_decision_free(d);
    active_value = 0;
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, auth, NULL, der.p, der.len, NULL, 0,
                          &d) == 0);
    CHECK(tollgate_decision_status(d) == 401 &&
          strstr(tollgate_decision_description(d), "no longer active") != NULL);
    tollgate_decision_free(d);
    active_value = -1;
    CHECK(tollgate_verify(v, "GET", RES "/items", NULL, auth, NULL, der.p, der.len, NULL, 0,
                          &d) == 0);
    CHECK(tollgate_decision_status(d) == 503 && tollgate_decision_retry_after(d) == 1);
    tollgate_decision_free(d);
    active_value = 1;
    tg_buf_reset(&der);
    free(pem);
    free(auth);
    free(tok);
    tollgate_verifier_free(v);
}

static void
test_construction_errors(void)
{
    static const struct tollgate_endpoint bad_method[] = {{"FETCH", "/items", "read", 0}};
    static const struct tollgate_endpoint bad_action[] = {{"GET", "/items", "delete", 0}};
    static const struct tollgate_endpoint bad_path[] = {{"GET", "/items/../x", "read", 0}};
    static const struct tollgate_endpoint dup[] = {{"GET", "/items/{id}", "read", 0},
                                                   {"GET", "/items/*", "read", 0}};
    tollgate_verifier *v = NULL;
    tollgate_decision *d = NULL;
    int err;

    err = tollgate_verifier_new(ISS, jwks1, RES, "demo", bad_method, 1, NULL, &v);
    CHECK(err != TOLLGATE_OK && v == NULL);
    CHECK(strcmp(tollgate_error_name(err), "TG_ERR_POLICY_INVALID") == 0);
    CHECK(tollgate_verifier_new(ISS, jwks1, RES, "demo", bad_action, 1, NULL, &v) != 0);
    CHECK(tollgate_verifier_new(ISS, jwks1, RES, "demo", bad_path, 1, NULL, &v) != 0);
    CHECK(tollgate_verifier_new(ISS, jwks1, RES, "demo", dup, 2, NULL, &v) != 0);
    CHECK(tollgate_verifier_new(ISS, jwks1, "not a uri", "demo", endpoints, 4, NULL, &v) != 0);
    CHECK(tollgate_verifier_new(ISS, jwks1, RES, "bad id!", endpoints, 4, NULL, &v) != 0);
    err = tollgate_verifier_new(ISS, "{\"keys\":[]}", RES, "demo", endpoints, 4, NULL, &v);
    CHECK(err != 0 && v == NULL);
    CHECK(strcmp(tollgate_error_name(err), "TG_ERR_NOT_FOUND") == 0);
    CHECK(tollgate_verifier_new(ISS, "nope", RES, "demo", endpoints, 4, NULL, &v) != 0);
    CHECK(tollgate_verifier_new(ISS, jwks1, RES, "demo", endpoints, 4, NULL, &v) == TOLLGATE_OK);
    /* Not a URL, no decision. */
    CHECK(tollgate_verify(v, "GET", "/items", NULL, NULL, NULL, NULL, 0, NULL, 0, &d) != 0 &&
          d == NULL);
    CHECK(tollgate_decision_allowed(NULL) == 0 && tollgate_decision_status(NULL) == 500);
    tollgate_verifier_free(v);
    tollgate_verifier_free(NULL);
    CHECK(strcmp(tollgate_version(), TOLLGATE_VERSION) == 0);
    CHECK(strcmp(tollgate_error_oauth(tollgate_decision_code(NULL), "x"), "server_error") == 0);
}

/* Many threads, one verifier: the caches and the key set under load. */
#define THREADS 4
#define PER_THREAD 40

struct job {
    tollgate_verifier *v;
    char *auth;
    char *proofs[PER_THREAD];
    int allowed;
};

static void *
run_job(void *arg)
{
    struct job *j = arg;
    tollgate_decision *d;
    int i;

    for (i = 0; i < PER_THREAD; i++) {
        if (tollgate_verify(j->v, "GET", RES "/items", NULL, j->auth, j->proofs[i], NULL, 0, NULL,
                            0, &d) != TOLLGATE_OK)
            continue;
        j->allowed += tollgate_decision_allowed(d);
        tollgate_decision_free(d);
        if (i == PER_THREAD / 2 && tollgate_verifier_set_jwks(j->v, jwks12) != TOLLGATE_OK)
            j->allowed = -1000;
    }
    return NULL;
}

static void
test_threads(void)
{
    tollgate_verifier *v = verifier(NULL);
    struct job jobs[THREADS];
    pthread_t th[THREADS];
    char *tok = dpop_token(now);
    int i, k, total = 0;

    for (i = 0; i < THREADS; i++) {
        jobs[i].v = v;
        jobs[i].auth = hdr("DPoP", tok);
        jobs[i].allowed = 0;
        for (k = 0; k < PER_THREAD; k++)
            jobs[i].proofs[k] = proof_at(&agent, "GET", RES "/items", tok, now, NULL);
    }
    for (i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, run_job, &jobs[i]) == 0);
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].allowed;
        free(jobs[i].auth);
        for (k = 0; k < PER_THREAD; k++)
            free(jobs[i].proofs[k]);
    }
    CHECK(total == THREADS * PER_THREAD);
    free(tok);
    tollgate_verifier_free(v);
}

int
main(void)
{
    iss_key = t_gen(TG_KEY_EC_P256);
    iss_key2 = t_gen(TG_KEY_EC_P256);
    agent = t_gen(TG_KEY_EC_P256);
    other_agent = t_gen(TG_KEY_EC_P256);
    tg_thumbprint_b64(agent.thumbprint, agent_jkt);
    jwks1 = jwks_of(&iss_key, "k1", NULL, NULL);
    jwks12 = jwks_of(&iss_key, "k1", &iss_key2, "k2");

    RUN(test_example);
    RUN(test_example_matches_doc);
    RUN(test_allow_and_identity);
    RUN(test_refusals);
    RUN(test_dpop_body_and_nonce);
    RUN(test_key_rotation);
    RUN(test_revocation_and_mtls);
    RUN(test_construction_errors);
    RUN(test_threads);

    free(jwks1);
    free(jwks12);
    tg_jwk_reset(&iss_key);
    tg_jwk_reset(&iss_key2);
    tg_jwk_reset(&agent);
    tg_jwk_reset(&other_agent);
    return t_report("lib/libtollgate");
}
