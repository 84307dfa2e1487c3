/* Access token verification on the resource side (RFC 9068 §4): parse,
 * typ, the issuer's key by kid, signature, claims; then the claims reduced
 * to struct tg_rs_token. Every refusal is TG_ERR_OAUTH_INVALID_TOKEN with a
 * client-safe reason; the JOSE detail stays in the thread's error detail. */
#include <stdlib.h>
#include <string.h>

#include "jose/jwt.h"
#include "verify/token.h"

#define MAX_DETAILS 64    /* TG_AUTHZ_MAX_DETAILS */
#define MAX_LIST 64       /* TG_AUTHZ_MAX_LIST */
#define MAX_AUD 16

struct tg_rs_token *
tg_rs_token_ref(struct tg_rs_token *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

static void
free_strv(char **v, size_t n)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
tg_rs_token_unref(struct tg_rs_token *t)
{
    size_t i;

    if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(t->scope);
    free_strv(t->aud, t->n_aud);
    for (i = 0; i < t->n_details; i++)
        tg_authz_detail_reset(&t->details[i]);
    free(t->details);
    free(t);
}

/* A string claim into a fixed field: absent is fine unless `required`; a
 * wrong type or a value that does not fit is not (never truncated). */
static int
copy_claim(const json_t *claims, const char *name, char *dst, size_t cap, int required)
{
    const json_t *v = json_object_get(claims, name);
    size_t n;

    if (v == NULL)
        return !required;
    if (!json_is_string(v))
        return 0;
    n = json_string_length(v);
    if (n >= cap || n == 0 || strlen(json_string_value(v)) != n)
        return 0;
    memcpy(dst, json_string_value(v), n + 1);
    return 1;
}

/* A JSON array of strings (at most MAX_LIST) into an owned vector; the
 * vector is allocated even when empty, so NULL still means "absent". */
static enum tg_err
strv_from_json(const json_t *arr, char ***out, size_t *n_out)
{
    const json_t *v;
    size_t i, n;
    char **vec;

    *out = NULL;
    *n_out = 0;
    TG_ENSURE(json_is_array(arr), TG_ERR_OAUTH_INVALID_TOKEN, "not an array");
    n = json_array_size(arr);
    TG_ENSURE(n <= MAX_LIST, TG_ERR_OAUTH_INVALID_TOKEN, "list too long");
    vec = calloc(n ? n : 1, sizeof(*vec));
    TG_ENSURE(vec != NULL, TG_ERR_NOMEM, "list");
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) {
            free_strv(vec, i);
            tg_err_raise(TG_ERR_OAUTH_INVALID_TOKEN, "list element not a string");
            return TG_ERR_OAUTH_INVALID_TOKEN;
        }
        if ((vec[i] = strdup(json_string_value(v))) == NULL) {
            free_strv(vec, i);
            tg_err_raise(TG_ERR_NOMEM, "list element");
            return TG_ERR_NOMEM;
        }
    }
    *out = vec;
    *n_out = n;
    return TG_OK;
}

/* One detail of type "tool" (RFC 9396 §2; the shape docs/policy.md gives).
 * Strict: a detail our authorization server could not have issued makes
 * the whole token invalid, since ignoring a malformed "endpoints" would
 * widen what the detail allows. Unknown action names grant nothing. */
static enum tg_err
parse_detail(const json_t *o, struct tg_authz_detail *d)
{
    const json_t *tool = json_object_get(o, "tool"), *acts = json_object_get(o, "actions");
    const json_t *eps = json_object_get(o, "endpoints"), *locs = json_object_get(o, "locations");
    const json_t *v;
    enum tg_action a;
    size_t i;

    TG_ENSURE(json_is_string(tool) && json_string_length(tool) > 0 &&
                  json_string_length(tool) <= TG_POLICY_ID_MAX,
              TG_ERR_OAUTH_INVALID_TOKEN, "detail: tool");
    TG_ENSURE(json_is_array(acts) && json_array_size(acts) > 0, TG_ERR_OAUTH_INVALID_TOKEN,
              "detail: actions");
    json_array_foreach(acts, i, v) {
        TG_ENSURE(json_is_string(v), TG_ERR_OAUTH_INVALID_TOKEN, "detail: action not a string");
        if (tg_action_parse(json_string_value(v), &a) == TG_OK)
            d->actions |= TG_ACTION_BIT(a);
    }
    d->tool = strdup(json_string_value(tool));
    TG_ENSURE(d->tool != NULL, TG_ERR_NOMEM, "detail tool");
    if (eps != NULL)
        TG_GUARD(strv_from_json(eps, &d->endpoints, &d->n_endpoints));
    if (locs != NULL)
        TG_GUARD(strv_from_json(locs, &d->locations, &d->n_locations));
    return TG_OK;
}

