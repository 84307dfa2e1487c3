#include "test.h"

#include "keys.h"

static enum tg_err
parse(const char *json, unsigned flags, struct tg_jwk *out)
{
    return tg_jwk_parse(json, strlen(json), flags, NULL, out);
}

static enum tg_err
parse_only(const char *json, unsigned flags)
{
    struct tg_jwk j;
    enum tg_err rv = parse(json, flags, &j);

    tg_jwk_reset(&j);
    return rv;
}

/* Valid public members of the RFC 9449 §4.1 key, for building variants. */
#define EC_X "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"
#define EC_Y "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
#define EC_PUB "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\""
#define ED_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"

static void
roundtrip(enum tg_key_type type)
{
    struct tg_jwk gen, pub, priv;
    json_t *pj = NULL, *sj = NULL;
    char *ps = NULL, *ss = NULL;
    uint8_t sig[TG_SIG_MAX_LEN];
    size_t sig_len = 0;
    enum tg_sig_scheme scheme = tg_jws_alg_scheme(tg_jws_alg_for_key(type));

    memset(&pub, 0, sizeof(pub));
    memset(&priv, 0, sizeof(priv));
    gen = t_gen(type);
    CHECK(gen.key != NULL);
    if (gen.key == NULL)
        return;
    CHECK_OK(tg_jwk_public_json(&gen, &pj));
    CHECK_OK(tg_jwk_private_json(&gen, &sj));
    ps = json_dumps(pj, JSON_COMPACT);
    ss = json_dumps(sj, JSON_COMPACT);
    CHECK(json_object_get(pj, "d") == NULL);
    CHECK(json_object_get(sj, "d") != NULL);
    CHECK_OK(parse(ps, TG_JWK_PUBLIC_ONLY, &pub));
    CHECK_OK(parse(ss, TG_JWK_REQUIRE_PRIVATE, &priv));
    CHECK_ERR(parse_only(ss, TG_JWK_PUBLIC_ONLY), TG_ERR_JWK_PRIVATE_MEMBER);
    CHECK_ERR(parse_only(ps, TG_JWK_REQUIRE_PRIVATE), TG_ERR_JWK_NOT_PRIVATE);
    CHECK(memcmp(gen.thumbprint, pub.thumbprint, 32) == 0);
    CHECK(memcmp(gen.thumbprint, priv.thumbprint, 32) == 0);
    CHECK(pub.type == type && !tg_key_is_private(pub.key));
    CHECK(tg_key_is_private(priv.key));
    if (pub.key != NULL && priv.key != NULL) {
        CHECK_OK(tg_sign(priv.key, scheme, TG_SLICE_STR("m"), sig, sizeof(sig), &sig_len));
        CHECK(sig_len == tg_key_sig_len(pub.key));
        CHECK_OK(tg_verify(pub.key, scheme, TG_SLICE_STR("m"), tg_slice(sig, sig_len)));
        CHECK_ERR(tg_verify(pub.key, scheme, TG_SLICE_STR("n"), tg_slice(sig, sig_len)),
                  TG_ERR_JWS_SIG_INVALID);
        CHECK_ERR(tg_sign(pub.key, scheme, TG_SLICE_STR("m"), sig, sizeof(sig), &sig_len),
                  TG_ERR_JWK_NOT_PRIVATE);
    }
    free(ps);
    free(ss);
    json_decref(pj);
    json_decref(sj);
    tg_jwk_reset(&gen);
    tg_jwk_reset(&pub);
    tg_jwk_reset(&priv);
}

static void
test_roundtrip_p256(void)
{
    roundtrip(TG_KEY_EC_P256);
}

static void
test_roundtrip_p384(void)
{
    roundtrip(TG_KEY_EC_P384);
}

static void
test_roundtrip_ed25519(void)
{
    roundtrip(TG_KEY_ED25519);
}

static void
test_roundtrip_rsa(void)
{
    roundtrip(TG_KEY_RSA);
}

