#include "cli/ctx.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "oauth/as.h"

int
tg_cli_common_args(int argc, char **argv, struct tg_cli_opts *opts, int *json)
{
    int i, o = 1;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            opts->data_dir = argv[++i];
        } else if (strncmp(argv[i], "--data=", 7) == 0) {
            opts->data_dir = argv[i] + 7;
        } else if (strcmp(argv[i], "--master-key") == 0 && i + 1 < argc) {
            opts->master_key_file = argv[++i];
        } else if (strncmp(argv[i], "--master-key=", 13) == 0) {
            opts->master_key_file = argv[i] + 13;
        } else if (strcmp(argv[i], "--json") == 0 && json != NULL) {
            *json = 1;
        } else {
            argv[o++] = argv[i];
        }
    }
    argv[o] = NULL;
    return o;
}

const char *
tg_cli_actor(void)
{
    static char buf[128];
    struct passwd *pw = getpwuid(getuid());

    snprintf(buf, sizeof(buf), "cli:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
    return buf;
}

enum tg_err
tg_cli_open(const struct tg_cli_opts *opts, struct tg_cli_ctx *ctx)
{
    const char *dir = opts->data_dir, *mk = opts->master_key_file;
    char path[PATH_MAX], *abs = NULL;
    struct stat st;
    enum tg_err rv = TG_OK;

    memset(ctx, 0, sizeof(*ctx));
    if (dir == NULL)
        dir = getenv("TOLLGATE_DATA");
    if (dir == NULL)
        dir = "./tollgate-data";
    if (mk == NULL)
        mk = getenv("TOLLGATE_MASTER_KEY_FILE");
    if (stat(dir, &st) != 0) {
        TG_CHECK(opts->create, TG_ERR_CONFIG, "data directory %s does not exist", dir);
        TG_CHECK(mkdir(dir, 0700) == 0, TG_ERR_IO, "mkdir %s: %s", dir, strerror(errno));
    } else {
        TG_CHECK(S_ISDIR(st.st_mode), TG_ERR_CONFIG, "%s is not a directory", dir);
    }
    abs = realpath(dir, NULL);
    TG_CHECK(abs != NULL, TG_ERR_IO, "realpath %s", dir);
    ctx->data_dir = abs;
    if (mk == NULL) {
        /* Beside the directory, never inside it: a copy of the data
         * directory alone does not open the keys. */
        snprintf(path, sizeof(path), "%s.master-key", abs);
        mk = path;
    }
    ctx->master_key_file = strdup(mk);
    TG_CHECK(ctx->master_key_file != NULL, TG_ERR_NOMEM, "path");
    if (getenv(TG_MASTER_KEY_ENV) == NULL && stat(ctx->master_key_file, &st) != 0) {
        TG_CHECK(opts->create, TG_ERR_CONFIG, "master key %s does not exist",
                 ctx->master_key_file);
        TG_TRY(tg_master_key_create(ctx->master_key_file));
        tg_log_info("created master key %s (keep it outside backups of %s)",
                    ctx->master_key_file, ctx->data_dir);
    }
    TG_TRY(tg_master_key_load(ctx->master_key_file, ctx->master));
    snprintf(path, sizeof(path), "%s/tollgate.db", ctx->data_dir);
    TG_TRY(tg_store_open_sqlite(path, &ctx->store));
    TG_TRY(tg_as_secret_key(ctx->store, ctx->master, ctx->secret_key));
    snprintf(path, sizeof(path), "%s/audit.log", ctx->data_dir);
    TG_TRY(tg_audit_open(path, &ctx->audit));
out:
    if (rv != TG_OK)
        tg_cli_close(ctx);
    return rv;
}

void
tg_cli_close(struct tg_cli_ctx *ctx)
{
    tg_audit_close(ctx->audit);
    tg_store_close(ctx->store);
    free(ctx->data_dir);
    free(ctx->master_key_file);
    tg_wipe(ctx->master, sizeof(ctx->master));
    tg_wipe(ctx->secret_key, sizeof(ctx->secret_key));
    memset(ctx, 0, sizeof(*ctx));
}
