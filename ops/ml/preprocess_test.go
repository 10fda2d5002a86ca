package ml

import (
	"math"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func TestLinearModels(t *testing.T) {
	x := tensor.Must([]int{2, 2}, []float32{1, 2, -1, 0})
	// Two targets: W = [[1, 1], [2, -1]], b = [0.5, 0].
	reg := []ops.Attr{aInt("targets", 2), aFloats("coefficients", 1, 1, 2, -1), aFloats("intercepts", 0.5, 0)}
	got := mustRun(t, "LinearRegressor", 1, reg, 1, x)[0]
	wantClose(t, got, []int{2, 2}, []float32{3.5, 0, -0.5, -2})

	cls := []ops.Attr{aInts("classlabels_ints", 7, 8), aFloats("coefficients", 1, 1, 2, -1), aFloats("intercepts", 0.5, 0)}
	res := mustRun(t, "LinearClassifier", 1, cls, 2, x)
	wantEqual(t, res[0], tensor.Must([]int{2}, []int64{7, 7}))
	wantClose(t, res[1], []int{2, 2}, []float32{3.5, 0, -0.5, -2})

	// One coefficient row with two labels: label by s > 0, scores [1-s, s] (s = -0.5 in both rows).
	bin0 := []ops.Attr{aStrs("classlabels_strings", "neg", "pos"), aFloats("coefficients", 1, -1), aFloats("intercepts", 0.5)}
	res = mustRun(t, "LinearClassifier", 1, bin0, 2, x)
	wantEqual(t, res[0], tensor.Must([]int{2}, []string{"neg", "neg"}))
	wantClose(t, res[1], []int{2, 2}, []float32{1.5, -0.5, 1.5, -0.5})
	// The same with LOGISTIC: [σ(-s), σ(s)].
	bin := []ops.Attr{aStrs("classlabels_strings", "neg", "pos"), aFloats("coefficients", 1, -1), aFloats("intercepts", 0), aStr("post_transform", "LOGISTIC")}
	res = mustRun(t, "LinearClassifier", 1, bin, 2, x)
	sig := func(v float64) float32 { return float32(1 / (1 + math.Exp(-v))) }
	wantEqual(t, res[0], tensor.Must([]int{2}, []string{"neg", "neg"}))
	wantClose(t, res[1], []int{2, 2}, []float32{sig(1), sig(-1), sig(1), sig(-1)})

	_, err := runML(t, "LinearRegressor", 1, []ops.Attr{aInt("targets", 2), aFloats("coefficients", 1, 2, 3)}, 1, x)
	wantErr(t, err, "coefficients has 3 values")
	_, err = runML(t, "LinearRegressor", 1, reg, 1, tensor.Must([]int{1, 3}, []float32{1, 2, 3}))
	wantErr(t, err, "3 features")
}

func TestPreprocessing(t *testing.T) {
	x := tensor.Must([]int{2, 3}, []float32{1, -2, 2, 0, 0, 0})
	for _, c := range []struct {
		norm string
		want []float32
	}{
		{"MAX", []float32{0.5, -1, 1, 0, 0, 0}},
		{"L1", []float32{0.2, -0.4, 0.4, 0, 0, 0}},
		{"L2", []float32{1.0 / 3, -2.0 / 3, 2.0 / 3, 0, 0, 0}},
	} {
		got := mustRun(t, "Normalizer", 1, []ops.Attr{aStr("norm", c.norm)}, 1, x)[0]
		wantClose(t, got, []int{2, 3}, c.want)
	}

	got := mustRun(t, "Scaler", 1, []ops.Attr{aFloats("offset", 1), aFloats("scale", 1, 2, 3)}, 1, tensor.Must([]int{2, 3}, []int64{1, 2, 3, 4, 5, 6}))[0]
	wantClose(t, got, []int{2, 3}, []float32{0, 2, 6, 3, 8, 15})
	_, err := runML(t, "Scaler", 1, []ops.Attr{aFloats("scale", 1, 2)}, 1, x)
	wantErr(t, err, "scale has 2 values")

	got = mustRun(t, "OneHotEncoder", 1, []ops.Attr{aStrs("cats_strings", "a", "b", "c")}, 1, tensor.Must([]int{1, 3}, []string{"c", "x", "a"}))[0]
	wantClose(t, got, []int{1, 3, 3}, []float32{0, 0, 1, 0, 0, 0, 1, 0, 0})
	_, err = runML(t, "OneHotEncoder", 1, []ops.Attr{aInts("cats_int64s", 1, 2), aInt("zeros", 0)}, 1, tensor.Must([]int{2}, []float64{2, 3}))
	wantErr(t, err, "not a category")

	nan := float32(math.NaN())
	got = mustRun(t, "Imputer", 1, []ops.Attr{aFloats("imputed_value_floats", 7, 8), aFloat("replaced_value_float", nan)}, 1,
		tensor.Must([]int{2, 2}, []float32{nan, 1, 2, nan}))[0]
	wantEqual(t, got, tensor.Must([]int{2, 2}, []float32{7, 1, 2, 8}))
	got = mustRun(t, "Imputer", 1, []ops.Attr{aInts("imputed_value_int64s", 9), aInt("replaced_value_int64", -1)}, 1,
		tensor.Must([]int{3}, []int64{-1, 1, -1}))[0]
	wantEqual(t, got, tensor.Must([]int{3}, []int64{9, 1, 9}))

	got = mustRun(t, "FeatureVectorizer", 1, []ops.Attr{aInts("inputdimensions", 1, 3)}, 1,
		tensor.Must([]int{2, 2}, []int64{1, 2, 3, 4}), tensor.Must([]int{2, 2}, []float64{5, 6, 7, 8}))[0]
	wantClose(t, got, []int{2, 4}, []float32{1, 5, 6, 0, 3, 7, 8, 0})

	cm := []ops.Attr{aStrs("cats_strings", "x", "y"), aInts("cats_int64s", 10, 20)}
	wantEqual(t, mustRun(t, "CategoryMapper", 1, cm, 1, tensor.Must([]int{3}, []string{"y", "q", "x"}))[0], tensor.Must([]int{3}, []int64{20, -1, 10}))
	wantEqual(t, mustRun(t, "CategoryMapper", 1, cm, 1, tensor.Must([]int{2}, []int64{10, 5}))[0], tensor.Must([]int{2}, []string{"x", "_Unused"}))
}

func runValues(t *testing.T, op string, attrs []ops.Attr, in tensor.Value) ([]tensor.Value, error) {
	t.Helper()
	reg, err := ops.NewRegistry(Ops())
	if err != nil {
		t.Fatal(err)
	}
	schema, err := reg.Lookup(Domain, op, 1)
	if err != nil {
		t.Fatal(err)
	}
	k, err := schema.Compile(&ops.Node{OpType: op, Domain: Domain, Opset: 1, Attrs: attrs, Outputs: []string{"z"}})
	if err != nil {
		return nil, err
	}
	return k.RunValues(&ops.Ctx{Threads: 1}, []tensor.Value{in})
}

func TestZipMapAndDictVectorizer(t *testing.T) {
	res, err := runValues(t, "ZipMap", []ops.Attr{aStrs("classlabels_strings", "a", "b")}, tensor.Must([]int{2, 2}, []float32{0.1, 0.9, 0.6, 0.4}))
	if err != nil {
		t.Fatal(err)
	}
	seq := res[0].(*tensor.Sequence)
	if len(seq.Items) != 2 {
		t.Fatalf("%d maps, want 2", len(seq.Items))
	}
	m := seq.Items[1].(*tensor.Map)
	wantEqual(t, m.Keys, tensor.Must([]int{2}, []string{"a", "b"}))
	wantEqual(t, m.Values.(*tensor.Tensor), tensor.Must([]int{2}, []float32{0.6, 0.4}))
	if _, err := runValues(t, "ZipMap", []ops.Attr{aInts("classlabels_int64s", 1, 2, 3)}, tensor.Must([]int{1, 2}, []float32{1, 2})); err == nil {
		t.Fatal("3 labels for 2 columns accepted")
	}

	in := &tensor.Map{Keys: tensor.Must([]int{3}, []string{"c", "a", "zz"}), Values: tensor.Must([]int{3}, []float64{3, 1, 99})}
	res, err = runValues(t, "DictVectorizer", []ops.Attr{aStrs("string_vocabulary", "a", "b", "c")}, in)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, res[0].(*tensor.Tensor), tensor.Must([]int{1, 3}, []float64{1, 0, 3}))
}

func TestCastMap(t *testing.T) {
	in := &tensor.Map{Keys: tensor.Must([]int{3}, []int64{4, 1, 2}), Values: tensor.Must([]int{3}, []string{"4.5", "1", "-2"})}
	res, err := runValues(t, "CastMap", nil, in)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, res[0].(*tensor.Tensor), tensor.Must([]int{1, 3}, []float32{1, -2, 4.5}))
	res, err = runValues(t, "CastMap", []ops.Attr{aStr("map_form", "SPARSE"), aInt("max_map", 6), aStr("cast_to", "TO_STRING")}, in)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, res[0].(*tensor.Tensor), tensor.Must([]int{1, 6}, []string{"", "1", "-2", "", "4.5", ""}))
	_, err = runValues(t, "CastMap", []ops.Attr{aStr("map_form", "SPARSE"), aInt("max_map", 3)}, in)
	wantErr(t, err, "map key 4")
}
