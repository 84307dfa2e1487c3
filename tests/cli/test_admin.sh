#!/bin/bash
# tollgate agent / apply / keys as an administrator meets them: a fresh data
# directory, the inventory, secrets shown once and never again (not in any
# output, the audit log or the database files), declarative apply with
# rollback, and signing key rotation. Usage: test_admin.sh path/to/tollgate
set -u
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 path/to/tollgate" >&2
    echo "cli-admin: 0 passed, 1 failed"
    exit 1
fi
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
py=/usr/bin/python3
tmp="$(mktemp -d)"
d="$tmp/data"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

p=0
f=0
ok() { p=$((p + 1)); }
ko() { f=$((f + 1)); echo "  FAIL: $*" >&2; }
# check NAME COMMAND...: one test, passing when COMMAND succeeds.
check() {
    local name="$1"
    shift
    if "$@"; then ok; else ko "$name"; fi
}

# chk NAME: one test, passing when the command just before it succeeded.
chk() {
    if [ $? -eq 0 ]; then ok; else ko "$1"; fi
}

# Run tollgate against the test's data directory; stdout in $out, stderr in
# $err, exit status in $rc.
tg() {
    "$bin" "$@" --data "$d" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out="$(cat "$tmp/out")"
    err="$(cat "$tmp/err")"
    cat "$tmp/err" >>"$tmp/all-stderr"
}
is_json() { printf '%s' "$1" | $py -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null; }
# jget JSON EXPR: print a Python expression over the parsed document `d`.
jget() { printf '%s' "$1" | $py -c 'import json,sys; d=json.load(sys.stdin); print('"$2"')' 2>/dev/null; }
secret_of() { printf '%s\n' "$1" | sed -n 's/^client_secret: \(tgs_[A-Za-z0-9_-]*\) (shown once; store it now)$/\1/p'; }
# The secret appears nowhere under the data directory (database, WAL,
# audit log) nor in the master key file.
nowhere_on_disk() { ! grep -rqF -- "$1" "$d" "$d.master-key"; }
one_line_error() { [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] && [[ "$err" == "tollgate: "* ]]; }
# The stored MAC of an agent's secret, read straight from SQLite.
mac_of() {
    $py - "$d/tollgate.db" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
row = db.execute("SELECT hex(secret_mac) FROM agents WHERE id = ?", (sys.argv[2],)).fetchone()
print(row[0] if row and row[0] else "")
EOF
}
# Everything apply may touch, for "nothing changed" checks.
snapshot() {
    $py - "$d/tollgate.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for t in ("agents", "tools", "tool_endpoints", "grants", "grant_endpoints"):
    for row in db.execute("SELECT * FROM %s ORDER BY 1, 2" % t):
        print(t, row)
EOF
}

# ---- A fresh data directory and the first agent ----------------------------
tg agent list
check "list on a missing data dir fails" [ "$rc" -eq 1 ]
check "list does not create the data dir" [ ! -e "$d" ]
check "the failure is one line" one_line_error

tg agent add crm-bot --type internal --owner sales-eng
check "agent add exits 0" [ "$rc" -eq 0 ]
s1="$(secret_of "$out")"
check "agent add prints the secret once, in its format" [ "${#s1}" -eq 53 ]
check "the secret is printed exactly once" [ "$(printf '%s\n%s\n' "$out" "$err" | grep -cF -- "$s1")" -eq 1 ]
check "agent add creates the data dir (mode 700)" [ "$(stat -c %a "$d" 2>/dev/null)" = 700 ]
check "master key beside the data dir, mode 600" [ "$(stat -c %a "$d.master-key" 2>/dev/null)" = 600 ]
check "no master key inside the data dir" [ -z "$(find "$d" -name '*master*')" ]
mk="$(tr -d '\n' <"$d.master-key")"
check "the master key's value is not in the data dir" bash -c '! grep -rqF -- "$1" "$2"' _ "$mk" "$d"
check "the secret is not on disk" nowhere_on_disk "$s1"

tg agent add acme-helper --type tenant --tenant acme --owner support --auth client_secret_post \
    --sender-constraint any-pop --max-token-lifetime 600 --json
