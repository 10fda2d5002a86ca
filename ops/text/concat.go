package text

import (
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// StringConcat: result = x + y elementwise on string tensors with numpy
// broadcasting.
var stringConcatOps = ops.Versions("", "StringConcat", "StringConcat: result[i] = x[i] + y[i] (string concatenation, numpy broadcasting)",
	[]int{20}, ops.InferBroadcast(tensor.String), ops.Simple(runStringConcat))

func runStringConcat(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 2, 2); err != nil {
		return nil, err
	}
	x, err := stringsOf(in[0], "input X")
	if err != nil {
		return nil, err
	}
	y, err := stringsOf(in[1], "input Y")
	if err != nil {
		return nil, err
	}
	shape, err := tensor.BroadcastShapes(in[0].Shape(), in[1].Shape())
	if err != nil {
		return nil, err
	}
	out, err := c.New(tensor.String, shape...)
	if err != nil {
		return nil, err
	}
	z := tensor.Data[string](out)
	tensor.BroadcastIndex(shape, [][]int{in[0].Shape(), in[1].Shape()}, func(i int, idx []int) {
		z[i] = x[idx[0]] + y[idx[1]]
	})
	return []*tensor.Tensor{out}, nil
}
