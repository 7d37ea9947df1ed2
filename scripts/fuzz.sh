#!/usr/bin/env bash
# Runs every fuzz target in the repository for a short while: each
# `func FuzzXxx(f *testing.F)` found in a _test.go file, one go test
# invocation per target (go test fuzzes one target at a time).
#
#   scripts/fuzz.sh                   every target for FUZZTIME (default 3s)
#   FUZZTIME=2m scripts/fuzz.sh       longer: a developer's run
#   scripts/fuzz.sh ServeConn         only the targets whose name matches (an awk regexp)
#
# FUZZPARALLEL sets go test's -parallel (the fuzz workers; default: go's,
# GOMAXPROCS). Every target is run even when one fails; the script then
# lists the failures and exits 1. A failing input is written by go test to
# testdata/fuzz/FuzzXxx/ in the target's package: keep it there, committed,
# as a regression test (it then runs with every go test).
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime runs out while a worker is busy
# (go.dev/issue/75804, fixed in Go 1.27); a loaded machine makes it likely.
# Such a failure found nothing: no input was written, no seed failed. The
# script runs that target once more, and a second such failure is reported
# as a flake, not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-3s}
pattern=${1:-.}

# "dir name" lines, one per target, in a stable order. Targets live in
# _test.go files; testdata holds none of ours.
targets=$({ grep -rEo --include='*_test.go' --exclude-dir=testdata --exclude-dir=.git \
    '^func Fuzz[A-Za-z0-9_]*\(' . || true; } |
  sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#\1 \2#' |
  awk -v p="$pattern" '$2 ~ p' | sort -u)
if [ -z "$targets" ]; then
  echo "fuzz.sh: no fuzz target matches ${pattern}" >&2
  exit 1
fi

parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then parallel=(-parallel "$FUZZPARALLEL"); fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# fuzz runs one target; its output is also kept in $log.
fuzz() {
  # go -C: the package's own directory, so that a target in a nested
  # module is built in that module.
  go -C "$1" test -run '^$' -fuzz "^${2}\$" -fuzztime "$FUZZTIME" "${parallel[@]}" . 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

# onlyDeadline reports whether the failure in $log is the coordinator's
# bare deadline error (see above) and nothing else.
onlyDeadline() {
  grep -q 'context deadline exceeded' "$log" &&
    ! grep -qE 'Failing input written|--- FAIL: [^ ]+/|panic:' "$log"
}

failed=()
flaked=()
count=0
start=$SECONDS
while read -r dir name; do
  count=$((count + 1))
  echo "--- fuzz $name in $dir for $FUZZTIME"
  if fuzz "$dir" "$name"; then continue; fi
  if onlyDeadline; then
    echo "fuzz.sh: $name: a bare deadline error (go.dev/issue/75804); once more"
    if fuzz "$dir" "$name"; then continue; fi
    if onlyDeadline; then flaked+=("$dir $name"); continue; fi
  fi
  failed+=("$dir $name")
done <<<"$targets"

echo "fuzz.sh: $count targets in $((SECONDS - start))s"
if [ ${#flaked[@]} -gt 0 ]; then
  echo "fuzz.sh: twice a bare deadline error, nothing found (go.dev/issue/75804):"
  printf '  %s\n' "${flaked[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${#failed[@]} failed:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
