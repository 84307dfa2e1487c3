/* The token's live state for a gateway-only process: RFC 7662 introspection
 * at the issuer (revoked jti, agent disabled or gone, issued before a
 * disable: the issuer's `active`), cached for a few seconds by jti in a
 * small direct-mapped table (bounded; a collision just asks again). Any
 * doubt answers "cannot tell", which the decision turns into a 503. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/log.h"
#include "core/mem.h"
#include "gateway/remote.h"

#define SLOTS 4096
#define MAX_ANSWER 65536
#define MAX_TOKEN 16384

static _Thread_local const char *current_authorization;

void
tg_gw_remote_set_authorization(const char *value)
{
    current_authorization = value;
}

int
tg_gw_state_until_exp(void *arg, const char *jti, const char *client_id, int64_t iat)
{
    (void)arg;
    (void)jti;
    (void)client_id;
    (void)iat;
    return 1;
}

struct slot {
    char jti[129];
    int active;
    int64_t until;
};

struct tg_gw_introspect {
    struct tg_gw_introspect_config cfg;
    char *url, *user, *password, *ca_file; /* user and password form-encoded */
    pthread_mutex_t lock;
    struct slot *slots;
};

static int64_t
now_of(const struct tg_gw_introspect *in)
{
    return tg_clock_now(in->cfg.clock != NULL ? in->cfg.clock : &tg_clock_system);
}

/* RFC 6749 §2.3.1: client_id and secret are form-encoded before Basic. */
static char *
form_encode(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0), *copy;

    if (e == NULL)
        return NULL;
    copy = strdup(e);
    tg_wipe(e, strlen(e));
    curl_free(e);
    return copy;
}

static void
free_secret(char *s)
{
    if (s != NULL) {
        tg_wipe(s, strlen(s));
        free(s);
    }
}

