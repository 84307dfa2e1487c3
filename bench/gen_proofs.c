/* gen_proofs: pre-generate DPoP proofs (RFC 9449 §4.2) for token_bench.sh
 * and gateway_bench.sh.
 *
 * The token endpoint refuses a proof whose jti it has seen (replay) and one
 * whose iat is more than 300 s old, so a load test needs one fresh, unique
 * proof per request, made before the run so that the load generator does no
 * signing of its own. All proofs are signed with one ES256 key (one agent,
 * one key: the server's JWK cache stays warm, as it would in production),
 * through the project's JOSE layer:
 *
 *   header  {"alg":"ES256","typ":"dpop+jwt","jwk":{kty,crv,x,y}}
 *   claims  {"jti":<128 random bits>,"htm":"POST","htu":HTU,"iat":IAT}
 *           (+ "ath" with -a: base64url(SHA-256(access token)), RFC 9449 §4.2)
 *
 * For a resource server (gateway_bench.sh) the proofs must be made with the
 * key the access token is bound to: -k KEYFILE keeps the key in a PKCS#8 PEM
 * file (made on first use, read afterwards), -m the method (htm), -a FILE
 * the access token (its first line) for `ath`.
 *
 * The proofs are written one per line into PREFIX.0 .. PREFIX.<split-1>,
 * COUNT/split lines each (the first files take the remainder), so each
 * thread of the load generator reads its own file and no two requests ever
 * carry the same proof. Generation runs on `jobs` threads.
 *
 * usage: gen_proofs [-j jobs] [-s split] [-i iat] [-k keyfile] [-m method]
 *                   [-a token-file] HTU COUNT PREFIX */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "crypto/crypto.h"
#include "jose/b64url.h"
#include "jose/jwk.h"
#include "jose/jws.h"

#define MAX_JOBS 64
#define MAX_SPLIT 256

struct job {
    const struct tg_jwk *jwk;
    const json_t *hdr;
    const char *htu, *htm, *ath; /* ath: NULL = none */
    int64_t iat;
    size_t first, count; /* items [first, first + count) */
    char *out;           /* count lines, '\n'-terminated */
    size_t out_len;
    int failed;
};

static void
usage(void)
{
    fprintf(stderr, "usage: gen_proofs [-j jobs] [-s split] [-i iat] [-k keyfile] [-m method]\n"
                    "                  [-a token-file] HTU COUNT PREFIX\n"
                    "  writes COUNT ES256 DPoP proofs for METHOD (default POST) HTU, one per\n"
                    "  line, into PREFIX.0 .. PREFIX.<split-1> (default: 2 jobs, split 1, iat\n"
                    "  now, a new key). -k: the key's PEM file, created if missing, else used;\n"
                    "  -a: add ath, the hash of the access token on the file's first line\n");
}

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static void *
job_main(void *arg)
{
    struct job *j = arg;
    struct tg_buf tok;
    json_t *claims = NULL;
    char *payload = NULL, jti[32];
    uint8_t rnd[16];
    size_t i, cap, need;
    char *grown;

    tg_buf_init(&tok, TG_JWS_MAX_LEN);
    cap = j->count * 640 + 1;
    j->out = malloc(cap);
    if (j->out == NULL)
        goto fail;
    for (i = 0; i < j->count; i++) {
        if (tg_random(rnd, sizeof(rnd)) != TG_OK)
            goto fail;
        tg_b64url_encode_to(tg_slice(rnd, sizeof(rnd)), jti);
        claims = json_pack("{s:s,s:s,s:s,s:I}", "jti", jti, "htm", j->htm, "htu", j->htu, "iat",
                           (json_int_t)j->iat);
        if (claims != NULL && j->ath != NULL &&
            json_object_set_new(claims, "ath", json_string(j->ath)) != 0) {
            json_decref(claims);
            claims = NULL;
        }
        payload = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
        if (payload == NULL)
            goto fail;
        tok.len = 0;
        if (tg_jws_sign(j->jwk, TG_JWS_ES256, j->hdr, tg_slice(payload, strlen(payload)),
                        &tok) != TG_OK)
            goto fail;
        need = j->out_len + tok.len + 1;
        if (need > cap) {
            cap = need * 2;
            grown = realloc(j->out, cap);
            if (grown == NULL)
                goto fail;
            j->out = grown;
        }
        memcpy(j->out + j->out_len, tok.p, tok.len);
        j->out_len += tok.len;
        j->out[j->out_len++] = '\n';
        free(payload);
        payload = NULL;
        json_decref(claims);
        claims = NULL;
    }
    tg_buf_reset(&tok);
    return NULL;
fail:
    fprintf(stderr, "gen_proofs: signing failed [%s]\n", tg_err_detail());
    free(payload);
    json_decref(claims);
    tg_buf_reset(&tok);
    j->failed = 1;
    return NULL;
}

