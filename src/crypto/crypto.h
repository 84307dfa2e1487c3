/* The crypto layer: the only place that includes OpenSSL headers. Keys are
 * opaque and reference-counted so caches can hand them out safely across
 * threads; signatures are in JOSE form (ECDSA as fixed-length R||S). */
#ifndef TG_CRYPTO_CRYPTO_H
#define TG_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

enum tg_key_type {
    TG_KEY_EC_P256 = 1,
    TG_KEY_EC_P384,
    TG_KEY_ED25519,
    TG_KEY_RSA,
};

enum tg_sig_scheme {
    TG_SIG_ECDSA_P256_SHA256 = 1, /* ES256 */
    TG_SIG_ECDSA_P384_SHA384,     /* ES384 */
    TG_SIG_ED25519,               /* EdDSA with Ed25519 */
    TG_SIG_RSA_PKCS1_SHA256,      /* RS256 */
    TG_SIG_RSA_PSS_SHA256,        /* PS256: MGF1-SHA256, salt = 32 (RFC 7518 §3.5) */
};

#define TG_RSA_MIN_BITS 2048
#define TG_RSA_MAX_BITS 16384
#define TG_SIG_MAX_LEN (TG_RSA_MAX_BITS / 8)
#define TG_SHA256_LEN 32
#define TG_SHA384_LEN 48

struct tg_key;

struct tg_rsa_params {
    struct tg_slice n, e;              /* public, big-endian unsigned */
    struct tg_slice d, p, q, dp, dq, qi; /* private; all empty for a public key */
};

/* Construction. Each validates the key (point on the curve, pairwise
 * consistency of private keys, RSA size) and returns a distinct error. */
enum tg_err tg_key_from_ec(enum tg_key_type type, struct tg_slice x, struct tg_slice y,
                           struct tg_slice d, struct tg_key **out) TG_MUST_CHECK;
enum tg_err tg_key_from_ed25519(struct tg_slice x, struct tg_slice d,
                                struct tg_key **out) TG_MUST_CHECK;
enum tg_err tg_key_from_rsa(const struct tg_rsa_params *params, struct tg_key **out) TG_MUST_CHECK;
enum tg_err tg_key_generate(enum tg_key_type type, unsigned rsa_bits,
                            struct tg_key **out) TG_MUST_CHECK;
/* PEM (PKCS#8, SEC1, PKCS#1 or SubjectPublicKeyInfo); only supported types. */
enum tg_err tg_key_from_pem(const char *pem, size_t len, struct tg_key **out) TG_MUST_CHECK;

struct tg_key *tg_key_ref(struct tg_key *key);
void tg_key_free(struct tg_key *key); /* drops one reference; NULL is fine */

enum tg_key_type tg_key_type(const struct tg_key *key);
int tg_key_is_private(const struct tg_key *key);
unsigned tg_key_bits(const struct tg_key *key);
/* Exact JOSE signature length for this key (RFC 7518 §3.4, §3.3, RFC 8037). */
size_t tg_key_sig_len(const struct tg_key *key);

/* Export of key components (big-endian). EC coordinates and d are padded to
 * the curve size; RSA integers are minimal (no leading zero octets). */
enum tg_err tg_key_ec_export(const struct tg_key *key, struct tg_buf *x, struct tg_buf *y,
                             struct tg_buf *d /* NULL: public only */) TG_MUST_CHECK;
enum tg_err tg_key_ed25519_export(const struct tg_key *key, struct tg_buf *x,
                                  struct tg_buf *d /* NULL: public only */) TG_MUST_CHECK;
enum tg_err tg_key_rsa_export(const struct tg_key *key, struct tg_buf *n, struct tg_buf *e,
                              struct tg_buf *priv /* NULL, or 6 buffers: d p q dp dq qi */)
    TG_MUST_CHECK;

/* Signatures in JOSE form. */
enum tg_err tg_sign(const struct tg_key *key, enum tg_sig_scheme scheme, struct tg_slice data,
                    uint8_t *sig, size_t sig_cap, size_t *sig_len) TG_MUST_CHECK;
/* TG_OK only for a valid signature; TG_ERR_JWS_SIG_LENGTH when the length is
 * not exactly tg_key_sig_len(); TG_ERR_JWS_SIG_INVALID otherwise. */
enum tg_err tg_verify(const struct tg_key *key, enum tg_sig_scheme scheme, struct tg_slice data,
                      struct tg_slice sig) TG_MUST_CHECK;

/* Digests and randomness. */
enum tg_err tg_sha256(struct tg_slice data, uint8_t out[TG_SHA256_LEN]) TG_MUST_CHECK;
enum tg_err tg_random(void *buf, size_t len) TG_MUST_CHECK;
/* Random bytes for public identifiers only (a token's jti): the same DRBG
 * output as tg_random, taken from a per-thread pool refilled 512 bytes at a
 * time (one RAND_bytes call, with its fork checks, per 32 ids of 16 bytes);
 * a fork empties the pool. Never for keys, secrets or nonces. len <= 64. */
