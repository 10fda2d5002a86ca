package ort_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// Helpers that build small graphs in Go.

func vi(name string, d tensor.DType, shape ...int) *ir.ValueInfo {
	return &ir.ValueInfo{Name: name, Type: tensor.TensorType(d, shape...)}
}

// out declares a graph output by dtype only, leaving its shape to inference.
func out(name string, d tensor.DType) *ir.ValueInfo {
	return &ir.ValueInfo{Name: name, Type: tensor.Type{Kind: tensor.KindTensor, DType: d}}
}

func node(op string, in, outs []string, attrs ...ops.Attr) *ir.Node {
	return &ir.Node{OpType: op, Inputs: in, Outputs: outs, Attrs: attrs}
}

func intAttr(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }

func intsAttr(name string, v ...int64) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrInts, Ints: v}
}

func floatAttr(name string, v float32) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrFloat, F: v}
}

func model(opset int64, nodes []*ir.Node, inputs, outputs []*ir.ValueInfo, inits ...*ir.Initializer) *ir.Model {
	return &ir.Model{
		IRVersion: 8,
		Opsets:    []ir.OpsetID{{Domain: "", Version: opset}},
		Graph: &ir.Graph{
			Name:         "test",
			Nodes:        nodes,
			Inputs:       inputs,
			Outputs:      outputs,
			Initializers: inits,
		},
	}
}

func TestName(t *testing.T) {
	for ep, want := range map[string]string{"": "ort", "cpu": "ort", "CUDA": "ort-cuda", "tensorrt": "ort-tensorrt"} {
		if got := ort.New(ort.Options{EP: ep}).Name(); got != want {
			t.Errorf("EP %q: Name() = %q, want %q", ep, got, want)
		}
	}
}

func TestDefaultLibrary(t *testing.T) {
	t.Setenv("GORT_ORT_LIB", "/x/libonnxruntime.so")
	if got := ort.DefaultLibrary(); got != "/x/libonnxruntime.so" {
		t.Errorf("with GORT_ORT_LIB: %q", got)
	}
	t.Setenv("GORT_ORT_LIB", "")
	t.Setenv("GORT_CACHE", "/cache")
	if got := ort.DefaultLibrary(); got != "/cache/onnxruntime-1.30.0/libonnxruntime.so.1" {
		t.Errorf("with GORT_CACHE: %q", got)
	}
}

// A missing library is reported as unavailable, with what to do.
func TestMissingLibrary(t *testing.T) {
	m := model(13, []*ir.Node{node("Relu", []string{"x"}, []string{"y"})},
		[]*ir.ValueInfo{vi("x", tensor.Float32, 2)}, []*ir.ValueInfo{out("y", tensor.Float32)})
	_, err := runtime.NewSession(m, runtime.Options{Provider: ort.New(ort.Options{Library: "/nonexistent/libonnxruntime.so.1"})})
	if !errors.Is(err, runtime.ErrUnavailable) {
		t.Fatalf("error %v does not wrap runtime.ErrUnavailable", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "make ort") && !strings.Contains(msg, "without cgo") && !strings.Contains(msg, "already loaded") {
		t.Errorf("error %q does not say what to do", msg)
	}
}
