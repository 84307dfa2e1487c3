/* tollgate keys rotate|list: the authorization server's signing keys.
 * Rotation walks next -> current -> retiring and makes a new next key, so
 * verifiers already know the key that signs next and keep the retiring one
 * until the tokens it signed have expired. Private keys stay sealed in the
 * store; nothing here prints them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/ctx.h"
#include "oauth/keys.h"

#define HELP "keys"
#define KID_MAX 128
/* Seconds a retiring key stays published: at least the server's default
 * token lifetime, raised to the longest max_token_lifetime of any agent so
 * no live token loses its key at the next rotation. */
#define RETIRE_AFTER_MIN 3600

static const char usage_text[] =
    "usage: tollgate keys <command> [--data DIR] [--master-key FILE] [--json]\n"
    "\n"
    "  rotate     promote the next key to current, retire the current one, make a new next\n"
    "  list       the published signing keys: kid, alg, state, created\n";

static const char *
state_name(enum tg_key_state st)
{
    switch (st) {
    case TG_KEYSTATE_NEXT:
        return "next";
    case TG_KEYSTATE_CURRENT:
        return "current";
    case TG_KEYSTATE_RETIRING:
        return "retiring";
    case TG_KEYSTATE_RETIRED:
        return "retired";
    default:
        return "unknown";
    }
}

static enum tg_err
retire_after(struct tg_cli_ctx *ctx, int64_t *out)
{
    struct tg_agent *list = NULL;
    size_t n = 0, i;

    *out = RETIRE_AFTER_MIN;
    TG_GUARD(tg_store_agent_list(ctx->store, &list, &n));
    for (i = 0; i < n; i++)
        if (list[i].max_token_lifetime > *out)
            *out = list[i].max_token_lifetime;
    tg_store_agent_list_free(list, n);
    return TG_OK;
}

static int
keys_rotate(struct tg_cli_ctx *ctx)
{
    struct tg_keyring_config cfg = {TG_JWS_ES256, RETIRE_AFTER_MIN};
    struct tg_keyring *kr = NULL;
    struct tg_audit_event ev;
    char before[KID_MAX], after[KID_MAX];
    json_t *details = NULL;
    int64_t now = tg_cli_now();
    enum tg_err rv;
    int rc = TG_CLI_EXIT_FAIL;

    rv = retire_after(ctx, &cfg.retire_after);
    if (rv == TG_OK)
        rv = tg_keyring_open(ctx->store, ctx->master, &cfg, now, &kr);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "cannot open the signing keys");
    rv = tg_keyring_current_kid(kr, before, sizeof(before));
    if (rv == TG_OK)
        rv = tg_keyring_rotate(kr, now);
    if (rv == TG_OK)
        rv = tg_keyring_current_kid(kr, after, sizeof(after));
    if (rv != TG_OK) {
        rc = tg_cli_fail(rv, "keys rotate");
        goto out;
    }
    /* The keyring commits its own transaction: the event follows it. */
    details = json_pack("{s:s, s:s}", "current_kid", after, "previous_kid", before);
    memset(&ev, 0, sizeof(ev));
    ev.event = "keys.rotate";
    ev.actor = tg_cli_actor();
    ev.details = details;
    rv = details != NULL ? tg_audit_emit(ctx->audit, &ev) : TG_ERR_NOMEM;
    if (rv != TG_OK) {
        rc = tg_cli_fail(rv, "keys rotated (current kid %s) but the audit event was not written",
                         after);
        goto out;
    }
    if (ctx->json) {
        rc = tg_cli_print_json(json_pack("{s:s, s:s, s:I}", "current_kid", after, "previous_kid",
                                         before, "retire_after", (json_int_t)cfg.retire_after));
    } else {
        printf("current signing key: %s\n", after);
        printf("previous key %s is retiring (stays published for at least %lld s)\n", before,
               (long long)cfg.retire_after);
        rc = fflush(stdout) == 0 ? TG_CLI_EXIT_OK : tg_cli_error("writing output failed");
    }
