package linalg

import (
	"testing"
	"time"
)

// BenchmarkPoolRegion times a parallel region of little work (5 µs per
// thread) after the caller was busy for gap: the wake-up cost of the
// workers (see spinFor).
func BenchmarkPoolRegion(b *testing.B) {
	p := NewPool(2)
	defer p.Close()
	x := make([]float32, 1<<16)
	for _, gap := range []time.Duration{0, 20 * time.Microsecond, 100 * time.Microsecond, 500 * time.Microsecond} {
		b.Run(gap.String(), func(b *testing.B) {
			var busy time.Duration
			for b.Loop() {
				if gap > 0 {
					t0 := time.Now()
					for time.Since(t0) < gap {
					}
				}
				t0 := time.Now()
				p.Parallel(len(x), func(lo, hi int) {
					for i := lo; i < hi; i++ {
						x[i] += 1
					}
				})
				busy += time.Since(t0)
			}
			b.ReportMetric(float64(busy.Nanoseconds())/float64(b.N), "region-ns")
		})
	}
}
