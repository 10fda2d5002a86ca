package control_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

var (
	f32 = tensor.Float32
	i64 = tensor.Int64
)

// TestIfCapturesOuterValues: both branches read a graph input and an
// initializer of the enclosing graph.
func TestIfCapturesOuterValues(t *testing.T) {
	then := &ir.Graph{Name: "then",
		Nodes:   []*ir.Node{nd("Add", []string{"x", "bias"}, []string{"t_out"})},
		Outputs: []*ir.ValueInfo{vi("t_out", tensor.TensorType(f32, 2))}}
	els := &ir.Graph{Name: "else",
		Nodes:   []*ir.Node{nd("Mul", []string{"x", "x"}, []string{"e_out"})},
		Outputs: []*ir.ValueInfo{vi("e_out", tensor.TensorType(f32, 2))}}
	g := &ir.Graph{Name: "main",
		Inputs:       []*ir.ValueInfo{vi("cond", scalarT(tensor.Bool)), vi("x", tensor.TensorType(f32, 2))},
		Initializers: []*ir.Initializer{{Name: "bias", T: tensor.Must([]int{2}, []float32{10, 20})}},
		Nodes:        []*ir.Node{nd("If", []string{"cond"}, []string{"y"}, gattr("then_branch", then), gattr("else_branch", els))},
		Outputs:      []*ir.ValueInfo{vi("y", tensor.TensorType(f32, 2))}}
	for _, tc := range []struct {
		cond bool
		want []float32
	}{{true, []float32{11, 22}}, {false, []float32{1, 4}}} {
		out, err := run(t, g, 11, map[string]tensor.Value{"cond": tensor.Scalar(tc.cond), "x": tensor.Must([]int{2}, []float32{1, 2})}, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		wantTensor(t, "y", out["y"], []int{2}, tc.want)
	}
}

// TestIfOptionalOutputs: branches return an empty optional and an optional
// sequence (test_if_opt's shape).
func TestIfOptionalOutputs(t *testing.T) {
	elemT := seqT(f32)
	then := &ir.Graph{Name: "then",
		Nodes:   []*ir.Node{nd("Optional", nil, []string{"none"}, ops.Attr{Name: "type", Type: ops.AttrTypeProto, TP: &elemT})},
		Outputs: []*ir.ValueInfo{vi("none", optT(elemT))}}
	els := &ir.Graph{Name: "else",
		Nodes: []*ir.Node{
			nd("SequenceConstruct", []string{"x"}, []string{"s"}),
			nd("Optional", []string{"s"}, []string{"some"}),
		},
		Outputs: []*ir.ValueInfo{vi("some", optT(elemT))}}
	g := &ir.Graph{Name: "main",
		Inputs:  []*ir.ValueInfo{vi("cond", scalarT(tensor.Bool)), vi("x", tensor.TensorType(f32, 2))},
		Nodes:   []*ir.Node{nd("If", []string{"cond"}, []string{"y"}, gattr("then_branch", then), gattr("else_branch", els))},
		Outputs: []*ir.ValueInfo{vi("y", optT(elemT))}}
	x := tensor.Must([]int{2}, []float32{1, 2})
	out, err := run(t, g, 16, map[string]tensor.Value{"cond": tensor.Scalar(true), "x": x}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := out["y"].(*tensor.Optional); !ok || o.V != nil || o.Elem.Kind != tensor.KindSequence {
		t.Fatalf("then: got %#v, want an empty optional of a sequence", out["y"])
	}
	out, err = run(t, g, 16, map[string]tensor.Value{"cond": tensor.Scalar(false), "x": x}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o, ok := out["y"].(*tensor.Optional)
	if !ok || o.V == nil {
		t.Fatalf("else: got %#v, want a full optional", out["y"])
	}
	s, ok := o.V.(*tensor.Sequence)
	if !ok || len(s.Items) != 1 || s.Items[0] != x {
		t.Fatalf("else: got %#v, want seq(x)", o.V)
	}
}

// loopModel wraps a Loop body in a main graph with inputs M, cond and the
// given carried inputs; outs names the Loop outputs.
func loopModel(body *ir.Graph, mName, condName string, carried []*ir.ValueInfo, outs []*ir.ValueInfo, extra ...*ir.ValueInfo) *ir.Graph {
	g := &ir.Graph{Name: "main", Outputs: outs}
	in := []string{mName, condName}
	if mName != "" {
		g.Inputs = append(g.Inputs, vi(mName, scalarT(i64)))
	}
	if condName != "" {
		g.Inputs = append(g.Inputs, vi(condName, scalarT(tensor.Bool)))
	}
	for _, c := range carried {
		g.Inputs = append(g.Inputs, c)
		in = append(in, c.Name)
	}
	g.Inputs = append(g.Inputs, extra...)
	var on []string
	for _, o := range outs {
		on = append(on, o.Name)
	}
	g.Nodes = []*ir.Node{nd("Loop", in, on, gattr("body", body))}
	return g
}

// sumBody: s_out = s_in + i; scan = s_out.
func sumBody() *ir.Graph {
	return &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{vi("i", scalarT(i64)), vi("c", scalarT(tensor.Bool)), vi("s_in", scalarT(i64))},
		Nodes: []*ir.Node{
			nd("Add", []string{"s_in", "i"}, []string{"s_out"}),
			nd("Identity", []string{"s_out"}, []string{"scan"}),
		},
		Outputs: []*ir.ValueInfo{vi("c", scalarT(tensor.Bool)), vi("s_out", scalarT(i64)), vi("scan", scalarT(i64))}}
}

func TestLoopRunningSum(t *testing.T) {
	g := loopModel(sumBody(), "M", "cond", []*ir.ValueInfo{vi("s0", scalarT(i64))},
		[]*ir.ValueInfo{vi("s", scalarT(i64)), vi("sums", tensor.Type{Kind: tensor.KindTensor, DType: i64})})
	for _, tc := range []struct {
		m     int64
		cond  bool
		final int64
		sums  []int64
	}{
		{4, true, 6, []int64{0, 1, 3, 6}},
		{1, true, 0, []int64{0}},
		{0, true, 0, []int64{}},  // zero iterations: outputs are the initial values and an empty scan
		{-3, true, 0, []int64{}}, // a negative trip count runs nothing
		{4, false, 0, []int64{}},
	} {
		out, err := run(t, g, 11, map[string]tensor.Value{"M": tensor.Scalar(tc.m), "cond": tensor.Scalar(tc.cond), "s0": tensor.Scalar(int64(0))}, runtime.Options{})
		if err != nil {
			t.Fatalf("M=%d: %v", tc.m, err)
		}
		wantTensor(t, "s", out["s"], []int{}, []int64{tc.final})
		wantTensor(t, "sums", out["sums"], []int{len(tc.sums)}, tc.sums)
	}
}

// TestLoopWhile: M omitted, the body's condition ends the loop after i == 2.
func TestLoopWhile(t *testing.T) {
	body := &ir.Graph{Name: "body",
		Inputs:       []*ir.ValueInfo{vi("i", scalarT(i64)), vi("c", scalarT(tensor.Bool))},
		Initializers: []*ir.Initializer{{Name: "two", T: tensor.Scalar(int64(2))}},
		Nodes: []*ir.Node{
			nd("Less", []string{"i", "two"}, []string{"c_out"}),
			nd("Identity", []string{"i"}, []string{"scan"}),
		},
		Outputs: []*ir.ValueInfo{vi("c_out", scalarT(tensor.Bool)), vi("scan", scalarT(i64))}}
	g := loopModel(body, "", "cond", nil, []*ir.ValueInfo{vi("is", tensor.Type{Kind: tensor.KindTensor, DType: i64})})
	out, err := run(t, g, 13, map[string]tensor.Value{"cond": tensor.Scalar(true)}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantTensor(t, "is", out["is"], []int{3}, []int64{0, 1, 2})

	// With the cond input omitted the body's condition still ends the loop
	// (as in ONNX Runtime), before M does.
	g = loopModel(body, "M", "", nil, []*ir.ValueInfo{vi("is", tensor.Type{Kind: tensor.KindTensor, DType: i64})})
	out, err = run(t, g, 13, map[string]tensor.Value{"M": tensor.Scalar(int64(5))}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantTensor(t, "is", out["is"], []int{3}, []int64{0, 1, 2})
	out, err = run(t, g, 13, map[string]tensor.Value{"M": tensor.Scalar(int64(2))}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantTensor(t, "is", out["is"], []int{2}, []int64{0, 1})
}

// TestLoopNestedCaptures: an If inside the Loop body reads the body's
// carried value and a main-graph input and initializer (two scopes up).
func TestLoopNestedCaptures(t *testing.T) {
	then := &ir.Graph{Name: "then",
		Nodes:   []*ir.Node{nd("Add", []string{"acc_in", "x"}, []string{"th"})},
		Outputs: []*ir.ValueInfo{vi("th", tensor.TensorType(f32, 2))}}
	els := &ir.Graph{Name: "else",
		Nodes:   []*ir.Node{nd("Add", []string{"acc_in", "bias"}, []string{"el"})},
		Outputs: []*ir.ValueInfo{vi("el", tensor.TensorType(f32, 2))}}
	body := &ir.Graph{Name: "body",
		Inputs:       []*ir.ValueInfo{vi("i", scalarT(i64)), vi("c", scalarT(tensor.Bool)), vi("acc_in", tensor.TensorType(f32, 2))},
		Initializers: []*ir.Initializer{{Name: "one", T: tensor.Scalar(int64(1))}},
		Nodes: []*ir.Node{
			nd("Less", []string{"i", "one"}, []string{"first"}),
			nd("If", []string{"first"}, []string{"acc_out"}, gattr("then_branch", then), gattr("else_branch", els)),
			nd("Identity", []string{"acc_out"}, []string{"scan"}),
		},
		Outputs: []*ir.ValueInfo{vi("c", scalarT(tensor.Bool)), vi("acc_out", tensor.TensorType(f32, 2)), vi("scan", tensor.TensorType(f32, 2))}}
	g := loopModel(body, "M", "cond", []*ir.ValueInfo{vi("acc0", tensor.TensorType(f32, 2))},
		[]*ir.ValueInfo{vi("acc", tensor.TensorType(f32, 2)), vi("accs", tensor.TensorType(f32, 3, 2))},
		vi("x", tensor.TensorType(f32, 2)))
	g.Initializers = []*ir.Initializer{{Name: "bias", T: tensor.Must([]int{2}, []float32{10, 20})}}
	out, err := run(t, g, 16, map[string]tensor.Value{
		"M": tensor.Scalar(int64(3)), "cond": tensor.Scalar(true),
		"acc0": tensor.Must([]int{2}, []float32{0, 0}), "x": tensor.Must([]int{2}, []float32{1, 2}),
	}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantTensor(t, "acc", out["acc"], []int{2}, []float32{21, 42})
	wantTensor(t, "accs", out["accs"], []int{3, 2}, []float32{1, 2, 11, 22, 21, 42})
}

// TestLoopSequenceCarried builds a sequence [0, 1, 2] with SequenceInsert.
func TestLoopSequenceCarried(t *testing.T) {
	body := &ir.Graph{Name: "body",
		Inputs:  []*ir.ValueInfo{vi("i", scalarT(i64)), vi("c", scalarT(tensor.Bool)), vi("s_in", seqT(i64))},
		Nodes:   []*ir.Node{nd("SequenceInsert", []string{"s_in", "i"}, []string{"s_out"})},
		Outputs: []*ir.ValueInfo{vi("c", scalarT(tensor.Bool)), vi("s_out", seqT(i64))}}
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{vi("M", scalarT(i64))},
		Nodes: []*ir.Node{
			nd("SequenceEmpty", nil, []string{"s0"}, iattr("dtype", int64(i64))),
			nd("Loop", []string{"M", "", "s0"}, []string{"s"}, gattr("body", body)),
		},
		Outputs: []*ir.ValueInfo{vi("s", seqT(i64))}}
	for _, m := range []int64{3, 0} {
		out, err := run(t, g, 13, map[string]tensor.Value{"M": tensor.Scalar(m)}, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, ok := out["s"].(*tensor.Sequence)
		if !ok || len(s.Items) != int(m) || s.Elem.DType != i64 {
			t.Fatalf("M=%d: got %#v, want a sequence of %d int64 tensors", m, out["s"], m)
		}
		for i, v := range s.Items {
			wantTensor(t, "item", v, []int{}, []int64{int64(i)})
		}
	}
}

// TestLoopOptionalNone: an optional(seq) carried value that starts empty
// and becomes a plain sequence (test_loop16_seq_none's shape).
func TestLoopOptionalNone(t *testing.T) {
	then := &ir.Graph{Name: "then",
		Nodes:   []*ir.Node{nd("OptionalGetElement", []string{"o_in"}, []string{"got"})},
		Outputs: []*ir.ValueInfo{vi("got", seqT(i64))}}
	els := &ir.Graph{Name: "else",
		Nodes:   []*ir.Node{nd("SequenceEmpty", nil, []string{"fresh"}, iattr("dtype", int64(i64)))},
		Outputs: []*ir.ValueInfo{vi("fresh", seqT(i64))}}
	body := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{vi("i", scalarT(i64)), vi("c", scalarT(tensor.Bool)), vi("o_in", optT(seqT(i64)))},
		Nodes: []*ir.Node{
			nd("OptionalHasElement", []string{"o_in"}, []string{"has"}),
			nd("If", []string{"has"}, []string{"seq"}, gattr("then_branch", then), gattr("else_branch", els)),
			nd("SequenceInsert", []string{"seq", "i"}, []string{"o_out"}),
		},
		Outputs: []*ir.ValueInfo{vi("c", scalarT(tensor.Bool)), vi("o_out", seqT(i64))}}
	g := loopModel(body, "M", "cond", []*ir.ValueInfo{vi("o", optT(seqT(i64)))}, []*ir.ValueInfo{vi("s", seqT(i64))})
	feeds := map[string]tensor.Value{"M": tensor.Scalar(int64(3)), "cond": tensor.Scalar(true), "o": &tensor.Optional{Elem: seqT(i64)}}
	out, err := run(t, g, 16, feeds, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := out["s"].(*tensor.Sequence)
	if !ok || len(s.Items) != 3 {
		t.Fatalf("got %#v, want a sequence of 3", out["s"])
	}
	for i, v := range s.Items {
		wantTensor(t, "item", v, []int{}, []int64{int64(i)})
	}
}

// foreverBody never ends by itself; its scan output is a captured 1000-element tensor.
func foreverBody() *ir.Graph {
	return &ir.Graph{Name: "body",
		Inputs:  []*ir.ValueInfo{vi("i", scalarT(i64)), vi("c", scalarT(tensor.Bool))},
		Nodes:   []*ir.Node{nd("Identity", []string{"big"}, []string{"scan"})},
		Outputs: []*ir.ValueInfo{vi("c", scalarT(tensor.Bool)), vi("scan", tensor.TensorType(f32, 1000))}}
}

func TestLoopScanOutputLimit(t *testing.T) {
	g := loopModel(foreverBody(), "M", "", nil, []*ir.ValueInfo{vi("all", tensor.Type{Kind: tensor.KindTensor, DType: f32})})
	g.Initializers = []*ir.Initializer{{Name: "big", T: tensor.Zeros(f32, 1000)}}
	_, err := run(t, g, 13, map[string]tensor.Value{"M": tensor.Scalar(int64(1) << 40)}, runtime.Options{MaxTensorElements: 10000})
	if !errors.Is(err, ops.ErrLimit) {
		t.Fatalf("got %v, want an ops.ErrLimit error", err)
	}
}

func TestLoopCancellable(t *testing.T) {
	body := &ir.Graph{Name: "body",
		Inputs:  []*ir.ValueInfo{vi("i", scalarT(i64)), vi("c", scalarT(tensor.Bool))},
		Outputs: []*ir.ValueInfo{vi("c", scalarT(tensor.Bool))}}
	// M and cond both omitted: an infinite loop.
	g := &ir.Graph{Name: "main",
		Inputs:  []*ir.ValueInfo{vi("x", scalarT(i64))},
		Nodes:   []*ir.Node{nd("Loop", []string{"", "", "x"}, []string{"y"}, gattr("body", body))},
		Outputs: []*ir.ValueInfo{vi("y", scalarT(i64))}}
	body.Inputs = append(body.Inputs, vi("x_in", scalarT(i64)))
	body.Outputs = append(body.Outputs, vi("x_in", scalarT(i64)))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := runCtx(t, ctx, g, 13, map[string]tensor.Value{"x": tensor.Scalar(int64(1))}, runtime.Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancellation took %v", d)
	}
}

func TestLoopBadBody(t *testing.T) {
	body := sumBody()
	body.Outputs = body.Outputs[:1] // cond only, but one carried value
	g := loopModel(body, "M", "cond", []*ir.ValueInfo{vi("s0", scalarT(i64))}, []*ir.ValueInfo{vi("s", scalarT(i64))})
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetID{{Domain: "", Version: 13}}, Graph: g}
	if _, err := runtime.NewSession(m, runtime.Options{Provider: runtime.NativeWith(testRegistry(t))}); err == nil {
		t.Fatal("a body with too few outputs compiled")
	}
}

// TestVersions: the schema in force at each opset (the registry picks the
// greatest since-version <= the model's opset).
func TestVersions(t *testing.T) {
	r := testRegistry(t)
	for _, tc := range []struct {
		op          string
		opset, want int
	}{
		{"If", 1, 1}, {"If", 12, 11}, {"If", 18, 16}, {"If", 27, 25},
		{"Loop", 10, 1}, {"Loop", 13, 13}, {"Loop", 22, 21}, {"Loop", 27, 25},
		{"Scan", 8, 8}, {"Scan", 10, 9}, {"Scan", 15, 11}, {"Scan", 24, 24}, {"Scan", 27, 25},
	} {
		op, err := r.Lookup("", tc.op, tc.opset)
		if err != nil || op.Since != tc.want {
			t.Errorf("%s at opset %d: got %v %v, want since %d", tc.op, tc.opset, op, err, tc.want)
		}
	}
	if _, err := r.Lookup("", "Scan", 7); err == nil {
		t.Error("Scan at opset 7 resolved; Scan starts at 8")
	}
}

// TestLoopZeroIterationShapes: empty scan outputs take the body's declared
// shape (symbolic dimensions as 0), or [0] when the rank is unknown.
func TestLoopZeroIterationShapes(t *testing.T) {
	for _, tc := range []struct {
		decl tensor.Type
		want []int
	}{
		{tensor.TensorType(f32, 1000), []int{0, 1000}},
		{tensor.Type{Kind: tensor.KindTensor, DType: f32, HasShape: true, Shape: []tensor.Dim{{Size: -1, Param: "N"}, {Size: 2}}}, []int{0, 0, 2}},
		{tensor.Type{Kind: tensor.KindTensor, DType: f32}, []int{0}},
	} {
		body := foreverBody()
		body.Outputs[1].Type = tc.decl
		g := loopModel(body, "M", "", nil, []*ir.ValueInfo{vi("all", tensor.Type{Kind: tensor.KindTensor, DType: f32})})
		g.Initializers = []*ir.Initializer{{Name: "big", T: tensor.Zeros(f32, 1000)}}
		out, err := run(t, g, 13, map[string]tensor.Value{"M": tensor.Scalar(int64(0))}, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		wantTensor(t, "all", out["all"], tc.want, []float32{})
	}
}

// TestLoopRank1Counters: a body that declares its iteration number and
// condition as shape [1] gets them so.
func TestLoopRank1Counters(t *testing.T) {
	body := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{vi("i", tensor.TensorType(i64, 1)), vi("c", tensor.TensorType(tensor.Bool, 1))},
		Nodes: []*ir.Node{
			nd("Identity", []string{"i"}, []string{"is"}),
			nd("Identity", []string{"c"}, []string{"cs"}),
		},
		Outputs: []*ir.ValueInfo{vi("c", tensor.TensorType(tensor.Bool, 1)), vi("is", tensor.TensorType(i64, 1)), vi("cs", tensor.TensorType(tensor.Bool, 1))}}
	g := loopModel(body, "M", "cond", nil, []*ir.ValueInfo{vi("is", tensor.TensorType(i64, 3, 1)), vi("cs", tensor.TensorType(tensor.Bool, 3, 1))})
	out, err := run(t, g, 13, map[string]tensor.Value{"M": tensor.Scalar(int64(3)), "cond": tensor.Scalar(true)}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantTensor(t, "is", out["is"], []int{3, 1}, []int64{0, 1, 2})
	wantTensor(t, "cs", out["cs"], []int{3, 1}, []bool{true, true, true})
}
