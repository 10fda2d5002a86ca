package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/gort-ml/gort/finetune"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/tokenizer"
)

// cmdFinetune fine-tunes an imported inference graph (a Hugging Face ONNX
// export) with a task head into a folder `gort export` accepts.
func cmdFinetune(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("finetune", "Usage: gort finetune MODEL.onnx --task seq-cls|token-cls|regression|embedding --data TRAIN.jsonl --tokenizer tokenizer.json --out DIR [flags]\n\nFlags:", stderr)
	taskName := fs.String("task", "seq-cls", "seq-cls, token-cls, regression or embedding")
	labels := fs.Int("labels", 2, "number of classes (seq-cls, token-cls)")
	data := fs.String("data", "", "training JSONL (one object per line)")
	evalPath := fs.String("eval", "", "evaluation JSONL")
	tokPath := fs.String("tokenizer", "", "tokenizer.json (default: the one beside MODEL)")
	var fields finetune.Fields
	fs.StringVar(&fields.Text, "text-field", "text", "field with the text (token-cls: a list of words)")
	fs.StringVar(&fields.Pair, "pair-field", "", "field with a second text (default text_pair; embedding: positive)")
	fs.StringVar(&fields.Label, "label-field", "label", "field with the label (token-cls: a list of class ids)")
	labelNames := fs.String("label-names", "", "comma-separated class names in id order, for labels given as names (sets --labels)")
	poolFlag := fs.String("pooling", "auto", "sequence heads read: auto, pooler, first or mean")
	hidden := fs.String("hidden-output", "last_hidden_state", "backbone output with per-token hidden states")
	pooled := fs.String("pooled-output", "pooler_output", "backbone output with the pooled vector")
	freeze := fs.Bool("freeze-backbone", false, "train only the head")
	rank := fs.Int("lora-rank", 0, "train rank-R LoRA adapters on the attention projections (and the head)")
	alpha := fs.Float64("lora-alpha", 0, "LoRA alpha (default: the rank, scale 1)")
	epochs := fs.Int("epochs", 3, "passes over the training data")
	batch := fs.Int("batch", 16, "examples per step")
	lr := fs.Float64("lr", 0, "peak learning rate (default 2e-5; 1e-3 with LoRA or a frozen backbone)")
	warmup := fs.Float64("warmup", 0.1, "fraction of steps warming up")
	maxLen := fs.Int("max-len", 128, "tokens per sequence, special tokens included")
	patience := fs.Int("patience", 0, "stop after N evaluations without improvement (0: never)")
	dropout := fs.Float64("dropout", 0.1, "dropout on the head's input in training")
	out := fs.String("out", "", "output folder")
	resume := fs.Bool("resume", false, "continue an interrupted run from the newest checkpoint in --out (same flags and data)")
	prov := fs.String("provider", "native", "runs the training step: native or ort")
	seed := fs.Uint64("seed", 1, "seed of the head, adapters, data order and dropout")
	threads := fs.Int("threads", 0, "threads per op (0: all cores)")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fs.Usage()
		return errors.New("want exactly one MODEL.onnx")
	}
	if *data == "" || *out == "" {
		return errors.New("--data and --out are required")
	}
	if *labelNames != "" {
		fields.LabelNames = strings.Split(*labelNames, ",")
		*labels = len(fields.LabelNames)
	}
	pool, err := finetune.ParsePooling(*poolFlag)
	if err != nil {
		return err
	}
	task, err := finetune.ParseTask(*taskName, *labels, pool)
	if err != nil {
		return err
	}
	fromCheckpoint := isDir(rest[0])
	if *tokPath == "" {
		if fromCheckpoint {
			*tokPath = filepath.Join(rest[0], "tokenizer.json")
		} else {
			*tokPath = filepath.Join(filepath.Dir(rest[0]), "tokenizer.json")
		}
	}
	tok, err := tokenizer.Load(*tokPath)
	if err != nil {
		return fmt.Errorf("tokenizer: %w (pass --tokenizer)", err)
	}
	trainSet, err := finetune.ReadJSONL(*data, task, fields)
	if err != nil {
		return err
	}
	var evalSet []finetune.Example
	if *evalPath != "" {
		if evalSet, err = finetune.ReadJSONL(*evalPath, task, fields); err != nil {
			return err
		}
	}
	var bb *ir.Model
	if fromCheckpoint {
		bb, err = backboneFromCheckpoint(rest[0], stderr)
	} else {
		bb, err = onnx.Load(rest[0])
	}
	if err != nil {
		return err
	}
	p, err := provider(*prov)
	if err != nil {
		return err
	}
	opts := []finetune.Option{finetune.HiddenOutput(*hidden), finetune.PooledOutput(*pooled), finetune.HeadDropout(*dropout),
		finetune.Seed(*seed), finetune.Provider(p), finetune.Threads(*threads)}
	if *freeze {
		opts = append(opts, finetune.FreezeBackbone())
	}
	if *rank > 0 {
		opts = append(opts, finetune.LoRA(*rank, *alpha))
	}
	m, err := finetune.New(bb, task, opts...)
	if err != nil {
		return err
	}
	defer m.Close()
	abs, err := filepath.Abs(rest[0])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := tok.Save(filepath.Join(*out, "tokenizer.json")); err != nil {
		return err
	}
	mode := "full fine-tuning"
	switch {
	case *freeze:
		mode = "frozen backbone"
	case *rank > 0:
		mode = fmt.Sprintf("LoRA rank %d on %d projections", *rank, len(m.Adapters()))
	}
	fmt.Fprintf(stdout, "%s: %s, %d trainable tensors, %d training and %d evaluation examples\n", task.Name(), mode, len(m.Trainable()), len(trainSet), len(evalSet))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := m.Fit(ctx, trainSet, evalSet, finetune.FitOptions{
		Encoder: &finetune.Encoder{Tok: tok, MaxLen: *maxLen}, Epochs: *epochs, Batch: *batch, LR: *lr, Warmup: *warmup,
		Patience: *patience, Out: *out, Seed: *seed, Progress: stderr, Log: stdout, Resume: *resume,
		Manifest: map[string]any{"backbone": abs, "text_field": fields.Text, "label_field": fields.Label, "max_len": *maxLen, "label_names": fields.LabelNames},
	})
	if err != nil {
		return err
	}
	if math.IsNaN(rep.FirstLoss) {
		fmt.Fprintf(stdout, "the run was already complete at step %d\n", rep.Steps)
	} else {
		fmt.Fprintf(stdout, "%d steps in %v, loss %.4f -> %.4f\n", rep.Steps, rep.Elapsed.Round(1e7), rep.FirstLoss, rep.LastLoss)
	}
	if rep.Stopped {
		fmt.Fprintln(stdout, "stopped early")
	}
	if len(evalSet) > 0 {
		fmt.Fprintf(stdout, "best %s %.4f at step %d (model.onnx)\n", rep.BestMetric, rep.Best[rep.BestMetric], rep.BestStep)
	}
	fmt.Fprintf(stdout, "wrote %s: model.onnx, finetune.json, metrics.jsonl, best/, checkpoint-%d/\n", *out, rep.Steps)
	return nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// backboneFromCheckpoint builds the base model of a `gort pretrain` folder
