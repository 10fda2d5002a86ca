package elementwise

import (
	"fmt"
	"strings"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// bitop names a bitwise function.
type bitop int

const (
	opBitAnd bitop = iota
	opBitOr
	opBitXor
	opShiftLeft
	opShiftRight
	opBitNot // unary: b is ignored
)

func bitFn[T tensor.Integer](op bitop) func(a, b T) T {
	switch op {
	case opBitAnd:
		return func(a, b T) T { return a & b }
	case opBitOr:
		return func(a, b T) T { return a | b }
	case opBitXor:
		return func(a, b T) T { return a ^ b }
	// A shift count converted to uint64 is >= the width when it is
	// negative, and Go gives what BitShift-28 asks for any count of the
	// width or more: 0, or the sign fill (-1 for a negative x) on a signed
	// right shift.
	case opShiftLeft:
		return func(a, b T) T { return a << uint64(b) }
	case opShiftRight:
		return func(a, b T) T { return a >> uint64(b) }
	}
	return func(a, _ T) T { return ^a }
}

// bitwise computes a op b with broadcasting (b == nil for BitwiseNot) on
// integer inputs of one dtype.
func bitwise(c *ops.Ctx, name string, op bitop, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if b == nil {
		b = a
	}
	if err := sameDTypes(name, []*tensor.Tensor{a, b}); err != nil {
		return nil, err
	}
	switch d := a.DType(); d {
	case tensor.Int8:
		return bitRun(c, op, a, b, bitFn[int8](op))
	case tensor.Int16:
		return bitRun(c, op, a, b, bitFn[int16](op))
	case tensor.Int32:
		return bitRun(c, op, a, b, bitFn[int32](op))
	case tensor.Int64:
		return bitRun(c, op, a, b, bitFn[int64](op))
	case tensor.Uint8:
		return bitRun(c, op, a, b, bitFn[uint8](op))
	case tensor.Uint16:
		return bitRun(c, op, a, b, bitFn[uint16](op))
	case tensor.Uint32:
		return bitRun(c, op, a, b, bitFn[uint32](op))
	case tensor.Uint64:
		return bitRun(c, op, a, b, bitFn[uint64](op))
	}
	return nil, unsupported(name, a.DType())
}

func bitRun[T tensor.Integer](c *ops.Ctx, op bitop, a, b *tensor.Tensor, f func(a, b T) T) (*tensor.Tensor, error) {
	if op == opBitNot {
		return map1(c, a, a.DType(), func(v T) T { return f(v, v) })
	}
	return map2(c, a, b, a.DType(), f)
}

func bitwiseOps(name, doc string, op bitop, since ...int) []*ops.Op {
	nin := 2
	infer := ops.InferBroadcast(tensor.Undefined)
	if op == opBitNot {
		nin, infer = 1, ops.InferSameAs(0)
	}
	return ops.Versions("", name, doc, since, infer, ops.Simple(
		func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, nin, nin); err != nil {
				return nil, err
			}
			var b *tensor.Tensor
			if nin == 2 {
				b = in[1]
			}
			y, err := bitwise(c, name, op, in[0], b)
			return c.Result(y), err
		}))
}

// BitShift: y = x << s (direction "LEFT") or x >> s ("RIGHT"). Version 11
// takes unsigned integers; version 28 adds signed ones, whose right shift
// is arithmetic. A count of the width or more (or, signed, a negative one)
// gives 0, or -1 for a negative x shifted right.
var bitShiftOps = ops.Join(
	ops.Versions("", "BitShift", "y = x << s or x >> s (direction LEFT/RIGHT, unsigned ints)", []int{11},
		ops.InferBroadcast(tensor.Undefined), compileBitShift(false)),
	ops.Versions("", "BitShift", "y = x << s or x >> s (direction LEFT/RIGHT; signed ints shift right arithmetically)", []int{28},
		ops.InferBroadcast(tensor.Undefined), compileBitShift(true)),
)

func compileBitShift(signed bool) func(n *ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		var op bitop
		switch dir := strings.ToUpper(n.String("direction", "")); dir {
		case "LEFT":
			op = opShiftLeft
		case "RIGHT":
			op = opShiftRight
		default:
			return nil, fmt.Errorf("BitShift: direction %q must be LEFT or RIGHT", dir)
		}
		opset := n.Opset
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 2, 2); err != nil {
				return nil, err
			}
			if d := in[0].DType(); d.IsSigned() && !signed {
				return nil, fmt.Errorf("BitShift at opset %d: dtype %v is not supported; signed integers need opset 28", opset, d)
			}
			y, err := bitwise(c, "BitShift", op, in[0], in[1])
			return c.Result(y), err
		}}, nil
	}
}

// bitwiseOpLists: y = a & b, a | b, a ^ b, ^x and BitShift on integers.
var bitwiseOpLists = ops.Join(
	bitwiseOps("BitwiseAnd", "y = a & b (integers, numpy broadcasting)", opBitAnd, 18),
	bitwiseOps("BitwiseOr", "y = a | b (integers, numpy broadcasting)", opBitOr, 18),
	bitwiseOps("BitwiseXor", "y = a ^ b (integers, numpy broadcasting)", opBitXor, 18),
	bitwiseOps("BitwiseNot", "y = ^x (integers)", opBitNot, 18),
	bitShiftOps,
)
