/* tollgate serve [--dev]: the daemon (authorization server and gateway on
 * the same listeners). With --dev it makes (when new) a data directory with
 * a dev CA, a server certificate, a demo tenant, two demo agents (client
 * secret; client certificate), a demo tool served by a built-in echo
 * upstream (a second small server on 127.0.0.1, port chosen by the kernel)
 * and grants, writes DIR/dev.json for scripts and tests, and says how to
 * call it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/ctx.h"
#include "cli/serve_gateway.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "gateway/gateway.h"
#include "http/http.h"
#include "oauth/as.h"
#include "oauth/keys.h"

#define DEV_TENANT "demo"
#define DEV_SECRET_AGENT "demo-agent"
#define DEV_MTLS_AGENT "demo-mtls-agent"
#define DEV_MTLS_DN "CN=demo-mtls-agent,O=Tollgate dev"
#define DEV_TOOL "demo"

struct serve_opts {
    int dev;
    const char *listen, *tls_listen;
    const char *tls_cert, *tls_key, *client_ca;
    const char *spiffe_bundle, *spiffe_jwks; /* X.509 bundle (PEM), JWT bundle (JWKS file) */
    const char *trusted_proxies[9];
    size_t n_proxies;
    int workers;
    int64_t token_lifetime, rotate_every;
    int64_t upstream_timeout, stream_idle_timeout; /* seconds; 0: the gateway's defaults */
    int dpop_nonce;
    int pin_workers;
    /* --gateway-only (cli/serve_gateway.c) */
    int gateway_only;
    struct tg_serve_gateway_opts gw;
};

static int
usage(void)
{
    fprintf(stderr,
            "usage: tollgate serve [--dev] [--data DIR] [--listen ADDR:PORT]\n"
            "                      [--tls-listen ADDR:PORT --tls-cert PEM --tls-key PEM"
            " [--client-ca PEM]]\n"
            "                      [--master-key FILE] [--workers N] [--pin-workers]\n"
            "                      [--token-lifetime S]\n"
            "                      [--dpop-nonce] [--rotate-keys-every S] [--trusted-proxy ADDR]...\n"
            "                      [--upstream-timeout S] [--stream-idle-timeout S]\n"
            "                      [--spiffe-bundle PEM] [--spiffe-jwks JWKS-FILE]\n"
            "       tollgate serve --gateway-only --issuer URL --jwks-uri URL"
            " [--jwks-min-interval S]\n"
            "                      [--introspect URL --client-id ID --client-secret-file FILE"
            " [--introspect-cache S]]\n"
            "                      [--issuer-ca PEM] [--public-url URL] [--data DIR]"
            " [--listen ADDR:PORT]\n"
            "                      [--tls-listen ADDR:PORT --tls-cert PEM --tls-key PEM"
            " [--client-ca PEM]] [--workers N] [--pin-workers]\n"
            "                      [--dpop-nonce] [--trusted-proxy ADDR]...\n"
            "                      [--upstream-timeout S] [--stream-idle-timeout S]\n");
    return 2;
}

static enum tg_err
write_file(const char *dir, const char *name, const void *p, size_t len, mode_t mode)
{
    char path[4096], tmp[4200];
    int fd;
    ssize_t w;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    TG_ENSURE(fd >= 0, TG_ERR_IO, "open %s: %s", tmp, strerror(errno));
    w = write(fd, p, len);
    if (w != (ssize_t)len || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        TG_ENSURE(0, TG_ERR_IO, "write %s", tmp);
    }
    close(fd);
    TG_ENSURE(rename(tmp, path) == 0, TG_ERR_IO, "rename %s", path);
    return TG_OK;
}

