package elementwise

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// binop names a binary arithmetic function.
type binop int

const (
	opAdd binop = iota
	opSub
	opMul
	opDiv
	opMod  // Python/NumPy mod: the result has the divisor's sign
	opFmod // C fmod: the result has the dividend's sign
	opPow
	opMax
	opMin
)

// binaryFn returns the element function of op for T. Integer division and
// modulo by zero give 0 (as NumPy does) instead of panicking.
func binaryFn[T tensor.Number](op binop, isFloat bool) func(a, b T) T {
	switch op {
	case opAdd:
		return func(a, b T) T { return a + b }
	case opSub:
		return func(a, b T) T { return a - b }
	case opMul:
		return func(a, b T) T { return a * b }
	case opDiv:
		if isFloat {
			return func(a, b T) T { return a / b }
		}
		return func(a, b T) T {
			if b == 0 {
				return 0
			}
			return a / b
		}
	case opMax:
		return func(a, b T) T {
			if a > b || a != a {
				return a
			}
			return b
		}
	case opMin:
		return func(a, b T) T {
			if a < b || a != a {
				return a
			}
			return b
		}
	case opPow:
		if isFloat {
			return func(a, b T) T { return T(math.Pow(float64(a), float64(b))) }
		}
		return ipow[T]
	case opFmod:
		if isFloat {
			return func(a, b T) T { return T(math.Mod(float64(a), float64(b))) }
		}
		return func(a, b T) T {
			if b == 0 {
				return 0
			}
			return a - a/b*b // truncated remainder (% is not defined on Number)
		}
	case opMod:
		if isFloat {
			return func(a, b T) T {
				r := math.Mod(float64(a), float64(b))
				if r != 0 && (r < 0) != (b < 0) {
					r += float64(b)
				}
				return T(r)
			}
		}
		return func(a, b T) T {
			if b == 0 {
				return 0
			}
			r := a - a/b*b
			if r != 0 && (r < 0) != (b < 0) {
				r += b
			}
			return r
		}
	}
	panic(fmt.Sprintf("elementwise: binary op %d", op))
}

// ipow is exact integer exponentiation (wrapping); negative exponents give
// the truncated reciprocal (0 unless the base is ±1).
func ipow[T tensor.Number](a, b T) T {
	if b < 0 {
		switch {
		case a == 1:
			return 1
		case a+1 == 0: // a == -1 (b < 0 implies a signed type)
			if int64(b)%2 == 0 {
				return 1
			}
			return a
		}
		return 0
	}
	r := T(1)
	for e := uint64(b); e > 0; e >>= 1 {
		if e&1 == 1 {
			r *= a
		}
		a *= a
	}
	return r
}

// arith computes a op b with broadcasting for inputs of one dtype.
func arith(c *ops.Ctx, name string, op binop, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if err := sameDTypes(name, []*tensor.Tensor{a, b}); err != nil {
		return nil, err
	}
	d := a.DType()
	switch d {
	case tensor.Float32:
		return arithT[float32](c, op, true, a, b)
	case tensor.Float64:
		return arithT[float64](c, op, true, a, b)
	case tensor.Float16, tensor.BFloat16:
		return halfWrap(c, []*tensor.Tensor{a, b}, func(in []*tensor.Tensor) (*tensor.Tensor, error) {
			return arith(c, name, op, in[0], in[1])
		})
	case tensor.Int8:
		return arithT[int8](c, op, false, a, b)
	case tensor.Int16:
		return arithT[int16](c, op, false, a, b)
	case tensor.Int32:
		return arithT[int32](c, op, false, a, b)
	case tensor.Int64:
		return arithT[int64](c, op, false, a, b)
	case tensor.Uint8:
		return arithT[uint8](c, op, false, a, b)
	case tensor.Uint16:
		return arithT[uint16](c, op, false, a, b)
	case tensor.Uint32:
		return arithT[uint32](c, op, false, a, b)
	case tensor.Uint64:
		return arithT[uint64](c, op, false, a, b)
	}
	return nil, unsupported(name, d)
}

// legacyBroadcast applies opset < 7 broadcasting: without broadcast=1 the
// shapes must match; with it, B aligns with A's dimensions from axis (or
// from the end when axis is absent).
type legacyBroadcast struct {
	on   bool
	axis int64
	has  bool
}

func readLegacy(n *ops.Node) legacyBroadcast {
	if n.Opset >= 7 {
		return legacyBroadcast{on: true}
	}
	return legacyBroadcast{on: n.Int("broadcast", 0) != 0, axis: n.Int("axis", 0), has: n.Has("axis")}
}

