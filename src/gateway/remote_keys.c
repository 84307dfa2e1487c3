/* The issuer's keys for a gateway-only process: its JWKS fetched with
 * libcurl and kept as an immutable tg_rs_keyset, swapped whole when a fetch
 * succeeds. Lookups share the current set by reference count; the lock is
 * never held across the fetch, and one fetch at a time runs (the others wait
 * for its result). Refetched on an unknown kid (a rotation at the issuer),
 * at most once per min_interval (kid flooding), and when older than max_age
 * (keys the issuer stopped publishing stop verifying). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/log.h"
#include "core/mem.h"
#include "gateway/remote.h"
#include "verify/resource.h"

/* The keyset parser refuses more than this anyway. */
#define JWKS_MAX_BYTES (TG_JWK_MAX_JSON * 8)

struct ks_ref {
    struct tg_rs_keyset *ks;
    size_t refs; /* under rk->lock */
};

struct tg_gw_remote_keys {
    char *jwks_uri, *ca_file;
    struct tg_gw_remote_keys_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t fetched;
    struct ks_ref *cur;
    int64_t tried_at;   /* last fetch attempt (0: never) */
    int64_t loaded_at;  /* the current set's */
    int fetching;
    enum tg_err last;   /* result of the last fetch, for those who waited */
    struct tg_gw_remote_keys_stats st;
};

/* --- one HTTP exchange (shared with remote_state.c) --- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void
curl_global(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct tg_buf *b = arg;

    if (size != 1 || tg_buf_append(b, p, n) != TG_OK)
        return 0; /* over the cap: libcurl stops with CURLE_WRITE_ERROR */
    return n;
}

enum tg_err
tg_gw_remote_http(const char *url, const char *form, const char *user, const char *password,
                  const char *ca_file, long timeout_ms, size_t cap, long *status,
                  struct tg_buf *body)
{
    CURL *h = NULL;
    struct curl_slist *hs = NULL;
    CURLcode cc;
    enum tg_err rv = TG_OK;

    *status = 0;
    pthread_once(&curl_once, curl_global);
    TG_ENSURE(curl_ok, TG_ERR_INTERNAL, "curl_global_init failed");
    tg_buf_init(body, cap);
    h = curl_easy_init();
    TG_CHECK(h != NULL, TG_ERR_NOMEM, "curl_easy_init");
    hs = curl_slist_append(NULL, "Accept: application/json");
    TG_CHECK(hs != NULL, TG_ERR_NOMEM, "headers");
    cc = curl_easy_setopt(h, CURLOPT_URL, url);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    if (cc == CURLE_OK && ca_file != NULL)
        cc = curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
    if (cc == CURLE_OK && form != NULL) {
        cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form));
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    }
    if (cc == CURLE_OK && user != NULL) {
        cc = curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(h, CURLOPT_USERNAME, user);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(h, CURLOPT_PASSWORD, password != NULL ? password : "");
    }
    TG_CHECK(cc == CURLE_OK, TG_ERR_INTERNAL, "curl_easy_setopt: %s", curl_easy_strerror(cc));
    cc = curl_easy_perform(h);
    TG_CHECK(cc == CURLE_OK, TG_ERR_IO, "%s: %s", url, curl_easy_strerror(cc));
    cc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    TG_CHECK(cc == CURLE_OK, TG_ERR_IO, "%s: no status", url);
out:
    curl_slist_free_all(hs);
    curl_easy_cleanup(h);
    return rv;
}

/* --- the key set --- */

static int64_t
now_of(const struct tg_gw_remote_keys *rk)
{
    return tg_clock_now(rk->cfg.clock != NULL ? rk->cfg.clock : &tg_clock_system);
}

static void
ref_release_locked(struct ks_ref *r)
{
    if (r != NULL && --r->refs == 0) {
        tg_rs_keyset_free(r->ks);
        free(r);
    }
}

static void
ref_release(struct tg_gw_remote_keys *rk, struct ks_ref *r)
{
    pthread_mutex_lock(&rk->lock);
    ref_release_locked(r);
    pthread_mutex_unlock(&rk->lock);
}

