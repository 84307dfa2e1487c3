/* The reference for the DPoP claims parser (src/verify/dpop_claims.c): what
 * tg_jwt_parse made of a payload before it, jansson's json_loadb with
 * JSON_REJECT_DUPLICATES, then tg_jwt_claim_str and tg_jwt_numeric_date.
 * Shared by tests/unit/verify/test_dpop_claims.c and
 * fuzz/fuzz_dpop_claims.c. */
#ifndef TG_TEST_CLAIMS_ORACLE_H
#define TG_TEST_CLAIMS_ORACLE_H

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "jose/jwt.h"
#include "verify/dpop_claims.h"

static const char *const t_claim_names[TG_DPOP_CLAIM__COUNT] = {
    [TG_DPOP_CLAIM_JTI] = "jti",     [TG_DPOP_CLAIM_HTM] = "htm",
    [TG_DPOP_CLAIM_HTU] = "htu",     [TG_DPOP_CLAIM_ATH] = "ath",
    [TG_DPOP_CLAIM_NONCE] = "nonce", [TG_DPOP_CLAIM_CONTENT_DIGEST] = "content_digest",
};

/* jansson's verdict on a payload, in tg_jwt_parse's codes. *claims is the
 * object on TG_OK (the caller releases it), else NULL. */
static inline enum tg_err
t_claims_jansson(const uint8_t *data, size_t len, json_t **claims)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);

    *claims = NULL;
    if (j == NULL)
        return TG_ERR_JSON_MALFORMED;
    if (!json_is_object(j)) {
        json_decref(j);
        return TG_ERR_JWT_CLAIMS;
    }
    *claims = j;
    return TG_OK;
}

/* Both readers on one payload: NULL when they agree on the verdict and, for
 * a claims set, on every member tg_dpop_verify reads; else what differs,
 * in `why` (cap bytes). */
static inline const char *
t_claims_disagree(const uint8_t *data, size_t len, char *why, size_t cap)
{
    struct tg_dpop_claims c;
    json_t *j = NULL, *v;
    enum tg_err want, got, iat_rv;
    const char *s;
    int64_t iat = 0;
    size_t i;

    got = tg_dpop_claims_parse(tg_slice(data, len), &c);
    if (len > TG_DPOP_CLAIMS_MAX) {
        if (got == TG_ERR_TOO_LARGE)
            return NULL;
        snprintf(why, cap, "%zu bytes: %s, want TG_ERR_TOO_LARGE", len, tg_err_name(got));
        return why;
    }
    want = t_claims_jansson(data, len, &j);
    if (got != want) {
        snprintf(why, cap, "verdict %s, jansson %s", tg_err_name(got), tg_err_name(want));
        json_decref(j);
        return why;
    }
    if (want != TG_OK)
        return NULL;
    why[0] = '\0';
    for (i = 0; i < TG_DPOP_CLAIM__COUNT && why[0] == '\0'; i++) {
        v = json_object_get(j, t_claim_names[i]);
        s = tg_jwt_claim_str(j, t_claim_names[i]);
        if (c.m[i].present != (v != NULL))
            snprintf(why, cap, "%s: present %d, jansson %d", t_claim_names[i], c.m[i].present,
                     v != NULL);
        else if ((c.m[i].str != NULL) != (s != NULL))
            snprintf(why, cap, "%s: string %d, jansson %d", t_claim_names[i],
                     c.m[i].str != NULL, s != NULL);
        else if (s != NULL && (c.m[i].len != json_string_length(v) ||
                               strlen(c.m[i].str) != c.m[i].len ||
                               memcmp(c.m[i].str, s, c.m[i].len + 1) != 0))
            snprintf(why, cap, "%s: value differs", t_claim_names[i]);
    }
    iat_rv = tg_jwt_numeric_date(j, "iat", &iat);
    if (why[0] == '\0' && (c.iat_rv != iat_rv || c.iat != iat))
        snprintf(why, cap, "iat: %s %lld, jansson %s %lld", tg_err_name(c.iat_rv),
                 (long long)c.iat, tg_err_name(iat_rv), (long long)iat);
    json_decref(j);
    return why[0] != '\0' ? why : NULL;
}

#endif
