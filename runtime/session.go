package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// Provider compiles a model into a Program that runs it. The native provider
// (this package) runs gort's Go kernels; package runtime/ort delegates to ONNX
// Runtime.
type Provider interface {
	Name() string
	Prepare(m *ir.Model, opts Options) (Program, error)
}

// Program is a model compiled by a provider. Run must be safe for concurrent use.
type Program interface {
	Run(ctx context.Context, feeds map[string]tensor.Value) (map[string]tensor.Value, error)
	Close() error
}

// ErrUnavailable is wrapped by providers that cannot run on this machine or build.
var ErrUnavailable = errors.New("provider unavailable")

// Options configure a Session.
type Options struct {
	// Provider runs the model; nil means the native Go provider.
	Provider Provider
	// IntraOpThreads bounds the parallelism inside one op; 0 means all cores.
	IntraOpThreads int
	// MaxTensorElements bounds any single tensor a kernel allocates; 0 means
	// DefaultMaxTensorElements.
	MaxTensorElements int
	// MaxLiveBytes bounds the memory of all intermediate tensors held at
	// once during a run; 0 means DefaultMaxLiveBytes(), negative means no bound.
	MaxLiveBytes int64
	// NoOptimize skips graphopt, which the native provider otherwise runs
	// before compiling (level extended: folding, CSE, DCE and fusions into
	// ops it implements), as ONNX Runtime optimizes by default.
	NoOptimize bool
	// Seed seeds random ops (RandomNormal, Dropout in training mode, ...); 0 draws one.
	Seed int64
}

// DefaultMaxTensorElements is 2^31 elements (8 GiB of float32).
const DefaultMaxTensorElements = 1 << 31

// Session is a model compiled once and run many times. Run is safe for
// concurrent use and honours ctx cancellation between nodes.
//
// A session keeps no reference to the model it was made from: once the
// caller lets the model go, the weights the kernels precomputed from
// (MatMul's packed matrices) are freed, and the session holds one copy.
type Session struct {
	prog    Program
	graphIn []*ir.ValueInfo // every graph input, initializer-backed ones too
	inputs  []*ir.ValueInfo
	outputs []*ir.ValueInfo
	name    string
	// required holds every graph input: true where it must be fed (no
	// initializer backs it).
	required map[string]bool
}

// NewSession validates m and compiles it with the chosen provider.
func NewSession(m *ir.Model, opts Options) (s *Session, err error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("runtime: model has no graph")
	}
	defer recoverTo(&err, "compile")
	if err := m.Graph.Validate(nil); err != nil {
		return nil, fmt.Errorf("runtime: invalid model: %w", err)
	}
	p := opts.Provider
	if p == nil {
		p = Native()
	}
	prog, err := p.Prepare(m, opts)
	if err != nil {
		return nil, err
	}
	s = &Session{graphIn: m.Graph.Inputs, prog: prog, name: p.Name(), required: map[string]bool{}}
	inits := map[string]bool{}
	for _, t := range m.Graph.Initializers {
		inits[t.Name] = true
	}
	for _, v := range m.Graph.Inputs {
		s.required[v.Name] = s.required[v.Name] || !inits[v.Name]
		if !inits[v.Name] {
			s.inputs = append(s.inputs, v)
		}
	}
	s.outputs = m.Graph.Outputs
	return s, nil
}

// Provider returns the name of the provider running the session.
func (s *Session) Provider() string { return s.name }

// Inputs returns the graph inputs a caller must feed (initializer-backed
// inputs, which have defaults, are left out).
func (s *Session) Inputs() []*ir.ValueInfo { return s.inputs }

// Outputs returns the graph outputs.
func (s *Session) Outputs() []*ir.ValueInfo { return s.outputs }

// Close releases provider resources.
func (s *Session) Close() error { return s.prog.Close() }

