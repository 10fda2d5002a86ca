package elementwise

import (
	"fmt"
	"math"
	"strings"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Cast: y = convert(x, to) elementwise (see tensor.ConvertRound for the
// rules). `to` is a dtype number (a type name string before opset 6);
// saturate (opset 19+) applies to float8 targets, round_mode (24+) to
// float8e8m0 targets.
var castOps = ops.Versions("", "Cast", "y = Cast(x, to): convert each element to dtype `to` (float8 saturate, e8m0 round_mode)",
	[]int{1, 6, 9, 13, 19, 21, 23, 24, 25, 28}, inferCast, compileCast)

// CastLike: y = Cast(x, to = dtype(target_type)); target's values are not read.
var castLikeOps = ops.Versions("", "CastLike", "y = CastLike(x, target): Cast x to target's dtype",
	[]int{15, 19, 21, 23, 24, 25}, inferCastLike, compileCastLike)

// BitCast: y has x's shape and bits, reinterpreted as dtype `to` of equal bit width.
var bitCastOps = ops.Versions("", "BitCast", "y = BitCast(x, to): reinterpret each element's bits as dtype `to` (same bit width)",
	[]int{26}, inferCast, compileBitCast)

// castNames maps Cast-1's string `to` attribute to dtypes.
var castNames = map[string]tensor.DType{
	"FLOAT": tensor.Float32, "UINT8": tensor.Uint8, "INT8": tensor.Int8, "UINT16": tensor.Uint16,
	"INT16": tensor.Int16, "INT32": tensor.Int32, "INT64": tensor.Int64, "STRING": tensor.String,
	"BOOL": tensor.Bool, "FLOAT16": tensor.Float16, "DOUBLE": tensor.Float64, "UINT32": tensor.Uint32,
	"UINT64": tensor.Uint64, "COMPLEX64": tensor.Complex64, "COMPLEX128": tensor.Complex128,
	"BFLOAT16": tensor.BFloat16,
}

// castTo reads the `to` attribute.
func castTo(n *ops.Node) (tensor.DType, error) {
	a := n.Attr("to")
	if a == nil {
		return 0, fmt.Errorf("attribute \"to\" is required")
	}
	var d tensor.DType
	switch a.Type {
	case ops.AttrInt:
		d = tensor.DType(a.I)
	case ops.AttrString:
		var ok bool
		if d, ok = castNames[strings.ToUpper(string(a.S))]; !ok {
			return 0, fmt.Errorf("attribute \"to\" names unknown type %q", a.S)
		}
	default:
		return 0, fmt.Errorf("attribute \"to\" is %v, want int", a.Type)
	}
	if !d.Supported() {
		return 0, fmt.Errorf("cannot cast to %v: %w", d, tensor.ErrUnsupportedDType)
	}
	return d, nil
}

func inferCast(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	d, err := castTo(n)
	if err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := in[0]
	t.Kind = tensor.KindTensor
	t.DType = d
	return []tensor.Type{t}, nil
}

// inferCastLike: input 0's shape with input 1's dtype.
func inferCastLike(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("CastLike needs 2 inputs, got %d", len(in))
	}
	t := in[0]
	t.Kind = tensor.KindTensor
	t.DType = in[1].DType
	return []tensor.Type{t}, nil
}

// castAttrs reads saturate and round_mode.
func castAttrs(n *ops.Node) (bool, tensor.E8M0Rounding, error) {
	sat := n.Int("saturate", 1) != 0
	mode, err := tensor.ParseE8M0Rounding(n.String("round_mode", "up"))
	if err == nil {
		err = n.Err()
	}
	return sat, mode, err
}

func compileCast(n *ops.Node) (*ops.Kernel, error) {
	to, err := castTo(n)
	if err != nil {
		return nil, err
	}
	sat, mode, err := castAttrs(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		y, err := cast(c, in[0], to, sat, mode)
		return c.Result(y), err
	}}, nil
}

func compileCastLike(n *ops.Node) (*ops.Kernel, error) {
	sat, mode, err := castAttrs(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		y, err := cast(c, in[0], in[1].DType(), sat, mode)
		return c.Result(y), err
	}}, nil
}

