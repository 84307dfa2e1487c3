/* HTTP/1.1 connections: reading requests (parse.c does the grammar),
 * running the handler, writing the response, keep-alive and pipelining,
 * deferred and streamed responses, timeouts and closing.
 *
 * One connection belongs to one worker thread and its event loop. Each has
 * a read event (always on, except while a busy connection's input buffer is
 * full) and a write event (on only while a response waits for the socket),
 * so a keep-alive request costs a read, a write and the loop's wait: no
 * change to the kernel's interest set per request.
 *
 * A connection is freed only at depth zero: every entry point (the two
 * events, the stream calls) enters and leaves it, and a close inside one
 * (a failed write, a stream cut) tears the socket down at once but leaves
 * the memory until the outermost caller leaves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "core/log.h"
#include "core/str.h"
#include "http/internal.h"

/* The first allocation of a connection's input buffer; a token request
 * with a DPoP proof fits. */
#define IN_INITIAL 4096
/* Empty lines tolerated before a request line, beyond the head limit. */
#define HEAD_SLACK 1024
/* Header fields per request (RFC 9110 §5: a server may limit them). */
#define MAX_FIELDS 128
/* What a lingering close reads and drops before giving up. */
#define LINGER_MAX ((size_t)64 * 1024 * 1024)
/* How long an answer may wait for the rest of its loop turn (queue_flush). */
#define FLUSH_WAIT_US 1000
/* Queued output cap: a full buffered response plus stream slack. */
#define OUT_CAP (TG_HTTP_MAX_RESPONSE_SIZE + (size_t)1024 * 1024)

enum conn_state {
    C_HANDSHAKE,  /* TLS handshake under way */
    C_HEAD,       /* reading a request head, or idle between requests */
    C_BODY,       /* reading a Content-Length body */
    C_CHUNKED,    /* reading a chunked body */
    C_HANDLER,    /* the handler runs */
    C_DEFERRED,   /* the handler answers later (tg_http_defer) */
    C_STREAM,     /* a streamed response goes out */
    C_WRITING,    /* a complete response goes out */
    C_LINGER,     /* after the last response: read and drop until the client closes */
};

struct conn {
    struct tg_http_site *site;
    struct tg_http_worker *w;
    int fd;
    struct ssl_st *ssl;
    enum conn_state state;
    struct event rev, wev;
    int rev_on, wev_on;
    int read_wants_write;     /* TLS: SSL_read asked for the socket to be writable */
    int write_wants_read;     /* TLS: SSL_write asked for it to be readable */
    int depth;                /* entry points on the stack */
    int dead;                 /* closed: freed when depth drops to 0 */
    int busy;                 /* counted in w->busy */
    int eof;                  /* the client closed its side */
    int io_failed;            /* a write failed inside a stream call: close from the loop */
    int in_dispatch;          /* the handler runs (its request still points into `in`) */
    int flush_queued;         /* on the worker's list of answers to write this turn */
    struct conn *flush_next;
    long long head_since;     /* when the first byte of the head being read came, or 0 */
    char peer[TG_HTTP_ADDR_TEXT];
    int trusted;              /* the peer is a trusted proxy */
    struct tg_buf cert;       /* the TLS client certificate (DER), once per connection */
    int cert_verified;

    /* Input: the bytes of the current request start at in_start; those of
     * pipelined requests may follow. */
    char *in;
    size_t in_len, in_alloc, in_start, scan, head_len;
    size_t body_pos;          /* BODY, CHUNKED: next body byte in `in` */
    size_t req_end;           /* after dispatch: end of this request in `in` */
    struct tg_http_head head;
    struct tg_http_field fields[MAX_FIELDS];
    struct tg_http_chunked ch;
    struct tg_buf chunked_body;
    int is_head;              /* the request is a HEAD */
    int keep_alive;
    int minor;

    /* Output. */
    struct tg_buf out;
    size_t out_off;
    int close_after;          /* close once the output is written */
    int chunked_out;          /* the streamed body is chunked (HTTP/1.1) */
    /* The barrier (http.h): its mark when this request began; whether any
     * byte of this request's answer has gone; whether the barrier refused. */
    uint64_t mark;
    int answer_sent, barrier_failed;
    size_t dropped;           /* LINGER: bytes read and dropped */
    struct tg_http_stream *stream;
    struct conn *prev, *next;
};

struct tg_http_stream {
    struct conn *c;
    void (*cancel)(void *arg);
    void *cancel_arg;
    void (*drain)(void *arg);
    void *drain_arg;
    int started;
};

/* Between requests or reading one (the states the read timeout governs). */
static int
is_reading(const struct conn *c)
{
    return c->state == C_HEAD || c->state == C_BODY || c->state == C_CHUNKED;
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void conn_process(struct conn *c);
static void advance(struct conn *c);

/* --- life cycle --- */

static void
set_busy(struct conn *c, int busy)
{
    if (c->busy == busy)
        return;
    c->busy = busy;
    if (busy) {
        c->w->busy++;
    } else {
        c->w->busy--;
        tg_http_worker_maybe_finish(c->w);
    }
}

static void
conn_free(struct conn *c)
{
    struct tg_http_worker *w = c->w;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c->in);
    tg_buf_reset(&c->out);
    tg_buf_reset(&c->chunked_body);
    tg_buf_reset(&c->cert);
    free(c);
}

/* Tear the connection down now (the memory goes at depth 0). A stream's
 * owner is told through its cancel callback unless `tell` is 0 (the owner
 * itself ended the stream). */
