package onnx

import (
	"testing"

	"github.com/gort-ml/gort/tensor"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and a model
// it accepts must encode and decode again.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data, "")
		if err != nil {
			return
		}
		b, err := Marshal(m)
		if err != nil {
			t.Fatalf("Marshal of a parsed model: %v", err)
		}
		if _, err := Parse(b, ""); err != nil {
			t.Fatalf("Parse(Marshal(m)): %v", err)
		}
	})
}

// FuzzTensorProto feeds arbitrary bytes to ParseTensor and ParseValue: no
// panics, and a tensor it accepts survives TensorToProto/TensorFromProto.
func FuzzTensorProto(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range []tensor.Kind{tensor.KindSequence, tensor.KindOptional, tensor.KindMap} {
			if _, v, err := ParseValue(data, tensor.Type{Kind: k}); err == nil {
				if _, err := MarshalValue("v", v); err != nil {
					t.Fatalf("MarshalValue of a parsed %T: %v", v, err)
				}
			}
		}
		name, x, err := ParseTensor(data)
		if err != nil {
			return
		}
		tp, err := TensorToProto(name, x)
		if err != nil {
			t.Fatalf("TensorToProto of a parsed tensor: %v", err)
		}
		y, err := TensorFromProto(tp, "")
		if err != nil {
			t.Fatalf("TensorFromProto(TensorToProto(x)): %v", err)
		}
		if !tensor.Equal(x, y) {
			t.Fatalf("round trip changed %v to %v", x, y)
		}
	})
}
