/* The token-request decision. Parsing (scope, authorization_details,
 * resource) reads like RFC 6749 §3.3, RFC 9396 §2 and RFC 8707 §2; the
 * decision applies docs/policy.md's rules in a fixed order so the same
 * request always gets the same error. */
#include "policy/authz.h"

#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"


/* Client-safe descriptions (error_description). They never say whether a
 * tool the client was not granted exists. */
#define D_SCOPE_SYNTAX \
    "scope must be space-separated <tool>:<action> values (action: read, write, admin)"
#define D_SCOPE_LONG "scope is too long"
#define D_AD_JSON "authorization_details must be a JSON array of objects"
#define D_AD_EMPTY "authorization_details must not be empty"
#define D_AD_MANY "too many authorization details"
#define D_AD_TYPE "authorization details type must be \"tool\""
#define D_AD_MEMBER "unknown member in a tool authorization detail"
#define D_AD_TOOL "a tool authorization detail needs \"tool\": a tool id"
#define D_AD_ACTIONS "\"actions\" must be a non-empty array of read, write, admin"
#define D_AD_ENDPOINTS "\"endpoints\" must be a non-empty array of \"METHOD /path\" strings"
#define D_AD_LOCATIONS "\"locations\" must be a non-empty array of absolute URIs"
#define D_TARGET_SYNTAX "resource must be an absolute URI without a fragment"
#define D_TARGET_MANY "too many resource parameters"
#define D_TARGET_UNKNOWN "unknown resource"
#define D_TARGET_MISMATCH "the resource parameters and the requested tools do not match"
#define D_NOT_GRANTED "requested tool or action is not granted to this client"
#define D_ENDPOINT_NOT_GRANTED "requested endpoint is not granted to this client"
#define D_RESOURCE_NOT_GRANTED "no tool at the requested resource is granted to this client"
#define D_NOTHING_GRANTED "no tool is granted to this client"
#define D_HIGH_RISK_GRANT "high-risk endpoints are granted only when the grant names them"
#define D_HIGH_RISK_POP "high-risk action requires a sender-constrained token"
#define D_AD_LOCATION_MISMATCH "\"locations\" must be the tool's resource"
#define D_AD_INCONSISTENT "\"actions\" must be exactly the actions of the requested \"endpoints\""
#define D_DISABLED "client is disabled"
#define D_POP_REQUIRED "this client's tokens must be sender-constrained"

static enum tg_err
refuse(const char **why, enum tg_err e, const char *desc)
{
    if (why != NULL)
        *why = desc;
    tg_err_raise(e, "%s", desc);
    return e;
}

/* ---- small owned-string lists ---------------------------------------- */

static int
list_has(char *const *v, size_t n, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strlen(v[i]) == len && memcmp(v[i], s, len) == 0)
            return 1;
    return 0;
}

/* Append a copy unless already present. */
static enum tg_err
list_add(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv, *c;

    if (list_has(*v, *n, s, len))
        return TG_OK;
    c = malloc(len + 1);
    TG_ENSURE(c != NULL, TG_ERR_NOMEM, "list item");
    memcpy(c, s, len);
    c[len] = '\0';
    nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL) {
        free(c);
        tg_err_raise(TG_ERR_NOMEM, "list");
        return TG_ERR_NOMEM;
    }
    nv[(*n)++] = c;
    *v = nv;
    return TG_OK;
}

static void
list_free(char ***v, size_t *n)
{
    size_t i;

    for (i = 0; i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qsort with NULL is undefined even for zero elements. */
static void
sort_strs(char **v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_str);
}

void
tg_authz_detail_reset(struct tg_authz_detail *d)
{
    if (d == NULL)
        return;
    free(d->tool);
    list_free(&d->endpoints, &d->n_endpoints);
    list_free(&d->locations, &d->n_locations);
    memset(d, 0, sizeof(*d));
}

void
tg_authz_request_reset(struct tg_authz_request *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n_details; i++)
        tg_authz_detail_reset(&r->details[i]);
    free(r->details);
    list_free(&r->resources, &r->n_resources);
    memset(r, 0, sizeof(*r));
}