static void
conn_close(struct conn *c, int tell)
{
    struct tg_http_stream *st = c->stream;

    if (c->dead)
        return;
    c->dead = 1;
    c->stream = NULL;
    if (st != NULL) {
        if (tell && st->cancel != NULL)
            st->cancel(st->cancel_arg);
        free(st);
    }
    event_del(&c->rev);
    event_del(&c->wev);
    c->rev_on = c->wev_on = 0;
    if (c->ssl != NULL) {
        tg_http_tls_ssl_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->fd = -1;
    set_busy(c, 0);
    if (c->depth == 0)
        conn_free(c);
}

static void
conn_enter(struct conn *c)
{
    c->depth++;
}

/* 0 when the connection is gone (do not touch it again). */
static int
conn_leave(struct conn *c)
{
    if (--c->depth == 0 && c->dead) {
        conn_free(c);
        return 0;
    }
    return !c->dead;
}

static void
read_timer(struct conn *c, const struct timeval *tv)
{
    /* Adding a pending event again only moves its timer (no epoll_ctl). */
    event_add(&c->rev, tv);
    c->rev_on = 1;
}

void
tg_http_conn_accept(struct tg_http_site *site, int fd, const struct sockaddr *sa)
{
    struct tg_http_worker *w = site->w;
    struct conn *c;
    struct tg_http_ip ip;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        tg_log_warnx("out of memory for a connection");
        close(fd);
        return;
    }
    c->site = site;
    c->w = w;
    c->fd = fd;
    c->state = C_HEAD;
    tg_buf_init(&c->out, OUT_CAP);
    tg_buf_init(&c->chunked_body, w->s->max_body);
    tg_buf_init(&c->cert, TG_HTTP_CERT_MAX);
    tg_http_ip_from_sockaddr(sa, &ip);
    tg_http_ip_text(&ip, c->peer);
    c->trusted = tg_http_peer_is_trusted(w->s, &ip);
    if (event_assign(&c->rev, w->base, fd, EV_READ | EV_PERSIST, on_read, c) != 0 ||
        event_assign(&c->wev, w->base, fd, EV_WRITE | EV_PERSIST, on_write, c) != 0) {
        tg_buf_reset(&c->out);
        free(c);
        close(fd);
        return;
    }
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    if (site->l->tls) {
        c->ssl = tg_http_tls_ssl_new(site->l->tls_ctx, fd);
        if (c->ssl == NULL) {
            tg_log_warnx("cannot start TLS for %s", c->peer);
            conn_close(c, 0);
            return;
        }
        c->state = C_HANDSHAKE;
    }
    read_timer(c, w->read_tv);
}

/* --- output --- */

static void
want_write(struct conn *c)
{
    if (!c->wev_on) {
        event_add(&c->wev, c->w->write_tv);
        c->wev_on = 1;
    }
}

static void
no_write(struct conn *c)
{
    if (c->wev_on) {
        event_del(&c->wev);
        c->wev_on = 0;
    }
}

/* A new request: what its answer waits for (the barrier, http.h). */
static void
answer_begin(struct conn *c)
{
    const struct tg_http_barrier *b = &c->w->s->barrier;

    c->mark = b->mark != NULL ? b->mark(b->arg) : 0;
    c->answer_sent = 0;
    c->barrier_failed = 0;
}

static void queue_response(struct conn *c, const struct tg_http_response *res);

/* Whether the answer may go (http.h, struct tg_http_barrier): what was
 * recorded for it is written first. When it cannot be, an answer not yet
 * begun becomes a 500 (and the connection closes after it); one already
 * partly sent is cut: 0 then. */
static int
barrier_pass(struct conn *c)
{
    const struct tg_http_barrier *b = &c->w->s->barrier;
    struct tg_http_response res;

    if (b->sync == NULL || c->barrier_failed || b->sync(b->arg, c->mark) == 0)
        return 1;
    c->barrier_failed = 1;
    tg_log_warnx("answer to %s withheld: what it depends on could not be recorded", c->peer);
    if (c->answer_sent || c->state != C_WRITING)
        return 0;
    c->out.len = c->out_off = 0;
    c->keep_alive = 0;
    tg_http_response_init(&res);
    TG_IGNORE(tg_http_response_error(&res, TG_ERR_IO, "server_error",
                                     "the decision could not be recorded"));
    res.status = 500;
    queue_response(c, &res);
    tg_http_response_reset(&res);
    return 1;
}

/* Writes what is queued: 1 when all of it went, 0 when the socket is full
 * (the write event is on), -1 when the connection failed. */
static int
conn_flush(struct conn *c)
{
    if (c->out_off < c->out.len && !barrier_pass(c))
        return -1;
    while (c->out_off < c->out.len) {
        const uint8_t *p = c->out.p + c->out_off;
        size_t n = c->out.len - c->out_off, wrote = 0;

        if (c->ssl != NULL) {
            switch (tg_http_tls_write(c->ssl, p, n, &wrote)) {
            case TG_HTTP_IO_OK:
                break;
            case TG_HTTP_IO_WANT_WRITE:
                want_write(c);
                return 0;
            case TG_HTTP_IO_WANT_READ:
                /* (A TLS 1.3 key update.) The read event takes the next
                 * try, on even if a full input buffer had turned it off,
                 * bounded by the write timeout. */
                c->write_wants_read = 1;
                event_add(&c->rev, c->w->write_tv);
                c->rev_on = 1;
                return 0;
            case TG_HTTP_IO_EOF:
            case TG_HTTP_IO_ERROR:
            default:
                return -1;
            }
        } else {
            ssize_t rc = send(c->fd, p, n, MSG_NOSIGNAL);

            if (rc < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    want_write(c);
                    return 0;
                }
                return -1;
            }
            wrote = (size_t)rc;
        }
        c->out_off += wrote;
        c->answer_sent = 1;
    }
    c->out.len = c->out_off = 0;
    no_write(c);
    return 1;
}

/* RFC 9110 §6.6.1: an origin server with a clock sends Date. */
static const char *
date_field(struct tg_http_worker *w)
{
    struct timeval now;
    struct tm tm;

    event_base_gettimeofday_cached(w->base, &now);
    if ((long long)now.tv_sec != w->date_sec) {
        time_t t = now.tv_sec;

        gmtime_r(&t, &tm);
        strftime(w->date, sizeof(w->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_sec = (long long)now.tv_sec;
    }
    return w->date;
}

static const char *
reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" :
                    status < 500 ? "Client Error" : "Server Error";
    }
}

