/* jose_peer: a test-only CLI that exposes Tollgate's JOSE core to the
 * cross-implementation tests (jwcrypto_interop.py). Not installed, not
 * registered with ctest; the scripts drive it.
 *
 *   jose_peer gen ALG OUTFILE            private JWK for ALG, written 0600
 *   jose_peer sign PRIVJWK_FILE ALG      payload on stdin, compact JWS out
 *   jose_peer verify JWK_FILE            compact JWS on stdin, payload out
 *   jose_peer thumbprint JWK_FILE        RFC 7638 thumbprint, base64url
 *   jose_peer pubjwk PRIVJWK_FILE        the public JWK
 *
 * On failure the first line on stderr is the error's name (tg_err_name), so
 * a script can tell one refusal from another; exit 1. Usage errors exit 2.
 * Key material goes only to OUTFILE, never to stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "jose/alg.h"
#include "jose/jwk.h"
#include "jose/jws.h"

#define PEER_RSA_BITS 2048

static void
report(const char *what, enum tg_err err)
{
    const char *detail = tg_err_detail();

    fprintf(stderr, "%s\n", tg_err_name(err));
    fprintf(stderr, "jose_peer: %s: %s", what, tg_err_description(err));
    if (detail != NULL && detail[0] != '\0')
        fprintf(stderr, " (%s)", detail);
    fputc('\n', stderr);
}

static int
usage(void)
{
    fprintf(stderr, "usage: jose_peer gen ALG OUTFILE\n"
                    "       jose_peer sign PRIVJWK_FILE ALG < payload\n"
                    "       jose_peer verify JWK_FILE < jws\n"
                    "       jose_peer thumbprint JWK_FILE\n"
                    "       jose_peer pubjwk PRIVJWK_FILE\n");
    return 2;
}

/* Read all of `f` (at most `cap` bytes) into a NUL-terminated buffer that
 * the caller frees; NULL on error, already reported. */
static char *
read_all(FILE *f, const char *name, size_t cap, size_t *len)
{
    char *buf = NULL;
    size_t n = 0, r;

    buf = malloc(cap + 1);
    if (buf == NULL) {
        fprintf(stderr, "jose_peer: %s: out of memory\n", name);
        goto fail;
    }
    while ((r = fread(buf + n, 1, cap + 1 - n, f)) > 0) {
        n += r;
        if (n > cap) {
            fprintf(stderr, "jose_peer: %s: larger than %zu bytes\n", name, cap);
            goto fail;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "jose_peer: %s: read error\n", name);
        goto fail;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    free(buf);
    return NULL;
}

static char *
read_path(const char *path, size_t cap, size_t *len)
{
    FILE *f;
    char *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "jose_peer: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    buf = read_all(f, path, cap, len);
    fclose(f);
    return buf;
}

static void
wipe_free(char *p, size_t len)
{
    if (p == NULL)
        return;
    explicit_bzero(p, len);
    free(p);
}

/* Load a JWK from a file. With `by_d`, a JWK without "d" is parsed as
 * public-only (the rule for keys that must not carry private members). */
static int
load_jwk(const char *path, int by_d, struct tg_jwk *out)
{
    json_t *obj = NULL;
    json_error_t jerr;
    char *text = NULL;
    size_t len = 0;
    unsigned flags = 0;
    enum tg_err rv;
    int ret = 1;

    text = read_path(path, TG_JWK_MAX_JSON, &len);
    if (text == NULL)
        goto out;
    if (by_d) {
        obj = json_loadb(text, len, 0, &jerr);
        if (obj != NULL && json_is_object(obj) && json_object_get(obj, "d") == NULL)
            flags = TG_JWK_PUBLIC_ONLY;
    }
    tg_err_clear();
    rv = tg_jwk_parse(text, len, flags, NULL, out);
    if (rv != TG_OK) {
        report("JWK", rv);
        goto out;
    }
    ret = 0;
out:
    json_decref(obj);
    wipe_free(text, len);
    return ret;
}

static enum tg_err
key_type_for(enum tg_jws_alg alg, enum tg_key_type *out)
{
    switch (alg) {
    case TG_JWS_ES256:
        *out = TG_KEY_EC_P256;
        return TG_OK;
    case TG_JWS_ES384:
        *out = TG_KEY_EC_P384;
        return TG_OK;
    case TG_JWS_EDDSA:
        *out = TG_KEY_ED25519;
        return TG_OK;
    case TG_JWS_RS256:
    case TG_JWS_PS256:
        *out = TG_KEY_RSA;
        return TG_OK;
    default:
        return TG_ERR_JWS_ALG_UNKNOWN;
    }
}

static int
write_secret_file(const char *path, const char *text)
{
    size_t len = strlen(text), off = 0;
    ssize_t w;
    int fd, ret = 1;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "jose_peer: %s: %s\n", path, strerror(errno));
        return 1;
    }
    /* The file may have existed with a wider mode. */
    if (fchmod(fd, 0600) != 0) {
        fprintf(stderr, "jose_peer: %s: chmod: %s\n", path, strerror(errno));
        goto out;
    }
    while (off < len) {
        w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "jose_peer: %s: %s\n", path, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    ret = 0;
out:
    if (close(fd) != 0 && ret == 0) {
        fprintf(stderr, "jose_peer: %s: close: %s\n", path, strerror(errno));
        ret = 1;
    }
    return ret;
}

