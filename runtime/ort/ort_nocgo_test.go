//go:build !cgo

package ort_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

func TestWithoutCgo(t *testing.T) {
	m := model(13, []*ir.Node{node("Relu", []string{"x"}, []string{"y"})},
		[]*ir.ValueInfo{vi("x", tensor.Float32, 2)}, []*ir.ValueInfo{out("y", tensor.Float32)})
	_, err := runtime.NewSession(m, runtime.Options{Provider: ort.New(ort.Options{})})
	if !errors.Is(err, runtime.ErrUnavailable) || !strings.Contains(err.Error(), "CGO_ENABLED=1") {
		t.Fatalf("got %v, want an unavailable error saying to rebuild with CGO_ENABLED=1", err)
	}
}
