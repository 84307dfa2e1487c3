/* tollgate agent add|list|show|disable|enable|rotate-secret|remove: the
 * agent inventory from the command line, and the helpers the other
 * administrative subcommands share (errors, options, JSON of an agent,
 * client secrets).
 *
 * A client secret is printed once, when it is made, and is never stored:
 * the store keeps its HMAC under a key sealed by the master key. Every
 * change is one store transaction and one audit event; the event is written
 * before the commit, so no change lands without its record. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/ctx.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "jose/jwk.h"
#include "oauth/as.h"

/* ---- Shared helpers -------------------------------------------------- */

static void vline(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void
vline(const char *fmt, va_list ap)
{
    char msg[1024];
    size_t i;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* One line, whatever a library message held. */
    for (i = 0; msg[i] != '\0'; i++)
        if ((unsigned char)msg[i] < 0x20)
            msg[i] = ' ';
    fprintf(stderr, "tollgate: %s\n", msg);
}

int
tg_cli_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline(fmt, ap);
    va_end(ap);
    return TG_CLI_EXIT_FAIL;
}

int
tg_cli_usage_error(const char *help, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "tollgate: %s (see 'tollgate %s --help')\n", msg, help);
    return TG_CLI_EXIT_USAGE;
}

/* The message part of the thread's error detail ("NAME at file:line: msg"),
 * or NULL when the detail is not about `rv`. */
static const char *
detail_message(enum tg_err rv)
{
    const char *d = tg_err_detail(), *name = tg_err_name(rv), *at, *colon;
    size_t n = strlen(name);

    if (d == NULL || strncmp(d, name, n) != 0 || strncmp(d + n, " at ", 4) != 0)
        return NULL;
    at = d + n + 4;
    colon = strstr(at, ": ");
    if (colon == NULL || colon[2] == '\0')
        return NULL;
    return colon + 2;
}

int
tg_cli_fail(enum tg_err rv, const char *fmt, ...)
{
    char what[512];
    const char *why = detail_message(rv);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return tg_cli_error("%s: %s", what, why != NULL ? why : tg_err_description(rv));
}

int
tg_cli_take_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

int64_t
tg_cli_now(void)
{
    return tg_clock_now(&tg_clock_system);
}

void
tg_cli_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "-");
}

int
tg_cli_uses_secret(enum tg_auth_method m)
{
    return m == TG_AUTH_CLIENT_SECRET_BASIC || m == TG_AUTH_CLIENT_SECRET_POST;
}

enum tg_err
tg_cli_new_secret(const struct tg_cli_ctx *ctx, char secret[TG_SECRET_LEN + 1],
                  uint8_t mac[TG_SECRET_MAC_LEN])
{
    enum tg_err rv;

    rv = tg_secret_generate(secret);
    if (rv == TG_OK)
        rv = tg_as_secret_mac(ctx->secret_key, secret, mac);
    if (rv != TG_OK) {
        tg_wipe(secret, TG_SECRET_LEN + 1);
        tg_wipe(mac, TG_SECRET_MAC_LEN);
    }
    return rv;
}

void
tg_cli_actions_str(unsigned actions, char *out, size_t cap)
{
    enum tg_action a;
    size_t n = 0;

    out[0] = '\0';
    for (a = TG_ACTION_READ; a <= TG_ACTION_ADMIN; a++) {
        if (!(actions & TG_ACTION_BIT(a)))
            continue;
        snprintf(out + n, cap - n, "%s%s", n > 0 ? ", " : "", tg_action_name(a));
        n = strlen(out);
    }
}

