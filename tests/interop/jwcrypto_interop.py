#!/usr/bin/python3
"""Cross-implementation tests: Tollgate's JOSE core against python3-jwcrypto.

Usage: /usr/bin/python3 tests/interop/jwcrypto_interop.py BUILD_DIR

Drives BUILD_DIR/tests/interop/jose_peer (a test-only CLI over Tollgate's
JOSE core) and Debian's python3-jwcrypto (1.1.0 in Debian 12), which is
why this must run under /usr/bin/python3 and not a python3 found on PATH.

For every alg Tollgate accepts (ES256, ES384, EdDSA, RS256, PS256):
  a. jwcrypto signs, Tollgate verifies and returns the exact payload;
  b. a tampered signature or payload is refused by Tollgate;
  c. Tollgate signs, jwcrypto verifies with Tollgate's public and private
     JWK, and a different key fails; Tollgate also signs with a private
     JWK that jwcrypto made;
  d. RFC 7638 thumbprints agree for keys made on either side;
  e. refusals seen from outside: alg "none", HS256, alg/key mismatch.

Each check counts once. Failures go to stderr with detail; stdout gets one
closing line: "interop-jwcrypto: N passed, M failed". Exit 1 when M > 0.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import traceback

SUITE = "interop-jwcrypto"
ALGS = ("ES256", "ES384", "EdDSA", "RS256", "PS256")
GEN_PARAMS = {
    "ES256": {"kty": "EC", "crv": "P-256"},
    "ES384": {"kty": "EC", "crv": "P-384"},
    "EdDSA": {"kty": "OKP", "crv": "Ed25519"},
    "RS256": {"kty": "RSA", "size": 2048},
    "PS256": {"kty": "RSA", "size": 2048},
}
TIMEOUT = 120


def closing(passed, failed):
    print("%s: %d passed, %d failed" % (SUITE, passed, failed))
    sys.stdout.flush()


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CheckFailed(Exception):
    pass


def expect(cond, detail):
    if not cond:
        raise CheckFailed(detail)


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name):
        return _Check(self, name)

    def fail(self, name, exc):
        self.failed += 1
        if isinstance(exc, CheckFailed):
            sys.stderr.write("FAIL %s: %s\n" % (name, exc))
        else:
            sys.stderr.write("FAIL %s: unexpected %s: %s\n"
                             % (name, type(exc).__name__, exc))
            traceback.print_exception(type(exc), exc, exc.__traceback__,
                                      file=sys.stderr)


class _Check:
    """One test: passes when its block ends without an exception."""

    def __init__(self, runner, name):
        self.runner = runner
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if etype is None:
            self.runner.passed += 1
            return False
        if not issubclass(etype, Exception):
            return False  # KeyboardInterrupt and the like: let them through
        self.runner.fail(self.name, exc)
        return True


class Peer:
    """jose_peer, run as a subprocess."""

    def __init__(self, path):
        self.path = path

    def run(self, args, stdin=b""):
        proc = subprocess.run([self.path] + list(args), input=stdin,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=TIMEOUT, check=False)
        return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")

    def ok(self, args, stdin=b""):
        rc, out, err = self.run(args, stdin)
        expect(rc == 0, "jose_peer %s exited %d: %s" % (" ".join(args), rc, err.strip()))
        return out

    def refused(self, args, stdin, want):
        """Expect exit 1 with `want` (an error name) as stderr's first line."""
        rc, out, err = self.run(args, stdin)
        first = err.splitlines()[0] if err else ""
        expect(rc == 1 and first == want and out == b"",
               "want exit 1 with %s, got exit %d, stdout %r, stderr %r"
               % (want, rc, out[:80], err.strip()))


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def read_text(path):
    with open(path, "r", encoding="utf-8") as f:
        return f.read()


def payload_for(alg):
    # Not only ASCII JSON: UTF-8, a NUL and a non-UTF-8 octet, to show the
    # payload comes back byte for byte.
    return (('{"iss":"https://as.example","sub":"agent-\u00e9","alg":"%s"}' % alg)
            .encode("utf-8") + b"\n\x00\xff")


def jw_sign(jws_mod, json_encode, key, alg, payload, extra=None):
    header = {"alg": alg}
    if extra:
        header.update(extra)
    sig = jws_mod.JWS(payload)
    sig.add_signature(key, None, json_encode(header))
    return sig.serialize(compact=True)


