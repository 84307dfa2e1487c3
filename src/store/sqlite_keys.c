/* Signing keys, revocations and blobs in the SQLite store. */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_impl.h"

#define KEY_COLS "kid, alg, state, sealed, public_jwk, created_at, activated_at, retired_at"
#define SQL_KEY_PUT                                                                       \
    "INSERT INTO signing_keys (" KEY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"     \
    " ON CONFLICT (kid) DO UPDATE SET alg = excluded.alg, state = excluded.state,"        \
    " sealed = excluded.sealed, public_jwk = excluded.public_jwk,"                        \
    " created_at = excluded.created_at, activated_at = excluded.activated_at,"            \
    " retired_at = excluded.retired_at"
/* 4 = TG_KEYSTATE_RETIRED */
#define SQL_KEY_LIST                                                                      \
    "SELECT " KEY_COLS " FROM signing_keys WHERE state <> 4 ORDER BY created_at, kid"
/* CURRENT (2) stamps activated_at; RETIRING (3) stamps retired_at, the
 * moment the key stopped signing; RETIRED (4) keeps that stamp. */
#define SQL_KEY_SET_STATE                                                                 \
    "UPDATE signing_keys SET state = ?2,"                                                 \
    " activated_at = CASE WHEN ?2 = 2 THEN ?3 ELSE activated_at END,"                     \
    " retired_at = CASE WHEN ?2 = 3 THEN ?3"                                              \
    "   WHEN ?2 = 4 AND retired_at = 0 THEN ?3 ELSE retired_at END"                       \
    " WHERE kid = ?1"

/* A jti revoked twice keeps the later expiry. */
#define SQL_REVOKE                                                                        \
    "INSERT INTO revocations (jti, exp) VALUES (?1, ?2)"                                  \
    " ON CONFLICT (jti) DO UPDATE SET exp = max(exp, excluded.exp)"
#define SQL_IS_REVOKED "SELECT 1 FROM revocations WHERE jti = ?1"
#define SQL_PURGE "DELETE FROM revocations WHERE exp < ?1"
#define SQL_REVOKED_LIST "SELECT jti FROM revocations"

#define SQL_BLOB_PUT                                                                      \
    "INSERT INTO blobs (name, value) VALUES (?1, ?2)"                                     \
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
#define SQL_BLOB_GET "SELECT value FROM blobs WHERE name = ?1"

static int
key_state_ok(int64_t st)
{
    return st >= TG_KEYSTATE_NEXT && st <= TG_KEYSTATE_RETIRED;
}

/* A BLOB column copied into malloc'd memory (never NULL on success, even
 * for an empty blob, so "present and empty" differs from "absent"). */
static enum tg_err
col_blobdup(sqlite3_stmt *st, int col, uint8_t **p, size_t *len)
{
    const void *v = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);

    *p = NULL;
    *len = 0;
    TG_ENSURE(n >= 0 && (v != NULL || n == 0), TG_ERR_NOMEM, "sqlite column blob");
    *p = malloc(n > 0 ? (size_t)n : 1);
    TG_ENSURE(*p != NULL, TG_ERR_NOMEM, "copy blob");
    if (n > 0)
        memcpy(*p, v, (size_t)n);
    *len = (size_t)n;
    return TG_OK;
}

/* ---- signing keys ---- */

enum tg_err
tg_store_key_put(struct tg_store *s, const struct tg_signing_key_row *k)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    int rc = SQLITE_OK;

    TG_ENSURE(s != NULL && k != NULL && k->kid != NULL, TG_ERR_INVALID_ARG,
              "key put: missing argument");
    TG_ENSURE(key_state_ok(k->state), TG_ERR_INVALID_ARG, "key %s: bad state", k->kid);
    TG_ENSURE(k->sealed != NULL || k->sealed_len == 0, TG_ERR_INVALID_ARG,
              "key %s: sealed key missing", k->kid);
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, SQ_KEY_PUT, SQL_KEY_PUT, &st));
    tg_sq_bind_text(st, 1, k->kid, &rc);
    tg_sq_bind_text(st, 2, k->alg, &rc);
    tg_sq_bind_int64(st, 3, k->state, &rc);
    tg_sq_bind_blob(st, 4, k->sealed, k->sealed_len, &rc);
    tg_sq_bind_text(st, 5, k->public_jwk, &rc);
    tg_sq_bind_int64(st, 6, k->created_at, &rc);
    tg_sq_bind_int64(st, 7, k->activated_at, &rc);
    tg_sq_bind_int64(st, 8, k->retired_at, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "key bind"));
    /* A second CURRENT key violates signing_keys_one_current: TG_ERR_CONFLICT. */
    TG_TRY(tg_sq_step_done(s, st, "key put"));
