#!/usr/bin/python3
"""Helpers for bench/peers (see bench/README.md, "Side by side with the peers").

  peers.py glewlwyd-db DBFILE
      create Glewlwyd's SQLite database from Debian's init script
      (/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz: all tables, the
      default modules and the `admin`/`password` administrator)
  peers.py glewlwyd-provision BASE_URL RESOURCE CLIENT_ID SECRET KEY_PEM PUB_PEM ITER
      configure a running Glewlwyd through its admin REST API (API.md):
      the client module's PBKDF2 iterations, the scope, the client and the
      OpenID Connect plugin instance (ES256 JWT access tokens, 300 s, DPoP)
  peers.py check NAME TOKEN_RESPONSE JWKS_URL ISSUER AUDIENCE [PROOF]
      verify one token response: the access token's ES256 signature against
      the server's JWKS (jwcrypto), iss, aud, exp - iat == 300 and, with a
      DPoP proof, cnf.jkt == the proof key's RFC 7638 thumbprint
Only the Python standard library and Debian's python3-jwcrypto are used.
"""
import base64
import gzip
import http.cookiejar
import json
import os
import sqlite3
import sys
import urllib.request

INIT_SQL = "/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz"
SCOPE = "demo:read"
LIFETIME = 300
WAL = os.environ.get("PEERS_GLEWLWYD_WAL", "1") == "1"


def glewlwyd_db(path):
    with gzip.open(INIT_SQL, "rt", encoding="utf-8") as f:
        script = f.read()
    db = sqlite3.connect(path)
    db.executescript(script)
    db.commit()
    # WAL, as Tollgate's own SQLite store (journal_mode is persistent, so
    # Glewlwyd inherits it; it cannot be given synchronous=NORMAL the same
    # way, so it keeps SQLite's default, FULL). See bench/README.md.
    if WAL:
        db.execute("PRAGMA journal_mode = WAL")
    db.close()


class Admin:
    """A logged-in session on Glewlwyd's admin API (session cookie)."""

    def __init__(self, base):
        self.base = base.rstrip("/") + "/api"
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.call("POST", "/auth/", {"username": "admin", "password": "password"})

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(req, timeout=10) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raise SystemExit(f"glewlwyd admin API: {method} {path}: HTTP {e.code}: "
                             f"{e.read().decode(errors='replace')[:300]}")
        return json.loads(text) if text.strip() else None


def glewlwyd_provision(base, resource, client_id, secret, key_pem, pub_pem, iterations):
    adm = Admin(base)
    # 1. Client secrets: the database client module hashes them with
    #    PBKDF2-HMAC-SHA256, 150,000 iterations unless told otherwise, and
    #    re-derives the hash on every token request. See bench/README.md for
    #    why the benchmark sets it (default 1: one HMAC, like Tollgate's).
    mod = adm.call("GET", "/mod/client/database")
    params = mod.get("parameters", {})
    params["pbkdf2-iterations"] = int(iterations)
    adm.call("PUT", "/mod/client/database", {
        "module": mod["module"], "name": mod["name"], "display_name": mod.get("display_name", ""),
        "order_rank": mod.get("order_rank", 0), "readonly": mod.get("readonly", False),
        "parameters": params})
    adm.call("PUT", "/mod/client/database/reset")
    # 2. The scope (no password needed: client_credentials only).
    adm.call("POST", "/scope/", {"name": SCOPE, "display_name": SCOPE, "description": "bench",
                                 "password_required": False, "scheme": {}})
    # 3. One confidential client. token_endpoint_auth_method is required:
    #    the OIDC plugin refuses client_credentials for a client whose
    #    allowed authentication methods do not include the one used.
    adm.call("POST", "/client/", {
        "client_id": client_id, "name": "bench", "confidential": True, "password": secret,
        "enabled": True, "scope": [SCOPE], "redirect_uri": [],
        "authorization_type": ["client_credentials"],
        "token_endpoint_auth_method": ["client_secret_basic"]})
    # 4. The OpenID Connect plugin: ES256 (ECDSA P-256) JWT access tokens,
    #    300 s, client_credentials only (allow-non-oidc: client_credentials
    #    is OAuth 2, not OIDC), DPoP allowed with a 300 s iat window (the
    #    default is 10 s), resource indicators for the one resource.
    with open(key_pem) as f:
        key = f.read()
    with open(pub_pem) as f:
        pub = f.read()
    origin = base.rstrip("/")
    adm.call("POST", "/mod/plugin/", {
        "module": "oidc", "name": "oidc", "display_name": "oidc", "parameters": {
            "iss": origin,
            "jwt-type": "ecdsa", "jwt-key-size": "256", "key": key, "cert": pub,
            "jwks-show": True,
            "access-token-duration": LIFETIME,
            "refresh-token-duration": 1209600, "code-duration": 600,
            "refresh-token-rolling": False,
            "allow-non-oidc": True,
            "auth-type-client-enabled": True,
            "auth-type-code-enabled": False, "auth-type-token-enabled": False,
            "auth-type-id-token-enabled": True, "auth-type-none-enabled": False,
            "auth-type-password-enabled": False, "auth-type-device-enabled": False,
            "auth-type-refresh-enabled": False,
            "allowed-scope": ["openid", SCOPE],
            "oauth-dpop-allowed": True, "oauth-dpop-iat-duration": LIFETIME,
            "resource-allowed": True, "resource-scope": {SCOPE: [resource]},
            "resource-client-property": "", "resource-scope-and-client-property": False,
            "introspection-revocation-allowed": False,
        }})


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check(name, response_file, jwks_url, issuer, audience, proof=None):
    from jwcrypto import jwk, jwt

    with open(response_file) as f:
        text = f.read()
    try:
        resp = json.loads(text)
        token = resp["access_token"]
    except (ValueError, KeyError):
        raise SystemExit(f"{name}: no access token in the response: {text[:300]}")
    with urllib.request.urlopen(jwks_url, timeout=10) as r:
        keys = jwk.JWKSet.from_json(r.read().decode())
    hdr = json.loads(b64d(token.split(".")[0]))
    if hdr.get("alg") != "ES256":
        raise SystemExit(f"{name}: token alg {hdr.get('alg')}, expected ES256")
    t = jwt.JWT(jwt=token, key=keys, algs=["ES256"],
                check_claims={"iss": issuer, "exp": None})
    c = json.loads(t.claims)
    aud = c.get("aud")
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise SystemExit(f"{name}: aud {aud!r}, expected {audience!r}")
    if c["exp"] - c["iat"] != LIFETIME:
        raise SystemExit(f"{name}: lifetime {c['exp'] - c['iat']} s, expected {LIFETIME}")
    bound = ""
    if proof:
        pj = json.loads(b64d(proof.split(".")[0]))["jwk"]
        tp = jwk.JWK(**pj).thumbprint()
        got = (c.get("cnf") or {}).get("jkt")
        if got != tp:
            raise SystemExit(f"{name}: cnf.jkt {got!r}, expected the proof key's {tp!r}")
        bound = f", cnf.jkt = proof key, token_type {resp.get('token_type')}"
    print(f"{name}: valid ES256 JWT (kid {hdr.get('kid')}, typ {hdr.get('typ')}), verified "
          f"against {jwks_url}; aud {audience}, lifetime {LIFETIME} s{bound}")


def main(argv):
    if len(argv) >= 3 and argv[1] == "glewlwyd-db":
        glewlwyd_db(argv[2])
    elif len(argv) == 9 and argv[1] == "glewlwyd-provision":
        glewlwyd_provision(*argv[2:])
    elif len(argv) in (7, 8) and argv[1] == "check":
        check(*argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
