/* HTTP/1.1 server on libevent 2 (evhttp) with OpenSSL 3 TLS. It knows no
 * OAuth: other folders register handlers on a router; a handler reads a
 * tg_http_request and fills a tg_http_response, synchronously, on the
 * worker thread that owns the connection. */
#ifndef TG_HTTP_HTTP_H
#define TG_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define TG_HTTP_MAX_HEADERS_SIZE 16384
#define TG_HTTP_MAX_BODY_SIZE 65536

struct tg_http_request; /* opaque: accessors below */

/* Request accessors. Strings are valid until the handler returns. */
const char *tg_http_method(const struct tg_http_request *r);   /* "GET", "POST", ... */
const char *tg_http_path(const struct tg_http_request *r);     /* raw path, no query */
const char *tg_http_query(const struct tg_http_request *r);    /* raw query or NULL */
/* First value of a header (case-insensitive name), or NULL. */
const char *tg_http_header(const struct tg_http_request *r, const char *name);
/* How many times a header occurs (RFC 9449 §4.3 wants exactly one DPoP). */
size_t tg_http_header_count(const struct tg_http_request *r, const char *name);
struct tg_slice tg_http_body(const struct tg_http_request *r);
/* The peer's address as text ("127.0.0.1", "::1"). */
const char *tg_http_peer(const struct tg_http_request *r);
int tg_http_is_tls(const struct tg_http_request *r);
/* The request's own base URL as the server is configured to be reached on
 * this listener ("https://127.0.0.1:8443"), for htu comparison. */
const char *tg_http_base_url(const struct tg_http_request *r);
/* DER of the client certificate presented on this TLS connection and
 * verified against the listener's client CA (or accepted self-signed when the
 * listener allows it: the caller then matches it against a registered one),
 * or taken from a trusted proxy's header. Empty slice when none. */
struct tg_slice tg_http_client_cert(const struct tg_http_request *r);
/* 1 when the client certificate chained to the listener's CA bundle. */
int tg_http_client_cert_verified(const struct tg_http_request *r);

struct tg_http_response {
    int status;
    struct tg_buf body;
    /* Up to 16 extra headers; names and values are copied. */
    size_t n_headers;
    struct {
        char *name, *value;
    } headers[16];
};

enum tg_err tg_http_response_header(struct tg_http_response *res, const char *name,
                                    const char *value) TG_MUST_CHECK;
/* Set status, Content-Type: application/json, Cache-Control: no-store and the body. */
enum tg_err tg_http_response_json(struct tg_http_response *res, int status,
                                  const char *json_text) TG_MUST_CHECK;
/* {"error": ..., "error_description": ...} with the status from the error
 * table; `oauth_error` overrides the table's RFC string when not NULL. */
enum tg_err tg_http_response_error(struct tg_http_response *res, enum tg_err err,
                                   const char *oauth_error, const char *description) TG_MUST_CHECK;

typedef void (*tg_http_handler)(void *ctx, const struct tg_http_request *req,
                                struct tg_http_response *res);

struct tg_http_router;
struct tg_http_router *tg_http_router_new(void);
void tg_http_router_free(struct tg_http_router *r);
/* Exact path match; method NULL matches any (the handler checks). A path
 * ending in "/*" matches that prefix. Unknown path: 404 JSON error; known
 * path, other method: 405 with Allow. */
enum tg_err tg_http_route(struct tg_http_router *r, const char *method, const char *path,
                          tg_http_handler fn, void *ctx) TG_MUST_CHECK;

enum tg_http_client_cert_mode {
    TG_HTTP_CERT_NONE = 0,     /* do not ask */
    TG_HTTP_CERT_OPTIONAL,     /* ask; verify against ca_file when given; allow none */
    TG_HTTP_CERT_REQUIRED,     /* ask; refuse the handshake without one */
};

struct tg_http_listener {
    const char *addr;          /* "127.0.0.1:8080", "[::1]:8080"; port 0 = any */
    int tls;
    const char *cert_file, *key_file;   /* server certificate (TLS) */
    const char *client_ca_file;         /* CA bundle for client certificates, or NULL */
    enum tg_http_client_cert_mode client_cert;
    int accept_self_signed;    /* keep unverifiable client certs for self_signed_tls_client_auth */
};

struct tg_http_config {
    struct tg_http_listener listeners[4];
    size_t n_listeners;
    int workers;               /* 0 = one per core */
    int read_timeout_s, write_timeout_s; /* 0 = 30 */
    size_t max_headers_size, max_body_size; /* 0 = defaults above */
    const char *const *trusted_proxies; /* NULL-terminated addresses allowed to pass a client cert header */
};

struct tg_http_server;
/* Binds every listener (plain HTTP is refused on non-loopback addresses). */
enum tg_err tg_http_server_new(const struct tg_http_config *cfg, struct tg_http_router *router,
                               struct tg_http_server **out) TG_MUST_CHECK;
/* The port a listener actually bound (after port 0). */
int tg_http_server_port(const struct tg_http_server *s, size_t listener);
/* Serve until tg_http_server_stop (or SIGTERM/SIGINT when `signals`). */
enum tg_err tg_http_server_run(struct tg_http_server *s, int signals) TG_MUST_CHECK;
/* Thread-safe; in-flight requests finish, then run returns. */
void tg_http_server_stop(struct tg_http_server *s);
void tg_http_server_free(struct tg_http_server *s);

#endif
