/* Internals of src/http/ shared between its files; nothing outside the
 * folder includes this (tests of the pure parsers do). */
#ifndef TG_HTTP_INTERNAL_H
#define TG_HTTP_INTERNAL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/keyvalq_struct.h>

#include "http/http.h"

/* Longest text form of a peer address ("ffff:...:255.255.255.255"). */
#define TG_HTTP_ADDR_TEXT 64
/* Longest base URL we build or accept. */
#define TG_HTTP_BASE_URL_MAX 256
/* Cap on a client certificate (DER, or URL-encoded PEM in a proxy header). */
#define TG_HTTP_CERT_MAX 16384

struct site;
struct evhttp_request;

struct tg_http_request {
    const char *method, *path, *query;
    struct evkeyvalq *headers;  /* evhttp's input headers, or own_headers */
    struct tg_slice body;
    char peer[TG_HTTP_ADDR_TEXT];
    int tls;
    const char *base_url;
    struct tg_buf cert;         /* client certificate, DER */
    int cert_verified;
    int headers_too_large;      /* over max_headers_size: 431 */
    /* The server's own: where a deferred response goes (NULL when built by
     * tg_http_request_new). */
    struct site *site;
    struct evhttp_request *ereq;
    /* Owned copies of a request built by tg_http_request_new. */
    struct evkeyvalq own_headers;
    char *own_method, *own_path, *own_query, *own_base_url;
    uint8_t *own_body;
};

/* Header names a TLS-terminating proxy uses to pass the client certificate. */
#define TG_HTTP_HDR_NGINX_CERT "X-SSL-Client-Cert"
#define TG_HTTP_HDR_XFCC "X-Forwarded-Client-Cert"

/* Remove every occurrence of the proxy certificate headers. */
void tg_http_strip_proxy_headers(struct evkeyvalq *headers);
/* 1 when `name` is an RFC 9110 token (a valid field name or method). */
int tg_http_is_token(const char *name);

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

struct bufferevent;
struct event_base;
struct tg_http_tls;

/* The listener's SSL_CTX (TLS listeners) and client CA store (any listener
 * with client_ca_file). */
enum tg_err tg_http_tls_new(const struct tg_http_listener *l, struct tg_http_tls **out)
    TG_MUST_CHECK;
void tg_http_tls_free(struct tg_http_tls *t);
/* A server-side TLS bufferevent for a new connection, or NULL. */
struct bufferevent *tg_http_tls_bufferevent(struct tg_http_tls *t, struct event_base *base);
/* Whether `bev` is TLS and, if so, its client certificate (DER appended to
 * `der`, nothing when none) and whether it chained to the client CA. */
enum tg_err tg_http_tls_peer_cert(struct bufferevent *bev, int *is_tls, struct tg_buf *der,
                                  int *verified) TG_MUST_CHECK;
/* A PEM certificate from a trusted proxy: DER appended to `der` and whether
 * it chains to the listener's client CA (t may be NULL: no CA). */
enum tg_err tg_http_tls_proxy_cert(const struct tg_http_tls *t, struct tg_slice pem,
                                   struct tg_buf *der, int *verified) TG_MUST_CHECK;

#endif
