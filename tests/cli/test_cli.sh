#!/bin/bash
# The tollgate binary as a user meets it.
set -u
bin="$1"
src="$(cd "$(dirname "$0")/../.." && pwd)"
p=0
f=0
ok() { p=$((p + 1)); }
ko() { f=$((f + 1)); echo "  FAIL: $*" >&2; }

out="$("$bin")" && [[ "$out" == *"tollgate 0."* && "$out" == *"subcommands:"* ]] && ok || ko "no-arg usage"
out="$("$bin" version)" && [[ "$out" =~ ^tollgate\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok || ko "version"
"$bin" no-such-command >/dev/null 2>&1; [ $? -eq 2 ] && ok || ko "unknown subcommand exits 2"

jwk="$(/usr/bin/python3 -c 'import json;print(json.dumps(json.load(open("'"$src"'/tests/vectors/rfc7638_3_1.json"))["jwk"]))')"
out="$(echo "$jwk" | "$bin" jwk thumbprint)" && [ "$out" = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" ] && ok || ko "RFC 7638 thumbprint"
out="$(echo '{"kty":"oct","k":"AAAA"}' | "$bin" jwk thumbprint 2>&1)"; [ $? -eq 1 ] && [[ "$out" == *TG_ERR_JWK_SYMMETRIC* ]] && ok || ko "symmetric JWK refused"
# A private JWK's thumbprint prints, its private member never does.
priv="$(/usr/bin/python3 -c 'import json;print(json.dumps(json.load(open("'"$src"'/tests/vectors/rfc8037_a4_ed25519.json"))["jwk"]))')"
out="$(echo "$priv" | "$bin" jwk thumbprint 2>&1)" && [ "$out" = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" ] && ok || ko "RFC 8037 thumbprint"
[[ "$out" != *nWGxne* ]] && ok || ko "private member echoed"
out="$("$bin" cert x5t "$src/tests/unit/data/cert.pem")" && [ "$out" = "$(cat "$src/tests/unit/data/cert.x5t")" ] && ok || ko "x5t#S256 matches openssl"
"$bin" cert x5t /nonexistent >/dev/null 2>&1; [ $? -eq 1 ] && ok || ko "missing file"

# Timeouts are whole seconds, 1 .. 86400: anything else is a usage error
# (exit 2, before any data directory is made), never a silent default.
for v in 0 -5 abc 10x 86401 ""; do
    for mode in "--dev" "--gateway-only --issuer https://as.example --jwks-uri https://as.example/jwks"; do
        # shellcheck disable=SC2086 # mode is two or five words on purpose
        "$bin" serve $mode --data /nonexistent/tg --upstream-timeout "$v" >/dev/null 2>&1
        [ $? -eq 2 ] && ok || ko "serve $mode --upstream-timeout '$v' is a usage error"
        # shellcheck disable=SC2086
        "$bin" serve $mode --data /nonexistent/tg --stream-idle-timeout "$v" >/dev/null 2>&1
        [ $? -eq 2 ] && ok || ko "serve $mode --stream-idle-timeout '$v' is a usage error"
    done
done

echo "cli: $p passed, $f failed"
[ "$f" -eq 0 ]
