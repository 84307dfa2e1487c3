/* The HTTP server over real sockets: plain and TLS listeners on 127.0.0.1
 * port 0, driven by the curl and openssl CLIs and by raw sockets. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>

#include <jansson.h>

#include "core/log.h"
#include "http_test.h"

/* --- certificates, made at test time --- */

static const char gen_certs[] =
    "set -e\n"
    "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$1\"; }\n"
    "ca() {\n"
    "  key $1.key\n"
    "  openssl req -x509 -new -key $1.key -subj \"/CN=$2\" -days 2 \\\n"
    "    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \\\n"
    "    -out $1.pem\n"
    "}\n"
    "leaf() {\n"
    "  key $1.key\n"
    "  openssl req -new -key $1.key -subj \"/CN=$3\" -out $1.csr\n"
    "  printf '%s\\n' \"$4\" > $1.ext\n"
    "  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -days 2 \\\n"
    "    -extfile $1.ext -out $1.pem\n"
    "  openssl x509 -in $1.pem -outform DER -out $1.der\n"
    "}\n"
    "ca ca 'Tollgate Test CA'\n"
    "ca otherca 'Some Other CA'\n"
    "leaf server ca 127.0.0.1 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'\n"
    "leaf client ca agent-1 'extendedKeyUsage=clientAuth'\n"
    "leaf stranger otherca agent-x 'extendedKeyUsage=clientAuth'\n"
    "key self.key\n"
    "openssl req -x509 -new -key self.key -subj /CN=self-agent -days 2 \\\n"
    "  -addext extendedKeyUsage=clientAuth -out self.pem\n"
    "openssl x509 -in self.pem -outform DER -out self.der\n";

static char p_ca[300], p_srv_cert[300], p_srv_key[300];

static int
make_certs(void)
{
    char path[300];

    snprintf(path, sizeof(path), "%s/gen.sh", t_dir);
    if (t_write_file(path, gen_certs, sizeof(gen_certs) - 1) != 0)
        return -1;
    if (t_sh(NULL, "cd '%s' && sh gen.sh 2>/dev/null", t_dir) != 0)
        return -1;
    snprintf(p_ca, sizeof(p_ca), "%s/ca.pem", t_dir);
    snprintf(p_srv_cert, sizeof(p_srv_cert), "%s/server.pem", t_dir);
    snprintf(p_srv_key, sizeof(p_srv_key), "%s/server.key", t_dir);
    return 0;
}

/* Hex of a certificate's DER file, as the whoami handler reports it. */
static char *
der_hex(const char *name)
{
    char path[300];
    char *der, *hex;
    size_t n, i;

    snprintf(path, sizeof(path), "%s/%s.der", t_dir, name);
    der = t_slurp(path, &n);
    if (der == NULL || n == 0) {
        free(der);
        return NULL;
    }
    hex = malloc(2 * n + 1);
    for (i = 0; hex != NULL && i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)der[i]);
    free(der);
    return hex;
}

/* --- handlers --- */

static void
h_whoami(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_slice c = tg_http_client_cert(req);
    json_t *o = json_object();
    char *hex = malloc(2 * c.len + 1), *text;
    size_t i;

    (void)ctx;
    hex[0] = '\0';
    for (i = 0; i < c.len; i++)
        snprintf(hex + 2 * i, 3, "%02x", c.p[i]);
    json_object_set_new(o, "tls", json_integer(tg_http_is_tls(req)));
    json_object_set_new(o, "verified", json_integer(tg_http_client_cert_verified(req)));
    json_object_set_new(o, "cert", json_string(hex));
    json_object_set_new(o, "peer", json_string(tg_http_peer(req)));
    json_object_set_new(o, "base_url", json_string(tg_http_base_url(req)));
    json_object_set_new(o, "nginx_header",
                        json_integer(tg_http_header(req, "X-SSL-Client-Cert") != NULL));
    json_object_set_new(o, "xfcc_header",
                        json_integer(tg_http_header(req, "x-forwarded-client-cert") != NULL));
    json_object_set_new(o, "header_count",
                        json_integer((json_int_t)(tg_http_header_count(req, "X-SSL-Client-Cert") +
                                                  tg_http_header_count(req, "X-Forwarded-Client-Cert"))));
    text = json_dumps(o, JSON_COMPACT);
    if (tg_http_response_json(res, 200, text) != TG_OK)
        res->status = 500;
    free(text);
    free(hex);
    json_decref(o);
}

static void
h_echo(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_slice b = tg_http_body(req);

    (void)ctx;
    res->status = 200;
    if (tg_buf_append(&res->body, b.p, b.len) != TG_OK ||
        tg_http_response_header(res, "Content-Type", "application/octet-stream") != TG_OK)
        res->status = 500;
}

static atomic_int slow_started;

static void
h_slow(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    (void)ctx;
    (void)req;
    atomic_store(&slow_started, 1);
    t_sleep_ms(500);
    if (tg_http_response_json(res, 200, "{\"slow\":\"done\"}") != TG_OK)
        res->status = 500;
}

/* The barrier (http.h): a stand-in for the audit log's group commit.
 * /record records a line (its id); with b_lose set, that line is lost, as
 * when the log's write fails. */
static atomic_ullong b_recorded, b_lost;
static atomic_int b_lose, b_starts, b_turn_syncs;

static void
b_thread_start(void *arg)
{
    (void)arg;
    atomic_fetch_add(&b_starts, 1);
}

static uint64_t
b_mark(void *arg)
{
    (void)arg;
    return atomic_load(&b_recorded);
}

static int
b_sync(void *arg, uint64_t since)
{
    (void)arg;
    if (since == UINT64_MAX)
        atomic_fetch_add(&b_turn_syncs, 1);
    return atomic_load(&b_lost) > since ? -1 : 0;
}

static void
h_record(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    unsigned long long id = atomic_fetch_add(&b_recorded, 1) + 1;

    (void)ctx;
    (void)req;
    if (atomic_load(&b_lose))
        atomic_store(&b_lost, id);
    if (tg_http_response_json(res, 200, "{\"allow\":true}") != TG_OK)
        res->status = 500;
}

static struct tg_http_router *
make_router(void)
{
    struct tg_http_router *r = tg_http_router_new();

    if (r == NULL || tg_http_route(r, "GET", "/whoami", h_whoami, NULL) != TG_OK ||
        tg_http_route(r, "POST", "/echo", h_echo, NULL) != TG_OK ||
        tg_http_route(r, "GET", "/slow", h_slow, NULL) != TG_OK ||
        tg_http_route(r, "GET", "/record", h_record, NULL) != TG_OK) {
        tg_http_router_free(r);
        return NULL;
    }
    return r;
}

static struct tg_http_router *router;

static json_t *
resp_json(const struct t_resp *r)
{
    return json_loads(r->body, 0, NULL);
}

static const char *
jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

static long
jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* --- plain HTTP --- */

