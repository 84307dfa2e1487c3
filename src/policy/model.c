/* Lifecycle (reset, deep copy) of the inventory records and the names of
 * their enums. Validation lives in validate.c, syntax in syntax.c. */
#include "policy/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static void
free_str(char **s)
{
    free(*s);
    *s = NULL;
}

void
tg_agent_reset(struct tg_agent *a)
{
    if (a == NULL)
        return;
    free(a->id);
    free(a->owner);
    free(a->tenant);
    free(a->jwks);
    free(a->tls_subject_dn);
    free(a->tls_san_dns);
    free(a->tls_san_uri);
    free(a->cert_x5t);
    free(a->spiffe_id);
    /* The MAC of a secret is not the secret, but it lets anyone test guesses
     * offline against it: wipe it like one. */
    tg_wipe(a->secret_mac, sizeof(a->secret_mac));
    memset(a, 0, sizeof(*a));
}

void
tg_tool_reset(struct tg_tool *t)
{
    size_t i;

    if (t == NULL)
        return;
    free(t->id);
    free(t->resource);
    free(t->upstream);
    free(t->kind);
    for (i = 0; i < t->n_endpoints && t->endpoints != NULL; i++) {
        free_str(&t->endpoints[i].method);
        free_str(&t->endpoints[i].path);
    }
    free(t->endpoints);
    memset(t, 0, sizeof(*t));
}

void
tg_grant_reset(struct tg_grant *g)
{
    size_t i;

    if (g == NULL)
        return;
    free(g->agent_id);
    free(g->tool_id);
    for (i = 0; i < g->n_endpoints && g->endpoints != NULL; i++)
        free(g->endpoints[i]);
    free(g->endpoints);
    memset(g, 0, sizeof(*g));
}

/* Copy a string that may be NULL. */
static enum tg_err
dup_opt(const char *src, char **dst)
{
    *dst = NULL;
    if (src == NULL)
        return TG_OK;
    *dst = strdup(src);
    TG_ENSURE(*dst != NULL, TG_ERR_NOMEM, "strdup");
    return TG_OK;
}

enum tg_err
tg_agent_copy(const struct tg_agent *src, struct tg_agent *dst)
{
    enum tg_err rv = TG_OK;

    /* Scalars first, then every owned pointer replaced by its copy (or NULL),
     * so a failure half-way leaves nothing shared with src to free. */
    *dst = *src;
    dst->id = dst->owner = dst->tenant = dst->jwks = NULL;
    dst->tls_subject_dn = dst->tls_san_dns = dst->tls_san_uri = NULL;
    dst->cert_x5t = dst->spiffe_id = NULL;
    TG_TRY(dup_opt(src->id, &dst->id));
    TG_TRY(dup_opt(src->owner, &dst->owner));
    TG_TRY(dup_opt(src->tenant, &dst->tenant));
    TG_TRY(dup_opt(src->jwks, &dst->jwks));
    TG_TRY(dup_opt(src->tls_subject_dn, &dst->tls_subject_dn));
    TG_TRY(dup_opt(src->tls_san_dns, &dst->tls_san_dns));
    TG_TRY(dup_opt(src->tls_san_uri, &dst->tls_san_uri));
    TG_TRY(dup_opt(src->cert_x5t, &dst->cert_x5t));
    TG_TRY(dup_opt(src->spiffe_id, &dst->spiffe_id));
out:
    if (rv != TG_OK)
        tg_agent_reset(dst);
    return rv;
}

enum tg_err
tg_tool_copy(const struct tg_tool *src, struct tg_tool *dst)
{
    enum tg_err rv = TG_OK;
    size_t i;

    memset(dst, 0, sizeof(*dst));
    TG_TRY(dup_opt(src->id, &dst->id));
    TG_TRY(dup_opt(src->resource, &dst->resource));
    TG_TRY(dup_opt(src->upstream, &dst->upstream));
    TG_TRY(dup_opt(src->kind, &dst->kind));
    if (src->n_endpoints > 0) {
        dst->endpoints = calloc(src->n_endpoints, sizeof(*dst->endpoints));
        TG_CHECK(dst->endpoints != NULL, TG_ERR_NOMEM, "endpoints");
        dst->n_endpoints = src->n_endpoints;
        for (i = 0; i < src->n_endpoints; i++) {
            dst->endpoints[i].action = src->endpoints[i].action;
            dst->endpoints[i].risk = src->endpoints[i].risk;
            TG_TRY(dup_opt(src->endpoints[i].method, &dst->endpoints[i].method));
            TG_TRY(dup_opt(src->endpoints[i].path, &dst->endpoints[i].path));
        }
    }
out:
    if (rv != TG_OK)
        tg_tool_reset(dst);
    return rv;
}

