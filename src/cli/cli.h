#ifndef TG_CLI_CLI_H
#define TG_CLI_CLI_H

/* Each subcommand: argc/argv start at the subcommand's own name. Returns the
 * process exit status (0 ok, 1 failure, 2 usage). */
int tg_cmd_jwk(int argc, char **argv);
int tg_cmd_cert(int argc, char **argv);

/* Read a whole file ("-" or NULL: stdin) up to `cap` bytes; NUL-terminated.
 * Returns NULL (and prints why) on failure. */
char *tg_cli_read_file(const char *path, size_t cap, size_t *len);

#endif
