#!/bin/sh
# The README's run command: install what is missing, build, run Tollgate.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh default >/dev/null
exec ./build/default/tollgate "$@"
