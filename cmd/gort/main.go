// Command gort loads, inspects, runs, compares and checks ONNX models.
//
//	gort inspect MODEL
//	gort run MODEL [-i NAME=FILE.npy|FILE.pb]... [-o DIR] [--provider native|ort]
//	gort compare MODEL [--inputs DIR] [--seed N] [--rtol R] [--atol A]
//	gort conformance [--provider native|ort] [--filter REGEX] [--json FILE] DIR...
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// commands is the explicit list of subcommands.
func commands() []command {
	return []command{
		{"inspect", "show a model's inputs, outputs, opsets, ops and parameters", cmdInspect},
		{"run", "run a model on .npy/.pb inputs and write outputs as .npy", cmdRun},
		{"compare", "run a model natively and through ONNX Runtime and compare outputs", cmdCompare},
		{"conformance", "run ONNX backend node-test folders", cmdConformance},
		{"optimize", "write an optimized model: folded constants, fused LayerNorm/GELU/attention", cmdOptimize},
		{"bench", "time a model natively and through ONNX Runtime in one run (medians, ratio)", cmdBench},
		{"demo", "build a small BERT, run it natively and through ONNX Runtime, compare", cmdDemo},
		{"pretrain", "pretrain BERT (MLM), GPT-2 (CLM) or ViT-MAE from text or images into a checkpoint folder", cmdPretrain},
		{"finetune", "fine-tune an ONNX export with a task head (classification, regression, token labels, embeddings; full, frozen or LoRA)", cmdFinetune},
		{"export", "export a pretrain/finetune folder or model as ONNX, Hugging Face files or the training-step graph", cmdExport},
		{"generate", "continue a prompt with a decoder (optimum export or GPT-2 checkpoint): KV cache, greedy or sampled, streaming", cmdGenerate},
	}
}

// errExit carries an exit status without an extra message (the command
// already printed its verdict).
type errExit int

func (e errExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the command line and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			var ee errExit
			switch {
			case err == nil:
				return 0
			case errors.As(err, &ee):
				return int(ee)
			case errors.Is(err, flag.ErrHelp):
				return 0
			}
			fmt.Fprintf(stderr, "gort %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "gort: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "gort: run, check and inspect ONNX models in pure Go\n\nUsage: gort COMMAND [arguments]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `gort COMMAND -h` for a command's flags.")
}

// newFlags starts the flags of subcommand name: errors and -h go to
// stderr, and -h prints usage (lines shown as given) and then the flags.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// oneArg parses args, flags anywhere, that must hold one positional
// argument (a model or folder) and returns it; otherwise it prints the
// usage and returns errExit(2).
func oneArg(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", errExit(2)
	}
	return pos[0], nil
}

// parseInterleaved parses flags that may appear before, between or after
// positional arguments (`gort run MODEL -i x=a.npy -o out`).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
