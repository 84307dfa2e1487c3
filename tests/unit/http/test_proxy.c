/* The pure parsers behind the server: proxy certificate headers (URL
 * decoding, Envoy XFCC), listener addresses and trusted-proxy ranges. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "http/internal.h"
#include "test.h"

static int
xfcc_is(const char *header, const char *want)
{
    struct tg_slice c;

    if (tg_http_xfcc_cert(tg_slice(header, strlen(header)), &c) != TG_OK)
        return 0;
    if (want == NULL)
        return c.len == 0;
    return c.len == strlen(want) && memcmp(c.p, want, c.len) == 0;
}

static int
xfcc_fails(const char *header)
{
    struct tg_slice c;

    return tg_http_xfcc_cert(tg_slice(header, strlen(header)), &c) == TG_ERR_INVALID_ARG;
}

static void
test_xfcc(void)
{
    /* Envoy's documented shapes. */
    CHECK(xfcc_is("By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject=\"/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client\";URI=http://testclient.lyft.com",
                  NULL));
    CHECK(xfcc_is("By=spiffe://a;Cert=\"-----BEGIN%20CERTIFICATE-----%0AMII\";Subject=\"CN=x\"",
                  "-----BEGIN%20CERTIFICATE-----%0AMII"));
    CHECK(xfcc_is("Cert=abc", "abc"));
    CHECK(xfcc_is("cert=abc;URI=x", "abc"));           /* keys are case-insensitive */
    CHECK(xfcc_is("  CERT = \"abc\" ; By=x ", "abc"));  /* optional whitespace */
    CHECK(xfcc_is("Cert=\"a;b,c=d\"", "a;b,c=d"));     /* separators inside quotes */
    CHECK(xfcc_is("Cert=\"a\\\"b\"", "a\\\"b"));       /* escaped quote kept raw */
    CHECK(xfcc_is("Subject=\"\";Cert=abc", "abc"));
    /* Several elements: the last (nearest proxy) counts. */
    CHECK(xfcc_is("Cert=first,Cert=second", "second"));
    CHECK(xfcc_is("Cert=first;By=a,By=b", NULL));
    CHECK(xfcc_is("By=a,Cert=\"x,y\"", "x,y"));
    CHECK(xfcc_is("", NULL));
    CHECK(xfcc_is("   ", NULL));
    /* Malformed. */
    CHECK(xfcc_fails("Cert"));
    CHECK(xfcc_fails("=abc"));
    CHECK(xfcc_fails("Cert=\"abc"));
    CHECK(xfcc_fails("Cert=\"abc\\"));
    CHECK(xfcc_fails("Cert=ab\"c"));
    CHECK(xfcc_fails("Cert=\"abc\"x"));
    CHECK(xfcc_fails("Cert=a;Cert=b"));
    CHECK(xfcc_fails("Cert=a,,Cert=b"));
    CHECK(xfcc_fails("Cert=a;"));
    CHECK(xfcc_fails("Cert=a,"));
    CHECK(xfcc_fails("\"Cert\"=a"));
}

static int
decodes_to(const char *in, const char *want)
{
    struct tg_buf b;
    int ok;

    tg_buf_init(&b, 64);
    ok = tg_http_url_decode(tg_slice(in, strlen(in)), &b) == TG_OK && b.len == strlen(want) &&
         (b.len == 0 || memcmp(b.p, want, b.len) == 0);
    tg_buf_reset(&b);
    return ok;
}

