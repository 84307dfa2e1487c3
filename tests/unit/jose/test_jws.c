#include "test.h"

#include "keys.h"

static struct tg_jwk k256, k384, ked, krsa;

static enum tg_err
parse_verify(const char *tok, const struct tg_jwk *key, const struct tg_jws_opts *opts)
{
    struct tg_jws jws;
    enum tg_err rv;

    rv = tg_jws_parse(tg_slice(tok, strlen(tok)), opts, &jws);
    if (rv == TG_OK)
        rv = tg_jws_verify(&jws, key);
    tg_jws_reset(&jws);
    return rv;
}

static enum tg_err
parse_only(const char *tok)
{
    struct tg_jws jws;
    enum tg_err rv = tg_jws_parse(tg_slice(tok, strlen(tok)), NULL, &jws);

    tg_jws_reset(&jws);
    return rv;
}

static void
sign_verify_alg(const struct tg_jwk *key, enum tg_jws_alg alg)
{
    struct tg_buf out;
    struct tg_jws jws;
    json_t *extra = json_pack("{s:s,s:s}", "typ", "JWT", "kid", "k1");
    const char *tok;

    tg_buf_init(&out, 1 << 16);
    CHECK_OK(tg_jws_sign(key, alg, extra, TG_SLICE_STR("{\"hello\":\"world\"}"), &out));
    CHECK_OK(tg_buf_cstr(&out, &tok));
    CHECK_OK(tg_jws_parse(tg_slice(tok, strlen(tok)), NULL, &jws));
    CHECK(jws.alg == alg);
    CHECK(jws.typ != NULL && strcmp(jws.typ, "JWT") == 0);
    CHECK(jws.kid != NULL && strcmp(jws.kid, "k1") == 0);
    CHECK(jws.payload_len == 17 && memcmp(jws.payload, "{\"hello\":\"world\"}", 17) == 0);
    CHECK_OK(tg_jws_verify(&jws, key));
    tg_jws_reset(&jws);
    /* Tampered payload. */
    {
        char *bad = strdup(tok);
        char *dot = strchr(bad, '.');

        dot[1] = dot[1] == 'e' ? 'f' : 'e';
        CHECK_ERR(parse_verify(bad, key, NULL), TG_ERR_JWS_SIG_INVALID);
        free(bad);
    }
    json_decref(extra);
    tg_buf_reset(&out);
}

static void
test_sign_verify_all_algs(void)
{
    sign_verify_alg(&k256, TG_JWS_ES256);
    sign_verify_alg(&k384, TG_JWS_ES384);
    sign_verify_alg(&ked, TG_JWS_EDDSA);
    sign_verify_alg(&ked, TG_JWS_ED25519); /* RFC 9864 name */
    sign_verify_alg(&krsa, TG_JWS_RS256);
    sign_verify_alg(&krsa, TG_JWS_PS256);
}

static void
test_ecdsa_many_signatures(void)
{
    /* Covers R or S with leading zero octets (about 1 in 128 signatures),
     * which the R||S <-> DER conversion must handle. */
    uint8_t sig[96];
    size_t len;
    int i, ok = 1;

    for (i = 0; i < 600; i++) {
        char msg[16];

        snprintf(msg, sizeof(msg), "m%d", i);
        if (tg_sign(k256.key, TG_SIG_ECDSA_P256_SHA256, tg_slice(msg, strlen(msg)), sig,
                    sizeof(sig), &len) != TG_OK ||
            len != 64 ||
            tg_verify(k256.key, TG_SIG_ECDSA_P256_SHA256, tg_slice(msg, strlen(msg)),
                      tg_slice(sig, len)) != TG_OK)
            ok = 0;
    }
    CHECK(ok);
}

static void
test_alg_none_and_symmetric(void)
{
    char *t;

    t = t_token(&k256, 0, "{\"alg\":\"none\"}", "{}", 0);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_ALG_NONE);
    free(t);
    /* alg none with a signature attached is still none. */
    t = t_token(&k256, 0, "{\"alg\":\"none\"}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_ALG_NONE);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"None\"}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_ALG_UNKNOWN);
    free(t);
    /* HS256 with a public key: the key-confusion attack, refused by name. */
    t = t_token(&krsa, 0, "{\"alg\":\"HS256\"}", "{}", 32);
    CHECK_ERR(parse_verify(t, &krsa, NULL), TG_ERR_JWS_ALG_SYMMETRIC);
    free(t);
    t = t_token(&krsa, 0, "{\"alg\":\"HS512\"}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_ALG_SYMMETRIC);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES512\"}", "{}", 132);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_ALG_UNKNOWN);
    free(t);
}