check "agent add --json exits 0" [ "$rc" -eq 0 ]
check "agent add --json parses" is_json "$out"
s2="$(jget "$out" 'd["client_secret"]')"
check "agent add --json: client_id" [ "$(jget "$out" 'd["client_id"]')" = acme-helper ]
[[ "$s2" == tgs_* && "${#s2}" -eq 53 ]]; chk "agent add --json: client_secret"
check "agent add --json: fields" [ "$(jget "$out" 'd["tenant"], d["auth"], d["sender_constraint"], d["max_token_lifetime"], d["has_secret"]')" = "acme client_secret_post any-pop 600 True" ]
check "the second secret is not on disk" nowhere_on_disk "$s2"
check "two agents, two different secrets" [ "$s1" != "$s2" ]

tg agent add spiffe-a --type internal --owner platform --auth spiffe_jwt \
    --spiffe-id spiffe://example.org/agent/a --sender-constraint dpop
check "agent add without a client secret method" [ "$rc" -eq 0 ]
[[ "$out" != *tgs_* ]]; chk "no secret for a SPIFFE agent"

# ---- Refusals -----------------------------------------------------------------
tg agent add crm-bot --type internal --owner someone-else
check "duplicate add fails (exit 1)" [ "$rc" -eq 1 ]
[[ "$err" == *'"crm-bot" already exists'* ]]; chk "duplicate add says so"
check "duplicate add: one-line error, nothing on stdout" one_line_error
check "duplicate add prints no secret" [ -z "$out" ]
tg agent add t1 --type tenant --owner o
[ "$rc" -eq 1 ] && [[ "$err" == *tenant* ]]; chk "tenant agent without --tenant refused"
tg agent add b1 --type browsing --owner o --sender-constraint bearer
[ "$rc" -eq 1 ] && [[ "$err" == *bearer* ]]; chk "browsing agent with bearer refused"
tg agent add 'bad id!' --type internal --owner o
[ "$rc" -eq 1 ] && [[ "$err" == *id:* ]]; chk "bad agent id refused"
tg agent add s2 --type internal --owner o --auth spiffe_x509
check "SPIFFE auth without --spiffe-id refused" [ "$rc" -eq 1 ]
tg agent add x1 --type robot --owner o
check "unknown --type is a usage error (exit 2)" [ "$rc" -eq 2 ]
tg agent add x1 --type internal
check "missing --owner is a usage error" [ "$rc" -eq 2 ]
tg agent add x1 --type internal --owner o --colour blue
check "unknown option is a usage error" [ "$rc" -eq 2 ]
tg agent add x1 --type internal --owner o --max-token-lifetime 5m
check "bad --max-token-lifetime is a usage error" [ "$rc" -eq 2 ]
tg agent add x1 --type internal --owner o --max-token-lifetime 999999
check "--max-token-lifetime over the cap refused" [ "$rc" -eq 1 ]
tg agent add x2 --type internal --owner o --auth self_signed_tls_client_auth --cert-file /nonexistent.pem
check "missing --cert-file refused" [ "$rc" -eq 1 ]
tg agent
check "agent without a command: usage (exit 2)" [ "$rc" -eq 2 ]
tg agent frobnicate
check "agent unknown command: usage" [ "$rc" -eq 2 ]
tg agent show
check "agent show without an id: usage" [ "$rc" -eq 2 ]
tg agent list --json
check "refused adds created nothing" [ "$(jget "$out" 'len(d)')" = 3 ]

# ---- Self-signed certificate: the x5t#S256 is stored ---------------------------
cert="$(cd "$(dirname "$0")/../.." && pwd)/tests/unit/data/cert.pem"
if [ -f "$cert" ]; then
    tg agent add selfie --type internal --owner o --auth self_signed_tls_client_auth \
        --cert-file "$cert" --sender-constraint mtls --json
    [ "$rc" -eq 0 ] && [ "$(jget "$out" 'd["cert_x5t"]')" = "$("$bin" cert x5t "$cert")" ]
    chk "self-signed agent: x5t#S256 of --cert-file"
    tg agent remove selfie
else
    ko "tests/unit/data/cert.pem missing"
fi

