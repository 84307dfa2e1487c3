#include "oauth/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "jose/b64url.h"
#include "jose/jws.h"

#define MAX_KEYS 16

#define AT_HEADER_MAX 256

struct ring_key {
    char kid[TG_THUMBPRINT_B64_LEN + 1];
    char at_header[AT_HEADER_MAX]; /* base64url of {"alg","typ":"at+jwt","kid"}, built once */
    enum tg_key_state state;
    struct tg_jwk jwk; /* private for next/current, public-capable for all */
    int64_t retired_at;
};

struct tg_keyring {
    pthread_rwlock_t lock; /* guards keys, n, jwks */
    struct tg_store *store;
    uint8_t master[TG_MASTER_KEY_LEN];
    struct tg_keyring_config cfg;
    struct ring_key keys[MAX_KEYS];
    size_t n;
    char *jwks;
};

static enum tg_err
parse_master(const char *text, size_t len, uint8_t out[TG_MASTER_KEY_LEN])
{
    size_t n = 0;

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    TG_ENSURE(len == 43, TG_ERR_CONFIG, "master key must be base64url of 32 octets");
    TG_ENSURE(tg_b64url_decode_to(tg_slice(text, len), out, TG_MASTER_KEY_LEN, &n) == TG_OK &&
                  n == TG_MASTER_KEY_LEN,
              TG_ERR_CONFIG, "master key is not valid base64url");
    return TG_OK;
}

enum tg_err
tg_master_key_load(const char *file, uint8_t out[TG_MASTER_KEY_LEN])
{
    const char *env = getenv(TG_MASTER_KEY_ENV);
    char buf[128];
    struct stat st;
    ssize_t n;
    int fd;

    if (env != NULL && env[0] != '\0')
        return parse_master(env, strlen(env), out);
    TG_ENSURE(file != NULL, TG_ERR_CONFIG, "no master key (set %s or a key file)",
              TG_MASTER_KEY_ENV);
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    TG_ENSURE(fd >= 0, TG_ERR_CONFIG, "master key file %s: %s", file, strerror(errno));
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
        close(fd);
        TG_ENSURE(0, TG_ERR_CONFIG, "master key file %s must have mode 0600", file);
    }
    n = read(fd, buf, sizeof(buf));
    close(fd);
    TG_ENSURE(n > 0, TG_ERR_CONFIG, "master key file %s is empty", file);
    {
        enum tg_err rv = parse_master(buf, (size_t)n, out);

        tg_wipe(buf, sizeof(buf));
        return rv;
    }
}

enum tg_err
tg_master_key_create(const char *file)
{
    uint8_t k[TG_MASTER_KEY_LEN];
    char text[64];
    size_t len;
    int fd;
    ssize_t w;

    TG_GUARD(tg_random(k, sizeof(k)));
    tg_b64url_encode_to(tg_slice(k, sizeof(k)), text);
    tg_wipe(k, sizeof(k));
    len = strlen(text);
    text[len++] = '\n';
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        tg_wipe(text, sizeof(text));
        TG_ENSURE(0, TG_ERR_CONFIG, "create master key %s: %s", file, strerror(errno));
    }
    w = write(fd, text, len);
    tg_wipe(text, sizeof(text));
    if (w != (ssize_t)len || fsync(fd) != 0) {
        close(fd);
        unlink(file);
        TG_ENSURE(0, TG_ERR_IO, "write master key %s", file);
    }
    close(fd);
    return TG_OK;
}

static void
aad_for(const char *kid, char *out, size_t cap)
{
    snprintf(out, cap, "tollgate-signing-key:%s", kid);
}

