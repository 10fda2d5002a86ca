package elementwise

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// variadic folds op over 1..N inputs with broadcasting; Mean divides the
// sum by N.
func variadic(c *ops.Ctx, name string, op binop, mean bool, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%s: at least one input is required", name)
	}
	for i, t := range in {
		if t == nil {
			return nil, fmt.Errorf("%s: input %d is missing", name, i)
		}
	}
	if err := sameDTypes(name, in); err != nil {
		return nil, err
	}
	acc := in[0]
	if mean && !acc.DType().IsFloat() {
		return nil, unsupported(name, acc.DType())
	}
	for _, t := range in[1:] {
		var err error
		if acc, err = arith(c, name, op, acc, t); err != nil {
			return nil, err
		}
	}
	if mean && len(in) > 1 {
		n, err := convertTo(c, tensor.Scalar(float64(len(in))), acc.DType())
		if err != nil {
			return nil, err
		}
		return arith(c, name, opDiv, acc, n)
	}
	if len(in) == 1 {
		return acc.Clone(), nil
	}
	return acc, nil
}

func variadicOps(name, doc string, op binop, mean bool, since ...int) []*ops.Op {
	return ops.Versions("", name, doc, since, ops.InferBroadcast(tensor.Undefined), ops.Simple(
		func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			y, err := variadic(c, name, op, mean, in)
			return c.Result(y), err
		}))
}

// variadicOpLists: y = fold(op, x1..xN) with numpy broadcasting (N >= 1).
var variadicOpLists = ops.Join(
	variadicOps("Max", "y = max(x1, ..., xN) elementwise (NaN propagates; numpy broadcasting)", opMax, false, 1, 6, 8, 12, 13),
	variadicOps("Min", "y = min(x1, ..., xN) elementwise (NaN propagates; numpy broadcasting)", opMin, false, 1, 6, 8, 12, 13),
	variadicOps("Sum", "y = x1 + ... + xN (numpy broadcasting)", opAdd, false, 1, 6, 8, 13),
	variadicOps("Mean", "y = (x1 + ... + xN) / N (numpy broadcasting)", opAdd, true, 1, 6, 8, 13),
)