static void
test_plain_request_and_base_url(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char want[64], v[128];
    json_t *o;

    t_config_plain(&cfg);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    CHECK(ts.port > 0);
    /* The Host header is the client's to choose; the base URL is not. */
    t_curl(&r, "-H 'Host: evil.example:1' http://127.0.0.1:%d/whoami", ts.port);
    CHECK(r.rc == 0 && r.status == 200);
    o = resp_json(&r);
    snprintf(want, sizeof(want), "http://127.0.0.1:%d", ts.port);
    CHECK(strcmp(jstr(o, "base_url"), want) == 0);
    CHECK(strcmp(jstr(o, "peer"), "127.0.0.1") == 0);
    CHECK(jint(o, "tls") == 0);
    CHECK(strcmp(jstr(o, "cert"), "") == 0 && jint(o, "verified") == 0);
    CHECK(t_header(&r, "Cache-Control", v, sizeof(v)) && strcmp(v, "no-store") == 0);
    CHECK(t_header(&r, "Content-Type", v, sizeof(v)) && strcmp(v, "application/json") == 0);
    CHECK(t_header(&r, "X-Content-Type-Options", v, sizeof(v)) && strcmp(v, "nosniff") == 0);
    json_decref(o);
    t_resp_free(&r);
    CHECK_OK(t_server_stop(&ts));
}

/* No answer leaves before what was recorded for it is written: when that
 * fails, a 500 goes instead and the connection closes; later requests are
 * answered as usual; every worker starts the barrier's thread hook and
 * syncs at the end of its loop turns. */
static void
test_barrier(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char v[128];
    char *out = NULL;
    int rc;

    t_config_plain(&cfg);
    cfg.barrier.thread_start = b_thread_start;
    cfg.barrier.mark = b_mark;
    cfg.barrier.sync = b_sync;
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    t_curl(&r, "http://127.0.0.1:%d/record", ts.port);
    CHECK(r.rc == 0 && r.status == 200 && strstr(r.body, "\"allow\":true") != NULL);
    t_resp_free(&r);
    /* The line of this request is lost: its allow never goes out. */
    atomic_store(&b_lose, 1);
    t_curl(&r, "http://127.0.0.1:%d/record", ts.port);
    CHECK(r.rc == 0 && r.status == 500);
    CHECK(strstr(r.body, "\"allow\"") == NULL && strstr(r.body, "\"server_error\"") != NULL);
    CHECK(t_header(&r, "Connection", v, sizeof(v)) && strcasecmp(v, "close") == 0);
    t_resp_free(&r);
    atomic_store(&b_lose, 0);
    /* A request that began after the loss is answered as usual, on a
     * keep-alive connection too. */
    rc = t_sh(&out,
              "curl -s --max-time 10 -o /dev/null -o /dev/null -w '%%{http_code}:%%{num_connects}\\n' "
              "http://127.0.0.1:%d/record http://127.0.0.1:%d/whoami",
              ts.port, ts.port);
    CHECK(rc == 0 && out != NULL && strcmp(out, "200:1\n200:0\n") == 0);
    free(out);
    CHECK_OK(t_server_stop(&ts));
    CHECK(atomic_load(&b_starts) == 2);
    CHECK(atomic_load(&b_turn_syncs) > 0);
}

/* How many of this process's threads may run on exactly the one CPU `cpu`
 * (/proc/self/task/<tid>/status, Cpus_allowed_list). */
static int
threads_pinned_to(int cpu)
{
    char *out = NULL, want[32];
    const char *p;
    int n = 0;

    snprintf(want, sizeof(want), "Cpus_allowed_list:\t%d\n", cpu);
    if (t_sh(&out, "cat /proc/%d/task/*/status", (int)getpid()) == 0 && out != NULL) {
        for (p = out; (p = strstr(p, want)) != NULL; p += strlen(want))
            n++;
    }
    free(out);
    return n;
}

/* --pin-workers: each worker on its own CPU, requests served as usual. */
static void
test_pin_workers(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    cpu_set_t set;
    int before0 = threads_pinned_to(0), before1 = threads_pinned_to(1);

    if (sched_getaffinity(0, sizeof(set), &set) != 0 || !CPU_ISSET(0, &set) ||
        !CPU_ISSET(1, &set)) {
        fprintf(stderr, "  (pin workers: CPUs 0 and 1 are not both ours: skipped)\n");
        return;
    }
    t_config_plain(&cfg);
    cfg.pin_workers = 1;
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    t_curl(&r, "http://127.0.0.1:%d/whoami", ts.port);
    CHECK(r.rc == 0 && r.status == 200);
    t_resp_free(&r);
    CHECK(threads_pinned_to(0) == before0 + 1);
    CHECK(threads_pinned_to(1) == before1 + 1);
    CHECK_OK(t_server_stop(&ts));
}

/* An IPv6 loopback listener: the peer is read as IPv6 (from accept). */
static void
test_ipv6_peer(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    json_t *o;

    t_config_plain(&cfg);
    cfg.listeners[0].addr = "[::1]:0";
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    t_curl(&r, "http://[::1]:%d/whoami", ts.port);
    CHECK(r.rc == 0 && r.status == 200);
    o = resp_json(&r);
    CHECK(strcmp(jstr(o, "peer"), "::1") == 0);
    json_decref(o);
    t_resp_free(&r);
    CHECK_OK(t_server_stop(&ts));
}

static void
test_keep_alive(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    char *out = NULL;
    int rc;

    t_config_plain(&cfg);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    /* Two URLs on one curl: the second reuses the first connection. */
    rc = t_sh(&out,
              "curl -s --max-time 10 -o /dev/null -o /dev/null -w '%%{http_code}:%%{num_connects}\\n' "
              "http://127.0.0.1:%d/whoami http://127.0.0.1:%d/whoami",
              ts.port, ts.port);
    CHECK(rc == 0);
    CHECK(out != NULL && strcmp(out, "200:1\n200:0\n") == 0);
    if (out != NULL && strcmp(out, "200:1\n200:0\n") != 0)
        fprintf(stderr, "  keep-alive: got '%s'\n", out);
    free(out);
    CHECK_OK(t_server_stop(&ts));
}

static void
test_post_echo(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char path[300];
    unsigned char body[3000];
    size_t i;

    for (i = 0; i < sizeof(body); i++)
        body[i] = (unsigned char)(i * 7 + (i >> 8)); /* includes NUL bytes */
    snprintf(path, sizeof(path), "%s/body.bin", t_dir);
    CHECK(t_write_file(path, body, sizeof(body)) == 0);
    t_config_plain(&cfg);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    t_curl(&r, "--data-binary @'%s' http://127.0.0.1:%d/echo", path, ts.port);
    CHECK(r.status == 200);
    CHECK(r.body_len == sizeof(body) && memcmp(r.body, body, sizeof(body)) == 0);
    t_resp_free(&r);
    /* Chunked upload. */
    t_curl(&r, "-H 'Transfer-Encoding: chunked' --data-binary @'%s' http://127.0.0.1:%d/echo",
           path, ts.port);
    CHECK(r.status == 200);
    CHECK(r.body_len == sizeof(body) && memcmp(r.body, body, sizeof(body)) == 0);
    t_resp_free(&r);
    CHECK_OK(t_server_stop(&ts));
}

/* A JSON error body as the error table makes it. */
static int
is_json_error(const struct t_resp *r, const char *error)
{
    json_t *o = json_loads(r->body, 0, NULL);
    char ct[128];
    int ok = o != NULL && strcmp(jstr(o, "error"), error) == 0 &&
             json_string_value(json_object_get(o, "error_description")) != NULL &&
             json_object_size(o) == 2 && t_header(r, "Content-Type", ct, sizeof(ct)) != NULL &&
             strcmp(ct, "application/json") == 0;

    json_decref(o);
    return ok;
}

