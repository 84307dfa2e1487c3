/* One MCP request authorized (src/gateway/mcp_authz.c), as the MCP proxy
 * and /check use it: from the body (size cap, JSON-RPC, SEP-2243 header
 * agreement, per message) and from the headers alone (/check without a
 * body), with real tokens verified by tg_rs_authenticate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#include "../jose/keys.h"
#include "gateway/mcp.h"

#define ISS "https://as.example"
#define RES "https://gw.example/tools/notes"

static int64_t now = 1700000000;
static const struct tg_clock clock_ = {tg_clock_fixed_now, &now};
static struct tg_jwk iss_key;
static struct tg_rs_keyset *keyset;
static struct tg_replay_mem *replay;
static struct tg_rs_config cfg;
static struct tg_tool tool;
static struct tg_endpoint eps[3];
static char *tok_read, *tok_admin;
static unsigned jti_counter;

static enum tg_err
find_key(void *arg, const char *kid, struct tg_jwk *out)
{
    return tg_rs_keyset_find(arg, kid, out);
}

/* A bearer token for the MCP server "notes" with these details. */
static char *
token(const char *details)
{
    char jti[32], *payload, *t;
    json_t *c;

    snprintf(jti, sizeof(jti), "at-%u", ++jti_counter);
    c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:o}", "iss", ISS, "sub",
                  "notes-bot", "client_id", "notes-bot", "aud", RES, "iat", (json_int_t)now,
                  "nbf", (json_int_t)now, "exp", (json_int_t)(now + 300), "jti", jti, "scope",
                  "notes:read", "authorization_details", json_loads(details, 0, NULL));
    payload = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    t = t_token(&iss_key, TG_SIG_ECDSA_P256_SHA256,
                "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", payload, 0);
    free(payload);
    return t;
}

struct run {
    struct tg_rs_decision d;
    struct tg_mcp_req m;
    struct tg_mcp_authz z;
};

/* Authenticate `tok`, then tg_mcp_authorize. headers: NULL-terminated
 * "Mcp-Method", value / "Mcp-Name", value pairs. */
static void
ask(struct run *r, const char *tok, const char *method, const char *body, size_t body_len,
    enum tg_mcp_mode mode, const char *const *headers)
{
    struct tg_rs_auth auth = {0};
    struct tg_rs_request rq = {0};
    struct tg_mcp_headers h;
    char authz[4096];
    const char *av[1];
    size_t i;

    memset(r, 0, sizeof(*r));
    memset(&h, 0, sizeof(h));
    for (i = 0; headers != NULL && headers[i] != NULL; i += 2) {
        if (strcmp(headers[i], "Mcp-Method") == 0) {
            if (h.n_methods < TG_MCP_MAX_HEADER_VALUES)
                h.methods[h.n_methods] = headers[i + 1];
            h.n_methods++;
        } else {
            if (h.n_names < TG_MCP_MAX_HEADER_VALUES)
                h.names[h.n_names] = headers[i + 1];
            h.n_names++;
        }
    }
    snprintf(authz, sizeof(authz), "Bearer %s", tok);
    av[0] = authz;
    rq.method = method;
    rq.path = "/mcp";
    rq.url = RES "/mcp";
    rq.authorization = av;
    rq.n_authorization = 1;
    tg_rs_authenticate(&cfg, &tool, &rq, &auth, &r->d);
    tg_mcp_authorize(&cfg, &tool, &auth, method,
                     tg_slice(body != NULL ? body : "", body != NULL ? body_len : 0), &h, mode,
                     &r->m, &r->d, &r->z);
    tg_rs_auth_reset(&auth);
}

static void
ask_body(struct run *r, const char *tok, const char *body, const char *const *headers)
{
    ask(r, tok, "POST", body, strlen(body), TG_MCP_FROM_BODY, headers);
}

static void
ask_headers(struct run *r, const char *tok, const char *const *headers)
{
    ask(r, tok, "POST", NULL, 0, TG_MCP_FROM_HEADERS, headers);
}

