/* Deferred and streamed responses (http.h, tg_http_defer): a buffered
 * answer completed later, a chunked stream, a stream cut, the client leaving
 * (cancel runs), the shutdown deadline cutting a stream, no deferring
 * without a server. The server runs in a thread; handlers drive their
 * responses from timers on the worker's event base. */
#include <stdatomic.h>

#include <event2/event.h>

#include "http_test.h"

/* One deferred response driven by a timer: `step` counts the ticks. */
struct job {
    struct tg_http_stream *st;
    struct event *ev;
    int kind, step;
};

enum { FINISH, STREAM, CUT, HOLD };

static atomic_int cancelled;

static void
job_free(struct job *j)
{
    event_free(j->ev);
    free(j);
}

static void
on_cancel(void *arg)
{
    struct job *j = arg;

    atomic_fetch_add(&cancelled, 1);
    job_free(j);
}

static void
tick(struct job *j, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    evtimer_add(j->ev, &tv);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;
    struct tg_http_response res;
    int ok = 1;

    (void)fd;
    (void)what;
    tg_http_response_init(&res);
    if (j->kind == FINISH) {
        ok = tg_http_response_json(&res, 201, "{\"later\":true}") == TG_OK;
        tg_http_stream_finish(j->st, &res);
        tg_http_response_reset(&res);
        job_free(j);
        return;
    }
    if (j->step == 0) {
        res.status = 200;
        ok = tg_http_response_header(&res, "Content-Type", "text/event-stream") == TG_OK &&
             tg_http_stream_start(j->st, &res) == TG_OK &&
             tg_http_stream_write(j->st, "data: a\n\n", 9) == TG_OK;
        j->step++;
        tick(j, 300);
    } else if (j->kind == HOLD) {
        ok = tg_http_stream_write(j->st, ": ping\n\n", 8) == TG_OK;
        tick(j, 200);
    } else {
        ok = tg_http_stream_write(j->st, "data: b\n\n", 9) == TG_OK;
        tg_http_stream_end(j->st, j->kind == STREAM);
        job_free(j);
    }
    tg_http_response_reset(&res);
    if (!ok)
        fprintf(stderr, "  stream handler step failed: %s\n", tg_err_detail());
}

static void
h_defer(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct job *j = calloc(1, sizeof(*j));

    if (j == NULL || (j->st = tg_http_defer(req, res)) == NULL) {
        free(j);
        if (tg_http_response_json(res, 500, "{\"deferred\":false}") != TG_OK)
            res->status = 500;
        return;
    }
    j->kind = (int)(intptr_t)ctx;
    j->ev = evtimer_new(tg_http_stream_base(j->st), on_tick, j);
    tg_http_stream_set_cancel(j->st, on_cancel, j);
    tick(j, 50);
}

static struct tg_http_router *
make_router(void)
{
    struct tg_http_router *r = tg_http_router_new();

    if (r == NULL || tg_http_route(r, "GET", "/finish", h_defer, (void *)(intptr_t)FINISH) ||
        tg_http_route(r, "GET", "/stream", h_defer, (void *)(intptr_t)STREAM) ||
        tg_http_route(r, "GET", "/cut", h_defer, (void *)(intptr_t)CUT) ||
        tg_http_route(r, "GET", "/hold", h_defer, (void *)(intptr_t)HOLD)) {
        fprintf(stderr, "router\n");
        exit(2);
    }
    return r;
}

static struct t_server srv;

static void
test_finish_later(void)
{
    struct t_resp r;

    t_curl(&r, "http://127.0.0.1:%d/finish", srv.port);
    CHECK(r.rc == 0 && r.status == 201 && strcmp(r.body, "{\"later\":true}") == 0);
    CHECK(strstr(r.headers, "X-Content-Type-Options: nosniff") != NULL);
    t_resp_free(&r);
    /* HEAD of a deferred GET: headers only. */
    t_curl(&r, "-I http://127.0.0.1:%d/finish", srv.port);
    /* (curl -I writes the header block as its output too) */
    CHECK(r.rc == 0 && r.status == 201 && strstr(r.headers, "Content-Length: 14") != NULL);
    t_resp_free(&r);
}

