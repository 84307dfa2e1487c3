/* Helpers shared by the store tests: a temporary directory per run, raw SQL
 * probes into a database file, record builders and comparisons. Included
 * once per test binary, after test.h (some helpers CHECK). */
#ifndef TG_STORE_TEST_UTIL_H
#define TG_STORE_TEST_UTIL_H

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static char t_dir[64];

/* A fresh directory under /tmp for this run (mkdtemp). */
static inline void
t_dir_make(void)
{
    snprintf(t_dir, sizeof(t_dir), "/tmp/tg-store-XXXXXX");
    if (mkdtemp(t_dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline void
t_dir_remove(void)
{
    char path[512];
    struct dirent *de;
    DIR *d = opendir(t_dir);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", t_dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(t_dir);
}

/* Path of a database file named after the test, in the run's directory. */
static inline const char *
t_db_path(const char *name)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/%s.db", t_dir, name);
    return path;
}

/* First column of the first row of `sql` as an integer; -1 on any error or
 * when there is no row. */
static inline long long
t_sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Same, through a separate connection to the file. */
static inline long long
t_file_sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    long long v = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
        v = t_sql_int(db, sql);
    sqlite3_close(db);
    return v;
}

static inline int
t_file_sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc;

    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static inline char *
t_strdup(const char *s)
{
    size_t n;
    char *p;

    if (s == NULL)
        return NULL;
    n = strlen(s) + 1;
    p = malloc(n);
    if (p == NULL)
        abort();
    memcpy(p, s, n);
    return p;
}

static inline int
t_streq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* An agent with every field set to a distinct, non-default value. */
static inline void
t_agent_full(struct tg_agent *a, const char *id)
{
    char buf[128];
    int i;

    memset(a, 0, sizeof(*a));
    a->id = t_strdup(id);
    a->type = TG_AGENT_TENANT;
    snprintf(buf, sizeof(buf), "owner-of-%s", id);
    a->owner = t_strdup(buf);
    a->tenant = t_strdup("acme");
    a->status = TG_AGENT_ACTIVE;
    a->auth_method = TG_AUTH_SPIFFE_X509;
    a->pop = TG_POP_MTLS;
    a->max_token_lifetime = 300;
    a->introspect = 1;
    for (i = 0; i < TG_SECRET_MAC_LEN; i++)
        a->secret_mac[i] = (uint8_t)(0xA0 + i + (unsigned char)id[0]);
    a->has_secret = 1;
    a->jwks = t_strdup("{\"keys\":[]}");
    a->tls_subject_dn = t_strdup("CN=agent,O=Acme");
    a->tls_san_dns = t_strdup("agent.acme.example");
    snprintf(buf, sizeof(buf), "spiffe://acme.example/san/%s", id);
    a->tls_san_uri = t_strdup(buf);
    a->cert_x5t = t_strdup("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2");
    snprintf(buf, sizeof(buf), "spiffe://acme.example/agent/%s", id);
    a->spiffe_id = t_strdup(buf);
    a->tokens_not_before = 11;
    a->created_at = 1700000000;
    a->updated_at = 1700000001;
}

/* An agent with only the required fields. */
static inline void
t_agent_min(struct tg_agent *a, const char *id)
{
    memset(a, 0, sizeof(*a));
    a->id = t_strdup(id);
    a->type = TG_AGENT_INTERNAL;
    a->owner = t_strdup("ops");
    a->status = TG_AGENT_ACTIVE;
    a->auth_method = TG_AUTH_CLIENT_SECRET_BASIC;
    a->pop = TG_POP_DPOP;
}

static inline int
t_agent_eq(const struct tg_agent *a, const struct tg_agent *b)
{
    return t_streq(a->id, b->id) && a->type == b->type && t_streq(a->owner, b->owner) &&
           t_streq(a->tenant, b->tenant) && a->status == b->status &&
           a->auth_method == b->auth_method && a->pop == b->pop &&
           a->max_token_lifetime == b->max_token_lifetime && a->introspect == b->introspect &&
           a->has_secret == b->has_secret &&
           (!a->has_secret || memcmp(a->secret_mac, b->secret_mac, TG_SECRET_MAC_LEN) == 0) &&
           t_streq(a->jwks, b->jwks) && t_streq(a->tls_subject_dn, b->tls_subject_dn) &&
           t_streq(a->tls_san_dns, b->tls_san_dns) && t_streq(a->tls_san_uri, b->tls_san_uri) &&
           t_streq(a->cert_x5t, b->cert_x5t) && t_streq(a->spiffe_id, b->spiffe_id) &&
           a->tokens_not_before == b->tokens_not_before && a->created_at == b->created_at &&
           a->updated_at == b->updated_at;
}

/* A tool with `n` endpoints "/p<i>", cycling through methods, actions, risks. */
static inline void
t_tool_make(struct tg_tool *t, const char *id, size_t n)
{
    static const char *methods[] = {"GET", "POST", "DELETE", "*"};
    char buf[128];
    size_t i;

    memset(t, 0, sizeof(*t));
    t->id = t_strdup(id);
    snprintf(buf, sizeof(buf), "https://tools.example/%s", id);
    t->resource = t_strdup(buf);
    snprintf(buf, sizeof(buf), "http://127.0.0.1:9/%s", id);
    t->upstream = t_strdup(buf);
    t->kind = t_strdup("mcp");
    if (n == 0)
        return;
    t->endpoints = calloc(n, sizeof(*t->endpoints));
    if (t->endpoints == NULL)
        abort();
    t->n_endpoints = n;
    for (i = 0; i < n; i++) {
        t->endpoints[i].method = t_strdup(methods[i % 4]);
        snprintf(buf, sizeof(buf), "/p%zu/{id}", i);
        t->endpoints[i].path = t_strdup(buf);
        t->endpoints[i].action = (enum tg_action)(TG_ACTION_READ + (int)(i % 3));
        t->endpoints[i].risk = (i % 2) ? TG_RISK_HIGH : TG_RISK_NORMAL;
    }
}

static inline int
t_tool_eq(const struct tg_tool *a, const struct tg_tool *b)
{
    size_t i;

    if (!t_streq(a->id, b->id) || !t_streq(a->resource, b->resource) ||
        !t_streq(a->upstream, b->upstream) || !t_streq(a->kind, b->kind) ||
        a->n_endpoints != b->n_endpoints)
        return 0;
    for (i = 0; i < a->n_endpoints; i++)
        if (!t_streq(a->endpoints[i].method, b->endpoints[i].method) ||
            !t_streq(a->endpoints[i].path, b->endpoints[i].path) ||
            a->endpoints[i].action != b->endpoints[i].action ||
            a->endpoints[i].risk != b->endpoints[i].risk)
            return 0;
    return 1;
}

/* A grant naming `n` endpoints (NULL-terminated list of strings). */
static inline void
t_grant_make(struct tg_grant *g, const char *agent, const char *tool, unsigned actions,
             const char *const *endpoints)
{
    size_t n = 0, i;

    memset(g, 0, sizeof(*g));
    g->agent_id = t_strdup(agent);
    g->tool_id = t_strdup(tool);
    g->actions = actions;
    while (endpoints != NULL && endpoints[n] != NULL)
        n++;
    if (n == 0)
        return;
    g->endpoints = calloc(n, sizeof(char *));
    if (g->endpoints == NULL)
        abort();
    for (i = 0; i < n; i++)
        g->endpoints[i] = t_strdup(endpoints[i]);
    g->n_endpoints = n;
}

static inline int
t_grant_eq(const struct tg_grant *a, const struct tg_grant *b)
{
    size_t i;

    if (!t_streq(a->agent_id, b->agent_id) || !t_streq(a->tool_id, b->tool_id) ||
        a->actions != b->actions || a->n_endpoints != b->n_endpoints)
        return 0;
    for (i = 0; i < a->n_endpoints; i++)
        if (!t_streq(a->endpoints[i], b->endpoints[i]))
            return 0;
    return 1;
}

static inline struct tg_store *
open_fresh(const char *name)
{
    struct tg_store *s = NULL;
    const char *path = t_db_path(name);

    CHECK_OK(tg_store_open_sqlite(path, &s));
    if (s == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, tg_err_detail());
        exit(2);
    }
    return s;
}

