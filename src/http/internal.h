/* Internals of src/http/ shared between its files; nothing outside the
 * folder includes this (tests of the pure parsers do). */
#ifndef TG_HTTP_INTERNAL_H
#define TG_HTTP_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/http.h"
#include "http/parse.h"

/* Longest text form of a peer address ("ffff:...:255.255.255.255"). */
#define TG_HTTP_ADDR_TEXT 64
/* Longest base URL we build or accept. */
#define TG_HTTP_BASE_URL_MAX 256
/* Cap on a client certificate (DER, or URL-encoded PEM in a proxy header). */
#define TG_HTTP_CERT_MAX 16384

struct conn;

struct tg_http_request {
    const char *method, *path, *query;
    /* The header fields in arrival order (the proxy certificate headers
     * already removed): in the connection's buffer, or own_fields. */
    struct tg_http_field *fields;
    size_t n_fields;
    struct tg_slice body;
    char peer[TG_HTTP_ADDR_TEXT];
    int tls;
    const char *base_url;
    struct tg_buf cert;         /* client certificate, DER (request_new) */
    struct tg_slice cert_der;   /* what tg_http_client_cert returns */
    int cert_verified;
    /* The server's own: the connection the response goes to (NULL when
     * built by tg_http_request_new). */
    struct conn *conn;
    /* Owned copies of a request built by tg_http_request_new. */
    struct tg_http_field *own_fields;
    size_t n_own_fields;
    char *own_method, *own_path, *own_query, *own_base_url;
    uint8_t *own_body;
};

/* Header names a TLS-terminating proxy uses to pass the client certificate. */
#define TG_HTTP_HDR_NGINX_CERT "X-SSL-Client-Cert"
#define TG_HTTP_HDR_XFCC "X-Forwarded-Client-Cert"

/* Remove every occurrence of the proxy certificate headers from
 * fields[0..*n), keeping the others in order. */
void tg_http_strip_proxy_headers(struct tg_http_field *fields, size_t *n);
/* tg_http_is_token (parse.h): header names and methods. */

/* --- addresses (addr.c) --- */

struct tg_http_ip {
    int family;        /* AF_INET or AF_INET6; v4-mapped v6 is folded to AF_INET */
    uint8_t a[16];
};

struct tg_http_cidr {
    struct tg_http_ip ip;
    unsigned bits;
};

/* "127.0.0.1:8080" or "[::1]:8080" (numeric host only) into a socket
 * address; `host` receives the host as written for URLs ("[::1]"). */
enum tg_err tg_http_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sslen,
                               char *host, size_t host_size) TG_MUST_CHECK;
void tg_http_ip_from_sockaddr(const struct sockaddr *sa, struct tg_http_ip *ip);
/* The port of an AF_INET or AF_INET6 address, or -1. */
int tg_http_sockaddr_port(const struct sockaddr_storage *ss);
int tg_http_ip_is_loopback(const struct tg_http_ip *ip);
void tg_http_ip_text(const struct tg_http_ip *ip, char out[TG_HTTP_ADDR_TEXT]);
/* "10.0.0.0/8", "::1", "fd00::/8". */
enum tg_err tg_http_cidr_parse(const char *s, struct tg_http_cidr *out) TG_MUST_CHECK;
int tg_http_cidr_match(const struct tg_http_cidr *c, const struct tg_http_ip *ip);

/* --- proxy certificate headers (proxy.c): pure parsers --- */

/* Percent-decoding of a URL-encoded PEM ("+" stays "+", as nginx escapes
 * it); a malformed escape or a NUL byte is an error. */
enum tg_err tg_http_url_decode(struct tg_slice in, struct tg_buf *out) TG_MUST_CHECK;
/* The Cert value of the last element of an Envoy X-Forwarded-Client-Cert
 * header (still URL-encoded, quotes removed), or an empty slice when that
 * element has none. The last element is the one the nearest proxy wrote. */
enum tg_err tg_http_xfcc_cert(struct tg_slice header, struct tg_slice *cert) TG_MUST_CHECK;

/* --- TLS (tls.c): the only file here that includes OpenSSL headers --- */

struct ssl_st; /* OpenSSL's SSL, opaque outside tls.c */
struct tg_http_tls;

/* The listener's SSL_CTX (TLS listeners) and client CA store (any listener
 * with client_ca_file). */
enum tg_err tg_http_tls_new(const struct tg_http_listener *l, struct tg_http_tls **out)
    TG_MUST_CHECK;
void tg_http_tls_free(struct tg_http_tls *t);

/* Non-blocking TLS on an accepted socket: an SSL in the server role on fd,
 * or NULL. The calls below say what the socket must become before the next
 * try (WANT_READ, WANT_WRITE), or that the connection is over (EOF: the
 * peer closed or reset; ERROR: a TLS failure, logged at debug level). */
