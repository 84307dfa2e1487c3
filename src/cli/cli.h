#ifndef TG_CLI_CLI_H
#define TG_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/ctx.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "policy/model.h"

/* Each subcommand: argc/argv start at the subcommand's own name. Returns the
 * process exit status (0 ok, 1 failure, 2 usage). */
int tg_cmd_jwk(int argc, char **argv);
int tg_cmd_serve(int argc, char **argv); /* cmd_serve.c */
int tg_cmd_cert(int argc, char **argv);
int tg_cmd_agent(int argc, char **argv); /* cmd_agent.c */
int tg_cmd_apply(int argc, char **argv); /* cmd_apply.c */
int tg_cmd_keys(int argc, char **argv);  /* cmd_keys.c */

/* Read a whole file ("-" or NULL: stdin) up to `cap` bytes; NUL-terminated.
 * Returns NULL (and prints why) on failure. */
char *tg_cli_read_file(const char *path, size_t cap, size_t *len);

/* ---- Shared by the administrative subcommands (cmd_agent.c) ---------- */

#define TG_CLI_EXIT_OK 0
#define TG_CLI_EXIT_FAIL 1
#define TG_CLI_EXIT_USAGE 2

/* One line "tollgate: <message>" on stderr; returns TG_CLI_EXIT_FAIL. */
int tg_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a usage mistake, pointing at `help`; returns TG_CLI_EXIT_USAGE. */
int tg_cli_usage_error(const char *help, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "tollgate: <what>: <why>" where why is the message the failing call left
 * in the thread's error detail (or the code's description); returns
 * TG_CLI_EXIT_FAIL. */
int tg_cli_fail(enum tg_err rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "--name VALUE" or "--name=VALUE" at argv[*i] (advancing *i past the
 * value). Returns 1 and sets *val on a match, 0 when argv[*i] is not that
 * option, -1 when the option has no value. */
int tg_cli_take_opt(int argc, char **argv, int *i, const char *name, const char **val);

int64_t tg_cli_now(void);
/* RFC 3339 UTC ("2025-01-31T12:00:00Z"), or "-" for 0. */
void tg_cli_time(int64_t t, char out[32]);

/* Client secrets are the only authentication material the CLI makes. */
int tg_cli_uses_secret(enum tg_auth_method m);
/* A new "tgs_..." secret and its MAC under ctx->secret_key. The caller
 * prints the secret once and wipes it with tg_wipe. */
enum tg_err tg_cli_new_secret(const struct tg_cli_ctx *ctx, char secret[TG_SECRET_LEN + 1],
                              uint8_t mac[TG_SECRET_MAC_LEN]) TG_MUST_CHECK;
/* The one place a secret is ever printed: a client secret, on stdout, right
 * after `agent add`, `agent rotate-secret` or `apply` made it (the issue's
 * "shown once"; only its HMAC is stored, so it cannot be shown again). Logs,
 * audit lines and every other output name the client id only. */
void tg_cli_show_secret(const char *client_id, const char *secret);

/* An agent as JSON: never secret material (has_secret says whether one is
 * set). `full` adds every field and "grants" (the n_grants of `grants`).
 * NULL when memory ran out. */
json_t *tg_cli_agent_json(const struct tg_agent *a, int full, const struct tg_grant *grants,
                          size_t n_grants);
json_t *tg_cli_grant_json(const struct tg_grant *g);
/* "read, write" into out. */
void tg_cli_actions_str(unsigned actions, char *out, size_t cap);
/* Print `j` (a reference this call takes) and a newline on stdout. */
int tg_cli_print_json(json_t *j);

#endif