def jw_verify(jws_mod, key, token):
    obj = jws_mod.JWS()
    obj.deserialize(token, key)
    return obj.payload, obj.jose_header


def tamper_char(c):
    return "A" if c != "A" else "B"


def run_alg(r, peer, jwk_mod, jws_mod, json_encode, alg, tmp, keys):
    payload = payload_for(alg)
    jw_key = jwk_mod.JWK.generate(**GEN_PARAMS[alg])
    jw_pub = os.path.join(tmp, "jw-%s.pub.jwk" % alg)
    jw_priv = os.path.join(tmp, "jw-%s.priv.jwk" % alg)
    write_secret(jw_pub, jw_key.export_public())
    write_secret(jw_priv, jw_key.export_private())
    keys[alg] = {"jw_key": jw_key, "jw_pub": jw_pub}
    token = None

    # a. jwcrypto signs, Tollgate verifies.
    with r.check("%s a: jwcrypto signs, Tollgate verifies" % alg):
        token = jw_sign(jws_mod, json_encode, jw_key, alg, payload)
        keys[alg]["jw_token"] = token
        out = peer.ok(["verify", jw_pub], token.encode())
        expect(out == payload, "payload %r, want %r" % (out, payload))

    # b. Tampering is refused.
    with r.check("%s b: flipped signature character refused" % alg):
        expect(token is not None, "no jwcrypto token")
        h, p, s = token.split(".")
        i = len(s) // 2  # a full 6-bit character: any other letter is canonical
        bad = "%s.%s.%s" % (h, p, s[:i] + tamper_char(s[i]) + s[i + 1:])
        expect(bad != token, "tamper did not change the token")
        peer.refused(["verify", jw_pub], bad.encode(), "TG_ERR_JWS_SIG_INVALID")

    with r.check("%s b: modified payload refused" % alg):
        expect(token is not None, "no jwcrypto token")
        h, p, s = token.split(".")
        bad = "%s.%s.%s" % (h, b64u(b64u_decode(p) + b" "), s)
        peer.refused(["verify", jw_pub], bad.encode(), "TG_ERR_JWS_SIG_INVALID")

    # c. Tollgate signs, jwcrypto verifies.
    tg_priv = os.path.join(tmp, "tg-%s.priv.jwk" % alg)
    tg_pub = os.path.join(tmp, "tg-%s.pub.jwk" % alg)
    tg_token = None
    with r.check("%s c: Tollgate key generation and public export" % alg):
        peer.ok(["gen", alg, tg_priv])
        mode = os.stat(tg_priv).st_mode & 0o777
        expect(mode == 0o600, "private JWK file mode %o, want 600" % mode)
        pub_text = peer.ok(["pubjwk", tg_priv]).decode("utf-8")
        pub = json.loads(pub_text)
        private_members = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"} & set(pub)
        expect(not private_members, "public JWK has %s" % sorted(private_members))
        write_secret(tg_pub, pub_text)

    with r.check("%s c: Tollgate signs, jwcrypto verifies (public JWK)" % alg):
        tg_token = peer.ok(["sign", tg_priv, alg], payload).decode("ascii").strip()
        key = jwk_mod.JWK.from_json(read_text(tg_pub))
        expect(not key.has_private, "jwcrypto sees a private key in the public JWK")
        got, header = jw_verify(jws_mod, key, tg_token)
        expect(got == payload, "payload %r, want %r" % (got, payload))
        expect(header == {"alg": alg, "typ": "JWT"}, "header %r" % (header,))

    with r.check("%s c: jwcrypto verifies with Tollgate's private JWK" % alg):
        expect(tg_token is not None, "no Tollgate token")
        key = jwk_mod.JWK.from_json(read_text(tg_priv))
        expect(key.has_private, "jwcrypto sees no private key")
        got, _ = jw_verify(jws_mod, key, tg_token)
        expect(got == payload, "payload %r, want %r" % (got, payload))
        # The public half jwcrypto derives is the one Tollgate exported.
        mine = json.loads(key.export_public())
        theirs = json.loads(read_text(tg_pub))
        for name in ("kty", "crv", "x", "y", "n", "e"):
            expect(mine.get(name) == theirs.get(name),
                   "member %s: jwcrypto %r, Tollgate %r"
                   % (name, mine.get(name), theirs.get(name)))

    with r.check("%s c: Tollgate signature fails against a different key" % alg):
        expect(tg_token is not None, "no Tollgate token")
        try:
            jw_verify(jws_mod, jw_key, tg_token)
        except jws_mod.InvalidJWSSignature:
            pass
        else:
            raise CheckFailed("jwcrypto accepted the token with another key")

    with r.check("%s c: Tollgate signs with jwcrypto's private JWK" % alg):
        tok = peer.ok(["sign", jw_priv, alg], payload).decode("ascii").strip()
        got, _ = jw_verify(jws_mod, jw_key, tok)
        expect(got == payload, "payload %r, want %r" % (got, payload))

    # d. Thumbprints.
    with r.check("%s d: thumbprint of a jwcrypto key" % alg):
        want = jw_key.thumbprint()
        for path in (jw_pub, jw_priv):
            got = peer.ok(["thumbprint", path]).decode("ascii").strip()
            expect(got == want, "%s: Tollgate %s, jwcrypto %s"
                   % (os.path.basename(path), got, want))

    with r.check("%s d: thumbprint of a Tollgate key" % alg):
        want = jwk_mod.JWK.from_json(read_text(tg_pub)).thumbprint()
        for path in (tg_pub, tg_priv):
            got = peer.ok(["thumbprint", path]).decode("ascii").strip()
            expect(got == want, "%s: Tollgate %s, jwcrypto %s"
                   % (os.path.basename(path), got, want))

    # e. alg "none": the jwcrypto token re-headered, signature dropped.
    with r.check("%s e: alg none refused" % alg):
        expect(token is not None, "no jwcrypto token")
        _, p, _ = token.split(".")
        none = "%s.%s." % (b64u(b'{"alg":"none"}'), p)
        peer.refused(["verify", jw_pub], none.encode(), "TG_ERR_JWS_ALG_NONE")


