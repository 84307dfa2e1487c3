/* The reverse proxy: /tools/<tool-id>/<path> is decided, then forwarded to
 * the tool's upstream. The handler defers its response (src/http/http.h)
 * and the transfer runs on a libcurl multi handle per worker thread, driven
 * by that worker's event loop (curl_multi_socket_action): many upstream
 * calls per worker at once, connections pooled in the multi handle. An SSE
 * answer (text/event-stream) is streamed as it comes, under an idle
 * timeout; every other answer is buffered under the body cap and the total
 * timeout. The agent's credentials never leave, the identity headers are
 * the gateway's own. docs/gateway.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "core/log.h"
#include "gateway/internal.h"

/* Idle upstream connections a worker keeps (CURLMOPT_MAXCONNECTS). */
#define POOL_MAX_IDLE 64

struct tg_gw_curl_slot {
    CURL *h;
    struct tg_gw_curl_slot *next;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void
curl_global(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

enum tg_err
tg_gw_curl_init(struct tg_gateway *gw)
{
    pthread_once(&curl_once, curl_global);
    TG_ENSURE(curl_ok, TG_ERR_INTERNAL, "curl_global_init failed");
    TG_ENSURE(pthread_key_create(&gw->curl_key, NULL) == 0, TG_ERR_INTERNAL, "pthread_key_create");
    gw->curl_key_made = 1;
    return TG_OK;
}

void
tg_gw_curl_free(struct tg_gateway *gw)
{
    struct tg_gw_curl_slot *s, *next;

    for (s = gw->curl_slots; s != NULL; s = next) {
        next = s->next;
        curl_easy_cleanup(s->h);
        free(s);
    }
    gw->curl_slots = NULL;
    if (gw->curl_key_made)
        pthread_key_delete(gw->curl_key);
    gw->curl_key_made = 0;
}

/* This thread's handle for a call that cannot be deferred (a handler
 * called without a server: tests): made on first use, reset (keeping its
 * live connections) before every request. */
static CURL *
thread_curl(struct tg_gateway *gw)
{
    struct tg_gw_curl_slot *s = pthread_getspecific(gw->curl_key);

    if (s != NULL) {
        curl_easy_reset(s->h);
        return s->h;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->h = curl_easy_init();
    if (s->h == NULL || pthread_setspecific(gw->curl_key, s) != 0) {
        if (s->h != NULL)
            curl_easy_cleanup(s->h);
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&gw->curl_lock);
    s->next = gw->curl_slots;
    gw->curl_slots = s;
    pthread_mutex_unlock(&gw->curl_lock);
    return s->h;
}

/* --- request headers --- */

struct req_headers {
    struct curl_slist *list;
    const char *connection; /* the Connection header's tokens, joined */
    int content_type;
    int fail;
};

static int
add_line(struct req_headers *h, const char *name, const char *value)
{
    char line[TG_HTTP_MAX_HEADERS_SIZE + 256];
    struct curl_slist *l;
    int n;

    /* "Name;" is how libcurl is told to send a header with an empty value. */
    if (value[0] == '\0')
        n = snprintf(line, sizeof(line), "%s;", name);
    else
        n = snprintf(line, sizeof(line), "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        h->fail = 1;
        return 1;
    }
    l = curl_slist_append(h->list, line);
    if (l == NULL) {
        h->fail = 1;
        return 1;
    }
    h->list = l;
    return 0;
}

static int
add_incoming(void *arg, const char *name, const char *value)
{
    struct req_headers *h = arg;

    if (!tg_gw_forward_request_header(name, h->connection))
        return 0;
    if (strcasecmp(name, "Content-Type") == 0)
        h->content_type = 1;
    return add_line(h, name, value);
}

static int
add_identity(void *arg, const char *name, const char *value)
{
    return add_line(arg, name, value);
}

static int
add_raw(struct req_headers *h, const char *line)
{
    struct curl_slist *l = curl_slist_append(h->list, line);

    if (l == NULL) {
        h->fail = 1;
        return 1;
    }
    h->list = l;
    return 0;
}

static enum tg_err
build_headers(const struct tg_http_request *req, const struct tg_rs_identity *id,
              struct req_headers *h)
{
    const char *conn[8];
    char joined[4096];
    size_t i, n, len = 0;

    n = tg_http_header_values(req, "Connection", conn, 8);
    TG_ENSURE(n <= 8, TG_ERR_OAUTH_INVALID_REQUEST, "too many Connection headers");
    joined[0] = '\0';
    for (i = 0; i < n; i++) {
        int w = snprintf(joined + len, sizeof(joined) - len, "%s%s", len ? "," : "", conn[i]);

        TG_ENSURE(w >= 0 && (size_t)w < sizeof(joined) - len, TG_ERR_OAUTH_INVALID_REQUEST,
                  "Connection header too long");
        len += (size_t)w;
    }
    h->connection = joined;
    if (tg_http_header_each(req, add_incoming, h) != 0 || h->fail) {
        h->connection = NULL;
        TG_ENSURE(0, TG_ERR_NOMEM, "request headers");
    }
    h->connection = NULL;
    TG_ENSURE(tg_gw_identity_each(id, add_identity, h) == 0 && !h->fail, TG_ERR_INTERNAL,
              "identity headers");
    if (add_line(h, "X-Forwarded-For", tg_http_peer(req)) != 0 ||
        add_line(h, "X-Forwarded-Proto", tg_http_is_tls(req) ? "https" : "http") != 0 ||
        /* What libcurl would add on its own: no 100-continue round trip, and
         * no made-up Content-Type for a body the agent sent without one. */
        add_raw(h, "Expect:") != 0 || (!h->content_type && add_raw(h, "Content-Type:") != 0))
        TG_ENSURE(0, TG_ERR_NOMEM, "request headers");
    return TG_OK;
}

/* --- the transfer --- */

#define MAX_RESPONSE_HEADERS 12
/* Over this much not yet written to the agent, the upstream is paused. */
#define STREAM_BACKLOG_MAX (256u * 1024)

struct pool;

/* One forwarded call, from the decision to the answer: owns the decision,
 * a reference to the tool, the caller's hook state and the audit record. */
struct xfer {
    struct tg_gateway *gw;
    struct pool *pool;              /* NULL: synchronous (no server) */
    struct tg_http_stream *st;      /* NULL: synchronous, or the client left */
    CURL *easy;
    struct req_headers hs;
    struct tg_gw_tool *tool;
    struct tg_rs_decision *d;
    struct tg_gw_audit a;
    struct tg_http_request *who;    /* the peer, method and path, for the audit */
    char id[TG_POLICY_ID_MAX + 1];
    tg_gw_forward_hook hook;
    void *hook_arg;
    void (*hook_free)(void *arg);
    struct tg_http_response *res;   /* the buffered answer (own_res, or the handler's) */
    struct tg_http_response own_res;
    size_t cap;
    int too_large, may_stream, streaming, paused, timed_out;
    int audited, audit_failed;  /* the event is written / could not be */
    long code;
    struct event *timer;            /* total timeout, then the stream's idle timeout */
    struct event *resume;           /* unpause from the loop, not from the server's drain callback */
    size_t n;
    struct {
        char *name, *value;
    } h[MAX_RESPONSE_HEADERS];
    struct xfer *prev, *next;
};

/* A worker's multi handle and the events that drive it. */
struct pool {
    struct tg_gateway *gw;
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct xfer *xfers;
};

static void
resp_headers_clear(struct xfer *x)
{
    size_t i;

    for (i = 0; i < x->n; i++) {
        free(x->h[i].name);
        free(x->h[i].value);
    }
    x->n = 0;
}

static const char *
resp_header(const struct xfer *x, const char *name)
{
    size_t i;

    for (i = 0; i < x->n; i++) {
        if (strcasecmp(x->h[i].name, name) == 0)
            return x->h[i].value;
    }
    return NULL;
}

/* The media type is text/event-stream (parameters aside, RFC 9110 §8.3.1). */
static int
is_event_stream(const char *ctype)
{
    size_t n = strlen("text/event-stream");

    if (ctype == NULL || strncasecmp(ctype, "text/event-stream", n) != 0)
        return 0;
    return ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ' || ctype[n] == '\t';
}

static void
timer_set(struct xfer *x, long ms)
{
    struct timeval tv;

    if (x->timer == NULL)
        return;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(x->timer, &tv);
}

static int stream_begin(struct xfer *x);

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;

    if (x->streaming) {
        if (x->st == NULL)
            return 0;
        /* Back-pressure: the agent reads slower than the upstream writes. */
        if (tg_http_stream_backlog(x->st) > STREAM_BACKLOG_MAX) {
            x->paused = 1;
            if (x->timer != NULL)
                evtimer_del(x->timer);
            return CURL_WRITEFUNC_PAUSE;
        }
        if (tg_http_stream_write(x->st, p, n) != TG_OK)
            return 0;
        timer_set(x, x->gw->cfg.stream_idle_timeout_ms);
        return n;
    }
    if (x->res->body.len + n > x->cap) {
        x->too_large = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (tg_buf_append(&x->res->body, p, n) != TG_OK)
        return 0;
    return n;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb, nl, vs, ve;
    const char *colon;

    /* A status line starts a (possibly final) response: forget the headers
     * of an interim one. */
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        resp_headers_clear(x);
        return n;
    }
    colon = memchr(p, ':', n);
    if (colon == NULL) {
        /* The blank line ending the headers: a final SSE answer is streamed
         * from here on. */
        long code = 0;

        if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
            code >= 200 && code <= 599 && x->may_stream && x->st != NULL &&
            is_event_stream(resp_header(x, "Content-Type"))) {
            x->code = code;
            return stream_begin(x) == 0 ? n : 0;
        }
        return n;
    }
    nl = (size_t)(colon - p);
    vs = nl + 1;
    ve = n;
    while (ve > vs && (p[ve - 1] == '\r' || p[ve - 1] == '\n' || p[ve - 1] == ' ' ||
                       p[ve - 1] == '\t'))
        ve--;
    while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
        vs++;
    if (nl == 0 || nl > 64 || x->n == MAX_RESPONSE_HEADERS)
        return n;
    {
        char name[65];

        memcpy(name, p, nl);
        name[nl] = '\0';
        if (!tg_gw_forward_response_header(name))
            return n;
        x->h[x->n].name = strdup(name);
        x->h[x->n].value = strndup(p + vs, ve - vs);
        if (x->h[x->n].name == NULL || x->h[x->n].value == NULL) {
            free(x->h[x->n].name);
            free(x->h[x->n].value);
            return 0; /* abort: out of memory */
        }
        x->n++;
    }
    return n;
}

/* The upstream's status and allowed headers into res. */
static enum tg_err
answer_head(struct xfer *x, struct tg_http_response *res, long code)
{
    size_t i;

    for (i = 0; i < x->n; i++)
        TG_ENSURE(tg_http_response_header(res, x->h[i].name, x->h[i].value) == TG_OK, TG_ERR_IO,
                  "upstream %s sent a header we cannot pass on", x->id);
    res->status = (int)code;
    return TG_OK;
}

static enum tg_err
audit(struct xfer *x)
{
    x->audited = 1;
    return tg_gw_audit_emit(x->gw, x->who, &x->a);
}

/* The headers of an SSE answer arrived: record the call, then send them.
 * The audit event goes first, so an allow that cannot be recorded never
 * reaches the agent (the transfer is aborted and the agent gets a 500). */
static int
stream_begin(struct xfer *x)
{
    struct tg_http_response head;
    enum tg_err e;

    x->a.status = (int)x->code;
    x->a.upstream_status = (int)x->code;
    x->a.reason = "forwarded; streamed";
    if (audit(x) != TG_OK) {
        tg_log_warnx("gateway: unaudited call to %s by %s (jti %s) not answered", x->id,
                     x->d->id.client_id, x->d->id.jti);
        x->audit_failed = 1;
        return -1;
    }
    tg_http_response_init(&head);
    e = answer_head(x, &head, x->code);
    if (e == TG_OK)
        e = tg_http_stream_start(x->st, &head);
    tg_http_response_reset(&head);
    if (e != TG_OK) {
        tg_log_warnx("gateway: cannot stream the answer of %s: %s", x->id, tg_err_detail());
        return -1;
    }
    x->streaming = 1;
    timer_set(x, x->gw->cfg.stream_idle_timeout_ms);
    return 0;
}

/* --- the end of a call --- */

static void
xfer_free(struct xfer *x)
{
    if (x->pool != NULL) {
        if (x->prev != NULL)
            x->prev->next = x->next;
        else
            x->pool->xfers = x->next;
        if (x->next != NULL)
            x->next->prev = x->prev;
        if (x->easy != NULL)
            curl_multi_remove_handle(x->pool->multi, x->easy);
        if (x->easy != NULL)
            curl_easy_cleanup(x->easy);
    }
    if (x->timer != NULL)
        event_free(x->timer);
    if (x->resume != NULL)
        event_free(x->resume);
    resp_headers_clear(x);
    curl_slist_free_all(x->hs.list);
    if (x->hook_free != NULL)
        x->hook_free(x->hook_arg);
    tg_http_response_reset(&x->own_res);
    tg_buf_reset(&x->own_res.body);
    tg_http_request_free(x->who);
    free(x->d);
    tg_gw_tool_release(x->gw, x->tool);
    free(x);
}

/* The transfer ended (cc) before anything was streamed: the buffered
 * answer, or the 502/504, then the audit event, then the agent. */
static void
finish_buffered(struct xfer *x, CURLcode cc)
{
    struct tg_http_response *res = x->res;
    int status = 502;
    const char *why = "the tool's upstream is unavailable";
    long code = 0;

    if (x->timed_out || cc == CURLE_OPERATION_TIMEDOUT) {
        status = 504;
        why = "the tool's upstream timed out";
    } else if (x->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        why = "the tool's response is too large";
    }
    if (x->audit_failed) {
        /* The event could not be written as the stream was about to start. */
        status = 500;
        why = "audit log unavailable";
    } else if (x->audited) {
        /* Recorded, then the stream could not start (logged there). */
        why = "the tool's answer could not be passed on";
    } else if (cc == CURLE_OK && !x->timed_out) {
        if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code < 200 ||
            code > 599)
            tg_log_warnx("gateway: upstream %s answered status %ld", x->id, code);
        else if (answer_head(x, res, code) != TG_OK)
            tg_log_warnx("gateway: %s", tg_err_detail());
        else
            status = 0;
    } else {
        tg_log_warnx("gateway: upstream %s: %s", x->id,
                     x->timed_out ? "timed out" : curl_easy_strerror(cc));
    }
    if (status == 0) {
        x->a.status = (int)code;
        x->a.upstream_status = (int)code;
        x->a.reason = "forwarded";
        if (x->hook != NULL)
            x->hook(x->hook_arg, &x->tool->t, res, &x->a);
    } else {
        tg_http_response_reset(res);
        x->a.status = status;
        x->a.reason = why;
        tg_gw_respond_error(res, status, "server_error", why);
    }
    if (!x->audited && audit(x) != TG_OK) {
        /* An allow that cannot be recorded is not answered (the upstream
         * already saw it: the operational log says so). */
        tg_log_warnx("gateway: unaudited call to %s by %s (jti %s)", x->id, x->d->id.client_id,
                     x->d->id.jti);
        tg_http_response_reset(res);
        tg_gw_respond_error(res, 500, "server_error", "audit log unavailable");
    }
    if (x->st != NULL) {
        tg_http_stream_finish(x->st, res);
        x->st = NULL;
    }
}

