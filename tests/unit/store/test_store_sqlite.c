/* The SQLite store against real database files in a temporary directory:
 * pragmas, every record type round-tripping with every field, conflicts,
 * not-found, upserts, cascades, disable semantics, signing keys,
 * revocations (failing closed) and blobs. Transactions, persistence and
 * concurrency are in test_store_tx.c. */
#include "test.h"

#include <sys/stat.h>

#include "store/sqlite_impl.h"
#include "core/log.h"
#include "store/sqlite_schema.h"
#include "store/store.h"
#include "store/store_test_util.h"

static void
test_open_pragmas(void)
{
    struct tg_store *s = open_fresh("pragmas");
    const char *path = t_db_path("pragmas");
    struct stat sb;

    CHECK(tg_store_schema_version(s) == tg_sq_migrations_count);
    CHECK(tg_store_schema_version(s) >= 1);
    CHECK(t_sql_int(s->db, "PRAGMA foreign_keys") == 1);
    CHECK(t_sql_int(s->db, "PRAGMA synchronous") == 1); /* NORMAL */
    CHECK(t_sql_int(s->db, "PRAGMA busy_timeout") >= 1000);
    CHECK(t_sql_int(s->db, "SELECT version FROM schema_version") == tg_sq_migrations_count);
    /* WAL is a property of the file: a second connection sees it too. */
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1);
    CHECK(t_file_sql_int(path, "SELECT count(*) FROM pragma_journal_mode "
                               "WHERE journal_mode = 'wal'") == 1);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    tg_store_close(s);
    tg_store_close(NULL);
}

static void
test_open_bad_args(void)
{
    struct tg_store *s = (struct tg_store *)1;
    char path[300];

    CHECK_ERR(tg_store_open_sqlite(NULL, &s), TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_store_open_sqlite("", &s), TG_ERR_INVALID_ARG);
    snprintf(path, sizeof(path), "%s/no/such/dir/x.db", t_dir);
    CHECK_ERR(tg_store_open_sqlite(path, &s), TG_ERR_STORE);
    CHECK(s == NULL);
}

static void
test_agent_roundtrip(void)
{
    struct tg_store *s = open_fresh("agent_roundtrip");
    struct tg_agent a, b, got;
    const void *raw;
    sqlite3_stmt *st = NULL;

    t_agent_full(&a, "agent-full");
    t_agent_min(&b, "agent-min");
    CHECK_OK(tg_store_agent_insert(s, &a));
    CHECK_OK(tg_store_agent_insert(s, &b));

    CHECK_OK(tg_store_agent_get(s, "agent-full", &got));
    CHECK(t_agent_eq(&a, &got));
    tg_agent_reset(&got);

    CHECK_OK(tg_store_agent_get(s, "agent-min", &got));
    CHECK(t_agent_eq(&b, &got));
    CHECK(got.tenant == NULL && got.jwks == NULL && got.spiffe_id == NULL && !got.has_secret);
    CHECK(got.introspect == 0);
    tg_agent_reset(&got);
    CHECK(t_sql_int(s->db, "SELECT introspect FROM agents WHERE id = 'agent-full'") == 1);

    /* A put changes introspect both ways. */
    b.introspect = 1;
    CHECK_OK(tg_store_agent_put(s, &b));
    CHECK_OK(tg_store_agent_get(s, "agent-min", &got));
    CHECK(got.introspect == 1);
    tg_agent_reset(&got);
    b.introspect = 0;
    CHECK_OK(tg_store_agent_put(s, &b));
    CHECK_OK(tg_store_agent_get(s, "agent-min", &got));
    CHECK(got.introspect == 0);
    tg_agent_reset(&got);
    /* Only 0 or 1, refused before the schema; the schema's CHECK too. */
    b.introspect = 2;
    CHECK_ERR(tg_store_agent_put(s, &b), TG_ERR_INVALID_ARG);
    b.introspect = 0;
    CHECK(sqlite3_exec(s->db, "UPDATE agents SET introspect = 2 WHERE id = 'agent-min'", NULL,
                       NULL, NULL) != SQLITE_OK);

    CHECK_OK(tg_store_agent_find_spiffe(s, a.spiffe_id, &got));
    CHECK(t_agent_eq(&a, &got));
    tg_agent_reset(&got);

    /* The store keeps exactly the MAC the caller gave, as a 32-byte BLOB. */
    CHECK(sqlite3_prepare_v2(s->db, "SELECT secret_mac FROM agents WHERE id = 'agent-full'", -1,
                             &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_type(st, 0) == SQLITE_BLOB);
    raw = sqlite3_column_blob(st, 0);
    CHECK(sqlite3_column_bytes(st, 0) == TG_SECRET_MAC_LEN && raw != NULL &&
          memcmp(raw, a.secret_mac, TG_SECRET_MAC_LEN) == 0);
    sqlite3_finalize(st);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM agents WHERE id = 'agent-min' "
                           "AND secret_mac IS NULL") == 1);

    tg_agent_reset(&a);
    tg_agent_reset(&b);
    tg_store_close(s);
}