void
tg_authz_result_reset(struct tg_authz_result *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n_details; i++)
        tg_authz_detail_reset(&r->details[i]);
    free(r->details);
    free(r->scope);
    list_free(&r->audience, &r->n_audience);
    json_decref(r->authorization_details);
    memset(r, 0, sizeof(*r));
}

/* A new zeroed detail at the end of the request. */
static enum tg_err
new_detail(struct tg_authz_request *r, enum tg_authz_origin origin, const char *tool,
           size_t tool_len, struct tg_authz_detail **out)
{
    struct tg_authz_detail *nd;

    nd = realloc(r->details, (r->n_details + 1) * sizeof(*nd));
    TG_ENSURE(nd != NULL, TG_ERR_NOMEM, "details");
    r->details = nd;
    nd = &r->details[r->n_details];
    memset(nd, 0, sizeof(*nd));
    r->n_details++;
    nd->origin = origin;
    nd->tool = malloc(tool_len + 1);
    TG_ENSURE(nd->tool != NULL, TG_ERR_NOMEM, "tool");
    memcpy(nd->tool, tool, tool_len);
    nd->tool[tool_len] = '\0';
    *out = nd;
    return TG_OK;
}

/* ---- scope (RFC 6749 §3.3) -------------------------------------------- */

static enum tg_err
action_from(const uint8_t *p, size_t len, enum tg_action *out)
{
    char name[8];

    TG_ENSURE(len > 0 && len < sizeof(name), TG_ERR_INVALID_ARG, "action");
    memcpy(name, p, len);
    name[len] = '\0';
    return tg_action_parse(name, out);
}

static enum tg_err
scope_token(struct tg_authz_request *r, const uint8_t *p, size_t len, const char **why)
{
    struct tg_authz_detail *d;
    enum tg_action a;
    size_t colon = len;
    size_t i;

    for (i = 0; i < len; i++) {
        /* scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
            return refuse(why, TG_ERR_OAUTH_INVALID_SCOPE, D_SCOPE_SYNTAX);
        if (p[i] == ':')
            colon = i;
    }
    /* Tool ids may hold ':', so the action follows the last one. */
    if (colon == len || !tg_policy_id_valid(tg_slice(p, colon)) ||
        action_from(p + colon + 1, len - colon - 1, &a) != TG_OK)
        return refuse(why, TG_ERR_OAUTH_INVALID_SCOPE, D_SCOPE_SYNTAX);
    if (r->n_details >= TG_AUTHZ_MAX_DETAILS)
        return refuse(why, TG_ERR_OAUTH_INVALID_SCOPE, D_SCOPE_LONG);
    TG_GUARD(new_detail(r, TG_AUTHZ_FROM_SCOPE, (const char *)p, colon, &d));
    d->actions = TG_ACTION_BIT(a);
    return TG_OK;
}

static enum tg_err
parse_scope(struct tg_slice s, struct tg_authz_request *r, const char **why)
{
    size_t i = 0, start;

    if (s.len > TG_AUTHZ_MAX_SCOPE)
        return refuse(why, TG_ERR_OAUTH_INVALID_SCOPE, D_SCOPE_LONG);
    /* Tokens separated by exactly one space: an empty token (leading,
     * trailing or double space) is not in the grammar. */
    while (i <= s.len) {
        start = i;
        while (i < s.len && s.p[i] != ' ')
            i++;
        if (i == start)
            return refuse(why, TG_ERR_OAUTH_INVALID_SCOPE, D_SCOPE_SYNTAX);
        TG_GUARD(scope_token(r, s.p + start, i - start, why));
        i++;
    }
    return TG_OK;
}

/* ---- authorization_details (RFC 9396 §2) ------------------------------ */

#define BAD_AD(desc) refuse(why, TG_ERR_OAUTH_INVALID_AUTHZ_DETAILS, (desc))

static enum tg_err
ad_actions(const json_t *v, unsigned *out, const char **why)
{
    const json_t *a;
    enum tg_action act;
    size_t i;

    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > TG_AUTHZ_MAX_LIST)
        return BAD_AD(D_AD_ACTIONS);
    json_array_foreach(v, i, a) {
        if (!json_is_string(a) || tg_action_parse(json_string_value(a), &act) != TG_OK)
            return BAD_AD(D_AD_ACTIONS);
        *out |= TG_ACTION_BIT(act);
    }
    return TG_OK;
}

