package export

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
)

// A training graph (dropout in training mode, loss from labels) strips to
// the inference graph: same logits as the graph built without dropout,
// no Dropout nodes, no labels input, no loss output. Forced external data
// round-trips.
func TestStripTraining(t *testing.T) {
	cfg, err := zoo.ParseConfig([]byte(hfConfigs["BertForSequenceClassification"]))
	if err != nil {
		t.Fatal(err)
	}
	trainM, err := zoo.Build(cfg, "BertForSequenceClassification", zoo.BuildOptions{Seed: 5, Training: true, Loss: true})
	if err != nil {
		t.Fatal(err)
	}
	infM, err := zoo.Build(cfg, "BertForSequenceClassification", zoo.BuildOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := ONNX(trainM.IR, path, Options{ExternalData: true, Optimize: "basic"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".data"); err != nil {
		t.Fatalf("no external data file: %v", err)
	}
	got, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range got.Graph.Nodes {
		if n.OpType == "Dropout" {
			t.Fatalf("dropout %s kept", n.Name)
		}
	}
	for _, in := range got.Graph.Inputs {
		if in.Name == "labels" {
			t.Fatal("labels input kept")
		}
	}
	for _, o := range got.Graph.Outputs {
		if o.Name == "loss" {
			t.Fatal("loss output kept")
		}
	}
	s1, err := runtime.NewSession(got, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := runtime.NewSession(infM.IR, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	feeds := caseInputs(s2, cfg.VocabSize, 2, 6, rand.New(rand.NewPCG(1, 2)))
	a, b := run(t, s1, feeds, "logits"), run(t, s2, feeds, "logits")
	if d := maxDiff(a, b); d > 1e-5 {
		t.Fatalf("stripped graph differs from the inference graph by %g", d)
	}
}
