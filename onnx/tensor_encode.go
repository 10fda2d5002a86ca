package onnx

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/tensor"
)

// TensorToProto encodes t as a TensorProto named name. Every dtype but
// string is written to raw_data (little endian, sub-byte types packed low
// bits first, as onnx.numpy_helper does); strings go to string_data.
func TensorToProto(name string, t *tensor.Tensor) (*onnxpb.TensorProto, error) {
	tp, err := tensorProto(t)
	if err != nil {
		return nil, fmt.Errorf("onnx: tensor %q: %w", name, err)
	}
	tp.Name = optString(name)
	return tp, nil
}

// encodeRaw returns t's elements in raw_data layout.
func encodeRaw(t *tensor.Tensor) ([]byte, error) {
	n := t.Len()
	out := make([]byte, rawSize(t.DType(), n))
	switch d := t.Raw().(type) {
	case []float32:
		putFixed(out, 4, d, func(b []byte, v float32) { le.PutUint32(b, math.Float32bits(v)) })
	case []float64:
		putFixed(out, 8, d, func(b []byte, v float64) { le.PutUint64(b, math.Float64bits(v)) })
	case []int8:
		putFixed(out, 1, d, func(b []byte, v int8) { b[0] = byte(v) })
	case []int16:
		putFixed(out, 2, d, func(b []byte, v int16) { le.PutUint16(b, uint16(v)) })
	case []int32:
		putFixed(out, 4, d, func(b []byte, v int32) { le.PutUint32(b, uint32(v)) })
	case []int64:
		putFixed(out, 8, d, func(b []byte, v int64) { le.PutUint64(b, uint64(v)) })
	case []uint8:
		copy(out, d)
	case []uint16:
		putFixed(out, 2, d, func(b []byte, v uint16) { le.PutUint16(b, v) })
	case []uint32:
		putFixed(out, 4, d, func(b []byte, v uint32) { le.PutUint32(b, v) })
	case []uint64:
		putFixed(out, 8, d, func(b []byte, v uint64) { le.PutUint64(b, v) })
	case []bool:
		putFixed(out, 1, d, func(b []byte, v bool) {
			if v {
				b[0] = 1
			}
		})
	case []complex64:
		putFixed(out, 8, d, func(b []byte, v complex64) {
			le.PutUint32(b, math.Float32bits(real(v)))
			le.PutUint32(b[4:], math.Float32bits(imag(v)))
		})
	case []complex128:
		putFixed(out, 16, d, func(b []byte, v complex128) {
			le.PutUint64(b, math.Float64bits(real(v)))
			le.PutUint64(b[8:], math.Float64bits(imag(v)))
		})
	case []tensor.Float16Bits:
		putFixed(out, 2, d, func(b []byte, v tensor.Float16Bits) { le.PutUint16(b, uint16(v)) })
	case []tensor.BFloat16Bits:
		putFixed(out, 2, d, func(b []byte, v tensor.BFloat16Bits) { le.PutUint16(b, uint16(v)) })
	case []tensor.F8E4M3FN:
		putBytes(out, d)
	case []tensor.F8E4M3FNUZ:
		putBytes(out, d)
	case []tensor.F8E5M2:
		putBytes(out, d)
	case []tensor.F8E5M2FNUZ:
		putBytes(out, d)
	case []tensor.F8E8M0:
		putBytes(out, d)
	case []tensor.U4:
		pack(out, 4, d)
	case []tensor.I4:
		pack(out, 4, d)
	case []tensor.F4E2M1:
		pack(out, 4, d)
	case []tensor.U2:
		pack(out, 2, d)
	case []tensor.I2:
		pack(out, 2, d)
	default:
		return nil, fmt.Errorf("%w %v", tensor.ErrUnsupportedDType, t.DType())
	}
	return out, nil
}

func putFixed[T any](out []byte, size int, s []T, put func([]byte, T)) {
	for i, v := range s {
		put(out[i*size:i*size+size], v)
	}
}

func putBytes[T ~uint8](out []byte, s []T) {
	for i, v := range s {
		out[i] = byte(v)
	}
}

// pack writes bits-wide elements, first element in the least significant bits.
func pack[T ~uint8 | ~int8](out []byte, bits int, s []T) {
	per := 8 / bits
	mask := byte(1)<<bits - 1
	for i, v := range s {
		out[i/per] |= (byte(v) & mask) << (bits * (i % per))
	}
}
