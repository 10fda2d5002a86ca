package ml

import (
	"math"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func aInt(name string, v int64) ops.Attr     { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
func aFloat(name string, v float32) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrFloat, F: v} }
func aStr(name, v string) ops.Attr           { return ops.Attr{Name: name, Type: ops.AttrString, S: []byte(v)} }
func aInts(name string, v ...int64) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrInts, Ints: v}
}
func aFloats(name string, v ...float32) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrFloats, Floats: v}
}
func aTensor(name string, t *tensor.Tensor) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrTensor, T: t}
}
func aStrs(name string, v ...string) ops.Attr {
	a := ops.Attr{Name: name, Type: ops.AttrStrings}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

// runML compiles and runs the ai.onnx.ml schema of op at opset.
func runML(t testing.TB, op string, opset int, attrs []ops.Attr, nOut int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	reg, err := ops.NewRegistry(Ops())
	if err != nil {
		t.Fatal(err)
	}
	schema, err := reg.Lookup(Domain, op, opset)
	if err != nil {
		t.Fatal(err)
	}
	k, err := schema.Compile(&ops.Node{OpType: op, Domain: Domain, Opset: opset, Attrs: attrs, Outputs: []string{"y", "z"}[:nOut]})
	if err != nil {
		return nil, err
	}
	return k.Run(&ops.Ctx{Threads: 1}, in)
}

func mustRun(t *testing.T, op string, opset int, attrs []ops.Attr, nOut int, in ...*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	res, err := runML(t, op, opset, attrs, nOut, in...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func wantEqual(t *testing.T, got, want *tensor.Tensor) {
	t.Helper()
	if !tensor.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func wantClose(t *testing.T, got *tensor.Tensor, shape []int, want []float32) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), shape) {
		t.Fatalf("shape %v, want %v", got.Shape(), shape)
	}
	g := tensor.Data[float32](got)
	for i := range want {
		if math.Abs(float64(g[i]-want[i])) > 1e-5 {
			t.Fatalf("got %v, want %v", g, want)
		}
	}
}

func wantErr(t *testing.T, err error, sub string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), sub) {
		t.Fatalf("error %v, want one mentioning %q", err, sub)
	}
}

