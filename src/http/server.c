/* The HTTP/1.1 server: listening sockets bound once, one event loop per
 * worker thread, each with its own evhttp per listener accepting on the
 * shared sockets. Handlers run synchronously on the worker that owns the
 * connection. Stop (from any thread, or SIGTERM/SIGINT) stops accepting,
 * lets responses already produced be written, then closes the rest. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "core/log.h"
#include "http/internal.h"

#define TG_HTTP_MAX_LISTENERS (sizeof(((struct tg_http_config *)0)->listeners) / \
                               sizeof(((struct tg_http_config *)0)->listeners[0]))
#define TG_HTTP_MAX_WORKERS 256
#define TG_HTTP_DEFAULT_TIMEOUT_S 30

struct listener {
    int tls;
    int accept_self_signed;
    struct tg_http_tls *tls_ctx; /* SSL_CTX and/or client CA store, or NULL */
    int fd;
    int port;
    char base_url[TG_HTTP_BASE_URL_MAX];
};

struct worker;

/* One listener served by one worker. */
struct site {
    struct worker *w;
    struct listener *l;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *retry_ev; /* re-enables accepting after an accept error */
};

/* Per-worker data another folder keeps (tg_http_worker_data_set). */
#define TG_HTTP_WORKER_DATA_MAX 8

struct worker_data {
    const void *key;
    void *data;
    void (*free_fn)(void *data);
};

struct worker {
    struct tg_http_server *s;
    struct event_base *base;
    struct event *stop_ev, *deadline_ev;
    struct site sites[TG_HTTP_MAX_LISTENERS];
    pthread_t thread;
    int started;
    int stopping;      /* this worker's thread only */
    size_t inflight;   /* deferred responses, and responses handed to evhttp
                        * and not yet written */
    struct tg_http_stream *streams; /* deferred responses not yet handed over */
    struct worker_data data[TG_HTTP_WORKER_DATA_MAX];
    size_t n_data;
};

struct tg_http_server {
    struct listener l[TG_HTTP_MAX_LISTENERS];
    size_t n_listeners;
    struct worker *w;
    size_t n_workers;
    const struct tg_http_router *router;
    struct tg_http_cidr *proxies;
    size_t n_proxies;
    size_t max_body, max_headers;
    struct timeval read_tv, write_tv;
    struct event_base *ctl; /* the thread in tg_http_server_run: stop and signals */
    struct event *ctl_stop_ev;
    atomic_int ran;
};

/* A response in flight: counted until evhttp has written it or the
 * connection went away, whichever comes first. */
struct pending {
    struct worker *w;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
};

/* A deferred response (http.h): counted in inflight from tg_http_defer
 * until it is handed to evhttp (finish, end) or the client goes away. */
struct tg_http_stream {
    struct worker *w;
    struct site *site;
    struct evhttp_request *ereq;
    struct evhttp_connection *evcon;
    struct event *closed_ev;    /* the client's FIN while we wait (EV_CLOSED) */
    void (*cancel)(void *arg);
    void *cancel_arg;
    void (*drain)(void *arg);
    void *drain_arg;
    int started;
    struct tg_http_stream *prev, *next;
};

/* --- global setup --- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_ok;

static void
libevent_log(int severity, const char *msg)
{
    if (severity >= EVENT_LOG_WARN)
        tg_log_warnx("libevent: %s", msg);
    else
        tg_log_debug("libevent: %s", msg);
}

static void
global_init(void)
{
    event_set_log_callback(libevent_log);
    /* Locks on every base, so tg_http_server_stop can wake loops from any thread. */
    global_ok = evthread_use_pthreads() == 0;
}

/* --- requests --- */

static const char *
method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return NULL;
    }
}

static int
peer_is_trusted(const struct tg_http_server *s, const struct tg_http_ip *ip)
{
    size_t i;

    for (i = 0; i < s->n_proxies; i++) {
        if (tg_http_cidr_match(&s->proxies[i], ip))
            return 1;
    }
    return 0;
}

/* RFC 9112 §5.1 and §6.3: field names are tokens (no whitespace before the
 * colon); one Content-Length at most, and not together with chunking. */
static enum tg_err
check_headers(struct tg_http_request *req, size_t max_size, const char *target)
{
    const struct evkeyval *kv;
    size_t n_cl = 0, n_te = 0;
    /* The request line and each "name: value\r\n", as evhttp counts them. */
    size_t size = strlen(req->method) + 1 + (target != NULL ? strlen(target) : 0) + 11;

    for (kv = req->headers->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        TG_ENSURE(tg_http_is_token(kv->key), TG_ERR_OAUTH_INVALID_REQUEST, "bad field name");
        n_cl += strcasecmp(kv->key, "Content-Length") == 0;
        n_te += strcasecmp(kv->key, "Transfer-Encoding") == 0;
        size += strlen(kv->key) + strlen(kv->value) + 4;
    }
    req->headers_too_large = size > max_size;
    TG_ENSURE(n_cl <= 1 && !(n_cl && n_te), TG_ERR_OAUTH_INVALID_REQUEST,
              "ambiguous message framing");
    return TG_OK;
}

/* The client certificate passed by a trusted proxy. From such a peer the
 * header is the only source: the proxy's own TLS certificate is not the
 * client's. An unverifiable certificate is kept (unverified) only where the
 * listener accepts self-signed ones, as on a direct TLS connection. */