enum tg_err
tg_grant_copy(const struct tg_grant *src, struct tg_grant *dst)
{
    enum tg_err rv = TG_OK;
    size_t i;

    memset(dst, 0, sizeof(*dst));
    dst->actions = src->actions;
    TG_TRY(dup_opt(src->agent_id, &dst->agent_id));
    TG_TRY(dup_opt(src->tool_id, &dst->tool_id));
    if (src->n_endpoints > 0) {
        dst->endpoints = calloc(src->n_endpoints, sizeof(*dst->endpoints));
        TG_CHECK(dst->endpoints != NULL, TG_ERR_NOMEM, "endpoints");
        dst->n_endpoints = src->n_endpoints;
        for (i = 0; i < src->n_endpoints; i++)
            TG_TRY(dup_opt(src->endpoints[i], &dst->endpoints[i]));
    }
out:
    if (rv != TG_OK)
        tg_grant_reset(dst);
    return rv;
}

/* Enum <-> name tables. Index 0 is unused: every enum starts at 1 so a
 * zeroed struct never holds a valid value by accident. */
static const char *const agent_type_names[] = {NULL, "internal", "tenant", "browsing"};
static const char *const agent_status_names[] = {NULL, "active", "disabled"};
static const char *const auth_method_names[] = {NULL,
                                                "client_secret_basic",
                                                "client_secret_post",
                                                "private_key_jwt",
                                                "tls_client_auth",
                                                "self_signed_tls_client_auth",
                                                "spiffe_x509",
                                                "spiffe_jwt"};
static const char *const pop_names[] = {NULL, "dpop", "mtls", "any-pop", "bearer"};
static const char *const action_names[] = {NULL, "read", "write", "admin"};
static const char *const risk_names[] = {NULL, "normal", "high"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *
name_of(const char *const *names, size_t n, int v)
{
    if (v <= 0 || (size_t)v >= n)
        return "unknown";
    return names[v];
}

static enum tg_err
parse_name(const char *const *names, size_t n, const char *s, int *out)
{
    size_t i;

    TG_ENSURE(s != NULL, TG_ERR_INVALID_ARG, "no name");
    for (i = 1; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return TG_OK;
        }
    }
    tg_err_raise(TG_ERR_INVALID_ARG, "unknown name \"%.64s\"", s);
    return TG_ERR_INVALID_ARG;
}

#define NAME_FUNCS(prefix, type, table)                                            \
    const char *prefix##_name(type v)                                              \
    {                                                                              \
        return name_of(table, COUNT(table), (int)v);                               \
    }                                                                              \
    enum tg_err prefix##_parse(const char *s, type *out)                           \
    {                                                                              \
        int v = 0;                                                                 \
                                                                                   \
        TG_GUARD(parse_name(table, COUNT(table), s, &v));                          \
        *out = (type)v;                                                            \
        return TG_OK;                                                              \
    }

NAME_FUNCS(tg_agent_type, enum tg_agent_type, agent_type_names)
NAME_FUNCS(tg_agent_status, enum tg_agent_status, agent_status_names)
NAME_FUNCS(tg_auth_method, enum tg_auth_method, auth_method_names)
NAME_FUNCS(tg_pop, enum tg_pop, pop_names)
NAME_FUNCS(tg_action, enum tg_action, action_names)
NAME_FUNCS(tg_risk, enum tg_risk, risk_names)

int
tg_tool_is_mcp(const struct tg_tool *t)
{
    return t != NULL && t->kind != NULL &&
           (strcmp(t->kind, TG_TOOL_KIND_MCP) == 0 || strcmp(t->kind, TG_TOOL_KIND_MCP_DIGEST) == 0);
}

int
tg_tool_requires_content_digest(const struct tg_tool *t)
{
    return t != NULL && t->kind != NULL && strcmp(t->kind, TG_TOOL_KIND_MCP_DIGEST) == 0;
}
