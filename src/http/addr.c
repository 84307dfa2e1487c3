/* Listener addresses, peer addresses and trusted-proxy ranges. Hosts are
 * numeric only: what is bound (and what is loopback) must not depend on DNS. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "http/internal.h"

/* Decimal port 0..65535, digits only. */
static enum tg_err
parse_port(const char *s, int *port)
{
    long v = 0;
    size_t i, n = strlen(s);

    TG_ENSURE(n >= 1 && n <= 5, TG_ERR_CONFIG, "bad port '%s'", s);
    for (i = 0; i < n; i++) {
        TG_ENSURE(s[i] >= '0' && s[i] <= '9', TG_ERR_CONFIG, "bad port '%s'", s);
        v = v * 10 + (s[i] - '0');
    }
    TG_ENSURE(v <= 65535, TG_ERR_CONFIG, "port out of range '%s'", s);
    *port = (int)v;
    return TG_OK;
}

enum tg_err
tg_http_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sslen, char *host,
                   size_t host_size)
{
    char h[INET6_ADDRSTRLEN + 1];
    const char *colon, *port_s;
    size_t hlen;
    int port;

    TG_ENSURE(s != NULL, TG_ERR_CONFIG, "listener without an address");
    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *end = strchr(s, ']');

        TG_ENSURE(end != NULL && end[1] == ':', TG_ERR_CONFIG, "bad address '%s'", s);
        hlen = (size_t)(end - s - 1);
        TG_ENSURE(hlen > 0 && hlen < sizeof(h), TG_ERR_CONFIG, "bad address '%s'", s);
        memcpy(h, s + 1, hlen);
        h[hlen] = '\0';
        port_s = end + 2;
        TG_GUARD(parse_port(port_s, &port));
        {
            struct sockaddr_in6 a6;

            memset(&a6, 0, sizeof(a6));
            TG_ENSURE(inet_pton(AF_INET6, h, &a6.sin6_addr) == 1, TG_ERR_CONFIG,
                      "not a numeric IPv6 address '%s'", s);
            a6.sin6_family = AF_INET6;
            a6.sin6_port = htons((uint16_t)port);
            memcpy(ss, &a6, sizeof(a6));
            *sslen = sizeof(a6);
        }
        TG_ENSURE((size_t)snprintf(host, host_size, "[%s]", h) < host_size, TG_ERR_CONFIG,
                  "address too long");
        return TG_OK;
    }
    colon = strrchr(s, ':');
    TG_ENSURE(colon != NULL && strchr(s, ':') == colon, TG_ERR_CONFIG,
              "address '%s' is not host:port (IPv6 goes in brackets)", s);
    hlen = (size_t)(colon - s);
    TG_ENSURE(hlen > 0 && hlen < sizeof(h), TG_ERR_CONFIG, "bad address '%s'", s);
    memcpy(h, s, hlen);
    h[hlen] = '\0';
    TG_GUARD(parse_port(colon + 1, &port));
    {
        struct sockaddr_in a4;

        memset(&a4, 0, sizeof(a4));
        TG_ENSURE(inet_pton(AF_INET, h, &a4.sin_addr) == 1, TG_ERR_CONFIG,
                  "not a numeric IPv4 address '%s'", s);
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        memcpy(ss, &a4, sizeof(a4));
        *sslen = sizeof(a4);
    }
    TG_ENSURE((size_t)snprintf(host, host_size, "%s", h) < host_size, TG_ERR_CONFIG,
              "address too long");
    return TG_OK;
}

/* Socket addresses are read byte-wise: reading a sockaddr_in6 through a
 * struct sockaddr lvalue breaks strict aliasing, and GCC does drop stores
 * because of it. */
static void
ip_from_v6_bytes(const uint8_t a[16], struct tg_http_ip *ip)
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
        ip->family = AF_INET;
        memcpy(ip->a, a + 12, 4);
    } else {
        ip->family = AF_INET6;
        memcpy(ip->a, a, 16);
    }
}

