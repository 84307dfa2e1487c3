/* loadgen: a small HTTP/1.1 load client for token_bench.sh, for the two
 * things wrk (Debian's 4.1.0) cannot do:
 *
 *   - present a TLS client certificate (mTLS token requests, RFC 8705);
 *   - send at a fixed rate, open loop (wrk2-style), so that latency at a
 *     given load is measured from the moment each request was *due*, not
 *     from when a busy connection got round to sending it (no coordinated
 *     omission).
 *
 * The connection model is wrk's: `threads` threads, each with its own epoll
 * loop and connections/threads keep-alive connections, one request in
 * flight per connection, no pipelining.
 *
 *   closed loop (no -R): every connection sends its next request as soon as
 *     the previous response is read; latency = response - send.
 *   open loop (-R rate): request k of a thread is due at start + k / (rate /
 *     threads); a due request goes out on the first idle connection, and
 *     waits in the thread's queue while all are busy; latency = response -
 *     due time. If the server cannot keep up the queue grows and so does the
 *     latency, as it would for real clients.
 *
 * A warm-up (-w) runs first on the same connections (TLS handshakes done,
 * caches warm); only requests due (open loop) or sent (closed loop) after it
 * and answered before the end count. With --proofs PREFIX, thread t reads
 * PREFIX.t (one DPoP proof per line, bench/gen_proofs) and sends each proof
 * once, in a `DPoP` header; when a thread runs out, the whole run stops
 * there (early) instead of replaying a proof, and says so.
 *
 * The last line is machine-readable:
 *   loadgen: rps=... p50_ms=... p90_ms=... p99_ms=... p999_ms=... max_ms=...
 *            requests=... non2xx=... errors=... duration_s=... ...
 *
 * usage: loadgen [options] URL   (loadgen -h lists them) */
/* SCHED_BATCH (sched.h) is a Linux extension. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_THREADS 64
#define MAX_HEADERS 32
#define IN_CAP (1u << 20) /* a response larger than this is an error */
#define TIMER_TAG ((uint64_t)-1)

enum conn_state { C_CONNECTING, C_HANDSHAKE, C_IDLE, C_WRITE, C_READ };

struct conn {
    struct worker *w;
    int fd;
    SSL *ssl;
    enum conn_state state;
    uint32_t events;        /* current epoll interest */
    char *req;              /* the request being written (owned) */
    size_t req_len, req_off, req_alloc;
    char *in;               /* response bytes read so far */
    size_t in_len, in_alloc;
    uint64_t t_due;         /* ns: due time (open loop) or send time (closed) */
    int idle_listed;
};

struct worker {
    int id;
    pthread_t thread;
    int epfd, tfd;
    struct conn *c;
    size_t n_conns;
    struct conn **idle; /* stack of idle connections */
    size_t n_idle;
    /* proofs: one per line in `proof_data` */
    char *proof_data;
    char **proofs;
    size_t n_proofs, next_proof;
    /* open loop */
    double rate;        /* requests per second for this thread; 0 = closed loop */
    uint64_t k_next;    /* the next request index to send */
    uint64_t armed_ns;  /* what the timerfd is armed for, 0 = disarmed */
    /* results (the measured window only, except *_all) */
    uint64_t completed, non2xx, non2xx_all, errors, reconnects, due_in_window;
    uint64_t status_counts[6]; /* 1xx..5xx, [0] unparseable */
    uint32_t *lat_us;
    size_t n_lat, lat_alloc;
    int exhausted;
    int failed;
};

static struct {
    const char *url;
    int tls;
    char host[256], port[16], path[2048];
    unsigned threads, conns;
    double duration, warmup, rate;
    const char *method, *body;
    const char *headers[MAX_HEADERS];
    size_t n_headers;
    const char *proofs, *proof_header;
    const char *cacert, *cert, *key;
    struct addrinfo *ai;
    SSL_CTX *ctx;
    char *req_prefix; /* request line and fixed headers, no final CRLF */
    size_t req_prefix_len;
    int batch;             /* --batch: SCHED_BATCH */
} cfg;

