/* Parsers for the client certificate headers of TLS-terminating proxies:
 * nginx X-SSL-Client-Cert ($ssl_client_escaped_cert, a URL-encoded PEM) and
 * Envoy X-Forwarded-Client-Cert (XFCC). Pure functions of their input; the
 * server calls them only for a peer in trusted_proxies. */
#include <string.h>

#include "core/mem.h"
#include "http/internal.h"

enum tg_err
tg_http_url_decode(struct tg_slice in, struct tg_buf *out)
{
    size_t i = 0;

    while (i < in.len) {
        uint8_t c = in.p[i];

        if (c == '%') {
            int hi, lo;

            TG_ENSURE(in.len - i >= 3, TG_ERR_INVALID_ARG, "truncated %% escape");
            hi = tg_hex_digit(in.p[i + 1]);
            lo = tg_hex_digit(in.p[i + 2]);
            TG_ENSURE(hi >= 0 && lo >= 0, TG_ERR_INVALID_ARG, "bad %% escape");
            c = (uint8_t)(hi << 4 | lo);
            i += 3;
        } else {
            i++;
        }
        TG_ENSURE(c != '\0', TG_ERR_INVALID_ARG, "NUL in URL-encoded value");
        TG_GUARD(tg_buf_append(out, &c, 1));
    }
    return TG_OK;
}

static int
is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static int
key_is_cert(const uint8_t *k, size_t n)
{
    static const char cert[] = "cert";
    size_t i;

    if (n != sizeof(cert) - 1)
        return 0;
    for (i = 0; i < n; i++) {
        uint8_t c = k[i];

        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)cert[i])
            return 0;
    }
    return 1;
}

/* Envoy: elements separated by ',', key=value pairs by ';'; a value holding
 * ',', ';', '=' or '"' is double-quoted, with '"' escaped as '\"'. */
enum tg_err
tg_http_xfcc_cert(struct tg_slice h, struct tg_slice *cert)
{
    size_t i = 0;
    struct tg_slice cur = {NULL, 0};
    int seen = 0;

    *cert = (struct tg_slice){NULL, 0};
    while (i < h.len && is_ows(h.p[i]))
        i++;
    if (i == h.len)
        return TG_OK;
    for (;;) {
        size_t ks, ke, vs, ve;

        /* key */
        while (i < h.len && is_ows(h.p[i]))
            i++;
        ks = i;
        while (i < h.len && h.p[i] != '=' && h.p[i] != ',' && h.p[i] != ';' && h.p[i] != '"')
            i++;
        ke = i;
        while (ke > ks && is_ows(h.p[ke - 1]))
            ke--;
        TG_ENSURE(ke > ks && i < h.len && h.p[i] == '=', TG_ERR_INVALID_ARG,
                  "XFCC: expected key=value at %zu", i);
        i++;
        /* value */
        while (i < h.len && is_ows(h.p[i]))
            i++;
        if (i < h.len && h.p[i] == '"') {
            vs = ++i;
            while (i < h.len && h.p[i] != '"') {
                if (h.p[i] == '\\') {
                    TG_ENSURE(i + 1 < h.len, TG_ERR_INVALID_ARG, "XFCC: dangling escape");
                    i++;
                }
                i++;
            }
            TG_ENSURE(i < h.len, TG_ERR_INVALID_ARG, "XFCC: unterminated quote");
            ve = i++;
            while (i < h.len && is_ows(h.p[i]))
                i++;
        } else {
            vs = i;
            while (i < h.len && h.p[i] != ',' && h.p[i] != ';') {
                TG_ENSURE(h.p[i] != '"', TG_ERR_INVALID_ARG, "XFCC: stray quote");
                i++;
            }
            ve = i;
            while (ve > vs && is_ows(h.p[ve - 1]))
                ve--;
        }
        if (key_is_cert(h.p + ks, ke - ks)) {
            TG_ENSURE(!seen, TG_ERR_INVALID_ARG, "XFCC: two Cert keys in one element");
            seen = 1;
            cur = tg_slice(h.p + vs, ve - vs);
        }
        if (i == h.len) {
            *cert = cur;
            return TG_OK;
        }
        switch (h.p[i]) {
        case ';':
            i++;
            break;
        case ',':
            /* A new element: only the last one counts. */
            i++;
            cur = (struct tg_slice){NULL, 0};
            seen = 0;
            break;
        default:
            TG_ENSURE(0, TG_ERR_INVALID_ARG, "XFCC: unexpected byte at %zu", i);
        }
    }
}