/* -k: the P-256 key of PATH (PKCS#8 PEM), or a new one saved there. */
static int
load_or_make_key(const char *path, struct tg_key **key)
{
    char buf[8192];
    size_t n;
    FILE *f = fopen(path, "rb");
    struct tg_buf pem;
    int rc = -1;

    if (f != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        if (tg_key_from_pem(buf, n, key) != TG_OK || tg_key_type(*key) != TG_KEY_EC_P256) {
            fprintf(stderr, "gen_proofs: %s: not a P-256 private key\n", path);
            return -1;
        }
        return 0;
    }
    if (tg_key_generate(TG_KEY_EC_P256, 0, key) != TG_OK)
        return -1;
    tg_buf_init(&pem, 8192);
    if (tg_key_private_pem(*key, &pem) == TG_OK && (f = fopen(path, "wx")) != NULL) {
        if (fwrite(pem.p, 1, pem.len, f) == pem.len && fclose(f) == 0)
            rc = 0;
        else
            fprintf(stderr, "gen_proofs: writing %s failed\n", path);
    } else {
        perror(path);
    }
    tg_buf_reset(&pem);
    return rc;
}

/* -a: base64url(SHA-256(the token on the first line of PATH)) into out. */
static int
token_ath(const char *path, char out[64])
{
    static char tok[65536];
    uint8_t h[TG_SHA256_LEN];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        perror(path);
        return -1;
    }
    n = fread(tok, 1, sizeof(tok) - 1, f);
    fclose(f);
    tok[n] = '\0';
    n = strcspn(tok, "\r\n");
    if (n == 0 || tg_sha256(tg_slice(tok, n), h) != TG_OK)
        return -1;
    tg_b64url_encode_to(tg_slice(h, sizeof(h)), out);
    return 0;
}

