/* Authorization server state, metadata (RFC 8414) and JWKS. */
#include "oauth/as.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "oauth/endpoints.h"

static enum tg_err
replay_insert(void *arg, const void *key, size_t len, int64_t exp, int64_t now)
{
    return tg_cache_insert_once(arg, key, len, exp, now);
}

int64_t
tg_as_now(const struct tg_as *as)
{
    return tg_clock_now(as->cfg.clock ? as->cfg.clock : &tg_clock_system);
}

enum tg_err
tg_as_new(const struct tg_as_config *cfg, struct tg_store *store, struct tg_keyring *keys,
          struct tg_audit *audit, const uint8_t secret_key[32], struct tg_as **out)
{
    struct tg_as *as;
    enum tg_err rv = TG_OK;

    *out = NULL;
    as = calloc(1, sizeof(*as));
    TG_ENSURE(as != NULL, TG_ERR_NOMEM, "as");
    as->cfg = *cfg;
    if (as->cfg.token_lifetime <= 0)
        as->cfg.token_lifetime = 300;
    if (as->cfg.dpop_iat_window <= 0)
        as->cfg.dpop_iat_window = 300;
    if (as->cfg.assertion_max_age <= 0)
        as->cfg.assertion_max_age = 600;
    if (as->cfg.replay_max_entries == 0)
        as->cfg.replay_max_entries = 1000000;
    TG_CHECK(cfg->issuer != NULL, TG_ERR_CONFIG, "issuer required");
    as->issuer = strdup(cfg->issuer);
    as->mtls_base = cfg->mtls_base ? strdup(cfg->mtls_base) : NULL;
    TG_CHECK(as->issuer != NULL && (cfg->mtls_base == NULL || as->mtls_base != NULL),
             TG_ERR_NOMEM, "issuer");
    /* RFC 8414 §2: the issuer has no trailing slash, query or fragment. */
    TG_CHECK(as->issuer[0] != '\0' && as->issuer[strlen(as->issuer) - 1] != '/' &&
                 strpbrk(as->issuer, "?#") == NULL,
             TG_ERR_CONFIG, "issuer must not end with '/' or carry a query");
    as->cfg.issuer = as->issuer;
    as->cfg.mtls_base = as->mtls_base;
    as->store = store;
    as->keys = keys;
    as->audit = audit;
    memcpy(as->secret_key, secret_key, 32);
    as->replay = tg_cache_memory_new(as->cfg.replay_max_entries);
    as->jwk_cache = tg_jwk_cache_new(4096);
    as->hdr_cache = tg_jws_header_cache_new(4096);
    as->snapshots = tg_snapshots_new(store);
    TG_CHECK(as->replay != NULL && as->jwk_cache != NULL && as->hdr_cache != NULL &&
                 as->snapshots != NULL,
             TG_ERR_NOMEM, "caches");
    TG_TRY(tg_random(as->nonce_key, sizeof(as->nonce_key)));
    as->dpop.algs = as->cfg.dpop_algs;
    as->dpop.iat_window = as->cfg.dpop_iat_window;
    as->dpop.key_cache = as->jwk_cache;
    as->dpop.header_cache = as->hdr_cache;
    as->dpop.replay.insert_once = replay_insert;
    as->dpop.replay.arg = as->replay;
    as->dpop.nonce_key = as->cfg.dpop_require_nonce ? as->nonce_key : NULL;
    as->dpop.clock = as->cfg.clock;
    *out = as;
    as = NULL;
out:
    tg_as_free(as);
    return rv;
}

void
tg_as_free(struct tg_as *as)
{
    if (as == NULL)
        return;
    tg_cache_free(as->replay);
    tg_jwk_cache_free(as->jwk_cache);
    tg_jws_header_cache_free(as->hdr_cache);
    tg_snapshots_free(as->snapshots);
    free(as->issuer);
    free(as->mtls_base);
    tg_wipe(as->secret_key, sizeof(as->secret_key));
    tg_wipe(as->nonce_key, sizeof(as->nonce_key));
    free(as);
}

