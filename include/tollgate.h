/* libtollgate: what a tool links to verify Tollgate tokens in-process.
 * Opaque types, errors as enum values; the API grows with the resource-side
 * verification (src/verify/). Only symbols marked TOLLGATE_API are exported. */
#ifndef TOLLGATE_H
#define TOLLGATE_H

#ifdef __cplusplus
extern "C" {
#endif

#define TOLLGATE_API __attribute__((visibility("default")))

#define TOLLGATE_VERSION "0.1.0"

/* The library's version string, e.g. "0.1.0". */
TOLLGATE_API const char *tollgate_version(void);

/* Name of an error code returned by this library (e.g. "TG_ERR_JWS_SIG_INVALID"). */
TOLLGATE_API const char *tollgate_error_name(int err);

/* The OAuth error string for an error code in a given context (e.g.
 * "invalid_dpop_proof"): the code's own RFC string when it has one,
 * otherwise `context_error`. */
TOLLGATE_API const char *tollgate_error_oauth(int err, const char *context_error);

#ifdef __cplusplus
}
#endif

#endif
