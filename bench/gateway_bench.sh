#!/bin/bash
# gateway_bench.sh: the gateway's decisions and its proxy under load, against
# the crypto a DPoP decision cannot avoid.
#
# Builds, starts `tollgate serve --dev` on free loopback ports in a temporary
# directory, gets a DPoP-bound token for the demo agent and a certificate-
# bound token for the demo mTLS agent, and for each scenario warms up and
# runs 2 threads x 16 keep-alive connections (bench/loadgen, closed loop) for
# a fixed duration:
#
#   (a) /check, DPoP-bound token, a fresh proof per request
#   (a0) the same with the load generator as an ordinary task (below)
#   (b) /check over TLS, certificate-bound token, client certificate
#   (c) GET /tools/demo/items through the proxy to the echo upstream (DPoP)
#   (d) GET /items straight to the echo upstream (no gateway)
#
# The load generator shares the server's cores. In the closed-loop runs it
# runs as SCHED_BATCH (loadgen --batch): its wake-ups, one per burst of
# answers, then do not preempt the server, which they otherwise do about
# every other request (two context switches and cold caches on the
# server's side, a cost of the co-location, not of the server: clients of
# a real deployment run elsewhere). (a0) measures (a) without it, so both
# are on record.
#
# then (a), (c) and (d) again at one fixed rate, open loop, for the latency
# the proxy adds when nothing queues; and the crypto bound measured in the
# same run, just before (a) and again just after (a0), their mean: one ES256
# verify per DPoP request (the token's own verification
# is cached), on 2 cores (bench/jose_bench). The last line is machine-readable:
#
#   gateway_bench: check_dpop_rps=... check_mtls_rps=... proxy_rps=... direct_rps=...
#                  verify_bound_rps=... check_pct_of_bound=... proxy_overhead_p50_ms=...
#                  (more key=value pairs follow)
#
# usage: bench/gateway_bench.sh [-d SECONDS] [-w SECONDS] [-R RATE] [--perf] [--no-build] [--no-setup]
# See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=gateway_bench
# shellcheck source=bench/lib.sh
. bench/lib.sh

DURATION=${GATEWAY_BENCH_SECONDS:-10}
WARMUP=${GATEWAY_BENCH_WARMUP:-3}
CRYPTO_SECONDS=${GATEWAY_BENCH_CRYPTO_SECONDS:-1}
OPEN_RATE=${GATEWAY_BENCH_RATE:-}
THREADS=2
CONNS=16
BUILD=1
SETUP=1
PERF=${GATEWAY_BENCH_PERF:-0}

usage() {
    cat <<'EOF'
usage: bench/gateway_bench.sh [options]
  -d, --duration S   measured seconds per scenario (default 10; env GATEWAY_BENCH_SECONDS)
  -w, --warmup S     warm-up seconds before each (default 3; env GATEWAY_BENCH_WARMUP)
  -R, --rate N       request rate of the open-loop latency runs (default: a quarter
                     of the proxy's closed-loop rate; env GATEWAY_BENCH_RATE)
  --perf             also profile the server (perf record) during one more /check
                     DPoP run and print the top functions (env GATEWAY_BENCH_PERF=1)
  --no-build         use the existing build/default binaries
  --no-setup         do not check or install packages
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
    -d | --duration) DURATION=${2:?}; shift 2 ;;
    -w | --warmup) WARMUP=${2:?}; shift 2 ;;
    -R | --rate) OPEN_RATE=${2:?}; shift 2 ;;
    --perf) PERF=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --no-setup) SETUP=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
bench_whole "durations and the rate are whole numbers" "$DURATION" "$WARMUP" ${OPEN_RATE:+"$OPEN_RATE"}
# Access tokens live 300 s and proofs are accepted until iat + 300 s; both are
# made just before each scenario, which must fit well inside that window.
if [ $((DURATION + 2 * WARMUP + 1)) -gt 240 ]; then
    echo "gateway_bench: 2 x warm-up + duration must stay under 240 s (tokens and proofs expire after 300 s)" >&2
    exit 2
