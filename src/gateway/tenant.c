/* Tenant-bound routing: a tool whose upstream holds "{tenant}" is reached at
 * the upstream of the verified token's tenant, and only of that one. The
 * tenant comes from the token alone (request headers naming a tenant never
 * reach the tool, uri.c); a token without one, or with one that cannot
 * stand in the URL, is refused here, after the decision allowed the call
 * and before anything is forwarded. docs/gateway.md, "Tenant-bound routing". */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "gateway/internal.h"
#include "jose/alg.h"

/* RFC 6750 §3.1: the token is valid but does not grant access to this
 * resource. Not invalid_token: that is a 401 telling the client to get a
 * new token, which would carry no more tenant than this one. No scope is
 * named: no scope would help. */
#define TENANT_ERROR "insufficient_scope"
#define DESC_NO_TENANT "this tool is tenant-bound and the access token has no tenant"
#define DESC_BAD_TENANT "the access token's tenant cannot name this tool's upstream"

/* The challenge of the scheme the client used (a DPoP-bound token comes
 * with the DPoP scheme, anything else with Bearer), shaped as src/verify
 * shapes its own 403s. The values hold no quote or backslash: the
 * descriptions are ours, and the metadata URL is built from the issuer and
 * a tool id ([A-Za-z0-9._:-]). */
static void
challenge(const struct tg_gateway *gw, const struct tg_gw_tool *tool, int dpop, const char *desc,
          char *dst, size_t cap)
{
    char algs[96] = "", prm[TG_GW_URL_MAX];
    size_t len = 0;
    enum tg_jws_alg a;
    int n;

    n = snprintf(prm, sizeof(prm), "%s%s%s", gw->metadata_base, TG_GW_PRM_PREFIX, tool->t.id);
    if (n < 0 || (size_t)n >= sizeof(prm) || strchr(prm, '"') != NULL || strchr(prm, '\\'))
        prm[0] = '\0';
    for (a = TG_JWS_ES256; dpop && a < TG_JWS_ALG__COUNT; a++) {
        if (!(gw->algs & TG_JWS_ALG_BIT(a)))
            continue;
        n = snprintf(algs + len, sizeof(algs) - len, "%s%s", len > 0 ? " " : "",
                     tg_jws_alg_name(a));
        if (n < 0 || (size_t)n >= sizeof(algs) - len)
            break;
        len += (size_t)n;
    }
    n = snprintf(dst, cap, "%s error=\"%s\", error_description=\"%s\"%s%s%s%s%s%s",
                 dpop ? "DPoP" : "Bearer", TENANT_ERROR, desc,
                 dpop ? ", algs=\"" : "", dpop ? algs : "", dpop ? "\"" : "",
                 prm[0] != '\0' ? ", resource_metadata=\"" : "", prm,
                 prm[0] != '\0' ? "\"" : "");
    if (n < 0 || (size_t)n >= cap)
        dst[0] = '\0';
}

void
tg_gw_tenant_gate(const struct tg_gateway *gw, const struct tg_gw_tool *tool,
                  struct tg_rs_decision *d)
{
    char url[TG_GW_URL_MAX];
    const char *desc;
    enum tg_err e;

    if (d->err != TG_OK || !tg_gw_upstream_tenant_bound(tool->t.upstream))
        return;
    e = tg_gw_upstream_for_tenant(tool->t.upstream, d->id.tenant, url, sizeof(url));
    switch (e) {
    case TG_OK:
        return;
    case TG_ERR_NOT_FOUND:
        desc = DESC_NO_TENANT;
        break;
    case TG_ERR_INVALID_ARG:
        desc = DESC_BAD_TENANT;
        break;
    default:
        /* The tool's own upstream is unusable (a record that bypassed
         * validation, or too long a URL): not the agent's doing. */
        tg_log_warnx("gateway: tenant-bound upstream of %s: %s", tool->t.id, tg_err_detail());
        d->err = TG_ERR_CONFIG;
        d->status = 502;
        d->error = "server_error";
        d->description = "the tool's upstream is unavailable";
        d->www_authenticate[0] = '\0';
        d->scope_needed[0] = '\0';
        d->need_nonce = 0;
        d->retry_after = 0;
        return;
    }
    tg_err_raise(TG_ERR_OAUTH_INSUFFICIENT_SCOPE, "tool %s: %s", tool->t.id, desc);
    d->err = TG_ERR_OAUTH_INSUFFICIENT_SCOPE;
    d->status = 403;
    d->error = TENANT_ERROR;
    d->description = desc;
    d->scope_needed[0] = '\0';
    d->need_nonce = 0;
    d->retry_after = 0;
    challenge(gw, tool, strcmp(d->id.binding, "dpop") == 0, desc, d->www_authenticate,
              sizeof(d->www_authenticate));
}
