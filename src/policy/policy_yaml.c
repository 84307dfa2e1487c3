/* The policy file. Two passes: libyaml's events build a small tree (capped
 * in size and depth, with anchors, aliases and tags refused, so nothing can
 * expand), then schema functions walk it, one per record type, reading like
 * the schema in docs/policy.md. */
#include "policy/policy_yaml.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

enum nkind { N_SCALAR = 1, N_SEQ, N_MAP };

struct node {
    enum nkind kind;
    size_t line, col; /* 1-based */
    int plain;        /* scalar written without quotes */
    char *str;        /* scalar value, NUL-terminated, no NUL inside */
    size_t len;
    struct node **kids; /* sequence items; mapping key, value, key, value... */
    size_t n, alloc;
};

/* ---- Pass 1: events to a tree ---------------------------------------- */

struct loader {
    yaml_parser_t parser;
    struct node *stack[TG_POLICY_YAML_MAX_DEPTH];
    size_t depth, nodes;
    struct node *root;
    int documents;
    struct tg_policy_error *err;
};

static void
node_free(struct node *n)
{
    size_t i;

    if (n == NULL)
        return;
    for (i = 0; i < n->n; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n);
}

static enum tg_err
fail_at(struct tg_policy_error *err, const struct node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum tg_err
fail_at(struct tg_policy_error *err, const struct node *n, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return tg_policy_fail(err, n != NULL ? n->line : 0, n != NULL ? n->col : 0, "%s", msg);
}

static enum tg_err
fail_mark(struct tg_policy_error *err, yaml_mark_t m, const char *msg)
{
    return tg_policy_fail(err, m.line + 1, m.column + 1, "%s", msg);
}

static enum tg_err
add_child(struct loader *l, struct node *parent, struct node *child)
{
    struct node **nk;
    size_t na;

    if (parent == NULL) {
        l->root = child;
        return TG_OK;
    }
    /* Keys are names: a sequence or mapping as a key means nothing here. */
    if (parent->kind == N_MAP && parent->n % 2 == 0 && child->kind != N_SCALAR)
        return fail_at(l->err, child, "a mapping key must be a plain name");
    if (parent->n == parent->alloc) {
        na = parent->alloc ? parent->alloc * 2 : 8;
        nk = realloc(parent->kids, na * sizeof(*nk));
        TG_ENSURE(nk != NULL, TG_ERR_NOMEM, "tree");
        parent->kids = nk;
        parent->alloc = na;
    }
    parent->kids[parent->n++] = child;
    return TG_OK;
}

/* Make a node for the event and hang it under the current parent. */
static enum tg_err
new_node(struct loader *l, const yaml_event_t *ev, enum nkind kind, const yaml_char_t *anchor,
         const yaml_char_t *tag, struct node **out)
{
    struct node *n, *parent = l->depth > 0 ? l->stack[l->depth - 1] : NULL;
    enum tg_err rv;

    *out = NULL;
    if (anchor != NULL)
        return fail_mark(l->err, ev->start_mark, "anchors (&name) are not allowed");
    if (tag != NULL)
        return fail_mark(l->err, ev->start_mark, "tags (!tag) are not allowed");
    if (++l->nodes > TG_POLICY_YAML_MAX_NODES)
        return fail_mark(l->err, ev->start_mark, "the document has too many nodes");
    n = calloc(1, sizeof(*n));
    TG_ENSURE(n != NULL, TG_ERR_NOMEM, "node");
    n->kind = kind;
    n->line = ev->start_mark.line + 1;
    n->col = ev->start_mark.column + 1;
    rv = add_child(l, parent, n);
    if (rv != TG_OK) {
        node_free(n);
        return rv;
    }
    *out = n;
    return TG_OK;
}

static enum tg_err
on_scalar(struct loader *l, const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    struct node *n;

    if (len > TG_POLICY_YAML_MAX_SCALAR)
        return fail_mark(l->err, ev->start_mark, "a value is longer than the limit");
    /* "\0" is valid YAML; every field here becomes a C string. */
    if (len > 0 && memchr(v, '\0', len) != NULL)
        return fail_mark(l->err, ev->start_mark, "a value holds a NUL character");
    TG_GUARD(new_node(l, ev, N_SCALAR, ev->data.scalar.anchor, ev->data.scalar.tag, &n));
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    n->str = malloc(len + 1);
    TG_ENSURE(n->str != NULL, TG_ERR_NOMEM, "scalar");
    if (len > 0)
        memcpy(n->str, v, len);
    n->str[len] = '\0';
    n->len = len;
    return TG_OK;
}

static enum tg_err
on_start(struct loader *l, const yaml_event_t *ev, enum nkind kind)
{
    struct node *n;

    if (l->depth == TG_POLICY_YAML_MAX_DEPTH)
        return fail_mark(l->err, ev->start_mark, "the document nests too deep");
    if (kind == N_SEQ)
        TG_GUARD(new_node(l, ev, kind, ev->data.sequence_start.anchor,
                          ev->data.sequence_start.tag, &n));
    else
        TG_GUARD(new_node(l, ev, kind, ev->data.mapping_start.anchor,
                          ev->data.mapping_start.tag, &n));
    l->stack[l->depth++] = n;
    return TG_OK;
}

/* One event; *done at the end of the stream. */
static enum tg_err
on_event(struct loader *l, const yaml_event_t *ev, int *done)
{
    switch (ev->type) {
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return TG_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (l->documents++ > 0)
            return fail_mark(l->err, ev->start_mark, "only one document is allowed");
        return TG_OK;
    case YAML_ALIAS_EVENT:
        return fail_mark(l->err, ev->start_mark, "aliases (*name) are not allowed");
    case YAML_SCALAR_EVENT:
        return on_scalar(l, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(l, ev, N_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_start(l, ev, N_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        TG_ENSURE(l->depth > 0, TG_ERR_INTERNAL, "unbalanced YAML events");
        l->depth--;
        return TG_OK;
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return TG_OK;
    case YAML_NO_EVENT:
    default:
        return fail_mark(l->err, ev->start_mark, "unexpected YAML event");
    }
}

static enum tg_err
load(const char *buf, size_t len, struct tg_policy_error *err, struct node **root)
{
    struct loader l;
    yaml_event_t ev;
    enum tg_err rv = TG_OK;
    int done = 0;
    char msg[200];

    memset(&l, 0, sizeof(l));
    l.err = err;
    *root = NULL;
    TG_ENSURE(yaml_parser_initialize(&l.parser), TG_ERR_NOMEM, "yaml_parser_initialize");
    yaml_parser_set_input_string(&l.parser, (const unsigned char *)buf, len);
    while (!done) {
        if (!yaml_parser_parse(&l.parser, &ev)) {
            if (l.parser.error == YAML_MEMORY_ERROR)
                TG_FAIL(TG_ERR_NOMEM, "libyaml out of memory");
            snprintf(msg, sizeof(msg), "YAML syntax: %s%s%s",
                     l.parser.problem ? l.parser.problem : "error",
                     l.parser.context ? " " : "", l.parser.context ? l.parser.context : "");
            rv = fail_mark(err, l.parser.problem_mark, msg);
            goto out;
        }
        rv = on_event(&l, &ev, &done);
        yaml_event_delete(&ev);
        if (rv != TG_OK)
            goto out;
    }
    *root = l.root;
    l.root = NULL;
out:
    node_free(l.root);
    yaml_parser_delete(&l.parser);
    return rv;
}

/* ---- Pass 2: the schema ---------------------------------------------- */

/* What YAML 1.1/1.2 reads as null when written plain. */
static int
is_null(const struct node *n)
{
    return n->kind == N_SCALAR && n->plain &&
           (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
            strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

static enum tg_err
get_str(struct tg_policy_error *err, const struct node *n, const char *what, char **out)
{
    if (n->kind != N_SCALAR)
        return fail_at(err, n, "%s: expected a string", what);
    if (is_null(n))
        return fail_at(err, n, "%s: empty", what);
    free(*out);
    *out = strdup(n->str);
    TG_ENSURE(*out != NULL, TG_ERR_NOMEM, "strdup");
    return TG_OK;
}

static enum tg_err
get_int(struct tg_policy_error *err, const struct node *n, const char *what, int64_t max,
        int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (n->kind != N_SCALAR || !n->plain || n->len == 0 || n->len > 12)
        return fail_at(err, n, "%s: expected a whole number from 0 to %lld", what,
                       (long long)max);
    for (i = 0; i < n->len; i++) {
        if (n->str[i] < '0' || n->str[i] > '9')
            return fail_at(err, n, "%s: expected a whole number from 0 to %lld", what,
                           (long long)max);
        v = v * 10 + (n->str[i] - '0');
    }
    if (v > max)
        return fail_at(err, n, "%s: expected a whole number from 0 to %lld", what,
                       (long long)max);
    *out = v;
    return TG_OK;
}

/* Plain true or false only: YAML 1.1's yes/no/on/off and quoted strings
 * are refused rather than guessed at (a permission must be written plainly). */
static enum tg_err
get_bool(struct tg_policy_error *err, const struct node *n, const char *what, int *out)
{
    if (n->kind == N_SCALAR && n->plain && strcmp(n->str, "true") == 0)
        *out = 1;
    else if (n->kind == N_SCALAR && n->plain && strcmp(n->str, "false") == 0)
        *out = 0;
    else
        return fail_at(err, n, "%s: expected true or false", what);
    return TG_OK;
}

/* A list, or nothing at all (an empty "agents:" is no agents). */
static enum tg_err
get_seq(struct tg_policy_error *err, const struct node *n, const char *what, size_t max,
        size_t *count)
{
    if (is_null(n)) {
        *count = 0;
        return TG_OK;
    }
    if (n->kind != N_SEQ)
        return fail_at(err, n, "%s: expected a list", what);
    if (n->n > max)
        return fail_at(err, n, "%s: more than %zu entries", what, max);
    *count = n->n;
    return TG_OK;
}

/* Keys that look like a secret get their own message: a policy file is
 * meant to be reviewed and committed, so it never carries one. */
static int
is_secret_key(const char *k)
{
    static const char *const names[] = {"client_secret", "secret", "password", "api_key",
                                        "token",         "private_key"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(k, names[i]) == 0)
            return 1;
    return 0;
}

/* Walk a mapping with a fixed key set: unknown and repeated keys are
 * refused; `which` gets the key's index in `keys`. */
struct map_iter {
    const struct node *map;
    const char *const *keys;
    size_t n_keys;
    const char *what;
    size_t i;
    uint64_t seen;
};

static enum tg_err
map_begin(struct tg_policy_error *err, const struct node *n, const char *what,
          const char *const *keys, size_t n_keys, struct map_iter *it)
{
    if (n->kind != N_MAP)
        return fail_at(err, n, "%s: expected a mapping", what);
    memset(it, 0, sizeof(*it));
    it->map = n;
    it->keys = keys;
    it->n_keys = n_keys;
    it->what = what;
    return TG_OK;
}

/* *which = -1 at the end. */
static enum tg_err
map_next(struct tg_policy_error *err, struct map_iter *it, int *which, const struct node **val)
{
    const struct node *k;
    size_t j;

    *which = -1;
    if (it->i + 1 >= it->map->n)
        return TG_OK;
    k = it->map->kids[it->i];
    *val = it->map->kids[it->i + 1];
    it->i += 2;
    for (j = 0; j < it->n_keys; j++) {
        if (strcmp(k->str, it->keys[j]) == 0) {
            if (it->seen & (1ull << j))
                return fail_at(err, k, "%s: key \"%s\" appears twice", it->what, k->str);
            it->seen |= 1ull << j;
            *which = (int)j;
            return TG_OK;
        }
    }
    if (is_secret_key(k->str))
        return fail_at(err, k,
                       "%s: \"%.40s\" refused: secrets never go in a policy file (set a client "
                       "secret with the CLI; it is stored only as a MAC)",
                       it->what, k->str);
    return fail_at(err, k, "%s: unknown key \"%.64s\"", it->what, k->str);
}

static int
map_has(const struct map_iter *it, int which)
{
    return (it->seen & (1ull << which)) != 0;
}

/* A plain YAML value to a JSON value, for inline JWKS. */
static enum tg_err
to_json(struct tg_policy_error *err, const struct node *n, json_t **out)
{
    json_t *v = NULL, *c = NULL;
    enum tg_err rv = TG_OK;
    size_t i;

    *out = NULL;
    switch (n->kind) {
    case N_SCALAR:
        if (is_null(n))
            v = json_null();
        else if (n->plain && strcmp(n->str, "true") == 0)
            v = json_true();
        else if (n->plain && strcmp(n->str, "false") == 0)
            v = json_false();
        else
            v = json_string(n->str);
        /* libyaml has checked the UTF-8, so only memory can fail here. */
        TG_CHECK(v != NULL, TG_ERR_NOMEM, "JSON string");
        break;
    case N_SEQ:
        v = json_array();
        TG_CHECK(v != NULL, TG_ERR_NOMEM, "json_array");
        for (i = 0; i < n->n; i++) {
            TG_TRY(to_json(err, n->kids[i], &c));
            TG_CHECK(json_array_append_new(v, c) == 0, TG_ERR_NOMEM, "append");
        }
        break;
    case N_MAP:
        v = json_object();
        TG_CHECK(v != NULL, TG_ERR_NOMEM, "json_object");
        for (i = 0; i + 1 < n->n; i += 2) {
            if (json_object_get(v, n->kids[i]->str) != NULL) {
                rv = fail_at(err, n->kids[i], "jwks: key \"%.64s\" appears twice",
                             n->kids[i]->str);
                goto out;
            }
            TG_TRY(to_json(err, n->kids[i + 1], &c));
            TG_CHECK(json_object_set_new(v, n->kids[i]->str, c) == 0, TG_ERR_NOMEM, "set");
        }
        break;
    default:
        TG_FAIL(TG_ERR_INTERNAL, "node kind");
    }
    *out = v;
    v = NULL;
out:
    json_decref(v);
    return rv;
}

static enum tg_err
get_jwks(struct tg_policy_error *err, const struct node *n, char **out)
{
    json_t *j = NULL;
    enum tg_err rv = TG_OK;

    /* JSON text in a string, or the JWKS written as YAML. */
    if (n->kind == N_SCALAR)
        return get_str(err, n, "jwks", out);
    if (n->kind != N_MAP)
        return fail_at(err, n, "jwks: expected a JWKS mapping ({keys: [...]}) or JSON text");
    TG_TRY(to_json(err, n, &j));
    free(*out);
    *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    TG_CHECK(*out != NULL, TG_ERR_NOMEM, "json_dumps");
out:
    json_decref(j);
    return rv;
}

/* An enum value by name, with the names in the message. */
#define GET_ENUM(err, n, what, parse, names, out)                                          \
    do {                                                                                   \
        if ((n)->kind != N_SCALAR || parse((n)->str, (out)) != TG_OK)                      \
            return fail_at((err), (n), "%s: expected one of %s", (what), (names));         \
    } while (0)

static const char *const tls_keys[] = {"subject_dn", "san_dns", "san_uri"};

static enum tg_err
parse_tls(struct tg_policy_error *err, const struct node *n, struct tg_agent *a)
{
    struct map_iter it;
    const struct node *v = NULL;
    int k;

    TG_GUARD(map_begin(err, n, "tls", tls_keys, 3, &it));
    for (;;) {
        TG_GUARD(map_next(err, &it, &k, &v));
        switch (k) {
        case -1:
            return TG_OK;
        case 0:
            TG_GUARD(get_str(err, v, "tls.subject_dn", &a->tls_subject_dn));
            break;
        case 1:
            TG_GUARD(get_str(err, v, "tls.san_dns", &a->tls_san_dns));
            break;
        case 2:
            TG_GUARD(get_str(err, v, "tls.san_uri", &a->tls_san_uri));
            break;
        default:
            return TG_ERR_INTERNAL;
        }
    }
}

enum agent_key { A_ID, A_TYPE, A_OWNER, A_TENANT, A_AUTH, A_POP, A_LIFETIME, A_STATUS, A_TLS,
                 A_X5T, A_SPIFFE, A_JWKS, A_INTROSPECT, A__COUNT };
static const char *const agent_keys[A__COUNT] = {
    "id",     "type", "owner",    "tenant",    "auth", "sender_constraint", "max_token_lifetime",
    "status", "tls",  "cert_x5t", "spiffe_id", "jwks", "introspect"};

static enum tg_err
agent_field(struct tg_policy_error *err, int k, const struct node *v, struct tg_agent *a)
{
    switch (k) {
    case A_ID:
        return get_str(err, v, "agent id", &a->id);
    case A_TYPE:
        GET_ENUM(err, v, "type", tg_agent_type_parse, "internal, tenant, browsing", &a->type);
        return TG_OK;
    case A_OWNER:
        return get_str(err, v, "owner", &a->owner);
    case A_TENANT:
        return get_str(err, v, "tenant", &a->tenant);
    case A_AUTH:
        GET_ENUM(err, v, "auth", tg_auth_method_parse,
                 "client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth, "
                 "self_signed_tls_client_auth, spiffe_x509, spiffe_jwt",
                 &a->auth_method);
        return TG_OK;
    case A_POP:
        GET_ENUM(err, v, "sender_constraint", tg_pop_parse, "dpop, mtls, any-pop, bearer",
                 &a->pop);
        return TG_OK;
    case A_LIFETIME:
        return get_int(err, v, "max_token_lifetime", TG_POLICY_MAX_LIFETIME,
                       &a->max_token_lifetime);
    case A_STATUS:
        GET_ENUM(err, v, "status", tg_agent_status_parse, "active, disabled", &a->status);
        return TG_OK;
    case A_TLS:
        return parse_tls(err, v, a);
    case A_X5T:
        return get_str(err, v, "cert_x5t", &a->cert_x5t);
    case A_SPIFFE:
        return get_str(err, v, "spiffe_id", &a->spiffe_id);
    case A_JWKS:
        return get_jwks(err, v, &a->jwks);
    case A_INTROSPECT:
        return get_bool(err, v, "introspect", &a->introspect);
    default:
        return TG_ERR_INTERNAL;
    }
}

static enum tg_err
parse_agent(struct tg_policy_error *err, const struct node *n, struct tg_agent *a,
            unsigned char *status_given)
{
    static const int required[] = {A_ID, A_TYPE, A_OWNER, A_AUTH};
    struct map_iter it;
    const struct node *v = NULL;
    char why[200];
    size_t i;
    int k;

    TG_GUARD(map_begin(err, n, "agent", agent_keys, A__COUNT, &it));
    a->status = TG_AGENT_ACTIVE;
    a->pop = TG_POP_DPOP;
    for (;;) {
        TG_GUARD(map_next(err, &it, &k, &v));
        if (k < 0)
            break;
        TG_GUARD(agent_field(err, k, v, a));
    }
    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!map_has(&it, required[i]))
            return fail_at(err, n, "agent: \"%s\" is required", agent_keys[required[i]]);
    *status_given = map_has(&it, A_STATUS) ? 1 : 0;
    if (tg_agent_validate_msg(a, why, sizeof(why)) != TG_OK)
        return fail_at(err, n, "agent \"%.128s\": %s", a->id, why);
    return TG_OK;
}

static const char *const endpoint_keys[] = {"method", "path", "action", "risk", "mcp_tool"};

static enum tg_err
parse_endpoint(struct tg_policy_error *err, const struct node *n, struct tg_endpoint *e)
{
    struct map_iter it;
    const struct node *v = NULL;
    int k;

    TG_GUARD(map_begin(err, n, "endpoint", endpoint_keys, 5, &it));
    e->risk = TG_RISK_NORMAL;
    for (;;) {
        TG_GUARD(map_next(err, &it, &k, &v));
        switch (k) {
        case -1:
            /* An MCP tool entry: {mcp_tool: NAME, action, risk}, stored as
             * method "MCP" and path NAME (docs/policy.md). */
            if (map_has(&it, 4)) {
                if (map_has(&it, 0) || map_has(&it, 1))
                    return fail_at(err, n, "endpoint: mcp_tool excludes method and path");
                if (!map_has(&it, 2))
                    return fail_at(err, n, "endpoint: mcp_tool and action are required");
                e->method = strdup(TG_ENDPOINT_METHOD_MCP);
                TG_ENSURE(e->method != NULL, TG_ERR_NOMEM, "strdup");
                return TG_OK;
            }
            if (!map_has(&it, 0) || !map_has(&it, 1) || !map_has(&it, 2))
                return fail_at(err, n, "endpoint: method, path and action are required");
            return TG_OK;
        case 4:
            TG_GUARD(get_str(err, v, "endpoint mcp_tool", &e->path));
            break;
        case 0:
            TG_GUARD(get_str(err, v, "endpoint method", &e->method));
            break;
        case 1:
            TG_GUARD(get_str(err, v, "endpoint path", &e->path));
            break;
        case 2:
            GET_ENUM(err, v, "endpoint action", tg_action_parse, "read, write, admin",
                     &e->action);
            break;
        case 3:
            GET_ENUM(err, v, "endpoint risk", tg_risk_parse, "normal, high", &e->risk);
            break;
        default:
            return TG_ERR_INTERNAL;
        }
    }
}

static enum tg_err
parse_endpoints(struct tg_policy_error *err, const struct node *n, struct tg_tool *t)
{
    size_t count, i;

    TG_GUARD(get_seq(err, n, "endpoints", TG_POLICY_MAX_ENDPOINTS, &count));
    if (count == 0)
        return TG_OK;
    t->endpoints = calloc(count, sizeof(*t->endpoints));
    TG_ENSURE(t->endpoints != NULL, TG_ERR_NOMEM, "endpoints");
    t->n_endpoints = count;
    for (i = 0; i < count; i++)
        TG_GUARD(parse_endpoint(err, n->kids[i], &t->endpoints[i]));
    return TG_OK;
}

static const char *const tool_keys[] = {"id", "resource", "upstream", "kind", "endpoints"};

static enum tg_err
parse_tool(struct tg_policy_error *err, const struct node *n, struct tg_tool *t)
{
    struct map_iter it;
    const struct node *v = NULL;
    char why[200];
    int k;

    TG_GUARD(map_begin(err, n, "tool", tool_keys, 5, &it));
    for (k = 0; k >= 0;) {
        TG_GUARD(map_next(err, &it, &k, &v));
        switch (k) {
        case -1:
            break;
        case 0:
            TG_GUARD(get_str(err, v, "tool id", &t->id));
            break;
        case 1:
            TG_GUARD(get_str(err, v, "resource", &t->resource));
            break;
        case 2:
            TG_GUARD(get_str(err, v, "upstream", &t->upstream));
            break;
        case 3:
            TG_GUARD(get_str(err, v, "kind", &t->kind));
            break;
        case 4:
            TG_GUARD(parse_endpoints(err, v, t));
            break;
        default:
            return TG_ERR_INTERNAL;
        }
    }
    if (!map_has(&it, 0) || !map_has(&it, 1))
        return fail_at(err, n, "tool: \"id\" and \"resource\" are required");
    if (t->kind == NULL) {
        t->kind = strdup("http");
        TG_ENSURE(t->kind != NULL, TG_ERR_NOMEM, "strdup");
    }
    if (tg_tool_validate_msg(t, why, sizeof(why)) != TG_OK)
        return fail_at(err, n, "tool \"%.128s\": %s", t->id, why);
    return TG_OK;
}

static enum tg_err
parse_actions(struct tg_policy_error *err, const struct node *n, unsigned *actions)
{
    enum tg_action a;
    size_t i;

    if (n->kind != N_SEQ || n->n == 0)
        return fail_at(err, n, "actions: expected a non-empty list of read, write, admin");
    for (i = 0; i < n->n; i++) {
        GET_ENUM(err, n->kids[i], "actions", tg_action_parse, "read, write, admin", &a);
        if (*actions & TG_ACTION_BIT(a))
            return fail_at(err, n->kids[i], "actions: \"%s\" listed twice", tg_action_name(a));
        *actions |= TG_ACTION_BIT(a);
    }
    return TG_OK;
}

static enum tg_err
parse_grant_endpoints(struct tg_policy_error *err, const struct node *n, struct tg_grant *g)
{
    size_t i;

    if (n->kind != N_SEQ || n->n == 0)
        return fail_at(err, n,
                       "endpoints: expected a non-empty list of \"METHOD /path\" (leave it out "
                       "to grant every endpoint of the actions)");
    if (n->n > TG_POLICY_MAX_ENDPOINTS)
        return fail_at(err, n, "endpoints: more than %d entries", TG_POLICY_MAX_ENDPOINTS);
    g->endpoints = calloc(n->n, sizeof(*g->endpoints));
    TG_ENSURE(g->endpoints != NULL, TG_ERR_NOMEM, "endpoints");
    g->n_endpoints = n->n;
    for (i = 0; i < n->n; i++)
        TG_GUARD(get_str(err, n->kids[i], "endpoints", &g->endpoints[i]));
    return TG_OK;
}

static const char *const grant_keys[] = {"agent", "tool", "actions", "endpoints"};

static enum tg_err
parse_grant(struct tg_policy_error *err, const struct node *n, struct tg_grant *g)
{
    struct map_iter it;
    const struct node *v = NULL;
    char why[200];
    int k;

    TG_GUARD(map_begin(err, n, "grant", grant_keys, 4, &it));
    for (k = 0; k >= 0;) {
        TG_GUARD(map_next(err, &it, &k, &v));
        switch (k) {
        case -1:
            break;
        case 0:
            TG_GUARD(get_str(err, v, "grant agent", &g->agent_id));
            break;
        case 1:
            TG_GUARD(get_str(err, v, "grant tool", &g->tool_id));
            break;
        case 2:
            TG_GUARD(parse_actions(err, v, &g->actions));
            break;
        case 3:
            TG_GUARD(parse_grant_endpoints(err, v, g));
            break;
        default:
            return TG_ERR_INTERNAL;
        }
    }
    if (!map_has(&it, 0) || !map_has(&it, 1) || !map_has(&it, 2))
        return fail_at(err, n, "grant: \"agent\", \"tool\" and \"actions\" are required");
    if (tg_grant_validate_msg(g, why, sizeof(why)) != TG_OK)
        return fail_at(err, n, "grant of \"%.128s\" to \"%.128s\": %s", g->tool_id, g->agent_id,
                       why);
    return TG_OK;
}

/* Allocate a record array and its line array for a list node. */
static enum tg_err
alloc_records(const struct node *list, size_t count, size_t size, void **records,
              size_t **lines)
{
    size_t i;

    if (count == 0)
        return TG_OK;
    *records = calloc(count, size);
    *lines = calloc(count, sizeof(**lines));
    TG_ENSURE(*records != NULL && *lines != NULL, TG_ERR_NOMEM, "records");
    for (i = 0; i < count; i++)
        (*lines)[i] = list->kids[i]->line;
    return TG_OK;
}

static enum tg_err
parse_agents(struct tg_policy_error *err, const struct node *n, struct tg_policy *p)
{
    size_t count, i;

    TG_GUARD(get_seq(err, n, "agents", TG_POLICY_MAX_AGENTS, &count));
    TG_GUARD(alloc_records(n, count, sizeof(*p->agents), (void **)&p->agents, &p->agent_lines));
    if (count > 0) {
        p->agent_status_given = calloc(count, 1);
        TG_ENSURE(p->agent_status_given != NULL, TG_ERR_NOMEM, "records");
    }
    for (i = 0; i < count; i++) {
        p->n_agents = i + 1;
        TG_GUARD(parse_agent(err, n->kids[i], &p->agents[i], &p->agent_status_given[i]));
    }
    return TG_OK;
}

static enum tg_err
parse_tools(struct tg_policy_error *err, const struct node *n, struct tg_policy *p)
{
    size_t count, i;

    TG_GUARD(get_seq(err, n, "tools", TG_POLICY_MAX_TOOLS, &count));
    TG_GUARD(alloc_records(n, count, sizeof(*p->tools), (void **)&p->tools, &p->tool_lines));
    for (i = 0; i < count; i++) {
        p->n_tools = i + 1;
        TG_GUARD(parse_tool(err, n->kids[i], &p->tools[i]));
    }
    return TG_OK;
}

static enum tg_err
parse_grants(struct tg_policy_error *err, const struct node *n, struct tg_policy *p)
{
    size_t count, i;

    TG_GUARD(get_seq(err, n, "grants", TG_POLICY_MAX_GRANTS, &count));
    TG_GUARD(alloc_records(n, count, sizeof(*p->grants), (void **)&p->grants, &p->grant_lines));
    for (i = 0; i < count; i++) {
        p->n_grants = i + 1;
        TG_GUARD(parse_grant(err, n->kids[i], &p->grants[i]));
    }
    return TG_OK;
}

static const char *const top_keys[] = {"version", "agents", "tools", "grants"};

static enum tg_err
parse_document(struct tg_policy_error *err, const struct node *root, struct tg_policy *p)
{
    struct map_iter it;
    const struct node *v = NULL;
    int64_t version = 0;
    int k;

    if (root == NULL || is_null(root))
        return tg_policy_fail(err, 1, 1, "empty policy: expected a mapping with \"version: 1\"");
    TG_GUARD(map_begin(err, root, "policy", top_keys, 4, &it));
    for (k = 0; k >= 0;) {
        TG_GUARD(map_next(err, &it, &k, &v));
        switch (k) {
        case -1:
            break;
        case 0:
            TG_GUARD(get_int(err, v, "version", INT32_MAX, &version));
            if (version != 1)
                return fail_at(err, v, "version: only version 1 is known");
            break;
        case 1:
            TG_GUARD(parse_agents(err, v, p));
            break;
        case 2:
            TG_GUARD(parse_tools(err, v, p));
            break;
        case 3:
            TG_GUARD(parse_grants(err, v, p));
            break;
        default:
            return TG_ERR_INTERNAL;
        }
    }
    if (!map_has(&it, 0))
        return fail_at(err, root, "policy: \"version: 1\" is required");
    return TG_OK;
}

enum tg_err
tg_policy_parse_yaml(const char *buf, size_t len, unsigned flags, struct tg_policy *out,
                     struct tg_policy_error *err)
{
    struct node *root = NULL;
    enum tg_err rv = TG_OK;

    memset(out, 0, sizeof(*out));
    if (err != NULL)
        memset(err, 0, sizeof(*err));
    if (len > TG_POLICY_YAML_MAX_BYTES) {
        rv = tg_policy_fail(err, 0, 0, "the policy file is larger than %d bytes",
                            TG_POLICY_YAML_MAX_BYTES);
        goto out;
    }
    if (buf == NULL && len > 0) {
        rv = tg_policy_fail(err, 0, 0, "no policy text");
        goto out;
    }
    /* libyaml asserts on a NULL input, even an empty one. */
    TG_TRY(load(buf != NULL ? buf : "", len, err, &root));
    TG_TRY(parse_document(err, root, out));
    TG_TRY(tg_policy_check_unique(out, err));
    if (flags & TG_POLICY_YAML_SELF_CONTAINED)
        TG_TRY(tg_policy_check(out, NULL, 0, NULL, 0, err));
out:
    node_free(root);
    if (rv != TG_OK)
        tg_policy_reset(out);
    return rv;
}
