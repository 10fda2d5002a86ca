package conformance

import (
	"os"
	"path/filepath"
)

// NodeTestDir returns the ONNX backend node tests folder for tests run by
// `go test` (the working directory is a package folder of the checkout):
// $GORT_ONNX_NODE (the Makefile sets it: ../shared's suite when present,
// else the one `make testdata` generates), else shared/ beside the
// checkout, else "".
func NodeTestDir() string {
	if d := os.Getenv("GORT_ONNX_NODE"); d != "" {
		return d
	}
	d, _ := filepath.Abs("../../shared/conformance/onnx-node")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}
