package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// provider maps a --provider name to a runtime.Provider: "native", "ort"
// (ONNX Runtime on the CPU), or "ort:EP" for another ONNX Runtime execution
// provider ("ort:cuda", "ort:tensorrt"), which fails clearly where the
// installed ONNX Runtime library or the machine lacks it.
func provider(name string) (runtime.Provider, error) {
	base, ep, _ := strings.Cut(name, ":")
	switch base {
	case "", "native":
		if ep != "" {
			return nil, fmt.Errorf("provider %q: the native provider has no execution providers", name)
		}
		return runtime.Native(), nil
	case "ort":
		return ort.New(ort.Options{EP: ep}), nil
	}
	return nil, fmt.Errorf("unknown provider %q (want native, ort, or ort:cuda / ort:tensorrt)", name)
}

// openSession is runtime.NewSession that warns on warn (when not nil) if
// the native provider runs the model less optimized than graphopt would
// make it (runtime.Session.OptimizeError): still correct, maybe slower.
func openSession(m *ir.Model, opts runtime.Options, warn io.Writer) (*runtime.Session, error) {
	s, err := runtime.NewSession(m, opts)
	if err == nil && warn != nil {
		if oe := s.OptimizeError(); oe != nil {
			fmt.Fprintf(warn, "gort: warning: %v\n", oe)
		}
	}
	return s, err
}

// runNativeAndORT runs m on feeds natively and through ONNX Runtime and
// returns the outputs by provider name ("native", "ort").
func runNativeAndORT(m *ir.Model, feeds map[string]*tensor.Tensor, warn io.Writer) (map[string]map[string]*tensor.Tensor, error) {
	ortP, err := provider("ort")
	if err != nil {
		return nil, err
	}
	results := map[string]map[string]*tensor.Tensor{}
	for _, p := range []runtime.Provider{runtime.Native(), ortP} {
		s, err := openSession(m, runtime.Options{Provider: p}, warn)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name(), err)
		}
		out, err := s.Run(context.Background(), feeds)
		s.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name(), err)
		}
		results[p.Name()] = out
	}
	return results, nil
}
