/* Durable state behind one interface: agents, tools, grants, signing keys,
 * revocations and small named blobs. SQLite (WAL, in the data directory) in
 * this issue, PostgreSQL later: callers never see SQL. All functions are
 * thread-safe. Getters fill caller-owned structs (release with the model's
 * _reset); lists return malloc'd arrays (free with the _list_free helpers). */
#ifndef TG_STORE_STORE_H
#define TG_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "policy/model.h"

struct tg_store;

/* Open (creating when new, mode 0600) and migrate to the latest schema
 * version. A database written by a newer Tollgate (higher schema version)
 * is refused with TG_ERR_STORE and left untouched. */
enum tg_err tg_store_open_sqlite(const char *path, struct tg_store **out) TG_MUST_CHECK;
void tg_store_close(struct tg_store *s);
int tg_store_schema_version(struct tg_store *s);

/* Transactions (for `apply`): nested calls are not supported. A
 * transaction belongs to the thread that began it; other threads' calls wait
 * until it ends. A failed write inside it undoes only itself; commit fails
 * (and rolls everything back) when SQLite already had to roll back. */
enum tg_err tg_store_begin(struct tg_store *s) TG_MUST_CHECK;
enum tg_err tg_store_commit(struct tg_store *s) TG_MUST_CHECK;
void tg_store_rollback(struct tg_store *s);

/* Agents. insert: TG_ERR_CONFLICT when the id (or the SPIFFE ID) exists.
 * put: insert or update; an update keeps created_at, keeps the stored secret
 * when `a` has none (has_secret == 0), and never lowers tokens_not_before
 * (it rises to updated_at when the update disables the agent). Getters
 * overwrite *out (zeroed on failure). */
enum tg_err tg_store_agent_insert(struct tg_store *s, const struct tg_agent *a) TG_MUST_CHECK;
enum tg_err tg_store_agent_put(struct tg_store *s, const struct tg_agent *a) TG_MUST_CHECK;
enum tg_err tg_store_agent_get(struct tg_store *s, const char *id,
                               struct tg_agent *out) TG_MUST_CHECK; /* TG_ERR_NOT_FOUND */
enum tg_err tg_store_agent_find_spiffe(struct tg_store *s, const char *spiffe_id,
                                       struct tg_agent *out) TG_MUST_CHECK;
enum tg_err tg_store_agent_list(struct tg_store *s, struct tg_agent **out,
                                size_t *n) TG_MUST_CHECK;
void tg_store_agent_list_free(struct tg_agent *list, size_t n);
/* Disabling sets tokens_not_before = now, so every live token dies at once. */
enum tg_err tg_store_agent_set_status(struct tg_store *s, const char *id,
                                      enum tg_agent_status st, int64_t now) TG_MUST_CHECK;
/* mac NULL clears the secret. */
enum tg_err tg_store_agent_set_secret(struct tg_store *s, const char *id,
                                      const uint8_t mac[TG_SECRET_MAC_LEN]) TG_MUST_CHECK;
enum tg_err tg_store_agent_delete(struct tg_store *s, const char *id) TG_MUST_CHECK;

/* Tools (with their endpoints, in order). put replaces the endpoints and
 * keeps the tool's grants. TG_ERR_CONFLICT when another tool has the
 * resource. Deleting an agent or a tool deletes its grants. */
enum tg_err tg_store_tool_put(struct tg_store *s, const struct tg_tool *t) TG_MUST_CHECK;
enum tg_err tg_store_tool_get(struct tg_store *s, const char *id,
                              struct tg_tool *out) TG_MUST_CHECK;
enum tg_err tg_store_tool_find_resource(struct tg_store *s, const char *resource,
                                        struct tg_tool *out) TG_MUST_CHECK;
enum tg_err tg_store_tool_list(struct tg_store *s, struct tg_tool **out, size_t *n) TG_MUST_CHECK;
void tg_store_tool_list_free(struct tg_tool *list, size_t n);
enum tg_err tg_store_tool_delete(struct tg_store *s, const char *id) TG_MUST_CHECK;

/* Grants: one per (agent, tool); put replaces. TG_ERR_NOT_FOUND when the
 * agent or the tool does not exist. */
