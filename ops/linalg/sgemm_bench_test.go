package linalg

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are m x n x k: BERT-base FFN and projection products, a square
// one and a GEMV-like one.
var benchShapes = [][3]int{{128, 768, 3072}, {128, 768, 768}, {512, 512, 512}, {1, 768, 3072}}

// benchGemm times C = A·B (A m x k, B k x n, row-major, no transposes) and
// reports GFLOP/s.
func benchGemm(b *testing.B, m, n, k int, run func(a, bm, c []float32)) {
	r := rand.New(rand.NewPCG(1, 1))
	a, bm, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	run(a, bm, c)
	b.ResetTimer()
	for b.Loop() {
		run(a, bm, c)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm(b *testing.B) {
	for _, threads := range []int{1, 2} {
		pool := NewPool(threads)
		for _, s := range benchShapes {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%dx%dx%d/threads=%d", m, n, k, threads), func(b *testing.B) {
				benchGemm(b, m, n, k, func(a, bm, c []float32) {
					SgemmEx(false, false, m, n, k, 1, a, k, bm, n, 0, c, n, Epilogue{}, pool)
				})
			})
		}
	}
}

// BenchmarkSgemmEpilogue is BERT's first FFN product (128 x 3072 x 768)
// with each fused epilogue, to show what the epilogue adds.
func BenchmarkSgemmEpilogue(b *testing.B) {
	const m, n, k = 128, 3072, 768
	bias := make([]float32, n)
	pool := NewPool(1)
	for _, act := range []struct {
		name string
		act  Activation
	}{{"none", ActNone}, {"bias", ActNone}, {"bias+relu", ActRelu}, {"bias+gelu", ActGelu}, {"bias+gelutanh", ActGeluTanh}} {
		ep := Epilogue{Bias: bias, Act: act.act}
		if act.name == "none" {
			ep.Bias = nil
		}
		b.Run(act.name, func(b *testing.B) {
			benchGemm(b, m, n, k, func(a, bm, c []float32) {
				SgemmEx(false, false, m, n, k, 1, a, k, bm, n, 0, c, n, ep, pool)
			})
		})
	}
}

// BenchmarkSgemmTrans is 128 x 768 x 3072 with each transpose combination
// (ONNX Gemm's transB=1 weights are the common one), one thread.
func BenchmarkSgemmTrans(b *testing.B) {
	const m, n, k = 128, 768, 3072
	pool := NewPool(1)
	for tr := range 4 {
		ta, tb := tr&1 != 0, tr&2 != 0
		ar, ac, br, bc := storedDims(ta, tb, m, n, k)
		b.Run(fmt.Sprintf("transA=%v/transB=%v", ta, tb), func(b *testing.B) {
			benchGemm(b, max(ar*ac, m*k)/k, n, k, func(a, bm, c []float32) {
				SgemmEx(ta, tb, m, n, k, 1, a, ac, bm[:br*bc], bc, 0, c, n, Epilogue{}, pool)
			})
		})
	}
}

// BenchmarkSgemmKernel runs every micro-kernel this CPU has on one thread,
// to show what each CPU class gets.
func BenchmarkSgemmKernel(b *testing.B) {
	for _, kern := range kernels {
		for _, s := range benchShapes[:3] {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%s/%dx%dx%d", kern.name, m, n, k), func(b *testing.B) {
				benchGemm(b, m, n, k, func(a, bm, c []float32) {
					sgemm(kern, nil, false, false, m, n, k, 1, a, k, bm, n, 0, c, n, Epilogue{})
				})
			})
		}
	}
}

// BenchmarkMicroKernel times each micro-kernel alone on one tile with kc =
// 256 and L1-resident panels: the ceiling the blocked product approaches.
func BenchmarkMicroKernel(b *testing.B) {
	for _, kern := range kernels {
		b.Run(kern.name, func(b *testing.B) {
			const kc = 256
			a, bp := make([]float32, kc*kern.mr), make([]float32, kc*kern.nr)
			c := make([]float32, kern.mr*kern.nr)
			for b.Loop() {
				kern.fn(kc, a, bp, c, kern.nr, 1, 1)
			}
			b.ReportMetric(2*float64(kc*kern.mr*kern.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmBatched is BERT-base attention's scores, Q·Kᵀ for 12 heads
// of 128 x 64 (transB), and its context, P·V, on the default pool.
func BenchmarkSgemmBatched(b *testing.B) {
	const heads, seq, dim = 12, 128, 64
	r := rand.New(rand.NewPCG(2, 2))
	q, kv := randSlice(r, heads*seq*dim), randSlice(r, heads*seq*dim)
	scores, ctx := make([]float32, heads*seq*seq), make([]float32, heads*seq*dim)
	flop := 2 * float64(heads*seq*seq*dim)
	b.Run("QKt", func(b *testing.B) {
		for b.Loop() {
			SgemmStridedBatched(false, true, seq, seq, dim, 0.125, q, dim, seq*dim, kv, dim, seq*dim, 0, scores, seq, seq*seq, heads, Epilogue{}, DefaultPool())
		}
		b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("PV", func(b *testing.B) {
		for b.Loop() {
			SgemmStridedBatched(false, false, seq, dim, seq, 1, scores, seq, seq*seq, kv, dim, seq*dim, 0, ctx, dim, seq*dim, heads, Epilogue{}, DefaultPool())
		}
		b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkSgemmPacked is BenchmarkSgemm with B packed once by PackB (a
// constant weight), so each call packs only A.
func BenchmarkSgemmPacked(b *testing.B) {
	for _, threads := range []int{1, 2} {
		pool := NewPool(threads)
		for _, s := range benchShapes[:3] {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%dx%dx%d/threads=%d", m, n, k, threads), func(b *testing.B) {
				var pb *PackedB
				benchGemm(b, m, n, k, func(a, bm, c []float32) {
					if pb == nil {
						pb = PackB(false, k, n, bm, n)
					}
					SgemmPacked(false, m, 1, a, k, pb, 0, c, n, Epilogue{}, pool)
				})
			})
		}
	}
}
