/* The router: exact paths and prefix routes ("/tools/" then a star), one handler per (method,
 * path). Built before the server starts and read-only afterwards, so every
 * worker thread shares it without a lock. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "http/internal.h"

struct route {
    char *method;   /* NULL: any */
    char *path;     /* for a prefix route, without the trailing '*' ("/tools/") */
    size_t len;
    int prefix;
    tg_http_handler fn;
    void *ctx;
};

struct tg_http_router {
    struct route *v;
    size_t n, alloc;
};

struct tg_http_router *
tg_http_router_new(void)
{
    return calloc(1, sizeof(struct tg_http_router));
}

void
tg_http_router_free(struct tg_http_router *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++) {
        free(r->v[i].method);
        free(r->v[i].path);
    }
    free(r->v);
    free(r);
}

static int
same_method(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* A route path: "/" then visible characters, no query or fragment; '*'
 * only as the last segment of a prefix route. */
static enum tg_err
check_route_path(const char *path, int *prefix)
{
    size_t i, n = strlen(path);

    TG_ENSURE(n >= 1 && path[0] == '/', TG_ERR_INVALID_ARG, "route path must start with /");
    *prefix = n >= 2 && path[n - 1] == '*' && path[n - 2] == '/';
    for (i = 0; i < n - (size_t)*prefix; i++) {
        unsigned char c = (unsigned char)path[i];

        TG_ENSURE(c > 0x20 && c < 0x7f && c != '?' && c != '#' && c != '*', TG_ERR_INVALID_ARG,
                  "bad character in route path");
    }
    return TG_OK;
}

enum tg_err
tg_http_route(struct tg_http_router *r, const char *method, const char *path, tg_http_handler fn,
              void *ctx)
{
    struct route nr = {0};
    size_t i;
    int prefix;

    TG_ENSURE(r != NULL && path != NULL && fn != NULL, TG_ERR_INVALID_ARG, "route arguments");
    TG_ENSURE(method == NULL || tg_http_is_token(method), TG_ERR_INVALID_ARG, "bad method");
    TG_GUARD(check_route_path(path, &prefix));
    nr.len = strlen(path) - (size_t)prefix;
    for (i = 0; i < r->n; i++) {
        const struct route *o = &r->v[i];

        TG_ENSURE(!(o->prefix == prefix && o->len == nr.len && memcmp(o->path, path, nr.len) == 0 &&
                    same_method(o->method, method)),
                  TG_ERR_CONFLICT, "route %s %s registered twice", method ? method : "*", path);
    }
    if (r->n == r->alloc) {
        size_t na = r->alloc ? r->alloc * 2 : 16;
        struct route *nv = realloc(r->v, na * sizeof(*nv));

        TG_ENSURE(nv != NULL, TG_ERR_NOMEM, "routes");
        r->v = nv;
        r->alloc = na;
    }
    nr.path = strndup(path, nr.len);
    nr.method = method != NULL ? strdup(method) : NULL;
    if (nr.path == NULL || (method != NULL && nr.method == NULL)) {
        free(nr.path);
        free(nr.method);
        TG_ENSURE(0, TG_ERR_NOMEM, "route");
    }
    nr.prefix = prefix;
    nr.fn = fn;
    nr.ctx = ctx;
    r->v[r->n++] = nr;
    return TG_OK;
}

/* "%<hi><lo>", the low digit case-insensitive. */
static int
hex_is(const char *p, char hi, char lo)
{
    char c;

    if (p[0] != '%' || p[1] != hi)
        return 0;
    c = p[2];
    if (c >= 'A' && c <= 'F')
        c = (char)(c - 'A' + 'a');
    return c == lo;
}

/* Refuse paths another component could read differently from us: dot
 * segments (RFC 3986 §5.2.4, raw or percent-encoded), encoded slashes and
 * backslashes, encoded NUL. */
int
tg_http_path_is_safe(const char *path)
{
    const char *seg = path + 1, *p;

    if (path[0] != '/')
        return 0;
    for (p = path; *p != '\0'; p++) {
        if (*p == '\\')
            return 0;
        if (*p == '%' && (hex_is(p, '2', 'f') || hex_is(p, '5', 'c') || hex_is(p, '0', '0')))
            return 0;
    }
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end != NULL ? (size_t)(end - seg) : strlen(seg);
        size_t dots = 0, i = 0;

        while (i < n) {
            if (seg[i] == '.') {
                i++;
            } else if (n - i >= 3 && hex_is(seg + i, '2', 'e')) {
                i += 3;
            } else {
                break;
            }
            dots++;
        }
        if (i == n && (dots == 1 || dots == 2))
            return 0;
        if (end == NULL)
            return 1;
        seg = end + 1;
    }
}

