/* libFuzzer target: the DPoP claims parser (src/verify/dpop_claims.c), a
 * hand-written single-pass reader that stands in for jansson on the
 * resource side's hot path. The input is a decoded JWT payload. Both
 * readers run on it and the target aborts on any difference: the verdict
 * (a claims set, malformed JSON, an array), and for a claims set each
 * member tg_dpop_verify reads (present, a string, its value) and iat as
 * tg_jwt_numeric_date gives it (code and value). Inputs past the parser's
 * cap must be refused as too large.
 *
 * Each input is also parsed once more with one NUL byte after it, so
 * jansson's NUL quirks near the end are exercised on every input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/verify/claims_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t withnul[TG_DPOP_CLAIMS_MAX + 2];

static void
agree(const uint8_t *data, size_t size)
{
    char why[256];

    if (t_claims_disagree(data, size, why, sizeof(why)) != NULL) {
        fprintf(stderr, "fuzz_dpop_claims: the parsers disagree on %zu bytes: %s\n", size, why);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    agree(data, size);
    if (size < sizeof(withnul)) {
        memcpy(withnul, data, size);
        withnul[size] = '\0';
        agree(withnul, size + 1);
    }
    tg_err_clear();
    return 0;
}
