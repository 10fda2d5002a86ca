// Package onnx reads and writes ONNX model files: it converts between the
// protobuf messages of onnx.proto (package onnxpb, generated from the
// onnx 1.23.0 release by scripts/gen-proto.sh) and gort's in-memory graph
// (package ir).
//
// # Overview
//
// Load and Parse decode a ModelProto into an *ir.Model: graphs with their
// subgraphs (held in ops.Attr.G / Attr.Graphs as *ir.Graph), nodes,
// attributes of every kind, initializers, sparse tensors, value types with
// symbolic dimensions, model-local functions and metadata. Fields gort does
// not interpret (training_info, configuration, device_configurations and
// unknown fields) are kept as serialized bytes in ir.Model.Unmodeled and
// ir.Node.Unmodeled, so Marshal and Save write back what was read.
//
// TensorFromProto and TensorToProto convert single tensors; ParseValue,
// ParseTensor and MarshalValue handle the serialized TensorProto,
// SequenceProto, OptionalProto and MapProto files of the ONNX backend tests.
//
// A model file is untrusted input. Decoding never panics and never
// allocates what the file merely claims: element counts from dims are
// checked against the bytes actually present first. External data is read
// only from inside the model's folder (absolute paths, ".." components and
// symlinks leading outside are refused), and offsets and lengths must lie
// within the file and match the tensor's size. Errors name the file and the
// graph, node, initializer or value at fault, e.g.
//
//	onnx: model.onnx: graph "main": initializer "w": dims [2 3] need 24 bytes, raw_data has 20
package onnx