static enum tg_err
proxy_cert(const struct site *site, struct tg_http_request *req)
{
    enum tg_err rv = TG_OK;
    struct tg_buf pem;
    const char *nginx, *xfcc;
    struct tg_slice enc = {NULL, 0};
    int verified = 0;

    tg_buf_init(&pem, TG_HTTP_CERT_MAX);
    req->cert.len = 0;
    req->cert_verified = 0;
    TG_CHECK(tg_http_header_count(req, TG_HTTP_HDR_NGINX_CERT) +
                     tg_http_header_count(req, TG_HTTP_HDR_XFCC) <=
                 1,
             TG_ERR_OAUTH_INVALID_REQUEST, "more than one client certificate header");
    nginx = tg_http_header(req, TG_HTTP_HDR_NGINX_CERT);
    xfcc = tg_http_header(req, TG_HTTP_HDR_XFCC);
    if (nginx != NULL)
        enc = tg_slice(nginx, strlen(nginx));
    else if (xfcc != NULL)
        TG_CHECK(tg_http_xfcc_cert(tg_slice(xfcc, strlen(xfcc)), &enc) == TG_OK,
                 TG_ERR_OAUTH_INVALID_REQUEST, "malformed XFCC header: %s", tg_err_detail());
    if (enc.len == 0)
        goto out; /* the proxy saw no client certificate */
    TG_CHECK(tg_http_url_decode(enc, &pem) == TG_OK, TG_ERR_OAUTH_INVALID_REQUEST,
             "malformed client certificate header: %s", tg_err_detail());
    TG_CHECK(tg_http_tls_proxy_cert(site->l->tls_ctx, tg_slice(pem.p, pem.len), &req->cert,
                                    &verified) == TG_OK,
             TG_ERR_OAUTH_INVALID_REQUEST, "bad client certificate header: %s", tg_err_detail());
    if (!verified && !site->l->accept_self_signed) {
        tg_log_debug("dropping an unverified client certificate from proxy %s", req->peer);
        req->cert.len = 0;
    }
    req->cert_verified = verified;
out:
    tg_buf_reset(&pem);
    return rv;
}

/* The peer's address: evhttp keeps it as numeric text from accept(2), which
 * spares a getpeername(2) per request; a form inet_pton cannot read (a
 * scoped IPv6 address) falls back to asking the socket. */
static int
peer_addr(struct evhttp_connection *evcon, struct bufferevent *bev,
          struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    char *text = NULL;
    ev_uint16_t port = 0;
    int fd;

    memset(ss, 0, sizeof(*ss));
    evhttp_connection_get_peer(evcon, &text, &port);
    if (text != NULL && inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof(*v4);
        return 1;
    }
    if (text != NULL && inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof(*v6);
        return 1;
    }
    fd = (int)bufferevent_getfd(bev);
    *len = sizeof(*ss);
    return fd >= 0 && getpeername(fd, (struct sockaddr *)ss, len) == 0;
}

static enum tg_err
request_init(struct tg_http_request *req, const struct site *site, struct evhttp_request *ereq)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ereq);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ereq);
    struct evbuffer *in = evhttp_request_get_input_buffer(ereq);
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    struct tg_http_ip ip;
    size_t len;
    int trusted = 0;

    req->site = (struct site *)site;
    req->ereq = ereq;
    req->method = method_name(evhttp_request_get_command(ereq));
    req->headers = evhttp_request_get_input_headers(ereq);
    req->base_url = site->l->base_url;
    TG_ENSURE(req->method != NULL, TG_ERR_HTTP_METHOD, "method");
    TG_ENSURE(uri != NULL && bev != NULL, TG_ERR_OAUTH_INVALID_REQUEST, "no URI or connection");
    if (peer_addr(evcon, bev, &ss, &sslen)) {
        tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
        tg_http_ip_text(&ip, req->peer);
        trusted = peer_is_trusted(site->w->s, &ip);
    }
    req->path = evhttp_uri_get_path(uri);
    if (req->path == NULL)
        req->path = "";
    req->query = evhttp_uri_get_query(uri);
    TG_GUARD(check_headers(req, site->w->s->max_headers, evhttp_request_get_uri(ereq)));

    TG_ENSURE(!req->headers_too_large, TG_ERR_HTTP_TOO_LARGE, "header fields too large");
    len = evbuffer_get_length(in);
    TG_ENSURE(len <= site->w->s->max_body, TG_ERR_HTTP_TOO_LARGE, "body of %zu bytes", len);
    if (len > 0) {
        const unsigned char *p = evbuffer_pullup(in, -1);

        TG_ENSURE(p != NULL, TG_ERR_NOMEM, "evbuffer_pullup");
        req->body = tg_slice(p, len);
    } else {
        req->body = tg_slice("", 0);
    }

    TG_GUARD(tg_http_tls_peer_cert(bev, &req->tls, &req->cert, &req->cert_verified));
    /* A TLS listener whose connection is not TLS (libevent falls back to a
     * plain bufferevent when ours cannot be made): never serve it. */
    TG_ENSURE(req->tls == site->l->tls, TG_ERR_INTERNAL, "connection is not TLS");
    if (trusted)
        TG_GUARD(proxy_cert(site, req));
    tg_http_strip_proxy_headers(req->headers);
    return TG_OK;
}

/* --- responses --- */

static void
maybe_finish(struct worker *w)
{
    if (w->stopping && w->inflight == 0)
        event_base_loopexit(w->base, NULL);
}

static void
on_complete(struct evhttp_request *req, void *arg)
{
    struct pending *p = arg;
    struct worker *w = p->w;

    (void)req;
    evhttp_connection_set_closecb(p->evcon, NULL, NULL);
    free(p);
    w->inflight--;
    maybe_finish(w);
}

