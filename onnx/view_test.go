package onnx

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/tensor"
)

// rawOf returns the address of the slice a tensor holds.
func rawOf(t *tensor.Tensor) uintptr { return reflect.ValueOf(t.Raw()).Pointer() }

// TestRawDataShared: a tensor decoded from raw_data the decoder owns
// shares its memory where the dtype has a fixed width, the machine is
// little-endian and the bytes are aligned for the dtype; otherwise (bool,
// sub-byte dtypes, misaligned bytes, a big-endian machine, a caller's
// TensorProto) it is a copy. Either way the values are those the copying
// decoder gives.
func TestRawDataShared(t *testing.T) {
	defer func(le, share bool) { littleEndian, shareRaw = le, share }(littleEndian, shareRaw)
	if !littleEndian {
		t.Skip("big-endian machine: raw_data is always copied (the other cases still run in the copy path)")
	}
	r := rand.New(rand.NewPCG(1, 2))
	const n = 6
	shared := map[tensor.DType]bool{}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Complex64, tensor.Complex128, tensor.Float16,
		tensor.BFloat16, tensor.Float8E4M3FN, tensor.Float8E5M2FNUZ, tensor.Float8E8M0} {
		shared[dt] = true
	}
	for _, dt := range append([]tensor.DType{tensor.Bool, tensor.Int4, tensor.Uint2}, tensor.Float32, tensor.Float64, tensor.Int16,
		tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Complex64,
		tensor.Complex128, tensor.Float16, tensor.BFloat16, tensor.Int8, tensor.Float8E4M3FN, tensor.Float8E5M2FNUZ, tensor.Float8E8M0) {
		size := rawSize(dt, n)
		// buf is 16-aligned (its own allocation); raw at offset off.
		buf := make([]byte, size+16)
		for i := range buf {
			buf[i] = byte(r.Uint32())
			if dt == tensor.Bool {
				buf[i] &= 1
			}
		}
		for _, off := range []int{0, 1, 2, 4} {
			raw := buf[off : off+size]
			name := fmt.Sprintf("%v at offset %d", dt, off)
			shareRaw, littleEndian = false, true
			want := decodeRaw(dt, n, raw, true)
			for _, c := range []struct {
				what       string
				share, le  bool
				wantShared bool
			}{
				{"shared", true, true, shared[dt] && off%reflect.TypeOf(want).Elem().Align() == 0},
				{"caller's bytes", false, true, false},
				{"big-endian", true, false, false},
			} {
				shareRaw, littleEndian = true, c.le
				got := decodeRaw(dt, n, raw, c.share)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s, %s: %v, copying decoder gives %v", name, c.what, got, want)
				}
				if isShared := reflect.ValueOf(got).Pointer() == reflect.ValueOf(raw).Pointer(); isShared != c.wantShared {
					t.Errorf("%s, %s: shares raw_data %v, want %v", name, c.what, isShared, c.wantShared)
				}
			}
		}
	}
}

// TestModelSharesRawData: Parse shares the initializers' raw_data of the
// ModelProto it parsed (the decoded tensor and the TensorProto hold one
// buffer), ModelFromProto copies the caller's, and both give equal
// tensors.
func TestModelSharesRawData(t *testing.T) {
	w := tensor.Must([]int{3, 2}, []float32{1, -2, 3.5, 4, 5, 6e-8})
	mp := &onnxpb.ModelProto{IrVersion: ptr(int64(8)), OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: ptr(int64(17))}},
		Graph: &onnxpb.GraphProto{Name: ptr("g")}}
	wp, err := TensorToProto("w", w)
	if err != nil {
		t.Fatal(err)
	}
	mp.Graph.Initializer = []*onnxpb.TensorProto{wp}
	m, err := ModelFromProto(mp, "")
	if err != nil {
		t.Fatal(err)
	}
	got := m.Graph.Initializers[0].T
	if !tensor.Equal(got, w) {
		t.Fatalf("ModelFromProto: %v, want %v", got, w)
	}
	if rawOf(got) == uintptr(reflect.ValueOf(wp.RawData).Pointer()) {
		t.Errorf("ModelFromProto shares the caller's raw_data")
	}
	// The decoder's own ModelProto: owned, so shared where aligned.
	m, err = modelFromProto(mp, "", true)
	if err != nil {
		t.Fatal(err)
	}
	got = m.Graph.Initializers[0].T
	if !tensor.Equal(got, w) {
		t.Fatalf("owned ModelProto: %v, want %v", got, w)
	}
	if aligned := reflect.ValueOf(wp.RawData).Pointer()%4 == 0; aligned && littleEndian && rawOf(got) != uintptr(reflect.ValueOf(wp.RawData).Pointer()) {
		t.Errorf("an owned, aligned raw_data was copied")
	}
}

func ptr[T any](v T) *T { return &v }
