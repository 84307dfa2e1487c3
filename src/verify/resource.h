/* The resource-side decision, shared by the gateway, /check and libtollgate:
 * is this request, with this access token and proof of possession, allowed
 * to call this endpoint of this tool? Pure: keys, revocation state, the
 * replay cache and time are injected. RFC 9068 (JWT access tokens), RFC 6750
 * §3 and RFC 9449 §7 (challenges), RFC 8705 §3 (certificate binding), RFC
 * 9396 (authorization_details of type "tool"), RFC 8707 (audience). The
 * rules, in order, and every refusal's status and challenge are in
 * docs/verify.md. */
#ifndef TG_VERIFY_RESOURCE_H
#define TG_VERIFY_RESOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "jose/jwk.h"
#include "policy/model.h"
#include "verify/dpop.h"

/* Longest resource_metadata URL the challenges carry (longer: the decision
 * denies with 500, a configuration error). */
#define TG_RS_MAX_METADATA_URL 1024

/* Finds the issuer's published key by kid (a new reference in out):
 * TG_ERR_NOT_FOUND when unknown (the caller may refetch the JWKS once); any
 * other error means the keys are unavailable (the decision answers 503). */
struct tg_rs_keys {
    enum tg_err (*find)(void *arg, const char *kid, struct tg_jwk *out);
    void *arg;
};

/* Live state the token alone cannot tell: revoked jti, disabled agent.
 * Returns 1 active, 0 inactive, negative on error (the decision denies:
 * 401 invalid_token when inactive, 503 temporarily_unavailable on error).
 * Consulted on every request, cache hit or not.
 * NULL: no such state (libtollgate without introspection). */
struct tg_rs_state {
    int (*active)(void *arg, const char *jti, const char *client_id, int64_t iat);
    void *arg;
};

/* Verified tokens by SHA-256 of the token text: bounded (CLOCK eviction,
 * expired entries first), thread-safe (one lock, never held across a
 * signature check), entries live until the token's exp. It holds only what
 * the decision needs from the verified claims, never the token itself. One
 * cache per issuer configuration (the entries were verified against its
 * keys and issuer). */
struct tg_token_cache;
struct tg_token_cache_stats {
    uint64_t hits, misses, inserts, evictions, expired;
    size_t size, capacity;
};
/* NULL when capacity is 0, above 2^24, or out of memory. */
struct tg_token_cache *tg_token_cache_new(size_t capacity);
void tg_token_cache_free(struct tg_token_cache *c);
void tg_token_cache_stats(struct tg_token_cache *c, struct tg_token_cache_stats *out);
/* Forget every entry (the issuer's keys changed). */
void tg_token_cache_clear(struct tg_token_cache *c);

struct tg_rs_config {
    const char *issuer;             /* expected iss */
    struct tg_rs_keys keys;         /* required */
    struct tg_rs_state state;       /* optional */
    struct tg_token_cache *cache;   /* optional: a DPoP request then costs one signature check */
    struct tg_dpop_config dpop;     /* algs, window, replay (required), nonces, clock */
    const struct tg_clock *clock;   /* NULL: system */
    int64_t skew;                   /* leeway on exp/nbf, seconds */
    const char *resource_metadata;  /* URL for the challenges' resource_metadata (RFC 9728 §5.1), or NULL */
    /* MCP ext-auth DPoP profile: DPoP proofs must carry content_digest (a
     * proof that carries one is always checked against the body). Applies
     * to DPoP-bound requests only. A gateway with tools that differ copies
     * the config per tool. */
    int require_content_digest;
};

struct tg_rs_request {
    const char *method;             /* "GET" */
    const char *path;               /* the path within the tool, raw ("/items/42") */
    const char *url;                /* the full request URL as the client used it (htu) */
    const char *const *authorization; /* every Authorization header value */
    size_t n_authorization;
    const char *const *dpop;        /* every DPoP header value */
    size_t n_dpop;
    struct tg_slice client_cert;    /* DER of the TLS client certificate, or empty */
    struct tg_slice body;           /* for a content_digest in the proof, may be empty */
};

/* The identity a tool may trust, copied out of the verified token. A token
 * whose identity claims do not fit is refused (never truncated). */
struct tg_rs_identity {
    char sub[129], client_id[129], tenant[129], owner[257], agent_type[16];
    char jti[129];
    char scope[1024];   /* the token's scope tokens that name this tool ("demo:read demo:write") */
    char binding[16];   /* "dpop", "mtls" or "bearer" */
    char action[8];     /* the endpoint's action class */
    char endpoint[8 + TG_POLICY_PATH_MAX + 8]; /* "METHOD /template" of the matched endpoint */
    int64_t exp;
};

