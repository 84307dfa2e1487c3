#!/usr/bin/python3
"""The gateway over real sockets: calls through /tools/<id>/... reach the
built-in echo upstream with the gateway's identity headers and without the
agent's credentials; every refusal asserts its status, error and challenge;
/check answers the same; protected-resource metadata; audit events.
Usage: test_gateway.py TOLLGATE_BIN"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server, b64u, dpop_proof  # noqa: E402
from jwcrypto import jwk  # noqa: E402

R = Results("integration-gateway")
BIN = sys.argv[1]
work = tempfile.mkdtemp(prefix="tg-gw-")
srv = Server(BIN)
dev = srv.dev
ISS = srv.issuer
ECHO = dev.get("echo_upstream", "")
PRM = ISS + "/.well-known/oauth-protected-resource/tools/"


def apply(yaml_text):
    path = os.path.join(work, "policy-%s.yaml" % uuid.uuid4().hex[:6])
    with open(path, "w") as f:
        f.write(yaml_text)
    r = srv.cli("apply", "-f", path, "--json")
    R.check("apply " + os.path.basename(path), r.returncode == 0, r.stderr)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def ath(token):
    return b64u(hashlib.sha256(token.encode()).digest())


def token(cid, secret, scope=None, key=None, resource=None):
    """client_credentials with client_secret_post; DPoP-bound when key."""
    body = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    if scope:
        body["scope"] = scope
    if resource:
        body["resource"] = resource
    hs = {"DPoP": dpop_proof(key, "POST", ISS + "/token")} if key else {}
    st, _, b = srv.request("POST", "/token", body, headers=hs)
    if not R.check(f"token for {cid} {scope}", st == 200, f"{st} {b}"):
        return ""
    return b["access_token"]


def basic_token(scope):
    st, _, b = srv.request("POST", "/token", {"grant_type": "client_credentials", "scope": scope},
                           headers=srv.basic())
    R.check("demo-agent token " + scope, st == 200, b)
    return b.get("access_token", "") if isinstance(b, dict) else ""


def call(method, path, tok=None, key=None, scheme=None, proof=None, headers=None, body=None,
         htu=None, htm=None, tls=False, cert=None, raw_headers=None):
    """A gateway call; with `key`, a fresh DPoP proof for this method and URL."""
    hs = dict(headers or {})
    if tok is not None:
        hs["Authorization"] = f"{scheme or ('DPoP' if key or proof else 'Bearer')} {tok}"
    if key is not None and proof is None:
        base = srv.mtls_base if tls else ISS
        url = htu or (base + urllib.parse.urlsplit(path).path)
        proof = dpop_proof(key, htm or method, url, extra={"ath": ath(tok)} if tok else None)
    if proof is not None:
        hs["DPoP"] = proof
    if body is not None and "Content-Type" not in hs:
        hs["Content-Type"] = "application/json"
    return srv.request(method, path, body, headers=hs, tls=tls, cert=cert,
                       raw_headers=raw_headers)


def challenge(h):
    return h.get("www-authenticate", "")


def expect_deny(name, resp, status, error, scheme=None, scope=None, echo_not_reached=True):
    """A refusal: status, JSON error, and a challenge naming the error."""
    st, h, body = resp
    ok = st == status and isinstance(body, dict) and body.get("error") == error
    R.check(name, ok, f"got {st} {body}")
    ch = challenge(h)
    if status in (401, 403):
        R.check(name + ": challenge names the error", f'error="{error}"' in ch, ch)
        R.check(name + ": challenge has resource_metadata",
                'resource_metadata="' + PRM in ch, ch)
        if scheme:
            R.check(name + ": challenge scheme " + scheme, ch.startswith(scheme + " ") or
                    (", " + scheme + " ") in ch, ch)
        if scope:
            R.check(name + f": scope={scope}", f'scope="{scope}"' in ch, ch)
    if echo_not_reached:
        R.check(name + ": not forwarded", not (isinstance(body, dict) and "headers" in body),
                body)
    return h


def echoed(name, resp):
    st, h, body = resp
    ok = st == 200 and isinstance(body, dict) and "headers" in body
    R.check(name + ": reached the echo", ok, f"got {st} {body}")
    return body.get("headers", {}) if ok else {}, body if ok else {}


def check(method, uri, tok=None, key=None, scheme=None, proof=None, headers=None, htu=None):
    """The external authorizer, asked as nginx auth_request asks."""
    hs = {"X-Original-Method": method, "X-Original-URI": uri}
    hs.update(headers or {})
    if tok is not None:
        hs["Authorization"] = f"{scheme or ('DPoP' if key or proof else 'Bearer')} {tok}"
    if key is not None and proof is None:
        url = htu or (ISS + urllib.parse.urlsplit(uri).path)
        proof = dpop_proof(key, method, url, extra={"ath": ath(tok)} if tok else None)
    if proof is not None:
        hs["DPoP"] = proof
    return srv.request("GET", "/check", headers=hs)


try:
    R.check("dev.json names the echo upstream", ECHO.startswith("http://127.0.0.1:"), dev)
    R.check("demo tool upstream is the echo", dev["tool"].get("upstream") == ECHO, dev["tool"])

    # --- inventory: a second tool on the echo, one whose upstream is down, agents
    out = apply(f"""version: 1
