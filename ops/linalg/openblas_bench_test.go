//go:build openblas

package linalg

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gort-ml/gort/ops/linalg/internal/openblas"
)

// BenchmarkOpenBLAS is BenchmarkSgemm on OpenBLAS's cblas_sgemm, at the same
// thread counts, for ratios measured in the same run.
func BenchmarkOpenBLAS(b *testing.B) {
	b.Logf("OpenBLAS %s", openblas.Config())
	for _, threads := range []int{1, 2} {
		for _, s := range benchShapes {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%dx%dx%d/threads=%d", m, n, k, threads), func(b *testing.B) {
				benchGemm(b, m, n, k, func(a, bm, c []float32) {
					openblas.Sgemm(threads, false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
				})
			})
		}
	}
}

// BenchmarkVsOpenBLAS alternates gort, gort with B packed in advance
// (SgemmPacked, B a constant weight) and OpenBLAS call by call, so all see
// the same machine load (this machine is shared and noisy), and reports each
// one's GFLOP/s and the speed ratios to OpenBLAS.
func BenchmarkVsOpenBLAS(b *testing.B) {
	b.Logf("OpenBLAS %s; gort kernel %s", openblas.Config(), KernelName())
	for _, threads := range []int{1, 2} {
		pool := NewPool(threads)
		for _, s := range benchShapes {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%dx%dx%d/threads=%d", m, n, k, threads), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				a, bm, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
				pb := PackB(false, k, n, bm, n)
				// On one thread, the thread's CPU time too: on a shared
				// machine it leaves out the time the thread waited.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var tg, tp, to, cg, cp, co time.Duration
				for b.Loop() {
					c0, t0 := threadCPU(), time.Now()
					SgemmEx(false, false, m, n, k, 1, a, k, bm, n, 0, c, n, Epilogue{}, pool)
					c1, t1 := threadCPU(), time.Now()
					SgemmPacked(false, m, 1, a, k, pb, 0, c, n, Epilogue{}, pool)
					c2, t2 := threadCPU(), time.Now()
					openblas.Sgemm(threads, false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
					tg, tp, to = tg+t1.Sub(t0), tp+t2.Sub(t1), to+time.Since(t2)
					cg, cp, co = cg+c1-c0, cp+c2-c1, co+threadCPU()-c2
				}
				flop := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
				if threads == 1 {
					b.ReportMetric(flop/cg.Seconds()/1e9, "gort-cpu-GFLOP/s")
					b.ReportMetric(flop/cp.Seconds()/1e9, "gort-packedB-cpu-GFLOP/s")
					b.ReportMetric(flop/co.Seconds()/1e9, "openblas-cpu-GFLOP/s")
					b.ReportMetric(co.Seconds()/cg.Seconds(), "cpu:gort/openblas")
					b.ReportMetric(co.Seconds()/cp.Seconds(), "cpu:gort-packedB/openblas")
				}
				b.ReportMetric(flop/tg.Seconds()/1e9, "gort-GFLOP/s")
				b.ReportMetric(flop/tp.Seconds()/1e9, "gort-packedB-GFLOP/s")
				b.ReportMetric(flop/to.Seconds()/1e9, "openblas-GFLOP/s")
				b.ReportMetric(to.Seconds()/tg.Seconds(), "gort/openblas")
				b.ReportMetric(to.Seconds()/tp.Seconds(), "gort-packedB/openblas")
			})
		}
	}
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// TestOpenBLASAgrees checks the wrapper against the reference so the
// comparison is of equal work.
func TestOpenBLASAgrees(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6}  // 2 x 3
	bm := []float32{1, 0, 0, 1, 1, 1} // 3 x 2
	c := []float32{9, 9, 9, 9}
	openblas.Sgemm(1, false, false, 2, 2, 3, 1, a, 3, bm, 2, 0, c, 2)
	want := []float32{4, 5, 10, 11}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("openblas C = %v, want %v", c, want)
		}
	}
}