fi

# ---- 1. packages and build ----
if [ "$SETUP" = 1 ]; then
    ./scripts/setup.sh
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
# Each worker on its own core (serve --pin-workers): the machine is the
# server's, as a gateway's would be; the load generator floats.
SERVE_ARGS=(--pin-workers)
bench_serve
ECHO=$(dev echo_upstream)
TOOL_PATH=/tools/demo/items
TOOL_URL=$ISSUER$TOOL_PATH # the DPoP htu: /check without X-Forwarded-* uses its listener's base URL
DPOP_KEY=$TMP/agent-dpop.pem # the demo agent's DPoP key (gen_proofs -k makes it once)
NCPU=$(nproc)
TCK=$(getconf CLK_TCK)
STATUS=0
WARNINGS=0
ONE_WORKER=0 # runs where one server thread did all the work

# token JSON-FILE OUT-FILE: the access_token member, or fail loudly
extract_token() {
    /usr/bin/python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
t = d.get("access_token")
if not t:
    sys.exit("no access_token: %s" % d)
open(sys.argv[2], "w").write(t + "\n")
print(d.get("token_type", ""))' "$1" "$2"
}

# A fresh DPoP-bound token for the demo agent in $TMP/dpop.tok (tokens live
# 300 s: one per scenario). The proof for /token is made with the same key.
dpop_token() {
    "$GEN" -k "$DPOP_KEY" "$ISSUER/token" 1 "$TMP/tokproof" 2>"$TMP/gen.err" ||
        { cat "$TMP/gen.err" >&2; exit 1; }
    curl -s -o "$TMP/dpop.json" -u "$CID:$SECRET" -H "DPoP: $(cat "$TMP/tokproof.0")" \
        -d 'grant_type=client_credentials&scope=demo:read' "$ISSUER/token"
    local tt
    tt=$(extract_token "$TMP/dpop.json" "$TMP/dpop.tok") || exit 1
    [ "$tt" = DPoP ] || { echo "gateway_bench: token_type $tt, not DPoP" >&2; exit 1; }
    DPOP_TOK=$(cat "$TMP/dpop.tok")
}

# A fresh certificate-bound token for the demo mTLS agent in $MTLS_TOK.
mtls_token() {
    curl -s -o "$TMP/mtls.json" --cacert "$CA" --cert "$MTLS_CERT" --key "$MTLS_KEY" \
        -d "grant_type=client_credentials&client_id=$MTLS_CID&scope=demo:read" "$MTLS_BASE/token"
    extract_token "$TMP/mtls.json" "$TMP/mtls.tok" >/dev/null || exit 1
    MTLS_TOK=$(cat "$TMP/mtls.tok")
}

# Is anything else using the CPUs? (2 s sample, before our own work starts)
bench_background
if bench_busy; then WARNINGS=$((WARNINGS + 1)); fi

bench_banner
say "  server: serve --dev ${SERVE_ARGS[*]}"
say "  server pid $SRV_PID, issuer $ISSUER, mTLS $MTLS_BASE, echo upstream $ECHO (a thread of the server process)"
say "  $THREADS load threads (bench/loadgen), $CONNS connections, ${WARMUP} s warm-up + ${DURATION} s per scenario"
say "  $(bench_background_line)"
say ""

# ---- 3. the crypto bound, measured while the server is idle ----
# jose_bench ES256 verify_cached_jwk: raw OpenSSL µs/op (column 3) and
# Tollgate µs/op (column 5): the DPoP proof's verification.
bench_jose
V1=""
for f in "$TMP/jose1.out" "$TMP/jose2a.out" "$TMP/jose2b.out"; do
    v=$(jose_col "$f" verify_cached_jwk 3)
    if [ -z "$V1" ] || awk -v a="$v" -v b="$V1" 'BEGIN { exit !(a < b) }'; then
        V1=$v VT1=$(jose_col "$f" verify_cached_jwk 5)
    fi
