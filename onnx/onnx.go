package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx/onnxpb"
)

// ErrFormat is wrapped by errors about bytes that are not a valid protobuf
// message (truncated or garbage files).
var ErrFormat = errors.New("not a valid ONNX protobuf")

// Load reads the .onnx file at path. External tensor data is read from files
// in the model's folder (never outside it).
//
// Errors name the file and the graph, node, initializer or value at fault.
func Load(path string) (*ir.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m, err := parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", filepath.Base(path), err)
	}
	return m, nil
}

// Parse decodes a serialized ModelProto. External tensor data is read
// relative to baseDir; baseDir "" refuses models with external data.
func Parse(data []byte, baseDir string) (*ir.Model, error) {
	m, err := parse(data, baseDir)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return m, nil
}

func parse(data []byte, baseDir string) (*ir.Model, error) {
	var mp onnxpb.ModelProto
	if err := unmarshal(data, &mp); err != nil {
		return nil, err
	}
	// data is not read again, so the collector may free it (Load's copy
	// of the file) while the tensors are decoded; they share the parsed
	// raw_data, which is mp's own, rather than copy it.
	return modelFromProto(&mp, baseDir, true)
}

// unmarshal decodes a protobuf message, wrapping failures in ErrFormat.
func unmarshal(data []byte, m proto.Message) error {
	if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, m); err != nil {
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return nil
}
