/* Signing keys of the authorization server. Private keys are sealed
 * (AES-256-GCM) under a master key that lives outside the data directory;
 * the store only ever sees sealed blobs. Three published states:
 *   next      published, not yet signing (verifiers learn it in advance)
 *   current   signs every new token
 *   retiring  published until every token it signed has expired
 * so no token fails verification across a rotation. */
#ifndef TG_OAUTH_KEYS_H
#define TG_OAUTH_KEYS_H

#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "jose/jwk.h"
#include "store/store.h"

#define TG_MASTER_KEY_LEN 32
#define TG_MASTER_KEY_ENV "TOLLGATE_MASTER_KEY"

/* The master key: from the environment variable TOLLGATE_MASTER_KEY
 * (base64url of 32 octets) when set, else from `file` (the same text).
 * The file must not be readable by group or others. */
enum tg_err tg_master_key_load(const char *file, uint8_t out[TG_MASTER_KEY_LEN]) TG_MUST_CHECK;
/* Create a new random master key file (mode 0600); refuses to overwrite. */
enum tg_err tg_master_key_create(const char *file) TG_MUST_CHECK;

struct tg_keyring;

struct tg_keyring_config {
    enum tg_jws_alg alg;     /* default ES256 */
    int64_t retire_after;    /* seconds a retiring key stays published (>= max token lifetime) */
};

/* Load the keys; when there are none, create a current and a next key. */
enum tg_err tg_keyring_open(struct tg_store *store, const uint8_t master[TG_MASTER_KEY_LEN],
                            const struct tg_keyring_config *cfg, int64_t now,
                            struct tg_keyring **out) TG_MUST_CHECK;
void tg_keyring_free(struct tg_keyring *kr);
/* Re-read the store (another process rotated). */
enum tg_err tg_keyring_reload(struct tg_keyring *kr) TG_MUST_CHECK;
/* next -> current -> retiring -> retired (after retire_after), new next. */
enum tg_err tg_keyring_rotate(struct tg_keyring *kr, int64_t now) TG_MUST_CHECK;

/* Sign a JWT with the current key: header {alg, typ, kid}. Appends to out. */
enum tg_err tg_keyring_sign(struct tg_keyring *kr, const char *typ, const json_t *claims,
                            struct tg_buf *out) TG_MUST_CHECK;
/* The same with the claims already serialised (JSON text). */
enum tg_err tg_keyring_sign_text(struct tg_keyring *kr, const char *typ, struct tg_slice claims,
                                 struct tg_buf *out) TG_MUST_CHECK;
/* A published key by kid (a new reference in out). TG_ERR_NOT_FOUND. */
enum tg_err tg_keyring_find(struct tg_keyring *kr, const char *kid,
                            struct tg_jwk *out) TG_MUST_CHECK;
/* The JWKS document ({"keys":[...]}: next, current, retiring), malloc'd. */
enum tg_err tg_keyring_jwks(struct tg_keyring *kr, char **out) TG_MUST_CHECK;
/* kid of the current signing key (copied into out). */
enum tg_err tg_keyring_current_kid(struct tg_keyring *kr, char *out, size_t cap) TG_MUST_CHECK;

#endif