#define SECRET_KEY_BLOB "client-secret-key"

enum tg_err
tg_as_secret_key(struct tg_store *store, const uint8_t master[TG_MASTER_KEY_LEN], uint8_t out[32])
{
    uint8_t *blob = NULL, fresh[32];
    size_t len = 0;
    struct tg_buf buf;
    enum tg_err rv = TG_OK, e;
    static const char aad[] = "tollgate:" SECRET_KEY_BLOB;

    tg_buf_init_secret(&buf, 4096);
    e = tg_store_blob_get(store, SECRET_KEY_BLOB, &blob, &len);
    if (e == TG_ERR_NOT_FOUND) {
        TG_TRY(tg_random(fresh, sizeof(fresh)));
        TG_TRY(tg_aead_seal(master, TG_SLICE_STR(aad), tg_slice(fresh, sizeof(fresh)), &buf));
        TG_TRY(tg_store_blob_put(store, SECRET_KEY_BLOB, buf.p, buf.len));
        memcpy(out, fresh, 32);
        goto out;
    }
    TG_CHECK(e == TG_OK, e, "read client secret key");
    rv = tg_aead_open(master, TG_SLICE_STR(aad), tg_slice(blob, len), &buf);
    if (rv == TG_ERR_DECRYPT)
        tg_err_raise(rv, "client secret key does not open: wrong master key?");
    TG_TRY(rv);
    TG_CHECK(buf.len == 32, TG_ERR_DECRYPT, "client secret key has the wrong size");
    memcpy(out, buf.p, 32);
out:
    tg_wipe(fresh, sizeof(fresh));
    free(blob);
    tg_buf_reset(&buf);
    return rv;
}

static void
set_alias(json_t *o, const char *name, const char *base, const char *path)
{
    char url[1024];

    snprintf(url, sizeof(url), "%s%s", base, path);
    json_object_set_new(o, name, json_string(url));
}