/* json_object_set_new that remembers a failure instead of returning it. */
static void
set(json_t *o, const char *k, json_t *v, int *ok)
{
    if (v == NULL || json_object_set_new(o, k, v) != 0)
        *ok = 0;
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *
tg_cli_grant_json(const struct tg_grant *g)
{
    json_t *o = json_object(), *acts = json_array(), *eps = json_array();
    enum tg_action a;
    size_t i;
    int ok = o != NULL && acts != NULL && eps != NULL;

    for (a = TG_ACTION_READ; ok && a <= TG_ACTION_ADMIN; a++)
        if (g->actions & TG_ACTION_BIT(a))
            ok = json_array_append_new(acts, json_string(tg_action_name(a))) == 0;
    for (i = 0; ok && i < g->n_endpoints; i++)
        ok = json_array_append_new(eps, json_string(g->endpoints[i])) == 0;
    if (ok) {
        set(o, "agent", json_string(g->agent_id), &ok);
        set(o, "tool", json_string(g->tool_id), &ok);
        set(o, "actions", acts, &ok);
        acts = NULL;
        set(o, "endpoints", eps, &ok);
        eps = NULL;
    }
    json_decref(acts);
    json_decref(eps);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The agent's JWKS as JSON (it is public keys only), or its text when it
 * does not parse. */
static json_t *
jwks_json(const char *text)
{
    json_t *j;

    if (text == NULL)
        return json_null();
    j = json_loads(text, 0, NULL);
    return j != NULL ? j : json_string(text);
}

static void
agent_full_json(json_t *o, const struct tg_agent *a, int *ok)
{
    json_t *tls;

    set(o, "max_token_lifetime", json_integer(a->max_token_lifetime), ok);
    set(o, "jwks", jwks_json(a->jwks), ok);
    if (a->tls_subject_dn != NULL || a->tls_san_dns != NULL || a->tls_san_uri != NULL) {
        tls = json_object();
        if (tls == NULL) {
            *ok = 0;
            return;
        }
        if (a->tls_subject_dn != NULL)
            set(tls, "subject_dn", json_string(a->tls_subject_dn), ok);
        if (a->tls_san_dns != NULL)
            set(tls, "san_dns", json_string(a->tls_san_dns), ok);
        if (a->tls_san_uri != NULL)
            set(tls, "san_uri", json_string(a->tls_san_uri), ok);
        set(o, "tls", tls, ok);
    } else {
        set(o, "tls", json_null(), ok);
    }
    set(o, "cert_x5t", str_or_null(a->cert_x5t), ok);
    set(o, "spiffe_id", str_or_null(a->spiffe_id), ok);
    set(o, "tokens_not_before", json_integer(a->tokens_not_before), ok);
    set(o, "created_at", json_integer(a->created_at), ok);
    set(o, "updated_at", json_integer(a->updated_at), ok);
}

json_t *
tg_cli_agent_json(const struct tg_agent *a, int full, const struct tg_grant *grants,
                  size_t n_grants)
{
    json_t *o = json_object(), *arr;
    size_t i;
    int ok = o != NULL;

    if (!ok)
        return NULL;
    set(o, "id", json_string(a->id), &ok);
    set(o, "type", json_string(tg_agent_type_name(a->type)), &ok);
    set(o, "tenant", str_or_null(a->tenant), &ok);
    set(o, "owner", json_string(a->owner), &ok);
    set(o, "status", json_string(tg_agent_status_name(a->status)), &ok);
    set(o, "auth", json_string(tg_auth_method_name(a->auth_method)), &ok);
    set(o, "sender_constraint", json_string(tg_pop_name(a->pop)), &ok);
    set(o, "has_secret", json_boolean(a->has_secret), &ok);
    set(o, "introspect", json_boolean(a->introspect), &ok);
    if (full)
        agent_full_json(o, a, &ok);
    if (full) {
        arr = json_array();
        for (i = 0; arr != NULL && i < n_grants; i++)
            if (json_array_append_new(arr, tg_cli_grant_json(&grants[i])) != 0)
                ok = 0;
        set(o, "grants", arr, &ok);
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
tg_cli_print_json(json_t *j)
{
    char *text;

    if (j == NULL)
        return tg_cli_error("out of memory");
    text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (text == NULL)
        return tg_cli_error("out of memory");
    printf("%s\n", text);
    /* The text may hold a client secret. */
    tg_wipe(text, strlen(text));
    free(text);
    return fflush(stdout) == 0 ? TG_CLI_EXIT_OK : tg_cli_error("writing output failed");
}

/* ---- Common to the agent subcommands --------------------------------- */

#define HELP "agent"

static const char usage_text[] =
    "usage: tollgate agent <command> [--data DIR] [--master-key FILE] [--json]\n"
    "\n"
    "  add ID --type internal|tenant|browsing --owner OWNER [--tenant T]\n"
    "         [--auth client_secret_basic|client_secret_post|private_key_jwt|tls_client_auth|\n"
    "                 self_signed_tls_client_auth|spiffe_x509|spiffe_jwt]\n"
    "         [--sender-constraint dpop|mtls|any-pop|bearer] [--max-token-lifetime SECONDS]\n"
    "         [--jwks-file F] [--tls-subject-dn DN | --tls-san-dns D | --tls-san-uri U]\n"
    "         [--cert-file PEM] [--spiffe-id ID] [--introspect]\n"
    "  list                      every agent (never secret material)\n"
    "  show ID                   one agent, with its grants\n"
    "  disable ID                refuse new tokens; every live token stops working\n"
    "  enable ID                 accept token requests again\n"
    "  rotate-secret ID          new client secret, shown once; the old one stops working\n"
    "  remove ID                 delete the agent and its grants\n";

struct agent_cmd {
    struct tg_cli_opts opts;
    int json;
    struct tg_cli_ctx ctx;
    int opened;
};

static int
open_ctx(struct agent_cmd *c)
{
    enum tg_err rv = tg_cli_open(&c->opts, &c->ctx);

    if (rv != TG_OK)
        return tg_cli_fail(rv, "cannot open the data directory");
    c->ctx.json = c->json;
    c->opened = 1;
    return TG_CLI_EXIT_OK;
}

static void
close_ctx(struct agent_cmd *c)
{
    if (c->opened)
        tg_cli_close(&c->ctx);
    c->opened = 0;
}

/* Exactly one positional argument (the agent id) after the verb. */
static int
one_id(int argc, char **argv, const char **id)
{
    int i, ddash = 0;

    *id = NULL;
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0 && !ddash) {
            ddash = 1; /* what follows is an id, even "-x" */
            continue;
        }
        if (!ddash && argv[i][0] == '-' && argv[i][1] != '\0')
            return tg_cli_usage_error(HELP, "agent %s: unknown option %s", argv[1], argv[i]);
        if (*id != NULL)
            return tg_cli_usage_error(HELP, "agent %s: one agent id only", argv[1]);
        *id = argv[i];
    }
    if (*id == NULL)
        return tg_cli_usage_error(HELP, "agent %s: which agent? (an ID is required)", argv[1]);
    return TG_CLI_EXIT_OK;
}

static int
agent_not_found(enum tg_err rv, const char *id)
{
    if (rv == TG_ERR_NOT_FOUND)
        return tg_cli_error("no agent \"%s\"", id);
    return tg_cli_fail(rv, "agent \"%s\"", id);
}

/* The start of every command on one existing agent: its id from argv, the
 * data directory open, a store transaction begun and the agent read in it
 * (rolled back again when there is none). 0, or the exit status. */
static int
begin_on_agent(struct agent_cmd *c, int argc, char **argv, const char *what, const char **id,
               struct tg_agent *a)
{
    enum tg_err rv;
    int rc;

    if ((rc = one_id(argc, argv, id)) != 0 || (rc = open_ctx(c)) != 0)
        return rc;
    rv = tg_store_begin(c->ctx.store);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "%s", what);
    rv = tg_store_agent_get(c->ctx.store, *id, a);
    if (rv != TG_OK) {
        tg_store_rollback(c->ctx.store);
        return agent_not_found(rv, *id);
    }
    return 0;
}

/* The audit event of an agent change. */
static enum tg_err
audit_agent(struct tg_cli_ctx *ctx, const char *event, const struct tg_agent *a,
            const json_t *details)
{
    struct tg_audit_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.event = event;
    ev.actor = tg_cli_actor();
    ev.agent_id = a->id;
    ev.agent_type = tg_agent_type_name(a->type);
    ev.owner = a->owner;
    ev.tenant = a->tenant;
    ev.auth_method = tg_auth_method_name(a->auth_method);
    ev.details = details;
    return tg_audit_emit(ctx->audit, &ev);
}

/* Run `change` (store writes) and the audit event in one transaction. */
static enum tg_err
commit_with_audit(struct tg_cli_ctx *ctx, const char *event, const struct tg_agent *a,
                  const json_t *details, enum tg_err change)
{
    enum tg_err rv = change;

    if (rv == TG_OK)
        rv = audit_agent(ctx, event, a, details);
    if (rv == TG_OK)
        rv = tg_store_commit(ctx->store);
    else
        tg_store_rollback(ctx->store);
    return rv;
}

void
tg_cli_show_secret(const char *client_id, const char *secret)
{
    printf("client_id: %s\n", client_id);
    printf("client_secret: %s (shown once; store it now)\n", secret);
}

/* ---- agent add ------------------------------------------------------- */

struct add_args {
    const char *id, *type, *owner, *tenant, *auth, *pop, *lifetime, *jwks_file;
    const char *dn, *san_dns, *san_uri, *cert_file, *spiffe_id;
    int introspect; /* --introspect: may introspect any token (RFC 7662 §4) */
};

static int
add_parse(int argc, char **argv, struct add_args *a)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"--type", offsetof(struct add_args, type)},
        {"--owner", offsetof(struct add_args, owner)},
        {"--tenant", offsetof(struct add_args, tenant)},
        {"--auth", offsetof(struct add_args, auth)},
        {"--sender-constraint", offsetof(struct add_args, pop)},
        {"--max-token-lifetime", offsetof(struct add_args, lifetime)},
        {"--jwks-file", offsetof(struct add_args, jwks_file)},
        {"--tls-subject-dn", offsetof(struct add_args, dn)},
        {"--tls-san-dns", offsetof(struct add_args, san_dns)},
        {"--tls-san-uri", offsetof(struct add_args, san_uri)},
        {"--cert-file", offsetof(struct add_args, cert_file)},
        {"--spiffe-id", offsetof(struct add_args, spiffe_id)},
    };
    const char *val = NULL;
    size_t k;
    int i, r, ddash = 0;

    memset(a, 0, sizeof(*a));
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0 && !ddash) {
            ddash = 1; /* what follows is the id, even "-x" */
            continue;
        }
        if (ddash || argv[i][0] != '-' || argv[i][1] == '\0') {
            if (a->id != NULL)
                return tg_cli_usage_error(HELP, "agent add: one agent id only (got \"%s\")",
                                          argv[i]);
            a->id = argv[i];
            continue;
        }
        if (strcmp(argv[i], "--introspect") == 0) {
            if (a->introspect)
                return tg_cli_usage_error(HELP, "agent add: --introspect given twice");
            a->introspect = 1;
            continue;
        }
        for (k = 0, r = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
            r = tg_cli_take_opt(argc, argv, &i, opts[k].name, &val);
            if (r < 0)
                return tg_cli_usage_error(HELP, "agent add: %s needs a value", opts[k].name);
            if (r > 0) {
                const char **slot = (const char **)((char *)a + opts[k].off);

                if (*slot != NULL)
                    return tg_cli_usage_error(HELP, "agent add: %s given twice", opts[k].name);
                *slot = val;
                break;
            }
        }
        if (r == 0)
            return tg_cli_usage_error(HELP, "agent add: unknown option %s", argv[i]);
    }
    if (a->id == NULL)
        return tg_cli_usage_error(HELP, "agent add: an agent ID is required");
    if (a->type == NULL)
        return tg_cli_usage_error(HELP, "agent add: --type is required");
    if (a->owner == NULL)
        return tg_cli_usage_error(HELP, "agent add: --owner is required");
    return TG_CLI_EXIT_OK;
}

