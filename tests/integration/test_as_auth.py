#!/usr/bin/python3
"""Client authentication methods and policy rules end to end:
private_key_jwt (RFC 7523), self_signed_tls_client_auth (RFC 8705 §2.2),
SPIFFE X.509-SVID and JWT-SVID, high-risk actions, DPoP nonces.
Usage: test_as_auth.py TOLLGATE_BIN"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server, b64u, dpop_proof, verify_access_token  # noqa: E402
from jwcrypto import jwk, jwt  # noqa: E402

R = Results("integration-auth")
BIN = sys.argv[1]
work = tempfile.mkdtemp(prefix="tg-auth-")

# A JWT-SVID signing key for the trust domain, published as a JWKS bundle.
svid_key = jwk.JWK.generate(kty="EC", crv="P-256", kid="svid-k")
jwks_file = os.path.join(work, "spiffe.jwks")
with open(jwks_file, "w") as f:
    f.write(json.dumps({"keys": [json.loads(svid_key.export_public())]}))

srv = Server(BIN, ["--spiffe-jwks", jwks_file])
dev = srv.dev
TOKEN = "/token"
htu = srv.issuer + TOKEN


def token(body, headers=None, **kw):
    return srv.request("POST", TOKEN, body, headers=headers, **kw)


def expect(name, resp, status, error=None):
    st, h, body = resp
    ok = st == status and (error is None or (isinstance(body, dict) and body.get("error") == error))
    R.check(name, ok, f"got {st} {body}")
    return body


def assertion(key, iss, sub, aud, exp_in=60, jti=None, kid=None, alg="ES256", extra=None):
    claims = {"iss": iss, "sub": sub, "aud": aud, "exp": int(time.time()) + exp_in,
              "iat": int(time.time()), "jti": jti or str(uuid.uuid4())}
    if iss is None:
        del claims["iss"]
    claims.update(extra or {})
    t = jwt.JWT(header={"alg": alg, "kid": kid or key.get("kid")}, claims=claims)
    t.make_signed_token(key)
    return t.serialize()


def apply(yaml_text):
    path = os.path.join(work, "policy-%s.yaml" % uuid.uuid4().hex[:6])
    with open(path, "w") as f:
        f.write(yaml_text)
    r = srv.cli("apply", "-f", path, "--json")
    R.check("apply " + os.path.basename(path), r.returncode == 0, r.stderr)
    return json.loads(r.stdout) if r.returncode == 0 else {}


try:
    # --- private_key_jwt
    pk = jwk.JWK.generate(kty="EC", crv="P-256", kid="bot-k1")
    pub = json.loads(pk.export_public())
    # A self-signed certificate for self_signed_tls_client_auth
    ss_key = os.path.join(work, "ss.key")
    ss_crt = os.path.join(work, "ss.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", ss_key, "-out", ss_crt,
                    "-subj", "/CN=self-signed-bot", "-days", "2"], check=True,
                   capture_output=True)
    out = apply(f"""version: 1
agents:
  - id: pkjwt-bot
    type: internal
    owner: alice@example.com
    auth: private_key_jwt
    sender_constraint: bearer
    jwks: {json.dumps({"keys": [pub]})}
  - id: svid-bot
    type: internal
    owner: alice@example.com
    auth: spiffe_x509
    sender_constraint: mtls
    spiffe_id: spiffe://tollgate.dev/agents/demo-mtls-agent
  - id: jwtsvid-bot
    type: internal
    owner: alice@example.com
    auth: spiffe_jwt
    sender_constraint: bearer
    spiffe_id: spiffe://tollgate.dev/agents/jwt-bot
  - id: risky-bot
    type: internal
    owner: alice@example.com
    auth: client_secret_basic
    sender_constraint: bearer
  - id: dpop-bot
    type: tenant
    tenant: demo
    owner: alice@example.com
    auth: client_secret_post
grants:
  - {{agent: pkjwt-bot, tool: demo, actions: [read]}}
  - {{agent: svid-bot, tool: demo, actions: [read]}}
  - {{agent: jwtsvid-bot, tool: demo, actions: [read]}}
  - {{agent: risky-bot, tool: demo, actions: [admin], endpoints: ["DELETE /items/{{id}}"]}}
  - {{agent: dpop-bot, tool: demo, actions: [read]}}
