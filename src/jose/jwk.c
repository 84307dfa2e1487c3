/* JWK parsing and export (RFC 7517, RFC 7518 §6, RFC 8037 §2) and
 * thumbprints (RFC 7638, RFC 8705 §3.1). */
#include "jose/jwk.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "jose/b64url.h"

#define MAX_MEMBER_B64 ((TG_RSA_MAX_BITS / 8 + 2) / 3 * 4)

static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

struct members {
    const char *kty, *crv;
    const char *x, *y, *n, *e;
    const char *d, *p, *q, *dp, *dq, *qi;
};

/* A member that must be a string when present. */
static enum tg_err
opt_str(const json_t *obj, const char *name, const char **out)
{
    const json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (v == NULL)
        return TG_OK;
    TG_ENSURE(json_is_string(v), TG_ERR_JWK_MEMBER_INVALID, "JWK member %s not a string", name);
    *out = json_string_value(v);
    return TG_OK;
}

static enum tg_err
req_b64(const json_t *obj, const char *name, const char **out)
{
    TG_GUARD(opt_str(obj, name, out));
    TG_ENSURE(*out != NULL, TG_ERR_JWK_MEMBER_MISSING, "JWK member %s missing", name);
    TG_ENSURE(strlen(*out) <= MAX_MEMBER_B64, TG_ERR_JWK_MEMBER_INVALID, "JWK member %s too long",
              name);
    TG_ENSURE(tg_b64url_check(tg_slice(*out, strlen(*out))) == TG_OK, TG_ERR_JWK_MEMBER_INVALID,
              "JWK member %s is not base64url", name);
    return TG_OK;
}

static enum tg_err
opt_b64(const json_t *obj, const char *name, const char **out)
{
    TG_GUARD(opt_str(obj, name, out));
    if (*out == NULL)
        return TG_OK;
    return req_b64(obj, name, out);
}

static enum tg_err
check_use(const json_t *obj)
{
    const json_t *ops, *op;
    const char *use;
    size_t i;

    /* RFC 7517 §4.2: we only ever sign or verify with these keys. */
    TG_GUARD(opt_str(obj, "use", &use));
    TG_ENSURE(use == NULL || strcmp(use, "sig") == 0, TG_ERR_JWK_MEMBER_INVALID,
              "JWK use is not sig");
    /* RFC 7517 §4.3: key_ops, when present, is an array of strings. */
    ops = json_object_get(obj, "key_ops");
    if (ops == NULL)
        return TG_OK;
    TG_ENSURE(json_is_array(ops), TG_ERR_JWK_MEMBER_INVALID, "key_ops not an array");
    json_array_foreach(ops, i, op)
        TG_ENSURE(json_is_string(op), TG_ERR_JWK_MEMBER_INVALID, "key_ops element");
    return TG_OK;
}

