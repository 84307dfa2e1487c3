/* The RFCs' own examples (files in tests/vectors/, see its README). */
#include "test.h"

#include "jose/jwt.h"
#include "keys.h"

static json_t *
vec(const char *name)
{
    char path[256];
    char *text;
    json_t *v;

    snprintf(path, sizeof(path), "tests/vectors/%s", name);
    text = t_read_source_file(path, NULL);
    if (text == NULL)
        return NULL;
    v = json_loads(text, 0, NULL);
    free(text);
    return v;
}

static const char *
vstr(const json_t *v, const char *name)
{
    return json_string_value(json_object_get(v, name));
}

/* RFC 7515 Appendix A.3: ES256 example verifies. */
static void
test_rfc7515_a3_es256(void)
{
    json_t *v = vec("rfc7515_a3_es256.json");
    struct tg_jwk pub, priv;
    struct tg_jws jws;
    const char *tok;
    json_t *pj;

    CHECK(v != NULL);
    if (v == NULL)
        return;
    tok = vstr(v, "jws");
    pj = json_deep_copy(json_object_get(v, "jwk"));
    json_object_del(pj, "d");
    CHECK_OK(tg_jwk_from_json(pj, TG_JWK_PUBLIC_ONLY, NULL, &pub));
    CHECK_OK(tg_jwk_from_json(json_object_get(v, "jwk"), TG_JWK_REQUIRE_PRIVATE, NULL, &priv));
    CHECK_OK(tg_jws_parse(tg_slice(tok, strlen(tok)), NULL, &jws));
    CHECK(jws.alg == TG_JWS_ES256);
    CHECK_OK(tg_jws_verify(&jws, &pub));
    CHECK_OK(tg_jws_verify(&jws, &priv));
    /* The payload (with its CRLFs) is exactly as published. */
    CHECK(jws.payload_len == 70 && memcmp(jws.payload, "{\"iss\":\"joe\",\r\n \"exp\"", 21) == 0);
    /* One flipped signature bit fails. */
    jws.sig[10] ^= 1;
    CHECK_ERR(tg_jws_verify(&jws, &pub), TG_ERR_JWS_SIG_INVALID);
    tg_jws_reset(&jws);
    tg_jwk_reset(&pub);
    tg_jwk_reset(&priv);
    json_decref(pj);
    json_decref(v);
}

/* RFC 8037 A.4: Ed25519 signs to the exact published signature; A.3 thumbprint. */
static void
test_rfc8037_a4_ed25519(void)
{
    json_t *v = vec("rfc8037_a4_ed25519.json");
    struct tg_jwk priv;
    struct tg_jws jws;
    struct tg_buf out;
    const char *tok, *got;
    char tp[TG_THUMBPRINT_B64_LEN + 1];

    CHECK(v != NULL);
    if (v == NULL)
        return;
    tok = vstr(v, "jws");
    tg_buf_init(&out, 4096);
    CHECK_OK(tg_jwk_from_json(json_object_get(v, "jwk"), TG_JWK_REQUIRE_PRIVATE, NULL, &priv));
    CHECK_OK(tg_jws_sign(&priv, TG_JWS_EDDSA, NULL, TG_SLICE_STR("Example of Ed25519 signing"),
                         &out));
    CHECK_OK(tg_buf_cstr(&out, &got));
    CHECK(strcmp(got, tok) == 0);
    CHECK_OK(tg_jws_parse(tg_slice(tok, strlen(tok)), NULL, &jws));
    CHECK_OK(tg_jws_verify(&jws, &priv));
    tg_thumbprint_b64(priv.thumbprint, tp);
    CHECK(strcmp(tp, vstr(v, "thumbprint")) == 0);
    tg_jws_reset(&jws);
    tg_jwk_reset(&priv);
    tg_buf_reset(&out);
    json_decref(v);
}