void
tg_gw_introspect_free(struct tg_gw_introspect *in)
{
    if (in == NULL)
        return;
    free(in->url);
    free(in->user);
    free_secret(in->password);
    free(in->ca_file);
    free(in->slots);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

enum tg_err
tg_gw_introspect_new(const struct tg_gw_introspect_config *cfg, struct tg_gw_introspect **out)
{
    struct tg_gw_introspect *in = NULL;
    enum tg_err rv = TG_OK;

    *out = NULL;
    TG_ENSURE(cfg != NULL && cfg->url != NULL && cfg->client_id != NULL &&
                  cfg->client_secret != NULL,
              TG_ERR_CONFIG, "introspection needs a URL, a client id and its secret");
    TG_ENSURE(strncmp(cfg->url, "https://", 8) == 0 || strncmp(cfg->url, "http://", 7) == 0,
              TG_ERR_CONFIG, "the introspection URL must be an http(s) URL");
    in = calloc(1, sizeof(*in));
    TG_ENSURE(in != NULL, TG_ERR_NOMEM, "introspection");
    pthread_mutex_init(&in->lock, NULL);
    in->cfg = *cfg;
    in->url = strdup(cfg->url);
    in->user = form_encode(cfg->client_id);
    in->password = form_encode(cfg->client_secret);
    in->ca_file = cfg->ca_file != NULL ? strdup(cfg->ca_file) : NULL;
    in->slots = calloc(SLOTS, sizeof(*in->slots));
    TG_CHECK(in->url != NULL && in->user != NULL && in->password != NULL && in->slots != NULL &&
                 (cfg->ca_file == NULL || in->ca_file != NULL),
             TG_ERR_NOMEM, "introspection");
    in->cfg.url = in->url;
    in->cfg.client_id = NULL;
    in->cfg.client_secret = NULL;
    in->cfg.ca_file = in->ca_file;
    if (in->cfg.cache_ttl == 0)
        in->cfg.cache_ttl = 5;
    if (in->cfg.timeout_ms <= 0)
        in->cfg.timeout_ms = 5000;
    *out = in;
    in = NULL;
out:
    tg_gw_introspect_free(in);
    return rv;
}

static size_t
slot_of(const char *jti)
{
    uint32_t h = 2166136261u; /* FNV-1a: spreading, not security (the key is verified) */

    for (; *jti != '\0'; jti++)
        h = (h ^ (uint8_t)*jti) * 16777619u;
    return h % SLOTS;
}

/* The credential of "Bearer <t>" or "DPoP <t>" (the decision already
 * checked the scheme and the shape). */
static const char *
credential(const char *authorization)
{
    const char *sp;

    if (authorization == NULL || (sp = strchr(authorization, ' ')) == NULL)
        return NULL;
    while (*sp == ' ')
        sp++;
    return *sp != '\0' ? sp : NULL;
}

/* 1 / 0 as the issuer says, -1 when it cannot be asked or its answer is not
 * about this token. */
static int
ask(struct tg_gw_introspect *in, const char *token, const char *jti)
{
    struct tg_buf form, body;
    char *esc = NULL;
    json_t *doc = NULL, *active;
    const char *got_jti, *text;
    long status = 0;
    int r = -1;

    tg_buf_init_secret(&form, MAX_TOKEN * 3 + 16);
    memset(&body, 0, sizeof(body));
    esc = curl_easy_escape(NULL, token, 0);
    if (esc == NULL || tg_buf_append_str(&form, "token=") != TG_OK ||
        tg_buf_append_str(&form, esc) != TG_OK ||
        tg_buf_append_str(&form, "&token_type_hint=access_token") != TG_OK ||
        tg_buf_cstr(&form, &text) != TG_OK) {
        tg_log_warnx("gateway: introspection request not built");
        goto out;
    }
    if (tg_gw_remote_http(in->url, text, in->user, in->password, in->cfg.ca_file,
                          in->cfg.timeout_ms, MAX_ANSWER, &status, &body) != TG_OK) {
        tg_log_warnx("gateway: introspection failed: %s", tg_err_detail());
        goto out;
    }
    if (status != 200) {
        tg_log_warnx("gateway: introspection answered %ld", status);
        goto out;
    }
    doc = json_loadb((const char *)body.p, body.len, JSON_REJECT_DUPLICATES, NULL);
    active = json_object_get(doc, "active");
    if (!json_is_boolean(active)) {
        tg_log_warnx("gateway: introspection answer without a boolean active");
        goto out;
    }
    if (!json_is_true(active)) {
        r = 0;
        goto out;
    }
    got_jti = json_string_value(json_object_get(doc, "jti"));
    if (got_jti == NULL || strcmp(got_jti, jti) != 0) {
        tg_log_warnx("gateway: introspection answer about another token");
        goto out;
    }
    r = 1;
out:
    json_decref(doc);
    if (esc != NULL) {
        tg_wipe(esc, strlen(esc));
        curl_free(esc);
    }
    tg_buf_reset(&form);
    tg_buf_reset(&body);
    return r;
}

int
tg_gw_introspect_active(void *arg, const char *jti, const char *client_id, int64_t iat)
{
    struct tg_gw_introspect *in = arg;
    const char *token = credential(current_authorization);
    struct slot *s;
    int64_t now = now_of(in);
    int r;

    (void)client_id;
    (void)iat;
    if (jti == NULL || strlen(jti) >= sizeof(s->jti))
        return 0;
    if (in->cfg.cache_ttl > 0) {
        pthread_mutex_lock(&in->lock);
        s = &in->slots[slot_of(jti)];
        r = s->until > now && strcmp(s->jti, jti) == 0 ? s->active : -1;
        pthread_mutex_unlock(&in->lock);
        if (r >= 0)
            return r;
    }
    if (token == NULL || strlen(token) > MAX_TOKEN) {
        tg_log_warnx("gateway: no token to introspect");
        return -1;
    }
    r = ask(in, token, jti);
    if (r >= 0 && in->cfg.cache_ttl > 0) {
        pthread_mutex_lock(&in->lock);
        s = &in->slots[slot_of(jti)];
        memcpy(s->jti, jti, strlen(jti) + 1);
        s->active = r;
        s->until = now + in->cfg.cache_ttl;
        pthread_mutex_unlock(&in->lock);
    }
    return r;
}
