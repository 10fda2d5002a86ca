#!/usr/bin/env bash
# gen-node-tests.sh generates the ONNX backend node tests (DEST/test_*/model.onnx
# and test_data_set_*/{input,output}_N.pb) from the pinned onnx Python
# package, for machines without a shared copy of them.
#
# Usage: scripts/gen-node-tests.sh DEST
# Env:   GORT_CACHE (default ~/.cache/gort) holds the virtualenv (venv-onnx);
#        ONNX_VERSION (default 1.23.0); PYTHON (default python3).
#
# onnx 1.23's "python -m onnx.backend.test.cmd_tools generate-data" writes only
# the model test cases; the node cases come from
# onnx.backend.test.case.node.collect_testcases, so this script runs the same
# writer (cmd_tools.generate_data) over the node cases.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DEST" >&2
	exit 2
fi
dest=$1
ONNX_VERSION=${ONNX_VERSION:-1.23.0}
GORT_CACHE=${GORT_CACHE:-$HOME/.cache/gort}
PYTHON=${PYTHON:-python3}
venv=$GORT_CACHE/venv-onnx

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnx, sys; sys.exit(onnx.__version__ != '$ONNX_VERSION')" 2>/dev/null; then
	echo "gen-node-tests: creating $venv with onnx==$ONNX_VERSION" >&2
	mkdir -p "$GORT_CACHE"
	"$PYTHON" -m venv "$venv"
	"$venv/bin/python" -m pip install --quiet --upgrade pip
	"$venv/bin/python" -m pip install --quiet "onnx==$ONNX_VERSION" numpy
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gort-node-tests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$venv/bin/python" - "$tmp" <<'PY'
import argparse
import sys

import onnx.backend.test.case.node as node_test
import onnx.backend.test.cmd_tools as cmd_tools

# generate_data writes whatever model_test.collect_testcases returns, under
# OUTPUT/<kind>/<name>; hand it the node cases (kind "node").
cmd_tools.model_test.collect_testcases = lambda: node_test.collect_testcases(None)
cmd_tools.generate_data(argparse.Namespace(output=sys.argv[1]))
PY

mkdir -p "$dest"
n=0
for d in "$tmp"/node/test_*; do
	name=$(basename "$d")
	rm -rf "${dest:?}/$name"
	mv "$d" "$dest/$name"
	n=$((n + 1))
done
echo "gen-node-tests: wrote $n node tests (onnx $ONNX_VERSION) to $dest"
