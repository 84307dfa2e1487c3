/* The HTTP/1.1 server: listening sockets bound once, one event loop per
 * worker thread, each accepting on a socket of its own bound to the same
 * port (SO_REUSEPORT); connections (conn.c) stay on the worker that
 * accepted them and handlers run there. Stop (from any thread, or
 * SIGTERM/SIGINT) stops accepting, lets responses already produced be
 * written, then closes the rest. */
/* accept4(2) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/log.h"
#include "http/internal.h"

#define TG_HTTP_MAX_WORKERS 256
#define TG_HTTP_DEFAULT_TIMEOUT_S 30
/* Connections taken per wake-up of a listening socket, so one burst cannot
 * starve the requests of connections already open. */
#define ACCEPT_BATCH 32

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

int
tg_http_peer_is_trusted(const struct tg_http_server *s, const struct tg_http_ip *ip)
{
    size_t i;

    for (i = 0; i < s->n_proxies; i++) {
        if (tg_http_cidr_match(&s->proxies[i], ip))
            return 1;
    }
    return 0;
}

/* --- accepting --- */

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
    struct tg_http_site *site = arg;
    struct timeval tv = {0, 100 * 1000};
    int i;

    (void)what;
    for (i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd >= 0) {
            tg_http_conn_accept(site, cfd, (struct sockaddr *)&ss);
            continue;
        }
        switch (errno) {
        case EAGAIN:
#if EAGAIN != EWOULDBLOCK
        case EWOULDBLOCK:
#endif
            return;
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
            continue;
        default:
            /* Out of descriptors or memory, most likely: pause instead of
             * spinning on a socket that stays readable. */
            tg_log_warn("accept");
            event_del(site->accept_ev);
            evtimer_add(site->retry_ev, &tv);
            return;
        }
    }
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct tg_http_site *site = arg;

    (void)fd;
    (void)what;
    if (!site->w->stopping && site->accept_ev != NULL)
        event_add(site->accept_ev, NULL);
}

/* --- stopping --- */

void
tg_http_worker_maybe_finish(struct tg_http_worker *w)
{
    if (w->stopping && w->busy == 0)
        event_base_loopexit(w->base, NULL);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct tg_http_worker *w = arg;

    (void)fd;
    (void)what;
    tg_log_warnx("shutdown: %zu responses not written in time, closing", w->busy);
    tg_http_conn_close_all(w);
    event_base_loopexit(w->base, NULL);
}

static void
on_worker_stop(evutil_socket_t fd, short what, void *arg)
{
    struct tg_http_worker *w = arg;
    size_t i;

    (void)fd;
    (void)what;
    if (w->stopping)
        return;
    w->stopping = 1;
    for (i = 0; i < w->s->n_listeners; i++) {
        struct tg_http_site *site = &w->sites[i];

        if (site->accept_ev != NULL)
            event_del(site->accept_ev);
        if (site->retry_ev != NULL)
            event_del(site->retry_ev);
        /* A worker's own listening socket closes now (the listener's own
         * closes when run returns): no connection waits in a backlog
         * nobody accepts from. */
        if (site->own_fd && site->fd >= 0) {
            close(site->fd);
            site->fd = -1;
        }
    }
    tg_http_conn_stop_all(w);
    if (w->busy > 0)
        evtimer_add(w->deadline_ev, &w->s->write_tv);
    tg_http_worker_maybe_finish(w);
}

static void *
worker_main(void *arg)
{
    struct tg_http_worker *w = arg;
    const struct tg_http_barrier *b = &w->s->barrier;

    if (w->cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
            tg_log_warnx("worker: cannot pin to CPU %d; it runs unpinned", w->cpu);
    }
    if (b->thread_start != NULL)
        b->thread_start(b->arg);
    /* One turn at a time: every ready event's callback, then the answers
     * they made go out together (conn.c, tg_http_conn_flush_turn), and
     * what the turn recorded with them (http.h, struct tg_http_barrier). */
    while (!event_base_got_exit(w->base) && !event_base_got_break(w->base)) {
        if (event_base_loop(w->base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY) < 0)
            break;
        tg_http_conn_flush_turn(w);
        if (b->sync != NULL)
            (void)b->sync(b->arg, UINT64_MAX);
    }
    /* Streams are cut (their owners told) before the handlers' per-worker
     * state they drive goes; idle keep-alive connections close now, not at
     * tg_http_server_free. */
    tg_http_conn_close_all(w);
    if (b->sync != NULL)
        (void)b->sync(b->arg, UINT64_MAX);
    while (w->n_data > 0) {
        w->n_data--;
        if (w->data[w->n_data].free_fn != NULL)
            w->data[w->n_data].free_fn(w->data[w->n_data].data);
    }
    return NULL;
}