// apply returns b reshaped for numpy broadcasting against a.
func (l legacyBroadcast) apply(a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if !l.on {
		if !tensor.SameShape(a.Shape(), b.Shape()) {
			return nil, fmt.Errorf("shapes %v and %v differ and broadcast is not set", a.Shape(), b.Shape())
		}
		return b, nil
	}
	if !l.has {
		return b, nil
	}
	axis, err := ops.NormAxis(l.axis, a.Rank())
	if err != nil {
		return nil, err
	}
	trail := a.Rank() - axis - b.Rank()
	if trail < 0 {
		return nil, fmt.Errorf("B of rank %d does not fit A %v from axis %d", b.Rank(), a.Shape(), l.axis)
	}
	shape := append(append([]int{}, b.Shape()...), make([]int, trail)...)
	for i := b.Rank(); i < len(shape); i++ {
		shape[i] = 1
	}
	return b.Reshape(shape...)
}

// broadcastOps declares the versions of a two-input op y = f(a, b); b is
// first aligned to a by the legacy broadcast/axis attributes (before
// opset 7), then f broadcasts as numpy does.
func broadcastOps(name, doc string, since []int, infer func(*ops.Node, []tensor.Type) ([]tensor.Type, error),
	f func(c *ops.Ctx, a, b *tensor.Tensor) (*tensor.Tensor, error)) []*ops.Op {
	return ops.Versions("", name, doc, since, infer, func(n *ops.Node) (*ops.Kernel, error) {
		lb := readLegacy(n)
		if err := n.Err(); err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 2, 2); err != nil {
				return nil, err
			}
			b, err := lb.apply(in[0], in[1])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			y, err := f(c, in[0], b)
			if err != nil {
				return nil, err
			}
			return c.Result(y), nil
		}}, nil
	})
}

// binaryOps declares a broadcasting arithmetic op.
func binaryOps(name, doc string, op binop, since ...int) []*ops.Op {
	return broadcastOps(name, doc, since, ops.InferBroadcast(tensor.Undefined), func(c *ops.Ctx, a, b *tensor.Tensor) (*tensor.Tensor, error) {
		return arith(c, name, op, a, b)
	})
}

// Mod: y = a mod b; fmod=1 takes the dividend's sign (C fmod), fmod=0 the
// divisor's (Python). Floats need fmod=1 per the spec; fmod=0 is accepted.
var modOps = ops.Versions("", "Mod", "y = a mod b (fmod=0: sign of b; fmod=1: sign of a)", []int{10, 13},
	ops.InferBroadcast(tensor.Undefined), func(n *ops.Node) (*ops.Kernel, error) {
		op := opMod
		if n.Int("fmod", 0) != 0 {
			op = opFmod
		}
		if err := n.Err(); err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 2, 2); err != nil {
				return nil, err
			}
			y, err := arith(c, "Mod", op, in[0], in[1])
			return c.Result(y), err
		}}, nil
	})

// Pow: y = a^b with the output dtype of a; b may have any numeric dtype
// (opset 12+). Integer bases with float exponents compute in float64 and
// truncate; integer bases with integer exponents are exact.
var powOps = broadcastOps("Pow", "y = a^b (output dtype of a)", []int{1, 7, 12, 13, 15}, ops.InferBroadcast(tensor.Undefined), pow)

func pow(c *ops.Ctx, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	da, db := a.DType(), b.DType()
	if !(da.IsFloat() || da.IsInt()) || !(db.IsFloat() || db.IsInt()) {
		return nil, fmt.Errorf("Pow: dtypes %v ^ %v are not supported", da, db)
	}
	switch {
	case da == db:
		return arith(c, "Pow", opPow, a, b)
	case da.IsInt() && db.IsInt():
		// Integer exponents of integer bases stay integers.
		return powIn(c, a, b, tensor.Int64)
	default:
		// Float dtypes that differ, or an integer base with a float
		// exponent: float64, rounded (truncated) to a's dtype.
		return powIn(c, a, b, tensor.Float64)
	}
}

// powIn computes a^b with both converted to dtype d and returns it in a's
// dtype.
func powIn(c *ops.Ctx, a, b *tensor.Tensor, d tensor.DType) (*tensor.Tensor, error) {
	x, err := convertTo(c, a, d)
	if err != nil {
		return nil, err
	}
	w, err := convertTo(c, b, d)
	if err != nil {
		return nil, err
	}
	y, err := arith(c, "Pow", opPow, x, w)
	if err != nil {
		return nil, err
	}
	return convertTo(c, y, a.DType())
}

// binaryOpLists: y = a op b with numpy broadcasting (opset >= 7; legacy
// broadcast/axis attributes before), every numeric dtype.
var binaryOpLists = ops.Join(
	binaryOps("Add", "y = a + b (numpy broadcasting)", opAdd, 1, 6, 7, 13, 14),
	binaryOps("Sub", "y = a - b (numpy broadcasting)", opSub, 1, 6, 7, 13, 14),
	binaryOps("Mul", "y = a * b (numpy broadcasting)", opMul, 1, 6, 7, 13, 14),
	binaryOps("Div", "y = a / b (numpy broadcasting; integers truncate toward zero)", opDiv, 1, 6, 7, 13, 14),
	modOps, powOps,
)