/* endpoints (is_ep) or locations: a non-empty array of valid strings. */
static enum tg_err
ad_strings(const json_t *v, int is_ep, char ***list, size_t *n, const char **why)
{
    const char *desc = is_ep ? D_AD_ENDPOINTS : D_AD_LOCATIONS;
    struct tg_slice s, m, p;
    const json_t *e;
    size_t i;

    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > TG_AUTHZ_MAX_LIST)
        return BAD_AD(desc);
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return BAD_AD(desc);
        s = tg_slice(json_string_value(e), json_string_length(e));
        if (is_ep ? tg_endpoint_ref_split(s, &m, &p) != TG_OK : !tg_uri_absolute_valid(s))
            return BAD_AD(desc);
        TG_GUARD(list_add(list, n, (const char *)s.p, s.len));
    }
    return TG_OK;
}

static enum tg_err
ad_detail(struct tg_authz_request *r, const json_t *obj, const char **why)
{
    const json_t *type, *tool, *actions, *v;
    struct tg_authz_detail *d;
    const char *key;

    if (!json_is_object(obj))
        return BAD_AD(D_AD_JSON);
    /* RFC 9396 §2: "type" is required and decides the other members. */
    type = json_object_get(obj, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "tool") != 0)
        return BAD_AD(D_AD_TYPE);
    json_object_foreach((json_t *)obj, key, v) {
        if (strcmp(key, "type") != 0 && strcmp(key, "tool") != 0 && strcmp(key, "actions") != 0 &&
            strcmp(key, "endpoints") != 0 && strcmp(key, "locations") != 0)
            return BAD_AD(D_AD_MEMBER);
    }
    tool = json_object_get(obj, "tool");
    if (!json_is_string(tool) ||
        !tg_policy_id_valid(tg_slice(json_string_value(tool), json_string_length(tool))))
        return BAD_AD(D_AD_TOOL);
    actions = json_object_get(obj, "actions");
    if (actions == NULL)
        return BAD_AD(D_AD_ACTIONS);
    TG_GUARD(new_detail(r, TG_AUTHZ_FROM_DETAILS, json_string_value(tool),
                        json_string_length(tool), &d));
    TG_GUARD(ad_actions(actions, &d->actions, why));
    if ((v = json_object_get(obj, "endpoints")) != NULL)
        TG_GUARD(ad_strings(v, 1, &d->endpoints, &d->n_endpoints, why));
    if ((v = json_object_get(obj, "locations")) != NULL)
        TG_GUARD(ad_strings(v, 0, &d->locations, &d->n_locations, why));
    return TG_OK;
}

static enum tg_err
parse_details(struct tg_slice s, struct tg_authz_request *r, const char **why)
{
    json_t *arr = NULL, *obj;
    json_error_t jerr;
    enum tg_err rv = TG_OK;
    size_t i;

    if (s.len > TG_AUTHZ_MAX_DETAILS_JSON)
        return BAD_AD(D_AD_MANY);
    arr = json_loadb((const char *)s.p, s.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_array(arr)) {
        rv = BAD_AD(D_AD_JSON);
        goto out;
    }
    if (json_array_size(arr) == 0) {
        rv = BAD_AD(D_AD_EMPTY);
        goto out;
    }
    if (r->n_details + json_array_size(arr) > TG_AUTHZ_MAX_DETAILS) {
        rv = BAD_AD(D_AD_MANY);
        goto out;
    }
    json_array_foreach(arr, i, obj)
        TG_TRY(ad_detail(r, obj, why));
out:
    json_decref(arr);
    return rv;
}

