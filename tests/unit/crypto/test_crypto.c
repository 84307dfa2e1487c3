#define _GNU_SOURCE
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#include "crypto/crypto.h"
#include "jose/b64url.h"

static void
test_hmac_rfc4231(void)
{
    /* RFC 4231 §4.2, test case 1. */
    uint8_t key[20], out[32];
    static const uint8_t want[32] = {
        0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53, 0x5c, 0xa8, 0xaf,
        0xce, 0xaf, 0x0b, 0xf1, 0x2b, 0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83,
        0x3d, 0xa7, 0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7};

    memset(key, 0x0b, sizeof(key));
    CHECK_OK(tg_hmac_sha256(tg_slice(key, sizeof(key)), TG_SLICE_STR("Hi There"), out));
    CHECK(memcmp(out, want, 32) == 0);
    /* Test case 6: a key longer than the block is hashed first. */
    {
        uint8_t big[131];
        static const uint8_t want6[32] = {
            0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26,
            0xaa, 0xcb, 0xf5, 0xb7, 0x7f, 0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28,
            0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f, 0x0e, 0xe3, 0x7f, 0x54};

        memset(big, 0xaa, sizeof(big));
        CHECK_OK(tg_hmac_sha256(tg_slice(big, sizeof(big)),
                                TG_SLICE_STR("Test Using Larger Than Block-Size Key - Hash Key First"),
                                out));
        CHECK(memcmp(out, want6, 32) == 0);
    }
}

static void
test_aead(void)
{
    uint8_t key[32], key2[32];
    struct tg_buf sealed, plain;

    memset(key, 7, sizeof(key));
    memset(key2, 8, sizeof(key2));
    tg_buf_init(&sealed, 4096);
    tg_buf_init(&plain, 4096);
    CHECK_OK(tg_aead_seal(key, TG_SLICE_STR("kid-1"), TG_SLICE_STR("private key"), &sealed));
    CHECK(sealed.len == 11 + TG_AEAD_OVERHEAD);
    CHECK(memmem(sealed.p, sealed.len, "private key", 11) == NULL);
    CHECK_OK(tg_aead_open(key, TG_SLICE_STR("kid-1"), tg_slice(sealed.p, sealed.len), &plain));
    CHECK(plain.len == 11 && memcmp(plain.p, "private key", 11) == 0);
    tg_buf_reset(&plain);
    /* Wrong key, wrong context, any flipped bit, truncation: refused. */
    CHECK_ERR(tg_aead_open(key2, TG_SLICE_STR("kid-1"), tg_slice(sealed.p, sealed.len), &plain),
              TG_ERR_DECRYPT);
    CHECK_ERR(tg_aead_open(key, TG_SLICE_STR("kid-2"), tg_slice(sealed.p, sealed.len), &plain),
              TG_ERR_DECRYPT);
    sealed.p[TG_AEAD_NONCE_LEN + 3] ^= 1;
    CHECK_ERR(tg_aead_open(key, TG_SLICE_STR("kid-1"), tg_slice(sealed.p, sealed.len), &plain),
              TG_ERR_DECRYPT);
    sealed.p[TG_AEAD_NONCE_LEN + 3] ^= 1;
    CHECK_ERR(tg_aead_open(key, TG_SLICE_STR("kid-1"), tg_slice(sealed.p, sealed.len - 1), &plain),
              TG_ERR_DECRYPT);
    CHECK_ERR(tg_aead_open(key, TG_SLICE_STR("kid-1"), tg_slice(sealed.p, 10), &plain),
              TG_ERR_DECRYPT);
    CHECK(plain.len == 0);
    /* Two seals of the same plaintext differ (random nonce). */
    {
        struct tg_buf again;

        tg_buf_init(&again, 4096);
        CHECK_OK(tg_aead_seal(key, TG_SLICE_STR("kid-1"), TG_SLICE_STR("private key"), &again));
        CHECK(again.len == sealed.len && memcmp(again.p, sealed.p, sealed.len) != 0);
        tg_buf_reset(&again);
    }
    tg_buf_reset(&sealed);
    tg_buf_reset(&plain);
}

static void
test_secret_format(void)
{
    char a[TG_SECRET_LEN + 1], b[TG_SECRET_LEN + 1];

    CHECK_OK(tg_secret_generate(a));
    CHECK_OK(tg_secret_generate(b));
    CHECK(strlen(a) == TG_SECRET_LEN && strncmp(a, "tgs_", 4) == 0);
    CHECK(strcmp(a, b) != 0);
    CHECK_OK(tg_secret_check_format(tg_slice(a, strlen(a))));
    /* Any single-character typo is caught by the checksum or the alphabet. */
    a[10] = a[10] == 'x' ? 'y' : 'x';
    CHECK_ERR(tg_secret_check_format(tg_slice(a, strlen(a))), TG_ERR_SECRET_FORMAT);
    CHECK_ERR(tg_secret_check_format(tg_slice(b, strlen(b) - 1)), TG_ERR_SECRET_FORMAT);
    b[0] = 'x';
    CHECK_ERR(tg_secret_check_format(tg_slice(b, strlen(b))), TG_ERR_SECRET_FORMAT);
    CHECK_ERR(tg_secret_check_format(TG_SLICE_STR("hunter2")), TG_ERR_SECRET_FORMAT);
}

