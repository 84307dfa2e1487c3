#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "oauth/endpoints.h"

enum tg_err
tg_oauth_read_form(const struct tg_http_request *req, struct tg_form *form, const char **why)
{
    const char *ct = tg_http_header(req, "Content-Type");
    size_t n;

    *why = NULL;
    memset(form, 0, sizeof(*form));
    /* RFC 6749 §3.2 / RFC 7662 §2.1 / RFC 7009 §2.1 */
    n = ct ? strcspn(ct, ";") : 0;
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (ct == NULL || n != 33 || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        *why = "Content-Type must be application/x-www-form-urlencoded";
        TG_ENSURE(0, TG_ERR_OAUTH_INVALID_REQUEST, "%s", *why);
    }
    if (tg_form_parse(tg_http_body(req), form) != TG_OK) {
        *why = "malformed form body";
        TG_ENSURE(0, TG_ERR_OAUTH_INVALID_REQUEST, "%s", *why);
    }
    return TG_OK;
}

void
tg_oauth_error(struct tg_http_response *res, enum tg_err err, const char *why, int basic_challenge)
{
    tg_log_debug("oauth error %s: %s", tg_err_name(err), tg_err_detail());
    if (tg_http_response_error(res, err, NULL, why) != TG_OK)
        return;
    if (err == TG_ERR_OAUTH_INVALID_CLIENT) {
        /* RFC 6749 §5.2: 401 and a challenge for the scheme the client used;
         * otherwise 400 would do, but 401 is what clients expect for any
         * failed client authentication. */
        res->status = 401;
        if (basic_challenge)
            TG_IGNORE(tg_http_response_header(res, "WWW-Authenticate",
                                          "Basic realm=\"tollgate\", charset=\"UTF-8\""));
    }
}
