#include "jose/jwt.h"

#include <math.h>
#include <string.h>

enum tg_err
tg_jwt_parse(struct tg_slice compact, const struct tg_jws_opts *opts, struct tg_jwt *out)
{
    return tg_jwt_parse_cached(compact, opts, NULL, out);
}

enum tg_err
tg_jwt_parse_cached(struct tg_slice compact, const struct tg_jws_opts *opts,
                    struct tg_jws_header_cache *cache, struct tg_jwt *out)
{
    json_error_t jerr;
    enum tg_err rv = TG_OK;

    memset(out, 0, sizeof(*out));
    TG_TRY(tg_jws_parse_cached(compact, opts, cache, &out->jws));
    out->claims = json_loadb((const char *)out->jws.payload, out->jws.payload_len,
                             JSON_REJECT_DUPLICATES, &jerr);
    TG_CHECK(out->claims != NULL, TG_ERR_JSON_MALFORMED, "claims JSON: %s", jerr.text);
    TG_CHECK(json_is_object(out->claims), TG_ERR_JWT_CLAIMS, "claims not an object");
out:
    if (rv != TG_OK)
        tg_jwt_reset(out);
    return rv;
}

void
tg_jwt_reset(struct tg_jwt *jwt)
{
    tg_jws_reset(&jwt->jws);
    json_decref(jwt->claims);
    jwt->claims = NULL;
}

enum tg_err
tg_jwt_check_typ(const struct tg_jwt *jwt, const char *typ)
{
    return tg_jws_check_typ(&jwt->jws, typ);
}

enum tg_err
tg_jwt_numeric_date(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(claims, name);

    *out = 0;
    TG_ENSURE(v != NULL, TG_ERR_JWT_CLAIM_MISSING, "claim %s missing", name);
    if (json_is_integer(v))
        return tg_jwt_date_from_int(json_integer_value(v), name, out);
    TG_ENSURE(json_is_real(v), TG_ERR_JWT_CLAIM_INVALID, "claim %s not a number", name);
    return tg_jwt_date_from_real(json_real_value(v), name, out);
}

enum tg_err
tg_jwt_date_from_int(json_int_t v, const char *name, int64_t *out)
{
    *out = (int64_t)v;
    TG_ENSURE(*out > -TG_JWT_MAX_DATE && *out < TG_JWT_MAX_DATE, TG_ERR_JWT_CLAIM_INVALID,
              "claim %s out of range", name);
    return TG_OK;
}

enum tg_err
tg_jwt_date_from_real(double d, const char *name, int64_t *out)
{
    *out = 0;
    TG_ENSURE(isfinite(d) && d > -(double)TG_JWT_MAX_DATE && d < (double)TG_JWT_MAX_DATE,
              TG_ERR_JWT_CLAIM_INVALID, "claim %s out of range", name);
    /* Fractions of a second: floor keeps exp checks conservative. */
    return tg_jwt_date_from_int((json_int_t)floor(d), name, out);
}