static void
test_alg_key_mismatch(void)
{
    struct tg_jws_opts only_es256 = {TG_JWS_ALG_BIT(TG_JWS_ES256), NULL, 0};
    struct tg_jwk restricted;
    char *t;

    t = t_token(&k256, TG_SIG_ECDSA_P256_SHA256, "{\"alg\":\"ES256\"}", "{}", 0);
    CHECK_OK(parse_verify(t, &k256, NULL));
    CHECK_OK(parse_verify(t, &k256, &only_es256));
    CHECK_ERR(parse_verify(t, &k384, NULL), TG_ERR_JWS_ALG_KEY_MISMATCH); /* wrong curve */
    CHECK_ERR(parse_verify(t, &krsa, NULL), TG_ERR_JWS_ALG_KEY_MISMATCH);
    CHECK_ERR(parse_verify(t, &ked, NULL), TG_ERR_JWS_ALG_KEY_MISMATCH);
    free(t);
    /* A P-256 signature relabelled ES384. */
    t = t_token(&k256, TG_SIG_ECDSA_P256_SHA256, "{\"alg\":\"ES384\"}", "{}", 0);
    CHECK_ERR(parse_verify(t, &k256, NULL), TG_ERR_JWS_ALG_KEY_MISMATCH);
    CHECK_ERR(parse_verify(t, &k256, &only_es256), TG_ERR_JWS_ALG_NOT_ALLOWED);
    free(t);
    /* PSS signature labelled RS256: right key type, wrong padding. */
    t = t_token(&krsa, TG_SIG_RSA_PSS_SHA256, "{\"alg\":\"RS256\"}", "{}", 0);
    CHECK_ERR(parse_verify(t, &krsa, NULL), TG_ERR_JWS_SIG_INVALID);
    free(t);
    /* A key whose JWK names RS256 is not used for PS256 (RFC 7517 §4.4). */
    CHECK_OK(tg_jwk_from_key(krsa.key, TG_JWS_RS256, NULL, &restricted));
    t = t_token(&krsa, TG_SIG_RSA_PSS_SHA256, "{\"alg\":\"PS256\"}", "{}", 0);
    CHECK_OK(parse_verify(t, &krsa, NULL));
    CHECK_ERR(parse_verify(t, &restricted, NULL), TG_ERR_JWS_ALG_KEY_MISMATCH);
    free(t);
    CHECK_ERR(tg_jwk_from_key(krsa.key, TG_JWS_ES256, NULL, &restricted),
              TG_ERR_JWS_ALG_KEY_MISMATCH);
    tg_jwk_reset(&restricted);
}

static void
test_signature_length(void)
{
    char *t;

    /* ECDSA: exactly 64 / 96 octets (RFC 7518 §3.4). */
    t = t_token(&k256, 0, "{\"alg\":\"ES256\"}", "{}", 63);
    CHECK_ERR(parse_verify(t, &k256, NULL), TG_ERR_JWS_SIG_LENGTH);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\"}", "{}", 65);
    CHECK_ERR(parse_verify(t, &k256, NULL), TG_ERR_JWS_SIG_LENGTH);
    free(t);
    /* A DER signature (what OpenSSL emits) is not a JOSE signature. */
    t = t_token(&k256, 0, "{\"alg\":\"ES256\"}", "{}", 72);
    CHECK_ERR(parse_verify(t, &k256, NULL), TG_ERR_JWS_SIG_LENGTH);
    free(t);
    t = t_token(&k384, 0, "{\"alg\":\"ES384\"}", "{}", 64);
    CHECK_ERR(parse_verify(t, &k384, NULL), TG_ERR_JWS_SIG_LENGTH);
    free(t);
    t = t_token(&ked, 0, "{\"alg\":\"EdDSA\"}", "{}", 63);
    CHECK_ERR(parse_verify(t, &ked, NULL), TG_ERR_JWS_SIG_LENGTH);
    free(t);
    t = t_token(&krsa, 0, "{\"alg\":\"RS256\"}", "{}", 255);
    CHECK_ERR(parse_verify(t, &krsa, NULL), TG_ERR_JWS_SIG_LENGTH);
    free(t);
    t = t_token(&krsa, 0, "{\"alg\":\"RS256\"}", "{}", 257);
    CHECK_ERR(parse_verify(t, &krsa, NULL), TG_ERR_JWS_SIG_LENGTH);
    free(t);
    /* Right length, wrong bytes. */
    t = t_token(&k256, 0, "{\"alg\":\"ES256\"}", "{}", 64);
    CHECK_ERR(parse_verify(t, &k256, NULL), TG_ERR_JWS_SIG_INVALID);
    free(t);
    /* Empty signature. */
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9.e30."), TG_ERR_JWS_SIG_LENGTH);
}

