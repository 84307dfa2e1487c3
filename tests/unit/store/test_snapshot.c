#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#include "store/snapshot.h"

static char dir[] = "/tmp/tg-snap-XXXXXX";
static char path[256];

static struct tg_agent
agent(const char *id)
{
    struct tg_agent a;

    memset(&a, 0, sizeof(a));
    a.id = (char *)id;
    a.type = TG_AGENT_INTERNAL;
    a.owner = "o@example.com";
    a.status = TG_AGENT_ACTIVE;
    a.auth_method = TG_AUTH_CLIENT_SECRET_BASIC;
    a.pop = TG_POP_DPOP;
    return a;
}


static void
test_snapshot(void)
{
    struct tg_store *s1 = NULL, *s2 = NULL;
    struct tg_snapshots *snaps;
    struct tg_snapshot *a = NULL, *b = NULL;
    struct tg_agent x = agent("bot-x"), y = agent("bot-y");

    CHECK_OK(tg_store_open_sqlite(path, &s1));
    CHECK_OK(tg_store_open_sqlite(path, &s2)); /* another process, in effect */
    if (s1 == NULL || s2 == NULL)
        return;
    CHECK_OK(tg_store_agent_insert(s1, &x));
    snaps = tg_snapshots_new(s1);
    CHECK_OK(tg_snapshot_get(snaps, &a));
    CHECK(a != NULL && tg_snapshot_agent(a, "bot-x") != NULL && tg_snapshot_agent(a, "nope") == NULL);
    CHECK(tg_snapshot_token_active(a, "j1", "bot-x", 100));
    CHECK(!tg_snapshot_token_active(a, "j1", "nope", 100));
    /* A write through the same handle is seen at once. */
    CHECK_OK(tg_store_revoke(s1, "j1", 9999999999LL));
    CHECK_OK(tg_snapshot_get(snaps, &b));
    CHECK(b != a && tg_snapshot_is_revoked(b, "j1") && !tg_snapshot_is_revoked(b, "j2"));
    CHECK(!tg_snapshot_token_active(b, "j1", "bot-x", 100));
    tg_snapshot_release(b);
    /* The old snapshot is still valid for whoever holds it. */
    CHECK(!tg_snapshot_is_revoked(a, "j1"));
    tg_snapshot_release(a);
    /* Another handle's writes are seen within the check interval. */
    CHECK_OK(tg_store_agent_insert(s2, &y));
    CHECK_OK(tg_store_agent_set_status(s2, "bot-x", TG_AGENT_DISABLED, 500));
    /* no sleep: another handle's commit is noticed at once (WAL stamp) */
    CHECK_OK(tg_snapshot_get(snaps, &a));
    CHECK(tg_snapshot_agent(a, "bot-y") != NULL);
    CHECK(!tg_snapshot_token_active(a, "j2", "bot-x", 100)); /* disabled */
    CHECK_OK(tg_store_agent_set_status(s2, "bot-x", TG_AGENT_ACTIVE, 600));
    tg_snapshot_release(a);
    CHECK_OK(tg_snapshot_get(snaps, &a));
    /* Re-enabled, but tokens from before the disable stay dead. */
    CHECK(!tg_snapshot_token_active(a, "j3", "bot-x", 500));
    CHECK(tg_snapshot_token_active(a, "j3", "bot-x", 501));
    tg_snapshot_release(a);
    tg_snapshots_free(snaps);
    tg_store_close(s2);
    tg_store_close(s1);
}

/* A commit by a real other process changes the WAL stamp (the mapped
 * wal-index header) and is seen by the next snapshot without waiting. */
static void
test_other_process(void)
{
    struct tg_store *s1 = NULL;
    struct tg_snapshots *snaps;
    struct tg_snapshot *a = NULL;
    uint64_t before, after;
    pid_t pid;
    int st = 0;

    CHECK_OK(tg_store_open_sqlite(path, &s1));
    if (s1 == NULL)
        return;
    snaps = tg_snapshots_new(s1);
    CHECK_OK(tg_snapshot_get(snaps, &a));
    CHECK(a != NULL && tg_snapshot_agent(a, "bot-z") == NULL);
    tg_snapshot_release(a);
    before = tg_store_wal_stamp(s1);
    CHECK(before != 0);
    CHECK(tg_store_wal_stamp(s1) == before); /* stable while nothing changes */
    pid = fork();
    if (pid == 0) {
        struct tg_store *c = NULL;
        struct tg_agent z = agent("bot-z");

        _exit(tg_store_open_sqlite(path, &c) == TG_OK && tg_store_agent_insert(c, &z) == TG_OK
                  ? 0
                  : 1);
    }
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    after = tg_store_wal_stamp(s1);
    CHECK(after != 0 && after != before);
    CHECK_OK(tg_snapshot_get(snaps, &a));
    CHECK(a != NULL && tg_snapshot_agent(a, "bot-z") != NULL);
    tg_snapshot_release(a);
    tg_snapshots_free(snaps);
    tg_store_close(s1);
}

int
main(void)
{
    char cmd[300];

    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/t.db", dir);
    RUN(test_snapshot);
    RUN(test_other_process);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return t_report("store/snapshot");
}
