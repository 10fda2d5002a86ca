package zoo

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/train"
)

// Every class with a loss becomes a training step (dropout on, MAE's
// sin-cos embeddings frozen) whose loss falls on a repeated batch.
func TestTrainingSteps(t *testing.T) {
	for _, c := range []struct{ mt, arch string }{
		{"bert", "BertForMaskedLM"}, {"bert", "BertForPreTraining"}, {"bert", "BertForSequenceClassification"},
		{"gpt2", "GPT2LMHeadModel"}, {"vit", "ViTForImageClassification"}, {"vit_mae", "ViTMAEForPreTraining"},
	} {
		t.Run(c.arch, func(t *testing.T) {
			cfg := tinyConfig(t, c.mt)
			m, err := Build(cfg, c.arch, BuildOptions{Seed: 1, Loss: true, Training: true})
			if err != nil {
				t.Fatal(err)
			}
			st, err := train.Build(m.IR, train.Config{Loss: "loss", Frozen: m.IsFrozen})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range st.Params {
				if m.IsFrozen(p) {
					t.Errorf("frozen %q trains", p)
				}
			}
			tr, err := train.New(st, train.Options{Schedule: train.Constant(3e-3), Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			batch := feeds(m, rand.New(rand.NewPCG(1, 2)), 4, 8)
			var first, last float64
			for k := 0; k < 20; k++ {
				res, err := tr.Step(context.Background(), batch)
				if err != nil {
					t.Fatal(err)
				}
				if k == 0 {
					first = res.Loss
				}
				last = res.Loss
			}
			t.Logf("loss %.4f -> %.4f", first, last)
			if !(last < 0.9*first) {
				t.Errorf("loss %.4f -> %.4f after 20 steps on one batch", first, last)
			}
		})
	}
}
