/* Private to src/oauth: the endpoint handlers and what they share. */
#ifndef TG_OAUTH_ENDPOINTS_H
#define TG_OAUTH_ENDPOINTS_H

#include "jose/jwt.h"
#include "oauth/as.h"

#define TG_PATH_METADATA "/.well-known/oauth-authorization-server"
#define TG_PATH_JWKS "/jwks"
#define TG_PATH_TOKEN "/token"
#define TG_PATH_AUTHORIZE "/authorize"
#define TG_PATH_INTROSPECT "/introspect"
#define TG_PATH_REVOKE "/revoke"

void tg_handle_token(void *ctx, const struct tg_http_request *req, struct tg_http_response *res);
void tg_handle_introspect(void *ctx, const struct tg_http_request *req,
                          struct tg_http_response *res);
void tg_handle_revoke(void *ctx, const struct tg_http_request *req, struct tg_http_response *res);

/* Read the form body of a POST (RFC 6749 §3.2: application/x-www-form-urlencoded). */
enum tg_err tg_oauth_read_form(const struct tg_http_request *req, struct tg_form *form,
                               const char **why) TG_MUST_CHECK;
/* Answer an error; for invalid_client sent with an Authorization header,
 * 401 with WWW-Authenticate: Basic (RFC 6749 §5.2). */
void tg_oauth_error(struct tg_http_response *res, enum tg_err err, const char *why,
                    int basic_challenge);

/* One of our access tokens, checked: signature by a published key, typ,
 * issuer, expiry, not revoked, agent active and not disabled since issue.
 * TG_OK: active. Anything else: inactive, with `why` for the log. */
enum tg_err tg_as_check_token(struct tg_as *as, const char *token, struct tg_jwt *jwt,
                              const char **why) TG_MUST_CHECK;

#endif
