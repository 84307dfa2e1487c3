#!/bin/sh
# Run every libFuzzer target for a fixed time. Builds nothing: build first with
#   cmake --preset fuzz && cmake --build --preset fuzz -j2
#
# usage: fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET]     (build/fuzz, 15)
#
# Each target runs on a temporary copy of its seed corpus (the repository's
# corpus is never modified) with its dictionary, fuzz/<target>.dict, or the
# JOSE one when it has none. libFuzzer's output goes
# to BUILD_DIR/fuzz-<target>.log; crash, leak and timeout reproducers go to
# BUILD_DIR/fuzz-artifacts/. One line per target:
#   fuzz-<target>: 1 passed, 0 failed
# and the exit status is 1 when any target failed (libFuzzer exited non-zero).
set -u

BUILD_DIR=${1:-build/fuzz}
SECS=${2:-15}
TARGETS="jws jwk policy http dpop_claims"

FUZZ_DIR=$(cd "$(dirname "$0")" && pwd)
case $SECS in
'' | *[!0-9]*) echo "run.sh: seconds must be a whole number, got '$SECS'" >&2; exit 2 ;;
esac
if [ ! -d "$BUILD_DIR" ]; then
    echo "run.sh: no build directory $BUILD_DIR (cmake --preset fuzz && cmake --build --preset fuzz)" >&2
    exit 2
fi
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
ARTIFACTS=$BUILD_DIR/fuzz-artifacts
mkdir -p "$ARTIFACTS"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tg-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT INT TERM

# LeakSanitizer is on by default with ASan; say so anyway, and make UBSan
# reports fatal with a stack (the build already uses -fno-sanitize-recover).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

status=0
for t in $TARGETS; do
    bin=$BUILD_DIR/fuzz/fuzz_$t
    [ -x "$bin" ] || bin=$BUILD_DIR/fuzz_$t
    log=$BUILD_DIR/fuzz-$t.log
    if [ ! -x "$bin" ]; then
        echo "run.sh: fuzz_$t not built in $BUILD_DIR" >&2
        echo "fuzz-$t: 0 passed, 1 failed"
        status=1
        continue
    fi
    corpus=$WORK/$t
    mkdir -p "$corpus"
    cp -R "$FUZZ_DIR/corpus/$t/." "$corpus/"
    dict=$FUZZ_DIR/jose.dict
    [ -f "$FUZZ_DIR/$t.dict" ] && dict=$FUZZ_DIR/$t.dict
    "$bin" -max_total_time="$SECS" -dict="$dict" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$t-" "$corpus" >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "fuzz-$t: 1 passed, 0 failed"
    else
        echo "--- fuzz_$t exited $rc; last lines of $log:" >&2
        tail -n 40 "$log" >&2
        echo "--- reproducers in $ARTIFACTS:" >&2
        ls -l "$ARTIFACTS" | grep -- " $t-" >&2
        echo "fuzz-$t: 0 passed, 1 failed"
        status=1
    fi
done
exit $status
