package onnx

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/tensor"
)

// skimProto is a model with raw_data of at least minSkimmed bytes in every
// place skim reaches (an initializer, a Constant's tensor, an If branch's
// initializer, a function's Constant), small raw_data, typed data, a
// sparse initializer and a tensor carrying a forged skim marker.
func skimProto(t testing.TB) *onnxpb.ModelProto {
	big := func(name string, n int, seed float32) *onnxpb.TensorProto {
		v := make([]float32, n)
		for i := range v {
			v[i] = seed + float32(i)/7
		}
		tp, err := TensorToProto(name, tensor.Must([]int{n}, v))
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	small := big("small", 3, 1)
	var forged []byte
	forged = protowire.AppendTag(forged, skimField, protowire.BytesType)
	forged = protowire.AppendBytes(forged, append(make([]byte, 16), 0))
	small.ProtoReflect().SetUnknown(forged)
	s := proto.String
	graphAttr := func(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: s(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
	}
	tensorAttr := func(tp *onnxpb.TensorProto) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: s("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: tp}
	}
	branch := func(name string, init *onnxpb.TensorProto) *onnxpb.GraphProto {
		return &onnxpb.GraphProto{Name: s(name), Initializer: []*onnxpb.TensorProto{init},
			Node:   []*onnxpb.NodeProto{{OpType: s("Identity"), Input: []string{init.GetName()}, Output: []string{name + "_y"}}},
			Output: []*onnxpb.ValueInfoProto{{Name: s(name + "_y")}}}
	}
	sparseVals := big("sv", 2, 9)
	sparseVals.ProtoReflect().SetUnknown(forged)
	return &onnxpb.ModelProto{IrVersion: proto.Int64(8), ProducerName: s("skim"),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}, {Domain: s("local"), Version: proto.Int64(1)}},
		Graph: &onnxpb.GraphProto{Name: s("g"),
			Initializer: []*onnxpb.TensorProto{big("w", 1500, 0), small,
				{Name: s("typed"), DataType: proto.Int32(int32(tensor.Float32)), Dims: []int64{2}, FloatData: []float32{1, 2}}},
			SparseInitializer: []*onnxpb.SparseTensorProto{{Values: sparseVals, Indices: &onnxpb.TensorProto{Name: s("si"),
				DataType: proto.Int32(int32(tensor.Int64)), Dims: []int64{2}, Int64Data: []int64{0, 3}}, Dims: []int64{5}}},
			Node: []*onnxpb.NodeProto{
				{OpType: s("Constant"), Output: []string{"c"}, Attribute: []*onnxpb.AttributeProto{tensorAttr(big("", 1100, 2))}},
				{OpType: s("If"), Input: []string{"cond"}, Output: []string{"y"}, Attribute: []*onnxpb.AttributeProto{
					graphAttr("then_branch", branch("then", big("tw", 1024, 3))), graphAttr("else_branch", branch("else", big("ew", 5, 4)))}},
				{OpType: s("F"), Domain: s("local"), Input: []string{"w"}, Output: []string{"z"}},
			},
			Input:  []*onnxpb.ValueInfoProto{{Name: s("cond")}},
			Output: []*onnxpb.ValueInfoProto{{Name: s("y")}, {Name: s("z")}, {Name: s("c")}}},
		Functions: []*onnxpb.FunctionProto{{Name: s("F"), Domain: s("local"), Input: []string{"a"}, Output: []string{"b"},
			OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}},
			Node: []*onnxpb.NodeProto{{OpType: s("Constant"), Output: []string{"b"},
				Attribute: []*onnxpb.AttributeProto{tensorAttr(big("", 2000, 5))}}}}},
	}
}

// loadBoth writes data to a file and returns Load's model or error, and
// those of reading the file whole (Parse), both marshalled again.
func loadBoth(t testing.TB, data []byte) (skim, whole []byte, skimErr, wholeErr error) {
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m1, err1 := Load(path)
	m2, err2 := Parse(data, filepath.Dir(path))
	if err1 == nil {
		if skim, err1 = Marshal(m1); err1 != nil {
			t.Fatalf("Marshal of a loaded model: %v", err1)
		}
	}
	if err2 == nil {
		if whole, err2 = Marshal(m2); err2 != nil {
			t.Fatalf("Marshal of a parsed model: %v", err2)
		}
	}
	return skim, whole, err1, err2
}

// sameLoad fails unless Load and reading the file whole agree: both fail
// with the same message (past the file's name) or give models that
// marshal to the same bytes.
func sameLoad(t testing.TB, data []byte) {
	t.Helper()
	skim, whole, err1, err2 := loadBoth(t, data)
	switch {
	case (err1 == nil) != (err2 == nil):
		t.Fatalf("Load: %v; reading the file whole: %v", err1, err2)
	case err1 != nil:
		if m1, m2 := strings.TrimPrefix(err1.Error(), "onnx: m.onnx: "), strings.TrimPrefix(err2.Error(), "onnx: "); m1 != m2 {
			t.Fatalf("Load fails with %q, reading the file whole with %q", m1, m2)
		}
	case !bytes.Equal(skim, whole):
		t.Fatalf("Load and reading the file whole give different models")
	}
}

// TestLoadSkims: Load leaves the large raw_data of initializers, attribute
// tensors, subgraphs and functions in the file (four spans here) and gives
// the model that reading the file whole does, forged markers ignored.
func TestLoadSkims(t *testing.T) {
	data, err := proto.Marshal(skimProto(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, s, err := skimModel(f, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.spans) != 4 {
		t.Errorf("skim left %d raw_data in the file, want 4 (w, the Constant's, then's and F's)", len(s.spans))
	}
	for _, sp := range s.spans {
		if sp.n < minSkimmed {
			t.Errorf("skim left %d bytes in the file, below minSkimmed", sp.n)
		}
	}
	sameLoad(t, data)
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if w := m.Graph.Initializers[0].T; w.Len() != 1500 || tensor.Data[float32](w)[1499] != 1499/7.0 {
		t.Errorf("w: %v", w)
	}
}

// TestLoadSkimFailures: a file skim cannot follow (truncated, garbage, a
// raw_data twice, a raw_data larger than the dims) fails or loads as when
// read whole, with the same error.
func TestLoadSkimFailures(t *testing.T) {
	mp := skimProto(t)
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, 100, len(data) / 2, len(data) - 1} {
		sameLoad(t, data[:cut])
	}
	sameLoad(t, append(bytes.Clone(data), 0xff, 0xff))
	sameLoad(t, []byte("not a model"))
	// raw_data twice in one tensor: the last one counts.
	w := mp.Graph.Initializer[0]
	twice := protowire.AppendTag(nil, 9, protowire.BytesType)
	twice = protowire.AppendBytes(twice, make([]byte, 6000))
	w.ProtoReflect().SetUnknown(twice)
	data2, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	sameLoad(t, data2)
	w.ProtoReflect().SetUnknown(nil)
	w.Dims = []int64{1501}
	data3, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err1, _ := loadBoth(t, data3)
	if err1 == nil || !strings.Contains(err1.Error(), "need 6004 bytes, raw_data has 6000") {
		t.Errorf("dims larger than raw_data: %v", err1)
	}
	sameLoad(t, data3)
	if errors.Is(err1, errSkim) {
		t.Errorf("a decoding error wraps errSkim")
	}
}

// FuzzLoad: Load (through skim) and reading the file whole agree on any
// bytes.
func FuzzLoad(f *testing.F) {
	data, err := proto.Marshal(skimProto(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/3])
	f.Fuzz(func(t *testing.T, data []byte) {
		sameLoad(t, data)
	})
}
