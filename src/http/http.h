/* HTTP/1.1 server on libevent 2 event loops with OpenSSL 3 TLS. It knows no
 * OAuth: other folders register handlers on a router; a handler reads a
 * tg_http_request and fills a tg_http_response, synchronously, on the
 * worker thread that owns the connection, or defers it (tg_http_defer) and
 * completes it later on that thread, buffered or streamed. */
#ifndef TG_HTTP_HTTP_H
#define TG_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define TG_HTTP_MAX_HEADERS_SIZE 16384
#define TG_HTTP_MAX_BODY_SIZE 65536
/* Cap on a response body a handler builds (tg_http_response_init). */
#define TG_HTTP_MAX_RESPONSE_SIZE (8u * 1024 * 1024)

struct tg_http_request; /* opaque: accessors below */

/* Request accessors. Strings are valid until the handler returns. */
const char *tg_http_method(const struct tg_http_request *r);   /* "GET", "POST", ... */
const char *tg_http_path(const struct tg_http_request *r);     /* raw path, no query */
const char *tg_http_query(const struct tg_http_request *r);    /* raw query or NULL */
/* First value of a header (case-insensitive name), or NULL. */
const char *tg_http_header(const struct tg_http_request *r, const char *name);
/* How many times a header occurs (RFC 9449 §4.3 wants exactly one DPoP). */
size_t tg_http_header_count(const struct tg_http_request *r, const char *name);
/* Every value of a header (case-insensitive name), in arrival order: up to
 * `max` pointers into out; returns how many there are (may exceed max). */
size_t tg_http_header_values(const struct tg_http_request *r, const char *name,
                             const char **out, size_t max);
/* Calls fn for every header in arrival order (the proxy certificate headers
 * are already gone); stops early when fn returns non-zero, and returns that. */
int tg_http_header_each(const struct tg_http_request *r,
                        int (*fn)(void *arg, const char *name, const char *value), void *arg);
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
 * or taken from a trusted proxy's header (from a trusted proxy, only from
 * the header). Empty slice when none. */
struct tg_slice tg_http_client_cert(const struct tg_http_request *r);
/* 1 when the client certificate chained to the listener's CA bundle. */
int tg_http_client_cert_verified(const struct tg_http_request *r);

/* A request built from parts, for testing handlers without a socket. The
 * strings and the body are copied; `headers` is NULL or a NULL-terminated
 * list of name, value pairs. The client certificate headers of a proxy are
 * dropped here too (pass the certificate itself in client_cert). */
struct tg_http_request_spec {
    const char *method, *path, *query;
    const char *const *headers;
    struct tg_slice body;
    const char *peer;          /* NULL: "127.0.0.1" */
    int tls;
    const char *base_url;      /* NULL: "http://127.0.0.1" */
    struct tg_slice client_cert; /* DER */
    int client_cert_verified;
};
enum tg_err tg_http_request_new(const struct tg_http_request_spec *spec,
                                struct tg_http_request **out) TG_MUST_CHECK;
void tg_http_request_free(struct tg_http_request *r);

struct tg_http_response {
    int status;                /* 200..599; left 0 (or invalid): the client gets a 500 */
    int deferred;              /* set by tg_http_defer: the server sends nothing now */
    struct tg_buf body;
    /* Up to 16 extra headers; names and values are copied, into hstore
     * while it has room (no allocation per header), else allocated. */
    size_t n_headers;
    struct {
        char *name, *value;
        size_t name_len;
        int owned; /* name and value were allocated */
    } headers[16];
    size_t hstore_len;
    char hstore[2048];
};

/* The server initialises and resets the response around each handler; these
 * are for code that builds one outside the server (tests). */
void tg_http_response_init(struct tg_http_response *res);
void tg_http_response_reset(struct tg_http_response *res);
/* Sets a header, replacing any earlier one of that name (so a handler can
 * override the Content-Type or Cache-Control tg_http_response_json set; put
 * several challenges in one WWW-Authenticate). Names must be RFC 9110
 * tokens, values may not hold CR, LF or other controls; the framing and
 * hop-by-hop headers (Content-Length, Transfer-Encoding, Connection,
 * Keep-Alive, Upgrade, Trailer) are the server's and are refused. */
enum tg_err tg_http_response_header(struct tg_http_response *res, const char *name,
                                    const char *value) TG_MUST_CHECK;
/* Set status (200..599), Content-Type: application/json, Cache-Control:
 * no-store and the body (replacing any earlier body). */
