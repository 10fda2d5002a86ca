package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func constantOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "Constant", "Constant: y = the tensor given by exactly one attribute (value, sparse_value, value_float(s), value_int(s), value_string(s)).",
			[]int{1, 9, 11, 12, 13, 19, 21, 23, 24, 25}, inferConstant, compileConstant),
		ops.Versions("", "ConstantOfShape", "ConstantOfShape: y = a tensor of the given shape filled with value (default float32 0).",
			[]int{9, 20, 21, 23, 24, 25}, inferConstantOfShape, compileConstantOfShape),
		ops.Versions("", "EyeLike", "EyeLike: y[i, j] = 1 if j - i = k else 0, with x's 2-D shape and dtype (or the dtype attribute).",
			[]int{9, 22}, inferEyeLike, compileEyeLike),
		ops.Versions("", "Shape", "Shape: y = int64 1-D tensor of x's dimensions [start:end] (negative bounds count from the end, clamped).",
			[]int{1, 13, 15, 19, 21, 23, 24, 25}, inferShape, compileShape),
		ops.Versions("", "Size", "Size: y = int64 scalar, the number of elements of x.",
			[]int{1, 13, 19, 21, 23, 24, 25}, inferSize, compileSize),
	)
}

// constantValue returns the tensor a Constant node holds, or its sparse
// value, which is expanded at run time so that the session's size limit
// applies to the dense shape the model claims.
func constantValue(n *ops.Node) (*tensor.Tensor, *ops.SparseTensor, error) {
	var found []string
	var t *tensor.Tensor
	var sp *ops.SparseTensor
	var err error
	for _, a := range n.Attrs {
		switch a.Name {
		case "value":
			t = a.T
		case "sparse_value":
			if sp = a.Sparse; sp == nil || sp.Values == nil {
				return nil, nil, fmt.Errorf("sparse_value is not a sparse tensor with values")
			}
		case "value_float":
			t = tensor.Scalar(a.F)
		case "value_floats":
			t, err = tensor.From([]int{len(a.Floats)}, append([]float32{}, a.Floats...))
		case "value_int":
			t = tensor.Scalar(a.I)
		case "value_ints":
			t, err = tensor.From([]int{len(a.Ints)}, append([]int64{}, a.Ints...))
		case "value_string":
			t = tensor.Scalar(string(a.S))
		case "value_strings":
			s := make([]string, len(a.Strings))
			for i, b := range a.Strings {
				s[i] = string(b)
			}
			t, err = tensor.From([]int{len(s)}, s)
		default:
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("attribute %s: %w", a.Name, err)
		}
		found = append(found, a.Name)
	}
	if len(found) != 1 {
		return nil, nil, fmt.Errorf("constant needs exactly one value attribute, has %v", found)
	}
	if t == nil && sp == nil {
		return nil, nil, fmt.Errorf("attribute %s holds no tensor", found[0])
	}
	return t, sp, nil
}

// densify expands a COO sparse tensor: indices are (NNZ, rank) or linear (NNZ).
func densify(c *ctx, sp *ops.SparseTensor) (*tensor.Tensor, error) {
	dims, err := dimsOf(sp.Dims, "dims")
	if err != nil {
		return nil, err
	}
	k, out, err := newLike(c, sp.Values.DType(), dims)
	if err != nil {
		return nil, err
	}
	nnz := sp.Values.Len()
	if nnz == 0 {
		return out, nil
	}
	if sp.Indices == nil {
		return nil, fmt.Errorf("sparse tensor has values but no indices")
	}
	idx, err := intsOf(sp.Indices, "indices")
	if err != nil {
		return nil, err
	}
	total := out.Len()
	offs := make([]int, nnz)
	st := tensor.Strides(dims)
	switch len(idx) {
	case nnz:
		for i, v := range idx {
			if v < 0 || v >= int64(total) {
				return nil, fmt.Errorf("sparse index %d out of range [0, %d)", v, total)
			}
			offs[i] = int(v)
		}
	case nnz * len(dims):
		for i := range offs {
			for j, d := range dims {
				v := idx[i*len(dims)+j]
				if v < 0 || v >= int64(d) {
					return nil, fmt.Errorf("sparse index %d out of range [0, %d) on axis %d", v, d, j)
				}
				offs[i] += int(v) * st[j]
			}
		}
	default:
		return nil, fmt.Errorf("sparse indices have %d values for %d non-zeros of rank %d", len(idx), nnz, len(dims))
	}
	k.put(out.Raw(), sp.Values.Raw(), offs, 1)
	return out, nil
}