static void
test_body_cap(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char over[300], far[300], fits[300];
    static char data[5000];

    memset(data, 'a', sizeof(data));
    snprintf(over, sizeof(over), "%s/over.bin", t_dir);
    snprintf(far, sizeof(far), "%s/far.bin", t_dir);
    snprintf(fits, sizeof(fits), "%s/fits.bin", t_dir);
    CHECK(t_write_file(over, data, 2000) == 0);
    CHECK(t_write_file(far, data, sizeof(data)) == 0);
    CHECK(t_write_file(fits, data, 1024) == 0);
    t_config_plain(&cfg);
    cfg.max_body_size = 1024;
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    t_curl(&r, "--data-binary @'%s' http://127.0.0.1:%d/echo", fits, ts.port);
    CHECK(r.status == 200 && r.body_len == 1024);
    t_resp_free(&r);
    /* Over the cap: our JSON 413, declared or chunked. */
    t_curl(&r, "-H 'Expect:' --data-binary @'%s' http://127.0.0.1:%d/echo", over, ts.port);
    CHECK(r.status == 413 && is_json_error(&r, "invalid_request"));
    t_resp_free(&r);
    t_curl(&r, "-H 'Expect:' -H 'Transfer-Encoding: chunked' --data-binary @'%s' "
               "http://127.0.0.1:%d/echo",
           over, ts.port);
    CHECK(r.status == 413 && is_json_error(&r, "invalid_request"));
    t_resp_free(&r);
    /* Far over: the same JSON 413, read by the client whether or not it
     * waited for 100-continue (RFC 9110 §10.1.1: refused before the body). */
    t_curl(&r, "-H 'Expect: 100-continue' --data-binary @'%s' http://127.0.0.1:%d/echo", far,
           ts.port);
    CHECK(r.status == 413 && is_json_error(&r, "invalid_request"));
    t_resp_free(&r);
    t_curl(&r, "-H 'Expect:' --data-binary @'%s' http://127.0.0.1:%d/echo", far, ts.port);
    CHECK(r.status == 413 && is_json_error(&r, "invalid_request"));
    t_resp_free(&r);
    t_curl(&r, "-H 'Expect:' -H 'Transfer-Encoding: chunked' --data-binary @'%s' "
               "http://127.0.0.1:%d/echo",
           far, ts.port);
    CHECK(r.status != 200);
    t_resp_free(&r);
    /* Far more than the socket buffers hold, sent without waiting (as
     * Python's http.client does): the server reads and drops it (lingering
     * close) so the client can send it all and then read the 413, rather
     * than meet a reset in mid-upload. */
    {
        const char *head = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4194304\r\n\r\n";
        char reply[2048];
        int fd = t_connect(ts.port), ok = fd >= 0, closed, i;

        ok = ok && t_send_all(fd, head, strlen(head)) == 0;
        for (i = 0; ok && i < 4096; i++)
            ok = t_send_all(fd, data, 1024) == 0;
        CHECK(ok);
        if (fd >= 0) {
            t_recv_until_close(fd, reply, sizeof(reply), 5000, &closed);
            CHECK(t_raw_status(reply) == 413);
            close(fd);
        }
    }
    /* The server is still there. */
    t_curl(&r, "http://127.0.0.1:%d/whoami", ts.port);
    CHECK(r.status == 200);
    t_resp_free(&r);
    CHECK_OK(t_server_stop(&ts));
}

static void
test_header_cap(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char over[300], far[300];
    static char line[5000];

    memcpy(line, "X-Big: ", 7);
    memset(line + 7, 'b', sizeof(line) - 7);
    snprintf(over, sizeof(over), "%s/over.hdr", t_dir);
    snprintf(far, sizeof(far), "%s/far.hdr", t_dir);
    CHECK(t_write_file(over, line, 3000) == 0);
    CHECK(t_write_file(far, line, sizeof(line)) == 0);
    t_config_plain(&cfg);
    cfg.max_headers_size = 2048;
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    t_curl(&r, "-H 'X-Small: yes' http://127.0.0.1:%d/whoami", ts.port);
    CHECK(r.status == 200);
    t_resp_free(&r);
    /* RFC 6585 §5, in our JSON shape. */
    t_curl(&r, "-H @'%s' http://127.0.0.1:%d/whoami", over, ts.port);
    CHECK(r.status == 431 && is_json_error(&r, "invalid_request"));
    t_resp_free(&r);
    /* Far past it: the same answer. */
    t_curl(&r, "-H @'%s' http://127.0.0.1:%d/whoami", far, ts.port);
    CHECK(r.status == 431 && is_json_error(&r, "invalid_request"));
    t_resp_free(&r);
    t_curl(&r, "http://127.0.0.1:%d/whoami", ts.port);
    CHECK(r.status == 200);
    t_resp_free(&r);
    CHECK_OK(t_server_stop(&ts));
}

static void
test_malformed_input(void)
{
#define RAW(s) {s, sizeof(s) - 1}
    static const struct {
        const char *p;
        size_t len;
    } bad[] = {
        RAW("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage"),
        RAW("GET\r\n\r\n"),
        RAW("GET / HTTP/9.9\r\n\r\n"),
        RAW("GET /whoami HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n"),
        RAW("GET /whoami HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"),
        RAW("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        RAW("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "fffffffffffffffffff\r\nabc\r\n"),
        RAW("GET /whoami HTTP/1.1\r\nHost: a\r\n: novalue\r\n\r\n"),
        RAW("GET /whoami HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"),
        RAW("GET /who\0ami HTTP/1.1\r\nHost: a\r\n\r\n"),
        RAW("GET http://[::1 HTTP/1.1\r\n\r\n"),
        RAW("GET /%zz%00 HTTP/1.1\r\nHost: a\r\n\r\n"),
        RAW("\r\n\r\n\r\n"),
    };
#undef RAW
    struct tg_http_config cfg;
    struct t_server ts;
    char reply[8192];
    size_t i;

    t_config_plain(&cfg);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int st;

        t_raw(ts.port, bad[i].p, bad[i].len, reply, sizeof(reply));
        st = t_raw_status(reply);
        CHECK(st == 0 || (st >= 400 && st < 600));
    }
    /* RFC 9112 §5.1: whitespace before the colon is refused, so a
     * "X-SSL-Client-Cert :" cannot slip past the header filter. */
    {
        const char *ws = "GET /whoami HTTP/1.1\r\nHost: a\r\nX-SSL-Client-Cert : x\r\n\r\n";

        t_raw(ts.port, ws, strlen(ws), reply, sizeof(reply));
        CHECK(t_raw_status(reply) == 400);
    }
    /* Two Content-Length headers: ambiguous framing. */
    {
        const char *two = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                          "Content-Length: 3\r\n\r\nabc";

        t_raw(ts.port, two, strlen(two), reply, sizeof(reply));
        CHECK(t_raw_status(reply) == 400);
    }
    /* A well-formed request still works, with and without a body. */
    {
        const char *ok = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                         "Connection: close\r\n\r\nabc";

        t_raw(ts.port, ok, strlen(ok), reply, sizeof(reply));
        CHECK(t_raw_status(reply) == 200);
        CHECK(strstr(reply, "\r\n\r\nabc") != NULL);
    }
    CHECK_OK(t_server_stop(&ts));
}