static void
test_agent_conflict_and_invalid(void)
{
    struct tg_store *s = open_fresh("agent_conflict");
    struct tg_agent a, other, got;

    t_agent_full(&a, "dup");
    CHECK_OK(tg_store_agent_insert(s, &a));
    free(a.owner);
    a.owner = t_strdup("someone-else");
    CHECK_ERR(tg_store_agent_insert(s, &a), TG_ERR_CONFLICT);
    CHECK_OK(tg_store_agent_get(s, "dup", &got));
    CHECK(t_streq(got.owner, "owner-of-dup")); /* untouched by the failed insert */
    tg_agent_reset(&got);

    /* A SPIFFE ID names one agent. */
    t_agent_full(&other, "other");
    free(other.spiffe_id);
    other.spiffe_id = t_strdup(a.spiffe_id);
    CHECK_ERR(tg_store_agent_insert(s, &other), TG_ERR_CONFLICT);
    CHECK_ERR(tg_store_agent_put(s, &other), TG_ERR_CONFLICT);
    CHECK_ERR(tg_store_agent_get(s, "other", &got), TG_ERR_NOT_FOUND);

    /* Refused before or by the schema: no id, enums out of range, no owner,
     * negative lifetime. */
    free(other.spiffe_id);
    other.spiffe_id = NULL;
    CHECK_ERR(tg_store_agent_insert(s, NULL), TG_ERR_INVALID_ARG);
    other.type = (enum tg_agent_type)0;
    CHECK_ERR(tg_store_agent_insert(s, &other), TG_ERR_INVALID_ARG);
    other.type = TG_AGENT_BROWSING;
    other.pop = (enum tg_pop)(TG_POP_BEARER + 1);
    CHECK_ERR(tg_store_agent_put(s, &other), TG_ERR_INVALID_ARG);
    other.pop = TG_POP_DPOP;
    other.max_token_lifetime = -1;
    CHECK_ERR(tg_store_agent_insert(s, &other), TG_ERR_INVALID_ARG);
    other.max_token_lifetime = 0;
    free(other.owner);
    other.owner = NULL;
    CHECK_ERR(tg_store_agent_insert(s, &other), TG_ERR_INVALID_ARG);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM agents") == 1);
    other.owner = t_strdup("x");
    CHECK_OK(tg_store_agent_insert(s, &other));

    tg_agent_reset(&a);
    tg_agent_reset(&other);
    tg_store_close(s);
}

static void
test_agent_not_found(void)
{
    struct tg_store *s = open_fresh("agent_not_found");
    struct tg_agent got;
    uint8_t mac[TG_SECRET_MAC_LEN] = {1};

    memset(&got, 0xAA, sizeof(got));
    CHECK_ERR(tg_store_agent_get(s, "ghost", &got), TG_ERR_NOT_FOUND);
    CHECK(got.id == NULL && got.owner == NULL); /* zeroed: safe to reset */
    tg_agent_reset(&got);
    CHECK_ERR(tg_store_agent_find_spiffe(s, "spiffe://x/ghost", &got), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_store_agent_set_status(s, "ghost", TG_AGENT_DISABLED, 5), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_store_agent_set_secret(s, "ghost", mac), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_store_agent_delete(s, "ghost"), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_store_agent_get(s, NULL, &got), TG_ERR_INVALID_ARG);
    tg_store_close(s);
}