static uint64_t start_ns, window_ns;
static _Atomic uint64_t end_ns;
static pthread_barrier_t barrier;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Stop every thread at `t` at the latest (proofs ran out). */
static void
end_early(uint64_t t)
{
    uint64_t cur = atomic_load(&end_ns);

    while (t < cur && !atomic_compare_exchange_weak(&end_ns, &cur, t))
        ;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: loadgen [options] URL\n"
            "  -t N            threads (default 2)\n"
            "  -c N            connections, split across threads (default 16)\n"
            "  -d S            measured seconds (default 10)\n"
            "  -w S            warm-up seconds on the same connections (default 2)\n"
            "  -R N            open loop: N requests/s in total (default: closed loop)\n"
            "  -m METHOD       default POST with -b, else GET\n"
            "  -H 'Name: v'    request header (repeatable)\n"
            "  -b BODY         request body\n"
            "  --proofs P      thread t sends each line of P.t once, as a DPoP header\n"
            "  --proof-header  header name for --proofs (default DPoP)\n"
            "  --batch         run as SCHED_BATCH: a wake-up of the load generator does\n"
            "                  not preempt the server it measures on the same cores\n"
            "  --cacert F      CA for the server certificate (https)\n"
            "  --cert F --key F  client certificate and key (https)\n");
}

/* ---- setup ---- */

static int
parse_url(const char *url)
{
    const char *p, *hs, *he, *ps;
    size_t n;

    if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        p = url + 8;
        cfg.tls = 1;
    } else {
        return -1;
    }
    hs = p;
    he = p + strcspn(p, ":/");
    n = (size_t)(he - hs);
    if (n == 0 || n >= sizeof(cfg.host))
        return -1;
    memcpy(cfg.host, hs, n);
    cfg.host[n] = '\0';
    if (*he == ':') {
        ps = he + 1;
        n = strcspn(ps, "/");
        if (n == 0 || n >= sizeof(cfg.port))
            return -1;
        memcpy(cfg.port, ps, n);
        cfg.port[n] = '\0';
        p = ps + n;
    } else {
        snprintf(cfg.port, sizeof(cfg.port), "%s", cfg.tls ? "443" : "80");
        p = he;
    }
    snprintf(cfg.path, sizeof(cfg.path), "%s", *p ? p : "/");
    return 0;
}

static int
build_prefix(void)
{
    size_t cap = 4096, i, n;
    char *b;
    int k;

    for (i = 0; i < cfg.n_headers; i++)
        cap += strlen(cfg.headers[i]) + 2;
    cap += strlen(cfg.path) + (cfg.body ? strlen(cfg.body) : 0);
    b = malloc(cap);
    if (b == NULL)
        return -1;
    k = snprintf(b, cap, "%s %s HTTP/1.1\r\nHost: %s:%s\r\n", cfg.method, cfg.path, cfg.host,
                 cfg.port);
    n = (size_t)k;
    for (i = 0; i < cfg.n_headers; i++)
        n += (size_t)snprintf(b + n, cap - n, "%s\r\n", cfg.headers[i]);
    if (cfg.body != NULL)
        n += (size_t)snprintf(b + n, cap - n, "Content-Length: %zu\r\n", strlen(cfg.body));
    cfg.req_prefix = b;
    cfg.req_prefix_len = n;
    return 0;
}

static int
tls_init(void)
{
    X509_VERIFY_PARAM *vp;

    cfg.ctx = SSL_CTX_new(TLS_client_method());
    if (cfg.ctx == NULL)
        return -1;
    if (cfg.cacert != NULL) {
        if (SSL_CTX_load_verify_locations(cfg.ctx, cfg.cacert, NULL) != 1)
            return -1;
        SSL_CTX_set_verify(cfg.ctx, SSL_VERIFY_PEER, NULL);
        vp = SSL_CTX_get0_param(cfg.ctx);
        /* the server name is checked as an IP address or a DNS name */
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, cfg.host) != 1 &&
            X509_VERIFY_PARAM_set1_host(vp, cfg.host, 0) != 1)
            return -1;
    }
    if (cfg.cert != NULL &&
        (SSL_CTX_use_certificate_chain_file(cfg.ctx, cfg.cert) != 1 ||
         SSL_CTX_use_PrivateKey_file(cfg.ctx, cfg.key ? cfg.key : cfg.cert, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(cfg.ctx) != 1))
        return -1;
    return 0;
}