static inline void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

#define RW (TG_ACTION_BIT(TG_ACTION_READ) | TG_ACTION_BIT(TG_ACTION_WRITE))
#define ADMIN TG_ACTION_BIT(TG_ACTION_ADMIN)

static inline void
key_make(struct tg_signing_key_row *k, const char *kid, enum tg_key_state st, int64_t created)
{
    char buf[128];
    size_t i;

    memset(k, 0, sizeof(*k));
    k->kid = t_strdup(kid);
    k->alg = t_strdup("ES256");
    k->state = st;
    k->sealed_len = 40 + strlen(kid);
    k->sealed = malloc(k->sealed_len);
    if (k->sealed == NULL)
        abort();
    for (i = 0; i < k->sealed_len; i++)
        k->sealed[i] = (uint8_t)(i * 7 + (unsigned char)kid[0]); /* includes 0x00 bytes */
    snprintf(buf, sizeof(buf), "{\"kty\":\"EC\",\"kid\":\"%s\"}", kid);
    k->public_jwk = t_strdup(buf);
    k->created_at = created;
    k->activated_at = st == TG_KEYSTATE_CURRENT ? created + 1 : 0;
    k->retired_at = st == TG_KEYSTATE_RETIRED ? created + 2 : 0;
}

static inline int
key_eq(const struct tg_signing_key_row *a, const struct tg_signing_key_row *b)
{
    return t_streq(a->kid, b->kid) && t_streq(a->alg, b->alg) && a->state == b->state &&
           a->sealed_len == b->sealed_len && memcmp(a->sealed, b->sealed, a->sealed_len) == 0 &&
           t_streq(a->public_jwk, b->public_jwk) && a->created_at == b->created_at &&
           a->activated_at == b->activated_at && a->retired_at == b->retired_at;
}

