/* TLS for the HTTP server: the listener's SSL_CTX (TLS 1.2+, AEAD suites
 * with forward secrecy, no renegotiation, no compression), client
 * certificates (none / optional / required, RFC 8705 §2.1 against a CA
 * bundle, §2.2 self-signed kept but reported unverified) and certificates a
 * trusted proxy passes in a header, verified against the same CA bundle.
 *
 * This file is the only one in src/http/ that includes OpenSSL headers;
 * the server holds its connections' SSL objects as opaque pointers and
 * reads and writes them through the calls here. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "http/internal.h"

/* TLS 1.2 suites (TLS 1.3 keeps OpenSSL's default AEAD suites). */
#define TG_HTTP_TLS12_CIPHERS                                                            \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                       \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                       \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tg_http_tls {
    SSL_CTX *ctx;     /* NULL on a plain listener */
    X509_STORE *ca;   /* client CA bundle, or NULL */
    int accept_self_signed;
};

/* Set on an SSL whose client certificate failed verification but was kept
 * (accept_self_signed): the certificate is then reported unverified even if
 * the library's verify result were to say otherwise. */
static int unverified_idx = -1;
static char unverified_mark;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static void
idx_init(void)
{
    unverified_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void
log_ssl_errors(const char *what, const char *file)
{
    unsigned long e;
    char msg[256];

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, msg, sizeof(msg));
        tg_log_warnx("%s %s: %s", what, file != NULL ? file : "", msg);
    }
}

static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl;
    const struct tg_http_tls *t;

    if (ok)
        return 1;
    ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl == NULL)
        return 0;
    if (unverified_idx < 0 || !SSL_set_ex_data(ssl, unverified_idx, &unverified_mark))
        return 0;
    t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (t != NULL && t->accept_self_signed) {
        tg_log_debug("keeping an unverifiable client certificate (%s) for self-signed auth",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
        return 1;
    }
    return 0;
}

static enum tg_err
ctx_new(const struct tg_http_listener *l, struct tg_http_tls *t)
{
    enum tg_err rv = TG_OK;
    SSL_CTX *ctx = NULL;
    STACK_OF(X509_NAME) *names = NULL;
    static const unsigned char sid_ctx[] = "tollgate";
    int mode;

    TG_CHECK(l->cert_file != NULL && l->key_file != NULL, TG_ERR_CONFIG,
             "TLS listener %s without cert_file/key_file", l->addr);
    ctx = SSL_CTX_new(TLS_server_method());
    TG_CHECK(ctx != NULL, TG_ERR_NOMEM, "SSL_CTX_new");
    TG_CHECK(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1, TG_ERR_INTERNAL,
             "min TLS version");
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    TG_CHECK(SSL_CTX_set_cipher_list(ctx, TG_HTTP_TLS12_CIPHERS) == 1, TG_ERR_INTERNAL,
             "cipher list");
    TG_CHECK(SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") == 1, TG_ERR_INTERNAL,
             "groups");
    if (SSL_CTX_use_certificate_chain_file(ctx, l->cert_file) != 1) {
        log_ssl_errors("server certificate", l->cert_file);
        TG_FAIL(TG_ERR_CONFIG, "cannot load certificate chain %s", l->cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, l->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        log_ssl_errors("server key", l->key_file);
        TG_FAIL(TG_ERR_CONFIG, "cannot load key %s (or it does not match)", l->key_file);
    }
    /* Resumed sessions keep their peer certificate and verify result. */
    TG_CHECK(SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) == 1,
             TG_ERR_INTERNAL, "session id context");
    SSL_CTX_set_app_data(ctx, t);
    /* One read(2) for a record's header and body (and whatever follows);
     * the server asks SSL_has_pending before waiting on the socket again. */
    SSL_CTX_set_read_ahead(ctx, 1);

    switch (l->client_cert) {
    case TG_HTTP_CERT_NONE:
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        break;
    case TG_HTTP_CERT_OPTIONAL:
    case TG_HTTP_CERT_REQUIRED:
        TG_CHECK(l->client_ca_file != NULL || l->accept_self_signed, TG_ERR_CONFIG,
                 "listener %s asks for client certificates but has neither client_ca_file "
                 "nor accept_self_signed", l->addr);
        if (l->client_ca_file != NULL) {
            if (SSL_CTX_load_verify_file(ctx, l->client_ca_file) != 1) {
                log_ssl_errors("client CA", l->client_ca_file);
                TG_FAIL(TG_ERR_CONFIG, "cannot load client CA %s", l->client_ca_file);
            }
            names = SSL_load_client_CA_file(l->client_ca_file);
            TG_CHECK(names != NULL, TG_ERR_CONFIG, "no CA names in %s", l->client_ca_file);
            SSL_CTX_set_client_CA_list(ctx, names); /* takes ownership */
            names = NULL;
        }
        mode = SSL_VERIFY_PEER;
        if (l->client_cert == TG_HTTP_CERT_REQUIRED)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, verify_cb);
        SSL_CTX_set_verify_depth(ctx, 8);
        break;
    default:
        TG_FAIL(TG_ERR_CONFIG, "unknown client_cert mode %d", (int)l->client_cert);
    }
    t->ctx = ctx;
    ctx = NULL;
out:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}

enum tg_err
tg_http_tls_new(const struct tg_http_listener *l, struct tg_http_tls **out)
{
    enum tg_err rv = TG_OK;
    struct tg_http_tls *t = NULL;

    *out = NULL;
    pthread_once(&idx_once, idx_init);
    TG_CHECK(unverified_idx >= 0, TG_ERR_INTERNAL, "SSL ex_data index");
    t = calloc(1, sizeof(*t));
    TG_CHECK(t != NULL, TG_ERR_NOMEM, "tls");
    t->accept_self_signed = l->accept_self_signed;
    if (l->client_ca_file != NULL) {
        t->ca = X509_STORE_new();
        TG_CHECK(t->ca != NULL, TG_ERR_NOMEM, "X509_STORE_new");
        if (X509_STORE_load_file(t->ca, l->client_ca_file) != 1) {
            log_ssl_errors("client CA", l->client_ca_file);
            TG_FAIL(TG_ERR_CONFIG, "cannot load client CA %s", l->client_ca_file);
        }
    }
    if (l->tls)
        TG_TRY(ctx_new(l, t));
    *out = t;
    t = NULL;
out:
    tg_http_tls_free(t);
    ERR_clear_error();
    return rv;
}

void
tg_http_tls_free(struct tg_http_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    X509_STORE_free(t->ca);
    free(t);
}

