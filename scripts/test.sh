#!/bin/bash
# The README's test command: install what is missing, build every preset,
# run every test (unit tests in the default and the ASan+UBSan builds, the
# CLI, the cross-implementation tests, a bounded fuzz run) and close with
# one line summing every suite: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${TG_FUZZ_SECONDS:-10}" # per target; five targets
passed=0
failed=0
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# Run a command whose output holds "<suite>: N passed, N failed" lines; add
# them up. A command that fails without reporting a failure counts as one.
suite() {
    local label="$1" rc p f sp=0 sf=0
    shift
    echo "== $label"
    "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    while read -r p f; do
        sp=$((sp + p))
        sf=$((sf + f))
    done < <(sed -nE 's/^[A-Za-z0-9_./-]+: ([0-9]+) passed, ([0-9]+) failed.*$/\1 \2/p' "$log")
    if [ "$rc" -ne 0 ] && [ "$sf" -eq 0 ]; then
        echo "!! $label exited with status $rc without reporting a failure"
        sf=1
    fi
    if [ "$rc" -eq 0 ] && [ "$sp" -eq 0 ] && [ "$sf" -eq 0 ]; then
        echo "!! $label ran no test"
        sf=1
    fi
    passed=$((passed + sp))
    failed=$((failed + sf))
}

./scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
for preset in default asan fuzz; do
    echo "== build $preset"
    if ! ./scripts/build.sh "$preset" >"$log" 2>&1; then
        cat "$log"
        echo "!! build $preset failed"
        echo "$passed passed, $((failed + 1)) failed"
        exit 1
    fi
done

for build in default asan; do
    for t in build/$build/tests/test_*; do
        suite "$build: $(basename "$t")" "$t"
    done
done
suite "cli" tests/cli/test_cli.sh build/default/tollgate
[ -x tests/cli/test_admin.sh ] && suite "cli admin" tests/cli/test_admin.sh build/default/tollgate
suite "integration: authorization server (default)" /usr/bin/python3 tests/integration/test_as.py build/default/tollgate
suite "integration: authorization server (asan)" /usr/bin/python3 tests/integration/test_as.py build/asan/tollgate
suite "integration: client authentication (default)" /usr/bin/python3 tests/integration/test_as_auth.py build/default/tollgate
suite "integration: client authentication (asan)" /usr/bin/python3 tests/integration/test_as_auth.py build/asan/tollgate
suite "integration: who may introspect and revoke (default)" /usr/bin/python3 tests/integration/test_introspect.py build/default/tollgate
suite "integration: who may introspect and revoke (asan)" /usr/bin/python3 tests/integration/test_introspect.py build/asan/tollgate
suite "integration: gateway (default)" /usr/bin/python3 tests/integration/test_gateway.py build/default/tollgate
suite "integration: gateway (asan)" /usr/bin/python3 tests/integration/test_gateway.py build/asan/tollgate
suite "integration: tenant-bound routing (default)" /usr/bin/python3 tests/integration/test_tenant.py build/default/tollgate
suite "integration: tenant-bound routing (asan)" /usr/bin/python3 tests/integration/test_tenant.py build/asan/tollgate
suite "integration: MCP tools (default)" /usr/bin/python3 tests/integration/test_mcp.py build/default/tollgate
suite "integration: MCP tools (asan)" /usr/bin/python3 tests/integration/test_mcp.py build/asan/tollgate
suite "integration: HTTP/1.1 connections under hostile clients (default)" /usr/bin/python3 tests/integration/test_http_robust.py build/default/tollgate
suite "integration: HTTP/1.1 connections under hostile clients (asan)" /usr/bin/python3 tests/integration/test_http_robust.py build/asan/tollgate
suite "integration: audit log unwritable: fail closed (default)" /usr/bin/python3 tests/integration/test_audit_fail.py build/default/tollgate
suite "integration: audit log unwritable: fail closed (asan)" /usr/bin/python3 tests/integration/test_audit_fail.py build/asan/tollgate
suite "integration: streaming (default)" /usr/bin/python3 tests/integration/test_stream.py build/default/tollgate
suite "integration: streaming (asan)" /usr/bin/python3 tests/integration/test_stream.py build/asan/tollgate
suite "integration: nginx auth_request (default)" /usr/bin/python3 tests/integration/test_nginx.py build/default/tollgate
suite "integration: nginx auth_request (asan)" /usr/bin/python3 tests/integration/test_nginx.py build/asan/tollgate
suite "integration: gateway-only process (default)" /usr/bin/python3 tests/integration/test_gateway_only.py build/default/tollgate
suite "interop MCP SDK clients v1 and v2 (node)" tests/interop/mcp/run.sh build/default/tollgate
suite "interop oauth4webapi + jose (node)" tests/interop/node/run.sh build/default/tollgate
suite "interop jwcrypto (default)" /usr/bin/python3 tests/interop/jwcrypto_interop.py build/default
suite "interop jwcrypto (asan)" /usr/bin/python3 tests/interop/jwcrypto_interop.py build/asan
suite "fuzz (${FUZZ_SECONDS}s per target)" fuzz/run.sh build/fuzz "$FUZZ_SECONDS"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
