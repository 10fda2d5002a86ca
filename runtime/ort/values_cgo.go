//go:build cgo

package ort

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"reflect"
	goruntime "runtime"
	"unsafe"

	"github.com/gort-ml/gort/tensor"
)

// ONNX Runtime's C API numbers element types as onnx.proto does up to
// FLOAT4E2M1 (23); then it has UINT2 = 24, INT2 = 25, FLOAT8E8M0 = 26 where
// onnx.proto has FLOAT8E8M0 = 24, UINT2 = 25, INT2 = 26. Outputs report C API
// numbers. Inputs take them too, except in releases (1.30 among them) that
// read an input's element type as an onnx.proto number; initEnv probes which
// (gort_wire_inputs) and sets wireInputs. gort's DType is the onnx.proto number.
var wireInputs bool

const (
	apiUint2      = 24
	apiInt2       = 25
	apiFloat8E8M0 = 26
)

// ortElemType maps a gort dtype to the element type to create an input with.
func ortElemType(d tensor.DType) (C.int, bool) {
	if d < tensor.Float32 || d > tensor.Int2 {
		return 0, false
	}
	if wireInputs {
		return C.int(d), true
	}
	switch d {
	case tensor.Float8E8M0:
		return apiFloat8E8M0, true
	case tensor.Uint2:
		return apiUint2, true
	case tensor.Int2:
		return apiInt2, true
	}
	return C.int(d), true
}

// gortDType maps the C API element type of an output to a gort dtype.
func gortDType(et C.int) (tensor.DType, bool) {
	switch {
	case et == apiUint2:
		return tensor.Uint2, true
	case et == apiInt2:
		return tensor.Int2, true
	case et == apiFloat8E8M0:
		return tensor.Float8E8M0, true
	case et >= C.int(tensor.Float32) && et <= C.int(tensor.Float4E2M1):
		return tensor.DType(et), true
	}
	return 0, false
}

// perByte is how many elements ORT packs into one byte (1 for whole-byte types).
func perByte(d tensor.DType) int {
	switch d {
	case tensor.Int4, tensor.Uint4, tensor.Float4E2M1:
		return 2
	case tensor.Int2, tensor.Uint2:
		return 4
	}
	return 1
}

// rawBytes returns a pointer to t's elements and their size in bytes. Every
// fixed-size gort dtype is laid out in memory as ORT lays it out (bool as
// one 0/1 byte), except the packed sub-byte types.
func rawBytes(t *tensor.Tensor) (unsafe.Pointer, int) {
	v := reflect.ValueOf(t.Raw())
	return v.UnsafePointer(), v.Len() * int(v.Type().Elem().Size())
}

// toOrt wraps an input as an OrtValue. Numeric data is shared, not copied:
// it is pinned until the run ends.
func toOrt(name string, v tensor.Value, pin *goruntime.Pinner) (*C.OrtValue, error) {
	t, ok := v.(*tensor.Tensor)
	if !ok {
		return nil, unavailable("input %q is a %s; the ORT provider passes tensors only (sequence, map and optional values need the native provider)", name, kindName(v))
	}
	shape := make([]C.int64_t, t.Rank())
	for i, d := range t.Shape() {
		shape[i] = C.int64_t(d)
	}
	var shapePtr *C.int64_t
	if len(shape) > 0 {
		shapePtr = &shape[0]
	}
	var ov *C.OrtValue
	if t.DType() == tensor.String {
		strs := tensor.Data[string](t)
		var buf []byte
		offsets := make([]C.size_t, len(strs)+1)
		for i, s := range strs {
			buf = append(buf, s...)
			offsets[i+1] = C.size_t(len(buf))
		}
		var bufPtr *C.char
		if len(buf) > 0 {
			bufPtr = (*C.char)(unsafe.Pointer(&buf[0]))
		}
		if err := cError(C.gort_string_tensor(shapePtr, C.size_t(len(shape)), bufPtr, &offsets[0], C.size_t(len(strs)), &ov)); err != nil {
			return nil, fmt.Errorf("ort: input %q: %w", name, err)
		}
		return ov, nil
	}
	et, ok := ortElemType(t.DType())
	if !ok {
		return nil, unavailable("input %q has dtype %v, which ONNX Runtime's C API has no element type for; Cast it first", name, t.DType())
	}
	var data unsafe.Pointer
	var n int
	if k := perByte(t.DType()); k > 1 {
		packed := pack(t, k)
		data, n = unsafe.Pointer(unsafe.SliceData(packed)), len(packed)
	} else {
		data, n = rawBytes(t)
	}
	if n > 0 {
		pin.Pin(data)
	}
	if err := cError(C.gort_tensor_from_data(data, C.size_t(n), shapePtr, C.size_t(len(shape)), et, &ov)); err != nil {
		return nil, fmt.Errorf("ort: input %q: %w", name, err)
	}
	return ov, nil
}