/* Read and type-check every member we use, without decoding anything. */
static enum tg_err
read_members(const json_t *obj, struct members *m, enum tg_key_type *type)
{
    memset(m, 0, sizeof(*m));
    TG_GUARD(opt_str(obj, "kty", &m->kty));
    TG_ENSURE(m->kty != NULL, TG_ERR_JWK_KTY, "JWK without kty");
    if (strcmp(m->kty, "EC") == 0) {
        TG_GUARD(opt_str(obj, "crv", &m->crv));
        TG_ENSURE(m->crv != NULL, TG_ERR_JWK_CRV, "EC JWK without crv");
        if (strcmp(m->crv, "P-256") == 0)
            *type = TG_KEY_EC_P256;
        else if (strcmp(m->crv, "P-384") == 0)
            *type = TG_KEY_EC_P384;
        else
            TG_ENSURE(0, TG_ERR_JWK_CRV, "unsupported EC curve");
        TG_GUARD(req_b64(obj, "x", &m->x));
        TG_GUARD(req_b64(obj, "y", &m->y));
        TG_GUARD(opt_b64(obj, "d", &m->d));
    } else if (strcmp(m->kty, "OKP") == 0) {
        TG_GUARD(opt_str(obj, "crv", &m->crv));
        TG_ENSURE(m->crv != NULL, TG_ERR_JWK_CRV, "OKP JWK without crv");
        /* RFC 8037 §3.1: EdDSA signing; X25519/X448 are for ECDH only. */
        TG_ENSURE(strcmp(m->crv, "Ed25519") == 0, TG_ERR_JWK_CRV, "unsupported OKP curve");
        *type = TG_KEY_ED25519;
        TG_GUARD(req_b64(obj, "x", &m->x));
        TG_GUARD(opt_b64(obj, "d", &m->d));
    } else if (strcmp(m->kty, "RSA") == 0) {
        *type = TG_KEY_RSA;
        TG_GUARD(req_b64(obj, "n", &m->n));
        TG_GUARD(req_b64(obj, "e", &m->e));
        TG_ENSURE(json_object_get(obj, "oth") == NULL, TG_ERR_JWK_MEMBER_INVALID,
                  "multi-prime RSA (oth) is not supported");
        TG_GUARD(opt_b64(obj, "d", &m->d));
        TG_GUARD(opt_b64(obj, "p", &m->p));
        TG_GUARD(opt_b64(obj, "q", &m->q));
        TG_GUARD(opt_b64(obj, "dp", &m->dp));
        TG_GUARD(opt_b64(obj, "dq", &m->dq));
        TG_GUARD(opt_b64(obj, "qi", &m->qi));
    } else if (strcmp(m->kty, "oct") == 0) {
        TG_ENSURE(0, TG_ERR_JWK_SYMMETRIC, "symmetric JWK");
    } else {
        TG_ENSURE(0, TG_ERR_JWK_KTY, "unsupported kty");
    }
    return TG_OK;
}

/* RFC 7638 §3.2-3.3: the required members, lexicographic order, no
 * whitespace. Member values were checked to be base64url or a known curve
 * name, so none needs JSON escaping. */
static enum tg_err
thumbprint(const struct members *m, enum tg_key_type type, uint8_t out[TG_SHA256_LEN])
{
    struct tg_buf b;
    enum tg_err rv = TG_OK;

    tg_buf_init(&b, 2 * MAX_MEMBER_B64 + 128);
    switch (type) {
    case TG_KEY_EC_P256:
    case TG_KEY_EC_P384:
        TG_TRY(tg_buf_append_str(&b, "{\"crv\":\""));
        TG_TRY(tg_buf_append_str(&b, m->crv));
        TG_TRY(tg_buf_append_str(&b, "\",\"kty\":\"EC\",\"x\":\""));
        TG_TRY(tg_buf_append_str(&b, m->x));
        TG_TRY(tg_buf_append_str(&b, "\",\"y\":\""));
        TG_TRY(tg_buf_append_str(&b, m->y));
        TG_TRY(tg_buf_append_str(&b, "\"}"));
        break;
    case TG_KEY_ED25519:
        TG_TRY(tg_buf_append_str(&b, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\""));
        TG_TRY(tg_buf_append_str(&b, m->x));
        TG_TRY(tg_buf_append_str(&b, "\"}"));
        break;
    case TG_KEY_RSA:
        TG_TRY(tg_buf_append_str(&b, "{\"e\":\""));
        TG_TRY(tg_buf_append_str(&b, m->e));
        TG_TRY(tg_buf_append_str(&b, "\",\"kty\":\"RSA\",\"n\":\""));
        TG_TRY(tg_buf_append_str(&b, m->n));
        TG_TRY(tg_buf_append_str(&b, "\"}"));
        break;
    default:
        TG_FAIL(TG_ERR_JWK_KTY, "thumbprint of unknown type");
    }
    TG_TRY(tg_sha256(tg_slice(b.p, b.len), out));
out:
    tg_buf_reset(&b);
    return rv;
}

/* One decoded member; secret members are wiped by the caller. */
struct dec {
    uint8_t p[TG_RSA_MAX_BITS / 8 + 3];
    size_t len;
};

static enum tg_err
dec_member(const char *s, struct dec *d)
{
    d->len = 0;
    if (s == NULL)
        return TG_OK;
    return tg_b64url_decode_to(tg_slice(s, strlen(s)), d->p, sizeof(d->p), &d->len);
}

