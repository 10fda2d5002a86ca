package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/gort-ml/gort/export"
)

// cmdExport writes a checkpoint folder (gort pretrain or finetune) or an
// ONNX model as an ONNX inference graph, a Hugging Face folder or the
// training-step graph.
func cmdExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "Usage: gort export CHECKPOINT_OR_MODEL --format onnx|hf|training-graph --out PATH [flags]\n\nFlags:", stderr)
	var o export.Options
	fs.StringVar(&o.Format, "format", "onnx", "onnx (inference graph), hf (model.safetensors + config.json) or training-graph")
	fs.StringVar(&o.Out, "out", "", "output file (onnx, training-graph) or folder (hf)")
	fs.StringVar(&o.Optimize, "optimize", "none", "onnx: none, basic (folding, dead code; standard ops) or extended (ORT fusions)")
	fs.BoolVar(&o.ExternalData, "external-data", false, "store weights in OUT.data (automatic past 2 GB)")
	fs.StringVar(&o.Config, "config", "", "hf: config.json of a fine-tuned model's backbone (default: beside it, else inferred)")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || o.Out == "" {
		fs.Usage()
		return errors.New("want one CHECKPOINT_OR_MODEL and --out")
	}
	if err := export.Export(rest[0], o); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s)\n", o.Out, o.Format)
	return nil
}