enum tg_err
tg_authz_request_parse(struct tg_slice scope, struct tg_slice authorization_details,
                       const struct tg_slice *resources, size_t n_resources,
                       struct tg_authz_request *out, const char **why)
{
    enum tg_err rv = TG_OK;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (why != NULL)
        *why = NULL;
    /* RFC 6749 §3.1: a parameter sent without a value is treated as if it
     * were omitted. */
    if (scope.p != NULL && scope.len > 0)
        TG_TRY(parse_scope(scope, out, why));
    if (authorization_details.p != NULL && authorization_details.len > 0)
        TG_TRY(parse_details(authorization_details, out, why));
    if (n_resources > TG_AUTHZ_MAX_RESOURCES) {
        rv = refuse(why, TG_ERR_OAUTH_INVALID_TARGET, D_TARGET_MANY);
        goto out;
    }
    for (i = 0; i < n_resources; i++) {
        if (resources[i].p == NULL || resources[i].len == 0)
            continue;
        /* RFC 8707 §2: an absolute URI, no fragment. */
        if (!tg_uri_absolute_valid(resources[i])) {
            rv = refuse(why, TG_ERR_OAUTH_INVALID_TARGET, D_TARGET_SYNTAX);
            goto out;
        }
        TG_TRY(list_add(&out->resources, &out->n_resources, (const char *)resources[i].p,
                        resources[i].len));
    }
out:
    if (rv != TG_OK)
        tg_authz_request_reset(out);
    return rv;
}

/* ---- the decision ----------------------------------------------------- */

/* The result being built: per tool, at most one detail without an endpoint
 * list and one with. */
struct slot {
    struct tg_authz_detail d;
    int restricted;
};

struct acc {
    struct slot *s;
    size_t n;
    int skipped_for_pop; /* an empty request lost something to the bearer rule */
};

static void
acc_reset(struct acc *a)
{
    size_t i;

    for (i = 0; i < a->n; i++)
        tg_authz_detail_reset(&a->s[i].d);
    free(a->s);
    memset(a, 0, sizeof(*a));
}

static enum tg_err
acc_slot(struct acc *a, const struct tg_tool *t, int restricted, struct tg_authz_detail **out)
{
    struct slot *ns;
    size_t i;

    for (i = 0; i < a->n; i++) {
        if (a->s[i].restricted == restricted && strcmp(a->s[i].d.tool, t->id) == 0) {
            *out = &a->s[i].d;
            return TG_OK;
        }
    }
    ns = realloc(a->s, (a->n + 1) * sizeof(*ns));
    TG_ENSURE(ns != NULL, TG_ERR_NOMEM, "slots");
    a->s = ns;
    memset(&a->s[a->n], 0, sizeof(*a->s));
    a->s[a->n].restricted = restricted;
    *out = &a->s[a->n++].d;
    (*out)->tool = strdup(t->id);
    TG_ENSURE((*out)->tool != NULL, TG_ERR_NOMEM, "strdup");
    return list_add(&(*out)->locations, &(*out)->n_locations, t->resource, strlen(t->resource));
}

static const struct tg_grant *
find_grant(const struct tg_authz_context *ctx, const char *tool_id)
{
    size_t i;

    /* One grant per (agent, tool); should a caller pass two, the first
     * decides: never the union, which could be wider than either. */
    for (i = 0; i < ctx->n_grants; i++)
        if (ctx->grants[i].agent_id != NULL && ctx->grants[i].tool_id != NULL &&
            strcmp(ctx->grants[i].agent_id, ctx->agent->id) == 0 &&
            strcmp(ctx->grants[i].tool_id, tool_id) == 0)
            return &ctx->grants[i];
    return NULL;
}

static const struct tg_tool *
find_tool_by_resource(const struct tg_authz_context *ctx, const char *resource)
{
    size_t i;

    for (i = 0; i < ctx->n_tools; i++)
        if (ctx->tools[i].resource != NULL && strcmp(ctx->tools[i].resource, resource) == 0)
            return &ctx->tools[i];
    return NULL;
}

static int
grant_names(const struct tg_grant *g, const struct tg_endpoint *e)
{
    size_t i;

    for (i = 0; i < g->n_endpoints; i++)
        if (tg_endpoint_ref_eq(e, tg_slice(g->endpoints[i], strlen(g->endpoints[i]))))
            return 1;
    return 0;
}

static enum tg_err
add_ref(struct tg_authz_detail *d, const struct tg_endpoint *e)
{
    size_t ml = strlen(e->method), pl = strlen(e->path);
    char *ref = malloc(ml + pl + 2);
    enum tg_err rv;

    TG_ENSURE(ref != NULL, TG_ERR_NOMEM, "ref");
    memcpy(ref, e->method, ml);
    ref[ml] = ' ';
    memcpy(ref + ml + 1, e->path, pl + 1);
    rv = list_add(&d->endpoints, &d->n_endpoints, ref, ml + pl + 1);
    free(ref);
    return rv;
}