static int
load_proofs(struct worker *w)
{
    char path[4096];
    FILE *f;
    struct stat st;
    size_t i, n = 0, got;
    char *p, *end;

    snprintf(path, sizeof(path), "%s.%d", cfg.proofs, w->id);
    f = fopen(path, "rb");
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        perror(path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    w->proof_data = malloc((size_t)st.st_size + 1);
    if (w->proof_data == NULL) {
        fclose(f);
        return -1;
    }
    got = fread(w->proof_data, 1, (size_t)st.st_size, f);
    fclose(f);
    if (got != (size_t)st.st_size)
        return -1;
    w->proof_data[got] = '\0';
    for (i = 0; i < got; i++)
        n += w->proof_data[i] == '\n';
    w->proofs = calloc(n + 1, sizeof(*w->proofs));
    if (w->proofs == NULL)
        return -1;
    for (p = w->proof_data, end = p + got; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));

        if (nl == NULL)
            nl = end;
        *nl = '\0';
        if (nl > p)
            w->proofs[w->n_proofs++] = p;
        p = nl + 1;
    }
    return 0;
}

/* ---- connections ---- */

static void
set_events(struct conn *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};

    if (ev == c->events)
        return;
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
        c->events = ev;
}

static void
push_idle(struct conn *c)
{
    c->state = C_IDLE;
    /* An idle connection keeps the read interest it had (no epoll_ctl per
     * request): anything readable on it, the server closing it above all,
     * resets it (on_event). */
    if (!c->idle_listed) {
        c->w->idle[c->w->n_idle++] = c;
        c->idle_listed = 1;
    }
}

static void conn_open(struct conn *c);

static void
conn_close(struct conn *c)
{
    size_t i;

    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd); /* also leaves the epoll set */
        c->fd = -1;
    }
    if (c->idle_listed) {
        for (i = 0; i < c->w->n_idle; i++) {
            if (c->w->idle[i] == c) {
                c->w->idle[i] = c->w->idle[--c->w->n_idle];
                break;
            }
        }
        c->idle_listed = 0;
    }
    c->in_len = 0;
    c->req_off = c->req_len = 0;
}

/* Reconnect after an error (counted) or a close by the server (not). */
static void
conn_reset(struct conn *c, int error)
{
    if (error)
        c->w->errors++;
    c->w->reconnects++;
    conn_close(c);
    if (c->w->errors > 10000) {
        fprintf(stderr, "loadgen: thread %d: too many errors, giving up\n", c->w->id);
        c->w->failed = 1;
        return;
    }
    conn_open(c);
}

static void
conn_open(struct conn *c)
{
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    int one = 1;

    c->fd = socket(cfg.ai->ai_family, cfg.ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   cfg.ai->ai_protocol);
    if (c->fd < 0) {
        c->w->errors++;
        c->w->failed = 1;
        return;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, cfg.ai->ai_addr, cfg.ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        c->w->errors++;
        c->w->failed = 1;
        return;
    }
    c->state = C_CONNECTING;
    c->events = EPOLLOUT;
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_ADD, c->fd, &e) != 0)
        c->w->failed = 1;
}

/* Map an SSL result to: 1 done, 0 wait (interest set), -1 error. */
static int
ssl_wait(struct conn *c, int r)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        set_events(c, EPOLLIN);
        return 0;
    case SSL_ERROR_WANT_WRITE:
        set_events(c, EPOLLOUT);
        return 0;
    default:
        ERR_clear_error();
        return -1;
    }
}

static void
do_handshake(struct conn *c)
{
    int r = SSL_do_handshake(c->ssl);

    if (r == 1) {
        push_idle(c);
        return;
    }
    if (ssl_wait(c, r) < 0) {
        if (c->w->errors == 0)
            fprintf(stderr, "loadgen: TLS handshake failed\n");
        conn_reset(c, 1);
    }
}

