/* The audit interface: one structured event per decision, as one JSON line.
 * Every line carries a sequence number and the SHA-256 of the previous line
 * ("prev"), so a later `audit verify` can detect removal or edits. Events
 * hold ids and fingerprints only: never a secret, never a whole token. */
#ifndef TG_AUDIT_AUDIT_H
#define TG_AUDIT_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "http/http.h"

struct tg_audit_event {
    const char *event;    /* "token.issued", "token.refused", "introspect", "revoke",
                             "agent.add", "agent.disable", "policy.apply", "keys.rotate", ... */
    const char *decision; /* "allow", "deny", or NULL for administrative events */
    /* who */
    const char *agent_id, *agent_type, *owner, *tenant;
    const char *auth_method;   /* how the agent authenticated */
    const char *key_thumbprint; /* DPoP jkt or certificate x5t#S256 */
    const char *peer;          /* network peer address */
    const char *actor;         /* for administrative events: the local user/CLI */
    /* what */
    const char *grant_type, *resource, *scope, *tool, *action, *method, *path;
    /* why */
    const char *error;  /* RFC error code when denied */
    const char *reason; /* client-safe explanation */
    const char *jti;    /* token id */
    int status;         /* HTTP status, 0 when none */
    const json_t *details; /* extra structured data (borrowed), may be NULL */
    const char *details_json; /* or the same already serialised (preferred when set) */
};

struct tg_audit;

/* Open (append) the log at `path`, picking up the chain from its last line. */
enum tg_err tg_audit_open(const char *path, struct tg_audit **out) TG_MUST_CHECK;
/* Record one event; thread-safe. A failure is reported: callers on an
 * authorization path deny when the decision cannot be recorded. On a thread
 * that defers (below) the line is formatted and chained now and written by
 * the next tg_audit_sync; elsewhere it is written before this returns. */
enum tg_err tg_audit_emit(struct tg_audit *a, const struct tg_audit_event *ev) TG_MUST_CHECK;

/* Group commit, for the HTTP workers (http.h, struct tg_http_barrier): a
 * worker's events of one loop turn go out in one write(2), and no answer
 * leaves before the lines of its decision are written.
 *   tg_audit_defer_thread  this thread's events wait for a tg_audit_sync
 *                          (or for 64 KiB of lines to gather)
 *   tg_audit_mark          a mark of every event recorded so far: take it
 *                          before deciding a request
 *   tg_audit_sync          write what waits (anyone's); 0 when no line
 *                          recorded after `since` has been lost, -1 when
 *                          some was (a write failed): the answer must not
 *                          go out. Conservative: a line lost for another
 *                          request in the same window refuses this one too.
 * A lost line is never written later: the chain goes back to the last line
 * written, so the file stays a valid chain. */
void tg_audit_defer_thread(const struct tg_audit *a);
uint64_t tg_audit_mark(struct tg_audit *a);
int tg_audit_sync(struct tg_audit *a, uint64_t since);
/* The three above as the HTTP server's barrier (http.h); a NULL log: no
 * barrier. */
void tg_audit_http_barrier(struct tg_audit *a, struct tg_http_barrier *out);
/* Writes what waits, then closes. */
void tg_audit_close(struct tg_audit *a);

#endif