/* What one granted action reaches on a tool. */
struct reach {
    size_t cand;         /* endpoints of the action the grant covers */
    size_t reached;      /* of those, the ones this token may call */
    size_t blocked_pop;  /* high-risk, named by the grant, but no sender constraint */
};

/* Count what action `a` reaches; with `d` non-NULL, also list it there. */
static enum tg_err
reach_action(const struct tg_authz_context *ctx, const struct tg_tool *t,
             const struct tg_grant *g, enum tg_action a, struct tg_authz_detail *d,
             struct reach *r)
{
    const struct tg_endpoint *e;
    size_t i;
    int named;

    memset(r, 0, sizeof(*r));
    /* Indexing, not pointer arithmetic: a tool may have no endpoints and a
     * NULL table (NULL + 0 is undefined behaviour in C). */
    for (i = 0; i < t->n_endpoints; i++) {
        e = &t->endpoints[i];
        if (e->action != a)
            continue;
        named = grant_names(g, e);
        if (g->n_endpoints > 0 && !named)
            continue;
        r->cand++;
        if (e->risk == TG_RISK_HIGH && !named)
            continue; /* a high-risk endpoint is granted only by name */
        if (e->risk == TG_RISK_HIGH && !ctx->sender_constrained) {
            r->blocked_pop++;
            continue;
        }
        r->reached++;
        if (d != NULL)
            TG_GUARD(add_ref(d, e));
    }
    return TG_OK;
}

static enum tg_err
origin_err(const struct tg_authz_detail *d)
{
    return d->origin == TG_AUTHZ_FROM_SCOPE ? TG_ERR_OAUTH_INVALID_SCOPE
                                            : TG_ERR_OAUTH_INVALID_AUTHZ_DETAILS;
}

/* A request detail that lists endpoints: each must be in the table, named
 * by the grant when the grant names any, and by name and with a sender
 * constraint when high-risk. */
static enum tg_err
decide_endpoints(const struct tg_authz_context *ctx, const struct tg_authz_detail *rd,
                 const struct tg_tool *t, const struct tg_grant *g, struct acc *acc,
                 const char **why)
{
    const struct tg_endpoint *e;
    struct tg_authz_detail *out;
    unsigned listed = 0;
    size_t i;

    for (i = 0; i < rd->n_endpoints; i++) {
        e = tg_tool_find_endpoint(t, tg_slice(rd->endpoints[i], strlen(rd->endpoints[i])));
        if (e == NULL)
            return refuse(why, origin_err(rd), D_ENDPOINT_NOT_GRANTED);
        listed |= TG_ACTION_BIT(e->action);
        if (!(g->actions & TG_ACTION_BIT(e->action)) || (g->n_endpoints > 0 && !grant_names(g, e)))
            return refuse(why, origin_err(rd), D_ENDPOINT_NOT_GRANTED);
        if (e->risk == TG_RISK_HIGH && !grant_names(g, e))
            return refuse(why, origin_err(rd), D_HIGH_RISK_GRANT);
        if (e->risk == TG_RISK_HIGH && !ctx->sender_constrained)
            return refuse(why, TG_ERR_OAUTH_INVALID_SCOPE, D_HIGH_RISK_POP);
    }
    if (listed != rd->actions)
        return refuse(why, TG_ERR_OAUTH_INVALID_AUTHZ_DETAILS, D_AD_INCONSISTENT);
    TG_GUARD(acc_slot(acc, t, 1, &out));
    out->actions |= rd->actions;
    for (i = 0; i < rd->n_endpoints; i++)
        TG_GUARD(list_add(&out->endpoints, &out->n_endpoints, rd->endpoints[i],
                          strlen(rd->endpoints[i])));
    return TG_OK;
}

