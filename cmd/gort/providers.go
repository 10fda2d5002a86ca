package main

import (
	"fmt"

	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
)

// provider maps a --provider name to a runtime.Provider.
func provider(name string) (runtime.Provider, error) {
	switch name {
	case "", "native":
		return runtime.Native(), nil
	case "ort":
		return ort.New(ort.Options{}), nil
	}
	return nil, fmt.Errorf("unknown provider %q (want native or ort)", name)
}
