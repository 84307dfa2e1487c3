/* DPoP proof checks, in the order of RFC 9449 §4.3. Every failure is
 * TG_ERR_OAUTH_INVALID_DPOP_PROOF with a client-safe reason in out->why;
 * the inner JOSE error stays in the thread's error detail for the log. */
#include "verify/dpop.h"

#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"
#include "jose/b64url.h"
#include "verify/dpop_claims.h"

#define FAIL_WHY(reason)                                                   \
    do {                                                                   \
        out->why = (reason);                                               \
        rv = TG_ERR_OAUTH_INVALID_DPOP_PROOF;                              \
        goto out;                                                          \
    } while (0)

#define CHECK_WHY(cond, reason)                                            \
    do {                                                                   \
        if (!(cond)) {                                                     \
            tg_err_raise(TG_ERR_OAUTH_INVALID_DPOP_PROOF, "%s", (reason));  \
            FAIL_WHY(reason);                                              \
        }                                                                  \
    } while (0)

static enum tg_err
nonce_mac(const uint8_t *key, const uint8_t t[8], uint8_t mac[TG_SHA256_LEN])
{
    return tg_hmac_sha256(tg_slice(key, 32), tg_slice(t, 8), mac);
}

enum tg_err
tg_dpop_nonce_issue(const struct tg_dpop_config *cfg, char out[TG_DPOP_NONCE_LEN + 1])
{
    const struct tg_clock *clock = cfg->clock ? cfg->clock : &tg_clock_system;
    uint64_t now = (uint64_t)tg_clock_now(clock);
    uint8_t raw[32], mac[TG_SHA256_LEN];
    int i;

    TG_ENSURE(cfg->nonce_key != NULL, TG_ERR_CONFIG, "nonces not configured");
    for (i = 0; i < 8; i++)
        raw[i] = (uint8_t)(now >> (56 - 8 * i));
    TG_GUARD(nonce_mac(cfg->nonce_key, raw, mac));
    memcpy(raw + 8, mac, 24);
    tg_b64url_encode_to(tg_slice(raw, sizeof(raw)), out);
    return TG_OK;
}

static int
nonce_valid(const struct tg_dpop_config *cfg, const char *nonce, int64_t now)
{
    uint8_t raw[32], mac[TG_SHA256_LEN];
    size_t n = 0;
    int64_t t = 0, life = cfg->nonce_lifetime > 0 ? cfg->nonce_lifetime : 300;
    int i;

    if (nonce == NULL || strlen(nonce) != TG_DPOP_NONCE_LEN ||
        tg_b64url_decode_to(tg_slice(nonce, TG_DPOP_NONCE_LEN), raw, sizeof(raw), &n) != TG_OK ||
        n != 32 || nonce_mac(cfg->nonce_key, raw, mac) != TG_OK ||
        !tg_ct_eq(mac, raw + 8, 24))
        return 0;
    for (i = 0; i < 8; i++)
        t = (int64_t)((uint64_t)t << 8 | raw[i]);
    return t <= now + 5 && now - t <= life;
}

enum tg_err
tg_dpop_verify(const struct tg_dpop_config *cfg, const struct tg_dpop_request *req,
               struct tg_dpop_result *out)
{
    const struct tg_clock *clock = cfg->clock ? cfg->clock : &tg_clock_system;
    struct tg_jws_opts opts = {cfg->algs ? cfg->algs : TG_JWS_ALGS_ALL, NULL, TG_DPOP_MAX_PROOF};
    int64_t now = tg_clock_now(clock), iat = 0;
    int64_t window = cfg->iat_window > 0 ? cfg->iat_window : 300;
    int64_t future = cfg->iat_future > 0 ? cfg->iat_future : 5;
    char a[4096], b[4096];
    struct tg_jws jws;
    struct tg_dpop_claims claims;
    struct tg_jwk jwk;
    const char *jti, *htm, *htu, *ath, *nonce;
    uint8_t md[TG_SHA256_LEN];
    char want_ath[TG_THUMBPRINT_B64_LEN + 1], key[256];
    enum tg_err rv = TG_OK, e;
    int klen;