/* One record of each kind, named with `tag`, written through `s`. */
static inline void
write_one_of_each(struct tg_store *s, const char *tag)
{
    struct tg_agent a;
    struct tg_tool t;
    struct tg_grant g;
    struct tg_signing_key_row k;
    char id[64];

    snprintf(id, sizeof(id), "agent-%s", tag);
    t_agent_full(&a, id);
    CHECK_OK(tg_store_agent_insert(s, &a));
    snprintf(id, sizeof(id), "tool-%s", tag);
    t_tool_make(&t, id, 2);
    CHECK_OK(tg_store_tool_put(s, &t));
    t_grant_make(&g, a.id, t.id, RW, NULL);
    CHECK_OK(tg_store_grant_put(s, &g));
    snprintf(id, sizeof(id), "key-%s", tag);
    key_make(&k, id, TG_KEYSTATE_NEXT, 1);
    CHECK_OK(tg_store_key_put(s, &k));
    snprintf(id, sizeof(id), "jti-%s", tag);
    CHECK_OK(tg_store_revoke(s, id, 1000));
    snprintf(id, sizeof(id), "blob-%s", tag);
    CHECK_OK(tg_store_blob_put(s, id, (const uint8_t *)"v", 1));
    tg_agent_reset(&a);
    tg_tool_reset(&t);
    tg_grant_reset(&g);
    tg_signing_key_row_reset(&k);
}

/* How many of the six records written by write_one_of_each(tag) exist. */
static inline int
count_one_of_each(struct tg_store *s, const char *tag)
{
    struct tg_agent a;
    struct tg_tool t;
    struct tg_grant *gl = NULL;
    struct tg_signing_key_row *kl = NULL;
    uint8_t *p = NULL;
    size_t n = 0, len, i;
    char id[64];
    int found = 0;

    snprintf(id, sizeof(id), "agent-%s", tag);
    if (tg_store_agent_get(s, id, &a) == TG_OK)
        found++;
    tg_agent_reset(&a);
    if (tg_store_grant_list(s, id, &gl, &n) == TG_OK && n == 1)
        found++;
    tg_store_grant_list_free(gl, n);
    snprintf(id, sizeof(id), "tool-%s", tag);
    if (tg_store_tool_get(s, id, &t) == TG_OK)
        found++;
    tg_tool_reset(&t);
    snprintf(id, sizeof(id), "key-%s", tag);
    if (tg_store_key_list(s, &kl, &n) == TG_OK)
        for (i = 0; i < n; i++)
            found += t_streq(kl[i].kid, id);
    tg_store_key_list_free(kl, n);
    snprintf(id, sizeof(id), "jti-%s", tag);
    found += tg_store_is_revoked(s, id) == 1;
    snprintf(id, sizeof(id), "blob-%s", tag);
    if (tg_store_blob_get(s, id, &p, &len) == TG_OK)
        found++;
    free(p);
    return found;
}

#endif