static int
exists(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* A file of the data directory, or NULL when it is not there (quietly:
 * dev.json is absent on a first run). */
static char *
read_text(const char *dir, const char *name)
{
    char path[4096];
    size_t len;

    if (!exists(dir, name))
        return NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return tg_cli_read_file(path, 1 << 20, &len);
}

/* Write a key (0600) and a certificate for it. */
static enum tg_err
make_pair(const char *dir, const char *base, const struct tg_cert_spec *spec,
          const struct tg_key *issuer_key, const char *issuer_pem, struct tg_key **key_out)
{
    struct tg_key *k = NULL;
    struct tg_buf pem, cert;
    char name[256];
    enum tg_err rv = TG_OK;

    tg_buf_init_secret(&pem, 65536);
    tg_buf_init(&cert, 65536);
    TG_TRY(tg_key_generate(TG_KEY_EC_P256, 0, &k));
    TG_TRY(tg_key_private_pem(k, &pem));
    TG_TRY(tg_cert_issue(spec, k, issuer_key ? issuer_key : k, issuer_pem, &cert));
    snprintf(name, sizeof(name), "%s.key", base);
    TG_TRY(write_file(dir, name, pem.p, pem.len, 0600));
    snprintf(name, sizeof(name), "%s.pem", base);
    TG_TRY(write_file(dir, name, cert.p, cert.len, 0644));
    if (key_out != NULL) {
        *key_out = k;
        k = NULL;
    }
out:
    tg_key_free(k);
    tg_buf_reset(&pem);
    tg_buf_reset(&cert);
    return rv;
}

static enum tg_err
dev_certificates(const char *dir)
{
    struct tg_cert_spec ca = {"Tollgate dev CA", "Tollgate dev", 1, 0, NULL, NULL, NULL, NULL, 3650};
    struct tg_cert_spec server = {"localhost", "Tollgate dev", 0, 1, "localhost", "127.0.0.1", "::1",
                                  NULL, 825};
    struct tg_cert_spec agent = {DEV_MTLS_AGENT, "Tollgate dev", 0, 0, NULL, NULL, NULL,
                                 "spiffe://tollgate.dev/agents/" DEV_MTLS_AGENT, 825};
    struct tg_key *ca_key = NULL;
    char *ca_pem = NULL;
    enum tg_err rv = TG_OK;

    if (exists(dir, "ca.pem") && exists(dir, "server.pem") && exists(dir, "agent.pem"))
        return TG_OK;
    TG_TRY(make_pair(dir, "ca", &ca, NULL, NULL, &ca_key));
    ca_pem = read_text(dir, "ca.pem");
    TG_CHECK(ca_pem != NULL, TG_ERR_IO, "read ca.pem");
    TG_TRY(make_pair(dir, "server", &server, ca_key, ca_pem, NULL));
    TG_TRY(make_pair(dir, "agent", &agent, ca_key, ca_pem, NULL));
    tg_log_info("dev CA, server and agent certificates written to %s", dir);
out:
    free(ca_pem);
    tg_key_free(ca_key);
    return rv;
}

static enum tg_err
ensure_agent(struct tg_cli_ctx *ctx, const struct tg_agent *want)
{
    struct tg_agent have;
    enum tg_err rv;

    memset(&have, 0, sizeof(have));
    rv = tg_store_agent_get(ctx->store, want->id, &have);
    if (rv == TG_OK) {
        tg_agent_reset(&have);
        return TG_OK;
    }
    TG_ENSURE(rv == TG_ERR_NOT_FOUND, rv, "agent lookup");
    TG_GUARD(tg_agent_validate(want));
    return tg_store_agent_insert(ctx->store, want);
}

/* The demo agent's secret: kept in dev.json (the dev contract); reused when
 * it still matches, replaced otherwise. */
static enum tg_err
dev_secret(struct tg_cli_ctx *ctx, char out[TG_SECRET_LEN + 1])
{
    char *old = read_text(ctx->data_dir, "dev.json");
    json_t *doc = old ? json_loads(old, 0, NULL) : NULL;
    const char *s = json_string_value(
        json_object_get(json_object_get(json_object_get(doc, "agents"), "secret"), "client_secret"));
    struct tg_agent a;
    uint8_t mac[TG_SECRET_MAC_LEN];
    enum tg_err rv = TG_OK;

    memset(&a, 0, sizeof(a));
    if (s != NULL && strlen(s) == TG_SECRET_LEN &&
        tg_store_agent_get(ctx->store, DEV_SECRET_AGENT, &a) == TG_OK && a.has_secret &&
        tg_as_secret_mac(ctx->secret_key, s, mac) == TG_OK &&
        tg_ct_eq(mac, a.secret_mac, sizeof(mac))) {
        memcpy(out, s, TG_SECRET_LEN + 1);
        goto out;
    }
    TG_TRY(tg_secret_generate(out));
    TG_TRY(tg_as_secret_mac(ctx->secret_key, out, mac));
    TG_TRY(tg_store_agent_set_secret(ctx->store, DEV_SECRET_AGENT, mac));
out:
    tg_agent_reset(&a);
    json_decref(doc);
    if (old != NULL) {
        tg_wipe(old, strlen(old));
        free(old);
    }
    return rv;
}

static enum tg_err
dev_inventory(struct tg_cli_ctx *ctx, const char *issuer, const char *upstream)
{
    struct tg_agent secret_agent = {0}, mtls_agent = {0};
    struct tg_endpoint eps[3] = {
        {"GET", "/items", TG_ACTION_READ, TG_RISK_NORMAL},
        {"POST", "/items", TG_ACTION_WRITE, TG_RISK_NORMAL},
        {"DELETE", "/items/{id}", TG_ACTION_ADMIN, TG_RISK_HIGH},
    };
    struct tg_tool tool = {0};
    struct tg_grant g1 = {0}, g2 = {0};
    char resource[1024];
    int64_t now = (int64_t)time(NULL);

    secret_agent.id = DEV_SECRET_AGENT;
    secret_agent.type = TG_AGENT_INTERNAL;
    secret_agent.owner = "dev@localhost";
    secret_agent.tenant = DEV_TENANT;
    secret_agent.status = TG_AGENT_ACTIVE;
    secret_agent.auth_method = TG_AUTH_CLIENT_SECRET_BASIC;
    /* Bearer allowed so the curl quickstart works; a DPoP proof, when sent,
     * still binds the token, and high-risk actions still need one. */
    secret_agent.pop = TG_POP_BEARER;
    secret_agent.created_at = secret_agent.updated_at = now;
    TG_GUARD(ensure_agent(ctx, &secret_agent));

    mtls_agent.id = DEV_MTLS_AGENT;
    mtls_agent.type = TG_AGENT_TENANT;
    mtls_agent.owner = "dev@localhost";
    mtls_agent.tenant = DEV_TENANT;
    mtls_agent.status = TG_AGENT_ACTIVE;
    mtls_agent.auth_method = TG_AUTH_TLS_CLIENT_AUTH;
    mtls_agent.tls_subject_dn = DEV_MTLS_DN;
    mtls_agent.pop = TG_POP_MTLS;
    mtls_agent.created_at = mtls_agent.updated_at = now;
    TG_GUARD(ensure_agent(ctx, &mtls_agent));

    snprintf(resource, sizeof(resource), "%s/tools/%s", issuer, DEV_TOOL);
    tool.id = DEV_TOOL;
    tool.resource = resource;
    tool.upstream = (char *)upstream;
    tool.kind = "http";
    tool.endpoints = eps;
    tool.n_endpoints = 3;
    TG_GUARD(tg_tool_validate(&tool));
    TG_GUARD(tg_store_tool_put(ctx->store, &tool));

    g1.agent_id = DEV_SECRET_AGENT;
    g1.tool_id = DEV_TOOL;
    g1.actions = TG_ACTION_BIT(TG_ACTION_READ) | TG_ACTION_BIT(TG_ACTION_WRITE);
    g2 = g1;
    g2.agent_id = DEV_MTLS_AGENT;
    TG_GUARD(tg_store_grant_put(ctx->store, &g1));
    TG_GUARD(tg_store_grant_put(ctx->store, &g2));
    return TG_OK;
}

static enum tg_err
write_dev_json(struct tg_cli_ctx *ctx, const char *issuer, const char *mtls_base,
               const char *secret, const char *upstream)
{
    char path[4096], resource[1024], ca[4096], cert[4096], key[4096];
    json_t *doc;
    char *text;
    enum tg_err rv;

    snprintf(resource, sizeof(resource), "%s/tools/%s", issuer, DEV_TOOL);
    snprintf(ca, sizeof(ca), "%s/ca.pem", ctx->data_dir);
    snprintf(cert, sizeof(cert), "%s/agent.pem", ctx->data_dir);
    snprintf(key, sizeof(key), "%s/agent.key", ctx->data_dir);
    doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}},"
        " s:{s:s, s:s, s:[s,s], s:[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s,s:s}]}}",
        "issuer", issuer, "mtls_base", mtls_base, "ca_file", ca, "tenant", DEV_TENANT, "agents",
        "secret", "client_id", DEV_SECRET_AGENT, "client_secret", secret, "type", "internal",
        "mtls", "client_id", DEV_MTLS_AGENT, "cert_file", cert, "key_file", key, "tool", "id",
        DEV_TOOL, "resource", resource, "granted", "read", "write", "endpoints", "method", "GET",
        "path", "/items", "action", "read", "method", "POST", "path", "/items", "action", "write",
        "method", "DELETE", "path", "/items/{id}", "action", "admin", "risk", "high");
    TG_ENSURE(doc != NULL, TG_ERR_NOMEM, "dev.json");
    /* Beyond the documented shape: where the demo tool's echo upstream
     * listens (tests point their own tools at it). */
    json_object_set_new(doc, "echo_upstream", json_string(upstream));
    json_object_set_new(json_object_get(doc, "tool"), "upstream", json_string(upstream));
    text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    TG_ENSURE(text != NULL, TG_ERR_NOMEM, "dev.json");
    rv = write_file(ctx->data_dir, "dev.json", text, strlen(text), 0600);
    tg_wipe(text, strlen(text));
    free(text);
    snprintf(path, sizeof(path), "%s/dev.json", ctx->data_dir);
    (void)path;
    return rv;
}