/* The routes for a path: an exact route when there is one, else those of
 * the longest matching prefix. Returns one route of that (path, prefix)
 * key; the caller picks the method among the routes sharing it. */
static const struct route *
match_path(const struct tg_http_router *r, const char *path)
{
    const struct route *best = NULL;
    size_t i, plen = strlen(path);

    for (i = 0; i < r->n; i++) {
        const struct route *o = &r->v[i];

        if (!o->prefix && o->len == plen && memcmp(o->path, path, plen) == 0)
            return o;
    }
    for (i = 0; i < r->n; i++) {
        const struct route *o = &r->v[i];

        if (o->prefix && o->len <= plen && memcmp(o->path, path, o->len) == 0 &&
            (best == NULL || o->len > best->len))
            best = o;
    }
    return best;
}

static int
same_key(const struct route *a, const struct route *b)
{
    return a->prefix == b->prefix && a->len == b->len && memcmp(a->path, b->path, a->len) == 0;
}

static enum tg_err
allow_header(const struct tg_http_router *r, const struct route *key, struct tg_http_response *res)
{
    enum tg_err rv = TG_OK;
    struct tg_buf allow;
    const char *text;
    size_t i;
    int get = 0, head = 0;

    tg_buf_init(&allow, 512);
    for (i = 0; i < r->n; i++) {
        const struct route *o = &r->v[i];

        if (!same_key(o, key) || o->method == NULL)
            continue;
        get |= strcmp(o->method, "GET") == 0;
        head |= strcmp(o->method, "HEAD") == 0;
        if (allow.len > 0)
            TG_TRY(tg_buf_append_str(&allow, ", "));
        TG_TRY(tg_buf_append_str(&allow, o->method));
    }
    if (get && !head)
        TG_TRY(tg_buf_append_str(&allow, allow.len > 0 ? ", HEAD" : "HEAD"));
    TG_TRY(tg_buf_cstr(&allow, &text));
    TG_TRY(tg_http_response_header(res, "Allow", text));
out:
    tg_buf_reset(&allow);
    return rv;
}

static void
respond_error(struct tg_http_response *res, enum tg_err err, const char *description)
{
    if (tg_http_response_error(res, err, NULL, description) != TG_OK) {
        tg_log_warnx("cannot build an error response: %s", tg_err_detail());
        res->status = 500;
        res->body.len = 0;
    }
}

void
tg_http_router_dispatch(const struct tg_http_router *r, const struct tg_http_request *req,
                        struct tg_http_response *res)
{
    const struct route *key, *chosen = NULL, *get = NULL, *any = NULL;
    const char *method = tg_http_method(req), *path = tg_http_path(req);
    size_t i;

    if (path == NULL || method == NULL || !tg_http_path_is_safe(path)) {
        respond_error(res, TG_ERR_OAUTH_INVALID_REQUEST, "invalid path");
        return;
    }
    key = r != NULL ? match_path(r, path) : NULL;
    if (key == NULL) {
        respond_error(res, TG_ERR_HTTP_NOT_FOUND, NULL);
        return;
    }
    for (i = 0; i < r->n && chosen == NULL; i++) {
        const struct route *o = &r->v[i];

        if (!same_key(o, key))
            continue;
        if (o->method == NULL)
            any = o;
        else if (strcmp(o->method, method) == 0)
            chosen = o;
        else if (strcmp(o->method, "GET") == 0)
            get = o;
    }
    /* RFC 9110 §9.3.2: HEAD is GET without the content (the server drops it). */
    if (chosen == NULL && get != NULL && strcmp(method, "HEAD") == 0)
        chosen = get;
    if (chosen == NULL)
        chosen = any;
    if (chosen == NULL) {
        respond_error(res, TG_ERR_HTTP_METHOD, NULL);
        if (allow_header(r, key, res) != TG_OK)
            tg_log_warnx("cannot build the Allow header: %s", tg_err_detail());
        return;
    }
    chosen->fn(chosen->ctx, req, res);
    if (res->status < 200 || res->status > 599) {
        tg_log_warnx("handler for %s %s set no valid status (%d)", method, path, res->status);
        tg_http_response_reset(res);
        respond_error(res, TG_ERR_INTERNAL, NULL);
    }
}