/* A request detail of actions only: each action must reach something. */
static enum tg_err
decide_actions(const struct tg_authz_context *ctx, const struct tg_authz_detail *rd,
               const struct tg_tool *t, const struct tg_grant *g, struct acc *acc,
               const char **why)
{
    struct tg_authz_detail *out;
    struct reach r;
    enum tg_action a;

    for (a = TG_ACTION_READ; a <= TG_ACTION_ADMIN; a++) {
        if (!(rd->actions & TG_ACTION_BIT(a)))
            continue;
        TG_GUARD(reach_action(ctx, t, g, a, NULL, &r));
        if (r.cand == 0 && g->n_endpoints > 0)
            return refuse(why, origin_err(rd), D_NOT_GRANTED);
        if (r.cand > 0 && r.reached == 0) {
            if (r.blocked_pop > 0)
                return refuse(why, TG_ERR_OAUTH_INVALID_SCOPE, D_HIGH_RISK_POP);
            return refuse(why, origin_err(rd), D_HIGH_RISK_GRANT);
        }
        /* A grant naming endpoints yields a token naming them; otherwise
         * the token names none, which means the normal-risk ones. */
        TG_GUARD(acc_slot(acc, t, g->n_endpoints > 0, &out));
        out->actions |= TG_ACTION_BIT(a);
        if (g->n_endpoints > 0)
            TG_GUARD(reach_action(ctx, t, g, a, out, &r));
    }
    return TG_OK;
}

static int
has_resource(const struct tg_authz_request *req, const char *resource)
{
    return list_has(req->resources, req->n_resources, resource, strlen(resource));
}

static enum tg_err
decide_explicit(const struct tg_authz_context *ctx, const struct tg_authz_request *req,
                struct acc *acc, const char **why)
{
    const struct tg_authz_detail *rd;
    const struct tg_tool *t;
    const struct tg_grant *g;
    size_t i, j;

    for (i = 0; i < req->n_details; i++) {
        rd = &req->details[i];
        t = tg_policy_find_tool(ctx->tools, ctx->n_tools, rd->tool);
        g = t != NULL ? find_grant(ctx, t->id) : NULL;
        /* Unknown and ungranted tools get the same answer. */
        if (g == NULL || (rd->actions & ~g->actions) != 0)
            return refuse(why, origin_err(rd), D_NOT_GRANTED);
        for (j = 0; j < rd->n_locations; j++)
            if (strcmp(rd->locations[j], t->resource) != 0)
                return refuse(why, TG_ERR_OAUTH_INVALID_AUTHZ_DETAILS, D_AD_LOCATION_MISMATCH);
        if (rd->n_endpoints > 0)
            TG_GUARD(decide_endpoints(ctx, rd, t, g, acc, why));
        else
            TG_GUARD(decide_actions(ctx, rd, t, g, acc, why));
        /* RFC 8707: the token's audience is the resources asked for, so a
         * requested tool must be one of them. */
        if (req->n_resources > 0 && !has_resource(req, t->resource))
            return refuse(why, TG_ERR_OAUTH_INVALID_TARGET, D_TARGET_MISMATCH);
    }
    return TG_OK;
}

/* Nothing specific asked: everything the grants allow (at the requested
 * resources, if any), high-risk endpoints left out of a bearer token. */
static enum tg_err
decide_all(const struct tg_authz_context *ctx, const struct tg_authz_request *req,
           struct acc *acc)
{
    const struct tg_grant *g;
    const struct tg_tool *t;
    struct tg_authz_detail *out;
    struct reach r;
    enum tg_action a;
    size_t i;

    for (i = 0; i < ctx->n_grants; i++) {
        g = &ctx->grants[i];
        if (g->agent_id == NULL || g->tool_id == NULL || strcmp(g->agent_id, ctx->agent->id) != 0 ||
            find_grant(ctx, g->tool_id) != g)
            continue;
        t = tg_policy_find_tool(ctx->tools, ctx->n_tools, g->tool_id);
        if (t == NULL || (req->n_resources > 0 && !has_resource(req, t->resource)))
            continue;
        for (a = TG_ACTION_READ; a <= TG_ACTION_ADMIN; a++) {
            if (!(g->actions & TG_ACTION_BIT(a)))
                continue;
            TG_GUARD(reach_action(ctx, t, g, a, NULL, &r));
            if (r.blocked_pop > 0)
                acc->skipped_for_pop = 1;
            if ((r.cand == 0 && g->n_endpoints > 0) || (r.cand > 0 && r.reached == 0))
                continue;
            TG_GUARD(acc_slot(acc, t, g->n_endpoints > 0, &out));
            out->actions |= TG_ACTION_BIT(a);
            if (g->n_endpoints > 0)
                TG_GUARD(reach_action(ctx, t, g, a, out, &r));
        }
    }
    return TG_OK;
}