struct rotator {
    struct tg_keyring *keys;
    struct tg_store *store; /* revocations past their token's expiry are purged */
    int64_t every;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
};

/* Reload the keyring often (a CLI `keys rotate` elsewhere), rotate on the
 * interval. */
static void *
rotator_main(void *arg)
{
    struct rotator *r = arg;
    struct timespec ts;
    int64_t last = (int64_t)time(NULL);

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        /* Every 15 s, or sooner when the rotation interval is shorter. */
        ts.tv_sec += r->every > 0 && r->every < 15 ? r->every : 15;
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->lock);
        if (r->every > 0 && (int64_t)time(NULL) - last >= r->every) {
            if (tg_keyring_rotate(r->keys, (int64_t)time(NULL)) == TG_OK)
                tg_log_info("signing keys rotated");
            else
                tg_log_warnx("key rotation failed: %s", tg_err_detail());
            last = (int64_t)time(NULL);
        } else if (tg_keyring_reload(r->keys) != TG_OK) {
            tg_log_warnx("keyring reload failed: %s", tg_err_detail());
        }
        /* A revoked token that has expired needs no revocation entry (a
         * minute of slack for clock skew). */
        if (r->store != NULL && tg_store_purge_expired(r->store, (int64_t)time(NULL) - 60) != TG_OK)
            tg_log_warnx("purging expired revocations failed: %s", tg_err_detail());
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* The --dev demo tool's upstream: a second small server, on its own thread,
 * that answers every request with what it received. */
