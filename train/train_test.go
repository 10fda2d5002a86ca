package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

func randn(rng *rand.Rand, scale float64, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(tensor.Float32, shape...)
	for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
		d[i] = float32(rng.NormFloat64() * scale)
	}
	return t
}

// mlp builds x (N,4) → Linear(4,16) → Relu → Linear(16,1) → logit, with a
// BCE-with-logits loss against y (N,1).
func mlp(seed uint64) (*ir.Model, string) {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := irbuild.New("mlp", irbuild.Opset{Version: 17})
	b.Input("x", tensor.Float32, "N", 4)
	b.Input("y", tensor.Float32, "N", 1)
	h := b.Op("Relu", b.Op("Add", b.Op("MatMul", "x", b.Init("fc1.weight", randn(rng, 0.5, 4, 16))), b.Init("fc1.bias", randn(rng, 0.1, 16))))
	logit := b.Op("Add", b.Op("MatMul", h, b.Init("fc2.weight", randn(rng, 0.5, 16, 1))), b.Init("fc2.bias", randn(rng, 0.1, 1)))
	b.Rename(logit, "logit")
	m := b.Model()
	loss := BCEWithLogits(m, "logit", "y")
	m.Graph.Outputs = []*ir.ValueInfo{{Name: loss, Type: tensor.TensorType(tensor.Float32)}}
	return m, loss
}

// blobs is a synthetic task: label 1 when x0·x1 > 0 (XOR of signs, not
// linearly separable), with some margin.
func blobs(rng *rand.Rand, n int) (x, y *tensor.Tensor) {
	xs := make([]float32, 0, n*4)
	ys := make([]float32, 0, n)
	for len(ys) < n {
		a, c := rng.Float64()*2-1, rng.Float64()*2-1
		if math.Abs(a) < 0.1 || math.Abs(c) < 0.1 {
			continue
		}
		xs = append(xs, float32(a), float32(c), float32(rng.NormFloat64()*0.1), float32(rng.NormFloat64()*0.1))
		if a*c > 0 {
			ys = append(ys, 1)
		} else {
			ys = append(ys, 0)
		}
	}
	return tensor.Must([]int{n, 4}, xs), tensor.Must([]int{n, 1}, ys)
}

// accuracy runs the forward graph with trained parameters.
func accuracy(t *testing.T, m *ir.Model, params map[string]*tensor.Tensor, x, y *tensor.Tensor) float64 {
	fm := forwardWith(m, params)
	g := *fm.Graph
	g.Outputs = []*ir.ValueInfo{{Name: "logit", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}}}
	fm.Graph = &g
	s, err := runtime.NewSession(fm, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x, "y": y})
	if err != nil {
		t.Fatal(err)
	}
	logits, labels := tensor.Data[float32](out["logit"]), tensor.Data[float32](y)
	right := 0
	for i := range logits {
		if (logits[i] > 0) == (labels[i] > 0.5) {
			right++
		}
	}
	return float64(right) / float64(len(labels))
}

