/* JWS compact serialization (RFC 7515 §3.1, §5.2, §7.1), asymmetric algs
 * only. Parsing checks structure and header; verification checks that the
 * alg fits the key and the signature. */
#ifndef TG_JOSE_JWS_H
#define TG_JOSE_JWS_H

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "jose/alg.h"
#include "jose/jwk.h"

#define TG_JWS_MAX_LEN 65536
#define TG_JWS_MAX_HEADER 8192

struct tg_jws_opts {
    unsigned algs;                /* TG_JWS_ALG_BIT set; 0 means TG_JWS_ALGS_ALL */
    const char *const *crit_ok;   /* NULL-terminated extension names we process, or NULL */
    size_t max_len;               /* 0 means TG_JWS_MAX_LEN */
};

struct tg_jws {
    json_t *header;               /* owned */
    enum tg_jws_alg alg;
    struct tg_slice signing_input; /* into the caller's buffer: keep it alive */
    uint8_t *payload;             /* owned, NUL-terminated (not counted) */
    size_t payload_len;
    uint8_t sig[TG_SIG_MAX_LEN];
    size_t sig_len;
    const char *typ, *kid;        /* into header, or NULL */
    const json_t *jwk;            /* header "jwk" object, or NULL */
    struct tg_jwk hdr_jwk;        /* the "jwk" already parsed (public only) when the
                                     header came from a header cache; key NULL otherwise */
};

/* A bounded, thread-safe cache of parsed protected headers, keyed by the
 * exact bytes of the header segment. A DPoP client sends the same header
 * (typ, alg, jwk) with every proof, and an issuer the same {alg,typ,kid}
 * with every token: a hit skips base64url, JSON and the JWK's thumbprint.
 * Cached headers are immutable and shared (jansson reference counts are
 * atomic); headers with "crit" are never cached. */
struct tg_jws_header_cache;
struct tg_jws_header_cache *tg_jws_header_cache_new(size_t capacity);
void tg_jws_header_cache_free(struct tg_jws_header_cache *c);

enum tg_err tg_jws_parse(struct tg_slice compact, const struct tg_jws_opts *opts,
                         struct tg_jws *out) TG_MUST_CHECK;
/* tg_jws_parse with a header cache (may be NULL). */
enum tg_err tg_jws_parse_cached(struct tg_slice compact, const struct tg_jws_opts *opts,
                                struct tg_jws_header_cache *cache,
                                struct tg_jws *out) TG_MUST_CHECK;
/* The key in the "jwk" header, public members only (RFC 9449 §4.2): from the
 * header cache when it has it, else parsed now (via `keys`, may be NULL). */
enum tg_err tg_jws_header_jwk(const struct tg_jws *jws, struct tg_jwk_cache *keys,
                              struct tg_jwk *out) TG_MUST_CHECK;
enum tg_err tg_jws_verify(const struct tg_jws *jws, const struct tg_jwk *jwk) TG_MUST_CHECK;
/* The "typ" header (RFC 7515 §4.1.9, RFC 8725 §3.11): compared without
 * case, "application/" optional. */
enum tg_err tg_jws_check_typ(const struct tg_jws *jws, const char *typ) TG_MUST_CHECK;
void tg_jws_reset(struct tg_jws *jws);

/* Sign `payload` with `jwk`'s private key. The protected header is "alg"
 * followed by the members of `extra` (may be NULL; must not contain "alg").
 * Appends the compact serialization to `out`. */
enum tg_err tg_jws_sign(const struct tg_jwk *jwk, enum tg_jws_alg alg, const json_t *extra,
                        struct tg_slice payload, struct tg_buf *out) TG_MUST_CHECK;

/* Sign with a protected header already encoded (`header_b64`, the first
 * segment, no dot): for a signer whose header never changes. */
enum tg_err tg_jws_sign_prepared(const struct tg_jwk *jwk, enum tg_jws_alg alg,
                                 struct tg_slice header_b64, struct tg_slice payload,
                                 struct tg_buf *out) TG_MUST_CHECK;

#endif