/* RFC 7638 §3.1: the published thumbprint. */
static void
test_rfc7638_thumbprint(void)
{
    json_t *v = vec("rfc7638_3_1.json");
    uint8_t tp[32];
    char b64[TG_THUMBPRINT_B64_LEN + 1];
    struct tg_jwk j;

    CHECK(v != NULL);
    if (v == NULL)
        return;
    CHECK_OK(tg_jwk_thumbprint_json(json_object_get(v, "jwk"), tp));
    tg_thumbprint_b64(tp, b64);
    CHECK(strcmp(b64, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs") == 0);
    CHECK(strcmp(b64, vstr(v, "thumbprint")) == 0);
    CHECK_OK(tg_jwk_from_json(json_object_get(v, "jwk"), TG_JWK_PUBLIC_ONLY, NULL, &j));
    CHECK(memcmp(j.thumbprint, tp, 32) == 0);
    tg_jwk_reset(&j);
    json_decref(v);
}

/* RFC 9449 §4.1: the example DPoP proof verifies with the clock at its iat;
 * its key's thumbprint is the jkt of §6.1. */
static void
test_rfc9449_dpop_proof(void)
{
    json_t *v = vec("rfc9449_4_1_dpop.json");
    int64_t at;
    struct tg_clock clock = {tg_clock_fixed_now, &at};
    struct tg_jws_opts opts = {TG_JWS_ALGS_ALL, NULL, 0};
    struct tg_jwt_expect ex = {
        .clock = &clock, .typ = "dpop+jwt", .max_age = 300, .require = TG_JWT_REQ_IAT | TG_JWT_REQ_JTI};
    struct tg_jwk_cache *cache = tg_jwk_cache_new(8);
    struct tg_jwt jwt;
    struct tg_jwk jwk;
    const char *proof;
    char jkt[TG_THUMBPRINT_B64_LEN + 1];

    CHECK(v != NULL);
    if (v == NULL)
        return;
    proof = vstr(v, "proof");
    at = (int64_t)json_integer_value(json_object_get(v, "iat"));
    CHECK_OK(tg_jwt_parse(tg_slice(proof, strlen(proof)), &opts, &jwt));
    CHECK_OK(tg_jwt_check_typ(&jwt, "dpop+jwt"));
    CHECK(jwt.jws.jwk != NULL);
    CHECK_OK(tg_jwk_from_json(jwt.jws.jwk, TG_JWK_PUBLIC_ONLY, cache, &jwk));
    CHECK_OK(tg_jws_verify(&jwt.jws, &jwk));
    CHECK_OK(tg_jwt_validate(&jwt, &ex));
    CHECK(strcmp(tg_jwt_claim_str(jwt.claims, "htm"), "POST") == 0);
    CHECK(strcmp(tg_jwt_claim_str(jwt.claims, "htu"), "https://server.example.com/token") == 0);
    CHECK(strcmp(tg_jwt_claim_str(jwt.claims, "jti"), "-BwC3ESc6acc2lTc") == 0);
    tg_thumbprint_b64(jwk.thumbprint, jkt);
    CHECK(strcmp(jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I") == 0);
    /* Outside the iat window it is refused (both directions). */
    at += 301;
    CHECK_ERR(tg_jwt_validate(&jwt, &ex), TG_ERR_JWT_IAT_TOO_OLD);
    at -= 302;
    CHECK_ERR(tg_jwt_validate(&jwt, &ex), TG_ERR_JWT_IAT_FUTURE);
    tg_jwk_reset(&jwk);
    tg_jwt_reset(&jwt);
    /* The same proof through tg_jwt_verify in one call. */
    at = (int64_t)json_integer_value(json_object_get(v, "iat"));
    CHECK_OK(tg_jwk_parse("{\"kty\":\"EC\",\"x\":\"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs\","
                          "\"y\":\"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA\",\"crv\":\"P-256\"}",
                          strlen("{\"kty\":\"EC\",\"x\":\"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs\","
                                 "\"y\":\"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA\",\"crv\":\"P-256\"}"),
                          TG_JWK_PUBLIC_ONLY, cache, &jwk));
    CHECK_OK(tg_jwt_verify(tg_slice(proof, strlen(proof)), &jwk, &opts, &ex, &jwt));
    tg_jwt_reset(&jwt);
    tg_jwk_reset(&jwk);
    tg_jwk_cache_free(cache);
    json_decref(v);
}

int
main(void)
{
    RUN(test_rfc7515_a3_es256);
    RUN(test_rfc8037_a4_ed25519);
    RUN(test_rfc7638_thumbprint);
    RUN(test_rfc9449_dpop_proof);
    return t_report("jose/vectors");
}