# ---- list / show: all fields, never a secret ------------------------------------
tg agent list
check "agent list exits 0" [ "$rc" -eq 0 ]
[[ "$out" == *ID*TYPE*TENANT*OWNER*STATUS*AUTH*SENDER*INTROSPECT* ]]; chk "agent list: a table"
check "agent list: a row per agent" [ "$(printf '%s\n' "$out" | grep -cE '^(crm-bot|acme-helper|spiffe-a) ')" -eq 3 ]
list_h="$out"
tg agent list --json
check "agent list --json parses" is_json "$out"
check "agent list --json: fields" [ "$(jget "$out" 'sorted(d[0].keys())')" = "['auth', 'has_secret', 'id', 'introspect', 'owner', 'sender_constraint', 'status', 'tenant', 'type']" ]
check "agent list --json: values" [ "$(jget "$out" '[(a["id"], a["type"], a["tenant"], a["has_secret"]) for a in d]')" = "[('acme-helper', 'tenant', 'acme', True), ('crm-bot', 'internal', None, True), ('spiffe-a', 'internal', None, False)]" ]
list_j="$out"
tg agent show crm-bot
check "agent show exits 0" [ "$rc" -eq 0 ]
[[ "$out" == *"owner:"*sales-eng*"status:"*active*"sender constraint:"*dpop*"grants:"* ]]; chk "agent show: fields"
show_h="$out"
tg agent show acme-helper --json
check "agent show --json parses" is_json "$out"
check "agent show --json: every field" [ "$(jget "$out" 'all(k in d for k in ("id","type","tenant","owner","status","auth","sender_constraint","has_secret","max_token_lifetime","jwks","tls","cert_x5t","spiffe_id","tokens_not_before","created_at","updated_at","grants"))')" = True ]
check "agent show --json: no secret material" [ "$(jget "$out" '[k for k in d if "secret" in k and k != "has_secret"] + [k for k in d if "mac" in k]')" = "[]" ]
show_j="$out"
for v in "$list_h" "$list_j" "$show_h" "$show_j"; do
    [[ "$v" != *"$s1"* && "$v" != *"$s2"* && "$v" != *tgs_* ]]; chk "no secret in list/show output"
done
tg agent show nobody
[ "$rc" -eq 1 ] && [[ "$err" == *'no agent "nobody"'* ]]; chk "show of an unknown agent fails"

# ---- disable / enable -----------------------------------------------------------
tg agent disable crm-bot
check "disable exits 0" [ "$rc" -eq 0 ]
tg agent show crm-bot --json
check "disabled, tokens_not_before set" [ "$(jget "$out" 'd["status"], d["tokens_not_before"] > 0')" = "disabled True" ]
tg agent disable crm-bot
[ "$rc" -eq 0 ] && [[ "$out" == *"already disabled"* ]]; chk "disable twice: already disabled"
tg agent enable crm-bot --json
[ "$rc" -eq 0 ] && [ "$(jget "$out" 'd["status"], d["changed"]')" = "active True" ]; chk "enable --json"
tg agent show crm-bot --json
check "enabled again" [ "$(jget "$out" 'd["status"]')" = active ]
tg agent disable nobody
check "disable of an unknown agent fails" [ "$rc" -eq 1 ]

# ---- rotate-secret ----------------------------------------------------------------
mac1="$(mac_of crm-bot)"
check "a MAC is stored" [ "${#mac1}" -eq 64 ]
tg agent rotate-secret crm-bot
check "rotate-secret exits 0" [ "$rc" -eq 0 ]
s1b="$(secret_of "$out")"
[ "${#s1b}" -eq 53 ] && [ "$s1b" != "$s1" ]; chk "rotate-secret prints a new secret"
mac2="$(mac_of crm-bot)"
[ "${#mac2}" -eq 64 ] && [ "$mac2" != "$mac1" ]; chk "rotate-secret replaces the stored MAC"
check "the new secret is not on disk" nowhere_on_disk "$s1b"
tg agent rotate-secret acme-helper --json
[ "$rc" -eq 0 ] && is_json "$out" && [ "$(jget "$out" 'd["client_id"]')" = acme-helper ]; chk "rotate-secret --json"
s2b="$(jget "$out" 'd["client_secret"]')"
[[ "$s2b" == tgs_* && "$s2b" != "$s2" ]]; chk "rotate-secret --json: a new secret"
tg agent rotate-secret spiffe-a
[ "$rc" -eq 1 ] && [[ "$out" != *tgs_* ]]; chk "rotate-secret of a SPIFFE agent refused"
tg agent rotate-secret nobody
check "rotate-secret of an unknown agent fails" [ "$rc" -eq 1 ]