func cast(c *ops.Ctx, x *tensor.Tensor, to tensor.DType, sat bool, mode tensor.E8M0Rounding) (*tensor.Tensor, error) {
	y, err := c.New(to, x.Shape()...)
	if err != nil {
		return nil, err
	}
	if err := tensor.ConvertRound(y, x, sat, mode); err != nil {
		return nil, err
	}
	return y, nil
}

func compileBitCast(n *ops.Node) (*ops.Kernel, error) {
	to, err := castTo(n)
	if err != nil {
		return nil, err
	}
	if to == tensor.String {
		return nil, fmt.Errorf("cannot bitcast to string")
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if bitWidth(x.DType()) != bitWidth(to) || x.DType() == tensor.String {
			return nil, fmt.Errorf("cannot bitcast %v (%d bits) to %v (%d bits): widths must be equal", x.DType(), bitWidth(x.DType()), to, bitWidth(to))
		}
		y, err := c.New(to, x.Shape()...)
		if err != nil {
			return nil, err
		}
		if to == x.DType() {
			return c.Result(x.Clone()), nil
		}
		writeBits(y.Raw(), readBits(x.Raw()))
		return c.Result(y), nil
	}}, nil
}

// bitWidth is the width of one element in bits (0 for strings).
func bitWidth(d tensor.DType) int {
	switch d {
	case tensor.Int4, tensor.Uint4, tensor.Float4E2M1:
		return 4
	case tensor.Int2, tensor.Uint2:
		return 2
	}
	return 8 * d.Size()
}

// readBits returns each element's bit pattern (complex128 is never
// reinterpreted: it is the only 128-bit dtype).
func readBits(src any) []uint64 {
	switch s := src.(type) {
	case []float32:
		return bitsOf(s, func(v float32) uint64 { return uint64(math.Float32bits(v)) })
	case []float64:
		return bitsOf(s, math.Float64bits)
	case []complex64:
		return bitsOf(s, func(v complex64) uint64 {
			return uint64(math.Float32bits(real(v))) | uint64(math.Float32bits(imag(v)))<<32
		})
	case []bool:
		return bitsOf(s, func(v bool) uint64 {
			if v {
				return 1
			}
			return 0
		})
	case []int8:
		return bitsOf(s, func(v int8) uint64 { return uint64(uint8(v)) })
	case []int16:
		return bitsOf(s, func(v int16) uint64 { return uint64(uint16(v)) })
	case []int32:
		return bitsOf(s, func(v int32) uint64 { return uint64(uint32(v)) })
	case []int64:
		return bitsOf(s, func(v int64) uint64 { return uint64(v) })
	case []tensor.I4:
		return bitsOf(s, func(v tensor.I4) uint64 { return uint64(v) & 0xf })
	case []tensor.I2:
		return bitsOf(s, func(v tensor.I2) uint64 { return uint64(v) & 0x3 })
	case []uint8:
		return bitsOf(s, func(v uint8) uint64 { return uint64(v) })
	case []uint16:
		return bitsOf(s, func(v uint16) uint64 { return uint64(v) })
	case []uint32:
		return bitsOf(s, func(v uint32) uint64 { return uint64(v) })
	case []uint64:
		return bitsOf(s, func(v uint64) uint64 { return v })
	case []tensor.Float16Bits:
		return bitsOf(s, func(v tensor.Float16Bits) uint64 { return uint64(v) })
	case []tensor.BFloat16Bits:
		return bitsOf(s, func(v tensor.BFloat16Bits) uint64 { return uint64(v) })
	case []tensor.F8E4M3FN:
		return bitsOf(s, func(v tensor.F8E4M3FN) uint64 { return uint64(v) })
	case []tensor.F8E4M3FNUZ:
		return bitsOf(s, func(v tensor.F8E4M3FNUZ) uint64 { return uint64(v) })
	case []tensor.F8E5M2:
		return bitsOf(s, func(v tensor.F8E5M2) uint64 { return uint64(v) })
	case []tensor.F8E5M2FNUZ:
		return bitsOf(s, func(v tensor.F8E5M2FNUZ) uint64 { return uint64(v) })
	case []tensor.F8E8M0:
		return bitsOf(s, func(v tensor.F8E8M0) uint64 { return uint64(v) })
	case []tensor.F4E2M1:
		return bitsOf(s, func(v tensor.F4E2M1) uint64 { return uint64(v) & 0xf })
	case []tensor.U4:
		return bitsOf(s, func(v tensor.U4) uint64 { return uint64(v) & 0xf })
	case []tensor.U2:
		return bitsOf(s, func(v tensor.U2) uint64 { return uint64(v) & 0x3 })
	}
	panic(fmt.Sprintf("elementwise: readBits of %T", src))
}

