#!/usr/bin/env bash
# The interop suite (make interop): gort against PyTorch, Hugging Face
# transformers/optimum exports and ONNX Runtime's Python package.
#
# The virtualenv lives outside the checkout, named by the hash of the pinned
# requirements, so it is built once per requirements change
# (scripts/interop-venv.sh): $GORT_CACHE/venv-interop-HASH.
# Then gort is built once, and pytest runs conformance/interop/. The suite
# rewrites conformance/INTEROP.md with the measured errors.
#
#   scripts/interop.sh [PYTEST ARGS...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache=${GORT_CACHE:-$HOME/.cache/gort}
venv=$(scripts/interop-venv.sh)
hash=${venv##*-}

# One gort binary per run (the suite spawns it per model); GORT_BIN set
# by the caller is used as is.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gort-interop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -z "${GORT_BIN:-}" ]; then
	${GO:-go} build -o "$tmp/gort" ./cmd/gort
	export GORT_BIN=$tmp/gort
fi
export GORT_INTEROP_WORK=${GORT_INTEROP_WORK:-$tmp/work}
# Exports and saved models depend only on the pinned packages and the
# suite's model/export code: cached across runs (exports.py keys each
# architecture's folder by its definition).
export GORT_INTEROP_CACHE=${GORT_INTEROP_CACHE:-$cache/interop-exports-$hash}
# Keep the references single-threaded-ish and quiet: tiny models, many runs.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export TOKENIZERS_PARALLELISM=false PYTHONDONTWRITEBYTECODE=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1

set +e
"$venv/bin/python" -m pytest -p no:cacheprovider conformance/interop "$@"
rc=$?
set -e
# 5: no tests collected (for example a -k that matches nothing) is not a failure.
if [ "$rc" -eq 5 ]; then
	echo "interop: pytest collected no tests"
	rc=0
fi
if [ "$#" -gt 0 ]; then # a selected pytest run only
	exit "$rc"
fi

# The checks that drive gort's Go tests against references written by the
# same pinned libraries: zoo models both ways, 20 AdamW steps against
# torch.optim.AdamW (BERT MLM, GPT-2 CLM), Hugging Face exports of
# pretrained and fine-tuned models, greedy generation over every export
# layout, and tokenizers both ways.
check() {
	echo "interop: $1"
	shift
	if ! "$@"; then
		echo "interop: FAILED: $*" >&2
		rc=1
	fi
}
check "zoo models vs transformers (both directions)" env GORT_ZOO_VENV="$venv" GORT_INTEROP_MD="$root/conformance/INTEROP.md" "$venv/bin/python" conformance/interop/zoo_parity.py "$tmp/zoo"
check "training parity vs PyTorch (20 AdamW steps)" env GORT_ZOO_VENV="$venv" GORT_INTEROP_MD="$root/conformance/INTEROP.md" "$venv/bin/python" conformance/interop/train_parity.py "$tmp/train"
check "HF-format exports load in transformers" "$venv/bin/python" conformance/interop/hf_export_check.py
check "greedy generation vs transformers' generate" env GORT_PYTHON="$venv/bin/python" conformance/interop/generate/run.sh "$GORT_INTEROP_CACHE/generate-refs"
check "tokenizers vs Hugging Face tokenizers (both directions)" conformance/interop/tokenizers/run.sh "$tmp/tokenizers"
exit "$rc"
