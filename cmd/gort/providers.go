package main

import (
	"fmt"
	"strings"

	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
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