# ---- The token endpoint agrees: old secret dead at once, disable refuses -----------
# token ID SECRET: "STATUS ERROR" of a client_credentials request.
token() {
    $py - "$url" "$1" "$2" <<'EOF'
import base64, json, sys, urllib.error, urllib.request
url, cid, sec = sys.argv[1:]
auth = base64.b64encode(("%s:%s" % (cid, sec)).encode()).decode()
req = urllib.request.Request(url + "/token", data=b"grant_type=client_credentials",
                             headers={"Authorization": "Basic " + auth,
                                      "Content-Type": "application/x-www-form-urlencoded"})
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        print(r.status, json.load(r).get("error", "none"))
except urllib.error.HTTPError as e:
    print(e.code, json.load(e).get("error"))
EOF
}
"$bin" serve --data "$d" --listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!
url=""
for _ in $(seq 1 100); do
    url="$(sed -n 's/^tollgate: serving \(http:[^ ]*\).*/\1/p' "$tmp/serve.out")"
    [ -n "$url" ] && break
    sleep 0.1
done
check "the server starts on a free port" [ -n "$url" ]
if [ -n "$url" ]; then
    check "old secret refused at /token" [ "$(token crm-bot "$s1")" = "401 invalid_client" ]
    r="$(token crm-bot "$s1b")"
    [[ "$r" != "401 "* && "$r" != "" ]]; chk "new secret authenticates at /token"
    tg agent rotate-secret crm-bot
    s1c="$(secret_of "$out")"
    check "a secret rotated while serving stops working at once" [ "$(token crm-bot "$s1b")" = "401 invalid_client" ]
    r="$(token crm-bot "$s1c")"
    [[ "$r" != "401 "* && "$r" != "" ]]; chk "the secret rotated while serving works at once"
    tg agent disable crm-bot
    r="$(token crm-bot "$s1c")"
    [[ "$r" == 4* && "$r" != "400 invalid_scope" ]]; chk "a disabled agent gets no token ($r)"
    tg agent enable crm-bot
    r="$(token crm-bot "$s1c")"
    [[ "$r" != "401 "* && "$r" != "" ]]; chk "an enabled agent authenticates again"
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
    check "no secret in the server's output" bash -c '! grep -qF -- tgs_ "$1" "$2"' _ "$tmp/serve.out" "$tmp/serve.err"
fi

# ---- apply --------------------------------------------------------------------
cat >"$tmp/policy.yaml" <<'EOF'
version: 1
agents:
  - id: billing-bot
    type: internal
    owner: finance
    auth: client_secret_basic
  - id: globex-helper
    type: tenant
    tenant: globex
    owner: support
    auth: client_secret_post
    sender_constraint: any-pop
  - id: browser-1
    type: browsing
    owner: research
    auth: spiffe_jwt
    spiffe_id: spiffe://example.org/browser/1
tools:
  - id: crm
    resource: https://crm.example.com/api
    upstream: http://127.0.0.1:9000
    endpoints:
      - {method: GET, path: /contacts, action: read}
      - {method: POST, path: /contacts, action: write}
      - {method: DELETE, path: "/contacts/{id}", action: admin, risk: high}
grants:
  - agent: billing-bot
    tool: crm
    actions: [read, write]
  - agent: globex-helper
    tool: crm
    actions: [read]
    endpoints: ["GET /contacts"]
  - agent: crm-bot            # an agent that exists only in the store
    tool: crm
    actions: [read]
EOF
before="$(snapshot)"
tg apply -f "$tmp/policy.yaml" --dry-run
[ "$rc" -eq 0 ] && [[ "$out" == *"would create agent billing-bot"* ]]; chk "apply --dry-run exits 0"
[[ "$out" != *tgs_* ]]; chk "apply --dry-run prints no secret"
check "apply --dry-run writes nothing" [ "$(snapshot)" = "$before" ]
tg apply -f "$tmp/policy.yaml" --json
check "apply exits 0" [ "$rc" -eq 0 ]
check "apply --json parses" is_json "$out"
check "apply --json: counts" [ "$(jget "$out" '[(d[k]["created"], d[k]["updated"], d[k]["unchanged"]) for k in ("agents","tools","grants")], d["changed"]')" = "[(3, 0, 0), (1, 0, 0), (3, 0, 0)] True" ]
check "apply --json: a secret for each new client-secret agent" [ "$(jget "$out" 'sorted(s["client_id"] for s in d["client_secrets"])')" = "['billing-bot', 'globex-helper']" ]
sb="$(jget "$out" '[s["client_secret"] for s in d["client_secrets"] if s["client_id"] == "billing-bot"][0]')"
[[ "$sb" == tgs_* && "${#sb}" -eq 53 ]]; chk "apply's secret has the format"
check "apply's secret is not on disk" nowhere_on_disk "$sb"
tg agent show billing-bot --json
check "applied agent with its grant" [ "$(jget "$out" 'd["owner"], d["has_secret"], [(g["tool"], g["actions"]) for g in d["grants"]]')" = "finance True [('crm', ['read', 'write'])]" ]
tg agent show globex-helper --json
check "applied grant restricted to endpoints" [ "$(jget "$out" 'd["grants"][0]["endpoints"]')" = "['GET /contacts']" ]
tg agent show crm-bot --json
check "grant to an agent only in the store" [ "$(jget "$out" '[g["tool"] for g in d["grants"]]')" = "['crm']" ]
mac_b="$(mac_of billing-bot)"
mac_c="$(mac_of crm-bot)"

