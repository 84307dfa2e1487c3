/* htu comparison form (RFC 9449 §4.3 step 9; RFC 3986 §6.2.2, §6.2.3). */
#include <ctype.h>
#include <string.h>

#include "core/mem.h"
#include "verify/dpop.h"

static int
unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

struct out {
    char *p;
    size_t len, cap;
};

static int
put(struct out *o, char c)
{
    if (o->len + 1 >= o->cap)
        return 0;
    o->p[o->len++] = c;
    return 1;
}

/* RFC 3986 §5.2.4 remove_dot_segments, on a NUL-terminated path of at most
 * TG_HTU_MAX characters; the output is never longer than the input. */
#define TG_HTU_MAX 4096

static void
remove_dots(char *path)
{
    char tmp[TG_HTU_MAX + 1];
    char *in = tmp, *out = path;
    size_t n = strlen(path);

    if (n > TG_HTU_MAX)
        return; /* the caller's cap makes this unreachable */
    memcpy(tmp, path, n + 1);
    while (*in) {
        if (strncmp(in, "../", 3) == 0) {          /* A */
            in += 3;
        } else if (strncmp(in, "./", 2) == 0) {
            in += 2;
        } else if (strncmp(in, "/./", 3) == 0) {   /* B */
            in += 2;
        } else if (strcmp(in, "/.") == 0) {
            in += 1;
            *in = '/';
        } else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) { /* C */
            if (in[3] == '/') {
                in += 3;
            } else {
                in += 2;
                *in = '/';
            }
            while (out > path && *--out != '/')
                ;
            *out = '\0';
        } else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) { /* D */
            break;
        } else {                                   /* E */
            do {
                *out++ = *in++;
            } while (*in && *in != '/');
        }
    }
    *out = '\0';
}

enum tg_err
tg_htu_normalize(const char *uri, char *dst, size_t cap)
{
    struct out o = {dst, 0, cap};
    const char *p = uri, *auth, *host_end, *port = NULL, *path_end;
    size_t slen, i;
    int hi, lo, c;
    char scheme[8];

    TG_ENSURE(cap > 1, TG_ERR_INVALID_ARG, "no room");
    if (cap > TG_HTU_MAX)
        o.cap = cap = TG_HTU_MAX;
    /* scheme */
    for (slen = 0; isalpha((unsigned char)p[slen]) && slen < sizeof(scheme) - 1; slen++)
        scheme[slen] = (char)tolower((unsigned char)p[slen]);
    scheme[slen] = '\0';
    TG_ENSURE(slen > 0 && strncmp(p + slen, "://", 3) == 0, TG_ERR_INVALID_ARG, "htu: no scheme");
    TG_ENSURE(strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0, TG_ERR_INVALID_ARG,
              "htu: scheme");
    for (i = 0; i < slen; i++)
        TG_ENSURE(put(&o, scheme[i]), TG_ERR_TOO_LARGE, "htu too long");
    TG_ENSURE(put(&o, ':') && put(&o, '/') && put(&o, '/'), TG_ERR_TOO_LARGE, "htu too long");
    /* authority: host[:port], no userinfo */
    auth = p + slen + 3;
    host_end = auth + strcspn(auth, "/?#");
    TG_ENSURE(memchr(auth, '@', (size_t)(host_end - auth)) == NULL, TG_ERR_INVALID_ARG,
              "htu: userinfo");
    TG_ENSURE(host_end > auth, TG_ERR_INVALID_ARG, "htu: no host");
    if (*auth == '[') {
        const char *rb = memchr(auth, ']', (size_t)(host_end - auth));

        TG_ENSURE(rb != NULL, TG_ERR_INVALID_ARG, "htu: bad IPv6 literal");
        if (rb + 1 < host_end) {
            TG_ENSURE(rb[1] == ':', TG_ERR_INVALID_ARG, "htu: junk after IPv6 literal");
            port = rb + 2;
        }
        for (p = auth; p <= rb; p++)
            TG_ENSURE(put(&o, (char)tolower((unsigned char)*p)), TG_ERR_TOO_LARGE, "htu");
    } else {
        const char *colon = memchr(auth, ':', (size_t)(host_end - auth));
        const char *he = colon ? colon : host_end;

        port = colon ? colon + 1 : NULL;
        for (p = auth; p < he; p++) {
            TG_ENSURE(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_',
                      TG_ERR_INVALID_ARG, "htu: bad host character");
            TG_ENSURE(put(&o, (char)tolower((unsigned char)*p)), TG_ERR_TOO_LARGE, "htu");
        }
    }
    if (port != NULL && port < host_end) {
        size_t plen = (size_t)(host_end - port);
        int is_default;

        for (i = 0; i < plen; i++)
            TG_ENSURE(isdigit((unsigned char)port[i]), TG_ERR_INVALID_ARG, "htu: bad port");
        while (plen > 1 && *port == '0') {
            port++;
            plen--;
        }
        TG_ENSURE(plen <= 5, TG_ERR_INVALID_ARG, "htu: bad port");
        /* §6.2.3: the scheme's default port is the same as no port. */
        is_default = (strcmp(scheme, "http") == 0 && plen == 2 && memcmp(port, "80", 2) == 0) ||
                     (strcmp(scheme, "https") == 0 && plen == 3 && memcmp(port, "443", 3) == 0);
        if (!is_default) {
            TG_ENSURE(put(&o, ':'), TG_ERR_TOO_LARGE, "htu");
            for (i = 0; i < plen; i++)
                TG_ENSURE(put(&o, port[i]), TG_ERR_TOO_LARGE, "htu");
        }
    }
    /* path, without query and fragment (§4.3 step 9) */
    path_end = host_end + strcspn(host_end, "?#");
    if (path_end == host_end)
        TG_ENSURE(put(&o, '/'), TG_ERR_TOO_LARGE, "htu");
    {
        size_t path_start = o.len;

        for (p = host_end; p < path_end; p++) {
            c = (unsigned char)*p;
            if (c == '%') {
                hi = tg_hex_digit((unsigned char)p[1]);
                lo = hi >= 0 ? tg_hex_digit((unsigned char)p[2]) : -1;
                TG_ENSURE(hi >= 0 && lo >= 0, TG_ERR_INVALID_ARG, "htu: bad percent-encoding");
                c = hi * 16 + lo;
                p += 2;
                if (unreserved(c)) {
                    TG_ENSURE(put(&o, (char)c), TG_ERR_TOO_LARGE, "htu");
                } else {
                    TG_ENSURE(put(&o, '%') && put(&o, "0123456789ABCDEF"[c >> 4]) &&
                                  put(&o, "0123456789ABCDEF"[c & 15]),
                              TG_ERR_TOO_LARGE, "htu");
                }
                continue;
            }
            TG_ENSURE(c > 0x20 && c < 0x7f, TG_ERR_INVALID_ARG, "htu: bad path character");
            TG_ENSURE(put(&o, (char)c), TG_ERR_TOO_LARGE, "htu");
        }
        o.p[o.len] = '\0';
        remove_dots(o.p + path_start);
    }
    return TG_OK;
}