static void
test_zero_signature(void)
{
    /* r = s = 0 must never verify. */
    struct tg_buf b;
    uint8_t zero[64] = {0};
    const char *s;

    tg_buf_init(&b, 4096);
    CHECK_OK(tg_buf_append_str(&b, "eyJhbGciOiJFUzI1NiJ9.e30."));
    CHECK_OK(tg_b64url_encode(tg_slice(zero, 64), &b));
    CHECK_OK(tg_buf_cstr(&b, &s));
    CHECK_ERR(parse_verify(s, &k256, NULL), TG_ERR_JWS_SIG_INVALID);
    tg_buf_reset(&b);
}

static void
test_structure(void)
{
    CHECK_ERR(parse_only(""), TG_ERR_JWS_MALFORMED);
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9"), TG_ERR_JWS_MALFORMED);
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9.e30"), TG_ERR_JWS_MALFORMED);
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9.e30.AAAA.AAAA"), TG_ERR_JWS_MALFORMED);
    CHECK_ERR(parse_only("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), TG_ERR_JWS_MALFORMED); /* JWE */
    CHECK_ERR(parse_only(".e30.AAAA"), TG_ERR_JWS_MALFORMED);
    /* Bad base64url in each part. */
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9==.e30.AAAA"), TG_ERR_B64_CHAR);
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9.e3+.AAAA"), TG_ERR_B64_CHAR);
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9.e30.AA/A"), TG_ERR_B64_CHAR);
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9.e30.AAAAA"), TG_ERR_B64_LENGTH);
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9.e30.AAB"), TG_ERR_B64_TRAILING_BITS);
    CHECK_ERR(parse_only("eyJhbGciOiJFUzI1NiJ9.e31.AAAA"), TG_ERR_B64_TRAILING_BITS);
}

static void
test_header(void)
{
    char *t;

    t = t_token(&k256, 0, "{\"alg\":\"ES256\"", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JSON_MALFORMED);
    free(t);
    t = t_token(&k256, 0, "[\"ES256\"]", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JSON_NOT_OBJECT);
    free(t);
    /* Two "alg" members: two readers could disagree; refused. */
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"alg\":\"none\"}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JSON_MALFORMED);
    free(t);
    t = t_token(&k256, 0, "{\"typ\":\"JWT\"}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_HEADER);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":[\"ES256\"]}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_HEADER);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"typ\":1}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_HEADER);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"jwk\":\"x\"}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_HEADER);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"b64\":false,\"crit\":[\"b64\"]}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_CRIT);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"b64\":false}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_HEADER);
    free(t);
}

static void
test_crit(void)
{
    static const char *const ok_exp[] = {"exp", NULL};
    struct tg_jws_opts opts = {0, ok_exp, 0};
    char *t;

    /* RFC 7515 §4.1.11: an extension we do not understand is fatal. */
    t = t_token(&k256, TG_SIG_ECDSA_P256_SHA256, "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}",
                "{}", 0);
    CHECK_ERR(parse_verify(t, &k256, NULL), TG_ERR_JWS_CRIT);
    CHECK_OK(parse_verify(t, &k256, &opts));
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"crit\":[]}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_CRIT);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"crit\":\"exp\",\"exp\":1}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_CRIT);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"crit\":[\"alg\"]}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_CRIT);
    free(t);
    /* Named in crit but absent from the header. */
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}", "{}", 64);
    CHECK_ERR(tg_jws_parse(tg_slice(t, strlen(t)), &opts, &(struct tg_jws){0}), TG_ERR_JWS_CRIT);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"crit\":[\"exp\",\"exp\"],\"exp\":1}", "{}", 64);
    CHECK_ERR(tg_jws_parse(tg_slice(t, strlen(t)), &opts, &(struct tg_jws){0}), TG_ERR_JWS_CRIT);
    free(t);
    t = t_token(&k256, 0, "{\"alg\":\"ES256\",\"crit\":[7]}", "{}", 64);
    CHECK_ERR(parse_only(t), TG_ERR_JWS_CRIT);
    free(t);
}

static void
test_size_limits(void)
{
    struct tg_jws_opts small = {0, NULL, 100};
    char *big = malloc(TG_JWS_MAX_LEN + 2);
    char *t;

    memset(big, 'A', TG_JWS_MAX_LEN + 1);
    big[TG_JWS_MAX_LEN + 1] = '\0';
    CHECK_ERR(parse_only(big), TG_ERR_TOO_LARGE);
    free(big);
    t = t_token(&k256, TG_SIG_ECDSA_P256_SHA256, "{\"alg\":\"ES256\"}", "{\"a\":\"bbbbbbbbbbbb\"}",
                0);
    CHECK_ERR(tg_jws_parse(tg_slice(t, strlen(t)), &small, &(struct tg_jws){0}),
              TG_ERR_TOO_LARGE);
    free(t);
}

static void
test_sign_refusals(void)
{
    struct tg_buf out;
    json_t *bad = json_pack("{s:s}", "alg", "none");
    struct tg_jwk pub;
    char *pj = t_pub_json(&k256);

    tg_buf_init(&out, 4096);
    CHECK_ERR(tg_jws_sign(&k256, TG_JWS_RS256, NULL, TG_SLICE_STR("x"), &out),
              TG_ERR_JWS_ALG_KEY_MISMATCH);
    CHECK_ERR(tg_jws_sign(&k256, TG_JWS_ES256, bad, TG_SLICE_STR("x"), &out), TG_ERR_INVALID_ARG);
    CHECK_OK(tg_jwk_parse(pj, strlen(pj), 0, NULL, &pub));
    CHECK_ERR(tg_jws_sign(&pub, TG_JWS_ES256, NULL, TG_SLICE_STR("x"), &out),
              TG_ERR_JWK_NOT_PRIVATE);
    CHECK(out.len == 0);
    /* A prepared header: signs and verifies; a bad segment is refused. */
    {
        struct tg_jws jws;
        const char *tok;

        CHECK_OK(tg_jws_sign_prepared(&k256, TG_JWS_ES256, TG_SLICE_STR("eyJhbGciOiJFUzI1NiJ9"),
                                      TG_SLICE_STR("{}"), &out));
        CHECK_OK(tg_buf_cstr(&out, &tok));
        CHECK_OK(tg_jws_parse(tg_slice(tok, strlen(tok)), NULL, &jws));
        CHECK_OK(tg_jws_verify(&jws, &k256));
        tg_jws_reset(&jws);
        out.len = 0;
        CHECK_ERR(tg_jws_sign_prepared(&k256, TG_JWS_ES256, TG_SLICE_STR("eyJ.bad"),
                                       TG_SLICE_STR("{}"), &out),
                  TG_ERR_INVALID_ARG);
        CHECK_ERR(tg_jws_sign_prepared(&k256, TG_JWS_RS256, TG_SLICE_STR("eyJhbGciOiJFUzI1NiJ9"),
                                       TG_SLICE_STR("{}"), &out),
                  TG_ERR_JWS_ALG_KEY_MISMATCH);
        CHECK(out.len == 0);
    }
    tg_jwk_reset(&pub);
    free(pj);
    json_decref(bad);
    tg_buf_reset(&out);
}


static void
test_header_cache(void)
{
    struct tg_jws_header_cache *hc = tg_jws_header_cache_new(2);
    struct tg_jws_opts only_ec = {TG_JWS_ALG_BIT(TG_JWS_ES256), NULL, 0};
    static const char *const ok_exp[] = {"exp", NULL};
    struct tg_jws_opts crit_ok = {0, ok_exp, 0};
    struct tg_jws a, b;
    struct tg_jwk ja, jb;
    char hdr[1024], *pub = t_pub_json(&k256), *t1, *t2, *bad, *crit;
    int i;

    CHECK(hc != NULL && tg_jws_header_cache_new(0) == NULL);
    snprintf(hdr, sizeof(hdr), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}", pub);
    t1 = t_token(&k256, TG_SIG_ECDSA_P256_SHA256, hdr, "{\"n\":1}", 0);
    t2 = t_token(&k256, TG_SIG_ECDSA_P256_SHA256, hdr, "{\"n\":2}", 0);
    /* miss, then hit: the same header, the same key, both verify */
    CHECK_OK(tg_jws_parse_cached(tg_slice(t1, strlen(t1)), NULL, hc, &a));
    CHECK(a.hdr_jwk.key == NULL);
    CHECK_OK(tg_jws_parse_cached(tg_slice(t2, strlen(t2)), NULL, hc, &b));
    CHECK(b.hdr_jwk.key != NULL && b.typ != NULL && strcmp(b.typ, "dpop+jwt") == 0);
    CHECK_OK(tg_jws_header_jwk(&a, NULL, &ja));
    CHECK_OK(tg_jws_header_jwk(&b, NULL, &jb));
    CHECK(memcmp(ja.thumbprint, jb.thumbprint, 32) == 0 &&
          memcmp(ja.thumbprint, k256.thumbprint, 32) == 0);
    CHECK_OK(tg_jws_verify(&a, &ja));
    CHECK_OK(tg_jws_verify(&b, &jb));
    /* A cached header does not make a forged signature verify. */
    tg_jws_reset(&b);
    tg_jwk_reset(&jb);
    bad = t_token(&k256, 0, hdr, "{\"n\":3}", 64);
    CHECK_OK(tg_jws_parse_cached(tg_slice(bad, strlen(bad)), NULL, hc, &b));
    CHECK_OK(tg_jws_header_jwk(&b, NULL, &jb));
    CHECK_ERR(tg_jws_verify(&b, &jb), TG_ERR_JWS_SIG_INVALID);
    tg_jws_reset(&b);
    tg_jwk_reset(&jb);
    /* The caller's alg list still applies on a hit. */
    CHECK_OK(tg_jws_parse_cached(tg_slice(t2, strlen(t2)), &only_ec, hc, &b));
    tg_jws_reset(&b);
    {
        struct tg_jws_opts only_rsa = {TG_JWS_ALG_BIT(TG_JWS_RS256), NULL, 0};

        CHECK_ERR(tg_jws_parse_cached(tg_slice(t2, strlen(t2)), &only_rsa, hc, &b),
                  TG_ERR_JWS_ALG_NOT_ALLOWED);
    }
    /* Headers with crit are never cached: accepted with crit_ok, then
     * refused without it. */
    crit = t_token(&k256, TG_SIG_ECDSA_P256_SHA256,
                   "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", "{}", 0);
    CHECK_OK(tg_jws_parse_cached(tg_slice(crit, strlen(crit)), &crit_ok, hc, &b));
    tg_jws_reset(&b);
    CHECK_ERR(tg_jws_parse_cached(tg_slice(crit, strlen(crit)), NULL, hc, &b), TG_ERR_JWS_CRIT);
    /* A private key in the header jwk is refused from the cache path too. */
    {
        json_t *priv = NULL;
        char *ps, ph[2048], *tp;

        CHECK_OK(tg_jwk_private_json(&k256, &priv));
        ps = json_dumps(priv, JSON_COMPACT);
        snprintf(ph, sizeof(ph), "{\"alg\":\"ES256\",\"jwk\":%s}", ps);
        tp = t_token(&k256, TG_SIG_ECDSA_P256_SHA256, ph, "{}", 0);
        for (i = 0; i < 2; i++) {
            CHECK_OK(tg_jws_parse_cached(tg_slice(tp, strlen(tp)), NULL, hc, &b));
            CHECK_ERR(tg_jws_header_jwk(&b, NULL, &jb), TG_ERR_JWK_PRIVATE_MEMBER);
            tg_jws_reset(&b);
        }
        free(tp);
        free(ps);
        json_decref(priv);
    }
    /* Eviction past capacity keeps working (and leaks nothing under ASan). */
    for (i = 0; i < 20; i++) {
        char h[64], *t;

        snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"kid\":\"k%d\"}", i);
        t = t_token(&k256, TG_SIG_ECDSA_P256_SHA256, h, "{}", 0);
        CHECK_OK(tg_jws_parse_cached(tg_slice(t, strlen(t)), NULL, hc, &b));
        CHECK_OK(tg_jws_verify(&b, &k256));
        tg_jws_reset(&b);
        free(t);
    }
    tg_jws_reset(&a);
    tg_jwk_reset(&ja);
    tg_jws_header_cache_free(hc);
    free(pub);
    free(t1);
    free(t2);
    free(bad);
    free(crit);
}

int
main(void)
{
    k256 = t_gen(TG_KEY_EC_P256);
    k384 = t_gen(TG_KEY_EC_P384);
    ked = t_gen(TG_KEY_ED25519);
    krsa = t_gen(TG_KEY_RSA);
    if (!k256.key || !k384.key || !ked.key || !krsa.key) {
        fprintf(stderr, "key generation failed\n");
        return 1;
    }
    RUN(test_sign_verify_all_algs);
    RUN(test_ecdsa_many_signatures);
    RUN(test_alg_none_and_symmetric);
    RUN(test_alg_key_mismatch);
    RUN(test_signature_length);
    RUN(test_zero_signature);
    RUN(test_structure);
    RUN(test_header);
    RUN(test_crit);
    RUN(test_size_limits);
    RUN(test_sign_refusals);
    RUN(test_header_cache);
    tg_jwk_reset(&k256);
    tg_jwk_reset(&k384);
    tg_jwk_reset(&ked);
    tg_jwk_reset(&krsa);
    return t_report("jose/jws");
}
