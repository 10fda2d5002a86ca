// Package conformance runs ONNX backend node tests and compares gort with
// independent references.
//
// # Overview
//
// Discover finds test folders (model.onnx + test_data_set_*); Run executes
// them on a provider, binding inputs by the names stored in the .pb files
// when present (else by position) and comparing outputs with the ONNX
// runner's tolerances (rtol 1e-3, atol 1e-7, rtol 2^-6 for bfloat16 outputs,
// NaN equals NaN). Random ops are
// checked for dtype and shape only, as ONNX's runner does. The files in
// expected/ list every test expected to fail, with its reason; the suite
// test fails when an unlisted test fails or a listed test passes. The lists
// cover both node suites gort runs: the 1802 tests committed to onnx (the
// shared copy) and the 1884 that scripts/gen-node-tests.sh generates from
// the onnx wheel; a listed test the running suite lacks is not checked.
//
// RandomFeeds makes shape-aware inputs for comparing providers on a model.
package conformance
