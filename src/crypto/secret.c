/* Client secret format: tgs_<43 base62: 256 bits><6 base62: CRC32>. */
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static uint32_t
crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

/* Big-endian base62 of a byte string into exactly `digits` characters. */
static void
to_base62(const uint8_t *in, size_t n, char *out, size_t digits)
{
    uint8_t num[64];
    size_t i, d;
    unsigned rem, v;

    memcpy(num, in, n);
    for (d = digits; d > 0; d--) {
        rem = 0;
        for (i = 0; i < n; i++) {
            v = (rem << 8) | num[i];
            num[i] = (uint8_t)(v / 62);
            rem = v % 62;
        }
        out[d - 1] = b62[rem];
    }
    tg_wipe(num, sizeof(num));
}

static void
checksum(const char *body, size_t n, char out[6])
{
    uint32_t c = crc32((const uint8_t *)body, n);
    uint8_t be[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};

    to_base62(be, 4, out, 6); /* 62^6 > 2^32 */
}

enum tg_err
tg_secret_generate(char out[TG_SECRET_LEN + 1])
{
    uint8_t r[32];

    TG_GUARD(tg_random(r, sizeof(r)));
    memcpy(out, TG_SECRET_PREFIX, 4);
    to_base62(r, sizeof(r), out + 4, 43); /* 62^43 > 2^256 */
    tg_wipe(r, sizeof(r));
    checksum(out, 4 + 43, out + 4 + 43);
    out[TG_SECRET_LEN] = '\0';
    return TG_OK;
}

enum tg_err
tg_secret_check_format(struct tg_slice s)
{
    char want[6];
    size_t i;

    TG_ENSURE(s.len == TG_SECRET_LEN && memcmp(s.p, TG_SECRET_PREFIX, 4) == 0,
              TG_ERR_SECRET_FORMAT, "not a Tollgate secret");
    for (i = 4; i < s.len; i++)
        TG_ENSURE(memchr(b62, s.p[i], 62) != NULL, TG_ERR_SECRET_FORMAT, "bad character");
    checksum((const char *)s.p, 4 + 43, want);
    TG_ENSURE(tg_ct_eq(want, s.p + 47, 6), TG_ERR_SECRET_FORMAT, "checksum mismatch");
    return TG_OK;
}