static enum tg_err
dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return TG_OK;
    *out = strdup(s);
    TG_ENSURE(*out != NULL, TG_ERR_NOMEM, "strdup");
    return TG_OK;
}

static int
parse_lifetime(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return 0;
    *out = v;
    return 1;
}

/* x5t#S256 of the first certificate of a PEM file. */
static int
cert_x5t(const char *file, char **out)
{
    struct tg_buf der;
    char tp[TG_THUMBPRINT_B64_LEN + 1];
    char *pem;
    size_t len;
    enum tg_err rv;

    pem = tg_cli_read_file(file, 65536, &len);
    if (pem == NULL)
        return TG_CLI_EXIT_FAIL;
    tg_buf_init(&der, 65536);
    rv = tg_cert_pem_to_der(pem, len, &der);
    free(pem);
    if (rv == TG_OK)
        rv = tg_x5t_s256(tg_slice(der.p, der.len), tp);
    tg_buf_reset(&der);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "%s: not a PEM certificate", file);
    if (dup_opt(tp, out) != TG_OK)
        return tg_cli_error("out of memory");
    return TG_CLI_EXIT_OK;
}

/* The record `agent add` would create, validated; nothing is opened yet. */
static int
add_build(const struct add_args *in, struct tg_agent *a)
{
    char why[256];
    size_t len;
    int rc;

    memset(a, 0, sizeof(*a));
    a->status = TG_AGENT_ACTIVE;
    a->auth_method = TG_AUTH_CLIENT_SECRET_BASIC;
    a->pop = TG_POP_DPOP;
    a->introspect = in->introspect;
    if (tg_agent_type_parse(in->type, &a->type) != TG_OK)
        return tg_cli_usage_error(HELP, "--type: expected internal, tenant or browsing");
    if (in->auth != NULL && tg_auth_method_parse(in->auth, &a->auth_method) != TG_OK)
        return tg_cli_usage_error(HELP,
                                  "--auth: expected client_secret_basic, client_secret_post, "
                                  "private_key_jwt, tls_client_auth, self_signed_tls_client_auth, "
                                  "spiffe_x509 or spiffe_jwt");
    if (in->pop != NULL && tg_pop_parse(in->pop, &a->pop) != TG_OK)
        return tg_cli_usage_error(HELP,
                                  "--sender-constraint: expected dpop, mtls, any-pop or bearer");
    if (in->lifetime != NULL && !parse_lifetime(in->lifetime, &a->max_token_lifetime))
        return tg_cli_usage_error(HELP, "--max-token-lifetime: expected a number of seconds");
    if (dup_opt(in->id, &a->id) != TG_OK || dup_opt(in->owner, &a->owner) != TG_OK ||
        dup_opt(in->tenant, &a->tenant) != TG_OK || dup_opt(in->dn, &a->tls_subject_dn) != TG_OK ||
        dup_opt(in->san_dns, &a->tls_san_dns) != TG_OK ||
        dup_opt(in->san_uri, &a->tls_san_uri) != TG_OK ||
        dup_opt(in->spiffe_id, &a->spiffe_id) != TG_OK)
        return tg_cli_error("out of memory");
    if (in->jwks_file != NULL) {
        a->jwks = tg_cli_read_file(in->jwks_file, TG_POLICY_JWKS_MAX, &len);
        if (a->jwks == NULL)
            return TG_CLI_EXIT_FAIL;
    }
    if (in->cert_file != NULL && (rc = cert_x5t(in->cert_file, &a->cert_x5t)) != 0)
        return rc;
    if (tg_agent_validate_msg(a, why, sizeof(why)) != TG_OK)
        return tg_cli_error("agent \"%.128s\": %s", in->id, why);
    return TG_CLI_EXIT_OK;
}

