#!/usr/bin/env bash
# Soaks a built hoard serve: a few minutes of mixed load (hits, misses,
# ranges, PURGEs, slow readers, clients that vanish mid-response) while
# its origin is killed and restarted, hangs, answers garbage and cuts
# bodies. Every body a client receives is checked against the one its
# path determines. Not part of the test run; bench/README.md describes
# the figures it prints.
#
#   bench/soak.sh                   3 minutes
#   DURATION=30s bench/soak.sh      a quick look
#   KEEP=1 bench/soak.sh            keep the logs of Hoard and the origin
#
# It exits non-zero when a must-be-0 figure is not 0 (or Hoard died). It
# builds Hoard and the soak driver (bench/soak) into a temporary directory
# and removes it at the end, unless KEEP is set or the soak failed. All
# traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-3m}
CLIENTS=${CLIENTS:-6}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hoard-soak.XXXXXX")
status=0
cleanup() {
  if [ -n "${KEEP:-}" ] || [ "$status" != 0 ]; then
    echo "soak.sh: logs kept in $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

go build -o "$tmp/hoard" .
go build -o "$tmp/soak" ./bench/soak
"$tmp/soak" -hoard "$tmp/hoard" -duration "$DURATION" -clients "$CLIENTS" -dir "$tmp" || status=$?
exit "$status"
