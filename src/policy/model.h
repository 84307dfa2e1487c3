/* The inventory: agents, tools (with endpoints and action classes) and
 * grants. Plain data, owned strings; every struct has a _reset that frees
 * what it owns. Parsing and printing of the enums live in model.c. */
#ifndef TG_POLICY_MODEL_H
#define TG_POLICY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

enum tg_agent_type { TG_AGENT_INTERNAL = 1, TG_AGENT_TENANT, TG_AGENT_BROWSING };
enum tg_agent_status { TG_AGENT_ACTIVE = 1, TG_AGENT_DISABLED };

/* RFC 7591 token_endpoint_auth_method names, plus SPIFFE. An agent
 * registered for client_secret_basic may also use client_secret_post. */
enum tg_auth_method {
    TG_AUTH_CLIENT_SECRET_BASIC = 1,
    TG_AUTH_CLIENT_SECRET_POST,
    TG_AUTH_PRIVATE_KEY_JWT,
    TG_AUTH_TLS_CLIENT_AUTH,
    TG_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH,
    TG_AUTH_SPIFFE_X509, /* X.509-SVID over mTLS */
    TG_AUTH_SPIFFE_JWT,  /* JWT-SVID as client assertion or jwt-bearer grant */
};

/* The proof of possession an agent's tokens must carry. */
enum tg_pop {
    TG_POP_DPOP = 1, /* RFC 9449 */
    TG_POP_MTLS,     /* RFC 8705 */
    TG_POP_ANY,      /* either DPoP or mTLS, never bearer */
    TG_POP_BEARER,   /* refused for browsing agents */
};

enum tg_action { TG_ACTION_READ = 1, TG_ACTION_WRITE, TG_ACTION_ADMIN };
#define TG_ACTION_BIT(a) (1u << (unsigned)(a))
enum tg_risk { TG_RISK_NORMAL = 1, TG_RISK_HIGH };

#define TG_SECRET_MAC_LEN 32

struct tg_agent {
    char *id;     /* the OAuth client_id */
    enum tg_agent_type type;
    char *owner;  /* required */
    char *tenant; /* required for tenant agents; may be NULL otherwise */
    enum tg_agent_status status;
    enum tg_auth_method auth_method;
    enum tg_pop pop;
    int64_t max_token_lifetime; /* seconds; 0 = the server default */
    /* 1: may introspect any token of this issuer (a resource server, RFC 7662
     * §4); 0 (the default): only tokens issued to itself. Always 0 or 1. */
    int introspect;
    /* Authentication material, by method: */
    uint8_t secret_mac[TG_SECRET_MAC_LEN]; /* HMAC-SHA256 of the client secret */
    int has_secret;
    char *jwks;           /* private_key_jwt: JWKS JSON text */
    char *tls_subject_dn; /* tls_client_auth: RFC 4514 string, or */
    char *tls_san_dns;    /*   a DNS SAN, or */
    char *tls_san_uri;    /*   a URI SAN (a SPIFFE ID is one) */
    char *cert_x5t;       /* self_signed_tls_client_auth: x5t#S256 of the registered cert */
    char *spiffe_id;      /* SPIFFE methods: spiffe://trust-domain/path */
    int64_t tokens_not_before; /* tokens issued before this are inactive (disable) */
    int64_t created_at, updated_at;
};

struct tg_endpoint {
    char *method;   /* "GET", ... or "*"; "MCP" in the table of a tool of kind mcp */
    char *path;     /* template: "/items/{id}", "*" segments; for "MCP": an MCP tool
                     * name or pattern ("search_*") */
    enum tg_action action;
    enum tg_risk risk;
};

struct tg_tool {
    char *id;
    char *resource; /* RFC 8707 resource URI; the aud of its tokens */
    char *upstream; /* where the gateway forwards, may be NULL */
    char *kind;     /* "http" (default), "mcp", or "mcp+content_digest" (an MCP server
                     * whose DPoP proofs must carry content_digest) */
    struct tg_endpoint *endpoints;
    size_t n_endpoints;
};

struct tg_grant {
    char *agent_id;
    char *tool_id;
    unsigned actions;  /* TG_ACTION_BIT set */
    char **endpoints;  /* optional: "METHOD /path/template" entries this grant names */
    size_t n_endpoints;
};

/* The endpoint method of MCP tool entries ("MCP search_*" in grants and tokens). */
#define TG_ENDPOINT_METHOD_MCP "MCP"
#define TG_TOOL_KIND_MCP "mcp"
#define TG_TOOL_KIND_MCP_DIGEST "mcp+content_digest"
/* 1 when the tool is an MCP server (kind mcp or mcp+content_digest). */
int tg_tool_is_mcp(const struct tg_tool *t);
/* 1 when the tool's DPoP proofs must carry content_digest (MCP ext-auth
 * DPoP profile): kind mcp+content_digest. */
int tg_tool_requires_content_digest(const struct tg_tool *t);

void tg_agent_reset(struct tg_agent *a);
void tg_tool_reset(struct tg_tool *t);
void tg_grant_reset(struct tg_grant *g);
/* Deep copies (for caches and snapshots). */
enum tg_err tg_agent_copy(const struct tg_agent *src, struct tg_agent *dst) TG_MUST_CHECK;
enum tg_err tg_tool_copy(const struct tg_tool *src, struct tg_tool *dst) TG_MUST_CHECK;
enum tg_err tg_grant_copy(const struct tg_grant *src, struct tg_grant *dst) TG_MUST_CHECK;