static void
test_agent_list(void)
{
    struct tg_store *s = open_fresh("agent_list");
    static const char *ids[] = {"m-agent", "a-agent", "z-agent"};
    struct tg_agent a[3], *list = NULL;
    size_t n = 99;
    int i;

    CHECK_OK(tg_store_agent_list(s, &list, &n));
    CHECK(n == 0 && list == NULL);
    for (i = 0; i < 3; i++) {
        t_agent_full(&a[i], ids[i]);
        a[i].type = (enum tg_agent_type)(TG_AGENT_INTERNAL + i);
        CHECK_OK(tg_store_agent_insert(s, &a[i]));
    }
    CHECK_OK(tg_store_agent_list(s, &list, &n));
    CHECK(n == 3);
    if (n == 3) {
        CHECK(t_agent_eq(&list[0], &a[1])); /* ordered by id */
        CHECK(t_agent_eq(&list[1], &a[0]));
        CHECK(t_agent_eq(&list[2], &a[2]));
    }
    tg_store_agent_list_free(list, n);
    tg_store_agent_list_free(NULL, 0);
    for (i = 0; i < 3; i++)
        tg_agent_reset(&a[i]);
    tg_store_close(s);
}

static void
test_agent_put_upsert(void)
{
    struct tg_store *s = open_fresh("agent_put");
    struct tg_agent a, got;
    uint8_t mac[TG_SECRET_MAC_LEN];

    t_agent_full(&a, "up");
    a.tokens_not_before = 500;
    CHECK_OK(tg_store_agent_put(s, &a)); /* creates */
    CHECK_OK(tg_store_agent_get(s, "up", &got));
    CHECK(t_agent_eq(&a, &got));
    tg_agent_reset(&got);

    /* An update from a policy file: new owner and pop, no secret, its own
     * created_at and a tokens_not_before of 0. */
    free(a.owner);
    a.owner = t_strdup("new-owner");
    a.pop = TG_POP_ANY;
    a.has_secret = 0;
    memset(a.secret_mac, 0, sizeof(a.secret_mac));
    a.created_at = 1;
    a.tokens_not_before = 0;
    a.updated_at = 1800000000;
    free(a.jwks);
    a.jwks = NULL;
    CHECK_OK(tg_store_agent_put(s, &a));
    CHECK_OK(tg_store_agent_get(s, "up", &got));
    CHECK(t_streq(got.owner, "new-owner") && got.pop == TG_POP_ANY && got.jwks == NULL);
    CHECK(got.updated_at == 1800000000);
    CHECK(got.created_at == 1700000000);  /* kept */
    CHECK(got.tokens_not_before == 500);  /* never lowered */
    CHECK(got.has_secret && got.secret_mac[0] == (uint8_t)(0xA0 + 'u')); /* kept */
    tg_agent_reset(&got);

    /* A put that disables moves tokens_not_before up to updated_at. */
    a.status = TG_AGENT_DISABLED;
    a.updated_at = 1800000500;
    CHECK_OK(tg_store_agent_put(s, &a));
    CHECK_OK(tg_store_agent_get(s, "up", &got));
    CHECK(got.status == TG_AGENT_DISABLED && got.tokens_not_before == 1800000500);
    tg_agent_reset(&got);

    /* set_secret replaces the MAC; NULL clears it. */
    memset(mac, 0x5A, sizeof(mac));
    CHECK_OK(tg_store_agent_set_secret(s, "up", mac));
    CHECK_OK(tg_store_agent_get(s, "up", &got));
    CHECK(got.has_secret && memcmp(got.secret_mac, mac, sizeof(mac)) == 0);
    tg_agent_reset(&got);
    CHECK_OK(tg_store_agent_set_secret(s, "up", NULL));
    CHECK_OK(tg_store_agent_get(s, "up", &got));
    CHECK(!got.has_secret);
    tg_agent_reset(&got);

    tg_agent_reset(&a);
    tg_store_close(s);
}

