package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/tensor"
)

// TensorFromProto decodes tp into a tensor. Data stored externally is read
// from files relative to baseDir; baseDir "" refuses external data.
//
// It fails, naming the tensor, when the dtype is not one gort holds (the
// error wraps tensor.ErrUnsupportedDType), when a dimension is negative or
// the element count overflows, or when the data present does not hold
// exactly the elements the dims describe. Sizes are checked against the
// bytes actually present before anything is allocated.
func TensorFromProto(tp *onnxpb.TensorProto, baseDir string) (*tensor.Tensor, error) {
	return tensorFromProto(tp, baseDir, false)
}

// tensorFromProto is TensorFromProto; owned says tp belongs to the caller
// alone, so the tensor may share tp's raw_data (see decodeTensor).
func tensorFromProto(tp *onnxpb.TensorProto, baseDir string, owned bool) (*tensor.Tensor, error) {
	t, err := decodeTensor(tp, newExternalReader(baseDir), owned)
	if err != nil {
		return nil, fmt.Errorf("onnx: tensor %q: %w", tp.GetName(), err)
	}
	return t, nil
}

// protoShape converts dims to a shape and its element count, rejecting
// negative dimensions and overflow.
func protoShape(dims []int64) ([]int, int, error) {
	shape := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > tensor.MaxElements {
			return nil, 0, fmt.Errorf("dims %v: dimension %d is %d", dims, i, d)
		}
		shape[i] = int(d)
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, 0, fmt.Errorf("dims %v: %w", dims, err)
	}
	return shape, n, nil
}

// rawSize is the number of raw_data bytes n elements of dt occupy
// (sub-byte types packed, low bits first).
func rawSize(dt tensor.DType, n int) int {
	switch dt {
	case tensor.Uint4, tensor.Int4, tensor.Float4E2M1:
		return (n + 1) / 2
	case tensor.Uint2, tensor.Int2:
		return (n + 3) / 4
	case tensor.Bool:
		return n
	}
	return n * dt.Size()
}

// decodeTensor is TensorFromProto without the tensor's name in errors.
// Where owned is set (tp is the decoder's own, parsed from bytes), a
// tensor of a fixed-width dtype may share raw_data's memory instead of
// copying it (see view); external data is always read into memory of its
// own and may be shared too.
func decodeTensor(tp *onnxpb.TensorProto, ext *externalReader, owned bool) (*tensor.Tensor, error) {
	if tp == nil {
		return nil, fmt.Errorf("missing tensor")
	}
	dt := tensor.DType(tp.GetDataType())
	if dt == tensor.Undefined {
		return nil, fmt.Errorf("data_type is not set (%w)", tensor.ErrUnsupportedDType)
	}
	if !dt.Supported() {
		return nil, fmt.Errorf("%w %v", tensor.ErrUnsupportedDType, dt)
	}
	shape, n, err := protoShape(tp.GetDims())
	if err != nil {
		return nil, err
	}
	if tp.Segment != nil {
		return nil, fmt.Errorf("segmented tensors (segment %d..%d) are not supported", tp.Segment.GetBegin(), tp.Segment.GetEnd())
	}
	raw := tp.RawData
	src := "raw_data"
	if sp, ok := ext.skimmed(tp); ok && tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
		// Load left this raw_data in the file (skim): read it now, into
		// memory of its own (no more than the file holds), and check it
		// below as any raw_data.
		if raw, err = ext.skim.read(sp); err != nil {
			return nil, err
		}
		owned = true
	}
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if dt == tensor.String {
			return nil, fmt.Errorf("string tensors cannot be stored externally")
		}
		raw, err = ext.read(tp.GetExternalData(), rawSize(dt, n))
		if err != nil {
			return nil, err
		}
		src = "external data"
		owned = true
	}
	var data any
	if dt == tensor.String {
		if len(raw) > 0 {
			return nil, fmt.Errorf("string tensor has raw_data; strings must be in string_data")
		}
		sd := tp.GetStringData()
		if len(sd) != n {
			return nil, fmt.Errorf("dims %v need %d strings, string_data has %d", tp.GetDims(), n, len(sd))
		}
		s := make([]string, n)
		for i, b := range sd {
			s[i] = string(b)
		}
		data = s
	} else if raw != nil || n == 0 && !hasTypedData(tp) {
		if want := rawSize(dt, n); len(raw) != want {
			return nil, fmt.Errorf("dims %v need %d bytes, %s has %d", tp.GetDims(), want, src, len(raw))
		}
		data = decodeRaw(dt, n, raw, owned)
	} else {
		data, err = decodeTyped(tp, dt, n)
		if err != nil {
			return nil, err
		}
	}
	return tensor.FromRaw(dt, shape, data)
}