static void
test_kty_and_crv(void)
{
    CHECK_ERR(parse_only("{\"crv\":\"P-256\"}", 0), TG_ERR_JWK_KTY);
    CHECK_ERR(parse_only("{\"kty\":7}", 0), TG_ERR_JWK_MEMBER_INVALID);
    CHECK_ERR(parse_only("{\"kty\":\"oct\",\"k\":\"AAAA\"}", 0), TG_ERR_JWK_SYMMETRIC);
    CHECK_ERR(parse_only("{\"kty\":\"DSA\"}", 0), TG_ERR_JWK_KTY);
    CHECK_ERR(parse_only("{\"kty\":\"ec\",\"crv\":\"P-256\"}", 0), TG_ERR_JWK_KTY);
    /* Wrong curve: only P-256, P-384 and Ed25519 are accepted. */
    CHECK_ERR(parse_only("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y
                         "\"}",
                         0),
              TG_ERR_JWK_CRV);
    CHECK_ERR(parse_only("{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y
                         "\"}",
                         0),
              TG_ERR_JWK_CRV);
    CHECK_ERR(parse_only("{\"kty\":\"EC\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}", 0),
              TG_ERR_JWK_CRV);
    CHECK_ERR(parse_only("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" ED_X "\"}", 0),
              TG_ERR_JWK_CRV);
    CHECK_ERR(parse_only("{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"" ED_X "\"}", 0),
              TG_ERR_JWK_CRV);
    /* A P-256 point labelled P-384 has coordinates of the wrong size. */
    CHECK_ERR(parse_only("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y
                         "\"}",
                         0),
              TG_ERR_JWK_MEMBER_INVALID);
}

static void
test_ec_members(void)
{
    CHECK_OK(parse_only("{" EC_PUB "}", TG_JWK_PUBLIC_ONLY));
    CHECK_ERR(parse_only("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\"}", 0),
              TG_ERR_JWK_MEMBER_MISSING);
    CHECK_ERR(parse_only("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":5}", 0),
              TG_ERR_JWK_MEMBER_INVALID);
    /* Not base64url. */
    CHECK_ERR(parse_only("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"9VE4jf+Ok_"
                         "o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA\"}",
                         0),
              TG_ERR_JWK_MEMBER_INVALID);
    /* Short coordinate (RFC 7518 §6.2.1.2: full size). */
    CHECK_ERR(parse_only("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X
                         "\",\"y\":\"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRA\"}",
                         0),
              TG_ERR_JWK_MEMBER_INVALID);
    /* Right size, not on the curve (y changed). */
    CHECK_ERR(parse_only("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X
                         "\",\"y\":\"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDE\"}",
                         0),
              TG_ERR_JWK_INVALID_KEY);
    /* A d that does not belong to x,y. */
    CHECK_ERR(parse_only("{" EC_PUB ",\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}", 0),
              TG_ERR_JWK_INVALID_KEY);
}

static void
test_private_members_refused(void)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    char json[512];
    size_t i;

    for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
        snprintf(json, sizeof(json), "{" EC_PUB ",\"%s\":\"AAAA\"}", priv[i]);
        CHECK_ERR(parse_only(json, TG_JWK_PUBLIC_ONLY), TG_ERR_JWK_PRIVATE_MEMBER);
    }
    /* Even a null or empty value counts as present. */
    CHECK_ERR(parse_only("{" EC_PUB ",\"d\":null}", TG_JWK_PUBLIC_ONLY), TG_ERR_JWK_PRIVATE_MEMBER);
    CHECK_ERR(parse_only("{" EC_PUB ",\"d\":\"\"}", TG_JWK_PUBLIC_ONLY), TG_ERR_JWK_PRIVATE_MEMBER);
    CHECK_ERR(parse_only("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X
                         "\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}",
                         TG_JWK_PUBLIC_ONLY),
              TG_ERR_JWK_PRIVATE_MEMBER);
}

