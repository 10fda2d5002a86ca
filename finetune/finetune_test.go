package finetune

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// tinyBERT is an HF-export-shaped BERT built in Go (no download).
func tinyBERT(t testing.TB) *ir.Model {
	t.Helper()
	cfg := tiny.TinyBERT
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.MaxPositions = 64, 32, 64, 32
	m, err := tiny.BERT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// synthBatch draws n sequences of length s: token 1 is [CLS], the rest are
// ids in [2, 64); the label is 1 when the sequence holds more ids below 33
// than above (a task the model must read the tokens for).
func synthBatch(rng *rand.Rand, n, s int) map[string]*tensor.Tensor {
	ids := make([]int64, n*s)
	mask := make([]int64, n*s)
	types := make([]int64, n*s)
	labels := make([]int64, n)
	for i := range n {
		low := 0
		ids[i*s] = 1
		mask[i*s] = 1
		for j := 1; j < s; j++ {
			v := int64(2 + rng.IntN(62))
			ids[i*s+j] = v
			mask[i*s+j] = 1
			if v < 33 {
				low++
			} else {
				low--
			}
		}
		if low > 0 {
			labels[i] = 1
		}
	}
	return map[string]*tensor.Tensor{
		"input_ids": tensor.Must([]int{n, s}, ids), "attention_mask": tensor.Must([]int{n, s}, mask),
		"token_type_ids": tensor.Must([]int{n, s}, types), "labels": tensor.Must([]int{n}, labels),
	}
}

func accuracy(t *testing.T, m *Model, b map[string]*tensor.Tensor) float64 {
	t.Helper()
	logits, err := m.Predict(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	l := tensor.Data[float32](logits)
	y := tensor.Data[int64](b["labels"])
	c := logits.Shape()[1]
	ok := 0
	for i, yi := range y {
		best := 0
		for k := range c {
			if l[i*c+k] > l[i*c+best] {
				best = k
			}
		}
		if int64(best) == yi {
			ok++
		}
	}
	return float64(ok) / float64(len(y))
}

func TestSeqClsLearnsAndExportsToORT(t *testing.T) {
	ctx := context.Background()
	m, err := New(tinyBERT(t), SeqCls{Labels: 2}, Seed(3))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	dev := synthBatch(rng, 200, 9)
	before := accuracy(t, m, dev)
	for range 150 {
		if _, err := m.Step(ctx, synthBatch(rng, 16, 9)); err != nil {
			t.Fatal(err)
		}
	}
	after := accuracy(t, m, dev)
	t.Logf("accuracy %.3f -> %.3f", before, after)
	if after < 0.8 {
		t.Fatalf("accuracy %.3f after training; want >= 0.8", after)
	}
}

func maxDiff(a, b *tensor.Tensor) float64 {
	x, y := tensor.Data[float32](a), tensor.Data[float32](b)
	d := 0.0
	for i := range x {
		d = math.Max(d, math.Abs(float64(x[i]-y[i])))
	}
	return d
}

// exportParity saves m's inference graph, reloads it and compares ONNX
// Runtime's output with gort's on batch.
func exportParity(t *testing.T, m *Model, batch map[string]*tensor.Tensor) float64 {
	t.Helper()
	inf, err := m.Inference()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnx.Save(inf, path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	loaded, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(loaded, runtime.Options{Provider: ort.New(ort.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := m.predictWith(context.Background(), s, batch)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("ORT output %v, gort %v", got.Shape(), want.Shape())
	}
	return maxDiff(got, want)
}

func TestSeqClsExportRunsInORT(t *testing.T) {
	orttest.Need(t)
	m, err := New(tinyBERT(t), SeqCls{Labels: 3}, Seed(5))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rng := rand.New(rand.NewPCG(4, 2))
	for range 5 {
		b := synthBatch(rng, 8, 7)
		b["labels"] = tensor.Must([]int{8}, []int64{0, 1, 2, 0, 1, 2, 0, 1})
		if _, err := m.Step(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	d := exportParity(t, m, synthBatch(rng, 4, 11))
	t.Logf("ORT vs gort logits: max |diff| %.3g", d)
	if d > 1e-4 {
		t.Fatalf("ORT logits differ from gort's by %g (> 1e-4)", d)
	}
}

// snapshot copies every parameter's bits.
func snapshot(m *Model) map[string][]float32 {
	out := map[string][]float32{}
	for k, v := range m.Params() {
		if v.DType() == tensor.Float32 {
			out[k] = append([]float32{}, tensor.Data[float32](v)...)
		}
	}
	return out
}

// changed lists the parameters whose bits differ.
func changed(before, after map[string][]float32) map[string]bool {
	out := map[string]bool{}
	for k, a := range after {
		b, ok := before[k]
		if !ok {
			continue
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				out[k] = true
				break
			}
		}
	}
	return out
}

func trainFew(t *testing.T, m *Model, steps int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(9, 9))
	for range steps {
		if _, err := m.Step(context.Background(), synthBatch(rng, 8, 9)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFrozenBackboneTrainsOnlyTheHead(t *testing.T) {
	m, err := New(tinyBERT(t), SeqCls{Labels: 2}, FreezeBackbone())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	before := snapshot(m)
	trainFew(t, m, 5)
	ch := changed(before, snapshot(m))
	if len(ch) != 2 || !ch[HeadWeight] || !ch[HeadBias] {
		t.Fatalf("changed parameters %v; want only the classifier", ch)
	}
}

func TestLoRATrainsOnlyAdaptersAndMerges(t *testing.T) {
	m, err := New(tinyBERT(t), SeqCls{Labels: 2}, LoRA(4, 8))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := len(m.Adapters()); got != 8 { // 2 layers × q, k, v, attention output
		t.Fatalf("%d adapters (%v); want 8", got, m.Adapters())
	}
	before := snapshot(m)
	trainFew(t, m, 5)
	ch := changed(before, snapshot(m))
	allowed := map[string]bool{HeadWeight: true, HeadBias: true}
	for _, a := range m.adapters {
		allowed[a.a], allowed[a.b] = true, true
	}
	for k := range ch {
		if !allowed[k] {
			t.Errorf("backbone parameter %q changed under LoRA", k)
		}
	}
	for _, a := range m.adapters {
		if !ch[a.b] {
			t.Errorf("adapter %q did not train", a.b)
		}
	}
	if !ch[HeadWeight] {
		t.Errorf("the head did not train")
	}
	// The merged export computes what the adapter graph computes.
	checkMerge(t, m, synthBatch(rand.New(rand.NewPCG(7, 7)), 4, 10))
	inf, _ := m.Inference()
	for _, in := range inf.Graph.Initializers {
		if strings.Contains(in.Name, "lora") {
			t.Fatalf("merged export keeps adapter %q", in.Name)
		}
	}
}

// checkMerge compares the merged inference graph with the adapter graph.
func checkMerge(t *testing.T, m *Model, batch map[string]*tensor.Tensor) {
	t.Helper()
	withAd, err := m.InferenceWithAdapters()
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(withAd, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want, err := m.predictWith(context.Background(), s, batch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	d := maxDiff(got, want)
	t.Logf("merged vs adapter graph: max |diff| %.3g", d)
	if d > 1e-5 {
		t.Fatalf("merged LoRA export differs from the adapter graph by %g (> 1e-5)", d)
	}
}
