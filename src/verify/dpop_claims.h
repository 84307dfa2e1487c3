/* The claims set of a DPoP proof (RFC 9449 §4.2), read in one pass with no
 * allocation: the members tg_dpop_verify needs are extracted, every other
 * member is validated as JSON and skipped.
 *
 * The parser accepts exactly the inputs that jansson 2.14's
 * json_loadb(..., JSON_REJECT_DUPLICATES) accepts as an object, so that a
 * proof means the same whichever reader sees it (fuzz/fuzz_dpop_claims.c
 * runs both on every input and aborts on any difference). */
#ifndef TG_VERIFY_DPOP_CLAIMS_H
#define TG_VERIFY_DPOP_CLAIMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "verify/dpop.h"

/* The largest payload: a proof is at most TG_DPOP_MAX_PROOF characters, so
 * its base64url payload decodes to at most 3/4 of that. Longer inputs are
 * refused (TG_ERR_TOO_LARGE), never truncated. */
#define TG_DPOP_CLAIMS_MAX (TG_DPOP_MAX_PROOF / 4 * 3)

enum tg_dpop_claim {
    TG_DPOP_CLAIM_JTI,
    TG_DPOP_CLAIM_HTM,
    TG_DPOP_CLAIM_HTU,
    TG_DPOP_CLAIM_ATH,
    TG_DPOP_CLAIM_NONCE,
    TG_DPOP_CLAIM_CONTENT_DIGEST,
    TG_DPOP_CLAIM__COUNT
};

struct tg_dpop_claim_value {
    int present;     /* the member is in the claims set, whatever its type */
    const char *str; /* its value when a string (escapes resolved, NUL-terminated,
                        in the owning struct's store), else NULL */
    size_t len;      /* strlen(str): a string never holds NUL (\u0000 is refused) */
};

struct tg_dpop_claims {
    struct tg_dpop_claim_value m[TG_DPOP_CLAIM__COUNT];
    /* "iat" as tg_jwt_numeric_date reads it: TG_OK with the value,
     * TG_ERR_JWT_CLAIM_MISSING or TG_ERR_JWT_CLAIM_INVALID (iat as it
     * leaves *out). */
    enum tg_err iat_rv;
    int64_t iat;
    /* The string values; one number at a time is also copied here for
     * strtod. Each is a separate run of the payload, and none decodes to
     * more bytes than it takes there, so the payload's cap bounds them all. */
    char store[TG_DPOP_CLAIMS_MAX + 2];
};

/* Parse `payload` (the decoded JWT payload: any bytes, not NUL-terminated).
 * TG_OK: `out` holds the members; TG_ERR_JSON_MALFORMED where json_loadb
 * would fail; TG_ERR_JWT_CLAIMS for well-formed JSON that is an array, not
 * an object (the two codes of tg_jwt_parse); TG_ERR_TOO_LARGE past
 * TG_DPOP_CLAIMS_MAX. On failure `out` holds nothing. No allocation: the
 * parser's state (the open containers and the names of the open objects,
 * for the duplicate check) takes about 17 KB of stack. */
enum tg_err tg_dpop_claims_parse(struct tg_slice payload,
                                 struct tg_dpop_claims *out) TG_MUST_CHECK;

/* The member's value when it is a string, else NULL (as tg_jwt_claim_str). */
static inline const char *
tg_dpop_claims_str(const struct tg_dpop_claims *c, enum tg_dpop_claim which)
{
    return c->m[which].str;
}

#endif