func bitsOf[T any](s []T, f func(T) uint64) []uint64 {
	out := make([]uint64, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// writeBits stores bit patterns as dst's element type.
func writeBits(dst any, b []uint64) {
	switch d := dst.(type) {
	case []float32:
		fromBits(d, b, func(v uint64) float32 { return math.Float32frombits(uint32(v)) })
	case []float64:
		fromBits(d, b, math.Float64frombits)
	case []complex64:
		fromBits(d, b, func(v uint64) complex64 {
			return complex(math.Float32frombits(uint32(v)), math.Float32frombits(uint32(v>>32)))
		})
	case []bool:
		fromBits(d, b, func(v uint64) bool { return v != 0 })
	case []int8:
		fromBits(d, b, func(v uint64) int8 { return int8(v) })
	case []int16:
		fromBits(d, b, func(v uint64) int16 { return int16(v) })
	case []int32:
		fromBits(d, b, func(v uint64) int32 { return int32(v) })
	case []int64:
		fromBits(d, b, func(v uint64) int64 { return int64(v) })
	case []tensor.I4:
		fromBits(d, b, func(v uint64) tensor.I4 { return tensor.I4FromInt64(int64(v)) })
	case []tensor.I2:
		fromBits(d, b, func(v uint64) tensor.I2 { return tensor.I2FromInt64(int64(v)) })
	case []uint8:
		fromBits(d, b, func(v uint64) uint8 { return uint8(v) })
	case []uint16:
		fromBits(d, b, func(v uint64) uint16 { return uint16(v) })
	case []uint32:
		fromBits(d, b, func(v uint64) uint32 { return uint32(v) })
	case []uint64:
		copy(d, b)
	case []tensor.Float16Bits:
		fromBits(d, b, func(v uint64) tensor.Float16Bits { return tensor.Float16Bits(v) })
	case []tensor.BFloat16Bits:
		fromBits(d, b, func(v uint64) tensor.BFloat16Bits { return tensor.BFloat16Bits(v) })
	case []tensor.F8E4M3FN:
		fromBits(d, b, func(v uint64) tensor.F8E4M3FN { return tensor.F8E4M3FN(v) })
	case []tensor.F8E4M3FNUZ:
		fromBits(d, b, func(v uint64) tensor.F8E4M3FNUZ { return tensor.F8E4M3FNUZ(v) })
	case []tensor.F8E5M2:
		fromBits(d, b, func(v uint64) tensor.F8E5M2 { return tensor.F8E5M2(v) })
	case []tensor.F8E5M2FNUZ:
		fromBits(d, b, func(v uint64) tensor.F8E5M2FNUZ { return tensor.F8E5M2FNUZ(v) })
	case []tensor.F8E8M0:
		fromBits(d, b, func(v uint64) tensor.F8E8M0 { return tensor.F8E8M0(v) })
	case []tensor.F4E2M1:
		fromBits(d, b, func(v uint64) tensor.F4E2M1 { return tensor.F4E2M1(v & 0xf) })
	case []tensor.U4:
		fromBits(d, b, func(v uint64) tensor.U4 { return tensor.U4(v & 0xf) })
	case []tensor.U2:
		fromBits(d, b, func(v uint64) tensor.U2 { return tensor.U2(v & 0x3) })
	default:
		panic(fmt.Sprintf("elementwise: writeBits to %T", dst))
	}
}

func fromBits[T any](d []T, b []uint64, f func(uint64) T) {
	for i, v := range b {
		d[i] = f(v)
	}
}
