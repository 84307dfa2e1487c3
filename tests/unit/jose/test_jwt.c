#include "test.h"

#include "jose/jwt.h"
#include "keys.h"

static struct tg_jwk key;
static int64_t now = 1700000000;
static const struct tg_clock fixed = {tg_clock_fixed_now, &now};

static char *
tok(const char *header, const char *claims)
{
    return t_token(&key, TG_SIG_ECDSA_P256_SHA256, header, claims, 0);
}

static enum tg_err
verify(const char *t, const struct tg_jwt_expect *ex)
{
    struct tg_jwt jwt;
    enum tg_err rv = tg_jwt_verify(tg_slice(t, strlen(t)), &key, NULL, ex, &jwt);

    tg_jwt_reset(&jwt);
    return rv;
}

static enum tg_err
claims(const char *c, const struct tg_jwt_expect *ex)
{
    char *t = tok("{\"alg\":\"ES256\"}", c);
    enum tg_err rv = verify(t, ex);

    free(t);
    return rv;
}

static void
test_exp_nbf_iat(void)
{
    struct tg_jwt_expect ex = {.clock = &fixed, .skew = 0};

    CHECK_OK(claims("{\"exp\":1700000001}", &ex));
    /* RFC 7519 §4.1.4: on or after exp is rejected. */
    CHECK_ERR(claims("{\"exp\":1700000000}", &ex), TG_ERR_JWT_EXPIRED);
    CHECK_ERR(claims("{\"exp\":1699999999}", &ex), TG_ERR_JWT_EXPIRED);
    CHECK_OK(claims("{\"nbf\":1700000000}", &ex));
    CHECK_ERR(claims("{\"nbf\":1700000001}", &ex), TG_ERR_JWT_NOT_YET_VALID);
    CHECK_OK(claims("{\"iat\":1700000000}", &ex));
    CHECK_ERR(claims("{\"iat\":1700000001}", &ex), TG_ERR_JWT_IAT_FUTURE);
    /* Skew widens every window by the same amount. */
    ex.skew = 30;
    CHECK_OK(claims("{\"exp\":1699999971}", &ex));
    CHECK_ERR(claims("{\"exp\":1699999970}", &ex), TG_ERR_JWT_EXPIRED);
    CHECK_OK(claims("{\"nbf\":1700000030}", &ex));
    CHECK_ERR(claims("{\"nbf\":1700000031}", &ex), TG_ERR_JWT_NOT_YET_VALID);
    CHECK_OK(claims("{\"iat\":1700000030}", &ex));
    CHECK_ERR(claims("{\"iat\":1700000031}", &ex), TG_ERR_JWT_IAT_FUTURE);
    /* max_age bounds how old iat may be (the DPoP iat window). */
    ex.skew = 0;
    ex.max_age = 300;
    CHECK_OK(claims("{\"iat\":1699999700}", &ex));
    CHECK_ERR(claims("{\"iat\":1699999699}", &ex), TG_ERR_JWT_IAT_TOO_OLD);
    CHECK_ERR(claims("{}", &ex), TG_ERR_JWT_CLAIM_MISSING);
    /* Fractional NumericDate: rounded down, so exp errs on the safe side. */
    ex.max_age = 0;
    CHECK_OK(claims("{\"exp\":1700000001.5}", &ex));
    CHECK_ERR(claims("{\"exp\":1700000000.9}", &ex), TG_ERR_JWT_EXPIRED);
}

static void
test_clock_moves(void)
{
    struct tg_jwt_expect ex = {.clock = &fixed};
    char *t = tok("{\"alg\":\"ES256\"}", "{\"exp\":1700000100,\"nbf\":1700000000}");

    now = 1700000000;
    CHECK_OK(verify(t, &ex));
    now = 1700000100;
    CHECK_ERR(verify(t, &ex), TG_ERR_JWT_EXPIRED);
    now = 1699999999;
    CHECK_ERR(verify(t, &ex), TG_ERR_JWT_NOT_YET_VALID);
    now = 1700000000;
    free(t);
}

static void
test_required_and_types(void)
{
    struct tg_jwt_expect ex = {.clock = &fixed,
                               .require = TG_JWT_REQ_EXP | TG_JWT_REQ_IAT | TG_JWT_REQ_JTI};

    CHECK_OK(claims("{\"exp\":1700000100,\"iat\":1700000000,\"jti\":\"a\"}", &ex));
    CHECK_ERR(claims("{\"iat\":1700000000,\"jti\":\"a\"}", &ex), TG_ERR_JWT_CLAIM_MISSING);
    CHECK_ERR(claims("{\"exp\":1700000100,\"jti\":\"a\"}", &ex), TG_ERR_JWT_CLAIM_MISSING);
    CHECK_ERR(claims("{\"exp\":1700000100,\"iat\":1700000000}", &ex), TG_ERR_JWT_CLAIM_MISSING);
    CHECK_ERR(claims("{\"exp\":\"1700000100\",\"iat\":1700000000,\"jti\":\"a\"}", &ex),
              TG_ERR_JWT_CLAIM_INVALID);
    CHECK_ERR(claims("{\"exp\":1e300,\"iat\":1700000000,\"jti\":\"a\"}", &ex),
              TG_ERR_JWT_CLAIM_INVALID);
    CHECK_ERR(claims("{\"exp\":true,\"iat\":1700000000,\"jti\":\"a\"}", &ex),
              TG_ERR_JWT_CLAIM_INVALID);
    CHECK_ERR(claims("{\"exp\":1700000100,\"iat\":1700000000,\"jti\":5}", &ex),
              TG_ERR_JWT_CLAIM_INVALID);
    /* The claims set must be a JSON object (RFC 7519 §7.2). */
    CHECK_ERR(claims("[1]", &ex), TG_ERR_JWT_CLAIMS);
    CHECK_ERR(claims("{\"exp\":", &ex), TG_ERR_JSON_MALFORMED);
    CHECK_ERR(claims("{\"exp\":1,\"exp\":1700000100}", &ex), TG_ERR_JSON_MALFORMED);
}

