#!/bin/bash
# token_bench.sh: token issuance under load, against the crypto it cannot avoid.
#
# Installs wrk if missing, builds, starts `tollgate serve --dev` on free
# loopback ports in a temporary directory, and for each scenario warms up and
# runs a fixed number of connections for a fixed duration:
#
#   (a) client_secret_basic + DPoP: an ES256 proof in, an ES256 token out
#       (wrk; one pre-generated, unique, fresh proof per request)
#   (b) client_secret_basic, bearer (wrk)
#   (c) mTLS: the demo mTLS agent's client certificate on the TLS listener
#       (bench/loadgen: wrk cannot present a client certificate)
#
# then the same three at half their peak rate, open loop (bench/loadgen,
# latency from each request's due time), and the crypto bound measured in
# the same run: one ES256 verify + one ES256 sign per DPoP request, on 2 cores
# (bench/jose_bench). The last line is machine-readable:
#
#   token_bench: dpop_rps=... bearer_rps=... mtls_rps=... crypto_bound_rps=...
#                dpop_pct_of_bound=... (more key=value pairs follow)
#
# usage: bench/token_bench.sh [-d SECONDS] [-w SECONDS] [--perf] [--no-build] [--no-setup]
# See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${TOKEN_BENCH_SECONDS:-10}
WARMUP=${TOKEN_BENCH_WARMUP:-3}
CRYPTO_SECONDS=${TOKEN_BENCH_CRYPTO_SECONDS:-1}
THREADS=2
CONNS=16
BUILD=1
SETUP=1
PERF=${TOKEN_BENCH_PERF:-0}

usage() {
    cat <<'EOF'
usage: bench/token_bench.sh [options]
  -d, --duration S   measured seconds per scenario (default 10; env TOKEN_BENCH_SECONDS)
  -w, --warmup S     warm-up seconds before each (default 3; env TOKEN_BENCH_WARMUP)
  --perf             also profile the server (perf record) during one more DPoP run
                     and print the top functions (env TOKEN_BENCH_PERF=1)
  --no-build         use the existing build/default binaries
  --no-setup         do not check or install packages
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
    -d | --duration) DURATION=${2:?}; shift 2 ;;
    -w | --warmup) WARMUP=${2:?}; shift 2 ;;
    --perf) PERF=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --no-setup) SETUP=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
for v in "$DURATION" "$WARMUP"; do
    case "$v" in
    '' | *[!0-9]*) echo "token_bench: durations are whole seconds" >&2; exit 2 ;;
    esac
done
if [ "$DURATION" -lt 1 ] || [ "$WARMUP" -lt 1 ]; then
    echo "token_bench: durations must be at least 1 s" >&2
    exit 2
fi
# A DPoP proof is accepted until iat + 300 s, and the proofs of a run are all
# made just before it: warm-up + run must fit well inside that window.
if [ $((DURATION + WARMUP)) -gt 240 ]; then
    echo "token_bench: warm-up + duration must stay under 240 s (DPoP proofs expire 300 s after iat)" >&2
    exit 2
fi

