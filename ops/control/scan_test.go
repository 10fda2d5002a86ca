package control_test

import (
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// scanSumBody: sum_out = sum_in + e; both scan outputs are sum_out.
func scanSumBody(elem tensor.Type) *ir.Graph {
	return &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{vi("sum_in", elem), vi("e", elem)},
		Nodes: []*ir.Node{
			nd("Add", []string{"sum_in", "e"}, []string{"sum_out"}),
			nd("Identity", []string{"sum_out"}, []string{"y0"}),
			nd("Identity", []string{"sum_out"}, []string{"y1"}),
		},
		Outputs: []*ir.ValueInfo{vi("sum_out", elem), vi("y0", elem), vi("y1", elem)}}
}

// TestScan9Axes scans the columns of x = [[1 2 3] [4 5 6]] from the last,
// stacking one output along axis 1 and the other, reversed, along axis 0.
func TestScan9Axes(t *testing.T) {
	body := scanSumBody(tensor.TensorType(f32, 2))
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{vi("s0", tensor.TensorType(f32, 2)), vi("x", tensor.TensorType(f32, 2, 3))},
		Nodes: []*ir.Node{nd("Scan", []string{"s0", "x"}, []string{"s", "ya", "yb"}, gattr("body", body),
			iattr("num_scan_inputs", 1),
			intsAttr("scan_input_axes", -1), intsAttr("scan_input_directions", 1),
			intsAttr("scan_output_axes", 1, 0), intsAttr("scan_output_directions", 0, 1))},
		Outputs: []*ir.ValueInfo{vi("s", tensor.TensorType(f32, 2)), vi("ya", tensor.TensorType(f32, 2, 3)), vi("yb", tensor.TensorType(f32, 3, 2))}}
	out, err := run(t, g, 11, map[string]tensor.Value{
		"s0": tensor.Must([]int{2}, []float32{0, 0}),
		"x":  tensor.Must([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
	}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Columns in reverse: [3 6], [2 5], [1 4]; running sums [3 6], [5 11], [6 15].
	wantTensor(t, "s", out["s"], []int{2}, []float32{6, 15})
	wantTensor(t, "ya", out["ya"], []int{2, 3}, []float32{3, 5, 6, 6, 11, 15})
	wantTensor(t, "yb", out["yb"], []int{3, 2}, []float32{6, 15, 5, 11, 3, 6})
}

// TestScan8Batch: version 8 with a batch of two sequences of lengths 3 and
// 2; the second's scan output is zero-padded.
func TestScan8Batch(t *testing.T) {
	body := scanSumBody(tensor.TensorType(f32, 1))
	body.Nodes = body.Nodes[:2]
	body.Outputs = body.Outputs[:2]
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{vi("lens", tensor.TensorType(i64, 2)), vi("s0", tensor.TensorType(f32, 2, 1)), vi("x", tensor.TensorType(f32, 2, 3, 1))},
		Nodes: []*ir.Node{nd("Scan", []string{"lens", "s0", "x"}, []string{"s", "y"}, gattr("body", body),
			iattr("num_scan_inputs", 1))},
		Outputs: []*ir.ValueInfo{vi("s", tensor.TensorType(f32, 2, 1)), vi("y", tensor.TensorType(f32, 2, 3, 1))}}
	feeds := map[string]tensor.Value{
		"lens": tensor.Must([]int{2}, []int64{3, 2}),
		"s0":   tensor.Must([]int{2, 1}, []float32{0, 100}),
		"x":    tensor.Must([]int{2, 3, 1}, []float32{1, 2, 3, 10, 20, 30}),
	}
	out, err := run(t, g, 8, feeds, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantTensor(t, "s", out["s"], []int{2, 1}, []float32{6, 130})
	wantTensor(t, "y", out["y"], []int{2, 3, 1}, []float32{1, 3, 6, 110, 130, 0})

	// Reverse direction without sequence_lens.
	g.Nodes[0].Inputs[0] = ""
	g.Nodes[0].Attrs = append(g.Nodes[0].Attrs, intsAttr("directions", 1))
	g.Inputs = g.Inputs[1:]
	delete(feeds, "lens")
	out, err = run(t, g, 8, feeds, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantTensor(t, "s", out["s"], []int{2, 1}, []float32{6, 160})
	wantTensor(t, "y", out["y"], []int{2, 3, 1}, []float32{3, 5, 6, 130, 150, 160})
}

// TestScanErrors: inputs whose scan lengths differ, and a bad attribute.
func TestScanErrors(t *testing.T) {
	body := &ir.Graph{Name: "body",
		Inputs:  []*ir.ValueInfo{vi("a", scalarT(f32)), vi("b", scalarT(f32))},
		Nodes:   []*ir.Node{nd("Add", []string{"a", "b"}, []string{"y"})},
		Outputs: []*ir.ValueInfo{vi("y", scalarT(f32))}}
	g := &ir.Graph{Name: "main",
		Inputs:  []*ir.ValueInfo{vi("a", tensor.TensorType(f32, 3)), vi("b", tensor.TensorType(f32, 2))},
		Nodes:   []*ir.Node{nd("Scan", []string{"a", "b"}, []string{"y"}, gattr("body", body), iattr("num_scan_inputs", 2))},
		Outputs: []*ir.ValueInfo{vi("y", tensor.TensorType(f32, 3))}}
	_, err := run(t, g, 9, map[string]tensor.Value{"a": tensor.Zeros(f32, 3), "b": tensor.Zeros(f32, 2)}, runtime.Options{})
	if err == nil {
		t.Fatal("scan inputs of lengths 3 and 2 ran")
	}
	g.Nodes[0].Attrs = append(g.Nodes[0].Attrs, intsAttr("scan_input_directions", 2, 0))
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetID{{Domain: "", Version: 9}}, Graph: g}
	if _, err := runtime.NewSession(m, runtime.Options{Provider: runtime.NativeWith(testRegistry(t))}); err == nil {
		t.Fatal("scan_input_directions = [2 0] compiled")
	}
}

// TestScanZeroLength: a scan over an empty axis returns the initial state
// and empty scan outputs shaped from the body's declared type.
func TestScanZeroLength(t *testing.T) {
	body := scanSumBody(tensor.TensorType(f32, 2))
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{vi("s0", tensor.TensorType(f32, 2)), vi("x", tensor.TensorType(f32, 0, 2))},
		Nodes: []*ir.Node{nd("Scan", []string{"s0", "x"}, []string{"s", "ya", "yb"}, gattr("body", body),
			iattr("num_scan_inputs", 1), intsAttr("scan_output_axes", 0, 1))},
		Outputs: []*ir.ValueInfo{vi("s", tensor.TensorType(f32, 2)), vi("ya", tensor.TensorType(f32, 0, 2)), vi("yb", tensor.TensorType(f32, 2, 0))}}
	out, err := run(t, g, 16, map[string]tensor.Value{"s0": tensor.Must([]int{2}, []float32{1, 2}), "x": tensor.Zeros(f32, 0, 2)}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantTensor(t, "s", out["s"], []int{2}, []float32{1, 2})
	wantTensor(t, "ya", out["ya"], []int{0, 2}, []float32{})
	wantTensor(t, "yb", out["yb"], []int{2, 0}, []float32{})
}

// TestSequenceMapExtraInputs maps Add over a sequence with a sequence and a
// tensor as extra inputs (SequenceMap lives in ops/sequence but needs the
// runtime's subgraphs, so it is tested here).
func TestSequenceMapExtraInputs(t *testing.T) {
	body := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{vi("a", tensor.Type{Kind: tensor.KindTensor, DType: f32}), vi("b", tensor.Type{Kind: tensor.KindTensor, DType: f32}), vi("k", scalarT(f32))},
		Nodes: []*ir.Node{
			nd("Add", []string{"a", "b"}, []string{"ab"}),
			nd("Add", []string{"ab", "k"}, []string{"sum"}),
			nd("Mul", []string{"a", "k"}, []string{"prod"}),
		},
		Outputs: []*ir.ValueInfo{vi("sum", tensor.Type{Kind: tensor.KindTensor, DType: f32}), vi("prod", tensor.Type{Kind: tensor.KindTensor, DType: f32})}}
	g := &ir.Graph{Name: "main",
		Inputs:  []*ir.ValueInfo{vi("xs", seqT(f32)), vi("ys", seqT(f32)), vi("k", scalarT(f32))},
		Nodes:   []*ir.Node{nd("SequenceMap", []string{"xs", "ys", "k"}, []string{"sums", "prods"}, gattr("body", body))},
		Outputs: []*ir.ValueInfo{vi("sums", seqT(f32)), vi("prods", seqT(f32))}}
	xs := &tensor.Sequence{Elem: tensor.Type{Kind: tensor.KindTensor, DType: f32}, Items: []tensor.Value{
		tensor.Must([]int{2}, []float32{1, 2}), tensor.Must([]int{1}, []float32{3})}}
	ys := &tensor.Sequence{Elem: tensor.Type{Kind: tensor.KindTensor, DType: f32}, Items: []tensor.Value{
		tensor.Must([]int{2}, []float32{10, 20}), tensor.Must([]int{1}, []float32{30})}}
	out, err := run(t, g, 17, map[string]tensor.Value{"xs": xs, "ys": ys, "k": tensor.Scalar(float32(100))}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sums, prods := out["sums"].(*tensor.Sequence), out["prods"].(*tensor.Sequence)
	if sums == nil || prods == nil || len(sums.Items) != 2 || len(prods.Items) != 2 {
		t.Fatalf("got %#v and %#v, want two sequences of 2", out["sums"], out["prods"])
	}
	wantTensor(t, "sums[0]", sums.Items[0], []int{2}, []float32{111, 122})
	wantTensor(t, "sums[1]", sums.Items[1], []int{1}, []float32{133})
	wantTensor(t, "prods[0]", prods.Items[0], []int{2}, []float32{100, 200})
	wantTensor(t, "prods[1]", prods.Items[1], []int{1}, []float32{300})

	// Empty input: empty outputs typed from the body.
	empty := &tensor.Sequence{Elem: xs.Elem}
	out, err = run(t, g, 17, map[string]tensor.Value{"xs": empty, "ys": empty, "k": tensor.Scalar(float32(1))}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := out["sums"].(*tensor.Sequence); len(s.Items) != 0 || s.Elem.DType != f32 {
		t.Fatalf("got %#v, want an empty float32 sequence", s)
	}
	// Mismatched lengths fail.
	_, err = run(t, g, 17, map[string]tensor.Value{"xs": xs, "ys": empty, "k": tensor.Scalar(float32(1))}, runtime.Options{})
	if err == nil {
		t.Fatal("sequences of lengths 2 and 0 were mapped")
	}
}