agents:
  - id: dpop-bot
    type: tenant
    tenant: demo
    owner: alice@example.com
    auth: client_secret_post
    sender_constraint: dpop
  - id: bearer-bot
    type: internal
    owner: bob@example.com
    auth: client_secret_post
    sender_constraint: bearer
  - id: short-bot
    type: internal
    owner: bob@example.com
    auth: client_secret_post
    sender_constraint: bearer
    max_token_lifetime: 1
  - id: doomed-bot
    type: tenant
    tenant: acme
    owner: carol@example.com
    auth: client_secret_post
    sender_constraint: bearer
tools:
  - id: tool2
    resource: {ISS}/tools/tool2
    upstream: {ECHO}/base
    endpoints:
      - {{method: GET, path: /a, action: read}}
      - {{method: GET, path: /b, action: read}}
      - {{method: POST, path: /c, action: write}}
  - id: down
    resource: {ISS}/tools/down
    upstream: http://127.0.0.1:1
    endpoints:
      - {{method: GET, path: /x, action: read}}
grants:
  - {{agent: dpop-bot, tool: demo, actions: [read, admin],
     endpoints: ["GET /items", "DELETE /items/{{id}}"]}}
  - {{agent: dpop-bot, tool: tool2, actions: [read]}}
  - {{agent: bearer-bot, tool: demo, actions: [read, write]}}
  - {{agent: bearer-bot, tool: tool2, actions: [read], endpoints: ["GET /a"]}}
  - {{agent: bearer-bot, tool: down, actions: [read]}}
  - {{agent: short-bot, tool: demo, actions: [read]}}
  - {{agent: doomed-bot, tool: demo, actions: [read]}}
