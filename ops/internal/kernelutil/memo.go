package kernelutil

import (
	"slices"
	"sync/atomic"

	"github.com/gort-ml/gort/tensor"
)

// Memo keeps what a kernel derived from its inputs' shapes (a run plan) for
// the last shapes it saw, so that runs with the same shapes (every step of
// a decoder, every batch of a server) skip planning and its allocations.
// It is safe for concurrent runs: an entry is never modified once stored,
// so a plan of type P must not be modified after Put either.
type Memo[P any] struct {
	last atomic.Pointer[memoEntry[P]]
}

type memoEntry[P any] struct {
	a, b []int
	p    P
}

// Get returns the plan stored for shapes a and b (b nil for one shape).
func (m *Memo[P]) Get(a, b []int) (p P, ok bool) {
	e := m.last.Load()
	if e == nil || !tensor.SameShape(e.a, a) || !tensor.SameShape(e.b, b) {
		return p, false
	}
	return e.p, true
}

// Put stores p as the plan for shapes a and b (copied).
func (m *Memo[P]) Put(a, b []int, p P) {
	m.last.Store(&memoEntry[P]{a: slices.Clone(a), b: slices.Clone(b), p: p})
}