static enum tg_err
parse_details(const json_t *arr, struct tg_rs_token *t)
{
    const json_t *o, *type;
    size_t i, n;

    if (arr == NULL)
        return TG_OK;
    TG_ENSURE(json_is_array(arr), TG_ERR_OAUTH_INVALID_TOKEN, "authorization_details not an array");
    n = json_array_size(arr);
    TG_ENSURE(n <= MAX_DETAILS, TG_ERR_OAUTH_INVALID_TOKEN, "too many details");
    t->details = calloc(n ? n : 1, sizeof(*t->details));
    TG_ENSURE(t->details != NULL, TG_ERR_NOMEM, "details");
    json_array_foreach(arr, i, o) {
        type = json_object_get(o, "type");
        TG_ENSURE(json_is_object(o) && json_is_string(type), TG_ERR_OAUTH_INVALID_TOKEN,
                  "detail without a type");
        if (strcmp(json_string_value(type), "tool") != 0)
            continue; /* another resource's kind of detail: not ours to read */
        TG_GUARD(parse_detail(o, &t->details[t->n_details++]));
    }
    return TG_OK;
}

/* RFC 7519 §4.1.3: a string or a non-empty array of strings. */
static enum tg_err
parse_aud(const json_t *aud, struct tg_rs_token *t)
{
    if (json_is_string(aud)) {
        t->aud = calloc(1, sizeof(*t->aud));
        TG_ENSURE(t->aud != NULL, TG_ERR_NOMEM, "aud");
        t->aud[0] = strdup(json_string_value(aud));
        TG_ENSURE(t->aud[0] != NULL, TG_ERR_NOMEM, "aud");
        t->n_aud = 1;
        return TG_OK;
    }
    TG_ENSURE(json_is_array(aud) && json_array_size(aud) > 0 && json_array_size(aud) <= MAX_AUD,
              TG_ERR_OAUTH_INVALID_TOKEN, "aud");
    return strv_from_json(aud, &t->aud, &t->n_aud);
}

/* RFC 9449 §6.1, RFC 8705 §3.1. A cnf we cannot check is refused: the
 * token is bound to something, and accepting it unbound would fail open. */
static enum tg_err
parse_cnf(const json_t *cnf, struct tg_rs_token *t)
{
    const json_t *jkt, *x5t;

    if (cnf == NULL)
        return TG_OK;
    TG_ENSURE(json_is_object(cnf), TG_ERR_OAUTH_INVALID_TOKEN, "cnf not an object");
    jkt = json_object_get(cnf, "jkt");
    x5t = json_object_get(cnf, "x5t#S256");
    TG_ENSURE(jkt != NULL || x5t != NULL, TG_ERR_OAUTH_INVALID_TOKEN, "cnf: unsupported binding");
    if (jkt != NULL)
        TG_ENSURE(json_is_string(jkt) && json_string_length(jkt) == TG_THUMBPRINT_B64_LEN,
                  TG_ERR_OAUTH_INVALID_TOKEN, "cnf.jkt");
    if (x5t != NULL)
        TG_ENSURE(json_is_string(x5t) && json_string_length(x5t) == TG_THUMBPRINT_B64_LEN,
                  TG_ERR_OAUTH_INVALID_TOKEN, "cnf.x5t#S256");
    if (jkt != NULL)
        memcpy(t->jkt, json_string_value(jkt), TG_THUMBPRINT_B64_LEN + 1);
    if (x5t != NULL)
        memcpy(t->x5t, json_string_value(x5t), TG_THUMBPRINT_B64_LEN + 1);
    return TG_OK;
}