// (config.json + model.safetensors): BertModel, GPT2Model or ViTModel with
// the pretrained weights, so its hidden states (and BERT's pooled output)
// can carry a task head. Pretraining heads in the checkpoint are skipped;
// parameters the checkpoint lacks (BERT's pooler, which masked-LM training
// does not use) keep their initialization and train with the head.
func backboneFromCheckpoint(dir string, stderr io.Writer) (*ir.Model, error) {
	cfg, err := zoo.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is a folder but not a pretrained checkpoint: %w", dir, err)
	}
	arch := map[string]string{"bert": "BertModel", "gpt2": "GPT2Model", "vit": "ViTModel", "vit_mae": "ViTModel"}[cfg.ModelType]
	if arch == "" {
		return nil, fmt.Errorf("%s: no base model for model_type %q", dir, cfg.ModelType)
	}
	if cfg.ModelType == "vit_mae" {
		return nil, fmt.Errorf("%s: fine-tuning a ViT-MAE checkpoint needs its encoder as a ViTModel; export it first", dir)
	}
	zm, err := zoo.Build(cfg, arch, zoo.BuildOptions{})
	if err != nil {
		return nil, err
	}
	rep, err := zoo.LoadWeightsWith(zm, filepath.Join(dir, "model.safetensors"), zoo.LoadOptions{Partial: true})
	if err != nil {
		return nil, err
	}
	if len(rep.Missing) > 0 {
		fmt.Fprintf(stderr, "backbone %s from %s; initialized (not in the checkpoint): %s\n", arch, dir, strings.Join(rep.Missing, ", "))
	}
	return zm.IR, nil
}