static void
on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct pending *p = arg;
    struct worker *w = p->w;

    (void)evcon;
    /* The request is freed after this callback, without completing. */
    evhttp_request_set_on_complete_cb(p->req, NULL, NULL);
    free(p);
    w->inflight--;
    maybe_finish(w);
}

/* The handler's headers and ours; 0 when one cannot be set. */
static int
add_headers(struct worker *w, struct evhttp_request *ereq, const struct tg_http_response *res)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(ereq);
    size_t i;
    int ok = 1;

    for (i = 0; i < res->n_headers; i++) {
        if (evhttp_add_header(out, res->headers[i].name, res->headers[i].value) != 0)
            ok = 0;
    }
    if (evhttp_find_header(out, "X-Content-Type-Options") == NULL)
        evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    if (w->stopping)
        evhttp_add_header(out, "Connection", "close");
    return ok;
}

/* Counts a response handed to evhttp until it is written or its
 * connection goes away. */
static void
track(struct worker *w, struct evhttp_request *ereq, struct evhttp_connection *evcon)
{
    struct pending *p;

    if (evcon == NULL)
        return;
    p = malloc(sizeof(*p));
    if (p == NULL)
        return;
    p->w = w;
    p->req = ereq;
    p->evcon = evcon;
    w->inflight++;
    evhttp_request_set_on_complete_cb(ereq, on_complete, p);
    evhttp_connection_set_closecb(evcon, on_conn_close, p);
}

static void
set_timeouts(struct worker *w, struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;

    /* evhttp has one timeout for both directions; ours differ. */
    if (bev != NULL)
        bufferevent_set_timeouts(bev, &w->s->read_tv, &w->s->write_tv);
}

static void
send_response(struct site *site, struct evhttp_request *ereq, struct tg_http_response *res)
{
    struct worker *w = site->w;
    struct evkeyvalq *out = evhttp_request_get_output_headers(ereq);
    struct evhttp_connection *evcon = evhttp_request_get_connection(ereq);
    int status = res->status;

    if (!add_headers(w, ereq, res))
        status = 500;
    if (status < 200 || status > 599)
        status = 500;
    /* libevent 2.1 writes whatever is in the output buffer, even for HEAD
     * or a 204: RFC 9110 §9.3.2, §15.3.5 and §15.4.5 say no content there
     * (and no Content-Length on a 204). */
    if (status == 204 || status == 304) {
        /* nothing */
    } else if (evhttp_request_get_command(ereq) == EVHTTP_REQ_HEAD) {
        char len[32];

        snprintf(len, sizeof(len), "%zu", res->body.len);
        evhttp_add_header(out, "Content-Length", len);
    } else if (res->body.len > 0 && evbuffer_add(evhttp_request_get_output_buffer(ereq),
                                                 res->body.p, res->body.len) != 0) {
        status = 500;
    }
    set_timeouts(w, evcon);
    track(w, ereq, evcon);
    evhttp_send_reply(ereq, status, NULL, NULL);
}

/* --- deferred responses --- */

static void
stream_unlink(struct tg_http_stream *st)
{
    struct worker *w = st->w;

    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        w->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    st->prev = st->next = NULL;
    if (st->closed_ev != NULL) {
        event_free(st->closed_ev);
        st->closed_ev = NULL;
    }
    evhttp_connection_set_closecb(st->evcon, NULL, NULL);
}

/* The stream no longer counts: the response was handed to evhttp (which
 * tracks it from there) or is gone. */
static void
stream_release(struct tg_http_stream *st)
{
    struct worker *w = st->w;

    free(st);
    w->inflight--;
    maybe_finish(w);
}

/* The client went away (or the server cut the stream): the owner cancels
 * its work, then the stream is freed. */
static void
stream_gone(struct tg_http_stream *st)
{
    if (st->cancel != NULL)
        st->cancel(st->cancel_arg);
    stream_release(st);
}

/* evhttp is freeing the connection: a request it detached because the
 * client closed first (no reply yet) is ours to free; one still on the
 * connection is freed by evhttp right after this callback. */
static void
on_stream_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct tg_http_stream *st = arg;

    (void)evcon;
    stream_unlink(st);
    if (evhttp_request_get_connection(st->ereq) == NULL)
        evhttp_request_free(st->ereq);
    stream_gone(st);
}

/* Cut the client's connection (evhttp frees the request with it). */
static void
stream_cut(struct tg_http_stream *st)
{
    struct evhttp_connection *evcon = st->evcon;

    stream_unlink(st);
    evhttp_connection_free(evcon);
}

/* The client closed its side while we wait or stream (a client does not
 * half-close an HTTP/1.1 request): stop the work now rather than at the
 * next write. */
static void
on_stream_closed(evutil_socket_t fd, short what, void *arg)
{
    struct tg_http_stream *st = arg;

    (void)fd;
    (void)what;
    tg_log_debug("client closed a deferred response's connection");
    stream_cut(st);
    stream_gone(st);
}