/* Names as they appear in the policy file, the CLI and tokens. */
const char *tg_agent_type_name(enum tg_agent_type t);
enum tg_err tg_agent_type_parse(const char *s, enum tg_agent_type *out) TG_MUST_CHECK;
const char *tg_agent_status_name(enum tg_agent_status s);
enum tg_err tg_agent_status_parse(const char *s, enum tg_agent_status *out) TG_MUST_CHECK;
const char *tg_auth_method_name(enum tg_auth_method m);
enum tg_err tg_auth_method_parse(const char *s, enum tg_auth_method *out) TG_MUST_CHECK;
const char *tg_pop_name(enum tg_pop p);
enum tg_err tg_pop_parse(const char *s, enum tg_pop *out) TG_MUST_CHECK;
const char *tg_action_name(enum tg_action a);
enum tg_err tg_action_parse(const char *s, enum tg_action *out) TG_MUST_CHECK;
const char *tg_risk_name(enum tg_risk r);
enum tg_err tg_risk_parse(const char *s, enum tg_risk *out) TG_MUST_CHECK;

/* Invariants of a single record (ids well-formed, tenant agents have a
 * tenant, browsing agents are never bearer, method material present...). */
enum tg_err tg_agent_validate(const struct tg_agent *a) TG_MUST_CHECK;
enum tg_err tg_tool_validate(const struct tg_tool *t) TG_MUST_CHECK;
enum tg_err tg_grant_validate(const struct tg_grant *g) TG_MUST_CHECK;

/* The same checks, with a human message (for the CLI and the policy file's
 * error report; never holds a secret) written to `why` on failure. */
enum tg_err tg_agent_validate_msg(const struct tg_agent *a, char *why,
                                  size_t why_len) TG_MUST_CHECK;
enum tg_err tg_tool_validate_msg(const struct tg_tool *t, char *why,
                                 size_t why_len) TG_MUST_CHECK;
enum tg_err tg_grant_validate_msg(const struct tg_grant *g, char *why,
                                  size_t why_len) TG_MUST_CHECK;

/* Limits a valid record stays within. */
#define TG_POLICY_ID_MAX 128          /* agent, tool and tenant ids */
#define TG_POLICY_OWNER_MAX 256
#define TG_POLICY_URI_MAX 2048
#define TG_POLICY_PATH_MAX 1024       /* an endpoint path template */
#define TG_POLICY_MAX_ENDPOINTS 256   /* per tool, and per grant */
#define TG_POLICY_MAX_LIFETIME 86400  /* max_token_lifetime, seconds */
#define TG_POLICY_JWKS_MAX 65536      /* private_key_jwt JWKS text */
#define TG_POLICY_JWKS_MAX_KEYS 16

/* Syntax of the names the records hold (syntax.c). All take slices, as some
 * come straight from a request; 1 = valid. */
/* 1..128 bytes of [A-Za-z0-9._:-]. */
int tg_policy_id_valid(struct tg_slice s);
/* spiffe://trust-domain/path: lowercase [a-z0-9._-] trust domain, non-empty
 * path segments of [A-Za-z0-9._-] other than "." and "..", nothing else. */
int tg_spiffe_id_valid(struct tg_slice s);
/* An absolute URI (RFC 3986 §4.3) without a fragment (RFC 8707 §2). */
int tg_uri_absolute_valid(struct tg_slice s);
/* The same, and its scheme is "http" or "https" (lowercase), with a host and
 * no userinfo. */
int tg_uri_http_valid(struct tg_slice s);
/* GET POST PUT PATCH DELETE HEAD OPTIONS, or "*". */
int tg_endpoint_method_valid(struct tg_slice s);
/* "/" or "/seg/seg..." where each segment is non-empty and is a literal
 * (RFC 3986 pchar without "%", "*", "{", "}"; not "." or ".."), "{name}"
 * (name: [A-Za-z0-9_]{1,64}) or "*". */
int tg_endpoint_path_valid(struct tg_slice s);
/* MCP tool names (MCP 2025-11-25, "Tool names"): 1..128 bytes of
 * [A-Za-z0-9_.-]. A name outside that set matches no entry (deny). */
int tg_mcp_tool_name_valid(struct tg_slice s);
/* The same, where "*" may also appear (any run of characters, possibly
 * empty): "search_*", "*", "notes.*.read". */
int tg_mcp_tool_pattern_valid(struct tg_slice s);
/* "METHOD /path": the way grants, requests and tokens name an endpoint of a
 * tool's table; "MCP <name or pattern>" names an MCP tool entry. Splits on
 * the one space; TG_ERR_INVALID_ARG when malformed. */
enum tg_err tg_endpoint_ref_split(struct tg_slice ref, struct tg_slice *method,
                                  struct tg_slice *path) TG_MUST_CHECK;
/* 1 when `ref` names `e` exactly ("DELETE /items/{id}"). */
int tg_endpoint_ref_eq(const struct tg_endpoint *e, struct tg_slice ref);

#endif