struct echo {
    struct tg_http_router *router;
    struct tg_http_server *server;
    pthread_t thread;
    int started;
    char url[64];
};

static void *
echo_main(void *arg)
{
    struct echo *e = arg;

    if (tg_http_server_run(e->server, 0) != TG_OK)
        tg_log_warnx("echo upstream: %s", tg_err_detail());
    return NULL;
}

static enum tg_err
echo_start(struct echo *e)
{
    struct tg_http_config hc;

    memset(&hc, 0, sizeof(hc));
    hc.listeners[0].addr = "127.0.0.1:0";
    hc.n_listeners = 1;
    hc.workers = 2;
    e->router = tg_http_router_new();
    TG_ENSURE(e->router != NULL, TG_ERR_NOMEM, "echo router");
    TG_GUARD(tg_gateway_echo_routes(e->router));
    TG_GUARD(tg_http_server_new(&hc, e->router, &e->server));
    snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", tg_http_server_port(e->server, 0));
    TG_ENSURE(pthread_create(&e->thread, NULL, echo_main, e) == 0, TG_ERR_INTERNAL,
              "echo thread");
    e->started = 1;
    return TG_OK;
}

static void
echo_stop(struct echo *e)
{
    if (e->started) {
        tg_http_server_stop(e->server);
        pthread_join(e->thread, NULL);
    }
    tg_http_server_free(e->server);
    tg_http_router_free(e->router);
}

