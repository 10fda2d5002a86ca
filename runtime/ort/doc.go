// Package ort is a runtime.Provider that runs models with ONNX Runtime.
//
// # Overview
//
// The provider is the reference gort's own kernels are checked against and a
// way to run a model on a GPU where ONNX Runtime has one:
//
//	s, err := runtime.NewSession(m, runtime.Options{Provider: ort.New(ort.Options{})})
//
// Prepare serializes the ir.Model with onnx.Marshal and hands the bytes to an
// ONNX Runtime session (github.com/yalue/onnxruntime_go creates the
// environment, the session options with their execution provider, and the
// session). Run feeds the tensors it is given, by name: an
// initializer-backed graph input that is not fed keeps its initializer.
// Numeric inputs are shared with ONNX Runtime, not copied (they are pinned
// for the run); outputs are allocated by ONNX Runtime and copied into gort
// tensors. Every dtype ONNX Runtime has is passed: float16/32/64, bfloat16,
// the float8 types, signed and unsigned integers of 2 to 64 bits (the
// sub-byte ones packed as ONNX Runtime expects), bool, complex and string,
// at any rank including scalars and empty tensors. Sequence, map and
// optional values are not: they fail with an error wrapping
// runtime.ErrUnavailable that names the input or output.
//
// Run is safe for concurrent use (ONNX Runtime sessions are) and stops when
// its context is cancelled. Close releases the session after runs in
// progress finish.
//
// # The library
//
// ONNX Runtime is a shared library loaded at the first Prepare, from
// Options.Library, else $GORT_ORT_LIB, else
// ~/.cache/gort/onnxruntime-1.30.0/libonnxruntime.so.1, which `make ort`
// installs (scripts/fetch-ort.sh takes the CPU build from the
// onnxruntime-node npm package). One library is loaded per process. When it
// is missing, Prepare fails with an error wrapping runtime.ErrUnavailable
// that says to run `make ort` or set GORT_ORT_LIB; so does asking for the
// "cuda" or "tensorrt" execution provider from a CPU-only build.
//
// # Building without cgo
//
// ONNX Runtime is reached through cgo, and cgo is confined to this package.
// With CGO_ENABLED=0 the package still builds: New works and Prepare returns
// an error wrapping runtime.ErrUnavailable, so a pure-Go gort binary runs
// every model natively and reports clearly when asked for ONNX Runtime.
//
// # Why a C shim
//
// onnxruntime_go v1.27.0 cannot create rank-0 tensors of most dtypes,
// mis-sizes float16 and bfloat16 outputs it allocates, and fixes a session's
// input names when it is created. The small C file in this package
// (shim.c, over the ONNX Runtime C API headers in include/, copied from
// onnxruntime_go v1.27.0) builds tensors, runs the session onnxruntime_go
// created and reads its outputs instead. It also probes, once, how the
// loaded library numbers float8e8m0, uint2 and int2 (ONNX Runtime's C API
// enum departs from onnx.proto's there, and 1.30 reads inputs by the
// onnx.proto numbers while reporting outputs by the C API ones).
package ort