static int
cmd_gen(const char *alg_name, const char *outfile)
{
    struct tg_key *key = NULL;
    struct tg_jwk jwk;
    enum tg_jws_alg alg;
    enum tg_key_type type;
    json_t *obj = NULL;
    char *text = NULL;
    enum tg_err rv;
    int ret = 1, have_jwk = 0;

    memset(&jwk, 0, sizeof(jwk));
    tg_err_clear();
    rv = tg_jws_alg_parse(alg_name, &alg);
    if (rv == TG_OK)
        rv = key_type_for(alg, &type);
    if (rv != TG_OK) {
        report("alg", rv);
        goto out;
    }
    rv = tg_key_generate(type, type == TG_KEY_RSA ? PEER_RSA_BITS : 0, &key);
    if (rv != TG_OK) {
        report("generate", rv);
        goto out;
    }
    /* The key names its alg (RFC 7517 §4.4), as a deployed key would. */
    rv = tg_jwk_from_key(key, alg, NULL, &jwk);
    if (rv != TG_OK) {
        report("jwk", rv);
        goto out;
    }
    have_jwk = 1;
    rv = tg_jwk_private_json(&jwk, &obj);
    if (rv != TG_OK) {
        report("export", rv);
        goto out;
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL) {
        fprintf(stderr, "jose_peer: export: out of memory\n");
        goto out;
    }
    ret = write_secret_file(outfile, text);
out:
    if (text != NULL)
        wipe_free(text, strlen(text));
    json_decref(obj);
    if (have_jwk)
        tg_jwk_reset(&jwk);
    tg_key_free(key);
    return ret;
}

static int
cmd_sign(const char *jwk_path, const char *alg_name)
{
    struct tg_jwk jwk;
    struct tg_buf out;
    enum tg_jws_alg alg;
    json_t *extra = NULL;
    char *payload = NULL;
    size_t plen = 0;
    enum tg_err rv;
    int ret = 1, have_jwk = 0;

    memset(&jwk, 0, sizeof(jwk));
    tg_buf_init(&out, TG_JWS_MAX_LEN);
    tg_err_clear();
    rv = tg_jws_alg_parse(alg_name, &alg);
    if (rv != TG_OK) {
        report("alg", rv);
        goto out;
    }
    if (load_jwk(jwk_path, 0, &jwk) != 0)
        goto out;
    have_jwk = 1;
    payload = read_all(stdin, "stdin", TG_JWS_MAX_LEN, &plen);
    if (payload == NULL)
        goto out;
    extra = json_pack("{s:s}", "typ", "JWT");
    if (extra == NULL) {
        fprintf(stderr, "jose_peer: sign: out of memory\n");
        goto out;
    }
    rv = tg_jws_sign(&jwk, alg, extra, tg_slice(payload, plen), &out);
    if (rv != TG_OK) {
        report("sign", rv);
        goto out;
    }
    if (fwrite(out.p, 1, out.len, stdout) != out.len || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0) {
        fprintf(stderr, "jose_peer: sign: write error\n");
        goto out;
    }
    ret = 0;
out:
    json_decref(extra);
    free(payload);
    tg_buf_reset(&out);
    if (have_jwk)
        tg_jwk_reset(&jwk);
    return ret;
}