static void
xfer_done(struct xfer *x, CURLcode cc)
{
    if (x->streaming) {
        /* Headers went out: a failure now can only cut the stream (the
         * agent sees a chunked body without its last chunk). */
        if (cc != CURLE_OK || x->timed_out)
            tg_log_warnx("gateway: stream from %s to %s (jti %s) cut: %s", x->id,
                         x->d->id.client_id, x->d->id.jti,
                         x->timed_out ? "idle timeout" : curl_easy_strerror(cc));
        if (x->st != NULL)
            tg_http_stream_end(x->st, cc == CURLE_OK && !x->timed_out);
        x->st = NULL;
    } else {
        finish_buffered(x, cc);
    }
    xfer_free(x);
}

/* The agent went away (or the server cut the response at shutdown): stop
 * the upstream transfer now. The stream is freed after this returns. */
static void
on_cancel(void *arg)
{
    struct xfer *x = arg;

    x->st = NULL;
    if (!x->audited) {
        x->a.status = 0;
        x->a.reason = "the agent went away before the answer";
        if (audit(x) != TG_OK)
            tg_log_warnx("gateway: unaudited call to %s by %s (jti %s)", x->id,
                         x->d->id.client_id, x->d->id.jti);
    } else {
        tg_log_info("gateway: stream from %s to %s (jti %s) ended: agent left or server stop",
                    x->id, x->d->id.client_id, x->d->id.jti);
    }
    xfer_free(x);
}

