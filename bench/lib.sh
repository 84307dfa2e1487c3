# shellcheck shell=bash
# shellcheck disable=SC2034 # the globals set here are read by the scripts
# bench/lib.sh: what token_bench.sh, gateway_bench.sh and peers share, sourced
# by them after `cd` to the repository root. The caller sets BENCH (its name,
# the prefix of its messages) before sourcing, and, where it uses them,
# BIN, JOSE, LOADGEN, THREADS, CONNS, CRYPTO_SECONDS, DURATION, WARMUP, NCPU
# (nproc) and TCK (getconf CLK_TCK).
# Functions set globals (named in each comment) rather than print, as the
# scripts did; nothing here prints unless asked.

say() { printf '%s\n' "$*"; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
# kv FILE PREFIX KEY: the value of KEY= on the line starting with PREFIX
kv() { awk -v p="$2" -v k="$3" 'index($0, p) == 1 {
        for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$1"; }
indent() { sed 's/^/    | /'; }

# ---- options ----

# bench_whole MESSAGE VALUE...: exit 2 with "$BENCH: MESSAGE" unless every
# VALUE is a whole number; then DURATION and WARMUP must be at least 1.
bench_whole() {
    local msg=$1 v
    shift
    for v in "$@"; do
        case "$v" in
        '' | *[!0-9]*) echo "$BENCH: $msg" >&2; exit 2 ;;
        esac
    done
    if [ "$DURATION" -lt 1 ] || [ "$WARMUP" -lt 1 ]; then
        echo "$BENCH: durations must be at least 1 s" >&2
        exit 2
    fi
}

# ---- build ----

# bench_build: scripts/build.sh default, its log shown only when it fails.
bench_build() {
    local blog
    blog=$(mktemp)
    if ! ./scripts/build.sh default >"$blog" 2>&1; then
        tail -40 "$blog" >&2
        rm -f "$blog"
        exit 1
    fi
    rm -f "$blog"
}

# bench_need FILE...: each must be an executable from the build.
bench_need() {
    local b
    for b in "$@"; do
        [ -x "$b" ] || { echo "$BENCH: $b is missing: build first" >&2; exit 1; }
    done
}

# ---- Tollgate, started once for the whole run ----

# bench_serve: `tollgate serve --dev` (and the caller's SERVE_ARGS array)
# on free loopback ports in a new temporary directory, stopped and removed on exit. Sets TMP, DATA, SRV_PID
# and, from its dev.json, ISSUER MTLS_BASE CA, the demo client's CID SECRET
# and the demo mTLS agent's MTLS_CID MTLS_CERT MTLS_KEY; returns once the
# metadata answers (dev() reads more).
bench_serve() {
    local ready=0
    TMP=$(mktemp -d "/tmp/${BENCH//_/-}.XXXXXX")
    SRV_PID=""
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    DATA=$TMP/data
    "$BIN" serve --dev --data "$DATA" --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
        ${SERVE_ARGS[@]+"${SERVE_ARGS[@]}"} >"$TMP/server.log" 2>&1 &
    SRV_PID=$!
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
        echo "$BENCH: the server did not start:" >&2
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
}

# shellcheck disable=SC2317 # called by the EXIT trap
bench_cleanup() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
    fi
    # the master key is created beside the data dir: $TMP/data.master-key
    rm -rf "$TMP"
}

