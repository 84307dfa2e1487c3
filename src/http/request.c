/* Request accessors, and requests built from parts for handler tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/internal.h"

const char *
tg_http_method(const struct tg_http_request *r)
{
    return r->method;
}

const char *
tg_http_path(const struct tg_http_request *r)
{
    return r->path;
}

const char *
tg_http_query(const struct tg_http_request *r)
{
    return r->query;
}

/* Field names compare without case (RFC 9110 §5.1); lengths first. */
static int
name_is(const struct tg_http_field *f, const char *name, size_t len)
{
    return f->name_len == len && strcasecmp(f->name, name) == 0;
}

const char *
tg_http_header(const struct tg_http_request *r, const char *name)
{
    size_t i, len;

    if (name == NULL)
        return NULL;
    len = strlen(name);
    for (i = 0; i < r->n_fields; i++) {
        if (name_is(&r->fields[i], name, len))
            return r->fields[i].value;
    }
    return NULL;
}

size_t
tg_http_header_count(const struct tg_http_request *r, const char *name)
{
    return tg_http_header_values(r, name, NULL, 0);
}

size_t
tg_http_header_values(const struct tg_http_request *r, const char *name, const char **out,
                      size_t max)
{
    size_t i, n = 0, len;

    if (name == NULL)
        return 0;
    len = strlen(name);
    for (i = 0; i < r->n_fields; i++) {
        if (!name_is(&r->fields[i], name, len))
            continue;
        if (n < max)
            out[n] = r->fields[i].value;
        n++;
    }
    return n;
}

int
tg_http_header_each(const struct tg_http_request *r,
                    int (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    size_t i;
    int stop;

    for (i = 0; i < r->n_fields; i++) {
        stop = fn(arg, r->fields[i].name, r->fields[i].value);
        if (stop != 0)
            return stop;
    }
    return 0;
}

struct tg_slice
tg_http_body(const struct tg_http_request *r)
{
    return r->body;
}

const char *
tg_http_peer(const struct tg_http_request *r)
{
    return r->peer;
}

int
tg_http_is_tls(const struct tg_http_request *r)
{
    return r->tls;
}

const char *
tg_http_base_url(const struct tg_http_request *r)
{
    return r->base_url;
}

struct tg_slice
tg_http_client_cert(const struct tg_http_request *r)
{
    return r->cert_der;
}

int
tg_http_client_cert_verified(const struct tg_http_request *r)
{
    return r->cert_der.len > 0 && r->cert_verified;
}

void
tg_http_strip_proxy_headers(struct tg_http_field *fields, size_t *n)
{
    size_t i, kept = 0;

    for (i = 0; i < *n; i++) {
        if (name_is(&fields[i], TG_HTTP_HDR_NGINX_CERT, sizeof(TG_HTTP_HDR_NGINX_CERT) - 1) ||
            name_is(&fields[i], TG_HTTP_HDR_XFCC, sizeof(TG_HTTP_HDR_XFCC) - 1))
            continue;
        fields[kept++] = fields[i];
    }
    *n = kept;
}

static char *
dup_or_null(const char *s, int *fail)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *fail = 1;
    return d;
}

enum tg_err
tg_http_request_new(const struct tg_http_request_spec *spec, struct tg_http_request **out)
{
    enum tg_err rv = TG_OK;
    struct tg_http_request *r = NULL;
    const char *const *h;
    size_t n = 0;
    int fail = 0;

    *out = NULL;
    TG_CHECK(spec != NULL && spec->method != NULL && spec->path != NULL, TG_ERR_INVALID_ARG,
             "request needs a method and a path");
    TG_CHECK(spec->body.len == 0 || spec->body.p != NULL, TG_ERR_INVALID_ARG, "body");
    r = calloc(1, sizeof(*r));
    TG_CHECK(r != NULL, TG_ERR_NOMEM, "request");
    tg_buf_init(&r->cert, TG_HTTP_CERT_MAX);

    r->own_method = dup_or_null(spec->method, &fail);
    r->own_path = dup_or_null(spec->path, &fail);
    r->own_query = dup_or_null(spec->query, &fail);
    r->own_base_url = dup_or_null(spec->base_url != NULL ? spec->base_url : "http://127.0.0.1",
                                  &fail);
    TG_CHECK(!fail, TG_ERR_NOMEM, "request strings");
    r->method = r->own_method;
    r->path = r->own_path;
    r->query = r->own_query;
    r->base_url = r->own_base_url;

    if (spec->body.len > 0) {
        r->own_body = malloc(spec->body.len);
        TG_CHECK(r->own_body != NULL, TG_ERR_NOMEM, "body");
        memcpy(r->own_body, spec->body.p, spec->body.len);
    }
    r->body = tg_slice(r->own_body != NULL ? r->own_body : (const uint8_t *)"", spec->body.len);

    for (h = spec->headers; h != NULL && h[0] != NULL; h += 2) {
        TG_CHECK(h[1] != NULL, TG_ERR_INVALID_ARG, "header %s without a value", h[0]);
        TG_CHECK(tg_http_is_token(h[0]), TG_ERR_INVALID_ARG, "bad header name");
        TG_CHECK(strpbrk(h[1], "\r\n") == NULL, TG_ERR_INVALID_ARG, "bad header %s", h[0]);
        n++;
    }
    if (n > 0) {
        /* Two halves: the owned strings (freed with the request), and the
         * view handlers see, without the proxy certificate headers. */
        r->own_fields = calloc(2 * n, sizeof(*r->own_fields));
        TG_CHECK(r->own_fields != NULL, TG_ERR_NOMEM, "fields");
        for (h = spec->headers; r->n_own_fields < n; h += 2) {
            r->own_fields[r->n_own_fields].name = dup_or_null(h[0], &fail);
            r->own_fields[r->n_own_fields].name_len = h[0] != NULL ? strlen(h[0]) : 0;
            r->own_fields[r->n_own_fields].value = dup_or_null(h[1], &fail);
            r->n_own_fields++;
        }
        TG_CHECK(!fail, TG_ERR_NOMEM, "fields");
        r->fields = r->own_fields + n;
        memcpy(r->fields, r->own_fields, n * sizeof(*r->fields));
        r->n_fields = n;
        tg_http_strip_proxy_headers(r->fields, &r->n_fields);
    }

    snprintf(r->peer, sizeof(r->peer), "%s", spec->peer != NULL ? spec->peer : "127.0.0.1");
    r->tls = spec->tls != 0;
    if (spec->client_cert.len > 0) {
        TG_CHECK(spec->client_cert.p != NULL, TG_ERR_INVALID_ARG, "client_cert");
        TG_TRY(tg_buf_append(&r->cert, spec->client_cert.p, spec->client_cert.len));
        r->cert_der = tg_slice(r->cert.p, r->cert.len);
        r->cert_verified = spec->client_cert_verified != 0;
    }
    *out = r;
    r = NULL;
out:
    tg_http_request_free(r);
    return rv;
}

void
tg_http_request_free(struct tg_http_request *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n_own_fields; i++) {
        free((char *)r->own_fields[i].name);
        free((char *)r->own_fields[i].value);
    }
    free(r->own_fields);
    tg_buf_reset(&r->cert);
    free(r->own_method);
    free(r->own_path);
    free(r->own_query);
    free(r->own_base_url);
    free(r->own_body);
    free(r);
}
