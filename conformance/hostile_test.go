package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// hostileCase is a model file an attacker could hand us, and a fragment the
// error must contain (it names the problem).
type hostileCase struct {
	name string
	want string
	make func(dir string) (string, error) // writes the model, returns its path
}

func writeProto(dir, name string, mp *onnxpb.ModelProto) (string, error) {
	data, err := proto.Marshal(mp)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".onnx")
	return path, os.WriteFile(path, data, 0o644)
}

// baseProto is a valid one-node model (y = Identity(x)) to corrupt.
func baseProto() *onnxpb.ModelProto {
	m := irbuild.New("g", irbuild.Opset{Version: 17})
	m.Input("x", tensor.Float32, 2)
	m.Output(m.Op("Identity", "x"), tensor.Float32, 2)
	mp, err := onnx.ModelToProto(m.Model())
	if err != nil {
		panic(err)
	}
	return mp
}

func s(v string) *string { return &v }
func i64(v int64) *int64 { return &v }
func i32(v int32) *int32 { return &v }

func hostileCases() []hostileCase {
	withInit := func(name string, t *onnxpb.TensorProto) func(dir string) (string, error) {
		return func(dir string) (string, error) {
			mp := baseProto()
			mp.Graph.Initializer = append(mp.Graph.Initializer, t)
			return writeProto(dir, name, mp)
		}
	}
	extData := func(name, location string) func(dir string) (string, error) {
		return withInit(name, &onnxpb.TensorProto{Name: s("w"), Dims: []int64{4}, DataType: i32(1),
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: s("location"), Value: s(location)}}})
	}
	return []hostileCase{
		{"garbage bytes", "not a valid ONNX protobuf", func(dir string) (string, error) {
			p := filepath.Join(dir, "garbage.onnx")
			return p, os.WriteFile(p, []byte("\xff\xff\xff\xffnot a model at all"), 0o644)
		}},
		{"truncated", "not a valid ONNX protobuf", func(dir string) (string, error) {
			data, _ := proto.Marshal(baseProto())
			p := filepath.Join(dir, "truncated.onnx")
			return p, os.WriteFile(p, data[:len(data)-3], 0o644)
		}},
		{"IR version from the future", "IR version 99", func(dir string) (string, error) {
			mp := baseProto()
			mp.IrVersion = i64(99)
			return writeProto(dir, "future", mp)
		}},
		{"no graph", "graph", func(dir string) (string, error) {
			mp := baseProto()
			mp.Graph = nil
			return writeProto(dir, "nograph", mp)
		}},
		{"dims overflow", "w", withInit("overflow", &onnxpb.TensorProto{Name: s("w"), Dims: []int64{1 << 40, 1 << 40}, DataType: i32(1), RawData: make([]byte, 16)})},
		{"negative dim", "w", withInit("negative", &onnxpb.TensorProto{Name: s("w"), Dims: []int64{-4}, DataType: i32(1), RawData: make([]byte, 16)})},
		{"dims disagree with data", "w", withInit("disagree", &onnxpb.TensorProto{Name: s("w"), Dims: []int64{1000000000}, DataType: i32(1), RawData: make([]byte, 16)})},
		{"unsupported dtype", "w", withInit("dtype", &onnxpb.TensorProto{Name: s("w"), Dims: []int64{2}, DataType: i32(27), RawData: make([]byte, 2)})},
		{"external data absolute path", "w", extData("abs", "/etc/passwd")},
		{"external data escaping with ..", "w", extData("dotdot", "../../etc/passwd")},
		{"external data symlink leaving the folder", "w", func(dir string) (string, error) {
			if err := os.Symlink("/etc", filepath.Join(dir, "link")); err != nil {
				return "", err
			}
			return extData("symlink", "link/passwd")(dir)
		}},
		{"missing external file", "w", extData("missing", "nope.bin")},
		{"cycle", "cycle", func(dir string) (string, error) {
			mp := baseProto()
			mp.Graph.Node = []*onnxpb.NodeProto{
				{Name: s("a"), OpType: s("Identity"), Input: []string{"b"}, Output: []string{"a"}},
				{Name: s("b"), OpType: s("Identity"), Input: []string{"a"}, Output: []string{"b"}},
			}
			mp.Graph.Output[0].Name = s("a")
			return writeProto(dir, "cycle", mp)
		}},
		{"undefined input", "undefined value \"ghost\"", func(dir string) (string, error) {
			mp := baseProto()
			mp.Graph.Node[0].Input = []string{"ghost"}
			return writeProto(dir, "undefined", mp)
		}},
		{"unknown op", "NoSuchOp", func(dir string) (string, error) {
			mp := baseProto()
			mp.Graph.Node[0].OpType = s("NoSuchOp")
			return writeProto(dir, "unknownop", mp)
		}},
		{"unknown domain", "com.example.evil", func(dir string) (string, error) {
			mp := baseProto()
			mp.Graph.Node[0].Domain = s("com.example.evil")
			return writeProto(dir, "unknowndomain", mp)
		}},
		{"subgraphs nested 200 deep", "nested too deeply", func(dir string) (string, error) {
			// If(c) { If(c) { ... Identity(x) } } 200 levels, written as
			// protobuf directly (gort's own encoder refuses to write it).
			tt := func(name string) *onnxpb.ValueInfoProto {
				return &onnxpb.ValueInfoProto{Name: s(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
					TensorType: &onnxpb.TypeProto_Tensor{ElemType: i32(1)}}}}
			}
			leaf := func() *onnxpb.GraphProto {
				return &onnxpb.GraphProto{Name: s("leaf"), Node: []*onnxpb.NodeProto{{OpType: s("Identity"), Input: []string{"x"}, Output: []string{"y0"}}},
					Output: []*onnxpb.ValueInfoProto{tt("y0")}}
			}
			body := leaf()
			for d := 1; d <= 200; d++ {
				out := fmt.Sprintf("y%d", d)
				graphAttr := func(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
					return &onnxpb.AttributeProto{Name: s(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
				}
				body = &onnxpb.GraphProto{Name: s(fmt.Sprintf("level%d", d)),
					Node:   []*onnxpb.NodeProto{{OpType: s("If"), Input: []string{"c"}, Output: []string{out}, Attribute: []*onnxpb.AttributeProto{graphAttr("then_branch", body), graphAttr("else_branch", leaf())}}},
					Output: []*onnxpb.ValueInfoProto{tt(out)}}
			}
			mp := baseProto()
			mp.Graph.Node = body.Node
			mp.Graph.Output = body.Output
			mp.Graph.Input = append(mp.Graph.Input, &onnxpb.ValueInfoProto{Name: s("c"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
				TensorType: &onnxpb.TypeProto_Tensor{ElemType: i32(9), Shape: &onnxpb.TensorShapeProto{}}}}})
			return writeProto(dir, "deep", mp)
		}},
		{"Reshape with two -1", "-1", func(dir string) (string, error) {
			b := irbuild.New("g", irbuild.Opset{Version: 17})
			b.Input("x", tensor.Float32, 2, 3)
			b.Output(b.Op("Reshape", "x", b.Const(tensor.Must([]int{2}, []int64{-1, -1}))), tensor.Float32)
			mp, _ := onnx.ModelToProto(b.Model())
			return writeProto(dir, "reshape", mp)
		}},
		{"Gather index out of range", "out of range", func(dir string) (string, error) {
			b := irbuild.New("g", irbuild.Opset{Version: 17})
			b.Input("x", tensor.Float32, 2, 3)
			b.Output(b.Op("Gather", "x", b.Const(tensor.Must([]int{1}, []int64{7}))), tensor.Float32)
			mp, _ := onnx.ModelToProto(b.Model())
			return writeProto(dir, "gather", mp)
		}},
		{"ConstantOfShape size bomb", "limit", func(dir string) (string, error) {
			b := irbuild.New("g", irbuild.Opset{Version: 17})
			b.Input("x", tensor.Float32, 2)
			b.Output(b.Op("ConstantOfShape", b.Const(tensor.Must([]int{3}, []int64{1 << 14, 1 << 14, 16}))), tensor.Float32)
			mp, _ := onnx.ModelToProto(b.Model())
			return writeProto(dir, "bomb", mp)
		}},
		{"Expand size bomb", "limit", func(dir string) (string, error) {
			b := irbuild.New("g", irbuild.Opset{Version: 17})
			b.Input("x", tensor.Float32, 2)
			b.Output(b.Op("Expand", "x", b.Const(tensor.Must([]int{3}, []int64{1 << 14, 1 << 14, 2}))), tensor.Float32)
			mp, _ := onnx.ModelToProto(b.Model())
			return writeProto(dir, "expand", mp)
		}},
	}
}

