#!/usr/bin/env bash
# run.sh [OUT]: writes transformers/optimum references for a tiny GPT-2
# (make_refs.py) with the interop virtualenv, then checks gort's greedy
# generation against them for every export layout, with and without cache.
# The virtualenv needs torch, transformers, tokenizers and optimum-onnx.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cache=${GORT_CACHE:-$HOME/.cache/gort}
py=${GORT_PYTHON:-$(ls -dt "$cache"/venv-interop-*/bin/python 2>/dev/null | head -1)}
if [ -z "$py" ]; then
	echo "run.sh: no interop virtualenv under $cache (make interop builds one); set GORT_PYTHON" >&2
	exit 1
fi
out=${1:-$cache/generate-refs}
if [ ! -f "$out/refs.json" ]; then
	"$py" "$here/make_refs.py" "$out"
fi
cd "$root"
GORT_GENERATE_REFS="$out" go test -count=1 -run 'GreedyMatchesTransformers' -v ./generate/