enum tg_err tg_random_id(void *buf, size_t len) TG_MUST_CHECK;
/* A bounded cache (core/clock_cache.h) whose hash is keyed from the DRBG, so
 * nobody can choose keys that land in one chain. NULL when capacity is out
 * of range, randomness fails or memory runs out. */
struct tg_clock_cache;
struct tg_clock_cache *tg_clock_cache_new_random(size_t capacity, void (*free_value)(void *));

/* Certificates: DER of the first certificate in a PEM text. */
enum tg_err tg_cert_pem_to_der(const char *pem, size_t len, struct tg_buf *der) TG_MUST_CHECK;

/* HMAC-SHA256 (RFC 2104). */
enum tg_err tg_hmac_sha256(struct tg_slice key, struct tg_slice data,
                           uint8_t out[TG_SHA256_LEN]) TG_MUST_CHECK;

/* AES-256-GCM sealing with a random 96-bit nonce: out = nonce || ciphertext
 * || tag. `aad` binds the ciphertext to its context (e.g. a key id), so a
 * sealed blob cannot be moved to another record. Open fails with
 * TG_ERR_DECRYPT on any tampering or a wrong key. */
#define TG_AEAD_KEY_LEN 32
#define TG_AEAD_NONCE_LEN 12
#define TG_AEAD_TAG_LEN 16
#define TG_AEAD_OVERHEAD (TG_AEAD_NONCE_LEN + TG_AEAD_TAG_LEN)
enum tg_err tg_aead_seal(const uint8_t key[TG_AEAD_KEY_LEN], struct tg_slice aad,
                         struct tg_slice plain, struct tg_buf *out) TG_MUST_CHECK;
enum tg_err tg_aead_open(const uint8_t key[TG_AEAD_KEY_LEN], struct tg_slice aad,
                         struct tg_slice sealed, struct tg_buf *out) TG_MUST_CHECK;

/* Client secrets: "tgs_" + 43 base62 chars (256 random bits) + 6 base62
 * chars of CRC32 over the rest, like GitHub's token format, so secret
 * scanners recognise them and typos are caught before any lookup. */
#define TG_SECRET_PREFIX "tgs_"
#define TG_SECRET_LEN (4 + 43 + 6)
enum tg_err tg_secret_generate(char out[TG_SECRET_LEN + 1]) TG_MUST_CHECK;
/* TG_OK when `s` has the shape and a valid checksum; TG_ERR_SECRET_FORMAT otherwise. */
enum tg_err tg_secret_check_format(struct tg_slice s) TG_MUST_CHECK;

/* What client authentication needs from a certificate (RFC 8705 §2.1.2). */
#define TG_CERT_MAX_SANS 16
struct tg_cert_info {
    char *subject_dn;                 /* RFC 4514 string */
    char *san_dns[TG_CERT_MAX_SANS];  /* dNSName entries */
    size_t n_dns;
    char *san_uri[TG_CERT_MAX_SANS];  /* uniformResourceIdentifier entries */
    size_t n_uri;
};
enum tg_err tg_cert_info_from_der(struct tg_slice der, struct tg_cert_info *out) TG_MUST_CHECK;
void tg_cert_info_reset(struct tg_cert_info *info);
/* Verify a DER certificate (a leaf, no intermediates) against a PEM CA
 * bundle file, for use as a TLS client certificate. */
enum tg_err tg_cert_verify_der(struct tg_slice der, const char *ca_file) TG_MUST_CHECK;

/* PEM export of a key: PKCS#8 private key (for files written 0600). */
enum tg_err tg_key_private_pem(const struct tg_key *key, struct tg_buf *out) TG_MUST_CHECK;

/* Certificates for the --dev quickstart and tests: a self-signed CA and
 * leaves it signs. `san_*` may be NULL. PEM appended to out. */
struct tg_cert_spec {
    const char *cn;         /* subject CN */
    const char *org;        /* subject O, or NULL */
    int is_ca;
    int server;             /* extendedKeyUsage serverAuth (else clientAuth) */
    const char *san_dns;    /* one DNS SAN, or NULL */
    const char *san_ip;     /* one IP SAN, or NULL */
    const char *san_ip2;    /* a second IP SAN, or NULL */
    const char *san_uri;    /* one URI SAN (e.g. a SPIFFE ID), or NULL */
    int days;
};
enum tg_err tg_cert_issue(const struct tg_cert_spec *spec, const struct tg_key *subject_key,
                          const struct tg_key *issuer_key, const char *issuer_cert_pem,
                          struct tg_buf *out) TG_MUST_CHECK;

#endif
