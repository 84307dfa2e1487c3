/* jose_bench: what Tollgate's JWS layer costs over calling OpenSSL directly.
 *
 * For each alg (ES256, ES384, EdDSA, RS256, PS256) one key is generated and
 * three operations are timed twice, once the way a developer would write
 * them against OpenSSL (raw) and once through Tollgate:
 *
 *   verify_cached_jwk  raw: EVP_DigestVerify of the DPoP proof's signing input
 *                      (ECDSA signature already in DER);
 *                      tollgate: tg_jws_parse_cached + tg_jws_header_jwk with
 *                      warm header and key caches + tg_jws_verify.
 *   verify_kid         raw: the same for an access token;
 *                      tollgate: tg_jws_parse + tg_jws_verify with a key
 *                      parsed beforehand (looked up by kid).
 *   sign               raw: EVP_DigestSign of the access token's signing input;
 *                      tollgate: tg_jws_sign producing the compact token.
 *
 * ratio = raw time / Tollgate time per operation: 1.00 is as fast as raw,
 * 0.90 is 10% slower. Raw and Tollgate run in alternating slices and each
 * side's median slice is reported, so drift of the machine hits both. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jose/b64url.h"
#include "jose/jwk.h"
#include "jose/jwk_cache.h"
#include "jose/jws.h"

#define ROUNDS 5
#define NOW 1700000000
#define DER_MAX (2 + 2 * (3 + 48))

struct bcase {
    const char *name;
    enum tg_jws_alg alg;
    const char *kty;            /* for EVP_PKEY_Q_keygen */
    const char *crv;            /* curve, or NULL */
    const EVP_MD *(*md)(void);  /* NULL for Ed25519 */
    int pss;

    /* raw OpenSSL */
    EVP_PKEY *priv, *pub;       /* pub: a public-only copy, as a verifier holds */
    uint8_t sig_dpop[TG_SIG_MAX_LEN], sig_kid[TG_SIG_MAX_LEN];
    size_t sig_dpop_len, sig_kid_len;

    /* Tollgate */
    struct tg_jwk signer;       /* private */
    struct tg_jwk verifier;     /* public, parsed once from its JWK */
    struct tg_jwk_cache *cache;
    struct tg_jws_header_cache *hcache; /* as the DPoP and token verifiers use it */
    json_t *hdr_kid;            /* {"typ":"at+jwt","kid":...} */
    char *payload_at;           /* access token claims */
    struct tg_buf tok_dpop, tok_kid, out;
    struct tg_slice si_dpop, si_kid;

    /* results, seconds per op */
    double raw[3], tg[3];
};

enum { OP_VERIFY_CACHED_JWK, OP_VERIFY_KID, OP_SIGN, OP__COUNT };
static const char *const op_names[OP__COUNT] = {"verify_cached_jwk", "verify_kid", "sign"};

typedef int (*op_fn)(struct bcase *c);

static const EVP_MD *
md_sha256(void)
{
    return EVP_sha256();
}

static const EVP_MD *
md_sha384(void)
{
    return EVP_sha384();
}

