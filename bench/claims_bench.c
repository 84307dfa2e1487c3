/* claims_bench: what reading a DPoP proof's claims set costs, in a loop made
 * to be counted with callgrind (instructions, not time: the numbers do not
 * depend on what else the machine runs).
 *
 *   claims_bench jansson N   json_loadb(JSON_REJECT_DUPLICATES) + the lookups
 *                            tg_dpop_verify made before dpop_claims.c
 *                            (tg_jwt_claim_str x4, tg_jwt_numeric_date, the
 *                            content_digest lookup) + json_decref
 *   claims_bench claims N    tg_dpop_claims_parse
 *   claims_bench verify N    the whole tg_dpop_verify on an ES256 proof, warm
 *                            header and key caches, access token and jkt set
 *                            (the resource side's path)
 *
 * on the payload of a typical resource-side proof (161 bytes):
 *   {"jti":<22 chars>,"htm":"GET","htu":"http://127.0.0.1:40143/tools/demo/items",
 *    "iat":1764450000,"ath":<43 chars>}
 *
 * Per operation = difference of two runs over the difference of N:
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *       build/default/bench/claims_bench claims 1000    (and 6000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "crypto/crypto.h"
#include "jose/b64url.h"
#include "jose/jwk.h"
#include "jose/jwk_cache.h"
#include "jose/jws.h"
#include "jose/jwt.h"
#include "verify/dpop.h"
#include "verify/dpop_claims.h"

#define HTU "http://127.0.0.1:40143/tools/demo/items"
#define IAT 1764450000

static int64_t now = IAT;
static const struct tg_clock fixed = {tg_clock_fixed_now, &now};

static enum tg_err
replay_ok(void *arg, const void *key, size_t len, int64_t exp, int64_t t)
{
    (void)arg;
    (void)key;
    (void)len;
    (void)exp;
    (void)t;
    return TG_OK;
}

static void
die(const char *what)
{
    fprintf(stderr, "claims_bench: %s [%s]\n", what, tg_err_detail());
    exit(1);
}

int
main(int argc, char **argv)
{
    const char *at = "eyJhbGciOiJFUzI1NiJ9.access-token-stand-in.c2ln";
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000, i;
    const char *mode = argc > 1 ? argv[1] : "claims";
    volatile long sink = 0;
    uint8_t md[TG_SHA256_LEN];
    char ath[TG_THUMBPRINT_B64_LEN + 1], jkt[TG_THUMBPRINT_B64_LEN + 1], payload[256];
    struct tg_dpop_claims claims;
    struct tg_key *key = NULL;
    struct tg_jwk jwk;
    struct tg_buf proof;
    const char *proof_s;
    json_t *hdr = NULL, *pub = NULL;
    int len;

    if (tg_sha256(tg_slice(at, strlen(at)), md) != TG_OK)
        die("sha256");
    tg_thumbprint_b64(md, ath);
    len = snprintf(payload, sizeof(payload),
                   "{\"jti\":\"4tCmzPG3cjVAzG2VUDgQ1A\",\"htm\":\"GET\",\"htu\":\"" HTU
                   "\",\"iat\":%d,\"ath\":\"%s\"}",
                   IAT, ath);
    if (strcmp(mode, "claims") == 0) {
        for (i = 0; i < n; i++) {
            if (tg_dpop_claims_parse(tg_slice(payload, (size_t)len), &claims) != TG_OK)
                die("parse");
            sink += claims.iat + (long)claims.m[TG_DPOP_CLAIM_JTI].len;
        }
    } else if (strcmp(mode, "jansson") == 0) {
        for (i = 0; i < n; i++) {
            json_error_t jerr;
            json_t *c = json_loadb(payload, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
            int64_t iat;

            if (!json_is_object(c) || tg_jwt_numeric_date(c, "iat", &iat) != TG_OK)
                die("jansson");
            sink += iat + (tg_jwt_claim_str(c, "jti") != NULL) +
                    (tg_jwt_claim_str(c, "htm") != NULL) + (tg_jwt_claim_str(c, "htu") != NULL) +
                    (tg_jwt_claim_str(c, "ath") != NULL) +
                    (json_object_get(c, "content_digest") != NULL);
            json_decref(c);
        }
    } else if (strcmp(mode, "verify") == 0) {
        struct tg_dpop_config cfg;
        struct tg_dpop_request req;
        struct tg_dpop_result res;

        if (tg_key_generate(TG_KEY_EC_P256, 0, &key) != TG_OK ||
            tg_jwk_from_key(key, TG_JWS_ALG_UNSET, NULL, &jwk) != TG_OK ||
            tg_jwk_public_json(&jwk, &pub) != TG_OK)
            die("key");
        hdr = json_pack("{s:s,s:O}", "typ", "dpop+jwt", "jwk", pub);
        tg_buf_init(&proof, TG_DPOP_MAX_PROOF);
        if (hdr == NULL ||
            tg_jws_sign(&jwk, TG_JWS_ES256, hdr, tg_slice(payload, (size_t)len), &proof) !=
                TG_OK ||
            tg_buf_cstr(&proof, &proof_s) != TG_OK)
            die("sign");
        tg_thumbprint_b64(jwk.thumbprint, jkt);
        memset(&cfg, 0, sizeof(cfg));
        cfg.replay.insert_once = replay_ok;
        cfg.clock = &fixed;
        cfg.header_cache = tg_jws_header_cache_new(16);
        cfg.key_cache = tg_jwk_cache_new(16);
        memset(&req, 0, sizeof(req));
        req.proof = proof_s;
        req.n_proof_headers = 1;
        req.htm = "GET";
        req.htu = HTU;
        req.access_token = at;
        req.access_token_sha256 = md;
        req.jkt = jkt;
        for (i = 0; i < n; i++) {
            if (tg_dpop_verify(&cfg, &req, &res) != TG_OK)
                die(res.why);
            sink += res.jti[0];
        }
        tg_jws_header_cache_free(cfg.header_cache);
        tg_jwk_cache_free(cfg.key_cache);
        tg_buf_reset(&proof);
        json_decref(hdr);
        json_decref(pub);
        tg_jwk_reset(&jwk);
        tg_key_free(key);
    } else {
        fprintf(stderr, "usage: claims_bench jansson|claims|verify [N]\n");
        return 2;
    }
    printf("%s x %ld on a %d-byte payload\n", mode, n, len);
    return 0;
}
