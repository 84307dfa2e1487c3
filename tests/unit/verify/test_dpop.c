#include "test.h"

#include "../jose/keys.h"
#include "jose/jwt.h"
#include "verify/dpop.h"

/* A tiny replay set for the test (the real one is src/store/cache_memory.c). */
#define SLOTS 64
static struct {
    char key[256];
    size_t len;
    int64_t exp;
} seen[SLOTS];
static size_t nseen, cap_slots = SLOTS;

static enum tg_err
replay_insert(void *arg, const void *key, size_t len, int64_t exp, int64_t now)
{
    size_t i;

    (void)arg;
    for (i = 0; i < nseen; i++)
        if (seen[i].len == len && memcmp(seen[i].key, key, len) == 0 && seen[i].exp > now)
            return TG_ERR_REPLAY;
    if (nseen >= cap_slots)
        return TG_ERR_CACHE_FULL;
    memcpy(seen[nseen].key, key, len);
    seen[nseen].len = len;
    seen[nseen].exp = exp;
    nseen++;
    return TG_OK;
}

static int64_t now = 1562262616;
static const struct tg_clock clock_ = {tg_clock_fixed_now, &now};
static struct tg_dpop_config cfg;
static struct tg_jwk key, other;
static struct tg_jws_header_cache *hcache; /* second pass: through the header cache */

static void
reset(void)
{
    memset(&cfg, 0, sizeof(cfg));
    cfg.replay.insert_once = replay_insert;
    cfg.clock = &clock_;
    cfg.header_cache = hcache;
    nseen = 0;
    cap_slots = SLOTS;
}

static char *
proof_with(const struct tg_jwk *signer, const char *header_extra, const char *claims)
{
    char hdr[2048];
    char *pub = t_pub_json(&key);

    snprintf(hdr, sizeof(hdr), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s%s}", pub,
             header_extra ? header_extra : "");
    free(pub);
    return t_token(signer, TG_SIG_ECDSA_P256_SHA256, hdr, claims, 0);
}

static char *
proof(const char *claims)
{
    return proof_with(&key, NULL, claims);
}

static enum tg_err
check(const char *p, const char *htm, const char *htu, const char *why_want)
{
    struct tg_dpop_request req = {p, 1, htm, htu, NULL, NULL, NULL};
    struct tg_dpop_result res;
    enum tg_err rv = tg_dpop_verify(&cfg, &req, &res);

    if (why_want != NULL && (res.why == NULL || strstr(res.why, why_want) == NULL)) {
        fprintf(stderr, "  reason '%s' does not contain '%s'\n", res.why ? res.why : "(none)",
                why_want);
        return TG_ERR_INTERNAL;
    }
    return rv;
}

#define CLAIMS(jti, htm, htu, iat)                                                        \
    "{\"jti\":\"" jti "\",\"htm\":\"" htm "\",\"htu\":\"" htu "\",\"iat\":" #iat "}"

