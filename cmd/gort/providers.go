package main

import (
	"fmt"

	"github.com/gort-ml/gort/runtime"
)

// provider maps a --provider name to a runtime.Provider.
func provider(name string) (runtime.Provider, error) {
	switch name {
	case "", "native":
		return runtime.Native(), nil
	case "ort":
		return ortProvider()
	}
	return nil, fmt.Errorf("unknown provider %q (want native or ort)", name)
}

func ortProvider() (runtime.Provider, error) {
	return nil, fmt.Errorf("%w: the ort provider is not built yet", runtime.ErrUnavailable)
}