static void
on_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        conn_reset(c, 1);
        return;
    }
    if (!cfg.tls) {
        push_idle(c);
        return;
    }
    c->ssl = SSL_new(cfg.ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        conn_reset(c, 1);
        return;
    }
    SSL_set_connect_state(c->ssl);
    c->state = C_HANDSHAKE;
    do_handshake(c);
}

/* ---- requests and responses ---- */

static void do_write(struct conn *c);

/* Send the next request on idle connection `c`, due at `due`. 0 if there
 * is nothing left to send (proofs exhausted). */
static int
send_request(struct conn *c, uint64_t due)
{
    struct worker *w = c->w;
    const char *proof = NULL;
    size_t need, n, plen, hlen = strlen(cfg.proof_header), blen = cfg.body ? strlen(cfg.body) : 0;

    if (cfg.proofs != NULL) {
        if (w->next_proof >= w->n_proofs) {
            if (!w->exhausted) {
                w->exhausted = 1;
                end_early(now_ns());
            }
            return 0;
        }
        proof = w->proofs[w->next_proof++];
    }
    plen = proof != NULL ? strlen(proof) : 0;
    need = cfg.req_prefix_len + (proof ? hlen + plen + 4 : 0) + 2 + blen + 1;
    if (need > c->req_alloc) { /* the buffer is kept from one request to the next */
        char *grown = realloc(c->req, need);

        if (grown == NULL) {
            w->failed = 1;
            return 0;
        }
        c->req = grown;
        c->req_alloc = need;
    }
    memcpy(c->req, cfg.req_prefix, cfg.req_prefix_len);
    n = cfg.req_prefix_len;
    if (proof != NULL) {
        memcpy(c->req + n, cfg.proof_header, hlen);
        memcpy(c->req + n + hlen, ": ", 2);
        memcpy(c->req + n + hlen + 2, proof, plen);
        memcpy(c->req + n + hlen + 2 + plen, "\r\n", 2);
        n += hlen + plen + 4;
    }
    memcpy(c->req + n, "\r\n", 2);
    n += 2;
    if (blen > 0)
        memcpy(c->req + n, cfg.body, blen);
    c->req_len = n + blen;
    c->req_off = 0;
    c->in_len = 0;
    c->t_due = due;
    c->state = C_WRITE;
    if (c->idle_listed) {
        /* popped by the caller */
        c->idle_listed = 0;
    }
    do_write(c);
    return 1;
}

static void
do_write(struct conn *c)
{
    ssize_t n;
    int r;

    while (c->req_off < c->req_len) {
        if (c->ssl != NULL) {
            r = SSL_write(c->ssl, c->req + c->req_off, (int)(c->req_len - c->req_off));
            if (r <= 0) {
                if (ssl_wait(c, r) < 0)
                    conn_reset(c, 1);
                return;
            }
            c->req_off += (size_t)r;
        } else {
            n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    set_events(c, EPOLLOUT);
                    return;
                }
                conn_reset(c, 1);
                return;
            }
            c->req_off += (size_t)n;
        }
    }
    c->state = C_READ;
    set_events(c, EPOLLIN);
}

static const char *
find_crlfcrlf(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i + 3 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return p + i;
    return NULL;
}

/* 1: a whole response is in; 0: need more; -1: malformed. */
static int
parse_response(struct conn *c, int *status, int *close_after)
{
    const char *hend = find_crlfcrlf(c->in, c->in_len), *line, *eol;
    size_t hlen, clen = 0;
    int have_cl = 0;

    if (hend == NULL)
        return c->in_len > 65536 ? -1 : 0;
    hlen = (size_t)(hend - c->in) + 4;
    if (c->in_len < 12 || strncmp(c->in, "HTTP/1.", 7) != 0)
        return -1;
    *status = (c->in[9] - '0') * 100 + (c->in[10] - '0') * 10 + (c->in[11] - '0');
    *close_after = c->in[7] == '0'; /* HTTP/1.0 closes by default */
    for (line = (const char *)memchr(c->in, '\n', hlen) + 1; line < hend; line = eol + 1) {
        eol = memchr(line, '\n', (size_t)(c->in + hlen - line));
        if (eol == NULL)
            break;
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            clen = strtoul(line + 15, NULL, 10);
            have_cl = 1;
        } else if (strncasecmp(line, "Connection:", 11) == 0) {
            const char *v = line + 11;

            while (*v == ' ')
                v++;
            if (strncasecmp(v, "close", 5) == 0)
                *close_after = 1;
            else if (strncasecmp(v, "keep-alive", 10) == 0)
                *close_after = 0;
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            return -1; /* not needed here: the server sends Content-Length */
        }
    }
    if (!have_cl && *status != 204 && *status != 304)
        return -1;
    return c->in_len >= hlen + clen ? 1 : 0;
}