/* Make a new key, seal it and store it in `state`. */
static enum tg_err
create_key(struct tg_keyring *kr, enum tg_key_state state, int64_t now)
{
    enum tg_err rv = TG_OK;
    enum tg_key_type type;
    struct tg_key *key = NULL;
    struct tg_jwk jwk;
    json_t *priv = NULL, *pub = NULL;
    char *privs = NULL, *pubs = NULL, aad[128];
    struct tg_buf sealed;
    struct tg_signing_key_row row;

    memset(&jwk, 0, sizeof(jwk));
    memset(&row, 0, sizeof(row));
    tg_buf_init(&sealed, 65536);
    switch (kr->cfg.alg) {
    case TG_JWS_ES256:
        type = TG_KEY_EC_P256;
        break;
    case TG_JWS_ES384:
        type = TG_KEY_EC_P384;
        break;
    case TG_JWS_EDDSA:
        type = TG_KEY_ED25519;
        break;
    case TG_JWS_RS256:
    case TG_JWS_PS256:
        type = TG_KEY_RSA;
        break;
    default:
        TG_FAIL(TG_ERR_CONFIG, "unsupported signing alg");
    }
    TG_TRY(tg_key_generate(type, 2048, &key));
    TG_TRY(tg_jwk_from_key(key, kr->cfg.alg, NULL, &jwk));
    /* kid = RFC 7638 thumbprint of the key */
    jwk.kid = malloc(TG_THUMBPRINT_B64_LEN + 1);
    TG_CHECK(jwk.kid != NULL, TG_ERR_NOMEM, "kid");
    tg_thumbprint_b64(jwk.thumbprint, jwk.kid);
    TG_TRY(tg_jwk_private_json(&jwk, &priv));
    TG_TRY(tg_jwk_public_json(&jwk, &pub));
    privs = json_dumps(priv, JSON_COMPACT);
    pubs = json_dumps(pub, JSON_COMPACT);
    TG_CHECK(privs != NULL && pubs != NULL, TG_ERR_NOMEM, "dump key");
    aad_for(jwk.kid, aad, sizeof(aad));
    TG_TRY(tg_aead_seal(kr->master, tg_slice(aad, strlen(aad)), tg_slice(privs, strlen(privs)),
                        &sealed));
    row.kid = jwk.kid;
    row.alg = (char *)tg_jws_alg_name(kr->cfg.alg);
    row.state = state;
    row.sealed = sealed.p;
    row.sealed_len = sealed.len;
    row.public_jwk = pubs;
    row.created_at = now;
    row.activated_at = state == TG_KEYSTATE_CURRENT ? now : 0;
    TG_TRY(tg_store_key_put(kr->store, &row));
    tg_log_info("signing key %s created (%s)", jwk.kid,
                state == TG_KEYSTATE_CURRENT ? "current" : "next");
out:
    if (privs != NULL) {
        tg_wipe(privs, strlen(privs));
        free(privs);
    }
    free(pubs);
    json_decref(priv);
    json_decref(pub);
    tg_buf_reset(&sealed);
    tg_jwk_reset(&jwk);
    tg_key_free(key);
    return rv;
}

static void
clear_keys(struct tg_keyring *kr)
{
    size_t i;

    for (i = 0; i < kr->n; i++)
        tg_jwk_reset(&kr->keys[i].jwk);
    kr->n = 0;
    free(kr->jwks);
    kr->jwks = NULL;
}

static enum tg_err
open_row(struct tg_keyring *kr, const struct tg_signing_key_row *row, struct ring_key *rk)
{
    enum tg_err rv = TG_OK;
    struct tg_buf plain;
    char aad[128];

    tg_buf_init_secret(&plain, 65536);
    memset(rk, 0, sizeof(*rk));
    TG_CHECK(strlen(row->kid) <= TG_THUMBPRINT_B64_LEN, TG_ERR_STORE, "kid too long");
    aad_for(row->kid, aad, sizeof(aad));
    TG_TRY(tg_aead_open(kr->master, tg_slice(aad, strlen(aad)),
                        tg_slice(row->sealed, row->sealed_len), &plain));
    TG_TRY(tg_jwk_parse((const char *)plain.p, plain.len, TG_JWK_REQUIRE_PRIVATE, NULL, &rk->jwk));
    memcpy(rk->kid, row->kid, strlen(row->kid) + 1);
    free(rk->jwk.kid);
    rk->jwk.kid = strdup(row->kid);
    TG_CHECK(rk->jwk.kid != NULL, TG_ERR_NOMEM, "kid");
    TG_TRY(tg_jws_alg_parse(row->alg, &rk->jwk.alg));
    rk->state = row->state;
    rk->retired_at = row->retired_at;
    {
        char hdr[160];
        int n = snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
                         tg_jws_alg_name(rk->jwk.alg), rk->kid);

        TG_CHECK(n > 0 && (size_t)n < sizeof(hdr) &&
                     tg_b64url_encoded_len((size_t)n) < sizeof(rk->at_header),
                 TG_ERR_INTERNAL, "header");
        tg_b64url_encode_to(tg_slice(hdr, (size_t)n), rk->at_header);
    }
out:
    if (rv != TG_OK)
        tg_jwk_reset(&rk->jwk);
    tg_buf_reset(&plain);
    return rv;
}

static enum tg_err
build_jwks(struct tg_keyring *kr)
{
    json_t *doc = json_object(), *arr = json_array(), *pub;
    size_t i;
    enum tg_err rv = TG_OK;

    TG_CHECK(doc != NULL && arr != NULL, TG_ERR_NOMEM, "jwks");
    for (i = 0; i < kr->n; i++) {
        TG_TRY(tg_jwk_public_json(&kr->keys[i].jwk, &pub));
        TG_CHECK(json_array_append_new(arr, pub) == 0, TG_ERR_NOMEM, "jwks append");
    }
    TG_CHECK(json_object_set(doc, "keys", arr) == 0, TG_ERR_NOMEM, "jwks");
    free(kr->jwks);
    kr->jwks = json_dumps(doc, JSON_COMPACT);
    TG_CHECK(kr->jwks != NULL, TG_ERR_NOMEM, "jwks dump");
out:
    json_decref(arr);
    json_decref(doc);
    return rv;
}