/* How many responses a raw reply holds, and the status of the k-th. */
static int
nth_status(const char *reply, int k)
{
    const char *p = reply;

    while (p != NULL) {
        p = strstr(p, "HTTP/1.1 ");
        if (p == NULL)
            return 0;
        if (k-- == 0)
            return (int)strtol(p + 9, NULL, 10);
        p += 9;
    }
    return 0;
}

/* Sends `req` on a new connection without closing our side, reads for
 * `ms` (or until the server closes); *closed says whether it did. */
static size_t
raw_open(int port, const char *req, char *out, size_t cap, long ms, int *closed)
{
    int fd = t_connect(port);
    size_t n;

    out[0] = '\0';
    *closed = 0;
    if (fd < 0)
        return 0;
    if (t_send_all(fd, req, strlen(req)) != 0) {
        close(fd);
        return 0;
    }
    n = t_recv_until_close(fd, out, cap, ms, closed);
    close(fd);
    return n;
}

/* The message framing and connection handling of RFC 9112 and the
 * semantics of RFC 9110 the server owns (the parser's own cases are in
 * test_http_parse.c). */
static void
test_framing(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    char reply[16384], req[1024];
    int closed;

    t_config_plain(&cfg);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    /* Pipelining (§9.3.2): three requests in one write, three answers in
     * order, the connection still open. */
    {
        const char *three = "GET /whoami HTTP/1.1\r\nHost: a\r\n\r\n"
                            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                            "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n";

        raw_open(ts.port, three, reply, sizeof(reply), 700, &closed);
        CHECK(nth_status(reply, 0) == 200 && nth_status(reply, 1) == 200 &&
              nth_status(reply, 2) == 404 && nth_status(reply, 3) == 0);
        CHECK(strstr(reply, "\r\n\r\nhello") != NULL);
        CHECK(!closed);
    }
    /* RFC 9110 §6.6.1 Date; our nosniff; HTTP/1.1 keeps the connection. */
    raw_open(ts.port, "GET /whoami HTTP/1.1\r\nHost: a\r\n\r\n", reply, sizeof(reply), 500,
             &closed);
    CHECK(t_raw_status(reply) == 200 && strstr(reply, "\r\nDate: ") != NULL &&
          strstr(reply, " GMT\r\n") != NULL &&
          strstr(reply, "\r\nX-Content-Type-Options: nosniff\r\n") != NULL && !closed);
    /* HTTP/1.0 (§9.3): closed after the answer unless it asked to keep
     * the connection, and then told so. */
    raw_open(ts.port, "GET /whoami HTTP/1.0\r\n\r\n", reply, sizeof(reply), 3000, &closed);
    CHECK(t_raw_status(reply) == 200 && closed &&
          strstr(reply, "\r\nConnection: close\r\n") != NULL);
    raw_open(ts.port,
             "GET /whoami HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
             "GET /whoami HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
             reply, sizeof(reply), 700, &closed);
    CHECK(nth_status(reply, 0) == 200 && nth_status(reply, 1) == 200 && !closed &&
          strstr(reply, "\r\nConnection: keep-alive\r\n") != NULL);
    /* Connection: close from an HTTP/1.1 client: answered, then closed,
     * and a request pipelined after it is not served. */
    raw_open(ts.port,
             "GET /whoami HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
             "GET /whoami HTTP/1.1\r\nHost: a\r\n\r\n",
             reply, sizeof(reply), 3000, &closed);
    CHECK(nth_status(reply, 0) == 200 && nth_status(reply, 1) == 0 && closed);
    /* The absolute form (§3.2.2) reaches the same route. */
    snprintf(req, sizeof(req), "GET http://127.0.0.1:%d/whoami HTTP/1.1\r\nHost: a\r\n\r\n",
             ts.port);
    raw_open(ts.port, req, reply, sizeof(reply), 500, &closed);
    CHECK(t_raw_status(reply) == 200);
    /* RFC 9110 §9.1: a method we do not implement, 501; §6.2: not 1.x, 505;
     * RFC 9112 §3.2: HTTP/1.1 without Host, 400. Each in our JSON shape and
     * followed by the close. */
    raw_open(ts.port, "BREW /whoami HTTP/1.1\r\nHost: a\r\n\r\n", reply, sizeof(reply), 3000,
             &closed);
    CHECK(t_raw_status(reply) == 501 && strstr(reply, "\"error\":\"invalid_request\"") && closed);
    raw_open(ts.port, "GET /whoami HTTP/2.0\r\nHost: a\r\n\r\n", reply, sizeof(reply), 3000,
             &closed);
    CHECK(t_raw_status(reply) == 505 && closed);
    raw_open(ts.port, "GET /whoami HTTP/1.1\r\n\r\n", reply, sizeof(reply), 3000, &closed);
    CHECK(t_raw_status(reply) == 400 && closed);
    /* A Transfer-Encoding we do not implement (§6.1): 501. */
    raw_open(ts.port,
             "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
             "0\r\n\r\n",
             reply, sizeof(reply), 3000, &closed);
    CHECK(t_raw_status(reply) == 501 && closed);
    /* An expectation other than 100-continue (RFC 9110 §10.1.1): 417. */
    raw_open(ts.port, "GET /whoami HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n", reply,
             sizeof(reply), 3000, &closed);
    CHECK(t_raw_status(reply) == 417 && closed);
    /* A chunked body with an extension and a trailer (§7.1), decoded. */
    raw_open(ts.port,
             "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3;x=y\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n",
             reply, sizeof(reply), 500, &closed);
    CHECK(t_raw_status(reply) == 200 && strstr(reply, "Content-Length: 7\r\n") != NULL &&
          strstr(reply, "\r\n\r\nabcdefg") != NULL && !closed);
    /* Expect: 100-continue: the interim answer, then the final one once
     * the body came. */
    {
        int fd = t_connect(ts.port), n;
        const char *h = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                        "Expect: 100-Continue\r\n\r\n";

        CHECK(fd >= 0);
        if (fd >= 0) {
            CHECK(t_send_all(fd, h, strlen(h)) == 0);
            n = (int)t_recv_until_close(fd, reply, sizeof(reply), 500, &closed);
            CHECK(n > 0 && strcmp(reply, "HTTP/1.1 100 Continue\r\n\r\n") == 0);
            CHECK(t_send_all(fd, "xyz", 3) == 0);
            t_recv_until_close(fd, reply, sizeof(reply), 500, &closed);
            CHECK(t_raw_status(reply) == 200 && strstr(reply, "\r\n\r\nxyz") != NULL);
            close(fd);
        }
    }
    /* HEAD (RFC 9110 §9.3.2): the GET's Content-Length, no content; the
     * next request on the connection is read correctly after it. */
    raw_open(ts.port,
             "HEAD /whoami HTTP/1.1\r\nHost: a\r\n\r\nGET /whoami HTTP/1.1\r\nHost: a\r\n\r\n",
             reply, sizeof(reply), 500, &closed);
    CHECK(nth_status(reply, 0) == 200 && nth_status(reply, 1) == 200);
    {
        const char *second = strstr(reply + 1, "HTTP/1.1 ");
        const char *blank = strstr(reply, "\r\n\r\n");

        CHECK(second != NULL && blank != NULL && blank + 4 == second);
    }
    /* Empty lines before a request line are skipped (RFC 9112 §2.2). */
    raw_open(ts.port, "\r\n\r\nGET /whoami HTTP/1.1\r\nHost: a\r\n\r\n", reply,
             sizeof(reply), 500, &closed);
    CHECK(t_raw_status(reply) == 200);
    /* A fragment is not part of a request-target. */
    raw_open(ts.port, "GET /whoami#x HTTP/1.1\r\nHost: a\r\n\r\n", reply, sizeof(reply), 3000,
             &closed);
    CHECK(t_raw_status(reply) == 400);
    CHECK_OK(t_server_stop(&ts));
}