static void
test_okp(void)
{
    CHECK_OK(parse_only("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}", 0));
    CHECK_OK(parse_only("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X
                        "\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}",
                        TG_JWK_REQUIRE_PRIVATE));
    /* d of another key. */
    CHECK_ERR(parse_only("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X
                         "\",\"d\":\"mWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}",
                         0),
              TG_ERR_JWK_INVALID_KEY);
    CHECK_ERR(parse_only("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKx\"}", 0),
              TG_ERR_JWK_MEMBER_INVALID);
}

static void
rsa_json(char *out, size_t cap, int bits, int leading_zero, const char *extra)
{
    uint8_t n[600];
    char nb[900];
    size_t len = (size_t)bits / 8, off = 0;

    memset(n, 0xc5, sizeof(n));
    if (leading_zero)
        n[off++] = 0;
    n[off] = 0xc1;
    n[off + len - 1] = 0x01; /* odd */
    tg_b64url_encode_to(tg_slice(n, off + len), nb);
    snprintf(out, cap, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"%s}", nb, extra);
}

static void
test_rsa(void)
{
    char json[2048];
    size_t len;
    char *vec = t_read_source_file("tests/vectors/rfc7638_3_1.json", &len);
    json_t *v = vec ? json_loads(vec, 0, NULL) : NULL;
    struct tg_jwk j;

    CHECK(v != NULL);
    if (v != NULL) {
        CHECK_OK(tg_jwk_from_json(json_object_get(v, "jwk"), TG_JWK_PUBLIC_ONLY, NULL, &j));
        CHECK(j.alg == TG_JWS_RS256 && j.kid != NULL && strcmp(j.kid, "2011-04-29") == 0);
        CHECK(tg_key_bits(j.key) == 2048);
        tg_jwk_reset(&j);
    }
    /* RFC 7518 §3.3: under 2048 bits is refused. */
    rsa_json(json, sizeof(json), 1024, 0, "");
    CHECK_ERR(parse_only(json, 0), TG_ERR_JWK_RSA_TOO_SMALL);
    rsa_json(json, sizeof(json), 2040, 0, "");
    CHECK_ERR(parse_only(json, 0), TG_ERR_JWK_RSA_TOO_SMALL);
    /* RFC 7518 §2 Base64urlUInt: minimal octets. */
    rsa_json(json, sizeof(json), 2048, 1, "");
    CHECK_ERR(parse_only(json, 0), TG_ERR_JWK_MEMBER_INVALID);
    rsa_json(json, sizeof(json), 2048, 0, ",\"oth\":[]");
    CHECK_ERR(parse_only(json, 0), TG_ERR_JWK_MEMBER_INVALID);
    /* CRT members without d. */
    rsa_json(json, sizeof(json), 2048, 0, ",\"p\":\"AQAB\"");
    CHECK_ERR(parse_only(json, 0), TG_ERR_JWK_MEMBER_INVALID);
    /* d without the CRT members. */
    rsa_json(json, sizeof(json), 2048, 0, ",\"d\":\"AQAB\"");
    CHECK_ERR(parse_only(json, 0), TG_ERR_JWK_MEMBER_MISSING);
    CHECK_ERR(parse_only("{\"kty\":\"RSA\",\"e\":\"AQAB\"}", 0), TG_ERR_JWK_MEMBER_MISSING);
    free(vec);
    json_decref(v);
}