static int
has_header(const struct tg_http_response *res, const char *name)
{
    size_t i;

    for (i = 0; i < res->n_headers; i++) {
        if (strcasecmp(res->headers[i].name, name) == 0)
            return 1;
    }
    return 0;
}

/* The status line and header section (RFC 9112 §4, §5). `length` is the
 * Content-Length to send, or -1 for none; `chunked` announces chunked
 * coding. The connection closes after this response when close_after is
 * set (it says so). */
static enum tg_err
put_head(struct conn *c, const struct tg_http_response *res, int status, long long length,
         int chunked, int has_content)
{
    struct tg_buf *b = &c->out;
    char num[21];
    size_t i;

    TG_GUARD(tg_buf_append_str(b, "HTTP/1.1 "));
    TG_GUARD(tg_buf_append(b, num, tg_u64_dec((uint64_t)status, num)));
    TG_GUARD(tg_buf_append_str(b, " "));
    TG_GUARD(tg_buf_append_str(b, reason(status)));
    TG_GUARD(tg_buf_append_str(b, "\r\nDate: "));
    TG_GUARD(tg_buf_append_str(b, date_field(c->w)));
    TG_GUARD(tg_buf_append_str(b, "\r\n"));
    if (length >= 0) {
        TG_GUARD(tg_buf_append_str(b, "Content-Length: "));
        TG_GUARD(tg_buf_append(b, num, tg_u64_dec((uint64_t)length, num)));
        TG_GUARD(tg_buf_append_str(b, "\r\n"));
    }
    if (chunked)
        TG_GUARD(tg_buf_append_str(b, "Transfer-Encoding: chunked\r\n"));
    if (has_content && !has_header(res, "Content-Type"))
        TG_GUARD(tg_buf_append_str(b, "Content-Type: application/octet-stream\r\n"));
    if (!has_header(res, "X-Content-Type-Options"))
        TG_GUARD(tg_buf_append_str(b, "X-Content-Type-Options: nosniff\r\n"));
    /* RFC 9112 §9.3, §9.6 */
    if (c->close_after)
        TG_GUARD(tg_buf_append_str(b, "Connection: close\r\n"));
    else if (c->minor == 0)
        TG_GUARD(tg_buf_append_str(b, "Connection: keep-alive\r\n"));
    for (i = 0; i < res->n_headers; i++) {
        TG_GUARD(tg_buf_append_str(b, res->headers[i].name));
        TG_GUARD(tg_buf_append_str(b, ": "));
        TG_GUARD(tg_buf_append_str(b, res->headers[i].value));
        TG_GUARD(tg_buf_append_str(b, "\r\n"));
    }
    return tg_buf_append_str(b, "\r\n");
}

