#!/usr/bin/python3
"""MCP servers behind the gateway (tools of kind mcp), over real sockets:
a small MCP-like JSON-RPC upstream (python http.server on 127.0.0.1:0)
behind `tollgate serve --dev`. tools/call allowed and denied (403 + scope),
unknown MCP tools, Mcp-Name / Mcp-Method disagreeing with the body (400 +
-32020), tools/list filtered (JSON and SSE), batches, content_digest when
required, session headers, GET and DELETE, protected resource metadata.
/check for the same server: with the client's body (as Envoy ext_authz
sends it) the proxy's decision; without one (nginx auth_request) the
SEP-2243 Mcp-Method / Mcp-Name headers.
Usage: test_mcp.py TOLLGATE_BIN"""
import base64
import hashlib
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server, b64u, dpop_proof  # noqa: E402
from jwcrypto import jwk  # noqa: E402

R = Results("integration-mcp")
BIN = sys.argv[1]

UPSTREAM_TOOLS = ["search_notes", "search_tags", "echo_headers", "delete_note", "admin_reset",
                  "unlisted_tool"]
SEEN = []  # (method, path, headers, body) the upstream received


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _send(self, status, body, ctype="application/json", extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Mcp-Session-Id", "sess-123")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, msg):
        m = msg.get("method")
        if "id" not in msg or m is None:
            return None
        if m == "tools/list":
            res = {"tools": [{"name": n, "inputSchema": {"type": "object"}}
                             for n in UPSTREAM_TOOLS] + [{"noname": True}]}
        elif m == "tools/call":
            res = {"content": [{"type": "text", "text": json.dumps({
                "called": msg["params"]["name"],
                "headers": {k.lower(): v for k, v in self.headers.items()}})}]}
        else:
            res = {"ok": m}
        return {"jsonrpc": "2.0", "id": msg["id"], "result": res}

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        SEEN.append(("POST", self.path, dict(self.headers), raw))
        msg = json.loads(raw)
        out = [a for a in map(self._answer, msg) if a] if isinstance(msg, list) else \
            self._answer(msg)
        if out is None or out == []:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        text = json.dumps(out, indent=1)  # multi-line: SSE data spans lines
        if self.path.startswith("/sse"):
            data = "".join("data: " + line + "\n" for line in text.split("\n"))
            self._send(200, ": comment\n\nevent: message\nid: 7\n" + data + "\n",
                       "text/event-stream")
        else:
            self._send(200, text)

    def do_GET(self):
        SEEN.append(("GET", self.path, dict(self.headers), b""))
        self._send(200, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n\n",
                   "text/event-stream")

    def do_DELETE(self):
        SEEN.append(("DELETE", self.path, dict(self.headers), b""))
        self._send(200, "{}")


up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
threading.Thread(target=up.serve_forever, daemon=True).start()
UP = "http://127.0.0.1:%d" % up.server_address[1]

work = tempfile.mkdtemp(prefix="tg-mcp-")
srv = Server(BIN)
ISS = srv.issuer


def apply(yaml_text, expect_ok=True):
    path = os.path.join(work, "policy-%s.yaml" % uuid.uuid4().hex[:6])
    with open(path, "w") as f:
        f.write(yaml_text)
    r = srv.cli("apply", "-f", path, "--json")
    if expect_ok:
        R.check("apply " + os.path.basename(path), r.returncode == 0, r.stderr)
    return r


def ath(token):
    return b64u(hashlib.sha256(token.encode()).digest())


def digest(body):
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def token(cid, secret, key=None, scope=None):
    body = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    if scope:
        body["scope"] = scope
    hs = {"DPoP": dpop_proof(key, "POST", ISS + "/token")} if key else {}
    st, _, b = srv.request("POST", "/token", body, headers=hs)
    if not R.check(f"token for {cid}", st == 200, f"{st} {b}"):
        return ""
    return b["access_token"]


def rpc(tool, msg, tok=None, key=None, headers=None, proof_extra=None, path="/mcp", raw=None,
        method="POST"):
    """A JSON-RPC POST (or another method) through the gateway."""
    url_path = "/tools/%s%s" % (tool, path)
    body = raw if raw is not None else (json.dumps(msg).encode() if msg is not None else None)
    hs = {"Accept": "application/json, text/event-stream"}
    if body is not None:
        hs["Content-Type"] = "application/json"
    hs.update(headers or {})
    if tok is not None:
        hs["Authorization"] = ("DPoP " if key else "Bearer ") + tok
    if key is not None:
        extra = {"ath": ath(tok)}
        extra.update(proof_extra or {})
        hs["DPoP"] = dpop_proof(key, method, ISS + url_path, extra=extra)
    return srv.request(method, url_path, body, headers=hs)


def call(name, i=1):
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": name, "arguments": {}}}


def tools_of(result):
    try:
        return sorted(t["name"] for t in result["result"]["tools"])
    except Exception:
        return None


def sse_json(text):
    """The JSON-RPC message of the first SSE event with data."""
    for ev in text.replace("\r\n", "\n").split("\n\n"):
        data = [ln[5:].lstrip(" ") if ln.startswith("data:") else None
                for ln in ev.split("\n")]
        data = [d for d in data if d is not None]
        if data:
            return json.loads("\n".join(data))
    return None


def check_challenge(name, resp, status, error, scope=None):
    st, h, b = resp
    www = h.get("www-authenticate", "")
    ok = st == status and (error is None or f'error="{error}"' in www)
    if scope is not None:
        ok = ok and f'scope="{scope}"' in www
    elif status == 403:
        ok = ok and "scope=" not in www
    R.check(name, ok, f"{st} {www} {b}")


def rpc_error(name, resp, status, code, rid):
    st, _, b = resp
    R.check(name, st == status and isinstance(b, dict) and b.get("jsonrpc") == "2.0" and
            b.get("id") == rid and b.get("error", {}).get("code") == code, f"{st} {b}")


try:
    # --- policy: MCP tool entries are for kind mcp only
    r = apply(f"""version: 1
tools:
  - id: wrong
    resource: {ISS}/tools/wrong
    endpoints:
      - {{mcp_tool: search_notes, action: read}}
""", expect_ok=False)
    R.check("policy: mcp_tool on an http tool refused", r.returncode != 0, r.stdout)
    r = apply(f"""version: 1
tools:
  - id: wrong2
    kind: mcp
    resource: {ISS}/tools/wrong2
    endpoints:
      - {{mcp_tool: "search/notes", action: read}}
""", expect_ok=False)
    R.check("policy: bad MCP tool name refused", r.returncode != 0, r.stdout)

    out = apply(f"""version: 1
agents:
  - {{id: mcp-bearer, type: internal, owner: a@example.com, auth: client_secret_post,
     sender_constraint: bearer}}
  - {{id: mcp-dpop, type: internal, owner: b@example.com, auth: client_secret_post,
     sender_constraint: dpop}}
tools:
  - id: notes
    kind: mcp
    resource: {ISS}/tools/notes
    upstream: {UP}
    endpoints:
      - {{mcp_tool: "search_*", action: read}}
      - {{mcp_tool: echo_headers, action: read}}
      - {{mcp_tool: delete_note, action: admin, risk: high}}
      - {{mcp_tool: "admin_*", action: admin}}
  - id: notes-sse
    kind: mcp
    resource: {ISS}/tools/notes-sse
    upstream: {UP}/sse
    endpoints:
      - {{mcp_tool: "search_*", action: read}}
  - id: notes-digest
    kind: mcp+content_digest
    resource: {ISS}/tools/notes-digest
    upstream: {UP}
    endpoints:
      - {{mcp_tool: "*", action: read}}
grants:
  - {{agent: mcp-bearer, tool: notes, actions: [read]}}
  - {{agent: mcp-bearer, tool: notes-sse, actions: [read]}}
  - {{agent: mcp-dpop, tool: notes, actions: [read, admin],
     endpoints: ["MCP search_*", "MCP delete_note"]}}
  - {{agent: mcp-dpop, tool: notes-digest, actions: [read]}}
""")
    sec = {s["client_id"]: s["client_secret"]
           for s in json.loads(out.stdout or "{}").get("client_secrets", [])}
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    bt = token("mcp-bearer", sec.get("mcp-bearer", ""))
    dt = token("mcp-dpop", sec.get("mcp-dpop", ""), key=key)

    # --- 401 and the protected resource metadata (RFC 9728)
    st, h, b = rpc("notes", call("search_notes"))
    www = h.get("www-authenticate", "")
    R.check("no token: 401 with resource_metadata", st == 401 and "resource_metadata=" in www,
            f"{st} {www}")
    prm_url = www.split('resource_metadata="')[1].split('"')[0] if "resource_metadata=" in www \
        else ""
    st, _, md = srv.request("GET", urllib.parse.urlsplit(prm_url).path)
    mcp_url = ISS + "/tools/notes/mcp"
    R.check("prm: resource is a path prefix of the MCP URL",
            st == 200 and md.get("resource") == ISS + "/tools/notes" and
            mcp_url.startswith(md["resource"] + "/"), f"{st} {md}")
    R.check("prm: no scopes_supported for an MCP server", "scopes_supported" not in md, md)

    # --- tools/call
    st, h, b = rpc("notes", call("search_notes", 5), bt)
    R.check("bearer: allowed tool 200", st == 200 and b.get("id") == 5, f"{st} {b}")
    seen = json.loads(b["result"]["content"][0]["text"]) if st == 200 else {}
    uh = seen.get("headers", {})
    R.check("upstream: called search_notes", seen.get("called") == "search_notes", seen)
    R.check("upstream: action and endpoint headers",
            uh.get("x-tollgate-action") == "read" and
            uh.get("x-tollgate-endpoint") == "MCP search_*", uh)
    R.check("upstream: no Authorization", "authorization" not in uh and "dpop" not in uh, uh)
    R.check("upstream: session id passed back", h.get("mcp-session-id") == "sess-123", h)
    check_challenge("bearer: admin tool denied 403 with scope", rpc("notes", call("admin_reset"), bt),
                    403, "insufficient_scope", "notes:admin")
    check_challenge("bearer: high-risk tool denied 403 with scope",
                    rpc("notes", call("delete_note"), bt), 403, "insufficient_scope",
                    "notes:admin")
    check_challenge("unknown MCP tool: 403 without scope", rpc("notes", call("frobnicate"), bt),
                    403, "insufficient_scope")
    check_challenge("not an MCP tool name: 403", rpc("notes", call("../delete_note"), bt),
                    403, "insufficient_scope")
    st, h, b = rpc("notes", call("delete_note", 9), dt, key=key)
    R.check("dpop: named high-risk tool allowed", st == 200 and b.get("id") == 9, f"{st} {b}")
    check_challenge("dpop: unnamed tool denied", rpc("notes", call("echo_headers"), dt, key=key),
                    403, "insufficient_scope", "notes:read")
    check_challenge("token of another tool: 401",
                    rpc("notes-digest", call("search_notes"), bt), 401, "invalid_token")
    rpc_error("tools/call without a name: 400 -32602",
              rpc("notes", {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {}}, bt),
              400, -32602, 3)

    # --- other methods need only a token for this tool
    for m in ("initialize", "ping", "resources/list", "prompts/list"):
        st, _, b = rpc("notes", {"jsonrpc": "2.0", "id": 1, "method": m, "params": {}}, bt)
        R.check(f"{m}: allowed", st == 200 and b.get("result", {}).get("ok") == m, f"{st} {b}")
    st, _, b = rpc("notes", {"jsonrpc": "2.0", "method": "notifications/initialized"}, bt)
    R.check("notification: 202", st == 202, f"{st} {b}")

    # --- SEP-2243 headers
    rpc_error("Mcp-Name disagrees: 400 -32020",
              rpc("notes", call("search_notes", 11), bt, headers={"Mcp-Name": "delete_note"}),
              400, -32020, 11)
    rpc_error("Mcp-Name names an allowed tool, body a denied one: 400 -32020",
              rpc("notes", call("delete_note", 12), bt, headers={"Mcp-Name": "search_notes"}),
              400, -32020, 12)
    rpc_error("Mcp-Method disagrees: 400 -32020",
              rpc("notes", call("search_notes", 13), bt, headers={"Mcp-Method": "tools/list"}),
              400, -32020, 13)
    rpc_error("Mcp-Name on tools/list: 400 -32020",
              rpc("notes", {"jsonrpc": "2.0", "id": 14, "method": "tools/list"}, bt,
                  headers={"Mcp-Name": "search_notes"}), 400, -32020, 14)
    st, _, b = rpc("notes", call("search_notes", 15), bt,
                   headers={"Mcp-Name": "search_notes", "Mcp-Method": "tools/call"})
    R.check("matching Mcp-Name and Mcp-Method: 200", st == 200, f"{st} {b}")
    seen = json.loads(b["result"]["content"][0]["text"]) if st == 200 else {}
    R.check("upstream: Mcp-Name forwarded", seen.get("headers", {}).get("mcp-name") ==
            "search_notes", seen)

    # --- tools/list filtered
    lst = {"jsonrpc": "2.0", "id": "L1", "method": "tools/list"}
    st, h, b = rpc("notes", lst, bt)
    R.check("tools/list JSON filtered (bearer, read)",
            st == 200 and tools_of(b) == ["echo_headers", "search_notes", "search_tags"],
            f"{st} {b}")
    st, h, b = rpc("notes", lst, dt, key=key)
    R.check("tools/list JSON filtered (dpop, named)",
            st == 200 and tools_of(b) == ["delete_note", "search_notes", "search_tags"],
            f"{st} {b}")
    st, h, b = rpc("notes-sse", lst, bt)
    R.check("tools/list SSE: content type kept",
            st == 200 and h.get("content-type", "").startswith("text/event-stream"), f"{st} {h}")
    R.check("tools/list SSE: filtered",
            isinstance(b, str) and tools_of(sse_json(b)) == ["search_notes", "search_tags"], b)
    R.check("tools/list SSE: event fields kept",
            isinstance(b, str) and "event: message\n" in b and "id: 7\n" in b and
            b.startswith(": comment\n\n"), b)
    st, h, b = rpc("notes-sse", call("search_tags", 21), bt)
    msg = sse_json(b) if isinstance(b, str) else None
    R.check("SSE answer to tools/call passes through",
            st == 200 and msg is not None and msg.get("id") == 21 and
            h.get("content-type", "").startswith("text/event-stream"), f"{st} {b}")

    # --- batches: every element authorized
    st, _, b = rpc("notes", [call("search_notes", 1), call("delete_note", 2)], bt)
    R.check("batch with a denied call: 403", st == 403, f"{st} {b}")
    st, _, b = rpc("notes", [call("search_notes", 1),
                             {"jsonrpc": "2.0", "id": 2, "method": "ping"}], bt)
    R.check("batch of allowed messages: 200", st == 200 and isinstance(b, list) and len(b) == 2,
            f"{st} {b}")
    st, _, b = rpc("notes", [lst, call("search_notes", 2)], bt)
    lists = [x for x in b if x.get("id") == "L1"] if isinstance(b, list) else []
    R.check("batch tools/list filtered",
            st == 200 and len(lists) == 1 and
            tools_of(lists[0]) == ["echo_headers", "search_notes", "search_tags"], f"{st} {b}")
    rpc_error("batch with Mcp-Name: 400 -32020",
              rpc("notes", [call("search_notes", 1)], bt, headers={"Mcp-Name": "search_notes"}),
              400, -32020, None)
    rpc_error("empty batch: 400 -32600", rpc("notes", [], bt), 400, -32600, None)

    # --- malformed bodies
    rpc_error("not JSON: 400 -32700", rpc("notes", None, bt, raw=b"{nope"), 400, -32700, None)
    rpc_error("duplicate name member: 400 -32700",
              rpc("notes", None, bt, raw=b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
                  b'"params":{"name":"search_notes","name":"delete_note"}}'), 400, -32700, None)
    rpc_error("not JSON-RPC 2.0: 400 -32600",
              rpc("notes", {"id": 1, "method": "tools/call"}, bt), 400, -32600, None)
    check_challenge("bad body without a token is still 401 first",
                    rpc("notes", None, None, raw=b"{nope"), 401, None)

    # --- content_digest (MCP ext-auth DPoP profile)
    body = json.dumps(call("search_notes", 31)).encode()
    st, h, b = rpc("notes-digest", None, dt, key=key, raw=body)
    R.check("digest required, proof without one: 401 invalid_dpop_proof",
            st == 401 and 'error="invalid_dpop_proof"' in h.get("www-authenticate", ""),
            f"{st} {h}")
    st, h, b = rpc("notes-digest", None, dt, key=key, raw=body,
                   proof_extra={"content_digest": digest(b"other body")})
    R.check("digest of another body: 401 invalid_dpop_proof",
            st == 401 and 'error="invalid_dpop_proof"' in h.get("www-authenticate", ""),
            f"{st} {h}")
    st, h, b = rpc("notes-digest", None, dt, key=key, raw=body,
                   proof_extra={"content_digest": digest(body)})
    R.check("digest of this body: 200", st == 200 and b.get("id") == 31, f"{st} {b}")
    st, h, b = rpc("notes", None, dt, key=key, raw=json.dumps(call("search_notes")).encode(),
                   proof_extra={"content_digest": digest(b"x")})
    R.check("not required, but a wrong one is still refused", st == 401, f"{st} {h}")

    # --- sessions, GET and DELETE
    st, h, b = rpc("notes", call("echo_headers", 41), bt,
                   headers={"Mcp-Session-Id": "sess-123", "Mcp-Protocol-Version": "2025-06-18"})
    seen = json.loads(b["result"]["content"][0]["text"]) if st == 200 else {}
    R.check("session headers reach the upstream",
            seen.get("headers", {}).get("mcp-session-id") == "sess-123" and
            seen.get("headers", {}).get("mcp-protocol-version") == "2025-06-18", seen)
    st, h, b = rpc("notes", None, bt, method="GET", headers={"Accept": "text/event-stream"})
    R.check("GET stream forwarded (closed by the upstream)",
            st == 200 and h.get("content-type", "").startswith("text/event-stream") and
            "ping" in str(b), f"{st} {h} {b}")
    check_challenge("GET without a token: 401", rpc("notes", None, None, method="GET"), 401, None)
    st, h, b = rpc("notes", None, bt, method="DELETE", headers={"Mcp-Session-Id": "sess-123"})
    R.check("DELETE forwarded", st == 200 and SEEN and SEEN[-1][0] == "DELETE", f"{st} {b}")
    R.check("nothing denied reached the upstream",
            not any(b"delete_note" in s[3] and s[2].get("X-Tollgate-Binding") == "bearer"
                    for s in SEEN), "")
    # --- /check for an MCP server (docs/gateway.md, "/check")
    def check(method, msg=None, tok=None, key=None, headers=None, raw=None):
        """POST /check for the client's request `method /tools/notes/mcp`."""
        uri = "/tools/notes/mcp"
        body = raw if raw is not None else (json.dumps(msg).encode() if msg is not None else None)
        hs = {"X-Original-Method": method, "X-Original-URI": uri}
        if body is not None:
            hs["Content-Type"] = "application/json"
        hs.update(headers or {})
        if tok is not None:
            hs["Authorization"] = ("DPoP " if key else "Bearer ") + tok
        if key is not None:
            hs["DPoP"] = dpop_proof(key, method, ISS + uri, extra={"ath": ath(tok)})
        return srv.request("POST", "/check", body, headers=hs)

    n_seen = len(SEEN)
    tc = {"Mcp-Method": "tools/call"}
    st, h, b = check("POST", call("search_notes", 51), bt)
    R.check("check body: allowed tools/call 200",
            st == 200 and b == {"allow": True} and h.get("x-tollgate-action") == "read" and
            h.get("x-tollgate-endpoint") == "MCP search_*" and
            h.get("x-tollgate-mcp-tool") == "search_notes", f"{st} {h} {b}")
    check_challenge("check body: ungranted tools/call 403 with scope",
                    check("POST", call("delete_note", 52), bt), 403, "insufficient_scope",
                    "notes:admin")
    check_challenge("check body: unknown MCP tool 403 without scope",
                    check("POST", call("frobnicate", 53), bt), 403, "insufficient_scope")
    rpc_error("check body: Mcp-Name disagrees 400 -32020",
              check("POST", call("delete_note", 54), bt, headers=dict(tc, **{
                  "Mcp-Name": "search_notes"})), 400, -32020, 54)
    rpc_error("check body: not JSON 400 -32700", check("POST", None, bt, raw=b"{nope"),
              400, -32700, None)
    st, h, b = check("POST", [call("search_notes", 1), call("delete_note", 2)], bt)
    R.check("check body: batch with a denied call 403", st == 403, f"{st} {b}")
    st, h, b = check("POST", call("delete_note", 55), dt, key=key)
    R.check("check body: DPoP, named high-risk tool 200",
            st == 200 and h.get("x-tollgate-binding") == "dpop" and
            h.get("x-tollgate-mcp-tool") == "delete_note", f"{st} {h} {b}")
    check_challenge("check body: no token 401", check("POST", call("search_notes", 56)), 401,
                    None)
    st, h, b = check("POST", {"jsonrpc": "2.0", "id": 57, "method": "tools/list"}, bt)
    R.check("check body: tools/list 200, no MCP tool header",
            st == 200 and "x-tollgate-mcp-tool" not in h, f"{st} {h}")

    # Without the body: the SEP-2243 headers decide.
    st, h, b = check("POST", None, bt, headers=dict(tc, **{"Mcp-Name": "search_notes"}))
    R.check("check headers: allowed tools/call 200",
            st == 200 and h.get("x-tollgate-mcp-tool") == "search_notes" and
            h.get("x-tollgate-action") == "read", f"{st} {h} {b}")
    check_challenge("check headers: ungranted tools/call 403 with scope",
                    check("POST", None, bt, headers=dict(tc, **{"Mcp-Name": "admin_reset"})),
                    403, "insufficient_scope", "notes:admin")
    check_challenge("check headers: base64 Mcp-Name 403 without scope",
                    check("POST", None, bt, headers=dict(tc, **{
                        "Mcp-Name": "=?base64?c2VhcmNoX25vdGVz?="})), 403, "insufficient_scope")
    rpc_error("check headers: tools/call without Mcp-Name 400 -32020",
              check("POST", None, bt, headers=tc), 400, -32020, None)
    rpc_error("check headers: no Mcp-Method 400 -32020",
              check("POST", None, bt, headers={"Mcp-Name": "search_notes"}), 400, -32020, None)
    st, h, b = check("POST", None, None, headers=tc)
    R.check("check headers: no token is 401 first", st == 401, f"{st} {b}")
    st, h, b = check("POST", None, bt, headers={"Mcp-Method": "tools/list"})
    R.check("check headers: tools/list 200", st == 200, f"{st} {h} {b}")
    st, h, b = check("POST", None, dt, key=key,
                     headers=dict(tc, **{"Mcp-Name": "delete_note"}))
    R.check("check headers: DPoP, named high-risk tool 200", st == 200, f"{st} {b}")

    # GET (SSE stream) and DELETE (session end): any action on this tool.
    for m in ("GET", "DELETE"):
        st, h, b = check(m, None, bt)
        R.check(f"check {m}: 200", st == 200 and "x-tollgate-mcp-tool" not in h, f"{st} {b}")
        check_challenge(f"check {m}: token of another tool 401",
                        check(m, None, token("mcp-dpop", sec.get("mcp-dpop", ""), key=key,
                                             scope="notes-digest:read"), key=key),
                        401, "invalid_token")
    R.check("check: nothing reached the upstream", len(SEEN) == n_seen, SEEN[n_seen:])
    with open(os.path.join(srv.data, "audit.log")) as f:
        ev = [json.loads(ln) for ln in f if ln.strip()]
    R.check("check: audit check.allow and check.deny for the MCP server",
            any(e.get("event") == "check.allow" and e.get("what", {}).get("tool") == "notes"
                for e in ev) and
            any(e.get("event") == "check.deny" and e.get("what", {}).get("tool") == "notes"
                for e in ev),
            sorted({e.get("event") for e in ev}))
finally:
    rc = srv.stop()
    up.shutdown()
    shutil.rmtree(work, ignore_errors=True)
R.done()