out:
    json_decref(details);
    tg_keyring_free(kr);
    return rc;
}

static json_t *
key_json(const struct tg_signing_key_row *k)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "kid", k->kid, "alg",
                     k->alg != NULL ? k->alg : "", "state", state_name(k->state), "created_at",
                     (json_int_t)k->created_at, "activated_at", (json_int_t)k->activated_at,
                     "retired_at", (json_int_t)k->retired_at);
}

/* next, current, retiring: the order a key lives through, newest first. */
static int
state_rank(enum tg_key_state st)
{
    switch (st) {
    case TG_KEYSTATE_NEXT:
        return 0;
    case TG_KEYSTATE_CURRENT:
        return 1;
    case TG_KEYSTATE_RETIRING:
        return 2;
    default:
        return 3;
    }
}

static int
key_cmp(const void *x, const void *y)
{
    const struct tg_signing_key_row *a = x, *b = y;
    int ra = state_rank(a->state), rb = state_rank(b->state);

    if (ra != rb)
        return ra - rb;
    return a->created_at > b->created_at ? -1 : a->created_at < b->created_at;
}

static int
keys_list(struct tg_cli_ctx *ctx)
{
    struct tg_signing_key_row *rows = NULL;
    size_t n = 0, i, w = 3;
    char t[32];
    json_t *arr;
    enum tg_err rv;
    int rc = TG_CLI_EXIT_OK;

    rv = tg_store_key_list(ctx->store, &rows, &n);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "keys list");
    if (n > 1)
        qsort(rows, n, sizeof(*rows), key_cmp);
    if (ctx->json) {
        arr = json_array();
        for (i = 0; arr != NULL && i < n; i++) {
            if (json_array_append_new(arr, key_json(&rows[i])) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        tg_store_key_list_free(rows, n);
        return tg_cli_print_json(arr);
    }
    if (n == 0) {
        printf("no signing keys yet ('tollgate keys rotate' or the server makes them)\n");
    } else {
        for (i = 0; i < n; i++)
            if (rows[i].kid != NULL && strlen(rows[i].kid) > w)
                w = strlen(rows[i].kid);
        printf("%-*s  %-6s  %-8s  %s\n", (int)w, "KID", "ALG", "STATE", "CREATED");
        for (i = 0; i < n; i++) {
            tg_cli_time(rows[i].created_at, t);
            printf("%-*s  %-6s  %-8s  %s\n", (int)w, rows[i].kid,
                   rows[i].alg != NULL ? rows[i].alg : "-", state_name(rows[i].state), t);
        }
    }
    tg_store_key_list_free(rows, n);
    if (fflush(stdout) != 0)
        rc = tg_cli_error("writing output failed");
    return rc;
}

int
tg_cmd_keys(int argc, char **argv)
{
    struct tg_cli_opts opts;
    struct tg_cli_ctx ctx;
    int json = 0, rc, i;
    enum tg_err rv;

    memset(&opts, 0, sizeof(opts));
    argc = tg_cli_common_args(argc, argv, &opts, &json);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            (i == 1 && strcmp(argv[i], "help") == 0)) {
            fputs(usage_text, stdout);
            return TG_CLI_EXIT_OK;
        }
    }
    if (argc < 2)
        return tg_cli_usage_error(HELP, "keys: which command?");
    if (strcmp(argv[1], "rotate") != 0 && strcmp(argv[1], "list") != 0)
        return tg_cli_usage_error(HELP, "keys: unknown command \"%s\"", argv[1]);
    if (argc > 2)
        return tg_cli_usage_error(HELP, "keys %s: unexpected argument %s", argv[1], argv[2]);
    rv = tg_cli_open(&opts, &ctx);
    if (rv != TG_OK)
        return tg_cli_fail(rv, "cannot open the data directory");
    ctx.json = json;
    rc = strcmp(argv[1], "rotate") == 0 ? keys_rotate(&ctx) : keys_list(&ctx);
    tg_cli_close(&ctx);
    return rc;
}