""")
    sec = {s["client_id"]: s["client_secret"] for s in out.get("client_secrets", [])}
    key = jwk.JWK.generate(kty="EC", crv="P-256")

    # --- protected resource metadata (RFC 9728)
    st, h, md = srv.request("GET", "/.well-known/oauth-protected-resource/tools/demo")
    R.check("prm: 200 JSON", st == 200 and isinstance(md, dict), f"{st} {md}")
    md = md if isinstance(md, dict) else {}
    R.check("prm: resource", md.get("resource") == dev["tool"]["resource"], md)
    R.check("prm: authorization_servers", md.get("authorization_servers") == [ISS], md)
    R.check("prm: scopes", md.get("scopes_supported") == ["demo:read", "demo:write", "demo:admin"],
            md)
    R.check("prm: bearer methods", md.get("bearer_methods_supported") == ["header"], md)
    R.check("prm: dpop algs", "ES256" in md.get("dpop_signing_alg_values_supported", []), md)
    R.check("prm: dpop_bound_access_tokens_required is a boolean",
            md.get("dpop_bound_access_tokens_required") is False, md)
    R.check("prm: certificate-bound", md.get("tls_client_certificate_bound_access_tokens") is True,
            md)
    R.check("prm: resource_name", md.get("resource_name") == "demo", md)
    st, _, md2 = srv.request("GET", "/.well-known/oauth-protected-resource/tools/tool2")
    R.check("prm: tool2 scopes", st == 200 and md2.get("scopes_supported") ==
            ["tool2:read", "tool2:write"] and md2.get("resource") == ISS + "/tools/tool2", md2)
    st, _, b = srv.request("GET", "/.well-known/oauth-protected-resource/tools/nope")
    R.check("prm: unknown tool 404", st == 404, f"{st} {b}")

    # --- allowed: bearer (demo agent), through to the echo
    bt = basic_token("demo:read demo:write")
    hdrs, e = echoed("bearer read",
                     call("GET", "/tools/demo/items?x=1&y=%20z", bt,
                          headers={"Cookie": "session=s3cret", "X-Request-Id": "r-1",
                                   "Proxy-Authorization": "Basic eDp5"}))
    R.check("echo: method", e.get("method") == "GET", e)
    R.check("echo: path within the tool", e.get("path") == "/items", e)
    R.check("echo: query", e.get("query") == "x=1&y=%20z", e)
    R.check("echo: no Authorization", "authorization" not in hdrs, hdrs)
    R.check("echo: no Cookie", "cookie" not in hdrs, hdrs)
    R.check("echo: no Proxy-Authorization", "proxy-authorization" not in hdrs, hdrs)
    R.check("echo: other headers pass", hdrs.get("x-request-id") == "r-1", hdrs)
    R.check("echo: token never forwarded", bt not in json.dumps(e), "token in upstream request")
    R.check("echo: X-Tollgate-Agent", hdrs.get("x-tollgate-agent") == "demo-agent", hdrs)
    R.check("echo: X-Tollgate-Client-Id", hdrs.get("x-tollgate-client-id") == "demo-agent", hdrs)
    R.check("echo: X-Tollgate-Tenant", hdrs.get("x-tollgate-tenant") == dev["tenant"], hdrs)
    R.check("echo: X-Tollgate-Owner", hdrs.get("x-tollgate-owner") == "dev@localhost", hdrs)
    R.check("echo: X-Tollgate-Agent-Type", hdrs.get("x-tollgate-agent-type") == "internal", hdrs)
    R.check("echo: X-Tollgate-Scope", hdrs.get("x-tollgate-scope") == "demo:read demo:write",
            hdrs)
    R.check("echo: X-Tollgate-Jti", len(hdrs.get("x-tollgate-jti", "")) > 8, hdrs)
    R.check("echo: X-Tollgate-Action", hdrs.get("x-tollgate-action") == "read", hdrs)
    R.check("echo: X-Tollgate-Endpoint", hdrs.get("x-tollgate-endpoint") == "GET /items", hdrs)
    R.check("echo: X-Tollgate-Binding", hdrs.get("x-tollgate-binding") == "bearer", hdrs)
    bearer_jti = hdrs.get("x-tollgate-jti")

    hdrs, e = echoed("bearer write with a body",
                     call("POST", "/tools/demo/items", bt, body='{"name":"widget"}'))
    R.check("echo: POST body", e.get("method") == "POST" and e.get("body") == '{"name":"widget"}',
            e)
    R.check("echo: Content-Type passes", hdrs.get("content-type") == "application/json", hdrs)
    R.check("echo: write action", hdrs.get("x-tollgate-action") == "write", hdrs)

    # --- allowed: DPoP-bound (tenant agent)
    dt = token("dpop-bot", sec.get("dpop-bot", ""), "demo:read", key=key)
    hdrs, e = echoed("dpop read", call("GET", "/tools/demo/items", dt, key=key))
    R.check("echo: no DPoP header", "dpop" not in hdrs, hdrs)
    R.check("echo: dpop binding", hdrs.get("x-tollgate-binding") == "dpop", hdrs)
    R.check("echo: dpop tenant", hdrs.get("x-tollgate-tenant") == "demo", hdrs)
    R.check("echo: dpop agent type", hdrs.get("x-tollgate-agent-type") == "tenant", hdrs)

    # --- tenant spoofing: the tenant comes from the token only
    hdrs, e = echoed("tenant spoofing", call("GET", "/tools/demo/items", dt, key=key, headers={
        "X-Tenant": "evil", "X-Tollgate-Tenant": "evil", "X-Tenant-Id": "evil",
        "X-Tollgate-Agent": "root", "X-Forwarded-For": "10.6.6.6"}))
    R.check("spoof: tenant from the token", hdrs.get("x-tollgate-tenant") == "demo", hdrs)
    R.check("spoof: agent from the token", hdrs.get("x-tollgate-agent") == "dpop-bot", hdrs)
    R.check("spoof: no X-Tenant", "x-tenant" not in hdrs and "x-tenant-id" not in hdrs, hdrs)
    R.check("spoof: no forged X-Forwarded-For", hdrs.get("x-forwarded-for") == "127.0.0.1", hdrs)
    R.check("spoof: 'evil' nowhere upstream", "evil" not in json.dumps(hdrs), hdrs)

    # --- high-risk endpoint: allowed with the DPoP-bound token that names it
    dt_admin = token("dpop-bot", sec.get("dpop-bot", ""), None, key=key,
                     resource=dev["tool"]["resource"])
    hdrs, e = echoed("dpop high-risk delete", call("DELETE", "/tools/demo/items/42", dt_admin,
                                                   key=key))
    R.check("echo: DELETE /items/42", e.get("method") == "DELETE" and e.get("path") == "/items/42",
            e)
    R.check("echo: admin endpoint", hdrs.get("x-tollgate-endpoint") == "DELETE /items/{id}", hdrs)

    # --- the refusal suite
    st, h, body = call("GET", "/tools/demo/items")
    R.check("no token: 401", st == 401, f"{st} {body}")
    ch = challenge(h)
    R.check("no token: DPoP and Bearer challenges", ch.startswith("DPoP ") and ", Bearer " in ch,
            ch)
    R.check("no token: no error code (RFC 6750 §3.1)", "error=" not in ch, ch)
    R.check("no token: no error in the body", isinstance(body, dict) and "error" not in body,
            body)
    R.check("no token: algs in the DPoP challenge", 'algs="' in ch and "ES256" in ch, ch)
    R.check("no token: resource_metadata", f'resource_metadata="{PRM}demo"' in ch, ch)

    expect_deny("wrong tool (token for demo at tool2)", call("GET", "/tools/tool2/a", bt), 401,
                "invalid_token", "Bearer")
    bt2 = token("bearer-bot", sec.get("bearer-bot", ""), "tool2:read")
    expect_deny("token for another resource (audience)", call("GET", "/tools/demo/items", bt2),
                401, "invalid_token", "Bearer")
    echoed("tool2: the same token on its own tool", call("GET", "/tools/tool2/a", bt2))
    hdrs, e = echoed("tool2: upstream path prefix kept", call("GET", "/tools/tool2/a?q=1", bt2))
    R.check("tool2: upstream path", e.get("path") == "/base/a" and e.get("query") == "q=1", e)

    rt = basic_token("demo:read")
    expect_deny("wrong action", call("POST", "/tools/demo/items", rt, body="{}"), 403,
                "insufficient_scope", "Bearer", scope="demo:write")
    expect_deny("endpoint outside the token's list", call("GET", "/tools/tool2/b", bt2), 403,
                "insufficient_scope", "Bearer", scope="tool2:read")
    expect_deny("unmatched endpoint", call("GET", "/tools/demo/secrets", bt), 403,
                "insufficient_scope", "Bearer")
    expect_deny("unmatched method", call("PUT", "/tools/demo/items", bt, body="{}"), 403,
                "insufficient_scope", "Bearer")
    expect_deny("high-risk endpoint with a bearer token",
                call("DELETE", "/tools/demo/items/42", bt), 403, "insufficient_scope", "Bearer",
                scope="demo:admin")

    # DPoP binding
    expect_deny("bearer use of a DPoP-bound token",
                call("GET", "/tools/demo/items", dt, scheme="Bearer"), 401, "invalid_token",
                "Bearer")
    expect_deny("DPoP scheme without a proof", call("GET", "/tools/demo/items", dt,
                                                    proof=None, scheme="DPoP"),
                401, "invalid_dpop_proof", "DPoP")
    expect_deny("proof for another URL",
                call("GET", "/tools/demo/items", dt, key=key, htu=ISS + "/tools/demo/other"),
                401, "invalid_dpop_proof", "DPoP")
    expect_deny("proof for another host",
                call("GET", "/tools/demo/items", dt, key=key,
                     htu="http://evil.example/tools/demo/items"), 401, "invalid_dpop_proof",
                "DPoP")
    expect_deny("proof for another method",
                call("GET", "/tools/demo/items", dt, key=key, htm="POST"), 401,
                "invalid_dpop_proof", "DPoP")
    expect_deny("ath mismatch",
                call("GET", "/tools/demo/items", dt,
                     proof=dpop_proof(key, "GET", ISS + "/tools/demo/items",
                                      extra={"ath": ath(dt + "x")})),
                401, "invalid_dpop_proof", "DPoP")
    expect_deny("proof without ath",
                call("GET", "/tools/demo/items", dt,
                     proof=dpop_proof(key, "GET", ISS + "/tools/demo/items")),
                401, "invalid_dpop_proof", "DPoP")
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    expect_deny("proof signed by another key", call("GET", "/tools/demo/items", dt, key=other),
                401, "invalid_dpop_proof", "DPoP")
    p = dpop_proof(key, "GET", ISS + "/tools/demo/items", extra={"ath": ath(dt)})
    echoed("fresh proof", call("GET", "/tools/demo/items", dt, proof=p, scheme="DPoP"))
    expect_deny("replayed proof", call("GET", "/tools/demo/items", dt, proof=p, scheme="DPoP"),
                401, "invalid_dpop_proof", "DPoP")
    expect_deny("two DPoP headers",
                call("GET", "/tools/demo/items", dt, scheme="DPoP", raw_headers=[
                    ("DPoP", dpop_proof(key, "GET", ISS + "/tools/demo/items",
                                        extra={"ath": ath(dt)})),
                    ("DPoP", dpop_proof(key, "GET", ISS + "/tools/demo/items",
                                        extra={"ath": ath(dt)}))]),
                401, "invalid_dpop_proof", "DPoP")
    expect_deny("DPoP scheme with a bearer token", call("GET", "/tools/demo/items", bt,
                                                        scheme="DPoP"),
                401, "invalid_token", "DPoP")
    expect_deny("two Authorization headers",
                call("GET", "/tools/demo/items", raw_headers=[("Authorization", "Bearer " + bt),
                                                              ("Authorization", "Bearer " + bt)]),
                400, "invalid_request")
    expect_deny("garbage token", call("GET", "/tools/demo/items", "a.b.c"), 401, "invalid_token",
                "Bearer")

    # mTLS binding (RFC 8705), over the TLS listener
    mt = dev["agents"]["mtls"]
    mcert = (mt["cert_file"], mt["key_file"])
    st, _, b = srv.request("POST", "/token", {"grant_type": "client_credentials",
                                              "client_id": mt["client_id"], "scope": "demo:read"},
                           tls=True, cert=mcert)
    R.check("mtls token", st == 200, b)
    mtok = b.get("access_token", "") if isinstance(b, dict) else ""
    hdrs, e = echoed("mtls: bound certificate",
                     call("GET", "/tools/demo/items", mtok, tls=True, cert=mcert))
    R.check("mtls: binding", hdrs.get("x-tollgate-binding") == "mtls", hdrs)
    R.check("mtls: forwarded proto", hdrs.get("x-forwarded-proto") == "https", hdrs)
    # another agent's certificate, from the same dev CA
    okey, ocsr, ocrt = (os.path.join(work, n) for n in ("o.key", "o.csr", "o.pem"))
    data = os.path.dirname(dev["ca_file"])
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", okey, "-out", ocsr,
                    "-subj", "/CN=other-agent/O=Tollgate dev"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", ocsr, "-CA", dev["ca_file"], "-CAkey",
                    os.path.join(data, "ca.key"), "-CAcreateserial", "-out", ocrt, "-days", "2"],
                   check=True, capture_output=True)
    expect_deny("certificate of another agent",
                call("GET", "/tools/demo/items", mtok, tls=True, cert=(ocrt, okey)), 401,
                "invalid_token", "Bearer")
    expect_deny("certificate-bound token without a certificate",
                call("GET", "/tools/demo/items", mtok, tls=True), 401, "invalid_token", "Bearer")
    expect_deny("certificate-bound token over plain HTTP", call("GET", "/tools/demo/items", mtok),
                401, "invalid_token", "Bearer")

    # expired (max_token_lifetime 1)
    st_tok = token("short-bot", sec.get("short-bot", ""), "demo:read")
    echoed("short-lived token, fresh", call("GET", "/tools/demo/items", st_tok))
    time.sleep(2.2)
    expect_deny("expired token", call("GET", "/tools/demo/items", st_tok), 401, "invalid_token",
                "Bearer")

    # revoked
    rv_tok = token("bearer-bot", sec.get("bearer-bot", ""), "demo:read")
    echoed("before revocation", call("GET", "/tools/demo/items", rv_tok))
    st, _, b = srv.request("POST", "/revoke", {"token": rv_tok, "client_id": "bearer-bot",
                                               "client_secret": sec.get("bearer-bot", "")})
    R.check("revoke: 200", st == 200, f"{st} {b}")
    expect_deny("revoked token", call("GET", "/tools/demo/items", rv_tok), 401, "invalid_token",
                "Bearer")

    # disabled agent
    dd_tok = token("doomed-bot", sec.get("doomed-bot", ""), "demo:read")
    hdrs, _ = echoed("before disable", call("GET", "/tools/demo/items", dd_tok))
    R.check("tenant agent's own tenant", hdrs.get("x-tollgate-tenant") == "acme", hdrs)
    r = srv.cli("agent", "disable", "doomed-bot")
    R.check("agent disable", r.returncode == 0, r.stderr)
    expect_deny("disabled agent", call("GET", "/tools/demo/items", dd_tok), 401, "invalid_token",
                "Bearer")

    # path tricks: refused before any decision, or by the matcher; never forwarded
    for trick in ("/tools/demo/../demo/items", "/tools/demo/%2e%2e/demo/items",
                  "/tools/demo/items/%2E%2e", "/tools/demo/./items", "/tools/demo/items%2F42",
                  "/tools/demo/items%2f..%2f42", "/tools/demo/items%5C42"):
        expect_deny("path trick " + trick, call("DELETE", trick, dt_admin, key=key), 400,
                    "invalid_request")
    for trick in ("/tools/demo//items", "/tools/demo/items/", "/tools/demo/items//42",
                  "/tools/demo/%69tems/42/"):
        expect_deny("path trick " + trick, call("DELETE", trick, dt_admin, key=key), 403,
                    "insufficient_scope", "DPoP")
    expect_deny("double slash before the tool", call("GET", "/tools//demo/items", bt), 404,
                "invalid_request")
    expect_deny("unknown tool", call("GET", "/tools/nope/items", bt), 404, "invalid_request")

    # upstream down: 502, JSON
    dn = token("bearer-bot", sec.get("bearer-bot", ""), "down:read")
    st, h, b = call("GET", "/tools/down/x", dn)
    R.check("upstream down: 502 JSON", st == 502 and isinstance(b, dict) and
            b.get("error") == "server_error", f"{st} {b}")

    # --- /check (nginx auth_request): the same answers, nothing forwarded
    st, h, b = check("GET", "/tools/demo/items?x=1", bt)
    R.check("check: allow 200", st == 200, f"{st} {b}")
    R.check("check: X-Tollgate-Agent", h.get("x-tollgate-agent") == "demo-agent", h)
    R.check("check: X-Tollgate-Tenant", h.get("x-tollgate-tenant") == "demo", h)
    R.check("check: X-Tollgate-Action", h.get("x-tollgate-action") == "read", h)
    R.check("check: X-Tollgate-Endpoint", h.get("x-tollgate-endpoint") == "GET /items", h)
    st, h, b = check("GET", "/tools/demo/items", dt, key=key,
                     headers={"X-Tenant": "evil", "X-Tollgate-Tenant": "evil"})
    R.check("check: dpop allow", st == 200 and h.get("x-tollgate-binding") == "dpop", f"{st} {b}")
    R.check("check: tenant from the token", h.get("x-tollgate-tenant") == "demo", h)
    st, h, b = check("GET", "/tools/demo/items")
    R.check("check: no token 401 without error", st == 401 and "error=" not in challenge(h) and
            challenge(h).startswith("DPoP "), f"{st} {h}")
    expect_deny("check: wrong action", check("POST", "/tools/demo/items", rt), 403,
                "insufficient_scope", "Bearer", scope="demo:write")
    expect_deny("check: audience", check("GET", "/tools/demo/items", bt2), 401, "invalid_token",
                "Bearer")
    expect_deny("check: bearer use of a DPoP-bound token",
                check("GET", "/tools/demo/items", dt, scheme="Bearer"), 401, "invalid_token")
    expect_deny("check: proof for another URL",
                check("GET", "/tools/demo/items", dt, key=key, htu=ISS + "/tools/demo/x"), 401,
                "invalid_dpop_proof", "DPoP")
    p = dpop_proof(key, "GET", ISS + "/tools/demo/items", extra={"ath": ath(dt)})
    st, _, _ = check("GET", "/tools/demo/items", dt, proof=p, scheme="DPoP")
    R.check("check: fresh proof", st == 200, st)
    expect_deny("check: replayed proof", check("GET", "/tools/demo/items", dt, proof=p,
                                               scheme="DPoP"),
                401, "invalid_dpop_proof", "DPoP")
    expect_deny("check: revoked", check("GET", "/tools/demo/items", rv_tok), 401, "invalid_token")
    expect_deny("check: disabled agent", check("GET", "/tools/demo/items", dd_tok), 401,
                "invalid_token")
    expect_deny("check: high-risk with bearer", check("DELETE", "/tools/demo/items/1", bt), 403,
                "insufficient_scope", scope="demo:admin")
    for trick in ("/tools/demo/../demo/items", "/tools/demo/%2e%2e/items",
                  "/tools/demo/items%2F1"):
        expect_deny("check: path trick " + trick, check("GET", trick, bt), 400, "invalid_request")
    expect_deny("check: double slash", check("GET", "/tools/demo//items", bt), 403,
                "insufficient_scope")
    expect_deny("check: unknown tool", check("GET", "/tools/nope/items", bt), 404,
                "invalid_request")
    expect_deny("check: not a tool URI", check("GET", "/token", bt), 404, "invalid_request")
    st, _, b = srv.request("GET", "/check", headers={"Authorization": "Bearer " + bt})
    R.check("check: without X-Original-*: 400", st == 400 and b.get("error") == "invalid_request",
            f"{st} {b}")
    # the htu as nginx saw it: X-Forwarded-Proto and -Host
    ext = "https://api.example.com/tools/demo/items"
    st, h, b = check("GET", "/tools/demo/items", dt, key=key, htu=ext,
                     headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"})
    R.check("check: forwarded htu allowed", st == 200, f"{st} {b}")
    expect_deny("check: forwarded htu, proof for the gateway's own URL",
                check("GET", "/tools/demo/items", dt, key=key,
                      headers={"X-Forwarded-Proto": "https",
                               "X-Forwarded-Host": "api.example.com"}),
                401, "invalid_dpop_proof", "DPoP")
    st, _, b = check("GET", "/tools/demo/items", bt, headers={"X-Forwarded-Proto": "https"})
    R.check("check: proto without host: 400", st == 400, f"{st} {b}")

    # --- audit: one event per allow and per deny, with who, what and why
    with open(os.path.join(srv.data, "audit.log")) as f:
        events = [json.loads(line) for line in f if line.strip()]
    gw = [e for e in events if e.get("event", "").startswith(("gateway.", "check."))]
    allows = [e for e in gw if e["event"] == "gateway.allow"]
    denies = [e for e in gw if e["event"] == "gateway.deny"]
    R.check("audit: gateway.allow events", len(allows) >= 10, len(allows))
    R.check("audit: gateway.deny events", len(denies) >= 20, len(denies))
    R.check("audit: check.* events",
            any(e["event"] == "check.allow" for e in gw) and
            any(e["event"] == "check.deny" for e in gw), [e["event"] for e in gw])
    first = next((e for e in allows if e.get("who", {}).get("jti") == bearer_jti or
                  e.get("why", {}).get("jti") == bearer_jti or bearer_jti in json.dumps(e)), None)
    R.check("audit: the first allow names its jti", first is not None, allows[:1])
    if first is not None:
        s = json.dumps(first)
        for k in ("demo-agent", "demo", "GET", "/tools/demo/items", "read", "GET /items",
                  '"upstream_status": 200'):
            R.check("audit allow holds " + k, k in s, s)
    R.check("audit: no token in the log", bt not in json.dumps(events) and
            dt not in json.dumps(events), "a token was logged")
    wrong = [e for e in denies if "insufficient_scope" in json.dumps(e)]
    R.check("audit: deny with its error", len(wrong) > 0, denies[:2])
finally:
    rc = srv.stop()
    R.check("server exits cleanly", rc == 0, rc)

# --- server nonces (RFC 9449 §9): serve --dpop-nonce asks for them at the
# gateway too, with its own nonces.
srv = Server(BIN, ["--dpop-nonce"])
ISS = srv.issuer
PRM = ISS + "/.well-known/oauth-protected-resource/tools/"
try:
    out = apply("""version: 1
