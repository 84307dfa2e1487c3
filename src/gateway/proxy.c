/* The reverse proxy: /tools/<tool-id>/<path> is decided, then forwarded to
 * the tool's upstream over a libcurl handle pooled per worker thread (its
 * connections are kept alive between requests). Bodies are buffered both
 * ways, under caps; the agent's credentials never leave, the identity
 * headers are the gateway's own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/log.h"
#include "gateway/internal.h"

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

/* This thread's handle: made on first use, reset (keeping its live
 * connections) before every request. */
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

/* --- the response --- */

#define MAX_RESPONSE_HEADERS 12

struct resp {
    struct tg_http_response *res;
    size_t cap;
    int too_large;
    size_t n;
    struct {
        char *name, *value;
    } h[MAX_RESPONSE_HEADERS];
};

static void
resp_headers_clear(struct resp *r)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        free(r->h[i].name);
        free(r->h[i].value);
    }
    r->n = 0;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct resp *r = arg;
    size_t n = size * nmemb;

    if (r->res->body.len + n > r->cap) {
        r->too_large = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (tg_buf_append(&r->res->body, p, n) != TG_OK)
        return 0;
    return n;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct resp *r = arg;
    size_t n = size * nmemb, nl, vs, ve;
    const char *colon;

    /* A status line starts a (possibly final) response: forget the headers
     * of an interim one. */
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        resp_headers_clear(r);
        return n;
    }
    colon = memchr(p, ':', n);
    if (colon == NULL)
        return n; /* the blank line ending the headers */
    nl = (size_t)(colon - p);
    vs = nl + 1;
    ve = n;
    while (ve > vs && (p[ve - 1] == '\r' || p[ve - 1] == '\n' || p[ve - 1] == ' ' ||
                       p[ve - 1] == '\t'))
        ve--;
    while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
        vs++;
    if (nl == 0 || nl > 64 || r->n == MAX_RESPONSE_HEADERS)
        return n;
    {
        char name[65];

        memcpy(name, p, nl);
        name[nl] = '\0';
        if (!tg_gw_forward_response_header(name))
            return n;
        r->h[r->n].name = strdup(name);
        r->h[r->n].value = strndup(p + vs, ve - vs);
        if (r->h[r->n].name == NULL || r->h[r->n].value == NULL) {
            free(r->h[r->n].name);
            free(r->h[r->n].value);
            return 0; /* abort: out of memory */
        }
        r->n++;
    }
    return n;
}

/* --- forwarding --- */

/* The upstream exchange (internal.h). */
enum tg_err
tg_gw_forward(struct tg_gateway *gw, const struct tg_gw_tool *tool, const struct tg_http_request *req,
        const char *rest, const struct tg_rs_identity *id, struct tg_http_response *res,
        int *status, const char **why)
{
    struct req_headers hs = {0};
    struct resp r = {0};
    struct tg_slice body = tg_http_body(req);
    const char *method = tg_http_method(req);
    char url[TG_GW_URL_MAX], upstream[TG_GW_URL_MAX];
    CURL *h;
    CURLcode cc;
    long code = 0;
    size_t i;
    enum tg_err rv = TG_OK;

    *status = 502;
    *why = "the tool's upstream is unavailable";
    /* A tenant-bound upstream takes the verified token's tenant (the gate
     * has refused a token without a usable one; this fails closed anyway). */
    TG_TRY(tg_gw_upstream_for_tenant(tool->t.upstream, id->tenant, upstream, sizeof(upstream)));
    TG_TRY(tg_gw_upstream_url(upstream, rest, tg_http_query(req), url, sizeof(url)));
    TG_TRY(build_headers(req, id, &hs));
    h = thread_curl(gw);
    TG_CHECK(h != NULL, TG_ERR_NOMEM, "curl handle");
    r.res = res;
    r.cap = gw->cfg.max_upstream_body;

    cc = curl_easy_setopt(h, CURLOPT_URL, url);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    /* The path was checked as received: send exactly that, no dot squashing. */
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, gw->cfg.connect_timeout_ms);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, gw->cfg.upstream_timeout_ms);
    /* A body announced too large fails before it is read (a HEAD answer
     * announces one it will not send). */
    if (cc == CURLE_OK && strcmp(method, "HEAD") != 0)
        cc = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r.cap);
    /* Decoded here, so the body cap (and the scrubber, later) sees plain
     * bytes; Content-Encoding is not passed back. */
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs.list);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    if (cc == CURLE_OK) {
        if (strcmp(method, "GET") == 0) {
            cc = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else if (strcmp(method, "HEAD") == 0) {
            cc = curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else {
            /* POST, PUT, PATCH, DELETE, OPTIONS: the body as received
             * (possibly empty: then Content-Length: 0). */
            cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
            if (cc == CURLE_OK)
                cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS,
                                      body.len > 0 ? (const char *)body.p : "");
            if (cc == CURLE_OK && strcmp(method, "POST") != 0)
                cc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
    }
    TG_CHECK(cc == CURLE_OK, TG_ERR_INTERNAL, "curl_easy_setopt: %s", curl_easy_strerror(cc));

    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (cc == CURLE_OPERATION_TIMEDOUT) {
            *status = 504;
            *why = "the tool's upstream timed out";
        } else if (r.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
            *why = "the tool's response is too large";
        }
        TG_FAIL(TG_ERR_IO, "upstream %s: %s", tool->t.id, curl_easy_strerror(cc));
    }
    TG_CHECK(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code >= 200 &&
                 code <= 599,
             TG_ERR_IO, "upstream %s answered status %ld", tool->t.id, code);
    for (i = 0; i < r.n; i++)
        TG_CHECK(tg_http_response_header(res, r.h[i].name, r.h[i].value) == TG_OK, TG_ERR_IO,
                 "upstream %s sent a header we cannot pass on", tool->t.id);
    res->status = (int)code;
    *status = (int)code;
    *why = NULL;
out:
    resp_headers_clear(&r);
    curl_slist_free_all(hs.list);
    return rv;
}

void
tg_gw_handle_proxy(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_gateway *gw = ctx;
    struct tg_gw_tool *tool = NULL;
    struct tg_rs_decision *d = NULL;
    struct tg_gw_audit a = {0};
    const char *path = tg_http_path(req), *query = tg_http_query(req), *rest = NULL, *why;
    char id[TG_POLICY_ID_MAX + 1], url[TG_GW_URL_MAX];
    int n, status;
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
        tg_gw_mcp_proxy(gw, tool, req, rest, url, d, res, &a);
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
    if (tg_gw_forward(gw, tool, req, rest, &d->id, res, &status, &why) != TG_OK) {
        tg_log_warnx("gateway: %s", tg_err_detail());
        tg_http_response_reset(res);
        a.status = status;
        a.reason = why;
        tg_gw_respond_error(res, status, "server_error", why);
        goto audit;
    }
    a.status = status;
    a.upstream_status = status;
    a.reason = "forwarded";
audit:
    if (tg_gw_audit_emit(gw, req, &a) != TG_OK && a.d != NULL && a.d->err == TG_OK) {
        /* An allow that cannot be recorded is not answered (the upstream
         * already saw it: the operational log says so). */
        tg_log_warnx("gateway: unaudited call to %s by %s (jti %s)", id, a.d->id.client_id,
                     a.d->id.jti);
        tg_http_response_reset(res);
        tg_gw_respond_error(res, 500, "server_error", "audit log unavailable");
    }
    free(d);
    tg_gw_tool_release(gw, tool);
}
