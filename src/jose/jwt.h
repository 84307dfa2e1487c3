/* JWT (RFC 7519) over JWS: parse, verify the signature, validate claims.
 * Time comes from an injectable clock; skew is configurable. */
#ifndef TG_JOSE_JWT_H
#define TG_JOSE_JWT_H

#include <stdint.h>

#include <jansson.h>

#include "core/clock.h"
#include "jose/jws.h"

enum tg_jwt_require {
    TG_JWT_REQ_EXP = 1u << 0,
    TG_JWT_REQ_NBF = 1u << 1,
    TG_JWT_REQ_IAT = 1u << 2,
    TG_JWT_REQ_JTI = 1u << 3,
    TG_JWT_REQ_SUB = 1u << 4,
};

struct tg_jwt_expect {
    const struct tg_clock *clock; /* NULL: system clock */
    int64_t skew;                 /* seconds of leeway on exp, nbf, iat */
    int64_t max_age;              /* > 0: iat must be no older than this */
    const char *typ;              /* required "typ" header, or NULL */
    const char *iss;              /* required issuer, or NULL */
    const char *aud;              /* one audience that must be present, or NULL */
    const char *const *aud_any;   /* or: NULL-terminated list, any one present */
    unsigned require;             /* TG_JWT_REQ_* */
};

struct tg_jwt {
    struct tg_jws jws;
    json_t *claims; /* owned */
};

/* Parse the JWS and its claims set (a JSON object, RFC 7519 §7.2 step 10). */
enum tg_err tg_jwt_parse(struct tg_slice compact, const struct tg_jws_opts *opts,
                         struct tg_jwt *out) TG_MUST_CHECK;
/* The same with a protected-header cache (may be NULL). */
enum tg_err tg_jwt_parse_cached(struct tg_slice compact, const struct tg_jws_opts *opts,
                                struct tg_jws_header_cache *cache,
                                struct tg_jwt *out) TG_MUST_CHECK;
/* tg_jws_check_typ on the token's header. */
enum tg_err tg_jwt_check_typ(const struct tg_jwt *jwt, const char *typ) TG_MUST_CHECK;
/* Claims only; the caller has verified the signature. */
enum tg_err tg_jwt_validate(const struct tg_jwt *jwt, const struct tg_jwt_expect *ex) TG_MUST_CHECK;
/* All of it, in order: parse, typ, signature with `jwk`, claims. */
enum tg_err tg_jwt_verify(struct tg_slice compact, const struct tg_jwk *jwk,
                          const struct tg_jws_opts *opts, const struct tg_jwt_expect *ex,
                          struct tg_jwt *out) TG_MUST_CHECK;
void tg_jwt_reset(struct tg_jwt *jwt);

/* NumericDates beyond year ~33,000 are nonsense and would overflow. */
#define TG_JWT_MAX_DATE 1000000000000LL

/* A NumericDate claim (RFC 7519 §2) as whole seconds: TG_ERR_JWT_CLAIM_MISSING
 * when absent, TG_ERR_JWT_CLAIM_INVALID when not a number in range. */
enum tg_err tg_jwt_numeric_date(const json_t *claims, const char *name,
                                int64_t *out) TG_MUST_CHECK;
/* The same rule for a number already parsed (`name` is for the log): an
 * integer within +-TG_JWT_MAX_DATE, or a real in range, floored. *out holds
 * the integer (or the floor) even when it is out of range, 0 for a real out
 * of range, as tg_jwt_numeric_date leaves it. */
enum tg_err tg_jwt_date_from_int(json_int_t v, const char *name, int64_t *out) TG_MUST_CHECK;
enum tg_err tg_jwt_date_from_real(double d, const char *name, int64_t *out) TG_MUST_CHECK;
const char *tg_jwt_claim_str(const json_t *claims, const char *name);

#endif