out:
    tg_sq_done(st);
    return tg_sq_unlock(s, rv);
}

static enum tg_err
read_key(sqlite3_stmt *st, struct tg_signing_key_row *k)
{
    int64_t state = sqlite3_column_int64(st, 2);

    memset(k, 0, sizeof(*k));
    TG_ENSURE(key_state_ok(state), TG_ERR_STORE, "signing_keys row: bad state");
    k->state = (enum tg_key_state)state;
    k->created_at = sqlite3_column_int64(st, 5);
    k->activated_at = sqlite3_column_int64(st, 6);
    k->retired_at = sqlite3_column_int64(st, 7);
    TG_GUARD(tg_sq_col_strdup(st, 0, &k->kid));
    TG_GUARD(tg_sq_col_strdup(st, 1, &k->alg));
    TG_GUARD(col_blobdup(st, 3, &k->sealed, &k->sealed_len));
    TG_GUARD(tg_sq_col_strdup(st, 4, &k->public_jwk));
    return TG_OK;
}

enum tg_err
tg_store_key_list(struct tg_store *s, struct tg_signing_key_row **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct tg_signing_key_row *list = NULL, *grown;
    size_t len = 0, cap = 0;
    enum tg_err rv;
    int rc;

    TG_ENSURE(s != NULL && out != NULL && n != NULL, TG_ERR_INVALID_ARG,
              "key list: missing argument");
    *out = NULL;
    *n = 0;
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, SQ_KEY_LIST, SQL_KEY_LIST, &st));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            grown = realloc(list, cap * sizeof(*list));
            TG_CHECK(grown != NULL, TG_ERR_NOMEM, "key list");
            list = grown;
        }
        rv = read_key(st, &list[len]);
        len++;
        TG_TRY(rv);
    }
    if (rc != SQLITE_DONE)
        TG_TRY(tg_sq_error(s, rc, "key list"));
    *out = list;
    *n = len;
    list = NULL;
    len = 0;
out:
    tg_sq_done(st);
    rv = tg_sq_unlock(s, rv);
    tg_store_key_list_free(list, len);
    return rv;
}

enum tg_err
tg_store_key_set_state(struct tg_store *s, const char *kid, enum tg_key_state state, int64_t now)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    int rc = SQLITE_OK;

    TG_ENSURE(s != NULL && kid != NULL, TG_ERR_INVALID_ARG, "key set state: missing argument");
    TG_ENSURE(key_state_ok(state), TG_ERR_INVALID_ARG, "key %s: bad state", kid);
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, SQ_KEY_SET_STATE, SQL_KEY_SET_STATE, &st));
    tg_sq_bind_text(st, 1, kid, &rc);
    tg_sq_bind_int64(st, 2, state, &rc);
    tg_sq_bind_int64(st, 3, now, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "key bind"));
    TG_TRY(tg_sq_step_done(s, st, "key set state"));
    TG_CHECK(sqlite3_changes(s->db) > 0, TG_ERR_NOT_FOUND, "key %s not found", kid);
out:
    tg_sq_done(st);
    return tg_sq_unlock(s, rv);
}

/* ---- revocations ---- */

enum tg_err
tg_store_revoke(struct tg_store *s, const char *jti, int64_t exp)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    int rc = SQLITE_OK;

    TG_ENSURE(s != NULL && jti != NULL, TG_ERR_INVALID_ARG, "revoke: missing argument");
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, SQ_REVOKE, SQL_REVOKE, &st));
    tg_sq_bind_text(st, 1, jti, &rc);
    tg_sq_bind_int64(st, 2, exp, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "revoke bind"));
    TG_TRY(tg_sq_step_done(s, st, "revoke"));
out:
    tg_sq_done(st);
    return tg_sq_unlock(s, rv);
}