static enum tg_err
build_key(const struct members *m, enum tg_key_type type, struct tg_key **key)
{
    enum tg_err rv = TG_OK;
    struct dec *d = NULL; /* 8 members: x y n e d p q dp dq qi, heap (large) */
    struct tg_rsa_params rp;
    int i;

    d = calloc(10, sizeof(*d));
    TG_CHECK(d != NULL, TG_ERR_NOMEM, "decode buffers");
    switch (type) {
    case TG_KEY_EC_P256:
    case TG_KEY_EC_P384:
        TG_TRY(dec_member(m->x, &d[0]));
        TG_TRY(dec_member(m->y, &d[1]));
        TG_TRY(dec_member(m->d, &d[4]));
        TG_TRY(tg_key_from_ec(type, tg_slice(d[0].p, d[0].len), tg_slice(d[1].p, d[1].len),
                              tg_slice(d[4].p, d[4].len), key));
        break;
    case TG_KEY_ED25519:
        TG_TRY(dec_member(m->x, &d[0]));
        TG_TRY(dec_member(m->d, &d[4]));
        TG_TRY(tg_key_from_ed25519(tg_slice(d[0].p, d[0].len), tg_slice(d[4].p, d[4].len), key));
        break;
    case TG_KEY_RSA:
        TG_TRY(dec_member(m->n, &d[2]));
        TG_TRY(dec_member(m->e, &d[3]));
        TG_TRY(dec_member(m->d, &d[4]));
        TG_TRY(dec_member(m->p, &d[5]));
        TG_TRY(dec_member(m->q, &d[6]));
        TG_TRY(dec_member(m->dp, &d[7]));
        TG_TRY(dec_member(m->dq, &d[8]));
        TG_TRY(dec_member(m->qi, &d[9]));
        rp.n = tg_slice(d[2].p, d[2].len);
        rp.e = tg_slice(d[3].p, d[3].len);
        rp.d = tg_slice(d[4].p, d[4].len);
        rp.p = tg_slice(d[5].p, d[5].len);
        rp.q = tg_slice(d[6].p, d[6].len);
        rp.dp = tg_slice(d[7].p, d[7].len);
        rp.dq = tg_slice(d[8].p, d[8].len);
        rp.qi = tg_slice(d[9].p, d[9].len);
        TG_TRY(tg_key_from_rsa(&rp, key));
        break;
    default:
        TG_FAIL(TG_ERR_JWK_KTY, "build of unknown type");
    }
out:
    if (d != NULL) {
        for (i = 4; i < 10; i++)
            tg_wipe(d[i].p, d[i].len);
        free(d);
    }
    return rv;
}

enum tg_err
tg_jwk_from_json(const json_t *obj, unsigned flags, struct tg_jwk_cache *cache, struct tg_jwk *out)
{
    enum tg_err rv = TG_OK;
    struct members m;
    enum tg_key_type type = 0;
    const char *alg_name, *kid;
    size_t i;
    int priv;

    memset(out, 0, sizeof(*out));
    TG_CHECK(json_is_object(obj), TG_ERR_JSON_NOT_OBJECT, "JWK is not an object");
    if (flags & TG_JWK_PUBLIC_ONLY)
        for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
            TG_CHECK(json_object_get(obj, private_members[i]) == NULL, TG_ERR_JWK_PRIVATE_MEMBER,
                     "private member %s in a public-only JWK", private_members[i]);
    TG_TRY(read_members(obj, &m, &type));
    TG_TRY(check_use(obj));
    TG_TRY(opt_str(obj, "alg", &alg_name));
    if (alg_name != NULL) {
        /* RFC 7517 §4.4: the key is meant for this alg only. */
        TG_TRY(tg_jws_alg_parse(alg_name, &out->alg));
        TG_CHECK(tg_jws_alg_fits(out->alg, type), TG_ERR_JWS_ALG_KEY_MISMATCH,
                 "JWK alg does not fit its kty/crv");
    }
    TG_TRY(opt_str(obj, "kid", &kid));
    priv = m.d != NULL;
    TG_CHECK(priv || !(flags & TG_JWK_REQUIRE_PRIVATE), TG_ERR_JWK_NOT_PRIVATE, "no d");
    out->type = type;
    TG_TRY(thumbprint(&m, type, out->thumbprint));
    /* Only public keys are cached: private keys are loaded rarely and their
     * thumbprint does not cover the private members. */
    if (!priv && cache != NULL)
        out->key = tg_jwk_cache_get(cache, out->thumbprint);
    if (out->key == NULL) {
        TG_TRY(build_key(&m, type, &out->key));
        if (!priv && cache != NULL)
            TG_TRY(tg_jwk_cache_put(cache, out->thumbprint, out->key));
    }
    if (kid != NULL) {
        TG_CHECK(strlen(kid) <= 1024, TG_ERR_JWK_MEMBER_INVALID, "kid too long");
        out->kid = strdup(kid);
        TG_CHECK(out->kid != NULL, TG_ERR_NOMEM, "kid");
    }
out:
    if (rv != TG_OK)
        tg_jwk_reset(out);
    return rv;
}

