/* One error enum for all of Tollgate. Each code has one row in the table in
 * err.c: its name, a client-safe description, the RFC error string it maps
 * to (NULL when the caller's context decides, e.g. a bad signature is
 * invalid_dpop_proof in a DPoP proof and invalid_client in a client
 * assertion) and the HTTP status. Internal detail (file:line and a message)
 * is kept per thread for the operational log, never for the client. */
#ifndef TG_CORE_ERR_H
#define TG_CORE_ERR_H

#include <stddef.h>

#define TG_ERR_LIST(X)                                                                    \
    X(TG_OK, NULL, 200, "ok")                                                             \
    X(TG_ERR_NOMEM, "server_error", 500, "out of memory")                                 \
    X(TG_ERR_INTERNAL, "server_error", 500, "internal error")                             \
    X(TG_ERR_INVALID_ARG, "invalid_request", 400, "invalid argument")                     \
    X(TG_ERR_TOO_LARGE, "invalid_request", 400, "input exceeds the size limit")           \
    X(TG_ERR_IO, "server_error", 500, "i/o error")                                        \
    /* base64url (RFC 7515 §2, RFC 4648 §5) */                                            \
    X(TG_ERR_B64_CHAR, NULL, 400, "character outside the base64url alphabet")             \
    X(TG_ERR_B64_LENGTH, NULL, 400, "impossible base64url length")                        \
    X(TG_ERR_B64_TRAILING_BITS, NULL, 400, "non-canonical base64url trailing bits")       \
    /* JSON */                                                                            \
    X(TG_ERR_JSON_MALFORMED, NULL, 400, "malformed JSON")                                 \
    X(TG_ERR_JSON_NOT_OBJECT, NULL, 400, "JSON value is not an object")                   \
    /* JWK (RFC 7517, RFC 7518 §6, RFC 8037) */                                           \
    X(TG_ERR_JWK_KTY, NULL, 400, "unsupported or missing key type")                       \
    X(TG_ERR_JWK_SYMMETRIC, NULL, 400, "symmetric keys are not accepted")                 \
    X(TG_ERR_JWK_CRV, NULL, 400, "unsupported or missing curve")                          \
    X(TG_ERR_JWK_MEMBER_MISSING, NULL, 400, "required key member missing")                \
    X(TG_ERR_JWK_MEMBER_INVALID, NULL, 400, "key member has an invalid value")            \
    X(TG_ERR_JWK_PRIVATE_MEMBER, NULL, 400, "private key member where only a public key is allowed") \
    X(TG_ERR_JWK_RSA_TOO_SMALL, NULL, 400, "RSA modulus shorter than 2048 bits")          \
    X(TG_ERR_JWK_INVALID_KEY, NULL, 400, "key is not a valid key")                        \
    X(TG_ERR_JWK_NOT_PRIVATE, NULL, 400, "a private key is required")                     \
    /* JWS (RFC 7515, RFC 7518 §3) */                                                     \
    X(TG_ERR_JWS_MALFORMED, NULL, 400, "malformed JWS compact serialization")             \
    X(TG_ERR_JWS_HEADER, NULL, 400, "invalid JWS header")                                 \
    X(TG_ERR_JWS_ALG_NONE, NULL, 400, "alg none is not accepted")                         \
    X(TG_ERR_JWS_ALG_SYMMETRIC, NULL, 400, "symmetric alg where an asymmetric key is expected") \
    X(TG_ERR_JWS_ALG_UNKNOWN, NULL, 400, "unknown alg")                                   \
    X(TG_ERR_JWS_ALG_NOT_ALLOWED, NULL, 400, "alg not allowed here")                      \
    X(TG_ERR_JWS_ALG_KEY_MISMATCH, NULL, 400, "alg does not match the key")               \
    X(TG_ERR_JWS_CRIT, NULL, 400, "unsupported critical header parameter")                \
    X(TG_ERR_JWS_SIG_LENGTH, NULL, 400, "signature has the wrong length")                 \
    X(TG_ERR_JWS_SIG_INVALID, NULL, 400, "signature verification failed")                 \
    /* JWT (RFC 7519) */                                                                  \
    X(TG_ERR_JWT_TYP, NULL, 400, "unexpected typ header")                                 \
    X(TG_ERR_JWT_CLAIMS, NULL, 400, "claims set is not a JSON object")                    \
    X(TG_ERR_JWT_CLAIM_MISSING, NULL, 400, "required claim missing")                      \
    X(TG_ERR_JWT_CLAIM_INVALID, NULL, 400, "claim has an invalid type or value")          \
    X(TG_ERR_JWT_EXPIRED, NULL, 400, "token expired")                                     \
    X(TG_ERR_JWT_NOT_YET_VALID, NULL, 400, "token not yet valid")                         \
    X(TG_ERR_JWT_IAT_FUTURE, NULL, 400, "token issued in the future")                     \
    X(TG_ERR_JWT_IAT_TOO_OLD, NULL, 400, "token issued too long ago")                     \
    X(TG_ERR_JWT_ISS, NULL, 400, "issuer mismatch")                                       \
    X(TG_ERR_JWT_AUD, NULL, 400, "audience mismatch")                                    \
    X(TG_ERR_DECRYPT, "server_error", 500, "decryption failed")                          \
    X(TG_ERR_SECRET_FORMAT, NULL, 401, "malformed secret")                                \
    /* Replay and short-lived state */                                                    \
    X(TG_ERR_REPLAY, NULL, 400, "already used")                                           \
    X(TG_ERR_CACHE_FULL, "temporarily_unavailable", 503, "replay cache full, try again")  \
    /* Storage */                                                                         \
    X(TG_ERR_NOT_FOUND, NULL, 404, "not found")                                           \
    X(TG_ERR_CONFLICT, "invalid_request", 409, "already exists")                          \
    X(TG_ERR_STORE, "server_error", 500, "storage error")                                 \
    X(TG_ERR_CONFIG, "server_error", 500, "configuration error")                          \
    /* Policy */                                                                          \
    X(TG_ERR_POLICY_INVALID, "invalid_request", 400, "invalid policy")                    \
    /* HTTP (RFC 9110) */                                                                 \
    X(TG_ERR_HTTP_METHOD, "invalid_request", 405, "method not allowed")                   \
    X(TG_ERR_HTTP_NOT_FOUND, "invalid_request", 404, "no such endpoint")                  \
    X(TG_ERR_HTTP_MEDIA_TYPE, "invalid_request", 415, "unsupported media type")           \
    X(TG_ERR_HTTP_TOO_LARGE, "invalid_request", 413, "request too large")                 \
    /* OAuth 2.0 (RFC 6749 §5.2 and extensions): the code names the RFC error */          \
    X(TG_ERR_OAUTH_INVALID_REQUEST, "invalid_request", 400, "invalid request")            \
    X(TG_ERR_OAUTH_INVALID_CLIENT, "invalid_client", 401, "client authentication failed") \
    X(TG_ERR_OAUTH_INVALID_GRANT, "invalid_grant", 400, "invalid grant")                  \
    X(TG_ERR_OAUTH_UNAUTHORIZED_CLIENT, "unauthorized_client", 400, "client not allowed this grant") \
    X(TG_ERR_OAUTH_UNSUPPORTED_GRANT_TYPE, "unsupported_grant_type", 400, "unsupported grant type") \
    X(TG_ERR_OAUTH_INVALID_SCOPE, "invalid_scope", 400, "scope not granted")              \
    X(TG_ERR_OAUTH_INVALID_TARGET, "invalid_target", 400, "unknown resource")             \
    X(TG_ERR_OAUTH_INVALID_AUTHZ_DETAILS, "invalid_authorization_details", 400,           \
      "invalid authorization_details")                                                    \
    X(TG_ERR_OAUTH_INVALID_DPOP_PROOF, "invalid_dpop_proof", 400, "invalid DPoP proof")   \
    X(TG_ERR_OAUTH_USE_DPOP_NONCE, "use_dpop_nonce", 400, "a DPoP nonce is required")     \
    X(TG_ERR_OAUTH_ACCESS_DENIED, "access_denied", 403, "access denied")                  \
    X(TG_ERR_OAUTH_INVALID_TOKEN, "invalid_token", 401, "invalid access token")           \
    X(TG_ERR_OAUTH_INSUFFICIENT_SCOPE, "insufficient_scope", 403, "insufficient scope")   \
    X(TG_ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE, "unsupported_token_type", 400,                 \
      "unsupported token type")

