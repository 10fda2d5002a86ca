package quant

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gort-ml/gort/ops"
)

// layout maps each element of x onto its scale / zero-point element. x is
// viewed as (outer, axisLen, inner) around the quantization axis:
//   - per-tensor: one parameter for everything;
//   - per-axis: parameter a for x[o, a, i];
//   - blocked: parameters shaped like x with the axis shrunk to
//     ceil(axisLen/block); x[o, a, i] reads parameter [o, a/block, i].
type layout struct {
	outer, axisLen, inner int
	block                 int // 0 unless blocked
	sAxis                 int // the parameters' axis length (blocked)
	perTensor             bool
}

// newLayout validates the scale's shape against x's (axis and block_size as
// the attributes give them) and returns the mapping. name names the scale
// input in errors.
func newLayout(x, scale []int, axis int64, block int64, name string) (*layout, error) {
	n := 1
	for _, d := range scale {
		n *= d
	}
	total := 1
	for _, d := range x {
		total *= d
	}
	if block < 0 {
		return nil, fmt.Errorf("block_size %d is negative", block)
	}
	if n == 1 {
		return &layout{outer: 1, axisLen: 1, inner: total, perTensor: true}, nil
	}
	if len(x) == 1 && axis == 1 {
		axis = 0 // the default axis of a 1-D x names its only axis, as ONNX Runtime and TVM read it
	}
	ax, err := ops.NormAxis(axis, len(x))
	if err != nil {
		return nil, fmt.Errorf("%s has %d elements so it is per-axis or blocked, but %w", name, n, err)
	}
	l := &layout{outer: 1, axisLen: x[ax], inner: 1}
	for _, d := range x[:ax] {
		l.outer *= d
	}
	for _, d := range x[ax+1:] {
		l.inner *= d
	}
	if block == 0 {
		if len(scale) != 1 || scale[0] != x[ax] {
			return nil, fmt.Errorf("%s has shape %v; for per-axis quantization it must be 1-D of length %d (dimension %d of x %v), or set block_size for blocked quantization", name, scale, x[ax], ax, x)
		}
		return l, nil
	}
	if len(scale) != len(x) {
		return nil, fmt.Errorf("%s has shape %v; for blocked quantization its rank must equal x's %v", name, scale, x)
	}
	for i := range x {
		want := x[i]
		if i == ax && want > 0 {
			want = int((int64(want)-1)/block + 1) // ceil(x[i] / block) without overflow
		}
		if scale[i] != want {
			return nil, fmt.Errorf("%s has shape %v; with block_size %d along axis %d of x %v its dimension %d must be %d", name, scale, block, ax, x, i, want)
		}
	}
	l.block, l.sAxis = int(block), scale[ax]
	return l, nil
}

// scratch is a goroutine's conversion buffers.
type scratch struct {
	f64 [chunk]float64
	f32 [chunk]float32
}

// piece is how many elements of a per-tensor x one unit of work covers, and
// parallelMin the element count from which work is split over threads.
const (
	piece       = 1 << 16
	parallelMin = 1 << 18
)

// each calls f for every run of consecutive x elements [off, off+n): the
// run's k-th element reads parameter p + k*stride. Runs go to up to
// Ctx.Threads goroutines when x is large, each with its own scratch.
func (l *layout) each(c *ops.Ctx, f func(sc *scratch, off, n, p, stride int)) error {
	total := l.outer * l.axisLen * l.inner
	units := l.outer
	unit := func(sc *scratch, o int) { l.row(sc, o, f) }
	if l.perTensor {
		units = (total + piece - 1) / piece
		unit = func(sc *scratch, u int) { f(sc, u*piece, min(piece, total-u*piece), 0, 0) }
	}
	threads := 1
	if c != nil && c.Threads > 1 && total >= parallelMin {
		threads = min(c.Threads, units)
	}
	if threads <= 1 {
		sc := new(scratch)
		for u := 0; u < units; u++ {
			if u%64 == 0 {
				if err := c.Check(); err != nil {
					return err
				}
			}
			unit(sc, u)
		}
		return nil
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := new(scratch)
			for {
				u := int(next.Add(1)) - 1
				if u >= units || c.Check() != nil {
					return
				}
				unit(sc, u)
			}
		}()
	}
	wg.Wait()
	return c.Check()
}

// row calls f for the runs of outer index o (per-axis and blocked layouts).
func (l *layout) row(sc *scratch, o int, f func(sc *scratch, off, n, p, stride int)) {
	off := o * l.axisLen * l.inner
	if l.inner == 1 { // the axis is innermost: runs along it
		if l.block == 0 {
			f(sc, off, l.axisLen, 0, 1)
			return
		}
		for a := 0; a < l.axisLen; a += l.block {
			f(sc, off+a, min(l.block, l.axisLen-a), o*l.sAxis+a/l.block, 0)
		}
		return
	}
	for a := 0; a < l.axisLen; a++ {
		if l.block == 0 {
			f(sc, off, l.inner, a, 0)
		} else {
			f(sc, off, l.inner, (o*l.sAxis+a/l.block)*l.inner, 1)
		}
		off += l.inner
	}
}