static int
add_print(const struct agent_cmd *c, const struct tg_agent *a, const char *secret)
{
    json_t *j;

    if (c->json) {
        j = tg_cli_agent_json(a, 1, NULL, 0);
        if (j != NULL && (json_object_set_new(j, "client_id", json_string(a->id)) != 0 ||
                          (secret != NULL &&
                           json_object_set_new(j, "client_secret", json_string(secret)) != 0))) {
            json_decref(j);
            j = NULL;
        }
        return tg_cli_print_json(j);
    }
    printf("added agent %s (%s, owner %s%s%s, auth %s, sender constraint %s%s)\n", a->id,
           tg_agent_type_name(a->type), a->owner, a->tenant ? ", tenant " : "",
           a->tenant ? a->tenant : "", tg_auth_method_name(a->auth_method), tg_pop_name(a->pop),
           a->introspect ? ", may introspect any token" : "");
    if (secret != NULL)
        tg_cli_show_secret(a->id, secret);
    else
        printf("client_id: %s\n", a->id);
    return fflush(stdout) == 0 ? TG_CLI_EXIT_OK : tg_cli_error("writing output failed");
}

static int
cmd_add(struct agent_cmd *c, int argc, char **argv)
{
    struct add_args in;
    struct tg_agent a, existing;
    char secret[TG_SECRET_LEN + 1];
    enum tg_err rv;
    int rc, has_secret = 0;

    memset(&a, 0, sizeof(a));
    memset(&existing, 0, sizeof(existing));
    memset(secret, 0, sizeof(secret));
    if ((rc = add_parse(argc, argv, &in)) != 0)
        return rc;
    if ((rc = add_build(&in, &a)) != 0)
        goto out;
    c->opts.create = 1;
    if ((rc = open_ctx(c)) != 0)
        goto out;
    if (tg_cli_uses_secret(a.auth_method)) {
        rv = tg_cli_new_secret(&c->ctx, secret, a.secret_mac);
        if (rv != TG_OK) {
            rc = tg_cli_fail(rv, "cannot make a client secret");
            goto out;
        }
        a.has_secret = has_secret = 1;
    }
    a.created_at = a.updated_at = tg_cli_now();
    rv = tg_store_begin(c->ctx.store);
    if (rv != TG_OK) {
        rc = tg_cli_fail(rv, "agent add");
        goto out;
    }
    rv = commit_with_audit(&c->ctx, "agent.add", &a, NULL, tg_store_agent_insert(c->ctx.store, &a));
    if (rv == TG_ERR_CONFLICT) {
        if (tg_store_agent_get(c->ctx.store, a.id, &existing) == TG_OK)
            rc = tg_cli_error("agent \"%s\" already exists", a.id);
        else
            rc = tg_cli_error("agent \"%s\": another agent already has SPIFFE ID %s", a.id,
                              a.spiffe_id != NULL ? a.spiffe_id : "(none)");
        goto out;
    }
    if (rv != TG_OK) {
        rc = tg_cli_fail(rv, "agent add \"%s\"", a.id);
        goto out;
    }
    rc = add_print(c, &a, has_secret ? secret : NULL);
out:
    tg_wipe(secret, sizeof(secret));
    tg_agent_reset(&a);
    tg_agent_reset(&existing);
    return rc;
}