enum tg_err
tg_gw_remote_keys_new(const struct tg_gw_remote_keys_config *cfg, struct tg_gw_remote_keys **out)
{
    struct tg_gw_remote_keys *rk;

    *out = NULL;
    TG_ENSURE(cfg != NULL && cfg->jwks_uri != NULL &&
                  (strncmp(cfg->jwks_uri, "https://", 8) == 0 ||
                   strncmp(cfg->jwks_uri, "http://", 7) == 0),
              TG_ERR_CONFIG, "the JWKS URI must be an http(s) URL");
    rk = calloc(1, sizeof(*rk));
    TG_ENSURE(rk != NULL, TG_ERR_NOMEM, "remote keys");
    rk->cfg = *cfg;
    rk->jwks_uri = strdup(cfg->jwks_uri);
    rk->ca_file = cfg->ca_file != NULL ? strdup(cfg->ca_file) : NULL;
    if (rk->jwks_uri == NULL || (cfg->ca_file != NULL && rk->ca_file == NULL)) {
        free(rk->jwks_uri);
        free(rk->ca_file);
        free(rk);
        TG_ENSURE(0, TG_ERR_NOMEM, "remote keys");
    }
    rk->cfg.jwks_uri = rk->jwks_uri;
    rk->cfg.ca_file = rk->ca_file;
    if (rk->cfg.min_interval <= 0)
        rk->cfg.min_interval = 10;
    if (rk->cfg.max_age <= 0)
        rk->cfg.max_age = 300;
    if (rk->cfg.timeout_ms <= 0)
        rk->cfg.timeout_ms = 5000;
    pthread_mutex_init(&rk->lock, NULL);
    pthread_cond_init(&rk->fetched, NULL);
    *out = rk;
    return TG_OK;
}

void
tg_gw_remote_keys_free(struct tg_gw_remote_keys *rk)
{
    if (rk == NULL)
        return;
    ref_release_locked(rk->cur);
    pthread_cond_destroy(&rk->fetched);
    pthread_mutex_destroy(&rk->lock);
    free(rk->jwks_uri);
    free(rk->ca_file);
    free(rk);
}

void
tg_gw_remote_keys_stats(struct tg_gw_remote_keys *rk, struct tg_gw_remote_keys_stats *out)
{
    pthread_mutex_lock(&rk->lock);
    *out = rk->st;
    out->keys = rk->cur != NULL ? tg_rs_keyset_count(rk->cur->ks) : 0;
    pthread_mutex_unlock(&rk->lock);
}

/* GET and parse, no lock held. */
static enum tg_err
download(struct tg_gw_remote_keys *rk, struct tg_rs_keyset **out)
{
    struct tg_buf body;
    long status;
    enum tg_err rv = TG_OK;

    *out = NULL;
    TG_TRY(tg_gw_remote_http(rk->cfg.jwks_uri, NULL, NULL, NULL, rk->cfg.ca_file,
                             rk->cfg.timeout_ms, JWKS_MAX_BYTES, &status, &body));
    TG_CHECK(status == 200, TG_ERR_IO, "%s: status %ld", rk->cfg.jwks_uri, status);
    TG_TRY(tg_rs_keyset_parse((const char *)body.p, body.len, out));
out:
    tg_buf_reset(&body);
    return rv;
}

/* 1 fetched (by us, or by the fetch we waited for), 0 skipped (within
 * min_interval), -1 failed. `force` ignores the interval. */