static void
test_rfc9449_example(void)
{
    char *vec = t_read_source_file("tests/vectors/rfc9449_4_1_dpop.json", NULL);
    json_t *v = vec ? json_loads(vec, 0, NULL) : NULL;
    const char *p = json_string_value(json_object_get(v, "proof"));
    struct tg_dpop_request req = {p, 1, "POST", "https://server.example.com/token", NULL, NULL, NULL};
    struct tg_dpop_result res;

    reset();
    CHECK(p != NULL);
    CHECK_OK(tg_dpop_verify(&cfg, &req, &res));
    CHECK(strcmp(res.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I") == 0);
    CHECK(strcmp(res.jti, "-BwC3ESc6acc2lTc") == 0);
    /* The same proof again is a replay. */
    CHECK_ERR(tg_dpop_verify(&cfg, &req, &res), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    CHECK(res.why != NULL && strstr(res.why, "used before") != NULL);
    free(vec);
    json_decref(v);
}

static void
test_valid_and_replay(void)
{
    char *p = proof(CLAIMS("j1", "POST", "https://as.example/token", 1562262616));

    reset();
    CHECK_OK(check(p, "POST", "https://as.example/token", NULL));
    CHECK_ERR(check(p, "POST", "https://as.example/token", "used before"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    /* After the window, the jti would be forgotten, but so is the proof. */
    now += 400;
    CHECK_ERR(check(p, "POST", "https://as.example/token", "too old"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    now -= 400;
    free(p);
}

static void
test_htm_htu(void)
{
    char *p;

    reset();
    p = proof(CLAIMS("j2", "POST", "https://as.example/token", 1562262616));
    CHECK_ERR(check(p, "GET", "https://as.example/token", "htm"), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    CHECK_ERR(check(p, "post", "https://as.example/token", "htm"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    CHECK_ERR(check(p, "POST", "https://as.example/other", "htu"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    CHECK_ERR(check(p, "POST", "http://as.example/token", "htu"), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    CHECK_ERR(check(p, "POST", "https://as.example:8443/token", "htu"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    /* Normalised forms and the request's query string are equivalent. */
    CHECK_OK(check(p, "POST", "HTTPS://AS.example:443/token?x=1", NULL));
    free(p);
    p = proof(CLAIMS("j3", "POST", "https://As.Example:443/%74oken#frag", 1562262616));
    CHECK_OK(check(p, "POST", "https://as.example/token", NULL));
    free(p);
    p = proof(CLAIMS("j4", "GET", "https://as.example/a/./b/../c?q=1", 1562262616));
    CHECK_OK(check(p, "GET", "https://as.example/a/c", NULL));
    free(p);
    p = proof(CLAIMS("j5", "GET", "https://user@as.example/a", 1562262616));
    CHECK_ERR(check(p, "GET", "https://as.example/a", "htu"), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
}

static void
test_htu_normalize(void)
{
    char out[256];

    CHECK_OK(tg_htu_normalize("HTTP://EXAMPLE.com:80", out, sizeof(out)));
    CHECK(strcmp(out, "http://example.com/") == 0);
    CHECK_OK(tg_htu_normalize("https://example.com:8443/a%2fb%7e?x#y", out, sizeof(out)));
    CHECK(strcmp(out, "https://example.com:8443/a%2Fb~") == 0);
    CHECK_OK(tg_htu_normalize("https://[::1]:443/t", out, sizeof(out)));
    CHECK(strcmp(out, "https://[::1]/t") == 0);
    CHECK_OK(tg_htu_normalize("http://h/a/b/../../../c", out, sizeof(out)));
    CHECK(strcmp(out, "http://h/c") == 0);
    CHECK_ERR(tg_htu_normalize("ftp://h/x", out, sizeof(out)), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_htu_normalize("/token", out, sizeof(out)), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_htu_normalize("http://h/%zz", out, sizeof(out)), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_htu_normalize("http://h:99999x/", out, sizeof(out)), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_htu_normalize("http://h/a b", out, sizeof(out)), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_htu_normalize("http://h/abcdef", out, 12), TG_ERR_TOO_LARGE);
}

static void
test_iat_window(void)
{
    char *p;

    reset();
    p = proof(CLAIMS("j6", "POST", "https://as.example/token", 1562262316)); /* now - 300 */
    CHECK_OK(check(p, "POST", "https://as.example/token", NULL));
    free(p);
    p = proof(CLAIMS("j7", "POST", "https://as.example/token", 1562262315)); /* now - 301 */
    CHECK_ERR(check(p, "POST", "https://as.example/token", "too old"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    p = proof(CLAIMS("j8", "POST", "https://as.example/token", 1562262621)); /* now + 5 */
    CHECK_OK(check(p, "POST", "https://as.example/token", NULL));
    free(p);
    p = proof(CLAIMS("j9", "POST", "https://as.example/token", 1562262622)); /* now + 6 */
    CHECK_ERR(check(p, "POST", "https://as.example/token", "future"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    cfg.iat_window = 60;
    p = proof(CLAIMS("j10", "POST", "https://as.example/token", 1562262555));
    CHECK_ERR(check(p, "POST", "https://as.example/token", "too old"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
}

static void
test_missing_claims(void)
{
    static const char *const bad[] = {
        "{\"htm\":\"POST\",\"htu\":\"https://as.example/token\",\"iat\":1562262616}",
        "{\"jti\":\"\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\",\"iat\":1562262616}",
        "{\"jti\":\"a\",\"htu\":\"https://as.example/token\",\"iat\":1562262616}",
        "{\"jti\":\"a\",\"htm\":\"POST\",\"iat\":1562262616}",
        "{\"jti\":\"a\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\"}",
        "{\"jti\":\"a\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\",\"iat\":\"now\"}",
        "{\"jti\":7,\"htm\":\"POST\",\"htu\":\"https://as.example/token\",\"iat\":1562262616}",
    };
    size_t i;
    char *p;

    reset();
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = proof(bad[i]);
        CHECK_ERR(check(p, "POST", "https://as.example/token", NULL),
                  TG_ERR_OAUTH_INVALID_DPOP_PROOF);
        free(p);
    }
}

static void
test_header_attacks(void)
{
    char hdr[2048], *pub = t_pub_json(&key), *p;
    json_t *priv = NULL;
    char *privs;
    const char *c = CLAIMS("h1", "POST", "https://as.example/token", 1562262616);

    reset();
    /* wrong typ */
    snprintf(hdr, sizeof(hdr), "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"jwk\":%s}", pub);
    p = t_token(&key, TG_SIG_ECDSA_P256_SHA256, hdr, c, 0);
    CHECK_ERR(check(p, "POST", "https://as.example/token", "typ"), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    /* alg none */
    snprintf(hdr, sizeof(hdr), "{\"typ\":\"dpop+jwt\",\"alg\":\"none\",\"jwk\":%s}", pub);
    p = t_token(&key, 0, hdr, c, 0);
    CHECK_ERR(check(p, "POST", "https://as.example/token", "alg"), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    /* HS256 */
    snprintf(hdr, sizeof(hdr), "{\"typ\":\"dpop+jwt\",\"alg\":\"HS256\",\"jwk\":%s}", pub);
    p = t_token(&key, 0, hdr, c, 32);
    CHECK_ERR(check(p, "POST", "https://as.example/token", "alg"), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    /* an alg outside the configured list */
    cfg.algs = TG_JWS_ALG_BIT(TG_JWS_EDDSA);
    p = proof(c);
    CHECK_ERR(check(p, "POST", "https://as.example/token", "alg"), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    cfg.algs = 0;
    /* no jwk */
    p = t_token(&key, TG_SIG_ECDSA_P256_SHA256, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\"}", c, 0);
    CHECK_ERR(check(p, "POST", "https://as.example/token", "jwk"), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    /* private key in the jwk header */
    CHECK_OK(tg_jwk_private_json(&key, &priv));
    privs = json_dumps(priv, JSON_COMPACT);
    snprintf(hdr, sizeof(hdr), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}", privs);
    p = t_token(&key, TG_SIG_ECDSA_P256_SHA256, hdr, c, 0);
    CHECK_ERR(check(p, "POST", "https://as.example/token", "private"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    free(privs);
    json_decref(priv);
    /* header names one key, another key signed */
    p = proof_with(&other, NULL, c);
    CHECK_ERR(check(p, "POST", "https://as.example/token", "signature"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    /* garbage */
    CHECK_ERR(check("not.a.jwt", "POST", "https://as.example/token", "well-formed"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(pub);
}

/* The claims set is read before the signature is checked, as tg_jwt_parse
 * did: a payload that is not a JSON object is not a well-formed JWT, signed
 * by the header's key or not. */
static void
test_claims_set(void)
{
    static const char *const malformed[] = {
        "[\"jti\",\"a\"]",
        "{\"jti\":\"a\",\"jti\":\"b\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\","
        "\"iat\":1562262616}",
        "{\"jti\":\"a\\u0000\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\","
        "\"iat\":1562262616}",
        "{\"jti\":\"a\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\",\"iat\":1e999}",
        "{\"jti\":\"a\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\",\"iat\":1562262616}x",
        "{\"jti\":\"a\",\"x\":{\"k\":1,\"k\":2},\"htm\":\"POST\",\"htu\":\"https://as.example/token\","
        "\"iat\":1562262616}",
        "",
    };
    static const struct {
        const char *claims, *why;
    } refused[] = {
        {"{\"jti\":7,\"htm\":\"POST\",\"htu\":\"https://as.example/token\",\"iat\":1562262616}",
         "jti is missing or invalid"},
        {"{\"jti\":\"a\",\"htm\":null,\"htu\":\"https://as.example/token\",\"iat\":1562262616}",
         "htm is missing"},
        {"{\"jti\":\"a\",\"htm\":\"POST\",\"htu\":[],\"iat\":1562262616}", "htu is missing"},
        {"{\"jti\":\"a\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\",\"iat\":\"1\"}",
         "iat is missing or invalid"},
        {"{\"jti\":\"a\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\","
         "\"iat\":1000000000000}",
         "iat is missing or invalid"},
        /* a claim inside another member is not the claim */
        {"{\"x\":{\"jti\":\"a\"},\"htm\":\"POST\",\"htu\":\"https://as.example/token\","
         "\"iat\":1562262616}",
         "jti is missing or invalid"},
    };
    struct tg_dpop_request req = {NULL, 1, "POST", "https://as.example/token", NULL, NULL, NULL};
    struct tg_dpop_result res;
    size_t i;
    char *p;

    reset();
    for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        p = proof(malformed[i]);
        CHECK_ERR(check(p, "POST", "https://as.example/token", "well-formed"),
                  TG_ERR_OAUTH_INVALID_DPOP_PROOF);
        free(p);
        p = proof_with(&other, NULL, malformed[i]);
        CHECK_ERR(check(p, "POST", "https://as.example/token", "well-formed"),
                  TG_ERR_OAUTH_INVALID_DPOP_PROOF);
        free(p);
    }
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        p = proof(refused[i].claims);
        CHECK_ERR(check(p, "POST", "https://as.example/token", refused[i].why),
                  TG_ERR_OAUTH_INVALID_DPOP_PROOF);
        free(p);
    }
    /* escapes are resolved in names and values; a fractional iat is floored */
    p = proof("{\"\\u006ati\":\"e\\u0031\",\"htm\":\"P\\u004fST\","
              "\"htu\":\"https:\\/\\/as.example\\/token\",\"iat\":1562262616.75,"
              "\"content_digest\":\"sha-256=:\\u0041:\"}");
    req.proof = p;
    CHECK_OK(tg_dpop_verify(&cfg, &req, &res));
    CHECK(strcmp(res.jti, "e1") == 0);
    CHECK(res.has_content_digest && strcmp(res.content_digest, "sha-256=:A:") == 0);
    free(p);
    /* content_digest of another type is present but empty */
    p = proof("{\"jti\":\"e2\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\","
              "\"iat\":1562262616,\"content_digest\":{}}");
    req.proof = p;
    CHECK_OK(tg_dpop_verify(&cfg, &req, &res));
    CHECK(res.has_content_digest && res.content_digest[0] == '\0');
    free(p);
}

static void
test_header_count(void)
{
    char *p = proof(CLAIMS("c1", "POST", "https://as.example/token", 1562262616));
    struct tg_dpop_request req = {p, 2, "POST", "https://as.example/token", NULL, NULL, NULL};
    struct tg_dpop_result res;

    reset();
    CHECK_ERR(tg_dpop_verify(&cfg, &req, &res), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    req.n_proof_headers = 0;
    CHECK_ERR(tg_dpop_verify(&cfg, &req, &res), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    req.n_proof_headers = 1;
    req.proof = NULL;
    CHECK_ERR(tg_dpop_verify(&cfg, &req, &res), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
}

/* A proof for GET https://rs.example/items carrying `ath`. */
static char *
proof_ath(const char *jti, const char *ath)
{
    char claims[512];

    snprintf(claims, sizeof(claims),
             "{\"jti\":\"%s\",\"htm\":\"GET\",\"htu\":\"https://rs.example/items\","
             "\"iat\":1562262616,\"ath\":\"%s\"}",
             jti, ath);
    return proof(claims);
}

static void
test_resource_side_ath_jkt(void)
{
    const char *at = "eyJ.the.token";
    uint8_t md[32];
    char ath[64], jkt[64];
    struct tg_dpop_request req = {NULL, 1, "GET", "https://rs.example/items", at, NULL, NULL};
    struct tg_dpop_result res;
    char *p;

    reset();
    CHECK_OK(tg_sha256(tg_slice(at, strlen(at)), md));
    tg_thumbprint_b64(md, ath);
    tg_thumbprint_b64(key.thumbprint, jkt);
    p = proof_ath("r1", ath);
    req.proof = p;
    req.jkt = jkt;
    CHECK_OK(tg_dpop_verify(&cfg, &req, &res));
    free(p);
    /* ath of another token */
    p = proof_ath("r2", jkt);
    req.proof = p;
    CHECK_ERR(tg_dpop_verify(&cfg, &req, &res), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    CHECK(res.why && strstr(res.why, "ath"));
    free(p);
    /* no ath */
    p = proof(CLAIMS("r3", "GET", "https://rs.example/items", 1562262616));
    req.proof = p;
    CHECK_ERR(tg_dpop_verify(&cfg, &req, &res), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p);
    /* right ath, token bound to another key */
    p = proof_ath("r4", ath);
    req.proof = p;
    req.jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    CHECK_ERR(tg_dpop_verify(&cfg, &req, &res), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    CHECK(res.why && strstr(res.why, "binding"));
    free(p);
    /* The caller's own SHA-256 of the token (the resource side has it from
     * its cache key) is what ath is checked against: the right one passes,
     * another token's is refused. */
    p = proof_ath("r5", ath);
    req.proof = p;
    req.jkt = jkt;
    req.access_token_sha256 = md;
    CHECK_OK(tg_dpop_verify(&cfg, &req, &res));
    free(p);
    p = proof_ath("r6", ath);
    req.proof = p;
    md[0] ^= 1;
    CHECK_ERR(tg_dpop_verify(&cfg, &req, &res), TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    CHECK(res.why && strstr(res.why, "ath"));
    free(p);
}

static void
test_nonce(void)
{
    uint8_t nk[32];
    char nonce[TG_DPOP_NONCE_LEN + 1], claims[512];
    char *p;

    reset();
    memset(nk, 3, sizeof(nk));
    cfg.nonce_key = nk;
    p = proof(CLAIMS("n1", "POST", "https://as.example/token", 1562262616));
    CHECK_ERR(check(p, "POST", "https://as.example/token", "required"),
              TG_ERR_OAUTH_USE_DPOP_NONCE);
    free(p);
    CHECK_OK(tg_dpop_nonce_issue(&cfg, nonce));
    snprintf(claims, sizeof(claims),
             "{\"jti\":\"n2\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\","
             "\"iat\":1562262616,\"nonce\":\"%s\"}",
             nonce);
    p = proof(claims);
    CHECK_OK(check(p, "POST", "https://as.example/token", NULL));
    free(p);
    /* The nonce expires; a forged one is unknown. */
    now += 301;
    snprintf(claims, sizeof(claims),
             "{\"jti\":\"n3\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\","
             "\"iat\":1562262917,\"nonce\":\"%s\"}",
             nonce);
    p = proof(claims);
    CHECK_ERR(check(p, "POST", "https://as.example/token", "stale"), TG_ERR_OAUTH_USE_DPOP_NONCE);
    free(p);
    now -= 301;
    nonce[5] = nonce[5] == 'A' ? 'B' : 'A';
    snprintf(claims, sizeof(claims),
             "{\"jti\":\"n4\",\"htm\":\"POST\",\"htu\":\"https://as.example/token\","
             "\"iat\":1562262616,\"nonce\":\"%s\"}",
             nonce);
    p = proof(claims);
    CHECK_ERR(check(p, "POST", "https://as.example/token", NULL), TG_ERR_OAUTH_USE_DPOP_NONCE);
    free(p);
}

static void
test_cache_full_refuses(void)
{
    char *p1 = proof(CLAIMS("f1", "POST", "https://as.example/token", 1562262616));
    char *p2 = proof(CLAIMS("f2", "POST", "https://as.example/token", 1562262616));

    reset();
    cap_slots = 1;
    CHECK_OK(check(p1, "POST", "https://as.example/token", NULL));
    /* Full: refuse rather than forget f1. */
    CHECK_ERR(check(p2, "POST", "https://as.example/token", NULL), TG_ERR_CACHE_FULL);
    CHECK_ERR(check(p1, "POST", "https://as.example/token", "used before"),
              TG_ERR_OAUTH_INVALID_DPOP_PROOF);
    free(p1);
    free(p2);
}

int
main(void)
{
    key = t_gen(TG_KEY_EC_P256);
    other = t_gen(TG_KEY_EC_P256);
    for (int pass = 0; pass < 2; pass++) {
    if (pass == 1)
        hcache = tg_jws_header_cache_new(16);
    RUN(test_rfc9449_example);
    RUN(test_valid_and_replay);
    RUN(test_htm_htu);
    RUN(test_htu_normalize);
    RUN(test_iat_window);
    RUN(test_missing_claims);
    RUN(test_header_attacks);
    RUN(test_claims_set);
    RUN(test_header_count);
    RUN(test_resource_side_ath_jkt);
    RUN(test_nonce);
    RUN(test_cache_full_refuses);
    }
    tg_jws_header_cache_free(hcache);
    tg_jwk_reset(&key);
    tg_jwk_reset(&other);
    return t_report("verify/dpop");
}