/* The gateway verifies tokens against the in-process keyring. */
static enum tg_err
keyring_find(void *arg, const char *kid, struct tg_jwk *out)
{
    return tg_keyring_find(arg, kid, out);
}

/* "127.0.0.1:8080" -> 9, "[::1]:8443" -> 5: the host part, brackets kept. */
static int
host_len(const char *addr)
{
    const char *c = strrchr(addr, ':');

    return c ? (int)(c - addr) : (int)strlen(addr);
}

/* 1 when `v` is a whole number of seconds in 1 .. 86400 (stored in *out). */
static int
seconds(const char *v, int64_t *out)
{
    char *end = NULL;
    long long n;

    if (v == NULL || *v < '0' || *v > '9')
        return 0;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 86400)
        return 0;
    *out = n;
    return 1;
}

static int
parse_opts(int argc, char **argv, struct serve_opts *o)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--dev") == 0) {
            o->dev = 1;
        } else if (strcmp(a, "--dpop-nonce") == 0) {
            o->dpop_nonce = 1;
        } else if (strcmp(a, "--pin-workers") == 0) {
            o->pin_workers = 1;
        } else if (strcmp(a, "--gateway-only") == 0) {
            o->gateway_only = 1;
        } else if (v == NULL) {
            return -1;
        } else if (strcmp(a, "--listen") == 0) {
            o->listen = v, i++;
        } else if (strcmp(a, "--tls-listen") == 0) {
            o->tls_listen = v, i++;
        } else if (strcmp(a, "--tls-cert") == 0) {
            o->tls_cert = v, i++;
        } else if (strcmp(a, "--tls-key") == 0) {
            o->tls_key = v, i++;
        } else if (strcmp(a, "--client-ca") == 0) {
            o->client_ca = v, i++;
        } else if (strcmp(a, "--spiffe-bundle") == 0) {
            o->spiffe_bundle = v, i++;
        } else if (strcmp(a, "--spiffe-jwks") == 0) {
            o->spiffe_jwks = v, i++;
        } else if (strcmp(a, "--workers") == 0) {
            o->workers = (int)strtol(v, NULL, 10), i++;
        } else if (strcmp(a, "--token-lifetime") == 0) {
            o->token_lifetime = strtoll(v, NULL, 10), i++;
        } else if (strcmp(a, "--rotate-keys-every") == 0) {
            o->rotate_every = strtoll(v, NULL, 10), i++;
        } else if (strcmp(a, "--upstream-timeout") == 0) {
            /* Whole seconds, 1 .. 86400; anything else is a usage error
             * rather than a silent default. */
            if (!seconds(v, &o->upstream_timeout))
                return -1;
            i++;
        } else if (strcmp(a, "--stream-idle-timeout") == 0) {
            if (!seconds(v, &o->stream_idle_timeout))
                return -1;
            i++;
        } else if (strcmp(a, "--issuer") == 0) {
            o->gw.issuer = v, i++;
        } else if (strcmp(a, "--jwks-uri") == 0) {
            o->gw.jwks_uri = v, i++;
        } else if (strcmp(a, "--jwks-min-interval") == 0) {
            o->gw.jwks_min_interval = strtoll(v, NULL, 10), i++;
        } else if (strcmp(a, "--introspect") == 0) {
            o->gw.introspect = v, i++;
        } else if (strcmp(a, "--client-id") == 0) {
            o->gw.client_id = v, i++;
        } else if (strcmp(a, "--client-secret-file") == 0) {
            o->gw.client_secret_file = v, i++;
        } else if (strcmp(a, "--introspect-cache") == 0) {
            o->gw.introspect_cache = strtoll(v, NULL, 10), i++;
        } else if (strcmp(a, "--issuer-ca") == 0) {
            o->gw.issuer_ca = v, i++;
        } else if (strcmp(a, "--public-url") == 0) {
            o->gw.public_url = v, i++;
        } else if (strcmp(a, "--trusted-proxy") == 0 && o->n_proxies < 8) {
            o->trusted_proxies[o->n_proxies++] = v, i++;
        } else {
            return -1;
        }
    }
    return 0;
}

