package loss

import (
	"math"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

func runOp(t *testing.T, op string, attrs []ops.Attr, outputs int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	return optest.Run(t, Ops(), op, 22, attrs, []string{"loss", "log_prob"}[:outputs], in...)
}

func reductionAttr(r string) ops.Attr {
	return ops.Attr{Name: "reduction", Type: ops.AttrString, S: []byte(r)}
}

func TestLosses(t *testing.T) {
	// scores (2, 3) with rows [0, 0, 0] and [1, 2, 3]; labels [2, 0].
	x := tensor.Must([]int{2, 3}, []float32{0, 0, 0, 1, 2, 3})
	labels := tensor.Must([]int{2}, []int64{2, 0})
	w := tensor.Must([]int{3}, []float32{2, 1, 0.5})
	lse1 := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	l0, l1 := math.Log(3), lse1-1 // -log_softmax at the labels
	ii := ops.Attr{Name: "ignore_index", Type: ops.AttrInt, I: 0}
	for _, tc := range []struct {
		name  string
		op    string
		attrs []ops.Attr
		in    []*tensor.Tensor
		want  []float64
	}{
		{"sce none", "SoftmaxCrossEntropyLoss", []ops.Attr{reductionAttr("none")}, []*tensor.Tensor{x, labels}, []float64{l0, l1}},
		{"sce mean", "SoftmaxCrossEntropyLoss", nil, []*tensor.Tensor{x, labels}, []float64{(l0 + l1) / 2}},
		{"sce sum weighted", "SoftmaxCrossEntropyLoss", []ops.Attr{reductionAttr("sum")}, []*tensor.Tensor{x, labels, w}, []float64{0.5*l0 + 2*l1}},
		{"sce mean weighted", "SoftmaxCrossEntropyLoss", nil, []*tensor.Tensor{x, labels, w}, []float64{(0.5*l0 + 2*l1) / 2.5}},
		{"sce mean ignore", "SoftmaxCrossEntropyLoss", []ops.Attr{ii}, []*tensor.Tensor{x, labels, w}, []float64{l0}},
		{"nll none", "NegativeLogLikelihoodLoss", []ops.Attr{reductionAttr("none")}, []*tensor.Tensor{x, labels}, []float64{0, -1}},
		{"nll mean weighted ignore", "NegativeLogLikelihoodLoss", []ops.Attr{ii}, []*tensor.Tensor{x, labels, w}, []float64{0}},
	} {
		out, err := runOp(t, tc.op, tc.attrs, 1, tc.in...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := tensor.Data[float32](out[0])
		if len(got) != len(tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		for i := range got {
			if math.Abs(float64(got[i])-tc.want[i]) > 1e-6 {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}

func TestSoftmaxCrossEntropyLogProbND(t *testing.T) {
	// scores (1, 2, 2): class axis 1, one extra dimension.
	x := tensor.Must([]int{1, 2, 2}, []float32{0, 1, 0, 3})
	out, err := runOp(t, "SoftmaxCrossEntropyLoss", []ops.Attr{reductionAttr("none")}, 2, x, tensor.Must([]int{1, 2}, []int64{1, 0}))
	if err != nil {
		t.Fatal(err)
	}
	lp := tensor.Data[float32](out[1])
	want := []float64{-math.Log(2), 1 - math.Log(math.E+math.Exp(3)), -math.Log(2), 3 - math.Log(math.E+math.Exp(3))}
	for i := range want {
		if math.Abs(float64(lp[i])-want[i]) > 1e-6 {
			t.Fatalf("log_prob = %v, want %v", lp, want)
		}
	}
	if l := tensor.Data[float32](out[0]); math.Abs(float64(l[0])+want[2]) > 1e-6 || math.Abs(float64(l[1])+want[1]) > 1e-6 {
		t.Errorf("loss = %v", l)
	}
}

func TestLossErrors(t *testing.T) {
	x := tensor.Must([]int{2, 3}, []float32{0, 0, 0, 1, 2, 3})
	for name, in := range map[string][]*tensor.Tensor{
		"label out of range": {x, tensor.Must([]int{2}, []int64{3, 0})},
		"label shape":        {x, tensor.Must([]int{3}, []int64{0, 0, 0})},
		"weight shape":       {x, tensor.Must([]int{2}, []int64{0, 0}), tensor.Must([]int{2}, []float32{1, 1})},
		"1-D scores":         {tensor.Must([]int{3}, []float32{1, 2, 3}), tensor.Must([]int{}, []int64{0})},
	} {
		if _, err := runOp(t, "NegativeLogLikelihoodLoss", nil, 1, in...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := runOp(t, "NegativeLogLikelihoodLoss", []ops.Attr{reductionAttr("avg")}, 1, x); err == nil {
		t.Error("reduction avg: no error")
	}
}
