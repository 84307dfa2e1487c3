#!/usr/bin/python3
"""tollgate serve --gateway-only: a gateway with no authorization server and
no signing keys, pointed at a --dev issuer's JWKS (and, for one of the two
gateways, its introspection endpoint). Tokens of the issuer are accepted;
after `tollgate keys rotate` on the issuer, a token signed by a key the
gateway has never seen is accepted too (refetch on an unknown kid); made-up
kids do not make it refetch more than once per interval; a revoked token is
refused where introspection is configured, and still accepted until its exp
where it is not (as documented); the issuer unreachable -> 503.
Usage: test_gateway_only.py TOLLGATE_BIN"""
import base64
import http.server
import json
import os
import re
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server  # noqa: E402
from jwcrypto import jwk, jws  # noqa: E402
from jwcrypto.common import json_encode  # noqa: E402

R = Results("integration-gateway-only")
BIN = sys.argv[1]
work = tempfile.mkdtemp(prefix="tg-gwo-")


class Gateway:
    """tollgate serve --gateway-only on a free port, its own data dir."""

    def __init__(self, name, issuer, data, extra):
        self.data = data
        self.log = open(os.path.join(work, name + ".log"), "w+")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--gateway-only", "--data", data, "--listen", "127.0.0.1:0",
             "--issuer", issuer, "--jwks-uri", issuer + "/jwks", *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.base = None
        for _ in range(200):
            m = re.search(r"serving (http://127\.0\.0\.1:\d+)", self.output())
            if m:
                self.base = m.group(1)
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.base is None:
            raise RuntimeError(name + " did not start: " + self.output())

    def output(self):
        if self.log.closed:
            return self.final
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        rc = self.proc.returncode
        self.final = self.output()
        self.log.close()
        return rc


srv = Server(BIN)
stopped = False
ISS = srv.issuer
ECHO = srv.dev["echo_upstream"]
gws = []


def cli(data, *args):
    return subprocess.run([BIN, *args, "--data", data], capture_output=True, text=True,
                          timeout=60)


def call(gw, tok, path="/tools/demo/items"):
    hs = {"Authorization": "Bearer " + tok} if tok else {}
    return srv.request("GET", path, headers=hs, base=gw.base)


def allowed(name, resp, agent=None):
    st, _, b = resp
    ok = st == 200 and isinstance(b, dict) and "headers" in b
    R.check(name, ok, f"{st} {b}")
    if ok and agent:
        R.check(name + ": identity from the token",
                b["headers"].get("x-tollgate-agent") == agent, b["headers"])


def denied(name, resp, status, error):
    st, h, b = resp
    R.check(name, st == status and isinstance(b, dict) and b.get("error") == error,
            f"{st} {b} {h.get('www-authenticate', '')}")
    return h


def kid_of(tok):
    seg = tok.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))["kid"]


def jwks_kids():
    st, _, b = srv.request("GET", "/jwks")
    return {k["kid"] for k in b.get("keys", [])} if st == 200 else set()