static int
refetch(struct tg_gw_remote_keys *rk, int force)
{
    struct tg_rs_keyset *ks = NULL;
    struct ks_ref *fresh = NULL, *old = NULL;
    int64_t now = now_of(rk);
    enum tg_err e;

    pthread_mutex_lock(&rk->lock);
    if (rk->fetching) {
        while (rk->fetching)
            pthread_cond_wait(&rk->fetched, &rk->lock);
        e = rk->last;
        pthread_mutex_unlock(&rk->lock);
        return e == TG_OK ? 1 : -1;
    }
    if (!force && rk->tried_at != 0 && now >= rk->tried_at &&
        now - rk->tried_at < rk->cfg.min_interval) {
        rk->st.skipped++;
        pthread_mutex_unlock(&rk->lock);
        return 0;
    }
    rk->fetching = 1;
    rk->tried_at = now;
    pthread_mutex_unlock(&rk->lock);

    e = download(rk, &ks);
    if (e == TG_OK) {
        fresh = calloc(1, sizeof(*fresh));
        if (fresh == NULL) {
            tg_rs_keyset_free(ks);
            e = TG_ERR_NOMEM;
        } else {
            fresh->ks = ks;
            fresh->refs = 1;
        }
    }
    if (e != TG_OK)
        tg_log_warnx("gateway: JWKS %s not fetched: %s", rk->cfg.jwks_uri, tg_err_detail());

    pthread_mutex_lock(&rk->lock);
    rk->st.fetches++;
    if (fresh != NULL) {
        old = rk->cur;
        rk->cur = fresh;
        rk->loaded_at = now;
    } else {
        rk->st.failures++;
    }
    ref_release_locked(old);
    rk->fetching = 0;
    rk->last = e;
    pthread_cond_broadcast(&rk->fetched);
    pthread_mutex_unlock(&rk->lock);
    if (fresh != NULL)
        tg_log_info("gateway: JWKS %s: %zu keys", rk->cfg.jwks_uri, tg_rs_keyset_count(ks));
    return e == TG_OK ? 1 : -1;
}

enum tg_err
tg_gw_remote_keys_fetch(struct tg_gw_remote_keys *rk)
{
    TG_ENSURE(refetch(rk, 1) == 1, TG_ERR_IO, "JWKS %s unavailable", rk->cfg.jwks_uri);
    return TG_OK;
}

/* Look kid up in the current set: TG_OK, TG_ERR_NOT_FOUND (or no set). */
static enum tg_err
lookup(struct tg_gw_remote_keys *rk, const char *kid, struct tg_jwk *out, int *stale)
{
    struct ks_ref *r;
    int64_t now = now_of(rk);
    enum tg_err e;

    pthread_mutex_lock(&rk->lock);
    r = rk->cur;
    if (r != NULL)
        r->refs++;
    *stale = r == NULL || now < rk->loaded_at || now - rk->loaded_at >= rk->cfg.max_age;
    pthread_mutex_unlock(&rk->lock);
    if (r == NULL) {
        memset(out, 0, sizeof(*out));
        tg_err_raise(TG_ERR_NOT_FOUND, "no JWKS yet");
        return TG_ERR_NOT_FOUND;
    }
    e = tg_rs_keyset_find(r->ks, kid, out);
    ref_release(rk, r);
    return e;
}

enum tg_err
tg_gw_remote_keys_find(void *arg, const char *kid, struct tg_jwk *out)
{
    struct tg_gw_remote_keys *rk = arg;
    enum tg_err e;
    int stale, got;

    e = lookup(rk, kid, out, &stale);
    if (e == TG_OK && !stale)
        return TG_OK;
    if (e != TG_OK && e != TG_ERR_NOT_FOUND)
        return e;
    /* An unknown kid (the issuer rotated?) or an old set: ask the issuer. */
    got = refetch(rk, 0);
    if (got == 0) {
        if (e == TG_ERR_NOT_FOUND)
            tg_err_raise(TG_ERR_NOT_FOUND, "unknown kid (JWKS fetched less than %lds ago)",
                         (long)rk->cfg.min_interval);
        return e;
    }
    if (got < 0) {
        if (e == TG_OK)
            return TG_OK; /* stale but still what the issuer last published */
        TG_ENSURE(0, TG_ERR_IO, "unknown kid and the JWKS is unavailable");
    }
    if (e == TG_OK)
        tg_jwk_reset(out);
    return lookup(rk, kid, out, &stale);
}