struct tg_http_stream *
tg_http_defer(const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_http_stream *st;
    struct evhttp_connection *evcon;
    struct bufferevent *bev;
    struct worker *w;

    if (req == NULL || res == NULL || req->site == NULL || req->ereq == NULL)
        return NULL;
    evcon = evhttp_request_get_connection(req->ereq);
    bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    if (bev == NULL)
        return NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    w = req->site->w;
    st->w = w;
    st->site = req->site;
    st->ereq = req->ereq;
    st->evcon = evcon;
    /* Without EV_CLOSED support (not epoll) the client's leaving is seen at
     * the next write instead. */
    st->closed_ev = event_new(w->base, bufferevent_getfd(bev), EV_CLOSED | EV_PERSIST,
                              on_stream_closed, st);
    if (st->closed_ev != NULL && event_add(st->closed_ev, NULL) != 0) {
        event_free(st->closed_ev);
        st->closed_ev = NULL;
    }
    /* No read timeout while the answer is produced (an SSE stream may stay
     * quiet for minutes); a client that stops reading still meets the
     * write timeout. Restored when the response is handed over. */
    bufferevent_set_timeouts(bev, NULL, &w->s->write_tv);
    evhttp_connection_set_closecb(evcon, on_stream_conn_close, st);
    st->next = w->streams;
    if (w->streams != NULL)
        w->streams->prev = st;
    w->streams = st;
    w->inflight++;
    res->status = 200; /* the router's check: a deferred response is not a missing one */
    res->deferred = 1;
    return st;
}

struct event_base *
tg_http_stream_base(const struct tg_http_stream *s)
{
    return s->w->base;
}

void
tg_http_stream_set_cancel(struct tg_http_stream *s, void (*fn)(void *arg), void *arg)
{
    s->cancel = fn;
    s->cancel_arg = arg;
}

void
tg_http_stream_set_drain(struct tg_http_stream *s, void (*fn)(void *arg), void *arg)
{
    s->drain = fn;
    s->drain_arg = arg;
}

void
tg_http_stream_finish(struct tg_http_stream *s, struct tg_http_response *res)
{
    stream_unlink(s);
    send_response(s->site, s->ereq, res);
    stream_release(s);
}

enum tg_err
tg_http_stream_start(struct tg_http_stream *s, const struct tg_http_response *res)
{
    struct evhttp_request *ereq = s->ereq;

    TG_ENSURE(!s->started, TG_ERR_INVALID_ARG, "stream already started");
    TG_ENSURE(res->status >= 200 && res->status <= 599 && res->status != 204 &&
                  res->status != 304 && evhttp_request_get_command(ereq) != EVHTTP_REQ_HEAD,
              TG_ERR_INVALID_ARG, "status %d cannot be streamed", res->status);
    TG_ENSURE(add_headers(s->w, ereq, res), TG_ERR_INVALID_ARG, "response headers");
    /* RFC 9112 §6.3: an HTTP/1.0 client cannot read chunked coding; its
     * body ends with the connection. evhttp would instead add
     * "Content-Length: 0" for a 1.0 keep-alive request, so the request's
     * Connection header goes and ours says close. */
    {
        /* libevent 2.1 has no accessor for the version but this struct. */
        if (ereq->major == 1 && ereq->minor == 0) {
            evhttp_remove_header(evhttp_request_get_input_headers(ereq), "Connection");
            evhttp_remove_header(evhttp_request_get_output_headers(ereq), "Connection");
            evhttp_add_header(evhttp_request_get_output_headers(ereq), "Connection", "close");
        }
    }
    s->started = 1;
    evhttp_send_reply_start(ereq, res->status, NULL);
    return TG_OK;
}

static void
on_stream_written(struct evhttp_connection *evcon, void *arg)
{
    struct tg_http_stream *st = arg;

    (void)evcon;
    if (st->drain != NULL)
        st->drain(st->drain_arg);
}

enum tg_err
tg_http_stream_write(struct tg_http_stream *s, const void *p, size_t n)
{
    struct evbuffer *b;
    int rc;

    TG_ENSURE(s->started, TG_ERR_INVALID_ARG, "stream not started");
    if (n == 0)
        return TG_OK; /* an empty chunk would end the chunked body */
    b = evbuffer_new();
    TG_ENSURE(b != NULL, TG_ERR_NOMEM, "evbuffer_new");
    rc = evbuffer_add(b, p, n);
    if (rc == 0)
        evhttp_send_reply_chunk_with_cb(s->ereq, b, on_stream_written, s);
    evbuffer_free(b);
    TG_ENSURE(rc == 0, TG_ERR_NOMEM, "evbuffer_add");
    return TG_OK;
}

size_t
tg_http_stream_backlog(const struct tg_http_stream *s)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);

    return bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

void
tg_http_stream_end(struct tg_http_stream *s, int complete)
{
    struct worker *w = s->w;

    if (!complete || !s->started) {
        stream_cut(s);
        stream_release(s);
        return;
    }
    stream_unlink(s);
    set_timeouts(w, s->evcon);
    track(w, s->ereq, s->evcon);
    evhttp_send_reply_end(s->ereq);
    stream_release(s);
}

/* Cut every deferred response still open (shutdown deadline, worker exit). */
static void
cut_streams(struct worker *w)
{
    while (w->streams != NULL) {
        struct tg_http_stream *st = w->streams;

        stream_cut(st);
        stream_gone(st);
    }
}

static struct worker_data *
worker_data_find(struct worker *w, const void *key)
{
    size_t i;

    for (i = 0; i < w->n_data; i++) {
        if (w->data[i].key == key)
            return &w->data[i];
    }
    return NULL;
}

void *
tg_http_worker_data(const struct tg_http_request *req, const void *key)
{
    struct worker_data *d;

    if (req == NULL || req->site == NULL)
        return NULL;
    d = worker_data_find(req->site->w, key);
    return d != NULL ? d->data : NULL;
}

