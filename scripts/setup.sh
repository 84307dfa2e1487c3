#!/bin/sh
# Install what Tollgate needs to build and test, from Debian 12 packages only.
# Checks first: installs nothing when everything is present. Runs as root on a
# fresh machine (or through sudo when available). Extra package names given as
# arguments are checked and installed the same way (scripts/bench-setup.sh).
set -eu

# Each package and why it is here (mirrored in README.md):
PKGS="
gcc make cmake pkg-config
libssl-dev
libevent-dev
libsqlite3-dev
libyaml-dev
libcurl4-openssl-dev
libjansson-dev
libjemalloc-dev
clang libclang-rt-14-dev
openssl curl nginx-light
python3 python3-jwcrypto
"
# Node.js and npm run the independent OAuth client (oauth4webapi, jose) in
# the tests; a machine that already has them (e.g. from NodeSource) keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS="$PKGS nodejs npm"
fi
PKGS="$PKGS $*"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    "install ok installed") ;;
    *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    echo "setup: all dependencies present"
    exit 0
fi

echo "setup: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
