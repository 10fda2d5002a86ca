package onnx

import (
	"testing"

	"github.com/gort-ml/gort/tensor"
)

func benchmarkDecode(b *testing.B, dt tensor.DType, n int) {
	x := tensor.Zeros(dt, n)
	tp, err := TensorToProto("x", x)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(tp.RawData)))
	b.ResetTimer()
	for range b.N {
		if _, err := TensorFromProto(tp, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkEncode(b *testing.B, dt tensor.DType, n int) {
	x := tensor.Zeros(dt, n)
	b.SetBytes(int64(rawSize(dt, n)))
	for range b.N {
		if _, err := TensorToProto("x", x); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeFloat32_1M(b *testing.B) { benchmarkDecode(b, tensor.Float32, 1<<20) }
func BenchmarkDecodeInt64_1M(b *testing.B)   { benchmarkDecode(b, tensor.Int64, 1<<20) }
func BenchmarkDecodeFloat16_1M(b *testing.B) { benchmarkDecode(b, tensor.Float16, 1<<20) }
func BenchmarkEncodeFloat32_1M(b *testing.B) { benchmarkEncode(b, tensor.Float32, 1<<20) }
