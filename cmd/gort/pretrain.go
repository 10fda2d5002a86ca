package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"

	"github.com/gort-ml/gort/pretrain"
)

// cmdPretrain pretrains a BERT (masked LM, optionally next-sentence
// prediction), GPT-2 (causal LM) or ViT-MAE model from raw text or images
// into a checkpoint folder other commands accept.
func cmdPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pretrain", "Usage: gort pretrain --arch bert|gpt2|vit-mae --data PATH --out DIR [flags]\n\nFlags:", stderr)
	var o pretrain.Options
	fs.StringVar(&o.Arch, "arch", "bert", "bert (masked LM), gpt2 (causal LM) or vit-mae (masked autoencoder)")
	fs.StringVar(&o.Config, "config", "", "Hugging Face config.json (default: a small model of the arch)")
	fs.StringVar(&o.Data, "data", "", "text file, .jsonl file (\"text\" field), image file, or a folder of them")
	fs.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json (default: train one on the data)")
	fs.IntVar(&o.VocabSize, "vocab-size", 1000, "vocabulary size of a trained tokenizer")
	fs.Int64Var(&o.Steps, "steps", 500, "optimizer steps")
	fs.IntVar(&o.Batch, "batch", 16, "sequences or images per step")
	fs.IntVar(&o.Seq, "seq", 32, "tokens per sequence")
	fs.Float64Var(&o.LR, "lr", 1e-3, "peak learning rate")
	fs.Int64Var(&o.Warmup, "warmup", 0, "warmup steps (default 5% of --steps)")
	fs.StringVar(&o.Schedule, "schedule", "linear", "learning-rate schedule: linear, cosine or constant")
	fs.StringVar(&o.Out, "out", "", "output checkpoint folder")
	fs.BoolVar(&o.Resume, "resume", false, "continue from the newest checkpoint in --out")
	prov := fs.String("provider", "native", "runs the training-step graph: native or ort")
	seed := fs.Uint64("seed", 1, "seed of initialization, data order, masking and dropout")
	fs.BoolVar(&o.NSP, "nsp", false, "bert: add next-sentence prediction (BertForPreTraining)")
	fs.BoolVar(&o.WholeWord, "whole-word", false, "bert: whole-word masking")
	fs.Float64Var(&o.MaskProb, "mask-prob", 0.15, "bert: fraction of tokens masked")
	fs.Float64Var(&o.ValFraction, "val-fraction", 0.05, "fraction of documents or images held out for evaluation")
	fs.Int64Var(&o.EvalEvery, "eval-every", 0, "evaluate every N steps (default steps/10)")
	fs.Int64Var(&o.SaveEvery, "save-every", 0, "write a checkpoint every N steps (default: at the end)")
	fs.IntVar(&o.Threads, "threads", 0, "threads per op (0: all cores)")
	var probes multiFlag
	fs.Var(&probes, "probe", "bert: a sentence with [MASK] to fill before and after training (repeatable; default: sentences about the shipped corpus)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	var err error
	if o.Provider, err = provider(*prov); err != nil {
		return err
	}
	o.Seed = *seed
	if len(probes) > 0 {
		o.Probes = probes
	}
	o.Progress = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := pretrain.Run(ctx, o)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "pretrain: ")) // main prefixes the command
	}
	fmt.Fprintf(stdout, "%s: %d parameters, %d steps in %v (%.0f %s/s)\n", s.Class, s.Params, s.Steps, s.Elapsed.Round(1e7), s.ItemsPerSecond, map[bool]string{true: "images", false: "tokens"}[o.Arch == "vit-mae"])
	fmt.Fprintf(stdout, "loss %.4f -> %.4f (mean of the last 10%% of steps); trivial baseline %.4f (%s)\n", s.FirstLoss, s.LastLoss, s.Baseline,
		map[bool]string{true: "predicting each masked patch's mean", false: "unigram entropy, nats"}[o.Arch == "vit-mae"])
	if !math.IsNaN(s.EvalLoss) {
		fmt.Fprintf(stdout, "validation loss %.4f", s.EvalLoss)
		if o.Arch != "vit-mae" {
			fmt.Fprintf(stdout, ", perplexity %.2f, %s accuracy %.3f", math.Exp(s.EvalLoss), map[bool]string{true: "masked-token", false: "next-token"}[o.Arch == "bert"], s.EvalAccuracy)
		}
		fmt.Fprintln(stdout)
	}
	if len(s.Before) > 0 {
		fmt.Fprintln(stdout, "\nmasked-word predictions before training:")
		for _, p := range s.Before {
			fmt.Fprintf(stdout, "  %v\n", p)
		}
		fmt.Fprintln(stdout, "after training:")
		for _, p := range s.After {
			fmt.Fprintf(stdout, "  %v\n", p)
		}
	}
	fmt.Fprintf(stdout, "\nwrote %s: config.json, model.safetensors, checkpoint-%d/, metrics.jsonl, loss.png, model.onnx", o.Out, s.Steps)
	if o.Arch == "vit-mae" {
		fmt.Fprint(stdout, ", reconstruction.png")
	} else {
		fmt.Fprint(stdout, ", tokenizer.json")
	}
	fmt.Fprintln(stdout)
	return nil
}
