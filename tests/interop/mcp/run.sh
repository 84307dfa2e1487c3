#!/bin/bash
# A real MCP server (MCP TypeScript SDK) behind `tollgate serve --dev`, driven
# by the SDK's own clients with tokens from Tollgate. Free loopback ports, a
# temporary data dir. Usage: tests/interop/mcp/run.sh TOLLGATE_BIN
# Prints "interop-mcp: N passed, M failed".
set -u
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
tmp="$(mktemp -d)"
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "${mpid:-}" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
    [ -n "${m2pid:-}" ] && kill "$m2pid" 2>/dev/null && wait "$m2pid" 2>/dev/null
    rm -rf "$tmp" "$tmp.master-key" "$tmp/data.master-key"
}
trap cleanup EXIT
fail() { [ -n "${1:-}" ] && cat "$1"; echo "interop-mcp: 0 passed, 1 failed"; exit 1; }
if [ ! -d "$here/node_modules/@modelcontextprotocol/sdk" ] ||
   [ ! -d "$here/node_modules/@modelcontextprotocol/client" ]; then
    (cd "$here" && npm ci --no-audit --no-fund >"$tmp/npm.log" 2>&1) || fail "$tmp/npm.log"
fi

"$bin" serve --dev --data "$tmp/data" --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
    >"$tmp/server.log" 2>&1 &
pid=$!
node "$here/server.mjs" >"$tmp/mcp.log" 2>&1 &
mpid=$!
node "$here/server_v2.mjs" >"$tmp/mcp2.log" 2>&1 &
m2pid=$!
for _ in $(seq 100); do
    [ -s "$tmp/data/dev.json" ] && grep -q '^port ' "$tmp/mcp.log" &&
        grep -q '^port ' "$tmp/mcp2.log" && break
    sleep 0.1
done
[ -s "$tmp/data/dev.json" ] || fail "$tmp/server.log"
grep -q '^port ' "$tmp/mcp.log" || fail "$tmp/mcp.log"
grep -q '^port ' "$tmp/mcp2.log" || fail "$tmp/mcp2.log"
mport="$(sed -n 's/^port //p' "$tmp/mcp.log" | head -1)"
m2port="$(sed -n 's/^port //p' "$tmp/mcp2.log" | head -1)"
echo "mcp servers on 127.0.0.1:$mport (SDK v1) and 127.0.0.1:$m2port (SDK v2)"
iss="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).issuer)' \
    "$tmp/data/dev.json")"

cat >"$tmp/policy.yaml" <<YAML
version: 1
agents:
  - {id: mcp-v1, type: internal, owner: interop@example.com, auth: client_secret_basic,
     sender_constraint: bearer}
  - {id: mcp-v2, type: internal, owner: interop@example.com, auth: client_secret_basic,
     sender_constraint: dpop}
tools:
  - id: notes
    kind: mcp
    resource: $iss/tools/notes
    upstream: http://127.0.0.1:$mport
    endpoints:
      - {mcp_tool: "search_*", action: read}
      - {mcp_tool: echo_headers, action: read}
      - {mcp_tool: delete_note, action: admin, risk: high}
  - id: notes2
    kind: mcp
    resource: $iss/tools/notes2
    upstream: http://127.0.0.1:$m2port
    endpoints:
      - {mcp_tool: "search_*", action: read}
      - {mcp_tool: echo_headers, action: read}
      - {mcp_tool: delete_note, action: admin, risk: high}
grants:
  - {agent: mcp-v1, tool: notes, actions: [read]}
  - {agent: mcp-v2, tool: notes, actions: [read, admin],
     endpoints: ["MCP search_*", "MCP delete_note"]}
  - {agent: mcp-v2, tool: notes2, actions: [read, admin],
     endpoints: ["MCP search_*", "MCP delete_note"]}
YAML
"$bin" apply -f "$tmp/policy.yaml" --json --data "$tmp/data" >"$tmp/apply.json" 2>"$tmp/apply.err" ||
    fail "$tmp/apply.err"
secret() {
    node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1]));
             console.log(o.client_secrets.find(s => s.client_id === process.argv[2]).client_secret)' \
        "$tmp/apply.json" "$1"
}
url="$iss/tools/notes/mcp"
pass=0; failn=0
url2="$iss/tools/notes2/mcp"
for c in "client_v1.mjs mcp-v1 $url" "client_v2.mjs mcp-v2 $url" "client_v2.mjs mcp-v2 $url2 v2server"; do
    set -- $c
    [ -f "$here/$1" ] || continue
    node "$here/$1" "$3" "$iss" "$2" "$(secret "$2")" ${4:-} >"$tmp/out" 2>&1
    cat "$tmp/out"
    line="$(grep -E '^v[12]: [0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -1)"
    if [ -z "$line" ]; then failn=$((failn + 1)); continue; fi
    pass=$((pass + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
    failn=$((failn + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
done
# The SDK v2 server's own log: the SEP-2243 headers reached it through the
# gateway on the calls it served; the ungranted tool and the request whose
# Mcp-Name disagreed with its body were refused by the gateway (the server
# never saw them: it would have logged its own -32020 rejection).
v2check() {
    if eval "$2"; then pass=$((pass + 1)); else failn=$((failn + 1)); echo "  FAIL v2 server: $1"; cat "$tmp/mcp2.log"; fi
}
v2check "Mcp-Method/Mcp-Name reached the server on tools/call" \
    "grep -q '^POST tools/call search_notes\$' '$tmp/mcp2.log'"
v2check "the allowed tools ran, with their Mcp-Name" \
    "grep -q '^CALL search_notes search_notes\$' '$tmp/mcp2.log' && grep -q '^CALL delete_note delete_note\$' '$tmp/mcp2.log'"
v2check "tools/list reached the server with its Mcp-Method" "grep -q '^POST tools/list -\$' '$tmp/mcp2.log'"
v2check "the ungranted tool never reached the server" "! grep -q 'echo_headers' '$tmp/mcp2.log'"
v2check "the disagreeing request never reached the server" \
    "! grep -q 'Rejected inbound request' '$tmp/mcp2.log' && [ \$(grep -c '^CALL delete_note' '$tmp/mcp2.log') -eq 1 ]"
echo "interop-mcp: $pass passed, $failn failed"
[ "$failn" -eq 0 ]