/* ---- agent list / show ----------------------------------------------- */

static size_t
maxw(size_t w, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 1;

    return n > w ? n : w;
}

static int
cmd_list(struct agent_cmd *c, int argc, char **argv)
{
    struct tg_agent *list = NULL;
    size_t n = 0, i, w[5] = {2, 4, 6, 5, 6};
    json_t *arr;
    enum tg_err rv;
    int rc;

    if (argc > 2)
        return tg_cli_usage_error(HELP, "agent list: unexpected argument %s", argv[2]);
    if ((rc = open_ctx(c)) != 0)
        return rc;
    rv = tg_store_agent_list(c->ctx.store, &list, &n);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "agent list");
    if (c->json) {
        arr = json_array();
        for (i = 0; arr != NULL && i < n; i++)
            if (json_array_append_new(arr, tg_cli_agent_json(&list[i], 0, NULL, 0)) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        tg_store_agent_list_free(list, n);
        return tg_cli_print_json(arr);
    }
    if (n == 0) {
        printf("no agents (add one with 'tollgate agent add' or 'tollgate apply')\n");
        tg_store_agent_list_free(list, n);
        return TG_CLI_EXIT_OK;
    }
    for (i = 0; i < n; i++) {
        w[0] = maxw(w[0], list[i].id);
        w[1] = maxw(w[1], tg_agent_type_name(list[i].type));
        w[2] = maxw(w[2], list[i].tenant);
        w[3] = maxw(w[3], list[i].owner);
        w[4] = maxw(w[4], tg_agent_status_name(list[i].status));
    }
    printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-27s  %-7s  %s\n", (int)w[0], "ID", (int)w[1], "TYPE",
           (int)w[2], "TENANT", (int)w[3], "OWNER", (int)w[4], "STATUS", "AUTH", "SENDER",
           "INTROSPECT");
    for (i = 0; i < n; i++)
        printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-27s  %-7s  %s\n", (int)w[0], list[i].id,
               (int)w[1], tg_agent_type_name(list[i].type), (int)w[2],
               list[i].tenant != NULL ? list[i].tenant : "-", (int)w[3], list[i].owner,
               (int)w[4], tg_agent_status_name(list[i].status),
               tg_auth_method_name(list[i].auth_method), tg_pop_name(list[i].pop),
               list[i].introspect ? "any" : "own");
    tg_store_agent_list_free(list, n);
    return fflush(stdout) == 0 ? TG_CLI_EXIT_OK : tg_cli_error("writing output failed");
}

