/* An immutable in-memory copy of the inventory (agents, tools, grants),
 * reloaded when the store's version changes (any commit, from this process
 * or another: `tollgate agent disable` is seen on the very next request)
 * and swapped atomically; readers hold a reference for one request. Saves
 * SQLite queries and the store's global lock on every token request and
 * every gateway decision. Writes through this process's store handle are
 * seen at once; other processes' (the CLI) within 10 ms. */
#ifndef TG_STORE_SNAPSHOT_H
#define TG_STORE_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

#include "policy/model.h"
#include "store/store.h"

struct tg_snapshot {
    atomic_uint refs;
    uint64_t version;
    struct tg_agent *agents; /* sorted by id */
    size_t n_agents;
    struct tg_tool *tools;
    size_t n_tools;
    struct tg_grant *grants; /* sorted by agent id */
    size_t n_grants;
    char **revoked;          /* revoked jtis, sorted */
    size_t n_revoked;
};

struct tg_snapshots;
struct tg_snapshots *tg_snapshots_new(struct tg_store *store);
void tg_snapshots_free(struct tg_snapshots *s);
/* The current snapshot (a new reference), reloading first when the store
 * changed. TG_ERR_STORE when it cannot be read: callers deny. */
enum tg_err tg_snapshot_get(struct tg_snapshots *s, struct tg_snapshot **out) TG_MUST_CHECK;
void tg_snapshot_release(struct tg_snapshot *snap);

const struct tg_agent *tg_snapshot_agent(const struct tg_snapshot *snap, const char *id);
/* 1 when the jti is revoked. */
int tg_snapshot_is_revoked(const struct tg_snapshot *snap, const char *jti);
/* The live-token question every token check asks: not revoked, agent known,
 * active, and the token issued after the agent was last disabled. */
int tg_snapshot_token_active(const struct tg_snapshot *snap, const char *jti,
                             const char *client_id, int64_t iat);
/* The grants of one agent: a contiguous run of the sorted array. */
const struct tg_grant *tg_snapshot_grants(const struct tg_snapshot *snap, const char *agent_id,
                                          size_t *n);

#endif