/* Read every published key; the caller holds the write lock. */
static enum tg_err
load_locked(struct tg_keyring *kr)
{
    struct tg_signing_key_row *rows = NULL;
    size_t n = 0, i;
    enum tg_err rv = TG_OK;

    clear_keys(kr);
    TG_TRY(tg_store_key_list(kr->store, &rows, &n));
    for (i = 0; i < n && kr->n < MAX_KEYS; i++) {
        if (rows[i].state == TG_KEYSTATE_RETIRED)
            continue;
        TG_TRY(open_row(kr, &rows[i], &kr->keys[kr->n]));
        kr->n++;
    }
    TG_TRY(build_jwks(kr));
out:
    tg_store_key_list_free(rows, n);
    return rv;
}

static int
count_state(const struct tg_keyring *kr, enum tg_key_state st)
{
    size_t i;
    int c = 0;

    for (i = 0; i < kr->n; i++)
        c += kr->keys[i].state == st;
    return c;
}

enum tg_err
tg_keyring_open(struct tg_store *store, const uint8_t master[TG_MASTER_KEY_LEN],
                const struct tg_keyring_config *cfg, int64_t now, struct tg_keyring **out)
{
    struct tg_keyring *kr;
    enum tg_err rv = TG_OK;

    *out = NULL;
    kr = calloc(1, sizeof(*kr));
    TG_ENSURE(kr != NULL, TG_ERR_NOMEM, "keyring");
    pthread_rwlock_init(&kr->lock, NULL);
    kr->store = store;
    memcpy(kr->master, master, TG_MASTER_KEY_LEN);
    kr->cfg = *cfg;
    if (kr->cfg.alg == TG_JWS_ALG_UNSET)
        kr->cfg.alg = TG_JWS_ES256;
    if (kr->cfg.retire_after <= 0)
        kr->cfg.retire_after = 3600;
    TG_TRY(load_locked(kr));
    if (count_state(kr, TG_KEYSTATE_CURRENT) == 0) {
        TG_TRY(create_key(kr, TG_KEYSTATE_CURRENT, now));
        TG_TRY(load_locked(kr));
    }
    if (count_state(kr, TG_KEYSTATE_NEXT) == 0) {
        TG_TRY(create_key(kr, TG_KEYSTATE_NEXT, now));
        TG_TRY(load_locked(kr));
    }
    *out = kr;
    kr = NULL;
out:
    tg_keyring_free(kr);
    return rv;
}

void
tg_keyring_free(struct tg_keyring *kr)
{
    if (kr == NULL)
        return;
    clear_keys(kr);
    tg_wipe(kr->master, sizeof(kr->master));
    pthread_rwlock_destroy(&kr->lock);
    free(kr);
}

enum tg_err
tg_keyring_reload(struct tg_keyring *kr)
{
    enum tg_err rv;

    pthread_rwlock_wrlock(&kr->lock);
    rv = load_locked(kr);
    pthread_rwlock_unlock(&kr->lock);
    return rv;
}

enum tg_err
tg_keyring_rotate(struct tg_keyring *kr, int64_t now)
{
    enum tg_err rv = TG_OK;
    size_t i;
    int had_next = 0;

    pthread_rwlock_wrlock(&kr->lock);
    TG_TRY(tg_store_begin(kr->store));
    /* Another process (the CLI, another node) may have rotated since we
     * last looked: decide from what the store holds now. */
    TG_TRY(load_locked(kr));
    /* In this order, so that at no point two keys are current or next. */
    for (i = 0; i < kr->n; i++)
        if (kr->keys[i].state == TG_KEYSTATE_RETIRING &&
            now - kr->keys[i].retired_at >= kr->cfg.retire_after)
            TG_TRY(tg_store_key_set_state(kr->store, kr->keys[i].kid, TG_KEYSTATE_RETIRED, now));
    for (i = 0; i < kr->n; i++)
        if (kr->keys[i].state == TG_KEYSTATE_CURRENT)
            TG_TRY(tg_store_key_set_state(kr->store, kr->keys[i].kid, TG_KEYSTATE_RETIRING, now));
    for (i = 0; i < kr->n; i++) {
        if (kr->keys[i].state == TG_KEYSTATE_NEXT) {
            TG_TRY(tg_store_key_set_state(kr->store, kr->keys[i].kid, TG_KEYSTATE_CURRENT, now));
            had_next = 1;
        }
    }
    TG_TRY(create_key(kr, had_next ? TG_KEYSTATE_NEXT : TG_KEYSTATE_CURRENT, now));
    if (!had_next)
        TG_TRY(create_key(kr, TG_KEYSTATE_NEXT, now));
    TG_TRY(tg_store_commit(kr->store));
    TG_TRY(load_locked(kr));
out:
    if (rv != TG_OK) {
        tg_store_rollback(kr->store);
        (void)load_locked(kr);
    }
    pthread_rwlock_unlock(&kr->lock);
    return rv;
}

