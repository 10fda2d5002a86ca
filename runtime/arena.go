package runtime

import (
	"cmp"
	"context"
	"math/bits"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Buffer recycling. Each Run takes an arena from its program's pool. Ctx.New
// draws zeroed buffers from the arena's free lists, keyed by dtype and
// capacity, before allocating: it takes a buffer of exactly the elements
// asked for (a donated feed's) or else one of their size class (sizeClass:
// within an eighth above), and a new buffer gets the class's capacity, so
// that a value growing by a row per decode step finds last step's buffer
// most steps. The executor counts, for every buffer
// the run allocated (or that the caller donated), how many live slots of the
// main graph's frame hold a value whose data lies in it; kernels may return
// views (Reshape, Identity, slices of a buffer, sequences sharing element
// tensors), so a value is matched to a buffer by the address range of its
// backing array, not by *Tensor identity. When the count drops to zero after
// a slot is released, the buffer goes back to the free list. Buffers of graph
// inputs, initializers and captured values are never recycled (the run did
// not allocate them); graph outputs are never released. Values inside
// subgraph frames are not tracked: a subgraph's step (Loop, If, Scan) holds
// its values only until it returns, and its results land in main-frame slots.
// A buffer's record keeps the header New first handed out for it (own);
// reusing the buffer refits that header in place instead of making one,
// which is safe because the buffer is free only when no slot holds any
// tensor over it, graph outputs are never freed, and kernels keep no
// tensor across steps. A donated feed's header stays the caller's: its
// buffer gets a new header the first time it is reused. The headers of
// views (Ctx.View: Reshape, Unsqueeze, Squeeze, Flatten) are the arena's
// too: a run hands out the headers of the last run's views again, in
// order, except those an output holds.

// arenaMode is "" (recycle), "off" (plain allocation) or "poison" (recycle,
// filling released buffers with NaN/0xFF bytes so that a read after release
// shows up in outputs). GORT_ARENA sets it; tests set it directly.
var arenaMode = os.Getenv("GORT_ARENA")

type bufKey struct {
	d tensor.DType
	n int
}

// buffer is one backing array the arena may recycle; base lies at its start.
type buffer struct {
	base   *tensor.Tensor
	key    bufKey  // n: the array's capacity
	lo, hi uintptr // address range of the backing array (its capacity)
	refs   int     // live main-frame slots whose values lie in it
	// donated buffers belong to the caller until the run succeeds.
	donated bool
	// own: base is a header the arena made, which New hands out again,
	// refitted in place, when it reuses the buffer (no value holds base
	// then: the buffer is free only when no slot holds a tensor over its
	// data, and graph outputs are never freed). A donated feed's header
	// stays the caller's.
	own bool
}

type arena struct {
	mu   sync.Mutex
	free map[bufKey][]*buffer
	// owned are the recyclable buffers in use this run, sorted by start
	// address: a value is found by binary search, at the start of its
	// buffer or inside it (views, slices).
	owned []*buffer
	hits  map[bufKey]int // New calls this run, by key: bounds what is kept
	spare []*buffer      // buffer records to reuse
	// fresh are the buffers New handed out during the current step of the
	// main graph; those no output of the step lies in are the kernel's
	// scratch, which the arena forgets (never recycles) when the step ends.
	fresh []*buffer
	// parked holds donated buffers that died during the run; they join the
	// free lists only when the run succeeds, so that a failed run leaves
	// the caller's tensors intact.
	parked []*buffer
	// poison fills released buffers (see arenaMode).
	poison bool
	// bound holds, by graph output, the tensor the caller bound to it
	// (WithOutputs; t nil where unbound) for New to hand out during the
	// step making the output; step is the main graph's running step.
	bound  []bound
	nbound int
	step   int
	// views are the headers View handed out, the first nview of them this
	// run; the next run hands them out again in the same order (a node
	// often gets its last run's header, of the same shape), but for those
	// an output holds, which the caller keeps (forgetReturned).
	views []*tensor.Tensor
	nview int
	// headers are the own headers of buffers the arena dropped while free
	// (reset keeps no more buffers than a run asked for): a new buffer
	// takes one instead of a new header (Tensor.Remake).
	headers []*tensor.Tensor
	// The state of the run using the arena, kept for the next one: its
	// Ctx, live-byte count, random source (rng draws from pcg) and inputs.
	ctx  ops.Ctx
	live atomic.Int64
	pcg  rand.PCG
	rng  *rand.Rand
	in   []tensor.Value
	// run holds the main graph's frame and step buffers (plan.run).
	run struct {
		f      frame
		tin    []*tensor.Tensor
		resBuf []tensor.Value
		grants []ops.Reuse
		res    []tensor.Value
	}
}

// bound is a caller's tensor for a graph output. It never joins the
// arena's buffers: no slot's release recycles it and no kernel is granted
// it in place, so whatever New wrote there stays until the run ends.
type bound struct {
	t      *tensor.Tensor
	key    bufKey
	step   int
	served bool
	// view is a header over t's data the arena made for a New of another
	// shape; it serves later runs binding the same data (reshaped in
	// place) unless a run returned it.
	view *tensor.Tensor
}

// bind records a run's output bindings.
func (a *arena) bind(p *plan, binds map[string]*tensor.Tensor) {
	if len(a.bound) != len(p.outputNames) {
		a.bound = make([]bound, len(p.outputNames))
	}
	a.nbound = 0
	for i, name := range p.outputNames {
		b := &a.bound[i]
		b.t, b.served, b.step = nil, false, p.outputStep[i]
		if t := binds[name]; t != nil && b.step >= 0 && recyclable(t.DType()) && t.Len() > 0 {
			b.t, b.key = t, bufKey{t.DType(), t.Len()}
			a.nbound++
		}
	}
}

// serveLocked hands the running step the bound tensor of its output for a
// New of its dtype and size, once per run; nil when there is none.
func (a *arena) serveLocked(k bufKey, shape []int) (*tensor.Tensor, error) {
	for i := range a.bound {
		b := &a.bound[i]
		if b.t == nil || b.served || b.step != a.step || b.key != k {
			continue
		}
		b.served = true
		if tensor.SameShape(b.t.Shape(), shape) {
			return b.t, nil
		}
		if b.view != nil {
			vlo, vhi, _ := dataRange(b.view)
			if tlo, thi, _ := dataRange(b.t); vlo == tlo && vhi == thi {
				return b.view, b.view.Reuse(shape)
			}
		}
		v, err := b.t.Reshape(shape...)
		b.view = v
		return v, err
	}
	return nil, nil
}

// maxHeaders bounds the dropped buffers' headers an arena keeps.
const maxHeaders = 64

// maxViews bounds the view headers an arena keeps (a Loop making a view
// per iteration would otherwise keep one header per iteration).
const maxViews = 1024

// View implements ops.Viewer.
func (a *arena) View(t *tensor.Tensor, dims ops.Dims) (*tensor.Tensor, error) {
	a.mu.Lock()
	if a.nview == maxViews {
		a.mu.Unlock()
		return t.Reshape(dims.D[:dims.Rank]...)
	}
	if a.nview == len(a.views) {
		a.views = append(a.views, nil)
	}
	h := a.views[a.nview]
	if h == nil {
		h = new(tensor.Tensor)
		a.views[a.nview] = h
	}
	a.nview++
	a.mu.Unlock()
	if err := h.SetView(t, dims.D[:dims.Rank]); err != nil {
		return nil, err
	}
	return h, nil
}

// forgetReturned drops the headers outs hold from those the arena hands
// out again (bound views, View's): the caller has them now.
func (a *arena) forgetReturned(outs []tensor.Value) {
	for _, v := range outs {
		walkTensors(v, func(t *tensor.Tensor) {
			for i := range a.bound {
				if b := &a.bound[i]; t == b.view {
					b.view = nil
				}
			}
			for i, h := range a.views[:a.nview] {
				if t == h {
					a.views[i] = nil
				}
			}
		})
	}
}

func newArena() *arena {
	a := &arena{free: map[bufKey][]*buffer{}, hits: map[bufKey]int{}}
	a.rng = rand.New(&a.pcg)
	return a
}

// dataRange is the address range of t's data (lo == hi when it is empty)
// and the capacity of its backing array from lo, in elements.
func dataRange(t *tensor.Tensor) (lo, hi uintptr, capn int) {
	lo, hi, _, capn = capRange(t)
	return lo, hi, capn
}

// capRange is dataRange with the end of the backing array's capacity.
func capRange(t *tensor.Tensor) (lo, hi, end uintptr, capn int) {
	v := reflect.ValueOf(t.Raw())
	if v.Kind() != reflect.Slice || v.Len() == 0 {
		return 0, 0, 0, 0
	}
	lo, size := v.Pointer(), v.Type().Elem().Size()
	return lo, lo + uintptr(v.Len())*size, lo + uintptr(v.Cap())*size, v.Cap()
}

// sizeClass is the capacity of a new buffer for n elements: n up to 16
// rounded up to a power of two, above that to the next multiple of an
// eighth of the power of two below n, so that at most an eighth is spare
// (and never past the session's element limit).
func (a *arena) sizeClass(n int) int {
	if n <= 16 {
		return 1 << bits.Len(uint(n-1))
	}
	step := 1 << (bits.Len(uint(n)) - 4)
	c := (n + step - 1) / step * step
	if m := a.ctx.MaxElements; m > 0 && c > m {
		return n
	}
	return c
}

// ownedAt returns where a buffer starting at lo is, or would be, in owned.
func (a *arena) ownedAt(lo uintptr) (int, bool) {
	return slices.BinarySearchFunc(a.owned, lo, func(b *buffer, lo uintptr) int { return cmp.Compare(b.lo, lo) })
}

// ownLocked adds b to owned unless a buffer there starts at b.lo.
func (a *arena) ownLocked(b *buffer) bool {
	i, found := a.ownedAt(b.lo)
	if found {
		return false
	}
	a.owned = slices.Insert(a.owned, i, b)
	return true
}

// disownLocked removes b from owned; false when it is not there.
func (a *arena) disownLocked(b *buffer) bool {
	i, found := a.ownedAt(b.lo)
	if !found || a.owned[i] != b {
		return false
	}
	a.owned = slices.Delete(a.owned, i, i+1)
	return true
}

// recyclable reports whether buffers of dtype d are pooled: fixed-size
// elements without pointers.
func recyclable(d tensor.DType) bool { return d != tensor.String && d.Supported() }

// New implements ops.Allocator.
func (a *arena) New(d tensor.DType, n int, dims ops.Dims, zero bool) (*tensor.Tensor, error) {
	shape := dims.D[:dims.Rank]
	if n == 0 || !recyclable(d) {
		return tensor.New(d, shape...)
	}
	exact := bufKey{d, n}
	a.mu.Lock()
	if a.nbound > 0 {
		if t, err := a.serveLocked(exact, shape); t != nil || err != nil {
			a.mu.Unlock()
			if zero && err == nil {
				reflect.ValueOf(t.Raw()).Clear()
			}
			return t, err
		}
	}
	class := bufKey{d, a.sizeClass(n)}
	a.hits[exact]++
	if class != exact {
		a.hits[class]++
	}
	b := a.popLocked(exact, n)
	if b == nil && class != exact {
		b = a.popLocked(class, n)
	}
	if b != nil {
		a.ownLocked(b)
		a.fresh = append(a.fresh, b)
		a.mu.Unlock()
		t := b.base
		if !b.own {
			// A donated feed's header stays the caller's.
			var err error
			if t, err = t.Reshape(t.Shape()...); err != nil {
				return nil, err
			}
		}
		if err := t.Refit(shape); err != nil {
			return nil, err
		}
		if zero {
			reflect.ValueOf(t.Raw()).Clear()
		}
		if !b.own {
			a.mu.Lock()
			b.base, b.own = t, true
			a.mu.Unlock()
		}
		return t, nil
	}
	// No free buffer: a new one, under a dropped buffer's header if any.
	var t *tensor.Tensor
	var err error
	if n := len(a.headers); n > 0 {
		t = a.headers[n-1]
		a.headers[n-1] = nil
		a.headers = a.headers[:n-1]
	}
	a.mu.Unlock()
	if t != nil {
		err = t.Remake(d, class.n, shape)
	} else {
		t, err = tensor.NewCap(d, class.n, shape...)
	}
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if b := a.adoptLocked(t, class); b != nil {
		b.own = true
		a.fresh = append(a.fresh, b)
	}
	a.mu.Unlock()
	return t, nil
}

// popScan bounds how far from the end popLocked looks for a buffer whose
// header already has the length asked for.
const popScan = 8

// popLocked takes a buffer off the free list of k, preferring among the
// last popScan one whose header holds n elements already: refitting a
// header to another length boxes a new slice in its data (an allocation),
// and values of one size class but different lengths (the 3- and
// 4-element shapes of Shape and Concat) would otherwise trade buffers
// every run.
func (a *arena) popLocked(k bufKey, n int) *buffer {
	l := a.free[k]
	if len(l) == 0 {
		return nil
	}
	last := len(l) - 1
	for i := last; i >= max(0, last-popScan+1); i-- {
		if l[i].own && l[i].base.Len() == n { // a donated feed's header is the caller's: not read
			l[i], l[last] = l[last], l[i]
			break
		}
	}
	b := l[last]
	l[last] = nil
	a.free[k] = l[:last]
	return b
}

// adoptLocked makes t's backing array recyclable when t starts it and its
// capacity is k.n, and returns its new record.
func (a *arena) adoptLocked(t *tensor.Tensor, k bufKey) *buffer {
	lo, _, end, capn := capRange(t)
	if lo == 0 || capn != k.n {
		return nil
	}
	if _, found := a.ownedAt(lo); found {
		return nil
	}
	var b *buffer
	if n := len(a.spare); n > 0 {
		b, a.spare = a.spare[n-1], a.spare[:n-1]
	} else {
		b = new(buffer)
	}
	*b = buffer{base: t, key: k, lo: lo, hi: end}
	a.ownLocked(b)
	return b
}

// stepDone forgets the scratch buffers of the step that just ended (after
// its outputs were held), so that lookups stay proportional to the live
// values.
func (a *arena) stepDone() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, b := range a.fresh {
		if b.refs == 0 && a.disownLocked(b) {
			*b = buffer{}
			a.spare = append(a.spare, b)
		}
		a.fresh[i] = nil
	}
	a.fresh = a.fresh[:0]
}

