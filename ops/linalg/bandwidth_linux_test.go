package linalg

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkReadBandwidth measures how fast one and two threads read memory
// far beyond the caches: the dot product of a 128 MB vector with itself
// and the matrix-vector product over GPT-2 small's packed LM head (768 x
// 50257, 154 MB; both halves of its columns packed apart, so that each
// thread runs SgemmPacked alone), each thread on a contiguous part, its
// goroutine locked to its thread. On a machine shared with other processes
// most rounds lose a core for a while, so it keeps only the rounds in which
// every thread had its core throughout (thread CPU time within 2% of wall
// time) and reports their median GB/s (bytes read per second) and how many
// rounds were kept.
func BenchmarkReadBandwidth(b *testing.B) {
	kern := kernels[0]
	if kern.dot == nil || kern.gemvPanel == nil {
		b.Skip("no vector dot or panel GEMV kernel")
	}
	x := make([]float32, 32<<20)
	for i := range x {
		x[i] = float32(i%7) * 0.25
	}
	const k, n = 768, 50257
	w := make([]float32, k*n)
	for i := range w {
		w[i] = float32(i%5) * 0.125
	}
	halves := [2]*PackedB{PackB(true, k, n/2, w, k), PackB(true, k, n-n/2, w[n/2*k:], k)}
	whole := PackB(true, k, n, w, k)
	a, c := make([]float32, k), make([]float32, n)
	var sums [2]float32
	type bench struct {
		name    string
		threads int
		bytes   float64
		part    func(g, threads int)
	}
	benches := []bench{
		{"dot-1t", 1, float64(len(x)) * 4, nil},
		{"dot-2t", 2, float64(len(x)) * 4, nil},
		{"gemv-1t", 1, k * n * 4, func(int, int) { SgemmPacked(false, 1, 1, a, k, whole, 0, c, n, Epilogue{}, nil) }},
		{"gemv-2t", 2, k * n * 4, func(g, _ int) {
			SgemmPacked(false, 1, 1, a, k, halves[g], 0, c[g*(n/2):], halves[g].n, Epilogue{}, nil)
		}},
	}
	dot := func(g, threads int) {
		part := x[g*len(x)/threads : (g+1)*len(x)/threads]
		sums[g] = kern.dot(len(part), part, part)
	}
	kept := make([][]float64, len(benches))
	rounds := 0
	for b.Loop() {
		rounds++
		for bi, be := range benches {
			part := be.part
			if part == nil {
				part = dot
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			walls, cpus := make([]time.Duration, be.threads), make([]time.Duration, be.threads)
			for g := range be.threads {
				wg.Go(func() {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					<-start
					c0, t0 := threadCPU(), time.Now()
					part(g, be.threads)
					walls[g], cpus[g] = time.Since(t0), threadCPU()-c0
				})
			}
			time.Sleep(100 * time.Microsecond) // all waiting on start
			close(start)
			wg.Wait()
			undisturbed := true
			for g := range walls {
				undisturbed = undisturbed && float64(cpus[g]) >= 0.98*float64(walls[g])
			}
			if undisturbed {
				kept[bi] = append(kept[bi], be.bytes/slices.Max(walls).Seconds()/1e9)
			}
		}
	}
	for bi, be := range benches {
		r := kept[bi]
		slices.Sort(r)
		if len(r) > 0 {
			b.ReportMetric((r[(len(r)-1)/2]+r[len(r)/2])/2, be.name+"-GB/s")
		}
		b.ReportMetric(float64(len(r))/float64(rounds), be.name+"-kept")
	}
}