enum tg_err tg_http_response_json(struct tg_http_response *res, int status,
                                  const char *json_text) TG_MUST_CHECK;
/* {"error": ..., "error_description": ...} with the status from the error
 * table; `oauth_error` overrides the table's RFC string when not NULL (when
 * both are NULL: "invalid_request" for 4xx, "server_error" for 5xx);
 * `description` NULL: the table's client-safe one. The thread's
 * tg_err_detail() goes to the debug log, never into the response. */
enum tg_err tg_http_response_error(struct tg_http_response *res, enum tg_err err,
                                   const char *oauth_error, const char *description) TG_MUST_CHECK;

/* 1 when no component could read `path` differently from us: it starts
 * with "/", has no dot segments (RFC 3986 §5.2.4, raw or percent-encoded),
 * no encoded slash, backslash or NUL, and no raw backslash. */
int tg_http_path_is_safe(const char *path);

typedef void (*tg_http_handler)(void *ctx, const struct tg_http_request *req,
                                struct tg_http_response *res);

struct tg_http_router;
struct tg_http_router *tg_http_router_new(void);
void tg_http_router_free(struct tg_http_router *r);
/* Exact path match; method NULL matches any (the handler checks). A path
 * ending in "/" followed by a star matches that prefix (the longest one
 * wins; an exact route beats a prefix). Unknown path: 404 JSON error;
 * known path, other method: 405 with Allow. TG_ERR_CONFLICT for a
 * (method, path) registered twice. */
enum tg_err tg_http_route(struct tg_http_router *r, const char *method, const char *path,
                          tg_http_handler fn, void *ctx) TG_MUST_CHECK;
/* Route one request as the server does (404, 405 with Allow, HEAD served by
 * the GET handler, paths with dot segments refused with 400). The router is
 * read-only here, so workers share it: register every route before the
 * server starts. */
void tg_http_router_dispatch(const struct tg_http_router *r, const struct tg_http_request *req,
                             struct tg_http_response *res);

/* --- deferred and streamed responses ---
 *
 * A handler that cannot answer at once (it waits on an upstream) calls
 * tg_http_defer and returns without touching `res` again; it completes the
 * response later, on the same worker thread (driven by that worker's event
 * base, tg_http_stream_base), either buffered (tg_http_stream_finish) or
 * streamed (tg_http_stream_start, _write, _end). Every call below is for
 * that worker's thread only. If the client goes away first, or the server
 * cuts the response at its shutdown deadline, the cancel callback runs once
 * and the stream is freed right after it: the owner must drop its pointer
 * there and not call back into this API from inside the callback. */
struct tg_http_stream;
struct event_base;

/* The response to `req` will be completed later: NULL when it cannot be
 * (a request built with tg_http_request_new, out of memory); the handler
 * then answers synchronously as usual. On success res->deferred is set. */
struct tg_http_stream *tg_http_defer(const struct tg_http_request *req,
                                     struct tg_http_response *res) TG_MUST_CHECK;
/* The worker's event loop (for timers and sockets of the transfer). */
struct event_base *tg_http_stream_base(const struct tg_http_stream *s);
void tg_http_stream_set_cancel(struct tg_http_stream *s, void (*fn)(void *arg), void *arg);
/* Called (from the event loop) each time everything written so far has
 * reached the socket: a producer that paused on tg_http_stream_backlog
 * resumes there. */
void tg_http_stream_set_drain(struct tg_http_stream *s, void (*fn)(void *arg), void *arg);
/* A complete buffered response, sent as a synchronous handler's would be
 * (same header rules, HEAD, 204/304); frees s. */
void tg_http_stream_finish(struct tg_http_stream *s, struct tg_http_response *res);
/* Status and headers of `res` (its body is ignored) go out now; the body
 * follows in chunks (RFC 9112 §7.1 chunked coding for HTTP/1.1 clients; an
 * HTTP/1.0 client gets a body delimited by the connection's close, §6.3).
 * TG_ERR_INVALID_ARG for a status outside 200..599 or a HEAD / 204 / 304
 * answer (those carry no content: use finish). */
enum tg_err tg_http_stream_start(struct tg_http_stream *s, const struct tg_http_response *res)
    TG_MUST_CHECK;
/* One piece of the body (after start), queued for the client. */
enum tg_err tg_http_stream_write(struct tg_http_stream *s, const void *p, size_t n)
    TG_MUST_CHECK;
