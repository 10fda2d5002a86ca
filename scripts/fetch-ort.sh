#!/usr/bin/env bash
# fetch-ort.sh VERSION DESTDIR
#
# Installs the ONNX Runtime CPU shared library (libonnxruntime.so.1) for
# linux/x64 into DESTDIR, taken from the onnxruntime-node npm package of the
# given VERSION (npm checks the package's registry integrity hash). Running it
# again with the library already in place does nothing.
#
# Used by `make ort`; gort's ORT provider finds the library through
# GORT_ORT_LIB or ~/.cache/gort/onnxruntime-VERSION/libonnxruntime.so.1.
set -euo pipefail

die() { echo "fetch-ort: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: fetch-ort.sh VERSION DESTDIR"
version=$1
dest=${2%/}
[ -n "$version" ] || die "empty VERSION"
[ -n "$dest" ] || die "empty DESTDIR"

os=$(uname -s)
arch=$(uname -m)
if [ "$os" != Linux ] || { [ "$arch" != x86_64 ] && [ "$arch" != amd64 ]; }; then
	die "only linux/x64 is supported (this is $os/$arch); install ONNX Runtime $version yourself and set GORT_ORT_LIB to its shared library"
fi

lib=libonnxruntime.so.1
stamp="$dest/.fetch-ort-$version"
if [ -s "$dest/$lib" ] && [ -f "$stamp" ]; then
	echo "fetch-ort: $dest/$lib already present (ONNX Runtime $version)"
	exit 0
fi

command -v npm >/dev/null || die "npm not found; install Node.js/npm, or download ONNX Runtime $version for linux-x64 and set GORT_ORT_LIB"
command -v tar >/dev/null || die "tar not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch-ort.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "fetch-ort: npm pack onnxruntime-node@$version"
(cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null) ||
	die "npm pack onnxruntime-node@$version failed (no network, or no such version?)"
tgz=$(ls "$tmp"/onnxruntime-node-*.tgz 2>/dev/null | head -n1)
[ -n "$tgz" ] || die "npm pack produced no tarball"

src=package/bin/napi-v6/linux/x64
tar -xzf "$tgz" -C "$tmp" "$src" || die "$src not found in onnxruntime-node@$version"
[ -s "$tmp/$src/$lib" ] || die "$src/$lib missing from onnxruntime-node@$version"
head -c 4 "$tmp/$src/$lib" | grep -q 'ELF' || die "$src/$lib is not an ELF shared library"

# Copy every shared library in the directory (1.30.0 ships only
# libonnxruntime.so.1), then check that the dynamic linker resolves all of
# libonnxruntime's dependencies from the system or from DESTDIR.
mkdir -p "$dest"
for f in "$tmp/$src"/*.so*; do
	name=$(basename "$f")
	cp "$f" "$dest/.$name.tmp"
	mv -f "$dest/.$name.tmp" "$dest/$name"
done
if command -v ldd >/dev/null; then
	missing=$(LD_LIBRARY_PATH="$dest${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$dest/$lib" | grep 'not found' || true)
	[ -z "$missing" ] || die "$dest/$lib needs libraries this system lacks:
$missing"
fi
touch "$stamp"
echo "fetch-ort: installed $dest/$lib (ONNX Runtime $version, CPU)"
