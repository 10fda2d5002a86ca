#!/usr/bin/env bash
# bench-sgemm.sh [COUNT [CORETYPE]]   (BENCH=regexp narrows the benchmarks)
#
# Benchmarks gort's SGEMM (ops/linalg) against OpenBLAS on this machine, in
# one run, and prints the median of COUNT runs (default 5) per shape and
# thread count. BenchmarkVsOpenBLAS alternates gort, gort with B packed in
# advance and OpenBLAS call by call, so all see the same load on a shared
# machine; its gort/openblas columns are speed ratios (above 1: gort is
# faster). OpenBLAS is needed only here (apt-get install -y
# libopenblas-dev); gort never links it.
#
# OpenBLAS picks its kernel from the CPU unless OPENBLAS_CORETYPE names one;
# this machine's environment sets OPENBLAS_CORETYPE=Haswell (AVX2) and
# OPENBLAS_L2_SIZE=512, so the script clears both and lets OpenBLAS detect
# the CPU (Cooperlake, its AVX-512 kernels, on the Zen 5 here), or uses
# CORETYPE when given (e.g. SkylakeX, Haswell).
set -euo pipefail
count=${1:-5}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
if [ -n "${2:-}" ]; then
	export OPENBLAS_CORETYPE=$2
fi
cd "$(dirname "$0")/.."
if [ ! -e /usr/include/x86_64-linux-gnu/cblas.h ] && [ ! -e /usr/include/cblas.h ]; then
	echo "bench-sgemm: OpenBLAS headers missing; apt-get install -y libopenblas-dev" >&2
	exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The pthread OpenBLAS sizes its pool from OPENBLAS_NUM_THREADS; the
# benchmark sets 1 or 2 threads per call with openblas_set_num_threads.
OPENBLAS_NUM_THREADS=2 go test -tags openblas -run '^$' -bench "${BENCH:-VsOpenBLAS|Sgemm|MicroKernel}" -count "$count" -v ./ops/linalg/ |
	grep -E '^Benchmark.*ns/op|openblas_bench_test' | tee "$out"
echo
grep -m1 openblas_bench_test "$out" | sed 's/^ *[^ ]* //' 
echo
echo "medians of $count runs:"
awk '/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) { key = name " " $(i+1); v[key] = v[key] " " $i; keys[key] = 1 }
}
END {
	for (key in keys) {
		n = split(substr(v[key], 2), a, " ")
		for (i = 2; i <= n; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] + 0 > x + 0) { a[j+1] = a[j]; j-- } a[j+1] = x }
		med = (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
		printf "%-60s %10.3f\n", key, med
	}
}' "$out" | grep -v ' ns/op' | sort