static void config_tls(struct tg_http_config *cfg, enum tg_http_client_cert_mode mode,
                       int with_ca, int self_signed);

static void
test_read_timeout(void)
{
    struct tg_http_config cfg;
    struct t_server plain, tls;
    char reply[1024];
    long t0, dt;
    int fd1, fd2, closed1 = 0, closed2 = 0;

    /* A request that stops half-way, and a TLS client that never says hello. */
    t_config_plain(&cfg);
    cfg.read_timeout_s = 1;
    CHECK(t_server_start(&plain, &cfg, router, 0) == 0);
    config_tls(&cfg, TG_HTTP_CERT_NONE, 0, 0);
    cfg.read_timeout_s = 1;
    CHECK(t_server_start(&tls, &cfg, router, 0) == 0);
    if (plain.s == NULL || tls.s == NULL) {
        t_server_stop(&plain);
        t_server_stop(&tls);
        return;
    }
    t0 = t_now_ms();
    fd1 = t_connect(plain.port);
    fd2 = t_connect(tls.port);
    CHECK(fd1 >= 0 && fd2 >= 0);
    if (fd1 >= 0 && fd2 >= 0) {
        CHECK(t_send_all(fd1, "GET /whoami HTTP/1.1\r\nHost: a\r\n", 31) == 0);
        t_recv_until_close(fd1, reply, sizeof(reply), 4000, &closed1);
        t_recv_until_close(fd2, reply, sizeof(reply), 4000, &closed2);
        dt = t_now_ms() - t0;
        CHECK(closed1 && closed2);
        CHECK(dt >= 800 && dt < 3500);
    }
    if (fd1 >= 0)
        close(fd1);
    if (fd2 >= 0)
        close(fd2);
    /* A head trickled a byte at a time, each pause under the timeout
     * (slowloris): the head as a whole must come within it too, else 408. */
    {
        static const char head[] = "GET /whoami HTTP/1.1\r\nHost: a\r\nX-Slow: 0123456789\r\n\r\n";
        int fd = t_connect(plain.port), closed = 0, st = 0;
        size_t i;

        CHECK(fd >= 0);
        t0 = t_now_ms();
        for (i = 0; fd >= 0 && i < sizeof(head) - 1; i++) {
            struct pollfd pfd = {fd, POLLIN, 0};

            if (t_send_all(fd, head + i, 1) != 0 || poll(&pfd, 1, 300) > 0)
                break; /* the server answered (or closed) */
        }
        if (fd >= 0) {
            t_recv_until_close(fd, reply, sizeof(reply), 4000, &closed);
            st = t_raw_status(reply);
            close(fd);
        }
        dt = t_now_ms() - t0;
        CHECK(st == 408 && strstr(reply, "\"error\":\"invalid_request\"") != NULL);
        CHECK(dt >= 900 && dt < 3500);
    }
    CHECK_OK(t_server_stop(&plain));
    CHECK_OK(t_server_stop(&tls));
}

static void
test_config_refused(void)
{
    static const char *const bad_proxies[] = {"not-an-address", NULL};
    static const char *const bad_prefix[] = {"10.0.0.0/33", NULL};
    struct tg_http_config cfg;
    struct tg_http_server *s = (struct tg_http_server *)1;

    /* Plain HTTP off loopback. */
    t_config_plain(&cfg);
    cfg.listeners[0].addr = "0.0.0.0:0";
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    CHECK(s == NULL);
    cfg.listeners[0].addr = "[::]:0";
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    cfg.listeners[0].addr = "192.0.2.1:0";
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    /* A loopback listener first does not make a later one acceptable. */
    cfg.listeners[0].addr = "127.0.0.1:0";
    cfg.listeners[1].addr = "0.0.0.0:0";
    cfg.n_listeners = 2;
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    /* Names are not resolved; ports are checked. */
    t_config_plain(&cfg);
    cfg.listeners[0].addr = "localhost:0";
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    cfg.listeners[0].addr = "127.0.0.1:65536";
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    cfg.listeners[0].addr = "127.0.0.1";
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    /* Client certificates need TLS. */
    t_config_plain(&cfg);
    cfg.listeners[0].client_cert = TG_HTTP_CERT_OPTIONAL;
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    /* TLS: files must load; asking for certs needs a CA or self-signed. */
    t_config_plain(&cfg);
    cfg.listeners[0].tls = 1;
    cfg.listeners[0].cert_file = "/nonexistent.pem";
    cfg.listeners[0].key_file = p_srv_key;
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    cfg.listeners[0].cert_file = p_srv_cert;
    cfg.listeners[0].key_file = p_ca; /* not a key */
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    cfg.listeners[0].key_file = p_srv_key;
    cfg.listeners[0].client_cert = TG_HTTP_CERT_REQUIRED;
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    cfg.listeners[0].client_ca_file = "/nonexistent-ca.pem";
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    /* Trusted proxies must parse. */
    t_config_plain(&cfg);
    cfg.trusted_proxies = bad_proxies;
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    cfg.trusted_proxies = bad_prefix;
    CHECK_ERR(tg_http_server_new(&cfg, router, &s), TG_ERR_CONFIG);
    /* And the good ones are accepted (TLS on loopback, no client certs). */
    t_config_plain(&cfg);
    cfg.listeners[0].tls = 1;
    cfg.listeners[0].cert_file = p_srv_cert;
    cfg.listeners[0].key_file = p_srv_key;
    CHECK_OK(tg_http_server_new(&cfg, router, &s));
    CHECK(s != NULL && tg_http_server_port(s, 0) > 0 && tg_http_server_port(s, 1) == -1);
    tg_http_server_free(s);
}

/* --- TLS and client certificates --- */

static void
config_tls(struct tg_http_config *cfg, enum tg_http_client_cert_mode mode, int with_ca,
           int self_signed)
{
    t_config_plain(cfg);
    cfg->listeners[0].tls = 1;
    cfg->listeners[0].cert_file = p_srv_cert;
    cfg->listeners[0].key_file = p_srv_key;
    cfg->listeners[0].client_cert = mode;
    cfg->listeners[0].client_ca_file = with_ca ? p_ca : NULL;
    cfg->listeners[0].accept_self_signed = self_signed;
}

