#include "jose/jws.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock_cache.h"
#include "crypto/crypto.h"
#include "jose/b64url.h"

/* Header parameters registered by RFC 7515 §4.1 and RFC 7518; these may not
 * appear in "crit" (RFC 7515 §4.1.11). */
static const char *const registered[] = {
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
    "enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
};

static int
name_in(const char *name, const char *const *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

static int
crit_supported(const char *name, const char *const *ok)
{
    for (; ok != NULL && *ok != NULL; ok++)
        if (strcmp(name, *ok) == 0)
            return 1;
    return 0;
}

/* RFC 7515 §4.1.11: crit is a non-empty array of distinct names that are
 * not registered parameters, each present in the header and understood. */
static enum tg_err
check_crit(const json_t *header, const char *const *ok)
{
    const json_t *crit = json_object_get(header, "crit"), *v, *w;
    size_t i, j;
    const char *name;

    if (crit == NULL)
        return TG_OK;
    TG_ENSURE(json_is_array(crit) && json_array_size(crit) > 0, TG_ERR_JWS_CRIT,
              "crit is not a non-empty array");
    json_array_foreach(crit, i, v) {
        TG_ENSURE(json_is_string(v), TG_ERR_JWS_CRIT, "crit element not a string");
        name = json_string_value(v);
        TG_ENSURE(!name_in(name, registered, sizeof(registered) / sizeof(registered[0])),
                  TG_ERR_JWS_CRIT, "crit names a registered parameter");
        TG_ENSURE(json_object_get(header, name) != NULL, TG_ERR_JWS_CRIT,
                  "crit names an absent parameter");
        TG_ENSURE(crit_supported(name, ok), TG_ERR_JWS_CRIT, "crit parameter not understood");
        for (j = 0; j < i; j++) {
            w = json_array_get(crit, j);
            TG_ENSURE(strcmp(json_string_value(w), name) != 0, TG_ERR_JWS_CRIT,
                      "crit duplicate");
        }
    }
    return TG_OK;
}

static enum tg_err
opt_header_str(const json_t *header, const char *name, const char **out)
{
    const json_t *v = json_object_get(header, name);

    *out = NULL;
    if (v == NULL)
        return TG_OK;
    TG_ENSURE(json_is_string(v), TG_ERR_JWS_HEADER, "header %s not a string", name);
    *out = json_string_value(v);
    return TG_OK;
}

/* ---- protected-header cache ------------------------------------------- */

/* The generic CLOCK table (core/clock_cache.h), keyed by the segment's exact
 * bytes under a random seed: an attacker cannot aim collisions, and a
 * collision only costs a comparison. */
#define HC_MAX_SEGMENT 2048
#define HC_MAX_CAPACITY (1u << 20)

struct hc_value {
    json_t *header;      /* immutable once here */
    enum tg_jws_alg alg;
    struct tg_jwk jwk;   /* parsed public-only "jwk", key NULL when absent or invalid */
};

struct tg_jws_header_cache {
    struct tg_clock_cache *t;
};

static void
hc_value_free(void *p)
{
    struct hc_value *v = p;

    json_decref(v->header);
    tg_jwk_reset(&v->jwk);
    free(v);
}

struct tg_jws_header_cache *
tg_jws_header_cache_new(size_t capacity)
{
    struct tg_jws_header_cache *c;

    if (capacity > HC_MAX_CAPACITY)
        return NULL;
    c = malloc(sizeof(*c));
    if (c == NULL || (c->t = tg_clock_cache_new_random(capacity, hc_value_free)) == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void
tg_jws_header_cache_free(struct tg_jws_header_cache *c)
{
    if (c == NULL)
        return;
    tg_clock_cache_free(c->t);
    free(c);
}

/* Under the table's lock: fill the tg_jws from the entry (references, not
 * copies; the cached objects are immutable and their counts atomic). */
static void
hc_copy(const void *p, void *arg)
{
    const struct hc_value *v = p;
    struct tg_jws *out = arg;

    out->header = json_incref(v->header);
    out->alg = v->alg;
    if (v->jwk.key != NULL) {
        out->hdr_jwk.key = tg_key_ref(v->jwk.key);
        out->hdr_jwk.type = v->jwk.type;
        out->hdr_jwk.alg = v->jwk.alg;
        memcpy(out->hdr_jwk.thumbprint, v->jwk.thumbprint, sizeof(v->jwk.thumbprint));
    }
}

static int
hc_get(struct tg_jws_header_cache *c, struct tg_slice seg, struct tg_jws *out)
{
    return tg_clock_cache_get(c->t, seg.p, seg.len, hc_copy, out);
}

static void
hc_put(struct tg_jws_header_cache *c, struct tg_slice seg, const struct tg_jws *parsed)
{
    struct hc_value *v = calloc(1, sizeof(*v));

    if (v == NULL)
        return;
    /* Parse the "jwk" before the lock: building a key costs tens of µs. */
    if (parsed->jwk != NULL &&
        tg_jwk_from_json(parsed->jwk, TG_JWK_PUBLIC_ONLY, NULL, &v->jwk) != TG_OK)
        memset(&v->jwk, 0, sizeof(v->jwk));
    free(v->jwk.kid);
    v->jwk.kid = NULL;
    v->header = json_incref(parsed->header);
    v->alg = parsed->alg;
    /* Not cached (out of memory): the next one parses again. */
    (void)tg_clock_cache_put(c->t, seg.p, seg.len, v, TG_CLOCK_CACHE_NO_EXPIRY, 0);
}

/* The header's string members, from an already-validated header. */
static enum tg_err header_fields(struct tg_jws *out);

static enum tg_err
parse_header(struct tg_slice b64, const struct tg_jws_opts *opts,
             struct tg_jws_header_cache *cache, struct tg_jws *out)
{
    uint8_t stackbuf[2048], *raw = stackbuf;
    size_t rawlen = 0, need = tg_b64url_decoded_max(b64.len);
    json_error_t jerr;
    const json_t *b64v;
    const char *alg;
    unsigned algs = opts->algs ? opts->algs : TG_JWS_ALGS_ALL;
    enum tg_err rv = TG_OK;

    TG_CHECK(need <= TG_JWS_MAX_HEADER, TG_ERR_TOO_LARGE, "JWS header too large");
    if (cache != NULL && b64.len <= HC_MAX_SEGMENT && hc_get(cache, b64, out)) {
        /* Everything but the caller's alg list was checked when it went in. */
        TG_CHECK(algs & TG_JWS_ALG_BIT(out->alg), TG_ERR_JWS_ALG_NOT_ALLOWED,
                 "alg not allowed");
        TG_TRY(header_fields(out));
        goto out;
    }
    if (need > sizeof(stackbuf)) {
        raw = malloc(need);
        TG_CHECK(raw != NULL, TG_ERR_NOMEM, "header buffer");
    }
    TG_TRY(tg_b64url_decode_to(b64, raw, need, &rawlen));
    /* Duplicate names are refused (RFC 7515 §5.2 step 4 allows it, RFC 8725
     * §3.5 asks for it: two readers must not see two headers). */
    out->header = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
    TG_CHECK(out->header != NULL, TG_ERR_JSON_MALFORMED, "JWS header JSON: %s", jerr.text);
    TG_CHECK(json_is_object(out->header), TG_ERR_JSON_NOT_OBJECT, "JWS header not an object");
    TG_TRY(opt_header_str(out->header, "alg", &alg));
    TG_CHECK(alg != NULL, TG_ERR_JWS_HEADER, "JWS header without alg");
    TG_TRY(tg_jws_alg_parse(alg, &out->alg));
    TG_CHECK(algs & TG_JWS_ALG_BIT(out->alg), TG_ERR_JWS_ALG_NOT_ALLOWED, "alg %s not allowed",
             alg);
    TG_TRY(check_crit(out->header, opts->crit_ok));
    /* RFC 7797: an unencoded payload changes what is signed; we do not
     * implement it, so "b64" other than true is refused. */
    b64v = json_object_get(out->header, "b64");
    TG_CHECK(b64v == NULL || json_is_true(b64v), TG_ERR_JWS_HEADER, "b64 header not supported");
    TG_TRY(header_fields(out));
    if (cache != NULL && b64.len <= HC_MAX_SEGMENT && json_object_get(out->header, "crit") == NULL)
        hc_put(cache, b64, out);
out:
    if (raw != stackbuf)
        free(raw);
    return rv;
}

static enum tg_err
header_fields(struct tg_jws *out)
{
    TG_GUARD(opt_header_str(out->header, "typ", &out->typ));
    TG_GUARD(opt_header_str(out->header, "kid", &out->kid));
    out->jwk = json_object_get(out->header, "jwk");
    TG_ENSURE(out->jwk == NULL || json_is_object(out->jwk), TG_ERR_JWS_HEADER,
              "jwk header not an object");
    return TG_OK;
}

enum tg_err
tg_jws_header_jwk(const struct tg_jws *jws, struct tg_jwk_cache *keys, struct tg_jwk *out)
{
    memset(out, 0, sizeof(*out));
    TG_ENSURE(jws->jwk != NULL, TG_ERR_JWS_HEADER, "no jwk header");
    if (jws->hdr_jwk.key != NULL) {
        out->key = tg_key_ref(jws->hdr_jwk.key);
        out->type = jws->hdr_jwk.type;
        out->alg = jws->hdr_jwk.alg;
        memcpy(out->thumbprint, jws->hdr_jwk.thumbprint, sizeof(out->thumbprint));
        return TG_OK;
    }
    return tg_jwk_from_json(jws->jwk, TG_JWK_PUBLIC_ONLY, keys, out);
}

enum tg_err
tg_jws_parse(struct tg_slice c, const struct tg_jws_opts *opts, struct tg_jws *out)
{
    return tg_jws_parse_cached(c, opts, NULL, out);
}

enum tg_err
tg_jws_parse_cached(struct tg_slice c, const struct tg_jws_opts *opts,
                    struct tg_jws_header_cache *cache, struct tg_jws *out)
{
    static const struct tg_jws_opts defaults = {0, NULL, 0};
    enum tg_err rv = TG_OK;
    const uint8_t *d1, *d2;
    struct tg_slice h, p, s;
    size_t max;

    memset(out, 0, sizeof(*out));
    if (opts == NULL)
        opts = &defaults;
    max = opts->max_len ? opts->max_len : TG_JWS_MAX_LEN;
    TG_CHECK(c.len <= max, TG_ERR_TOO_LARGE, "JWS of %zu bytes", c.len);
    /* RFC 7515 §7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(sig). */
    d1 = c.len ? memchr(c.p, '.', c.len) : NULL;
    TG_CHECK(d1 != NULL, TG_ERR_JWS_MALFORMED, "no first dot");
    d2 = memchr(d1 + 1, '.', (size_t)(c.p + c.len - (d1 + 1)));
    TG_CHECK(d2 != NULL, TG_ERR_JWS_MALFORMED, "no second dot");
    TG_CHECK(memchr(d2 + 1, '.', (size_t)(c.p + c.len - (d2 + 1))) == NULL, TG_ERR_JWS_MALFORMED,
             "more than three parts (JWE?)");
    h = tg_slice(c.p, (size_t)(d1 - c.p));
    p = tg_slice(d1 + 1, (size_t)(d2 - d1 - 1));
    s = tg_slice(d2 + 1, (size_t)(c.p + c.len - d2 - 1));
    TG_CHECK(h.len > 0, TG_ERR_JWS_MALFORMED, "empty header");
    TG_TRY(parse_header(h, opts, cache, out));
    /* An empty signature is what alg none produces; every alg we accept
     * has a signature. */
    TG_CHECK(s.len > 0, TG_ERR_JWS_SIG_LENGTH, "empty signature");
    TG_CHECK(tg_b64url_decoded_max(s.len) <= sizeof(out->sig), TG_ERR_JWS_SIG_LENGTH,
             "signature too long");
    TG_TRY(tg_b64url_decode_to(s, out->sig, sizeof(out->sig), &out->sig_len));
    out->payload = malloc(tg_b64url_decoded_max(p.len) + 1);
    TG_CHECK(out->payload != NULL, TG_ERR_NOMEM, "payload");
    TG_TRY(tg_b64url_decode_to(p, out->payload, tg_b64url_decoded_max(p.len), &out->payload_len));
    out->payload[out->payload_len] = '\0';
    out->signing_input = tg_slice(c.p, (size_t)(d2 - c.p));
out:
    if (rv != TG_OK)
        tg_jws_reset(out);
    return rv;
}

static const char *
strip_application(const char *t)
{
    return strncasecmp(t, "application/", 12) == 0 ? t + 12 : t;
}

enum tg_err
tg_jws_check_typ(const struct tg_jws *jws, const char *typ)
{
    const char *got = jws->typ;

    TG_ENSURE(got != NULL, TG_ERR_JWT_TYP, "typ header missing, want %s", typ);
    TG_ENSURE(strcasecmp(strip_application(got), strip_application(typ)) == 0, TG_ERR_JWT_TYP,
              "typ header mismatch, want %s", typ);
    return TG_OK;
}

enum tg_err
tg_jws_verify(const struct tg_jws *jws, const struct tg_jwk *jwk)
{
    TG_ENSURE(jwk != NULL && jwk->key != NULL, TG_ERR_INVALID_ARG, "no key");
    /* RFC 7517 §4.4: a key that names its alg is used with that alg only. */
    TG_ENSURE(jwk->alg == TG_JWS_ALG_UNSET || tg_jws_alg_same(jwk->alg, jws->alg),
              TG_ERR_JWS_ALG_KEY_MISMATCH,
              "JWS alg %s, key alg %s", tg_jws_alg_name(jws->alg), tg_jws_alg_name(jwk->alg));
    /* RFC 8725 §3.1: the alg must be one the key's type can produce. */
    TG_ENSURE(tg_jws_alg_fits(jws->alg, jwk->type), TG_ERR_JWS_ALG_KEY_MISMATCH,
              "alg %s does not fit the key", tg_jws_alg_name(jws->alg));
    return tg_verify(jwk->key, tg_jws_alg_scheme(jws->alg), jws->signing_input,
                     tg_slice(jws->sig, jws->sig_len));
}

void
tg_jws_reset(struct tg_jws *jws)
{
    json_decref(jws->header);
    tg_jwk_reset(&jws->hdr_jwk);
    free(jws->payload);
    jws->header = NULL;
    jws->payload = NULL;
    jws->payload_len = 0;
    jws->sig_len = 0;
    jws->typ = jws->kid = NULL;
    jws->jwk = NULL;
    jws->alg = TG_JWS_ALG_UNSET;
    jws->signing_input = tg_slice(NULL, 0);
}

enum tg_err
tg_jws_sign(const struct tg_jwk *jwk, enum tg_jws_alg alg, const json_t *extra,
            struct tg_slice payload, struct tg_buf *out)
{
    enum tg_err rv = TG_OK;
    json_t *hdr = NULL;
    char *hjson = NULL;
    uint8_t sig[TG_SIG_MAX_LEN];
    size_t sig_len, start = out->len;

    TG_CHECK(tg_jws_alg_fits(alg, jwk->type), TG_ERR_JWS_ALG_KEY_MISMATCH, "alg/key");
    TG_CHECK(jwk->alg == TG_JWS_ALG_UNSET || tg_jws_alg_same(jwk->alg, alg),
             TG_ERR_JWS_ALG_KEY_MISMATCH,
             "key is for another alg");
    TG_CHECK(extra == NULL || (json_is_object(extra) && json_object_get(extra, "alg") == NULL),
             TG_ERR_INVALID_ARG, "extra header");
    hdr = json_pack("{s:s}", "alg", tg_jws_alg_name(alg));
    TG_CHECK(hdr != NULL, TG_ERR_NOMEM, "header");
    if (extra != NULL)
        TG_CHECK(json_object_update(hdr, (json_t *)extra) == 0, TG_ERR_NOMEM, "header");
    hjson = json_dumps(hdr, JSON_COMPACT);
    TG_CHECK(hjson != NULL, TG_ERR_NOMEM, "dump header");
    TG_TRY(tg_b64url_encode(tg_slice(hjson, strlen(hjson)), out));
    TG_TRY(tg_buf_append(out, ".", 1));
    TG_TRY(tg_b64url_encode(payload, out));
    TG_TRY(tg_sign(jwk->key, tg_jws_alg_scheme(alg), tg_slice(out->p + start, out->len - start),
                   sig, sizeof(sig), &sig_len));
    TG_TRY(tg_buf_append(out, ".", 1));
    TG_TRY(tg_b64url_encode(tg_slice(sig, sig_len), out));
out:
    if (rv != TG_OK)
        out->len = start;
    free(hjson);
    json_decref(hdr);
    return rv;
}

enum tg_err
tg_jws_sign_prepared(const struct tg_jwk *jwk, enum tg_jws_alg alg, struct tg_slice header_b64,
                     struct tg_slice payload, struct tg_buf *out)
{
    enum tg_err rv = TG_OK;
    uint8_t sig[TG_SIG_MAX_LEN];
    size_t sig_len, start = out->len;

    TG_CHECK(tg_jws_alg_fits(alg, jwk->type), TG_ERR_JWS_ALG_KEY_MISMATCH, "alg/key");
    TG_CHECK(jwk->alg == TG_JWS_ALG_UNSET || tg_jws_alg_same(jwk->alg, alg),
             TG_ERR_JWS_ALG_KEY_MISMATCH, "key is for another alg");
    TG_CHECK(header_b64.len > 0 && tg_b64url_check(header_b64) == TG_OK, TG_ERR_INVALID_ARG,
             "header segment");
    TG_TRY(tg_buf_append(out, header_b64.p, header_b64.len));
    TG_TRY(tg_buf_append(out, ".", 1));
    TG_TRY(tg_b64url_encode(payload, out));
    TG_TRY(tg_sign(jwk->key, tg_jws_alg_scheme(alg), tg_slice(out->p + start, out->len - start),
                   sig, sizeof(sig), &sig_len));
    TG_TRY(tg_buf_append(out, ".", 1));
    TG_TRY(tg_b64url_encode(tg_slice(sig, sig_len), out));
out:
    if (rv != TG_OK)
        out->len = start;
    return rv;
}
