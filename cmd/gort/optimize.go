package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
)

// cmdOptimize writes an optimized copy of a model: constants folded, dead
// and duplicate nodes removed and, at level extended, subgraphs fused into
// standard or com.microsoft ops that both gort and ONNX Runtime run.
func cmdOptimize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("optimize", "usage: gort optimize IN.onnx OUT.onnx [--level basic|extended] [--disable PASS,...] [--external-data FILE]\n       gort optimize --list", stderr)
	level := fs.String("level", "extended", "basic (folding, DCE, CSE, Transpose/Reshape folding) or extended (adds fusions)")
	disable := fs.String("disable", "", "comma-separated names of passes to skip")
	list := fs.Bool("list", false, "list the passes in order and exit")
	external := fs.String("external-data", "", "store initializers of 1 KiB or more in this file next to OUT")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *list {
		for _, p := range graphopt.Passes() {
			fmt.Fprintf(stdout, "%-24s %-8s %s\n", p.Name, levelName(p.Level), p.Doc)
		}
		return nil
	}
	if len(pos) != 2 {
		fs.Usage()
		return errExit(2)
	}
	opts, err := optimizeOptions(*level, *disable)
	if err != nil {
		return err
	}
	m, err := onnx.Load(pos[0])
	if err != nil {
		return err
	}
	opt, rep, err := graphopt.Optimize(m, opts)
	if err != nil {
		return err
	}
	save := onnx.SaveOptions{ExternalDataFile: *external}
	if *external != "" {
		save.ExternalThreshold = 1024
	}
	if err := onnx.Save(opt, pos[1], save); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s -> %s\n%s", pos[0], pos[1], rep)
	return nil
}

func levelName(l graphopt.Level) string {
	if l == graphopt.Basic {
		return "basic"
	}
	return "extended"
}

func optimizeOptions(level, disable string) (graphopt.Options, error) {
	lvl, err := graphopt.ParseLevel(level)
	if err != nil {
		return graphopt.Options{}, err
	}
	opts := graphopt.Options{Level: lvl}
	for _, d := range strings.Split(disable, ",") {
		if d = strings.TrimSpace(d); d != "" {
			opts.Disable = append(opts.Disable, d)
		}
	}
	return opts, nil
}

// optimizeFlag declares --optimize on a command that runs models; wrap
// applies it to the command's provider.
type optimizeFlag struct{ on *bool }

func newOptimizeFlag(fs *flag.FlagSet) optimizeFlag {
	return optimizeFlag{fs.Bool("optimize", false, "run every model through graphopt (level extended) before the provider compiles it")}
}

func (f optimizeFlag) wrap(p runtime.Provider) runtime.Provider {
	if !*f.on {
		return p
	}
	return optimizingProvider{Provider: p, opts: graphopt.Options{Level: graphopt.Extended}}
}

// optimizingProvider optimizes each model before the wrapped provider
// prepares it, so any command or test suite can check the optimizer.
type optimizingProvider struct {
	runtime.Provider
	opts graphopt.Options
}

func (p optimizingProvider) Prepare(m *ir.Model, o runtime.Options) (runtime.Program, error) {
	opt, _, err := graphopt.Optimize(m, p.opts)
	if err != nil {
		return nil, err
	}
	return p.Provider.Prepare(opt, o)
}
