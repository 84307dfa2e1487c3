/* tollgate: the daemon and the command-line tool in one binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "tollgate.h"

struct subcommand {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct subcommand subcommands[] = {
    {"version", "print the version", cmd_version},
    {"help", "list the subcommands", cmd_help},
    {"serve", "run the server (--dev: a ready-to-use local setup)", tg_cmd_serve},
    {"jwk", "JWK tools: thumbprint (RFC 7638) of a JWK", tg_cmd_jwk},
    {"cert", "certificate tools: x5t#S256 (RFC 8705) of a PEM certificate", tg_cmd_cert},
    {"agent", "agents: add, list, show, disable, enable, rotate-secret, remove", tg_cmd_agent},
    {"apply", "apply a policy file (agents, tools, grants) in one transaction", tg_cmd_apply},
    {"keys", "signing keys: rotate, list", tg_cmd_keys},
};

#define NSUB (sizeof(subcommands) / sizeof(subcommands[0]))

static int
cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tollgate %s\n", tollgate_version());
    return 0;
}

static void
usage(FILE *f)
{
    size_t i;

    fprintf(f, "tollgate %s - identity and access management for AI agents\n\n",
            tollgate_version());
    fprintf(f, "usage: tollgate <subcommand> [options]\n\nsubcommands:\n");
    for (i = 0; i < NSUB; i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
}

static int
cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return 0;
}

#ifdef TG_JEMALLOC
/* jemalloc's options (its `malloc_conf`; MALLOC_CONF in the environment
 * still adds to them): return freed memory to the system from a background
 * thread, not inline in whichever request frees or allocates next — inline
 * purging put 10-25 ms stalls into the token endpoint's p99 at half load. */
__attribute__((visibility("default"))) const char *malloc_conf = "background_thread:true";
#endif

int
main(int argc, char **argv)
{
    size_t i;

    /* Before jansson allocates anything (core/mem.h). */
    tg_json_wipe_install();
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        return cmd_version(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(argc - 1, argv + 1);
    for (i = 0; i < NSUB; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tollgate: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