static void
test_pem_keys(void)
{
    /* An RSA key under 2048 bits from PEM is refused. */
    FILE *p = popen("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null", "r");
    char pem[8192];
    size_t n;
    struct tg_key *k = NULL;

    CHECK(p != NULL);
    if (p == NULL)
        return;
    n = fread(pem, 1, sizeof(pem), p);
    pclose(p);
    CHECK(n > 100);
    CHECK_ERR(tg_key_from_pem(pem, n, &k), TG_ERR_JWK_RSA_TOO_SMALL);
    p = popen("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null", "r");
    n = fread(pem, 1, sizeof(pem), p);
    pclose(p);
    CHECK_OK(tg_key_from_pem(pem, n, &k));
    CHECK(k != NULL && tg_key_type(k) == TG_KEY_EC_P256 && tg_key_is_private(k));
    tg_key_free(k);
    p = popen("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 2>/dev/null", "r");
    n = fread(pem, 1, sizeof(pem), p);
    pclose(p);
    CHECK_ERR(tg_key_from_pem(pem, n, &k), TG_ERR_JWK_CRV);
    CHECK_ERR(tg_key_from_pem("junk", 4, &k), TG_ERR_JWK_INVALID_KEY);
}

/* tg_random_id: no id twice, across pool refills and across a fork. */
static void
test_random_id(void)
{
    enum { N = 200 };
    static uint8_t ids[N][16];
    uint8_t zero[16] = {0}, mine[16], childs[16];
    int fds[2], st = 0, dup = 0, i, j;
    pid_t pid;

    for (i = 0; i < N; i++)
        CHECK_OK(tg_random_id(ids[i], 16));
    for (i = 0; i < N; i++) {
        dup |= memcmp(ids[i], zero, 16) == 0;
        for (j = 0; j < i; j++)
            dup |= memcmp(ids[i], ids[j], 16) == 0;
    }
    CHECK(!dup);
    CHECK(tg_random_id(mine, 65) != TG_OK);
    /* Parent and child would share the rest of the pool without the fork
     * handler: their next ids must differ. */
    CHECK(pipe(fds) == 0);
    pid = fork();
    if (pid == 0) {
        _exit(tg_random_id(childs, 16) == TG_OK && write(fds[1], childs, 16) == 16 ? 0 : 1);
    }
    CHECK_OK(tg_random_id(mine, 16));
    CHECK(read(fds[0], childs, 16) == 16);
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(memcmp(mine, childs, 16) != 0);
    close(fds[0]);
    close(fds[1]);
}

/* tg_cert_info_from_der: subject and SANs, the same on a second look (kept
 * by DER digest), distinct certificates distinct, garbage refused every
 * time, and the caller owns what it gets. */
static void
cert_der(const struct tg_cert_spec *spec, struct tg_key *k, struct tg_buf *der)
{
    struct tg_buf pem;

    tg_buf_init(&pem, 65536);
    CHECK_OK(tg_cert_issue(spec, k, k, NULL, &pem));
    CHECK_OK(tg_cert_pem_to_der((const char *)pem.p, pem.len, der));
    tg_buf_reset(&pem);
}

static void
test_cert_info(void)
{
    struct tg_cert_spec a = {.cn = "agent-a", .org = "Tollgate test", .san_dns = "a.example",
                             .san_uri = "spiffe://example.org/agent/a", .days = 1};
    struct tg_cert_spec b = {.cn = "agent-b", .san_dns = "b.example", .days = 1};
    struct tg_key *k = NULL;
    struct tg_buf da, db;
    struct tg_cert_info i1, i2, i3;
    int round;

    tg_buf_init(&da, 65536);
    tg_buf_init(&db, 65536);
    CHECK_OK(tg_key_generate(TG_KEY_EC_P256, 0, &k));
    if (k == NULL)
        return;
    cert_der(&a, k, &da);
    cert_der(&b, k, &db);
    for (round = 0; round < 2; round++) {
        CHECK_OK(tg_cert_info_from_der(tg_slice(da.p, da.len), &i1));
        CHECK(i1.subject_dn != NULL && strcmp(i1.subject_dn, "CN=agent-a,O=Tollgate test") == 0);
        CHECK(i1.n_dns == 1 && strcmp(i1.san_dns[0], "a.example") == 0);
        CHECK(i1.n_uri == 1 && strcmp(i1.san_uri[0], "spiffe://example.org/agent/a") == 0);
        CHECK_OK(tg_cert_info_from_der(tg_slice(db.p, db.len), &i2));
        CHECK(i2.subject_dn != NULL && strcmp(i2.subject_dn, "CN=agent-b") == 0);
        CHECK(i2.n_dns == 1 && strcmp(i2.san_dns[0], "b.example") == 0 && i2.n_uri == 0);
        /* Each call hands out its own strings. */
        CHECK_OK(tg_cert_info_from_der(tg_slice(da.p, da.len), &i3));
        CHECK(i3.subject_dn != i1.subject_dn && strcmp(i3.subject_dn, i1.subject_dn) == 0);
        tg_cert_info_reset(&i1);
        tg_cert_info_reset(&i2);
        tg_cert_info_reset(&i3);
        /* One byte off: not a certificate, however often asked. */
        da.p[da.len / 2] ^= 0x01;
        CHECK(tg_cert_info_from_der(tg_slice(da.p, da.len - 1), &i1) != TG_OK);
        CHECK(tg_cert_info_from_der(tg_slice("\x30\x03\x02\x01\x01", 5), &i1) != TG_OK);
        da.p[da.len / 2] ^= 0x01;
    }
    tg_key_free(k);
    tg_buf_reset(&da);
    tg_buf_reset(&db);
}

