#!/usr/bin/python3
"""Tenant-bound routing over real sockets: a tool whose upstream holds
{tenant} (the dev echo upstream, {tenant} as a path segment) is reached at
the verified token's tenant and only there; request headers and the query
naming another tenant change nothing; a token without a tenant is refused
for that tool (403 insufficient_scope) but not for an ordinary one; MCP
tools and /check behave alike; `apply` refuses {tenant} in a bad position.
Usage: test_tenant.py TOLLGATE_BIN"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server, b64u, dpop_proof  # noqa: E402
from jwcrypto import jwk  # noqa: E402

R = Results("integration-tenant")
BIN = sys.argv[1]
work = tempfile.mkdtemp(prefix="tg-tenant-")
srv = Server(BIN)
ISS = srv.issuer
ECHO = srv.dev.get("echo_upstream", "")
ECHO_PORT = urllib.parse.urlsplit(ECHO).port
PRM = ISS + "/.well-known/oauth-protected-resource/tools/"


def apply(yaml_text, expect_ok=True):
    path = os.path.join(work, "policy-%s.yaml" % uuid.uuid4().hex[:6])
    with open(path, "w") as f:
        f.write(yaml_text)
    r = srv.cli("apply", "-f", path, "--json")
    if expect_ok:
        R.check("apply " + os.path.basename(path), r.returncode == 0, r.stderr)
    return r


def ath(tok):
    return b64u(hashlib.sha256(tok.encode()).digest())


def token(cid, secret, scope, key=None):
    body = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret,
            "scope": scope}
    hs = {"DPoP": dpop_proof(key, "POST", ISS + "/token")} if key else {}
    st, _, b = srv.request("POST", "/token", body, headers=hs)
    if not R.check(f"token for {cid} {scope}", st == 200, f"{st} {b}"):
        return ""
    return b["access_token"]


def call(method, path, tok, key=None, headers=None, body=None):
    hs = dict(headers or {})
    hs["Authorization"] = ("DPoP " if key else "Bearer ") + tok
    if key is not None:
        url = ISS + urllib.parse.urlsplit(path).path
        hs["DPoP"] = dpop_proof(key, method, url, extra={"ath": ath(tok)})
    if body is not None:
        hs["Content-Type"] = "application/json"
    return srv.request(method, path, body, headers=hs)


def check(method, uri, tok, headers=None):
    hs = {"X-Original-Method": method, "X-Original-URI": uri,
          "Authorization": "Bearer " + tok}
    hs.update(headers or {})
    return srv.request("GET", "/check", headers=hs)


def echo_path(name, resp, want):
    st, _, b = resp
    ok = st == 200 and isinstance(b, dict) and b.get("path") == want
    R.check(name, ok, f"got {st} {b if not isinstance(b, dict) else b.get('path', b)}")
    return b.get("headers", {}) if ok else {}


def expect_tenant_deny(name, resp, scheme="Bearer", why="no tenant"):
    st, h, b = resp
    ch = h.get("www-authenticate", "")
    R.check(name + ": 403 insufficient_scope",
            st == 403 and isinstance(b, dict) and b.get("error") == "insufficient_scope",
            f"{st} {b}")
    R.check(name + ": says why", isinstance(b, dict) and why in b.get("error_description", ""),
            b)
    R.check(name + ": challenge", ch.startswith(scheme + ' error="insufficient_scope"') and
            'resource_metadata="' + PRM in ch and "scope=" not in ch, ch)
    R.check(name + ": not forwarded", not (isinstance(b, dict) and "headers" in b), b)


try:
    R.check("dev.json names the echo upstream", ECHO.startswith("http://127.0.0.1:"), ECHO)
    out = apply(f"""version: 1
agents:
  - {{id: acme-bot, type: tenant, tenant: acme, owner: a@acme.example,
     auth: client_secret_post, sender_constraint: bearer}}
  - {{id: globex-bot, type: tenant, tenant: globex, owner: g@globex.example,
     auth: client_secret_post, sender_constraint: dpop}}
  - {{id: inside-bot, type: internal, owner: ops@example.com,
     auth: client_secret_post, sender_constraint: bearer}}
  - {{id: inside-dpop, type: internal, owner: ops@example.com,
     auth: client_secret_post, sender_constraint: dpop}}
  - {{id: colon-bot, type: tenant, tenant: "a:b", owner: c@example.com,
     auth: client_secret_post, sender_constraint: bearer}}