enum tg_err
tg_http_worker_data_set(const struct tg_http_request *req, const void *key, void *data,
                        void (*free_fn)(void *data))
{
    struct worker *w;

    TG_ENSURE(req != NULL && req->site != NULL, TG_ERR_INVALID_ARG, "not a server request");
    w = req->site->w;
    TG_ENSURE(worker_data_find(w, key) == NULL, TG_ERR_CONFLICT, "worker data set twice");
    TG_ENSURE(w->n_data < TG_HTTP_WORKER_DATA_MAX, TG_ERR_TOO_LARGE, "too much worker data");
    w->data[w->n_data].key = key;
    w->data[w->n_data].data = data;
    w->data[w->n_data].free_fn = free_fn;
    w->n_data++;
    return TG_OK;
}

static void
worker_data_free(struct worker *w)
{
    while (w->n_data > 0) {
        struct worker_data *d = &w->data[--w->n_data];

        if (d->free_fn != NULL)
            d->free_fn(d->data);
    }
}

static void
on_request(struct evhttp_request *ereq, void *arg)
{
    struct site *site = arg;
    struct tg_http_request req;
    struct tg_http_response res;
    enum tg_err rv;

    memset(&req, 0, sizeof(req));
    tg_buf_init(&req.cert, TG_HTTP_CERT_MAX);
    tg_http_response_init(&res);
    tg_err_clear();

    rv = request_init(&req, site, ereq);
    if (rv == TG_OK) {
        tg_http_router_dispatch(site->w->s->router, &req, &res);
    } else {
        tg_log_debug("refused request from %s: %s", req.peer, tg_err_detail());
        if (req.headers_too_large) {
            /* RFC 6585 §5 */
            if (tg_http_response_error(&res, rv, NULL, "request header fields too large") == TG_OK)
                res.status = 431;
        } else if (tg_http_response_error(&res, rv, NULL, NULL) != TG_OK) {
            res.status = 500;
        }
    }
    tg_log_debug("%s %s %s -> %d%s", req.peer, req.method ? req.method : "?",
                 req.path ? req.path : "?", res.status, res.deferred ? " (deferred)" : "");
    /* A deferred response is the handler's now (it may even be sent). */
    if (!res.deferred)
        send_response(site, ereq, &res);
    tg_http_response_reset(&res);
    tg_buf_reset(&req.cert);
}

static struct bufferevent *
on_new_connection(struct event_base *base, void *arg)
{
    struct site *site = arg;

    return tg_http_tls_bufferevent(site->l->tls_ctx, base);
}

/* --- accepting and stopping --- */

/* The worker whose loop runs on this thread (the listener's error callback
 * gets evhttp's argument, not ours). */
static _Thread_local struct worker *this_worker;

static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
    struct worker *w = this_worker;
    struct timeval tv = {0, 100 * 1000};
    size_t i;

    (void)arg;
    /* Out of descriptors, most likely: pause instead of spinning. */
    tg_log_warn("accept");
    evconnlistener_disable(lev);
    for (i = 0; w != NULL && i < w->s->n_listeners; i++) {
        struct site *site = &w->sites[i];

        if (site->bound != NULL && evhttp_bound_socket_get_listener(site->bound) == lev)
            evtimer_add(site->retry_ev, &tv);
    }
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct site *site = arg;

    (void)fd;
    (void)what;
    if (!site->w->stopping && site->bound != NULL)
        evconnlistener_enable(evhttp_bound_socket_get_listener(site->bound));
}

/* Shutdown: a stream already under way has no natural end to wait for (an
 * SSE feed, an MCP GET stream). Its owner stops, and the response ends
 * cleanly now (the last chunk; for HTTP/1.0, the close), so the client
 * reconnects elsewhere instead of the shutdown waiting out the write
 * timeout. A deferred response not yet started keeps the deadline. */
static void
end_started_streams(struct worker *w)
{
    struct tg_http_stream *st, *next;

    for (st = w->streams; st != NULL; st = next) {
        next = st->next;
        if (!st->started)
            continue;
        if (st->cancel != NULL)
            st->cancel(st->cancel_arg);
        st->cancel = NULL;
        st->drain = NULL;
        tg_http_stream_end(st, 1);
    }
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;

    (void)fd;
    (void)what;
    tg_log_warnx("shutdown: %zu responses not written in time, closing", w->inflight);
    cut_streams(w);
    event_base_loopexit(w->base, NULL);
}

static void
on_worker_stop(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    size_t i;

    (void)fd;
    (void)what;
    if (w->stopping)
        return;
    w->stopping = 1;
    for (i = 0; i < w->s->n_listeners; i++) {
        struct site *site = &w->sites[i];

        if (site->bound != NULL) {
            evhttp_del_accept_socket(site->http, site->bound);
            site->bound = NULL;
        }
        event_del(site->retry_ev);
    }
    end_started_streams(w);
    if (w->inflight > 0)
        evtimer_add(w->deadline_ev, &w->s->write_tv);
    maybe_finish(w);
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    size_t i;

    this_worker = w;
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    /* Before anything the handlers' per-worker state drives goes. */
    cut_streams(w);
    worker_data_free(w);
    /* Close idle keep-alive connections now, not at tg_http_server_free. */
    for (i = 0; i < w->s->n_listeners; i++) {
        if (w->sites[i].http != NULL) {
            evhttp_free(w->sites[i].http);
            w->sites[i].http = NULL;
            w->sites[i].bound = NULL;
        }
    }
    return NULL;
}

static void
on_ctl_stop(evutil_socket_t fd, short what, void *arg)
{
    struct tg_http_server *s = arg;

    (void)fd;
    (void)what;
    event_base_loopbreak(s->ctl);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    tg_log_info("signal %d: stopping", (int)sig);
    tg_http_server_stop(arg);
}

/* --- setup --- */

