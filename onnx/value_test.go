package onnx

import (
	"strings"
	"testing"

	"github.com/gort-ml/gort/tensor"
)

func TestValueRoundTrip(t *testing.T) {
	f32 := tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}
	seqT := tensor.Type{Kind: tensor.KindSequence, Elem: &f32}
	cases := []struct {
		name string
		typ  tensor.Type
		v    tensor.Value
	}{
		{"tensor", f32, tensor.Must([]int{2}, []float32{1, 2})},
		{"sequence", seqT, &tensor.Sequence{Elem: f32, Items: []tensor.Value{
			tensor.Must([]int{1}, []float32{1}), tensor.Must([]int{2}, []float32{2, 3})}}},
		{"empty sequence", seqT, &tensor.Sequence{Elem: f32}},
		{"nested sequence", tensor.Type{Kind: tensor.KindSequence, Elem: &seqT}, &tensor.Sequence{Elem: seqT, Items: []tensor.Value{
			&tensor.Sequence{Elem: f32, Items: []tensor.Value{tensor.Scalar(float32(4))}}}}},
		{"optional", tensor.Type{Kind: tensor.KindOptional, Elem: &f32}, &tensor.Optional{Elem: f32, V: tensor.Scalar(float32(5))}},
		{"empty optional", tensor.Type{Kind: tensor.KindOptional, Elem: &f32}, &tensor.Optional{Elem: f32}},
		{"optional sequence", tensor.Type{Kind: tensor.KindOptional, Elem: &seqT}, &tensor.Optional{Elem: seqT,
			V: &tensor.Sequence{Elem: f32, Items: []tensor.Value{tensor.Scalar(float32(6))}}}},
		{"map string keys", tensor.Type{Kind: tensor.KindMap, DType: tensor.String, Elem: &f32}, &tensor.Map{
			Keys:   tensor.Must([]int{2}, []string{"a", "b"}),
			Values: &tensor.Sequence{Elem: f32, Items: []tensor.Value{tensor.Scalar(float32(1)), tensor.Scalar(float32(2))}}}},
		{"map int32 keys", tensor.Type{Kind: tensor.KindMap, DType: tensor.Int32, Elem: &f32}, &tensor.Map{
			Keys:   tensor.Must([]int{2}, []int32{-1, 7}),
			Values: &tensor.Sequence{Elem: f32, Items: []tensor.Value{tensor.Scalar(float32(1)), tensor.Scalar(float32(2))}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := MarshalValue("v", c.v)
			if err != nil {
				t.Fatal(err)
			}
			name, got, err := ParseValue(b, c.typ)
			if err != nil {
				t.Fatal(err)
			}
			if name != "v" || !valueEqual(got, c.v) {
				t.Fatalf("got %q %#v, want %#v", name, got, c.v)
			}
		})
	}
}

// A map whose values are a tensor is stored as a sequence of its rows.
func TestMapTensorValues(t *testing.T) {
	m := &tensor.Map{Keys: tensor.Must([]int{2}, []int64{1, 2}), Values: tensor.Must([]int{2, 2}, []float32{1, 2, 3, 4})}
	b, err := MarshalValue("m", m)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := ParseValue(b, tensor.Type{Kind: tensor.KindMap})
	if err != nil {
		t.Fatal(err)
	}
	want := &tensor.Map{Keys: m.Keys, Values: &tensor.Sequence{Elem: tensor.Type{Kind: tensor.KindTensor}, Items: []tensor.Value{
		tensor.Must([]int{2}, []float32{1, 2}), tensor.Must([]int{2}, []float32{3, 4})}}}
	if !valueEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
}

func TestParseValueErrors(t *testing.T) {
	if _, _, err := ParseValue([]byte{0xff, 0xff}, tensor.Type{Kind: tensor.KindSequence}); err == nil || !strings.Contains(err.Error(), "not a valid ONNX protobuf") {
		t.Errorf("garbage sequence: %v", err)
	}
	bad, _ := MarshalValue("s", &tensor.Sequence{Elem: tensor.Type{Kind: tensor.KindTensor}, Items: []tensor.Value{tensor.Scalar(float32(1))}})
	bad = append(bad, 0x0a) // truncated trailing field
	if _, _, err := ParseValue(bad, tensor.Type{Kind: tensor.KindSequence}); err == nil {
		t.Error("truncated sequence accepted")
	}
	if _, _, err := ParseValue(nil, tensor.Type{Kind: tensor.KindOpaque}); err == nil {
		t.Error("opaque value accepted")
	}
}
