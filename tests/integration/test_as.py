#!/usr/bin/python3
"""Authorization server over real sockets: the happy paths and the attack
suite, each refusal asserting its exact error. Usage: test_as.py TOLLGATE_BIN"""
import base64
import hashlib
import json
import os
import ssl
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import (Results, Server, b64u, dpop_proof, thumbprint,  # noqa: E402
                    verify_access_token)
from jwcrypto import jwk, jws  # noqa: E402
from jwcrypto.common import json_encode  # noqa: E402

R = Results("integration-as")
srv = Server(sys.argv[1])
dev = srv.dev
TOKEN = "/token"
htu = srv.issuer + TOKEN
tool = dev["tool"]
CC = {"grant_type": "client_credentials"}


def token(body=None, headers=None, **kw):
    b = dict(CC)
    b.update(body or {})
    return srv.request("POST", TOKEN, b, headers=headers, **kw)


def expect_error(name, resp, status, error):
    st, hdrs, body = resp
    ok = st == status and isinstance(body, dict) and body.get("error") == error
    R.check(name, ok, f"got {st} {body}")
    if isinstance(body, dict):
        R.check(name + " has error_description", "error_description" in body, str(body))
        R.check(name + " echoes no secret",
                dev["agents"]["secret"]["client_secret"] not in json.dumps(body), str(body))
    return hdrs