func hasTypedData(tp *onnxpb.TensorProto) bool {
	return len(tp.FloatData)+len(tp.Int32Data)+len(tp.StringData)+len(tp.Int64Data)+len(tp.DoubleData)+len(tp.Uint64Data) > 0
}

var le = binary.LittleEndian

// decodeRaw decodes little-endian raw bytes; len(raw) == rawSize(dt, n).
// With share set, the result may use raw's memory (see view).
func decodeRaw(dt tensor.DType, n int, raw []byte, share bool) any {
	switch dt {
	case tensor.Float32:
		return fixed(share, n, raw, func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) })
	case tensor.Float64:
		return fixed(share, n, raw, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) })
	case tensor.Int8:
		return fixed(share, n, raw, func(b []byte) int8 { return int8(b[0]) })
	case tensor.Int16:
		return fixed(share, n, raw, func(b []byte) int16 { return int16(le.Uint16(b)) })
	case tensor.Int32:
		return fixed(share, n, raw, func(b []byte) int32 { return int32(le.Uint32(b)) })
	case tensor.Int64:
		return fixed(share, n, raw, func(b []byte) int64 { return int64(le.Uint64(b)) })
	case tensor.Uint8:
		return fixed(share, n, raw, func(b []byte) uint8 { return b[0] })
	case tensor.Uint16:
		return fixed(share, n, raw, le.Uint16)
	case tensor.Uint32:
		return fixed(share, n, raw, le.Uint32)
	case tensor.Uint64:
		return fixed(share, n, raw, le.Uint64)
	case tensor.Bool:
		// Never shared: a byte other than 0 and 1 is no valid bool.
		return fixed(false, n, raw, func(b []byte) bool { return b[0] != 0 })
	case tensor.Complex64:
		return fixed(share, n, raw, func(b []byte) complex64 {
			return complex(math.Float32frombits(le.Uint32(b)), math.Float32frombits(le.Uint32(b[4:])))
		})
	case tensor.Complex128:
		return fixed(share, n, raw, func(b []byte) complex128 {
			return complex(math.Float64frombits(le.Uint64(b)), math.Float64frombits(le.Uint64(b[8:])))
		})
	case tensor.Float16:
		return fixed(share, n, raw, func(b []byte) tensor.Float16Bits { return tensor.Float16Bits(le.Uint16(b)) })
	case tensor.BFloat16:
		return fixed(share, n, raw, func(b []byte) tensor.BFloat16Bits { return tensor.BFloat16Bits(le.Uint16(b)) })
	case tensor.Float8E4M3FN:
		return fixed(share, n, raw, func(b []byte) tensor.F8E4M3FN { return tensor.F8E4M3FN(b[0]) })
	case tensor.Float8E4M3FNUZ:
		return fixed(share, n, raw, func(b []byte) tensor.F8E4M3FNUZ { return tensor.F8E4M3FNUZ(b[0]) })
	case tensor.Float8E5M2:
		return fixed(share, n, raw, func(b []byte) tensor.F8E5M2 { return tensor.F8E5M2(b[0]) })
	case tensor.Float8E5M2FNUZ:
		return fixed(share, n, raw, func(b []byte) tensor.F8E5M2FNUZ { return tensor.F8E5M2FNUZ(b[0]) })
	case tensor.Float8E8M0:
		return fixed(share, n, raw, func(b []byte) tensor.F8E8M0 { return tensor.F8E8M0(b[0]) })
	case tensor.Uint4:
		return unpack(n, 4, func(i int) uint8 { return raw[i] }, func(v uint8) tensor.U4 { return tensor.U4(v) })
	case tensor.Int4:
		return unpack(n, 4, func(i int) uint8 { return raw[i] }, signExtend[tensor.I4](4))
	case tensor.Float4E2M1:
		return unpack(n, 4, func(i int) uint8 { return raw[i] }, func(v uint8) tensor.F4E2M1 { return tensor.F4E2M1(v) })
	case tensor.Uint2:
		return unpack(n, 2, func(i int) uint8 { return raw[i] }, func(v uint8) tensor.U2 { return tensor.U2(v) })
	case tensor.Int2:
		return unpack(n, 2, func(i int) uint8 { return raw[i] }, signExtend[tensor.I2](2))
	}
	panic(fmt.Sprintf("onnx: decodeRaw of %v", dt)) // decodeTensor checked Supported
}