/* How to call it. The demo secret is never printed: it lives in dev.json
 * (mode 0600), and the commands read it from there. */
static void
print_howto(const char *issuer, const char *mtls_base, const char *dir, const char *echo)
{
    printf("\nTollgate is running (dev mode).\n\n"
           "  issuer     %s\n  mTLS base  %s\n  data       %s (dev.json has everything below)\n"
           "  demo tool  %s/tools/%s -> echo upstream %s\n\n"
           "Get a token for the demo tool with the demo agent's client secret (in dev.json):\n\n"
           "  SECRET=$(sed -n 's/.*\"client_secret\": \"\\(.*\\)\".*/\\1/p' %s/dev.json)\n"
           "  curl -s -u %s:\"$SECRET\" \\\n"
           "    -d grant_type=client_credentials -d scope='demo:read demo:write' \\\n"
           "    %s/token\n\n"
           "Call the demo tool through the gateway with it (the echo upstream answers with\n"
           "what reached it: identity headers from the gateway, never your token):\n\n"
           "  TOKEN=$(curl -s -u %s:\"$SECRET\" \\\n"
           "    -d grant_type=client_credentials -d scope=demo:read %s/token \\\n"
           "    | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n"
           "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/tools/%s/items\n\n"
           "Or with the demo agent's client certificate (certificate-bound token):\n\n"
           "  curl -s --cacert %s/ca.pem --cert %s/agent.pem --key %s/agent.key \\\n"
           "    -d grant_type=client_credentials -d client_id=%s -d scope=demo:read \\\n"
           "    %s/token\n\n"
           "Metadata: %s/.well-known/oauth-authorization-server\n"
           "          %s/.well-known/oauth-protected-resource/tools/%s\n"
           "External authorizer (nginx auth_request): %s/check   Stop with Ctrl-C.\n\n",
           issuer, mtls_base, dir, issuer, DEV_TOOL, echo, dir, DEV_SECRET_AGENT, issuer,
           DEV_SECRET_AGENT, issuer, issuer, DEV_TOOL, dir, dir, dir, DEV_MTLS_AGENT, mtls_base,
           issuer, issuer, DEV_TOOL, issuer);
    fflush(stdout);
}