static void
die(const char *what, const struct bcase *c)
{
    fprintf(stderr, "jose_bench: %s%s%s failed [%s]\n", c ? c->name : "", c ? ": " : "", what,
            tg_err_detail());
    ERR_print_errors_fp(stderr);
    exit(1);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the raw OpenSSL side, written the straightforward way ---- */

static int
raw_pss(EVP_PKEY_CTX *pctx)
{
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
}

static int
raw_verify(const struct bcase *c, struct tg_slice data, const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        goto out;
    if (EVP_DigestVerifyInit(mctx, &pctx, c->md ? c->md() : NULL, NULL, c->pub) != 1)
        goto out;
    if (c->pss && !raw_pss(pctx))
        goto out;
    ok = EVP_DigestVerify(mctx, sig, sig_len, data.p, data.len) == 1;
out:
    EVP_MD_CTX_free(mctx);
    return ok;
}

static int
raw_sign(const struct bcase *c, struct tg_slice data, uint8_t *sig, size_t *sig_len)
{
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        goto out;
    if (EVP_DigestSignInit(mctx, &pctx, c->md ? c->md() : NULL, NULL, c->priv) != 1)
        goto out;
    if (c->pss && !raw_pss(pctx))
        goto out;
    ok = EVP_DigestSign(mctx, sig, sig_len, data.p, data.len) == 1;
out:
    EVP_MD_CTX_free(mctx);
    return ok;
}

static int
op_raw_verify_dpop(struct bcase *c)
{
    return raw_verify(c, c->si_dpop, c->sig_dpop, c->sig_dpop_len);
}

static int
op_raw_verify_kid(struct bcase *c)
{
    return raw_verify(c, c->si_kid, c->sig_kid, c->sig_kid_len);
}

static int
op_raw_sign(struct bcase *c)
{
    uint8_t sig[TG_SIG_MAX_LEN];
    size_t len = sizeof(sig);

    return raw_sign(c, c->si_kid, sig, &len);
}

/* ---- the Tollgate side ---- */

/* The DPoP case: the key travels in the header. Warm caches, as in the
 * server: the protected-header cache (the same header on every proof) and
 * the key cache behind it. */
static int
op_tg_verify_cached_jwk(struct bcase *c)
{
    struct tg_jws jws;
    struct tg_jwk jwk;
    int ok = 0;

    if (tg_jws_parse_cached(tg_slice(c->tok_dpop.p, c->tok_dpop.len), NULL, c->hcache, &jws) !=
        TG_OK)
        return 0;
    if (jws.jwk != NULL && tg_jws_header_jwk(&jws, c->cache, &jwk) == TG_OK) {
        ok = tg_jws_verify(&jws, &jwk) == TG_OK;
        tg_jwk_reset(&jwk);
    }
    tg_jws_reset(&jws);
    return ok;
}

/* The access-token case: the key was looked up by kid and parsed long ago. */
static int
op_tg_verify_kid(struct bcase *c)
{
    struct tg_jws jws;
    int ok;

    if (tg_jws_parse(tg_slice(c->tok_kid.p, c->tok_kid.len), NULL, &jws) != TG_OK)
        return 0;
    ok = tg_jws_verify(&jws, &c->verifier) == TG_OK;
    tg_jws_reset(&jws);
    return ok;
}

static int
op_tg_sign(struct bcase *c)
{
    c->out.len = 0;
    return tg_jws_sign(&c->signer, c->alg, c->hdr_kid,
                       tg_slice(c->payload_at, strlen(c->payload_at)), &c->out) == TG_OK;
}

/* ---- setup ---- */

/* The Tollgate key is the same key, handed over as PEM (PKCS#8). */
static struct tg_key *
tg_key_of(EVP_PKEY *pkey)
{
    BIO *bio = NULL;
    char *pem;
    long len;
    struct tg_key *key = NULL;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    len = BIO_get_mem_data(bio, &pem);
    if (tg_key_from_pem(pem, (size_t)len, &key) != TG_OK)
        key = NULL;
out:
    BIO_free(bio);
    return key;
}

static EVP_PKEY *
public_copy(EVP_PKEY *pkey)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    EVP_PKEY *pub = NULL;
    int len;

    len = i2d_PUBKEY(pkey, &der);
    if (len <= 0)
        return NULL;
    p = der;
    pub = d2i_PUBKEY(NULL, &p, len);
    OPENSSL_free(der);
    return pub;
}

/* Raw verification is handed the signature OpenSSL wants: DER for ECDSA, so
 * the raw side does not pay the R||S conversion. */
