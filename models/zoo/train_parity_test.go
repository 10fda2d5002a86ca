package zoo

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/train"
)

// trainParityCases are the models conformance/interop/train_parity.py
// trains again in PyTorch from the folders TestTrainParity writes. Dropout
// is off so both sides compute the same function.
var trainParityCases = []struct {
	name, arch, config string
}{
	{"bert-mlm", "BertForMaskedLM", `{"model_type": "bert", "vocab_size": 97, "hidden_size": 32,
		"num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 48,
		"max_position_embeddings": 40, "type_vocab_size": 2, "hidden_act": "gelu",
		"hidden_dropout_prob": 0, "attention_probs_dropout_prob": 0}`},
	{"gpt2-clm", "GPT2LMHeadModel", `{"model_type": "gpt2", "vocab_size": 101, "n_embd": 32,
		"n_layer": 2, "n_head": 4, "n_positions": 24, "n_inner": null,
		"activation_function": "gelu_new", "resid_pdrop": 0, "embd_pdrop": 0, "attn_pdrop": 0}`},
}

const (
	trainParitySteps = 20
	trainParityBatch = 4
	trainParitySeq   = 8
	trainParityLR    = 1e-3
	trainParityWD    = 0.01
)

// trainParityBatches draws the batches of a case: random ids, right-padded
// attention masks (the first row full), token_type_ids in {0, 1} for BERT.
// BERT's labels keep the original id on about 15% of the real tokens
// (those inputs become [MASK] = 1) and are -100 elsewhere, at least one
// label per batch; GPT-2's labels are input_ids (the model shifts them, as
// GPT2LMHeadModel does) with -100 on padding.
func trainParityBatches(c *Config, bert bool, r *rand.Rand) []map[string][]int64 {
	B, S := trainParityBatch, trainParitySeq
	var out []map[string][]int64
	for range trainParitySteps {
		ids := make([]int64, B*S)
		mask := make([]int64, B*S)
		labels := make([]int64, B*S)
		types := make([]int64, B*S)
		for b := range B {
			keep := S
			if b > 0 {
				keep = S - r.IntN(S/2)
			}
			split := 1 + r.IntN(S-1)
			for s := range S {
				i := b*S + s
				ids[i] = 2 + r.Int64N(int64(c.VocabSize-2))
				labels[i] = -100
				if s < keep {
					mask[i] = 1
				} else {
					ids[i] = 0 // pad
				}
				if s >= split {
					types[i] = 1
				}
				if !bert {
					if s < keep {
						labels[i] = ids[i]
					}
				} else if s < keep && r.Float64() < 0.15 {
					labels[i], ids[i] = ids[i], 1
				}
			}
		}
		if bert && allIgnored(labels) {
			labels[0], ids[0] = ids[0], 1
		}
		m := map[string][]int64{"input_ids": ids, "attention_mask": mask, "labels": labels}
		if bert {
			m["token_type_ids"] = types
		}
		out = append(out, m)
	}
	return out
}

func allIgnored(labels []int64) bool {
	for _, l := range labels {
		if l != -100 {
			return false
		}
	}
	return true
}

// TestTrainParity writes, under $GORT_TRAIN_PARITY/<case>, the initial
// model (init/, as save_pretrained lays it out), the batches
// (batches.json), gort's loss at each of 20 AdamW steps (gort_losses.json,
// the loss before each update) and the trained model (final/). Without the
// variable it is skipped; conformance/interop/train_parity.py runs it and
// repeats the training in PyTorch.
func TestTrainParity(t *testing.T) {
	root := os.Getenv("GORT_TRAIN_PARITY")
	if root == "" {
		t.Skip("GORT_TRAIN_PARITY not set (conformance/interop/train_parity.py sets it)")
	}
	for i, pc := range trainParityCases {
		t.Run(pc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(pc.config))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Build(c, pc.arch, BuildOptions{Seed: uint64(i + 1), Loss: true})
			if err != nil {
				t.Fatal(err)
			}
			perturb(m, rand.New(rand.NewPCG(uint64(i), 11)))
			dir := filepath.Join(root, pc.name)
			if err := SavePretrained(m, filepath.Join(dir, "init")); err != nil {
				t.Fatal(err)
			}
			batches := trainParityBatches(c, c.ModelType == "bert", rand.New(rand.NewPCG(uint64(i), 12)))
			writeJSON(t, filepath.Join(dir, "batches.json"), map[string]any{
				"batch": trainParityBatch, "seq": trainParitySeq, "lr": trainParityLR,
				"weight_decay": trainParityWD, "batches": batches,
			})

			st, err := train.Build(m.IR, train.Config{Loss: "loss", Optimizer: train.AdamW(trainParityWD), Decay: train.DefaultDecay})
			if err != nil {
				t.Fatal(err)
			}
			tr, err := train.New(st, train.Options{Schedule: train.Constant(trainParityLR)})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			var losses []float64
			for k, b := range batches {
				feed := map[string]*tensor.Tensor{}
				for name, d := range b {
					feed[name] = tensor.Must([]int{trainParityBatch, trainParitySeq}, append([]int64(nil), d...))
				}
				res, err := tr.Step(context.Background(), feed)
				if err != nil {
					t.Fatalf("step %d: %v", k+1, err)
				}
				losses = append(losses, res.Loss)
			}
			writeJSON(t, filepath.Join(dir, "gort_losses.json"), losses)
			// Copy the trained values into the model's initializers and save.
			params := tr.Params()
			for _, in := range m.IR.Graph.Initializers {
				if p, ok := params[in.Name]; ok {
					in.T = p.Clone()
				}
			}
			if err := SavePretrained(m, filepath.Join(dir, "final")); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: loss %.5f -> %.5f over %d steps", pc.name, losses[0], losses[len(losses)-1], len(losses))
		})
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