done
BOUND_IDEAL=$(calc "2 * 1e6 / $V1" 0)
BOUND=0
BOUND_TG=0
for f in "$TMP/jose2a.out" "$TMP/jose2b.out"; do
    BOUND=$(calc "$BOUND + 1e6 / $(jose_col "$f" verify_cached_jwk 3)" 0)
    BOUND_TG=$(calc "$BOUND_TG + 1e6 / $(jose_col "$f" verify_cached_jwk 5)" 0)
done
say "  one core: ES256 verify $V1 µs (raw OpenSSL, fastest run); $VT1 µs through Tollgate's JOSE layer (parse + cached jwk + verify)"
say "  2 cores:  $BOUND verifies/s measured with both cores busy (raw OpenSSL; $BOUND_TG through the JOSE layer); 2 x one core would be $BOUND_IDEAL"
if awk -v b="$BOUND" -v i="$BOUND_IDEAL" 'BEGIN { exit !(b < 0.85 * i) }'; then
    say "            WARNING: far below 2 x one core: something else was using a core"
    WARNINGS=$((WARNINGS + 1))
fi
say ""

# ---- 4. load ----
# CPU accounting around each measured run: cpu_begin, then cpu_end (on
# bench/lib.sh's cpu_measure): the server's own CPU, per thread (the echo
# upstream's 2 workers are threads of the same process), the load
# generator's, and the machine's.
cpu_end() {
    cpu_measure
    NOTE=""
    if [ "$ONE_THREAD" = 1 ]; then
        NOTE="; NOTE: one server thread did all the work: the connections landed on one worker"
        ONE_WORKER=$((ONE_WORKER + 1))
    fi
    if [ "$OTHERS_BUSY" = 1 ]; then
        NOTE="; WARNING: other processes used $OTHER_CORES cores during the run"
        WARNINGS=$((WARNINGS + 1))
    fi
}

# gen NAME COUNT: GET proofs for the demo tool's URL, bound to the current
# DPoP token (ath), one file per load thread
gen() {
    rm -f "$TMP"/proofs-*
    "$GEN" -j "$NCPU" -s "$THREADS" -k "$DPOP_KEY" -m GET -a "$TMP/dpop.tok" \
        "$TOOL_URL" "$2" "$TMP/proofs-$1" 2>"$TMP/gen.err" ||
        { cat "$TMP/gen.err" >&2; exit 1; }
}

report() { # NAME: the run's lines, then one summary line
    sed -n '2,4p' "$TMP/$1.lg" | indent
    say "    => $L_RPS req/s, p50 $L_P50 ms, p99 $L_P99 ms, non-2xx $L_NON2XX; server used $SRV_CORES cores" \
        "(threads $THREAD_CORES; load generator $LG_CORES, machine $BUSY_CORES of $NCPU)$NOTE: $V"
}

# The closed-loop runs' scheduling class for the load generator (see the top).
LG_SCHED=(--batch)

# dpop_run NAME URL HEADER...: a closed-loop DPoP scenario. A fresh token;
# the warm-up (on proofs of its own) doubles as the calibration that sizes
# the measured run's proofs (1.5 x its rate, + 20,000); a run that still
# runs out stops early and is repeated once with twice as many.
dpop_run() {
    local name=$1 url=$2 n attempt
    shift 2
    dpop_token
    gen cal $((WARMUP * 30000 + 20000))
    run_loadgen "$name-warmup" "${LG_SCHED[@]}" -w 0 -d "$WARMUP" --proofs "$TMP/proofs-cal" \
        -H "Authorization: DPoP $DPOP_TOK" "$@" "$url"
    say "    warm-up/calibration: $L_RPS req/s, $L_NON2XX non-2xx"
    n=$(calc "$L_RPS * ($DURATION + 1) * 1.5 + 20000" 0)
    for attempt in 1 2; do
        gen run "$n"
        cpu_begin
        run_loadgen "$name" "${LG_SCHED[@]}" -w 1 -d "$DURATION" --proofs "$TMP/proofs-run" \
            -H "Authorization: DPoP $DPOP_TOK" "$@" "$url"
        cpu_end
        if [ "$L_EX" = 0 ] || [ "$attempt" = 2 ]; then
            break
        fi
        say "    proofs ran out after $L_REQ requests: again with twice as many"
        n=$((n * 2))
    done
    rm -f "$TMP"/proofs-*
    verdict "$L_NON2XX" "$L_ERR" "$L_EX"
}