static void
record(struct conn *c, int status)
{
    struct worker *w = c->w;
    uint64_t t = now_ns(), lat;
    uint32_t *grown;
    int ok = status >= 200 && status <= 299;

    if (!ok)
        w->non2xx_all++;
    if (c->t_due < window_ns || t > atomic_load(&end_ns))
        return; /* warm-up, or after the end */
    w->completed++;
    w->status_counts[status >= 100 && status <= 599 ? status / 100 : 0]++;
    if (!ok)
        w->non2xx++;
    if (w->n_lat == w->lat_alloc) {
        w->lat_alloc = w->lat_alloc ? w->lat_alloc * 2 : 65536;
        grown = realloc(w->lat_us, w->lat_alloc * sizeof(*grown));
        if (grown == NULL) {
            w->failed = 1;
            return;
        }
        w->lat_us = grown;
    }
    lat = (t - c->t_due) / 1000;
    w->lat_us[w->n_lat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
}

static void
do_read(struct conn *c)
{
    int status = 0, close_after = 0, done, r;
    ssize_t n;
    char *grown;

    for (;;) {
        if (c->in_alloc - c->in_len < 16384) {
            if (c->in_alloc >= IN_CAP) {
                conn_reset(c, 1);
                return;
            }
            c->in_alloc = c->in_alloc ? c->in_alloc * 2 : 32768;
            grown = realloc(c->in, c->in_alloc);
            if (grown == NULL) {
                c->w->failed = 1;
                return;
            }
            c->in = grown;
        }
        if (c->ssl != NULL) {
            r = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_alloc - c->in_len));
            if (r <= 0) {
                if (ssl_wait(c, r) < 0)
                    conn_reset(c, 1);
                return;
            }
            n = r;
        } else {
            n = recv(c->fd, c->in + c->in_len, c->in_alloc - c->in_len, 0);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                set_events(c, EPOLLIN);
                return;
            }
            if (n <= 0) {
                conn_reset(c, 1);
                return;
            }
        }
        c->in_len += (size_t)n;
        done = parse_response(c, &status, &close_after);
        if (done < 0) {
            conn_reset(c, 1);
            return;
        }
        if (done > 0)
            break;
    }
    record(c, status);
    if (close_after)
        conn_reset(c, 0);
    else
        push_idle(c);
}

static void
on_event(struct conn *c, uint32_t ev)
{
    switch (c->state) {
    case C_CONNECTING:
        on_connected(c);
        break;
    case C_HANDSHAKE:
        do_handshake(c);
        break;
    case C_IDLE:
        /* the server closed an idle keep-alive connection (or sent what
         * nobody asked for) */
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            conn_reset(c, 0);
        break;
    case C_WRITE:
        do_write(c);
        break;
    case C_READ:
        do_read(c);
        break;
    default:
        break;
    }
}

/* ---- the loop ---- */