/* A complete response into the output buffer. */
static void
queue_response(struct conn *c, const struct tg_http_response *res)
{
    int status = res->status;
    int no_content;
    size_t mark = c->out.len;
    enum tg_err rv;

    if (status < 200 || status > 599)
        status = 500;
    if (!c->keep_alive || c->w->stopping || c->eof)
        c->close_after = 1;
    /* RFC 9110 §9.3.2, §15.3.5, §15.4.5: no content in a HEAD answer, a
     * 204 or a 304; no Content-Length on either (§8.6: a 304's would have
     * to be the 200's). */
    no_content = status == 204 || status == 304;
    rv = put_head(c, res, status, no_content ? -1 : (long long)res->body.len, 0,
                  !no_content && res->body.len > 0);
    if (rv == TG_OK && !no_content && !c->is_head && res->body.len > 0)
        rv = tg_buf_append(&c->out, res->body.p, res->body.len);
    if (rv != TG_OK) {
        static const char fail[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";

        tg_log_warnx("response to %s does not fit: %s", c->peer, tg_err_detail());
        c->out.len = mark;
        c->close_after = 1;
        TG_IGNORE(tg_buf_append(&c->out, fail, sizeof(fail) - 1));
    }
}

/* --- after a response --- */

/* The response is out: the next request (keep-alive, pipelined), or the
 * end of the connection. */
static void
response_done(struct conn *c)
{
    set_busy(c, 0);
    if (c->close_after) {
        /* RFC 9112 §9.6: close the writing side first and read what the
         * client still sends, so our last response is not lost to a reset
         * caused by unread input. */
        c->state = C_LINGER;
        if (c->ssl != NULL)
            tg_http_tls_close_notify(c->ssl);
        shutdown(c->fd, SHUT_WR);
        c->in_len = c->in_start = 0;
        if (c->eof || c->w->stopping) {
            conn_close(c, 0);
            return;
        }
        read_timer(c, c->w->read_tv);
        return;
    }
    c->in_start = c->req_end;
    if (c->in_start == c->in_len) {
        c->in_start = c->in_len = 0;
    } else {
        memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
        c->in_len -= c->in_start;
        c->in_start = 0;
    }
    c->scan = 0;
    c->head_since = 0;
    c->state = C_HEAD;
    if (c->in_alloc > 4 * IN_INITIAL && c->in_len <= IN_INITIAL) {
        char *p = realloc(c->in, IN_INITIAL);

        if (p != NULL) {
            c->in = p;
            c->in_alloc = IN_INITIAL;
        }
    }
    read_timer(c, c->w->read_tv);
}

/* The loop picks the connection up again (a stream call must not run the
 * next request inside its caller's callback). */
static void
resume_later(struct conn *c)
{
    if (c->in_len > c->in_start || (c->ssl != NULL && tg_http_tls_pending(c->ssl)) ||
        c->io_failed || c->eof)
        event_active(&c->wev, EV_WRITE, 0);
}

/* Writes queued output from an event callback and finishes the response
 * when it is all out. */
static void
flush_from_loop(struct conn *c)
{
    int rc = conn_flush(c);

    if (rc < 0) {
        conn_close(c, 1);
        return;
    }
    if (rc == 0)
        return;
    switch (c->state) {
    case C_WRITING:
        response_done(c);
        break;
    case C_STREAM:
        if (c->stream != NULL && c->stream->drain != NULL)
            c->stream->drain(c->stream->drain_arg);
        break;
    case C_HANDSHAKE:
    case C_HEAD:
    case C_BODY:
    case C_CHUNKED:
    case C_HANDLER:
    case C_DEFERRED:
    case C_LINGER:
    default:
        break; /* a 100 Continue went out, or nothing was queued */
    }
}

/* Answers made during one turn of the worker's loop go out together at its
 * end, after every ready connection's request has run: a client thread
 * blocked on several of its connections is then woken once per turn, not
 * once per answer (on two cores shared with the clients, the wake-ups cost
 * about as much as the rest of the kernel's work). A queued connection
 * holds a reference until it is written. */
static long long
mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
queue_flush(struct conn *c)
{
    struct tg_http_worker *w = c->w;
    struct conn *q;
    long long now;

    if (c->flush_queued)
        return;
    c->flush_queued = 1;
    conn_enter(c);
    now = mono_us();
    if (w->flush == NULL)
        w->flush_since = now;
    c->flush_next = w->flush;
    w->flush = c;
    /* A long turn (many requests, each a signature or two) does not hold
     * the first answers back: past FLUSH_WAIT_US the queued bytes go out
     * now; their connections move on at the end of the turn as usual. */
    if (now - w->flush_since > FLUSH_WAIT_US) {
        for (q = w->flush; q != NULL; q = q->flush_next) {
            if (!q->dead && q->out_off < q->out.len)
                (void)conn_flush(q); /* a failure is seen again at the end */
        }
        w->flush_since = now;
    }
}

void
tg_http_conn_flush_turn(struct tg_http_worker *w)
{
    while (w->flush != NULL) {
        struct conn *c = w->flush;

        w->flush = c->flush_next;
        c->flush_next = NULL;
        c->flush_queued = 0;
        if (!c->dead && c->state == C_WRITING) {
            flush_from_loop(c);
            /* Written: pipelined requests waiting behind it are answered
             * (and queued again) now. */
            if (!c->dead && c->state != C_WRITING)
                advance(c);
        }
        conn_leave(c);
    }
}

/* Drops the list without writing (the worker is going away). */
static void
flush_drop(struct tg_http_worker *w)
{
    while (w->flush != NULL) {
        struct conn *c = w->flush;

        w->flush = c->flush_next;
        c->flush_next = NULL;
        c->flush_queued = 0;
        conn_leave(c);
    }
}

/* --- errors before a handler --- */

static void
refuse(struct conn *c, int status, enum tg_err err, const char *why)
{
    struct tg_http_response res;

    tg_log_debug("refused request from %s: %s", c->peer, why);
    answer_begin(c);
    tg_http_response_init(&res);
    if (tg_http_response_error(&res, err, NULL, why) != TG_OK)
        res.status = 500;
    else
        res.status = status;
    c->keep_alive = 0; /* the framing may be lost: never read on */
    c->is_head = 0;
    c->state = C_WRITING;
    c->req_end = c->in_len;
    set_busy(c, 1);
    queue_response(c, &res);
    tg_http_response_reset(&res);
}

/* --- requests --- */

static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"};

static int
method_known(const char *m)
{
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(m, methods[i]) == 0)
            return 1;
    }
    return 0;
}

/* The request-target (RFC 9112 §3.2) as path and query, in place: the
 * origin form "/p?q", the absolute form "http://host/p?q" (§3.2.2: a
 * server accepts it) and "*" for OPTIONS (§3.2.4). No fragment. */
static int
split_target(char *target, const char *method, const char **path, const char **query)
{
    char *p = target, *q;

    if (strchr(target, '#') != NULL)
        return 0;
    if (strcmp(target, "*") == 0) {
        *path = target;
        *query = NULL;
        return strcmp(method, "OPTIONS") == 0;
    }
    if (*p != '/') {
        if (strncasecmp(p, "http://", 7) == 0)
            p += 7;
        else if (strncasecmp(p, "https://", 8) == 0)
            p += 8;
        else
            return 0;
        /* The authority: up to the path or query; an IP literal closed. */
        if (*p == '[') {
            q = strchr(p, ']');
            if (q == NULL)
                return 0;
            p = q + 1;
        }
        p += strcspn(p, "/?");
        if (*p == '?') {
            /* "http://h?q": the path is empty, i.e. "/" (RFC 9110 §4.2.3). */
            memmove(p + 1, p, strlen(p) + 1);
            *p = '/';
        } else if (*p == '\0') {
            /* Room for "/" (and, above, for moving the query one byte on):
             * in the buffer the target was followed by " HTTP/1.x", whose
             * bytes the parser has read already. */
            p[0] = '/';
            p[1] = '\0';
        }
    }
    q = strchr(p, '?');
    if (q != NULL)
        *q++ = '\0';
    *path = p;
    *query = q;
    return 1;
}

/* The client certificate passed by a trusted proxy. From such a peer the
 * header is the only source: the proxy's own TLS certificate is not the
 * client's. An unverifiable certificate is kept (unverified) only where the
 * listener accepts self-signed ones, as on a direct TLS connection. */
static enum tg_err
proxy_cert(const struct conn *c, struct tg_http_request *req)
{
    enum tg_err rv = TG_OK;
    struct tg_buf pem;
    const char *nginx, *xfcc;
    struct tg_slice enc = {NULL, 0};
    int verified = 0;

    tg_buf_init(&pem, TG_HTTP_CERT_MAX);
    req->cert_der = tg_slice(NULL, 0);
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
    TG_CHECK(tg_http_tls_proxy_cert(c->site->l->tls_ctx, tg_slice(pem.p, pem.len), &req->cert,
                                    &verified) == TG_OK,
             TG_ERR_OAUTH_INVALID_REQUEST, "bad client certificate header: %s", tg_err_detail());
    if (!verified && !c->site->l->accept_self_signed) {
        tg_log_debug("dropping an unverified client certificate from proxy %s", req->peer);
        goto out;
    }
    req->cert_der = tg_slice(req->cert.p, req->cert.len);
    req->cert_verified = verified;
out:
    tg_buf_reset(&pem);
    return rv;
}