/* Bytes queued for the client and not yet written to its socket. */
size_t tg_http_stream_backlog(const struct tg_http_stream *s);
/* After start: `complete` ends the body properly (the last chunk); 0 cuts
 * the connection so the client sees a truncated body (a chunked body
 * without its last chunk). Frees s. */
void tg_http_stream_end(struct tg_http_stream *s, int complete);

/* Per-worker state another folder keeps (a connection pool driven by the
 * worker's loop): the value stored under `key` on the worker serving
 * `req`, or NULL (none yet, or a request built by tg_http_request_new). */
void *tg_http_worker_data(const struct tg_http_request *req, const void *key);
/* Stores it; the worker calls free_fn(data) when its loop has ended, after
 * cutting any stream still open and before its event base is freed. One
 * key per worker at most 8. */
enum tg_err tg_http_worker_data_set(const struct tg_http_request *req, const void *key,
                                    void *data, void (*free_fn)(void *data)) TG_MUST_CHECK;

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
    /* Keep client certificates that do not chain to client_ca_file (reported
     * unverified) for self_signed_tls_client_auth, on the TLS handshake and
     * from a trusted proxy's header; without it they are refused (TLS) or
     * dropped (header). */
    int accept_self_signed;
    /* The base URL clients use to reach this listener ("https://as.example.com"),
     * when it is not scheme://addr:port (a wildcard address, a proxy in front);
     * NULL: built from addr and the bound port. */
    const char *base_url;
};

/* What answers wait for: the audit log's group commit (audit.h). Before a
 * worker sends the first byte of an answer it calls sync(arg, mark), with
 * the mark taken when the request came in; non-zero means something
 * recorded since could not be written, and the answer does not go: a 500
 * goes instead (then the connection closes), or, when part of the answer
 * went already, the connection is cut. Each worker calls thread_start once
 * before it serves, and sync(arg, UINT64_MAX) at the end of every loop turn
 * (so nothing recorded waits for the next answer) and before it ends. All
 * NULL: no barrier. */
struct tg_http_barrier {
    void (*thread_start)(void *arg);
    uint64_t (*mark)(void *arg);
    int (*sync)(void *arg, uint64_t since);
    void *arg;
};

struct tg_http_config {
    struct tg_http_listener listeners[4];
    size_t n_listeners;
    int workers;               /* 0 = one per core */
    /* Worker i runs only on the i-th CPU this process may use (modulo
     * their number): no migrations, and two busy workers never share a
     * core while another idles. For a machine given to the server; on a
     * shared one a pinned worker cannot move away from a busy core. */
    int pin_workers;
    int read_timeout_s, write_timeout_s; /* 0 = 30 */
    /* 0 = defaults above. Over the limit: a JSON 431 / 413, then the
     * connection closes (lingering, so the client reads the answer). */
    size_t max_headers_size, max_body_size;
    /* NULL-terminated addresses ("127.0.0.1", "::1") or CIDR ranges
     * ("10.0.0.0/8") of TLS-terminating proxies allowed to pass the client
     * certificate in X-SSL-Client-Cert (nginx $ssl_client_escaped_cert) or
     * X-Forwarded-Client-Cert (Envoy XFCC, Cert="..."). From such a peer the
     * client certificate comes from the header only; from any other peer the
     * headers are ignored. Handlers never see either header. */
    const char *const *trusted_proxies;
    struct tg_http_barrier barrier;
};

struct tg_http_server;
/* Checks every listener, then binds them (TG_ERR_CONFIG for plain HTTP on a
 * non-loopback address, client certificates without TLS, unreadable TLS
 * files, a bad trusted proxy, a failed bind). The router must outlive it. */
enum tg_err tg_http_server_new(const struct tg_http_config *cfg, struct tg_http_router *router,
                               struct tg_http_server **out) TG_MUST_CHECK;
/* The port a listener actually bound (after port 0), or -1. */
int tg_http_server_port(const struct tg_http_server *s, size_t listener);
/* Serve until tg_http_server_stop (or SIGTERM/SIGINT when `signals`), once
 * per server. Ignores SIGPIPE for the process. Returns after the workers
 * have finished and the listening sockets are closed. */
enum tg_err tg_http_server_run(struct tg_http_server *s, int signals) TG_MUST_CHECK;
/* From any thread (not a signal handler), also before run: stop accepting;
 * responses whose handler ran are written (up to write_timeout), idle and
 * half-read connections are closed, then run returns. */
void tg_http_server_stop(struct tg_http_server *s);
/* NULL is fine; not while run is running. */
void tg_http_server_free(struct tg_http_server *s);

#endif
