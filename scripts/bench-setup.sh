#!/bin/sh
# Install what the benchmarks need on top of scripts/setup.sh, from Debian 12
# packages only. Checks first: installs nothing when everything is present.
# Not part of the test command (bench/token_bench.sh and bench/peers call it).
set -eu

# Each package and why it is here:
#   wrk              HTTP load generator for bench/token_bench.sh and bench/peers
#   glewlwyd         a peer authorization server for bench/peers (Debian 12: 2.7.5)
#   python3-jwcrypto bench/peers verifies each server's token against its JWKS
#   nodejs, npm      bench/peers runs node oidc-provider (from npm, pinned in
#                    bench/peers-node/package-lock.json); only when node is missing
PKGS="
wrk
glewlwyd
python3-jwcrypto
"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS="$PKGS nodejs npm"
fi

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    "install ok installed") ;;
    *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    echo "bench-setup: all benchmark dependencies present"
    exit 0
fi

echo "bench-setup: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "bench-setup: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
