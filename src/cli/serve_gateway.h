/* tollgate serve --gateway-only: the gateway without an authorization
 * server and without signing keys, verifying an issuer's tokens with its
 * JWKS (and, when configured, its introspection endpoint for revocation).
 * Tools come from this process's own data directory (`tollgate apply`). */
#ifndef TG_CLI_SERVE_GATEWAY_H
#define TG_CLI_SERVE_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "cli/ctx.h"

struct tg_serve_gateway_opts {
    struct tg_cli_opts copts;
    const char *listen, *tls_listen, *tls_cert, *tls_key, *client_ca;
    const char *const *trusted_proxies;
    size_t n_proxies;
    int workers, dpop_nonce, pin_workers;
    const char *issuer;             /* --issuer: iss of the tokens (required) */
    const char *jwks_uri;           /* --jwks-uri (required) */
    int64_t jwks_min_interval;      /* --jwks-min-interval S: refetch at most that often */
    const char *introspect;         /* --introspect URL */
    const char *client_id;          /* --client-id: the agent that introspects */
    const char *client_secret_file; /* --client-secret-file */
    int64_t introspect_cache;       /* --introspect-cache S (0: default 5, -1: off) */
    const char *issuer_ca;          /* --issuer-ca PEM: CA bundle for an https issuer */
    const char *public_url;         /* --public-url: base URL agents use (resource_metadata) */
    int64_t upstream_timeout;       /* --upstream-timeout S (0: the gateway's default) */
    int64_t stream_idle_timeout;    /* --stream-idle-timeout S (0: the gateway's default) */
};

/* Runs until SIGINT/SIGTERM; returns the exit status. */
int tg_serve_gateway_only(struct tg_serve_gateway_opts *o);

#endif
