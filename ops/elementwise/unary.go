package elementwise

import (
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// unop names a unary elementwise function.
type unop int

const (
	opAbs unop = iota
	opNeg
	opSign
	// Float-only ops from here on.
	opSqrt
	opReciprocal
	opExp
	opLog
	opErf
	opTanh
	opSin
	opCos
	opTan
	opAsin
	opAcos
	opAtan
	opSinh
	opCosh
	opAsinh
	opAcosh
	opAtanh
	opCeil
	opFloor
	opRound
)

// floatFuncs computes the float-only ops in float64.
var floatFuncs = map[unop]func(float64) float64{
	opSqrt: math.Sqrt, opReciprocal: func(x float64) float64 { return 1 / x },
	opExp: math.Exp, opLog: math.Log, opErf: math.Erf, opTanh: math.Tanh,
	opSin: math.Sin, opCos: math.Cos, opTan: math.Tan, opAsin: math.Asin, opAcos: math.Acos,
	opAtan: math.Atan, opSinh: math.Sinh, opCosh: math.Cosh, opAsinh: math.Asinh,
	opAcosh: math.Acosh, opAtanh: math.Atanh, opCeil: math.Ceil, opFloor: math.Floor,
	opRound: math.RoundToEven,
}

// unaryFn returns the element function of op for T.
func unaryFn[T tensor.Number](op unop, isFloat bool) func(T) T {
	switch op {
	case opAbs:
		if isFloat {
			return func(v T) T { return T(math.Abs(float64(v))) }
		}
		return func(v T) T {
			if v < 0 {
				return -v
			}
			return v
		}
	case opNeg:
		return func(v T) T { return -v }
	case opSign:
		return func(v T) T {
			switch {
			case v > 0:
				return 1
			case v < 0:
				one := T(1)
				return -one
			case v == 0:
				return 0
			}
			return v // NaN
		}
	}
	f := floatFuncs[op]
	return func(v T) T { return T(f(float64(v))) }
}

// unary applies op elementwise; float-only ops reject integer inputs, Neg
// rejects unsigned ones.
func unary(c *ops.Ctx, name string, op unop, x *tensor.Tensor) (*tensor.Tensor, error) {
	d := x.DType()
	if op > opSign && !d.IsFloat() || op == opNeg && d.IsInt() && !d.IsSigned() {
		return nil, unsupported(name, d)
	}
	switch d {
	case tensor.Float32:
		return map1(c, x, d, unaryFn[float32](op, true))
	case tensor.Float64:
		return map1(c, x, d, unaryFn[float64](op, true))
	case tensor.Float16, tensor.BFloat16:
		return halfWrap(c, []*tensor.Tensor{x}, func(in []*tensor.Tensor) (*tensor.Tensor, error) {
			return unary(c, name, op, in[0])
		})
	case tensor.Int8:
		return map1(c, x, d, unaryFn[int8](op, false))
	case tensor.Int16:
		return map1(c, x, d, unaryFn[int16](op, false))
	case tensor.Int32:
		return map1(c, x, d, unaryFn[int32](op, false))
	case tensor.Int64:
		return map1(c, x, d, unaryFn[int64](op, false))
	case tensor.Uint8:
		return map1(c, x, d, unaryFn[uint8](op, false))
	case tensor.Uint16:
		return map1(c, x, d, unaryFn[uint16](op, false))
	case tensor.Uint32:
		return map1(c, x, d, unaryFn[uint32](op, false))
	case tensor.Uint64:
		return map1(c, x, d, unaryFn[uint64](op, false))
	}
	return nil, unsupported(name, d)
}

// unaryOps declares one unary op at the given since-versions.
func unaryOps(name, doc string, op unop, since ...int) []*ops.Op {
	return ops.Versions("", name, doc, since, ops.InferSameAs(0), ops.Simple(
		func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 1, 1); err != nil {
				return nil, err
			}
			y, err := unary(c, name, op, in[0])
			return c.Result(y), err
		}))
}

