#!/usr/bin/python3
"""Fail closed when the audit log cannot be written: a decision that cannot
be recorded never reaches the client. A --dev server issues a DPoP-bound
token and allows it through the gateway and /check; restarted on the same
data with its audit log on /dev/full (every write fails with ENOSPC), the
same token and fresh proofs get a 500 from the proxy and /check (the echo
upstream's answer and the identity headers never leave), /token issues
nothing, and the server keeps serving what records nothing (metadata).
Usage: test_audit_fail.py TOLLGATE_BIN"""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server, b64u, dpop_proof  # noqa: E402
from jwcrypto import jwk  # noqa: E402

R = Results("integration-audit-fail")
BIN = sys.argv[1]
key = jwk.JWK.generate(kty="EC", crv="P-256")


def ath(token):
    return b64u(hashlib.sha256(token.encode()).digest())


def get_token(srv):
    proof = dpop_proof(key, "POST", srv.issuer + "/token")
    return srv.request("POST", "/token", {"grant_type": "client_credentials",
                                          "scope": "demo:read"},
                       headers={**srv.basic(), "DPoP": proof})


def proxied(srv, tok):
    proof = dpop_proof(key, "GET", srv.issuer + "/tools/demo/items", extra={"ath": ath(tok)})
    return srv.request("GET", "/tools/demo/items",
                       headers={"Authorization": "DPoP " + tok, "DPoP": proof})


def checked(srv, tok):
    proof = dpop_proof(key, "GET", srv.issuer + "/tools/demo/items", extra={"ath": ath(tok)})
    return srv.request("GET", "/check", headers={
        "X-Original-Method": "GET", "X-Original-URI": "/tools/demo/items",
        "Authorization": "DPoP " + tok, "DPoP": proof})


def refused(name, resp):
    st, h, body = resp
    R.check(name + ": 500", st == 500, f"{st} {body}")
    R.check(name + ": server_error",
            isinstance(body, dict) and body.get("error") == "server_error", body)
    R.check(name + ": connection closes", h.get("connection", "").lower() == "close", h)
    R.check(name + ": no identity headers",
            not any(k.startswith("x-tollgate-") for k in h), h)
    R.check(name + ": nothing of the decision",
            not (isinstance(body, dict) and ("headers" in body or "access_token" in body or
                                             body.get("allow"))), body)


def to_dev_full(data):
    log = os.path.join(data, "audit.log")
    os.unlink(log)
    os.symlink("/dev/full", log)


srv = Server(BIN)
srv2 = None
try:
    st, _, b = get_token(srv)
    tok = b.get("access_token", "") if isinstance(b, dict) else ""
    R.check("token issued while the log is writable", st == 200 and tok, f"{st} {b}")
    st, _, b = proxied(srv, tok)
    R.check("proxy allows while the log is writable", st == 200 and "headers" in b, f"{st} {b}")
    st, h, b = checked(srv, tok)
    R.check("/check allows while the log is writable", st == 200 and
            "x-tollgate-agent" in h, f"{st} {h}")
    rc = srv.stop(keep=True)
    R.check("first server stopped cleanly", rc == 0, rc)

    srv2 = Server(BIN, reuse_dir=srv.dir, prepare=to_dev_full)
    refused("proxy, log unwritable", proxied(srv2, tok))
    refused("/check, log unwritable", checked(srv2, tok))
    refused("/token, log unwritable", get_token(srv2))
    st, _, b = srv2.request("GET", "/.well-known/oauth-authorization-server")
    R.check("metadata still served", st == 200 and isinstance(b, dict) and "issuer" in b,
            f"{st} {b}")
    # Twice more: every refusal is a refusal, not only the first.
    refused("/check again", checked(srv2, tok))
    R.check("server still running", srv2.proc.poll() is None, srv2.output()[-2000:])
    out = srv2.output()
    R.check("the loss is logged", "not written" in out and "withheld" in out, out[-2000:])
    R.check("no token in the server log", tok not in out)
finally:
    if srv2 is not None:
        srv2.stop()
    else:
        srv.stop()
R.done()