CHECK_HDRS=(-H "X-Original-Method: GET" -H "X-Original-URI: $TOOL_PATH")

say "(a) /check, DPoP-bound token, a fresh ES256 proof per request (htu $TOOL_URL)"
dpop_run check-dpop "$ISSUER/check" "${CHECK_HDRS[@]}"
report check-dpop
A_RPS=$L_RPS A_P50=$L_P50 A_P99=$L_P99 A_SRV=$SRV_CORES A_NON2XX=$L_NON2XX
say ""

say "(a0) the same, the load generator an ordinary task (SCHED_OTHER): it preempts the server"
LG_SCHED=()
dpop_run check-dpop-other "$ISSUER/check" "${CHECK_HDRS[@]}"
LG_SCHED=(--batch)
report check-dpop-other
A0_RPS=$L_RPS A0_P50=$L_P50 A0_P99=$L_P99 A0_SRV=$SRV_CORES A0_NON2XX=$L_NON2XX
say ""

# The bound again, right after (a) and (a0): this machine's speed drifts by
# a few percent over a minute (a shared host), so (a) and (a0) are compared
# with the mean of a measurement just before and one just after them.
"$JOSE" "$CRYPTO_SECONDS" ES256 >"$TMP/jose3a.out" &
j3a=$!
"$JOSE" "$CRYPTO_SECONDS" ES256 >"$TMP/jose3b.out" &
j3b=$!
wait "$j3a" "$j3b"
BOUND_AFTER=0
for f in "$TMP/jose3a.out" "$TMP/jose3b.out"; do
    BOUND_AFTER=$(calc "$BOUND_AFTER + 1e6 / $(jose_col "$f" verify_cached_jwk 3)" 0)
done
BOUND_BEFORE=$BOUND
BOUND=$(calc "($BOUND_BEFORE + $BOUND_AFTER) / 2" 0)
say "crypto bound again after (a0): $BOUND_AFTER verifies/s on 2 cores (before (a): $BOUND_BEFORE); (a) and (a0) are compared with the mean, $BOUND"
say ""

say "(b) /check over TLS, certificate-bound token, client certificate"
mtls_token
cpu_begin
run_loadgen check-mtls "${LG_SCHED[@]}" -w "$WARMUP" -d "$DURATION" --cacert "$CA" --cert "$MTLS_CERT" \
    --key "$MTLS_KEY" -H "Authorization: Bearer $MTLS_TOK" "${CHECK_HDRS[@]}" "$MTLS_BASE/check"
cpu_end
verdict "$L_NON2XX" "$L_ERR" 0
report check-mtls
B_RPS=$L_RPS B_P50=$L_P50 B_P99=$L_P99 B_SRV=$SRV_CORES B_NON2XX=$L_NON2XX
say ""

say "(c) GET $TOOL_PATH through the gateway to the echo upstream, DPoP"
dpop_run proxy "$TOOL_URL"
report proxy
C_RPS=$L_RPS C_P50=$L_P50 C_P99=$L_P99 C_SRV=$SRV_CORES C_NON2XX=$L_NON2XX
say ""

say "(d) GET /items straight to the echo upstream (no gateway)"
cpu_begin
run_loadgen direct "${LG_SCHED[@]}" -w "$WARMUP" -d "$DURATION" "$ECHO/items"
cpu_end
verdict "$L_NON2XX" "$L_ERR" 0
report direct
D_RPS=$L_RPS D_P50=$L_P50 D_P99=$L_P99 D_SRV=$SRV_CORES D_NON2XX=$L_NON2XX
say ""