static void
arm_timer(struct worker *w, uint64_t at)
{
    struct itimerspec its;

    if (at == w->armed_ns)
        return;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(at / 1000000000u);
    its.it_value.tv_nsec = (long)(at % 1000000000u);
    if (timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        w->armed_ns = at;
}

static uint64_t
due_at(const struct worker *w, uint64_t k)
{
    return start_ns + (uint64_t)((double)k * 1e9 / w->rate);
}

/* Hand due requests to idle connections; returns when the next one is due
 * (0: no timer needed). */
static uint64_t
dispatch(struct worker *w, uint64_t now)
{
    uint64_t end = atomic_load(&end_ns), due;
    struct conn *c;

    if (w->rate <= 0) {
        while (w->n_idle > 0 && now < end && !w->exhausted) {
            c = w->idle[--w->n_idle];
            c->idle_listed = 0;
            if (!send_request(c, now_ns())) {
                push_idle(c);
                break;
            }
        }
        return end;
    }
    for (;;) {
        due = due_at(w, w->k_next);
        if (due >= end)
            return end;
        if (due > now)
            return due;
        if (w->n_idle == 0 || w->exhausted)
            return end; /* a response will free a connection */
        c = w->idle[--w->n_idle];
        c->idle_listed = 0;
        if (!send_request(c, due)) {
            push_idle(c);
            return end;
        }
        w->k_next++;
    }
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[64], te = {.events = EPOLLIN, .data.u64 = TIMER_TAG};
    uint64_t now, next, buf;
    size_t i;
    int n, k;

    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->epfd < 0 || w->tfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tfd, &te) != 0)
        w->failed = 1;
    if (cfg.proofs != NULL && load_proofs(w) != 0)
        w->failed = 1;
    pthread_barrier_wait(&barrier); /* everything loaded */
    pthread_barrier_wait(&barrier); /* main has set start_ns */
    for (i = 0; i < w->n_conns && !w->failed; i++) {
        w->c[i].w = w;
        w->c[i].fd = -1;
        conn_open(&w->c[i]);
    }
    while (!w->failed) {
        now = now_ns();
        if (now >= atomic_load(&end_ns))
            break;
        next = dispatch(w, now);
        arm_timer(w, next);
        n = epoll_wait(w->epfd, evs, 64, 100);
        if (n < 0 && errno != EINTR)
            break;
        for (k = 0; k < n; k++) {
            if (evs[k].data.u64 == TIMER_TAG) {
                if (read(w->tfd, &buf, sizeof(buf)) < 0)
                    (void)0; /* EAGAIN: nothing to clear */
                w->armed_ns = 0;
                continue;
            }
            on_event(evs[k].data.ptr, evs[k].events);
        }
    }
    if (w->rate > 0) {
        /* requests due in the window (up to the end), sent or not */
        uint64_t end = atomic_load(&end_ns), k0 = 0, k1 = 0;

        while (due_at(w, k0) < window_ns)
            k0++;
        k1 = k0;
        while (due_at(w, k1) < end)
            k1++;
        w->due_in_window = k1 - k0;
    }
    for (i = 0; i < w->n_conns; i++) {
        conn_close(&w->c[i]);
        free(w->c[i].req);
        free(w->c[i].in);
    }
    return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

static double
pct_ms(const uint32_t *v, size_t n, double p)
{
    size_t i;

    if (n == 0)
        return 0;
    i = (size_t)(p * (double)n + 0.999999);
    if (i == 0)
        i = 1;
    if (i > n)
        i = n;
    return v[i - 1] / 1000.0;
}

static int
parse_double(const char *s, double *out)
{
    char *end;

    *out = strtod(s, &end);
    return end != s && *end == '\0' && *out >= 0 ? 0 : -1;
}