static void
test_stream_chunked(void)
{
    struct t_resp r;
    char v[64];

    t_curl(&r, "-N http://127.0.0.1:%d/stream", srv.port);
    CHECK(r.rc == 0 && r.status == 200);
    CHECK(strcmp(r.body, "data: a\n\ndata: b\n\n") == 0);
    CHECK(t_header(&r, "Transfer-Encoding", v, sizeof(v)) != NULL && strcmp(v, "chunked") == 0);
    t_resp_free(&r);
    /* HTTP/1.0: no chunked coding, the body ends with the connection. */
    t_curl(&r, "-0 -H 'Connection: keep-alive' http://127.0.0.1:%d/stream", srv.port);
    CHECK(r.rc == 0 && r.status == 200 && strcmp(r.body, "data: a\n\ndata: b\n\n") == 0);
    CHECK(t_header(&r, "Transfer-Encoding", v, sizeof(v)) == NULL);
    CHECK(t_header(&r, "Content-Length", v, sizeof(v)) == NULL);
    t_resp_free(&r);
}

static void
test_stream_cut(void)
{
    struct t_resp r;

    /* curl: 18, "transfer closed with outstanding read data remaining". */
    t_curl(&r, "-N http://127.0.0.1:%d/cut", srv.port);
    CHECK(r.rc == 18 && r.status == 200);
    t_resp_free(&r);
}

static void
test_client_leaves(void)
{
    struct sockaddr_in sa = {0};
    char buf[4096];
    const char *rq = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd, before = atomic_load(&cancelled), i;
    ssize_t n;

    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)srv.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK(write(fd, rq, strlen(rq)) == (ssize_t)strlen(rq));
    n = read(fd, buf, sizeof(buf) - 1);
    CHECK(n > 0);
    close(fd);
    for (i = 0; i < 50 && atomic_load(&cancelled) == before; i++)
        t_sleep_ms(20);
    CHECK(atomic_load(&cancelled) == before + 1);
}

static void
test_no_server(void)
{
    struct tg_http_request_spec spec = {0};
    struct tg_http_request *req = NULL;
    struct tg_http_response res;

    spec.method = "GET";
    spec.path = "/x";
    tg_http_response_init(&res);
    CHECK_OK(tg_http_request_new(&spec, &req));
    CHECK(tg_http_defer(req, &res) == NULL && !res.deferred);
    CHECK(tg_http_worker_data(req, &spec) == NULL);
    tg_http_request_free(req);
    tg_http_response_reset(&res);
}

/* At shutdown a stream already under way (it has no end of its own) is
 * ended cleanly at once, its cancel callback run: the client sees a
 * complete chunked response (curl exits 0, not 18 for a cut), and the stop
 * does not wait out the write timeout (30 s here). */
static void
test_shutdown_ends_streams(void)
{
    struct t_server s2;
    struct tg_http_config cfg = {0};
    struct tg_http_router *r = make_router();
    char cmd[256];
    int before = atomic_load(&cancelled), st = -1;
    long t0;
    pid_t pid;

    cfg.listeners[0].addr = "127.0.0.1:0";
    cfg.n_listeners = 1;
    cfg.workers = 1;
    cfg.write_timeout_s = 30;
    CHECK(t_server_start(&s2, &cfg, r, 0) == 0);
    snprintf(cmd, sizeof(cmd), "curl -s -N --max-time 10 -o /dev/null http://127.0.0.1:%d/hold",
             s2.port);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    t_sleep_ms(600); /* the stream has started (50 ms) and pinged */
    t0 = t_now_ms();
    CHECK_OK(t_server_stop(&s2));
    CHECK(t_now_ms() - t0 < 2000);
    CHECK(atomic_load(&cancelled) == before + 1);
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    tg_http_router_free(r);
}

int
main(void)
{
    struct tg_http_config cfg = {0};
    struct tg_http_router *r;

    t_dir_make();
    r = make_router();
    cfg.listeners[0].addr = "127.0.0.1:0";
    cfg.n_listeners = 1;
    cfg.workers = 1;
    if (t_server_start(&srv, &cfg, r, 0) != 0)
        return 2;

    RUN(test_finish_later);
    RUN(test_stream_chunked);
    RUN(test_stream_cut);
    RUN(test_client_leaves);
    RUN(test_no_server);
    RUN(test_shutdown_ends_streams);

    if (t_server_stop(&srv) != TG_OK)
        t_failed++;
    tg_http_router_free(r);
    t_dir_remove();
    return t_report("http/stream");
}