    memset(&jws, 0, sizeof(jws));
    memset(&jwk, 0, sizeof(jwk));
    memset(out, 0, sizeof(*out));
    /* 1. exactly one DPoP HTTP request header field */
    CHECK_WHY(req->proof != NULL && req->n_proof_headers == 1,
              "exactly one DPoP header is required");
    /* 2. a single well-formed JWT; 5. asymmetric alg we support, not none */
    e = tg_jws_parse_cached(tg_slice(req->proof, strlen(req->proof)), &opts, cfg->header_cache,
                            &jws);
    if (e == TG_ERR_JWS_ALG_NONE || e == TG_ERR_JWS_ALG_SYMMETRIC || e == TG_ERR_JWS_ALG_UNKNOWN ||
        e == TG_ERR_JWS_ALG_NOT_ALLOWED)
        FAIL_WHY("DPoP proof alg is not supported");
    CHECK_WHY(e == TG_OK, "DPoP proof is not a well-formed JWT");
    /* The claims set (RFC 7519 §7.2 step 10), before the signature as
     * tg_jwt_parse does: a proof whose payload is not a JSON object is not
     * a well-formed JWT, whoever signed it. */
    CHECK_WHY(tg_dpop_claims_parse(tg_slice(jws.payload, jws.payload_len), &claims) == TG_OK,
              "DPoP proof is not a well-formed JWT");
    /* 4. typ is dpop+jwt */
    CHECK_WHY(tg_jws_check_typ(&jws, "dpop+jwt") == TG_OK, "DPoP proof typ must be dpop+jwt");
    /* 3. + 7. a jwk header holding a public key only */
    CHECK_WHY(jws.jwk != NULL, "DPoP proof has no jwk header");
    e = tg_jws_header_jwk(&jws, cfg->key_cache, &jwk);
    CHECK_WHY(e != TG_ERR_JWK_PRIVATE_MEMBER, "DPoP proof jwk contains a private key");
    CHECK_WHY(e == TG_OK, "DPoP proof jwk is not a usable public key");
    /* 6. the signature verifies with that key */
    CHECK_WHY(tg_jws_verify(&jws, &jwk) == TG_OK, "DPoP proof signature is invalid");
    /* 3. required claims */
    jti = tg_dpop_claims_str(&claims, TG_DPOP_CLAIM_JTI);
    htm = tg_dpop_claims_str(&claims, TG_DPOP_CLAIM_HTM);
    htu = tg_dpop_claims_str(&claims, TG_DPOP_CLAIM_HTU);
    CHECK_WHY(jti != NULL && jti[0] != '\0' && strlen(jti) < sizeof(out->jti),
              "DPoP proof jti is missing or invalid");
    CHECK_WHY(htm != NULL, "DPoP proof htm is missing");
    CHECK_WHY(htu != NULL, "DPoP proof htu is missing");
    iat = claims.iat;
    CHECK_WHY(claims.iat_rv == TG_OK, "DPoP proof iat is missing or invalid");
    /* 8. htm matches the method (RFC 9110 §9.1: case-sensitive) */
    CHECK_WHY(req->htm != NULL && strcmp(htm, req->htm) == 0, "DPoP proof htm does not match");
    /* 9. htu matches the request URI, query and fragment ignored */
    CHECK_WHY(req->htu != NULL && tg_htu_normalize(htu, a, sizeof(a)) == TG_OK &&
                  tg_htu_normalize(req->htu, b, sizeof(b)) == TG_OK && strcmp(a, b) == 0,
              "DPoP proof htu does not match");
    /* 11. iat within the window */
    CHECK_WHY(iat <= now + future, "DPoP proof iat is in the future");
    CHECK_WHY(iat >= now - window, "DPoP proof is too old");
    /* 12. ath is the hash of the access token presented with it */
    if (req->access_token != NULL) {
        ath = tg_dpop_claims_str(&claims, TG_DPOP_CLAIM_ATH);
        CHECK_WHY(ath != NULL, "DPoP proof ath is missing");
        if (req->access_token_sha256 != NULL)
            memcpy(md, req->access_token_sha256, sizeof(md));
        else
            CHECK_WHY(tg_sha256(tg_slice(req->access_token, strlen(req->access_token)), md) ==
                          TG_OK,
                      "internal");
        tg_thumbprint_b64(md, want_ath);
        CHECK_WHY(strlen(ath) == TG_THUMBPRINT_B64_LEN &&
                      tg_ct_eq(ath, want_ath, TG_THUMBPRINT_B64_LEN),
                  "DPoP proof ath does not match the access token");
    }
    /* 13. the key is the one the token is bound to (cnf.jkt) */
    tg_thumbprint_b64(jwk.thumbprint, out->jkt);
    if (req->jkt != NULL)
        CHECK_WHY(strlen(req->jkt) == TG_THUMBPRINT_B64_LEN &&
                      tg_ct_eq(req->jkt, out->jkt, TG_THUMBPRINT_B64_LEN),
                  "DPoP proof key does not match the token binding");
    /* 10. server nonce, when we require one (§8 and §9) */
    if (cfg->nonce_key != NULL) {
        nonce = tg_dpop_claims_str(&claims, TG_DPOP_CLAIM_NONCE);
        if (!nonce_valid(cfg, nonce, now)) {
            out->why = nonce ? "DPoP nonce is stale or unknown" : "DPoP nonce is required";
            TG_FAIL(TG_ERR_OAUTH_USE_DPOP_NONCE, "%s", out->why);
        }
    }
    /* Replay, last, so that only valid proofs take room (§11.1): keyed by
     * key thumbprint and jti, kept for as long as the proof could be
     * accepted (until iat + window). */
    klen = snprintf(key, sizeof(key), "dpop:%s:%s", out->jkt, jti);
    CHECK_WHY(klen > 0 && (size_t)klen < sizeof(key), "DPoP proof jti is too long");
    e = cfg->replay.insert_once(cfg->replay.arg, key, (size_t)klen, iat + window + 1, now);
    if (e == TG_ERR_CACHE_FULL) {
        out->why = "replay cache is full";
        TG_FAIL(TG_ERR_CACHE_FULL, "DPoP replay cache full");
    }
    CHECK_WHY(e != TG_ERR_REPLAY, "DPoP proof has been used before");
    CHECK_WHY(e == TG_OK, "DPoP replay check failed");
    memcpy(out->jti, jti, strlen(jti) + 1);
    out->alg = jws.alg;
    if (claims.m[TG_DPOP_CLAIM_CONTENT_DIGEST].present) {
        const struct tg_dpop_claim_value *cd = &claims.m[TG_DPOP_CLAIM_CONTENT_DIGEST];

        out->has_content_digest = 1;
        if (cd->str != NULL && cd->len <= TG_DPOP_MAX_CONTENT_DIGEST)
            memcpy(out->content_digest, cd->str, cd->len + 1);
    }
out:
    tg_jwk_reset(&jwk);
    tg_jws_reset(&jws);
    return rv;
}