enum tg_err {
#define TG_ERR_ENUM_(code, rfc, status, desc) code,
    TG_ERR_LIST(TG_ERR_ENUM_)
#undef TG_ERR_ENUM_
    TG_ERR__COUNT
};

/* Name of the code ("TG_ERR_JWS_SIG_INVALID"), never NULL. */
const char *tg_err_name(enum tg_err err);
/* Client-safe description, never NULL. */
const char *tg_err_description(enum tg_err err);
/* RFC error string, or `context_error` when the code's meaning depends on
 * what was being checked (e.g. "invalid_dpop_proof", "invalid_client"). */
const char *tg_err_oauth(enum tg_err err, const char *context_error);
/* HTTP status for the code. */
int tg_err_status(enum tg_err err);

/* Thread-local detail of the last error raised on this thread: file:line and
 * an internal message, for the operational log only. */
void tg_err_raise_at(enum tg_err err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *tg_err_detail(void);
void tg_err_clear(void);

#define tg_err_raise(err, ...) tg_err_raise_at((err), __FILE__, __LINE__, __VA_ARGS__)

/* Guard macros (s2n-style). TG_GUARD: early return where nothing is owned.
 * TG_ENSURE: check a condition, record detail, return the error.
 * TG_TRY/TG_FAIL: with `enum tg_err rv` and an `out:` label, for functions
 * that own something. */
#define TG_GUARD(expr)                          \
    do {                                        \
        enum tg_err tg_guard_rv_ = (expr);      \
        if (tg_guard_rv_ != TG_OK)              \
            return tg_guard_rv_;                \
    } while (0)

#define TG_ENSURE(cond, err, ...)               \
    do {                                        \
        if (!(cond)) {                          \
            tg_err_raise((err), __VA_ARGS__);   \
            return (err);                       \
        }                                       \
    } while (0)

#define TG_TRY(expr)                            \
    do {                                        \
        rv = (expr);                            \
        if (rv != TG_OK)                        \
            goto out;                           \
    } while (0)

#define TG_FAIL(err, ...)                       \
    do {                                        \
        rv = (err);                             \
        tg_err_raise(rv, __VA_ARGS__);          \
        goto out;                               \
    } while (0)

#define TG_CHECK(cond, err, ...)                \
    do {                                        \
        if (!(cond))                            \
            TG_FAIL((err), __VA_ARGS__);        \
    } while (0)

#define TG_MUST_CHECK __attribute__((warn_unused_result))

/* Deliberately ignore a result (gcc does not accept a (void) cast for
 * warn_unused_result): only where nothing better can be done, e.g. adding
 * a header to an error response that is already being sent. */
#define TG_IGNORE(expr)                         \
    do {                                        \
        if ((expr) != TG_OK) {                  \
        }                                       \
    } while (0)

#endif
