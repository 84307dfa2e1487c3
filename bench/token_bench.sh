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
BENCH=token_bench
# shellcheck source=bench/lib.sh
. bench/lib.sh

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
bench_whole "durations are whole seconds" "$DURATION" "$WARMUP"
# A DPoP proof is accepted until iat + 300 s, and the proofs of a run are all
# made just before it: warm-up + run must fit well inside that window.
if [ $((DURATION + WARMUP)) -gt 240 ]; then
    echo "token_bench: warm-up + duration must stay under 240 s (DPoP proofs expire 300 s after iat)" >&2
    exit 2
fi

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
    bench_build
fi
BIN=build/default/tollgate
GEN=build/default/bench/gen_proofs
LOADGEN=build/default/bench/loadgen
JOSE=build/default/bench/jose_bench
bench_need "$BIN" "$GEN" "$LOADGEN" "$JOSE"

# ---- 2. the server ----
bench_serve
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

# Is anything else using the CPUs? (2 s sample, before our own work starts)
bench_background
if bench_busy; then WARNINGS=$((WARNINGS + 1)); fi

bench_banner
say "  server pid $SRV_PID, issuer $ISSUER, mTLS $MTLS_BASE"
say "  $THREADS load threads, $CONNS connections, ${WARMUP} s warm-up + ${DURATION} s per scenario"
say "  $(bench_background_line)"
say ""

# ---- 3. the crypto bound, measured while the server is idle ----
# jose_bench ES256: raw OpenSSL µs/op (column 3) and Tollgate µs/op (column 5)
# of the DPoP-proof verify (verify_cached_jwk) and of the token sign.
bench_jose
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
# CPU accounting around each measured run: cpu_begin, then cpu_end (on
# bench/lib.sh's cpu_measure): the server's, per thread, the load
# generator's and the machine's.
cpu_end() {
    cpu_measure
    BALANCE=""
    if [ "$ONE_THREAD" = 1 ]; then
        BALANCE="; NOTE: one server thread did all the work: the connections landed on one worker"
    fi
    if [ "$OTHERS_BUSY" = 1 ]; then
        BALANCE="$BALANCE; WARNING: other processes used $OTHER_CORES cores during the run"
        WARNINGS=$((WARNINGS + 1))
    fi
}

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

# gen NAME COUNT: proofs for this server's token endpoint, one file per thread
gen() {
    rm -f "$TMP"/proofs-*
    "$GEN" -j "$NCPU" -s "$THREADS" "$ISSUER/token" "$1" "$TMP/proofs-$2" 2>"$TMP/gen.err" ||
        { cat "$TMP/gen.err" >&2; exit 1; }
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
        bench_perf_report "$PERF_DIR" "$W_RPS" 20
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
