/* An issuer's JWKS (RFC 7517 §5) as an immutable set of verification keys
 * found by kid. Parsed once; a rotation builds a new set and the owner
 * swaps it in. */
#include <stdlib.h>
#include <string.h>

#include "verify/resource.h"

struct tg_rs_keyset {
    struct tg_jwk *keys;
    size_t n;
};

void
tg_rs_keyset_free(struct tg_rs_keyset *ks)
{
    size_t i;

    if (ks == NULL)
        return;
    for (i = 0; i < ks->n; i++)
        tg_jwk_reset(&ks->keys[i]);
    free(ks->keys);
    free(ks);
}

size_t
tg_rs_keyset_count(const struct tg_rs_keyset *ks)
{
    return ks != NULL ? ks->n : 0;
}

/* RFC 7517 §4.2/§4.3: a key meant for encryption is not one of ours. */
static int
for_signing(const json_t *k)
{
    const json_t *use = json_object_get(k, "use"), *ops = json_object_get(k, "key_ops"), *v;
    size_t i;

    if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
        return 0;
    if (ops == NULL)
        return 1;
    if (!json_is_array(ops))
        return 0;
    json_array_foreach(ops, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), "verify") == 0)
            return 1;
    return 0;
}

enum tg_err
tg_rs_keyset_parse(const char *json, size_t len, struct tg_rs_keyset **out)
{
    json_error_t jerr;
    json_t *root = NULL, *keys, *k;
    struct tg_rs_keyset *ks = NULL;
    struct tg_jwk jwk;
    size_t i, j;
    enum tg_err rv = TG_OK, e;

    *out = NULL;
    TG_CHECK(json != NULL && len <= TG_JWK_MAX_JSON * 8, TG_ERR_TOO_LARGE, "JWKS too large");
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    TG_CHECK(root != NULL, TG_ERR_JSON_MALFORMED, "JWKS: %s", jerr.text);
    keys = json_object_get(root, "keys");
    TG_CHECK(json_is_array(keys), TG_ERR_JWK_MEMBER_MISSING, "JWKS without a keys array");
    TG_CHECK(json_array_size(keys) <= TG_RS_KEYSET_MAX_KEYS, TG_ERR_TOO_LARGE, "JWKS: too many keys");
    ks = calloc(1, sizeof(*ks));
    TG_CHECK(ks != NULL, TG_ERR_NOMEM, "keyset");
    ks->keys = calloc(json_array_size(keys) + 1, sizeof(*ks->keys));
    TG_CHECK(ks->keys != NULL, TG_ERR_NOMEM, "keyset");
    json_array_foreach(keys, i, k) {
        TG_CHECK(json_is_object(k), TG_ERR_JSON_NOT_OBJECT, "JWKS: key %zu not an object", i);
        if (!json_is_string(json_object_get(k, "kid")) || !for_signing(k))
            continue;
        e = tg_jwk_from_json(k, TG_JWK_PUBLIC_ONLY, NULL, &jwk);
        /* A published private key is a serious mistake: refuse the set. */
        TG_CHECK(e != TG_ERR_JWK_PRIVATE_MEMBER, e, "JWKS: key %zu has private members", i);
        TG_CHECK(e != TG_ERR_NOMEM, e, "JWKS: key %zu", i);
        if (e != TG_OK)
            continue; /* a kind of key we do not support: not usable, not fatal */
        for (j = 0; j < ks->n; j++) {
            if (strcmp(ks->keys[j].kid, jwk.kid) == 0) {
                tg_jwk_reset(&jwk);
                TG_FAIL(TG_ERR_JWK_MEMBER_INVALID, "JWKS: duplicate kid");
            }
        }
        ks->keys[ks->n++] = jwk;
    }
    TG_CHECK(ks->n > 0, TG_ERR_NOT_FOUND, "JWKS: no usable signing key with a kid");
    *out = ks;
    ks = NULL;
out:
    tg_rs_keyset_free(ks);
    json_decref(root);
    return rv;
}

enum tg_err
tg_rs_keyset_find(void *arg, const char *kid, struct tg_jwk *out)
{
    const struct tg_rs_keyset *ks = arg;
    const struct tg_jwk *k;
    size_t i;

    memset(out, 0, sizeof(*out));
    TG_ENSURE(ks != NULL && kid != NULL, TG_ERR_INVALID_ARG, "no keyset");
    for (i = 0; i < ks->n; i++) {
        k = &ks->keys[i];
        if (strcmp(k->kid, kid) != 0)
            continue;
        /* A copy that holds its own reference (no thumbprint recomputation). */
        out->kid = strdup(k->kid);
        TG_ENSURE(out->kid != NULL, TG_ERR_NOMEM, "kid");
        out->key = tg_key_ref(k->key);
        out->type = k->type;
        out->alg = k->alg;
        memcpy(out->thumbprint, k->thumbprint, sizeof(out->thumbprint));
        return TG_OK;
    }
    tg_err_raise(TG_ERR_NOT_FOUND, "unknown kid");
    return TG_ERR_NOT_FOUND;
}
