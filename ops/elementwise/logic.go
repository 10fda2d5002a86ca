package elementwise

import (
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// logicOps declares a broadcasting boolean op.
func logicOps(name, doc string, f func(a, b bool) bool, since ...int) []*ops.Op {
	return broadcastOps(name, doc, since, inferBool, func(c *ops.Ctx, a, b *tensor.Tensor) (*tensor.Tensor, error) {
		if a.DType() != tensor.Bool || b.DType() != tensor.Bool {
			return nil, unsupported(name, a.DType())
		}
		return map2(c, a, b, tensor.Bool, f)
	})
}

// Not: y = !x.
var notOps = ops.Versions("", "Not", "y = !x (bool)", []int{1}, ops.InferSameAs(0), ops.Simple(
	func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		if in[0].DType() != tensor.Bool {
			return nil, unsupported("Not", in[0].DType())
		}
		y, err := map1(c, in[0], tensor.Bool, func(v bool) bool { return !v })
		return c.Result(y), err
	}))

// logicOpLists: boolean And/Or/Xor with numpy broadcasting, and Not.
var logicOpLists = ops.Join(
	logicOps("And", "y = a && b (bool, numpy broadcasting)", func(a, b bool) bool { return a && b }, 1, 7),
	logicOps("Or", "y = a || b (bool, numpy broadcasting)", func(a, b bool) bool { return a || b }, 1, 7),
	logicOps("Xor", "y = a != b (bool, numpy broadcasting)", func(a, b bool) bool { return a != b }, 1, 7),
	notOps,
)
