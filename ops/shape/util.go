package shape

import (
	"fmt"
	"slices"
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// maxDim bounds a single dimension read from data so that products checked
// by tensor.NumElements cannot overflow int on the way.
const maxDim = tensor.MaxElements

// intsView is intsOf without a copy of int64 data: the caller must not
// modify the slice.
func intsView(t *tensor.Tensor, name string) ([]int64, error) {
	if t.DType() == tensor.Int64 {
		return tensor.Data[int64](t), nil
	}
	return intsOf(t, name)
}

// intsOf reads an integer tensor (int32 or int64) as []int64, naming the
// input in errors.
func intsOf(t *tensor.Tensor, name string) ([]int64, error) {
	v, err := ops.Ints64(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// dimsOf converts sizes read from data to a shape, refusing negative or
// absurd dimensions.
func dimsOf(v []int64, name string) ([]int, error) {
	return dimsTo(make([]int, 0, len(v)), v, name)
}

// dimsTo is dimsOf appending to dst.
func dimsTo(dst []int, v []int64, name string) ([]int, error) {
	for i, d := range v {
		if d < 0 || d > maxDim {
			return nil, fmt.Errorf("%s[%d] = %d is not a valid dimension", name, i, d)
		}
		dst = append(dst, int(d))
	}
	return dst, nil
}

// normAxes normalizes axes into [0, rank) and rejects duplicates.
func normAxes(axes []int64, rank int) ([]int, error) {
	return normAxesTo(make([]int, 0, len(axes)), axes, rank)
}

// normAxesTo is normAxes appending to dst (a caller's stack array: no
// allocation up to 64 dimensions).
func normAxesTo(dst []int, axes []int64, rank int) ([]int, error) {
	_, err := forAxes(axes, rank, func(ax int) { dst = append(dst, ax) })
	return dst, err
}

// axesOf is the set of axes, normalized, each at most once.
func axesOf(axes []int64, rank int) (axisSet, error) {
	return forAxes(axes, rank, func(int) {})
}

// forAxes normalizes axes for the given rank, calls f on each in order,
// and returns their set; an axis given twice is an error.
func forAxes(axes []int64, rank int, f func(int)) (axisSet, error) {
	var seen axisSet
	for _, a := range axes {
		ax, err := ops.NormAxis(a, rank)
		if err != nil {
			return seen, err
		}
		if seen.add(ax, rank) {
			return seen, fmt.Errorf("axis %d appears twice in %v", a, slices.Clone(axes))
		}
		f(ax)
	}
	return seen, nil
}

// axisSet is a set of axes in [0, rank): bits up to 64 dimensions.
type axisSet struct {
	bits uint64
	big  []bool
}

// add adds ax and reports whether it was there.
func (s *axisSet) add(ax, rank int) bool {
	if rank > 64 {
		if s.big == nil {
			s.big = make([]bool, rank)
		}
		had := s.big[ax]
		s.big[ax] = true
		return had
	}
	had := s.bits&(1<<ax) != 0
	s.bits |= 1 << ax
	return had
}

func (s *axisSet) has(ax int) bool {
	if s.big != nil {
		return s.big[ax]
	}
	return ax < 64 && s.bits&(1<<ax) != 0
}

// view returns a tensor sharing x's data with a new shape.
func view(x *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	return x.Reshape(shape...)
}

// prod is the product of shape[i:j] (shapes of existing tensors, which cannot overflow).
func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// clampInt64 clamps v into [lo, hi].
func clampInt64(v, lo, hi int64) int64 {
	return max(lo, min(v, hi))
}

// result is the Ctx of a kernel returning its outputs.
type result struct{ c *ops.Ctx }

// one returns the tensors of a kernel with a single output (without
// allocating a slice: ops.Ctx.Result).
func (r result) one(t *tensor.Tensor, err error) ([]*tensor.Tensor, error) {
	if err != nil {
		return nil, err
	}
	return r.c.Result(t), nil
}

// scalarInt reads a one-element integer tensor.
func scalarInt(t *tensor.Tensor, name string) (int64, error) {
	v, err := intsView(t, name)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s must hold one value, has %d", name, len(v))
	}
	return v[0], nil
}

// shapeType returns a tensor type with a known shape.
func shapeType(d tensor.DType, shape []tensor.Dim) tensor.Type {
	return tensor.Type{Kind: tensor.KindTensor, DType: d, HasShape: true, Shape: shape}
}

// known reports whether every dimension of t is known.
func known(t tensor.Type) bool {
	if t.Kind != tensor.KindTensor || !t.HasShape {
		return false
	}
	for _, d := range t.Shape {
		if !d.Known() {
			return false
		}
	}
	return true
}

// checkSize refuses an output shape that overflows or exceeds the session
// limit, as Ctx.New would, for kernels that build index tables of the
// output's size before allocating it.
func checkSize(c *ctx, d tensor.DType, shape []int) error {
	n, err := tensor.NumElements(shape)
	if err != nil {
		return err
	}
	if c != nil && c.MaxElements > 0 && n > c.MaxElements {
		return fmt.Errorf("%w: output %v %v has %d elements, the session allows %d (raise runtime.Options.MaxTensorElements)", ops.ErrLimit, d, slices.Clone(shape), n, c.MaxElements)
	}
	return nil
}

// intPool lends int scratch to kernels whose kit calls (interface methods,
// which make their slice arguments escape) would otherwise allocate it per
// run.
var intPool = sync.Pool{New: func() any { return new([]int) }}

// borrowInts returns n ints of scratch (contents unspecified); give them
// back with returnInts once no call uses them.
func borrowInts(n int) *[]int {
	p := intPool.Get().(*[]int)
	if cap(*p) < n {
		*p = make([]int, n)
	}
	*p = (*p)[:n]
	return p
}

func returnInts(p *[]int) { intPool.Put(p) }
