"""Shared helpers for Tollgate's integration tests: start `tollgate serve
--dev` on free loopback ports in a temporary data dir, talk HTTP(S) to it,
make DPoP proofs with jwcrypto (an independent JOSE implementation)."""
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

from jwcrypto import jwk, jws, jwt
from jwcrypto.common import json_encode


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Results:
    def __init__(self, suite):
        self.suite, self.passed, self.failed = suite, 0, 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"  FAIL {name}: {detail}", file=sys.stderr)
        return cond

    def done(self):
        print(f"{self.suite}: {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


class Server:
    def __init__(self, binary, extra_args=(), reuse_dir=None, prepare=None):
        """reuse_dir: the dir of a server stopped with keep=True (its data
        dir, keys and agents); prepare(data_dir) runs before it starts."""
        self.binary = binary
        self.dir = reuse_dir or tempfile.mkdtemp(prefix="tg-it-")
        self.data = os.path.join(self.dir, "data")
        if prepare is not None:
            prepare(self.data)
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "serve", "--dev", "--data", self.data, "--listen", "127.0.0.1:0",
             "--tls-listen", "127.0.0.1:0", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        dev = os.path.join(self.data, "dev.json")
        for _ in range(200):
            if os.path.exists(dev) and self._ready():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.output())
            time.sleep(0.05)
        else:
            raise RuntimeError("server did not start: " + self.output())
        with open(dev) as f:
            self.dev = json.load(f)
        self.issuer = self.dev["issuer"]
        self.mtls_base = self.dev["mtls_base"]

    def _ready(self):
        try:
            with open(os.path.join(self.data, "dev.json")) as f:
                d = json.load(f)
            u = urllib.parse.urlsplit(d["issuer"])
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
            c.request("GET", "/.well-known/oauth-authorization-server")
            return c.getresponse().status == 200
        except Exception:
            return False

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def cli(self, *args, input=None):
        return subprocess.run([self.binary, *args, "--data", self.data], input=input,
                              capture_output=True, text=True, timeout=60)

    def stop(self, keep=False):
        """keep: leave the dir for Server(reuse_dir=...)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        rc = self.proc.returncode
        if keep:
            return rc
        shutil.rmtree(self.dir, ignore_errors=True)
        master = self.data + ".master-key"
        if os.path.exists(master):
            os.unlink(master)
        return rc

    def request(self, method, path, body=None, headers=None, tls=False, cert=None, base=None,
                raw_headers=None):
        """Returns (status, headers dict lowercased, parsed JSON or text)."""
        u = urllib.parse.urlsplit(base or (self.mtls_base if tls else self.issuer))
        if u.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.dev["ca_file"])
            if cert:
                ctx.load_cert_chain(*cert)
            c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
        else:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body, doseq=True)
        if isinstance(body, str):
            body = body.encode()
        c.putrequest(method, path)
        hs = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        hs.update(headers or {})
        for k, v in hs.items():
            if v is not None:
                c.putheader(k, v)
        for k, v in raw_headers or []:
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        try:
            parsed = json.loads(data)
        except Exception:
            parsed = data.decode(errors="replace")
        c.close()
        return r.status, hdrs, parsed

    def basic(self, cid=None, secret=None):
        cid = cid or self.dev["agents"]["secret"]["client_id"]
        secret = secret or self.dev["agents"]["secret"]["client_secret"]
        raw = (urllib.parse.quote(cid, safe="") + ":" + urllib.parse.quote(secret, safe=""))
        return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}

    def jwks(self):
        st, _, body = self.request("GET", "/jwks")
        return jwk.JWKSet.from_json(json.dumps(body))


def dpop_proof(key, htm, htu, iat=None, jti=None, extra=None, header=None, alg="ES256",
               drop=()):
    claims = {"jti": jti or str(uuid.uuid4()), "htm": htm, "htu": htu,
              "iat": int(time.time()) if iat is None else iat}
    claims.update(extra or {})
    for k in drop:
        claims.pop(k, None)
    hdr = {"typ": "dpop+jwt", "alg": alg, "jwk": json.loads(key.export_public())}
    hdr.update(header or {})
    s = jws.JWS(json_encode(claims))
    s.add_signature(key, None, json_encode(hdr))
    return s.serialize(compact=True)


def verify_access_token(srv, token):
    """Verify with the JWKS (jwcrypto) and return (header, claims)."""
    keys = srv.jwks()
    t = jwt.JWT(jwt=token, key=keys, algs=["ES256", "ES384", "EdDSA", "RS256", "PS256"])
    hdr = json.loads(t.header)
    return hdr, json.loads(t.claims)


def thumbprint(key):
    return key.thumbprint()