static void
show_field(const char *k, const char *v)
{
    if (v != NULL)
        printf("%-19s %s\n", k, v);
}

/* The kids of a JWKS, for a short human line. */
static void
show_jwks(const char *text)
{
    json_t *doc = json_loads(text, 0, NULL), *keys, *k;
    const char *kid;
    size_t i;

    keys = json_object_get(doc, "keys");
    printf("%-19s %zu key(s)", "jwks:", json_array_size(keys));
    json_array_foreach(keys, i, k) {
        kid = json_string_value(json_object_get(k, "kid"));
        printf("%s%s", i == 0 ? ", kid " : ", ", kid != NULL ? kid : "(none)");
    }
    printf("\n");
    json_decref(doc);
}

static void
show_human(const struct tg_agent *a, const struct tg_grant *g, size_t n)
{
    char t[32], acts[64], lt[32];
    size_t i, j;

    show_field("id:", a->id);
    show_field("type:", tg_agent_type_name(a->type));
    show_field("owner:", a->owner);
    show_field("tenant:", a->tenant != NULL ? a->tenant : "-");
    show_field("status:", tg_agent_status_name(a->status));
    show_field("auth:", tg_auth_method_name(a->auth_method));
    if (tg_cli_uses_secret(a->auth_method) || a->has_secret)
        show_field("client secret:", a->has_secret ? "set (only its HMAC is stored)" : "none");
    show_field("sender constraint:", tg_pop_name(a->pop));
    if (a->max_token_lifetime > 0)
        snprintf(lt, sizeof(lt), "%lld s", (long long)a->max_token_lifetime);
    else
        snprintf(lt, sizeof(lt), "server default");
    show_field("max token lifetime:", lt);
    show_field("introspect:", a->introspect ? "any token of this issuer" : "its own tokens only");
    if (a->jwks != NULL)
        show_jwks(a->jwks);
    show_field("tls subject dn:", a->tls_subject_dn);
    show_field("tls san dns:", a->tls_san_dns);
    show_field("tls san uri:", a->tls_san_uri);
    show_field("cert x5t#S256:", a->cert_x5t);
    show_field("spiffe id:", a->spiffe_id);
    tg_cli_time(a->created_at, t);
    show_field("created:", t);
    tg_cli_time(a->updated_at, t);
    show_field("updated:", t);
    if (a->tokens_not_before > 0) {
        tg_cli_time(a->tokens_not_before, t);
        show_field("tokens not before:", t);
    }
    if (n == 0) {
        show_field("grants:", "none");
        return;
    }
    printf("grants:\n");
    for (i = 0; i < n; i++) {
        tg_cli_actions_str(g[i].actions, acts, sizeof(acts));
        printf("  %s: %s", g[i].tool_id, acts);
        for (j = 0; j < g[i].n_endpoints; j++)
            printf("%s%s", j == 0 ? " (only " : ", ", g[i].endpoints[j]);
        printf("%s\n", g[i].n_endpoints > 0 ? ")" : "");
    }
}