say() { printf '%s\n' "$*"; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

# ---- 1. packages and build ----
if [ "$SETUP" = 1 ]; then
    ./scripts/setup.sh
    ./scripts/bench-setup.sh
fi
if ! command -v wrk >/dev/null 2>&1; then
    echo "token_bench: wrk is missing (run scripts/bench-setup.sh)" >&2
    exit 1
fi
if [ "$BUILD" = 1 ]; then
    blog=$(mktemp)
    if ! ./scripts/build.sh default >"$blog" 2>&1; then
        tail -40 "$blog" >&2
        rm -f "$blog"
        exit 1
    fi
    rm -f "$blog"
fi
BIN=build/default/tollgate
GEN=build/default/bench/gen_proofs
LOADGEN=build/default/bench/loadgen
JOSE=build/default/bench/jose_bench
for b in "$BIN" "$GEN" "$LOADGEN" "$JOSE"; do
    [ -x "$b" ] || { echo "token_bench: $b is missing: build first" >&2; exit 1; }
done

# ---- 2. the server ----
TMP=$(mktemp -d /tmp/token-bench.XXXXXX)
SRV_PID=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
    fi
    # the master key is created beside the data dir: $TMP/data.master-key
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DATA=$TMP/data
"$BIN" serve --dev --data "$DATA" --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
    >"$TMP/server.log" 2>&1 &
SRV_PID=$!

dev() { /usr/bin/python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$DATA/dev.json" "$1"; }

ready=0
for _ in $(seq 200); do
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
        break
    fi
    if [ -s "$DATA/dev.json" ] && curl -fs -o /dev/null \
        "$(dev issuer)/.well-known/oauth-authorization-server" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.05
done
if [ "$ready" != 1 ]; then
    echo "token_bench: the server did not start:" >&2
    cat "$TMP/server.log" >&2
    exit 1
fi
ISSUER=$(dev issuer)
MTLS_BASE=$(dev mtls_base)
CA=$(dev ca_file)
CID=$(dev agents.secret.client_id)
SECRET=$(dev agents.secret.client_secret)
MTLS_CID=$(dev agents.mtls.client_id)
MTLS_CERT=$(dev agents.mtls.cert_file)
MTLS_KEY=$(dev agents.mtls.key_file)
# RFC 6749 §2.3.1: form-urlencode, then base64; the dev ids and secrets need
# no escaping ([A-Za-z0-9_-]).
AUTH="Basic $(printf '%s:%s' "$CID" "$SECRET" | base64 -w0)"
BODY="grant_type=client_credentials&scope=demo:read"
MTLS_BODY="grant_type=client_credentials&client_id=$MTLS_CID&scope=demo:read"
CT="Content-Type: application/x-www-form-urlencoded"
NCPU=$(nproc)
TCK=$(getconf CLK_TCK)
STATUS=0
WARNINGS=0 # runs disturbed by other processes (the numbers are then not to be trusted)

check_server() {
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
        say "token_bench: the server died during '$1'; its log ends with:"
        tail -20 "$TMP/server.log"
        exit 1
    fi
}

# Is anything else using the CPUs? (2 s sample, before our own work starts)
read -r t0 i0 < <(awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6 }' /proc/stat)
sleep 2
read -r t1 i1 < <(awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6 }' /proc/stat)
BACKGROUND=$(calc "$NCPU * (1 - ($i1 - $i0) / ($t1 - $t0))" 2)
if awk -v b="$BACKGROUND" 'BEGIN { exit !(b > 0.25) }'; then WARNINGS=$((WARNINGS + 1)); fi

say "token_bench: $(git describe --always --dirty 2>/dev/null || echo unknown), $NCPU CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(openssl version)"
say "  server pid $SRV_PID, issuer $ISSUER, mTLS $MTLS_BASE"
say "  $THREADS load threads, $CONNS connections, ${WARMUP} s warm-up + ${DURATION} s per scenario"
say "  before the run the machine was $BACKGROUND of $NCPU cores busy$(awk -v b="$BACKGROUND" 'BEGIN { if (b > 0.25) printf ": WARNING, not idle: the numbers will be low and noisy" }')"
say ""

# ---- 3. the crypto bound, measured while the server is idle ----
# jose_bench ES256: raw OpenSSL µs/op (column 3) and Tollgate µs/op (column 5)
# of the DPoP-proof verify (verify_cached_jwk) and of the token sign.
jose_col() { awk -v op="$2" -v col="$3" '$1 == "ES256" && $2 == op { print $col }' "$1"; }
say "crypto bound: build/default/bench/jose_bench $CRYPTO_SECONDS ES256, once alone and twice at once (2 cores)"
"$JOSE" "$CRYPTO_SECONDS" ES256 >"$TMP/jose1.out"
"$JOSE" "$CRYPTO_SECONDS" ES256 >"$TMP/jose2a.out" &
j2a=$!
"$JOSE" "$CRYPTO_SECONDS" ES256 >"$TMP/jose2b.out" &
j2b=$!
wait "$j2a" "$j2b"
# One core: the fastest of the three runs (a short jose_bench run is noisy,
# and noise only ever makes it slower).
best=""
for f in "$TMP/jose1.out" "$TMP/jose2a.out" "$TMP/jose2b.out"; do
    v=$(jose_col "$f" verify_cached_jwk 3); s=$(jose_col "$f" sign 3)
    t=$(calc "$v + $s" 2)
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
        best=$t V1=$v S1=$s VT1=$(jose_col "$f" verify_cached_jwk 5) ST1=$(jose_col "$f" sign 5)
    fi
done
BOUND_IDEAL=$(calc "2 * 1e6 / ($V1 + $S1)" 0)
BOUND=0
BOUND_TG=0
for f in "$TMP/jose2a.out" "$TMP/jose2b.out"; do
    v=$(jose_col "$f" verify_cached_jwk 3); s=$(jose_col "$f" sign 3)
    vt=$(jose_col "$f" verify_cached_jwk 5); st=$(jose_col "$f" sign 5)
    BOUND=$(calc "$BOUND + 1e6 / ($v + $s)" 0)
    BOUND_TG=$(calc "$BOUND_TG + 1e6 / ($vt + $st)" 0)
done
SIGN_BOUND=$(calc "2 * 1e6 / $S1" 0)
BOUND_NOTE=$(awk -v b="$BOUND" -v i="$BOUND_IDEAL" 'BEGIN { if (b < 0.85 * i)
    printf "            WARNING: far below 2 x one core: something else was using a core" }')
say "  one core: ES256 verify $V1 µs + sign $S1 µs (raw OpenSSL, fastest run) = $(calc "$V1 + $S1" 1) µs per DPoP token;"
say "            through Tollgate's JOSE layer $VT1 + $ST1 = $(calc "$VT1 + $ST1" 1) µs"
say "  2 cores:  $BOUND req/s measured with both cores busy (raw OpenSSL; $BOUND_TG through the JOSE layer);"
say "            2 x one core would be $BOUND_IDEAL. Bearer and mTLS need one sign: $SIGN_BOUND req/s on 2 cores"
if [ -n "$BOUND_NOTE" ]; then
    say "$BOUND_NOTE"
    WARNINGS=$((WARNINGS + 1))
fi
say ""

# ---- 4. load ----
# CPU accounting around each measured run: the server's own CPU time
# (/proc/PID/stat utime+stime) and the machine's busy time (/proc/stat).
# Per-thread too: the server's worker threads share the listening sockets,
# and how evenly the connections spread over them shows here.
task_ticks() {
    local t
    for t in /proc/"$SRV_PID"/task/*; do
        printf '%s %s\n' "${t##*/}" "$(sed 's/^.*) //' "$t/stat" | awk '{ print $12 + $13 }')"
    done | sort
}
# CPU of the load generators: they are this shell's children, and their time
# is added to its cutime + cstime when they are waited for.
child_ticks() { sed 's/^.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'; }
cpu_begin() {
    task_ticks >"$TMP/tasks0"
    C_LG0=$(child_ticks)
    C_SRV0=$(sed 's/^.*) //' "/proc/$SRV_PID/stat" | awk '{ print $12 + $13 }')
    read -r C_TOT0 C_IDLE0 < <(awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6 }' /proc/stat)
    C_T0=$(date +%s.%N)
}
cpu_end() {
    local srv tot idle t
    srv=$(sed 's/^.*) //' "/proc/$SRV_PID/stat" | awk '{ print $12 + $13 }')
    read -r tot idle < <(awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6 }' /proc/stat)
    t=$(date +%s.%N)
    SRV_CORES=$(calc "($srv - $C_SRV0) / $TCK / ($t - $C_T0)" 2)
    BUSY_CORES=$(calc "$NCPU * (1 - ($idle - $C_IDLE0) / ($tot - $C_TOT0))" 2)
    LG_CORES=$(calc "($(child_ticks) - $C_LG0) / $TCK / ($t - $C_T0)" 2)
    OTHER_CORES=$(calc "$BUSY_CORES - $SRV_CORES - $LG_CORES" 2)
    case "$OTHER_CORES" in -*) OTHER_CORES=0.00 ;; esac
    # the busiest threads, in cores: "0.93+0.88" (threads under 0.02 left out)
    THREAD_CORES=$(task_ticks | join "$TMP/tasks0" - |
        awk -v d="$(calc "$t - $C_T0" 3)" -v tck="$TCK" '{ c = ($3 - $2) / tck / d; if (c >= 0.02) printf "%.2f\n", c }' |
        sort -rn | paste -sd+)
    THREAD_CORES=${THREAD_CORES:-0}
    # One worker thread saturated while the others idle: the connections all
    # landed on one worker (they are accepted from a shared socket).
    BALANCE=$(printf '%s\n' "$THREAD_CORES" | awk -F+ '$1 >= 0.85 && ($2 == "" || $2 < 0.3) {
        printf "; NOTE: one server thread did all the work: the connections landed on one worker" }')
    if awk -v o="$OTHER_CORES" 'BEGIN { exit !(o > 0.15) }'; then
        BALANCE="$BALANCE; WARNING: other processes used $OTHER_CORES cores during the run"
        WARNINGS=$((WARNINGS + 1))
    fi
}