static int
denied(const struct run *r, int status, const char *scope)
{
    return r->z.outcome == TG_MCP_DENY && r->d.err != TG_OK && r->d.status == status &&
           r->d.error != NULL && strcmp(r->d.error, "insufficient_scope") == 0 &&
           strcmp(r->d.scope_needed, scope) == 0 && r->z.mcp_tool == NULL;
}

static int
rpc_error(const struct run *r, int status, int code)
{
    return r->z.outcome == TG_MCP_RPC_ERROR && r->z.status == status && r->z.code == code &&
           r->z.message != NULL && r->z.error != NULL;
}

#define CALL(name, id)                                                                    \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"" \
    name "\",\"arguments\":{}}}"

static void
test_body_tools_call(void)
{
    struct run r;

    ask_body(&r, tok_read, CALL("search_notes", 1), NULL);
    CHECK(r.z.outcome == TG_MCP_ALLOW && r.d.err == TG_OK);
    CHECK(r.z.mcp_tool != NULL && strcmp(r.z.mcp_tool, "search_notes") == 0);
    CHECK(strcmp(r.d.id.action, "read") == 0 && strcmp(r.d.id.endpoint, "MCP search_*") == 0);
    tg_mcp_req_reset(&r.m);

    /* A known tool the token does not reach: 403 with the scope to ask for. */
    ask_body(&r, tok_read, CALL("delete_note", 2), NULL);
    CHECK(denied(&r, 403, "notes:admin"));
    tg_mcp_req_reset(&r.m);
    /* No entry names it: 403 without a scope (deny by default). */
    ask_body(&r, tok_read, CALL("frobnicate", 3), NULL);
    CHECK(denied(&r, 403, ""));
    tg_mcp_req_reset(&r.m);
    /* The grant that names it. */
    ask_body(&r, tok_admin, CALL("delete_note", 4), NULL);
    CHECK(r.z.outcome == TG_MCP_ALLOW && strcmp(r.d.id.action, "admin") == 0);
    tg_mcp_req_reset(&r.m);
}

static void
test_body_other_messages_and_batches(void)
{
    struct run r;

    ask_body(&r, tok_read, "{\"jsonrpc\":\"2.0\",\"id\":\"L\",\"method\":\"tools/list\"}", NULL);
    CHECK(r.z.outcome == TG_MCP_ALLOW && r.z.mcp_tool == NULL);
    /* The caller keeps the parsed request (the proxy filters tools/list). */
    CHECK(r.m.n == 1 && tg_mcp_has_tools_list(&r.m));
    tg_mcp_req_reset(&r.m);
    ask_body(&r, tok_read, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", NULL);
    CHECK(r.z.outcome == TG_MCP_ALLOW);
    tg_mcp_req_reset(&r.m);

    /* One refusal refuses the batch. */
    ask_body(&r, tok_read, "[" CALL("search_notes", 1) "," CALL("delete_note", 2) "]", NULL);
    CHECK(denied(&r, 403, "notes:admin"));
    tg_mcp_req_reset(&r.m);
    ask_body(&r, tok_read, "[" CALL("search_notes", 1) "," CALL("search_tags", 2) "]", NULL);
    CHECK(r.z.outcome == TG_MCP_ALLOW && strcmp(r.z.mcp_tool, "search_tags") == 0);
    tg_mcp_req_reset(&r.m);
}

static void
test_body_refusals(void)
{
    static const char *const bad_name[] = {"Mcp-Name", "delete_note", NULL};
    static const char *const good[] = {"Mcp-Method", "tools/call", "Mcp-Name", "search_notes",
                                       NULL};
    static const char *const bad_method[] = {"Mcp-Method", "tools/list", NULL};
    static const char *const five[] = {"Mcp-Method", "tools/call", "Mcp-Method", "tools/call",
                                       "Mcp-Method", "tools/call", "Mcp-Method", "tools/call",
                                       "Mcp-Method", "tools/call", NULL};
    struct run r;
    char *big;

    ask_body(&r, tok_read, CALL("search_notes", 7), bad_name);
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH));
    CHECK(r.z.id != NULL && json_integer_value(r.z.id) == 7);
    tg_mcp_req_reset(&r.m);
    /* The headers name an allowed tool, the body a denied one. */
    ask_body(&r, tok_read, CALL("delete_note", 8), (const char *const[]){"Mcp-Name",
                                                                          "search_notes", NULL});
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH));
    tg_mcp_req_reset(&r.m);
    ask_body(&r, tok_read, CALL("search_notes", 9), bad_method);
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH));
    tg_mcp_req_reset(&r.m);
    ask_body(&r, tok_read, CALL("search_notes", 9), five);
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH));
    tg_mcp_req_reset(&r.m);
    ask_body(&r, tok_read, CALL("search_notes", 10), good);
    CHECK(r.z.outcome == TG_MCP_ALLOW);
    tg_mcp_req_reset(&r.m);

    ask_body(&r, tok_read, "{nope", NULL);
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_PARSE) && r.z.id == NULL);
    tg_mcp_req_reset(&r.m);
    ask_body(&r, tok_read, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\"}", NULL);
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_INVALID_PARAMS));
    tg_mcp_req_reset(&r.m);
    ask_body(&r, tok_read, "[]", NULL);
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_INVALID_REQUEST));
    tg_mcp_req_reset(&r.m);

    big = malloc(TG_MCP_MAX_BODY + 1);
    CHECK(big != NULL);
    if (big != NULL) {
        memset(big, ' ', TG_MCP_MAX_BODY + 1);
        ask(&r, tok_read, "POST", big, TG_MCP_MAX_BODY + 1, TG_MCP_FROM_BODY, NULL);
        CHECK(rpc_error(&r, 413, TG_MCP_ERR_INVALID_REQUEST));
        tg_mcp_req_reset(&r.m);
        free(big);
    }
}

