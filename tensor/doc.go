// Package tensor holds gort's values: dense tensors of every ONNX dtype,
// sequences, optionals and maps, with broadcasting, dtype conversion and
// .npy I/O.
//
// # Overview
//
// A Tensor is a row-major typed Go slice plus a shape. Element types without
// a native Go type (float16, bfloat16, the float8 and 4-bit types) are kept
// as their bit patterns (Float16Bits, BFloat16Bits, F8E4M3FN, ...), one
// element per slice item, and widened to float32 for arithmetic.
//
//	t := tensor.Must([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
//	x := tensor.Data[float32](t) // the backing slice
//
// Sizes coming from files are untrusted: New and From check shapes with
// NumElements (negative dimensions and overflow are errors) before
// allocating, and decoders check declared sizes against the bytes present.
package tensor
