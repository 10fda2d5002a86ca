package linalg

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Job is work split over index ranges: Do(lo, hi) handles [lo, hi).
type Job interface {
	Do(lo, hi int)
}

// Pool is a fixed set of persistent worker goroutines. Parallel and Run hand
// index ranges to the workers over a channel, so no goroutine is created per
// call. A Pool is safe for concurrent use, and calls may nest: a caller that
// waits runs queued ranges itself instead of blocking, so nested calls
// cannot deadlock.
type Pool struct {
	threads int
	work    chan task
}

// task is one range of a call.
type task struct {
	job    Job
	lo, hi int
	b      *batch
}

// batch tracks the outstanding ranges of one call.
type batch struct {
	pending atomic.Int32
	done    chan struct{}
}

var batchPool = sync.Pool{New: func() any { return &batch{done: make(chan struct{}, 1)} }}

// NewPool starts threads-1 workers (the caller of Run is the last thread).
// threads < 1 means 1: everything runs on the caller.
func NewPool(threads int) *Pool {
	threads = max(threads, 1)
	p := &Pool{threads: threads, work: make(chan task, 4*threads)}
	for range threads - 1 {
		go p.worker()
	}
	return p
}

var (
	defaultPoolOnce sync.Once
	defaultPool     *Pool
)

// DefaultPool is the package pool, sized to GOMAXPROCS when first used.
func DefaultPool() *Pool {
	defaultPoolOnce.Do(func() { defaultPool = NewPool(runtime.GOMAXPROCS(0)) })
	return defaultPool
}

// Threads is the number of goroutines the pool runs work on, the caller's
// included. A nil Pool has one thread.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

// Close stops the workers. The Pool must not be used afterwards, and the
// DefaultPool must not be closed.
func (p *Pool) Close() {
	if p != nil && p.threads > 1 {
		close(p.work)
	}
}

// spinFor is how long a worker polls for the next range, and a caller for
// the end of its call, before blocking. Parallel regions of a model run
// follow each other within microseconds, and waking a blocked thread costs
// more than the poll: on the 2-vCPU VM of bench/, BenchmarkPoolRegion (5 µs
// of work per thread) took 26-30 µs per region with blocking workers and
// 9-11 µs with polling ones while regions came less than spinFor apart.
// GPT-2 decoding runs about a hundred such small regions per token.
// Polling yields the processor every pollYield polls, so other goroutines
// still run.
const spinFor = 200 * time.Microsecond

func (p *Pool) worker() {
	for {
		t, ok := p.next()
		if !ok {
			return
		}
		t.run()
	}
}

// next returns the next task, polling for spinFor before it blocks; ok is
// false once the pool is closed.
func (p *Pool) next() (t task, ok bool) {
	start := time.Now()
	for i := 1; ; i++ {
		if len(p.work) > 0 { // a cheap look before the channel's lock
			select {
			case t, ok = <-p.work:
				return t, ok
			default:
			}
		}
		if i%pollYield == 0 {
			if time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
	}
	t, ok = <-p.work
	return t, ok
}

// pollYield is how many polls go between two looks at the clock and
// yields of the processor (a yield takes the scheduler's lock).
const pollYield = 256

func (t task) run() {
	t.job.Do(t.lo, t.hi)
	if t.b.pending.Add(-1) == 0 {
		t.b.done <- struct{}{}
	}
}

// Run calls job.Do on consecutive ranges covering [0, n), one range per
// thread, and returns when all are done. The ranges differ in length by at
// most one. Run itself does not allocate. A nil Pool runs job.Do(0, n).
func (p *Pool) Run(n int, job Job) {
	p.RunChunks(n, p.Threads(), job)
}

// RunChunks is Run with [0, n) cut into at most chunks ranges.
func (p *Pool) RunChunks(n, chunks int, job Job) {
	if n <= 0 {
		return
	}
	chunks = min(chunks, n)
	if p == nil || p.threads == 1 || chunks <= 1 {
		job.Do(0, n)
		return
	}
	b := batchPool.Get().(*batch)
	b.pending.Store(int32(chunks))
	first := n / chunks
	if n%chunks > 0 {
		first++
	}
	lo := first
	for i := 1; i < chunks; i++ {
		hi := lo + n/chunks
		if i < n%chunks {
			hi++
		}
		t := task{job: job, lo: lo, hi: hi, b: b}
		select {
		case p.work <- t:
		default:
			t.run() // queue full (nested calls): run it here
		}
		lo = hi
	}
	// The caller runs the first range, then helps with queued work until
	// every range of this call is done.
	task{job: job, lo: 0, hi: first, b: b}.run()
	// Poll while the other ranges finish (their threads are running),
	// then block.
	for start, i := time.Now(), 1; b.pending.Load() > 0; i++ {
		if len(p.work) > 0 {
			select {
			case t := <-p.work:
				t.run()
			default:
			}
		}
		if i%pollYield == 0 {
			if time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
	}
	for {
		select {
		case <-b.done:
			batchPool.Put(b)
			return
		case t := <-p.work:
			t.run()
		}
	}
}

// funcJob adapts a function to Job.
type funcJob func(lo, hi int)

func (f funcJob) Do(lo, hi int) { f(lo, hi) }

// Parallel calls fn on consecutive ranges covering [0, n), one per thread,
// and returns when all are done.
func (p *Pool) Parallel(n int, fn func(lo, hi int)) {
	p.Run(n, funcJob(fn))
}