static enum tg_err
set_base_url(struct listener *l, const struct tg_http_listener *cfg, const char *host)
{
    size_t n;
    int w;

    if (cfg->base_url == NULL) {
        w = snprintf(l->base_url, sizeof(l->base_url), "%s://%s:%d", l->tls ? "https" : "http",
                     host, l->port);
        TG_ENSURE(w > 0 && (size_t)w < sizeof(l->base_url), TG_ERR_CONFIG, "base URL too long");
        return TG_OK;
    }
    n = strlen(cfg->base_url);
    while (n > 0 && cfg->base_url[n - 1] == '/')
        n--;
    TG_ENSURE(n > 0 && n < sizeof(l->base_url), TG_ERR_CONFIG, "bad base_url");
    TG_ENSURE(strncmp(cfg->base_url, "http://", 7) == 0 ||
                  strncmp(cfg->base_url, "https://", 8) == 0,
              TG_ERR_CONFIG, "base_url must be an http(s) URL");
    memcpy(l->base_url, cfg->base_url, n);
    l->base_url[n] = '\0';
    TG_ENSURE(strpbrk(l->base_url, " \t\r\n?#") == NULL, TG_ERR_CONFIG, "bad base_url");
    return TG_OK;
}

static enum tg_err
listener_open(struct listener *l, const struct tg_http_listener *cfg)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    char host[TG_HTTP_ADDR_TEXT + 2];
    struct tg_http_ip ip;
    int one = 1;

    TG_GUARD(tg_http_addr_parse(cfg->addr, &ss, &sslen, host, sizeof(host)));
    tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
    l->tls = cfg->tls != 0;
    l->accept_self_signed = cfg->accept_self_signed != 0;
    /* Plain HTTP carries bearer credentials in the clear: loopback only
     * (a local TLS-terminating proxy, development). */
    TG_ENSURE(l->tls || tg_http_ip_is_loopback(&ip), TG_ERR_CONFIG,
              "plain HTTP on non-loopback address %s", cfg->addr);
    TG_ENSURE(l->tls || cfg->client_cert == TG_HTTP_CERT_NONE, TG_ERR_CONFIG,
              "client certificates need a TLS listener (%s)", cfg->addr);
    if (l->tls || cfg->client_ca_file != NULL)
        TG_GUARD(tg_http_tls_new(cfg, &l->tls_ctx));

    l->fd = socket(sslen == sizeof(struct sockaddr_in6) ? AF_INET6 : AF_INET,
                   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    TG_ENSURE(l->fd >= 0, TG_ERR_IO, "socket: %s", strerror(errno));
    TG_ENSURE(setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, TG_ERR_IO,
              "SO_REUSEADDR: %s", strerror(errno));
    /* Each worker listens on its own socket bound to the same port (the
     * kernel spreads connections across them); sharing one socket let a
     * burst of connections all land on one worker. Linux lets only the
     * same user bind a port already bound with SO_REUSEPORT. */
    TG_ENSURE(setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0, TG_ERR_IO,
              "SO_REUSEPORT: %s", strerror(errno));
    /* Accepted sockets inherit TCP_NODELAY from the listener on Linux:
     * without it a response written as two TLS records (headers, body)
     * waits for the client's delayed ACK, ~40 ms (Nagle). */
    TG_ENSURE(setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0, TG_ERR_IO,
              "TCP_NODELAY: %s", strerror(errno));
    TG_ENSURE(bind(l->fd, (struct sockaddr *)&ss, sslen) == 0, TG_ERR_CONFIG, "bind %s: %s",
              cfg->addr, strerror(errno));
    TG_ENSURE(listen(l->fd, SOMAXCONN) == 0, TG_ERR_IO, "listen %s: %s", cfg->addr,
              strerror(errno));
    sslen = sizeof(ss);
    TG_ENSURE(getsockname(l->fd, (struct sockaddr *)&ss, &sslen) == 0, TG_ERR_IO,
              "getsockname: %s", strerror(errno));
    l->port = tg_http_sockaddr_port(&ss);
    TG_ENSURE(l->port >= 0, TG_ERR_IO, "getsockname: unknown family");
    TG_GUARD(set_base_url(l, cfg, host));
    tg_log_info("listening on %s (%s)", l->base_url, l->tls ? "TLS" : "plain HTTP, loopback");
    return TG_OK;
}

/* Another listening socket on the listener's bound address and port. */
static enum tg_err
reuseport_socket(const struct listener *l, int *out)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int one = 1, fd;

    *out = -1;
    TG_ENSURE(getsockname(l->fd, (struct sockaddr *)&ss, &sslen) == 0, TG_ERR_IO,
              "getsockname: %s", strerror(errno));
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    TG_ENSURE(fd >= 0, TG_ERR_IO, "socket: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;

        close(fd);
        TG_ENSURE(0, TG_ERR_IO, "worker listening socket: %s", strerror(e));
    }
    *out = fd;
    return TG_OK;
}