int
tg_store_is_revoked(struct tg_store *s, const char *jti)
{
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_OK, result = -1;

    if (s == NULL || jti == NULL) {
        tg_err_raise(TG_ERR_INVALID_ARG, "is_revoked: missing argument");
        return -1;
    }
    if (tg_sq_lock(s) != TG_OK)
        return -1;
    if (tg_sq_prepare(s, SQ_IS_REVOKED, SQL_IS_REVOKED, &st) != TG_OK)
        goto out;
    tg_sq_bind_text(st, 1, jti, &rc);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        result = 1;
    else if (rc == SQLITE_DONE)
        result = 0;
    else if (tg_sq_error(s, rc, "is_revoked") != TG_OK)
        result = -1; /* records the detail; fail closed */
out:
    tg_sq_done(st);
    (void)tg_sq_unlock(s, result < 0 ? TG_ERR_STORE : TG_OK);
    return result;
}

enum tg_err
tg_store_purge_expired(struct tg_store *s, int64_t now)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    int rc = SQLITE_OK;

    TG_ENSURE(s != NULL, TG_ERR_INVALID_ARG, "purge: no store");
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, SQ_PURGE, SQL_PURGE, &st));
    tg_sq_bind_int64(st, 1, now, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "purge bind"));
    TG_TRY(tg_sq_step_done(s, st, "purge"));
out:
    tg_sq_done(st);
    return tg_sq_unlock(s, rv);
}

/* ---- blobs ---- */

enum tg_err
tg_store_blob_put(struct tg_store *s, const char *name, const uint8_t *p, size_t len)
{
    static const uint8_t empty[1];
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    int rc = SQLITE_OK;

    TG_ENSURE(s != NULL && name != NULL && (p != NULL || len == 0), TG_ERR_INVALID_ARG,
              "blob put: missing argument");
    TG_ENSURE(len <= TG_STORE_BLOB_MAX, TG_ERR_TOO_LARGE, "blob %s: %zu bytes", name, len);
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, SQ_BLOB_PUT, SQL_BLOB_PUT, &st));
    tg_sq_bind_text(st, 1, name, &rc);
    tg_sq_bind_blob(st, 2, p != NULL ? p : empty, len, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "blob bind"));
    TG_TRY(tg_sq_step_done(s, st, "blob put"));
out:
    tg_sq_done(st);
    return tg_sq_unlock(s, rv);
}

enum tg_err
tg_store_blob_get(struct tg_store *s, const char *name, uint8_t **p, size_t *len)
{
    sqlite3_stmt *st = NULL;
    enum tg_err rv;
    int rc = SQLITE_OK;

    TG_ENSURE(s != NULL && name != NULL && p != NULL && len != NULL, TG_ERR_INVALID_ARG,
              "blob get: missing argument");
    *p = NULL;
    *len = 0;
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, SQ_BLOB_GET, SQL_BLOB_GET, &st));
    tg_sq_bind_text(st, 1, name, &rc);
    if (rc != SQLITE_OK)
        TG_TRY(tg_sq_error(s, rc, "blob bind"));
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        TG_FAIL(TG_ERR_NOT_FOUND, "blob %s not found", name);
    if (rc != SQLITE_ROW)
        TG_TRY(tg_sq_error(s, rc, "blob get"));
    TG_TRY(col_blobdup(st, 0, p, len));
out:
    tg_sq_done(st);
    return tg_sq_unlock(s, rv);
}

void
tg_store_revocation_list_free(char **jtis, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(jtis[i]);
    free(jtis);
}

enum tg_err
tg_store_revocation_list(struct tg_store *s, char ***jtis, size_t *n)
{
    sqlite3_stmt *st = NULL;
    char **list = NULL, **grown;
    size_t cap = 0, count = 0;
    enum tg_err rv;
    int rc;

    *jtis = NULL;
    *n = 0;
    TG_GUARD(tg_sq_lock(s));
    TG_TRY(tg_sq_prepare(s, SQ_REVOKED_LIST, SQL_REVOKED_LIST, &st));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *j = sqlite3_column_text(st, 0);

        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            grown = realloc(list, cap * sizeof(*list));
            TG_CHECK(grown != NULL, TG_ERR_NOMEM, "revocation list");
            list = grown;
        }
        list[count] = strdup(j ? (const char *)j : "");
        TG_CHECK(list[count] != NULL, TG_ERR_NOMEM, "revocation list");
        count++;
    }
    if (rc != SQLITE_DONE)
        TG_TRY(tg_sq_error(s, rc, "revocation list"));
    *jtis = list;
    *n = count;
    list = NULL;
    count = 0;
out:
    tg_store_revocation_list_free(list, count);
    tg_sq_done(st);
    return tg_sq_unlock(s, rv);
}