/* Runs the handler for the request now complete in the buffer. */
static void
dispatch(struct conn *c, struct tg_slice body)
{
    struct tg_http_request req;
    struct tg_http_response res;
    enum tg_err rv = TG_OK;

    memset(&req, 0, sizeof(req));
    tg_buf_init(&req.cert, TG_HTTP_CERT_MAX);
    tg_http_response_init(&res);
    tg_err_clear();
    answer_begin(c);
    c->state = C_HANDLER;
    set_busy(c, 1);
    req.conn = c;
    req.method = c->head.method;
    req.fields = c->head.fields;
    req.n_fields = c->head.n_fields;
    req.body = body;
    memcpy(req.peer, c->peer, sizeof(req.peer));
    req.tls = c->ssl != NULL;
    req.base_url = c->site->l->base_url;
    req.cert_der = tg_slice(c->cert.p, c->cert.len);
    req.cert_verified = c->cert_verified;
    if (!split_target((char *)c->head.target, req.method, &req.path, &req.query)) {
        tg_err_raise(TG_ERR_OAUTH_INVALID_REQUEST, "bad request-target");
        rv = TG_ERR_OAUTH_INVALID_REQUEST;
    }
    if (rv == TG_OK && c->trusted)
        rv = proxy_cert(c, &req);
    tg_http_strip_proxy_headers(req.fields, &req.n_fields);
    if (rv == TG_OK) {
        c->in_dispatch = 1;
        tg_http_router_dispatch(c->w->s->router, &req, &res);
        c->in_dispatch = 0;
    } else {
        tg_log_debug("refused request from %s: %s", req.peer, tg_err_detail());
        if (tg_http_response_error(&res, rv, NULL, NULL) != TG_OK)
            res.status = 500;
    }
    tg_log_debug("%s %s %s -> %d%s", req.peer, req.method, req.path ? req.path : "?",
                 res.status, res.deferred ? " (deferred)" : "");
    /* A deferred response is the handler's now (it may even be sent). */
    if (!res.deferred) {
        c->state = C_WRITING;
        queue_response(c, &res);
    }
    tg_http_response_reset(&res);
    tg_buf_reset(&req.cert);
}

static int
grow_in(struct conn *c, size_t want)
{
    size_t n = c->in_alloc ? c->in_alloc : IN_INITIAL;
    char *p;

    while (n < want)
        n *= 2;
    if (n == c->in_alloc)
        return 1;
    p = realloc(c->in, n);
    if (p == NULL)
        return 0;
    c->in = p;
    c->in_alloc = n;
    return 1;
}

/* A parsed head: the framing of its body (RFC 9112 §6.3). */
static void
head_ready(struct conn *c)
{
    const struct tg_http_server *s = c->w->s;
    enum tg_http_parse_rc rc;

    rc = tg_http_head_parse(c->in + c->in_start, c->head_len, c->fields, MAX_FIELDS, &c->head);
    switch (rc) {
    case TG_HTTP_PARSE_OK:
        break;
    case TG_HTTP_PARSE_TOO_LARGE:
        refuse(c, 431, TG_ERR_HTTP_TOO_LARGE, "request header fields too large"); /* RFC 6585 §5 */
        return;
    case TG_HTTP_PARSE_VERSION:
        refuse(c, 505, TG_ERR_OAUTH_INVALID_REQUEST, "HTTP version not supported");
        return;
    case TG_HTTP_PARSE_UNSUPPORTED:
        refuse(c, 501, TG_ERR_OAUTH_INVALID_REQUEST, "transfer coding not supported");
        return;
    case TG_HTTP_PARSE_EXPECTATION:
        refuse(c, 417, TG_ERR_OAUTH_INVALID_REQUEST, "expectation not supported");
        return;
    case TG_HTTP_PARSE_BAD:
    case TG_HTTP_PARSE_MORE:
    default:
        refuse(c, 400, TG_ERR_OAUTH_INVALID_REQUEST, "malformed request");
        return;
    }
    c->head_since = 0;
    c->minor = c->head.minor;
    c->keep_alive = c->head.keep_alive;
    c->is_head = strcmp(c->head.method, "HEAD") == 0;
    /* RFC 9110 §9.1: a method we do not implement. */
    if (!method_known(c->head.method)) {
        refuse(c, 501, TG_ERR_OAUTH_INVALID_REQUEST, "method not implemented");
        return;
    }
    c->body_pos = c->in_start + c->head_len;
    if (c->head.has_length && c->head.content_length > s->max_body) {
        refuse(c, 413, TG_ERR_HTTP_TOO_LARGE, "request body too large");
        return;
    }
    if (c->head.chunked) {
        memset(&c->ch, 0, sizeof(c->ch));
        c->chunked_body.len = 0;
        c->state = C_CHUNKED;
    } else {
        c->state = C_BODY;
    }
    /* RFC 9110 §10.1.1: the client waits for a 100 before sending the body
     * (only when none of it has arrived yet). */
    if (c->head.expect_continue && c->body_pos == c->in_len &&
        (c->head.chunked || c->head.content_length > 0)) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

        if (tg_buf_append(&c->out, cont, sizeof(cont) - 1) == TG_OK && conn_flush(c) < 0)
            conn_close(c, 0);
    }
}

