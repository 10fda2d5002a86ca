package onnx

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/tensor"
)

func tp(dt tensor.DType, dims ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String("x"), DataType: proto.Int32(int32(dt)), Dims: dims}
}

func with(p *onnxpb.TensorProto, f func(*onnxpb.TensorProto)) *onnxpb.TensorProto {
	f(p)
	return p
}

// TestTensorFromProto decodes hand-written payloads of every dtype, in
// raw_data and in the typed fields, against hand-computed tensors.
func TestTensorFromProto(t *testing.T) {
	cases := []struct {
		name string
		in   *onnxpb.TensorProto
		want *tensor.Tensor
	}{
		{"float32 raw", with(tp(tensor.Float32, 2), func(p *onnxpb.TensorProto) {
			p.RawData = []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0} // 1, -2
		}), tensor.Must([]int{2}, []float32{1, -2})},
		{"float32 typed", with(tp(tensor.Float32, 2, 1), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1.5, 3} }),
			tensor.Must([]int{2, 1}, []float32{1.5, 3})},
		{"float64 raw", with(tp(tensor.Float64), func(p *onnxpb.TensorProto) {
			p.RawData = []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}
		}), tensor.Scalar(1.0)},
		{"float64 typed", with(tp(tensor.Float64, 1), func(p *onnxpb.TensorProto) { p.DoubleData = []float64{-0.5} }),
			tensor.Must([]int{1}, []float64{-0.5})},
		{"int8 raw", with(tp(tensor.Int8, 3), func(p *onnxpb.TensorProto) { p.RawData = []byte{0xff, 0x80, 7} }),
			tensor.Must([]int{3}, []int8{-1, -128, 7})},
		{"int8 typed", with(tp(tensor.Int8, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-1, 100} }),
			tensor.Must([]int{2}, []int8{-1, 100})},
		{"int16 raw", with(tp(tensor.Int16, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{0xfe, 0xff} }),
			tensor.Must([]int{1}, []int16{-2})},
		{"int16 typed", with(tp(tensor.Int16, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-300} }),
			tensor.Must([]int{1}, []int16{-300})},
		{"int32 raw", with(tp(tensor.Int32, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{1, 2, 0, 0} }),
			tensor.Must([]int{1}, []int32{0x201})},
		{"int32 typed", with(tp(tensor.Int32, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-5, 6} }),
			tensor.Must([]int{2}, []int32{-5, 6})},
		{"int64 raw", with(tp(tensor.Int64, 1), func(p *onnxpb.TensorProto) {
			p.RawData = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		}), tensor.Must([]int{1}, []int64{-1})},
		{"int64 typed", with(tp(tensor.Int64, 2), func(p *onnxpb.TensorProto) { p.Int64Data = []int64{1 << 40, -3} }),
			tensor.Must([]int{2}, []int64{1 << 40, -3})},
		{"uint8 raw", with(tp(tensor.Uint8, 2), func(p *onnxpb.TensorProto) { p.RawData = []byte{255, 1} }),
			tensor.Must([]int{2}, []uint8{255, 1})},
		{"uint8 typed", with(tp(tensor.Uint8, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{200} }),
			tensor.Must([]int{1}, []uint8{200})},
		{"uint16 typed", with(tp(tensor.Uint16, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{65535} }),
			tensor.Must([]int{1}, []uint16{65535})},
		{"uint16 raw", with(tp(tensor.Uint16, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x34, 0x12} }),
			tensor.Must([]int{1}, []uint16{0x1234})},
		{"uint32 typed", with(tp(tensor.Uint32, 1), func(p *onnxpb.TensorProto) { p.Uint64Data = []uint64{1<<32 - 1} }),
			tensor.Must([]int{1}, []uint32{1<<32 - 1})},
		{"uint32 raw", with(tp(tensor.Uint32, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{1, 0, 0, 0x80} }),
			tensor.Must([]int{1}, []uint32{0x80000001})},
		{"uint64 typed", with(tp(tensor.Uint64, 1), func(p *onnxpb.TensorProto) { p.Uint64Data = []uint64{1 << 63} }),
			tensor.Must([]int{1}, []uint64{1 << 63})},
		{"uint64 raw", with(tp(tensor.Uint64, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{2, 0, 0, 0, 0, 0, 0, 0} }),
			tensor.Must([]int{1}, []uint64{2})},
		{"bool raw", with(tp(tensor.Bool, 3), func(p *onnxpb.TensorProto) { p.RawData = []byte{1, 0, 1} }),
			tensor.Must([]int{3}, []bool{true, false, true})},
		{"bool typed", with(tp(tensor.Bool, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0, 1} }),
			tensor.Must([]int{2}, []bool{false, true})},
		{"string", with(tp(tensor.String, 2), func(p *onnxpb.TensorProto) { p.StringData = [][]byte{[]byte("a"), {}} }),
			tensor.Must([]int{2}, []string{"a", ""})},
		{"complex64 typed", with(tp(tensor.Complex64, 2), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1, 2, 3, 4} }),
			tensor.Must([]int{2}, []complex64{1 + 2i, 3 + 4i})},
		{"complex64 raw", with(tp(tensor.Complex64, 1), func(p *onnxpb.TensorProto) {
			p.RawData = []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40} // 1 + 2i
		}), tensor.Must([]int{1}, []complex64{1 + 2i})},
		{"complex128 typed", with(tp(tensor.Complex128, 1), func(p *onnxpb.TensorProto) { p.DoubleData = []float64{-1, 0.5} }),
			tensor.Must([]int{1}, []complex128{-1 + 0.5i})},
		{"complex128 raw", with(tp(tensor.Complex128, 1), func(p *onnxpb.TensorProto) {
			p.RawData = []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0} // 1 - 2i
		}), tensor.Must([]int{1}, []complex128{1 - 2i})},
		{"float16 typed", with(tp(tensor.Float16, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x3c00, 0xc000} }),
			tensor.Must([]int{2}, []tensor.Float16Bits{0x3c00, 0xc000})},
		{"float16 raw", with(tp(tensor.Float16, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x00, 0x3c} }),
			tensor.Must([]int{1}, []tensor.Float16Bits{0x3c00})},
		{"bfloat16 typed", with(tp(tensor.BFloat16, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x3f80} }),
			tensor.Must([]int{1}, []tensor.BFloat16Bits{0x3f80})},
		{"bfloat16 raw", with(tp(tensor.BFloat16, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x80, 0x3f} }),
			tensor.Must([]int{1}, []tensor.BFloat16Bits{0x3f80})},
		{"float8e4m3fn typed", with(tp(tensor.Float8E4M3FN, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x38, 0x7f} }),
			tensor.Must([]int{2}, []tensor.F8E4M3FN{0x38, 0x7f})},
		{"float8e4m3fn raw", with(tp(tensor.Float8E4M3FN, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{0xb8} }),
			tensor.Must([]int{1}, []tensor.F8E4M3FN{0xb8})},
		{"float8e4m3fnuz raw", with(tp(tensor.Float8E4M3FNUZ, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x80} }),
			tensor.Must([]int{1}, []tensor.F8E4M3FNUZ{0x80})},
		{"float8e5m2 typed", with(tp(tensor.Float8E5M2, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x3c} }),
			tensor.Must([]int{1}, []tensor.F8E5M2{0x3c})},
		{"float8e5m2fnuz raw", with(tp(tensor.Float8E5M2FNUZ, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x40} }),
			tensor.Must([]int{1}, []tensor.F8E5M2FNUZ{0x40})},
		{"float8e8m0 typed", with(tp(tensor.Float8E8M0, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{127} }),
			tensor.Must([]int{1}, []tensor.F8E8M0{127})},
		// 4-bit: two per byte, first element in the low nibble.
		{"uint4 raw odd", with(tp(tensor.Uint4, 3), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x21, 0x0f} }),
			tensor.Must([]int{3}, []tensor.U4{1, 2, 15})},
		{"int4 raw", with(tp(tensor.Int4, 4), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x8f, 0x70} }),
			tensor.Must([]int{4}, []tensor.I4{-1, -8, 0, 7})},
		{"int4 typed packed", with(tp(tensor.Int4, 2, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x8f, 0x70} }),
			tensor.Must([]int{2, 2}, []tensor.I4{-1, -8, 0, 7})},
		{"uint4 typed packed odd", with(tp(tensor.Uint4, 3), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x21, 0x03} }),
			tensor.Must([]int{3}, []tensor.U4{1, 2, 3})},
		{"float4e2m1 raw", with(tp(tensor.Float4E2M1, 2), func(p *onnxpb.TensorProto) { p.RawData = []byte{0xa2} }),
			tensor.Must([]int{2}, []tensor.F4E2M1{2, 10})},
		// 2-bit: four per byte, first element in bits 0-1.
		{"uint2 raw", with(tp(tensor.Uint2, 5), func(p *onnxpb.TensorProto) { p.RawData = []byte{0b11_10_01_00, 0b10} }),
			tensor.Must([]int{5}, []tensor.U2{0, 1, 2, 3, 2})},
		{"int2 raw", with(tp(tensor.Int2, 4), func(p *onnxpb.TensorProto) { p.RawData = []byte{0b11_10_01_00} }),
			tensor.Must([]int{4}, []tensor.I2{0, 1, -2, -1})},
		{"int2 typed packed", with(tp(tensor.Int2, 4), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0b11_10_01_00} }),
			tensor.Must([]int{4}, []tensor.I2{0, 1, -2, -1})},
		{"empty", tp(tensor.Float32, 0, 3), tensor.Must([]int{0, 3}, []float32{})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := TensorFromProto(c.in, "")
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			// Encoding and decoding again gives the same tensor.
			enc, err := TensorToProto("x", got)
			if err != nil {
				t.Fatal(err)
			}
			back, err := TensorFromProto(enc, "")
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.Equal(back, c.want) {
				t.Fatalf("re-encoded: got %v, want %v", back, c.want)
			}
			if c.in.RawData != nil && string(enc.RawData) != string(c.in.RawData) && c.want.DType() != tensor.Bool {
				t.Fatalf("raw_data: got % x, want % x", enc.RawData, c.in.RawData)
			}
		})
	}
}

