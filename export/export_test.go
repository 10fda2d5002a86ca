package export

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/finetune"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/tokenizer"
)

// fixture writes a tiny BERT export, a WordPiece vocabulary and a
// synthetic sentiment-like JSONL task (label 1 when "good" words outnumber
// "bad" ones), all built here (no download).
func fixture(t *testing.T, dir string, n int) (backbone string, tok *tokenizer.Tokenizer, data string) {
	t.Helper()
	cfg := tiny.TinyBERT
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.MaxPositions = 64, 32, 64, 32
	m, err := tiny.BERT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	backbone = filepath.Join(dir, "bert", "model.onnx")
	os.MkdirAll(filepath.Dir(backbone), 0o755)
	if err := onnx.Save(m, backbone, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for i := range 19 {
		vocab = append(vocab, fmt.Sprintf("good%d", i), fmt.Sprintf("bad%d", i), fmt.Sprintf("word%d", i))
	}
	vpath := filepath.Join(dir, "bert", "vocab.txt")
	os.WriteFile(vpath, []byte(strings.Join(vocab, "\n")+"\n"), 0o644)
	if tok, err = tokenizer.FromVocabTxt(vpath, true); err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(filepath.Join(dir, "bert", "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	var sb strings.Builder
	for range n {
		var words []string
		score := 0
		for range 3 + rng.IntN(6) {
			switch rng.IntN(3) {
			case 0:
				words = append(words, fmt.Sprintf("good%d", rng.IntN(19)))
				score++
			case 1:
				words = append(words, fmt.Sprintf("bad%d", rng.IntN(19)))
				score--
			default:
				words = append(words, fmt.Sprintf("word%d", rng.IntN(19)))
			}
		}
		if score == 0 {
			words = append(words, "good0")
			score++
		}
		label := 0
		if score > 0 {
			label = 1
		}
		fmt.Fprintf(&sb, "{\"text\": %q, \"label\": %d}\n", strings.Join(words, " "), label)
	}
	data = filepath.Join(dir, fmt.Sprintf("data-%d.jsonl", n))
	os.WriteFile(data, []byte(sb.String()), 0o644)
	return backbone, tok, data
}

func run(t *testing.T, s *runtime.Session, feeds map[string]*tensor.Tensor, out string) *tensor.Tensor {
	t.Helper()
	in := map[string]*tensor.Tensor{}
	for _, v := range s.Inputs() {
		in[v.Name] = feeds[v.Name]
	}
	res, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return res[out]
}

func maxDiff(a, b *tensor.Tensor) float64 {
	x, y := tensor.Data[float32](a), tensor.Data[float32](b)
	d := 0.0
	for i := range x {
		d = math.Max(d, math.Abs(float64(x[i]-y[i])))
	}
	return d
}

// TestFinetuneThenExport fine-tunes the tiny BERT export on the synthetic
// task to well above chance, then exports ONNX (ONNX Runtime reproduces
// gort's logits within 1e-4), Hugging Face format (loads strictly as
// BertForSequenceClassification with the same logits) and the training
// graph.
func TestFinetuneThenExport(t *testing.T) {
	dir := t.TempDir()
	backbone, tok, trainPath := fixture(t, dir, 400)
	_, _, devPath := fixture(t, dir, 100)
	task := finetune.SeqCls{Labels: 2, Pooling: finetune.PoolPooler}
	trainSet, err := finetune.ReadJSONL(trainPath, task, finetune.Fields{})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := finetune.ReadJSONL(devPath, task, finetune.Fields{})
	if err != nil {
		t.Fatal(err)
	}
	bb, err := onnx.Load(backbone)
	if err != nil {
		t.Fatal(err)
	}
	m, err := finetune.New(bb, task, finetune.Seed(2))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := filepath.Join(dir, "run")
	enc := &finetune.Encoder{Tok: tok, MaxLen: 16}
	rep, err := m.Fit(context.Background(), trainSet, dev, finetune.FitOptions{Encoder: enc, Epochs: 8, Batch: 16, LR: 5e-4, Out: out, Log: testLog{t},
		Manifest: map[string]any{"backbone": backbone}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.3f -> %.3f, best %v at step %d", rep.FirstLoss, rep.LastLoss, rep.Best, rep.BestStep)
	if rep.Best["eval_accuracy"] < 0.85 || rep.Best["eval_f1"] < 0.8 {
		t.Fatalf("eval accuracy %.3f; want >= 0.85 and macro-F1 >= 0.8 (majority class 0.67, chance F1 0.40)", rep.Best["eval_accuracy"])
	}
	batch, err := enc.Encode(task, dev[:12])
	if err != nil {
		t.Fatal(err)
	}
	best, err := onnx.Load(filepath.Join(out, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := runtime.NewSession(best, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	want := run(t, bs, batch, "logits")

	t.Run("onnx", func(t *testing.T) {
		orttest.Need(t)
		for _, opt := range []string{"none", "basic"} {
			path := filepath.Join(dir, "export-"+opt, "model.onnx")
			if err := Export(out, Options{Format: FormatONNX, Out: path, Optimize: opt}); err != nil {
				t.Fatal(err)
			}
			em, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := runtime.NewSession(em, runtime.Options{Provider: ort.New(ort.Options{})})
			if err != nil {
				t.Fatal(err)
			}
			d := maxDiff(run(t, s, batch, "logits"), want)
			s.Close()
			t.Logf("optimize=%s: ORT vs gort max |diff| %.3g", opt, d)
			if d > 1e-4 {
				t.Fatalf("optimize=%s: ORT differs from gort by %g", opt, d)
			}
		}
	})
	t.Run("hf", func(t *testing.T) {
		hf := filepath.Join(dir, "hf")
		if err := Export(out, Options{Format: FormatHF, Out: hf}); err != nil {
			t.Fatal(err)
		}
		cfg, err := zoo.LoadConfig(hf)
		if err != nil {
			t.Fatal(err)
		}
		zm, err := zoo.Build(cfg, "", zoo.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if zm.Arch != "BertForSequenceClassification" {
			t.Fatalf("architecture %s", zm.Arch)
		}
		if err := zoo.LoadWeights(zm, hf); err != nil {
			t.Fatal(err)
		}
		s, err := runtime.NewSession(zm.IR, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		d := maxDiff(run(t, s, batch, "logits"), want)
		t.Logf("HF export rebuilt by zoo vs fine-tuned graph: max |diff| %.3g", d)
		if d > 1e-4 {
			t.Fatalf("HF export differs by %g", d)
		}
		if _, err := os.Stat(filepath.Join(hf, "tokenizer.json")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("training-graph", func(t *testing.T) {
		path := filepath.Join(dir, "train.onnx")
		if err := Export(out, Options{Format: FormatTrainingGraph, Out: path}); err != nil {
			t.Fatal(err)
		}
		tg, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := runtime.NewSession(tg, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		feeds := map[string]*tensor.Tensor{"train/lr": tensor.Scalar(float32(1e-4)), "train/step": tensor.Scalar(int64(rep.Steps + 1))}
		for k, v := range batch {
			feeds[k] = v
		}
		res, err := s.Run(context.Background(), feeds)
		if err != nil {
			t.Fatal(err)
		}
		if l := tensor.Data[float32](res["train/loss"])[0]; !(l >= 0 && l < 1) {
			t.Fatalf("training graph loss %v on dev data the model fits", l)
		}
	})
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