# Open loop at one rate for all three: closed-loop p50 at saturation is
# mostly queueing (16 connections / throughput), so the latency the proxy
# adds is read here, where nothing queues.
R=${OPEN_RATE:-$(calc "$C_RPS / 4" 0)}
say "(e) (a), (c) and (d) at $R req/s each, open loop (bench/loadgen -R; latency from the due time)"
open_dpop() { # NAME URL HEADER...
    local name=$1 url=$2
    shift 2
    dpop_token
    gen open "$(calc "$R * ($WARMUP + $DURATION) * 1.1 + 2000" 0)"
    cpu_begin
    run_loadgen "$name" -R "$R" -w "$WARMUP" -d "$DURATION" --proofs "$TMP/proofs-open" \
        -H "Authorization: DPoP $DPOP_TOK" "$@" "$url"
    cpu_end
    rm -f "$TMP"/proofs-*
    verdict "$L_NON2XX" "$L_ERR" "$L_EX"
}
open_line() {
    say "    $1 p50 $L_P50 ms, p90 $L_P90 ms, p99 $L_P99 ms, p99.9 $L_P999 ms; $L_REQ of $L_DUE due" \
        "answered; server $SRV_CORES cores (per request $(calc "$SRV_CORES * 1e6 / $R" 0) µs CPU)$NOTE: $V"
}
open_dpop check-open "$ISSUER/check" "${CHECK_HDRS[@]}"
OA_P50=$L_P50
open_line "(a) /check  "
open_dpop proxy-open "$TOOL_URL"
OC_P50=$L_P50
open_line "(c) proxy   "
cpu_begin
run_loadgen direct-open -R "$R" -w "$WARMUP" -d "$DURATION" "$ECHO/items"
cpu_end
verdict "$L_NON2XX" "$L_ERR" 0
OD_P50=$L_P50
open_line "(d) direct  "
say ""

# ---- 5. optional profile ----
if [ "$PERF" = 1 ]; then
    if ! command -v perf >/dev/null 2>&1; then
        say "--perf: perf is missing (apt-get install linux-perf); skipped"
    else
        PERF_DIR=$(mktemp -d /tmp/gateway-bench-perf.XXXXXX)
        say "profile: perf record of the server during one more ${DURATION} s run of (a) -> $PERF_DIR"
        dpop_token
        gen perf "$(calc "$A_RPS * ($DURATION + 1) * 1.5 + 20000" 0)"
        perf record -q -F 499 --call-graph dwarf,8192 -p "$SRV_PID" -o "$PERF_DIR/perf.data" \
            -- sleep "$DURATION" >"$PERF_DIR/record.log" 2>&1 &
        perf_pid=$!
        run_loadgen check-perf "${LG_SCHED[@]}" -w 0 -d "$DURATION" --proofs "$TMP/proofs-perf" \
            -H "Authorization: DPoP $DPOP_TOK" "${CHECK_HDRS[@]}" "$ISSUER/check"
        wait "$perf_pid" || true
        rm -f "$TMP"/proofs-*
        bench_perf_report "$PERF_DIR" "$L_RPS" 25
        say ""
    fi
fi

