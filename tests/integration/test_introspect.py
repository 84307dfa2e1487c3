#!/usr/bin/python3
"""Who may introspect what (RFC 7662 §2.1, §2.2, §4) and who may revoke
(RFC 7009 §2.1), over real sockets against a --dev issuer: an agent
introspects its own tokens; another agent's token answers exactly what an
unknown token answers (status, headers and body bytes); an agent registered
with `introspect: true` (a resource server) sees every token; revoking
another client's token is refused (unauthorized_client) whatever the
caller's introspect right; the refusals are in the audit log, never the
token. Usage: test_introspect.py TOLLGATE_BIN"""
import base64
import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server  # noqa: E402

R = Results("integration-introspect")
srv = Server(sys.argv[1])
dev = srv.dev


def basic(cid, secret):
    raw = urllib.parse.quote(cid, safe="") + ":" + urllib.parse.quote(secret, safe="")
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


def raw_post(path, form, headers):
    """(status, [(header, value)] without Date, body bytes): the whole answer."""
    u = urllib.parse.urlsplit(srv.issuer)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    body = urllib.parse.urlencode(form).encode()
    c.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                   **headers})
    r = c.getresponse()
    data = r.read()
    hdrs = sorted((k.lower(), v) for k, v in r.getheaders() if k.lower() != "date")
    c.close()
    return r.status, hdrs, data


def token(headers):
    st, h, body = srv.request("POST", "/token", {"grant_type": "client_credentials"},
                              headers=headers)
    R.check("token issued", st == 200 and "access_token" in body, f"{st} {body}")
    return body.get("access_token", "") if isinstance(body, dict) else ""


def introspect(who, tok):
    return srv.request("POST", "/introspect", {"token": tok}, headers=who)


def apply(doc):
    path = os.path.join(srv.dir, "policy.yaml")
    with open(path, "w") as f:
        f.write(doc)
    r = srv.cli("apply", "-f", path, "--json")
    R.check("apply", r.returncode == 0, r.stderr + r.stdout)
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    return {s["client_id"]: s["client_secret"] for s in out.get("client_secrets", [])}


POLICY = """version: 1
agents:
  - {id: other-bot, type: internal, owner: bob@example.com, auth: client_secret_basic,
     sender_constraint: bearer}
  - {id: rs-introspector, type: internal, owner: ops@example.com,
     auth: client_secret_basic, sender_constraint: bearer, introspect: %s}
grants:
  - {agent: other-bot, tool: demo, actions: [read]}
"""


def wait_for(pred, seconds=3.0):
    """The server re-reads the store within ~10 ms of a change; allow more."""
    end = time.time() + seconds
    while True:
        if pred():
            return True
        if time.time() > end:
            return False
        time.sleep(0.05)


