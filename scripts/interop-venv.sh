#!/usr/bin/env bash
# interop-venv.sh: builds (once per requirements change) the pinned
# virtualenv of the interop suite and prints its folder:
#   $GORT_CACHE/venv-interop-HASH   (pip's download cache: $GORT_CACHE/pip)
# HASH is of conformance/interop/requirements.txt and the Python version.
# Used by scripts/interop.sh and scripts/bench.sh; progress goes to stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${GORT_CACHE:-$HOME/.cache/gort}
req=$root/conformance/interop/requirements.txt
hash=$( (cat "$req"; python3 -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -c1-12)
venv=$cache/venv-interop-$hash
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-$cache/pip}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -f "$venv/.complete" ]; then
	start=$(date +%s)
	echo "interop: building $venv (first run or new requirements)" >&2
	rm -rf "$venv"
	mkdir -p "$cache"
	python3 -m venv "$venv"
	"$venv/bin/pip" install --quiet --progress-bar off -r "$req" >&2
	touch "$venv/.complete"
	echo "interop: virtualenv built in $(($(date +%s) - start)) s" >&2
fi
echo "$venv"