// donate makes the tensors of v recyclable once no slot holds them.
func (a *arena) donate(v tensor.Value) {
	a.mu.Lock()
	defer a.mu.Unlock()
	walkTensors(v, func(t *tensor.Tensor) {
		if recyclable(t.DType()) && t.Len() > 0 {
			if b := a.adoptLocked(t, bufKey{t.DType(), t.Len()}); b != nil {
				b.donated = true
			}
		}
	})
}

// find returns the recyclable buffer holding the data at lo, if any: the
// last buffer starting at or before lo, if lo lies inside it.
func (a *arena) find(lo uintptr) *buffer {
	i, found := a.ownedAt(lo)
	if found {
		return a.owned[i]
	}
	if i > 0 && lo < a.owned[i-1].hi {
		return a.owned[i-1]
	}
	return nil
}

// grantable reports whether a kernel may write into t's memory, t being
// held by one slot that dies at the kernel's step: the arena owns t's
// buffer and no other slot holds it. whole is false for a donated buffer,
// whose valid content must survive a failed run.
func (a *arena) grantable(t *tensor.Tensor) (whole, ok bool) {
	if t == nil || !recyclable(t.DType()) {
		return false, false
	}
	lo, _, _ := dataRange(t)
	if lo == 0 {
		return false, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.find(lo)
	if b == nil || b.refs != 1 {
		return false, false
	}
	return !b.donated, true
}

// hold counts a slot's reference to every recyclable buffer v lies in.
func (a *arena) hold(v tensor.Value) { a.track(v, 1) }

// release drops a slot's references; buffers no slot holds go to the free list.
func (a *arena) release(v tensor.Value) { a.track(v, -1) }

func (a *arena) track(v tensor.Value, delta int) {
	if v == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.owned) == 0 {
		return
	}
	walkTensors(v, func(t *tensor.Tensor) {
		lo, _, _ := dataRange(t)
		if lo == 0 {
			return
		}
		b := a.find(lo)
		if b == nil {
			return
		}
		b.refs += delta
		if b.refs > 0 || delta > 0 {
			return
		}
		a.disownLocked(b)
		if b.donated {
			a.parked = append(a.parked, b)
			return
		}
		a.freeLocked(b)
	})
}

