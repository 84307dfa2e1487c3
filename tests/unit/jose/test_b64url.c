#include "test.h"

#include "jose/b64url.h"

static enum tg_err
dec(const char *in, struct tg_buf *out)
{
    tg_buf_reset(out);
    return tg_b64url_decode(tg_slice(in, strlen(in)), out);
}

static void
test_rfc4648_vectors(void)
{
    /* RFC 4648 §10, unpadded, in the url-safe alphabet. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char out[32];
    struct tg_buf b;
    size_t i;

    tg_buf_init(&b, 1024);
    for (i = 0; i < 7; i++) {
        tg_b64url_encode_to(tg_slice(plain[i], strlen(plain[i])), out);
        CHECK(strcmp(out, enc[i]) == 0);
        CHECK(tg_b64url_encoded_len(strlen(plain[i])) == strlen(enc[i]));
        CHECK_OK(dec(enc[i], &b));
        CHECK(b.len == strlen(plain[i]) && (b.len == 0 || memcmp(b.p, plain[i], b.len) == 0));
    }
    tg_buf_reset(&b);
}

static void
test_url_alphabet(void)
{
    static const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
    char out[8];
    struct tg_buf b;

    tg_b64url_encode_to(tg_slice(bytes, 3), out);
    CHECK(strcmp(out, "-_-_") == 0);
    tg_buf_init(&b, 64);
    CHECK_OK(dec("-_-_", &b));
    CHECK(b.len == 3 && memcmp(b.p, bytes, 3) == 0);
    tg_buf_reset(&b);
}

static void
test_refusals(void)
{
    struct tg_buf b;

    tg_buf_init(&b, 64);
    /* RFC 7515 §2: no padding, no standard-alphabet characters. */
    CHECK_ERR(dec("Zg==", &b), TG_ERR_B64_CHAR);
    CHECK_ERR(dec("Zm9v+/==", &b), TG_ERR_B64_CHAR);
    CHECK_ERR(dec("Zm9+", &b), TG_ERR_B64_CHAR);
    CHECK_ERR(dec("Zm 9", &b), TG_ERR_B64_CHAR);
    CHECK_ERR(dec("Zm9\n", &b), TG_ERR_B64_CHAR);
    CHECK_ERR(dec("Zm\xc3\xa9", &b), TG_ERR_B64_CHAR);
    /* A lone final character cannot encode anything. */
    CHECK_ERR(dec("Zm9vY", &b), TG_ERR_B64_LENGTH);
    CHECK_ERR(dec("A", &b), TG_ERR_B64_LENGTH);
    /* Non-canonical: "Zh" and "Zg" both decode to "f" if pad bits are ignored. */
    CHECK_ERR(dec("Zh", &b), TG_ERR_B64_TRAILING_BITS);
    CHECK_ERR(dec("Zm9", &b), TG_ERR_B64_TRAILING_BITS);
    CHECK_OK(dec("Zm8", &b));
    tg_buf_reset(&b);
}

static void
test_embedded_nul_and_cap(void)
{
    const char in[] = "Zm9v\0Zm9v";
    uint8_t out[3];
    size_t n;

    uint8_t big[16];

    /* Bytes are never read as a C string: a NUL inside is just a bad char. */
    CHECK_ERR(tg_b64url_decode_to(tg_slice(in, 8), big, sizeof(big), &n), TG_ERR_B64_CHAR);
    CHECK_ERR(tg_b64url_decode_to(tg_slice("Zm9vZm9v", 8), out, sizeof(out), &n),
              TG_ERR_TOO_LARGE);
    CHECK_OK(tg_b64url_decode_to(tg_slice(in, 4), out, sizeof(out), &n));
    CHECK(n == 3 && memcmp(out, "foo", 3) == 0);
}

static void
test_roundtrip_all_lengths(void)
{
    uint8_t data[300];
    char enc[512];
    uint8_t back[300];
    size_t n, len, i;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3);
    for (len = 0; len < sizeof(data); len++) {
        tg_b64url_encode_to(tg_slice(data, len), enc);
        CHECK(strlen(enc) == tg_b64url_encoded_len(len));
        CHECK_OK(tg_b64url_decode_to(tg_slice(enc, strlen(enc)), back, sizeof(back), &n));
        CHECK(n == len && memcmp(back, data, len) == 0);
    }
}

int
main(void)
{
    RUN(test_rfc4648_vectors);
    RUN(test_url_alphabet);
    RUN(test_refusals);
    RUN(test_embedded_nul_and_cap);
    RUN(test_roundtrip_all_lengths);
    return t_report("jose/b64url");
}
