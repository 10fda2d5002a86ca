package sequence

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// elems is a dtype-agnostic view of a tensor's elements, used to move
// contiguous runs of elements (concatenation, slicing) with one memmove per
// run whatever the dtype: fixed-size dtypes are viewed as bytes, strings
// (which hold pointers) are copied as strings.
type elems struct {
	b   []byte
	s   []string
	str bool
	w   int // bytes per element
}

func elemsOf(t *tensor.Tensor) elems {
	if s, ok := t.Raw().([]string); ok {
		return elems{s: s, str: true}
	}
	v := reflect.ValueOf(t.Raw())
	w := int(v.Type().Elem().Size())
	if v.Len() == 0 {
		return elems{w: w}
	}
	// Every non-string dtype is a pointer-free value type, so viewing its
	// backing array as bytes is safe; the view keeps the array alive.
	return elems{b: unsafe.Slice((*byte)(v.UnsafePointer()), v.Len()*w), w: w}
}

// copyRun copies n elements from s[si:] to d[di:]; both views share a dtype.
func (d elems) copyRun(di int, s elems, si, n int) {
	if n == 0 {
		return
	}
	if d.str {
		copy(d.s[di:di+n], s.s[si:si+n])
		return
	}
	copy(d.b[di*d.w:(di+n)*d.w], s.b[si*s.w:(si+n)*s.w])
}

func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Concat joins tensors of one dtype along axis. With newAxis the tensors must
// all have the same shape S and the result has a new dimension of size
// len(items) inserted at axis (axis in [-rank(S)-1, rank(S)]); otherwise the
// shapes may differ only along axis (in [-rank, rank-1]) and the result's
// size there is the sum. It fails on an empty list, mixed dtypes or ranks,
// mismatched dimensions, or a result larger than c allows.
//
// out is (outer, sum of parts, inner) with outer = prod(S[:axis]).
func Concat(c *ops.Ctx, items []*tensor.Tensor, axis int64, newAxis bool) (*tensor.Tensor, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("cannot concatenate an empty list of tensors")
	}
	first := items[0]
	rank := first.Rank()
	outRank := rank
	if newAxis {
		outRank++
	}
	if outRank == 0 {
		return nil, fmt.Errorf("cannot concatenate scalars without new_axis=1")
	}
	a, err := ops.NormAxis(axis, outRank)
	if err != nil {
		return nil, err
	}
	outShape := make([]int, outRank)
	if newAxis {
		copy(outShape, first.Shape()[:a])
		copy(outShape[a+1:], first.Shape()[a:])
		outShape[a] = 0
	} else {
		copy(outShape, first.Shape())
		outShape[a] = 0
	}
	for i, t := range items {
		if t.DType() != first.DType() {
			return nil, fmt.Errorf("tensor %d is %v, tensor 0 is %v; all must share a dtype", i, t.DType(), first.DType())
		}
		if t.Rank() != rank {
			return nil, fmt.Errorf("tensor %d has shape %v, tensor 0 has %v; ranks must match", i, t.Shape(), first.Shape())
		}
		for d, s := range t.Shape() {
			if (newAxis || d != a) && s != first.Shape()[d] {
				return nil, fmt.Errorf("tensor %d has shape %v, tensor 0 has %v; only the concatenation axis may differ", i, t.Shape(), first.Shape())
			}
		}
		if newAxis {
			outShape[a]++
		} else {
			if outShape[a] > tensor.MaxElements-t.Shape()[a] {
				return nil, fmt.Errorf("concatenated dimension is too large")
			}
			outShape[a] += t.Shape()[a]
		}
	}
	out, err := c.New(first.DType(), outShape...)
	if err != nil {
		return nil, err
	}
	outer := prod(outShape[:a])
	inner := prod(outShape[a+1:])
	dst := elemsOf(out)
	srcs := make([]elems, len(items))
	chunks := make([]int, len(items)) // elements each item contributes per outer index
	for i, t := range items {
		srcs[i] = elemsOf(t)
		chunks[i] = inner
		if !newAxis {
			chunks[i] = t.Shape()[a] * inner
		}
	}
	off := 0
	for o := 0; o < outer; o++ {
		for i := range items {
			dst.copyRun(off, srcs[i], o*chunks[i], chunks[i])
			off += chunks[i]
		}
	}
	return out, nil
}

// Slab returns n consecutive slices of x along axis (already in [0, rank)),
// starting at start: x[..., start:start+n, ...]. With drop (only for n == 1)
// the axis is removed from the result's shape.
//
// x is (outer, D, inner); out is (outer, n, inner).
func Slab(c *ops.Ctx, x *tensor.Tensor, axis, start, n int, drop bool) (*tensor.Tensor, error) {
	shape := x.Shape()
	if axis < 0 || axis >= len(shape) {
		return nil, fmt.Errorf("axis %d out of range for shape %v", axis, shape)
	}
	D := shape[axis]
	if start < 0 || n < 0 || start > D-n {
		return nil, fmt.Errorf("slice [%d, %d) out of range for dimension %d of shape %v", start, start+n, axis, shape)
	}
	var outShape []int
	if drop {
		if n != 1 {
			return nil, fmt.Errorf("internal: dropping an axis of size %d", n)
		}
		outShape = append(append(outShape, shape[:axis]...), shape[axis+1:]...)
	} else {
		outShape = append([]int{}, shape...)
		outShape[axis] = n
	}
	out, err := c.New(x.DType(), outShape...)
	if err != nil {
		return nil, err
	}
	outer := prod(shape[:axis])
	inner := prod(shape[axis+1:])
	src, dst := elemsOf(x), elemsOf(out)
	for o := 0; o < outer; o++ {
		dst.copyRun(o*n*inner, src, (o*D+start)*inner, n*inner)
	}
	return out, nil
}
