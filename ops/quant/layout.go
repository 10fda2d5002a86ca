package quant

import (
	"fmt"

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

// each calls f for every run of consecutive x elements [off, off+n): the
// run's k-th element reads parameter p + k*stride.
func (l *layout) each(c *ops.Ctx, f func(off, n, p, stride int)) error {
	if l.perTensor {
		if l.inner > 0 {
			f(0, l.inner, 0, 0)
		}
		return nil
	}
	off := 0
	for o := 0; o < l.outer; o++ {
		if err := c.Check(); err != nil {
			return err
		}
		if l.inner == 1 { // the axis is innermost: runs along it
			if l.block == 0 {
				f(off, l.axisLen, 0, 1)
			}
			for a := 0; a < l.axisLen && l.block > 0; a += l.block {
				f(off+a, min(l.block, l.axisLen-a), o*l.sAxis+a/l.block, 0)
			}
			off += l.axisLen
			continue
		}
		for a := 0; a < l.axisLen; a++ {
			if l.block == 0 {
				f(off, l.inner, a, 0)
			} else {
				f(off, l.inner, (o*l.sAxis+a/l.block)*l.inner, 1)
			}
			off += l.inner
		}
	}
	return nil
}
