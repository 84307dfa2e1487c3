#!/bin/sh
# Install what the benchmarks need on top of scripts/setup.sh, from Debian 12
# packages only. Checks first: installs nothing when everything is present.
# Not part of the test command (bench/token_bench.sh and bench/peers call it).
set -eu

# Each package and why it is here:
#   wrk              HTTP load generator for bench/token_bench.sh and bench/peers
#   glewlwyd         a peer authorization server for bench/peers (Debian 12: 2.7.5)
# (python3-jwcrypto, which bench/peers uses to verify each server's token, and
# Node.js for node oidc-provider come with scripts/setup.sh.)
exec "$(dirname "$0")/setup.sh" wrk glewlwyd