try:
    # The issuer: agents and their grant on its demo tool.
    pol = os.path.join(work, "issuer.yaml")
    with open(pol, "w") as f:
        f.write("""version: 1
agents:
  - {id: bearer-bot, type: internal, owner: bob@example.com, auth: client_secret_post,
     sender_constraint: bearer}
  - {id: gateway-introspector, type: internal, owner: ops@example.com,
     auth: client_secret_basic, sender_constraint: bearer, introspect: true}
grants:
  - {agent: bearer-bot, tool: demo, actions: [read]}
""")
    r = srv.cli("apply", "-f", pol, "--json")
    R.check("issuer: apply", r.returncode == 0, r.stderr)
    sec = {s["client_id"]: s["client_secret"]
           for s in (json.loads(r.stdout) if r.returncode == 0 else {}).get("client_secrets", [])}
    secret_file = os.path.join(work, "introspector.secret")
    with open(secret_file, "w") as f:
        f.write(sec.get("gateway-introspector", "") + "\n")
    os.chmod(secret_file, 0o600)

    def gateway_data(name, upstream, endpoints):
        """A gateway's own data dir holding the demo tool (its resource is
        the tokens' aud) in front of `upstream`."""
        tools = os.path.join(work, name + ".yaml")
        with open(tools, "w") as f:
            f.write(f"""version: 1
tools:
  - id: demo
    resource: {srv.dev['tool']['resource']}
    upstream: {upstream}
    endpoints:
""" + "".join("      - {method: %s, path: /items, action: %s}\n" % e for e in endpoints))
        data = os.path.join(work, name + "-data")
        r = cli(data, "apply", "-f", tools)
        R.check(name + " gateway: apply tools", r.returncode == 0, r.stderr + r.stdout)
        return data

    gdata = gateway_data("gw", ECHO, [("GET", "read"), ("POST", "write")])

    plain = Gateway("plain", ISS, gdata, ["--jwks-min-interval", "2"])
    gws.append(plain)
    intro = Gateway("intro", ISS, gdata, [
        "--jwks-min-interval", "2", "--introspect", ISS + "/introspect",
        "--client-id", "gateway-introspector", "--client-secret-file", secret_file,
        "--introspect-cache", "1"])
    gws.append(intro)
    # --upstream-timeout reaches a gateway-only process: its own data dir
    # points the same tool (same resource, so the same tokens) at an
    # upstream that answers after 3 s; with a 1 s timeout the agent gets 504.
    class Slow(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            time.sleep(3)
            try:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:
                pass
    slow_srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Slow)
    slow_srv.daemon_threads = True
    threading.Thread(target=slow_srv.serve_forever, daemon=True).start()
    sdata = gateway_data("slow", "http://127.0.0.1:%d" % slow_srv.server_address[1],
                         [("GET", "read")])
    short = Gateway("short", ISS, sdata, ["--upstream-timeout", "1"])
    gws.append(short)

    R.check("gateway-only: no authorization server",
            srv.request("POST", "/token", {"grant_type": "client_credentials"},
                        base=plain.base)[0] == 404, "token endpoint answered")
    R.check("gateway-only: no JWKS of its own",
            srv.request("GET", "/jwks", base=plain.base)[0] == 404, "jwks answered")

    def token(scope="demo:read"):
        st, _, b = srv.request("POST", "/token", {
            "grant_type": "client_credentials", "client_id": "bearer-bot",
            "client_secret": sec.get("bearer-bot", ""), "scope": scope})
        R.check("issuer: token", st == 200, f"{st} {b}")
        return b.get("access_token", "") if isinstance(b, dict) else ""

    t1 = token()
    for gw in (plain, intro):
        allowed(f"{gw is intro and 'intro' or 'plain'}: issuer's token accepted",
                call(gw, t1), "bearer-bot")
    t0 = time.monotonic()
    st, _, b = call(short, t1)
    took = time.monotonic() - t0
    R.check("gateway-only --upstream-timeout 1: a 3 s upstream answers 504 in about 1 s",
            st == 504 and isinstance(b, dict) and b.get("error") == "server_error" and
            0.9 <= took < 2.5, f"{st} {b} {took:.2f}s")
    st, h, b = call(plain, None)
    ch = h.get("www-authenticate", "")
    R.check("no token: 401 with the gateway's own resource_metadata",
            st == 401 and f'resource_metadata="{plain.base}/.well-known/oauth-protected-'
            'resource/tools/demo"' in ch, f"{st} {ch}")
    st, _, md = srv.request("GET", "/.well-known/oauth-protected-resource/tools/demo",
                            base=plain.base)
    R.check("metadata names the issuer", st == 200 and md.get("authorization_servers") == [ISS],
            f"{st} {md}")
    denied("wrong action", srv.request("POST", "/tools/demo/items", "{}", base=plain.base,
                                       headers={"Authorization": "Bearer " + t1,
                                                "Content-Type": "application/json"}),
           403, "insufficient_scope")

    # --- a made-up kid: refused, and at most one JWKS fetch per interval
    fake = jwk.JWK.generate(kty="EC", crv="P-256")
    now = int(time.time())

    def forged(kid):
        s = jws.JWS(json_encode({"iss": ISS, "sub": "bearer-bot", "client_id": "bearer-bot",
                                 "aud": srv.dev["tool"]["resource"], "iat": now,
                                 "exp": now + 60, "jti": uuid.uuid4().hex,
                                 "scope": "demo:read"}))
        s.add_signature(fake, None, json_encode({"alg": "ES256", "typ": "at+jwt", "kid": kid}))
        return s.serialize(compact=True)

    time.sleep(2.1)  # past the interval of the start-up fetch
    before = plain.output().count("JWKS " + ISS + "/jwks:")
    for i in range(20):
        denied(f"unknown kid {i}: 401", call(plain, forged(f"flood-{i}")), 401, "invalid_token")
    fetched = plain.output().count("JWKS " + ISS + "/jwks:") - before
    R.check("kid flood: one JWKS fetch for 20 unknown kids", fetched == 1,
            f"{fetched} fetches\n{plain.output()[-1500:]}")

    # --- rotation at the issuer: twice, so the new signing key was never in
    # the JWKS the gateways fetched (the first rotation promotes the
    # pre-published next key).
    seen = jwks_kids()
    for _ in range(2):
        r = srv.cli("keys", "rotate")
        R.check("issuer: keys rotate", r.returncode == 0, r.stderr)
    t2, deadline = "", time.time() + 25
    while time.time() < deadline:  # the issuer reloads its keyring every 15 s
        t2 = token()
        if t2 and kid_of(t2) not in seen:
            break
        time.sleep(0.5)
    R.check("issuer signs with a key the gateways never saw", t2 and kid_of(t2) not in seen,
            f"{kid_of(t2) if t2 else None} in {seen}")
    time.sleep(2.1)  # past the flood's fetch
    allowed("plain: token of the new key accepted (refetch on unknown kid)", call(plain, t2),
            "bearer-bot")
    allowed("intro: token of the new key accepted", call(intro, t2), "bearer-bot")
    allowed("plain: the old key's token still accepted", call(plain, t1))

    # --- revocation: seen through introspection only
    t3 = token()
    allowed("intro: before revocation", call(intro, t3))
    allowed("plain: before revocation", call(plain, t3))
    st, _, b = srv.request("POST", "/revoke", {"token": t3, "client_id": "bearer-bot",
                                               "client_secret": sec.get("bearer-bot", "")})
    R.check("issuer: revoke", st == 200, f"{st} {b}")
    time.sleep(1.2)  # the introspection cache (--introspect-cache 1)
    h = denied("intro: revoked token refused", call(intro, t3), 401, "invalid_token")
    R.check("intro: revoked: challenge", 'error="invalid_token"' in h.get("www-authenticate", ""),
            h)
    allowed("plain (no introspection): revoked token accepted until its exp", call(plain, t3))
    r = srv.cli("agent", "disable", "bearer-bot")
    R.check("issuer: agent disable", r.returncode == 0, r.stderr)
    time.sleep(1.2)
    denied("intro: disabled agent refused", call(intro, t2), 401, "invalid_token")

    # --- the issuer unreachable: introspection cannot answer -> 503
    srv.stop()
    stopped = True
    time.sleep(1.2)
    st, h, b = call(intro, t1)
    R.check("intro: issuer down: 503", st == 503 and isinstance(b, dict) and
            b.get("error") == "temporarily_unavailable", f"{st} {b}")
    # (the echo upstream lived in the issuer's process: ask /check instead)
    st, h, b = srv.request("GET", "/check", base=plain.base, headers={
        "Authorization": "Bearer " + t1, "X-Original-Method": "GET",
        "X-Original-URI": "/tools/demo/items"})
    R.check("plain: issuer down, known key: /check still allows", st == 200 and
            h.get("x-tollgate-agent") == "bearer-bot", f"{st} {b}")
finally:
    for gw in gws:
        rc = gw.stop()
        R.check("gateway exits cleanly", rc == 0, f"{rc} {gw.output()[-2000:]}")
    if not stopped:
        srv.stop()
    shutil.rmtree(work, ignore_errors=True)
    master = os.path.join(work, "gw-data.master-key")
    if os.path.exists(master):
        os.unlink(master)

R.done()