// fixed decodes n values of T, each from its unsafe.Sizeof(T) bytes of raw
// by f, or, with share set, returns raw itself as n values of T where view
// can.
func fixed[T any](share bool, n int, raw []byte, f func([]byte) T) []T {
	if share {
		if v := view[T](raw, n); v != nil {
			return v
		}
	}
	size := int(unsafe.Sizeof(*new(T)))
	out := make([]T, n)
	for i := range out {
		out[i] = f(raw[i*size : i*size+size])
	}
	return out
}

// littleEndian is whether this machine stores values as raw_data does.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// shareRaw turns view off (tests compare both paths).
var shareRaw = true

// view returns raw, which holds n little-endian values of the fixed-width
// numeric type T, as a []T over the same memory, without copying: on a
// little-endian machine where raw is aligned for T. It returns nil
// otherwise (the caller copies). The result keeps raw's whole backing
// array alive, so raw must be memory of its own (a TensorProto's raw_data
// the decoder parsed, external data it read), not part of a larger buffer.
func view[T any](raw []byte, n int) []T {
	var zero T
	if !shareRaw || !littleEndian || n == 0 || len(raw) != n*int(unsafe.Sizeof(zero)) ||
		uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%unsafe.Alignof(zero) != 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(raw))), n)
}

// unpack splits n sub-byte elements of the given bit width from the bytes
// byteAt returns, first element in the least significant bits.
func unpack[T any](n, bits int, byteAt func(int) uint8, conv func(uint8) T) []T {
	per := 8 / bits
	mask := uint8(1)<<bits - 1
	out := make([]T, n)
	for i := range out {
		out[i] = conv(byteAt(i/per) >> (bits * (i % per)) & mask)
	}
	return out
}

// signExtend returns a conversion of a bits-wide two's-complement value to T.
func signExtend[T ~int8](bits int) func(uint8) T {
	shift := 8 - bits
	return func(v uint8) T { return T(int8(v<<shift) >> shift) }
}