""")
    secrets = {s["client_id"]: s["client_secret"] for s in out.get("client_secrets", [])}
    R.check("apply returned secrets for secret agents only",
            set(secrets) == {"risky-bot", "dpop-bot"}, secrets)
    r = srv.cli("agent", "add", "self-bot", "--type", "internal", "--owner", "o@example.com",
                "--auth", "self_signed_tls_client_auth", "--cert-file", ss_crt,
                "--sender-constraint", "mtls")
    R.check("agent add self-signed", r.returncode == 0, r.stderr)
    apply("version: 1\ngrants:\n  - {agent: self-bot, tool: demo, actions: [read]}\n")

    CA = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    a = assertion(pk, "pkjwt-bot", "pkjwt-bot", htu)
    body = expect("private_key_jwt: 200",
                  token({"grant_type": "client_credentials", "client_assertion_type": CA,
                         "client_assertion": a, "scope": "demo:read"}), 200)
    expect("private_key_jwt: assertion replay",
           token({"grant_type": "client_credentials", "client_assertion_type": CA,
                  "client_assertion": a}), 401, "invalid_client")
    expect("private_key_jwt: aud = issuer accepted",
           token({"grant_type": "client_credentials", "client_assertion_type": CA,
                  "client_assertion": assertion(pk, "pkjwt-bot", "pkjwt-bot", srv.issuer)}), 200)
    expect("private_key_jwt: wrong aud",
           token({"grant_type": "client_credentials", "client_assertion_type": CA,
                  "client_assertion": assertion(pk, "pkjwt-bot", "pkjwt-bot",
                                                "https://elsewhere.example/token")}),
           401, "invalid_client")
    expect("private_key_jwt: expired",
           token({"grant_type": "client_credentials", "client_assertion_type": CA,
                  "client_assertion": assertion(pk, "pkjwt-bot", "pkjwt-bot", htu, exp_in=-120)}),
           401, "invalid_client")
    expect("private_key_jwt: lifetime too long",
           token({"grant_type": "client_credentials", "client_assertion_type": CA,
                  "client_assertion": assertion(pk, "pkjwt-bot", "pkjwt-bot", htu, exp_in=7200)}),
           401, "invalid_client")
    expect("private_key_jwt: iss != sub",
           token({"grant_type": "client_credentials", "client_assertion_type": CA,
                  "client_assertion": assertion(pk, "someone", "pkjwt-bot", htu)}),
           401, "invalid_client")
    other = jwk.JWK.generate(kty="EC", crv="P-256", kid="bot-k1")
    expect("private_key_jwt: another key",
           token({"grant_type": "client_credentials", "client_assertion_type": CA,
                  "client_assertion": assertion(other, "pkjwt-bot", "pkjwt-bot", htu)}),
           401, "invalid_client")
    expect("private_key_jwt: no jti",
           token({"grant_type": "client_credentials", "client_assertion_type": CA,
                  "client_assertion": assertion(pk, "pkjwt-bot", "pkjwt-bot", htu,
                                                extra={"jti": None})}),
           401, "invalid_client")
    expect("private_key_jwt: wrong assertion type",
           token({"grant_type": "client_credentials", "client_assertion_type": "urn:x",
                  "client_assertion": assertion(pk, "pkjwt-bot", "pkjwt-bot", htu)}),
           401, "invalid_client")

    # --- self_signed_tls_client_auth
    st, h, body = token({"grant_type": "client_credentials", "client_id": "self-bot"}, tls=True,
                        cert=(ss_crt, ss_key))
    R.check("self-signed mTLS: 200", st == 200, body)
    if st == 200:
        _, cl = verify_access_token(srv, body["access_token"])
        with open(ss_crt) as f:
            import ssl
            der = ssl.PEM_cert_to_DER_cert(f.read())
        R.check("self-signed mTLS: cnf", cl.get("cnf", {}).get("x5t#S256") ==
                b64u(hashlib.sha256(der).digest()), cl)
    mt = dev["agents"]["mtls"]
    expect("self-signed agent with another certificate",
           token({"grant_type": "client_credentials", "client_id": "self-bot"}, tls=True,
                 cert=(mt["cert_file"], mt["key_file"])), 401, "invalid_client")

    # --- SPIFFE X.509-SVID (the dev agent certificate carries a SPIFFE ID)
    expect("X.509-SVID: 200", token({"grant_type": "client_credentials", "client_id": "svid-bot"},
                                    tls=True, cert=(mt["cert_file"], mt["key_file"])), 200)
    expect("X.509-SVID: self-signed refused",
           token({"grant_type": "client_credentials", "client_id": "svid-bot"}, tls=True,
                 cert=(ss_crt, ss_key)), 401, "invalid_client")

    # --- SPIFFE JWT-SVID as client assertion and as jwt-bearer grant
    spiffe = "spiffe://tollgate.dev/agents/jwt-bot"
    expect("JWT-SVID client assertion: 200",
           token({"grant_type": "client_credentials", "client_assertion_type": CA,
                  "client_assertion": assertion(svid_key, None, spiffe, [srv.issuer])}), 200)
    sv = assertion(svid_key, None, spiffe, [srv.issuer])
    expect("JWT-SVID jwt-bearer grant: 200",
           token({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": sv}),
           200)
    expect("JWT-SVID replay",
           token({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": sv}),
           400, "invalid_grant")
    bad = jwk.JWK.generate(kty="EC", crv="P-256", kid="svid-k")
    expect("JWT-SVID signed outside the bundle",
           token({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                  "assertion": assertion(bad, None, spiffe, [srv.issuer])}), 400, "invalid_grant")
    expect("jwt-bearer for a non-SVID agent",
           token({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                  "assertion": assertion(pk, "pkjwt-bot", "pkjwt-bot", htu)}), 400,
           "unauthorized_client")

    # --- high-risk: a grant naming the endpoint, and a sender-constrained token
    import base64
    basic = {"Authorization": "Basic " + base64.b64encode(
        ("risky-bot:" + secrets.get("risky-bot", "")).encode()).decode()}
    expect("high-risk without sender constraint",
           token({"grant_type": "client_credentials", "scope": "demo:admin"}, basic), 400,
           "invalid_scope")
    k = jwk.JWK.generate(kty="EC", crv="P-256")
    body = expect("high-risk with DPoP: 200",
                  token({"grant_type": "client_credentials", "scope": "demo:admin"},
                        {**basic, "DPoP": dpop_proof(k, "POST", htu)}), 200)
    R.check("high-risk token names the endpoint",
            "DELETE /items/{id}" in json.dumps(body.get("authorization_details", [])), body)
    st, h, body = token({"grant_type": "client_credentials"}, basic)
    R.check("nothing asked, bearer: high-risk left out",
            st == 400 or "DELETE" not in json.dumps(body.get("authorization_details", [])),
            f"{st} {body}")

    # --- an agent whose tokens must be DPoP-bound
    post = {"grant_type": "client_credentials", "client_id": "dpop-bot",
            "client_secret": secrets.get("dpop-bot", "")}
    expect("dpop-required agent without a proof", token(post), 400, "invalid_dpop_proof")
    expect("dpop-required agent with a proof", token(post, {"DPoP": dpop_proof(k, "POST", htu)}),
           200)

    # --- a browsing agent may never hold bearer tokens
    r = srv.cli("agent", "add", "browser", "--type", "browsing", "--owner", "o@example.com",
                "--sender-constraint", "bearer")
    R.check("browsing agent with bearer refused", r.returncode == 1, r.stdout + r.stderr)
finally:
    out = srv.output()
    rc = srv.stop()
    R.check("server exits cleanly", rc == 0, f"rc={rc}\n{out[-2000:]}")

# --- DPoP server nonces (RFC 9449 §8) on a second server
srv = Server(BIN, ["--dpop-nonce"])
try:
    htu = srv.issuer + TOKEN
    k = jwk.JWK.generate(kty="EC", crv="P-256")
    st, h, body = srv.request("POST", TOKEN, {"grant_type": "client_credentials"},
                              headers={**srv.basic(), "DPoP": dpop_proof(k, "POST", htu)})
    R.check("nonce required: use_dpop_nonce", st == 400 and body.get("error") == "use_dpop_nonce",
            f"{st} {body}")
    nonce = h.get("dpop-nonce")
    R.check("nonce required: DPoP-Nonce header", bool(nonce), h)
    st, h, body = srv.request("POST", TOKEN, {"grant_type": "client_credentials"},
                              headers={**srv.basic(),
                                       "DPoP": dpop_proof(k, "POST", htu,
                                                          extra={"nonce": nonce or ""})})
    R.check("nonce supplied: 200", st == 200 and body.get("token_type") == "DPoP", f"{st} {body}")
    R.check("nonce supplied: fresh DPoP-Nonce", bool(h.get("dpop-nonce")), h)
    st, h, body = srv.request("POST", TOKEN, {"grant_type": "client_credentials"},
                              headers={**srv.basic(),
                                       "DPoP": dpop_proof(k, "POST", htu,
                                                          extra={"nonce": "A" * 43})})
    R.check("forged nonce refused", st == 400 and body.get("error") == "use_dpop_nonce",
            f"{st} {body}")
finally:
    rc = srv.stop()
    R.check("nonce server exits cleanly", rc == 0, f"rc={rc}")
# --- automatic key rotation: no token fails verification across it
srv = Server(BIN, ["--rotate-keys-every", "2"])
try:
    def jwks_kids():
        st, h, body = srv.request("GET", "/jwks")
        return [k["kid"] for k in body.get("keys", [])]

    def new_token():
        st, h, body = srv.request("POST", TOKEN, {"grant_type": "client_credentials"},
                                  headers=srv.basic())
        return body.get("access_token", "")

    t1 = new_token()
    kid1 = json.loads(base64.urlsafe_b64decode(t1.split(".")[0] + "==")).get("kid")
    t2, kid2 = t1, kid1
    deadline = time.time() + 15
    while time.time() < deadline and kid2 == kid1:
        time.sleep(0.5)
        t2 = new_token()
        kid2 = json.loads(base64.urlsafe_b64decode(t2.split(".")[0] + "==")).get("kid")
    R.check("rotation: a new key signs", kid2 != kid1, f"{kid1} {kid2}")
    R.check("rotation: the old key is still published", kid1 in jwks_kids(), jwks_kids())
    for name, t in (("old", t1), ("new", t2)):
        try:
            verify_access_token(srv, t)
            ok = True
        except Exception as e:  # noqa: BLE001
            ok = False
            print("  ", e, file=sys.stderr)
        R.check(f"rotation: {name} token verifies with the JWKS", ok, name)
        st, h, body = srv.request("POST", "/introspect", {"token": t}, headers=srv.basic())
        R.check(f"rotation: {name} token still active", body.get("active") is True, body)
finally:
    rc = srv.stop()
    R.check("rotating server exits cleanly", rc == 0, f"rc={rc}")
subprocess.run(["rm", "-rf", work])
R.done()
