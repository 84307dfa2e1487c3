/* The token-request decision: what an agent may have in its token. Pure: the
 * request's parameters, the agent, its grants and the tools in; granted
 * RFC 9396 authorization_details, a scope string and an audience out.
 * The rules (deny by default; refuse, never trim; high-risk endpoints need a
 * grant naming them and a sender-constrained token) are in docs/policy.md. */
#ifndef TG_POLICY_AUTHZ_H
#define TG_POLICY_AUTHZ_H

#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "policy/model.h"

#define TG_AUTHZ_MAX_SCOPE 4096          /* bytes of the scope parameter */
#define TG_AUTHZ_MAX_DETAILS_JSON 65536  /* bytes of authorization_details */
#define TG_AUTHZ_MAX_DETAILS 64          /* details, scope tokens included */
#define TG_AUTHZ_MAX_RESOURCES 16
#define TG_AUTHZ_MAX_LIST 64             /* endpoints or locations in one detail */

/* Where a requested detail came from: it decides the error of a refusal. */
enum tg_authz_origin {
    TG_AUTHZ_FROM_SCOPE = 1,   /* refusals: invalid_scope */
    TG_AUTHZ_FROM_DETAILS,     /* refusals: invalid_authorization_details */
};

/* One detail of type "tool" (RFC 9396 §2). In a request: what was asked. In
 * a result: what is granted; `endpoints` NULL means every normal-risk
 * endpoint of the tool with one of `actions` (high-risk endpoints are only
 * ever reachable by being listed), and `locations` is the tool's resource. */
struct tg_authz_detail {
    char *tool;
    unsigned actions; /* TG_ACTION_BIT set */
    char **endpoints; /* "METHOD /path" entries of the tool's table */
    size_t n_endpoints;
    char **locations;
    size_t n_locations;
    enum tg_authz_origin origin; /* request only */
};

struct tg_authz_request {
    struct tg_authz_detail *details; /* scope tokens first, then authorization_details */
    size_t n_details;
    char **resources; /* RFC 8707 resource values, deduplicated */
    size_t n_resources;
};

/* Parse the request's parameters. A slice with p == NULL is an absent
 * parameter; an empty one is treated as absent too (RFC 6749 §3.1).
 *   scope (RFC 6749 §3.3): "<tool>:<action>" tokens separated by single
 *     spaces; the tool part is everything before the last ':'. Anything
 *     else: TG_ERR_OAUTH_INVALID_SCOPE.
 *   authorization_details (RFC 9396 §2): a non-empty JSON array of objects
 *     {"type":"tool", "tool", "actions", ["endpoints"], ["locations"]}; an
 *     unknown type or member, a wrong type, a missing member or a bad value:
 *     TG_ERR_OAUTH_INVALID_AUTHZ_DETAILS (RFC 9396 §5). When endpoints are
 *     given, actions must be exactly their actions (checked by the decision,
 *     which knows the table).
 *   resource (RFC 8707 §2): each an absolute URI without a fragment, else
 *     TG_ERR_OAUTH_INVALID_TARGET.
 * `why` (may be NULL) gets a client-safe error_description on failure. */
enum tg_err tg_authz_request_parse(struct tg_slice scope, struct tg_slice authorization_details,
                                   const struct tg_slice *resources, size_t n_resources,
                                   struct tg_authz_request *out,
                                   const char **why) TG_MUST_CHECK;
void tg_authz_request_reset(struct tg_authz_request *r);

struct tg_authz_context {
    const struct tg_agent *agent;
    const struct tg_grant *grants; /* grants of other agents are ignored */
    size_t n_grants;
    const struct tg_tool *tools; /* the known tools */
    size_t n_tools;
    int sender_constrained; /* the token will carry cnf (DPoP jkt or mTLS x5t#S256) */
};

struct tg_authz_result {
    struct tg_authz_detail *details; /* by tool id; at most two per tool */
    size_t n_details;
    char *scope;      /* "tool:action" tokens of the result, sorted, deduplicated */
    char **audience;  /* the granted tools' resources, sorted */
    size_t n_audience;
    json_t *authorization_details; /* RFC 9396 §9 / RFC 9068: ready for the JWT */
};

/* Decide. Errors (with a client-safe description in `why`):
 *   TG_ERR_OAUTH_INVALID_TARGET  a resource that is no tool's; a resource
 *                                and an explicit request that disagree;
 *   TG_ERR_OAUTH_INVALID_SCOPE   asked via scope for more than granted; a
 *                                known resource with no grant; nothing
 *                                granted at all; a high-risk endpoint or
 *                                action without a sender-constrained token;
 *   TG_ERR_OAUTH_INVALID_AUTHZ_DETAILS  asked via authorization_details for
 *                                more than granted, or inconsistently;
 *   TG_ERR_OAUTH_INVALID_CLIENT  the agent is disabled;
 *   TG_ERR_OAUTH_INVALID_REQUEST the agent's tokens must be
 *                                sender-constrained and this one would not be.
 * On success the caller releases `out` with tg_authz_result_reset. */
enum tg_err tg_authz_decide(const struct tg_authz_context *ctx,
                            const struct tg_authz_request *req, struct tg_authz_result *out,
                            const char **why) TG_MUST_CHECK;
void tg_authz_result_reset(struct tg_authz_result *r);

/* The JSON array of details, as carried in a token or an introspection
 * response: {"type":"tool","tool":...,"actions":[...],"endpoints":[...],
 * "locations":[...]} (endpoints only when restricted). */
enum tg_err tg_authz_details_json(const struct tg_authz_detail *d, size_t n,
                                  json_t **out) TG_MUST_CHECK;

void tg_authz_detail_reset(struct tg_authz_detail *d);

#endif
