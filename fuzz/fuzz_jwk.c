/* libFuzzer target: JWK JSON text, as read from a DPoP header, a JWKS
 * document or key storage. The first byte picks the mode without being
 * consumed, so seeds stay plain JSON and every mode is one whitespace
 * mutation away:
 *   bit 0 set   TG_JWK_PUBLIC_ONLY (e.g. '{', '\t')   clear: 0 (' ', '\n')
 *   bit 1 set   through the shared cache ('{', '\n')  clear: no cache
 * On success the key is exported again, and two invariants are checked:
 * the RFC 7638 thumbprint of the exported public JWK equals the one
 * computed while parsing (one key, one thumbprint: DPoP's jkt and the
 * cache depend on it), and the exported public JWK parses back. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jose/jwk.h"
#include "jose/jwk_cache.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tg_jwk_cache *cache;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cache = tg_jwk_cache_new(8);
    if (cache == NULL)
        abort();
    return 0;
}

static void
invariant(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_jwk: invariant violated: %s [%s]\n", what, tg_err_detail());
        abort();
    }
}

static void
check_export(const struct tg_jwk *jwk)
{
    json_t *pub = NULL, *priv = NULL;
    uint8_t tp[TG_SHA256_LEN];
    struct tg_jwk again;
    enum tg_err rv;

    rv = tg_jwk_public_json(jwk, &pub);
    invariant(rv == TG_OK, "public export of a parsed key fails");
    rv = tg_jwk_thumbprint_json(pub, tp);
    invariant(rv == TG_OK, "thumbprint of the exported public JWK fails");
    invariant(memcmp(tp, jwk->thumbprint, sizeof(tp)) == 0,
              "thumbprint of the exported public JWK differs from the parsed one");
    rv = tg_jwk_from_json(pub, TG_JWK_PUBLIC_ONLY, NULL, &again);
    invariant(rv == TG_OK, "exported public JWK does not parse back");
    invariant(memcmp(again.thumbprint, jwk->thumbprint, sizeof(tp)) == 0,
              "re-parsed public JWK has another thumbprint");
    tg_jwk_reset(&again);
    json_decref(pub);
    if (tg_key_is_private(jwk->key)) {
        rv = tg_jwk_private_json(jwk, &priv);
        invariant(rv == TG_OK, "private export of a parsed private key fails");
        json_decref(priv);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned flags = 0;
    struct tg_jwk_cache *c = NULL;
    struct tg_jwk jwk;

    if (size > 0) {
        flags = (data[0] & 1) ? TG_JWK_PUBLIC_ONLY : 0;
        c = (data[0] & 2) ? cache : NULL;
    }
    if (tg_jwk_parse((const char *)data, size, flags, c, &jwk) == TG_OK) {
        invariant(!(flags & TG_JWK_PUBLIC_ONLY) || !tg_key_is_private(jwk.key),
                  "private key accepted with TG_JWK_PUBLIC_ONLY");
        check_export(&jwk);
        tg_jwk_reset(&jwk);
    }
    tg_err_clear();
    return 0;
}