enum tg_http_io {
    TG_HTTP_IO_OK = 0,
    TG_HTTP_IO_WANT_READ,
    TG_HTTP_IO_WANT_WRITE,
    TG_HTTP_IO_EOF,
    TG_HTTP_IO_ERROR,
};
struct ssl_st *tg_http_tls_ssl_new(struct tg_http_tls *t, int fd);
void tg_http_tls_ssl_free(struct ssl_st *ssl);
enum tg_http_io tg_http_tls_handshake(struct ssl_st *ssl);
enum tg_http_io tg_http_tls_read(struct ssl_st *ssl, void *p, size_t n, size_t *got);
enum tg_http_io tg_http_tls_write(struct ssl_st *ssl, const void *p, size_t n, size_t *wrote);
/* 1 when decrypted bytes wait inside the SSL (the socket will not say so). */
int tg_http_tls_pending(struct ssl_st *ssl);
/* Sends close_notify once, without waiting for the peer's. */
void tg_http_tls_close_notify(struct ssl_st *ssl);
/* The client certificate of a finished handshake (DER appended to `der`,
 * nothing when none) and whether it chained to the client CA. */
enum tg_err tg_http_tls_peer_cert(struct ssl_st *ssl, struct tg_buf *der, int *verified)
    TG_MUST_CHECK;
/* A PEM certificate from a trusted proxy: DER appended to `der` and whether
 * it chains to the listener's client CA (t may be NULL: no CA). */
enum tg_err tg_http_tls_proxy_cert(const struct tg_http_tls *t, struct tg_slice pem,
                                   struct tg_buf *der, int *verified) TG_MUST_CHECK;

/* --- the server (server.c: listeners, workers, stop; conn.c: connections) --- */

struct event;
struct event_base;

#define TG_HTTP_MAX_LISTENERS 4 /* = the size of tg_http_config.listeners */
#define TG_HTTP_WORKER_DATA_MAX 8

struct tg_http_listener_state {
    int tls;
    int accept_self_signed;
    struct tg_http_tls *tls_ctx; /* SSL_CTX and/or client CA store, or NULL */
    int fd;
    int port;
    char base_url[TG_HTTP_BASE_URL_MAX];
};

struct tg_http_worker;

/* One listener served by one worker. */
struct tg_http_site {
    struct tg_http_worker *w;
    struct tg_http_listener_state *l;
    int fd;                    /* this worker's listening socket, or -1 */
    int own_fd;                /* closed with the worker (not the listener's) */
    struct event *accept_ev;
    struct event *retry_ev;    /* re-enables accepting after an accept error */
};

struct tg_http_worker {
    struct tg_http_server *s;
    struct event_base *base;
    struct event *stop_ev, *deadline_ev;
    struct tg_http_site sites[TG_HTTP_MAX_LISTENERS];
    pthread_t thread;
    int started;
    int cpu;                   /* pinned to this CPU (--pin-workers), or -1 */
    int stopping;              /* this worker's thread only */
    size_t busy;               /* connections with a response under way */
    struct conn *conns;        /* every open connection */
    struct conn *flush;        /* answers to write at the end of this turn */
    long long flush_since;     /* when the oldest of them was queued (µs, monotonic) */
    const struct timeval *read_tv, *write_tv; /* common timeouts of this base */
    char date[40];             /* RFC 9110 §5.6.7 IMF-fixdate, for the Date field */
    long long date_sec;
    struct {
        const void *key;
        void *data;
        void (*free_fn)(void *data);
    } data[TG_HTTP_WORKER_DATA_MAX];
    size_t n_data;
};

struct tg_http_server {
    struct tg_http_listener_state l[TG_HTTP_MAX_LISTENERS];
    size_t n_listeners;
    struct tg_http_worker *w;
    size_t n_workers;
    const struct tg_http_router *router;
    struct tg_http_cidr *proxies;
    size_t n_proxies;
    size_t max_body, max_headers;
    struct timeval read_tv, write_tv;
    struct tg_http_barrier barrier;
    int pin_workers;
    struct event_base *ctl;    /* the thread in tg_http_server_run: stop and signals */
    struct event *ctl_stop_ev;
    atomic_int ran;
};

/* A new connection on `site` (conn.c): takes fd (closes it on failure). */
void tg_http_conn_accept(struct tg_http_site *site, int fd, const struct sockaddr *sa);
/* Stop: close what is idle or half-read, end started streams cleanly, and
 * let responses under way finish (with Connection: close). */
void tg_http_conn_stop_all(struct tg_http_worker *w);
/* Close every connection now (deadline, worker exit); streams are cut and
 * their owners told. */
void tg_http_conn_close_all(struct tg_http_worker *w);
/* Writes the answers the turn of the loop just run has queued. */
void tg_http_conn_flush_turn(struct tg_http_worker *w);
/* The worker's loop ends once it is stopping and nothing is busy. */
void tg_http_worker_maybe_finish(struct tg_http_worker *w);
int tg_http_peer_is_trusted(const struct tg_http_server *s, const struct tg_http_ip *ip);

#endif