static int
acc_has_tool(const struct acc *acc, const char *tool)
{
    size_t i;

    for (i = 0; i < acc->n; i++)
        if (strcmp(acc->s[i].d.tool, tool) == 0)
            return 1;
    return 0;
}

static int
cmp_slot(const void *a, const void *b)
{
    const struct slot *x = a, *y = b;
    int c = strcmp(x->d.tool, y->d.tool);

    return c != 0 ? c : x->restricted - y->restricted;
}

/* "tool:action" of every granted pair, sorted, deduplicated. */
static enum tg_err
build_scope(const struct tg_authz_result *r, char **out)
{
    char **tokens = NULL, *s = NULL, *tok;
    size_t n = 0, i, len = 0, tl, al;
    const char *tool, *action;
    enum tg_action a;
    enum tg_err rv = TG_OK;

    for (i = 0; i < r->n_details; i++) {
        tool = r->details[i].tool;
        tl = strlen(tool);
        for (a = TG_ACTION_READ; a <= TG_ACTION_ADMIN; a++) {
            if (!(r->details[i].actions & TG_ACTION_BIT(a)))
                continue;
            action = tg_action_name(a);
            al = strlen(action);
            tok = malloc(tl + 1 + al + 1);
            TG_CHECK(tok != NULL, TG_ERR_NOMEM, "scope token");
            memcpy(tok, tool, tl);
            tok[tl] = ':';
            memcpy(tok + tl + 1, action, al + 1);
            rv = list_add(&tokens, &n, tok, tl + 1 + al);
            free(tok);
            TG_TRY(rv);
        }
    }
    sort_strs(tokens, n);
    for (i = 0; i < n; i++)
        len += strlen(tokens[i]) + 1;
    s = malloc(len + 1);
    TG_CHECK(s != NULL, TG_ERR_NOMEM, "scope");
    for (i = 0, len = 0; i < n; i++) {
        if (i > 0)
            s[len++] = ' ';
        tl = strlen(tokens[i]);
        memcpy(s + len, tokens[i], tl);
        len += tl;
    }
    s[len] = '\0';
    *out = s;
out:
    list_free(&tokens, &n);
    return rv;
}

/* Move the accumulated slots into the result, in a stable order, and derive
 * the scope string, the audience and the JSON. */
static enum tg_err
finish(struct acc *acc, struct tg_authz_result *out)
{
    size_t i;

    if (acc->n > 1)
        qsort(acc->s, acc->n, sizeof(*acc->s), cmp_slot);
    out->details = calloc(acc->n, sizeof(*out->details));
    TG_ENSURE(out->details != NULL, TG_ERR_NOMEM, "result");
    for (i = 0; i < acc->n; i++) {
        out->details[i] = acc->s[i].d;
        memset(&acc->s[i].d, 0, sizeof(acc->s[i].d));
        sort_strs(out->details[i].endpoints, out->details[i].n_endpoints);
    }
    out->n_details = acc->n;
    for (i = 0; i < out->n_details; i++)
        TG_GUARD(list_add(&out->audience, &out->n_audience, out->details[i].locations[0],
                          strlen(out->details[i].locations[0])));
    sort_strs(out->audience, out->n_audience);
    TG_GUARD(build_scope(out, &out->scope));
    return tg_authz_details_json(out->details, out->n_details, &out->authorization_details);
}

enum tg_err
tg_authz_decide(const struct tg_authz_context *ctx, const struct tg_authz_request *req,
                struct tg_authz_result *out, const char **why)
{
    struct acc acc;
    const struct tg_tool *t;
    enum tg_err rv = TG_OK;
    size_t i;

