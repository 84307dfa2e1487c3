/* tollgate serve --gateway-only: the gateway's routes (/tools/..., /check,
 * protected-resource metadata) and nothing else. No authorization server,
 * no keyring: tokens are verified with the issuer's JWKS, fetched over
 * HTTP(S); with --introspect, every token's live state is asked of the
 * issuer (RFC 7662, cached briefly), else a token stays good until its exp.
 * See docs/gateway.md "Gateway-only". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/serve_gateway.h"
#include "core/log.h"
#include "core/mem.h"
#include "gateway/gateway.h"
#include "gateway/remote.h"
#include "http/http.h"

/* Plain http only to a loopback issuer (a test, a sidecar); else https. */
static int
url_ok(const char *u)
{
    static const char *const loop[] = {"http://127.", "http://localhost:", "http://localhost/",
                                       "http://[::1]"};
    size_t i;

    if (strncmp(u, "https://", 8) == 0)
        return 1;
    for (i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
        if (strncmp(u, loop[i], strlen(loop[i])) == 0)
            return 1;
    return 0;
}

static int
host_len(const char *addr)
{
    const char *c = strrchr(addr, ':');

    return c ? (int)(c - addr) : (int)strlen(addr);
}

/* The client secret: the file's first line. */
static char *
read_secret(const char *path)
{
    size_t len;
    char *s = tg_cli_read_file(path, 4096, &len);

    if (s == NULL)
        return NULL;
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        s[--len] = '\0';
    if (len == 0 || strchr(s, '\n') != NULL) {
        tg_wipe(s, len);
        free(s);
        return NULL;
    }
    return s;
}

int
tg_serve_gateway_only(struct tg_serve_gateway_opts *o)
{
    struct tg_cli_ctx ctx;
    struct tg_http_config hc;
    struct tg_http_router *router = NULL;
    struct tg_http_server *server = NULL;
    struct tg_gw_remote_keys_config kc = {0};
    struct tg_gw_remote_keys *keys = NULL;
    struct tg_gw_introspect_config ic = {0};
    struct tg_gw_introspect *intro = NULL;
    struct tg_gateway_config gc = {0};
    struct tg_gateway *gw = NULL;
    char base[300], *secret = NULL;
    int status = 1;
    enum tg_err rv = TG_OK;

    memset(&ctx, 0, sizeof(ctx));
    memset(&hc, 0, sizeof(hc));
    TG_CHECK(o->issuer != NULL && o->jwks_uri != NULL, TG_ERR_CONFIG,
             "--gateway-only needs --issuer and --jwks-uri");
    TG_CHECK(url_ok(o->jwks_uri) && (o->introspect == NULL || url_ok(o->introspect)),
             TG_ERR_CONFIG, "the JWKS and introspection URLs must be https (http: loopback only)");
    TG_CHECK((o->introspect == NULL) == (o->client_id == NULL) &&
                 (o->introspect == NULL) == (o->client_secret_file == NULL),
             TG_ERR_CONFIG, "--introspect needs --client-id and --client-secret-file");
    if (o->listen == NULL && o->tls_listen == NULL)
        o->listen = "127.0.0.1:8080";
    o->copts.create = 1;
    TG_TRY(tg_cli_open(&o->copts, &ctx));
    if (o->listen != NULL) {
        hc.listeners[hc.n_listeners].addr = o->listen;
        /* As in `serve`: a trusted proxy's certificate header is checked
         * against the client CA (the binding itself is the thumbprint). */
        hc.listeners[hc.n_listeners].client_ca_file = o->client_ca;
        hc.listeners[hc.n_listeners].accept_self_signed = 1;
        hc.n_listeners++;
    }
    if (o->tls_listen != NULL) {
        TG_CHECK(o->tls_cert != NULL && o->tls_key != NULL, TG_ERR_CONFIG,
                 "--tls-listen needs --tls-cert and --tls-key");
        hc.listeners[hc.n_listeners].addr = o->tls_listen;
        hc.listeners[hc.n_listeners].tls = 1;
        hc.listeners[hc.n_listeners].cert_file = o->tls_cert;
        hc.listeners[hc.n_listeners].key_file = o->tls_key;
        hc.listeners[hc.n_listeners].client_ca_file = o->client_ca;
        /* Certificate-bound tokens (RFC 8705 §3) need the client's
         * certificate whatever its issuer: the binding is its thumbprint, so
         * one is always asked for, and a self-signed one kept unverified. */
        hc.listeners[hc.n_listeners].client_cert = TG_HTTP_CERT_OPTIONAL;
        hc.listeners[hc.n_listeners].accept_self_signed = 1;
        hc.n_listeners++;
    }
    hc.workers = o->workers;
    hc.pin_workers = o->pin_workers;
    hc.trusted_proxies = o->n_proxies ? o->trusted_proxies : NULL;
    tg_audit_http_barrier(ctx.audit, &hc.barrier); /* group commit (audit.h) */
    router = tg_http_router_new();
    TG_CHECK(router != NULL, TG_ERR_NOMEM, "router");
    TG_TRY(tg_http_server_new(&hc, router, &server));
    TG_CHECK(strrchr(o->listen ? o->listen : o->tls_listen, ':') != NULL, TG_ERR_CONFIG,
             "listen addresses are HOST:PORT");
    if (o->public_url != NULL)
        snprintf(base, sizeof(base), "%s", o->public_url);
    else if (o->listen != NULL)
        snprintf(base, sizeof(base), "http://%.*s:%d", host_len(o->listen), o->listen,
                 tg_http_server_port(server, 0));
    else
        snprintf(base, sizeof(base), "https://%.*s:%d", host_len(o->tls_listen), o->tls_listen,
                 tg_http_server_port(server, 0));

    kc.jwks_uri = o->jwks_uri;
    kc.min_interval = o->jwks_min_interval;
    kc.ca_file = o->issuer_ca;
    TG_TRY(tg_gw_remote_keys_new(&kc, &keys));
    /* An issuer down at start-up is not fatal: the first token asks again. */
    if (tg_gw_remote_keys_fetch(keys) != TG_OK)
        tg_log_warnx("JWKS not fetched yet: %s", tg_err_detail());
    if (o->introspect != NULL) {
        secret = read_secret(o->client_secret_file);
        TG_CHECK(secret != NULL, TG_ERR_CONFIG, "cannot read a secret from %s",
                 o->client_secret_file);
        ic.url = o->introspect;
        ic.client_id = o->client_id;
        ic.client_secret = secret;
        ic.cache_ttl = o->introspect_cache;
        ic.ca_file = o->issuer_ca;
        TG_TRY(tg_gw_introspect_new(&ic, &intro));
        gc.state.active = tg_gw_introspect_active;
        gc.state.arg = intro;
    } else {
        gc.state.active = tg_gw_state_until_exp;
        tg_log_info("no --introspect: revoked tokens and disabled agents are refused only "
                    "once the token expires");
    }
    gc.issuer = o->issuer;
    gc.keys.find = tg_gw_remote_keys_find;
    gc.keys.arg = keys;
    gc.store = ctx.store;
    gc.audit = ctx.audit;
    gc.dpop_require_nonce = o->dpop_nonce;
    gc.metadata_base = base;
    if (o->upstream_timeout > 0)
        gc.upstream_timeout_ms = (long)o->upstream_timeout * 1000;
    if (o->stream_idle_timeout > 0)
        gc.stream_idle_timeout_ms = (long)o->stream_idle_timeout * 1000;
    TG_TRY(tg_gateway_new(&gc, &gw));
    TG_TRY(tg_gateway_routes(gw, router));
    printf("tollgate: gateway only, serving %s for issuer %s (keys from %s%s%s)\n", base,
           o->issuer, o->jwks_uri, intro != NULL ? ", state from " : ", no introspection",
           intro != NULL ? o->introspect : "");
    fflush(stdout);
    TG_TRY(tg_http_server_run(server, 1));
    status = 0;
out:
    if (rv != TG_OK)
        fprintf(stderr, "tollgate: %s (%s)\n", tg_err_description(rv), tg_err_detail());
    tg_http_server_free(server);
    tg_gateway_free(gw);
    tg_gw_introspect_free(intro);
    tg_gw_remote_keys_free(keys);
    tg_http_router_free(router);
    tg_cli_close(&ctx);
    if (secret != NULL) {
        tg_wipe(secret, strlen(secret));
        free(secret);
    }
    return status;
}
