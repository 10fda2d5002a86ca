package kernelutil

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/gort-ml/gort/ops"
)

func TestDynamicEachItemOnce(t *testing.T) {
	for _, threads := range []int{0, 1, 3, 8} {
		for _, n := range []int{0, 1, 5, 1000} {
			seen := make([]atomic.Int32, n)
			var workers atomic.Int32
			err := Dynamic(&ops.Ctx{Threads: threads}, n, func(next func() (int, bool)) {
				workers.Add(1)
				for i, ok := next(); ok; i, ok = next() {
					seen[i].Add(1)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range seen {
				if c := seen[i].Load(); c != 1 {
					t.Fatalf("threads %d, n %d: item %d done %d times", threads, n, i, c)
				}
			}
			if w := int(workers.Load()); w < 1 || w > max(1, min(threads, n)) {
				t.Fatalf("threads %d, n %d: %d workers", threads, n, w)
			}
		}
	}
}

func TestDynamicCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var done atomic.Int32
	err := Dynamic(&ops.Ctx{Context: ctx, Threads: 2}, 1000, func(next func() (int, bool)) {
		for i, ok := next(); ok; i, ok = next() {
			if i == 10 {
				cancel()
			}
			done.Add(1)
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := done.Load(); d >= 1000 {
		t.Fatalf("%d items done after the cancel", d)
	}
}

// A Dynamic call at 2 threads, its worker bound once, allocates nothing
// once a helper goroutine is idle: the other worker runs on the helper,
// not on a goroutine started with a closure per call.
func TestDynamicAllocs(t *testing.T) {
	c := &ops.Ctx{Threads: 2}
	var sum atomic.Int64
	worker := func(next func() (int, bool)) {
		for i, ok := next(); ok; i, ok = next() {
			sum.Add(int64(i))
		}
	}
	call := func() {
		if err := Dynamic(c, 64, worker); err != nil {
			t.Fatal(err)
		}
	}
	call()
	if n := testing.AllocsPerRun(100, call); n != 0 {
		t.Errorf("%.2f allocations per call at 2 threads, want none", n)
	}
	if want := int64(102 * 64 * 63 / 2); sum.Load() != want {
		t.Errorf("items sum to %d over 102 calls, want %d", sum.Load(), want)
	}
}
