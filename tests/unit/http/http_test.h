/* Helpers for the HTTP tests: a server on 127.0.0.1 port 0 in a background
 * thread, the curl CLI as the client, raw sockets for malformed input, and
 * a temporary directory. Included by each test file (static functions). */
#ifndef TG_TEST_HTTP_H
#define TG_TEST_HTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "test.h"

static char t_dir[256];

static __attribute__((unused)) void
t_dir_make(void)
{
    snprintf(t_dir, sizeof(t_dir), "/tmp/tg-http-XXXXXX");
    if (mkdtemp(t_dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

static __attribute__((unused)) void
t_dir_remove(void)
{
    char cmd[512];

    if (t_dir[0] == '\0')
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t_dir);
}

static __attribute__((unused)) long
t_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static __attribute__((unused)) void
t_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

/* Read a whole file; NUL-terminated; *len without the NUL. */
static __attribute__((unused)) char *
t_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0, r;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (cap - n < 4096) {
            char *nb = realloc(buf, cap + 65536);

            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap += 65536;
        }
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

static __attribute__((unused)) int
t_write_file(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (f == NULL)
        return -1;
    ok = fwrite(p, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Run a shell command; its stdout goes to *out (may be NULL). Returns the
 * exit status, or -1. */
static int t_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static __attribute__((unused)) int
t_sh(char **out, const char *fmt, ...)
{
    char cmd[16384];
    char outfile[300];
    va_list ap;
    int n, st;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd) - 400, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(cmd) - 400)
        return -1;
    snprintf(outfile, sizeof(outfile), "%s/sh.out", t_dir);
    snprintf(cmd + n, sizeof(cmd) - (size_t)n, " >'%s'", outfile);
    st = system(cmd);
    if (out != NULL)
        *out = t_slurp(outfile, NULL);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* A response as curl saw it. */
struct t_resp {
    int rc;        /* curl's exit status */
    int status;    /* HTTP status, 0 when none */
    char *headers; /* raw header block */
    char *body;
    size_t body_len;
};

static __attribute__((unused)) void
t_resp_free(struct t_resp *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* curl with our options and `args` (URL included); fills *r. */
static int t_curl(struct t_resp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static __attribute__((unused)) int
t_curl(struct t_resp *r, const char *fmt, ...)
{
    char args[12288];
    char hfile[300], bfile[300];
    char *out = NULL;
    va_list ap;
    int n;

    memset(r, 0, sizeof(*r));
    va_start(ap, fmt);
    n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(args))
        return -1;
    snprintf(hfile, sizeof(hfile), "%s/curl.h", t_dir);
    snprintf(bfile, sizeof(bfile), "%s/curl.b", t_dir);
    unlink(hfile);
    unlink(bfile);
    r->rc = t_sh(&out, "curl -s --max-time 10 -D '%s' -o '%s' -w '%%{http_code}' %s", hfile, bfile,
                 args);
    r->status = out != NULL ? (int)strtol(out, NULL, 10) : 0;
    free(out);
    r->headers = t_slurp(hfile, NULL);
    r->body = t_slurp(bfile, &r->body_len);
    if (r->headers == NULL)
        r->headers = strdup("");
    if (r->body == NULL) {
        r->body = strdup("");
        r->body_len = 0;
    }
    return r->rc;
}

/* Value of a response header (first occurrence), copied into `out`. */
static __attribute__((unused)) const char *
t_header(const struct t_resp *r, const char *name, char *out, size_t cap)
{
    const char *p = r->headers;
    size_t nlen = strlen(name);

    while (p != NULL && *p != '\0') {
        const char *eol = strstr(p, "\r\n");
        size_t llen = eol != NULL ? (size_t)(eol - p) : strlen(p);

        if (llen > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            size_t vlen;

            while (*v == ' ')
                v++;
            vlen = llen - (size_t)(v - p);
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
        p = eol != NULL ? eol + 2 : NULL;
    }
    return NULL;
}

/* --- a server in a background thread --- */

struct t_server {
    struct tg_http_server *s;
    pthread_t th;
    enum tg_err run_rv;
    int signals;
    int running;
    int port;
};

static __attribute__((unused)) void *
t_server_main(void *arg)
{
    struct t_server *ts = arg;

    ts->run_rv = tg_http_server_run(ts->s, ts->signals);
    return NULL;
}

/* 0 on success. The listener's port 0 becomes ts->port (listener 0). */
static __attribute__((unused)) int
t_server_start(struct t_server *ts, const struct tg_http_config *cfg, struct tg_http_router *r,
               int signals)
{
    enum tg_err rv;

    memset(ts, 0, sizeof(*ts));
    rv = tg_http_server_new(cfg, r, &ts->s);
    if (rv != TG_OK) {
        fprintf(stderr, "  server_new: %s [%s]\n", tg_err_name(rv), tg_err_detail());
        return -1;
    }
    ts->port = tg_http_server_port(ts->s, 0);
    ts->signals = signals;
    if (pthread_create(&ts->th, NULL, t_server_main, ts) != 0) {
        tg_http_server_free(ts->s);
        ts->s = NULL;
        return -1;
    }
    ts->running = 1;
    return 0;
}

/* Stop (unless already stopped), join, free; returns what run returned. */
static __attribute__((unused)) enum tg_err
t_server_stop(struct t_server *ts)
{
    if (ts->s == NULL)
        return TG_ERR_INTERNAL;
    if (ts->running) {
        tg_http_server_stop(ts->s);
        pthread_join(ts->th, NULL);
        ts->running = 0;
    }
    tg_http_server_free(ts->s);
    ts->s = NULL;
    return ts->run_rv;
}

static __attribute__((unused)) void
t_config_plain(struct tg_http_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listeners[0].addr = "127.0.0.1:0";
    cfg->n_listeners = 1;
    cfg->workers = 2;
}

/* --- raw sockets, for what curl will not send --- */

static __attribute__((unused)) int
t_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static __attribute__((unused)) int
t_send_all(int fd, const void *p, size_t len)
{
    const char *c = p;

    while (len > 0) {
        ssize_t n = send(fd, c, len, MSG_NOSIGNAL);

        if (n <= 0)
            return -1;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read until the peer closes or timeout_ms passes. Returns bytes read;
 * *closed says whether the peer closed. */
static __attribute__((unused)) size_t
t_recv_until_close(int fd, char *buf, size_t cap, long timeout_ms, int *closed)
{
    long deadline = t_now_ms() + timeout_ms;
    size_t n = 0;

    *closed = 0;
    while (n + 1 < cap) {
        struct pollfd pfd = {fd, POLLIN, 0};
        long left = deadline - t_now_ms();
        ssize_t r;

        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        r = recv(fd, buf + n, cap - n - 1, 0);
        if (r <= 0) {
            *closed = 1;
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

/* Send raw bytes on a new connection, half-close, return the reply. */
static __attribute__((unused)) size_t
t_raw(int port, const void *req, size_t len, char *out, size_t cap)
{
    int fd = t_connect(port), closed;
    size_t n;

    out[0] = '\0';
    if (fd < 0)
        return 0;
    if (t_send_all(fd, req, len) != 0) {
        close(fd);
        return 0;
    }
    shutdown(fd, SHUT_WR);
    n = t_recv_until_close(fd, out, cap, 5000, &closed);
    close(fd);
    return n;
}

/* Status code of the first response in a raw reply, or 0. */
static __attribute__((unused)) int
t_raw_status(const char *reply)
{
    if (strncmp(reply, "HTTP/1.", 7) != 0 || strlen(reply) < 12)
        return 0;
    return (int)strtol(reply + 9, NULL, 10);
}

#endif
