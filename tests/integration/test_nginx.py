#!/usr/bin/python3
"""A real nginx (Debian's, with auth_request) in front of the --dev demo tool,
Tollgate's /check as its external authorizer, configured with exactly the
configuration docs/gateway.md shows (docs/nginx-tollgate.conf, placeholders
replaced). A table of cases runs through nginx and directly through the
gateway (/tools/demo/... on Tollgate); both must give the same status, error
and challenge, and the tool must receive the same identity. Then the
TLS variant docs/gateway.md describes (nginx terminating TLS with client
certificates, $ssl_client_escaped_cert to Tollgate's TLS listener, Tollgate
trusting that header from nginx's address only): certificate-bound tokens,
DPoP over https, and a certificate header injected from elsewhere.
Usage: test_nginx.py TOLLGATE_BIN"""
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server, b64u, dpop_proof  # noqa: E402
from jwcrypto import jwk  # noqa: E402

NGINX = os.environ.get("TG_NGINX", "/usr/sbin/nginx")
HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(HERE, "..", "..", "docs", "nginx-tollgate.conf")

R = Results("integration-nginx")
BIN = sys.argv[1]
if not os.access(NGINX, os.X_OK):
    print(f"  FAIL {NGINX} is missing (scripts/setup.sh installs nginx-light)", file=sys.stderr)
    R.failed = 1
    R.done()
with open(CONF) as f, open(os.path.join(HERE, "..", "..", "docs", "gateway.md")) as g:
    R.check("docs/gateway.md shows docs/nginx-tollgate.conf verbatim",
            "```nginx\n" + f.read() + "```" in g.read(), "the page and the file differ")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def authority(url):
    return urllib.parse.urlsplit(url).netloc


# The TLS variant: docs/gateway.md's three replacements, each shown there
# verbatim. proxy_bind is the test's own: nginx reaches Tollgate from
# 127.0.0.2 (its --trusted-proxy), every other client here is 127.0.0.1.
TLS_EDITS = [
    ("    listen @LISTEN@;\n",
     "    listen @LISTEN@ ssl;\n"
     "    ssl_certificate        @TLS_CERT@;\n"
     "    ssl_certificate_key    @TLS_KEY@;\n"
     "    ssl_client_certificate @AGENTS_CA@;\n"
     "    ssl_verify_client      optional;\n"),
    ("        proxy_pass http://tollgate/check;\n",
     "        proxy_pass https://tollgate/check;\n"
     "        proxy_ssl_trusted_certificate @TOLLGATE_CA@;\n"
     "        proxy_ssl_verify on;\n"
     "        proxy_ssl_name   @TOLLGATE_NAME@;\n"
     "        proxy_ssl_session_reuse on;\n"),
    ('        proxy_set_header X-SSL-Client-Cert "";\n',
     "        proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;\n"),
]
with open(os.path.join(HERE, "..", "..", "docs", "gateway.md")) as g:
    page = g.read()
for i, (_, new) in enumerate(TLS_EDITS):
    R.check(f"docs/gateway.md shows TLS change {i + 1} verbatim",
            "```nginx\n" + new + "```" in page, new)


