/* Responses: headers, JSON bodies and the one error shape every endpoint
 * uses, {"error": ..., "error_description": ...} (RFC 6749 §5.2), from the
 * error table in core/err.h. Internal detail goes to the debug log only. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/log.h"
#include "http/internal.h"

void
tg_http_response_init(struct tg_http_response *res)
{
    memset(res, 0, sizeof(*res));
    tg_buf_init(&res->body, TG_HTTP_MAX_RESPONSE_SIZE);
}

void
tg_http_response_reset(struct tg_http_response *res)
{
    size_t i, cap = res->body.cap;

    for (i = 0; i < res->n_headers && i < sizeof(res->headers) / sizeof(res->headers[0]); i++) {
        if (res->headers[i].owned) {
            free(res->headers[i].name);
            free(res->headers[i].value);
        }
    }
    tg_buf_reset(&res->body);
    memset(res, 0, sizeof(*res));
    tg_buf_init(&res->body, cap);
}

/* Framing and hop-by-hop headers belong to the server. */
static int
is_reserved(const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t len;
    } reserved[] = {{"Content-Length", 14}, {"Transfer-Encoding", 17}, {"Connection", 10},
                    {"Keep-Alive", 10},     {"Upgrade", 7},            {"Trailer", 7}};
    size_t i;

    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (len == reserved[i].len && strcasecmp(name, reserved[i].name) == 0)
            return 1;
    }
    return 0;
}

/* RFC 9110 §5.5: visible characters, SP, HTAB and obs-text; no CR, LF, NUL. */
static int
is_field_value(const char *v, size_t *len)
{
    const unsigned char *p;

    for (p = (const unsigned char *)v; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    }
    *len = (size_t)((const char *)p - v);
    return 1;
}

static void
header_remove(struct tg_http_response *res, const char *name, size_t len)
{
    size_t i = 0;

    while (i < res->n_headers) {
        if (res->headers[i].name_len == len && strcasecmp(res->headers[i].name, name) == 0) {
            if (res->headers[i].owned) {
                free(res->headers[i].name);
                free(res->headers[i].value);
            }
            memmove(&res->headers[i], &res->headers[i + 1],
                    (res->n_headers - i - 1) * sizeof(res->headers[0]));
            res->n_headers--;
        } else {
            i++;
        }
    }
}

enum tg_err
tg_http_response_header(struct tg_http_response *res, const char *name, const char *value)
{
    char *n, *v;
    size_t nlen, vlen, i;

    TG_ENSURE(name != NULL && value != NULL, TG_ERR_INVALID_ARG, "NULL header");
    TG_ENSURE(tg_http_is_token(name), TG_ERR_INVALID_ARG, "bad header name");
    nlen = strlen(name);
    TG_ENSURE(!is_reserved(name, nlen), TG_ERR_INVALID_ARG, "header %s is set by the server",
              name);
    TG_ENSURE(is_field_value(value, &vlen), TG_ERR_INVALID_ARG, "bad value for header %s", name);
    /* One value per name: a handler overriding Content-Type or
     * Cache-Control after tg_http_response_json must not send both. */
    header_remove(res, name, nlen);
    i = res->n_headers;
    TG_ENSURE(i < sizeof(res->headers) / sizeof(res->headers[0]), TG_ERR_TOO_LARGE,
              "too many response headers");
    if (sizeof(res->hstore) - res->hstore_len > nlen + vlen + 1) {
        n = res->hstore + res->hstore_len;
        memcpy(n, name, nlen + 1);
        v = n + nlen + 1;
        memcpy(v, value, vlen + 1);
        res->hstore_len += nlen + vlen + 2;
        res->headers[i].owned = 0;
    } else {
        n = strdup(name);
        v = strdup(value);
        if (n == NULL || v == NULL) {
            free(n);
            free(v);
            TG_ENSURE(0, TG_ERR_NOMEM, "header copy");
        }
        res->headers[i].owned = 1;
    }
    res->headers[i].name = n;
    res->headers[i].value = v;
    res->headers[i].name_len = nlen;
    res->n_headers++;
    return TG_OK;
}

enum tg_err
tg_http_response_json(struct tg_http_response *res, int status, const char *json_text)
{
    TG_ENSURE(json_text != NULL, TG_ERR_INVALID_ARG, "NULL JSON");
    TG_ENSURE(status >= 200 && status <= 599, TG_ERR_INVALID_ARG, "status %d", status);
    res->body.len = 0;
    TG_GUARD(tg_buf_append_str(&res->body, json_text));
    TG_GUARD(tg_http_response_header(res, "Content-Type", "application/json"));
    /* Tokens and errors must not be cached (RFC 6749 §5.1). */
    TG_GUARD(tg_http_response_header(res, "Cache-Control", "no-store"));
    res->status = status;
    return TG_OK;
}

static enum tg_err
error_json(const char *error, const char *description, char **out)
{
    enum tg_err rv = TG_OK;
    json_t *o = NULL, *e = NULL, *d = NULL;
    int ok;

    *out = NULL;
    o = json_object();
    e = json_string(error);
    d = json_string(description); /* NULL for invalid UTF-8: the caller falls back */
    TG_CHECK(o != NULL && e != NULL && d != NULL, TG_ERR_INVALID_ARG, "error JSON");
    /* json_object_set_new takes the reference even when it fails. */
    ok = json_object_set_new(o, "error", e) == 0;
    e = NULL;
    TG_CHECK(ok, TG_ERR_NOMEM, "error JSON");
    ok = json_object_set_new(o, "error_description", d) == 0;
    d = NULL;
    TG_CHECK(ok, TG_ERR_NOMEM, "error JSON");
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    TG_CHECK(*out != NULL, TG_ERR_NOMEM, "json_dumps");
out:
    json_decref(e);
    json_decref(d);
    json_decref(o);
    return rv;
}

enum tg_err
tg_http_response_error(struct tg_http_response *res, enum tg_err err, const char *oauth_error,
                       const char *description)
{
    enum tg_err rv;
    const char *error;
    char *text = NULL;
    int status;

    if (err == TG_OK || (unsigned)err >= TG_ERR__COUNT)
        err = TG_ERR_INTERNAL;
    status = tg_err_status(err);
    error = oauth_error != NULL ? oauth_error : tg_err_oauth(err, NULL);
    if (error == NULL)
        error = status >= 500 ? "server_error" : "invalid_request";
    if (description == NULL)
        description = tg_err_description(err);
    if (tg_err_detail()[0] != '\0')
        tg_log_debug("%d %s: %s", status, tg_err_name(err), tg_err_detail());

    rv = error_json(error, description, &text);
    if (rv == TG_ERR_INVALID_ARG) /* a description that is not UTF-8 */
        rv = error_json(error, tg_err_description(err), &text);
    TG_GUARD(rv);
    rv = tg_http_response_json(res, status, text);
    free(text);
    return rv;
}