/* --- the multi handle on the worker's loop --- */

static void
pool_check(struct pool *p)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
        struct xfer *x = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK ||
            x == NULL)
            continue;
        xfer_done(x, m->data.result);
    }
}

static void
on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p = arg;
    int running, flags = 0;

    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(p->multi, fd, flags, &running);
    pool_check(p);
}

static void
on_pool_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p = arg;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    pool_check(p);
}

/* CURLMOPT_SOCKETFUNCTION: watch (or stop watching) one of curl's sockets.
 * A socket's event is kept and re-armed in place: unchanged interest costs
 * nothing, a change one epoll_ctl. */
static int
on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct pool *p = userp;
    struct event *ev = socketp;
    short kind = EV_PERSIST;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (ev != NULL) {
            event_free(ev);
            curl_multi_assign(p->multi, s, NULL);
        }
        return 0;
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        kind |= EV_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        kind |= EV_WRITE;
    if (ev != NULL && event_get_events(ev) == kind && event_pending(ev, kind, NULL))
        return 0;
    if (ev == NULL) {
        ev = event_new(p->base, s, kind, on_socket_event, p);
    } else {
        event_del(ev);
        if (event_assign(ev, p->base, s, kind, on_socket_event, p) != 0) {
            event_free(ev);
            ev = NULL;
        }
    }
    if (ev == NULL || event_add(ev, NULL) != 0) {
        if (ev != NULL)
            event_free(ev);
        curl_multi_assign(p->multi, s, NULL);
        return -1;
    }
    curl_multi_assign(p->multi, s, ev);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION */
static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct pool *p = userp;
    struct timeval tv;

    (void)multi;
    if (timeout_ms < 0)
        return evtimer_del(p->timer);
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return evtimer_add(p->timer, &tv);
}

/* When the worker's loop has ended: its streams are already cut (so every
 * transfer is gone); the pooled connections close here. */
static void
pool_free(void *arg)
{
    struct pool *p = arg;

    if (p == NULL)
        return;
    while (p->xfers != NULL) {
        struct xfer *x = p->xfers;

        x->st = NULL;
        xfer_free(x);
    }
    if (p->multi != NULL)
        curl_multi_cleanup(p->multi);
    if (p->timer != NULL)
        event_free(p->timer);
    free(p);
}

static struct pool *
worker_pool(struct tg_gateway *gw, const struct tg_http_request *req, struct event_base *base)
{
    struct pool *p = tg_http_worker_data(req, gw);

    if (p != NULL)
        return p;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->gw = gw;
    p->base = base;
    p->multi = curl_multi_init();
    p->timer = evtimer_new(base, on_pool_timer, p);
    if (p->multi == NULL || p->timer == NULL ||
        curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
        curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p) != CURLM_OK ||
        curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
        curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p) != CURLM_OK ||
        /* Keep the pool's idle connections: curl's default cache is four
         * per transfer in progress, so a dip in load closed connections a
         * moment later reopened (a connect and an accept per reopening). */
        curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)POOL_MAX_IDLE) != CURLM_OK ||
        tg_http_worker_data_set(req, gw, p, pool_free) != TG_OK) {
        pool_free(p);
        return NULL;
    }
    return p;
}

