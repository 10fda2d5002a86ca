package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func reshapeOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "Reshape", "Reshape: y = x viewed with the requested shape (0 copies the input dimension unless allowzero, -1 is inferred).",
			[]int{1, 5, 13, 14, 19, 21, 23, 24, 25}, inferReshape, compileReshape),
		ops.Versions("", "Flatten", "Flatten: y = x viewed as (prod(shape[:axis]), prod(shape[axis:])).",
			[]int{1, 9, 11, 13, 21, 23, 24, 25}, inferFlatten, compileFlatten),
		ops.Versions("", "Squeeze", "Squeeze: y = x without the listed size-1 axes (all size-1 axes when none are listed).",
			[]int{1, 11, 13, 21, 23, 24, 25}, inferSqueeze, compileSqueeze),
		ops.Versions("", "Unsqueeze", "Unsqueeze: y = x with size-1 axes inserted at the listed output positions.",
			[]int{1, 11, 13, 21, 23, 24, 25}, inferUnsqueeze, compileUnsqueeze),
		ops.Versions("", "Identity", "Identity: y = x (the same value, tensor, sequence or optional; not copied).",
			[]int{1, 13, 14, 16, 19, 21, 23, 24, 25}, ops.InferSameAs(0), compileIdentity),
	)
}

// reshapeTo resolves a Reshape target against the input shape: 0 copies the
// input dimension (unless allowZero), one -1 is inferred.
func reshapeTo(in []int, target []int64, allowZero bool) ([]int, error) {
	return reshapeInto(make([]int, len(target)), in, target, allowZero)
}

// reshapeInto is reshapeTo writing into out (len(target) long).
func reshapeInto(out, in []int, target []int64, allowZero bool) ([]int, error) {
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1; at most one dimension can be inferred", target)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v: 0 at position %d copies an input dimension, but the input %v has rank %d", target, i, in, len(in))
			}
			out[i] = in[i]
		case d < 0 || d > maxDim:
			return nil, fmt.Errorf("shape %v: invalid dimension %d", target, d)
		default:
			out[i] = int(d)
		}
		if out[i] != 0 && known > tensor.MaxElements/out[i] {
			return nil, fmt.Errorf("shape %v has too many elements", target)
		}
		known *= out[i]
	}
	n := prod(in)
	if infer >= 0 {
		if allowZero && known == 0 {
			return nil, fmt.Errorf("shape %v has both 0 and -1 with allowzero=1; the -1 cannot be inferred", target)
		}
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, n, target)
		}
		out[infer] = n / known
		known = n
	}
	if known != n {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v (%d elements)", in, n, target, known)
	}
	return out, nil
}

func compileReshape(n *ops.Node) (*ops.Kernel, error) {
	allowZero := n.Int("allowzero", 0) != 0
	if n.Opset < 5 {
		target := n.Ints("shape", nil)
		if err := n.Err(); err != nil {
			return nil, err
		}
		if target == nil {
			return nil, fmt.Errorf("reshape-1 needs the shape attribute")
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 1, 1); err != nil {
				return nil, err
			}
			return reshapeRun(c, in[0], target, false)
		}}, nil
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		target, err := intsView(in[1], "shape")
		if err != nil {
			return nil, err
		}
		return reshapeRun(c, in[0], target, allowZero)
	}}, nil
}

func reshapeRun(c *ops.Ctx, x *tensor.Tensor, target []int64, allowZero bool) ([]*tensor.Tensor, error) {
	var buf [ops.MaxAllocRank]int
	out := buf[:0]
	if len(target) <= len(buf) {
		out = buf[:len(target)]
	} else {
		out = make([]int, len(target))
	}
	shape, err := reshapeInto(out, x.Shape(), target, allowZero)
	if err != nil {
		return nil, err
	}
	return result{c}.one(c.View(x, shape...))
}

func inferReshape(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if n.Opset < 5 {
		if target := n.Ints("shape", nil); target != nil && known(in[0]) {
			if s, err := reshapeTo(typeDims(in[0]), target, false); err == nil {
				return []tensor.Type{tensor.TensorType(in[0].DType, s[:]...)}, nil
			}
		}
		return []tensor.Type{t}, nil
	}
	if len(in) > 1 && in[1].HasShape && len(in[1].Shape) == 1 && in[1].Shape[0].Known() {
		t.HasShape = true
		t.Shape = make([]tensor.Dim, in[1].Shape[0].Size)
		for i := range t.Shape {
			t.Shape[i] = tensor.Dim{Size: -1}
		}
	}
	return []tensor.Type{t}, nil
}

// typeDims returns the dimensions of a type whose shape is fully known.
func typeDims(t tensor.Type) []int {
	out := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		out[i] = int(d.Size)
	}
	return out
}

func flattenAxis(n *ops.Node) int64 { return n.Int("axis", 1) }

// flattenShape is Flatten's 2-D shape (an array: a slice returned would be
// allocated per run).
func flattenShape(shape []int, axis int64) ([2]int, error) {
	r := len(shape)
	a := int(axis)
	if a < 0 {
		a += r
	}
	if a < 0 || a > r {
		return [2]int{}, fmt.Errorf("flatten axis %d out of range [-%d, %d]", axis, r, r)
	}
	return [2]int{prod(shape[:a]), prod(shape[a:])}, nil
}

