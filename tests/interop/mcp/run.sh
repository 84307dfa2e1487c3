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
for _ in $(seq 100); do
    [ -s "$tmp/data/dev.json" ] && grep -q '^port ' "$tmp/mcp.log" && break
    sleep 0.1
done
[ -s "$tmp/data/dev.json" ] || fail "$tmp/server.log"
grep -q '^port ' "$tmp/mcp.log" || fail "$tmp/mcp.log"
mport="$(sed -n 's/^port //p' "$tmp/mcp.log" | head -1)"
echo "mcp server on 127.0.0.1:$mport"
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
grants:
  - {agent: mcp-v1, tool: notes, actions: [read]}
  - {agent: mcp-v2, tool: notes, actions: [read, admin],
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
for c in "client_v1.mjs mcp-v1" "client_v2.mjs mcp-v2"; do
    set -- $c
    [ -f "$here/$1" ] || continue
    node "$here/$1" "$url" "$iss" "$2" "$(secret "$2")" >"$tmp/out" 2>&1
    cat "$tmp/out"
    line="$(grep -E '^v[12]: [0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -1)"
    if [ -z "$line" ]; then failn=$((failn + 1)); continue; fi
    pass=$((pass + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
    failn=$((failn + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
done
echo "interop-mcp: $pass passed, $failn failed"
[ "$failn" -eq 0 ]