static void
on_xfer_timer(evutil_socket_t fd, short what, void *arg)
{
    struct xfer *x = arg;

    (void)fd;
    (void)what;
    x->timed_out = 1;
    xfer_done(x, CURLE_OPERATION_TIMEDOUT);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct xfer *x = arg;
    struct pool *p = x->pool;

    (void)fd;
    (void)what;
    if (!x->paused)
        return;
    x->paused = 0;
    timer_set(x, x->gw->cfg.stream_idle_timeout_ms);
    /* May deliver the held data at once (and even finish the transfer). */
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
    pool_check(p);
}

/* The server wrote everything queued: resume a paused upstream from the loop
 * (unpausing here would deliver data into the server from inside its own
 * write path). */
static void
on_drain(void *arg)
{
    struct xfer *x = arg;

    if (x->paused && x->resume != NULL)
        event_active(x->resume, EV_TIMEOUT, 0);
}

/* --- forwarding --- */

static enum tg_err
setup(struct xfer *x, const struct tg_http_request *req, const char *rest, CURL *h, int sync)
{
    struct tg_slice body = tg_http_body(req);
    const char *method = tg_http_method(req);
    char url[TG_GW_URL_MAX], upstream[TG_GW_URL_MAX];
    CURLcode cc;

    /* A tenant-bound upstream takes the verified token's tenant (the gate
     * has refused a token without a usable one; this fails closed anyway). */
    TG_GUARD(tg_gw_upstream_for_tenant(x->tool->t.upstream, x->d->id.tenant, upstream,
                                       sizeof(upstream)));
    TG_GUARD(tg_gw_upstream_url(upstream, rest, tg_http_query(req), url, sizeof(url)));
    TG_GUARD(build_headers(req, &x->d->id, &x->hs));

    cc = curl_easy_setopt(h, CURLOPT_URL, url);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)x);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    /* The path was checked as received: send exactly that, no dot squashing. */
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, x->gw->cfg.connect_timeout_ms);
    /* On the loop the total timeout is our timer, lifted when an answer
     * turns out to be a stream (then the idle timeout rules). */
    if (cc == CURLE_OK && sync)
        cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, x->gw->cfg.upstream_timeout_ms);
    /* A body announced too large fails before it is read (a HEAD answer
     * announces one it will not send); a stream is not capped. */
    if (cc == CURLE_OK && strcmp(method, "HEAD") != 0 && !x->may_stream)
        cc = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->cap);
    /* Decoded here, so the body cap (and the scrubber, later) sees plain
     * bytes; Content-Encoding is not passed back. */
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hs.list);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    if (cc == CURLE_OK) {
        if (strcmp(method, "GET") == 0) {
            cc = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else if (strcmp(method, "HEAD") == 0) {
            cc = curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else {
            /* POST, PUT, PATCH, DELETE, OPTIONS: the body as received
             * (possibly empty: then Content-Length: 0), copied: the
             * request's own buffer goes when the handler returns. */
            cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
            if (cc == CURLE_OK)
                cc = curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS,
                                      body.len > 0 ? (const char *)body.p : "");
            if (cc == CURLE_OK && strcmp(method, "POST") != 0)
                cc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
    }
    TG_ENSURE(cc == CURLE_OK, TG_ERR_INTERNAL, "curl_easy_setopt: %s", curl_easy_strerror(cc));
    return TG_OK;
}

/* The audit record outlives the handler: its strings are the call's own. */
static enum tg_err
own_audit(struct xfer *x, const struct tg_http_request *req, const struct tg_gw_audit *a)
{
    struct tg_http_request_spec spec = {0};

    spec.method = tg_http_method(req);
    spec.path = tg_http_path(req);
    spec.peer = tg_http_peer(req);
    TG_GUARD(tg_http_request_new(&spec, &x->who));
    x->a = *a;
    x->a.d = x->d;
    x->a.method = tg_http_method(x->who);
    x->a.path = tg_http_path(x->who);
    x->a.tool = x->id;
    return TG_OK;
}

void
tg_gw_forward(struct tg_gateway *gw, struct tg_gw_tool *tool, const struct tg_http_request *req,
              const char *rest, struct tg_rs_decision *d, const struct tg_gw_audit *a,
              int buffer, tg_gw_forward_hook hook, void *hook_arg, void (*hook_free)(void *),
              struct tg_http_response *res)
{
    struct xfer *x;
    CURL *h = NULL;
    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        tg_log_warnx("gateway: out of memory forwarding to %s", tool->t.id);
        if (hook_free != NULL)
            hook_free(hook_arg);
        free(d);
        tg_gw_tool_release(gw, tool);
        tg_gw_respond_error(res, 500, "server_error", "out of memory");
        return;
    }
    x->gw = gw;
    x->tool = tool;
    x->d = d;
    x->hook = hook;
    x->hook_arg = hook_arg;
    x->hook_free = hook_free;
    x->cap = gw->cfg.max_upstream_body;
    x->may_stream = !buffer && strcmp(tg_http_method(req), "HEAD") != 0;
    snprintf(x->id, sizeof(x->id), "%s", tool->t.id);
    tg_http_response_init(&x->own_res);
    x->res = &x->own_res;
    if (own_audit(x, req, a) != TG_OK) {
        tg_log_warnx("gateway: %s", tg_err_detail());
        x->a = *a;
        x->a.d = d;
        x->a.status = 500;
        x->a.reason = "out of memory";
        if (tg_gw_audit_emit(gw, req, &x->a) != TG_OK)
            tg_log_warnx("gateway: audit event for a call to %s not written", x->id);
        tg_gw_respond_error(res, 500, "server_error", "out of memory");
        xfer_free(x);
        return;
    }
    x->st = tg_http_defer(req, res);
    if (x->st == NULL)
        goto sync;
    x->pool = worker_pool(gw, req, tg_http_stream_base(x->st));
    if (x->pool == NULL) {
        tg_log_warnx("gateway: no upstream pool for this worker");
            finish_buffered(x, CURLE_FAILED_INIT);
        x->pool = NULL;
        xfer_free(x);
        return;
    }
    x->next = x->pool->xfers;
    if (x->next != NULL)
        x->next->prev = x;
    x->pool->xfers = x;
    tg_http_stream_set_cancel(x->st, on_cancel, x);
    tg_http_stream_set_drain(x->st, on_drain, x);
    x->timer = evtimer_new(x->pool->base, on_xfer_timer, x);
    x->resume = event_new(x->pool->base, -1, 0, on_resume, x);
    h = curl_easy_init();
    if (x->timer == NULL || x->resume == NULL || h == NULL) {
        if (h != NULL)
            curl_easy_cleanup(h);
        tg_log_warnx("gateway: out of memory forwarding to %s", x->id);
        xfer_done(x, CURLE_OUT_OF_MEMORY);
        return;
    }
    if (setup(x, req, rest, h, 0) != TG_OK ||
        curl_multi_add_handle(x->pool->multi, h) != CURLM_OK) {
        tg_log_warnx("gateway: %s", tg_err_detail());
        curl_easy_cleanup(h);
        xfer_done(x, CURLE_FAILED_INIT);
        return;
    }
    x->easy = h;
    timer_set(x, gw->cfg.upstream_timeout_ms);
    /* curl's timer callback (CURLMOPT_TIMERFUNCTION) starts the transfer
     * on the loop's next turn. */
    return;

sync:
    /* No server to defer to (a handler called directly): the same exchange,
     * blocking, with the thread's own handle, buffered. */
    x->may_stream = 0;
    x->res = res;
    h = thread_curl(gw);
    if (h == NULL || setup(x, req, rest, h, 1) != TG_OK) {
        tg_log_warnx("gateway: %s", tg_err_detail());
        finish_buffered(x, CURLE_FAILED_INIT);
    } else {
        x->easy = h;
        finish_buffered(x, curl_easy_perform(h));
    }
    x->easy = NULL; /* the thread's handle stays */
    xfer_free(x);
}