static void
test_iss_aud(void)
{
    static const char *const auds[] = {"https://a", "https://b", NULL};
    struct tg_jwt_expect ex = {.clock = &fixed, .iss = "https://as", .aud = "https://rs"};
    struct tg_jwt_expect any = {.clock = &fixed, .aud_any = auds};

    CHECK_OK(claims("{\"iss\":\"https://as\",\"aud\":\"https://rs\"}", &ex));
    CHECK_OK(claims("{\"iss\":\"https://as\",\"aud\":[\"x\",\"https://rs\"]}", &ex));
    CHECK_ERR(claims("{\"iss\":\"https://as/\",\"aud\":\"https://rs\"}", &ex), TG_ERR_JWT_ISS);
    CHECK_ERR(claims("{\"iss\":\"https://AS\",\"aud\":\"https://rs\"}", &ex), TG_ERR_JWT_ISS);
    CHECK_ERR(claims("{\"aud\":\"https://rs\"}", &ex), TG_ERR_JWT_CLAIM_MISSING);
    CHECK_ERR(claims("{\"iss\":7,\"aud\":\"https://rs\"}", &ex), TG_ERR_JWT_CLAIM_INVALID);
    CHECK_ERR(claims("{\"iss\":\"https://as\",\"aud\":\"https://other\"}", &ex), TG_ERR_JWT_AUD);
    CHECK_ERR(claims("{\"iss\":\"https://as\",\"aud\":[]}", &ex), TG_ERR_JWT_AUD);
    CHECK_ERR(claims("{\"iss\":\"https://as\"}", &ex), TG_ERR_JWT_CLAIM_MISSING);
    CHECK_ERR(claims("{\"iss\":\"https://as\",\"aud\":[\"https://rs\",1]}", &ex),
              TG_ERR_JWT_CLAIM_INVALID);
    CHECK_ERR(claims("{\"iss\":\"https://as\",\"aud\":{\"a\":1}}", &ex), TG_ERR_JWT_CLAIM_INVALID);
    CHECK_OK(claims("{\"aud\":[\"https://b\"]}", &any));
    CHECK_ERR(claims("{\"aud\":\"https://c\"}", &any), TG_ERR_JWT_AUD);
}

static void
test_typ(void)
{
    struct tg_jwt_expect ex = {.clock = &fixed, .typ = "at+jwt"};
    char *t;

    t = tok("{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", "{}");
    CHECK_OK(verify(t, &ex));
    free(t);
    /* RFC 7515 §4.1.9: case-insensitive, "application/" may be present. */
    t = tok("{\"alg\":\"ES256\",\"typ\":\"application/AT+JWT\"}", "{}");
    CHECK_OK(verify(t, &ex));
    free(t);
    t = tok("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", "{}");
    CHECK_ERR(verify(t, &ex), TG_ERR_JWT_TYP);
    free(t);
    t = tok("{\"alg\":\"ES256\"}", "{}");
    CHECK_ERR(verify(t, &ex), TG_ERR_JWT_TYP);
    free(t);
    /* A DPoP proof is not an access token, and the other way round. */
    t = tok("{\"alg\":\"ES256\",\"typ\":\"dpop+jwt\"}", "{}");
    CHECK_ERR(verify(t, &ex), TG_ERR_JWT_TYP);
    free(t);
}

static void
test_signature_checked_before_claims(void)
{
    struct tg_jwt_expect ex = {.clock = &fixed};
    char *t = t_token(&key, 0, "{\"alg\":\"ES256\"}", "{\"exp\":1}", 64);

    /* A forged token reports the forgery, not its (also bad) claims. */
    CHECK_ERR(verify(t, &ex), TG_ERR_JWS_SIG_INVALID);
    free(t);
}

int
main(void)
{
    key = t_gen(TG_KEY_EC_P256);
    if (key.key == NULL)
        return 1;
    RUN(test_exp_nbf_iat);
    RUN(test_clock_moves);
    RUN(test_required_and_types);
    RUN(test_iss_aud);
    RUN(test_typ);
    RUN(test_signature_checked_before_claims);
    tg_jwk_reset(&key);
    return t_report("jose/jwt");
}
