package elementwise

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Where: y = cond ? x : z elementwise with three-way numpy broadcasting.
var whereOps = ops.Versions("", "Where", "y = cond ? x : z (numpy broadcasting of all three)", []int{9, 16},
	inferWhere, ops.Simple(func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 3, 3); err != nil {
			return nil, err
		}
		y, err := where(c, in[0], in[1], in[2])
		return c.Result(y), err
	}))

func inferWhere(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	out, err := ops.InferBroadcast(tensor.Undefined)(n, in)
	if err != nil || len(in) < 2 {
		return out, err
	}
	out[0].DType = in[1].DType
	return out, nil
}

func where(c *ops.Ctx, cond, x, z *tensor.Tensor) (*tensor.Tensor, error) {
	if cond.DType() != tensor.Bool {
		return nil, fmt.Errorf("Where: condition is %v, want bool", cond.DType())
	}
	if err := sameDTypes("Where", []*tensor.Tensor{x, z}); err != nil {
		return nil, err
	}
	switch d := x.DType(); d {
	case tensor.Float32:
		return map3(c, cond, x, z, d, pick[float32])
	case tensor.Float64:
		return map3(c, cond, x, z, d, pick[float64])
	case tensor.Int64:
		return map3(c, cond, x, z, d, pick[int64])
	case tensor.Int32:
		return map3(c, cond, x, z, d, pick[int32])
	case tensor.Bool:
		return map3(c, cond, x, z, d, pick[bool])
	case tensor.String:
		return map3(c, cond, x, z, d, pick[string])
	case tensor.Complex64:
		return map3(c, cond, x, z, d, pick[complex64])
	case tensor.Complex128:
		return map3(c, cond, x, z, d, pick[complex128])
	}
	// Every other dtype is at most 64 bits: select bit patterns.
	xb, err := tensor.From(x.Shape(), readBits(x.Raw()))
	if err != nil {
		return nil, err
	}
	zb, err := tensor.From(z.Shape(), readBits(z.Raw()))
	if err != nil {
		return nil, err
	}
	yb, err := map3(c, cond, xb, zb, tensor.Uint64, pick[uint64])
	if err != nil {
		return nil, err
	}
	y, err := c.New(x.DType(), yb.Shape()...)
	if err != nil {
		return nil, err
	}
	writeBits(y.Raw(), tensor.Data[uint64](yb))
	return y, nil
}

func pick[T any](c bool, x, z T) T {
	if c {
		return x
	}
	return z
}