static void
test_disable_enable(void)
{
    struct tg_store *s = open_fresh("disable");
    struct tg_agent a, got;

    t_agent_min(&a, "d");
    CHECK_OK(tg_store_agent_insert(s, &a));

    CHECK_OK(tg_store_agent_set_status(s, "d", TG_AGENT_DISABLED, 1000));
    CHECK_OK(tg_store_agent_get(s, "d", &got));
    CHECK(got.status == TG_AGENT_DISABLED);
    CHECK(got.tokens_not_before == 1000);
    CHECK(got.updated_at == 1000);
    tg_agent_reset(&got);

    /* Enabling keeps tokens_not_before: tokens from before the disable stay dead. */
    CHECK_OK(tg_store_agent_set_status(s, "d", TG_AGENT_ACTIVE, 2000));
    CHECK_OK(tg_store_agent_get(s, "d", &got));
    CHECK(got.status == TG_AGENT_ACTIVE);
    CHECK(got.tokens_not_before == 1000);
    CHECK(got.updated_at == 2000);
    tg_agent_reset(&got);

    CHECK_OK(tg_store_agent_set_status(s, "d", TG_AGENT_DISABLED, 3000));
    CHECK_OK(tg_store_agent_get(s, "d", &got));
    CHECK(got.status == TG_AGENT_DISABLED && got.tokens_not_before == 3000);
    tg_agent_reset(&got);

    CHECK_ERR(tg_store_agent_set_status(s, "d", (enum tg_agent_status)0, 4000),
              TG_ERR_INVALID_ARG);
    CHECK_ERR(tg_store_agent_set_status(s, "d", (enum tg_agent_status)3, 4000),
              TG_ERR_INVALID_ARG);
    tg_agent_reset(&a);
    tg_store_close(s);
}

static void
test_tools(void)
{
    struct tg_store *s = open_fresh("tools");
    struct tg_tool big, small, bare, got, *list = NULL;
    size_t n = 0;
    char *saved;

    t_tool_make(&big, "big", 12); /* more than 10: order is numeric, not text */
    t_tool_make(&small, "small", 2);
    t_tool_make(&bare, "bare", 0);
    free(bare.upstream);
    free(bare.kind);
    bare.upstream = bare.kind = NULL;
    CHECK_OK(tg_store_tool_put(s, &small));
    CHECK_OK(tg_store_tool_put(s, &big));
    CHECK_OK(tg_store_tool_put(s, &bare));

    CHECK_OK(tg_store_tool_get(s, "big", &got));
    CHECK(t_tool_eq(&big, &got));
    tg_tool_reset(&got);
    CHECK_OK(tg_store_tool_get(s, "bare", &got));
    CHECK(t_tool_eq(&bare, &got) && got.endpoints == NULL && got.upstream == NULL);
    tg_tool_reset(&got);
    CHECK_OK(tg_store_tool_find_resource(s, "https://tools.example/small", &got));
    CHECK(t_tool_eq(&small, &got));
    tg_tool_reset(&got);
    CHECK_ERR(tg_store_tool_find_resource(s, "https://tools.example/none", &got), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_store_tool_get(s, "none", &got), TG_ERR_NOT_FOUND);

    CHECK_OK(tg_store_tool_list(s, &list, &n));
    CHECK(n == 3);
    if (n == 3) {
        CHECK(t_tool_eq(&list[0], &bare));
        CHECK(t_tool_eq(&list[1], &big));
        CHECK(t_tool_eq(&list[2], &small));
    }
    tg_store_tool_list_free(list, n);

    /* put replaces: fewer endpoints, new upstream. */
    tg_tool_reset(&big);
    t_tool_make(&big, "big", 3);
    free(big.upstream);
    big.upstream = t_strdup("http://elsewhere");
    CHECK_OK(tg_store_tool_put(s, &big));
    CHECK_OK(tg_store_tool_get(s, "big", &got));
    CHECK(t_tool_eq(&big, &got));
    tg_tool_reset(&got);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM tool_endpoints WHERE tool_id = 'big'") == 3);

    /* Another tool may not claim a resource in use. */
    free(bare.resource);
    bare.resource = t_strdup(big.resource);
    CHECK_ERR(tg_store_tool_put(s, &bare), TG_ERR_CONFLICT);

    /* A put that fails half-way (the third endpoint has no path) changes
     * nothing: the old endpoints are all still there. */
    tg_tool_reset(&small);
    t_tool_make(&small, "big", 5);
    saved = small.endpoints[2].path;
    small.endpoints[2].path = NULL;
    CHECK_ERR(tg_store_tool_put(s, &small), TG_ERR_INVALID_ARG);
    small.endpoints[2].path = saved;
    CHECK_OK(tg_store_tool_get(s, "big", &got));
    CHECK(t_tool_eq(&big, &got));
    tg_tool_reset(&got);

    /* Enumerations out of range are refused. */
    small.endpoints[0].action = (enum tg_action)0;
    CHECK_ERR(tg_store_tool_put(s, &small), TG_ERR_INVALID_ARG);
    small.endpoints[0].action = TG_ACTION_READ;
    small.endpoints[1].risk = (enum tg_risk)(TG_RISK_HIGH + 1);
    CHECK_ERR(tg_store_tool_put(s, &small), TG_ERR_INVALID_ARG);

    CHECK_OK(tg_store_tool_delete(s, "big"));
    CHECK_ERR(tg_store_tool_get(s, "big", &got), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_store_tool_delete(s, "big"), TG_ERR_NOT_FOUND);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM tool_endpoints WHERE tool_id = 'big'") == 0);

    tg_tool_reset(&big);
    tg_tool_reset(&small);
    tg_tool_reset(&bare);
    tg_store_close(s);
}

