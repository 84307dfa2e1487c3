/* What every data-directory subcommand opens: the data directory, its
 * store, the master key (kept outside the directory) and the audit log. */
#ifndef TG_CLI_CTX_H
#define TG_CLI_CTX_H

#include <stdint.h>

#include "audit/audit.h"
#include "oauth/keys.h"
#include "store/store.h"

struct tg_cli_ctx {
    char *data_dir;        /* absolute */
    char *master_key_file; /* default: <data_dir>.master-key */
    struct tg_store *store;
    struct tg_audit *audit;
    uint8_t master[TG_MASTER_KEY_LEN];
    uint8_t secret_key[32]; /* HMAC key for client secrets */
    int json;               /* --json output */
};

struct tg_cli_opts {
    const char *data_dir;        /* --data, else $TOLLGATE_DATA, else ./tollgate-data */
    const char *master_key_file; /* --master-key, else $TOLLGATE_MASTER_KEY_FILE, else default */
    int create;                  /* make the directory and the master key when missing */
};

/* Pull "--data DIR", "--master-key FILE" and "--json" out of argv (in place;
 * returns the new argc). Other arguments stay in order. */
int tg_cli_common_args(int argc, char **argv, struct tg_cli_opts *opts, int *json);
enum tg_err tg_cli_open(const struct tg_cli_opts *opts, struct tg_cli_ctx *ctx) TG_MUST_CHECK;
void tg_cli_close(struct tg_cli_ctx *ctx);
/* Who runs the command, for the audit log ("cli:<user>"). */
const char *tg_cli_actor(void);

#endif
