#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#include "jose/jwt.h"
#include "oauth/keys.h"

static char dir[] = "/tmp/tg-keys-XXXXXX";
static char dbpath[256], mkpath[256];

static int
jwks_has(struct tg_keyring *kr, const char *kid)
{
    char *j = NULL;
    int r;

    if (tg_keyring_jwks(kr, &j) != TG_OK)
        return 0;
    r = strstr(j, kid) != NULL && strstr(j, "\"d\"") == NULL;
    free(j);
    return r;
}

static enum tg_err
sign_verify(struct tg_keyring *signer, struct tg_keyring *verifier, char *kid_out)
{
    json_t *claims = json_pack("{s:s}", "sub", "x");
    struct tg_buf out;
    struct tg_jws jws;
    struct tg_jwk key;
    const char *tok;
    enum tg_err rv;

    tg_buf_init(&out, 65536);
    memset(&jws, 0, sizeof(jws));
    memset(&key, 0, sizeof(key));
    rv = tg_keyring_sign(signer, "at+jwt", claims, &out);
    if (rv == TG_OK)
        rv = tg_buf_cstr(&out, &tok);
    if (rv == TG_OK)
        rv = tg_jws_parse(tg_slice(tok, strlen(tok)), NULL, &jws);
    if (rv == TG_OK && kid_out != NULL)
        snprintf(kid_out, 64, "%s", jws.kid);
    if (rv == TG_OK)
        rv = tg_keyring_find(verifier, jws.kid, &key);
    if (rv == TG_OK)
        rv = tg_jws_verify(&jws, &key);
    tg_jwk_reset(&key);
    tg_jws_reset(&jws);
    tg_buf_reset(&out);
    json_decref(claims);
    return rv;
}

static void
test_master_key_file(void)
{
    uint8_t k1[32], k2[32];
    struct stat st;

    unsetenv(TG_MASTER_KEY_ENV);
    CHECK_OK(tg_master_key_create(mkpath));
    CHECK(stat(mkpath, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_ERR(tg_master_key_create(mkpath), TG_ERR_CONFIG); /* never overwritten */
    CHECK_OK(tg_master_key_load(mkpath, k1));
    CHECK_OK(tg_master_key_load(mkpath, k2));
    CHECK(memcmp(k1, k2, 32) == 0);
    chmod(mkpath, 0644);
    CHECK_ERR(tg_master_key_load(mkpath, k1), TG_ERR_CONFIG); /* readable by others */
    chmod(mkpath, 0600);
    setenv(TG_MASTER_KEY_ENV, "short", 1);
    CHECK_ERR(tg_master_key_load(mkpath, k1), TG_ERR_CONFIG);
    setenv(TG_MASTER_KEY_ENV, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1);
    CHECK_OK(tg_master_key_load(NULL, k1));
    unsetenv(TG_MASTER_KEY_ENV);
    CHECK_ERR(tg_master_key_load("/nonexistent/key", k1), TG_ERR_CONFIG);
}

static void
test_rotation(void)
{
    struct tg_store *st = NULL;
    struct tg_keyring *kr = NULL, *other = NULL, *wrong = NULL;
    struct tg_keyring_config cfg = {TG_JWS_ES256, 100};
    uint8_t master[32], bad[32];
    char kid1[64] = "", kid2[64] = "", cur[64];
    struct tg_signing_key_row *rows = NULL;
    size_t n = 0, i;
    int leaked = 0;

    memset(master, 1, sizeof(master));
    memset(bad, 2, sizeof(bad));
    CHECK_OK(tg_store_open_sqlite(dbpath, &st));
    if (st == NULL)
        return;
    CHECK_OK(tg_keyring_open(st, master, &cfg, 1000, &kr));
    if (kr == NULL)
        goto out;
    CHECK_OK(sign_verify(kr, kr, kid1));
    CHECK_OK(tg_keyring_current_kid(kr, cur, sizeof(cur)));
    CHECK(strcmp(cur, kid1) == 0);
    /* A second server on the same store sees the same keys. */
    CHECK_OK(tg_keyring_open(st, master, &cfg, 1000, &other));
    CHECK_OK(sign_verify(kr, other, NULL));
    /* The wrong master key cannot open them. */
    CHECK_ERR(tg_keyring_open(st, bad, &cfg, 1000, &wrong), TG_ERR_DECRYPT);
    /* Private keys are stored sealed: no "d" in clear in the store. */
    CHECK_OK(tg_store_key_list(st, &rows, &n));
    for (i = 0; i < n; i++)
        if (memmem(rows[i].sealed, rows[i].sealed_len, "\"d\"", 3) != NULL ||
            strstr(rows[i].public_jwk, "\"d\"") != NULL)
            leaked = 1;
    CHECK(!leaked && n == 2);
    tg_store_key_list_free(rows, n);

    /* Rotate: the next key signs, the old one stays published (retiring). */
    CHECK_OK(tg_keyring_rotate(kr, 1010));
    CHECK_OK(sign_verify(kr, kr, kid2));
    CHECK(strcmp(kid1, kid2) != 0);
    CHECK(jwks_has(kr, kid1) && jwks_has(kr, kid2));
    /* The other server, reloaded, still verifies tokens of both keys. */
    CHECK_OK(tg_keyring_reload(other));
    CHECK_OK(sign_verify(other, other, NULL));
    {
        struct tg_jwk k;

        CHECK_OK(tg_keyring_find(other, kid1, &k));
        tg_jwk_reset(&k);
    }
    /* After retire_after, the next rotation unpublishes kid1. */
    CHECK_OK(tg_keyring_rotate(kr, 1200));
    CHECK(!jwks_has(kr, kid1) && jwks_has(kr, kid2));
    {
        struct tg_jwk k;

        CHECK_ERR(tg_keyring_find(kr, kid1, &k), TG_ERR_NOT_FOUND);
    }
out:
    tg_keyring_free(kr);
    tg_keyring_free(other);
    tg_keyring_free(wrong);
    tg_store_close(st);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(dbpath, sizeof(dbpath), "%s/t.db", dir);
    snprintf(mkpath, sizeof(mkpath), "%s.master-key", dir);
    RUN(test_master_key_file);
    RUN(test_rotation);
    unlink(mkpath);
    {
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup failed\n");
    }
    return t_report("oauth/keys");
}
