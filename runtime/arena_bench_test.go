package runtime_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/train"
)

// bertFeeds is a batch of token ids for the tiny BERT (n sequences of seq tokens).
func bertFeeds(rng *rand.Rand, n, seq, vocab int) map[string]*tensor.Tensor {
	ids := make([]int64, n*seq)
	mask := make([]int64, n*seq)
	for i := range ids {
		ids[i] = int64(rng.IntN(vocab))
		mask[i] = 1
	}
	return map[string]*tensor.Tensor{
		"input_ids":      tensor.Must([]int{n, seq}, ids),
		"attention_mask": tensor.Must([]int{n, seq}, mask),
		"token_type_ids": tensor.Zeros(tensor.Int64, n, seq),
	}
}

// BenchmarkTinyBERT is tiny BERT inference, batch 8 of 32 tokens.
func BenchmarkTinyBERT(b *testing.B) {
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		b.Fatal(err)
	}
	s, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		b.Fatal(err)
	}
	feeds := bertFeeds(rand.New(rand.NewPCG(1, 1)), 8, 32, tiny.TinyBERT.VocabSize)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Run(ctx, feeds); err != nil {
			b.Fatal(err)
		}
	}
}

// bertClassifierStep builds a training step for the tiny BERT with a
// two-class head on the pooled output (SGD with momentum, clipped).
func bertClassifierStep(tb testing.TB, vocab int) *train.Step {
	cfg := tiny.TinyBERT
	cfg.VocabSize = vocab
	cfg.MaxPositions = 32
	m, err := tiny.BERT(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	g := m.Graph
	w := tensor.Zeros(tensor.Float32, cfg.HiddenSize, 2)
	rng := rand.New(rand.NewPCG(11, 11))
	for i, d := range tensor.Data[float32](w) {
		tensor.Data[float32](w)[i] = d + float32(rng.NormFloat64()*0.02)
	}
	g.Initializers = append(g.Initializers, &ir.Initializer{Name: "classifier.weight", T: w},
		&ir.Initializer{Name: "classifier.bias", T: tensor.Zeros(tensor.Float32, 2)})
	g.Inputs = append(g.Inputs, &ir.ValueInfo{Name: "labels", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Int64, HasShape: true, Shape: irbuild.Dims("batch")}})
	g.Nodes = append(g.Nodes,
		&ir.Node{Name: "cls_mm", OpType: "MatMul", Inputs: []string{"pooler_output", "classifier.weight"}, Outputs: []string{"cls_mm_out"}},
		&ir.Node{Name: "cls_add", OpType: "Add", Inputs: []string{"cls_mm_out", "classifier.bias"}, Outputs: []string{"logits"}})
	loss, err := train.CrossEntropy(m, "logits", "labels", -100, 0)
	if err != nil {
		tb.Fatal(err)
	}
	g.Outputs = []*ir.ValueInfo{{Name: "logits", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}}}
	st, err := train.Build(m, train.Config{Loss: loss, Optimizer: train.SGD{Momentum: 0.9}, ClipNorm: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// BenchmarkTinyBERTTrainStep is one training step of the tiny BERT
// classifier, batch 8 of 16 tokens.
func BenchmarkTinyBERTTrainStep(b *testing.B) {
	const vocab = 64
	st := bertClassifierStep(b, vocab)
	tr, err := train.New(st, train.Options{Schedule: train.Constant(0.05)})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	rng := rand.New(rand.NewPCG(13, 13))
	batch := bertFeeds(rng, 8, 16, vocab)
	labels := make([]int64, 8)
	for i := range labels {
		labels[i] = int64(i % 2)
	}
	batch["labels"] = tensor.Must([]int{8}, labels)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Step(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTrainerDonationBitIdentical: training steps that donate the previous
// step's parameters and state (poisoned when recycled) give bit-identical
// losses, parameters and state to steps without recycling; a tensor read
// from the live Params map without calling Params again is recycled by the
// step after next, as Params documents.
func TestTrainerDonationBitIdentical(t *testing.T) {
	const vocab, steps = 64, 4
	st := bertClassifierStep(t, vocab)
	newTrainer := func(mode string) *train.Trainer {
		defer runtime.SetArenaMode(mode)()
		tr, err := train.New(st, train.Options{Schedule: train.Constant(0.05)})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	ref, don := newTrainer("off"), newTrainer("poison")
	defer ref.Close()
	defer don.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	var live map[string]*tensor.Tensor
	var stale *tensor.Tensor
	var was []float32
	const probe = "classifier.weight"
	for k := 0; k < steps; k++ {
		batch := bertFeeds(rng, 4, 8, vocab)
		batch["labels"] = tensor.Must([]int{4}, []int64{0, 1, 1, 0})
		a, err := ref.Step(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		b, err := don.Step(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		if a.Loss != b.Loss || a.GradNorm != b.GradNorm {
			t.Fatalf("step %d: loss %v / %v, grad norm %v / %v", k+1, a.Loss, b.Loss, a.GradNorm, b.GradNorm)
		}
		switch k {
		case 0:
			live = don.Params()
		case 1:
			stale = live[probe] // made by step 2, read without calling Params
			was = slices.Clone(tensor.Data[float32](stale))
		}
	}
	// Recycled: poisoned (NaN) when the arena handed the buffer out, or
	// overwritten when a later step was granted it in place.
	if now := tensor.Data[float32](stale); !math.IsNaN(float64(now[0])) && slices.Equal(now, was) {
		t.Errorf("step 3 did not recycle the parameters step 2 made")
	}
	for what, pair := range map[string][2]map[string]*tensor.Tensor{
		"parameter": {ref.Params(), don.Params()}, "state": {ref.State(), don.State()},
	} {
		for name, want := range pair[0] {
			if !tensor.Equal(want, pair[1][name]) {
				t.Errorf("%s %q differs", what, name)
			}
		}
	}
}