try:
    # --- metadata and JWKS (RFC 8414, RFC 7517)
    st, h, md = srv.request("GET", "/.well-known/oauth-authorization-server")
    R.check("metadata 200", st == 200, st)
    R.check("metadata issuer", md.get("issuer") == srv.issuer, md)
    R.check("metadata token endpoint", md.get("token_endpoint") == htu, md)
    R.check("metadata dpop algs", set(md.get("dpop_signing_alg_values_supported", [])) >=
            {"ES256", "ES384", "EdDSA", "RS256", "PS256"}, md)
    R.check("metadata mtls aliases",
            md.get("mtls_endpoint_aliases", {}).get("token_endpoint") == srv.mtls_base + TOKEN, md)
    st, h, body = srv.request("GET", "/authorize?response_type=code&client_id=demo-agent")
    R.check("authorize refuses every response_type",
            st == 400 and body.get("error") == "unsupported_response_type", f"{st} {body}")
    R.check("metadata authorization_endpoint",
            md.get("authorization_endpoint") == srv.issuer + "/authorize", md)
    R.check("metadata cert-bound", md.get("tls_client_certificate_bound_access_tokens") is True, md)
    st, h, ks = srv.request("GET", "/jwks")
    R.check("jwks has next and current", st == 200 and len(ks.get("keys", [])) >= 2, ks)
    R.check("jwks public only", all("d" not in k for k in ks.get("keys", [])), ks)

    # --- client_credentials with a client secret (bearer allowed for the demo agent)
    st, h, body = token({"scope": "demo:read demo:write"}, srv.basic())
    R.check("basic: 200", st == 200, body)
    R.check("basic: no-store", h.get("cache-control") == "no-store", h)
    R.check("basic: Bearer", body.get("token_type") == "Bearer", body)
    at = body.get("access_token", "")
    hdr, cl = verify_access_token(srv, at)
    R.check("token typ at+jwt", hdr.get("typ") == "at+jwt", hdr)
    R.check("token alg ES256", hdr.get("alg") == "ES256", hdr)
    for k in ("iss", "sub", "client_id", "aud", "exp", "iat", "jti", "scope",
              "authorization_details", "tenant", "agent_type", "owner"):
        R.check("token claim " + k, k in cl, cl)
    R.check("token aud = tool resource", cl.get("aud") == tool["resource"], cl)
    R.check("token lifetime 300", cl.get("exp", 0) - cl.get("iat", 0) == 300, cl)
    R.check("token scope", cl.get("scope") == "demo:read demo:write", cl)
    R.check("token tenant", cl.get("tenant") == dev["tenant"], cl)
    R.check("no cnf for bearer", "cnf" not in cl, cl)
    d = cl.get("authorization_details", [{}])[0]
    R.check("details type tool", d.get("type") == "tool" and d.get("tool") == "demo", d)
    R.check("details actions", sorted(d.get("actions", [])) == ["read", "write"], d)
    bearer_at = at

    st, h, body = token({"client_id": dev["agents"]["secret"]["client_id"],
                         "client_secret": dev["agents"]["secret"]["client_secret"],
                         "scope": "demo:read"})
    R.check("client_secret_post: 200", st == 200 and body.get("scope") == "demo:read", body)

    # no scope asked: everything granted (read, write), never the high-risk admin
    st, h, body = token({}, srv.basic())
    R.check("no scope: gets the grant", st == 200 and body.get("scope") == "demo:read demo:write",
            body)

    # --- DPoP (RFC 9449)
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    st, h, body = token({"scope": "demo:read"}, {**srv.basic(), "DPoP": dpop_proof(key, "POST", htu)})
    R.check("dpop: 200", st == 200, body)
    R.check("dpop: token_type DPoP", body.get("token_type") == "DPoP", body)
    _, cl = verify_access_token(srv, body.get("access_token", ""))
    R.check("dpop: cnf.jkt = thumbprint", cl.get("cnf", {}).get("jkt") == thumbprint(key), cl)
    dpop_at = body.get("access_token")

    for alg, kk in (("ES384", jwk.JWK.generate(kty="EC", crv="P-384")),
                    ("EdDSA", jwk.JWK.generate(kty="OKP", crv="Ed25519")),
                    ("RS256", jwk.JWK.generate(kty="RSA", size=2048)),
                    ("PS256", jwk.JWK.generate(kty="RSA", size=2048))):
        st, h, body = token({}, {**srv.basic(), "DPoP": dpop_proof(kk, "POST", htu, alg=alg)})
        R.check("dpop alg " + alg, st == 200 and body.get("token_type") == "DPoP", body)

    proof = dpop_proof(key, "POST", htu)
    token({}, {**srv.basic(), "DPoP": proof})
    expect_error("dpop replay", token({}, {**srv.basic(), "DPoP": proof}), 400,
                 "invalid_dpop_proof")
    expect_error("dpop wrong htm", token({}, {**srv.basic(), "DPoP": dpop_proof(key, "GET", htu)}),
                 400, "invalid_dpop_proof")
    expect_error("dpop wrong htu",
                 token({}, {**srv.basic(), "DPoP": dpop_proof(key, "POST", srv.issuer + "/other")}),
                 400, "invalid_dpop_proof")
    expect_error("dpop stale iat",
                 token({}, {**srv.basic(),
                            "DPoP": dpop_proof(key, "POST", htu, iat=int(time.time()) - 600)}),
                 400, "invalid_dpop_proof")
    expect_error("dpop future iat",
                 token({}, {**srv.basic(),
                            "DPoP": dpop_proof(key, "POST", htu, iat=int(time.time()) + 600)}),
                 400, "invalid_dpop_proof")
    for claim in ("jti", "htm", "htu", "iat"):
        expect_error("dpop missing " + claim,
                     token({}, {**srv.basic(), "DPoP": dpop_proof(key, "POST", htu, drop=[claim])}),
                     400, "invalid_dpop_proof")
    expect_error("dpop wrong typ",
                 token({}, {**srv.basic(),
                            "DPoP": dpop_proof(key, "POST", htu, header={"typ": "JWT"})}),
                 400, "invalid_dpop_proof")
    # alg none: hand-made
    hdr_none = b64u(json.dumps({"typ": "dpop+jwt", "alg": "none",
                                "jwk": json.loads(key.export_public())}).encode())
    pl = b64u(json.dumps({"jti": str(uuid.uuid4()), "htm": "POST", "htu": htu,
                          "iat": int(time.time())}).encode())
    expect_error("dpop alg none", token({}, {**srv.basic(), "DPoP": f"{hdr_none}.{pl}."}), 400,
                 "invalid_dpop_proof")
    # HS256 with an oct key, the jwk header still the public EC key
    octk = jwk.JWK.generate(kty="oct", size=256)
    s = jws.JWS(json_encode({"jti": str(uuid.uuid4()), "htm": "POST", "htu": htu,
                             "iat": int(time.time())}))
    s.add_signature(octk, None, json_encode({"typ": "dpop+jwt", "alg": "HS256",
                                             "jwk": json.loads(key.export_public())}))
    expect_error("dpop HS256", token({}, {**srv.basic(), "DPoP": s.serialize(compact=True)}), 400,
                 "invalid_dpop_proof")
    expect_error("dpop private key in jwk",
                 token({}, {**srv.basic(),
                            "DPoP": dpop_proof(key, "POST", htu,
                                               header={"jwk": json.loads(key.export_private())})}),
                 400, "invalid_dpop_proof")
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    expect_error("dpop signed by another key",
                 token({}, {**srv.basic(),
                            "DPoP": dpop_proof(other, "POST", htu,
                                               header={"jwk": json.loads(key.export_public())})}),
                 400, "invalid_dpop_proof")
    expect_error("dpop two headers",
                 token({}, srv.basic(), raw_headers=[("DPoP", dpop_proof(key, "POST", htu)),
                                                     ("DPoP", dpop_proof(key, "POST", htu))]),
                 400, "invalid_dpop_proof")
    expect_error("dpop garbage", token({}, {**srv.basic(), "DPoP": "a.b.c"}), 400,
                 "invalid_dpop_proof")

    # --- client authentication failures (RFC 6749 §5.2)
    h = expect_error("bad secret", token({}, srv.basic(secret="tgs_" + "A" * 49)), 401,
                     "invalid_client")
    R.check("bad secret: WWW-Authenticate Basic", h.get("www-authenticate", "").startswith("Basic"),
            h)
    # The last character changed (never to itself: a secret that already
    # ends in "x" gets a "y"), so the checksum no longer matches.
    real = dev["agents"]["secret"]["client_secret"]
    expect_error("wrong secret, right shape",
                 token({}, srv.basic(secret=real[:-1] + ("y" if real.endswith("x") else "x"))),
                 401, "invalid_client")
    expect_error("unknown client", token({}, srv.basic(cid="nobody")), 401, "invalid_client")
    expect_error("no client auth", token({"client_id": "demo-agent"}), 401, "invalid_client")
    expect_error("two auth methods",
                 token({"client_id": dev["agents"]["secret"]["client_id"],
                        "client_secret": dev["agents"]["secret"]["client_secret"]}, srv.basic()),
                 400, "invalid_request")

    # --- grants and targets
    expect_error("ungranted action", token({"scope": "demo:admin"}, srv.basic()), 400,
                 "invalid_scope")
    expect_error("ungranted tool", token({"scope": "crm:read"}, srv.basic()), 400, "invalid_scope")
    expect_error("more than granted is refused, not trimmed",
                 token({"scope": "demo:read demo:admin"}, srv.basic()), 400, "invalid_scope")
    expect_error("unknown resource",
                 token({"resource": "https://unknown.example/api"}, srv.basic()), 400,
                 "invalid_target")
    st, h, body = token({"resource": tool["resource"], "scope": "demo:read"}, srv.basic())
    R.check("resource = tool: 200", st == 200, body)
    ad = json.dumps([{"type": "tool", "tool": "demo", "actions": ["read"]}])
    st, h, body = token({"authorization_details": ad}, srv.basic())
    R.check("authorization_details: 200", st == 200 and
            body.get("authorization_details", [{}])[0].get("actions") == ["read"], body)
    expect_error("authorization_details malformed",
                 token({"authorization_details": "[{\"type\":\"tool\""}, srv.basic()), 400,
                 "invalid_authorization_details")
    expect_error("authorization_details unknown type",
                 token({"authorization_details": json.dumps([{"type": "payment"}])}, srv.basic()),
                 400, "invalid_authorization_details")
    expect_error("authorization_details ungranted",
                 token({"authorization_details": json.dumps(
                     [{"type": "tool", "tool": "demo", "actions": ["admin"]}])}, srv.basic()),
                 400, "invalid_authorization_details")

    # --- malformed and oversized requests
    expect_error("unsupported grant type", token({"grant_type": "password"}, srv.basic()), 400,
                 "unsupported_grant_type")
    expect_error("missing grant_type", srv.request("POST", TOKEN, {"scope": "demo:read"},
                                                   headers=srv.basic()), 400, "invalid_request")
    expect_error("repeated grant_type",
                 srv.request("POST", TOKEN, "grant_type=client_credentials&grant_type=client_credentials",
                             headers=srv.basic()), 400, "invalid_request")
    expect_error("wrong content type",
                 srv.request("POST", TOKEN, "{}", headers={**srv.basic(),
                                                          "Content-Type": "application/json"}),
                 400, "invalid_request")
    expect_error("bad percent-encoding",
                 srv.request("POST", TOKEN, "grant_type=client%zzcredentials", headers=srv.basic()),
                 400, "invalid_request")
    st, h, body = srv.request("POST", TOKEN, "grant_type=client_credentials&x=" + "a" * 70000,
                              headers=srv.basic())
    R.check("oversized body refused", st == 413 and isinstance(body, dict) and "error" in body,
            f"{st} {body}")
    st, h, body = srv.request("GET", TOKEN)
    R.check("GET /token: 405", st == 405, st)
    st, h, body = srv.request("GET", "/nope")
    R.check("unknown path: 404 JSON", st == 404 and isinstance(body, dict), f"{st} {body}")

    # --- mTLS: certificate-bound tokens (RFC 8705)
    mt = dev["agents"]["mtls"]
    cert = (mt["cert_file"], mt["key_file"])
    st, h, body = token({"client_id": mt["client_id"], "scope": "demo:read"}, tls=True, cert=cert)
    R.check("mtls: 200", st == 200, body)
    with open(mt["cert_file"]) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    if st == 200:
        _, cl = verify_access_token(srv, body["access_token"])
        R.check("mtls: cnf x5t#S256", cl.get("cnf", {}).get("x5t#S256") ==
                b64u(hashlib.sha256(der).digest()), cl)
    expect_error("mtls agent without a certificate",
                 token({"client_id": mt["client_id"]}, tls=True), 401, "invalid_client")
    expect_error("mtls agent over plain http", token({"client_id": mt["client_id"]}), 401,
                 "invalid_client")

    # --- introspection (RFC 7662) and revocation (RFC 7009)
    st, h, body = srv.request("POST", "/introspect", {"token": bearer_at}, headers=srv.basic())
    R.check("introspect active", st == 200 and body.get("active") is True, body)
    R.check("introspect fields", body.get("client_id") == "demo-agent" and "scope" in body, body)
    st, h, body = srv.request("POST", "/introspect", {"token": dpop_at}, headers=srv.basic())
    R.check("introspect DPoP token_type", body.get("token_type") == "DPoP" and "cnf" in body, body)
    st, h, body = srv.request("POST", "/introspect", {"token": "garbage"}, headers=srv.basic())
    R.check("introspect garbage inactive", st == 200 and body == {"active": False}, body)
    expect_error("introspect unauthenticated", srv.request("POST", "/introspect",
                                                           {"token": bearer_at}), 401,
                 "invalid_client")
    st, h, body = srv.request("POST", "/revoke", {"token": bearer_at}, headers=srv.basic())
    R.check("revoke 200", st == 200, body)
    st, h, body = srv.request("POST", "/introspect", {"token": bearer_at}, headers=srv.basic())
    R.check("revoked is inactive", body.get("active") is False, body)
    st, h, body = srv.request("POST", "/revoke", {"token": "garbage"}, headers=srv.basic())
    R.check("revoke garbage 200", st == 200, body)

    # --- disabling an agent kills its live tokens at once
    st, h, body = token({}, srv.basic())
    live = body.get("access_token")
    r = srv.cli("agent", "disable", "demo-agent")
    R.check("cli agent disable", r.returncode == 0, r.stderr)
    expect_error("disabled agent cannot get tokens", token({}, srv.basic()), 401, "invalid_client")
    r = srv.cli("agent", "enable", "demo-agent")
    st, h, body = srv.request("POST", "/introspect", {"token": live}, headers=srv.basic())
    R.check("token from before disable stays dead", body.get("active") is False, body)
    st, h, body = token({}, srv.basic())
    R.check("re-enabled agent gets tokens", st == 200, body)

    # --- audit log: decisions recorded, no secrets, no whole tokens
    with open(os.path.join(srv.data, "audit.log")) as f:
        audit = f.read()
    R.check("audit has issued", '"token.issued"' in audit, audit[:200])
    R.check("audit has refused", '"token.refused"' in audit, audit[:200])
    R.check("audit has no secret", dev["agents"]["secret"]["client_secret"] not in audit, "")
    R.check("audit has no token", live is None or live not in audit, "")
    R.check("audit has jti", json.loads(audit.splitlines()[0]).get("seq") == 1, "")
    R.check("the server never prints the demo secret",
            dev["agents"]["secret"]["client_secret"] not in srv.output(), "secret on stdout")
finally:
    out = srv.output()
    rc = srv.stop()
    R.check("server exits cleanly on SIGTERM", rc == 0, f"rc={rc}\n{out[-2000:]}")
R.done()