static void
test_use_alg_kid(void)
{
    struct tg_jwk j;

    CHECK_OK(parse("{" EC_PUB ",\"use\":\"sig\",\"alg\":\"ES256\",\"kid\":\"k1\"}", 0, &j));
    CHECK(j.alg == TG_JWS_ES256 && strcmp(j.kid, "k1") == 0);
    tg_jwk_reset(&j);
    CHECK_ERR(parse_only("{" EC_PUB ",\"use\":\"enc\"}", 0), TG_ERR_JWK_MEMBER_INVALID);
    CHECK_ERR(parse_only("{" EC_PUB ",\"key_ops\":\"verify\"}", 0), TG_ERR_JWK_MEMBER_INVALID);
    CHECK_OK(parse_only("{" EC_PUB ",\"key_ops\":[\"verify\"]}", 0));
    /* alg that does not fit the key (wrong curve for ES384, RSA alg on EC). */
    CHECK_ERR(parse_only("{" EC_PUB ",\"alg\":\"ES384\"}", 0), TG_ERR_JWS_ALG_KEY_MISMATCH);
    CHECK_ERR(parse_only("{" EC_PUB ",\"alg\":\"RS256\"}", 0), TG_ERR_JWS_ALG_KEY_MISMATCH);
    CHECK_ERR(parse_only("{" EC_PUB ",\"alg\":\"HS256\"}", 0), TG_ERR_JWS_ALG_SYMMETRIC);
    CHECK_ERR(parse_only("{" EC_PUB ",\"alg\":\"none\"}", 0), TG_ERR_JWS_ALG_NONE);
    CHECK_ERR(parse_only("{" EC_PUB ",\"kid\":1}", 0), TG_ERR_JWK_MEMBER_INVALID);
}

static void
test_malformed_json(void)
{
    CHECK_ERR(parse_only("{\"kty\":\"EC\"", 0), TG_ERR_JSON_MALFORMED);
    CHECK_ERR(parse_only("", 0), TG_ERR_JSON_MALFORMED);
    CHECK_ERR(parse_only("[1,2]", 0), TG_ERR_JSON_NOT_OBJECT);
    /* Duplicate members are ambiguous: refused. */
    CHECK_ERR(parse_only("{" EC_PUB ",\"x\":\"" EC_X "\"}", 0), TG_ERR_JSON_MALFORMED);
    CHECK_ERR(tg_jwk_parse("{\"kty\":\"EC\"}\0junk", 17, 0, NULL, &(struct tg_jwk){0}),
              TG_ERR_JSON_MALFORMED);
}

static void
test_thumbprint_member_order_irrelevant(void)
{
    struct tg_jwk a, b;

    CHECK_OK(parse("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}", 0,
                   &a));
    CHECK_OK(parse("{\"y\":\"" EC_Y "\",\"x\":\"" EC_X
                   "\",\"kid\":\"z\",\"crv\":\"P-256\",\"kty\":\"EC\"}",
                   0, &b));
    CHECK(memcmp(a.thumbprint, b.thumbprint, 32) == 0);
    tg_jwk_reset(&a);
    tg_jwk_reset(&b);
}

static void
test_x5t_s256(void)
{
    char *pem, *want, got[TG_THUMBPRINT_B64_LEN + 1];
    size_t len, wlen;
    struct tg_buf der;

    pem = t_read_source_file("tests/unit/data/cert.pem", &len);
    want = t_read_source_file("tests/unit/data/cert.x5t", &wlen);
    CHECK(pem != NULL && want != NULL);
    if (pem == NULL || want == NULL)
        return;
    tg_buf_init(&der, 65536);
    CHECK_OK(tg_cert_pem_to_der(pem, len, &der));
    CHECK_OK(tg_x5t_s256(tg_slice(der.p, der.len), got));
    /* Expected value computed by the openssl CLI when the file was made. */
    CHECK(strncmp(got, want, TG_THUMBPRINT_B64_LEN) == 0);
    CHECK_ERR(tg_x5t_s256(tg_slice(NULL, 0), got), TG_ERR_INVALID_ARG);
    tg_buf_reset(&der);
    CHECK_ERR(tg_cert_pem_to_der("not a pem", 9, &der), TG_ERR_INVALID_ARG);
    tg_buf_reset(&der);
    free(pem);
    free(want);
}

int
main(void)
{
    RUN(test_roundtrip_p256);
    RUN(test_roundtrip_p384);
    RUN(test_roundtrip_ed25519);
    RUN(test_roundtrip_rsa);
    RUN(test_kty_and_crv);
    RUN(test_ec_members);
    RUN(test_private_members_refused);
    RUN(test_okp);
    RUN(test_rsa);
    RUN(test_use_alg_kid);
    RUN(test_malformed_json);
    RUN(test_thumbprint_member_order_irrelevant);
    RUN(test_x5t_s256);
    return t_report("jose/jwk");
}