def run_refusals(r, peer, jwk_mod, jws_mod, json_encode, tmp, keys):
    payload = b'{"sub":"agent"}'

    with r.check("e: HS256 token refused"):
        oct_key = jwk_mod.JWK.generate(kty="oct", size=256)
        tok = jw_sign(jws_mod, json_encode, oct_key, "HS256", payload)
        peer.refused(["verify", keys["ES256"]["jw_pub"]], tok.encode(),
                     "TG_ERR_JWS_ALG_SYMMETRIC")

    # A token whose alg the key's type cannot produce (RFC 8725 §3.1).
    for tok_alg, key_alg in (("RS256", "ES256"), ("PS256", "EdDSA"),
                             ("ES256", "ES384"), ("EdDSA", "RS256"),
                             ("ES384", "PS256")):
        with r.check("e: %s token with a %s key refused" % (tok_alg, key_alg)):
            tok = keys[tok_alg]["jw_token"]
            peer.refused(["verify", keys[key_alg]["jw_pub"]], tok.encode(),
                         "TG_ERR_JWS_ALG_KEY_MISMATCH")


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: /usr/bin/python3 %s BUILD_DIR\n" % argv[0])
        closing(0, 1)
        return 1
    peer_path = os.path.join(argv[1], "tests", "interop", "jose_peer")
    if not os.access(peer_path, os.X_OK):
        sys.stderr.write("FAIL setup: %s is missing or not executable\n" % peer_path)
        closing(0, 1)
        return 1
    try:
        from jwcrypto import jwk as jwk_mod
        from jwcrypto import jws as jws_mod
        from jwcrypto.common import json_encode
    except ImportError as e:
        sys.stderr.write("FAIL setup: cannot import jwcrypto under %s: %s "
                         "(install python3-jwcrypto; run with /usr/bin/python3)\n"
                         % (sys.executable, e))
        closing(0, 1)
        return 1

    r = Runner()
    peer = Peer(os.path.abspath(peer_path))
    with tempfile.TemporaryDirectory(prefix="tg-interop-") as tmp:
        keys = {}
        for alg in ALGS:
            # Key generation by jwcrypto happens outside any one check; if
            # it breaks, that is one failure (and the checks it feeds fail).
            try:
                run_alg(r, peer, jwk_mod, jws_mod, json_encode, alg, tmp, keys)
            except Exception as e:  # pylint: disable=broad-except
                r.fail("%s: setup" % alg, e)
        try:
            run_refusals(r, peer, jwk_mod, jws_mod, json_encode, tmp, keys)
        except Exception as e:  # pylint: disable=broad-except
            r.fail("e: setup", e)
    closing(r.passed, r.failed)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