func (a *arena) freeLocked(b *buffer) {
	if a.poison {
		poisonData(b)
	}
	a.free[b.key] = append(a.free[b.key], b)
}

// succeeded hands the donated buffers that died during the run to the free
// lists.
func (a *arena) succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, b := range a.parked {
		b.donated = false
		a.freeLocked(b)
		a.parked[i] = nil
	}
	a.parked = a.parked[:0]
}

// reset ends a run: buffers still in use leave the arena with the values
// holding them, and each free list keeps at most as many buffers as the run
// asked for of its size, so that memory stays bounded when shapes vary.
func (a *arena) reset() {
	// Drop the run's values (the caller has the outputs).
	clear(a.run.f.vals)
	clear(a.run.tin[:cap(a.run.tin)])
	clear(a.run.resBuf[:cap(a.run.resBuf)])
	clear(a.run.grants[:cap(a.run.grants)])
	clear(a.run.res)
	// Buffers still owned leave with the values holding them; their
	// records stay for the next run's buffers.
	for _, b := range a.owned {
		*b = buffer{}
		a.spare = append(a.spare, b)
	}
	clear(a.owned)
	a.owned = a.owned[:0]
	clear(a.fresh)
	a.fresh = a.fresh[:0]
	clear(a.parked)
	a.parked = a.parked[:0]
	for k, l := range a.free {
		keep := min(len(l), a.hits[k])
		for i := keep; i < len(l); i++ {
			if l[i].own && len(a.headers) < maxHeaders {
				a.headers = append(a.headers, l[i].base)
			}
			*l[i] = buffer{}
			a.spare = append(a.spare, l[i])
			l[i] = nil
		}
		// The key stays, empty, for a later run (a class a growing value
		// passes through again): size classes bound how many there are.
		a.free[k] = l[:keep]
	}
	clear(a.hits)
	for i := range a.bound {
		a.bound[i].t = nil
	}
	a.nbound, a.step, a.nview = 0, -1, 0
}