func compileFlatten(n *ops.Node) (*ops.Kernel, error) {
	axis := flattenAxis(n)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		s, err := flattenShape(in[0].Shape(), axis)
		if err != nil {
			return nil, err
		}
		return result{c}.one(c.View(in[0], s[:]...))
	}}, nil
}

func inferFlatten(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if known(in[0]) {
		s, err := flattenShape(typeDims(in[0]), flattenAxis(n))
		if err != nil {
			return nil, err
		}
		return []tensor.Type{tensor.TensorType(in[0].DType, s[:]...)}, nil
	}
	if in[0].HasShape {
		t.HasShape = true
		t.Shape = []tensor.Dim{{Size: -1}, {Size: -1}}
	}
	return []tensor.Type{t}, nil
}

// axesSource reads the axes of Squeeze/Unsqueeze: an attribute before
// opset 13, the optional second input from 13.
type axesSource struct {
	attr    []int64
	fromIn  bool
	present bool
}

func readAxes(n *ops.Node) (axesSource, error) {
	if n.Opset >= 13 {
		return axesSource{fromIn: true}, nil
	}
	a := n.Ints("axes", nil)
	return axesSource{attr: a, present: a != nil}, n.Err()
}

func (s axesSource) get(in []*tensor.Tensor) ([]int64, bool, error) {
	if !s.fromIn {
		return s.attr, s.present, nil
	}
	if len(in) < 2 || in[1] == nil {
		return nil, false, nil
	}
	a, err := intsView(in[1], "axes")
	return a, true, err
}

// squeezeShape appends to dst the shape without the axes (all dimensions
// of size 1 without axes).
func squeezeShape(dst, shape []int, axes []int64, present bool) ([]int, error) {
	var drop axisSet
	if present {
		var err error
		if drop, err = axesOf(axes, len(shape)); err != nil {
			return nil, err
		}
		for ax, d := range shape {
			if drop.has(ax) && d != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of shape %v: its size is %d, not 1", ax, shape, d)
			}
		}
	} else {
		for i, d := range shape {
			if d == 1 {
				drop.add(i, len(shape))
			}
		}
	}
	for i, d := range shape {
		if !drop.has(i) {
			dst = append(dst, d)
		}
	}
	return dst, nil
}

// unsqueezeShape appends to dst the shape with dimensions of size 1
// inserted at axes.
func unsqueezeShape(dst, shape []int, axes []int64) ([]int, error) {
	r := len(shape) + len(axes)
	ins, err := axesOf(axes, r)
	if err != nil {
		return nil, err
	}
	j := 0
	for i := 0; i < r; i++ {
		if ins.has(i) {
			dst = append(dst, 1)
		} else {
			dst = append(dst, shape[j])
			j++
		}
	}
	return dst, nil
}

func compileSqueeze(n *ops.Node) (*ops.Kernel, error) {
	src, err := readAxes(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 2); err != nil {
			return nil, err
		}
		axes, present, err := src.get(in)
		if err != nil {
			return nil, err
		}
		var buf [ops.MaxAllocRank]int
		s, err := squeezeShape(buf[:0], in[0].Shape(), axes, present)
		if err != nil {
			return nil, err
		}
		return result{c}.one(c.View(in[0], s...))
	}}, nil
}

func compileUnsqueeze(n *ops.Node) (*ops.Kernel, error) {
	src, err := readAxes(n)
	if err != nil {
		return nil, err
	}
	if !src.fromIn && !src.present {
		return nil, fmt.Errorf("unsqueeze needs the axes attribute before opset 13")
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 2); err != nil {
			return nil, err
		}
		axes, present, err := src.get(in)
		if err != nil {
			return nil, err
		}
		if !present {
			return nil, fmt.Errorf("unsqueeze needs the axes input")
		}
		var buf [ops.MaxAllocRank]int
		s, err := unsqueezeShape(buf[:0], in[0].Shape(), axes)
		if err != nil {
			return nil, err
		}
		return result{c}.one(c.View(in[0], s...))
	}}, nil
}

// inferAxesOp infers Squeeze/Unsqueeze when the axes are an attribute and
// the input shape is known.
func inferAxesOp(n *ops.Node, in []tensor.Type, f func([]int, []int64, bool) ([]int, error)) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if n.Opset < 13 && known(in[0]) {
		a := n.Ints("axes", nil)
		s, err := f(typeDims(in[0]), a, a != nil)
		if err != nil {
			return nil, err
		}
		return []tensor.Type{tensor.TensorType(in[0].DType, s[:]...)}, nil
	}
	return []tensor.Type{t}, nil
}

func inferSqueeze(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	return inferAxesOp(n, in, func(s []int, a []int64, present bool) ([]int, error) { return squeezeShape(nil, s, a, present) })
}

func inferUnsqueeze(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	return inferAxesOp(n, in, func(s []int, a []int64, _ bool) ([]int, error) { return unsqueezeShape(nil, s, a) })
}

func compileIdentity(n *ops.Node) (*ops.Kernel, error) {
	return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		if len(in) != 1 || in[0] == nil {
			return nil, fmt.Errorf("identity takes exactly one input")
		}
		return []tensor.Value{in[0]}, nil
	}}, nil
}
