package elementwise

import (
	"cmp"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// cmpop names a comparison.
type cmpop int

const (
	opEqual cmpop = iota
	opLess
	opGreater
	opLessOrEqual
	opGreaterOrEqual
)

func compareFn[T cmp.Ordered](op cmpop) func(a, b T) bool {
	switch op {
	case opLess:
		return func(a, b T) bool { return a < b }
	case opGreater:
		return func(a, b T) bool { return a > b }
	case opLessOrEqual:
		return func(a, b T) bool { return a <= b }
	case opGreaterOrEqual:
		return func(a, b T) bool { return a >= b }
	}
	return func(a, b T) bool { return a == b }
}

// cmpTable holds compareFn's functions for every cmpop, made once: a
// closure made inside the generic compareFn is allocated per call.
func cmpTable[T cmp.Ordered]() (t [opGreaterOrEqual + 1]func(a, b T) bool) {
	for op := range t {
		t[op] = compareFn[T](cmpop(op))
	}
	return t
}

var (
	cmpFloat32 = cmpTable[float32]()
	cmpInt64   = cmpTable[int64]()
)

// compare evaluates a op b with broadcasting into a bool tensor. Equal also
// takes bool and string inputs; NaN compares false (unequal).
func compare(c *ops.Ctx, name string, op cmpop, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if err := sameDTypes(name, []*tensor.Tensor{a, b}); err != nil {
		return nil, err
	}
	const B = tensor.Bool
	switch d := a.DType(); d {
	case tensor.Float32:
		return map2(c, a, b, B, cmpFloat32[op])
	case tensor.Float64:
		return map2(c, a, b, B, compareFn[float64](op))
	case tensor.Int8:
		return map2(c, a, b, B, compareFn[int8](op))
	case tensor.Int16:
		return map2(c, a, b, B, compareFn[int16](op))
	case tensor.Int32:
		return map2(c, a, b, B, compareFn[int32](op))
	case tensor.Int64:
		return map2(c, a, b, B, cmpInt64[op])
	case tensor.Uint8:
		return map2(c, a, b, B, compareFn[uint8](op))
	case tensor.Uint16:
		return map2(c, a, b, B, compareFn[uint16](op))
	case tensor.Uint32:
		return map2(c, a, b, B, compareFn[uint32](op))
	case tensor.Uint64:
		return map2(c, a, b, B, compareFn[uint64](op))
	case tensor.String:
		if op == opEqual {
			return map2(c, a, b, B, compareFn[string](op))
		}
	case tensor.Bool:
		if op == opEqual {
			return map2(c, a, b, B, func(x, y bool) bool { return x == y })
		}
	default:
		if d.IsFloat() {
			return halfWrap(c, []*tensor.Tensor{a, b}, func(in []*tensor.Tensor) (*tensor.Tensor, error) {
				for i, t := range in {
					var err error
					if in[i], err = convertTo(c, t, tensor.Float32); err != nil {
						return nil, err
					}
				}
				return compare(c, name, op, in[0], in[1])
			})
		}
	}
	return nil, unsupported(name, a.DType())
}

// compareOps declares a broadcasting comparison with a bool output.
func compareOps(name, doc string, op cmpop, since ...int) []*ops.Op {
	return broadcastOps(name, doc, since, inferBool, func(c *ops.Ctx, a, b *tensor.Tensor) (*tensor.Tensor, error) {
		return compare(c, name, op, a, b)
	})
}

// compareOpLists: y = a cmp b (bool) with numpy broadcasting.
var compareOpLists = ops.Join(
	compareOps("Equal", "y = (a == b), bool (numpy broadcasting)", opEqual, 1, 7, 11, 13, 19),
	compareOps("Less", "y = (a < b), bool (numpy broadcasting)", opLess, 1, 7, 9, 13),
	compareOps("Greater", "y = (a > b), bool (numpy broadcasting)", opGreater, 1, 7, 9, 13),
	compareOps("LessOrEqual", "y = (a <= b), bool (numpy broadcasting)", opLessOrEqual, 12, 16),
	compareOps("GreaterOrEqual", "y = (a >= b), bool (numpy broadcasting)", opGreaterOrEqual, 12, 16),
)