class Nginx:
    """nginx in the foreground, one process, everything it writes in `dir`.
    `tls`: the TLS variant, with the values of its placeholders."""

    def __init__(self, dir, tollgate, backend, tls=None):
        self.dir = dir
        self.port = free_port()
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        with open(CONF) as f:
            conf = f.read()
        if tls:
            for old, new in TLS_EDITS:
                R.check("config: TLS change applies once", conf.count(old) == 1, old)
                conf = conf.replace(old, new)
            conf = conf.replace("        proxy_pass https://tollgate/check;\n",
                                "        proxy_pass https://tollgate/check;\n"
                                "        proxy_bind 127.0.0.2;\n")
            for k, v in tls.items():
                conf = conf.replace(k, v)
        for k, v in (("@TOLLGATE@", tollgate), ("@DEMO_BACKEND@", backend),
                     ("@LISTEN@", f"127.0.0.1:{self.port}"),
                     ("@PUBLIC_HOST@", f"127.0.0.1:{self.port}")):
            conf = conf.replace(k, v)
        R.check("config: every placeholder replaced", "@" not in conf.replace("@tollgate_", ""),
                conf)
        with open(os.path.join(dir, "tollgate.conf"), "w") as f:
            f.write(conf)
        temps = "\n".join(f"    {n}_temp_path {dir}/{n};" for n in
                          ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(os.path.join(dir, "nginx.conf"), "w") as f:
            f.write(f"""daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
{temps}
    include {dir}/tollgate.conf;
}}
""")
        t = subprocess.run([NGINX, "-t", "-p", dir, "-c", os.path.join(dir, "nginx.conf")],
                           capture_output=True, text=True)
        R.check("nginx -t accepts the documented configuration", t.returncode == 0, t.stderr)
        self.log = open(os.path.join(dir, "nginx.out"), "w+")
        self.proc = subprocess.Popen([NGINX, "-p", dir, "-c", os.path.join(dir, "nginx.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        if self.proc.poll() is not None:
            raise RuntimeError("nginx exited: " + self.errors())

    def errors(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=5)
        self.log.close()
        return self.proc.returncode


def request(base, method, path, headers=None, body=None, ca=None, cert=None, source=None):
    """(status, every header as a lower-cased list of pairs, body parsed).
    https: the server verified against `ca`, `cert` (cert, key) presented;
    `source`: the local address to connect from."""
    u = urllib.parse.urlsplit(base)
    src = (source, 0) if source else None
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca)
        if cert:
            ctx.load_cert_chain(*cert)
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10,
                                        source_address=src)
    else:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10, source_address=src)
    c.putrequest(method, path, skip_accept_encoding=True)
    hs = dict(headers or {})
    if body is not None:
        body = body.encode()
        hs.setdefault("Content-Type", "application/json")
        hs["Content-Length"] = str(len(body))
    for k, v in hs.items():
        c.putheader(k, v)
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    pairs = [(k.lower(), v) for k, v in r.getheaders()]
    c.close()
    try:
        parsed = json.loads(data)
    except Exception:
        parsed = data.decode(errors="replace")
    return r.status, pairs, parsed


def jwt_claims(token):
    """The claims of a JWT, unverified (the binding is what is looked at)."""
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except Exception:
        return {}


def ath(token):
    return b64u(hashlib.sha256(token.encode()).digest())


work = tempfile.mkdtemp(prefix="tg-nginx-")
srv = Server(BIN)
ngx = None
dev = srv.dev
ISS = srv.issuer
try:
    ngx = Nginx(work, authority(ISS), authority(dev["echo_upstream"]))
    NG = ngx.base

    def apply(yaml_text):
        path = os.path.join(work, "policy-%s.yaml" % uuid.uuid4().hex[:6])
        with open(path, "w") as f:
            f.write(yaml_text)
        r = srv.cli("apply", "-f", path, "--json")
        R.check("apply", r.returncode == 0, r.stderr)
        return json.loads(r.stdout) if r.returncode == 0 else {}

    out = apply("""version: 1
agents:
  - {id: dpop-bot, type: tenant, tenant: demo, owner: alice@example.com,
     auth: client_secret_post, sender_constraint: dpop}
  - {id: bearer-bot, type: internal, owner: bob@example.com, auth: client_secret_post,
     sender_constraint: bearer}
grants:
  - {agent: dpop-bot, tool: demo, actions: [read, write]}
  - {agent: bearer-bot, tool: demo, actions: [read]}
""")
    sec = {s["client_id"]: s["client_secret"] for s in out.get("client_secrets", [])}
    key = jwk.JWK.generate(kty="EC", crv="P-256")

    def token(cid, scope, dpop_key=None, basic=False):
        body = {"grant_type": "client_credentials", "scope": scope}
        hs = {}
        if basic:
            hs.update(srv.basic())
        else:
            body.update(client_id=cid, client_secret=sec.get(cid, ""))
        if dpop_key is not None:
            hs["DPoP"] = dpop_proof(dpop_key, "POST", ISS + "/token")
        st, _, b = srv.request("POST", "/token", body, headers=hs)
        R.check(f"token {cid} {scope}", st == 200, f"{st} {b}")
        return b.get("access_token", "") if isinstance(b, dict) else ""

    bt = token("demo-agent", "demo:read", basic=True)           # bearer allowed
    bw = token("demo-agent", "demo:read demo:write", basic=True)
    dt = token("dpop-bot", "demo:read demo:write", dpop_key=key)  # DPoP-bound
    rv = token("bearer-bot", "demo:read")

    def run(base, method, path, tok=None, scheme=None, dpop=False, proof=None, headers=None,
            body=None):
        """One call at `base` (nginx or Tollgate); a fresh DPoP proof for the URL
        as this client uses it when `dpop`."""
        hs = dict(headers or {})
        if tok is not None:
            hs["Authorization"] = f"{scheme or ('DPoP' if dpop or proof else 'Bearer')} {tok}"
        if dpop and proof is None:
            url = base + urllib.parse.urlsplit(path).path
            proof = dpop_proof(key, method, url, extra={"ath": ath(tok)})
        if proof is not None:
            hs["DPoP"] = proof
        return request(base, method, path, hs, body)

    def one(pairs, name):
        v = [val for k, val in pairs if k == name]
        return v

    def identity(body):
        h = body.get("headers", {}) if isinstance(body, dict) else {}
        return {k: v for k, v in h.items() if k.startswith("x-tollgate-")}

    def same_allow(name, a, b, expect=None):
        """Both reached the echo; the tool saw the same request and identity."""
        (sa, _, ea), (sb, _, eb) = a, b
        ok_a = sa == 200 and isinstance(ea, dict) and "headers" in ea
        ok_b = sb == 200 and isinstance(eb, dict) and "headers" in eb
        R.check(name + ": allowed through nginx", ok_a, f"{sa} {ea} {ngx.errors()[-800:]}")
        R.check(name + ": allowed by the gateway", ok_b, f"{sb} {eb}")
        if not (ok_a and ok_b):
            return {}
        for k in ("method", "path", "query", "body"):
            R.check(f"{name}: same {k} upstream", ea.get(k) == eb.get(k),
                    f"{ea.get(k)!r} vs {eb.get(k)!r}")
        ia, ib = identity(ea), identity(eb)
        R.check(name + ": same identity headers upstream", ia == ib and len(ia) >= 8,
                f"{ia} vs {ib}")
        for k, v in (expect or {}).items():
            R.check(f"{name}: {k}", ia.get(k) == v, ia)
        for h in ("authorization", "dpop", "cookie"):
            R.check(f"{name}: no {h} upstream (nginx)", h not in ea["headers"], ea["headers"])
        return ea["headers"]

    def same_deny(name, a, b, status, error):
        """Same status, error and challenge (and DPoP-Nonce presence)."""
        (sa, ha, ba), (sb, hb, bb) = a, b
        ca, cb = one(ha, "www-authenticate"), one(hb, "www-authenticate")
        R.check(f"{name}: {status} through nginx", sa == status, f"{sa} {ba}")
        R.check(f"{name}: {status} from the gateway", sb == status, f"{sb} {bb}")
        ea = ba.get("error") if isinstance(ba, dict) else "<not JSON>"
        eb = bb.get("error") if isinstance(bb, dict) else "<not JSON>"
        R.check(f"{name}: error {error}", ea == error and eb == error, f"{ea} vs {eb}")
        R.check(f"{name}: one challenge each", len(ca) == 1 and len(cb) == 1, f"{ca} vs {cb}")
        R.check(f"{name}: the same challenge", ca == cb, f"{ca} vs {cb}")
        if error is not None:
            R.check(f"{name}: challenge names the error", bool(ca) and
                    f'error="{error}"' in ca[0], ca)
        R.check(f"{name}: same DPoP-Nonce presence",
                len(one(ha, "dpop-nonce")) == len(one(hb, "dpop-nonce")), f"{ha} vs {hb}")
        R.check(f"{name}: not forwarded", not (isinstance(ba, dict) and "headers" in ba), ba)
        return ca[0] if ca else ""

    def both(method, path, **kw):
        return run(NG, method, path, **kw), run(ISS, method, path, **kw)

    # --- allowed
    same_allow("bearer read", *both("GET", "/tools/demo/items?x=1&y=%20z", tok=bt),
               expect={"x-tollgate-agent": "demo-agent", "x-tollgate-tenant": "demo",
                       "x-tollgate-action": "read", "x-tollgate-endpoint": "GET /items",
                       "x-tollgate-binding": "bearer", "x-tollgate-scope": "demo:read"})
    same_allow("bearer write with a body",
               *both("POST", "/tools/demo/items", tok=bw, body='{"name":"widget"}'),
               expect={"x-tollgate-action": "write"})
    same_allow("dpop read (proof for the URL the client used)",
               *both("GET", "/tools/demo/items", tok=dt, dpop=True),
               expect={"x-tollgate-agent": "dpop-bot", "x-tollgate-binding": "dpop",
                       "x-tollgate-agent-type": "tenant"})

    # --- tenant spoofing: only the token's tenant reaches the tool
    spoof = {"X-Tenant": "evil", "X-Tenant-Id": "evil", "X-Tollgate-Tenant": "evil",
             "X-Tollgate-Agent": "root", "X-Forwarded-For": "10.6.6.6", "Cookie": "s=evil",
             "X-Request-Id": "r-1"}
    up = same_allow("tenant header spoofing", *both("GET", "/tools/demo/items", tok=dt,
                                                     dpop=True, headers=spoof),
                    expect={"x-tollgate-tenant": "demo", "x-tollgate-agent": "dpop-bot"})
    R.check("spoof: 'evil' nowhere upstream (nginx)", "evil" not in json.dumps(up), up)
    R.check("spoof: X-Forwarded-For is nginx's peer", up.get("x-forwarded-for") == "127.0.0.1",
            up)
    R.check("spoof: an allowlisted header passes", up.get("x-request-id") == "r-1", up)

    # --- refusals: the same status, error and challenge
    ch = same_deny("no token", *both("GET", "/tools/demo/items"), 401, None)
    R.check("no token: DPoP and Bearer challenges, no error",
            ch.startswith("DPoP ") and ", Bearer " in ch and "error=" not in ch, ch)
    same_deny("wrong action", *both("POST", "/tools/demo/items", tok=bt, body="{}"), 403,
              "insufficient_scope")
    same_deny("endpoint not in the table", *both("GET", "/tools/demo/secrets", tok=bt), 403,
              "insufficient_scope")
    same_deny("high-risk endpoint with a bearer token",
              *both("DELETE", "/tools/demo/items/42", tok=bt), 403, "insufficient_scope")
    same_deny("bound token used as bearer",
              *both("GET", "/tools/demo/items", tok=dt, scheme="Bearer"), 401, "invalid_token")
    same_deny("garbage token", *both("GET", "/tools/demo/items", tok="a.b.c"), 401,
              "invalid_token")
    # The proof names the URL the client used: nginx's, not Tollgate's own.
    p_gw = dpop_proof(key, "GET", ISS + "/tools/demo/items", extra={"ath": ath(dt)})
    st, h, b = run(NG, "GET", "/tools/demo/items", tok=dt, proof=p_gw)
    R.check("proof for Tollgate's URL sent to nginx: 401 invalid_dpop_proof",
            st == 401 and isinstance(b, dict) and b.get("error") == "invalid_dpop_proof" and
            'error="invalid_dpop_proof"' in "".join(one(h, "www-authenticate")), f"{st} {b}")
    # replay: a proof used once, then again
    pn = dpop_proof(key, "GET", NG + "/tools/demo/items", extra={"ath": ath(dt)})
    pg = dpop_proof(key, "GET", ISS + "/tools/demo/items", extra={"ath": ath(dt)})
    a1, b1 = run(NG, "GET", "/tools/demo/items", tok=dt, proof=pn), \
        run(ISS, "GET", "/tools/demo/items", tok=dt, proof=pg)
    same_allow("first use of a proof", a1, b1)
    same_deny("replayed proof", run(NG, "GET", "/tools/demo/items", tok=dt, proof=pn),
              run(ISS, "GET", "/tools/demo/items", tok=dt, proof=pg), 401, "invalid_dpop_proof")
    # revoked
    same_allow("before revocation", *both("GET", "/tools/demo/items", tok=rv))
    st, _, b = srv.request("POST", "/revoke", {"token": rv, "client_id": "bearer-bot",
                                               "client_secret": sec.get("bearer-bot", "")})
    R.check("revoke: 200", st == 200, f"{st} {b}")
    same_deny("revoked token", *both("GET", "/tools/demo/items", tok=rv), 401, "invalid_token")

    # --- what nginx cannot pass on: /check's 400 and 404 become auth_request's
    # 500 (still refused, never forwarded)
    for trick in ("/tools/demo/../demo/items", "/tools/demo/%2e%2e/demo/items",
                  "/tools/demo/items%2F42"):
        st, _, b = run(NG, "GET", trick, tok=bt)
        sg, _, bg = run(ISS, "GET", trick, tok=bt)
        R.check("path trick " + trick + ": refused by both",
                st == 500 and sg == 400 and not (isinstance(b, dict) and "headers" in b),
                f"nginx {st} {b}, gateway {sg} {bg}")

    # --- /check's audit events came from nginx's subrequests
    with open(os.path.join(srv.data, "audit.log")) as f:
        events = [json.loads(line) for line in f if line.strip()]
    R.check("audit: check.allow and check.deny from nginx",
            any(e.get("event") == "check.allow" for e in events) and
            any(e.get("event") == "check.deny" for e in events),
            sorted({e.get("event") for e in events}))
finally:
    if ngx is not None:
        rc = ngx.stop()
        R.check("nginx stops on QUIT", rc == 0, rc)
    rc = srv.stop()
    R.check("server exits cleanly", rc == 0, rc)
    shutil.rmtree(work, ignore_errors=True)

# --- server nonces (RFC 9449 §9): serve --dpop-nonce; the 401 use_dpop_nonce
# and its DPoP-Nonce reach the client through nginx, and a nonce obtained
# through nginx is accepted there.
srv = Server(BIN, ["--dpop-nonce"])
ngx = None
ISS = srv.issuer
os.makedirs(work, exist_ok=True)
try:
    ngx = Nginx(work, authority(ISS), authority(srv.dev["echo_upstream"]))
    NG = ngx.base
    path = os.path.join(work, "nonce.yaml")
    with open(path, "w") as f:
        f.write("""version: 1
agents:
  - {id: nonce-bot, type: internal, owner: a@example.com, auth: client_secret_post,
     sender_constraint: dpop}
grants:
  - {agent: nonce-bot, tool: demo, actions: [read]}
""")
    r = srv.cli("apply", "-f", path, "--json")
    R.check("nonce: apply", r.returncode == 0, r.stderr)
    sec = {s["client_id"]: s["client_secret"]
           for s in (json.loads(r.stdout) if r.returncode == 0 else {}).get("client_secrets", [])}
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    body = {"grant_type": "client_credentials", "client_id": "nonce-bot",
            "client_secret": sec.get("nonce-bot", ""), "scope": "demo:read"}
    st, h, b = srv.request("POST", "/token", body,
                           headers={"DPoP": dpop_proof(key, "POST", ISS + "/token")})
    st, h, b = srv.request("POST", "/token", body, headers={"DPoP": dpop_proof(
        key, "POST", ISS + "/token", extra={"nonce": h.get("dpop-nonce", "")})})
    R.check("nonce: token", st == 200, f"{st} {b}")
    nt = b.get("access_token", "") if isinstance(b, dict) else ""
    url = NG + "/tools/demo/items"
    hs = {"Authorization": "DPoP " + nt,
          "DPoP": dpop_proof(key, "GET", url, extra={"ath": ath(nt)})}
    st, h, b = request(NG, "GET", "/tools/demo/items", hs)
    nonce = [v for k, v in h if k == "dpop-nonce"]
    ch = "".join(v for k, v in h if k == "www-authenticate")
    R.check("nonce: 401 use_dpop_nonce through nginx",
            st == 401 and isinstance(b, dict) and b.get("error") == "use_dpop_nonce" and
            'error="use_dpop_nonce"' in ch, f"{st} {b} {h}")
    R.check("nonce: one DPoP-Nonce through nginx", len(nonce) == 1 and len(nonce[0]) == 43, h)
    hs["DPoP"] = dpop_proof(key, "GET", url, extra={"ath": ath(nt),
                                                     "nonce": nonce[0] if nonce else ""})
    st, h, b = request(NG, "GET", "/tools/demo/items", hs)
    R.check("nonce: the nonce from nginx's answer is accepted",
            st == 200 and isinstance(b, dict) and
            b.get("headers", {}).get("x-tollgate-binding") == "dpop", f"{st} {b}")
finally:
    if ngx is not None:
        rc = ngx.stop()
        R.check("nonce: nginx stops on QUIT", rc == 0, rc)
    rc = srv.stop()
    R.check("nonce: server exits cleanly", rc == 0, rc)
    shutil.rmtree(work, ignore_errors=True)

# --- TLS and certificate-bound tokens (RFC 8705): nginx terminates TLS with
# optional client certificates and passes $ssl_client_escaped_cert to
# Tollgate's TLS listener, which trusts that header from 127.0.0.2 only.
srv = Server(BIN, ["--trusted-proxy", "127.0.0.2"])
ngx = None
dev = srv.dev
ISS = srv.issuer
CA = dev["ca_file"]
data = os.path.dirname(CA)
os.makedirs(work, exist_ok=True)
try:
    ngx = Nginx(work, authority(srv.mtls_base), authority(dev["echo_upstream"]), tls={
        "@TLS_CERT@": os.path.join(data, "server.pem"),
        "@TLS_KEY@": os.path.join(data, "server.key"),
        "@AGENTS_CA@": CA, "@TOLLGATE_CA@": CA, "@TOLLGATE_NAME@": "localhost"})
    NG = ngx.base
    R.check("tls: nginx serves https", NG.startswith("https://"), NG)
    mt = dev["agents"]["mtls"]
    mcert = (mt["cert_file"], mt["key_file"])
    st, _, b = srv.request("POST", "/token", {"grant_type": "client_credentials",
                                              "client_id": mt["client_id"], "scope": "demo:read"},
                           tls=True, cert=mcert)
    R.check("tls: mtls token", st == 200, b)
    mtok = b.get("access_token", "") if isinstance(b, dict) else ""
    # another agent's certificate from the same CA (so nginx accepts it)
    okey, ocsr, ocrt = (os.path.join(work, n) for n in ("o.key", "o.csr", "o.pem"))
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", okey, "-out", ocsr,
                    "-subj", "/CN=other-agent/O=Tollgate dev"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", ocsr, "-CA", CA, "-CAkey",
                    os.path.join(data, "ca.key"), "-CAcreateserial", "-out", ocrt, "-days", "2"],
                   check=True, capture_output=True)
    bearer = {"Authorization": "Bearer " + mtok}

    def tls_call(path="/tools/demo/items", headers=None, cert=None, base=None, source=None,
                 method="GET"):
        return request(base or NG, method, path, headers, ca=CA, cert=cert, source=source)

    st, h, b = tls_call(headers=bearer, cert=mcert)
    up = b.get("headers", {}) if isinstance(b, dict) else {}
    R.check("tls: certificate-bound token with its certificate through nginx: 200",
            st == 200 and up.get("x-tollgate-binding") == "mtls" and
            up.get("x-tollgate-client-id") == mt["client_id"], f"{st} {b} {ngx.errors()[-800:]}")
    R.check("tls: the tool sees https", up.get("x-forwarded-proto") == "https", up)
    for name, cert in (("another agent's certificate", (ocrt, okey)), ("no certificate", None)):
        st, h, b = tls_call(headers=bearer, cert=cert)
        ch = "".join(v for k, v in h if k == "www-authenticate")
        R.check(f"tls: certificate-bound token with {name}: 401 invalid_token",
                st == 401 and 'error="invalid_token"' in ch and
                not (isinstance(b, dict) and "headers" in b), f"{st} {h} {b}")

    # DPoP through TLS nginx: the proof names https://<public host>/...
    out = {}
    path = os.path.join(work, "tls.yaml")
    with open(path, "w") as f:
        f.write("""version: 1
agents:
  - {id: tls-dpop-bot, type: internal, owner: a@example.com, auth: client_secret_post,
     sender_constraint: dpop}
grants:
  - {agent: tls-dpop-bot, tool: demo, actions: [read]}
""")
    r = srv.cli("apply", "-f", path, "--json")
    R.check("tls: apply", r.returncode == 0, r.stderr)
    sec = {s["client_id"]: s["client_secret"]
           for s in (json.loads(r.stdout) if r.returncode == 0 else {}).get("client_secrets", [])}
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    st, _, b = srv.request("POST", "/token", {
        "grant_type": "client_credentials", "client_id": "tls-dpop-bot",
        "client_secret": sec.get("tls-dpop-bot", ""), "scope": "demo:read"},
        headers={"DPoP": dpop_proof(key, "POST", ISS + "/token")})
    R.check("tls: dpop token", st == 200, f"{st} {b}")
    dtok = b.get("access_token", "") if isinstance(b, dict) else ""
    url = NG + "/tools/demo/items"
    st, h, b = tls_call(headers={"Authorization": "DPoP " + dtok, "DPoP": dpop_proof(
        key, "GET", url, extra={"ath": ath(dtok)})})
    R.check("tls: DPoP through TLS nginx (htu https://...): 200",
            st == 200 and isinstance(b, dict) and
            b.get("headers", {}).get("x-tollgate-binding") == "dpop", f"{st} {b}")
    st, h, b = tls_call(headers={"Authorization": "DPoP " + dtok, "DPoP": dpop_proof(
        key, "GET", url.replace("https://", "http://"), extra={"ath": ath(dtok)})})
    R.check("tls: DPoP proof for http:// through TLS nginx: 401 invalid_dpop_proof",
            st == 401 and isinstance(b, dict) and b.get("error") == "invalid_dpop_proof",
            f"{st} {b}")

    # A certificate header sent straight to Tollgate from an untrusted
    # address (127.0.0.1) is ignored; from 127.0.0.2 (the trusted proxy) it
    # is honoured, so the address alone makes the difference.
    with open(mt["cert_file"]) as f:
        esc = urllib.parse.quote(f.read(), safe="")
    inj = dict(bearer, **{"X-SSL-Client-Cert": esc})
    st, h, b = tls_call(base=srv.mtls_base, headers=inj, source="127.0.0.1")
    R.check("tls: injected certificate header from 127.0.0.1 (TLS listener) ignored: 401",
            st == 401, f"{st} {b}")
    chk = dict(inj, **{"X-Original-Method": "GET", "X-Original-URI": "/tools/demo/items"})
    st, h, b = tls_call("/check", base=srv.mtls_base, headers=chk, source="127.0.0.1")
    R.check("tls: injected certificate header on /check from 127.0.0.1 ignored: 401",
            st == 401, f"{st} {b}")
    st, h, b = request(ISS, "GET", "/check", chk, source="127.0.0.1")
    R.check("tls: injected certificate header on the plain /check ignored: 401", st == 401,
            f"{st} {b}")
    st, h, b = tls_call("/check", base=srv.mtls_base, headers=chk, source="127.0.0.2")
    R.check("tls: the same header from the trusted proxy address: 200",
            st == 200 and dict(h).get("x-tollgate-binding") == "mtls", f"{st} {b}")
    st, h, b = tls_call("/check", base=srv.mtls_base, source="127.0.0.2", headers=dict(
        chk, **{"X-SSL-Client-Cert": urllib.parse.quote(open(ocrt).read(), safe="")}))
    R.check("tls: another agent's certificate from the trusted proxy: 401", st == 401,
            f"{st} {b}")
    # A proxy that terminates TLS and talks plain HTTP to Tollgate on
    # loopback: the plain listener checks a passed certificate against the
    # same client CA as the TLS one (RFC 8705 §3 binding, §2.1 PKI auth).
    st, h, b = request(ISS, "GET", "/check", chk, source="127.0.0.2")
    R.check("plain: certificate header from the trusted proxy on the plain /check: 200",
            st == 200 and dict(h).get("x-tollgate-binding") == "mtls", f"{st} {b}")
    form = urllib.parse.urlencode({"grant_type": "client_credentials",
                                   "client_id": mt["client_id"], "scope": "demo:read"})
    fh = {"Content-Type": "application/x-www-form-urlencoded", "X-SSL-Client-Cert": esc}
    st, h, b = request(ISS, "POST", "/token", fh, body=form, source="127.0.0.2")
    R.check("plain: tls_client_auth with the certificate from the trusted proxy: 200, bound",
            st == 200 and isinstance(b, dict) and b.get("token_type") == "Bearer" and
            jwt_claims(b.get("access_token", "")).get("cnf", {}).get("x5t#S256"), f"{st} {b}")
    st, h, b = request(ISS, "POST", "/token", fh, body=form, source="127.0.0.1")
    R.check("plain: the same certificate header from 127.0.0.1: 401 invalid_client",
            st == 401 and isinstance(b, dict) and b.get("error") == "invalid_client",
            f"{st} {b}")
    st, h, b = request(ISS, "POST", "/token", dict(fh, **{"X-SSL-Client-Cert": urllib.parse.quote(
        open(ocrt).read(), safe="")}), body=form, source="127.0.0.2")
    R.check("plain: another certificate of the same CA for the mTLS agent: 401 invalid_client",
            st == 401 and isinstance(b, dict) and b.get("error") == "invalid_client",
            f"{st} {b}")
finally:
    if ngx is not None:
        rc = ngx.stop()
        R.check("tls: nginx stops on QUIT", rc == 0, rc)
    rc = srv.stop()
    R.check("tls: server exits cleanly", rc == 0, rc)
    shutil.rmtree(work, ignore_errors=True)

R.done()
