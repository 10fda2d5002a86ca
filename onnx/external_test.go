package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// smallModel is y = Add(x, w) + b with initializers of 24, 4 and 8 bytes and
// a Loop-free If subgraph holding its own 12-byte initializer.
func smallModel() *ir.Model {
	sub := &ir.Graph{
		Name:         "then",
		Initializers: []*ir.Initializer{{Name: "c", T: tensor.Must([]int{3}, []float32{7, 8, 9})}},
		Outputs:      []*ir.ValueInfo{{Name: "c", Type: tensor.TensorType(tensor.Float32, 3)}},
	}
	return &ir.Model{
		IRVersion:    10,
		Opsets:       []ir.OpsetID{{Domain: "", Version: 21}},
		ProducerName: "gort-test",
		Graph: &ir.Graph{
			Name: "main",
			Inputs: []*ir.ValueInfo{{Name: "x", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32,
				HasShape: true, Shape: []tensor.Dim{{Size: -1, Param: "batch"}, {Size: 3}}}}},
			Outputs: []*ir.ValueInfo{{Name: "y", Type: tensor.TensorType(tensor.Float32, 2, 3)}},
			Initializers: []*ir.Initializer{
				{Name: "w", T: tensor.Must([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})},
				{Name: "b", T: tensor.Must([]int{1}, []float32{0.5})},
				{Name: "s", T: tensor.Must([]int{1}, []string{"inline"})},
				{Name: "k", T: tensor.Must([]int{1}, []int64{42})},
			},
			Nodes: []*ir.Node{
				{Name: "add", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"t"}},
				{Name: "add2", OpType: "Add", Inputs: []string{"t", "b"}, Outputs: []string{"y"}},
				{Name: "if", OpType: "If", Inputs: []string{"cond"}, Outputs: []string{"z"},
					Attrs: []ops.Attr{{Name: "then_branch", Type: ops.AttrGraph, G: sub}}},
			},
		},
	}
}

func initializer(t *testing.T, g *ir.Graph, name string) *tensor.Tensor {
	t.Helper()
	for _, in := range g.Initializers {
		if in.Name == name {
			return in.T
		}
	}
	t.Fatalf("no initializer %q", name)
	return nil
}

func TestSaveExternal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	m := smallModel()
	if err := Save(m, path, SaveOptions{ExternalDataFile: "weights.bin", ExternalThreshold: 8}); err != nil {
		t.Fatal(err)
	}
	// The file refers to external data for w, c and k (>= 8 bytes), not b or s.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		t.Fatal(err)
	}
	ext := map[string]string{}
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, tp := range g.Initializer {
			if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
				info, err := parseExternalInfo(tp.ExternalData)
				if err != nil {
					t.Fatal(err)
				}
				if info.offset%externalAlign != 0 {
					t.Errorf("%s: offset %d not aligned", tp.GetName(), info.offset)
				}
				ext[tp.GetName()] = info.location
			}
		}
		for _, n := range g.Node {
			for _, a := range n.Attribute {
				if a.G != nil {
					walk(a.G)
				}
			}
		}
	}
	walk(mp.Graph)
	if len(ext) != 3 || ext["w"] != "weights.bin" || ext["c"] != "weights.bin" || ext["k"] != "weights.bin" {
		t.Fatalf("external initializers %v, want w, c, k in weights.bin", ext)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"w", "b", "s", "k"} {
		if !tensor.Equal(initializer(t, back.Graph, name), initializer(t, m.Graph, name)) {
			t.Errorf("initializer %q differs after external save/load", name)
		}
	}
	sub := back.Graph.Nodes[2].Attrs[0].G.(*ir.Graph)
	if !tensor.Equal(initializer(t, sub, "c"), tensor.Must([]int{3}, []float32{7, 8, 9})) {
		t.Error("subgraph initializer differs")
	}
	// Parse from memory refuses the external data with a clear error.
	if _, err := Parse(data, ""); !errors.Is(err, ErrExternalData) || !strings.Contains(err.Error(), `initializer "w"`) {
		t.Errorf("Parse without a folder: %v", err)
	}
	// Inline save: no external data, same model.
	inline := filepath.Join(dir, "inline.onnx")
	if err := Save(m, inline, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	back, err = Load(inline)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.Equal(initializer(t, back.Graph, "w"), initializer(t, m.Graph, "w")) {
		t.Error("inline save/load differs")
	}
}