tg apply -f "$tmp/policy.yaml"
check "second apply exits 0" [ "$rc" -eq 0 ]
[[ "$out" == "no changes"* ]]; chk "second apply reports no changes"
[[ "$out" != *tgs_* ]]; chk "second apply prints no secret"
tg apply -f "$tmp/policy.yaml" --json
check "second apply --json: nothing created or updated" [ "$(jget "$out" '[(d[k]["created"], d[k]["updated"], d[k]["unchanged"]) for k in ("agents","tools","grants")], d["changed"], d["client_secrets"]')" = "[(0, 0, 3), (0, 0, 1), (0, 0, 3)] False []" ]
[ "$(mac_of billing-bot)" = "$mac_b" ] && [ "$(mac_of crm-bot)" = "$mac_c" ]; chk "apply never drops or changes a secret"

# An update keeps the secret, created_at and tokens_not_before.
tg agent show billing-bot --json
created_b="$(jget "$out" 'd["created_at"]')"
sed -e 's/owner: finance/owner: finance-ops/' "$tmp/policy.yaml" >"$tmp/policy2.yaml"
tg apply -f "$tmp/policy2.yaml" --json
check "changed file: one agent updated" [ "$(jget "$out" 'd["agents"]["updated"], d["agents"]["unchanged"], d["client_secrets"]')" = "1 2 []" ]
tg agent show billing-bot --json
check "update applied, created_at kept" [ "$(jget "$out" 'd["owner"], d["created_at"]')" = "finance-ops $created_b" ]
check "update keeps the secret" [ "$(mac_of billing-bot)" = "$mac_b" ]

# An operator's disable survives a routine apply (the record has no
# status); only an explicit "status: active" re-enables, with a warning.
tg agent disable billing-bot
check "disable before apply" [ "$rc" -eq 0 ]
tg apply -f "$tmp/policy2.yaml" --json
tg agent show billing-bot --json
check "apply without status keeps the agent disabled" [ "$(jget "$out" 'd["status"]')" = "disabled" ]
awk '{print} /^  - id: billing-bot/ {print "    status: active"}' "$tmp/policy2.yaml" >"$tmp/policy3.yaml"
tg apply -f "$tmp/policy3.yaml" --dry-run
[ "$rc" -eq 0 ] && [[ "$err" == *'"billing-bot" is disabled'*'would enable'* ]]; chk "explicit status: active: --dry-run warns"
tg agent show billing-bot --json
check "--dry-run left it disabled" [ "$(jget "$out" 'd["status"]')" = "disabled" ]
tg apply -f "$tmp/policy3.yaml"
[ "$rc" -eq 0 ] && [[ "$err" == *'"billing-bot" is disabled'*enables* ]]; chk "explicit status: active re-enables with a warning"
tg agent show billing-bot --json
check "re-enabled by the file" [ "$(jget "$out" 'd["status"]')" = "active" ]
check "re-enable keeps the secret" [ "$(mac_of billing-bot)" = "$mac_b" ]

# Errors change nothing.
snap="$(snapshot)"
cat >"$tmp/bad-key.yaml" <<'EOF'
version: 1
agents:
  - id: newcomer
    type: internal
    owner: o
    auth: client_secret_basic
    colour: blue
