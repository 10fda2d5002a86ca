package ort

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gort-ml/gort/runtime"
)

// Version is the ONNX Runtime release `make ort` installs.
const Version = "1.30.0"

// Options configure the ONNX Runtime provider.
type Options struct {
	// Library is the path of libonnxruntime.so. Empty means $GORT_ORT_LIB,
	// else $GORT_CACHE/onnxruntime-1.30.0/libonnxruntime.so.1, with
	// GORT_CACHE defaulting to ~/.cache/gort. One process loads one library:
	// the first provider to run decides which.
	Library string
	// EP is the execution provider: "cpu" (the default), "cuda" or "tensorrt".
	EP string
	// IntraOpThreads bounds ORT's intra-op thread pool; 0 takes
	// runtime.Options.IntraOpThreads, and 0 there lets ORT use every core.
	IntraOpThreads int
	// DeviceID selects the GPU for the cuda and tensorrt providers.
	DeviceID int
}

// Provider runs models with ONNX Runtime. It implements runtime.Provider.
type Provider struct {
	opts Options
}

var _ runtime.Provider = (*Provider)(nil)

// New returns a provider that runs models with ONNX Runtime. Nothing is
// loaded until the first Prepare, so New never fails; Prepare reports a
// missing library or execution provider with an error wrapping
// runtime.ErrUnavailable.
func New(opts Options) runtime.Provider { return &Provider{opts: opts} }

// Name is "ort" for the CPU execution provider and "ort-cuda" or
// "ort-tensorrt" otherwise.
func (p *Provider) Name() string {
	if ep := p.ep(); ep != "cpu" {
		return "ort-" + ep
	}
	return "ort"
}

func (p *Provider) ep() string {
	ep := strings.ToLower(strings.TrimSpace(p.opts.EP))
	if ep == "" {
		return "cpu"
	}
	return ep
}

// DefaultLibrary returns where the provider looks for libonnxruntime when
// Options.Library is empty.
func DefaultLibrary() string {
	if lib := os.Getenv("GORT_ORT_LIB"); lib != "" {
		return lib
	}
	cache := os.Getenv("GORT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		cache = filepath.Join(home, ".cache", "gort")
	}
	return filepath.Join(cache, "onnxruntime-"+Version, "libonnxruntime.so.1")
}

func (p *Provider) library() string {
	if p.opts.Library != "" {
		return p.opts.Library
	}
	return DefaultLibrary()
}

// checkLibrary reports a missing library file with what to do about it.
func checkLibrary(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("ort: %w: ONNX Runtime library %s not found; run `make ort` or set GORT_ORT_LIB to a libonnxruntime.so", runtime.ErrUnavailable, path)
	}
	return nil
}

func unavailable(format string, args ...any) error {
	return fmt.Errorf("ort: %w: "+format, append([]any{runtime.ErrUnavailable}, args...)...)
}