/* Two agents, two tools. */
static void
seed_inventory(struct tg_store *s)
{
    struct tg_agent a;
    struct tg_tool t;

    t_agent_min(&a, "a1");
    CHECK_OK(tg_store_agent_insert(s, &a));
    tg_agent_reset(&a);
    t_agent_min(&a, "a2");
    CHECK_OK(tg_store_agent_insert(s, &a));
    tg_agent_reset(&a);
    t_tool_make(&t, "t1", 2);
    CHECK_OK(tg_store_tool_put(s, &t));
    tg_tool_reset(&t);
    t_tool_make(&t, "t2", 1);
    CHECK_OK(tg_store_tool_put(s, &t));
    tg_tool_reset(&t);
}

static void
test_grants(void)
{
    static const char *const eps1[] = {"GET /items", "POST /items", "GET /items/{id}", NULL};
    static const char *const eps2[] = {"DELETE /items/{id}", NULL};
    struct tg_store *s = open_fresh("grants");
    struct tg_grant g11, g12, g21, bad, *list = NULL;
    struct tg_tool t;
    size_t n = 0;

    seed_inventory(s);
    t_grant_make(&g11, "a1", "t1", RW, eps1);
    t_grant_make(&g12, "a1", "t2", TG_ACTION_BIT(TG_ACTION_READ), NULL);
    t_grant_make(&g21, "a2", "t1", ADMIN, eps2);
    CHECK_OK(tg_store_grant_put(s, &g12));
    CHECK_OK(tg_store_grant_put(s, &g21));
    CHECK_OK(tg_store_grant_put(s, &g11));

    CHECK_OK(tg_store_grant_list(s, "a1", &list, &n));
    CHECK(n == 2);
    if (n == 2) {
        CHECK(t_grant_eq(&list[0], &g11));
        CHECK(t_grant_eq(&list[1], &g12) && list[1].endpoints == NULL);
    }
    tg_store_grant_list_free(list, n);

    CHECK_OK(tg_store_grant_list(s, NULL, &list, &n));
    CHECK(n == 3);
    if (n == 3)
        CHECK(t_grant_eq(&list[0], &g11) && t_grant_eq(&list[1], &g12) &&
              t_grant_eq(&list[2], &g21));
    tg_store_grant_list_free(list, n);

    CHECK_OK(tg_store_grant_list(s, "nobody", &list, &n));
    CHECK(n == 0 && list == NULL);

    /* put replaces actions and endpoints. */
    tg_grant_reset(&g11);
    t_grant_make(&g11, "a1", "t1", ADMIN, eps2);
    CHECK_OK(tg_store_grant_put(s, &g11));
    CHECK_OK(tg_store_grant_list(s, "a1", &list, &n));
    CHECK(n == 2 && t_grant_eq(&list[0], &g11));
    tg_store_grant_list_free(list, n);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM grant_endpoints WHERE agent_id = 'a1'") == 1);

    /* A tool put keeps the tool's grants (no delete-and-reinsert). */
    t_tool_make(&t, "t1", 4);
    CHECK_OK(tg_store_tool_put(s, &t));
    tg_tool_reset(&t);
    CHECK_OK(tg_store_grant_list(s, "a2", &list, &n));
    CHECK(n == 1 && t_grant_eq(&list[0], &g21));
    tg_store_grant_list_free(list, n);

    /* Missing agent or tool, unknown action bits, NULL endpoint. */
    t_grant_make(&bad, "ghost", "t1", RW, NULL);
    CHECK_ERR(tg_store_grant_put(s, &bad), TG_ERR_NOT_FOUND);
    tg_grant_reset(&bad);
    t_grant_make(&bad, "a2", "ghost", RW, NULL);
    CHECK_ERR(tg_store_grant_put(s, &bad), TG_ERR_NOT_FOUND);
    tg_grant_reset(&bad);
    t_grant_make(&bad, "a2", "t2", RW | 1u, NULL);
    CHECK_ERR(tg_store_grant_put(s, &bad), TG_ERR_INVALID_ARG);
    bad.actions = RW | TG_ACTION_BIT(TG_ACTION_ADMIN + 1);
    CHECK_ERR(tg_store_grant_put(s, &bad), TG_ERR_INVALID_ARG);
    tg_grant_reset(&bad);
    t_grant_make(&bad, "a2", "t2", RW, eps1);
    free(bad.endpoints[1]);
    bad.endpoints[1] = NULL;
    CHECK_ERR(tg_store_grant_put(s, &bad), TG_ERR_INVALID_ARG);
    tg_grant_reset(&bad);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM grants") == 3);

    CHECK_OK(tg_store_grant_delete(s, "a1", "t2"));
    CHECK_ERR(tg_store_grant_delete(s, "a1", "t2"), TG_ERR_NOT_FOUND);
    CHECK_OK(tg_store_grant_list(s, "a1", &list, &n));
    CHECK(n == 1);
    tg_store_grant_list_free(list, n);

    tg_grant_reset(&g11);
    tg_grant_reset(&g12);
    tg_grant_reset(&g21);
    tg_store_close(s);
}

