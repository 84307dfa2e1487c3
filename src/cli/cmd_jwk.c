/* tollgate jwk thumbprint [FILE] / tollgate cert x5t [FILE]: print the
 * RFC 7638 thumbprint of a JWK or the RFC 8705 x5t#S256 of a certificate.
 * Neither prints key material. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "crypto/crypto.h"
#include "jose/jwk.h"

char *
tg_cli_read_file(const char *path, size_t cap, size_t *len)
{
    FILE *f = stdin;
    char *buf = NULL;
    size_t n = 0, r;

    if (path != NULL && strcmp(path, "-") != 0) {
        f = fopen(path, "rb");
        if (f == NULL) {
            fprintf(stderr, "tollgate: %s: %s\n", path, strerror(errno));
            return NULL;
        }
    }
    buf = malloc(cap + 1);
    if (buf == NULL)
        goto fail;
    while ((r = fread(buf + n, 1, cap + 1 - n, f)) > 0) {
        n += r;
        if (n > cap) {
            fprintf(stderr, "tollgate: input larger than %zu bytes\n", cap);
            goto fail;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "tollgate: read error\n");
        goto fail;
    }
    buf[n] = '\0';
    *len = n;
    if (f != stdin)
        fclose(f);
    return buf;
fail:
    free(buf);
    if (f != stdin)
        fclose(f);
    return NULL;
}

int
tg_cmd_jwk(int argc, char **argv)
{
    struct tg_jwk jwk;
    char tp[TG_THUMBPRINT_B64_LEN + 1];
    char *text;
    size_t len;
    enum tg_err rv;

    if (argc < 2 || strcmp(argv[1], "thumbprint") != 0 || argc > 3) {
        fprintf(stderr, "usage: tollgate jwk thumbprint [FILE|-]\n");
        return 2;
    }
    text = tg_cli_read_file(argc == 3 ? argv[2] : NULL, TG_JWK_MAX_JSON, &len);
    if (text == NULL)
        return 1;
    rv = tg_jwk_parse(text, len, 0, NULL, &jwk);
    free(text);
    if (rv != TG_OK) {
        fprintf(stderr, "tollgate: invalid JWK: %s (%s)\n", tg_err_description(rv),
                tg_err_name(rv));
        return 1;
    }
    tg_thumbprint_b64(jwk.thumbprint, tp);
    printf("%s\n", tp);
    tg_jwk_reset(&jwk);
    return 0;
}

int
tg_cmd_cert(int argc, char **argv)
{
    struct tg_buf der;
    char tp[TG_THUMBPRINT_B64_LEN + 1];
    char *text;
    size_t len;
    enum tg_err rv;

    if (argc < 2 || strcmp(argv[1], "x5t") != 0 || argc > 3) {
        fprintf(stderr, "usage: tollgate cert x5t [FILE|-]\n");
        return 2;
    }
    text = tg_cli_read_file(argc == 3 ? argv[2] : NULL, 65536, &len);
    if (text == NULL)
        return 1;
    tg_buf_init(&der, 65536);
    rv = tg_cert_pem_to_der(text, len, &der);
    free(text);
    if (rv == TG_OK)
        rv = tg_x5t_s256(tg_slice(der.p, der.len), tp);
    tg_buf_reset(&der);
    if (rv != TG_OK) {
        fprintf(stderr, "tollgate: %s (%s)\n", tg_err_description(rv), tg_err_name(rv));
        return 1;
    }
    printf("%s\n", tp);
    return 0;
}
