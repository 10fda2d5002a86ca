package flash

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gort-ml/gort/ops"
	"golang.org/x/sys/unix"
)

// BenchmarkBert runs a bert-base attention layer (12 heads of 64, no
// mask) at sequence lengths 128 and 512 on one thread.
func BenchmarkBert(b *testing.B) {
	for _, s := range []int{128, 512} {
		b.Run(fmt.Sprintf("S%d", s), func(b *testing.B) {
			p := tcase{b: 1, n: 12, kvN: 12, s: s, t: s, dk: 64, dv: 64, bsnh: true}.problem(rand.New(rand.NewPCG(1, 1)))
			c := &ops.Ctx{Threads: 1}
			// The thread's CPU time per op is steadier than wall time on a
			// shared machine.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var r0, r1 unix.Rusage
			unix.Getrusage(unix.RUSAGE_THREAD, &r0)
			for b.Loop() {
				if err := Run(c, p); err != nil {
					b.Fatal(err)
				}
			}
			unix.Getrusage(unix.RUSAGE_THREAD, &r1)
			b.ReportMetric(float64(r1.Utime.Nano()-r0.Utime.Nano())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(4*12*s*s*64)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
