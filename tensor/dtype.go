package tensor

import "fmt"

// DType is an element type. The values are ONNX's TensorProto.DataType numbers,
// so a DType converts to and from the wire format without a table.
type DType int32

// Element types, numbered as in onnx.proto (TensorProto.DataType).
const (
	Undefined      DType = 0
	Float32        DType = 1
	Uint8          DType = 2
	Int8           DType = 3
	Uint16         DType = 4
	Int16          DType = 5
	Int32          DType = 6
	Int64          DType = 7
	String         DType = 8
	Bool           DType = 9
	Float16        DType = 10
	Float64        DType = 11
	Uint32         DType = 12
	Uint64         DType = 13
	Complex64      DType = 14
	Complex128     DType = 15
	BFloat16       DType = 16
	Float8E4M3FN   DType = 17
	Float8E4M3FNUZ DType = 18
	Float8E5M2     DType = 19
	Float8E5M2FNUZ DType = 20
	Uint4          DType = 21
	Int4           DType = 22
	Float4E2M1     DType = 23
	Float8E8M0     DType = 24
	Uint2          DType = 25
	Int2           DType = 26
	Float6E2M3     DType = 27
	Float6E3M2     DType = 28
)

var dtypeNames = map[DType]string{
	Undefined: "undefined", Float32: "float32", Uint8: "uint8", Int8: "int8", Uint16: "uint16",
	Int16: "int16", Int32: "int32", Int64: "int64", String: "string", Bool: "bool",
	Float16: "float16", Float64: "float64", Uint32: "uint32", Uint64: "uint64",
	Complex64: "complex64", Complex128: "complex128", BFloat16: "bfloat16",
	Float8E4M3FN: "float8e4m3fn", Float8E4M3FNUZ: "float8e4m3fnuz", Float8E5M2: "float8e5m2",
	Float8E5M2FNUZ: "float8e5m2fnuz", Uint4: "uint4", Int4: "int4", Float4E2M1: "float4e2m1",
	Float8E8M0: "float8e8m0", Uint2: "uint2", Int2: "int2", Float6E2M3: "float6e2m3", Float6E3M2: "float6e3m2",
}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// Supported reports whether gort can hold tensors of this dtype.
func (d DType) Supported() bool {
	switch d {
	case Float32, Float64, Float16, BFloat16, Int8, Int16, Int32, Int64,
		Uint8, Uint16, Uint32, Uint64, Bool, String, Complex64, Complex128,
		Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0,
		Uint4, Int4, Float4E2M1, Uint2, Int2:
		return true
	}
	return false
}

// IsFloat reports whether d is a floating-point dtype (any width).
func (d DType) IsFloat() bool {
	switch d {
	case Float32, Float64, Float16, BFloat16, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2,
		Float8E5M2FNUZ, Float8E8M0, Float4E2M1, Float6E2M3, Float6E3M2:
		return true
	}
	return false
}

// IsInt reports whether d is a signed or unsigned integer dtype.
func (d DType) IsInt() bool {
	switch d {
	case Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32, Uint64, Int4, Uint4, Int2, Uint2:
		return true
	}
	return false
}

// IsSigned reports whether d is a signed integer dtype.
func (d DType) IsSigned() bool {
	switch d {
	case Int8, Int16, Int32, Int64, Int4, Int2:
		return true
	}
	return false
}

// Size is the number of bytes one element occupies in memory in gort (sub-byte
// types are held unpacked, one element per byte). Strings report 0.
func (d DType) Size() int {
	switch d {
	case Float32, Int32, Uint32:
		return 4
	case Float64, Int64, Uint64, Complex64:
		return 8
	case Complex128:
		return 16
	case Float16, BFloat16, Int16, Uint16:
		return 2
	case Int8, Uint8, Bool, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0,
		Uint4, Int4, Float4E2M1, Uint2, Int2:
		return 1
	}
	return 0
}

// ErrUnsupportedDType is wrapped by errors about dtypes gort cannot hold.
var ErrUnsupportedDType = fmt.Errorf("unsupported dtype")