struct tg_rs_decision {
    enum tg_err err;          /* TG_OK: allow */
    int status;               /* 200, 400, 401, 403; 503 (replay cache full, state or keys
                               * unavailable); 500 (configuration or memory) */
    const char *error;        /* RFC error code or NULL (no credentials at all: RFC 6750 §3.1) */
    const char *description;  /* client-safe, static */
    char www_authenticate[4096]; /* the challenge(s) to send with 400/401/403, or empty */
    char scope_needed[256];   /* for insufficient_scope: "tool:action" */
    int need_nonce;           /* send a fresh DPoP-Nonce */
    struct tg_rs_identity id; /* filled as far as the token was verified */
    /* Additions: */
    int unknown_kid;          /* the token names a key the issuer's JWKS lacks: refetch it */
    int retry_after;          /* seconds, with 503 (Retry-After) */
    int cache_hit;            /* the token's verification came from the cache */
};

/* Decide. Never fails open: any internal error denies. The same as
 * tg_rs_authenticate, then the endpoint of (method, path) in the tool's
 * table, then its authorization. */
void tg_rs_decide(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                  const struct tg_rs_request *req, struct tg_rs_decision *out);

/* --- Authenticate once, authorize many (MCP: one request names MCP tools,
 * and a tools/list answer is filtered per tool) --- */

struct tg_rs_token;
/* A verified token for one request: zero-initialise; tg_rs_auth_reset
 * releases it. */
struct tg_rs_auth {
    struct tg_rs_token *tok; /* a reference; NULL when not authenticated */
    unsigned scheme;         /* the scheme the client used (for challenges) */
};
void tg_rs_auth_reset(struct tg_rs_auth *a);

/* Steps 1-3 of tg_rs_decide (credentials, token, audience, live state,
 * binding, proof, content_digest), no endpoint. On allow out->err is TG_OK,
 * out->id holds the identity (no action or endpoint) and auth the token;
 * on a refusal auth is empty and out is the refusal to send. req->path is
 * not read but must be set. */
void tg_rs_authenticate(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                        const struct tg_rs_request *req, struct tg_rs_auth *auth,
                        struct tg_rs_decision *out);
/* Steps 4-5 for the MCP tool `name` (params.name of a tools/call) of an MCP
 * server `tool` whose table holds "MCP" entries (tg_mcp_tool_match). `out`
 * is the decision tg_rs_authenticate filled: it becomes an allow with
 * id.action and id.endpoint ("MCP search_*"), or 403 insufficient_scope:
 * with scope="<tool>:<action>" when the entry exists but the token does not
 * allow it, without a scope when no entry names `name` (or it is not a
 * valid name). High-risk entries need a detail naming them and a
 * sender-constrained token, as endpoints do. */
void tg_rs_authorize_mcp_tool(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                              const struct tg_rs_auth *auth, const char *name,
                              struct tg_rs_decision *out);
/* Every other MCP message (initialize, notifications, tools/list, ping,
 * resources, prompts, responses; GET and DELETE): some detail of the token
 * names this tool (any action). Else 403 insufficient_scope,
 * scope="<tool>:read". */
void tg_rs_authorize_mcp_any(const struct tg_rs_config *cfg, const struct tg_tool *tool,
                             const struct tg_rs_auth *auth, struct tg_rs_decision *out);
/* 1 when tg_rs_authorize_mcp_tool would allow `name` (tools/list filter). */
int tg_rs_mcp_tool_allowed(const struct tg_tool *tool, const struct tg_rs_auth *auth,
                           const char *name);

/* A JWKS (RFC 7517 §5) as an immutable key set for tg_rs_keys: public
 * signing keys with a kid (keys of other uses or types are skipped; a
 * private member, a duplicate kid, or no usable key at all is an error).
 * For a gateway-only process pointed at an issuer's JWKS, and libtollgate. */
#define TG_RS_KEYSET_MAX_KEYS 64
struct tg_rs_keyset;
enum tg_err tg_rs_keyset_parse(const char *json, size_t len,
                               struct tg_rs_keyset **out) TG_MUST_CHECK;
void tg_rs_keyset_free(struct tg_rs_keyset *ks);
size_t tg_rs_keyset_count(const struct tg_rs_keyset *ks);
/* Fits tg_rs_keys.find with arg = the key set. */
enum tg_err tg_rs_keyset_find(void *ks, const char *kid, struct tg_jwk *out) TG_MUST_CHECK;

/* A small in-memory replay set for tg_dpop_config.replay when there is no
 * store (libtollgate): at most `max_entries` live entries; expired ones are
 * reclaimed when it is full; full of live ones, it refuses
 * (TG_ERR_CACHE_FULL) rather than forget. Thread-safe. Keys are kept as
 * keyed hashes. */
struct tg_replay_mem;
struct tg_replay_mem *tg_replay_mem_new(size_t max_entries);
void tg_replay_mem_free(struct tg_replay_mem *r);
/* Fits tg_replay.insert_once with arg = the set. */
enum tg_err tg_replay_mem_insert_once(void *r, const void *key, size_t key_len,
                                      int64_t expires_at, int64_t now);

#endif