void
tg_gw_handle_proxy(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_gateway *gw = ctx;
    struct tg_gw_tool *tool = NULL;
    struct tg_rs_decision *d = NULL;
    struct tg_gw_audit a = {0};
    const char *path = tg_http_path(req), *query = tg_http_query(req), *rest = NULL;
    char id[TG_POLICY_ID_MAX + 1], url[TG_GW_URL_MAX];
    int n;
    enum tg_err e;

    a.method = tg_http_method(req);
    a.path = path;
    if (tg_gw_split_tool_path(path, id, &rest) != TG_OK) {
        a.event = "gateway.deny";
        a.error = "invalid_request";
        a.reason = "no such tool";
        a.status = 404;
        tg_gw_respond_error(res, 404, "invalid_request", "no such tool");
        goto audit;
    }
    a.tool = id;
    e = tg_gw_tool_get(gw, id, &tool);
    if (e != TG_OK) {
        a.event = "gateway.deny";
        a.status = e == TG_ERR_NOT_FOUND ? 404 : 500;
        a.error = e == TG_ERR_NOT_FOUND ? "invalid_request" : "server_error";
        a.reason = e == TG_ERR_NOT_FOUND ? "no such tool" : "tool lookup failed";
        tg_gw_respond_error(res, a.status, a.error, a.reason);
        goto audit;
    }
    n = snprintf(url, sizeof(url), "%s%s%s%s", tg_http_base_url(req), path,
                 query != NULL ? "?" : "", query != NULL ? query : "");
    d = malloc(sizeof(*d));
    if (n < 0 || (size_t)n >= sizeof(url) || d == NULL) {
        a.event = "gateway.deny";
        a.status = n < 0 || (size_t)n >= sizeof(url) ? 414 : 500;
        a.error = a.status == 414 ? "invalid_request" : "server_error";
        a.reason = a.status == 414 ? "URI too long" : "out of memory";
        tg_gw_respond_error(res, a.status, a.error, a.reason);
        goto audit;
    }
    if (tg_tool_is_mcp(&tool->t)) {
        if (tg_gw_mcp_proxy(gw, tool, req, rest, url, d, res, &a))
            return; /* forwarded: the call owns d and tool, and audits */
        goto audit;
    }
    tg_gw_decide(gw, tool, req, a.method, rest[0] != '\0' ? rest : "/", url, tg_http_body(req), d);
    tg_gw_tenant_gate(gw, tool, d);
    a.d = d;
    if (d->err != TG_OK) {
        a.event = "gateway.deny";
        a.status = d->status;
        tg_gw_respond_deny(gw, d, res);
        goto audit;
    }
    a.event = "gateway.allow";
    if (tool->t.upstream == NULL || tool->t.upstream[0] == '\0') {
        a.status = 502;
        a.reason = "the tool has no upstream";
        tg_gw_respond_error(res, 502, "server_error", a.reason);
        goto audit;
    }
    /* The call owns d and the tool from here, answers and audits. */
    tg_gw_forward(gw, tool, req, rest, d, &a, 0, NULL, NULL, NULL, res);
    return;
audit:
    if (tg_gw_audit_emit(gw, req, &a) != TG_OK && a.d != NULL && a.d->err == TG_OK) {
        tg_log_warnx("gateway: unaudited call to %s by %s (jti %s)", id, a.d->id.client_id,
                     a.d->id.jti);
        tg_http_response_reset(res);
        tg_gw_respond_error(res, 500, "server_error", "audit log unavailable");
    }
    free(d);
    tg_gw_tool_release(gw, tool);
}