enum tg_err
tg_jwk_parse(const char *json, size_t len, unsigned flags, struct tg_jwk_cache *cache,
             struct tg_jwk *out)
{
    json_t *obj;
    json_error_t jerr;
    enum tg_err rv;

    memset(out, 0, sizeof(*out));
    TG_ENSURE(len <= TG_JWK_MAX_JSON, TG_ERR_TOO_LARGE, "JWK JSON too large");
    obj = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    TG_ENSURE(obj != NULL, TG_ERR_JSON_MALFORMED, "JWK JSON: %s", jerr.text);
    rv = tg_jwk_from_json(obj, flags, cache, out);
    json_decref(obj);
    return rv;
}

static enum tg_err
key_thumbprint(struct tg_key *key, uint8_t out[TG_SHA256_LEN])
{
    struct tg_jwk tmp;
    json_t *pub = NULL;
    enum tg_err rv;

    memset(&tmp, 0, sizeof(tmp));
    tmp.key = key;
    tmp.type = tg_key_type(key);
    rv = tg_jwk_public_json(&tmp, &pub);
    if (rv == TG_OK)
        rv = tg_jwk_thumbprint_json(pub, out);
    json_decref(pub);
    return rv;
}

enum tg_err
tg_jwk_from_key(struct tg_key *key, enum tg_jws_alg alg, const char *kid, struct tg_jwk *out)
{
    enum tg_err rv = TG_OK;

    memset(out, 0, sizeof(*out));
    TG_CHECK(alg == TG_JWS_ALG_UNSET || tg_jws_alg_fits(alg, tg_key_type(key)),
             TG_ERR_JWS_ALG_KEY_MISMATCH, "alg does not fit key");
    out->key = tg_key_ref(key);
    out->type = tg_key_type(key);
    out->alg = alg;
    if (kid != NULL) {
        out->kid = strdup(kid);
        TG_CHECK(out->kid != NULL, TG_ERR_NOMEM, "kid");
    }
    TG_TRY(key_thumbprint(key, out->thumbprint));
out:
    if (rv != TG_OK)
        tg_jwk_reset(out);
    return rv;
}

void
tg_jwk_reset(struct tg_jwk *jwk)
{
    tg_key_free(jwk->key);
    free(jwk->kid);
    memset(jwk, 0, sizeof(*jwk));
}

enum tg_err
tg_jwk_thumbprint_json(const json_t *obj, uint8_t out[TG_SHA256_LEN])
{
    struct members m;
    enum tg_key_type type = 0;

    TG_ENSURE(json_is_object(obj), TG_ERR_JSON_NOT_OBJECT, "JWK is not an object");
    TG_GUARD(read_members(obj, &m, &type));
    return thumbprint(&m, type, out);
}

void
tg_thumbprint_b64(const uint8_t tp[TG_SHA256_LEN], char out[TG_THUMBPRINT_B64_LEN + 1])
{
    tg_b64url_encode_to(tg_slice(tp, TG_SHA256_LEN), out);
}

enum tg_err
tg_x5t_s256(struct tg_slice der, char out[TG_THUMBPRINT_B64_LEN + 1])
{
    uint8_t md[TG_SHA256_LEN];

    TG_ENSURE(der.len > 0, TG_ERR_INVALID_ARG, "empty certificate");
    TG_GUARD(tg_sha256(der, md));
    tg_thumbprint_b64(md, out);
    return TG_OK;
}