static enum tg_err
reduce(const json_t *c, struct tg_rs_token *t, const char **why)
{
    const json_t *scope = json_object_get(c, "scope");
    enum tg_err rv;

#define REFUSE(cond, reason)                                                                  \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            *why = (reason);                                                                  \
            tg_err_raise(TG_ERR_OAUTH_INVALID_TOKEN, "%s", (reason));                         \
            return TG_ERR_OAUTH_INVALID_TOKEN;                                                \
        }                                                                                     \
    } while (0)
    REFUSE(tg_jwt_numeric_date(c, "exp", &t->exp) == TG_OK, "the access token has no valid exp");
    REFUSE(tg_jwt_numeric_date(c, "iat", &t->iat) == TG_OK, "the access token has no valid iat");
    REFUSE(copy_claim(c, "jti", t->jti, sizeof(t->jti), 1), "the access token has no valid jti");
    REFUSE(copy_claim(c, "sub", t->sub, sizeof(t->sub), 1), "the access token has no valid sub");
    REFUSE(copy_claim(c, "client_id", t->client_id, sizeof(t->client_id), 1),
           "the access token has no valid client_id");
    REFUSE(copy_claim(c, "tenant", t->tenant, sizeof(t->tenant), 0) &&
               copy_claim(c, "owner", t->owner, sizeof(t->owner), 0) &&
               copy_claim(c, "agent_type", t->agent_type, sizeof(t->agent_type), 0),
           "the access token has an invalid identity claim");
    REFUSE(scope == NULL || (json_is_string(scope) && json_string_length(scope) <= TG_AUTHZ_MAX_SCOPE),
           "the access token has an invalid scope");
    if (scope != NULL) {
        t->scope = strdup(json_string_value(scope));
        if (t->scope == NULL)
            return TG_ERR_NOMEM;
    }
    REFUSE(json_object_get(c, "aud") != NULL, "the access token has no audience");
    rv = parse_aud(json_object_get(c, "aud"), t);
    REFUSE(rv != TG_ERR_OAUTH_INVALID_TOKEN, "the access token has an invalid audience");
    TG_GUARD(rv);
    rv = parse_cnf(json_object_get(c, "cnf"), t);
    REFUSE(rv != TG_ERR_OAUTH_INVALID_TOKEN, "the access token's binding (cnf) is not supported");
    TG_GUARD(rv);
    rv = parse_details(json_object_get(c, "authorization_details"), t);
    REFUSE(rv != TG_ERR_OAUTH_INVALID_TOKEN, "the access token's authorization_details are invalid");
    return rv;
#undef REFUSE
}

enum tg_err
tg_rs_token_verify(const struct tg_rs_config *cfg, const char *token, size_t len,
                   struct tg_rs_token **out, const char **why, int *unknown_kid)
{
    struct tg_jws_opts opts = {TG_JWS_ALGS_ALL, NULL, TG_RS_MAX_TOKEN};
    struct tg_jwt_expect ex = {.clock = cfg->clock,
                               .skew = cfg->skew,
                               .typ = "at+jwt",
                               .iss = cfg->issuer,
                               .require = TG_JWT_REQ_EXP | TG_JWT_REQ_IAT | TG_JWT_REQ_JTI |
                                          TG_JWT_REQ_SUB};
    struct tg_jwt jwt;
    struct tg_jwk key;
    struct tg_rs_token *t = NULL;
    enum tg_err rv = TG_OK, e;

    memset(&jwt, 0, sizeof(jwt));
    memset(&key, 0, sizeof(key));
    *out = NULL;
    *why = NULL;
    *unknown_kid = 0;
#define INVALID(reason)                                                    \
    do {                                                                   \
        *why = (reason);                                                   \
        TG_FAIL(TG_ERR_OAUTH_INVALID_TOKEN, "%s", (reason));               \
    } while (0)
    TG_CHECK(cfg->issuer != NULL && cfg->keys.find != NULL, TG_ERR_CONFIG,
             "issuer and keys are required");
    if (tg_jwt_parse(tg_slice(token, len), &opts, &jwt) != TG_OK)
        INVALID("the access token is not a well-formed JWT");
    /* RFC 9068 §4: typ at+jwt (or application/at+jwt), so that an ID token
     * or any other JWT from the same issuer is never taken for one. */
    if (tg_jwt_check_typ(&jwt, "at+jwt") != TG_OK)
        INVALID("the access token's typ must be at+jwt");
    if (jwt.jws.kid == NULL)
        INVALID("the access token has no kid");
    e = cfg->keys.find(cfg->keys.arg, jwt.jws.kid, &key);
    if (e == TG_ERR_NOT_FOUND) {
        *unknown_kid = 1;
        INVALID("the access token is signed by an unknown key");
    }
    if (e != TG_OK) {
        *why = "the issuer's keys are unavailable";
        TG_FAIL(e == TG_ERR_NOMEM ? TG_ERR_NOMEM : TG_ERR_STORE, "key lookup failed: %s",
                tg_err_name(e));
    }
    if (tg_jws_verify(&jwt.jws, &key) != TG_OK)
        INVALID("the access token's signature is invalid");
    e = tg_jwt_validate(&jwt, &ex);
    if (e == TG_ERR_JWT_EXPIRED)
        INVALID("the access token has expired");
    if (e == TG_ERR_JWT_NOT_YET_VALID || e == TG_ERR_JWT_IAT_FUTURE)
        INVALID("the access token is not valid yet");
    if (e == TG_ERR_JWT_ISS)
        INVALID("the access token is from another issuer");
    if (e != TG_OK)
        INVALID("the access token's claims are invalid");
    t = calloc(1, sizeof(*t));
    TG_CHECK(t != NULL, TG_ERR_NOMEM, "token");
    atomic_init(&t->refs, 1);
    TG_TRY(reduce(jwt.claims, t, why));
    *out = t;
    t = NULL;
#undef INVALID
out:
    tg_rs_token_unref(t);
    tg_jwk_reset(&key);
    tg_jwt_reset(&jwt);
    return rv;
}
