//go:build !cgo

package ort

import (
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/runtime"
)

func errNoCgo() error {
	return unavailable("gort was built without cgo; rebuild with CGO_ENABLED=1 to use ONNX Runtime")
}

// Prepare fails: ONNX Runtime is reached through cgo.
func (p *Provider) Prepare(m *ir.Model, opts runtime.Options) (runtime.Program, error) {
	return nil, errNoCgo()
}

// RuntimeVersion fails: ONNX Runtime is reached through cgo.
func (p *Provider) RuntimeVersion() (string, error) { return "", errNoCgo() }
