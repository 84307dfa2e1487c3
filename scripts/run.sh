#!/bin/sh
# The README's run command: install what is missing, build, and start the
# --dev quickstart (or run the tollgate subcommand given as arguments).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh default >/dev/null
if [ "$#" -eq 0 ]; then
    set -- serve --dev
fi
exec ./build/default/tollgate "$@"