// walkTensors calls f on every tensor inside v.
func walkTensors(v tensor.Value, f func(*tensor.Tensor)) {
	switch x := v.(type) {
	case *tensor.Tensor:
		if x != nil {
			f(x)
		}
	case *tensor.Sequence:
		for _, it := range x.Items {
			walkTensors(it, f)
		}
	case *tensor.Optional:
		if x.V != nil {
			walkTensors(x.V, f)
		}
	case *tensor.Map:
		if x.Keys != nil {
			f(x.Keys)
		}
		walkTensors(x.Values, f)
	}
}

// poisonData fills a released buffer with 0xFF bytes (NaN for every float
// dtype, -1 or the maximum for integers); bools are left alone.
func poisonData(b *buffer) {
	if b.key.d == tensor.Bool {
		return
	}
	p := unsafe.Slice((*byte)(reflect.ValueOf(b.base.Raw()).UnsafePointer()), b.hi-b.lo)
	for i := range p {
		p[i] = 0xFF
	}
}

type donatedKey struct{}

// WithDonated marks feeds whose tensors the caller gives up when the run
// succeeds: the memory of those no output shares then serves the session's
// later runs (a training step's new parameters are written where an
// earlier step's were, and steady-state steps allocate almost nothing).
// After a successful Run the caller must not use the donated tensors nor
// any view of their data; feeds that share memory with a donated one must
// be donated too. A donated feed at its last use may also be written in
// place by a kernel that appends to it (a KV cache with a shared past and
// present buffer writes the new rows past the valid ones; see
// ops.Ctx.Extendable). A failed Run leaves donated tensors' valid content
// intact: such a kernel writes only where the feed holds none. Initializer
// defaults are never recycled, and a donated feed returned as a graph
// output (or a view of one) keeps its data.
func WithDonated(ctx context.Context, names ...string) context.Context {
	set := map[string]bool{}
	if old, ok := ctx.Value(donatedKey{}).(map[string]bool); ok {
		for k := range old {
			set[k] = true
		}
	}
	for _, n := range names {
		set[n] = true
	}
	return context.WithValue(ctx, donatedKey{}, set)
}