static int
cmd_verify(const char *jwk_path)
{
    struct tg_jwk jwk;
    struct tg_jws jws;
    char *token = NULL;
    size_t len = 0;
    enum tg_err rv;
    int ret = 1, have_jwk = 0, have_jws = 0;

    memset(&jwk, 0, sizeof(jwk));
    memset(&jws, 0, sizeof(jws));
    if (load_jwk(jwk_path, 1, &jwk) != 0)
        goto out;
    have_jwk = 1;
    token = read_all(stdin, "stdin", TG_JWS_MAX_LEN, &len);
    if (token == NULL)
        goto out;
    /* Tolerate the line end a shell pipe adds; nothing else. */
    while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'))
        token[--len] = '\0';
    tg_err_clear();
    rv = tg_jws_parse(tg_slice(token, len), NULL, &jws);
    if (rv != TG_OK) {
        report("parse", rv);
        goto out;
    }
    have_jws = 1;
    tg_err_clear();
    rv = tg_jws_verify(&jws, &jwk);
    if (rv != TG_OK) {
        report("verify", rv);
        goto out;
    }
    if (fwrite(jws.payload, 1, jws.payload_len, stdout) != jws.payload_len ||
        fflush(stdout) != 0) {
        fprintf(stderr, "jose_peer: verify: write error\n");
        goto out;
    }
    ret = 0;
out:
    if (have_jws)
        tg_jws_reset(&jws);
    free(token);
    if (have_jwk)
        tg_jwk_reset(&jwk);
    return ret;
}

static int
cmd_thumbprint(const char *jwk_path)
{
    struct tg_jwk jwk;
    char tp[TG_THUMBPRINT_B64_LEN + 1];

    if (load_jwk(jwk_path, 0, &jwk) != 0)
        return 1;
    tg_thumbprint_b64(jwk.thumbprint, tp);
    tg_jwk_reset(&jwk);
    printf("%s\n", tp);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int
cmd_pubjwk(const char *jwk_path)
{
    struct tg_jwk jwk;
    json_t *obj = NULL;
    char *text = NULL;
    enum tg_err rv;
    int ret = 1;

    if (load_jwk(jwk_path, 0, &jwk) != 0)
        return 1;
    tg_err_clear();
    rv = tg_jwk_public_json(&jwk, &obj);
    if (rv != TG_OK) {
        report("export", rv);
        goto out;
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL) {
        fprintf(stderr, "jose_peer: export: out of memory\n");
        goto out;
    }
    printf("%s\n", text);
    ret = fflush(stdout) == 0 ? 0 : 1;
out:
    free(text);
    json_decref(obj);
    tg_jwk_reset(&jwk);
    return ret;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "gen") == 0 && argc == 4)
        return cmd_gen(argv[2], argv[3]);
    if (strcmp(argv[1], "sign") == 0 && argc == 4)
        return cmd_sign(argv[2], argv[3]);
    if (strcmp(argv[1], "verify") == 0 && argc == 3)
        return cmd_verify(argv[2]);
    if (strcmp(argv[1], "thumbprint") == 0 && argc == 3)
        return cmd_thumbprint(argv[2]);
    if (strcmp(argv[1], "pubjwk") == 0 && argc == 3)
        return cmd_pubjwk(argv[2]);
    return usage();
}