/* Advances the request being read as far as the input allows. */
static void
conn_process(struct conn *c)
{
    const struct tg_http_server *s = c->w->s;

    while (!c->dead) {
        switch (c->state) {
        case C_HEAD: {
            enum tg_http_parse_rc rc;

            if (c->in_len == c->in_start)
                return;
            rc = tg_http_head_end(c->in + c->in_start, c->in_len - c->in_start, s->max_headers,
                                  &c->scan, &c->head_len);
            if (rc == TG_HTTP_PARSE_MORE) {
                if (c->in_len - c->in_start > s->max_headers + HEAD_SLACK)
                    refuse(c, 400, TG_ERR_OAUTH_INVALID_REQUEST, "malformed request");
                else
                    return;
            } else if (rc == TG_HTTP_PARSE_OK) {
                head_ready(c);
            } else {
                refuse(c, 431, TG_ERR_HTTP_TOO_LARGE, "request header fields too large");
            }
            break;
        }
        case C_BODY: {
            uint64_t need = c->head.has_length ? c->head.content_length : 0;

            if (c->in_len - c->body_pos < need) {
                if (!grow_in(c, c->body_pos + (size_t)need)) {
                    refuse(c, 500, TG_ERR_NOMEM, "out of memory");
                    break;
                }
                return;
            }
            c->req_end = c->body_pos + (size_t)need;
            dispatch(c, tg_slice(need > 0 ? (const uint8_t *)c->in + c->body_pos
                                          : (const uint8_t *)"",
                                 (size_t)need));
            break;
        }
        case C_CHUNKED: {
            enum tg_http_parse_rc rc;
            size_t used = 0, start = c->in_start + c->head_len;

            rc = tg_http_chunked_decode(&c->ch, (const uint8_t *)c->in + c->body_pos,
                                        c->in_len - c->body_pos, &c->chunked_body, &used);
            c->body_pos += used;
            if (rc == TG_HTTP_PARSE_MORE) {
                /* The decoded part is in chunked_body: drop its raw bytes. */
                c->in_len = start + (c->in_len - c->body_pos);
                memmove(c->in + start, c->in + c->body_pos, c->in_len - start);
                c->body_pos = start;
                return;
            }
            if (rc == TG_HTTP_PARSE_TOO_LARGE) {
                refuse(c, 413, TG_ERR_HTTP_TOO_LARGE, "request body too large");
            } else if (rc != TG_HTTP_PARSE_OK) {
                refuse(c, 400, TG_ERR_OAUTH_INVALID_REQUEST, "malformed chunked body");
            } else {
                c->req_end = c->body_pos;
                dispatch(c, c->chunked_body.len > 0
                                ? tg_slice(c->chunked_body.p, c->chunked_body.len)
                                : tg_slice("", 0));
            }
            break;
        }
        case C_WRITING:
            if (c->out_off < c->out.len) {
                /* Written when this turn of the loop has run every ready
                 * connection's request (tg_http_conn_flush_turn). */
                queue_flush(c);
                return;
            }
            response_done(c);
            break;
        case C_HANDSHAKE:
        case C_HANDLER:
        case C_DEFERRED:
        case C_STREAM:
        case C_LINGER:
        default:
            return;
        }
    }
}

/* --- input --- */

static void
handshake(struct conn *c)
{
    switch (tg_http_tls_handshake(c->ssl)) {
    case TG_HTTP_IO_OK:
        break;
    case TG_HTTP_IO_WANT_READ:
        no_write(c);
        return;
    case TG_HTTP_IO_WANT_WRITE:
        want_write(c);
        return;
    case TG_HTTP_IO_EOF:
    case TG_HTTP_IO_ERROR:
    default:
        conn_close(c, 0);
        return;
    }
    no_write(c);
    if (tg_http_tls_peer_cert(c->ssl, &c->cert, &c->cert_verified) != TG_OK) {
        tg_log_debug("client certificate of %s: %s", c->peer, tg_err_detail());
        conn_close(c, 0);
        return;
    }
    c->state = C_HEAD;
}

/* Room for more input: 0 when there is none (a busy connection stops
 * reading until its response is out). */
static int
in_room(struct conn *c)
{
    const struct tg_http_server *s = c->w->s;
    size_t limit = c->in_start + s->max_headers + HEAD_SLACK + s->max_body + 4096;

    if (c->state == C_LINGER) {
        c->in_len = c->in_start = 0;
        return grow_in(c, IN_INITIAL);
    }
    if (c->in_len < c->in_alloc)
        return 1;
    if (c->in_alloc >= limit)
        return 0;
    return grow_in(c, c->in_alloc ? c->in_alloc * 2 : IN_INITIAL);
}

/* Reads what the socket has (one read when it did not fill the buffer).
 * 1: something arrived or nothing to do; 0: the connection failed. */
static int
conn_read(struct conn *c)
{
    for (;;) {
        size_t room, got = 0;

        if (!in_room(c)) {
            if (is_reading(c)) {
                refuse(c, 413, TG_ERR_HTTP_TOO_LARGE, "request too large");
                return 1;
            }
            /* Busy: take no more until the response is out. */
            event_del(&c->rev);
            c->rev_on = 0;
            return 1;
        }
        room = c->in_alloc - c->in_len;
        if (c->ssl != NULL) {
            switch (tg_http_tls_read(c->ssl, c->in + c->in_len, room, &got)) {
            case TG_HTTP_IO_OK:
                break;
            case TG_HTTP_IO_WANT_READ:
                return 1;
            case TG_HTTP_IO_WANT_WRITE:
                c->read_wants_write = 1;
                want_write(c);
                return 1;
            case TG_HTTP_IO_EOF:
                c->eof = 1;
                return 1;
            case TG_HTTP_IO_ERROR:
            default:
                return 0;
            }
        } else {
            ssize_t rc = recv(c->fd, c->in + c->in_len, room, 0);

            if (rc < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return 1;
                return 0;
            }
            if (rc == 0) {
                c->eof = 1;
                return 1;
            }
            got = (size_t)rc;
        }
        if (c->state == C_LINGER) {
            c->dropped += got;
            if (c->dropped > LINGER_MAX)
                return 0;
            continue;
        }
        c->in_len += got;
        /* A plain socket that did not fill the buffer is drained; TLS may
         * hold a further record inside the SSL. */
        if (c->ssl != NULL ? !tg_http_tls_pending(c->ssl) && got < room : got < room)
            return 1;
    }
}