try:
    sec = apply(POLICY % "true")
    demo = srv.basic()
    other = basic("other-bot", sec.get("other-bot", ""))
    rs = basic("rs-introspector", sec.get("rs-introspector", ""))
    R.check("apply: secrets for both agents",
            sorted(sec) == ["other-bot", "rs-introspector"], sorted(sec))

    demo_at = token(demo)
    other_at = token(other)

    # --- its own token: active, with its claims
    st, h, body = introspect(demo, demo_at)
    R.check("own token: active", st == 200 and body.get("active") is True, body)
    R.check("own token: claims", body.get("client_id") == "demo-agent" and
            body.get("sub") == "demo-agent" and "scope" in body and "exp" in body, body)
    st, h, body = introspect(other, other_at)
    R.check("other-bot's own token: active", st == 200 and body.get("active") is True, body)
    R.check("other-bot's own token: claims", body.get("client_id") == "other-bot" and
            body.get("scope") == "demo:read", body)

    # --- another agent's token: exactly an unknown token's answer
    unknown = raw_post("/introspect", {"token": "garbage"}, demo)
    R.check("unknown token: 200 {\"active\":false}",
            unknown[0] == 200 and json.loads(unknown[2]) == {"active": False}, unknown)
    foreign = raw_post("/introspect", {"token": other_at}, demo)
    R.check("another agent's token: {\"active\":false}",
            foreign[0] == 200 and json.loads(foreign[2]) == {"active": False}, foreign)
    R.check("another agent's token: same status, headers and bytes as an unknown token",
            foreign == unknown, f"{foreign} vs {unknown}")
    foreign2 = raw_post("/introspect", {"token": demo_at}, other)
    unknown2 = raw_post("/introspect", {"token": "x" + demo_at}, other)
    R.check("the other way round: same answer as a tampered token",
            foreign2 == unknown2 and json.loads(foreign2[2]) == {"active": False},
            f"{foreign2} vs {unknown2}")
    # ... and as an expired-by-revocation token of its own
    spent = token(demo)
    st, h, body = srv.request("POST", "/revoke", {"token": spent}, headers=demo)
    R.check("owner revokes its own token", st == 200, body)
    revoked = raw_post("/introspect", {"token": spent}, demo)
    R.check("another agent's token answers like a revoked one", revoked == foreign,
            f"{revoked} vs {foreign}")

    # --- an agent with introspect: true sees every token of the issuer
    st, h, body = introspect(rs, other_at)
    R.check("introspect agent: other-bot's token active",
            st == 200 and body.get("active") is True and body.get("client_id") == "other-bot",
            body)
    st, h, body = introspect(rs, demo_at)
    R.check("introspect agent: demo-agent's token active",
            body.get("active") is True and body.get("client_id") == "demo-agent", body)
    st, h, body = introspect(rs, "garbage")
    R.check("introspect agent: garbage still inactive", body == {"active": False}, body)

    # --- revocation: only the owner (RFC 7009 §2.1), introspect or not
    for who, name in ((other, "another agent"), (rs, "an introspect agent")):
        st, h, body = srv.request("POST", "/revoke", {"token": demo_at}, headers=who)
        R.check(f"revoke by {name}: refused unauthorized_client",
                st == 400 and isinstance(body, dict) and
                body.get("error") == "unauthorized_client", f"{st} {body}")
    st, h, body = introspect(demo, demo_at)
    R.check("the refused revocations changed nothing", body.get("active") is True, body)
    st, h, body = srv.request("POST", "/revoke", {"token": other_at}, headers=other)
    R.check("other-bot revokes its own token", st == 200, body)
    st, h, body = introspect(rs, other_at)
    R.check("introspect agent: the revoked token is inactive", body == {"active": False}, body)

    # --- withdrawing the right (apply introspect: false) takes effect
    sec2 = apply(POLICY % "false")
    R.check("apply introspect: false: no new secret", sec2 == {}, sec2)
    R.check("withdrawn: demo-agent's token no longer visible to rs-introspector",
            wait_for(lambda: introspect(rs, demo_at)[2] == {"active": False}), "still active")
    R.check("withdrawn: demo-agent still sees its own",
            introspect(demo, demo_at)[2].get("active") is True, "")
    apply(POLICY % "true")
    R.check("granted again", wait_for(lambda: introspect(rs, demo_at)[2].get("active") is True),
            "still inactive")

    # --- the audit log: the refusal and its reason, never the token
    with open(os.path.join(srv.data, "audit.log")) as f:
        events = [json.loads(line) for line in f if line.strip()]
    text = json.dumps(events)
    denied = [e for e in events if e.get("event") == "introspect" and
              e.get("why", {}).get("decision") == "deny"]
    R.check("audit: introspection refusals recorded", len(denied) >= 3, len(denied))
    R.check("audit: the refusal names its reason",
            any("another client" in e["why"].get("reason", "") for e in denied), denied[:1])
    R.check("audit: the refusal names the caller",
            any(e.get("who", {}).get("agent") == "demo-agent" for e in denied), denied[:1])
    R.check("audit: revocation refusals recorded",
            sum(1 for e in events if e.get("event") == "revoke" and
                e.get("why", {}).get("decision") == "deny") >= 2, "")
    for name, t in (("demo", demo_at), ("other", other_at), ("spent", spent)):
        R.check(f"audit: no whole token ({name})", t and t not in text, "")
    R.check("audit: no secret", all(s not in text for s in sec.values()), "")
finally:
    out = srv.output()
    rc = srv.stop()
    R.check("server exits cleanly on SIGTERM", rc == 0, f"rc={rc}\n{out[-2000:]}")
R.done()
