#!/bin/sh
# Tokenizer parity with Hugging Face, both directions. Needs Python 3 and pip
# (installs tokenizers and transformers into ~/.cache/gort/venv-tok); nothing
# else is downloaded.
#
#   conformance/interop/tokenizers/run.sh [DIR]
set -eu
cd "$(dirname "$0")/../../.."
dir=${1:-${TMPDIR:-/tmp}/gort-tokenizer-parity}
venv=${GORT_TOKENIZER_VENV:-$HOME/.cache/gort/venv-tok}
if [ ! -x "$venv/bin/python" ]; then
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q tokenizers transformers
fi
"$venv/bin/python" conformance/interop/tokenizers/parity.py gen "$dir"
GORT_TOKENIZER_PARITY="$dir" go test -count=1 -run 'TestParity' -v ./tokenizer | grep -E 'parity|cases|shared|wrote|^(ok|FAIL|---)'
"$venv/bin/python" conformance/interop/tokenizers/parity.py check "$dir"