    memset(out, 0, sizeof(*out));
    memset(&acc, 0, sizeof(acc));
    if (why != NULL)
        *why = NULL;
    TG_ENSURE(ctx != NULL && ctx->agent != NULL && ctx->agent->id != NULL && req != NULL,
              TG_ERR_INVALID_ARG, "no agent or request");
    if (ctx->agent->status != TG_AGENT_ACTIVE) {
        rv = refuse(why, TG_ERR_OAUTH_INVALID_CLIENT, D_DISABLED);
        goto out;
    }
    /* Enforced by the token endpoint too; a decision never hands a bearer
     * token to an agent registered for proof of possession. */
    if (ctx->agent->pop != TG_POP_BEARER && !ctx->sender_constrained) {
        rv = refuse(why, TG_ERR_OAUTH_INVALID_REQUEST, D_POP_REQUIRED);
        goto out;
    }
    /* Resources first: unknown is invalid_target, known but ungranted is
     * invalid_scope. */
    for (i = 0; i < req->n_resources; i++) {
        t = find_tool_by_resource(ctx, req->resources[i]);
        if (t == NULL) {
            rv = refuse(why, TG_ERR_OAUTH_INVALID_TARGET, D_TARGET_UNKNOWN);
            goto out;
        }
        if (find_grant(ctx, t->id) == NULL) {
            rv = refuse(why, TG_ERR_OAUTH_INVALID_SCOPE, D_RESOURCE_NOT_GRANTED);
            goto out;
        }
    }
    if (req->n_details > 0)
        TG_TRY(decide_explicit(ctx, req, &acc, why));
    else
        TG_TRY(decide_all(ctx, req, &acc));
    /* Every requested resource must be covered by what is granted. */
    for (i = 0; i < req->n_resources; i++) {
        t = find_tool_by_resource(ctx, req->resources[i]);
        if (acc_has_tool(&acc, t->id))
            continue;
        if (req->n_details > 0)
            rv = refuse(why, TG_ERR_OAUTH_INVALID_TARGET, D_TARGET_MISMATCH);
        else
            rv = refuse(why, TG_ERR_OAUTH_INVALID_SCOPE,
                        acc.skipped_for_pop ? D_HIGH_RISK_POP : D_RESOURCE_NOT_GRANTED);
        goto out;
    }
    if (acc.n == 0) {
        rv = refuse(why, TG_ERR_OAUTH_INVALID_SCOPE,
                    acc.skipped_for_pop ? D_HIGH_RISK_POP : D_NOTHING_GRANTED);
        goto out;
    }
    TG_TRY(finish(&acc, out));
out:
    acc_reset(&acc);
    if (rv != TG_OK)
        tg_authz_result_reset(out);
    return rv;
}

/* ---- JSON (RFC 9396 §2, as carried in tokens per §9) ------------------ */

static json_t *
str_array(char *const *v, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < n; i++) {
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

enum tg_err
tg_authz_details_json(const struct tg_authz_detail *d, size_t n, json_t **out)
{
    json_t *arr = json_array(), *o = NULL, *acts = NULL;
    enum tg_action a;
    enum tg_err rv = TG_OK;
    size_t i;
    int ok;

    *out = NULL;
    TG_CHECK(arr != NULL, TG_ERR_NOMEM, "array");
    for (i = 0; i < n; i++) {
        o = json_object();
        acts = json_array();
        TG_CHECK(o != NULL && acts != NULL, TG_ERR_NOMEM, "detail");
        for (a = TG_ACTION_READ; a <= TG_ACTION_ADMIN; a++)
            if (d[i].actions & TG_ACTION_BIT(a))
                TG_CHECK(json_array_append_new(acts, json_string(tg_action_name(a))) == 0,
                         TG_ERR_NOMEM, "action");
        TG_CHECK(json_object_set_new(o, "type", json_string("tool")) == 0 &&
                     json_object_set_new(o, "tool", json_string(d[i].tool)) == 0 &&
                     json_object_set(o, "actions", acts) == 0,
                 TG_ERR_NOMEM, "members");
        if (d[i].n_endpoints > 0)
            TG_CHECK(json_object_set_new(o, "endpoints",
                                         str_array(d[i].endpoints, d[i].n_endpoints)) == 0,
                     TG_ERR_NOMEM, "endpoints");
        if (d[i].n_locations > 0)
            TG_CHECK(json_object_set_new(o, "locations",
                                         str_array(d[i].locations, d[i].n_locations)) == 0,
                     TG_ERR_NOMEM, "locations");
        json_decref(acts);
        acts = NULL;
        /* _new steals the reference even when it fails. */
        ok = json_array_append_new(arr, o) == 0;
        o = NULL;
        TG_CHECK(ok, TG_ERR_NOMEM, "append");
    }
    *out = arr;
    arr = NULL;
out:
    json_decref(o);
    json_decref(acts);
    json_decref(arr);
    return rv;
}