int
tg_cmd_serve(int argc, char **argv)
{
    struct serve_opts o = {0};
    struct tg_cli_opts copts = {0};
    struct tg_cli_ctx ctx;
    struct tg_http_config hc;
    struct tg_http_router *router = NULL;
    struct tg_http_server *server = NULL;
    struct tg_keyring *keys = NULL;
    struct tg_keyring_config kc = {TG_JWS_ES256, 0};
    struct tg_as_config ac = {0};
    struct tg_as *as = NULL;
    struct tg_gateway_config gc = {0};
    struct tg_gateway *gw = NULL;
    struct echo echo = {0};
    struct rotator rot = {0};
    pthread_t rot_thread;
    int rot_started = 0, status = 1;
    char *spiffe_jwks = NULL;
    char issuer[256], mtls_base[256], secret[TG_SECRET_LEN + 1] = "", srv_cert[4096],
        srv_key[4096], ca[4096];
    enum tg_err rv = TG_OK;

    memset(&ctx, 0, sizeof(ctx));
    memset(&hc, 0, sizeof(hc));
    argc = tg_cli_common_args(argc, argv, &copts, NULL);
    if (parse_opts(argc, argv, &o) != 0)
        return usage();
    if (o.gateway_only != (o.gw.issuer != NULL || o.gw.jwks_uri != NULL) ||
        (o.gateway_only && o.dev))
        return usage();
    if (o.gateway_only) {
        o.gw.copts = copts;
        o.gw.listen = o.listen;
        o.gw.tls_listen = o.tls_listen;
        o.gw.tls_cert = o.tls_cert;
        o.gw.tls_key = o.tls_key;
        o.gw.client_ca = o.client_ca;
        o.gw.trusted_proxies = o.trusted_proxies;
        o.gw.n_proxies = o.n_proxies;
        o.gw.workers = o.workers;
        o.gw.dpop_nonce = o.dpop_nonce;
        o.gw.pin_workers = o.pin_workers;
        o.gw.upstream_timeout = o.upstream_timeout;
        o.gw.stream_idle_timeout = o.stream_idle_timeout;
        return tg_serve_gateway_only(&o.gw);
    }
    if (o.dev) {
        if (copts.data_dir == NULL && getenv("TOLLGATE_DATA") == NULL)
            copts.data_dir = "./tollgate-dev";
        if (o.listen == NULL)
            o.listen = "127.0.0.1:8080";
        if (o.tls_listen == NULL)
            o.tls_listen = "127.0.0.1:8443";
        copts.create = 1;
    }
    if (o.listen == NULL && o.tls_listen == NULL)
        o.listen = "127.0.0.1:8080";
    TG_TRY(tg_cli_open(&copts, &ctx));
    if (o.dev) {
        TG_TRY(dev_certificates(ctx.data_dir));
        snprintf(srv_cert, sizeof(srv_cert), "%s/server.pem", ctx.data_dir);
        snprintf(srv_key, sizeof(srv_key), "%s/server.key", ctx.data_dir);
        snprintf(ca, sizeof(ca), "%s/ca.pem", ctx.data_dir);
        o.tls_cert = o.tls_cert ? o.tls_cert : srv_cert;
        o.tls_key = o.tls_key ? o.tls_key : srv_key;
        o.client_ca = o.client_ca ? o.client_ca : ca;
    }
    if (o.listen != NULL) {
        hc.listeners[hc.n_listeners].addr = o.listen;
        /* A TLS-terminating proxy in front (a trusted proxy address) passes
         * the client's certificate in a header: it is checked against the
         * same client CA as on the TLS listener, and a self-signed one is
         * kept unverified for self_signed_tls_client_auth, as there. */
        hc.listeners[hc.n_listeners].client_ca_file = o.client_ca;
        hc.listeners[hc.n_listeners].accept_self_signed = 1;
        hc.n_listeners++;
    }
    if (o.tls_listen != NULL) {
        TG_CHECK(o.tls_cert != NULL && o.tls_key != NULL, TG_ERR_CONFIG,
                 "--tls-listen needs --tls-cert and --tls-key");
        hc.listeners[hc.n_listeners].addr = o.tls_listen;
        hc.listeners[hc.n_listeners].tls = 1;
        hc.listeners[hc.n_listeners].cert_file = o.tls_cert;
        hc.listeners[hc.n_listeners].key_file = o.tls_key;
        hc.listeners[hc.n_listeners].client_ca_file = o.client_ca;
        hc.listeners[hc.n_listeners].client_cert = TG_HTTP_CERT_OPTIONAL;
        hc.listeners[hc.n_listeners].accept_self_signed = 1;
        hc.n_listeners++;
    }
    hc.workers = o.workers;
    hc.pin_workers = o.pin_workers;
    hc.trusted_proxies = o.n_proxies ? o.trusted_proxies : NULL;
    tg_audit_http_barrier(ctx.audit, &hc.barrier); /* group commit (audit.h) */
    router = tg_http_router_new();
    TG_CHECK(router != NULL, TG_ERR_NOMEM, "router");
    TG_TRY(tg_http_server_new(&hc, router, &server));
    /* The issuer is the plain listener when there is one (loopback only),
     * else the TLS one; ports are the bound ones (port 0 picks). */
    TG_CHECK(strrchr(o.listen ? o.listen : o.tls_listen, ':') != NULL &&
                 (o.tls_listen == NULL || strrchr(o.tls_listen, ':') != NULL),
             TG_ERR_CONFIG, "listen addresses are HOST:PORT");
    if (o.listen != NULL)
        snprintf(issuer, sizeof(issuer), "http://%.*s:%d", host_len(o.listen), o.listen,
                 tg_http_server_port(server, 0));
    else
        snprintf(issuer, sizeof(issuer), "https://%.*s:%d", host_len(o.tls_listen), o.tls_listen,
                 tg_http_server_port(server, 0));
    mtls_base[0] = '\0';
    if (o.tls_listen != NULL)
        snprintf(mtls_base, sizeof(mtls_base), "https://%.*s:%d", host_len(o.tls_listen),
                 o.tls_listen, tg_http_server_port(server, o.listen != NULL ? 1 : 0));
    TG_TRY(tg_keyring_open(ctx.store, ctx.master, &kc, (int64_t)time(NULL), &keys));
    ac.issuer = issuer;
    ac.mtls_base = mtls_base[0] ? mtls_base : NULL;
    ac.token_lifetime = o.token_lifetime;
    ac.dpop_require_nonce = o.dpop_nonce;
    ac.spiffe_bundle = o.spiffe_bundle ? o.spiffe_bundle : o.client_ca;
    if (o.spiffe_jwks != NULL) {
        size_t jlen;

        spiffe_jwks = tg_cli_read_file(o.spiffe_jwks, 1 << 20, &jlen);
        TG_CHECK(spiffe_jwks != NULL, TG_ERR_CONFIG, "cannot read %s", o.spiffe_jwks);
        ac.spiffe_jwks = spiffe_jwks;
    }
    TG_TRY(tg_as_new(&ac, ctx.store, keys, ctx.audit, ctx.secret_key, &as));
    TG_TRY(tg_as_routes(as, router));
    gc.issuer = issuer;
    gc.keys.find = keyring_find;
    gc.keys.arg = keys;
    gc.store = ctx.store;
    gc.audit = ctx.audit;
    gc.dpop_require_nonce = o.dpop_nonce;
    if (o.upstream_timeout > 0)
        gc.upstream_timeout_ms = (long)o.upstream_timeout * 1000;
    if (o.stream_idle_timeout > 0)
        gc.stream_idle_timeout_ms = (long)o.stream_idle_timeout * 1000;
    TG_TRY(tg_gateway_new(&gc, &gw));
    TG_TRY(tg_gateway_routes(gw, router));
    if (o.dev) {
        TG_TRY(echo_start(&echo));
        TG_TRY(dev_inventory(&ctx, issuer, echo.url));
        TG_TRY(dev_secret(&ctx, secret));
        TG_TRY(write_dev_json(&ctx, issuer, mtls_base, secret, echo.url));
        print_howto(issuer, mtls_base, ctx.data_dir, echo.url);
        tg_wipe(secret, sizeof(secret));
    } else {
        printf("tollgate: serving %s%s%s\n", issuer, mtls_base[0] ? " and " : "", mtls_base);
        fflush(stdout);
    }
    rot.keys = keys;
    rot.store = ctx.store;
    rot.every = o.rotate_every > 0 ? o.rotate_every : 86400;
    pthread_mutex_init(&rot.lock, NULL);
    pthread_cond_init(&rot.cond, NULL);
    rot_started = pthread_create(&rot_thread, NULL, rotator_main, &rot) == 0;
    TG_TRY(tg_http_server_run(server, 1));
    status = 0;
out:
    if (rot_started) {
        pthread_mutex_lock(&rot.lock);
        rot.stop = 1;
        pthread_cond_signal(&rot.cond);
        pthread_mutex_unlock(&rot.lock);
        pthread_join(rot_thread, NULL);
    }
    if (rv != TG_OK)
        fprintf(stderr, "tollgate: %s (%s)\n", tg_err_description(rv), tg_err_detail());
    tg_http_server_free(server);
    echo_stop(&echo);
    tg_gateway_free(gw);
    tg_as_free(as);
    tg_keyring_free(keys);
    tg_http_router_free(router);
    tg_cli_close(&ctx);
    free(spiffe_jwks);
    return status;
}
