package train

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// encoderClassifier is the tiny 2-layer BERT with a classification head on
// the pooled output and a cross-entropy loss against "labels" (N).
func encoderClassifier(t testing.TB, vocab int) (*ir.Model, string) {
	cfg := tiny.TinyBERT
	cfg.VocabSize = vocab
	cfg.MaxPositions = 32
	m, err := tiny.BERT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 11))
	g := m.Graph
	w := randn(rng, 0.02, cfg.HiddenSize, 2)
	g.Initializers = append(g.Initializers, &ir.Initializer{Name: "classifier.weight", T: w},
		&ir.Initializer{Name: "classifier.bias", T: tensor.Zeros(tensor.Float32, 2)})
	g.Inputs = append(g.Inputs, &ir.ValueInfo{Name: "labels", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Int64, HasShape: true, Shape: irbuild.Dims("batch")}})
	g.Nodes = append(g.Nodes,
		&ir.Node{Name: "cls_mm", OpType: "MatMul", Inputs: []string{"pooler_output", "classifier.weight"}, Outputs: []string{"cls_mm_out"}},
		&ir.Node{Name: "cls_add", OpType: "Add", Inputs: []string{"cls_mm_out", "classifier.bias"}, Outputs: []string{"logits"}})
	loss, err := CrossEntropy(m, "logits", "labels", -100, 0)
	if err != nil {
		t.Fatal(err)
	}
	g.Outputs = []*ir.ValueInfo{{Name: "logits", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}}}
	return m, loss
}

// containsTask: label 1 when token 7 occurs in the sequence, which needs
// attention across positions to solve.
func containsTask(rng *rand.Rand, n, seq, vocab int) map[string]*tensor.Tensor {
	ids := make([]int64, n*seq)
	labels := make([]int64, n)
	for i := 0; i < n; i++ {
		for j := 0; j < seq; j++ {
			v := int64(8 + rng.IntN(vocab-8))
			ids[i*seq+j] = v
		}
		if rng.IntN(2) == 1 {
			ids[i*seq+rng.IntN(seq)] = 7
			labels[i] = 1
		}
	}
	ones := make([]int64, n*seq)
	for i := range ones {
		ones[i] = 1
	}
	return map[string]*tensor.Tensor{
		"input_ids":      tensor.Must([]int{n, seq}, ids),
		"attention_mask": tensor.Must([]int{n, seq}, ones),
		"token_type_ids": tensor.Zeros(tensor.Int64, n, seq),
		"labels":         tensor.Must([]int{n}, labels),
	}
}

func argmaxAccuracy(logits *tensor.Tensor, labels *tensor.Tensor) float64 {
	l, y := tensor.Data[float32](logits), tensor.Data[int64](labels)
	right := 0
	for i := range y {
		pred := int64(0)
		if l[2*i+1] > l[2*i] {
			pred = 1
		}
		if pred == y[i] {
			right++
		}
	}
	return float64(right) / float64(len(y))
}

// TestTransformerLearnsContainsTask trains the 2-layer transformer encoder
// on a task that needs attention, to a fixed accuracy on held-out data.
func TestTransformerLearnsContainsTask(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	const vocab, seq = 64, 12
	m, loss := encoderClassifier(t, vocab)
	st, err := Build(m, Config{Loss: loss, Optimizer: AdamW(0.01), ClipNorm: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(st, Options{Schedule: Constant(3e-4), Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(12, 12))
	var first, last float64
	for i := 0; i < 150; i++ {
		r, err := tr.Step(context.Background(), containsTask(rng, 16, seq, vocab))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r.Loss
		}
		last = r.Loss
	}
	// Evaluate the forward graph with the trained parameters.
	fm := forwardWith(m, tr.Params())
	s, err := runtime.NewSession(fm, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	test := containsTask(rand.New(rand.NewPCG(99, 99)), 400, seq, vocab)
	out, err := s.Run(context.Background(), test)
	if err != nil {
		t.Fatal(err)
	}
	acc := argmaxAccuracy(out["logits"], test["labels"])
	t.Logf("loss %.4f -> %.4f, held-out accuracy %.3f", first, last, acc)
	if acc < 0.9 {
		t.Fatalf("held-out accuracy %.3f < 0.9 (loss %.4f -> %.4f)", acc, first, last)
	}
}

// forwardWith returns the forward model with its initializers replaced by params.
func forwardWith(m *ir.Model, params map[string]*tensor.Tensor) *ir.Model {
	fm := *m
	g := *m.Graph
	var inits []*ir.Initializer
	for _, in := range g.Initializers {
		if p, ok := params[in.Name]; ok {
			inits = append(inits, &ir.Initializer{Name: in.Name, T: p})
		} else {
			inits = append(inits, in)
		}
	}
	g.Initializers = inits
	fm.Graph = &g
	return &fm
}

// TestTransformerStepParityAndTiming runs the tiny BERT training step 5
// times natively and through ONNX Runtime: losses and parameters agree
// within 1e-5; it logs the median step time of each and their ratio.
//
// It uses SGD with momentum: Adam's first steps move every parameter by
// about ±lr whatever the gradient's size, so parameters whose gradient is
// rounding noise (≈1e-9, differing between any two float32 engines) would
// differ by 2·lr. The MLP parity test covers AdamW, where no gradient is noise.
func TestTransformerStepParityAndTiming(t *testing.T) {
	orttest.Need(t)
	const vocab, seq = 64, 16
	m, loss := encoderClassifier(t, vocab)
	st, err := Build(m, Config{Loss: loss, Optimizer: SGD{Momentum: 0.9}, ClipNorm: 1})
	if err != nil {
		t.Fatal(err)
	}
	nat, _ := New(st, Options{Schedule: Constant(0.05)})
	ref, err := New(st, Options{Schedule: Constant(0.05), Provider: ort.New(ort.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(13, 13))
	var tn, to []float64
	for i := 0; i < 5; i++ {
		batch := containsTask(rng, 8, seq, vocab)
		t0 := time.Now()
		a, err := nat.Step(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		b, err := ref.Step(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		tn = append(tn, t1.Sub(t0).Seconds()*1000)
		to = append(to, time.Since(t1).Seconds()*1000)
		if d := a.Loss - b.Loss; d > 1e-5 || d < -1e-5 {
			t.Errorf("step %d: loss native %.8f ort %.8f", i+1, a.Loss, b.Loss)
		}
	}
	worst := 0.0
	for name, p := range nat.Params() {
		q := tensor.Data[float32](ref.Params()[name])
		for i, v := range tensor.Data[float32](p) {
			d := float64(v - q[i])
			if d < 0 {
				d = -d
			}
			worst = max(worst, d)
		}
	}
	if worst > 1e-5 {
		t.Errorf("parameters differ by up to %.3g after 5 steps", worst)
	}
	moved := 0.0
	for name, p := range nat.Params() {
		for i, v := range tensor.Data[float32](p) {
			d := float64(v - tensor.Data[float32](st.Init[name])[i])
			moved = max(moved, d*d)
		}
	}
	if moved == 0 {
		t.Fatal("no parameter changed in 5 steps")
	}
	sort.Float64s(tn)
	sort.Float64s(to)
	t.Logf("tiny BERT training step (batch 8, seq 16): native median %.2f ms, ort %.2f ms, native/ort %.2f; max parameter difference %.2g",
		tn[2], to[2], tn[2]/to[2], worst)
}
