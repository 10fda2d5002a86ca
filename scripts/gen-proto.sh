#!/usr/bin/env bash
# gen-proto.sh regenerates onnx/onnxpb from the .proto files shipped in the
# pinned onnx Python wheel, so the Go types match exactly the ONNX release the
# conformance tests come from.
#
# Usage: scripts/gen-proto.sh            (run from anywhere; writes onnx/onnxpb)
# Env:   ONNX_VERSION (default 1.23.0), PROTOC_GEN_GO_VERSION (default: go.mod's
#        google.golang.org/protobuf version), PROTO_SRC (a folder already holding
#        onnx-ml.proto etc., to skip the download).
set -euo pipefail

ONNX_VERSION=${ONNX_VERSION:-1.23.0}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PROTOC_GEN_GO_VERSION=${PROTOC_GEN_GO_VERSION:-$(go list -m -f '{{.Version}}' google.golang.org/protobuf)}
out=onnx/onnxpb
pkg=github.com/gort-ml/gort/onnx/onnxpb

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# protoc resolves imports like "onnx/onnx-ml.proto", so the files live in $work/src/onnx/.
mkdir -p "$work/src/onnx"
if [ -n "${PROTO_SRC:-}" ]; then
	cp "$PROTO_SRC"/onnx-ml.proto "$PROTO_SRC"/onnx-data.proto "$PROTO_SRC"/onnx-operators-ml.proto "$work/src/onnx/"
else
	python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheel" "onnx==$ONNX_VERSION"
	whl=$(ls "$work"/wheel/onnx-"$ONNX_VERSION"-*.whl | head -n1)
	python3 - "$whl" "$work/src/onnx" <<'PY'
import sys, zipfile, os
whl, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for name in ("onnx-ml.proto", "onnx-data.proto", "onnx-operators-ml.proto"):
        with open(os.path.join(dest, name), "wb") as f:
            f.write(z.read("onnx/" + name))
PY
fi

if ! command -v protoc >/dev/null; then
	echo "gen-proto: protoc not found; installing protobuf-compiler" >&2
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq && $sudo apt-get install -y -qq protobuf-compiler
fi

gobin=$(go env GOPATH)/bin
if ! "$gobin/protoc-gen-go" --version 2>/dev/null | grep -q "$PROTOC_GEN_GO_VERSION"; then
	go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
fi

mkdir -p "$out"
files=(onnx/onnx-ml.proto onnx/onnx-data.proto onnx/onnx-operators-ml.proto)
mopts=""
for f in "${files[@]}"; do
	mopts="$mopts --go_opt=M$f=$pkg"
done
mkdir -p "$work/gen"
# shellcheck disable=SC2086
PATH="$gobin:$PATH" protoc -I "$work/src" --go_out="$work/gen" --go_opt=paths=source_relative $mopts "${files[@]}"
# Replace the files in place (no window without a package for concurrent builds)
# and drop stale ones.
for f in "$out"/*.pb.go; do
	if [ -e "$f" ] && [ ! -e "$work/gen/onnx/$(basename "$f")" ]; then
		rm -f "$f"
	fi
done
cp "$work"/gen/onnx/*.pb.go "$out/"
echo "gen-proto: wrote $(ls "$out" | tr '\n' ' ')(onnx $ONNX_VERSION, protoc $(protoc --version | cut -d' ' -f2), protoc-gen-go $PROTOC_GEN_GO_VERSION)"