static enum tg_err
site_init(struct site *site, struct worker *w, struct listener *l, size_t max_headers)
{
    struct evconnlistener *lev;
    unsigned flags = LEV_OPT_CLOSE_ON_EXEC;
    int fd = l->fd;

    site->w = w;
    site->l = l;
    site->http = evhttp_new(w->base);
    site->retry_ev = evtimer_new(w->base, on_retry, site);
    TG_ENSURE(site->http != NULL && site->retry_ev != NULL, TG_ERR_NOMEM, "evhttp_new");
    evhttp_set_gencb(site->http, on_request, site);
    if (l->tls)
        evhttp_set_bevcb(site->http, on_new_connection, site);
    /* libevent 2.1 answers a request over its own limits itself, with an
     * HTML page and before any callback of ours. So its limits are twice
     * ours (still a hard bound on what one request can buffer), we refuse
     * what lies between with our JSON error, and lingering close lets a
     * client still sending its body read evhttp's 413 instead of a reset. */
    evhttp_set_max_headers_size(site->http, (ev_ssize_t)(2 * max_headers));
    evhttp_set_max_body_size(site->http, (ev_ssize_t)(2 * w->s->max_body));
    evhttp_set_flags(site->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_timeout_tv(site->http, &w->s->read_tv);
    evhttp_set_allowed_methods(site->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                               EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(site->http, "application/octet-stream");
    /* Worker 0 accepts on the listener's own socket (closed with the
     * server); every other worker on a socket of its own, closed when its
     * evconnlistener is freed. */
    if (w != &w->s->w[0]) {
        TG_GUARD(reuseport_socket(l, &fd));
        flags |= LEV_OPT_CLOSE_ON_FREE;
    }
    lev = evconnlistener_new(w->base, NULL, NULL, flags, 0, fd);
    if (lev == NULL && fd != l->fd)
        close(fd);
    TG_ENSURE(lev != NULL, TG_ERR_NOMEM, "evconnlistener_new");
    site->bound = evhttp_bind_listener(site->http, lev);
    if (site->bound == NULL) {
        evconnlistener_free(lev);
        TG_ENSURE(0, TG_ERR_NOMEM, "evhttp_bind_listener");
    }
    evconnlistener_set_error_cb(lev, on_accept_error);
    return TG_OK;
}

static enum tg_err
worker_init(struct worker *w, struct tg_http_server *s, size_t max_headers)
{
    struct event_config *cfg;
    size_t i;

    w->s = s;
    cfg = event_config_new();
    TG_ENSURE(cfg != NULL, TG_ERR_NOMEM, "event_config_new");
    /* epoll: changes to a descriptor's events within one loop turn reach
     * the kernel as one epoll_ctl at the next wait (evhttp turns reading off
     * and writing on for every response, and back after it: four calls
     * without this, one or two with it). Its caveat, descriptors shared
     * through dup(2), does not arise: sockets here are never duplicated. */
    TG_IGNORE(event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST));
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    TG_ENSURE(w->base != NULL, TG_ERR_NOMEM, "event_base_new");
    w->stop_ev = event_new(w->base, -1, 0, on_worker_stop, w);
    w->deadline_ev = evtimer_new(w->base, on_deadline, w);
    TG_ENSURE(w->stop_ev != NULL && w->deadline_ev != NULL, TG_ERR_NOMEM, "event_new");
    for (i = 0; i < s->n_listeners; i++)
        TG_GUARD(site_init(&w->sites[i], w, &s->l[i], max_headers));
    return TG_OK;
}

static int
default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > TG_HTTP_MAX_WORKERS ? TG_HTTP_MAX_WORKERS : (int)n;
}

static void
set_timeout(struct timeval *tv, int seconds)
{
    tv->tv_sec = seconds > 0 ? seconds : TG_HTTP_DEFAULT_TIMEOUT_S;
    tv->tv_usec = 0;
}

enum tg_err
tg_http_server_new(const struct tg_http_config *cfg, struct tg_http_router *router,
                   struct tg_http_server **out)
{
    enum tg_err rv = TG_OK;
    struct tg_http_server *s = NULL;
    size_t i, n_workers, max_headers;

    TG_CHECK(out != NULL, TG_ERR_INVALID_ARG, "out");
    *out = NULL;
    TG_CHECK(cfg != NULL && router != NULL, TG_ERR_INVALID_ARG, "config and router required");
    TG_CHECK(cfg->n_listeners >= 1 && cfg->n_listeners <= TG_HTTP_MAX_LISTENERS, TG_ERR_CONFIG,
             "%zu listeners", cfg->n_listeners);
    TG_CHECK(cfg->workers >= 0 && cfg->workers <= TG_HTTP_MAX_WORKERS, TG_ERR_CONFIG,
             "%d workers", cfg->workers);
    pthread_once(&global_once, global_init);
    TG_CHECK(global_ok, TG_ERR_INTERNAL, "evthread_use_pthreads");

    s = calloc(1, sizeof(*s));
    TG_CHECK(s != NULL, TG_ERR_NOMEM, "server");
    for (i = 0; i < TG_HTTP_MAX_LISTENERS; i++)
        s->l[i].fd = -1;
    s->router = router;
    s->max_body = cfg->max_body_size ? cfg->max_body_size : TG_HTTP_MAX_BODY_SIZE;
    max_headers = cfg->max_headers_size ? cfg->max_headers_size : TG_HTTP_MAX_HEADERS_SIZE;
    s->max_headers = max_headers;
    TG_CHECK(s->max_body <= (size_t)1 << 30 && max_headers <= (size_t)1 << 20, TG_ERR_CONFIG,
             "limits too large");
    set_timeout(&s->read_tv, cfg->read_timeout_s);
    set_timeout(&s->write_tv, cfg->write_timeout_s);

    for (i = 0; cfg->trusted_proxies != NULL && cfg->trusted_proxies[i] != NULL; i++)
        ;
    if (i > 0) {
        s->proxies = calloc(i, sizeof(*s->proxies));
        TG_CHECK(s->proxies != NULL, TG_ERR_NOMEM, "proxies");
        for (s->n_proxies = 0; s->n_proxies < i; s->n_proxies++)
            TG_TRY(tg_http_cidr_parse(cfg->trusted_proxies[s->n_proxies],
                                      &s->proxies[s->n_proxies]));
    }

