package ml

import (
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// mutate returns attrs with one integer list entry changed, or one list
// shortened: the indices a hostile model could hold.
func mutate(r *rand.Rand, attrs []ops.Attr) []ops.Attr {
	out := make([]ops.Attr, len(attrs))
	copy(out, attrs)
	for tries := 0; tries < 10; tries++ {
		a := &out[r.IntN(len(out))]
		switch {
		case a.Type == ops.AttrInts && len(a.Ints) > 0:
			v := append([]int64(nil), a.Ints...)
			if r.IntN(4) == 0 {
				v = v[:r.IntN(len(v))]
			} else {
				v[r.IntN(len(v))] = int64(r.IntN(9) - 2)
			}
			a.Ints = v
			return out
		case a.Type == ops.AttrFloats && len(a.Floats) > 0:
			a.Floats = a.Floats[:r.IntN(len(a.Floats))]
			return out
		case a.Type == ops.AttrInt:
			a.I = int64(r.IntN(9) - 2)
			return out
		}
	}
	return out
}

// TestMutatedAttributesNoPanic compiles and runs the tree, encoder and
// linear ops with randomly corrupted index attributes on random inputs:
// every failure must be an error.
func TestMutatedAttributesNoPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	bases := []struct {
		op    string
		opset int
		attrs []ops.Attr
	}{
		{"TreeEnsemble", 5, treeAttrs()},
		{"TreeEnsembleRegressor", 3, append(legacyTrees("target"), aInt("n_targets", 2), aFloats("base_values", 1, 2))},
		{"TreeEnsembleClassifier", 3, append(legacyTrees("class"), aInts("classlabels_int64s", 4, 5))},
		{"LinearClassifier", 1, []ops.Attr{aInts("classlabels_ints", 7, 8), aFloats("coefficients", 1, 1, 2, -1), aFloats("intercepts", 0.5, 0)}},
		{"LinearRegressor", 1, []ops.Attr{aInt("targets", 2), aFloats("coefficients", 1, 1, 2, -1)}},
		{"LabelEncoder", 2, []ops.Attr{aInts("keys_int64s", 1, 2), aInts("values_int64s", 3, 4)}},
		{"FeatureVectorizer", 1, []ops.Attr{aInts("inputdimensions", 1, 2)}},
		{"OneHotEncoder", 1, []ops.Attr{aInts("cats_int64s", 1, 2), aInt("zeros", 1)}},
		{"Imputer", 1, []ops.Attr{aInts("imputed_value_int64s", 1, 2), aInt("replaced_value_int64", 0)}},
		{"Scaler", 1, []ops.Attr{aFloats("offset", 1, 2), aFloats("scale", 2, 3)}},
		{"ArrayFeatureExtractor", 1, nil},
		{"SVMClassifier", 1, []ops.Attr{aInts("classlabels_ints", 0, 1, 2), aInts("vectors_per_class", 1, 1, 1), aFloats("support_vectors", 1, 2, 3),
			aFloats("coefficients", 1, -1, 0.5, -1, 1, -1), aFloats("rho", 0.1, 0.2, 1.3), aFloats("prob_a", 1, 2, 3), aFloats("prob_b", 1, 2, 3)}},
		{"SVMRegressor", 1, []ops.Attr{aInt("n_supports", 2), aFloats("support_vectors", 0, 0, 1, 1), aFloats("coefficients", 1, -1), aFloats("rho", 0)}},
	}
	for _, b := range bases {
		for trial := 0; trial < 1500; trial++ {
			attrs := b.attrs
			if len(attrs) > 0 && trial > 0 {
				attrs = mutate(r, attrs)
			}
			in := make([]*tensor.Tensor, 1+r.IntN(2))
			for i := range in {
				shape := make([]int, r.IntN(3)+1)
				for j := range shape {
					shape[j] = r.IntN(4)
				}
				if r.IntN(2) == 0 {
					x := tensor.Zeros(tensor.Int64, shape...)
					for j, d := 0, tensor.Data[int64](x); j < len(d); j++ {
						d[j] = int64(r.IntN(5) - 1)
					}
					in[i] = x
				} else {
					x := tensor.Zeros(tensor.Float32, shape...)
					for j, d := 0, tensor.Data[float32](x); j < len(d); j++ {
						d[j] = float32(r.NormFloat64())
					}
					in[i] = x
				}
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s panicked with attributes %+v on %v: %v", b.op, attrs, in, p)
					}
				}()
				runML(t, b.op, b.opset, attrs, 2, in...)
			}()
		}
	}
}
