package contrib

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
	"golang.org/x/sys/unix"
)

// BenchmarkAttend compares the fused kernel with the materialized path on
// a bert-base attention layer (12 heads of 64, an all-ones (B, T) mask) on
// one thread, reporting the thread's CPU time per op (steadier than wall
// time on a shared machine).
func BenchmarkAttend(b *testing.B) {
	for _, s := range []int{128, 512} {
		rng := rand.New(rand.NewPCG(1, 2))
		randf := func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			return x
		}
		const n, d = 12, 64
		ones := make([]int32, s)
		for i := range ones {
			ones[i] = 1
		}
		var ms maskState[float32]
		ms.bind()
		if err := ms.m.init(tensor.Must([]int{1, s}, ones), 1, s, s, 0, -10000, false); err != nil {
			b.Fatal(err)
		}
		a := &attend[float32]{b: 1, n: n, kvN: n, s: s, dk: d, dv: d, tcap: s,
			q: randf(n * s * d), k: randf(n * s * d), v: randf(n * s * d), scale: 0.125}
		a.useMask(&ms)
		out := make([]float32, n*s*d)
		c := &ops.Ctx{Threads: 1}
		for _, path := range []string{"fused", "materialized"} {
			b.Run(fmt.Sprintf("S%d/%s", s, path), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var r0, r1 unix.Rusage
				unix.Getrusage(unix.RUSAGE_THREAD, &r0)
				for b.Loop() {
					var err error
					if path == "fused" {
						err = a.run(c, out)
					} else {
						err = a.materialized(c, out)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				unix.Getrusage(unix.RUSAGE_THREAD, &r1)
				b.ReportMetric(float64(r1.Utime.Nano()-r0.Utime.Nano())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
