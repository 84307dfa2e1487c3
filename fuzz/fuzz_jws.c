/* libFuzzer target: a compact JWS as it arrives in an Authorization or DPoP
 * header. Parse it; when the header carries a "jwk" (the DPoP case), build
 * the key the way a resource server does (public only, through a small
 * shared cache) and verify; then parse it again as a JWT and validate its
 * claims against a fixed clock. Everything is released on every path, so
 * LeakSanitizer sees any leak in the code under test. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/clock.h"
#include "jose/jwk.h"
#include "jose/jwk_cache.h"
#include "jose/jws.h"
#include "jose/jwt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so eviction runs often; created once and kept (still reachable at
 * exit, so not a leak). */
static struct tg_jwk_cache *cache;
static struct tg_jws_header_cache *hcache;
static int64_t fixed_now = 1700000000; /* 2023-11-14 */
static const struct tg_clock fixed_clock = {tg_clock_fixed_now, &fixed_now};
static const char *const aud_any[] = {"https://rs.example.com", "urn:tollgate:test", NULL};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cache = tg_jwk_cache_new(8);
    hcache = tg_jws_header_cache_new(8);
    if (cache == NULL || hcache == NULL)
        abort();
    return 0;
}

static void
fuzz_jws(struct tg_slice in)
{
    struct tg_jws jws;
    struct tg_jwk jwk;

    /* Through the protected-header cache, as the DPoP verifier parses:
     * inputs repeat headers often enough for hits and evictions. */
    if (tg_jws_parse_cached(in, NULL, hcache, &jws) != TG_OK)
        return; /* parse resets on failure */
    if (jws.jwk != NULL && tg_jws_header_jwk(&jws, cache, &jwk) == TG_OK) {
        (void)tg_jws_verify(&jws, &jwk);
        tg_jwk_reset(&jwk);
    }
    tg_jws_reset(&jws);
}

static void
fuzz_jwt(struct tg_slice in)
{
    /* A lax check (nothing required) and a strict one (a DPoP-like proof):
     * between them every claim branch is reachable. */
    const struct tg_jwt_expect lax = {.clock = &fixed_clock};
    const struct tg_jwt_expect strict = {
        .clock = &fixed_clock,
        .skew = 60,
        .max_age = 300,
        .typ = "dpop+jwt",
        .iss = "https://as.example.com",
        .aud = "https://rs.example.com",
        .aud_any = aud_any,
        .require = TG_JWT_REQ_EXP | TG_JWT_REQ_NBF | TG_JWT_REQ_IAT | TG_JWT_REQ_JTI |
                   TG_JWT_REQ_SUB,
    };
    struct tg_jwt jwt;

    if (tg_jwt_parse(in, NULL, &jwt) != TG_OK)
        return;
    (void)tg_jwt_validate(&jwt, &lax);
    if (tg_jwt_check_typ(&jwt, strict.typ) == TG_OK)
        (void)tg_jwt_validate(&jwt, &strict);
    tg_jwt_reset(&jwt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_slice in = tg_slice(data, size);

    fuzz_jws(in);
    fuzz_jwt(in);
    tg_err_clear();
    return 0;
}
