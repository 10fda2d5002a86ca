// Package ir is gort's in-memory model: Model, Graph, Node and typed values,
// mirroring ONNX's ModelProto closely enough that import and export lose
// nothing, but free of protobuf types.
//
// # Overview
//
// Values are connected by name as in ONNX. Graph.Validate reports every
// structural problem of a model at once (undefined inputs, values defined
// twice, cycles, excessive subgraph nesting) as an ErrorList;
// Graph.TopoOrder sorts nodes iteratively, so hostile graphs cannot exhaust
// the stack; InlineFunctions expands calls of model-local functions.
package ir
