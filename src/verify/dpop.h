/* DPoP proof verification (RFC 9449 §4.3, §7.1), shared by the token
 * endpoint and the resource side. Pure: time, the replay cache and the
 * nonce key are injected. */
#ifndef TG_VERIFY_DPOP_H
#define TG_VERIFY_DPOP_H

#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"
#include "jose/jwk.h"
#include "jose/jwk_cache.h"
#include "jose/jws.h"

#define TG_DPOP_MAX_PROOF 8192
#define TG_DPOP_NONCE_LEN 43 /* base64url of 32 octets */
#define TG_DPOP_MAX_CONTENT_DIGEST 160

/* Records a jti until `expires_at`: TG_OK when new, TG_ERR_REPLAY when seen,
 * TG_ERR_CACHE_FULL when it cannot remember it (the proof is then refused). */
struct tg_replay {
    enum tg_err (*insert_once)(void *arg, const void *key, size_t key_len, int64_t expires_at,
                               int64_t now);
    void *arg;
};

struct tg_dpop_config {
    unsigned algs;          /* TG_JWS_ALG_BIT set; 0 = all five */
    int64_t iat_window;     /* how old a proof may be, seconds (default 300) */
    int64_t iat_future;     /* how far in the future iat may be, seconds (default 5) */
    struct tg_jwk_cache *key_cache; /* may be NULL */
    struct tg_jws_header_cache *header_cache; /* may be NULL: a client's proofs share one header */
    struct tg_replay replay;        /* required */
    /* Server nonces (§8, §9): when `nonce_key` is set, proofs must carry a
     * nonce this server issued within `nonce_lifetime` seconds. */
    const uint8_t *nonce_key;       /* 32 bytes, or NULL: nonces off */
    int64_t nonce_lifetime;         /* default 300 */
    const struct tg_clock *clock;   /* NULL: system clock */
};

struct tg_dpop_request {
    const char *proof;       /* the DPoP header value */
    size_t n_proof_headers;  /* how many DPoP headers the request had */
    const char *htm;         /* the request method */
    const char *htu;         /* the request URI as the server sees it (no query needed) */
    const char *access_token; /* resource side: ath must match; NULL at the token endpoint */
    const char *jkt;          /* resource side: cnf.jkt of the token; NULL at the token endpoint */
    /* SHA-256 of access_token when the caller has it already (the resource
     * side keys its token cache by it), or NULL: computed here. */
    const uint8_t *access_token_sha256;
};

struct tg_dpop_result {
    char jkt[TG_THUMBPRINT_B64_LEN + 1]; /* RFC 7638 thumbprint of the proof key */
    char jti[129];
    enum tg_jws_alg alg;
    const char *why; /* on failure: a client-safe reason (static string) */
    /* The proof's content_digest claim (MCP ext-auth DPoP profile: the RFC
     * 9530 Content-Digest of the request body). has_content_digest is 1
     * whenever the claim is present; content_digest is then its value, or
     * empty when it is not a string or does not fit (never equal to a
     * digest, so the caller refuses). */
    int has_content_digest;
    char content_digest[TG_DPOP_MAX_CONTENT_DIGEST + 1];
};

/* TG_OK, or TG_ERR_OAUTH_INVALID_DPOP_PROOF (detail says which check),
 * TG_ERR_OAUTH_USE_DPOP_NONCE (send a fresh nonce), TG_ERR_CACHE_FULL. */
enum tg_err tg_dpop_verify(const struct tg_dpop_config *cfg, const struct tg_dpop_request *req,
                           struct tg_dpop_result *out) TG_MUST_CHECK;

/* A fresh server nonce: base64url(8-octet time || HMAC(key, time)[0..23]). */
enum tg_err tg_dpop_nonce_issue(const struct tg_dpop_config *cfg,
                                char out[TG_DPOP_NONCE_LEN + 1]) TG_MUST_CHECK;

/* RFC 9449 §4.3 step 9 with RFC 3986 §6.2.2 and §6.2.3 normalisation:
 * scheme and host to lower case, default port dropped, percent-encodings
 * upper-cased and unreserved ones decoded, empty path as "/", query and
 * fragment removed. Writes a NUL-terminated string into `out`. */
enum tg_err tg_htu_normalize(const char *uri, char *out, size_t cap) TG_MUST_CHECK;

#endif