/* The client is gone or done sending: what happens to the request. */
static void
after_eof(struct conn *c)
{
    switch (c->state) {
    case C_WRITING:
        return; /* write the answer (the client may have half-closed), then close */
    case C_HEAD:
        if (c->in_len > c->in_start) {
            conn_process(c); /* a complete request is answered, a partial one dropped */
            if (c->dead || c->state != C_HEAD)
                return;
        }
        conn_close(c, 1);
        return;
    case C_DEFERRED:
    case C_STREAM:
        /* A client does not half-close an HTTP/1.1 request: it left. */
        tg_log_debug("client %s closed a deferred response's connection", c->peer);
        conn_close(c, 1);
        return;
    case C_HANDSHAKE:
    case C_BODY:
    case C_CHUNKED:
    case C_HANDLER:
    case C_LINGER:
    default:
        conn_close(c, 1);
        return;
    }
}

/* The read timeout bounds each pause; a head must also arrive whole within
 * it, counted from its first byte, so a client trickling a byte at a time
 * (slowloris) cannot hold a connection open: RFC 9110 §15.5.9, 408. The
 * body keeps the per-pause rule (a large upload on a slow link is fine). */
static int
head_too_slow(struct conn *c)
{
    struct timeval now;

    if (c->state != C_HEAD || c->in_len == c->in_start)
        return 0;
    event_base_gettimeofday_cached(c->w->base, &now);
    if (c->head_since == 0) {
        c->head_since = (long long)now.tv_sec;
        return 0;
    }
    return (long long)now.tv_sec - c->head_since > (long long)c->w->s->read_tv.tv_sec;
}

/* 1 when the TLS handshake, if any, is over and the connection lives. */
static int
handshake_step(struct conn *c)
{
    if (c->state != C_HANDSHAKE)
        return 1;
    handshake(c);
    return !c->dead && c->state != C_HANDSHAKE;
}

/* What both events end with: the request being read moves on, and a
 * client that closed is seen to. */
static void
advance(struct conn *c)
{
    conn_process(c);
    if (!c->dead && c->eof)
        after_eof(c);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    (void)fd;
    conn_enter(c);
    if (what & EV_TIMEOUT) {
        /* Idle keep-alive, a request that stopped half-way, a silent TLS
         * client, a lingering close: the read timeout ends them. */
        tg_log_debug("read timeout for %s", c->peer);
        conn_close(c, 1);
        goto out;
    }
    if (c->write_wants_read) {
        c->write_wants_read = 0;
        flush_from_loop(c);
        if (c->dead)
            goto out;
        if (c->state == C_DEFERRED || c->state == C_STREAM)
            event_add(&c->rev, NULL); /* no read timeout there (tg_http_defer) */
    }
    if (!handshake_step(c))
        goto out;
    if (!conn_read(c)) {
        conn_close(c, 1);
        goto out;
    }
    if (c->state == C_LINGER) {
        if (c->eof)
            conn_close(c, 0);
        goto out;
    }
    if (is_reading(c))
        read_timer(c, c->w->read_tv);
    if (head_too_slow(c))
        refuse(c, 408, TG_ERR_OAUTH_INVALID_REQUEST, "request head not received in time");
    advance(c);
out:
    conn_leave(c);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    (void)fd;
    conn_enter(c);
    if (what & EV_TIMEOUT) {
        tg_log_debug("write timeout for %s", c->peer);
        conn_close(c, 1);
        goto out;
    }
    if (c->io_failed) {
        conn_close(c, 1);
        goto out;
    }
    if (!handshake_step(c))
        goto out;
    if (c->read_wants_write) {
        c->read_wants_write = 0;
        if (!conn_read(c)) {
            conn_close(c, 1);
            goto out;
        }
    }
    flush_from_loop(c);
    if (c->dead)
        goto out;
    /* Input that waited while the connection was busy. */
    if (c->state == C_HEAD && c->ssl != NULL && tg_http_tls_pending(c->ssl) && !conn_read(c)) {
        conn_close(c, 1);
        goto out;
    }
    if (!c->rev_on && is_reading(c))
        read_timer(c, c->w->read_tv);
    advance(c);
out:
    conn_leave(c);
}

/* --- deferred and streamed responses (http.h) --- */

struct tg_http_stream *
tg_http_defer(const struct tg_http_request *req, struct tg_http_response *res)
{
    struct conn *c;
    struct tg_http_stream *st;

    if (req == NULL || res == NULL || req->conn == NULL)
        return NULL;
    c = req->conn;
    if (c->state != C_HANDLER || c->stream != NULL)
        return NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->c = c;
    c->stream = st;
    c->state = C_DEFERRED;
    /* No read timeout while the answer is produced (an SSE stream may stay
     * quiet for minutes); the read event stays on to see the client leave,
     * and a client that stops reading still meets the write timeout. */
    event_add(&c->rev, NULL);
    c->rev_on = 1;
    res->status = 200; /* the router's check: a deferred response is not a missing one */
    res->deferred = 1;
    return st;
}

