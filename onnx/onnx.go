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
// Load holds about one copy of the weights at its peak: it leaves large
// raw_data in the file while it parses the rest, then reads each straight
// into its tensor's memory (stream.go); Parse holds the caller's bytes and
// the tensors.
//
// Errors name the file and the graph, node, initializer or value at fault.
func Load(path string) (*ir.Model, error) {
	if m, err := loadSkim(path); !errors.Is(err, errSkim) {
		if err != nil {
			return nil, fmt.Errorf("onnx: %s: %w", filepath.Base(path), err)
		}
		return m, nil
	}
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

// loadSkim is Load through skim (stream.go); errSkim means read the file
// whole instead.
func loadSkim(path string) (*ir.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errSkim
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, errSkim
	}
	mp, s, err := skimModel(f, st.Size())
	if err != nil {
		return nil, errSkim
	}
	d := newDecoder(filepath.Dir(path), true)
	d.ext.skim = s
	return d.model(mp)
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