func kindName(v tensor.Value) string {
	switch v.(type) {
	case *tensor.Sequence:
		return "sequence"
	case *tensor.Map:
		return "map"
	case *tensor.Optional:
		return "optional"
	}
	return fmt.Sprintf("%T", v)
}

// ONNXType values of the C API.
var ortValueKinds = map[C.int]string{0: "unknown", 1: "tensor", 2: "sequence", 3: "map", 4: "opaque", 5: "sparse tensor", 6: "optional"}

// fromOrt copies an ORT-allocated output into a gort tensor.
func fromOrt(name string, ov *C.OrtValue, maxEl int) (*tensor.Tensor, error) {
	if ov == nil {
		return nil, fmt.Errorf("ort: output %q was not produced", name)
	}
	var kind, et C.int
	var dims [64]C.int64_t
	var rank C.size_t
	var data unsafe.Pointer
	if err := cError(C.gort_tensor_info(ov, &kind, &et, &dims[0], C.size_t(len(dims)), &rank, &data)); err != nil {
		return nil, fmt.Errorf("ort: output %q: %w", name, err)
	}
	if kind != 1 {
		return nil, unavailable("output %q is a %s value; the ORT provider returns tensors only, use the native provider", name, ortValueKinds[kind])
	}
	shape := make([]int, rank)
	for i := range shape {
		shape[i] = int(dims[i])
	}
	count, err := tensor.NumElements(shape)
	if err != nil {
		return nil, fmt.Errorf("ort: output %q: %w", name, err)
	}
	if count > maxEl {
		return nil, fmt.Errorf("ort: output %q has %d elements, over the session's limit of %d (runtime.Options.MaxTensorElements)", name, count, maxEl)
	}
	if et == C.int(tensor.String) {
		return stringOutput(name, ov, shape, count)
	}
	d, ok := gortDType(et)
	if !ok {
		return nil, unavailable("output %q has ONNX Runtime element type %d, which gort cannot hold", name, int(et))
	}
	t, err := tensor.New(d, shape...)
	if err != nil {
		return nil, fmt.Errorf("ort: output %q: %w", name, err)
	}
	if count == 0 {
		return t, nil
	}
	if k := perByte(d); k > 1 {
		unpack(t, unsafe.Slice((*byte)(data), (count+k-1)/k), k)
		return t, nil
	}
	dst, n := rawBytes(t)
	copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(data), n))
	return t, nil
}

func stringOutput(name string, ov *C.OrtValue, shape []int, count int) (*tensor.Tensor, error) {
	strs := make([]string, count)
	if count > 0 {
		var total C.size_t
		if err := cError(C.gort_string_length(ov, &total)); err != nil {
			return nil, fmt.Errorf("ort: output %q: %w", name, err)
		}
		buf := make([]byte, int(total)+1) // +1: never pass a zero-length buffer
		offsets := make([]C.size_t, count)
		if err := cError(C.gort_string_content(ov, unsafe.Pointer(&buf[0]), total, &offsets[0], C.size_t(count))); err != nil {
			return nil, fmt.Errorf("ort: output %q: %w", name, err)
		}
		for i := range strs {
			end := int(total)
			if i+1 < count {
				end = int(offsets[i+1])
			}
			strs[i] = string(buf[int(offsets[i]):end])
		}
	}
	return tensor.From(shape, strs)
}

// pack stores k sub-byte elements per byte, the first in the low bits, as
// ONNX and ORT do.
func pack(t *tensor.Tensor, k int) []byte {
	bits := 8 / k
	mask := byte(1)<<bits - 1
	n := t.Len()
	out := make([]byte, (n+k-1)/k)
	src, _ := rawBytes(t) // every sub-byte type is held one per byte
	b := unsafe.Slice((*byte)(src), n)
	for i, v := range b {
		out[i/k] |= (v & mask) << (bits * (i % k))
	}
	return out
}

// unpack is the inverse of pack; signed types are sign-extended.
func unpack(t *tensor.Tensor, packed []byte, k int) {
	bits := 8 / k
	mask := byte(1)<<bits - 1
	n := t.Len()
	dst, _ := rawBytes(t)
	b := unsafe.Slice((*byte)(dst), n)
	signed := t.DType() == tensor.Int4 || t.DType() == tensor.Int2
	for i := range b {
		v := packed[i/k] >> (bits * (i % k)) & mask
		if signed {
			v = byte(int8(v<<(8-bits)) >> (8 - bits))
		}
		b[i] = v
	}
}
