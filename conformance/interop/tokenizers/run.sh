#!/bin/sh
# Tokenizer parity with Hugging Face, both directions. Needs Python 3 and pip
# (installs tokenizers, transformers, sentencepiece and protobuf into
# ~/.cache/gort/venv-tok-HASH, HASH from the pins below); nothing
# else is downloaded.
#
#   conformance/interop/tokenizers/run.sh [DIR]
set -eu
cd "$(dirname "$0")/../../.."
dir=${1:-${TMPDIR:-/tmp}/gort-tokenizer-parity}
# Pinned: the versions the parity was measured against. Their own venv,
# because this transformers (5.x, tokenizers only, no torch) is newer than
# the interop suite's, which optimum-onnx holds below 4.58.
pins="tokenizers==0.23.3 transformers==5.24.0 sentencepiece==0.2.3 protobuf==7.36.2"
venv=${GORT_TOKENIZER_VENV:-${GORT_CACHE:-$HOME/.cache/gort}/venv-tok-$(echo "$pins" | sha256sum | cut -c1-8)}
if [ ! -f "$venv/.complete" ]; then
	rm -rf "$venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q $pins
	touch "$venv/.complete"
fi
"$venv/bin/python" conformance/interop/tokenizers/parity.py gen "$dir"
if ! GORT_TOKENIZER_PARITY="$dir" go test -count=1 -run 'TestParity' -v ./tokenizer > "$dir/go-test.log" 2>&1; then
	cat "$dir/go-test.log"
	exit 1
fi
grep -E 'parity|cases|shared|wrote|^(ok|FAIL|---)' "$dir/go-test.log" || true
"$venv/bin/python" conformance/interop/tokenizers/parity.py check "$dir"