agents:
  - {id: nonce-bot, type: internal, owner: a@example.com, auth: client_secret_post,
     sender_constraint: dpop}
grants:
  - {agent: nonce-bot, tool: demo, actions: [read]}
""")
    sec = {s["client_id"]: s["client_secret"] for s in out.get("client_secrets", [])}
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    body = {"grant_type": "client_credentials", "client_id": "nonce-bot",
            "client_secret": sec.get("nonce-bot", ""), "scope": "demo:read"}
    st, h, b = srv.request("POST", "/token", body,
                           headers={"DPoP": dpop_proof(key, "POST", ISS + "/token")})
    as_nonce = h.get("dpop-nonce", "")
    st, h, b = srv.request("POST", "/token", body, headers={
        "DPoP": dpop_proof(key, "POST", ISS + "/token", extra={"nonce": as_nonce})})
    R.check("nonce: token", st == 200, f"{st} {b}")
    nt = b.get("access_token", "") if isinstance(b, dict) else ""
    url = ISS + "/tools/demo/items"
    h = expect_deny("nonce: required at the gateway",
                    call("GET", "/tools/demo/items", nt, key=key), 401, "use_dpop_nonce", "DPoP")
    gw_nonce = h.get("dpop-nonce", "")
    R.check("nonce: DPoP-Nonce sent", len(gw_nonce) == 43, h)
    hdrs, _ = echoed("nonce: the gateway's nonce is accepted",
                     call("GET", "/tools/demo/items", nt, proof=dpop_proof(
                         key, "GET", url, extra={"ath": ath(nt), "nonce": gw_nonce})))
    expect_deny("nonce: a made-up nonce",
                call("GET", "/tools/demo/items", nt, proof=dpop_proof(
                    key, "GET", url, extra={"ath": ath(nt), "nonce": "A" * 43})),
                401, "use_dpop_nonce", "DPoP")
    st, h, _ = check("GET", "/tools/demo/items", nt, key=key)
    R.check("nonce: /check asks too", st == 401 and len(h.get("dpop-nonce", "")) == 43, h)
finally:
    rc = srv.stop()
    R.check("nonce server exits cleanly", rc == 0, rc)
    subprocess.run(["rm", "-rf", work])

R.done()
