package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "usage: gort run MODEL [-i NAME=FILE.npy|FILE.pb]... [-o DIR] [--provider native|ort]", stderr)
	var inputs multiFlag
	fs.Var(&inputs, "i", "input as NAME=FILE.npy or NAME=FILE.pb (repeatable)")
	outDir := fs.String("o", "", "folder for the outputs as NAME.npy (default: print a summary only)")
	prov := fs.String("provider", "native", "execution provider: native or ort")
	modelPath, err := oneArg(fs, args)
	if err != nil {
		return err
	}
	m, err := onnx.Load(modelPath)
	if err != nil {
		return err
	}
	p, err := provider(*prov)
	if err != nil {
		return err
	}
	feeds := map[string]*tensor.Tensor{}
	for _, spec := range inputs {
		name, file, ok := strings.Cut(spec, "=")
		if !ok {
			return fmt.Errorf("-i %q: want NAME=FILE", spec)
		}
		t, err := readTensorFile(file)
		if err != nil {
			return fmt.Errorf("-i %s: %w", name, err)
		}
		feeds[name] = t
	}
	sess, err := openSession(m, runtime.Options{Provider: p}, stderr)
	if err != nil {
		return err
	}
	defer sess.Close()
	start := time.Now()
	out, err := sess.Run(context.Background(), feeds)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return err
		}
	}
	for _, o := range sess.Outputs() {
		t := out[o.Name]
		fmt.Fprintf(stdout, "output %s: %v%v\n", o.Name, t.DType(), t.Shape())
		if *outDir != "" {
			path := filepath.Join(*outDir, safeFileName(o.Name)+".npy")
			if err := tensor.SaveNPY(path, t); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "ran in %.2f ms (%s)\n", float64(elapsed.Microseconds())/1000, p.Name())
	return nil
}

// readTensorFile reads a .npy file or a serialized TensorProto (.pb).
func readTensorFile(path string) (*tensor.Tensor, error) {
	if strings.HasSuffix(path, ".npy") {
		return tensor.LoadNPY(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	_, t, err := onnx.ParseTensor(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// safeFileName replaces path separators and other awkward characters in a
// value name ("present.0.key" stays, "a/b:0" becomes "a_b_0").
func safeFileName(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', '\\', ':', '*', '?', '"', '<', '>', '|':
			return '_'
		}
		return r
	}, name)
}