static void
test_cascades(void)
{
    static const char *const eps[] = {"GET /items", "POST /items", NULL};
    struct tg_store *s = open_fresh("cascades");
    struct tg_grant g, *list = NULL;
    size_t n = 0;

    seed_inventory(s);
    t_grant_make(&g, "a1", "t1", RW, eps);
    CHECK_OK(tg_store_grant_put(s, &g));
    tg_grant_reset(&g);
    t_grant_make(&g, "a1", "t2", RW, eps);
    CHECK_OK(tg_store_grant_put(s, &g));
    tg_grant_reset(&g);
    t_grant_make(&g, "a2", "t1", RW, eps);
    CHECK_OK(tg_store_grant_put(s, &g));
    tg_grant_reset(&g);
    t_grant_make(&g, "a2", "t2", RW, eps);
    CHECK_OK(tg_store_grant_put(s, &g));
    tg_grant_reset(&g);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM grant_endpoints") == 8);

    /* Deleting an agent deletes its grants and their endpoint lists. */
    CHECK_OK(tg_store_agent_delete(s, "a1"));
    CHECK_OK(tg_store_grant_list(s, "a1", &list, &n));
    CHECK(n == 0);
    tg_store_grant_list_free(list, n);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM grants") == 2);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM grant_endpoints") == 4);

    /* Deleting a tool deletes its grants. */
    CHECK_OK(tg_store_tool_delete(s, "t1"));
    CHECK_OK(tg_store_grant_list(s, NULL, &list, &n));
    CHECK(n == 1);
    if (n == 1)
        CHECK(t_streq(list[0].agent_id, "a2") && t_streq(list[0].tool_id, "t2"));
    tg_store_grant_list_free(list, n);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM grant_endpoints") == 2);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM tool_endpoints WHERE tool_id = 't1'") == 0);
    tg_store_close(s);
}