// Element types that have no native Go type. They are stored as their bit patterns.
type (
	// Float16Bits is an IEEE 754 half-precision value (bit pattern).
	Float16Bits uint16
	// BFloat16Bits is a bfloat16 value (the upper 16 bits of a float32).
	BFloat16Bits uint16
	// F8E4M3FN, F8E4M3FNUZ, F8E5M2, F8E5M2FNUZ, F8E8M0 are 8-bit float bit patterns.
	F8E4M3FN   uint8
	F8E4M3FNUZ uint8
	F8E5M2     uint8
	F8E5M2FNUZ uint8
	F8E8M0     uint8
	// F4E2M1 is a 4-bit float held in the low nibble of a byte.
	F4E2M1 uint8
	// U4, I4, U2, I2 are sub-byte integers held one per byte (I4/I2 sign-extended).
	U4 uint8
	I4 int8
	U2 uint8
	I2 int8
)

// Elem is the set of Go element types a Tensor can hold.
type Elem interface {
	float32 | float64 | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 |
		bool | string | complex64 | complex128 | Float16Bits | BFloat16Bits |
		F8E4M3FN | F8E4M3FNUZ | F8E5M2 | F8E5M2FNUZ | F8E8M0 | F4E2M1 | U4 | I4 | U2 | I2
}

// Number is the set of Go element types with native arithmetic.
type Number interface {
	float32 | float64 | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
}

// Float is the set of native Go floating-point types.
type Float interface{ float32 | float64 }

// Integer is the set of native Go integer types.
type Integer interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
}

// DTypeOf returns the DType of element type T.
func DTypeOf[T Elem]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int8:
		return Int8
	case int16:
		return Int16
	case int32:
		return Int32
	case int64:
		return Int64
	case uint8:
		return Uint8
	case uint16:
		return Uint16
	case uint32:
		return Uint32
	case uint64:
		return Uint64
	case bool:
		return Bool
	case string:
		return String
	case complex64:
		return Complex64
	case complex128:
		return Complex128
	case Float16Bits:
		return Float16
	case BFloat16Bits:
		return BFloat16
	case F8E4M3FN:
		return Float8E4M3FN
	case F8E4M3FNUZ:
		return Float8E4M3FNUZ
	case F8E5M2:
		return Float8E5M2
	case F8E5M2FNUZ:
		return Float8E5M2FNUZ
	case F8E8M0:
		return Float8E8M0
	case F4E2M1:
		return Float4E2M1
	case U4:
		return Uint4
	case I4:
		return Int4
	case U2:
		return Uint2
	case I2:
		return Int2
	}
	panic("unreachable")
}

// makeSlice allocates a zeroed slice of n elements of dtype d with room
// for capacity (at least n).
func makeSlice(d DType, n, capacity int) (any, error) {
	switch d {
	case Float32:
		return make([]float32, n, capacity), nil
	case Float64:
		return make([]float64, n, capacity), nil
	case Int8:
		return make([]int8, n, capacity), nil
	case Int16:
		return make([]int16, n, capacity), nil
	case Int32:
		return make([]int32, n, capacity), nil
	case Int64:
		return make([]int64, n, capacity), nil
	case Uint8:
		return make([]uint8, n, capacity), nil
	case Uint16:
		return make([]uint16, n, capacity), nil
	case Uint32:
		return make([]uint32, n, capacity), nil
	case Uint64:
		return make([]uint64, n, capacity), nil
	case Bool:
		return make([]bool, n, capacity), nil
	case String:
		return make([]string, n, capacity), nil
	case Complex64:
		return make([]complex64, n, capacity), nil
	case Complex128:
		return make([]complex128, n, capacity), nil
	case Float16:
		return make([]Float16Bits, n, capacity), nil
	case BFloat16:
		return make([]BFloat16Bits, n, capacity), nil
	case Float8E4M3FN:
		return make([]F8E4M3FN, n, capacity), nil
	case Float8E4M3FNUZ:
		return make([]F8E4M3FNUZ, n, capacity), nil
	case Float8E5M2:
		return make([]F8E5M2, n, capacity), nil
	case Float8E5M2FNUZ:
		return make([]F8E5M2FNUZ, n, capacity), nil
	case Float8E8M0:
		return make([]F8E8M0, n, capacity), nil
	case Float4E2M1:
		return make([]F4E2M1, n, capacity), nil
	case Uint4:
		return make([]U4, n, capacity), nil
	case Int4:
		return make([]I4, n, capacity), nil
	case Uint2:
		return make([]U2, n, capacity), nil
	case Int2:
		return make([]I2, n, capacity), nil
	}
	return nil, fmt.Errorf("tensor: %w %v", ErrUnsupportedDType, d)
}