SSL *
tg_http_tls_ssl_new(struct tg_http_tls *t, int fd)
{
    SSL *ssl;

    if (t == NULL || t->ctx == NULL)
        return NULL;
    ssl = SSL_new(t->ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(ssl);
    /* Writes may return after part of a buffer went out; the caller keeps
     * the rest and offers it again from wherever it sits. */
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
    return ssl;
}

void
tg_http_tls_ssl_free(SSL *ssl)
{
    SSL_free(ssl);
}

/* OpenSSL's answer as ours. The error queue is left empty either way, so
 * one connection's failure never shows up in another's call. */
static enum tg_http_io
io_result(SSL *ssl, int rc)
{
    int e = SSL_get_error(ssl, rc);

    switch (e) {
    case SSL_ERROR_WANT_READ:
        return TG_HTTP_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TG_HTTP_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return TG_HTTP_IO_EOF;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return TG_HTTP_IO_EOF; /* the peer reset or went away */
    case SSL_ERROR_SSL:
    default:
        if (tg_log_get_level() >= TG_LOG_DEBUG) {
            unsigned long err = ERR_peek_error();
            char msg[256];

            ERR_error_string_n(err, msg, sizeof(msg));
            tg_log_debug("TLS: %s", msg);
        }
        ERR_clear_error();
        return TG_HTTP_IO_ERROR;
    }
}

enum tg_http_io
tg_http_tls_handshake(SSL *ssl)
{
    int rc = SSL_do_handshake(ssl);

    return rc == 1 ? TG_HTTP_IO_OK : io_result(ssl, rc);
}

enum tg_http_io
tg_http_tls_read(SSL *ssl, void *p, size_t n, size_t *got)
{
    int rc = SSL_read_ex(ssl, p, n, got);

    return rc == 1 ? TG_HTTP_IO_OK : io_result(ssl, rc);
}

enum tg_http_io
tg_http_tls_write(SSL *ssl, const void *p, size_t n, size_t *wrote)
{
    int rc = SSL_write_ex(ssl, p, n, wrote);

    return rc == 1 ? TG_HTTP_IO_OK : io_result(ssl, rc);
}

int
tg_http_tls_pending(SSL *ssl)
{
    return SSL_has_pending(ssl);
}

void
tg_http_tls_close_notify(SSL *ssl)
{
    /* Best effort, one try: a peer that is gone does not hold us up. */
    if (SSL_is_init_finished(ssl))
        (void)SSL_shutdown(ssl);
    ERR_clear_error();
}

static enum tg_err
append_der(X509 *x, struct tg_buf *der)
{
    uint8_t *dst, *p;
    int n;

    n = i2d_X509(x, NULL);
    TG_ENSURE(n > 0, TG_ERR_INVALID_ARG, "i2d_X509");
    TG_ENSURE((size_t)n <= TG_HTTP_CERT_MAX, TG_ERR_TOO_LARGE, "client certificate %d bytes", n);
    TG_GUARD(tg_buf_reserve(der, (size_t)n, &dst));
    p = dst;
    TG_ENSURE(i2d_X509(x, &p) == n, TG_ERR_INTERNAL, "i2d_X509");
    der->len += (size_t)n;
    return TG_OK;
}

enum tg_err
tg_http_tls_peer_cert(SSL *ssl, struct tg_buf *der, int *verified)
{
    X509 *x;
    enum tg_err rv;

    *verified = 0;
    x = SSL_get0_peer_certificate(ssl);
    if (x == NULL)
        return TG_OK;
    rv = append_der(x, der);
    ERR_clear_error();
    TG_GUARD(rv);
    *verified = SSL_get_verify_result(ssl) == X509_V_OK &&
                SSL_get_ex_data(ssl, unverified_idx) == NULL;
    return TG_OK;
}

enum tg_err
tg_http_tls_proxy_cert(const struct tg_http_tls *t, struct tg_slice pem, struct tg_buf *der,
                       int *verified)
{
    enum tg_err rv = TG_OK;
    BIO *bio = NULL;
    X509 *x = NULL;
    X509_STORE_CTX *xs = NULL;

    *verified = 0;
    TG_CHECK(pem.len > 0 && pem.len <= TG_HTTP_CERT_MAX, TG_ERR_INVALID_ARG,
             "proxy certificate of %zu bytes", pem.len);
    bio = BIO_new_mem_buf(pem.p, (int)pem.len);
    TG_CHECK(bio != NULL, TG_ERR_NOMEM, "BIO_new_mem_buf");
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    TG_CHECK(x != NULL, TG_ERR_INVALID_ARG, "no PEM certificate in the proxy header");
    TG_TRY(append_der(x, der));
    if (t != NULL && t->ca != NULL) {
        xs = X509_STORE_CTX_new();
        TG_CHECK(xs != NULL, TG_ERR_NOMEM, "X509_STORE_CTX_new");
        TG_CHECK(X509_STORE_CTX_init(xs, t->ca, x, NULL) == 1, TG_ERR_INTERNAL,
                 "X509_STORE_CTX_init");
        TG_CHECK(X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_CLIENT) == 1,
                 TG_ERR_INTERNAL, "purpose");
        if (X509_verify_cert(xs) == 1)
            *verified = 1;
        else
            tg_log_debug("proxy client certificate does not verify: %s",
                         X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
    }
out:
    X509_STORE_CTX_free(xs);
    X509_free(x);
    BIO_free(bio);
    ERR_clear_error();
    return rv;
}