// refuse loads, compiles and runs one hostile model and returns the error
// (nil means it was accepted, which is a failure for every case here).
func refuse(path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("PANIC: %v", r)
		}
	}()
	m, err := onnx.Load(path)
	if err != nil {
		return err
	}
	s, err := runtime.NewSession(m, runtime.Options{MaxTensorElements: 1 << 26})
	if err != nil {
		return err
	}
	feeds := map[string]*tensor.Tensor{}
	for _, in := range s.Inputs() {
		if in.Type.DType == tensor.Bool {
			feeds[in.Name] = tensor.Scalar(true)
		} else {
			shape := make([]int, len(in.Type.Shape))
			for i, d := range in.Type.Shape {
				shape[i] = int(d.Size)
			}
			feeds[in.Name] = tensor.Zeros(in.Type.DType, shape...)
		}
	}
	_, err = s.Run(context.Background(), feeds)
	return err
}

// TestHostileModels refuses every hostile model with an error naming the
// problem, never a panic, in a child process whose peak RSS stays under 100 MB.
func TestHostileModels(t *testing.T) {
	if os.Getenv("GORT_HOSTILE_CHILD") != "" {
		t.Skip("child process")
	}
	dir := t.TempDir()
	cases := hostileCases()
	for _, c := range cases {
		sub := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := c.make(sub); err != nil {
			t.Fatalf("%s: building the model: %v", c.name, err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHostileChild$", "-test.v")
	cmd.Env = append(os.Environ(), "GORT_HOSTILE_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
	t.Logf("child peak RSS %d KiB refusing %d hostile models", rss, len(cases))
	if rss > 100*1024 {
		t.Errorf("peak RSS %d KiB exceeds 100 MB", rss)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "hostile:") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// TestHostileChild runs inside the child process of TestHostileModels.
func TestHostileChild(t *testing.T) {
	dir := os.Getenv("GORT_HOSTILE_CHILD")
	if dir == "" {
		t.Skip("runs as TestHostileModels' child process")
	}
	cases := hostileCases()
	sort.Slice(cases, func(i, j int) bool { return cases[i].name < cases[j].name })
	for _, c := range cases {
		sub := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		files, _ := filepath.Glob(filepath.Join(sub, "*.onnx"))
		if len(files) != 1 {
			t.Fatalf("%s: %d model files", c.name, len(files))
		}
		err := refuse(files[0])
		switch {
		case err == nil:
			t.Errorf("%s: accepted", c.name)
		case strings.HasPrefix(err.Error(), "PANIC"), errors.Is(err, runtime.ErrInternal):
			t.Errorf("%s: %v", c.name, err)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %q does not name the problem (%q)", c.name, firstLine(err.Error()), c.want)
		default:
			fmt.Printf("hostile: %-42s refused: %s\n", c.name, firstLine(err.Error()))
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