// decodeTyped decodes the dtype-specific repeated fields (float_data,
// int32_data, ...), checking the count against n.
func decodeTyped(tp *onnxpb.TensorProto, dt tensor.DType, n int) (any, error) {
	count := func(field string, got, want int) error {
		if got != want {
			return fmt.Errorf("dims %v need %d values in %s, it has %d", tp.GetDims(), want, field, got)
		}
		return nil
	}
	i32 := tp.GetInt32Data()
	switch dt {
	case tensor.Float32:
		if err := count("float_data", len(tp.FloatData), n); err != nil {
			return nil, err
		}
		return append(make([]float32, 0, n), tp.FloatData...), nil
	case tensor.Complex64:
		if err := count("float_data", len(tp.FloatData), 2*n); err != nil {
			return nil, err
		}
		out := make([]complex64, n)
		for i := range out {
			out[i] = complex(tp.FloatData[2*i], tp.FloatData[2*i+1])
		}
		return out, nil
	case tensor.Float64:
		if err := count("double_data", len(tp.DoubleData), n); err != nil {
			return nil, err
		}
		return append(make([]float64, 0, n), tp.DoubleData...), nil
	case tensor.Complex128:
		if err := count("double_data", len(tp.DoubleData), 2*n); err != nil {
			return nil, err
		}
		out := make([]complex128, n)
		for i := range out {
			out[i] = complex(tp.DoubleData[2*i], tp.DoubleData[2*i+1])
		}
		return out, nil
	case tensor.Int64:
		if err := count("int64_data", len(tp.Int64Data), n); err != nil {
			return nil, err
		}
		return append(make([]int64, 0, n), tp.Int64Data...), nil
	case tensor.Uint64:
		if err := count("uint64_data", len(tp.Uint64Data), n); err != nil {
			return nil, err
		}
		return append(make([]uint64, 0, n), tp.Uint64Data...), nil
	case tensor.Uint32:
		if err := count("uint64_data", len(tp.Uint64Data), n); err != nil {
			return nil, err
		}
		return convert(tp.Uint64Data, func(v uint64) uint32 { return uint32(v) }), nil
	case tensor.Uint4, tensor.Int4, tensor.Float4E2M1, tensor.Uint2, tensor.Int2:
		return decodePackedInt32(tp, dt, n)
	}
	if err := count("int32_data", len(i32), n); err != nil {
		return nil, err
	}
	switch dt {
	case tensor.Int32:
		return append(make([]int32, 0, n), i32...), nil
	case tensor.Int16:
		return convert(i32, func(v int32) int16 { return int16(v) }), nil
	case tensor.Int8:
		return convert(i32, func(v int32) int8 { return int8(v) }), nil
	case tensor.Uint16:
		return convert(i32, func(v int32) uint16 { return uint16(v) }), nil
	case tensor.Uint8:
		return convert(i32, func(v int32) uint8 { return uint8(v) }), nil
	case tensor.Bool:
		return convert(i32, func(v int32) bool { return v != 0 }), nil
	case tensor.Float16:
		return convert(i32, func(v int32) tensor.Float16Bits { return tensor.Float16Bits(v) }), nil
	case tensor.BFloat16:
		return convert(i32, func(v int32) tensor.BFloat16Bits { return tensor.BFloat16Bits(v) }), nil
	case tensor.Float8E4M3FN:
		return convert(i32, func(v int32) tensor.F8E4M3FN { return tensor.F8E4M3FN(v) }), nil
	case tensor.Float8E4M3FNUZ:
		return convert(i32, func(v int32) tensor.F8E4M3FNUZ { return tensor.F8E4M3FNUZ(v) }), nil
	case tensor.Float8E5M2:
		return convert(i32, func(v int32) tensor.F8E5M2 { return tensor.F8E5M2(v) }), nil
	case tensor.Float8E5M2FNUZ:
		return convert(i32, func(v int32) tensor.F8E5M2FNUZ { return tensor.F8E5M2FNUZ(v) }), nil
	case tensor.Float8E8M0:
		return convert(i32, func(v int32) tensor.F8E8M0 { return tensor.F8E8M0(v) }), nil
	}
	return nil, fmt.Errorf("%w %v", tensor.ErrUnsupportedDType, dt)
}

// decodePackedInt32 reads sub-byte elements from int32_data, where each
// entry holds one packed byte (two 4-bit or four 2-bit elements). Entries
// holding one element each (n of them) are accepted too.
func decodePackedInt32(tp *onnxpb.TensorProto, dt tensor.DType, n int) (any, error) {
	i32 := tp.GetInt32Data()
	bits := 4
	if dt == tensor.Uint2 || dt == tensor.Int2 {
		bits = 2
	}
	byteAt := func(i int) uint8 { return uint8(i32[i]) }
	switch len(i32) {
	case rawSize(dt, n):
	case n:
		bits = 8 // one element per entry: unpack with one element per "byte"
	default:
		return nil, fmt.Errorf("dims %v need %d packed values in int32_data, it has %d", tp.GetDims(), rawSize(dt, n), len(i32))
	}
	mask := func(v uint8) uint8 {
		if dt == tensor.Uint2 || dt == tensor.Int2 {
			return v & 3
		}
		return v & 15
	}
	switch dt {
	case tensor.Uint4:
		return unpack(n, bits, byteAt, func(v uint8) tensor.U4 { return tensor.U4(mask(v)) }), nil
	case tensor.Int4:
		return unpack(n, bits, byteAt, func(v uint8) tensor.I4 { return signExtend[tensor.I4](4)(mask(v)) }), nil
	case tensor.Float4E2M1:
		return unpack(n, bits, byteAt, func(v uint8) tensor.F4E2M1 { return tensor.F4E2M1(mask(v)) }), nil
	case tensor.Uint2:
		return unpack(n, bits, byteAt, func(v uint8) tensor.U2 { return tensor.U2(mask(v)) }), nil
	default:
		return unpack(n, bits, byteAt, func(v uint8) tensor.I2 { return signExtend[tensor.I2](2)(mask(v)) }), nil
	}
}

func convert[S, T any](s []S, f func(S) T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}