enum tg_err
tg_keyring_sign_text(struct tg_keyring *kr, const char *typ, struct tg_slice payload,
                     struct tg_buf *out)
{
    enum tg_err rv = TG_OK;
    struct tg_jwk signer;
    json_t *hdr = NULL;
    char at_header[AT_HEADER_MAX] = "";
    size_t i;

    memset(&signer, 0, sizeof(signer));
    pthread_rwlock_rdlock(&kr->lock);
    for (i = 0; i < kr->n; i++) {
        if (kr->keys[i].state == TG_KEYSTATE_CURRENT) {
            signer.key = tg_key_ref(kr->keys[i].jwk.key);
            signer.type = kr->keys[i].jwk.type;
            signer.alg = kr->keys[i].jwk.alg;
            signer.kid = strdup(kr->keys[i].kid);
            memcpy(at_header, kr->keys[i].at_header, sizeof(at_header));
            break;
        }
    }
    pthread_rwlock_unlock(&kr->lock);
    TG_CHECK(signer.key != NULL && signer.kid != NULL, TG_ERR_INTERNAL, "no current signing key");
    if (strcmp(typ, "at+jwt") == 0 && at_header[0] != '\0') {
        /* The access-token header never changes for a key: encoded once. */
        TG_TRY(tg_jws_sign_prepared(&signer, signer.alg, tg_slice(at_header, strlen(at_header)),
                                    payload, out));
    } else {
        hdr = json_pack("{s:s,s:s}", "typ", typ, "kid", signer.kid);
        TG_CHECK(hdr != NULL, TG_ERR_NOMEM, "token");
        TG_TRY(tg_jws_sign(&signer, signer.alg, hdr, payload, out));
    }
out:
    json_decref(hdr);
    tg_jwk_reset(&signer);
    return rv;
}

enum tg_err
tg_keyring_sign(struct tg_keyring *kr, const char *typ, const json_t *claims, struct tg_buf *out)
{
    char *payload = json_dumps(claims, JSON_COMPACT);
    enum tg_err rv;

    TG_ENSURE(payload != NULL, TG_ERR_NOMEM, "claims");
    rv = tg_keyring_sign_text(kr, typ, tg_slice(payload, strlen(payload)), out);
    free(payload);
    return rv;
}

enum tg_err
tg_keyring_find(struct tg_keyring *kr, const char *kid, struct tg_jwk *out)
{
    size_t i;
    enum tg_err rv = TG_ERR_NOT_FOUND;

    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&kr->lock);
    for (i = 0; i < kr->n; i++) {
        if (strcmp(kr->keys[i].kid, kid) == 0) {
            out->key = tg_key_ref(kr->keys[i].jwk.key);
            out->type = kr->keys[i].jwk.type;
            out->alg = kr->keys[i].jwk.alg;
            memcpy(out->thumbprint, kr->keys[i].jwk.thumbprint, TG_SHA256_LEN);
            rv = TG_OK;
            break;
        }
    }
    pthread_rwlock_unlock(&kr->lock);
    if (rv != TG_OK)
        tg_err_raise(rv, "no published key with this kid");
    return rv;
}

enum tg_err
tg_keyring_jwks(struct tg_keyring *kr, char **out)
{
    pthread_rwlock_rdlock(&kr->lock);
    *out = kr->jwks ? strdup(kr->jwks) : NULL;
    pthread_rwlock_unlock(&kr->lock);
    TG_ENSURE(*out != NULL, TG_ERR_NOMEM, "jwks copy");
    return TG_OK;
}

enum tg_err
tg_keyring_current_kid(struct tg_keyring *kr, char *out, size_t cap)
{
    size_t i;
    enum tg_err rv = TG_ERR_NOT_FOUND;

    pthread_rwlock_rdlock(&kr->lock);
    for (i = 0; i < kr->n; i++) {
        if (kr->keys[i].state == TG_KEYSTATE_CURRENT && strlen(kr->keys[i].kid) < cap) {
            memcpy(out, kr->keys[i].kid, strlen(kr->keys[i].kid) + 1);
            rv = TG_OK;
            break;
        }
    }
    pthread_rwlock_unlock(&kr->lock);
    return rv;
}