void
tg_http_ip_from_sockaddr(const struct sockaddr *sa, struct tg_http_ip *ip)
{
    const char *p = (const char *)sa;
    sa_family_t family;
    uint8_t a6[16];

    memset(ip, 0, sizeof(*ip));
    memcpy(&family, p + offsetof(struct sockaddr, sa_family), sizeof(family));
    switch (family) {
    case AF_INET:
        ip->family = AF_INET;
        memcpy(ip->a, p + offsetof(struct sockaddr_in, sin_addr), 4);
        break;
    case AF_INET6:
        memcpy(a6, p + offsetof(struct sockaddr_in6, sin6_addr), sizeof(a6));
        ip_from_v6_bytes(a6, ip);
        break;
    default:
        ip->family = 0; /* matches nothing, is not loopback */
        break;
    }
}

int
tg_http_sockaddr_port(const struct sockaddr_storage *ss)
{
    const char *p = (const char *)ss;
    sa_family_t family;
    uint16_t port;

    memcpy(&family, p + offsetof(struct sockaddr, sa_family), sizeof(family));
    if (family == AF_INET)
        memcpy(&port, p + offsetof(struct sockaddr_in, sin_port), sizeof(port));
    else if (family == AF_INET6)
        memcpy(&port, p + offsetof(struct sockaddr_in6, sin6_port), sizeof(port));
    else
        return -1;
    return ntohs(port);
}

int
tg_http_ip_is_loopback(const struct tg_http_ip *ip)
{
    static const uint8_t v6_loopback[16] = {[15] = 1};

    switch (ip->family) {
    case AF_INET:
        return ip->a[0] == 127;
    case AF_INET6:
        return memcmp(ip->a, v6_loopback, 16) == 0;
    default:
        return 0;
    }
}

void
tg_http_ip_text(const struct tg_http_ip *ip, char out[TG_HTTP_ADDR_TEXT])
{
    out[0] = '\0';
    if (ip->family == AF_INET || ip->family == AF_INET6) {
        if (inet_ntop(ip->family, ip->a, out, TG_HTTP_ADDR_TEXT) == NULL)
            out[0] = '\0';
    }
}

enum tg_err
tg_http_cidr_parse(const char *s, struct tg_http_cidr *out)
{
    char h[INET6_ADDRSTRLEN + 1];
    const char *slash;
    size_t hlen;
    unsigned max;
    int folded = 0;
    uint8_t a6[16];

    TG_ENSURE(s != NULL, TG_ERR_CONFIG, "empty trusted proxy");
    memset(out, 0, sizeof(*out));
    slash = strchr(s, '/');
    hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    TG_ENSURE(hlen > 0 && hlen < sizeof(h), TG_ERR_CONFIG, "bad trusted proxy '%s'", s);
    memcpy(h, s, hlen);
    h[hlen] = '\0';
    if (inet_pton(AF_INET, h, out->ip.a) == 1) {
        out->ip.family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, h, a6) == 1) {
        /* Fold a v4-mapped entry so it matches IPv4 peers. */
        ip_from_v6_bytes(a6, &out->ip);
        folded = out->ip.family == AF_INET;
        max = 128;
    } else {
        TG_ENSURE(0, TG_ERR_CONFIG, "trusted proxy '%s' is not a numeric address", s);
    }
    out->bits = max;
    if (slash != NULL) {
        int bits;

        TG_GUARD(parse_port(slash + 1, &bits));
        TG_ENSURE((unsigned)bits <= max, TG_ERR_CONFIG, "bad prefix length in '%s'", s);
        out->bits = (unsigned)bits;
    }
    if (folded) {
        TG_ENSURE(out->bits >= 96, TG_ERR_CONFIG, "v4-mapped range '%s' wider than IPv4", s);
        out->bits -= 96;
    }
    return TG_OK;
}

int
tg_http_cidr_match(const struct tg_http_cidr *c, const struct tg_http_ip *ip)
{
    unsigned full, rest;

    if (c->ip.family == 0 || c->ip.family != ip->family)
        return 0;
    full = c->bits / 8;
    rest = c->bits % 8;
    if (full > 0 && memcmp(c->ip.a, ip->a, full) != 0)
        return 0;
    if (rest != 0) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));

        if ((c->ip.a[full] & mask) != (ip->a[full] & mask))
            return 0;
    }
    return 1;
}
