package elementwise

import (
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// logicOps declares a broadcasting boolean op.
func logicOps(name, doc string, f func(a, b bool) bool, since ...int) []*ops.Op {
	return ops.Versions("", name, doc, since, inferBool, func(n *ops.Node) (*ops.Kernel, error) {
		lb := readLegacy(n)
		if err := n.Err(); err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 2, 2); err != nil {
				return nil, err
			}
			if in[0].DType() != tensor.Bool || in[1].DType() != tensor.Bool {
				return nil, unsupported(name, in[0].DType())
			}
			b, err := lb.apply(in[0], in[1])
			if err != nil {
				return nil, err
			}
			y, err := map2(c, in[0], b, tensor.Bool, f)
			return []*tensor.Tensor{y}, err
		}}, nil
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
		return []*tensor.Tensor{y}, err
	}))

// logicOpLists: boolean And/Or/Xor with numpy broadcasting, and Not.
var logicOpLists = ops.Join(
	logicOps("And", "y = a && b (bool, numpy broadcasting)", func(a, b bool) bool { return a && b }, 1, 7),
	logicOps("Or", "y = a || b (bool, numpy broadcasting)", func(a, b bool) bool { return a || b }, 1, 7),
	logicOps("Xor", "y = a != b (bool, numpy broadcasting)", func(a, b bool) bool { return a != b }, 1, 7),
	notOps,
)