// unaryOpLists: y = f(x) elementwise, same shape and dtype. Abs and Sign
// take every numeric dtype, Neg signed ones, the rest floats only.
var unaryOpLists = ops.Join(
	unaryOps("Abs", "y = |x|", opAbs, 1, 6, 13),
	unaryOps("Neg", "y = -x", opNeg, 1, 6, 13),
	unaryOps("Sign", "y = sign(x) in {-1, 0, 1} (NaN stays NaN)", opSign, 9, 13),
	unaryOps("Sqrt", "y = sqrt(x)", opSqrt, 1, 6, 13),
	unaryOps("Reciprocal", "y = 1 / x", opReciprocal, 1, 6, 13),
	unaryOps("Exp", "y = e^x", opExp, 1, 6, 13),
	unaryOps("Log", "y = ln(x)", opLog, 1, 6, 13),
	unaryOps("Erf", "y = erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt", opErf, 9, 13),
	unaryOps("Tanh", "y = tanh(x)", opTanh, 1, 6, 13),
	unaryOps("Sin", "y = sin(x)", opSin, 7, 22),
	unaryOps("Cos", "y = cos(x)", opCos, 7, 22),
	unaryOps("Tan", "y = tan(x)", opTan, 7, 22),
	unaryOps("Asin", "y = asin(x)", opAsin, 7, 22),
	unaryOps("Acos", "y = acos(x)", opAcos, 7, 22),
	unaryOps("Atan", "y = atan(x)", opAtan, 7, 22),
	unaryOps("Sinh", "y = sinh(x)", opSinh, 9, 22),
	unaryOps("Cosh", "y = cosh(x)", opCosh, 9, 22),
	unaryOps("Asinh", "y = asinh(x)", opAsinh, 9, 22),
	unaryOps("Acosh", "y = acosh(x)", opAcosh, 9, 22),
	unaryOps("Atanh", "y = atanh(x)", opAtanh, 9, 22),
	unaryOps("Ceil", "y = ceil(x)", opCeil, 1, 6, 13),
	unaryOps("Floor", "y = floor(x)", opFloor, 1, 6, 13),
	unaryOps("Round", "y = round(x), halves to even", opRound, 11, 22),
)

// IsNaN: y = (x != x), bool.
var isNaNOps = ops.Versions("", "IsNaN", "y = isnan(x) (bool)", []int{9, 13, 20}, inferBool, ops.Simple(
	func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := floatPredicate(c, "IsNaN", in, func(v float64) bool { return v != v })
		return c.Result(y), err
	}))

// IsInf: y = x is +Inf (detect_positive) or -Inf (detect_negative), bool.
var isInfOps = ops.Versions("", "IsInf", "y = isinf(x) for the signs selected by detect_positive/detect_negative (bool)",
	[]int{10, 20}, inferBool, func(n *ops.Node) (*ops.Kernel, error) {
		pos, neg := n.Int("detect_positive", 1) != 0, n.Int("detect_negative", 1) != 0
		if err := n.Err(); err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			y, err := floatPredicate(c, "IsInf", in, func(v float64) bool {
				return pos && math.IsInf(v, 1) || neg && math.IsInf(v, -1)
			})
			return c.Result(y), err
		}}, nil
	})

// floatPredicate evaluates p on each element of a float tensor (any width).
func floatPredicate(c *ops.Ctx, name string, in []*tensor.Tensor, p func(float64) bool) (*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, err
	}
	x := in[0]
	switch x.DType() {
	case tensor.Float64:
		return map1(c, x, tensor.Bool, p)
	case tensor.Float32:
		return map1(c, x, tensor.Bool, func(v float32) bool { return p(float64(v)) })
	}
	if !x.DType().IsFloat() {
		return nil, unsupported(name, x.DType())
	}
	w, err := convertTo(c, x, tensor.Float32)
	if err != nil {
		return nil, err
	}
	return map1(c, w, tensor.Bool, func(v float32) bool { return p(float64(v)) })
}

// inferBool: one bool output with the (broadcast) shape of the inputs.
var inferBool = ops.InferBroadcast(tensor.Bool)