static int
parse_args(int argc, char **argv)
{
    int i;
    double d;

    cfg.threads = 2;
    cfg.conns = 16;
    cfg.duration = 10;
    cfg.warmup = 2;
    cfg.proof_header = "DPoP";
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (a[0] != '-') {
            if (cfg.url != NULL)
                return -1;
            cfg.url = a;
            continue;
        }
        if (strcmp(a, "--batch") == 0) { /* the one option without a value */
            cfg.batch = 1;
            continue;
        }
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "-t") == 0 && parse_double(v, &d) == 0 && d >= 1 && d <= MAX_THREADS)
            cfg.threads = (unsigned)d;
        else if (strcmp(a, "-c") == 0 && parse_double(v, &d) == 0 && d >= 1 && d <= 10000)
            cfg.conns = (unsigned)d;
        else if (strcmp(a, "-d") == 0 && parse_double(v, &d) == 0 && d > 0)
            cfg.duration = d;
        else if (strcmp(a, "-w") == 0 && parse_double(v, &d) == 0)
            cfg.warmup = d;
        else if (strcmp(a, "-R") == 0 && parse_double(v, &d) == 0)
            cfg.rate = d;
        else if (strcmp(a, "-m") == 0)
            cfg.method = v;
        else if (strcmp(a, "-H") == 0 && cfg.n_headers < MAX_HEADERS)
            cfg.headers[cfg.n_headers++] = v;
        else if (strcmp(a, "-b") == 0)
            cfg.body = v;
        else if (strcmp(a, "--proofs") == 0)
            cfg.proofs = v;
        else if (strcmp(a, "--proof-header") == 0)
            cfg.proof_header = v;
        else if (strcmp(a, "--cacert") == 0)
            cfg.cacert = v;
        else if (strcmp(a, "--cert") == 0)
            cfg.cert = v;
        else if (strcmp(a, "--key") == 0)
            cfg.key = v;
        else
            return -1;
    }
    if (cfg.url == NULL || parse_url(cfg.url) != 0 || cfg.conns < cfg.threads)
        return -1;
    if (cfg.method == NULL)
        cfg.method = cfg.body ? "POST" : "GET";
    return 0;
}

