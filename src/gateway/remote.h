/* A gateway-only process (tollgate serve --gateway-only): no authorization
 * server, no signing keys. The issuer's keys come from its JWKS over
 * HTTP(S) (cached; refetched on an unknown kid, at most once per
 * `min_interval`, so a flood of made-up kids costs one fetch, not one per
 * request), and the token's live state (revoked, agent disabled) from the
 * issuer's RFC 7662 introspection endpoint (cached briefly; unreachable:
 * 503). See docs/gateway.md "Gateway-only". */
#ifndef TG_GATEWAY_REMOTE_H
#define TG_GATEWAY_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "jose/jwk.h"

struct tg_gw_remote_keys_config {
    const char *jwks_uri;     /* http(s) URL of the issuer's JWKS (required) */
    int64_t min_interval;     /* seconds between two fetches at least; 0 = 10 */
    int64_t max_age;          /* a set older than this is refetched on its next use; 0 = 300 */
    long timeout_ms;          /* whole fetch; 0 = 5,000 */
    const char *ca_file;      /* CA bundle for https, NULL: the system's */
    const struct tg_clock *clock; /* NULL: system */
};

struct tg_gw_remote_keys;
struct tg_gw_remote_keys_stats {
    uint64_t fetches, failures, skipped; /* skipped: unknown kid within min_interval */
    size_t keys;                         /* in the current set */
};

/* Strings are copied. No fetch yet (tg_gw_remote_keys_fetch). */
enum tg_err tg_gw_remote_keys_new(const struct tg_gw_remote_keys_config *cfg,
                                  struct tg_gw_remote_keys **out) TG_MUST_CHECK;
void tg_gw_remote_keys_free(struct tg_gw_remote_keys *rk);
/* Fetch now (start-up), whatever the interval. Keeps the old set on error. */
enum tg_err tg_gw_remote_keys_fetch(struct tg_gw_remote_keys *rk) TG_MUST_CHECK;
/* Fits tg_rs_keys.find with arg = the remote keys: TG_ERR_NOT_FOUND for a
 * kid the issuer does not publish (after one refetch, or within
 * min_interval of the last one); TG_ERR_IO when the kid is unknown and the
 * JWKS cannot be fetched (the decision answers 503). A stale set whose
 * refetch fails is still used. */
enum tg_err tg_gw_remote_keys_find(void *rk, const char *kid, struct tg_jwk *out) TG_MUST_CHECK;
void tg_gw_remote_keys_stats(struct tg_gw_remote_keys *rk, struct tg_gw_remote_keys_stats *out);

struct tg_gw_introspect_config {
    const char *url;            /* the issuer's introspection endpoint (required) */
    const char *client_id;      /* an agent of the issuer (client_secret_basic) */
    const char *client_secret;
    int64_t cache_ttl;          /* seconds a result is reused; 0 = 5; < 0: never cached */
    long timeout_ms;            /* 0 = 5,000 */
    const char *ca_file;        /* CA bundle for https, NULL: the system's */
    const struct tg_clock *clock;
};
struct tg_gw_introspect;
/* Strings are copied (the secret wiped when freed). */
enum tg_err tg_gw_introspect_new(const struct tg_gw_introspect_config *cfg,
                                 struct tg_gw_introspect **out) TG_MUST_CHECK;
void tg_gw_introspect_free(struct tg_gw_introspect *in);
/* Fits tg_rs_state.active with arg = the introspection client: 1 active
 * (the issuer says so, for this jti), 0 inactive, -1 cannot tell
 * (unreachable, not 200, not JSON, another jti: the decision answers 503).
 * Introspection needs the token itself, which tg_rs_state does not carry:
 * it reads the request's Authorization value that tg_gw_decide hands over
 * on this thread (tg_gw_remote_set_authorization). */
int tg_gw_introspect_active(void *in, const char *jti, const char *client_id, int64_t iat);

/* For a gateway-only process without introspection: every verified token is
 * active until its exp (revocation and disabled agents are not seen). */
int tg_gw_state_until_exp(void *arg, const char *jti, const char *client_id, int64_t iat);

/* The Authorization value of the request being decided on this thread (or
 * NULL after the decision). Set by tg_gw_decide around tg_rs_decide. */
void tg_gw_remote_set_authorization(const char *value);

/* One HTTP exchange for the two above: GET when `form` is NULL, else POST
 * application/x-www-form-urlencoded; Basic auth when `user` is set (already
 * form-encoded, RFC 6749 §2.3.1). The body is capped at `cap`. No
 * redirects; http and https only. */
enum tg_err tg_gw_remote_http(const char *url, const char *form, const char *user,
                              const char *password, const char *ca_file, long timeout_ms,
                              size_t cap, long *status, struct tg_buf *body) TG_MUST_CHECK;

#endif