static void
test_signing_keys(void)
{
    struct tg_store *s = open_fresh("keys");
    struct tg_signing_key_row k1, k2, k3, *list = NULL;
    size_t n = 0;

    key_make(&k1, "k1", TG_KEYSTATE_NEXT, 100);
    key_make(&k2, "k2", TG_KEYSTATE_CURRENT, 50);
    key_make(&k3, "k3", TG_KEYSTATE_RETIRED, 10);
    CHECK_OK(tg_store_key_put(s, &k1));
    CHECK_OK(tg_store_key_put(s, &k2));
    CHECK_OK(tg_store_key_put(s, &k3));

    CHECK_OK(tg_store_key_list(s, &list, &n)); /* not retired, oldest first */
    CHECK(n == 2);
    if (n == 2)
        CHECK(key_eq(&list[0], &k2) && key_eq(&list[1], &k1));
    tg_store_key_list_free(list, n);

    /* One CURRENT key at a time. */
    CHECK_ERR(tg_store_key_set_state(s, "k1", TG_KEYSTATE_CURRENT, 200), TG_ERR_CONFLICT);
    k1.state = TG_KEYSTATE_CURRENT;
    CHECK_ERR(tg_store_key_put(s, &k1), TG_ERR_CONFLICT);
    k1.state = TG_KEYSTATE_NEXT;

    /* Rotation in one transaction. */
    CHECK_OK(tg_store_begin(s));
    CHECK_OK(tg_store_key_set_state(s, "k2", TG_KEYSTATE_RETIRING, 200));
    CHECK_OK(tg_store_key_set_state(s, "k1", TG_KEYSTATE_CURRENT, 200));
    CHECK_OK(tg_store_commit(s));
    CHECK_OK(tg_store_key_list(s, &list, &n));
    CHECK(n == 2);
    if (n == 2) {
        CHECK(t_streq(list[0].kid, "k2") && list[0].state == TG_KEYSTATE_RETIRING &&
              list[0].retired_at == 200 && list[0].activated_at == 51);
        CHECK(t_streq(list[1].kid, "k1") && list[1].state == TG_KEYSTATE_CURRENT &&
              list[1].activated_at == 200 && list[1].retired_at == 0);
    }
    tg_store_key_list_free(list, n);

    /* RETIRED keeps the RETIRING stamp and drops out of the list. */
    CHECK_OK(tg_store_key_set_state(s, "k2", TG_KEYSTATE_RETIRED, 300));
    CHECK(t_sql_int(s->db, "SELECT retired_at FROM signing_keys WHERE kid = 'k2'") == 200);
    CHECK_OK(tg_store_key_list(s, &list, &n));
    CHECK(n == 1 && t_streq(list[0].kid, "k1"));
    tg_store_key_list_free(list, n);

    /* put updates in place. */
    free(k1.public_jwk);
    k1.public_jwk = t_strdup("{\"kty\":\"EC\",\"kid\":\"k1\",\"new\":1}");
    k1.state = TG_KEYSTATE_CURRENT;
    k1.activated_at = 200;
    CHECK_OK(tg_store_key_put(s, &k1));
    CHECK_OK(tg_store_key_list(s, &list, &n));
    CHECK(n == 1 && key_eq(&list[0], &k1));
    tg_store_key_list_free(list, n);

    CHECK_ERR(tg_store_key_set_state(s, "ghost", TG_KEYSTATE_RETIRED, 1), TG_ERR_NOT_FOUND);
    CHECK_ERR(tg_store_key_set_state(s, "k1", (enum tg_key_state)0, 1), TG_ERR_INVALID_ARG);
    k3.state = (enum tg_key_state)9;
    CHECK_ERR(tg_store_key_put(s, &k3), TG_ERR_INVALID_ARG);

    tg_signing_key_row_reset(&k1);
    tg_signing_key_row_reset(&k2);
    tg_signing_key_row_reset(&k3);
    CHECK(k1.kid == NULL && k1.sealed == NULL);
    tg_store_close(s);
}

