/* An immutable in-memory copy of the inventory (agents, tools, grants),
 * reloaded when the store's version changes (any commit, from this process
 * or another: `tollgate agent disable` is seen on the very next request)
 * and swapped atomically; readers hold a reference for one request. Saves
 * three SQLite queries and a global lock per token request. */
#ifndef TG_OAUTH_SNAPSHOT_H
#define TG_OAUTH_SNAPSHOT_H

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
};

struct tg_snapshots;
struct tg_snapshots *tg_snapshots_new(struct tg_store *store);
void tg_snapshots_free(struct tg_snapshots *s);
/* The current snapshot (a new reference), reloading first when the store
 * changed. TG_ERR_STORE when it cannot be read: callers deny. */
enum tg_err tg_snapshot_get(struct tg_snapshots *s, struct tg_snapshot **out) TG_MUST_CHECK;
void tg_snapshot_release(struct tg_snapshot *snap);

const struct tg_agent *tg_snapshot_agent(const struct tg_snapshot *snap, const char *id);
/* The grants of one agent: a contiguous run of the sorted array. */
const struct tg_grant *tg_snapshot_grants(const struct tg_snapshot *snap, const char *agent_id,
                                          size_t *n);

#endif