// externalModel writes a model whose initializer "w" (float32 [2 3], 24
// bytes) is external with the given entries, and the data file bin.
func externalModel(t *testing.T, dir string, kv map[string]string) string {
	t.Helper()
	tp := &onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{2, 3},
		DataLocation: onnxpb.TensorProto_EXTERNAL.Enum()}
	for _, k := range []string{"location", "offset", "length", "checksum"} {
		if v, ok := kv[k]; ok {
			tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)})
		}
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(10), Graph: &onnxpb.GraphProto{Name: proto.String("main"), Initializer: []*onnxpb.TensorProto{tp}}}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExternalDataRejections(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(root, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret.bin")
	if err := os.WriteFile(secret, make([]byte, 24), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		setup func(dir string)
		kv    map[string]string
		want  string
	}{
		{"ok", nil, map[string]string{"location": "d.bin", "offset": "8", "length": "24"}, ""},
		{"ok whole file", func(dir string) { os.WriteFile(filepath.Join(dir, "d.bin"), make([]byte, 24), 0o644) },
			map[string]string{"location": "d.bin"}, ""},
		{"ok checksum", func(dir string) { os.WriteFile(filepath.Join(dir, "d.bin"), make([]byte, 24), 0o644) },
			map[string]string{"location": "d.bin", "checksum": "d3399b7262fb56cb9ed053d68db9291c410839c4"}, ""},
		{"bad checksum", nil, map[string]string{"location": "d.bin", "offset": "8", "length": "24", "checksum": "00"}, "SHA-1"},
		{"absolute", nil, map[string]string{"location": secret}, "is absolute"},
		{"dotdot", nil, map[string]string{"location": "../outside/secret.bin"}, `".." component`},
		{"dotdot inner", nil, map[string]string{"location": "sub/../../outside/secret.bin"}, `".." component`},
		{"symlink escape", func(dir string) { os.Symlink(secret, filepath.Join(dir, "link.bin")) },
			map[string]string{"location": "link.bin"}, "outside the model folder"},
		{"symlink dir escape", func(dir string) { os.Symlink(outside, filepath.Join(dir, "sub")) },
			map[string]string{"location": "sub/secret.bin"}, "outside the model folder"},
		{"truncated", func(dir string) { os.WriteFile(filepath.Join(dir, "d.bin"), make([]byte, 20), 0o644) },
			map[string]string{"location": "d.bin", "length": "24"}, "beyond the end"},
		{"offset beyond", nil, map[string]string{"location": "d.bin", "offset": "100", "length": "24"}, "beyond the end"},
		{"length mismatch", nil, map[string]string{"location": "d.bin", "offset": "0", "length": "20"}, "holds 20 bytes for this tensor, its dims need 24"},
		{"bad offset", nil, map[string]string{"location": "d.bin", "offset": "-1"}, "not a non-negative integer"},
		{"missing", nil, map[string]string{"location": "nope.bin"}, "no such file"},
		{"no location", nil, map[string]string{"offset": "0"}, "no location"},
		{"directory", func(dir string) { os.Mkdir(filepath.Join(dir, "dir"), 0o755) }, map[string]string{"location": "dir"}, "not a regular file"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, "m"+string(rune('a'+i)))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "d.bin"), make([]byte, 64), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.setup != nil {
				c.setup(dir)
			}
			_, err := Load(externalModel(t, dir, c.kv))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if !errors.Is(err, ErrExternalData) {
				t.Errorf("error %v does not wrap ErrExternalData", err)
			}
			for _, part := range []string{"model.onnx", `graph "main"`, `initializer "w"`} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not name %s", err, part)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good, err := Marshal(smallModel())
	if err != nil {
		t.Fatal(err)
	}
	badInit := smallModel()
	badInit.Graph.Initializers[0].T = tensor.Must([]int{5}, []float32{1, 2, 3, 4, 5})
	mp, err := ModelToProto(badInit)
	if err != nil {
		t.Fatal(err)
	}
	mp.Graph.Initializer[0].Dims = []int64{2, 3}
	short, _ := proto.Marshal(mp)
	newer, _ := proto.Marshal(&onnxpb.ModelProto{IrVersion: proto.Int64(15), Graph: &onnxpb.GraphProto{}})
	noGraph, _ := proto.Marshal(&onnxpb.ModelProto{IrVersion: proto.Int64(8)})
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)/2], "not a valid ONNX protobuf"},
		{"garbage", []byte("this is not a model\xff\xff\xff"), "not a valid ONNX protobuf"},
		{"raw size", short, `onnx: model.onnx: graph "main": initializer "w": dims [2 3] need 24 bytes, raw_data has 20`},
		{"ir version", newer, "IR version 15 is newer than the newest gort reads (14)"},
		{"no graph", noGraph, "model has no graph"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "model.onnx")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestSmallModelRoundTrip(t *testing.T) {
	m := smallModel()
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b, "")
	if err != nil {
		t.Fatal(err)
	}
	b2, err := Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Fatal("Marshal(Parse(Marshal(m))) differs from Marshal(m)")
	}
	x := back.Graph.Inputs[0].Type
	if x.Shape[0].Param != "batch" || x.Shape[1].Size != 3 {
		t.Errorf("symbolic shape lost: %+v", x.Shape)
	}
}

// TestSaveAutoExternal checks that a model over the protobuf size limit is
// saved with external data without being asked, and Marshal refuses it.
func TestSaveAutoExternal(t *testing.T) {
	defer func(old int) { maxProtoSize = old }(maxProtoSize)
	maxProtoSize = 2000
	m := smallModel()
	m.Graph.Initializers = append(m.Graph.Initializers, &ir.Initializer{Name: "big", T: tensor.Zeros(tensor.Float32, 1024)})
	if _, err := Marshal(m); err == nil || !strings.Contains(err.Error(), "over protobuf's 2 GB limit") {
		t.Fatalf("Marshal of an oversized model: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "big.onnx")
	if err := Save(m, path, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "big.onnx.data"))
	if err != nil || st.Size() < 4096 {
		t.Fatalf("external data file: %v %v", st, err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.Equal(initializer(t, back.Graph, "big"), tensor.Zeros(tensor.Float32, 1024)) {
		t.Error("big initializer differs")
	}
}

// TestSaveExternalNodeTests saves every node-test model with all its
// initializers external and checks that loading it back gives the same model.
func TestSaveExternalNodeTests(t *testing.T) {
	if testing.Short() {
		t.Skip("writes every node-test model")
	}
	dir := t.TempDir()
	for _, path := range nodeTestModels(t) {
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "model.onnx")
		if err := Save(m, out, SaveOptions{ExternalDataFile: "model.data", ExternalThreshold: 0}); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		back, err := Load(out)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		a, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Errorf("%s: model changed by Save with external data and Load", path)
		}
	}
}