static void
raw_sig_of(const struct bcase *c, const struct tg_buf *tok, uint8_t *out, size_t *out_len)
{
    const uint8_t *dot = tok->p + tok->len;
    uint8_t rs[TG_SIG_MAX_LEN], *der = NULL;
    size_t rs_len = 0;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    int n;

    while (dot > tok->p && dot[-1] != '.')
        dot--;
    if (tg_b64url_decode_to(tg_slice(dot, (size_t)(tok->p + tok->len - dot)), rs, sizeof(rs),
                            &rs_len) != TG_OK)
        die("decode signature", c);
    if (c->alg != TG_JWS_ES256 && c->alg != TG_JWS_ES384) {
        memcpy(out, rs, rs_len);
        *out_len = rs_len;
        return;
    }
    es = ECDSA_SIG_new();
    r = BN_bin2bn(rs, (int)(rs_len / 2), NULL);
    s = BN_bin2bn(rs + rs_len / 2, (int)(rs_len / 2), NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        die("ECDSA_SIG", c);
    n = i2d_ECDSA_SIG(es, &der);
    if (n <= 0 || n > DER_MAX)
        die("i2d_ECDSA_SIG", c);
    memcpy(out, der, (size_t)n);
    *out_len = (size_t)n;
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
}

static struct tg_slice
signing_input(const struct tg_buf *tok)
{
    const uint8_t *dot = tok->p + tok->len;

    while (dot > tok->p && dot[-1] != '.')
        dot--;
    return tg_slice(tok->p, (size_t)(dot - 1 - tok->p));
}

static void
setup(struct bcase *c)
{
    struct tg_key *key = NULL;
    struct tg_jwk pubjwk;
    json_t *pub = NULL, *hdr_dpop = NULL, *verifier_json = NULL, *claims;
    char *dpop_claims = NULL, *vtext = NULL;

    if (c->crv != NULL)
        c->priv = EVP_PKEY_Q_keygen(NULL, NULL, c->kty, c->crv);
    else if (strcmp(c->kty, "RSA") == 0)
        c->priv = EVP_PKEY_Q_keygen(NULL, NULL, c->kty, (size_t)2048);
    else
        c->priv = EVP_PKEY_Q_keygen(NULL, NULL, c->kty);
    if (c->priv == NULL || (c->pub = public_copy(c->priv)) == NULL)
        die("keygen", c);

    key = tg_key_of(c->priv);
    if (key == NULL || tg_jwk_from_key(key, c->alg, NULL, &c->signer) != TG_OK)
        die("tollgate key", c);

    /* The header jwk of a DPoP proof: kty and key members only. */
    if (tg_jwk_from_key(key, TG_JWS_ALG_UNSET, NULL, &pubjwk) != TG_OK ||
        tg_jwk_public_json(&pubjwk, &pub) != TG_OK)
        die("public JWK", c);
    tg_jwk_reset(&pubjwk);
    tg_key_free(key);

    /* The verifier's copy: a JWK from a JWKS document, with kid and alg. */
    verifier_json = json_deep_copy(pub);
    if (verifier_json == NULL ||
        json_object_set_new(verifier_json, "kid", json_string("bench-key-1")) != 0 ||
        json_object_set_new(verifier_json, "alg", json_string(c->name)) != 0 ||
        json_object_set_new(verifier_json, "use", json_string("sig")) != 0 ||
        (vtext = json_dumps(verifier_json, JSON_COMPACT)) == NULL ||
        tg_jwk_parse(vtext, strlen(vtext), TG_JWK_PUBLIC_ONLY, NULL, &c->verifier) != TG_OK)
        die("verifier JWK", c);

    hdr_dpop = json_pack("{s:s,s:O}", "typ", "dpop+jwt", "jwk", pub);
    c->hdr_kid = json_pack("{s:s,s:s}", "typ", "at+jwt", "kid", "bench-key-1");
    claims = json_pack("{s:s,s:s,s:s,s:I}", "jti", "e1j3V_bKic8-LAEB", "htm", "POST", "htu",
                       "https://rs.example.com/mcp/tools/call", "iat", (json_int_t)NOW);
    dpop_claims = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:{s:s}}", "iss", "https://as.example.com",
                       "sub", "agent:research-bot", "aud", "https://rs.example.com", "iat",
                       (json_int_t)NOW, "exp", (json_int_t)NOW + 300, "jti", "at-0001", "scope",
                       "tools:call", "cnf", "jkt", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    c->payload_at = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    if (hdr_dpop == NULL || c->hdr_kid == NULL || dpop_claims == NULL || c->payload_at == NULL)
        die("json", c);

    tg_buf_init(&c->tok_dpop, TG_JWS_MAX_LEN);
    tg_buf_init(&c->tok_kid, TG_JWS_MAX_LEN);
    tg_buf_init(&c->out, TG_JWS_MAX_LEN);
    if (tg_jws_sign(&c->signer, c->alg, hdr_dpop, tg_slice(dpop_claims, strlen(dpop_claims)),
                    &c->tok_dpop) != TG_OK ||
        tg_jws_sign(&c->signer, c->alg, c->hdr_kid,
                    tg_slice(c->payload_at, strlen(c->payload_at)), &c->tok_kid) != TG_OK)
        die("tg_jws_sign", c);
    c->si_dpop = signing_input(&c->tok_dpop);
    c->si_kid = signing_input(&c->tok_kid);
    raw_sig_of(c, &c->tok_dpop, c->sig_dpop, &c->sig_dpop_len);
    raw_sig_of(c, &c->tok_kid, c->sig_kid, &c->sig_kid_len);

    c->cache = tg_jwk_cache_new(1024);
    c->hcache = tg_jws_header_cache_new(1024);
    if (c->cache == NULL || c->hcache == NULL)
        die("cache", c);
    /* Every path must succeed before it is timed; this also warms the cache. */
    if (!op_raw_verify_dpop(c) || !op_raw_verify_kid(c) || !op_raw_sign(c))
        die("raw OpenSSL check", c);
    if (!op_tg_verify_cached_jwk(c) || !op_tg_verify_kid(c) || !op_tg_sign(c))
        die("Tollgate check", c);

    free(vtext);
    free(dpop_claims);
    json_decref(verifier_json);
    json_decref(hdr_dpop);
    json_decref(pub);
}