const char *
tg_jwt_claim_str(const json_t *claims, const char *name)
{
    const json_t *v = json_object_get(claims, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A date claim that may be absent unless `required`. *present tells. */
static enum tg_err
date_claim(const json_t *claims, const char *name, int required, int64_t *out, int *present)
{
    enum tg_err rv = tg_jwt_numeric_date(claims, name, out);

    *present = rv == TG_OK;
    if (rv == TG_ERR_JWT_CLAIM_MISSING && !required)
        return TG_OK;
    return rv;
}

static int
aud_contains(const json_t *aud, const char *want)
{
    const json_t *v;
    size_t i;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    json_array_foreach(aud, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return 1;
    return 0;
}

/* RFC 7519 §4.1.3: a string or an array of strings. */
static enum tg_err
check_aud(const json_t *claims, const struct tg_jwt_expect *ex)
{
    const json_t *aud = json_object_get(claims, "aud"), *v;
    const char *const *w;
    size_t i;

    if (aud == NULL) {
        TG_ENSURE(ex->aud == NULL && ex->aud_any == NULL, TG_ERR_JWT_CLAIM_MISSING,
                  "aud missing");
        return TG_OK;
    }
    if (json_is_array(aud)) {
        json_array_foreach(aud, i, v)
            TG_ENSURE(json_is_string(v), TG_ERR_JWT_CLAIM_INVALID, "aud element not a string");
    } else {
        TG_ENSURE(json_is_string(aud), TG_ERR_JWT_CLAIM_INVALID, "aud not a string or array");
    }
    if (ex->aud != NULL)
        TG_ENSURE(aud_contains(aud, ex->aud), TG_ERR_JWT_AUD, "audience mismatch");
    if (ex->aud_any != NULL) {
        for (w = ex->aud_any; *w != NULL; w++)
            if (aud_contains(aud, *w))
                return TG_OK;
        TG_ENSURE(0, TG_ERR_JWT_AUD, "audience mismatch");
    }
    return TG_OK;
}

static enum tg_err
check_str_claim(const json_t *claims, const char *name, int required)
{
    const json_t *v = json_object_get(claims, name);

    if (v == NULL) {
        TG_ENSURE(!required, TG_ERR_JWT_CLAIM_MISSING, "claim %s missing", name);
        return TG_OK;
    }
    TG_ENSURE(json_is_string(v), TG_ERR_JWT_CLAIM_INVALID, "claim %s not a string", name);
    return TG_OK;
}

enum tg_err
tg_jwt_validate(const struct tg_jwt *jwt, const struct tg_jwt_expect *ex)
{
    const struct tg_clock *clock = ex->clock ? ex->clock : &tg_clock_system;
    const json_t *c = jwt->claims;
    int64_t now = tg_clock_now(clock), t, skew = ex->skew > 0 ? ex->skew : 0;
    int present;
    const char *iss;

    TG_ENSURE(json_is_object(c), TG_ERR_JWT_CLAIMS, "no claims");
    /* RFC 7519 §4.1.4: reject on or after exp (plus leeway). */
    TG_GUARD(date_claim(c, "exp", ex->require & TG_JWT_REQ_EXP, &t, &present));
    TG_ENSURE(!present || now < t + skew, TG_ERR_JWT_EXPIRED, "expired");
    /* §4.1.5: reject before nbf (minus leeway). */
    TG_GUARD(date_claim(c, "nbf", ex->require & TG_JWT_REQ_NBF, &t, &present));
    TG_ENSURE(!present || now + skew >= t, TG_ERR_JWT_NOT_YET_VALID, "not yet valid");
    /* §4.1.6: iat is informational in 7519; issued in the future is not. */
    TG_GUARD(date_claim(c, "iat", ex->require & TG_JWT_REQ_IAT || ex->max_age > 0, &t, &present));
    TG_ENSURE(!present || t <= now + skew, TG_ERR_JWT_IAT_FUTURE, "iat in the future");
    TG_ENSURE(!present || ex->max_age <= 0 || t >= now - ex->max_age - skew,
              TG_ERR_JWT_IAT_TOO_OLD, "iat too old");
    TG_GUARD(check_str_claim(c, "jti", ex->require & TG_JWT_REQ_JTI));
    TG_GUARD(check_str_claim(c, "sub", ex->require & TG_JWT_REQ_SUB));
    TG_GUARD(check_str_claim(c, "iss", ex->iss != NULL));
    if (ex->iss != NULL) {
        iss = tg_jwt_claim_str(c, "iss");
        /* RFC 7519 §4.1.1: StringOrURI, compared as a case-sensitive string. */
        TG_ENSURE(strcmp(iss, ex->iss) == 0, TG_ERR_JWT_ISS, "issuer mismatch");
    }
    return check_aud(c, ex);
}

enum tg_err
tg_jwt_verify(struct tg_slice compact, const struct tg_jwk *jwk, const struct tg_jws_opts *opts,
              const struct tg_jwt_expect *ex, struct tg_jwt *out)
{
    enum tg_err rv = TG_OK;

    TG_TRY(tg_jwt_parse(compact, opts, out));
    if (ex->typ != NULL)
        TG_TRY(tg_jwt_check_typ(out, ex->typ));
    TG_TRY(tg_jws_verify(&out->jws, jwk));
    TG_TRY(tg_jwt_validate(out, ex));
out:
    if (rv != TG_OK)
        tg_jwt_reset(out);
    return rv;
}
