/* The built-in echo upstream of the --dev quickstart: whatever reaches it
 * is answered as JSON, so a user (and the tests) can see exactly what the
 * gateway forwarded — and what it did not. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/gateway.h"

struct echo_ctx {
    json_t *headers;
    int fail;
};

static int
add_header(void *arg, const char *name, const char *value)
{
    struct echo_ctx *c = arg;
    char lower[256];
    size_t i, n = strlen(name);
    json_t *old, *v;

    if (n >= sizeof(lower))
        return 0;
    for (i = 0; i < n; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[n] = '\0';
    old = json_object_get(c->headers, lower);
    if (old != NULL) {
        /* Repeated: joined as RFC 9110 §5.3 allows for list-valued fields. */
        const char *ov = json_string_value(old);
        size_t len = strlen(ov) + 2 + strlen(value) + 1;
        char *joined = malloc(len);

        if (joined == NULL) {
            c->fail = 1;
            return 1;
        }
        snprintf(joined, len, "%s, %s", ov, value);
        json_object_set_new(c->headers, lower, json_string(joined));
        free(joined);
        return 0;
    }
    /* json_string refuses invalid UTF-8: keep such a value as null. */
    v = json_string(value);
    json_object_set_new(c->headers, lower, v != NULL ? v : json_null());
    return 0;
}

static void
handle_echo(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct echo_ctx c = {NULL, 0};
    struct tg_slice body = tg_http_body(req);
    const char *query = tg_http_query(req);
    json_t *o = json_object(), *b;
    char *text = NULL;

    (void)ctx;
    c.headers = json_object();
    if (o == NULL || c.headers == NULL)
        goto fail;
    json_object_set_new(o, "method", json_string(tg_http_method(req)));
    json_object_set_new(o, "path", json_string(tg_http_path(req)));
    json_object_set_new(o, "query", query != NULL ? json_string(query) : json_null());
    if (tg_http_header_each(req, add_header, &c) != 0 || c.fail)
        goto fail;
    json_object_set(o, "headers", c.headers);
    b = json_stringn((const char *)body.p, body.len);
    json_object_set_new(o, "body", b != NULL ? b : json_null());
    text = json_dumps(o, JSON_COMPACT);
    if (text == NULL || tg_http_response_json(res, 200, text) != TG_OK)
        goto fail;
    free(text);
    json_decref(c.headers);
    json_decref(o);
    return;
fail:
    free(text);
    json_decref(c.headers);
    json_decref(o);
    TG_IGNORE(tg_http_response_error(res, TG_ERR_NOMEM, NULL, NULL));
}

enum tg_err
tg_gateway_echo_routes(struct tg_http_router *r)
{
    return tg_http_route(r, NULL, "/*", handle_echo, NULL);
}