EOF
tg apply -f "$tmp/bad-key.yaml"
check "unknown key refused" [ "$rc" -eq 1 ]
[[ "$err" == "tollgate: $tmp/bad-key.yaml:7:5: "*colour* ]]; chk "parse error names file:line:column"
check "parse error: nothing changed" [ "$(snapshot)" = "$snap" ]
cat >"$tmp/bad-ref.yaml" <<'EOF'
version: 1
agents:
  - id: newcomer
    type: internal
    owner: o
    auth: client_secret_basic
grants:
  - agent: newcomer
    tool: no-such-tool
    actions: [read]
EOF
tg apply -f "$tmp/bad-ref.yaml"
[ "$rc" -eq 1 ] && [[ "$err" == *":8: "*no-such-tool* ]]; chk "grant to an unknown tool refused"
[ "$(snapshot)" = "$snap" ] && [[ "$out" != *tgs_* ]]; chk "bad reference: nothing changed, no secret printed"
cat >"$tmp/bad-store.yaml" <<'EOF'
version: 1
agents:
  - id: newcomer
    type: internal
    owner: o
    auth: client_secret_basic
  - id: copycat
    type: internal
    owner: o
    auth: spiffe_jwt
    spiffe_id: spiffe://example.org/browser/1
EOF
tg apply -f "$tmp/bad-store.yaml"
[ "$rc" -eq 1 ] && [[ "$err" == *copycat*SPIFFE* ]]; chk "store conflict half-way refused"
[ "$(snapshot)" = "$snap" ] && [[ "$out" != *tgs_* ]]; chk "store conflict: rolled back, no secret printed"
printf 'version: 1\nagents:\n  - id: leaky\n    type: internal\n    owner: o\n    auth: client_secret_basic\n    client_secret: tgs_x\n' >"$tmp/leak.yaml"
tg apply -f "$tmp/leak.yaml"
[ "$rc" -eq 1 ] && [ "$(snapshot)" = "$snap" ]; chk "a secret in a policy file refused"
# The tool redefined without the endpoint globex-helper's grant (not in this
# file) names: that grant would point at nothing.
cat >"$tmp/drop.yaml" <<'EOF'
version: 1
tools:
  - id: crm
    resource: https://crm.example.com/api
    endpoints:
      - {method: GET, path: /people, action: read}
EOF
tg apply -f "$tmp/drop.yaml"
[ "$rc" -eq 1 ] && [[ "$err" == *'"GET /contacts"'*globex-helper* ]]; chk "dropping an endpoint a kept grant names is refused"
check "dropped endpoint: nothing changed" [ "$(snapshot)" = "$snap" ]
tg apply
check "apply without -f: usage" [ "$rc" -eq 2 ]
tg apply -f "$tmp/nonexistent.yaml"
check "apply of a missing file fails" [ "$rc" -eq 1 ]

# ---- remove ---------------------------------------------------------------------
tg agent remove globex-helper
[ "$rc" -eq 0 ] && [[ "$out" == *"1 grant"* ]]; chk "remove exits 0"
tg agent show globex-helper
check "removed agent is gone" [ "$rc" -eq 1 ]
tg agent remove globex-helper
check "remove twice fails" [ "$rc" -eq 1 ]

# ---- keys -----------------------------------------------------------------------
tg keys list --json
check "keys list --json parses" is_json "$out"
n0="$(jget "$out" 'len(d)')"
tg keys rotate --json
[ "$rc" -eq 0 ] && is_json "$out"; chk "keys rotate exits 0"
cur1="$(jget "$out" 'd["current_kid"]')"
prev1="$(jget "$out" 'd["previous_kid"]')"
[ -n "$cur1" ] && [ "$cur1" != "$prev1" ]; chk "keys rotate changes the current kid"
tg keys list --json
check "keys list: next, current, retiring" [ "$(jget "$out" 'sorted(set(k["state"] for k in d))')" = "['current', 'next', 'retiring']" ]
check "keys list: the rotated kid is current" [ "$(jget "$out" '[k["kid"] for k in d if k["state"] == "current"]')" = "['$cur1']" ]
check "keys list: the old current is retiring" [ "$(jget "$out" '"'"$prev1"'" in [k["kid"] for k in d if k["state"] == "retiring"]')" = True ]
check "keys list: public fields only" [ "$(jget "$out" 'sorted(set(x for k in d for x in k))')" = "['activated_at', 'alg', 'created_at', 'kid', 'retired_at', 'state']" ]
next1="$(jget "$out" '[k["kid"] for k in d if k["state"] == "next"][0]')"
tg keys rotate
[ "$rc" -eq 0 ] && [[ "$out" == *"current signing key: $next1"* ]]; chk "keys rotate (human)"
tg keys list
[[ "$out" == *"$next1"*current* ]] && [[ "$out" == *KID*ALG*STATE*CREATED* ]]; chk "keys list (human): the next key became current"
[[ "$out" != *'"d"'* && "$out" != *PRIVATE* ]]; chk "keys list never shows private material"
tg keys frobnicate
check "keys unknown command: usage" [ "$rc" -eq 2 ]

