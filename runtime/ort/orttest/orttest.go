// Package orttest serves tests that compare gort with ONNX Runtime: it
// tells once per process whether ONNX Runtime can run here, and skips or
// fails a test accordingly.
//
// # Overview
//
//	func TestAgainstORT(t *testing.T) {
//		orttest.Need(t) // skips without ONNX Runtime, except under CI, where it fails
//		...
//	}
package orttest

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

var probe struct {
	once sync.Once
	err  error
}

// Err says why ONNX Runtime cannot run here (its library is missing, or the
// build has no cgo), or nil when it can: it runs a one-node model once.
func Err() error {
	probe.once.Do(func() {
		if lib := ort.DefaultLibrary(); lib != "" {
			if _, err := os.Stat(lib); err != nil {
				probe.err = fmt.Errorf("ONNX Runtime library %s not found (run `make ort` or set GORT_ORT_LIB): %w", lib, err)
				return
			}
		}
		b := irbuild.New("probe", irbuild.Opset{Domain: "", Version: 17})
		b.Rename(b.Op("Relu", b.Input("x", tensor.Float32, 1)), "y")
		b.Output("y", tensor.Float32, 1)
		s, err := runtime.NewSession(b.Model(), runtime.Options{Provider: ort.New(ort.Options{})})
		if err == nil {
			s.Close()
		}
		probe.err = err
	})
	return probe.err
}

// Need skips t where ONNX Runtime cannot run, and fails it under CI (the
// CI environment variable set), where `make test` has installed it.
func Need(t testing.TB) {
	t.Helper()
	if err := Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ONNX Runtime unavailable in CI: %v", err)
		}
		t.Skipf("ONNX Runtime unavailable: %v", err)
	}
}
