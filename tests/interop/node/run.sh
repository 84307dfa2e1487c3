#!/bin/bash
# Start `tollgate serve --dev` on free loopback ports and run the node clients
# against it. Usage: tests/interop/node/run.sh TOLLGATE_BIN
set -u
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
tmp="$(mktemp -d)"
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp" "$tmp.master-key" "$tmp/data.master-key"
}
trap cleanup EXIT
if [ ! -d "$here/node_modules/oauth4webapi" ]; then
    (cd "$here" && npm ci --no-audit --no-fund >"$tmp/npm.log" 2>&1) || {
        cat "$tmp/npm.log"; echo "interop-oauth4webapi: 0 passed, 1 failed"; exit 1; }
fi
"$bin" serve --dev --data "$tmp/data" --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
    >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    [ -s "$tmp/data/dev.json" ] && break
    sleep 0.1
done
if [ ! -s "$tmp/data/dev.json" ]; then
    cat "$tmp/server.log"; echo "interop-oauth4webapi: 0 passed, 1 failed"; exit 1
fi
node "$here/oauth4webapi.mjs" "$tmp/data/dev.json"