# kv FILE PREFIX KEY: the value of KEY= on the line starting with PREFIX
kv() { awk -v p="$2" -v k="$3" 'index($0, p) == 1 {
        for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$1"; }

indent() { sed 's/^/    | /'; }

# run_wrk NAME SECONDS [PROOFS_PREFIX]: sets W_RPS W_P50 W_P99 W_NON2XX W_ERR W_EX W_USED W_LOADED
run_wrk() {
    local name=$1 secs=$2 proofs=${3:-} out=$TMP/$1.wrk
    TB_AUTH=$AUTH TB_BODY=$BODY TB_PROOFS=$proofs \
        wrk -t "$THREADS" -c "$CONNS" -d "${secs}s" --latency -s bench/token.lua \
        "$ISSUER/token" >"$out" 2>&1 || { cat "$out"; check_server "$name"; exit 1; }
    check_server "$name"
    local req dur
    req=$(kv "$out" wrk_result: requests)
    dur=$(kv "$out" wrk_result: duration_us)
    if [ -z "$req" ] || [ -z "$dur" ]; then
        cat "$out"
        echo "token_bench: no result from wrk" >&2
        exit 1
    fi
    W_RPS=$(calc "$req * 1e6 / $dur" 1)
    W_P50=$(calc "$(kv "$out" wrk_result: p50_us) / 1000" 3)
    W_P99=$(calc "$(kv "$out" wrk_result: p99_us) / 1000" 3)
    W_NON2XX=$(kv "$out" wrk_result: non2xx)
    W_ERR=$(kv "$out" wrk_result: errors)
    W_EX=$(kv "$out" wrk_result: exhausted)
    W_USED=$(kv "$out" wrk_result: proofs_used)
    W_LOADED=$(kv "$out" wrk_result: proofs_loaded)
}

# run_loadgen NAME ARGS...: sets L_RPS L_P50 L_P99 L_P999 L_NON2XX L_ERR L_EX L_DUE L_REQ
run_loadgen() {
    local name=$1 out=$TMP/$1.lg
    shift
    "$LOADGEN" -t "$THREADS" -c "$CONNS" "$@" >"$out" 2>&1 || { cat "$out"; check_server "$name"; exit 1; }
    check_server "$name"
    L_RPS=$(kv "$out" loadgen: rps)
    L_P50=$(kv "$out" loadgen: p50_ms)
    L_P99=$(kv "$out" loadgen: p99_ms)
    L_P999=$(kv "$out" loadgen: p999_ms)
    L_NON2XX=$(kv "$out" loadgen: non2xx_all)
    L_ERR=$(kv "$out" loadgen: errors)
    L_EX=$(kv "$out" loadgen: exhausted)
    L_DUE=$(kv "$out" loadgen: due)
    L_REQ=$(kv "$out" loadgen: requests)
    [ -n "$L_RPS" ] || { cat "$out"; echo "token_bench: no result from loadgen" >&2; exit 1; }
}

# gen NAME COUNT: proofs for this server's token endpoint, one file per thread
gen() {
    rm -f "$TMP"/proofs-*
    "$GEN" -j "$NCPU" -s "$THREADS" "$ISSUER/token" "$1" "$TMP/proofs-$2" 2>"$TMP/gen.err" ||
        { cat "$TMP/gen.err" >&2; exit 1; }
}

# verdict NON2XX ERRORS EXHAUSTED: sets V (and STATUS on failure)
verdict() {
    if [ "${1:-0}" != 0 ] || [ "${2:-0}" != 0 ]; then
        STATUS=1
        V="FAILED: ${1:-0} non-2xx, ${2:-0} socket errors"
    elif [ "${3:-0}" != 0 ]; then
        STATUS=1
        V="FAILED: proofs ran out, stopped early"
    else
        V="ok"
    fi
}

# (a) DPoP. The warm-up doubles as the calibration: its rate sizes the
# proof set of the measured run (1.5x, plus a margin); a run that still runs
# out stops early (wrk.thread:stop()) and is repeated once with twice as many.
say "(a) client_secret_basic + DPoP (ES256 proof in, ES256 token out), wrk"
gen $((WARMUP * 30000 + 20000)) cal
run_wrk dpop-warmup "$WARMUP" "$TMP/proofs-cal"
CAL_RPS=$W_RPS
say "    warm-up/calibration: $CAL_RPS req/s, $W_NON2XX non-2xx"
n=$(calc "$CAL_RPS * $DURATION * 1.5 + 20000" 0)
for attempt in 1 2; do
    gen "$n" run
    say "    $n proofs ($(awk '{print $8}' "$TMP/gen.err") s to make, not timed)"
    cpu_begin
    run_wrk dpop "$DURATION" "$TMP/proofs-run"
    cpu_end
    if [ "$W_EX" = 0 ] || [ "$attempt" = 2 ]; then
        break
    fi
    say "    proofs ran out after $W_USED requests: again with twice as many"
    n=$((n * 2))
done
rm -f "$TMP"/proofs-*
grep -A4 'Latency Distribution' "$TMP/dpop.wrk" | indent
grep -E 'requests in|Non-2xx|Socket errors|Requests/sec' "$TMP/dpop.wrk" | indent
DPOP_RPS=$W_RPS DPOP_P50=$W_P50 DPOP_P99=$W_P99 DPOP_NON2XX=$W_NON2XX
DPOP_SRV=$SRV_CORES DPOP_BUSY=$BUSY_CORES
verdict "$W_NON2XX" "$W_ERR" "$W_EX"
DPOP_V=$V
say "    => $DPOP_RPS req/s, p50 $DPOP_P50 ms, p99 $DPOP_P99 ms, non-2xx $DPOP_NON2XX;" \
    "server used $DPOP_SRV cores (threads $THREAD_CORES; load generator $LG_CORES, machine $DPOP_BUSY of $NCPU)$BALANCE; $W_USED proofs used of $W_LOADED: $DPOP_V"
say ""

# (b) bearer
say "(b) client_secret_basic, bearer, wrk"
run_wrk bearer-warmup "$WARMUP"
cpu_begin
run_wrk bearer "$DURATION"
cpu_end
grep -A4 'Latency Distribution' "$TMP/bearer.wrk" | indent
grep -E 'requests in|Non-2xx|Socket errors|Requests/sec' "$TMP/bearer.wrk" | indent
BEARER_RPS=$W_RPS BEARER_P50=$W_P50 BEARER_P99=$W_P99 BEARER_NON2XX=$W_NON2XX
BEARER_SRV=$SRV_CORES BEARER_BUSY=$BUSY_CORES
verdict "$W_NON2XX" "$W_ERR" 0
BEARER_V=$V
say "    => $BEARER_RPS req/s, p50 $BEARER_P50 ms, p99 $BEARER_P99 ms, non-2xx $BEARER_NON2XX;" \
    "server used $BEARER_SRV cores (threads $THREAD_CORES; load generator $LG_CORES, machine $BEARER_BUSY of $NCPU)$BALANCE: $BEARER_V"
say "    the same with bench/loadgen (closed loop), to compare the two load generators:"
cpu_begin
run_loadgen bearer-lg -w "$WARMUP" -d "$DURATION" -H "Authorization: $AUTH" -H "$CT" -b "$BODY" \
    "$ISSUER/token"
cpu_end
BEARER_LG_RPS=$L_RPS
say "    => $L_RPS req/s, p50 $L_P50 ms, p99 $L_P99 ms, non-2xx $L_NON2XX;" \
    "server used $SRV_CORES cores (threads $THREAD_CORES; load generator $LG_CORES, machine $BUSY_CORES of $NCPU)$BALANCE"
say ""

# (c) mTLS: wrk (4.1.0) has no option for a client certificate, so loadgen,
# same model: 2 threads, 16 keep-alive connections, one request in flight each.
say "(c) mTLS (tls_client_auth, certificate-bound token), bench/loadgen over TLS"
cpu_begin
run_loadgen mtls -w "$WARMUP" -d "$DURATION" --cacert "$CA" --cert "$MTLS_CERT" \
    --key "$MTLS_KEY" -H "$CT" -b "$MTLS_BODY" "$MTLS_BASE/token"
cpu_end
sed -n '2,4p' "$TMP/mtls.lg" | indent
MTLS_RPS=$L_RPS MTLS_P50=$L_P50 MTLS_P99=$L_P99 MTLS_NON2XX=$L_NON2XX
MTLS_SRV=$SRV_CORES MTLS_BUSY=$BUSY_CORES
verdict "$L_NON2XX" "$L_ERR" 0
MTLS_V=$V
say "    => $MTLS_RPS req/s, p50 $MTLS_P50 ms, p99 $MTLS_P99 ms, non-2xx $MTLS_NON2XX;" \
    "server used $MTLS_SRV cores (threads $THREAD_CORES; load generator $LG_CORES, machine $MTLS_BUSY of $NCPU)$BALANCE: $MTLS_V"
say ""

# (d) half the peak rate, open loop: latency from each request's due time.
say "(d) half the peak rate, open loop (bench/loadgen -R; latency from the due time)"
half() { calc "$1 / 2" 0; }
R=$(half "$DPOP_RPS")
gen "$(calc "$R * ($WARMUP + $DURATION) * 1.1 + 2000" 0)" half
cpu_begin
run_loadgen dpop-half -R "$R" -w "$WARMUP" -d "$DURATION" --proofs "$TMP/proofs-half" \
    -H "Authorization: $AUTH" -H "$CT" -b "$BODY" "$ISSUER/token"
cpu_end
rm -f "$TMP"/proofs-*
DPOP_HALF_RATE=$R DPOP_HALF_P50=$L_P50 DPOP_HALF_P99=$L_P99 DPOP_HALF_P999=$L_P999
verdict "$L_NON2XX" "$L_ERR" "$L_EX"
DPOP_HALF_V=$V
say "    (a) DPoP   at $R req/s: p50 $L_P50 ms, p99 $L_P99 ms, p99.9 $L_P999 ms;" \
    "$L_REQ of $L_DUE due answered in the window; server $SRV_CORES cores$BALANCE: $DPOP_HALF_V"
R=$(half "$BEARER_RPS")
cpu_begin
run_loadgen bearer-half -R "$R" -w "$WARMUP" -d "$DURATION" \
    -H "Authorization: $AUTH" -H "$CT" -b "$BODY" "$ISSUER/token"
cpu_end
BEARER_HALF_P99=$L_P99
verdict "$L_NON2XX" "$L_ERR" 0
say "    (b) bearer at $R req/s: p50 $L_P50 ms, p99 $L_P99 ms, p99.9 $L_P999 ms;" \
    "$L_REQ of $L_DUE due answered in the window; server $SRV_CORES cores$BALANCE: $V"
R=$(half "$MTLS_RPS")
cpu_begin
run_loadgen mtls-half -R "$R" -w "$WARMUP" -d "$DURATION" --cacert "$CA" --cert "$MTLS_CERT" \
    --key "$MTLS_KEY" -H "$CT" -b "$MTLS_BODY" "$MTLS_BASE/token"
cpu_end
MTLS_HALF_P99=$L_P99
verdict "$L_NON2XX" "$L_ERR" 0
say "    (c) mTLS   at $R req/s: p50 $L_P50 ms, p99 $L_P99 ms, p99.9 $L_P999 ms;" \
    "$L_REQ of $L_DUE due answered in the window; server $SRV_CORES cores$BALANCE: $V"
say ""

# ---- 5. optional profile ----
if [ "$PERF" = 1 ]; then
    if ! command -v perf >/dev/null 2>&1; then
        say "--perf: perf is missing (apt-get install linux-perf); skipped"
    else
        PERF_DIR=$(mktemp -d /tmp/token-bench-perf.XXXXXX)
        say "profile: perf record of the server during one more ${DURATION} s DPoP run -> $PERF_DIR"
        gen "$(calc "$DPOP_RPS * $DURATION * 1.5 + 20000" 0)" perf
        perf record -q -F 499 --call-graph dwarf,8192 -p "$SRV_PID" -o "$PERF_DIR/perf.data" \
            -- sleep "$DURATION" >"$PERF_DIR/record.log" 2>&1 &
        perf_pid=$!
        run_wrk dpop-perf "$DURATION" "$TMP/proofs-perf"
        wait "$perf_pid" || true
        rm -f "$TMP"/proofs-*
        # (awk, not head: with pipefail, a reader that stops early fails the pipe)
        perf report -i "$PERF_DIR/perf.data" --no-children --sort dso,symbol -g none --stdio \
            >"$PERF_DIR/self.txt" 2>/dev/null || true
        perf report -i "$PERF_DIR/perf.data" --children --sort dso,symbol -g none --stdio \
            >"$PERF_DIR/children.txt" 2>/dev/null || true
        perf report -i "$PERF_DIR/perf.data" --no-children --sort dso -g none --stdio \
            >"$PERF_DIR/dso.txt" 2>/dev/null || true
        say "    $W_RPS req/s under perf; samples by library:"
        say "      $(awk '/^ +[0-9.]+%/ && n++ < 8 { printf "%s %s  ", $2, $1 }' "$PERF_DIR/dso.txt")"
        say "    self time, top 20 (library, function; unnamed = no debug symbols):"
        awk '/^ +[0-9.]+%/ && n++ < 20' "$PERF_DIR/self.txt" | indent
        say "    Tollgate's own functions by inclusive time (callees included), top 30:"
        awk '/^ +[0-9.]+%/ && $3 == "tollgate" && n++ < 30' "$PERF_DIR/children.txt" | indent
        say "    reports: $PERF_DIR/{self,children,dso}.txt; perf report -i $PERF_DIR/perf.data"
        say ""
    fi
fi

# ---- 6. summary ----
PCT=$(calc "100 * $DPOP_RPS / $BOUND" 1)
PCT_PER_CORE=$(calc "100 * ($DPOP_RPS / $DPOP_SRV) / (1e6 / ($V1 + $S1))" 1)
say "summary ($THREADS threads, $CONNS connections, ${DURATION} s; the load generator shares the $NCPU cores)"
printf '  %-34s %10s %9s %9s %8s %12s %10s\n' scenario "req/s" "p50 ms" "p99 ms" non-2xx "server cores" "p99 @half"
printf '  %-34s %10s %9s %9s %8s %12s %10s\n' "(a) basic + DPoP, ES256 -> ES256" "$DPOP_RPS" "$DPOP_P50" "$DPOP_P99" "$DPOP_NON2XX" "$DPOP_SRV" "$DPOP_HALF_P99"
printf '  %-34s %10s %9s %9s %8s %12s %10s\n' "(b) basic, bearer" "$BEARER_RPS" "$BEARER_P50" "$BEARER_P99" "$BEARER_NON2XX" "$BEARER_SRV" "$BEARER_HALF_P99"
printf '  %-34s %10s %9s %9s %8s %12s %10s\n' "(c) mTLS, certificate-bound" "$MTLS_RPS" "$MTLS_P50" "$MTLS_P99" "$MTLS_NON2XX" "$MTLS_SRV" "$MTLS_HALF_P99"
say "  crypto bound for (a): $BOUND req/s (ES256 verify + sign, raw OpenSSL, both cores busy)"
say "  (a) is $PCT% of the bound (target: 60% or more);" \
    "per CPU-second the server got: $(calc "$DPOP_RPS / $DPOP_SRV" 0) req, $PCT_PER_CORE% of one core's crypto rate ($(calc "1e6 / ($V1 + $S1)" 0))"
say "  p99 of (a) at half its peak ($DPOP_HALF_RATE req/s, open loop): $DPOP_HALF_P99 ms (p50 $DPOP_HALF_P50, p99.9 $DPOP_HALF_P999)"
if [ "$WARNINGS" != 0 ]; then
    say "  $WARNINGS WARNING(s): other processes used the CPUs during some runs; run again on an idle machine"
fi
if [ "$STATUS" != 0 ]; then
    say "  some runs FAILED (non-2xx, socket errors or proofs exhausted): see above"
fi
say "token_bench: dpop_rps=$DPOP_RPS bearer_rps=$BEARER_RPS mtls_rps=$MTLS_RPS" \
    "crypto_bound_rps=$BOUND dpop_pct_of_bound=$PCT dpop_p99_ms=$DPOP_P99" \
    "dpop_p99_ms_at_half_peak=$DPOP_HALF_P99 bearer_p99_ms_at_half_peak=$BEARER_HALF_P99" \
    "mtls_p99_ms_at_half_peak=$MTLS_HALF_P99 bearer_loadgen_rps=$BEARER_LG_RPS" \
    "dpop_server_cores=$DPOP_SRV dpop_pct_per_server_core=$PCT_PER_CORE background_cores=$BACKGROUND warnings=$WARNINGS non2xx=$((DPOP_NON2XX + BEARER_NON2XX + MTLS_NON2XX)) status=$([ "$STATUS" = 0 ] && echo ok || echo failed)"
exit "$STATUS"
