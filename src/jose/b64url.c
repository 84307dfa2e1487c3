#include "jose/b64url.h"

#include <string.h>

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for alphabet characters, 0xff for everything else. */
static const uint8_t rev[256] = {
#define R_(c, v) [(unsigned char)(c)] = (v) + 1
    /* stored +1 so that the zero-initialised rest means "invalid" */
    R_('A', 0), R_('B', 1), R_('C', 2), R_('D', 3), R_('E', 4), R_('F', 5), R_('G', 6),
    R_('H', 7), R_('I', 8), R_('J', 9), R_('K', 10), R_('L', 11), R_('M', 12), R_('N', 13),
    R_('O', 14), R_('P', 15), R_('Q', 16), R_('R', 17), R_('S', 18), R_('T', 19), R_('U', 20),
    R_('V', 21), R_('W', 22), R_('X', 23), R_('Y', 24), R_('Z', 25), R_('a', 26), R_('b', 27),
    R_('c', 28), R_('d', 29), R_('e', 30), R_('f', 31), R_('g', 32), R_('h', 33), R_('i', 34),
    R_('j', 35), R_('k', 36), R_('l', 37), R_('m', 38), R_('n', 39), R_('o', 40), R_('p', 41),
    R_('q', 42), R_('r', 43), R_('s', 44), R_('t', 45), R_('u', 46), R_('v', 47), R_('w', 48),
    R_('x', 49), R_('y', 50), R_('z', 51), R_('0', 52), R_('1', 53), R_('2', 54), R_('3', 55),
    R_('4', 56), R_('5', 57), R_('6', 58), R_('7', 59), R_('8', 60), R_('9', 61), R_('-', 62),
    R_('_', 63),
#undef R_
};

void
tg_b64url_encode_to(struct tg_slice in, char *out)
{
    const uint8_t *p = in.p;
    size_t i = 0, o = 0;
    uint32_t v;

    for (; i + 3 <= in.len; i += 3) {
        v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    switch (in.len - i) {
    case 2:
        v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        break;
    case 1:
        v = (uint32_t)p[i] << 16;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        break;
    default:
        break;
    }
    out[o] = '\0';
}

enum tg_err
tg_b64url_encode(struct tg_slice in, struct tg_buf *out)
{
    size_t n = tg_b64url_encoded_len(in.len);
    uint8_t *dst;

    TG_GUARD(tg_buf_reserve(out, n + 1, &dst));
    tg_b64url_encode_to(in, (char *)dst);
    out->len += n;
    return TG_OK;
}

static enum tg_err
decode(struct tg_slice in, uint8_t *out)
{
    const uint8_t *p = in.p;
    size_t i = 0, o = 0, rem = in.len % 4;
    uint32_t a, b, c, d;

    /* RFC 4648 §5 without padding: a lone trailing character cannot be. */
    TG_ENSURE(rem != 1, TG_ERR_B64_LENGTH, "base64url length %zu", in.len);
    for (; i + 4 <= in.len; i += 4) {
        a = rev[p[i]];
        b = rev[p[i + 1]];
        c = rev[p[i + 2]];
        d = rev[p[i + 3]];
        TG_ENSURE(a && b && c && d, TG_ERR_B64_CHAR, "bad base64url character");
        a--, b--, c--, d--;
        if (out != NULL) {
            out[o] = (uint8_t)(a << 2 | b >> 4);
            out[o + 1] = (uint8_t)(b << 4 | c >> 2);
            out[o + 2] = (uint8_t)(c << 6 | d);
        }
        o += 3;
    }
    if (rem == 0)
        return TG_OK;
    a = rev[p[i]];
    b = rev[p[i + 1]];
    c = rem == 3 ? rev[p[i + 2]] : 1;
    TG_ENSURE(a && b && c, TG_ERR_B64_CHAR, "bad base64url character");
    a--, b--, c--;
    /* RFC 4648 §3.5: the pad bits must be zero for a canonical encoding. */
    if (rem == 2)
        TG_ENSURE((b & 15) == 0, TG_ERR_B64_TRAILING_BITS, "non-zero trailing bits");
    else
        TG_ENSURE((c & 3) == 0, TG_ERR_B64_TRAILING_BITS, "non-zero trailing bits");
    if (out != NULL) {
        out[o] = (uint8_t)(a << 2 | b >> 4);
        if (rem == 3)
            out[o + 1] = (uint8_t)(b << 4 | c >> 2);
    }
    return TG_OK;
}

enum tg_err
tg_b64url_check(struct tg_slice in)
{
    return decode(in, NULL);
}

enum tg_err
tg_b64url_decode_to(struct tg_slice in, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n = tg_b64url_decoded_max(in.len);

    *out_len = 0;
    TG_ENSURE(in.len % 4 != 1, TG_ERR_B64_LENGTH, "base64url length %zu", in.len);
    TG_ENSURE(n <= cap, TG_ERR_TOO_LARGE, "decoded %zu > cap %zu", n, cap);
    TG_GUARD(decode(in, out));
    *out_len = n;
    return TG_OK;
}

enum tg_err
tg_b64url_decode(struct tg_slice in, struct tg_buf *out)
{
    size_t n = tg_b64url_decoded_max(in.len);
    uint8_t *dst;

    TG_ENSURE(in.len % 4 != 1, TG_ERR_B64_LENGTH, "base64url length %zu", in.len);
    TG_GUARD(tg_buf_reserve(out, n, &dst));
    TG_GUARD(decode(in, dst));
    out->len += n;
    return TG_OK;
}