func TestMLPLearnsXOR(t *testing.T) {
	m, loss := mlp(1)
	st, err := Build(m, Config{Loss: loss, Optimizer: AdamW(0.0), ClipNorm: 5})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(st, Options{Schedule: WarmupCosine(0.05, 20, 400, 0.1), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	testX, testY := blobs(rng, 500)
	before := accuracy(t, m, st.Init, testX, testY)
	var first, last float64
	for i := 0; i < 400; i++ {
		x, y := blobs(rng, 64)
		r, err := tr.Step(context.Background(), map[string]*tensor.Tensor{"x": x, "y": y})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r.Loss
		}
		last = r.Loss
	}
	after := accuracy(t, m, tr.Params(), testX, testY)
	t.Logf("loss %.4f -> %.4f, accuracy %.3f -> %.3f", first, last, before, after)
	if after < 0.95 || last > first/3 {
		t.Fatalf("did not learn: loss %.4f -> %.4f, accuracy %.3f -> %.3f", first, last, before, after)
	}
}

// TestStepParityNativeORT runs the same training-step graph 5 steps natively
// and through ONNX Runtime: losses and parameters agree within 1e-5.
func TestStepParityNativeORT(t *testing.T) {
	orttest.Need(t)
	for _, opt := range []Optimizer{AdamW(0.01), SGD{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4}} {
		m, loss := mlp(3)
		st, err := Build(m, Config{Loss: loss, Optimizer: opt, ClipNorm: 1})
		if err != nil {
			t.Fatal(err)
		}
		nat, err := New(st, Options{Schedule: WarmupLinear(0.01, 2, 10)})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := New(st, Options{Schedule: WarmupLinear(0.01, 2, 10), Provider: ort.New(ort.Options{})})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(4, 4))
		for i := 0; i < 5; i++ {
			x, y := blobs(rng, 32)
			batch := map[string]*tensor.Tensor{"x": x, "y": y}
			a, err := nat.Step(context.Background(), batch)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ref.Step(context.Background(), batch)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(a.Loss - b.Loss); d > 1e-5*math.Max(1, math.Abs(b.Loss)) {
				t.Errorf("%s step %d: loss native %v ort %v", opt.Name(), i+1, a.Loss, b.Loss)
			}
		}
		for name, p := range nat.Params() {
			q := ref.Params()[name]
			worst := 0.0
			for i, v := range tensor.Data[float32](p) {
				w := tensor.Data[float32](q)[i]
				worst = math.Max(worst, math.Abs(float64(v-w))/math.Max(1, math.Abs(float64(w))))
			}
			if worst > 1e-5 {
				t.Errorf("%s: parameter %s differs by %.3g after 5 steps", opt.Name(), name, worst)
			}
		}
	}
}