static void
test_url_decode(void)
{
    struct tg_buf b;
    static char big[100];

    CHECK(decodes_to("", ""));
    CHECK(decodes_to("abc", "abc"));
    CHECK(decodes_to("a%20b%0A%2b+c", "a b\n++c")); /* '+' is not a space here */
    CHECK(decodes_to("%2F%2f%41", "//A"));
    tg_buf_init(&b, 64);
    CHECK_ERR(tg_http_url_decode(TG_SLICE_STR("%"), &b), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_url_decode(TG_SLICE_STR("%4"), &b), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_url_decode(TG_SLICE_STR("%G0"), &b), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_url_decode(TG_SLICE_STR("%0g"), &b), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_url_decode(TG_SLICE_STR("a%00b"), &b), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_http_url_decode(tg_slice("a\0b", 3), &b), TG_ERR_INVALID_ARG);
    tg_buf_reset(&b);
    /* The output buffer's cap holds. */
    memset(big, 'x', sizeof(big));
    tg_buf_init(&b, 64);
    CHECK_ERR(tg_http_url_decode(tg_slice(big, sizeof(big)), &b), TG_ERR_TOO_LARGE);
    tg_buf_reset(&b);
}

static void
test_listener_address(void)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char host[80];
    struct tg_http_ip ip;

    CHECK_OK(tg_http_addr_parse("127.0.0.1:8080", &ss, &len, host, sizeof(host)));
    CHECK(ss.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&ss)->sin_port) == 8080);
    CHECK(strcmp(host, "127.0.0.1") == 0);
    tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
    CHECK(tg_http_ip_is_loopback(&ip));
    CHECK_OK(tg_http_addr_parse("[::1]:0", &ss, &len, host, sizeof(host)));
    CHECK(ss.ss_family == AF_INET6 && strcmp(host, "[::1]") == 0 && len == sizeof(struct sockaddr_in6));
    tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
    CHECK(tg_http_ip_is_loopback(&ip));
    CHECK_OK(tg_http_addr_parse("127.255.0.9:1", &ss, &len, host, sizeof(host)));
    tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
    CHECK(tg_http_ip_is_loopback(&ip));
    CHECK_OK(tg_http_addr_parse("[::ffff:127.0.0.1]:1", &ss, &len, host, sizeof(host)));
    tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
    CHECK(ip.family == AF_INET && tg_http_ip_is_loopback(&ip));
    /* Not loopback. */
    CHECK_OK(tg_http_addr_parse("0.0.0.0:80", &ss, &len, host, sizeof(host)));
    tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
    CHECK(!tg_http_ip_is_loopback(&ip));
    CHECK_OK(tg_http_addr_parse("[::]:80", &ss, &len, host, sizeof(host)));
    tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
    CHECK(!tg_http_ip_is_loopback(&ip));
    CHECK_OK(tg_http_addr_parse("[::2]:80", &ss, &len, host, sizeof(host)));
    tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
    CHECK(!tg_http_ip_is_loopback(&ip));
    CHECK_OK(tg_http_addr_parse("128.0.0.1:80", &ss, &len, host, sizeof(host)));
    tg_http_ip_from_sockaddr((struct sockaddr *)&ss, &ip);
    CHECK(!tg_http_ip_is_loopback(&ip));
    /* Malformed. */
    CHECK_ERR(tg_http_addr_parse(NULL, &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("127.0.0.1", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("127.0.0.1:", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("127.0.0.1:-1", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("127.0.0.1:+80", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("127.0.0.1:65536", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("127.0.0.1:123456", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("::1:80", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("[::1]80", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("[::1:80", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("[]:80", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("localhost:80", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse(":80", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_addr_parse("1.2.3:80", &ss, &len, host, sizeof(host)), TG_ERR_CONFIG);
}

static struct tg_http_ip
ip_of(const char *text)
{
    struct tg_http_ip ip;
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;

    memset(&a6, 0, sizeof(a6));
    memset(&a4, 0, sizeof(a4));
    if (inet_pton(AF_INET, text, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        tg_http_ip_from_sockaddr((struct sockaddr *)&a4, &ip);
    } else {
        a6.sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, text, &a6.sin6_addr) != 1)
            a6.sin6_family = AF_UNIX; /* never matches */
        tg_http_ip_from_sockaddr((struct sockaddr *)&a6, &ip);
    }
    return ip;
}

static int
matches(const char *range, const char *addr)
{
    struct tg_http_cidr c;
    struct tg_http_ip ip = ip_of(addr);

    return tg_http_cidr_parse(range, &c) == TG_OK && tg_http_cidr_match(&c, &ip);
}

static void
test_trusted_ranges(void)
{
    struct tg_http_cidr c;
    struct tg_http_ip ip;
    char text[TG_HTTP_ADDR_TEXT];

    CHECK(matches("127.0.0.1", "127.0.0.1"));
    CHECK(!matches("127.0.0.1", "127.0.0.2"));
    CHECK(matches("10.0.0.0/8", "10.200.3.4"));
    CHECK(!matches("10.0.0.0/8", "11.0.0.1"));
    CHECK(matches("192.168.4.0/22", "192.168.7.255"));
    CHECK(!matches("192.168.4.0/22", "192.168.8.0"));
    CHECK(matches("0.0.0.0/0", "8.8.8.8"));
    CHECK(!matches("0.0.0.0/0", "::1")); /* families do not mix */
    CHECK(matches("::1", "::1"));
    CHECK(!matches("::1", "127.0.0.1"));
    CHECK(matches("fd00::/8", "fd12:3456::1"));
    CHECK(!matches("fd00::/8", "fe80::1"));
    CHECK(matches("2001:db8::/33", "2001:db8:7fff::1"));
    CHECK(!matches("2001:db8::/33", "2001:db8:8000::1"));
    /* v4-mapped peers and ranges fold to IPv4. */
    CHECK(matches("127.0.0.1", "::ffff:127.0.0.1"));
    CHECK(matches("::ffff:10.0.0.0/104", "10.1.2.3"));
    CHECK(!matches("::ffff:10.0.0.0/104", "11.1.2.3"));
    CHECK(!matches("10.0.0.0/8", "not-an-address"));
    /* Malformed. */
    CHECK_ERR(tg_http_cidr_parse(NULL, &c), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_cidr_parse("", &c), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_cidr_parse("proxy.example", &c), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_cidr_parse("10.0.0.0/33", &c), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_cidr_parse("10.0.0.0/", &c), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_cidr_parse("10.0.0.0/x", &c), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_cidr_parse("10.0.0.0/-1", &c), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_cidr_parse("::/129", &c), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_cidr_parse("::ffff:10.0.0.0/95", &c), TG_ERR_CONFIG);
    CHECK_ERR(tg_http_cidr_parse("10.0.0.1:80", &c), TG_ERR_CONFIG);
    /* Text form, v4-mapped shown as IPv4. */
    ip = ip_of("::ffff:192.0.2.1");
    tg_http_ip_text(&ip, text);
    CHECK(strcmp(text, "192.0.2.1") == 0);
    ip = ip_of("2001:db8::1");
    tg_http_ip_text(&ip, text);
    CHECK(strcmp(text, "2001:db8::1") == 0);
}

static void
test_tokens(void)
{
    CHECK(tg_http_is_token("X-SSL-Client-Cert"));
    CHECK(tg_http_is_token("GET"));
    CHECK(tg_http_is_token("a!#$%&'*+-.^_`|~9"));
    CHECK(!tg_http_is_token(""));
    CHECK(!tg_http_is_token(NULL));
    CHECK(!tg_http_is_token("X-SSL-Client-Cert "));
    CHECK(!tg_http_is_token("a:b"));
    CHECK(!tg_http_is_token("a\"b"));
    CHECK(!tg_http_is_token("a\x7f"));
    CHECK(!tg_http_is_token("\xc3\xa9"));
}

int
main(void)
{
    RUN(test_xfcc);
    RUN(test_url_decode);
    RUN(test_listener_address);
    RUN(test_trusted_ranges);
    RUN(test_tokens);
    return t_report("http/proxy");
}