/* GET /whoami over TLS, with the named client certificate (or none). */
static json_t *
tls_whoami(int port, const char *client, struct t_resp *r)
{
    char cert[1200] = "";

    if (client != NULL)
        snprintf(cert, sizeof(cert), "--cert '%s/%s.pem' --key '%s/%s.key'", t_dir, client, t_dir,
                 client);
    t_curl(r, "--cacert '%s' %s https://127.0.0.1:%d/whoami", p_ca, cert, port);
    if (r->rc != 0 || r->status != 200)
        return NULL;
    return resp_json(r);
}

static void
test_tls_no_client_cert(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char want[64];
    json_t *o;

    config_tls(&cfg, TG_HTTP_CERT_NONE, 0, 0);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    o = tls_whoami(ts.port, NULL, &r);
    CHECK(o != NULL);
    snprintf(want, sizeof(want), "https://127.0.0.1:%d", ts.port);
    CHECK(strcmp(jstr(o, "base_url"), want) == 0);
    CHECK(jint(o, "tls") == 1 && strcmp(jstr(o, "cert"), "") == 0);
    json_decref(o);
    t_resp_free(&r);
    /* Not asked for, a client certificate is not seen. */
    o = tls_whoami(ts.port, "client", &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), "") == 0 && jint(o, "verified") == 0);
    json_decref(o);
    t_resp_free(&r);
    /* Plain HTTP to the TLS port gets nothing useful. */
    t_curl(&r, "http://127.0.0.1:%d/whoami", ts.port);
    CHECK(r.status != 200);
    t_resp_free(&r);
    /* TLS 1.2 works; TLS 1.1 is refused by the server (the client allows it). */
    t_curl(&r, "--tlsv1.2 --tls-max 1.2 --cacert '%s' https://127.0.0.1:%d/whoami", p_ca, ts.port);
    CHECK(r.status == 200);
    t_resp_free(&r);
    CHECK(t_sh(NULL, "openssl s_client -connect 127.0.0.1:%d -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' "
                     "</dev/null 2>/dev/null | grep -q 'Cipher is (NONE)'",
               ts.port) == 0);
    CHECK_OK(t_server_stop(&ts));
}

static void
test_tls_optional_client_cert(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char *client_hex = der_hex("client");
    json_t *o;

    config_tls(&cfg, TG_HTTP_CERT_OPTIONAL, 1, 0);
    CHECK(client_hex != NULL);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL || client_hex == NULL) {
        free(client_hex);
        if (ts.s != NULL)
            t_server_stop(&ts);
        return;
    }
    /* None: allowed, nothing reported. */
    o = tls_whoami(ts.port, NULL, &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), "") == 0 && jint(o, "verified") == 0);
    json_decref(o);
    t_resp_free(&r);
    /* CA-issued: verified, and the handler sees exactly the file's DER. */
    o = tls_whoami(ts.port, "client", &r);
    CHECK(o != NULL && jint(o, "verified") == 1);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), client_hex) == 0);
    json_decref(o);
    t_resp_free(&r);
    /* Self-signed or from another CA: refused at the handshake. */
    o = tls_whoami(ts.port, "self", &r);
    CHECK(o == NULL && r.rc != 0);
    json_decref(o);
    t_resp_free(&r);
    o = tls_whoami(ts.port, "stranger", &r);
    CHECK(o == NULL && r.rc != 0);
    json_decref(o);
    t_resp_free(&r);
    free(client_hex);
    CHECK_OK(t_server_stop(&ts));
}

static void
test_tls_required_client_cert(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    json_t *o;

    config_tls(&cfg, TG_HTTP_CERT_REQUIRED, 1, 0);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    o = tls_whoami(ts.port, NULL, &r);
    CHECK(o == NULL && r.rc != 0 && r.status != 200);
    t_resp_free(&r);
    /* The handshake itself is refused (certificate required alert). */
    CHECK(t_sh(NULL, "printf 'GET /whoami HTTP/1.0\\r\\n\\r\\n' | openssl s_client -quiet "
                     "-connect 127.0.0.1:%d -CAfile '%s' 2>&1 | grep -q '\"verified\"'",
               ts.port, p_ca) != 0);
    o = tls_whoami(ts.port, "client", &r);
    CHECK(o != NULL && jint(o, "verified") == 1 && strlen(jstr(o, "cert")) > 100);
    json_decref(o);
    t_resp_free(&r);
    o = tls_whoami(ts.port, "self", &r);
    CHECK(o == NULL && r.rc != 0);
    t_resp_free(&r);
    CHECK_OK(t_server_stop(&ts));
}

static void
test_tls_self_signed(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char *self_hex = der_hex("self"), *client_hex = der_hex("client");
    json_t *o;

    CHECK(self_hex != NULL && client_hex != NULL);
    /* Optional, with a CA and accept_self_signed. */
    config_tls(&cfg, TG_HTTP_CERT_OPTIONAL, 1, 1);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s != NULL && self_hex != NULL && client_hex != NULL) {
        o = tls_whoami(ts.port, "self", &r);
        CHECK(o != NULL && jint(o, "verified") == 0);
        CHECK(o != NULL && strcmp(jstr(o, "cert"), self_hex) == 0);
        json_decref(o);
        t_resp_free(&r);
        o = tls_whoami(ts.port, "client", &r);
        CHECK(o != NULL && jint(o, "verified") == 1 && strcmp(jstr(o, "cert"), client_hex) == 0);
        json_decref(o);
        t_resp_free(&r);
        /* A certificate from another CA is kept too, unverified. */
        o = tls_whoami(ts.port, "stranger", &r);
        CHECK(o != NULL && jint(o, "verified") == 0 && strlen(jstr(o, "cert")) > 100);
        json_decref(o);
        t_resp_free(&r);
        CHECK_OK(t_server_stop(&ts));
    }
    /* Required, no CA at all: only self-signed auth. */
    config_tls(&cfg, TG_HTTP_CERT_REQUIRED, 0, 1);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s != NULL && self_hex != NULL) {
        o = tls_whoami(ts.port, "self", &r);
        CHECK(o != NULL && jint(o, "verified") == 0 && strcmp(jstr(o, "cert"), self_hex) == 0);
        json_decref(o);
        t_resp_free(&r);
        o = tls_whoami(ts.port, NULL, &r);
        CHECK(o == NULL && r.rc != 0);
        t_resp_free(&r);
        CHECK_OK(t_server_stop(&ts));
    }
    free(self_hex);
    free(client_hex);
}

/* --- client certificates from a TLS-terminating proxy --- */