// TestTensorFromProtoErrors checks that bad tensors fail with an error naming
// the tensor and the problem, before allocating what dims claim.
func TestTensorFromProtoErrors(t *testing.T) {
	cases := []struct {
		name string
		in   *onnxpb.TensorProto
		want string
	}{
		{"short raw", with(tp(tensor.Float32, 2, 3), func(p *onnxpb.TensorProto) { p.RawData = make([]byte, 20) }),
			`tensor "x": dims [2 3] need 24 bytes, raw_data has 20`},
		{"long raw", with(tp(tensor.Int4, 3), func(p *onnxpb.TensorProto) { p.RawData = make([]byte, 3) }),
			`dims [3] need 2 bytes, raw_data has 3`},
		{"huge claim", with(tp(tensor.Float32, 1<<40), func(p *onnxpb.TensorProto) { p.RawData = make([]byte, 4) }),
			`need 4398046511104 bytes, raw_data has 4`},
		{"no data", tp(tensor.Float32, 1<<30), `need 1073741824 values in float_data, it has 0`},
		{"negative dim", with(tp(tensor.Float32, 2, -1), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1} }),
			`dims [2 -1]: dimension 1 is -1`},
		{"overflow", tp(tensor.Float32, 1<<30, 1<<30, 1<<30), `more than 2^40 elements`},
		{"typed count", with(tp(tensor.Int64, 3), func(p *onnxpb.TensorProto) { p.Int64Data = []int64{1, 2} }),
			`dims [3] need 3 values in int64_data, it has 2`},
		{"complex count", with(tp(tensor.Complex64, 2), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1, 2, 3} }),
			`need 4 values in float_data, it has 3`},
		{"string count", with(tp(tensor.String, 2), func(p *onnxpb.TensorProto) { p.StringData = [][]byte{{}} }),
			`need 2 strings, string_data has 1`},
		{"string raw", with(tp(tensor.String, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte("a") }),
			`strings must be in string_data`},
		{"packed count", with(tp(tensor.Uint4, 5), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{1, 2} }),
			`need 3 packed values in int32_data, it has 2`},
		{"undefined", tp(tensor.Undefined, 1), `data_type is not set`},
		{"segment", with(tp(tensor.Float32, 1), func(p *onnxpb.TensorProto) {
			p.Segment = &onnxpb.TensorProto_Segment{Begin: proto.Int64(0), End: proto.Int64(1)}
		}), `segmented tensors`},
		{"external in memory", with(tp(tensor.Float32, 1), func(p *onnxpb.TensorProto) {
			p.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
			p.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("w.bin")}}
		}), `external file "w.bin" but the model was parsed from memory`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := TensorFromProto(c.in, "")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), `tensor "x"`) {
				t.Fatalf("error %q does not name the tensor", err)
			}
		})
	}
	for _, dt := range []tensor.DType{tensor.Float6E2M3, tensor.Float6E3M2, 99} {
		_, err := TensorFromProto(with(tp(dt, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{1} }), "")
		if !errors.Is(err, tensor.ErrUnsupportedDType) || !strings.Contains(err.Error(), `tensor "x"`) {
			t.Errorf("dtype %v: got %v, want an error wrapping ErrUnsupportedDType naming the tensor", dt, err)
		}
	}
}
