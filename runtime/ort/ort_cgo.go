//go:build cgo

package ort

/*
#cgo CFLAGS: -O2
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// defaultIRVersion is written into models built in memory without one
// (ONNX 1.16's IR version, which every ORT since 1.17 reads).
const defaultIRVersion = 10

// env is the process's one ONNX Runtime environment. Initialization is
// retried until it succeeds (a library installed after a failed attempt is
// picked up), then never repeated.
var env struct {
	mu  sync.Mutex
	lib string // the library loaded; "" until initialized
}

// cError converts a message from the shim into an error and frees it.
func cError(msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return errors.New(C.GoString(msg))
}

func initEnv(path string) error {
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.lib != "" {
		if !sameFile(env.lib, path) {
			return unavailable("ONNX Runtime is already loaded from %s; a process loads one library (asked for %s)", env.lib, path)
		}
		return nil
	}
	if err := checkLibrary(path); err != nil {
		return err
	}
	if !ortgo.IsInitialized() {
		ortgo.SetSharedLibraryPath(path)
		if err := ortgo.InitializeEnvironment(ortgo.WithLogLevelFatal()); err != nil {
			return unavailable("loading %s: %v; run `make ort` or set GORT_ORT_LIB to a working libonnxruntime.so", path, err)
		}
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if err := cError(C.gort_init(cpath)); err != nil {
		return unavailable("%s: %v", path, err)
	}
	var wire C.int
	if err := cError(C.gort_wire_inputs(&wire)); err != nil {
		return unavailable("%s: probing element type numbering: %v", path, err)
	}
	wireInputs = wire != 0
	env.lib = path
	return nil
}

func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// RuntimeVersion loads ONNX Runtime if needed and returns its version, e.g. "1.30.0".
func (p *Provider) RuntimeVersion() (string, error) {
	if err := initEnv(p.library()); err != nil {
		return "", err
	}
	return ortgo.GetVersion(), nil
}

// availableProviders lists the execution providers compiled into the library.
func availableProviders() ([]string, error) {
	var joined *C.char
	if err := cError(C.gort_available_providers(&joined)); err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(joined))
	return strings.Split(C.GoString(joined), ","), nil
}

var epNames = map[string]string{
	"cpu":      "CPUExecutionProvider",
	"cuda":     "CUDAExecutionProvider",
	"tensorrt": "TensorrtExecutionProvider",
}

// appendEP adds the requested execution provider to the session options.
// TensorRT falls back to CUDA, then the CPU, for nodes it does not take.
func (p *Provider) appendEP(so *ortgo.SessionOptions, ep string) error {
	if ep == "cpu" {
		return nil
	}
	have, err := availableProviders()
	if err != nil {
		return fmt.Errorf("ort: listing execution providers: %w", err)
	}
	if !slices.Contains(have, epNames[ep]) {
		return unavailable("execution provider %q is not in the installed ONNX Runtime %s (%s has only %s): that library is CPU-only; point GORT_ORT_LIB at a GPU build of ONNX Runtime or use EP \"cpu\"",
			ep, ortgo.GetVersion(), env.lib, strings.Join(have, ", "))
	}
	dev := map[string]string{"device_id": strconv.Itoa(p.opts.DeviceID)}
	if ep == "tensorrt" {
		if err := addEP(ortgo.NewTensorRTProviderOptions, so.AppendExecutionProviderTensorRT, dev); err != nil {
			return gpuUnavailable(ep, err)
		}
		if !slices.Contains(have, epNames["cuda"]) {
			return nil
		}
	}
	if err := addEP(ortgo.NewCUDAProviderOptions, so.AppendExecutionProviderCUDA, dev); err != nil {
		return gpuUnavailable("cuda", err)
	}
	return nil
}

// addEP creates an execution provider's options, applies settings and
// appends the provider to a session's options.
func addEP[O interface {
	Update(map[string]string) error
	Destroy() error
}](newOptions func() (O, error), appendTo func(O) error, settings map[string]string) error {
	o, err := newOptions()
	if err != nil {
		return err
	}
	defer o.Destroy()
	if err := o.Update(settings); err != nil {
		return err
	}
	return appendTo(o)
}

// gpuUnavailable explains why a GPU execution provider could not be set up.
// ONNX Runtime builds list CUDA and TensorRT as available even when their
// provider libraries, which the CPU packages do not ship, are absent.
func gpuUnavailable(ep string, err error) error {
	provider := filepath.Join(filepath.Dir(env.lib), "libonnxruntime_providers_"+ep+".so")
	if _, statErr := os.Stat(provider); statErr != nil {
		return unavailable("execution provider %q is not in the installed ONNX Runtime %s: %s is CPU-only (no %s beside it); point GORT_ORT_LIB at a GPU build of ONNX Runtime or use EP \"cpu\"",
			ep, ortgo.GetVersion(), env.lib, filepath.Base(provider))
	}
	return unavailable("execution provider %q failed to load (are the CUDA, cuDNN or TensorRT libraries installed, and is Options.DeviceID a GPU?): %v", ep, err)
}

// Prepare serializes m, creates an ORT session for it and checks that every
// graph input and output is a tensor.
func (p *Provider) Prepare(m *ir.Model, opts runtime.Options) (runtime.Program, error) {
	ep := p.ep()
	if _, ok := epNames[ep]; !ok {
		return nil, fmt.Errorf("ort: unknown execution provider %q (want cpu, cuda or tensorrt)", p.opts.EP)
	}
	if m == nil || m.Graph == nil {
		return nil, errors.New("ort: model has no graph")
	}
	g := m.Graph
	for _, v := range g.Inputs {
		if err := tensorKind("input", v); err != nil {
			return nil, err
		}
	}
	for _, v := range g.Outputs {
		if err := tensorKind("output", v); err != nil {
			return nil, err
		}
	}
	if len(g.Outputs) == 0 {
		return nil, errors.New("ort: the graph has no outputs")
	}
	if err := initEnv(p.library()); err != nil {
		return nil, err
	}
	if m.IRVersion == 0 {
		c := *m
		c.IRVersion = defaultIRVersion
		m = &c
	}
	data, err := onnx.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("ort: serializing the model: %w", err)
	}
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	defer so.Destroy()
	threads := p.opts.IntraOpThreads
	if threads <= 0 {
		threads = opts.IntraOpThreads
	}
	if threads > 0 {
		if err := so.SetIntraOpNumThreads(threads); err != nil {
			return nil, fmt.Errorf("ort: intra-op threads %d: %w", threads, err)
		}
	}
	if err := p.appendEP(so, ep); err != nil {
		return nil, err
	}

	inits := map[string]bool{}
	for _, t := range g.Initializers {
		inits[t.Name] = true
	}
	prog := &program{maxEl: opts.MaxTensorElements}
	if prog.maxEl <= 0 {
		prog.maxEl = runtime.DefaultMaxTensorElements
	}
	var required []string
	for _, v := range g.Inputs {
		prog.inputs = append(prog.inputs, v.Name)
		if !inits[v.Name] {
			required = append(required, v.Name)
		}
	}
	for _, v := range g.Outputs {
		prog.outputs = append(prog.outputs, v.Name)
	}
	sess, err := ortgo.NewDynamicAdvancedSessionWithONNXData(data, required, prog.outputs, so)
	if err != nil {
		return nil, fmt.Errorf("ort: ONNX Runtime rejected the model: %w", err)
	}
	prog.sess = sess
	if prog.raw, err = rawSession(sess); err != nil {
		sess.Destroy()
		return nil, err
	}
	// The output count confirms rawSession found a live session.
	var nin, nout C.size_t
	if err := cError(C.gort_session_counts(prog.raw, &nin, &nout)); err != nil || int(nout) != len(prog.outputs) {
		sess.Destroy()
		return nil, fmt.Errorf("ort: session has %d outputs, the graph %d (%v)", nout, len(prog.outputs), err)
	}
	prog.cinputs = cStrings(prog.inputs)
	prog.coutputs = cStrings(prog.outputs)
	return prog, nil
}

// tensorKind rejects graph inputs and outputs that are not tensors.
func tensorKind(what string, v *ir.ValueInfo) error {
	switch v.Type.Kind {
	case tensor.KindTensor, tensor.KindUnknown:
		return nil
	}
	return unavailable("graph %s %q is %s; the ORT provider passes tensors only, use the native provider", what, v.Name, runtime.FormatType(v.Type))
}

// rawSession returns the OrtSession behind s. onnxruntime_go v1.27.0 keeps
// it in DynamicAdvancedSession.s.ortSession and exposes no run call that
// takes per-call input names, scalars or float16 outputs, so the shim runs the
// session itself. The layout is checked by reflection first, so a different
// onnxruntime_go version fails here instead of crashing.
func rawSession(s *ortgo.DynamicAdvancedSession) (*C.OrtSession, error) {
	bad := errors.New("ort: onnxruntime_go's DynamicAdvancedSession layout is not the one gort was written for (v1.27.0)")
	dt := reflect.TypeOf(*s)
	if dt.NumField() != 1 || dt.Field(0).Type.Kind() != reflect.Pointer {
		return nil, bad
	}
	at := dt.Field(0).Type.Elem()
	if at.Kind() != reflect.Struct || at.NumField() == 0 {
		return nil, bad
	}
	if f := at.Field(0); f.Name != "ortSession" || f.Offset != 0 || f.Type.Kind() != reflect.Pointer {
		return nil, bad
	}
	adv := *(*unsafe.Pointer)(unsafe.Pointer(s))
	if adv == nil {
		return nil, bad
	}
	raw := *(**C.OrtSession)(adv)
	if raw == nil {
		return nil, bad
	}
	return raw, nil
}

func cStrings(names []string) []*C.char {
	out := make([]*C.char, len(names))
	for i, n := range names {
		out[i] = C.CString(n)
	}
	return out
}

func freeCStrings(s []*C.char) {
	for _, p := range s {
		C.free(unsafe.Pointer(p))
	}
}

// program is a model compiled into an ORT session. ORT sessions are safe for
// concurrent runs; mu only keeps Close from releasing the session under a
// running Run.
type program struct {
	mu       sync.RWMutex
	sess     *ortgo.DynamicAdvancedSession
	raw      *C.OrtSession
	inputs   []string // every graph input, in graph order
	outputs  []string
	cinputs  []*C.char
	coutputs []*C.char
	maxEl    int
	closed   bool
}

// Close releases the ORT session. Runs in progress finish first.
func (p *program) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	freeCStrings(p.cinputs)
	freeCStrings(p.coutputs)
	return p.sess.Destroy()
}

// Run feeds the given inputs (initializer-backed inputs that are not fed
// keep their initializer) and returns every graph output, copied into gort
// tensors. Cancelling ctx terminates the ORT run.
func (p *program) Run(ctx context.Context, feeds map[string]tensor.Value) (map[string]tensor.Value, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, errors.New("ort: Run on a closed session")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ort: %w", err)
	}
	for name := range feeds {
		if !slices.Contains(p.inputs, name) {
			return nil, fmt.Errorf("ort: feed %q is not a model input", name)
		}
	}

	var pin goruntime.Pinner
	defer pin.Unpin()
	var names []*C.char
	var vals []*C.OrtValue
	defer func() {
		for _, v := range vals {
			C.gort_release_value(v)
		}
	}()
	for i, name := range p.inputs {
		v := feeds[name]
		if v == nil {
			continue
		}
		ov, err := toOrt(name, v, &pin)
		if err != nil {
			return nil, err
		}
		names = append(names, p.cinputs[i])
		vals = append(vals, ov)
	}

	// Run options exist only to terminate the run when ctx can be cancelled.
	var ro *C.OrtRunOptions
	if ctx.Done() != nil {
		if err := cError(C.gort_run_options(&ro)); err != nil {
			return nil, fmt.Errorf("ort: run options: %w", err)
		}
		// Terminating from ctx's goroutine must not race with releasing ro.
		var roMu sync.Mutex
		stop := context.AfterFunc(ctx, func() {
			roMu.Lock()
			defer roMu.Unlock()
			if ro != nil {
				C.gort_terminate(ro)
			}
		})
		defer func() {
			stop()
			roMu.Lock()
			C.gort_release_run_options(ro)
			ro = nil
			roMu.Unlock()
		}()
	}

	outs := make([]*C.OrtValue, len(p.outputs))
	defer func() {
		for _, v := range outs {
			C.gort_release_value(v)
		}
	}()
	var namesPtr **C.char
	var valsPtr **C.OrtValue
	if len(vals) > 0 {
		namesPtr, valsPtr = &names[0], &vals[0]
	}
	err := cError(C.gort_run(p.raw, ro, namesPtr, valsPtr, C.size_t(len(vals)),
		&p.coutputs[0], C.size_t(len(outs)), &outs[0]))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ort: run cancelled: %w", ctx.Err())
		}
		return nil, fmt.Errorf("ort: %w", err)
	}
	res := make(map[string]tensor.Value, len(outs))
	for i, ov := range outs {
		t, err := fromOrt(p.outputs[i], ov, p.maxEl)
		if err != nil {
			return nil, err
		}
		res[p.outputs[i]] = t
	}
	return res, nil
}