struct event_base *
tg_http_stream_base(const struct tg_http_stream *s)
{
    return s->c->w->base;
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

/* Writes from a stream call: a failure closes the connection from the
 * loop, never inside the caller. */
static void
stream_flush(struct conn *c)
{
    if (conn_flush(c) < 0) {
        c->io_failed = 1;
        event_active(&c->wev, EV_WRITE, 0);
    }
}

void
tg_http_stream_finish(struct tg_http_stream *s, struct tg_http_response *res)
{
    struct conn *c = s->c;
    int rc;

    conn_enter(c);
    c->stream = NULL;
    free(s);
    c->state = C_WRITING;
    queue_response(c, res);
    rc = conn_flush(c);
    if (rc < 0) {
        c->io_failed = 1;
        event_active(&c->wev, EV_WRITE, 0);
    } else if (rc > 0 && !c->in_dispatch) {
        /* (Inside the handler, dispatch's caller finishes the response.) */
        response_done(c);
        if (!c->dead)
            resume_later(c);
    }
    conn_leave(c);
}

enum tg_err
tg_http_stream_start(struct tg_http_stream *s, const struct tg_http_response *res)
{
    struct conn *c = s->c;
    enum tg_err rv;

    TG_ENSURE(!s->started, TG_ERR_INVALID_ARG, "stream already started");
    TG_ENSURE(res->status >= 200 && res->status <= 599 && res->status != 204 &&
                  res->status != 304 && !c->is_head,
              TG_ERR_INVALID_ARG, "status %d cannot be streamed", res->status);
    /* RFC 9112 §7.1 chunked coding for HTTP/1.1; an HTTP/1.0 client
     * cannot read it, so its body ends with the connection (§6.3). */
    c->chunked_out = c->minor >= 1;
    if (!c->chunked_out || !c->keep_alive || c->w->stopping || c->eof)
        c->close_after = 1;
    rv = put_head(c, res, res->status, -1, c->chunked_out, 1);
    TG_ENSURE(rv == TG_OK, rv, "response headers");
    s->started = 1;
    c->state = C_STREAM;
    conn_enter(c);
    stream_flush(c);
    conn_leave(c);
    return TG_OK;
}

enum tg_err
tg_http_stream_write(struct tg_http_stream *s, const void *p, size_t n)
{
    struct conn *c = s->c;
    char size[24];

    TG_ENSURE(s->started, TG_ERR_INVALID_ARG, "stream not started");
    if (n == 0)
        return TG_OK; /* an empty chunk would end the chunked body */
    if (c->chunked_out) {
        snprintf(size, sizeof(size), "%zx\r\n", n);
        TG_GUARD(tg_buf_append_str(&c->out, size));
    }
    TG_GUARD(tg_buf_append(&c->out, p, n));
    if (c->chunked_out)
        TG_GUARD(tg_buf_append_str(&c->out, "\r\n"));
    conn_enter(c);
    stream_flush(c);
    conn_leave(c);
    return TG_OK;
}

size_t
tg_http_stream_backlog(const struct tg_http_stream *s)
{
    return s->c->out.len - s->c->out_off;
}

void
tg_http_stream_end(struct tg_http_stream *s, int complete)
{
    struct conn *c = s->c;
    int rc;

    conn_enter(c);
    c->stream = NULL;
    if (!complete || !s->started) {
        free(s);
        conn_close(c, 0);
        conn_leave(c);
        return;
    }
    free(s);
    /* RFC 9112 §7.1: the last chunk and an empty trailer section. */
    if (c->chunked_out && tg_buf_append_str(&c->out, "0\r\n\r\n") != TG_OK)
        c->close_after = 1;
    c->state = C_WRITING;
    rc = conn_flush(c);
    if (rc < 0) {
        c->io_failed = 1;
        event_active(&c->wev, EV_WRITE, 0);
    } else if (rc > 0 && !c->in_dispatch) {
        /* (Inside the handler, dispatch's caller finishes the response.) */
        response_done(c);
        if (!c->dead)
            resume_later(c);
    }
    conn_leave(c);
}

void *
tg_http_worker_data(const struct tg_http_request *req, const void *key)
{
    struct tg_http_worker *w;
    size_t i;

    if (req == NULL || req->conn == NULL)
        return NULL;
    w = req->conn->w;
    for (i = 0; i < w->n_data; i++) {
        if (w->data[i].key == key)
            return w->data[i].data;
    }
    return NULL;
}

enum tg_err
tg_http_worker_data_set(const struct tg_http_request *req, const void *key, void *data,
                        void (*free_fn)(void *data))
{
    struct tg_http_worker *w;

    TG_ENSURE(req != NULL && req->conn != NULL, TG_ERR_INVALID_ARG, "not a server request");
    w = req->conn->w;
    TG_ENSURE(tg_http_worker_data(req, key) == NULL, TG_ERR_CONFLICT, "worker data set twice");
    TG_ENSURE(w->n_data < TG_HTTP_WORKER_DATA_MAX, TG_ERR_TOO_LARGE, "too much worker data");
    w->data[w->n_data].key = key;
    w->data[w->n_data].data = data;
    w->data[w->n_data].free_fn = free_fn;
    w->n_data++;
    return TG_OK;
}

/* --- stopping --- */

void
tg_http_conn_stop_all(struct tg_http_worker *w)
{
    struct conn *c, *next;

    for (c = w->conns; c != NULL; c = next) {
        next = c->next;
        conn_enter(c);
        switch (c->state) {
        case C_STREAM:
            /* A stream already under way has no natural end to wait for
             * (an SSE feed, an MCP GET stream): its owner stops and the
             * response ends cleanly now, so the client reconnects
             * elsewhere instead of the stop waiting out the write timeout. */
            if (c->stream != NULL) {
                struct tg_http_stream *st = c->stream;

                if (st->cancel != NULL)
                    st->cancel(st->cancel_arg);
                st->cancel = NULL;
                st->drain = NULL;
                c->close_after = 1;
                tg_http_stream_end(st, 1);
            }
            break;
        case C_WRITING:
            c->close_after = 1;
            break;
        case C_HANDLER:
        case C_DEFERRED:
            break; /* answered with Connection: close when it comes */
        case C_HANDSHAKE:
        case C_HEAD:
        case C_BODY:
        case C_CHUNKED:
        case C_LINGER:
        default:
            conn_close(c, 1);
            break;
        }
        /* `next` may have been freed only if it is this one: streams and
         * closes touch their own connection alone. */
        conn_leave(c);
    }
}

void
tg_http_conn_close_all(struct tg_http_worker *w)
{
    flush_drop(w);
    while (w->conns != NULL) {
        struct conn *c = w->conns;

        conn_enter(c);
        conn_close(c, 1);
        conn_leave(c);
    }
}