/* Set obj[name] = base64url(b); wipes b when `secret`. */
static enum tg_err
set_b64(json_t *obj, const char *name, struct tg_buf *b)
{
    struct tg_buf enc;
    const char *s;
    enum tg_err rv = TG_OK;

    tg_buf_init_secret(&enc, 8192);
    TG_TRY(tg_b64url_encode(tg_slice(b->p, b->len), &enc));
    TG_TRY(tg_buf_cstr(&enc, &s));
    TG_CHECK(json_object_set_new(obj, name, json_string(s)) == 0, TG_ERR_NOMEM, "json set");
out:
    tg_buf_reset(&enc);
    return rv;
}

static enum tg_err
export_json(const struct tg_jwk *jwk, int priv, json_t **out)
{
    static const char *const rsa_priv[6] = {"d", "p", "q", "dp", "dq", "qi"};
    enum tg_err rv = TG_OK;
    struct tg_buf a, b, c, p[6];
    json_t *o = NULL;
    int i;

    *out = NULL;
    tg_buf_init(&a, 4096);
    tg_buf_init(&b, 4096);
    tg_buf_init_secret(&c, 4096);
    for (i = 0; i < 6; i++)
        tg_buf_init_secret(&p[i], 4096);
    o = json_object();
    TG_CHECK(o != NULL, TG_ERR_NOMEM, "json object");
    switch (jwk->type) {
    case TG_KEY_EC_P256:
    case TG_KEY_EC_P384:
        TG_TRY(tg_key_ec_export(jwk->key, &a, &b, priv ? &c : NULL));
        TG_CHECK(json_object_set_new(o, "kty", json_string("EC")) == 0 &&
                     json_object_set_new(o, "crv", json_string(jwk->type == TG_KEY_EC_P256
                                                                   ? "P-256"
                                                                   : "P-384")) == 0,
                 TG_ERR_NOMEM, "json");
        TG_TRY(set_b64(o, "x", &a));
        TG_TRY(set_b64(o, "y", &b));
        if (priv)
            TG_TRY(set_b64(o, "d", &c));
        break;
    case TG_KEY_ED25519:
        TG_TRY(tg_key_ed25519_export(jwk->key, &a, priv ? &c : NULL));
        TG_CHECK(json_object_set_new(o, "kty", json_string("OKP")) == 0 &&
                     json_object_set_new(o, "crv", json_string("Ed25519")) == 0,
                 TG_ERR_NOMEM, "json");
        TG_TRY(set_b64(o, "x", &a));
        if (priv)
            TG_TRY(set_b64(o, "d", &c));
        break;
    case TG_KEY_RSA:
        TG_TRY(tg_key_rsa_export(jwk->key, &a, &b, priv ? p : NULL));
        TG_CHECK(json_object_set_new(o, "kty", json_string("RSA")) == 0, TG_ERR_NOMEM, "json");
        TG_TRY(set_b64(o, "n", &a));
        TG_TRY(set_b64(o, "e", &b));
        if (priv)
            for (i = 0; i < 6; i++)
                TG_TRY(set_b64(o, rsa_priv[i], &p[i]));
        break;
    default:
        TG_FAIL(TG_ERR_JWK_KTY, "export of unknown type");
    }
    if (jwk->kid != NULL)
        TG_CHECK(json_object_set_new(o, "kid", json_string(jwk->kid)) == 0, TG_ERR_NOMEM, "kid");
    if (jwk->alg != TG_JWS_ALG_UNSET)
        TG_CHECK(json_object_set_new(o, "alg", json_string(tg_jws_alg_name(jwk->alg))) == 0,
                 TG_ERR_NOMEM, "alg");
    if (jwk->kid != NULL || jwk->alg != TG_JWS_ALG_UNSET)
        TG_CHECK(json_object_set_new(o, "use", json_string("sig")) == 0, TG_ERR_NOMEM, "use");
    *out = o;
    o = NULL;
out:
    json_decref(o);
    tg_buf_reset(&a);
    tg_buf_reset(&b);
    tg_buf_reset(&c);
    for (i = 0; i < 6; i++)
        tg_buf_reset(&p[i]);
    return rv;
}

enum tg_err
tg_jwk_public_json(const struct tg_jwk *jwk, json_t **out)
{
    return export_json(jwk, 0, out);
}

enum tg_err
tg_jwk_private_json(const struct tg_jwk *jwk, json_t **out)
{
    TG_ENSURE(tg_key_is_private(jwk->key), TG_ERR_JWK_NOT_PRIVATE, "public key");
    return export_json(jwk, 1, out);
}