tools:
  - id: crm
    resource: {ISS}/tools/crm
    upstream: {ECHO}/{{tenant}}/api
    endpoints:
      - {{method: GET, path: /contacts, action: read}}
      - {{method: GET, path: "/contacts/{{id}}", action: read}}
  - id: crm-host
    resource: {ISS}/tools/crm-host
    upstream: http://{{tenant}}.localhost:{ECHO_PORT}/v1
    endpoints:
      - {{method: GET, path: /contacts, action: read}}
  - id: notes
    kind: mcp
    resource: {ISS}/tools/notes
    upstream: {ECHO}/{{tenant}}/mcp-server
    endpoints:
      - {{mcp_tool: "search_*", action: read}}
grants:
  - {{agent: acme-bot, tool: crm, actions: [read]}}
  - {{agent: acme-bot, tool: crm-host, actions: [read]}}
  - {{agent: acme-bot, tool: notes, actions: [read]}}
  - {{agent: globex-bot, tool: crm, actions: [read]}}
  - {{agent: inside-bot, tool: crm, actions: [read]}}
  - {{agent: inside-bot, tool: notes, actions: [read]}}
  - {{agent: inside-bot, tool: demo, actions: [read]}}
  - {{agent: inside-dpop, tool: crm, actions: [read]}}
  - {{agent: colon-bot, tool: crm, actions: [read]}}