# ---- The audit log: every change, never a secret -----------------------------------
log="$d/audit.log"
for ev in agent.add agent.disable agent.enable agent.rotate_secret agent.remove policy.apply keys.rotate; do
    check "audit has $ev" grep -q "\"event\":\"$ev\"" "$log"
done
check "audit: actor is the CLI user" [ "$($py -c 'import json,sys; print(all(json.loads(l)["who"].get("actor","").startswith("cli:") for l in open(sys.argv[1]) if json.loads(l)["event"].split(".")[0] in ("agent","policy","keys")))' "$log")" = True ]
check "audit: one policy.apply per apply that changed something" [ "$(grep -c '"event":"policy.apply"' "$log")" -eq 3 ]
check "audit log holds no secret" bash -c '! grep -q tgs_ "$1"' _ "$log"
check "no secret ever printed on stderr" bash -c '! grep -q tgs_ "$1"' _ "$tmp/all-stderr"
for s in "$s1" "$s2" "$s1b" "$s2b" "$sb"; do
    check "no secret anywhere on disk" nowhere_on_disk "$s"
done

# ---- introspect: who may introspect others' tokens (RFC 7662 §4) ---------------------
tg agent show crm-bot --json
check "introspect defaults to false" [ "$(jget "$out" 'd["introspect"]')" = False ]
tg agent add rs-gw --type internal --owner ops --introspect --json
[ "$rc" -eq 0 ] && [ "$(jget "$out" 'd["introspect"]')" = True ]; chk "agent add --introspect"
tg agent show rs-gw
[[ "$out" == *"introspect:"*"any token of this issuer"* ]]; chk "agent show: introspect line"
tg agent list
check "agent list: introspect column" [ "$(printf '%s\n' "$out" | grep -E '^rs-gw ' | awk '{print $NF}')" = any ]
tg agent add rs-gw2 --type internal --owner ops --introspect --introspect
check "--introspect twice: usage" [ "$rc" -eq 2 ]
cat >"$tmp/intro.yaml" <<'EOF'
version: 1
agents:
  - {id: rs-apply, type: internal, owner: ops, auth: client_secret_basic, introspect: true}
EOF
tg apply -f "$tmp/intro.yaml" --json
check "apply introspect: true creates" [ "$(jget "$out" 'd["agents"]["created"]')" = 1 ]
tg agent show rs-apply --json
check "apply introspect: true stored" [ "$(jget "$out" 'd["introspect"]')" = True ]
tg apply -f "$tmp/intro.yaml" --json
check "apply introspect: idempotent" [ "$(jget "$out" 'd["agents"]["unchanged"], d["changed"]')" = "1 False" ]
sed -e 's/introspect: true/introspect: false/' "$tmp/intro.yaml" >"$tmp/intro2.yaml"
tg apply -f "$tmp/intro2.yaml" --json
check "apply introspect: false is an update" [ "$(jget "$out" 'd["agents"]["updated"], d["client_secrets"]')" = "1 []" ]
tg agent show rs-apply --json
check "apply introspect: false stored" [ "$(jget "$out" 'd["introspect"]')" = False ]
sed -e 's/, introspect: false//' "$tmp/intro2.yaml" >"$tmp/intro3.yaml"
tg apply -f "$tmp/intro3.yaml" --json
check "absent introspect = false: unchanged" [ "$(jget "$out" 'd["agents"]["unchanged"], d["changed"]')" = "1 False" ]
sed -e 's/introspect: true/introspect: yes/' "$tmp/intro.yaml" >"$tmp/intro4.yaml"
tg apply -f "$tmp/intro4.yaml"
[ "$rc" -ne 0 ] && [[ "$err" == *"introspect: expected true or false"* ]]; chk "apply introspect: yes refused"

echo "cli-admin: $p passed, $f failed"
[ "$f" -eq 0 ]