func compileConstant(n *ops.Node) (*ops.Kernel, error) {
	t, sp, err := constantValue(n)
	if err != nil {
		return nil, err
	}
	if sp != nil {
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return result{c}.one(densify(c, sp))
		}}, nil
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		// a copy, so that a caller changing an output cannot change the model
		return result{c}.one(copyOf(c, t, t.Shape()...))
	}}, nil
}

func inferConstant(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	t, sp, err := constantValue(n)
	if err != nil {
		return nil, err
	}
	if sp != nil {
		dims, err := dimsOf(sp.Dims, "dims")
		if err != nil {
			return nil, err
		}
		return []tensor.Type{tensor.TensorType(sp.Values.DType(), dims...)}, nil
	}
	return []tensor.Type{tensor.TensorType(t.DType(), t.Shape()...)}, nil
}

func compileConstantOfShape(n *ops.Node) (*ops.Kernel, error) {
	v := n.Tensor("value")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if v == nil {
		v = tensor.Scalar(float32(0))
	}
	if v.Len() != 1 {
		return nil, fmt.Errorf("value must hold one element, has %d", v.Len())
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		s, err := intsOf(in[0], "shape")
		if err != nil {
			return nil, err
		}
		shape, err := dimsOf(s, "shape")
		if err != nil {
			return nil, err
		}
		k, out, err := newLike(c, v.DType(), shape)
		if err != nil {
			return nil, err
		}
		k.fill(out.Raw(), v.Raw(), 0)
		return c.Result(out), nil
	}}, nil
}

func compileEyeLike(n *ops.Node) (*ops.Kernel, error) {
	dt := tensor.DType(n.Int("dtype", 0))
	k := n.Int("k", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		s := in[0].Shape()
		if len(s) != 2 {
			return nil, fmt.Errorf("input must be 2-D, got shape %v", s)
		}
		d := dt
		if d == tensor.Undefined {
			d = in[0].DType()
		}
		oneT, err := valueOf(d, 1)
		if err != nil {
			return nil, err
		}
		kt, out, err := newLike(c, d, s)
		if err != nil {
			return nil, err
		}
		// out is (R, C); ones at (i, i+k)
		var offs []int
		for i := 0; i < s[0]; i++ {
			if j := int64(i) + k; j >= 0 && j < int64(s[1]) {
				offs = append(offs, i*s[1]+int(j))
			}
		}
		kt.fillAt(out.Raw(), oneT.Raw(), offs)
		return c.Result(out), nil
	}}, nil
}

// shapeRange returns Shape's [start, end) for rank r (clamped); end < 0
// with hasEnd false means the end of the shape.
func shapeRange(start, end int64, hasEnd bool, r int) (int, int) {
	if !hasEnd {
		end = int64(r)
	}
	if start < 0 {
		start += int64(r)
	}
	if end < 0 {
		end += int64(r)
	}
	start, end = clampInt64(start, 0, int64(r)), clampInt64(end, 0, int64(r))
	return int(start), int(max(start, end))
}

func compileShape(n *ops.Node) (*ops.Kernel, error) {
	start, end, hasEnd := n.Int("start", 0), n.Int("end", 0), n.Has("end")
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		s := in[0].Shape()
		lo, hi := shapeRange(start, end, hasEnd, len(s))
		out, err := c.NewUninit(tensor.Int64, hi-lo)
		if err != nil {
			return nil, err
		}
		v := tensor.Data[int64](out)
		for i := range v {
			v[i] = int64(s[lo+i])
		}
		return c.Result(out), nil
	}}, nil
}

func inferShape(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 || !in[0].HasShape {
		return []tensor.Type{{Kind: tensor.KindTensor, DType: tensor.Int64, HasShape: true, Shape: []tensor.Dim{{Size: -1}}}}, nil
	}
	lo, hi := shapeRange(n.Int("start", 0), n.Int("end", 0), n.Has("end"), len(in[0].Shape))
	return []tensor.Type{tensor.TensorType(tensor.Int64, hi-lo)}, nil
}

func compileSize(n *ops.Node) (*ops.Kernel, error) {
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		return c.Result(tensor.Scalar(int64(in[0].Len()))), nil
	}}, nil
}

func inferSize(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	return []tensor.Type{tensor.TensorType(tensor.Int64)}, nil
}
