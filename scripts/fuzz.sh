#!/usr/bin/env bash
# Runs every Fuzz* target in the module for FUZZTIME each (default 30s).
# The seed corpora (testdata/fuzz) also run as plain tests in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-30s}
status=0
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target ($FUZZTIME)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"; then
      status=1
    fi
  done
done
exit $status
