package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/tensor"
)

func cmdCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", "usage: gort compare MODEL [--inputs DIR] [--seed N] [--rtol R] [--atol A] [--dim NAME=N]...", stderr)
	inputsDir := fs.String("inputs", "", "folder of NAME.npy or input_N.pb files (default: random, shape-aware inputs)")
	seed := fs.Uint64("seed", 1, "seed for random inputs")
	rtol := fs.Float64("rtol", 1e-4, "relative tolerance")
	atol := fs.Float64("atol", 1e-4, "absolute tolerance")
	var dimFlags multiFlag
	fs.Var(&dimFlags, "dim", "value of a symbolic dimension as NAME=N (repeatable), e.g. --dim sequence=128")
	modelPath, err := oneArg(fs, args)
	if err != nil {
		return err
	}
	m, err := onnx.Load(modelPath)
	if err != nil {
		return err
	}
	dims := map[string]int{}
	for _, d := range dimFlags {
		name, val, ok := strings.Cut(d, "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n < 0 {
			return fmt.Errorf("--dim %q: want NAME=N", d)
		}
		dims[name] = n
	}
	var feeds map[string]*tensor.Tensor
	if *inputsDir != "" {
		feeds, err = readInputDir(*inputsDir, m.Graph.Inputs)
	} else {
		feeds, err = conformance.RandomFeeds(m, *seed, dims)
	}
	if err != nil {
		return err
	}
	results, err := runNativeAndORT(m, feeds, stderr)
	if err != nil {
		return err
	}
	tol := conformance.Tolerance{Rtol: *rtol, Atol: *atol}
	bad := 0
	for _, o := range m.Graph.Outputs {
		nat, ref := results["native"][o.Name], results["ort"][o.Name]
		d, err := conformance.CompareTensors(ref, nat, tol)
		if err != nil && d.MaxAbs == 0 && d.Bad == 0 {
			fmt.Fprintf(stdout, "output %s: %v\n", o.Name, err)
			bad++
			continue
		}
		fmt.Fprintf(stdout, "output %s: max_abs=%.3g max_rel=%.3g\n", o.Name, d.MaxAbs, d.MaxRel)
		if err != nil {
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "compare: %d of %d outputs differ beyond rtol=%g atol=%g\n", bad, len(m.Graph.Outputs), *rtol, *atol)
		return errExit(1)
	}
	fmt.Fprintf(stdout, "compare: all %d outputs agree within rtol=%g atol=%g\n", len(m.Graph.Outputs), *rtol, *atol)
	return nil
}

// readInputDir reads NAME.npy files, or input_N.pb files bound by their
// stored name or by position.
func readInputDir(dir string, inputs []*ir.ValueInfo) (map[string]*tensor.Tensor, error) {
	feeds := map[string]*tensor.Tensor{}
	for i, v := range inputs {
		npy := filepath.Join(dir, safeFileName(v.Name)+".npy")
		if _, err := os.Stat(npy); err == nil {
			t, err := tensor.LoadNPY(npy)
			if err != nil {
				return nil, err
			}
			feeds[v.Name] = t
			continue
		}
		pb := filepath.Join(dir, fmt.Sprintf("input_%d.pb", i))
		data, err := os.ReadFile(pb)
		if err != nil {
			continue // an initializer-backed input may be left out
		}
		name, t, err := onnx.ParseTensor(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pb, err)
		}
		if name == "" {
			name = v.Name
		}
		feeds[name] = t
	}
	return feeds, nil
}
