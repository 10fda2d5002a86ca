package train

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// TestTrainingGraphExport saves the self-contained training graph, loads
// it back, and takes one step through ONNX Runtime feeding only the batch,
// lr and step: the loss and new parameters equal the Trainer's step.
func TestTrainingGraphExport(t *testing.T) {
	orttest.Need(t)
	m, loss := mlp(21)
	st, err := Build(m, Config{Loss: loss, Optimizer: AdamW(0.01), ClipNorm: 1})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := st.TrainingGraph(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "training.onnx")
	if err := onnx.Save(tg, path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	loaded, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(22, 22))
	x, y := blobs(rng, 16)
	tr, _ := New(st, Options{Schedule: Constant(0.01)})
	want, err := tr.Step(context.Background(), map[string]*tensor.Tensor{"x": x, "y": y})
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(loaded, runtime.Options{Provider: ort.New(ort.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x, "y": y,
		InputLR: tensor.Scalar(float32(0.01)), InputStep: tensor.Scalar(int64(1))})
	if err != nil {
		t.Fatal(err)
	}
	if got := scalarValue(out[OutputLoss]); math.Abs(got-want.Loss) > 1e-6 {
		t.Fatalf("exported step loss %v, trainer %v", got, want.Loss)
	}
	for p, o := range st.NewParams {
		a, b := tensor.Data[float32](out[o]), tensor.Data[float32](tr.Params()[p])
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-6 {
				t.Fatalf("%s[%d]: exported %v, trainer %v", p, i, a[i], b[i])
			}
		}
	}
}
