package ml

import (
	"math"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func TestSVMRegressor(t *testing.T) {
	x := tensor.Must([]int{2, 2}, []float32{1, 1, 0, 0})
	got := mustRun(t, "SVMRegressor", 1, []ops.Attr{aFloats("coefficients", 1, 2), aFloats("rho", 0.5)}, 1, x)[0]
	wantClose(t, got, []int{2, 1}, []float32{3.5, 0.5})

	// RBF with γ = 0.5 around (0, 0) and (1, 1): K = exp(-0.5 |x - sv|²).
	rbf := []ops.Attr{aInt("n_supports", 2), aFloats("support_vectors", 0, 0, 1, 1), aFloats("coefficients", 1, -1),
		aFloats("rho", 0), aStr("kernel_type", "RBF"), aFloats("kernel_params", 0.5, 0, 0)}
	e := float32(math.Exp(-1))
	got = mustRun(t, "SVMRegressor", 1, rbf, 1, x)[0]
	wantClose(t, got, []int{2, 1}, []float32{e - 1, 1 - e})
	got = mustRun(t, "SVMRegressor", 1, append(rbf, aInt("one_class", 1)), 1, x)[0]
	wantClose(t, got, []int{2, 1}, []float32{-1, 1})

	_, err := runML(t, "SVMRegressor", 1, []ops.Attr{aInt("n_supports", 3), aFloats("coefficients", 1, 2), aFloats("rho", 0)}, 1, x)
	wantErr(t, err, "n_supports 3")
	_, err = runML(t, "SVMRegressor", 1, rbf, 1, tensor.Must([]int{1, 3}, []float32{1, 2, 3}))
	wantErr(t, err, "3 features")
}

func TestSVMClassifier(t *testing.T) {
	// Linear mode, three classes: scores = X·coefᵀ + rho[0].
	lin := []ops.Attr{aInts("classlabels_ints", 10, 20, 30), aFloats("coefficients", 1, 0, 0, 1, 2, 2), aFloats("rho", 1)}
	res := mustRun(t, "SVMClassifier", 1, lin, 2, tensor.Must([]int{2, 2}, []float32{1, 0, -1, 3}))
	wantEqual(t, res[0], tensor.Must([]int{2}, []int64{30, 30}))
	wantClose(t, res[1], []int{2, 3}, []float32{2, 1, 3, 0, 4, 5})

	// One-vs-one, three classes of one support vector each (linear kernel, x = [1]):
	// (0,1): 0.1 + 1·1 - 1·2 = -0.9, (0,2): 0.2 - 1·1 + 0.5·3 = 0.7, (1,2): 1.3 + 1·2 - 1·3 = 0.3.
	ovo := []ops.Attr{aStrs("classlabels_strings", "a", "b", "c"), aInts("vectors_per_class", 1, 1, 1), aFloats("support_vectors", 1, 2, 3),
		aFloats("coefficients", 1, -1, 0.5, -1, 1, -1), aFloats("rho", 0.1, 0.2, 1.3)}
	res = mustRun(t, "SVMClassifier", 1, ovo, 2, tensor.Must([]int{1, 1}, []float32{1}))
	wantEqual(t, res[0], tensor.Must([]int{1}, []string{"b"}))
	wantClose(t, res[1], []int{1, 3}, []float32{-0.9, 0.7, 0.3})

	// With Platt scaling the scores are class probabilities.
	prob := append(append([]ops.Attr{}, ovo...), aFloats("prob_a", -1, -2, -3), aFloats("prob_b", 0, 0.1, 0))
	res = mustRun(t, "SVMClassifier", 1, prob, 2, tensor.Must([]int{1, 1}, []float32{1}))
	sum := float32(0)
	for _, v := range tensor.Data[float32](res[1]) {
		if v < 0 || v > 1 {
			t.Fatalf("probability %v", v)
		}
		sum += v
	}
	if math.Abs(float64(sum-1)) > 1e-4 {
		t.Fatalf("probabilities sum to %v", sum)
	}

	// Binary one-vs-one: s = 0.5 + 1·(1·0) - 1·(1·2) = -1.5 -> class 1, scores [-s, s].
	bin := []ops.Attr{aInts("classlabels_ints", 0, 1), aInts("vectors_per_class", 1, 1), aFloats("support_vectors", 0, 2),
		aFloats("coefficients", 1, -1), aFloats("rho", 0.5)}
	res = mustRun(t, "SVMClassifier", 1, bin, 2, tensor.Must([]int{1, 1}, []float32{1}))
	wantEqual(t, res[0], tensor.Must([]int{1}, []int64{1}))
	wantClose(t, res[1], []int{1, 2}, []float32{1.5, -1.5})

	_, err := runML(t, "SVMClassifier", 1, replaceAttr(ovo, aFloats("rho", 1, 2)), 2, tensor.Must([]int{1, 1}, []float32{1}))
	wantErr(t, err, "rho has 2 values")
	_, err = runML(t, "SVMClassifier", 1, replaceAttr(ovo, aInts("vectors_per_class", 1, 2)), 2, tensor.Must([]int{1, 1}, []float32{1}))
	wantErr(t, err, "vectors_per_class has 2")
}