static void
test_revocations(void)
{
    struct tg_store *s = open_fresh("revocations");

    CHECK(tg_store_is_revoked(s, "j1") == 0);
    CHECK_OK(tg_store_revoke(s, "j1", 100));
    CHECK_OK(tg_store_revoke(s, "j2", 200));
    CHECK(tg_store_is_revoked(s, "j1") == 1);
    CHECK(tg_store_is_revoked(s, "j2") == 1);
    CHECK(tg_store_is_revoked(s, "j3") == 0);

    /* Revoking again never shortens the stay. */
    CHECK_OK(tg_store_revoke(s, "j2", 120));
    CHECK_OK(tg_store_purge_expired(s, 150));
    CHECK(tg_store_is_revoked(s, "j1") == 0);
    CHECK(tg_store_is_revoked(s, "j2") == 1);
    /* Kept through exp itself, gone after. */
    CHECK_OK(tg_store_purge_expired(s, 200));
    CHECK(tg_store_is_revoked(s, "j2") == 1);
    CHECK_OK(tg_store_purge_expired(s, 201));
    CHECK(tg_store_is_revoked(s, "j2") == 0);

    CHECK(tg_store_is_revoked(s, NULL) < 0);
    CHECK(tg_store_is_revoked(NULL, "j1") < 0);
    CHECK_ERR(tg_store_revoke(s, NULL, 1), TG_ERR_INVALID_ARG);

    /* A storage error answers "don't know" (negative), never "not revoked". */
    CHECK_OK(tg_store_revoke(s, "j4", 999));
    CHECK(sqlite3_exec(s->db, "DROP TABLE revocations", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(tg_store_is_revoked(s, "j4") < 0);
    CHECK(tg_store_is_revoked(s, "j5") < 0);
    CHECK_ERR(tg_store_revoke(s, "j6", 1), TG_ERR_STORE);
    CHECK_ERR(tg_store_purge_expired(s, 1), TG_ERR_STORE);
    tg_store_close(s);
}

static void
test_blobs(void)
{
    struct tg_store *s = open_fresh("blobs");
    static const uint8_t v1[] = {0x00, 0x01, 0x02, 0x00, 0xFF};
    static const uint8_t v2[] = {0x10, 0x00, 0x20};
    uint8_t *p = NULL, *big;
    size_t len = 0;

    CHECK_ERR(tg_store_blob_get(s, "hmac-key", &p, &len), TG_ERR_NOT_FOUND);
    CHECK(p == NULL && len == 0);
    CHECK_OK(tg_store_blob_put(s, "hmac-key", v1, sizeof(v1)));
    CHECK_OK(tg_store_blob_get(s, "hmac-key", &p, &len));
    CHECK(len == sizeof(v1) && p != NULL && memcmp(p, v1, len) == 0);
    free(p);

    CHECK_OK(tg_store_blob_put(s, "hmac-key", v2, sizeof(v2))); /* overwrite, shorter */
    CHECK_OK(tg_store_blob_get(s, "hmac-key", &p, &len));
    CHECK(len == sizeof(v2) && p != NULL && memcmp(p, v2, len) == 0);
    free(p);
    CHECK(t_sql_int(s->db, "SELECT count(*) FROM blobs") == 1);

    CHECK_OK(tg_store_blob_put(s, "empty", NULL, 0));
    p = NULL;
    len = 7;
    CHECK_OK(tg_store_blob_get(s, "empty", &p, &len));
    CHECK(len == 0 && p != NULL); /* present and empty, not absent */
    free(p);

    big = calloc(1, TG_STORE_BLOB_MAX + 1);
    CHECK(big != NULL);
    CHECK_ERR(tg_store_blob_put(s, "big", big, TG_STORE_BLOB_MAX + 1), TG_ERR_TOO_LARGE);
    CHECK_OK(tg_store_blob_put(s, "big", big, TG_STORE_BLOB_MAX));
    CHECK_OK(tg_store_blob_get(s, "big", &p, &len));
    CHECK(len == TG_STORE_BLOB_MAX);
    free(p);
    free(big);
    CHECK_ERR(tg_store_blob_put(s, "x", NULL, 3), TG_ERR_INVALID_ARG);
    tg_store_close(s);
}

int
main(void)
{
    /* The negative tests make the store log warnings on purpose. */
    tg_log_set_level(TG_LOG_ERROR);
    t_dir_make();
    RUN(test_open_pragmas);
    RUN(test_open_bad_args);
    RUN(test_agent_roundtrip);
    RUN(test_agent_conflict_and_invalid);
    RUN(test_agent_not_found);
    RUN(test_agent_list);
    RUN(test_agent_put_upsert);
    RUN(test_disable_enable);
    RUN(test_tools);
    RUN(test_grants);
    RUN(test_cascades);
    RUN(test_signing_keys);
    RUN(test_revocations);
    RUN(test_blobs);
    t_dir_remove();
    return t_report("store/sqlite");
}