/* --pin-workers: worker i gets the i-th CPU of the process's affinity mask
 * (modulo their number); -1 leaves a worker unpinned. */
static void
pin_plan(struct tg_http_server *s)
{
    cpu_set_t set;
    int cpus[CPU_SETSIZE], n = 0, c;
    size_t i;

    for (i = 0; i < s->n_workers; i++)
        s->w[i].cpu = -1;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        tg_log_warn("pin workers: sched_getaffinity");
        return;
    }
    for (c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    }
    for (i = 0; i < s->n_workers && n > 0; i++)
        s->w[i].cpu = cpus[i % (size_t)n];
    tg_log_info("%zu workers pinned over %d CPUs", s->n_workers, n);
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
set_base_url(struct tg_http_listener_state *l, const struct tg_http_listener *cfg, const char *host)
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
listener_open(struct tg_http_listener_state *l, const struct tg_http_listener *cfg)
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
reuseport_socket(const struct tg_http_listener_state *l, int *out)
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
site_init(struct tg_http_site *site, struct tg_http_worker *w, struct tg_http_listener_state *l)
{
    site->w = w;
    site->l = l;
    site->fd = l->fd;
    /* Worker 0 accepts on the listener's own socket (closed with the
     * server); every other worker on a socket of its own. */
    if (w != &w->s->w[0]) {
        TG_GUARD(reuseport_socket(l, &site->fd));
        site->own_fd = 1;
    }
    site->accept_ev = event_new(w->base, site->fd, EV_READ | EV_PERSIST, on_accept, site);
    site->retry_ev = evtimer_new(w->base, on_retry, site);
    TG_ENSURE(site->accept_ev != NULL && site->retry_ev != NULL, TG_ERR_NOMEM, "event_new");
    TG_ENSURE(event_add(site->accept_ev, NULL) == 0, TG_ERR_INTERNAL, "event_add");
    return TG_OK;
}

static enum tg_err
worker_init(struct tg_http_worker *w, struct tg_http_server *s)
{
    struct event_config *cfg;
    size_t i;

    w->s = s;
    w->cpu = -1;
    for (i = 0; i < TG_HTTP_MAX_LISTENERS; i++)
        w->sites[i].fd = -1;
    cfg = event_config_new();
    TG_ENSURE(cfg != NULL, TG_ERR_NOMEM, "event_config_new");
    /* epoll: changes to a descriptor's events within one loop turn reach
     * the kernel as one epoll_ctl at the next wait (a write event added and
     * removed in one turn costs nothing). Its caveat, descriptors shared
     * through dup(2), does not arise: sockets here are never duplicated. */
    TG_IGNORE(event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST));
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    TG_ENSURE(w->base != NULL, TG_ERR_NOMEM, "event_base_new");
    /* Every connection has the same two timeouts: libevent keeps such
     * timers in a list instead of its heap (O(1) to re-arm per request). */
    w->read_tv = event_base_init_common_timeout(w->base, &s->read_tv);
    w->write_tv = event_base_init_common_timeout(w->base, &s->write_tv);
    TG_ENSURE(w->read_tv != NULL && w->write_tv != NULL, TG_ERR_NOMEM, "common timeouts");
    w->stop_ev = event_new(w->base, -1, 0, on_worker_stop, w);
    w->deadline_ev = evtimer_new(w->base, on_deadline, w);
    TG_ENSURE(w->stop_ev != NULL && w->deadline_ev != NULL, TG_ERR_NOMEM, "event_new");
    for (i = 0; i < s->n_listeners; i++)
        TG_GUARD(site_init(&w->sites[i], w, &s->l[i]));
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
    s->barrier = cfg->barrier;
    s->pin_workers = cfg->pin_workers;
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
        TG_TRY(worker_init(&s->w[i], s));
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
    if (s->pin_workers)
        pin_plan(s);
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
        struct tg_http_worker *w = &s->w[i];

        if (w->base != NULL)
            tg_http_conn_close_all(w);
        for (j = 0; j < TG_HTTP_MAX_LISTENERS; j++) {
            struct tg_http_site *site = &w->sites[j];

            if (site->accept_ev != NULL)
                event_free(site->accept_ev);
            if (site->retry_ev != NULL)
                event_free(site->retry_ev);
            if (site->own_fd && site->fd >= 0)
                close(site->fd);
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