    /* Validate every listener before binding any. */
    for (i = 0; i < cfg->n_listeners; i++) {
        struct sockaddr_storage ss;
        socklen_t sslen;
        char host[TG_HTTP_ADDR_TEXT + 2];
        struct tg_http_ip ip;

        TG_TRY(tg_http_addr_parse(cfg->listeners[i].addr, &ss, &sslen, host, sizeof(host)));
        tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
        TG_CHECK(cfg->listeners[i].tls || tg_http_ip_is_loopback(&ip), TG_ERR_CONFIG,
                 "plain HTTP on non-loopback address %s", cfg->listeners[i].addr);
    }
    s->n_listeners = cfg->n_listeners;
    for (i = 0; i < s->n_listeners; i++)
        TG_TRY(listener_open(&s->l[i], &cfg->listeners[i]));

    s->ctl = event_base_new();
    TG_CHECK(s->ctl != NULL, TG_ERR_NOMEM, "event_base_new");
    s->ctl_stop_ev = event_new(s->ctl, -1, 0, on_ctl_stop, s);
    TG_CHECK(s->ctl_stop_ev != NULL, TG_ERR_NOMEM, "event_new");

    n_workers = cfg->workers > 0 ? (size_t)cfg->workers : (size_t)default_workers();
    s->w = calloc(n_workers, sizeof(*s->w));
    TG_CHECK(s->w != NULL, TG_ERR_NOMEM, "workers");
    s->n_workers = n_workers;
    for (i = 0; i < n_workers; i++)
        TG_TRY(worker_init(&s->w[i], s, max_headers));
    *out = s;
    s = NULL;
out:
    tg_http_server_free(s);
    return rv;
}

int
tg_http_server_port(const struct tg_http_server *s, size_t listener)
{
    if (s == NULL || listener >= s->n_listeners)
        return -1;
    return s->l[listener].port;
}

static void
close_listeners(struct tg_http_server *s)
{
    size_t i;

    for (i = 0; i < TG_HTTP_MAX_LISTENERS; i++) {
        if (s->l[i].fd >= 0) {
            close(s->l[i].fd);
            s->l[i].fd = -1;
        }
    }
}

enum tg_err
tg_http_server_run(struct tg_http_server *s, int signals)
{
    enum tg_err rv = TG_OK;
    struct event *sig[2] = {NULL, NULL};
    struct sigaction sa;
    size_t i;

    TG_CHECK(s != NULL, TG_ERR_INVALID_ARG, "server");
    TG_CHECK(atomic_exchange(&s->ran, 1) == 0, TG_ERR_INVALID_ARG, "server already ran");
    /* A peer that closes early must not kill the process on write. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    TG_CHECK(sigaction(SIGPIPE, &sa, NULL) == 0, TG_ERR_INTERNAL, "SIGPIPE");
    if (signals) {
        sig[0] = evsignal_new(s->ctl, SIGTERM, on_signal, s);
        sig[1] = evsignal_new(s->ctl, SIGINT, on_signal, s);
        TG_CHECK(sig[0] != NULL && sig[1] != NULL, TG_ERR_NOMEM, "evsignal_new");
        TG_CHECK(event_add(sig[0], NULL) == 0 && event_add(sig[1], NULL) == 0, TG_ERR_INTERNAL,
                 "signal events");
    }
    for (i = 0; i < s->n_workers; i++) {
        if (pthread_create(&s->w[i].thread, NULL, worker_main, &s->w[i]) != 0) {
            tg_err_raise(TG_ERR_INTERNAL, "pthread_create");
            rv = TG_ERR_INTERNAL;
            tg_http_server_stop(s);
            break;
        }
        s->w[i].started = 1;
    }
    if (rv == TG_OK)
        event_base_loop(s->ctl, EVLOOP_NO_EXIT_ON_EMPTY);
    for (i = 0; i < s->n_workers; i++) {
        if (s->w[i].started) {
            pthread_join(s->w[i].thread, NULL);
            s->w[i].started = 0;
        }
    }
    close_listeners(s);
    tg_log_info("server stopped");
out:
    if (sig[0] != NULL)
        event_free(sig[0]);
    if (sig[1] != NULL)
        event_free(sig[1]);
    return rv;
}

void
tg_http_server_stop(struct tg_http_server *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n_workers; i++) {
        if (s->w[i].stop_ev != NULL)
            event_active(s->w[i].stop_ev, EV_READ, 0);
    }
    if (s->ctl_stop_ev != NULL)
        event_active(s->ctl_stop_ev, EV_READ, 0);
}

void
tg_http_server_free(struct tg_http_server *s)
{
    size_t i, j;

    if (s == NULL)
        return;
    for (i = 0; i < s->n_workers; i++) {
        struct worker *w = &s->w[i];

        for (j = 0; j < TG_HTTP_MAX_LISTENERS; j++) {
            if (w->sites[j].http != NULL)
                evhttp_free(w->sites[j].http);
            if (w->sites[j].retry_ev != NULL)
                event_free(w->sites[j].retry_ev);
        }
        if (w->stop_ev != NULL)
            event_free(w->stop_ev);
        if (w->deadline_ev != NULL)
            event_free(w->deadline_ev);
        if (w->base != NULL)
            event_base_free(w->base);
    }
    free(s->w);
    if (s->ctl_stop_ev != NULL)
        event_free(s->ctl_stop_ev);
    if (s->ctl != NULL)
        event_base_free(s->ctl);
    close_listeners(s);
    for (i = 0; i < TG_HTTP_MAX_LISTENERS; i++)
        tg_http_tls_free(s->l[i].tls_ctx);
    free(s->proxies);
    free(s);
}