static void
test_headers_only(void)
{
    struct run r;

    ask_headers(&r, tok_read,
                (const char *const[]){"Mcp-Method", "tools/call", "Mcp-Name", "search_notes",
                                      NULL});
    CHECK(r.z.outcome == TG_MCP_ALLOW && strcmp(r.z.mcp_tool, "search_notes") == 0 &&
          strcmp(r.d.id.endpoint, "MCP search_*") == 0);
    ask_headers(&r, tok_read,
                (const char *const[]){"Mcp-Method", "tools/call", "Mcp-Name", "delete_note",
                                      NULL});
    CHECK(denied(&r, 403, "notes:admin"));
    /* A base64 sentinel is no MCP tool name: no entry, no scope. */
    ask_headers(&r, tok_read,
                (const char *const[]){"Mcp-Method", "tools/call", "Mcp-Name",
                                      "=?base64?c2VhcmNoX25vdGVz?=", NULL});
    CHECK(denied(&r, 403, ""));
    ask_headers(&r, tok_read, (const char *const[]){"Mcp-Method", "tools/list", NULL});
    CHECK(r.z.outcome == TG_MCP_ALLOW && r.z.mcp_tool == NULL);
    ask_headers(&r, tok_read,
                (const char *const[]){"Mcp-Method", "resources/read", "Mcp-Name", "file:///a",
                                      NULL});
    CHECK(r.z.outcome == TG_MCP_ALLOW && r.z.mcp_tool == NULL);

    /* Missing or repeated: refused before any authorization. */
    ask_headers(&r, tok_read, NULL);
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH) && r.z.id == NULL);
    ask_headers(&r, tok_read, (const char *const[]){"Mcp-Name", "search_notes", NULL});
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH));
    ask_headers(&r, tok_read, (const char *const[]){"Mcp-Method", "tools/call", NULL});
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH));
    ask_headers(&r, tok_read, (const char *const[]){"Mcp-Method", "", NULL});
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH));
    ask_headers(&r, tok_read,
                (const char *const[]){"Mcp-Method", "tools/call", "Mcp-Method", "tools/call",
                                      "Mcp-Name", "search_notes", NULL});
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH));
    ask_headers(&r, tok_read,
                (const char *const[]){"Mcp-Method", "tools/call", "Mcp-Name", "search_notes",
                                      "Mcp-Name", "search_notes", NULL});
    CHECK(rpc_error(&r, 400, TG_MCP_ERR_HEADER_MISMATCH));
}