# dev KEY.PATH: a member of the dev server's dev.json
dev() { /usr/bin/python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$DATA/dev.json" "$1"; }

check_server() {
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
        say "$BENCH: the server died during '$1'; its log ends with:"
        tail -20 "$TMP/server.log"
        exit 1
    fi
}

# ---- the machine ----

# bench_background: how many cores something else kept busy over 2 s,
# before our own work starts. Sets BACKGROUND.
bench_background() {
    local t0 i0 t1 i1
    read -r t0 i0 < <(awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6 }' /proc/stat)
    sleep 2
    read -r t1 i1 < <(awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6 }' /proc/stat)
    BACKGROUND=$(calc "$NCPU * (1 - ($i1 - $i0) / ($t1 - $t0))" 2)
}
# 0 (true) when the machine was not idle enough for the numbers to hold.
bench_busy() { awk -v b="$BACKGROUND" 'BEGIN { exit !(b > 0.25) }'; }
# "before the run the machine was ..." (the caller adds the indentation)
bench_background_line() {
    printf 'before the run the machine was %s of %s cores busy%s\n' "$BACKGROUND" "$NCPU" \
        "$(awk -v b="$BACKGROUND" 'BEGIN { if (b > 0.25) printf ": WARNING, not idle: the numbers will be low and noisy" }')"
}
# "NAME: revision, CPUs, OpenSSL"
bench_banner() {
    say "$BENCH: $(git describe --always --dirty 2>/dev/null || echo unknown), $NCPU CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(openssl version)"
}

# ---- the crypto bound ----

# jose_col FILE OP COLUMN: jose_bench's ES256 row for OP: raw OpenSSL µs/op
# is column 3, Tollgate's column 5.
jose_col() { awk -v op="$2" -v col="$3" '$1 == "ES256" && $2 == op { print $col }' "$1"; }
# bench_jose: jose_bench ES256 once alone ($TMP/jose1.out) and twice at once,
# both cores busy ($TMP/jose2a.out, $TMP/jose2b.out).
bench_jose() {
    local j2a j2b
    say "crypto bound: $JOSE $CRYPTO_SECONDS ES256, once alone and twice at once (2 cores)"
    "$JOSE" "$CRYPTO_SECONDS" ES256 >"$TMP/jose1.out"
    "$JOSE" "$CRYPTO_SECONDS" ES256 >"$TMP/jose2a.out" &
    j2a=$!
    "$JOSE" "$CRYPTO_SECONDS" ES256 >"$TMP/jose2b.out" &
    j2b=$!
    wait "$j2a" "$j2b"
}

# ---- CPU accounting around a measured run ----
# The server's own CPU time (/proc/PID/stat utime+stime) and the machine's
# busy time (/proc/stat). Per-thread too: the server's worker threads share
# the listening sockets, and how evenly the connections spread over them
# shows here.
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
# cpu_measure: since cpu_begin, in cores. Sets SRV_CORES BUSY_CORES LG_CORES
# OTHER_CORES THREAD_CORES; ONE_THREAD=1 when one server thread did all the
# work (the connections all landed on one worker: they are accepted from a
# shared socket), and OTHERS_BUSY=1 when other processes used the CPUs.
cpu_measure() {
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
    ONE_THREAD=0
    if printf '%s\n' "$THREAD_CORES" | awk -F+ '{ exit !($1 >= 0.85 && ($2 == "" || $2 < 0.3)) }'; then
        ONE_THREAD=1
    fi
    OTHERS_BUSY=0
    if awk -v o="$OTHER_CORES" 'BEGIN { exit !(o > 0.15) }'; then
        OTHERS_BUSY=1
    fi
}

# ---- load ----

# run_loadgen NAME ARGS...: sets L_RPS L_P50 L_P90 L_P99 L_P999 L_NON2XX L_ERR L_EX L_DUE L_REQ
run_loadgen() {
    local name=$1 out=$TMP/$1.lg
    shift
    "$LOADGEN" -t "$THREADS" -c "$CONNS" "$@" >"$out" 2>&1 || { cat "$out"; check_server "$name"; exit 1; }
    check_server "$name"
    L_RPS=$(kv "$out" loadgen: rps)
    L_P50=$(kv "$out" loadgen: p50_ms)
    L_P90=$(kv "$out" loadgen: p90_ms)
    L_P99=$(kv "$out" loadgen: p99_ms)
    L_P999=$(kv "$out" loadgen: p999_ms)
    L_NON2XX=$(kv "$out" loadgen: non2xx_all)
    L_ERR=$(kv "$out" loadgen: errors)
    L_EX=$(kv "$out" loadgen: exhausted)
    L_DUE=$(kv "$out" loadgen: due)
    L_REQ=$(kv "$out" loadgen: requests)
    [ -n "$L_RPS" ] || { cat "$out"; echo "$BENCH: no result from loadgen" >&2; exit 1; }
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

# ---- --perf ----

# bench_perf_report DIR RPS SELF_TOP: perf's reports of DIR/perf.data into
# DIR/{self,children,dso}.txt, and their top lines (the run did RPS req/s).
# (awk, not head: with pipefail, a reader that stops early fails the pipe)
bench_perf_report() {
    local dir=$1
    perf report -i "$dir/perf.data" --no-children --sort dso,symbol -g none --stdio \
        >"$dir/self.txt" 2>/dev/null || true
    perf report -i "$dir/perf.data" --children --sort dso,symbol -g none --stdio \
        >"$dir/children.txt" 2>/dev/null || true
    perf report -i "$dir/perf.data" --no-children --sort dso -g none --stdio \
        >"$dir/dso.txt" 2>/dev/null || true
    say "    $2 req/s under perf; samples by library:"
    say "      $(awk '/^ +[0-9.]+%/ && n++ < 8 { printf "%s %s  ", $2, $1 }' "$dir/dso.txt")"
    say "    self time, top $3 (library, function; unnamed = no debug symbols):"
    awk -v top="$3" '/^ +[0-9.]+%/ && n++ < top' "$dir/self.txt" | indent
    say "    Tollgate's own functions by inclusive time (callees included), top 30:"
    awk '/^ +[0-9.]+%/ && $3 == "tollgate" && n++ < 30' "$dir/children.txt" | indent
    say "    reports: $dir/{self,children,dso}.txt; perf report -i $dir/perf.data"
}