static void
teardown(struct bcase *c)
{
    EVP_PKEY_free(c->priv);
    EVP_PKEY_free(c->pub);
    tg_jwk_reset(&c->signer);
    tg_jwk_reset(&c->verifier);
    tg_jwk_cache_free(c->cache);
    tg_jws_header_cache_free(c->hcache);
    json_decref(c->hdr_kid);
    free(c->payload_at);
    tg_buf_reset(&c->tok_dpop);
    tg_buf_reset(&c->tok_kid);
    tg_buf_reset(&c->out);
}

/* ---- timing ---- */

/* Run `op` for about `secs`; seconds per operation. */
static double
run_for(op_fn op, struct bcase *c, double secs)
{
    uint64_t n = 0, i;
    double t0 = now_s(), t;

    for (;;) {
        for (i = 0; i < 8; i++)
            if (!op(c))
                die("operation", c);
        n += 8;
        t = now_s() - t0;
        if (t >= secs)
            return t / (double)n;
    }
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
measure(op_fn raw, op_fn tg, struct bcase *c, double secs, double *raw_s, double *tg_s)
{
    double r[ROUNDS], t[ROUNDS], warm = secs / 10 > 0.02 ? secs / 10 : 0.02;
    int i;

    (void)run_for(raw, c, warm);
    (void)run_for(tg, c, warm);
    for (i = 0; i < ROUNDS; i++) {
        r[i] = run_for(raw, c, secs / ROUNDS);
        t[i] = run_for(tg, c, secs / ROUNDS);
    }
    *raw_s = median(r, ROUNDS);
    *tg_s = median(t, ROUNDS);
}

int
main(int argc, char **argv)
{
    static struct bcase cases[] = {
        {.name = "ES256", .alg = TG_JWS_ES256, .kty = "EC", .crv = "P-256", .md = md_sha256},
        {.name = "ES384", .alg = TG_JWS_ES384, .kty = "EC", .crv = "P-384", .md = md_sha384},
        {.name = "EdDSA", .alg = TG_JWS_EDDSA, .kty = "ED25519"},
        {.name = "RS256", .alg = TG_JWS_RS256, .kty = "RSA", .md = md_sha256},
        {.name = "PS256", .alg = TG_JWS_PS256, .kty = "RSA", .md = md_sha256, .pss = 1},
    };
    static const op_fn raw_ops[OP__COUNT] = {op_raw_verify_dpop, op_raw_verify_kid, op_raw_sign};
    static const op_fn tg_ops[OP__COUNT] = {op_tg_verify_cached_jwk, op_tg_verify_kid, op_tg_sign};
    const size_t ncases = sizeof(cases) / sizeof(cases[0]);
    struct tg_jwk_cache_stats st;
    double secs = 1.0;
    char *end;
    size_t i;
    const char *only = NULL;
    int op;

    if (argc > 3 || (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
        fprintf(stderr, "usage: jose_bench [seconds-per-case [alg]]   (default 1.0, all algs)\n");
        return 2;
    }
    if (argc == 3)
        only = argv[2]; /* one alg, for profiling */
    if (argc >= 2) {
        errno = 0;
        secs = strtod(argv[1], &end);
        if (errno != 0 || end == argv[1] || *end != '\0' || !(secs > 0 && secs <= 3600)) {
            fprintf(stderr, "jose_bench: seconds-per-case must be a number in (0, 3600]\n");
            return 2;
        }
    }

    for (i = 0; only != NULL && i < ncases && strcmp(only, cases[i].name) != 0; i++)
        ;
    if (i == ncases) {
        fprintf(stderr, "jose_bench: no alg named %s (ES256 ES384 EdDSA RS256 PS256)\n", only);
        return 2;
    }

    printf("jose_bench: %s; %.2f s per case in %d alternating slices, median slice;\n"
           "ratio = raw time / Tollgate time (1.00 = as fast as raw OpenSSL)\n\n",
           OpenSSL_version(OPENSSL_VERSION), secs, ROUNDS);
    /* "µ" is two bytes in UTF-8: one more column of width where it appears. */
    printf("%-6s %-18s %13s %11s %13s %11s %7s\n", "alg", "operation", "raw µs/op", "raw op/s",
           "tg µs/op", "tg op/s", "ratio");
    for (i = 0; i < ncases; i++) {
        if (only != NULL && strcmp(only, cases[i].name) != 0)
            continue;
        setup(&cases[i]);
        for (op = 0; op < OP__COUNT; op++) {
            measure(raw_ops[op], tg_ops[op], &cases[i], secs, &cases[i].raw[op],
                    &cases[i].tg[op]);
            printf("%-6s %-18s %12.2f %11.0f %12.2f %11.0f %7.3f\n", cases[i].name, op_names[op],
                   cases[i].raw[op] * 1e6, 1 / cases[i].raw[op], cases[i].tg[op] * 1e6,
                   1 / cases[i].tg[op], cases[i].raw[op] / cases[i].tg[op]);
            fflush(stdout);
        }
        tg_jwk_cache_stats(cases[i].cache, &st);
        if (st.misses != 1)
            fprintf(stderr, "jose_bench: %s: key cache not warm (%llu misses)\n", cases[i].name,
                    (unsigned long long)st.misses);
    }
    printf("\nratios:");
    for (i = 0; i < ncases; i++)
        for (op = 0; op < OP__COUNT && cases[i].tg[op] > 0; op++)
            printf(" %s_%s=%.2f", op_names[op], cases[i].name,
                   cases[i].raw[op] / cases[i].tg[op]);
    printf("\n");
    for (i = 0; i < ncases; i++)
        teardown(&cases[i]);
    return 0;
}
