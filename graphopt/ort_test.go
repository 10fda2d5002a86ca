package graphopt_test

import (
	"os"
	"sync"
	"testing"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

var ortProbe struct {
	once sync.Once
	err  error
}

// ortAvailable reports whether ONNX Runtime can run models here: its
// library is present and this build has cgo.
func ortAvailable() error {
	ortProbe.once.Do(func() {
		if _, err := os.Stat(ort.DefaultLibrary()); err != nil {
			ortProbe.err = err
			return
		}
		b := irbuild.New("probe", irbuild.Opset{Domain: "", Version: 17})
		b.Rename(b.Op("Relu", b.Input("x", tensor.Float32, 1)), "y")
		b.Output("y", tensor.Float32, 1)
		s, err := runtime.NewSession(b.Model(), runtime.Options{Provider: ort.New(ort.Options{})})
		if err == nil {
			s.Close()
		}
		ortProbe.err = err
	})
	return ortProbe.err
}

// needORT skips a test that needs ONNX Runtime where it is unavailable,
// except in CI, where it must be present.
func needORT(t *testing.T) {
	t.Helper()
	if err := ortAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ONNX Runtime unavailable in CI: %v", err)
		}
		t.Skipf("ONNX Runtime unavailable: %v", err)
	}
}
