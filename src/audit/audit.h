/* The audit interface: one structured event per decision, as one JSON line.
 * Every line carries a sequence number and the SHA-256 of the previous line
 * ("prev"), so a later `audit verify` can detect removal or edits. Events
 * hold ids and fingerprints only: never a secret, never a whole token. */
#ifndef TG_AUDIT_AUDIT_H
#define TG_AUDIT_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

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
/* Write one event; thread-safe. A failure to write is reported: callers on
 * an authorization path deny when the decision cannot be recorded. */
enum tg_err tg_audit_emit(struct tg_audit *a, const struct tg_audit_event *ev) TG_MUST_CHECK;
void tg_audit_close(struct tg_audit *a);

#endif