/* URL-encode a PEM file (as nginx's $ssl_client_escaped_cert does). */
static char *
url_encoded_pem(const char *name)
{
    char path[300];
    char *pem, *enc;
    size_t n, i, o = 0;

    snprintf(path, sizeof(path), "%s/%s.pem", t_dir, name);
    pem = t_slurp(path, &n);
    if (pem == NULL)
        return NULL;
    enc = malloc(3 * n + 1);
    for (i = 0; enc != NULL && i < n; i++) {
        unsigned char c = (unsigned char)pem[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            enc[o++] = (char)c;
        else
            o += (size_t)snprintf(enc + o, 4, "%%%02X", c);
    }
    if (enc != NULL)
        enc[o] = '\0';
    free(pem);
    return enc;
}

/* GET /whoami with one header line taken from a file (curl -H @file). */
static json_t *
whoami_with_header(const char *scheme_port, const char *line, struct t_resp *r)
{
    char path[300];

    snprintf(path, sizeof(path), "%s/hdr.txt", t_dir);
    if (t_write_file(path, line, strlen(line)) != 0)
        return NULL;
    t_curl(r, "--cacert '%s' -H @'%s' %s/whoami", p_ca, path, scheme_port);
    if (r->status != 200)
        return NULL;
    return resp_json(r);
}

/* prefix + value + suffix */
static char *
header_line(const char *prefix, const char *value, const char *suffix)
{
    size_t a = strlen(prefix), b = strlen(value), c = strlen(suffix);
    char *s = malloc(a + b + c + 1);

    if (s != NULL) {
        memcpy(s, prefix, a);
        memcpy(s + a, value, b);
        memcpy(s + a + b, suffix, c + 1);
    }
    return s;
}

static void
test_trusted_proxy(void)
{
    static const char *const proxies[] = {"10.1.2.3", "127.0.0.0/8", NULL};
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char base[64];
    char *client_enc = url_encoded_pem("client"), *self_enc = url_encoded_pem("self");
    char *client_hex = der_hex("client"), *self_hex = der_hex("self");
    char *line;
    json_t *o;

    CHECK(client_enc && self_enc && client_hex && self_hex);
    if (!(client_enc && self_enc && client_hex && self_hex))
        goto done;
    t_config_plain(&cfg);
    cfg.trusted_proxies = proxies;
    cfg.listeners[0].client_ca_file = p_ca;
    cfg.listeners[0].accept_self_signed = 1;
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        goto done;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", ts.port);

    /* nginx: X-SSL-Client-Cert: $ssl_client_escaped_cert */
    line = header_line("X-SSL-Client-Cert: ", client_enc, "");
    o = whoami_with_header(base, line, &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), client_hex) == 0 && jint(o, "verified") == 1);
    CHECK(o != NULL && jint(o, "nginx_header") == 0 && jint(o, "header_count") == 0);
    json_decref(o);
    t_resp_free(&r);
    free(line);

    /* Envoy: XFCC, Cert="..." of the last element. */
    line = header_line("x-forwarded-client-cert: By=spiffe://up/ingress;Hash=00;"
                       "Subject=\"CN=agent-1\";Cert=\"",
                       client_enc, "\";URI=");
    o = whoami_with_header(base, line, &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), client_hex) == 0 && jint(o, "verified") == 1);
    CHECK(o != NULL && jint(o, "xfcc_header") == 0);
    json_decref(o);
    t_resp_free(&r);
    free(line);
    line = header_line("X-Forwarded-Client-Cert: Cert=\"", client_enc,
                       "\",By=spiffe://edge;Hash=11");
    o = whoami_with_header(base, line, &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), "") == 0); /* the last element has no Cert */
    json_decref(o);
    t_resp_free(&r);
    free(line);

    /* Self-signed through the proxy: kept, unverified (accept_self_signed). */
    line = header_line("X-SSL-Client-Cert: ", self_enc, "");
    o = whoami_with_header(base, line, &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), self_hex) == 0 && jint(o, "verified") == 0);
    json_decref(o);
    t_resp_free(&r);
    free(line);

    /* No certificate at the proxy: an empty header. */
    o = whoami_with_header(base, "X-SSL-Client-Cert:", &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), "") == 0);
    json_decref(o);
    t_resp_free(&r);

    /* Malformed, or both headers at once: refused. */
    o = whoami_with_header(base, "X-SSL-Client-Cert: -----BEGIN%20CERTIFICATE-----%0Azz", &r);
    CHECK(o == NULL && r.status == 400);
    t_resp_free(&r);
    o = whoami_with_header(base, "X-SSL-Client-Cert: %G1", &r);
    CHECK(o == NULL && r.status == 400);
    t_resp_free(&r);
    o = whoami_with_header(base, "X-Forwarded-Client-Cert: Cert=\"abc", &r);
    CHECK(o == NULL && r.status == 400);
    t_resp_free(&r);
    t_curl(&r, "-H 'X-SSL-Client-Cert: %s' -H 'X-Forwarded-Client-Cert: Cert=\"%s\"' %s/whoami",
           client_enc, client_enc, base);
    CHECK(r.status == 400);
    t_resp_free(&r);
    CHECK_OK(t_server_stop(&ts));

    /* Without accept_self_signed, an unverifiable certificate is dropped. */
    cfg.listeners[0].accept_self_signed = 0;
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        goto done;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", ts.port);
    line = header_line("X-SSL-Client-Cert: ", self_enc, "");
    o = whoami_with_header(base, line, &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), "") == 0 && jint(o, "verified") == 0);
    json_decref(o);
    t_resp_free(&r);
    free(line);
    line = header_line("X-SSL-Client-Cert: ", client_enc, "");
    o = whoami_with_header(base, line, &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), client_hex) == 0 && jint(o, "verified") == 1);
    json_decref(o);
    t_resp_free(&r);
    free(line);
    CHECK_OK(t_server_stop(&ts));

    /* A TLS listener behind a trusted proxy: the proxy's own TLS client
     * certificate is not the agent's; only the header counts. */
    config_tls(&cfg, TG_HTTP_CERT_OPTIONAL, 1, 0);
    cfg.trusted_proxies = proxies;
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        goto done;
    o = tls_whoami(ts.port, "client", &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), "") == 0);
    json_decref(o);
    t_resp_free(&r);
    snprintf(base, sizeof(base), "https://127.0.0.1:%d", ts.port);
    line = header_line("X-SSL-Client-Cert: ", client_enc, "");
    o = whoami_with_header(base, line, &r);
    CHECK(o != NULL && strcmp(jstr(o, "cert"), client_hex) == 0 && jint(o, "verified") == 1);
    json_decref(o);
    t_resp_free(&r);
    free(line);
    CHECK_OK(t_server_stop(&ts));
done:
    free(client_enc);
    free(self_enc);
    free(client_hex);
    free(self_hex);
}

static void
test_untrusted_proxy_header(void)
{
    static const char *const elsewhere[] = {"10.0.0.0/8", "::1", NULL};
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    char base[64];
    char *client_enc = url_encoded_pem("client");
    char *line1, *line2;
    json_t *o;
    int round;

    CHECK(client_enc != NULL);
    if (client_enc == NULL)
        return;
    line1 = header_line("X-SSL-Client-Cert: ", client_enc, "");
    line2 = header_line("X-Forwarded-Client-Cert: Cert=\"", client_enc, "\"");
    for (round = 0; round < 2; round++) {
        /* No trusted proxies at all, then proxies that are not this peer. */
        t_config_plain(&cfg);
        cfg.listeners[0].client_ca_file = p_ca;
        cfg.listeners[0].accept_self_signed = 1;
        cfg.trusted_proxies = round == 0 ? NULL : elsewhere;
        CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
        if (ts.s == NULL)
            break;
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", ts.port);
        o = whoami_with_header(base, line1, &r);
        CHECK(o != NULL && strcmp(jstr(o, "cert"), "") == 0 && jint(o, "verified") == 0);
        CHECK(o != NULL && jint(o, "nginx_header") == 0 && jint(o, "header_count") == 0);
        json_decref(o);
        t_resp_free(&r);
        o = whoami_with_header(base, line2, &r);
        CHECK(o != NULL && strcmp(jstr(o, "cert"), "") == 0 && jint(o, "xfcc_header") == 0);
        json_decref(o);
        t_resp_free(&r);
        /* Even malformed, the header is ignored rather than refused. */
        o = whoami_with_header(base, "X-SSL-Client-Cert: %zz", &r);
        CHECK(o != NULL && jint(o, "header_count") == 0);
        json_decref(o);
        t_resp_free(&r);
        CHECK_OK(t_server_stop(&ts));
    }
    free(line1);
    free(line2);
    free(client_enc);
}