/* RFC 8414 §2 and §3; RFC 9449 §5.1; RFC 8705 §3.3 and §5; RFC 9396 §10. */
static void
handle_metadata(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_as *as = ctx;
    json_t *m = json_object(), *algs = json_array(), *aliases;
    char *text = NULL;
    int i;

    (void)req;
    if (m == NULL || algs == NULL)
        goto fail;
    json_object_set_new(m, "issuer", json_string(as->issuer));
    /* No grant of ours uses it (RFC 8414 §2 lets us omit it), but MCP SDK
     * clients refuse metadata without one: it exists and refuses every
     * response_type (RFC 6749 §4.1.2.1). */
    set_alias(m, "authorization_endpoint", as->issuer, TG_PATH_AUTHORIZE);
    set_alias(m, "token_endpoint", as->issuer, TG_PATH_TOKEN);
    set_alias(m, "jwks_uri", as->issuer, TG_PATH_JWKS);
    set_alias(m, "introspection_endpoint", as->issuer, TG_PATH_INTROSPECT);
    set_alias(m, "revocation_endpoint", as->issuer, TG_PATH_REVOKE);
    json_object_set_new(m, "grant_types_supported",
                        json_pack("[s,s]", "client_credentials", TG_GRANT_JWT_BEARER));
    json_object_set_new(m, "response_types_supported", json_array());
    json_object_set_new(m, "token_endpoint_auth_methods_supported",
                        json_pack("[s,s,s,s,s]", "client_secret_basic", "client_secret_post",
                                  "private_key_jwt", "tls_client_auth",
                                  "self_signed_tls_client_auth"));
    json_object_set_new(m, "introspection_endpoint_auth_methods_supported",
                        json_pack("[s,s,s,s,s]", "client_secret_basic", "client_secret_post",
                                  "private_key_jwt", "tls_client_auth",
                                  "self_signed_tls_client_auth"));
    json_object_set_new(m, "revocation_endpoint_auth_methods_supported",
                        json_pack("[s,s,s,s,s]", "client_secret_basic", "client_secret_post",
                                  "private_key_jwt", "tls_client_auth",
                                  "self_signed_tls_client_auth"));
    for (i = 1; i < TG_JWS_ALG__COUNT; i++)
        if (!as->cfg.dpop_algs || (as->cfg.dpop_algs & TG_JWS_ALG_BIT(i)))
            json_array_append_new(algs, json_string(tg_jws_alg_name((enum tg_jws_alg)i)));
    json_object_set(m, "dpop_signing_alg_values_supported", algs);
    json_object_set(m, "token_endpoint_auth_signing_alg_values_supported", algs);
    json_object_set_new(m, "tls_client_certificate_bound_access_tokens", json_true());
    json_object_set_new(m, "authorization_details_types_supported", json_pack("[s]", "tool"));
    if (as->mtls_base != NULL) {
        aliases = json_object();
        set_alias(aliases, "token_endpoint", as->mtls_base, TG_PATH_TOKEN);
        set_alias(aliases, "introspection_endpoint", as->mtls_base, TG_PATH_INTROSPECT);
        set_alias(aliases, "revocation_endpoint", as->mtls_base, TG_PATH_REVOKE);
        json_object_set_new(m, "mtls_endpoint_aliases", aliases);
    }
    text = json_dumps(m, JSON_COMPACT);
    if (text == NULL)
        goto fail;
    if (tg_http_response_json(res, 200, text) != TG_OK)
        goto fail;
    /* Metadata is public and changes rarely. */
    TG_IGNORE(tg_http_response_header(res, "Cache-Control", "public, max-age=300"));
    free(text);
    json_decref(algs);
    json_decref(m);
    return;
fail:
    free(text);
    json_decref(algs);
    json_decref(m);
    TG_IGNORE(tg_http_response_error(res, TG_ERR_NOMEM, NULL, NULL));
}

static void
handle_jwks(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_as *as = ctx;
    char *jwks = NULL;

    (void)req;
    if (tg_keyring_jwks(as->keys, &jwks) != TG_OK ||
        tg_http_response_json(res, 200, jwks) != TG_OK) {
        TG_IGNORE(tg_http_response_error(res, TG_ERR_INTERNAL, NULL, NULL));
    } else {
        TG_IGNORE(tg_http_response_header(res, "Content-Type", "application/jwk-set+json"));
        TG_IGNORE(tg_http_response_header(res, "Cache-Control", "public, max-age=60"));
    }
    free(jwks);
}

/* Agents authenticate themselves; there is no user to send here. */
static void
handle_authorize(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    (void)ctx;
    (void)req;
    TG_IGNORE(tg_http_response_error(res, TG_ERR_OAUTH_INVALID_REQUEST, "unsupported_response_type",
                                     "this server issues tokens to agents only "
                                     "(client_credentials, jwt-bearer)"));
}

enum tg_err
tg_as_routes(struct tg_as *as, struct tg_http_router *r)
{
    TG_GUARD(tg_http_route(r, "GET", TG_PATH_AUTHORIZE, handle_authorize, as));
    TG_GUARD(tg_http_route(r, "GET", TG_PATH_METADATA, handle_metadata, as));
    TG_GUARD(tg_http_route(r, "GET", TG_PATH_JWKS, handle_jwks, as));
    TG_GUARD(tg_http_route(r, "POST", TG_PATH_TOKEN, tg_handle_token, as));
    TG_GUARD(tg_http_route(r, "POST", TG_PATH_INTROSPECT, tg_handle_introspect, as));
    TG_GUARD(tg_http_route(r, "POST", TG_PATH_REVOKE, tg_handle_revoke, as));
    return TG_OK;
}