enum tg_err tg_store_grant_put(struct tg_store *s, const struct tg_grant *g) TG_MUST_CHECK;
enum tg_err tg_store_grant_list(struct tg_store *s, const char *agent_id /* NULL: all */,
                                struct tg_grant **out, size_t *n) TG_MUST_CHECK;
void tg_store_grant_list_free(struct tg_grant *list, size_t n);
enum tg_err tg_store_grant_delete(struct tg_store *s, const char *agent_id,
                                  const char *tool_id) TG_MUST_CHECK;

/* Signing keys: the private key is sealed by the caller (AEAD under the
 * master key) before it reaches the store. */
enum tg_key_state { TG_KEYSTATE_NEXT = 1, TG_KEYSTATE_CURRENT, TG_KEYSTATE_RETIRING,
                    TG_KEYSTATE_RETIRED };
struct tg_signing_key_row {
    char *kid;
    char *alg;
    enum tg_key_state state;
    uint8_t *sealed; /* sealed private JWK */
    size_t sealed_len;
    char *public_jwk;
    int64_t created_at, activated_at, retired_at;
};
void tg_signing_key_row_reset(struct tg_signing_key_row *k);
/* At most one key is CURRENT: putting or promoting a second one fails with
 * TG_ERR_CONFLICT (demote the old key first, in one transaction).
 * set_state stamps activated_at (CURRENT) or retired_at (RETIRING; RETIRED
 * keeps the RETIRING stamp). */
enum tg_err tg_store_key_put(struct tg_store *s, const struct tg_signing_key_row *k) TG_MUST_CHECK;
enum tg_err tg_store_key_list(struct tg_store *s, struct tg_signing_key_row **out,
                              size_t *n) TG_MUST_CHECK; /* all but retired, oldest first */
void tg_store_key_list_free(struct tg_signing_key_row *list, size_t n);
enum tg_err tg_store_key_set_state(struct tg_store *s, const char *kid, enum tg_key_state st,
                                   int64_t now) TG_MUST_CHECK;

/* Revoked token ids, kept until the token would have expired anyway.
 * purge_expired deletes entries with exp < now: pass now minus the
 * verifiers' clock-skew leeway. */
enum tg_err tg_store_revoke(struct tg_store *s, const char *jti, int64_t exp) TG_MUST_CHECK;
/* 1 revoked, 0 not; negative on storage error (callers fail closed). */
int tg_store_is_revoked(struct tg_store *s, const char *jti);
enum tg_err tg_store_purge_expired(struct tg_store *s, int64_t now) TG_MUST_CHECK;

/* A number that changes whenever anything in the store may have changed:
 * a commit by another connection or process (SQLite's data_version) or a
 * write through this handle. 0 on error (callers then reload). Cheap: for
 * in-memory snapshots that must not miss a `tollgate agent disable`. */
uint64_t tg_store_version(struct tg_store *s);
/* Changes made through this handle so far (no store lock; SQLite's own
 * mutex): lets a snapshot see this process's writes at once. */
uint64_t tg_store_local_changes(struct tg_store *s);
/* A stamp of the write-ahead log that changes when any process commits: the
 * wal-index header's change counter read from the mapped "-shm" file (no
 * syscall, no lock), or else the WAL file's size, time and inode (one
 * stat(2)). 0 when unknown. */
uint64_t tg_store_wal_stamp(struct tg_store *s);
/* Every revoked jti still stored (for in-memory snapshots). */
enum tg_err tg_store_revocation_list(struct tg_store *s, char ***jtis, size_t *n) TG_MUST_CHECK;
void tg_store_revocation_list_free(char **jtis, size_t n);

/* Small named blobs (e.g. the sealed HMAC key for client secrets), at most
 * TG_STORE_BLOB_MAX bytes (TG_ERR_TOO_LARGE). put overwrites. get returns a
 * malloc'd copy (never NULL on success, even when empty). */
#define TG_STORE_BLOB_MAX (1024 * 1024)
enum tg_err tg_store_blob_put(struct tg_store *s, const char *name, const uint8_t *p,
                              size_t len) TG_MUST_CHECK;
enum tg_err tg_store_blob_get(struct tg_store *s, const char *name, uint8_t **p,
                              size_t *len) TG_MUST_CHECK; /* TG_ERR_NOT_FOUND */

#endif
