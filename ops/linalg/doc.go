// Package linalg holds gort's dense linear-algebra kernels: a packed,
// cache-blocked SGEMM with assembly micro-kernels, its batched form, fused
// bias/activation epilogues and the persistent worker pool they run on.
//
// # Overview
//
// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major float32
// matrices with the arguments of cblas_sgemm (CblasRowMajor): op(A) is
// m x k, op(B) is k x n, C is m x n, and lda, ldb, ldc are row strides.
// SgemmEx adds an Epilogue, C = act(C + 1·biasᵀ + rowBias·1ᵀ) with act
// none, Relu, Gelu (erf) or Gelu (tanh), applied block by block while C is
// in cache, and takes the Pool to run on; SgemmStridedBatched and
// SgemmBatched run many products of one shape. PackB packs a constant
// op(B) (a weight matrix) once, and SgemmPacked multiplies by it without
// packing B again.
//
// The product follows GotoBLAS/BLIS: op(B) is packed in kc x nc blocks of
// nr-column panels, alpha·op(A) in mc x kc blocks of mr-row panels, and a
// register-tile micro-kernel computes each mr x nr tile of C over kc.
// Partial edge tiles are computed into a scratch tile and merged. The
// micro-kernel is chosen once from the CPU flags (golang.org/x/sys/cpu):
//
//	avx512   8 x 48, AVX-512F (24 zmm accumulators)
//	avx2     6 x 16, AVX2 + FMA (12 ymm accumulators)
//	generic  4 x 4, pure Go, every other CPU (and forced in tests)
//
// 8 x 48 rather than 14 x 32 or 12 x 32: it needs 11 loads per 24 FMAs (3
// of B, 8 broadcasts of A) where 12 x 32 needs 14, and BERT-size products
// (m = 128, n = 768 or 3072, per thread 384) are whole tiles, with no
// padded edge rows or columns.
//
// Products with one or two rows (m <= 2) skip packing and run as
// matrix-vector products (AVX-512 GEMV and dot kernels where present).
//
// Work is split into a grid of sub-products of C, one per thread, chosen to
// minimise the padded tile area plus the packing each thread repeats; the
// threads are a Pool's persistent workers, so a call creates no goroutine.
// Packing buffers come from a sync.Pool: steady-state calls do not
// allocate.
//
// Results agree with a float64 reference to within about 1e-5·k relative
// to Σ|a||b|; the summation order differs from a naive loop, so results are
// not bit-identical to it, but they are deterministic for a given kernel,
// size and thread count.
//
// bench/SGEMM.md has the measurements against OpenBLAS
// (go test -tags openblas -bench . ./ops/linalg/).
package linalg