static int
cmd_show(struct agent_cmd *c, int argc, char **argv)
{
    struct tg_agent a;
    struct tg_grant *g = NULL;
    size_t n = 0;
    const char *id;
    enum tg_err rv;
    int rc;

    memset(&a, 0, sizeof(a));
    if ((rc = one_id(argc, argv, &id)) != 0)
        return rc;
    if ((rc = open_ctx(c)) != 0)
        return rc;
    rv = tg_store_agent_get(c->ctx.store, id, &a);
    if (rv != TG_OK)
        return agent_not_found(rv, id);
    rv = tg_store_grant_list(c->ctx.store, id, &g, &n);
    if (rv != TG_OK) {
        rc = tg_cli_fail(rv, "grants of agent \"%s\"", id);
    } else if (c->json) {
        rc = tg_cli_print_json(tg_cli_agent_json(&a, 1, g, n));
    } else {
        show_human(&a, g, n);
        rc = fflush(stdout) == 0 ? TG_CLI_EXIT_OK : tg_cli_error("writing output failed");
    }
    tg_store_grant_list_free(g, n);
    tg_agent_reset(&a);
    return rc;
}

/* ---- agent disable / enable ------------------------------------------ */

static int
cmd_status(struct agent_cmd *c, int argc, char **argv, enum tg_agent_status st)
{
    const char *event = st == TG_AGENT_DISABLED ? "agent.disable" : "agent.enable";
    const char *word = tg_agent_status_name(st);
    struct tg_agent a;
    const char *id;
    enum tg_err rv;
    int rc, changed = 0;

    memset(&a, 0, sizeof(a));
    if ((rc = begin_on_agent(c, argc, argv,
                             st == TG_AGENT_DISABLED ? "agent disable" : "agent enable", &id,
                             &a)) != 0)
        return rc;
    if (a.status == st) {
        tg_store_rollback(c->ctx.store); /* nothing to change, nothing to record */
    } else {
        rv = commit_with_audit(&c->ctx, event, &a, NULL,
                               tg_store_agent_set_status(c->ctx.store, id, st, tg_cli_now()));
        if (rv != TG_OK) {
            tg_agent_reset(&a);
            return tg_cli_fail(rv, "agent %s \"%s\"", argv[1], id);
        }
        changed = 1;
    }
    if (c->json) {
        json_t *j = json_pack("{s:s, s:s, s:b}", "id", id, "status", word, "changed", changed);

        rc = tg_cli_print_json(j);
    } else if (!changed) {
        printf("agent %s is already %s\n", id, word);
    } else if (st == TG_AGENT_DISABLED) {
        printf("agent %s disabled: no new tokens, and every token issued so far is refused\n", id);
    } else {
        printf("agent %s enabled (tokens issued before it was disabled stay refused)\n", id);
    }
    tg_agent_reset(&a);
    return rc;
}

/* ---- agent rotate-secret --------------------------------------------- */