/* tg_cert_verify_der against a CA bundle file: chains or not, and a bundle
 * replaced on disk (rotation: a new file renamed over the old) is read
 * again at the next verification. */
static void
ca_and_leaf(const char *cn, struct tg_key *ca_key, struct tg_key *leaf_key, struct tg_buf *ca_pem,
            struct tg_buf *leaf_der)
{
    struct tg_cert_spec ca = {.cn = cn, .is_ca = 1, .days = 1};
    struct tg_cert_spec leaf = {.cn = "leaf", .days = 1};
    struct tg_buf pem;

    tg_buf_init(&pem, 65536);
    CHECK_OK(tg_cert_issue(&ca, ca_key, ca_key, NULL, ca_pem));
    CHECK_OK(tg_buf_append(ca_pem, "", 1)); /* NUL for the issuer argument */
    ca_pem->len--;
    CHECK_OK(tg_cert_issue(&leaf, leaf_key, ca_key, (const char *)ca_pem->p, &pem));
    CHECK_OK(tg_cert_pem_to_der((const char *)pem.p, pem.len, leaf_der));
    tg_buf_reset(&pem);
}

static void
write_file(const char *path, const struct tg_buf *b)
{
    char tmp[300];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    CHECK(f != NULL && fwrite(b->p, 1, b->len, f) == b->len);
    if (f != NULL)
        fclose(f);
    CHECK(rename(tmp, path) == 0);
}

static void
test_cert_verify_bundle(void)
{
    char dir[] = "/tmp/tg-ca-XXXXXX", path[300];
    struct tg_key *k1 = NULL, *k2 = NULL, *kl = NULL;
    struct tg_buf ca1, ca2, l1, l2;
    int i;

    tg_buf_init(&ca1, 65536);
    tg_buf_init(&ca2, 65536);
    tg_buf_init(&l1, 65536);
    tg_buf_init(&l2, 65536);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/bundle.pem", dir);
    CHECK_OK(tg_key_generate(TG_KEY_EC_P256, 0, &k1));
    CHECK_OK(tg_key_generate(TG_KEY_EC_P256, 0, &k2));
    CHECK_OK(tg_key_generate(TG_KEY_EC_P256, 0, &kl));
    if (k1 == NULL || k2 == NULL || kl == NULL)
        goto out;
    ca_and_leaf("CA one", k1, kl, &ca1, &l1);
    ca_and_leaf("CA two", k2, kl, &ca2, &l2);
    CHECK_ERR(tg_cert_verify_der(tg_slice(l1.p, l1.len), path), TG_ERR_CONFIG); /* no file */
    write_file(path, &ca1);
    for (i = 0; i < 2; i++) { /* the second time from the kept store */
        CHECK_OK(tg_cert_verify_der(tg_slice(l1.p, l1.len), path));
        CHECK_ERR(tg_cert_verify_der(tg_slice(l2.p, l2.len), path), TG_ERR_OAUTH_INVALID_CLIENT);
    }
    write_file(path, &ca2);
    CHECK_ERR(tg_cert_verify_der(tg_slice(l1.p, l1.len), path), TG_ERR_OAUTH_INVALID_CLIENT);
    CHECK_OK(tg_cert_verify_der(tg_slice(l2.p, l2.len), path));
    unlink(path);
    CHECK_ERR(tg_cert_verify_der(tg_slice(l2.p, l2.len), path), TG_ERR_CONFIG);
out:
    rmdir(dir);
    tg_key_free(k1);
    tg_key_free(k2);
    tg_key_free(kl);
    tg_buf_reset(&ca1);
    tg_buf_reset(&ca2);
    tg_buf_reset(&l1);
    tg_buf_reset(&l2);
}

int
main(void)
{
    RUN(test_hmac_rfc4231);
    RUN(test_random_id);
    RUN(test_cert_info);
    RUN(test_cert_verify_bundle);
    RUN(test_aead);
    RUN(test_secret_format);
    RUN(test_pem_keys);
    return t_report("crypto/crypto");
}