int
main(int argc, char **argv)
{
    static struct worker workers[MAX_THREADS];
    struct addrinfo hints;
    struct rusage ru0, ru1;
    uint64_t completed = 0, non2xx = 0, non2xx_all = 0, errors = 0, reconnects = 0, due = 0;
    uint64_t sc[6] = {0}, t_end;
    uint32_t *all;
    size_t n_lat = 0, i, off;
    unsigned t;
    int failed = 0, exhausted = 0, s;
    double secs, cpu;

    if (parse_args(argc, argv) != 0) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((s = getaddrinfo(cfg.host, cfg.port, &hints, &cfg.ai)) != 0) {
        fprintf(stderr, "loadgen: %s:%s: %s\n", cfg.host, cfg.port, gai_strerror(s));
        return 1;
    }
    if (build_prefix() != 0 || (cfg.tls && tls_init() != 0)) {
        fprintf(stderr, "loadgen: setup failed\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    /* Co-located with the server on the same cores, an ordinary load
     * generator preempts the server each time a response wakes it: two
     * context switches and cold caches on the server's side, costs a real
     * deployment (clients elsewhere) does not have. SCHED_BATCH keeps its
     * wake-ups from preempting (sched(7)); the threads inherit it. */
    if (cfg.batch) {
        struct sched_param sp = {0};

        if (sched_setscheduler(0, SCHED_BATCH, &sp) != 0) {
            perror("loadgen: SCHED_BATCH");
            return 1;
        }
    }
    if (pthread_barrier_init(&barrier, NULL, cfg.threads + 1) != 0)
        return 1;
    for (t = 0; t < cfg.threads; t++) {
        struct worker *w = &workers[t];

        w->id = (int)t;
        w->n_conns = cfg.conns / cfg.threads + (t < cfg.conns % cfg.threads);
        w->c = calloc(w->n_conns, sizeof(*w->c));
        w->idle = calloc(w->n_conns, sizeof(*w->idle));
        w->rate = cfg.rate / cfg.threads;
        if (w->c == NULL || w->idle == NULL ||
            pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "loadgen: thread setup failed\n");
            return 1;
        }
    }
    pthread_barrier_wait(&barrier);
    start_ns = now_ns();
    window_ns = start_ns + (uint64_t)(cfg.warmup * 1e9);
    atomic_store(&end_ns, window_ns + (uint64_t)(cfg.duration * 1e9));
    getrusage(RUSAGE_SELF, &ru0);
    pthread_barrier_wait(&barrier);
    for (t = 0; t < cfg.threads; t++)
        pthread_join(workers[t].thread, NULL);
    getrusage(RUSAGE_SELF, &ru1);
    t_end = atomic_load(&end_ns);
    secs = (double)(t_end - window_ns) / 1e9;
    if (secs <= 0)
        secs = 1e-9;
    cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                   ru0.ru_stime.tv_sec) +
          (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                   ru0.ru_stime.tv_usec) / 1e6;

    for (t = 0; t < cfg.threads; t++) {
        struct worker *w = &workers[t];

        completed += w->completed;
        non2xx += w->non2xx;
        non2xx_all += w->non2xx_all;
        errors += w->errors;
        reconnects += w->reconnects;
        due += w->due_in_window;
        n_lat += w->n_lat;
        failed |= w->failed;
        exhausted |= w->exhausted;
        for (s = 0; s < 6; s++)
            sc[s] += w->status_counts[s];
    }
    all = malloc((n_lat ? n_lat : 1) * sizeof(*all));
    if (all == NULL)
        return 1;
    for (off = 0, t = 0; t < cfg.threads; t++) {
        if (workers[t].n_lat > 0)
            memcpy(all + off, workers[t].lat_us, workers[t].n_lat * sizeof(*all));
        off += workers[t].n_lat;
    }
    qsort(all, n_lat, sizeof(*all), cmp_u32);

    printf("loadgen: %s, %u threads, %u connections, %.1f s warm-up + %.1f s%s\n",
           cfg.rate > 0 ? "open loop" : "closed loop", cfg.threads, cfg.conns, cfg.warmup,
           cfg.duration, cfg.tls && cfg.cert ? ", TLS client certificate" : "");
    if (cfg.rate > 0)
        printf("  target %.0f req/s: %llu requests due in the window, %llu answered in it\n",
               cfg.rate, (unsigned long long)due, (unsigned long long)completed);
    printf("  %llu requests in %.2f s: %.1f req/s\n", (unsigned long long)completed, secs,
           (double)completed / secs);
    printf("  latency%s  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
           cfg.rate > 0 ? " (from due time)" : "", pct_ms(all, n_lat, 0.50),
           pct_ms(all, n_lat, 0.90), pct_ms(all, n_lat, 0.99), pct_ms(all, n_lat, 0.999),
           n_lat ? all[n_lat - 1] / 1000.0 : 0.0);
    printf("  status 2xx %llu 4xx %llu 5xx %llu other %llu; non-2xx %llu (%llu incl. warm-up); "
           "socket errors %llu; reconnects %llu; loadgen CPU %.2f s\n",
           (unsigned long long)sc[2], (unsigned long long)sc[4], (unsigned long long)sc[5],
           (unsigned long long)(sc[0] + sc[1] + sc[3]), (unsigned long long)non2xx,
           (unsigned long long)non2xx_all, (unsigned long long)errors,
           (unsigned long long)reconnects, cpu);
    if (exhausted)
        printf("  proofs ran out: the run stopped early, after %.2f s\n", secs);
    if (failed)
        printf("  FAILED: see the messages above\n");
    printf("loadgen: rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f "
           "requests=%llu non2xx=%llu non2xx_all=%llu errors=%llu duration_s=%.3f "
           "target_rps=%.0f due=%llu exhausted=%d failed=%d cpu_s=%.2f\n",
           (double)completed / secs, pct_ms(all, n_lat, 0.50), pct_ms(all, n_lat, 0.90),
           pct_ms(all, n_lat, 0.99), pct_ms(all, n_lat, 0.999),
           n_lat ? all[n_lat - 1] / 1000.0 : 0.0, (unsigned long long)completed,
           (unsigned long long)non2xx, (unsigned long long)non2xx_all,
           (unsigned long long)errors, secs, cfg.rate, (unsigned long long)due, exhausted,
           failed, cpu);
    free(all);
    for (i = 0; i < cfg.threads; i++) {
        free(workers[i].lat_us);
        free(workers[i].c);
        free(workers[i].idle);
        free(workers[i].proofs);
        free(workers[i].proof_data);
    }
    freeaddrinfo(cfg.ai);
    SSL_CTX_free(cfg.ctx);
    free(cfg.req_prefix);
    return failed ? 1 : 0;
}