static void
test_not_post_and_refused_tokens(void)
{
    struct run r;
    char *other;

    /* GET (SSE stream) and DELETE (session end): any action on the tool,
     * with or without a body mode. */
    ask(&r, tok_read, "GET", NULL, 0, TG_MCP_FROM_HEADERS, NULL);
    CHECK(r.z.outcome == TG_MCP_ALLOW && r.z.mcp_tool == NULL);
    ask(&r, tok_read, "DELETE", NULL, 0, TG_MCP_FROM_BODY, NULL);
    CHECK(r.z.outcome == TG_MCP_ALLOW);
    /* A token whose details name another tool only. */
    other = token("[{\"type\":\"tool\",\"tool\":\"other\",\"actions\":[\"read\"]}]");
    ask(&r, other, "GET", NULL, 0, TG_MCP_FROM_HEADERS, NULL);
    CHECK(r.z.outcome == TG_MCP_DENY && r.d.status == 403);
    ask_headers(&r, other, (const char *const[]){"Mcp-Method", "ping", NULL});
    CHECK(r.z.outcome == TG_MCP_DENY && r.d.status == 403);
    free(other);
    /* Authentication refused: passed on as it is, the body never read. */
    ask_body(&r, "a.b.c", "{nope", NULL);
    CHECK(r.z.outcome == TG_MCP_DENY && r.d.status == 401 && r.m.doc == NULL);
    ask_headers(&r, "a.b.c", NULL);
    CHECK(r.z.outcome == TG_MCP_DENY && r.d.status == 401);
}

int
main(void)
{
    char *pub, jwks[2048];

    iss_key = t_gen(TG_KEY_EC_P256);
    pub = t_pub_json(&iss_key);
    snprintf(jwks, sizeof(jwks), "{\"keys\":[%.*s,\"kid\":\"k1\",\"alg\":\"ES256\"}]}",
             (int)strlen(pub) - 1, pub);
    free(pub);
    if (tg_rs_keyset_parse(jwks, strlen(jwks), &keyset) != TG_OK)
        return 1;
    replay = tg_replay_mem_new(64);
    cfg.issuer = ISS;
    cfg.keys.find = find_key;
    cfg.keys.arg = keyset;
    cfg.dpop.replay.insert_once = tg_replay_mem_insert_once;
    cfg.dpop.replay.arg = replay;
    cfg.clock = &clock_;
    cfg.resource_metadata = "https://gw.example/.well-known/oauth-protected-resource/tools/notes";
    eps[0] = (struct tg_endpoint){"MCP", "search_*", TG_ACTION_READ, TG_RISK_NORMAL};
    eps[1] = (struct tg_endpoint){"MCP", "delete_note", TG_ACTION_ADMIN, TG_RISK_NORMAL};
    eps[2] = (struct tg_endpoint){"MCP", "admin_*", TG_ACTION_ADMIN, TG_RISK_NORMAL};
    tool.id = "notes";
    tool.resource = RES;
    tool.kind = "mcp";
    tool.endpoints = eps;
    tool.n_endpoints = 3;
    tok_read = token("[{\"type\":\"tool\",\"tool\":\"notes\",\"actions\":[\"read\"]}]");
    tok_admin = token("[{\"type\":\"tool\",\"tool\":\"notes\",\"actions\":[\"read\",\"admin\"],"
                      "\"endpoints\":[\"MCP search_*\",\"MCP delete_note\"]}]");
    if (tok_read == NULL || tok_admin == NULL)
        return 1;

    RUN(test_body_tools_call);
    RUN(test_body_other_messages_and_batches);
    RUN(test_body_refusals);
    RUN(test_headers_only);
    RUN(test_not_post_and_refused_tokens);

    free(tok_read);
    free(tok_admin);
    tg_replay_mem_free(replay);
    tg_rs_keyset_free(keyset);
    tg_jwk_reset(&iss_key);
    return t_report("gateway-mcp-authz");
}