// TestResumeBitIdentical interrupts a run after 3 steps, saves, resumes in a
// fresh trainer and checks every later loss equals the uninterrupted run's bit for bit.
func TestResumeBitIdentical(t *testing.T) {
	m, loss := mlp(5)
	st, err := Build(m, Config{Loss: loss, Optimizer: AdamW(0.01), ClipNorm: 1})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Schedule: WarmupCosine(0.01, 2, 8, 0), Seed: 9}
	batches := make([]map[string]*tensor.Tensor, 8)
	rng := rand.New(rand.NewPCG(6, 6))
	for i := range batches {
		x, y := blobs(rng, 16)
		batches[i] = map[string]*tensor.Tensor{"x": x, "y": y}
	}
	full, _ := New(st, opts)
	var want []float64
	for _, b := range batches {
		r, err := full.Step(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.Loss)
	}
	dir := t.TempDir()
	first, _ := New(st, opts)
	for _, b := range batches[:3] {
		if _, err := first.Step(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := first.Save(dir, map[string]any{"batches_seen": 3}); err != nil {
		t.Fatal(err)
	}
	second, _ := New(st, Options{Schedule: opts.Schedule})
	man, err := second.Resume(dir)
	if err != nil {
		t.Fatal(err)
	}
	if man.Step != 3 || man.Extra["batches_seen"] != float64(3) {
		t.Fatalf("manifest %+v", man)
	}
	for i, b := range batches[3:] {
		r, err := second.Step(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(r.Loss) != math.Float64bits(want[3+i]) {
			t.Fatalf("step %d after resume: loss %v, uninterrupted %v", 4+i, r.Loss, want[3+i])
		}
	}
	for name, p := range second.Params() {
		if !tensor.Equal(p, full.Params()[name]) {
			t.Fatalf("parameter %s differs after resume", name)
		}
	}
}

func TestResumeRejectsMismatch(t *testing.T) {
	m, loss := mlp(5)
	st, _ := Build(m, Config{Loss: loss, Optimizer: AdamW(0.01)})
	tr, _ := New(st, Options{})
	dir := t.TempDir()
	if _, err := tr.Save(dir, nil); err != nil {
		t.Fatal(err)
	}
	st2, _ := Build(m, Config{Loss: loss, Optimizer: SGD{Momentum: 0.9}})
	tr2, _ := New(st2, Options{})
	if _, err := tr2.Resume(dir); err == nil {
		t.Fatal("resuming an AdamW checkpoint with SGD should fail")
	}
	if _, err := tr2.Resume(t.TempDir()); err == nil {
		t.Fatal("resuming from an empty folder should fail")
	}
}

// TestAccumulationMatchesLargeBatch: two accumulated micro-batches of 16
// give the same step as one batch of 32 (mean loss, float32 rounding aside).
func TestAccumulationMatchesLargeBatch(t *testing.T) {
	m, loss := mlp(7)
	big, err := Build(m, Config{Loss: loss, Optimizer: AdamW(0.01), ClipNorm: 1})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := Build(m, Config{Loss: loss, Optimizer: AdamW(0.01), ClipNorm: 1, Accumulate: 2})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := New(big, Options{Schedule: Constant(0.01)})
	ta, _ := New(acc, Options{Schedule: Constant(0.01)})
	rng := rand.New(rand.NewPCG(8, 8))
	for step := 0; step < 3; step++ {
		x, y := blobs(rng, 32)
		x1, _ := tensor.From([]int{16, 4}, tensor.Data[float32](x)[:64])
		x2, _ := tensor.From([]int{16, 4}, tensor.Data[float32](x)[64:])
		y1, _ := tensor.From([]int{16, 1}, tensor.Data[float32](y)[:16])
		y2, _ := tensor.From([]int{16, 1}, tensor.Data[float32](y)[16:])
		rb, err := tb.Step(context.Background(), map[string]*tensor.Tensor{"x": x, "y": y})
		if err != nil {
			t.Fatal(err)
		}
		ra, err := ta.StepAccumulated(context.Background(), []map[string]*tensor.Tensor{{"x": x1, "y": y1}, {"x": x2, "y": y2}})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(ra.Loss-rb.Loss) > 1e-6 || math.Abs(ra.GradNorm-rb.GradNorm) > 1e-5 {
			t.Fatalf("step %d: accumulated loss %v norm %v, large batch loss %v norm %v", step+1, ra.Loss, ra.GradNorm, rb.Loss, rb.GradNorm)
		}
	}
	for name, p := range ta.Params() {
		q := tb.Params()[name]
		for i, v := range tensor.Data[float32](p) {
			if d := math.Abs(float64(v - tensor.Data[float32](q)[i])); d > 1e-5 {
				t.Fatalf("%s[%d] differs by %g", name, i, d)
			}
		}
	}
}

// TestMomentumPreviewOpMatchesStandardOps: SGD through ONNX's preview
// Momentum op takes the same steps as SGD in standard ops.
func TestMomentumPreviewOpMatchesStandardOps(t *testing.T) {
	for _, nesterov := range []bool{false, true} {
		m, loss := mlp(31)
		std, err := Build(m, Config{Loss: loss, Optimizer: SGD{Momentum: 0.9, Nesterov: nesterov, WeightDecay: 1e-3}})
		if err != nil {
			t.Fatal(err)
		}
		pre, err := Build(m, Config{Loss: loss, Optimizer: SGD{Momentum: 0.9, Nesterov: nesterov, WeightDecay: 1e-3, PreviewOp: true}})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, n := range pre.Model.Graph.Nodes {
			found = found || (n.Domain == TrainingDomain && n.OpType == "Momentum")
		}
		if !found {
			t.Fatal("no Momentum op in the preview-op step graph")
		}
		a, _ := New(std, Options{Schedule: Constant(0.05)})
		b, err := New(pre, Options{Schedule: Constant(0.05)})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(32, 32))
		for i := 0; i < 4; i++ {
			x, y := blobs(rng, 16)
			batch := map[string]*tensor.Tensor{"x": x, "y": y}
			ra, _ := a.Step(context.Background(), batch)
			rb, err := b.Step(context.Background(), batch)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(ra.Loss-rb.Loss) > 1e-6 {
				t.Fatalf("nesterov=%v step %d: loss %v vs %v", nesterov, i+1, ra.Loss, rb.Loss)
			}
		}
		for name, p := range a.Params() {
			for i, v := range tensor.Data[float32](p) {
				if d := math.Abs(float64(v - tensor.Data[float32](b.Params()[name])[i])); d > 1e-6 {
					t.Fatalf("nesterov=%v: %s[%d] differs by %g", nesterov, name, i, d)
				}
			}
		}
	}
}
