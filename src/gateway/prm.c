/* OAuth 2.0 Protected Resource Metadata (RFC 9728 §2, §3) for each tool, at
 * /.well-known/oauth-protected-resource/tools/<tool-id>: the path of the
 * tool's gateway URL inserted after the well-known prefix (§3.1), which is
 * also the resource_metadata URL of every challenge the gateway sends. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/internal.h"

static json_t *
scopes(const struct tg_tool *t)
{
    static const enum tg_action order[] = {TG_ACTION_READ, TG_ACTION_WRITE, TG_ACTION_ADMIN};
    json_t *a = json_array();
    unsigned have = 0;
    size_t i;
    char s[TG_POLICY_ID_MAX + 16];

    if (a == NULL)
        return NULL;
    for (i = 0; i < t->n_endpoints; i++)
        have |= TG_ACTION_BIT(t->endpoints[i].action);
    for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (!(have & TG_ACTION_BIT(order[i])))
            continue;
        snprintf(s, sizeof(s), "%s:%s", t->id, tg_action_name(order[i]));
        json_array_append_new(a, json_string(s));
    }
    return a;
}

static json_t *
algs(unsigned set)
{
    json_t *a = json_array();
    int i;

    if (a == NULL)
        return NULL;
    for (i = 1; i < TG_JWS_ALG__COUNT; i++) {
        if (set & TG_JWS_ALG_BIT(i))
            json_array_append_new(a, json_string(tg_jws_alg_name((enum tg_jws_alg)i)));
    }
    return a;
}

void
tg_gw_handle_prm(void *ctx, const struct tg_http_request *req, struct tg_http_response *res)
{
    struct tg_gateway *gw = ctx;
    const char *id = tg_http_path(req) + strlen(TG_GW_PRM_PREFIX);
    struct tg_gw_tool *tool = NULL;
    json_t *m = NULL;
    char *text = NULL;
    enum tg_err e;

    if (!tg_policy_id_valid(tg_slice(id, strlen(id)))) {
        tg_gw_respond_error(res, 404, "invalid_request", "no such tool");
        return;
    }
    e = tg_gw_tool_get(gw, id, &tool);
    if (e != TG_OK) {
        tg_gw_respond_error(res, e == TG_ERR_NOT_FOUND ? 404 : 500,
                            e == TG_ERR_NOT_FOUND ? "invalid_request" : "server_error",
                            e == TG_ERR_NOT_FOUND ? "no such tool" : "tool lookup failed");
        return;
    }
    /* dpop_bound_access_tokens_required is false: the gateway also accepts
     * certificate-bound tokens and, on normal-risk endpoints, bearer tokens
     * of agents registered for them; "always requires DPoP" (§2) would be
     * untrue. High-risk endpoints still refuse bearer tokens. */
    m = json_pack("{s:s, s:[s], s:o, s:[s], s:o, s:b, s:b, s:s, s:[s]}", "resource",
                  tool->t.resource, "authorization_servers", gw->issuer, "scopes_supported",
                  scopes(&tool->t), "bearer_methods_supported", "header",
                  "dpop_signing_alg_values_supported", algs(gw->algs),
                  "dpop_bound_access_tokens_required", 0,
                  "tls_client_certificate_bound_access_tokens", 1, "resource_name", tool->t.id,
                  "authorization_details_types_supported", "tool");
    /* MCP clients (SEP-835) ask for every scope of scopes_supported when a
     * 401 names none; the token endpoint refuses a scope beyond the grant
     * (never trims), so an agent granted only part of an MCP server could
     * never get a token. Without the list they ask for none and get what
     * their grant allows; 403 challenges still name the scope a call needs. */
    if (m != NULL && tg_tool_is_mcp(&tool->t))
        json_object_del(m, "scopes_supported");
    text = m != NULL ? json_dumps(m, JSON_COMPACT) : NULL;
    if (text == NULL || tg_http_response_json(res, 200, text) != TG_OK) {
        tg_http_response_reset(res);
        tg_gw_respond_error(res, 500, "server_error", NULL);
    } else {
        /* Public, and tools change rarely. */
        TG_IGNORE(tg_http_response_header(res, "Cache-Control", "public, max-age=60"));
    }
    free(text);
    json_decref(m);
    tg_gw_tool_release(gw, tool);
}