// tensorProgram is a Program that also runs on tensor maps as they are
// (the native one), filling the caller's output map: Run and RunInto then
// make one map per call or none.
type tensorProgram interface {
	runTensors(ctx context.Context, feeds, outs map[string]*tensor.Tensor) error
}

// Run feeds tensors by input name and returns every graph output by name.
func (s *Session) Run(ctx context.Context, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	if _, ok := s.prog.(tensorProgram); ok {
		out := make(map[string]*tensor.Tensor, len(s.outputs))
		if err := s.RunInto(ctx, feeds, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return s.runValuesAsTensors(ctx, feeds)
}

// RunInto is Run writing the outputs into outs, which it clears first,
// instead of into a new map: a caller running a model step after step (a
// decoder) reuses one map. After a failed run outs is empty.
func (s *Session) RunInto(ctx context.Context, feeds, outs map[string]*tensor.Tensor) (err error) {
	clear(outs)
	tp, ok := s.prog.(tensorProgram)
	if !ok {
		out, err := s.runValuesAsTensors(ctx, feeds)
		for k, v := range out {
			outs[k] = v
		}
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkRun(s, ctx, feeds); err != nil {
		return err
	}
	// The program places the bound outputs itself. A panic leaves outs
	// empty: recoverTo (called by the runtime: it must be deferred
	// itself) sets err first.
	defer func() {
		if err != nil {
			clear(outs)
		}
	}()
	defer recoverTo(&err, "run")
	return tp.runTensors(ctx, feeds, outs)
}

// runValuesAsTensors is Run through RunValues (providers other than the
// native one).
func (s *Session) runValuesAsTensors(ctx context.Context, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	vf := make(map[string]tensor.Value, len(feeds))
	for k, v := range feeds {
		vf[k] = v
	}
	vals, err := s.RunValues(ctx, vf)
	if err != nil {
		return nil, err
	}
	res := make(map[string]*tensor.Tensor, len(vals))
	for k, v := range vals {
		t, ok := v.(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("runtime: output %q is a %T, not a tensor; use RunValues", k, v)
		}
		res[k] = t
	}
	return res, nil
}

// RunValues is Run for models whose inputs or outputs are sequences,
// optionals or maps.
func (s *Session) RunValues(ctx context.Context, feeds map[string]tensor.Value) (out map[string]tensor.Value, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkRun(s, ctx, feeds); err != nil {
		return nil, err
	}
	binds := outputBindings(ctx)
	defer recoverTo(&err, "run")
	out, err = s.prog.Run(ctx, feeds)
	if err != nil || binds == nil {
		return out, err
	}
	if err := bindOutputs(out, binds); err != nil {
		return nil, err
	}
	return out, nil
}

// bindOutputs fills the bound tensors a provider did not write itself
// (the native one does).
func bindOutputs(out map[string]tensor.Value, binds map[string]*tensor.Tensor) error {
	done := true
	for name, b := range binds {
		done = done && out[name] == tensor.Value(b)
	}
	if done {
		return nil
	}
	names := make([]string, 0, len(out))
	vals := make([]tensor.Value, 0, len(out))
	for k, v := range out {
		names, vals = append(names, k), append(vals, v)
	}
	if err := placeOutputs(names, vals, binds); err != nil {
		return err
	}
	for i, k := range names {
		out[k] = vals[i]
	}
	return nil
}

// checkRun checks a run's feeds and output bindings.
func checkRun[V tensor.Value](s *Session, ctx context.Context, feeds map[string]V) error {
	if err := checkFeeds(s, feeds); err != nil {
		return err
	}
	if binds := outputBindings(ctx); binds != nil {
		return checkBindings(s, binds, feeds)
	}
	return nil
}

// feed returns the value fed as name; a nil tensor counts as not fed.
func feed[V tensor.Value](feeds map[string]V, name string) tensor.Value {
	v, ok := feeds[name]
	if !ok {
		return nil
	}
	tv := tensor.Value(v)
	if t, isT := tv.(*tensor.Tensor); isT && t == nil {
		return nil
	}
	return tv
}

func checkFeeds[V tensor.Value](s *Session, feeds map[string]V) error {
	var errs ir.ErrorList
	for name := range feeds {
		if _, known := s.required[name]; !known {
			errs = append(errs, fmt.Errorf("runtime: feed %q is not a model input (inputs: %s)", name, inputNames(s.inputs)))
		}
	}
	for _, v := range s.graphIn {
		f := feed(feeds, v.Name)
		if f == nil {
			if s.required[v.Name] {
				errs = append(errs, fmt.Errorf("runtime: input %q (%s) is not fed", v.Name, FormatType(v.Type)))
			}
			continue
		}
		if err := CheckValue(v.Type, f); err != nil {
			errs = append(errs, fmt.Errorf("runtime: input %q: %w", v.Name, err))
		}
	}
	return errs.Err()
}

func inputNames(vs []*ir.ValueInfo) string {
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += ", "
		}
		s += v.Name
	}
	return s
}

// CheckValue checks a value against a declared type: kind, dtype, rank and
// every known dimension.
func CheckValue(t tensor.Type, v tensor.Value) error {
	switch t.Kind {
	case tensor.KindTensor:
		x, ok := v.(*tensor.Tensor)
		if !ok {
			return fmt.Errorf("got a %T, want a tensor %s", v, FormatType(t))
		}
		if t.DType != tensor.Undefined && x.DType() != t.DType {
			return fmt.Errorf("dtype %v, want %v (convert the data or insert a Cast)", x.DType(), t.DType)
		}
		if !t.HasShape {
			return nil
		}
		if len(t.Shape) != x.Rank() {
			return fmt.Errorf("shape %v has rank %d, want %s", x.Shape(), x.Rank(), FormatType(t))
		}
		for i, d := range t.Shape {
			if d.Known() && int64(x.Shape()[i]) != d.Size {
				return fmt.Errorf("shape %v, want %s (dimension %d)", x.Shape(), FormatType(t), i)
			}
		}
	case tensor.KindSequence:
		if _, ok := v.(*tensor.Sequence); !ok {
			return fmt.Errorf("got a %T, want a sequence", v)
		}
	case tensor.KindOptional:
		// an optional input accepts the bare value too
	}
	return nil
}

// FormatType renders a type like "float32[batch,128]".
func FormatType(t tensor.Type) string {
	switch t.Kind {
	case tensor.KindSequence:
		if t.Elem != nil {
			return "seq(" + FormatType(*t.Elem) + ")"
		}
		return "seq(?)"
	case tensor.KindOptional:
		if t.Elem != nil {
			return "optional(" + FormatType(*t.Elem) + ")"
		}
		return "optional(?)"
	case tensor.KindMap:
		if t.Elem != nil {
			return "map(" + t.DType.String() + "," + FormatType(*t.Elem) + ")"
		}
		return "map"
	case tensor.KindUnknown:
		return "?"
	}
	s := t.DType.String()
	if !t.HasShape {
		return s + "[...]"
	}
	s += "["
	for i, d := range t.Shape {
		if i > 0 {
			s += ","
		}
		switch {
		case d.Known():
			s += fmt.Sprint(d.Size)
		case d.Param != "":
			s += d.Param
		default:
			s += "?"
		}
	}
	return s + "]"
}

// ErrInternal is wrapped when a kernel panicked: a bug in gort, reported as
// an error instead of crashing the caller.
var ErrInternal = errors.New("internal error")

func recoverTo(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("runtime: %w during %s: %v\n%s", ErrInternal, what, r, debug.Stack())
	}
}

type seedKey struct{}

// WithSeed makes the random ops of one Run draw from a generator seeded with
// seed, so a run is reproducible (training derives the seed from its own
// seed and the step number, which makes resumed runs bit-identical).
// Without it each Run draws from the session's seed and a run counter.
func WithSeed(ctx context.Context, seed uint64) context.Context {
	return context.WithValue(ctx, seedKey{}, seed)
}
