#!/usr/bin/env bash
# Runs every Fuzz* target in the module for FUZZTIME each (default 30s).
# The seed corpora (testdata/fuzz) also run as plain tests in `make test`.
# Targets are found in the sources (func FuzzX in a _test.go file), so a
# package that does not compile fails the run instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-30s}
status=0
ran=0
for dir in $(grep -rl --include='*_test.go' --exclude-dir=testdata '^func Fuzz' . | xargs -n1 dirname | sort -u); do
  for target in $(grep -h '^func Fuzz' "$dir"/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/' | sort -u); do
    echo "== $dir $target ($FUZZTIME)"
    ran=$((ran + 1))
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$dir"; then
      echo "FAILED: $dir $target"
      status=1
    fi
  done
done
echo "fuzz: $ran targets, ${FUZZTIME} each"
exit $status
