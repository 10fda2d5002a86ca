package linalg

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPoolCoversRanges checks that Parallel visits every index once, also
// from concurrent and nested calls.
func TestPoolCoversRanges(t *testing.T) {
	for _, threads := range []int{0, 1, 2, 5} {
		p := NewPool(threads)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for n := range 40 {
					n += g
					hits := make([]atomic.Int32, n)
					p.Parallel(n, func(lo, hi int) {
						for i := lo; i < hi; i++ {
							// A nested call must not deadlock.
							p.Parallel(3, func(lo, hi int) {})
							hits[i].Add(1)
						}
					})
					for i := range hits {
						if h := hits[i].Load(); h != 1 {
							t.Errorf("threads=%d n=%d: index %d visited %d times", threads, n, i, h)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		p.Close()
	}
}

// TestSgemmNoAllocs checks that steady-state calls allocate nothing.
func TestSgemmNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops values at random under the race detector")
	}
	r := rand.New(rand.NewPCG(9, 9))
	pool := NewPool(2)
	defer pool.Close()
	for _, s := range [][3]int{{64, 96, 128}, {300, 200, 300}, {1, 700, 300}, {5, 3, 2}} {
		m, n, k := s[0], s[1], s[2]
		a, b, c := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m*n)
		bias := randSlice(r, n)
		for _, tb := range []bool{false, true} {
			run := func() {
				SgemmEx(false, tb, m, n, k, 1, a, k, b, ldOf(tb, n, k), 0.5, c, n, Epilogue{Bias: bias, Act: ActGelu}, pool)
			}
			run()
			if allocs := testing.AllocsPerRun(20, run); allocs != 0 {
				t.Errorf("%dx%dx%d transB=%v: %v allocations per call", m, n, k, tb, allocs)
			}
		}
		pb := PackB(false, k, n, b, n)
		packed := func() {
			SgemmPacked(false, m, 1, a, k, pb, 0, c, n, Epilogue{RowBias: c[:m]}, pool)
		}
		packed()
		if allocs := testing.AllocsPerRun(20, packed); allocs != 0 {
			t.Errorf("%dx%dx%d packed: %v allocations per call", m, n, k, allocs)
		}
		batched := func() {
			SgemmStridedBatched(false, false, m, n, k, 1, a, k, 0, b, n, 0, 0, c, n, 0, 1, Epilogue{}, pool)
		}
		batched()
		if allocs := testing.AllocsPerRun(20, batched); allocs != 0 {
			t.Errorf("%dx%dx%d batched: %v allocations per call", m, n, k, allocs)
		}
	}
}

func ldOf(trans bool, n, k int) int {
	if trans {
		return k
	}
	return n
}