/* Write all items in order, switching to the next file at each boundary. */
static int
write_split(struct job *jobs, size_t n_jobs, uint64_t count, uint64_t split, const char *prefix)
{
    char path[4096];
    FILE *f = NULL;
    uint64_t item = 0, file = 0, file_end = 0;
    size_t j, off, line;
    const char *nl;

    for (j = 0; j < n_jobs; j++) {
        for (off = 0; off < jobs[j].out_len; off += line, item++) {
            while (f == NULL || item >= file_end) {
                if (f != NULL && fclose(f) != 0)
                    return -1;
                /* file k holds items [k*count/split, (k+1)*count/split) */
                snprintf(path, sizeof(path), "%s.%llu", prefix, (unsigned long long)file);
                f = fopen(path, "w");
                if (f == NULL) {
                    perror(path);
                    return -1;
                }
                file_end = (file + 1) * count / split;
                file++;
            }
            nl = memchr(jobs[j].out + off, '\n', jobs[j].out_len - off);
            line = (size_t)(nl - (jobs[j].out + off)) + 1;
            if (fwrite(jobs[j].out + off, 1, line, f) != line)
                return -1;
        }
    }
    /* Files past the last item (count < split) still exist, empty. */
    while (file < split) {
        if (f != NULL && fclose(f) != 0)
            return -1;
        snprintf(path, sizeof(path), "%s.%llu", prefix, (unsigned long long)file++);
        f = fopen(path, "w");
        if (f == NULL)
            return -1;
    }
    return f != NULL && fclose(f) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    uint64_t n_jobs = 2, split = 1, count, iat = (uint64_t)time(NULL);
    struct job jobs[MAX_JOBS];
    pthread_t th[MAX_JOBS];
    struct tg_key *key = NULL;
    struct tg_jwk jwk, pubjwk;
    json_t *pub = NULL, *hdr = NULL;
    const char *htu, *prefix, *keyfile = NULL, *htm = "POST", *tokfile = NULL;
    char ath[64];
    struct timespec t0, t1;
    int i = 1, rc = 1;
    size_t j;

    memset(jobs, 0, sizeof(jobs));
    memset(&jwk, 0, sizeof(jwk));
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-k") == 0 || strcmp(argv[i], "-m") == 0 ||
            strcmp(argv[i], "-a") == 0) {
            *(argv[i][1] == 'k' ? &keyfile : argv[i][1] == 'm' ? &htm : &tokfile) = argv[i + 1];
            continue;
        }
        uint64_t *dst = strcmp(argv[i], "-j") == 0   ? &n_jobs
                        : strcmp(argv[i], "-s") == 0 ? &split
                        : strcmp(argv[i], "-i") == 0 ? &iat
                                                     : NULL;
        if (dst == NULL || parse_u64(argv[i + 1], dst) != 0) {
            usage();
            return 2;
        }
    }
    if (argc - i != 3 || parse_u64(argv[i + 1], &count) != 0 || count == 0 || n_jobs == 0 ||
        n_jobs > MAX_JOBS || split == 0 || split > MAX_SPLIT) {
        usage();
        return 2;
    }
    htu = argv[i];
    prefix = argv[i + 2];
    if (n_jobs > count)
        n_jobs = count;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (tokfile != NULL && token_ath(tokfile, ath) != 0) {
        fprintf(stderr, "gen_proofs: no access token in %s\n", tokfile);
        goto out;
    }
    if ((keyfile != NULL ? load_or_make_key(keyfile, &key) != 0
                         : tg_key_generate(TG_KEY_EC_P256, 0, &key) != TG_OK) ||
        tg_jwk_from_key(key, TG_JWS_ES256, NULL, &jwk) != TG_OK)
        goto out;
    /* The header jwk: kty and key members only (RFC 9449 §4.2). */
    if (tg_jwk_from_key(key, TG_JWS_ALG_UNSET, NULL, &pubjwk) != TG_OK)
        goto out;
    if (tg_jwk_public_json(&pubjwk, &pub) != TG_OK) {
        tg_jwk_reset(&pubjwk);
        goto out;
    }
    tg_jwk_reset(&pubjwk);
    hdr = json_pack("{s:s,s:O}", "typ", "dpop+jwt", "jwk", pub);
    if (hdr == NULL)
        goto out;

    for (j = 0; j < n_jobs; j++) {
        jobs[j].jwk = &jwk;
        jobs[j].hdr = hdr;
        jobs[j].htu = htu;
        jobs[j].htm = htm;
        jobs[j].ath = tokfile != NULL ? ath : NULL;
        jobs[j].iat = (int64_t)iat;
        jobs[j].first = (size_t)(j * count / n_jobs);
        jobs[j].count = (size_t)((j + 1) * count / n_jobs) - jobs[j].first;
        if (pthread_create(&th[j], NULL, job_main, &jobs[j]) != 0) {
            fprintf(stderr, "gen_proofs: pthread_create failed\n");
            n_jobs = j;
            break;
        }
    }
    for (j = 0; j < n_jobs; j++)
        pthread_join(th[j], NULL);
    for (j = 0; j < n_jobs; j++)
        if (jobs[j].failed || jobs[j].out == NULL)
            goto out;
    if (j == 0 || write_split(jobs, n_jobs, count, split, prefix) != 0) {
        fprintf(stderr, "gen_proofs: writing %s.* failed\n", prefix);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "gen_proofs: %llu proofs in %llu file(s) in %.2f s (%llu jobs)\n",
            (unsigned long long)count, (unsigned long long)split,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
            (unsigned long long)n_jobs);
    rc = 0;
out:
    if (rc != 0 && tg_err_detail()[0] != '\0')
        fprintf(stderr, "gen_proofs: failed [%s]\n", tg_err_detail());
    for (j = 0; j < MAX_JOBS; j++)
        free(jobs[j].out);
    json_decref(hdr);
    json_decref(pub);
    tg_jwk_reset(&jwk);
    tg_key_free(key);
    return rc;
}
