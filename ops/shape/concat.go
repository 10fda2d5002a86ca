package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func concatOps() []*ops.Op {
	return ops.Versions("", "Concat", "Concat: y = the inputs joined along axis; every other dimension must agree.",
		[]int{1, 4, 11, 13}, inferConcat, compileConcat)
}

func concatAxis(n *ops.Node) (int64, error) {
	if !n.Has("axis") && n.Opset < 4 {
		return 1, nil // Concat-1 defaulted to axis 1
	}
	if !n.Has("axis") {
		return 0, fmt.Errorf("concat needs the axis attribute")
	}
	return n.Int("axis", 0), n.Err()
}

// concatShape checks the input shapes and returns the output's.
func concatShape(shapes [][]int, axis int64) ([]int, int, error) {
	return concatShapeTo(nil, shapes, axis)
}

// concatShapeTo is concatShape appending the shape to dst.
func concatShapeTo(dst []int, shapes [][]int, axis int64) ([]int, int, error) {
	if len(shapes) == 0 {
		return nil, 0, fmt.Errorf("concat needs at least one input")
	}
	r := len(shapes[0])
	a, err := ops.NormAxis(axis, r)
	if err != nil {
		return nil, 0, err
	}
	out := append(dst, shapes[0]...)
	out[a] = 0
	for i, s := range shapes {
		if len(s) != r {
			return nil, 0, fmt.Errorf("input %d has rank %d, input 0 has rank %d", i, len(s), r)
		}
		for k := range s {
			if k != a && s[k] != out[k] {
				return nil, 0, fmt.Errorf("input %d has shape %v, incompatible with %v outside axis %d", i, s, shapes[0], a)
			}
		}
		out[a] += s[a]
	}
	return out, a, nil
}

func compileConcat(n *ops.Node) (*ops.Kernel, error) {
	axis, err := concatAxis(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		var sbuf [8][]int
		shapes := sbuf[:0]
		if len(in) <= len(sbuf) {
			shapes = sbuf[:len(in)]
		} else {
			shapes = make([][]int, len(in))
		}
		for i, t := range in {
			if t == nil {
				return nil, fmt.Errorf("input %d is missing", i)
			}
			if t.DType() != in[0].DType() {
				return nil, fmt.Errorf("input %d is %v, input 0 is %v; insert a Cast", i, t.DType(), in[0].DType())
			}
			shapes[i] = t.Shape()
		}
		var buf [ops.MaxAllocRank]int
		shape, a, err := concatShapeTo(buf[:0], shapes, axis)
		if err != nil {
			return nil, err
		}
		out, err := c.New(in[0].DType(), shape...)
		if err != nil {
			return nil, err
		}
		k, err := kitFor(out.DType())
		if err != nil {
			return nil, err
		}
		// out is (outer, sum of axis sizes, inner); input t fills
		// out[o, pos:pos+t.shape[a], :] for every o.
		outer, inner := prod(shape[:a]), prod(shape[a+1:])
		row := shape[a] * inner
		p := borrowInts(outer)
		defer returnInts(p)
		offs := *p
		pos := 0
		for _, t := range in {
			run := t.Shape()[a] * inner
			if run > 0 {
				for o := range offs {
					offs[o] = o*row + pos
				}
				k.put(out.Raw(), t.Raw(), offs, run)
			}
			pos += run
		}
		return c.Result(out), nil
	}}, nil
}

func inferConcat(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("concat needs at least one input")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	shapes := make([][]int, len(in))
	for i, x := range in {
		if !known(x) {
			return []tensor.Type{t}, nil
		}
		shapes[i] = typeDims(x)
	}
	axis, err := concatAxis(n)
	if err != nil {
		return nil, err
	}
	s, _, err := concatShape(shapes, axis)
	if err != nil {
		return nil, err
	}
	return []tensor.Type{tensor.TensorType(in[0].DType, s...)}, nil
}