/* --- stopping --- */

static void
test_graceful_stop(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    char cmd[512], out[256];
    FILE *p;
    size_t n;
    long t0;
    int fd;

    t_config_plain(&cfg);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    atomic_store(&slow_started, 0);
    snprintf(cmd, sizeof(cmd), "curl -s --max-time 10 -w ' %%{http_code}' http://127.0.0.1:%d/slow",
             ts.port);
    p = popen(cmd, "r");
    CHECK(p != NULL);
    if (p == NULL) {
        t_server_stop(&ts);
        return;
    }
    t0 = t_now_ms();
    while (!atomic_load(&slow_started) && t_now_ms() - t0 < 5000)
        t_sleep_ms(5);
    CHECK(atomic_load(&slow_started));
    /* Stop while the handler runs: its response is still written. */
    tg_http_server_stop(ts.s);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    CHECK(pclose(p) == 0);
    CHECK(strcmp(out, "{\"slow\":\"done\"} 200") == 0);
    pthread_join(ts.th, NULL);
    ts.running = 0;
    CHECK_OK(ts.run_rv);
    /* No longer accepting. */
    fd = t_connect(ts.port);
    CHECK(fd < 0);
    if (fd >= 0)
        close(fd);
    CHECK_OK(t_server_stop(&ts));
}

static void
test_stop_idle_keepalive(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    char reply[4096];
    const char *req = "GET /whoami HTTP/1.1\r\nHost: a\r\n\r\n";
    long t0;
    int fd, closed = 0;

    t_config_plain(&cfg);
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    /* A kept-alive idle connection does not hold the stop up. */
    fd = t_connect(ts.port);
    CHECK(fd >= 0 && t_send_all(fd, req, strlen(req)) == 0);
    t_recv_until_close(fd, reply, sizeof(reply), 300, &closed);
    CHECK(t_raw_status(reply) == 200 && !closed);
    t0 = t_now_ms();
    CHECK_OK(t_server_stop(&ts));
    CHECK(t_now_ms() - t0 < 2000);
    t_recv_until_close(fd, reply, sizeof(reply), 2000, &closed);
    CHECK(closed);
    if (fd >= 0)
        close(fd);
}

static int
handler_installed(int sig)
{
    struct sigaction sa;

    return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
}

static void
test_signal_stop(void)
{
    static const int sigs[] = {SIGTERM, SIGINT};
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    size_t i;
    long t0;

    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        t_config_plain(&cfg);
        CHECK(t_server_start(&ts, &cfg, router, 1) == 0);
        if (ts.s == NULL)
            return;
        /* Wait for the handlers before running curl: system() saves and
         * restores SIGINT around the child, which would undo an
         * installation that raced with it. */
        t0 = t_now_ms();
        while (!handler_installed(sigs[i]) && t_now_ms() - t0 < 3000)
            t_sleep_ms(5);
        CHECK(handler_installed(sigs[i]));
        t_curl(&r, "http://127.0.0.1:%d/whoami", ts.port);
        CHECK(r.status == 200);
        t_resp_free(&r);
        t0 = t_now_ms();
        kill(getpid(), sigs[i]);
        pthread_join(ts.th, NULL);
        ts.running = 0;
        CHECK(t_now_ms() - t0 < 3000);
        CHECK_OK(t_server_stop(&ts));
    }
}

static void
test_stop_before_run(void)
{
    struct tg_http_config cfg;
    struct tg_http_server *s = NULL;

    t_config_plain(&cfg);
    CHECK_OK(tg_http_server_new(&cfg, router, &s));
    if (s == NULL)
        return;
    tg_http_server_stop(s);
    CHECK_OK(tg_http_server_run(s, 0));
    CHECK_ERR(tg_http_server_run(s, 0), TG_ERR_INVALID_ARG); /* once only */
    tg_http_server_free(s);
    tg_http_server_free(NULL);
}

static void
test_default_workers_and_two_listeners(void)
{
    struct tg_http_config cfg;
    struct t_server ts;
    struct t_resp r;
    json_t *o;
    char want[64];
    int port1;

    config_tls(&cfg, TG_HTTP_CERT_NONE, 0, 0);
    cfg.listeners[0].tls = 0; /* plain on listener 0, TLS on listener 1 */
    cfg.listeners[1] = cfg.listeners[0];
    cfg.listeners[1].tls = 1;
    cfg.listeners[1].base_url = "https://as.example.com/";
    cfg.n_listeners = 2;
    cfg.workers = 0;
    CHECK(t_server_start(&ts, &cfg, router, 0) == 0);
    if (ts.s == NULL)
        return;
    port1 = tg_http_server_port(ts.s, 1);
    CHECK(port1 > 0 && port1 != ts.port);
    t_curl(&r, "http://127.0.0.1:%d/whoami", ts.port);
    o = resp_json(&r);
    snprintf(want, sizeof(want), "http://127.0.0.1:%d", ts.port);
    CHECK(o != NULL && strcmp(jstr(o, "base_url"), want) == 0 && jint(o, "tls") == 0);
    json_decref(o);
    t_resp_free(&r);
    t_curl(&r, "--cacert '%s' https://127.0.0.1:%d/whoami", p_ca, port1);
    o = resp_json(&r);
    CHECK(o != NULL && strcmp(jstr(o, "base_url"), "https://as.example.com") == 0);
    CHECK(o != NULL && jint(o, "tls") == 1);
    json_decref(o);
    t_resp_free(&r);
    CHECK_OK(t_server_stop(&ts));
}

int
main(void)
{
    int rc;

    tg_log_set_level(TG_LOG_ERROR); /* the refused configurations log warnings */
    t_dir_make();
    router = make_router();
    if (router == NULL || make_certs() != 0) {
        fprintf(stderr, "setup failed (openssl CLI?)\n");
        t_dir_remove();
        return 1;
    }
    RUN(test_plain_request_and_base_url);
    RUN(test_ipv6_peer);
    RUN(test_keep_alive);
    RUN(test_barrier);
    RUN(test_pin_workers);
    RUN(test_post_echo);
    RUN(test_body_cap);
    RUN(test_header_cap);
    RUN(test_malformed_input);
    RUN(test_read_timeout);
    RUN(test_config_refused);
    RUN(test_tls_no_client_cert);
    RUN(test_tls_optional_client_cert);
    RUN(test_tls_required_client_cert);
    RUN(test_tls_self_signed);
    RUN(test_trusted_proxy);
    RUN(test_untrusted_proxy_header);
    RUN(test_framing);
    RUN(test_graceful_stop);
    RUN(test_stop_idle_keepalive);
    RUN(test_signal_stop);
    RUN(test_stop_before_run);
    RUN(test_default_workers_and_two_listeners);
    tg_http_router_free(router);
    t_dir_remove();
    rc = t_report("http/server");
    return rc;
}