""").stdout
    sec = {s["client_id"]: s["client_secret"]
           for s in (json.loads(out).get("client_secrets", []) if out else [])}
    gkey = jwk.JWK.generate(kty="EC", crv="P-256")
    ikey = jwk.JWK.generate(kty="EC", crv="P-256")
    acme = token("acme-bot", sec.get("acme-bot", ""), "crm:read")
    globex = token("globex-bot", sec.get("globex-bot", ""), "crm:read", key=gkey)
    inside = token("inside-bot", sec.get("inside-bot", ""), "crm:read")
    inside_dpop = token("inside-dpop", sec.get("inside-dpop", ""), "crm:read", key=ikey)
    colon = token("colon-bot", sec.get("colon-bot", ""), "crm:read")

    # 1. Each tenant's call reaches its own upstream path.
    h = echo_path("acme reaches /acme/api", call("GET", "/tools/crm/contacts?x=1", acme),
                  "/acme/api/contacts")
    R.check("acme: X-Tollgate-Tenant acme", h.get("x-tollgate-tenant") == "acme", h)
    h = echo_path("globex (DPoP) reaches /globex/api",
                  call("GET", "/tools/crm/contacts/7", globex, key=gkey),
                  "/globex/api/contacts/7")
    R.check("globex: X-Tollgate-Tenant globex", h.get("x-tollgate-tenant") == "globex", h)

    # 2. A tenant named by the request changes nothing.
    spoof = {"X-Tollgate-Tenant": "globex", "X-Tenant": "globex", "Tenant": "globex",
             "X-Tenant-Id": "globex"}
    st, _, b = call("GET", "/tools/crm/contacts?tenant=globex", acme, headers=spoof)
    h = echo_path("acme with globex headers and ?tenant=globex still reaches /acme",
                  (st, _, b), "/acme/api/contacts")
    R.check("spoof: the tool sees the token's tenant only",
            h.get("x-tollgate-tenant") == "acme" and "x-tenant" not in h and
            "tenant" not in h and "x-tenant-id" not in h, h)
    R.check("spoof: the query is passed as sent, not used to route",
            isinstance(b, dict) and b.get("query") == "tenant=globex", b)
    h = echo_path("globex with acme headers still reaches /globex",
                  call("GET", "/tools/crm/contacts", globex, key=gkey,
                       headers={"X-Tollgate-Tenant": "acme", "X-Tenant": "acme"}),
                  "/globex/api/contacts")
    R.check("globex spoof: tenant globex", h.get("x-tollgate-tenant") == "globex", h)

    # 3. No tenant in the token: refused for the tenant-bound tool, even
    # with a tenant header; fine on an ordinary tool.
    expect_tenant_deny("tenant-less bearer", call("GET", "/tools/crm/contacts", inside))
    expect_tenant_deny("tenant-less with X-Tenant: acme",
                       call("GET", "/tools/crm/contacts?tenant=acme", inside,
                            headers={"X-Tenant": "acme", "X-Tollgate-Tenant": "acme"}))
    expect_tenant_deny("tenant-less DPoP", call("GET", "/tools/crm/contacts", inside_dpop,
                                                key=ikey), scheme="DPoP")
    demo_tok = token("inside-bot", sec.get("inside-bot", ""), "demo:read")
    h = echo_path("tenant-less agent allowed on the demo tool",
                  call("GET", "/tools/demo/items", demo_tok), "/items")
    R.check("demo: no X-Tollgate-Tenant", "x-tollgate-tenant" not in h, h)

    # 4. A tenant outside the path alphabet ([A-Za-z0-9._-]) is refused.
    expect_tenant_deny("tenant a:b in a path segment",
                       call("GET", "/tools/crm/contacts", colon), why="cannot name")

    # 5. {tenant} as a host label (*.localhost resolves to loopback in libcurl).
    host_tok = token("acme-bot", sec.get("acme-bot", ""), "crm-host:read")
    st, _, b = call("GET", "/tools/crm-host/contacts", host_tok)
    h = echo_path("host label: acme reaches the echo", (st, _, b), "/v1/contacts")
    R.check("host label: Host is acme.localhost",
            h.get("host", "").startswith("acme.localhost:"), h)

    # 6. /check: the same decision; the tenant in X-Tollgate-Tenant.
    st, h, b = check("GET", "/tools/crm/contacts", acme, {"X-Tenant": "globex"})
    R.check("/check: acme allowed, X-Tollgate-Tenant acme",
            st == 200 and h.get("x-tollgate-tenant") == "acme", f"{st} {h}")
    st, h, b = check("GET", "/tools/crm/contacts", inside, {"X-Tollgate-Tenant": "acme"})
    R.check("/check: tenant-less refused 403 insufficient_scope",
            st == 403 and isinstance(b, dict) and b.get("error") == "insufficient_scope" and
            'error="insufficient_scope"' in h.get("www-authenticate", ""), f"{st} {h} {b}")
    st, h, b = check("GET", "/tools/demo/items", demo_tok)
    R.check("/check: tenant-less allowed on demo", st == 200, f"{st} {b}")

    # 7. MCP: the same substitution and the same refusal.
    ping = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    mt = token("acme-bot", sec.get("acme-bot", ""), "notes:read")
    echo_path("mcp: acme ping reaches /acme/mcp-server/mcp",
              call("POST", "/tools/notes/mcp", mt, body=ping, headers={"X-Tenant": "globex"}),
              "/acme/mcp-server/mcp")
    mi = token("inside-bot", sec.get("inside-bot", ""), "notes:read")
    expect_tenant_deny("mcp: tenant-less ping", call("POST", "/tools/notes/mcp", mi, body=ping))

    # 8. apply refuses {tenant} anywhere but a whole segment or host label.
    for what, up in [("inside a segment", ECHO + "/t-{tenant}/api"),
                     ("in the query", ECHO + "/api?t={tenant}"),
                     ("twice", ECHO + "/{tenant}/{tenant}"),
                     ("as the last host label", "http://crm.{tenant}/api"),
                     ("inside a host label", "http://x{tenant}.crm.internal/api"),
                     ("in the port", "http://crm.internal:{tenant}/api")]:
        r = apply(f"""version: 1
tools:
  - id: bad-tenant
    resource: {ISS}/tools/bad-tenant
    upstream: "{up}"
    endpoints:
      - {{method: GET, path: /x, action: read}}
""", expect_ok=False)
        R.check("apply refuses {tenant} " + what,
                r.returncode != 0 and "{tenant}" in (r.stdout + r.stderr), r.stdout + r.stderr)
    st, _, _ = srv.request("GET", "/.well-known/oauth-protected-resource/tools/bad-tenant")
    R.check("a refused tool was not stored", st == 404, st)
finally:
    rc = srv.stop()
    R.check("server exits cleanly", rc == 0, rc)
    subprocess.run(["rm", "-rf", work])

R.done()