static int
cmd_rotate_secret(struct agent_cmd *c, int argc, char **argv)
{
    struct tg_agent a;
    char secret[TG_SECRET_LEN + 1];
    uint8_t mac[TG_SECRET_MAC_LEN];
    const char *id;
    json_t *j;
    enum tg_err rv;
    int rc;

    memset(&a, 0, sizeof(a));
    memset(secret, 0, sizeof(secret));
    memset(mac, 0, sizeof(mac));
    if ((rc = begin_on_agent(c, argc, argv, "agent rotate-secret", &id, &a)) != 0)
        return rc;
    if (!tg_cli_uses_secret(a.auth_method)) {
        tg_store_rollback(c->ctx.store);
        rc = tg_cli_error("agent \"%s\" authenticates with %s and has no client secret", id,
                          tg_auth_method_name(a.auth_method));
        goto out;
    }
    rv = tg_cli_new_secret(&c->ctx, secret, mac);
    if (rv != TG_OK) {
        tg_store_rollback(c->ctx.store);
        rc = tg_cli_fail(rv, "cannot make a client secret");
        goto out;
    }
    rv = commit_with_audit(&c->ctx, "agent.rotate_secret", &a, NULL,
                           tg_store_agent_set_secret(c->ctx.store, id, mac));
    if (rv != TG_OK) {
        rc = tg_cli_fail(rv, "agent rotate-secret \"%s\"", id);
        goto out;
    }
    if (c->json) {
        j = json_pack("{s:s, s:s}", "client_id", id, "client_secret", secret);
        rc = tg_cli_print_json(j);
    } else {
        printf("new client secret for agent %s; the previous one no longer works\n", id);
        tg_cli_show_secret(id, secret);
        rc = fflush(stdout) == 0 ? TG_CLI_EXIT_OK : tg_cli_error("writing output failed");
    }
out:
    tg_wipe(secret, sizeof(secret));
    tg_wipe(mac, sizeof(mac));
    tg_agent_reset(&a);
    return rc;
}

/* ---- agent remove ---------------------------------------------------- */

static int
cmd_remove(struct agent_cmd *c, int argc, char **argv)
{
    struct tg_agent a;
    struct tg_grant *g = NULL;
    size_t n = 0;
    const char *id;
    json_t *details = NULL;
    enum tg_err rv;
    int rc;

    memset(&a, 0, sizeof(a));
    if ((rc = begin_on_agent(c, argc, argv, "agent remove", &id, &a)) != 0)
        return rc;
    rv = tg_store_grant_list(c->ctx.store, id, &g, &n);
    if (rv == TG_OK) {
        details = json_pack("{s:I}", "grants_removed", (json_int_t)n);
        if (details == NULL)
            rv = TG_ERR_NOMEM;
    }
    if (rv == TG_OK)
        rv = tg_store_agent_delete(c->ctx.store, id);
    rv = commit_with_audit(&c->ctx, "agent.remove", &a, details, rv);
    if (rv != TG_OK) {
        rc = tg_cli_fail(rv, "agent remove \"%s\"", id);
    } else if (c->json) {
        rc = tg_cli_print_json(json_pack("{s:s, s:b, s:I}", "id", id, "removed", 1,
                                         "grants_removed", (json_int_t)n));
    } else {
        printf("removed agent %s and its %zu grant(s)\n", id, n);
        rc = fflush(stdout) == 0 ? TG_CLI_EXIT_OK : tg_cli_error("writing output failed");
    }
    json_decref(details);
    tg_store_grant_list_free(g, n);
    tg_agent_reset(&a);
    return rc;
}

/* ---- dispatch -------------------------------------------------------- */

int
tg_cmd_agent(int argc, char **argv)
{
    struct agent_cmd c;
    const char *verb;
    int rc;

    memset(&c, 0, sizeof(c));
    argc = tg_cli_common_args(argc, argv, &c.opts, &c.json);
    if (argc < 2)
        return tg_cli_usage_error(HELP, "agent: which command?");
    verb = argv[1];
    for (rc = 1; rc < argc; rc++) {
        if (strcmp(argv[rc], "--help") == 0 || strcmp(argv[rc], "-h") == 0 ||
            (rc == 1 && strcmp(argv[rc], "help") == 0)) {
            fputs(usage_text, stdout);
            return TG_CLI_EXIT_OK;
        }
    }
    if (strcmp(verb, "add") == 0)
        rc = cmd_add(&c, argc, argv);
    else if (strcmp(verb, "list") == 0)
        rc = cmd_list(&c, argc, argv);
    else if (strcmp(verb, "show") == 0)
        rc = cmd_show(&c, argc, argv);
    else if (strcmp(verb, "disable") == 0)
        rc = cmd_status(&c, argc, argv, TG_AGENT_DISABLED);
    else if (strcmp(verb, "enable") == 0)
        rc = cmd_status(&c, argc, argv, TG_AGENT_ACTIVE);
    else if (strcmp(verb, "rotate-secret") == 0)
        rc = cmd_rotate_secret(&c, argc, argv);
    else if (strcmp(verb, "remove") == 0)
        rc = cmd_remove(&c, argc, argv);
    else
        rc = tg_cli_usage_error(HELP, "agent: unknown command \"%s\"", verb);
    close_ctx(&c);
    return rc;
}