func TestArrayFeatureExtractorAndBinarizer(t *testing.T) {
	x := tensor.Must([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	got := mustRun(t, "ArrayFeatureExtractor", 1, nil, 1, x, tensor.Must([]int{2}, []int64{2, 0}))[0]
	wantEqual(t, got, tensor.Must([]int{2, 2}, []float32{3, 1, 6, 4}))
	got = mustRun(t, "ArrayFeatureExtractor", 1, nil, 1, tensor.Must([]int{3}, []string{"a", "b", "c"}), tensor.Must([]int{1}, []int64{1}))[0]
	wantEqual(t, got, tensor.Must([]int{1, 1}, []string{"b"}))
	_, err := runML(t, "ArrayFeatureExtractor", 1, nil, 1, x, tensor.Must([]int{1}, []int64{3}))
	wantErr(t, err, "index 3")

	got = mustRun(t, "Binarizer", 1, []ops.Attr{aFloat("threshold", 2.5)}, 1, x)[0]
	wantEqual(t, got, tensor.Must([]int{2, 3}, []float32{0, 0, 1, 1, 1, 1}))
}

func TestLabelEncoder(t *testing.T) {
	s := tensor.Must([]int{2, 2}, []string{"b", "z", "a", "b"})
	// Version 1: strings to their class index, int64 back to strings.
	got := mustRun(t, "LabelEncoder", 1, []ops.Attr{aStrs("classes_strings", "a", "b")}, 1, s)[0]
	wantEqual(t, got, tensor.Must([]int{2, 2}, []int64{1, -1, 0, 1}))
	got = mustRun(t, "LabelEncoder", 1, []ops.Attr{aStrs("classes_strings", "a", "b"), aStr("default_string", "?")}, 1, tensor.Must([]int{3}, []int64{1, 5, 0}))[0]
	wantEqual(t, got, tensor.Must([]int{3}, []string{"b", "?", "a"}))

	// Float keys to strings; default "_Unused"; a NaN key matches NaN from version 4.
	nan := float32(math.NaN())
	nanKeys := []ops.Attr{aFloats("keys_floats", 0.5, nan), aStrs("values_strings", "half", "nan")}
	got = mustRun(t, "LabelEncoder", 2, nanKeys, 1, tensor.Must([]int{3}, []float32{nan, 0.5, 1}))[0]
	wantEqual(t, got, tensor.Must([]int{3}, []string{"_Unused", "half", "_Unused"}))
	got = mustRun(t, "LabelEncoder", 4, nanKeys, 1, tensor.Must([]int{3}, []float32{nan, 0.5, 1}))[0]
	wantEqual(t, got, tensor.Must([]int{3}, []string{"nan", "half", "_Unused"}))
	// int64 -> float with the -0.0 default.
	got = mustRun(t, "LabelEncoder", 2, []ops.Attr{aInts("keys_int64s", 7), aFloats("values_floats", 1.5)}, 1, tensor.Must([]int{2}, []int64{7, 8}))[0]
	if d := tensor.Data[float32](got); d[0] != 1.5 || d[1] != 0 || !math.Signbit(float64(d[1])) {
		t.Fatalf("got %v, want [1.5 -0]", d)
	}

	// Version 4: tensor keys and values (int32 -> float64) with a default tensor.
	got = mustRun(t, "LabelEncoder", 4, []ops.Attr{aTensor("keys_tensor", tensor.Must([]int{2}, []int32{3, 4})),
		aTensor("values_tensor", tensor.Must([]int{2}, []float64{0.25, 0.75})), aTensor("default_tensor", tensor.Must([]int{1}, []float64{9}))}, 1,
		tensor.Must([]int{3}, []int32{4, 3, 5}))[0]
	wantEqual(t, got, tensor.Must([]int{3}, []float64{0.75, 0.25, 9}))
	// Without default_tensor the default follows the values' type (int16: -1).
	got = mustRun(t, "LabelEncoder", 4, []ops.Attr{aStrs("keys_strings", "a"), aTensor("values_tensor", tensor.Must([]int{1}, []int16{5}))}, 1,
		tensor.Must([]int{2}, []string{"a", "b"}))[0]
	wantEqual(t, got, tensor.Must([]int{2}, []int16{5, -1}))

	_, err := runML(t, "LabelEncoder", 2, []ops.Attr{aStrs("keys_strings", "a", "b"), aInts("values_int64s", 1)}, 1, s)
	wantErr(t, err, "2 keys but 1 values")
	_, err = runML(t, "LabelEncoder", 2, []ops.Attr{aStrs("keys_strings", "a"), aInts("keys_int64s", 1), aInts("values_int64s", 1)}, 1, s)
	wantErr(t, err, "exactly one of keys_")
	_, err = runML(t, "LabelEncoder", 2, []ops.Attr{aStrs("keys_strings", "a"), aInts("values_int64s", 1)}, 1, tensor.Must([]int{1}, []int64{1}))
	wantErr(t, err, "keys are string")
}

// treeAttrs is the two-level tree of the TreeEnsemble-5 spec example:
// node 0: x0 <= 3.14 ? node 1 : leaf 1 ... written out for a 2-target model.
func treeAttrs() []ops.Attr {
	return []ops.Attr{
		aInt("n_targets", 2), aInt("aggregate_function", 1), aInts("tree_roots", 0),
		aInts("nodes_featureids", 0, 1), aTensor("nodes_modes", tensor.Must([]int{2}, []uint8{0, 6})),
		aTensor("nodes_splits", tensor.Must([]int{2}, []float32{3, 0})),
		aInts("nodes_truenodeids", 1, 0), aInts("nodes_trueleafs", 0, 1),
		aInts("nodes_falsenodeids", 2, 1), aInts("nodes_falseleafs", 1, 1),
		aTensor("membership_values", tensor.Must([]int{3}, []float32{1, 4, float32(math.NaN())})),
		aInts("nodes_missing_value_tracks_true", 1, 0),
		aInts("leaf_targetids", 0, 1, 1), aTensor("leaf_weights", tensor.Must([]int{3}, []float32{10, 20, 30})),
	}
}

func replaceAttr(attrs []ops.Attr, a ops.Attr) []ops.Attr {
	out := append([]ops.Attr{}, attrs...)
	for i := range out {
		if out[i].Name == a.Name {
			out[i] = a
			return out
		}
	}
	return append(out, a)
}

func TestTreeEnsemble(t *testing.T) {
	// Rows: x0 <= 3 -> node 1: x1 in {1, 4} -> leaf 0 (target 0, 10) else leaf 1 (target 1, 20);
	// x0 > 3 -> leaf 2 (target 1, 30); x0 NaN tracks true.
	x := tensor.Must([]int{4, 2}, []float32{1, 4, 2, 2, 5, 1, float32(math.NaN()), 1})
	got := mustRun(t, "TreeEnsemble", 5, treeAttrs(), 1, x)[0]
	wantEqual(t, got, tensor.Must([]int{4, 2}, []float32{10, 0, 0, 20, 0, 30, 10, 0}))

	// LOGISTIC post transform, float64 input.
	xd := tensor.Must([]int{1, 2}, []float64{5, 0})
	got = mustRun(t, "TreeEnsemble", 5, replaceAttr(treeAttrs(), aInt("post_transform", 2)), 1, xd)[0]
	if d := tensor.Data[float64](got); d[0] != 0.5 || math.Abs(d[1]-1/(1+math.Exp(-30))) > 1e-15 {
		t.Fatalf("got %v", d)
	}

	bad := []struct {
		attr ops.Attr
		want string
	}{
		{aInts("nodes_truenodeids", 5, 0), "nodes_truenodeids[0] is 5"},
		{aInts("nodes_falsenodeids", 2, 7), "nodes_falsenodeids[1] is 7"},
		{aInts("tree_roots", 2), "tree_roots[0] is 2"},
		{aInts("leaf_targetids", 0, 2, 1), "leaf_targetids holds 2"},
		{aInts("nodes_featureids", 0, -1), "nodes_featureids[1] is -1"},
		{aInts("nodes_truenodeids", 1, 1), "nodes_trueleafs"},
		{aTensor("nodes_modes", tensor.Must([]int{2}, []uint8{0, 9})), "nodes_modes[1] is 9"},
		{aInt("aggregate_function", 7), "aggregate_function"},
	}
	for _, c := range bad {
		_, err := runML(t, "TreeEnsemble", 5, replaceAttr(treeAttrs(), c.attr), 1, x)
		if c.want == "nodes_trueleafs" {
			// Node 1's true branch to node 1 is a cycle once it is not a leaf.
			_, err = runML(t, "TreeEnsemble", 5, replaceAttr(replaceAttr(treeAttrs(), c.attr), aInts("nodes_trueleafs", 0, 0)), 1, x)
			c.want = "reachable from itself"
		}
		wantErr(t, err, c.want)
	}
	// A feature past X's width is a run-time error.
	_, err := runML(t, "TreeEnsemble", 5, treeAttrs(), 1, tensor.Must([]int{1, 1}, []float32{0}))
	wantErr(t, err, "feature 1")
}

// legacyTrees are two trees (ids 0 and 1) in the pre-5 attribute form.
func legacyTrees(prefix string) []ops.Attr {
	return []ops.Attr{
		aInts("nodes_treeids", 0, 0, 0, 1), aInts("nodes_nodeids", 0, 1, 2, 0),
		aInts("nodes_featureids", 0, 0, 0, 0), aStrs("nodes_modes", "BRANCH_LT", "LEAF", "LEAF", "LEAF"),
		aFloats("nodes_values", 2, 0, 0, 0), aInts("nodes_truenodeids", 1, 0, 0, 0), aInts("nodes_falsenodeids", 2, 0, 0, 0),
		aInts(prefix+"_treeids", 0, 0, 1), aInts(prefix+"_nodeids", 1, 2, 0), aInts(prefix+"_ids", 0, 1, 0),
		aFloats(prefix+"_weights", 1, 3, 0.5),
	}
}

func TestTreeEnsembleRegressor(t *testing.T) {
	x := tensor.Must([]int{2, 1}, []float32{1, 5})
	// x < 2: tree 0 gives target 0 weight 1; else target 1 weight 3. Tree 1 always gives target 0 weight 0.5.
	// Row 0 reaches no leaf of target 1: 0 without a post transform, else the base value.
	attrs := append(legacyTrees("target"), aInt("n_targets", 2), aFloats("base_values", 100, 200))
	got := mustRun(t, "TreeEnsembleRegressor", 1, attrs, 1, x)[0]
	wantClose(t, got, []int{2, 2}, []float32{101.5, 0, 100.5, 203})
	got = mustRun(t, "TreeEnsembleRegressor", 3, append(attrs, aStr("aggregate_function", "AVERAGE")), 1, x)[0]
	wantClose(t, got, []int{2, 2}, []float32{100.75, 0, 100.25, 201.5})
	got = mustRun(t, "TreeEnsembleRegressor", 3, append(attrs, aStr("post_transform", "SOFTMAX")), 1, x)[0]
	e := float32(1 / (1 + math.Exp(200-101.5)))
	wantClose(t, got, []int{2, 2}, []float32{e, 1 - e, 0, 1})

	_, err := runML(t, "TreeEnsembleRegressor", 3, replaceAttr(attrs, aInts("nodes_truenodeids", 9, 0, 0, 0)), 1, x)
	wantErr(t, err, "nodes_truenodeids[0] is 9")
	_, err = runML(t, "TreeEnsembleRegressor", 3, replaceAttr(attrs, aInts("target_nodeids", 0, 2, 0)), 1, x)
	wantErr(t, err, "not a leaf")
	_, err = runML(t, "TreeEnsembleRegressor", 3, replaceAttr(attrs, aInts("target_ids", 0, 2, 0)), 1, x)
	wantErr(t, err, "target_ids[1] is 2")
}

func TestTreeEnsembleClassifier(t *testing.T) {
	x := tensor.Must([]int{2, 1}, []float32{1, 5})
	attrs := append(legacyTrees("class"), aStrs("classlabels_strings", "no", "yes"))
	res := mustRun(t, "TreeEnsembleClassifier", 1, attrs, 2, x)
	// Row 0: class 0 gets 1 + 0.5; row 1: class 0 gets 0.5, class 1 gets 3.
	wantEqual(t, res[0], tensor.Must([]int{2}, []string{"no", "yes"}))
	wantClose(t, res[1], []int{2, 2}, []float32{1.5, 0, 0.5, 3})

	// Multi-class labels come from the classes some leaf scored: row 0 scores
	// only class 0 (-1 + 0.5), so its label is "no" although class 1 has 0.
	neg := replaceAttr(attrs, aFloats("class_weights", -1, 3, -0.5))
	res = mustRun(t, "TreeEnsembleClassifier", 3, neg, 2, x)
	wantEqual(t, res[0], tensor.Must([]int{2}, []string{"no", "yes"}))

	// Binary, all weights >= 0 on class 0: label by s > 0.5, Z = [1-s, s] untransformed.
	pos := replaceAttr(append(legacyTrees("class"), aInts("classlabels_int64s", 0, 1)), aInts("class_ids", 0, 0, 0))
	res = mustRun(t, "TreeEnsembleClassifier", 3, replaceAttr(pos, aFloats("class_weights", 0.25, 2, 0.125)), 2, x)
	wantEqual(t, res[0], tensor.Must([]int{2}, []int64{0, 1}))
	wantClose(t, res[1], []int{2, 2}, []float32{0.625, 0.375, -1.125, 2.125})
	// Mixed signs without a transform: label by s > 0, Z = [-s, s].
	res = mustRun(t, "TreeEnsembleClassifier", 3, replaceAttr(pos, aFloats("class_weights", -1, 2, 0.5)), 2, x)
	wantEqual(t, res[0], tensor.Must([]int{2}, []int64{0, 1}))
	wantClose(t, res[1], []int{2, 2}, []float32{0.5, -0.5, -2.5, 2.5})

	// Every weight on class 1: Z is the transform of [0, s].
	one := replaceAttr(replaceAttr(pos, aInts("class_ids", 1, 1, 1)), aFloats("class_weights", -1, 2, 0.5))
	res = mustRun(t, "TreeEnsembleClassifier", 3, one, 2, x)
	wantEqual(t, res[0], tensor.Must([]int{2}, []int64{0, 1}))
	wantClose(t, res[1], []int{2, 2}, []float32{0, -0.5, 0, 2.5})
	res = mustRun(t, "TreeEnsembleClassifier", 3, append(one, aStr("post_transform", "LOGISTIC")), 2, x)
	wantClose(t, res[1], []int{2, 2}, []float32{0.5, float32(1 / (1 + math.Exp(0.5))), 0.5, float32(1 / (1 + math.Exp(-2.5)))})

	// Binary: every weight on class 0, LOGISTIC -> [sigmoid(-s), sigmoid(s)].
	bin := append(legacyTrees("class"), aInts("classlabels_int64s", 0, 1), aStr("post_transform", "LOGISTIC"))
	bin = replaceAttr(bin, aInts("class_ids", 0, 0, 0))
	bin = replaceAttr(bin, aFloats("class_weights", -1, 2, 0.5))
	res = mustRun(t, "TreeEnsembleClassifier", 3, bin, 2, x)
	s0, s1 := -0.5, 2.5
	sig := func(v float64) float32 { return float32(1 / (1 + math.Exp(-v))) }
	wantEqual(t, res[0], tensor.Must([]int{2}, []int64{0, 1}))
	wantClose(t, res[1], []int{2, 2}, []float32{sig(-s0), sig(s0), sig(-s1), sig(s1)})
}

func TestInfer(t *testing.T) {
	for _, op := range Ops() {
		if op.Infer == nil {
			t.Errorf("%s-%d has no Infer", op.Type, op.Since)
		}
	}
	str := tensor.TensorType(tensor.String, 3)
	cases := []struct {
		op    string
		attrs []ops.Attr
		in    tensor.Type
		want  []tensor.DType
	}{
		{"LabelEncoder", []ops.Attr{aTensor("values_tensor", tensor.Must([]int{1}, []int16{1}))}, str, []tensor.DType{tensor.Int16}},
		{"LabelEncoder", []ops.Attr{aStrs("values_strings", "a")}, tensor.TensorType(tensor.Int64, 3), []tensor.DType{tensor.String}},
		{"CategoryMapper", nil, str, []tensor.DType{tensor.Int64}},
		{"TreeEnsembleClassifier", []ops.Attr{aStrs("classlabels_strings", "a")}, str, []tensor.DType{tensor.String, tensor.Float32}},
		{"SVMClassifier", []ops.Attr{aInts("classlabels_ints", 1)}, str, []tensor.DType{tensor.Int64, tensor.Float32}},
		{"TreeEnsemble", nil, tensor.TensorType(tensor.Float64, 2, 2), []tensor.DType{tensor.Float64}},
	}
	reg, err := ops.NewRegistry(Ops())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		schema, err := reg.Lookup(Domain, c.op, 5)
		if err != nil {
			t.Fatal(err)
		}
		got, err := schema.Infer(&ops.Node{OpType: c.op, Domain: Domain, Attrs: c.attrs}, []tensor.Type{c.in})
		if err != nil || len(got) != len(c.want) {
			t.Fatalf("%s: %v, %v", c.op, got, err)
		}
		for i, d := range c.want {
			if got[i].DType != d {
				t.Errorf("%s output %d: %v, want %v", c.op, i, got[i].DType, d)
			}
		}
	}
}
