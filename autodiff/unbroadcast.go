package autodiff

import (
	"github.com/gort-ml/gort/tensor"
)

// ReduceTo sums dy (the gradient of a broadcast result y) down to the shape
// of operand x: over y's leading axes that x lacks, and over axes where x
// has size 1 and y does not. With both shapes known it emits at most a
// ReduceSum and a Reshape; otherwise it computes the axes at run time from
// Shape(x) and Shape(dy) in standard ops.
func (b *Builder) ReduceTo(dy, y, x string) string {
	xs, okx := b.staticShape(x)
	ys, oky := b.staticShape(y)
	if okx && oky {
		if tensor.SameShape(xs, ys) {
			return dy
		}
		var axes []int64
		lead := len(ys) - len(xs)
		for i := range ys {
			if i < lead || (xs[i-lead] == 1 && ys[i] != 1) {
				axes = append(axes, int64(i))
			}
		}
		r := dy
		if len(axes) > 0 {
			r = b.Op("ReduceSum", []Attr{attrInt("keepdims", 0)}, dy, b.Ints(axes...))
			// keepdims=0 drops every reduced axis; the Reshape restores x's 1s.
		}
		shape := make([]int64, len(xs))
		for i, d := range xs {
			shape[i] = int64(d)
		}
		return b.Op("Reshape", nil, r, b.Ints(shape...))
	}
	// Dynamic: reduce leading axes, then the size-1 axes of x, then reshape.
	sx := b.Op("Shape", nil, x)
	sdy := b.Op("Shape", nil, dy)
	rx := b.Op("Size", nil, sx)
	rdy := b.Op("Size", nil, sdy)
	zero := b.Const(tensor.Scalar(int64(0)))
	one := b.Const(tensor.Scalar(int64(1)))
	lead := b.Op("Range", nil, zero, b.Op("Sub", nil, rdy, rx), one)
	d1 := b.Op("ReduceSum", []Attr{attrInt("keepdims", 0), attrInt("noop_with_empty_axes", 1)}, dy, lead)
	s1 := b.Op("Shape", nil, d1)
	oneV := b.Ints(1)
	mask := b.Op("And", nil, b.Op("Equal", nil, sx, oneV), b.Op("Not", nil, b.Op("Equal", nil, s1, oneV)))
	axes := b.Op("Reshape", nil, b.Op("NonZero", nil, mask), b.Ints(-1))
	d2 := b.Op("ReduceSum", []Attr{attrInt("keepdims", 1), attrInt("noop_with_empty_axes", 1)}, d1, axes)
	return b.Op("Reshape", nil, d2, sx)
}