# ---- 6. summary ----
PCT=$(calc "100 * $A_RPS / $BOUND" 1)
PCT0=$(calc "100 * $A0_RPS / $BOUND" 1)
PCT_PER_CORE=$(calc "100 * ($A_RPS / $A_SRV) / (1e6 / $V1)" 1)
OVH=$(calc "$OC_P50 - $OD_P50" 3)
OVH_CHECK=$(calc "$OC_P50 - $OA_P50" 3)
OVH_CLOSED=$(calc "$C_P50 - $D_P50" 3)
OVH_CLOSED_CHECK=$(calc "$C_P50 - $A_P50" 3)
us_per() { calc "$1 * 1e6 / $2" 0; } # server CPU µs per request
say "summary ($THREADS threads, $CONNS connections, ${DURATION} s, closed loop; the load generator shares the $NCPU cores)"
printf '  %-44s %10s %9s %9s %8s %12s %10s\n' scenario "req/s" "p50 ms" "p99 ms" non-2xx "server cores" "CPU µs/req"
printf '  %-44s %10s %9s %9s %8s %12s %10s\n' "(a) /check, DPoP (fresh proof)" "$A_RPS" "$A_P50" "$A_P99" "$A_NON2XX" "$A_SRV" "$(us_per "$A_SRV" "$A_RPS")"
printf '  %-44s %10s %9s %9s %8s %12s %10s\n' "(a0) the same, ordinary load generator" "$A0_RPS" "$A0_P50" "$A0_P99" "$A0_NON2XX" "$A0_SRV" "$(us_per "$A0_SRV" "$A0_RPS")"
printf '  %-44s %10s %9s %9s %8s %12s %10s\n' "(b) /check, mTLS over TLS" "$B_RPS" "$B_P50" "$B_P99" "$B_NON2XX" "$B_SRV" "$(us_per "$B_SRV" "$B_RPS")"
printf '  %-44s %10s %9s %9s %8s %12s %10s\n' "(c) proxy to the echo upstream, DPoP" "$C_RPS" "$C_P50" "$C_P99" "$C_NON2XX" "$C_SRV" "$(us_per "$C_SRV" "$C_RPS")"
printf '  %-44s %10s %9s %9s %8s %12s %10s\n' "(d) echo upstream direct" "$D_RPS" "$D_P50" "$D_P99" "$D_NON2XX" "$D_SRV" "$(us_per "$D_SRV" "$D_RPS")"
say "  crypto bound for (a): $BOUND req/s (one ES256 verify per request, raw OpenSSL, both cores busy;" \
    "mean of $BOUND_BEFORE before (a) and $BOUND_AFTER after (a0))"
say "  (a) is $PCT% of the bound (target: 70% or more); per CPU-second the server got:" \
    "$(calc "$A_RPS / $A_SRV" 0) req, $PCT_PER_CORE% of one core's verify rate ($(calc "1e6 / $V1" 0))"
say "  (a0), with a load generator that preempts the server, is $PCT0% of the bound"
say "  proxy overhead at p50, open loop at $R req/s: (c) - (d) = $OVH ms (target: under 0.3 ms);" \
    "(c) - (a), the proxying alone = $OVH_CHECK ms"
say "    (closed loop, saturated, mostly queueing: (c) - (d) = $OVH_CLOSED ms, (c) - (a) = $OVH_CLOSED_CHECK ms)"
if [ "$WARNINGS" != 0 ]; then
    say "  $WARNINGS WARNING(s): other processes used the CPUs during some runs; run again on an idle machine"
fi
if [ "$ONE_WORKER" != 0 ]; then
    say "  $ONE_WORKER run(s) where one server thread did all the work (see NOTE above): the server had 1 core, not $NCPU"
fi
if [ "$STATUS" != 0 ]; then
    say "  some runs FAILED (non-2xx, socket errors or proofs exhausted): see above"
fi
say "gateway_bench: check_dpop_rps=$A_RPS check_mtls_rps=$B_RPS proxy_rps=$C_RPS direct_rps=$D_RPS" \
    "verify_bound_rps=$BOUND verify_bound_before_rps=$BOUND_BEFORE verify_bound_after_rps=$BOUND_AFTER check_pct_of_bound=$PCT proxy_overhead_p50_ms=$OVH" \
    "proxy_minus_check_p50_ms=$OVH_CHECK open_rate=$R proxy_overhead_p50_closed_ms=$OVH_CLOSED" \
    "check_dpop_p99_ms=$A_P99 check_dpop_server_cores=$A_SRV check_pct_per_server_core=$PCT_PER_CORE" \
    "check_dpop_rps_ordinary_loadgen=$A0_RPS check_pct_of_bound_ordinary_loadgen=$PCT0" \
    "one_worker_runs=$ONE_WORKER background_cores=$BACKGROUND warnings=$WARNINGS status=$([ "$STATUS" = 0 ] && echo ok || echo failed)"
exit "$STATUS"
