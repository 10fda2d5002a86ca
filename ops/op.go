package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gort-ml/gort/tensor"
)

// Op is one operator schema version: the kernel and inference for a
// (domain, type) from opset version Since until the next schema of the same
// op. Op families declare one value per op and list them; see ops/all.
type Op struct {
	Domain string // "" for ai.onnx, "ai.onnx.ml", "com.microsoft", ...
	Type   string
	Since  int
	Doc    string

	// Infer computes output types from input types; nil means outputs stay
	// unknown until run time. Input types may be partially unknown.
	Infer func(n *Node, in []tensor.Type) ([]tensor.Type, error)

	// Compile reads the node's attributes once, validates them and returns the
	// kernel that runs the node. It must not retain n.
	Compile func(n *Node) (*Kernel, error)
}

// Kernel runs one compiled node. Exactly one of Run and RunValues is set:
// Run for ops on tensors only (nearly all), RunValues for ops that take or
// produce sequences, optionals or maps.
//
// Inputs are never modified, except where the runtime grants it
// (Ctx.Reusable, Ctx.Extendable). A missing optional input is nil. A kernel
// returns one value per node output (nil for an omitted optional output) and
// allocates outputs with Ctx.New so that memory limits apply.
type Kernel struct {
	Run       func(c *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error)
	RunValues func(c *Ctx, in []tensor.Value) ([]tensor.Value, error)
	// Precomputed lists inputs that were constants at compile time
	// (Node.Constants) and that the kernel no longer reads: it derived
	// everything it needs from them at compile time (MatMul's packed
	// weight matrix) and keeps no reference to the tensor. The runtime
	// then passes nil for them on every run, and drops its own reference
	// to the constant once no other reader (node, subgraph, graph output)
	// needs it, so that the session does not hold both the weight and its
	// packed copy. A kernel listing input i runs with in[i] nil as it would
	// with that constant; given a tensor there (a caller other than the
	// runtime), it runs as usual on that tensor.
	Precomputed []int
}

// Subgraph is a compiled graph attribute (If branches, Loop and Scan bodies),
// supplied by the runtime. Run binds inputs by position; values of enclosing
// scopes that the body captures are bound by the runtime.
type Subgraph interface {
	Inputs() []string
	Outputs() []string
	InputTypes() []tensor.Type
	Run(c *Ctx, in []tensor.Value) ([]tensor.Value, error)
}

// Node is what Compile sees of a graph node.
type Node struct {
	Name   string
	OpType string
	Domain string
	Opset  int // the model's opset version for Domain
	Attrs  []Attr
	// Inputs and Outputs are the node's value names ("" for an omitted optional one).
	Inputs  []string
	Outputs []string
	// InputTypes are the statically known input types (Kind unknown where not known).
	InputTypes []tensor.Type
	// Constants holds, per input, its value where the runtime knows it at
	// compile time (an initializer that no graph input overrides), nil
	// otherwise; the slice itself may be nil (callers other than the
	// runtime). The runtime guarantees that such an input is that very
	// tensor, unchanged, on every run, so Compile may precompute from it
	// (pack a weight matrix, transpose it) and must not modify it. A kernel
	// still checks at run time that the input is the same tensor (pointer
	// equality) before using what it precomputed, and otherwise falls back.
	Constants []*tensor.Tensor
	// Subgraph compiles a graph attribute; set by the runtime.
	Subgraph func(attr string) (Subgraph, error)

	err error
}

// Ctx is passed to kernels on every run.
type Ctx struct {
	context.Context
	// MaxElements bounds a single tensor a kernel allocates; 0 means tensor.MaxElements.
	MaxElements int
	// MaxLiveBytes bounds the bytes of all intermediate values held at once
	// during a run (0: no bound); Live is the runtime's running count.
	MaxLiveBytes int64
	Live         *atomic.Int64
	// Threads is the intra-op parallelism a kernel may use (>= 1).
	Threads int
	// Rand is the seeded generator for random ops; nil means use a fresh seed.
	Rand RandSource
	// Frame belongs to the runtime (the scope that subgraphs capture from);
	// kernels pass the Ctx on unchanged.
	Frame any
	// Alloc belongs to the runtime: when set, New draws its zeroed buffers
	// from it (the buffers of values that died earlier in the run).
	Alloc Allocator
	// Reuse belongs to the runtime: the inputs of the running node whose
	// memory its kernel may write (see Reusable and Extendable).
	Reuse []Reuse
	// result backs Result and Results.
	result [4]*tensor.Tensor
}

// Result returns the one-output slice {t} for a kernel to return, without
// allocating one per run (see Results).
func (c *Ctx) Result(t *tensor.Tensor) []*tensor.Tensor {
	r := c.Results(1)
	r[0] = t
	return r
}

// Results returns a slice of n nil outputs for a kernel to fill and
// return, without allocating one per run when n is small: the slice lies
// in c, and the next Result or Results call with c overwrites it. Callers
// of Kernel.Run copy the outputs out before they run another kernel with
// the same Ctx (the runtime does); a kernel that runs other kernels reads
// their outputs before it calls Result or runs the next one. With a nil c
// it is a new slice.
func (c *Ctx) Results(n int) []*tensor.Tensor {
	if c == nil || n > len(c.result) {
		return make([]*tensor.Tensor, n)
	}
	r := c.result[:n]
	clear(r)
	return r
}

// Reuse grants the running kernel the memory of one of its inputs.
type Reuse struct {
	T *tensor.Tensor
	// Whole: T may be overwritten entirely (Reusable); otherwise only
	// where T's valid content is not (Extendable).
	Whole bool
}

// Reusable reports whether the kernel may write over t, one of its inputs,
// and return it (or a view of it) as an output: the runtime says so for a
// value this run produced that no later node, graph output or other value
// uses. A kernel that runs another kernel with this Ctx must not read t
// after that call.
func (c *Ctx) Reusable(t *tensor.Tensor) bool {
	whole, ok := c.grant(t)
	return ok && whole
}

// Extendable reports whether the kernel may write into the part of t's
// memory that holds no valid content (the rows of a preallocated KV cache
// past its valid length) and return t as an output: true where Reusable,
// and for a donated feed at its last use (runtime.WithDonated), which must
// keep its valid content should the run fail.
func (c *Ctx) Extendable(t *tensor.Tensor) bool {
	_, ok := c.grant(t)
	return ok
}

// grant finds t among the running kernel's grants.
func (c *Ctx) grant(t *tensor.Tensor) (whole, ok bool) {
	if c == nil || t == nil {
		return false, false
	}
	for _, r := range c.Reuse {
		if r.T == t {
			return r.Whole, true
		}
	}
	return false, false
}

// Allocator serves Ctx.New and Ctx.NewUninit: a tensor of dtype d, n
// elements (the product of shape, already checked) and the given shape,
// zeroed when zero is set (else its contents are unspecified). It is safe
// for concurrent use by the goroutines of one kernel.
type Allocator interface {
	New(d tensor.DType, n int, shape Dims, zero bool) (*tensor.Tensor, error)
}

// MaxAllocRank is the most dimensions an Allocator serves; Ctx.New makes
// tensors of higher rank itself.
const MaxAllocRank = 8

// Dims is a shape of up to MaxAllocRank dimensions, passed by value, so
// that the shape a kernel gives Ctx.New stays on its stack (a slice given
// to an interface method escapes: one allocation per call).
type Dims struct {
	D    [MaxAllocRank]int
	Rank int
}

// RandSource is the random source random ops draw from.
type RandSource interface {
	Float64() float64
	NormFloat64() float64
}

// ErrLimit is wrapped by errors about a tensor larger than the session allows.
var ErrLimit = errors.New("size limit exceeded")

// New allocates a zeroed output tensor after checking the size limit. The
// runtime may give the tensor's memory to other values once the run no
// longer holds it, so a kernel must not keep tensors from New (outputs or
// scratch) across runs.
func (c *Ctx) New(d tensor.DType, shape ...int) (*tensor.Tensor, error) {
	return c.alloc(d, shape, true)
}

// NewUninit is New for a kernel that writes every element of the tensor
// before it returns it: a recycled buffer is not cleared first, so its
// contents are unspecified until written (in the runtime's poison mode,
// GORT_ARENA=poison, they are NaN or all-ones bits).
func (c *Ctx) NewUninit(d tensor.DType, shape ...int) (*tensor.Tensor, error) {
	return c.alloc(d, shape, false)
}

func (c *Ctx) alloc(d tensor.DType, shape []int, zero bool) (*tensor.Tensor, error) {
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	if c != nil && c.MaxElements > 0 && n > c.MaxElements {
		return nil, fmt.Errorf("%w: output %v %v has %d elements, the session allows %d (raise runtime.Options.MaxTensorElements)", ErrLimit, d, slices.Clone(shape), n, c.MaxElements)
	}
	if c != nil && c.Alloc != nil && len(shape) <= MaxAllocRank {
		var dims Dims
		dims.Rank = copy(dims.D[:], shape)
		return c.Alloc.New(d, n, dims, zero)
	}
	return tensor.New(d, shape...)
}

// Viewer is an Allocator that also makes the headers of views (Ctx.View).
type Viewer interface {
	View(t *tensor.Tensor, shape Dims) (*tensor.Tensor, error)
}

// View returns a tensor sharing t's data with the given shape, of t's
// element count, as t.Reshape does. The runtime may give the header to
// another view once the run has ended, so a kernel must not keep it across
// runs (as with New).
func (c *Ctx) View(t *tensor.Tensor, shape ...int) (*tensor.Tensor, error) {
	if c != nil && len(shape) <= MaxAllocRank {
		if v, ok := c.Alloc.(Viewer); ok {
			var dims Dims
			dims.Rank = copy(dims.D[:], shape)
			return v.View(t, dims)
		}
	}
	return t.Reshape(shape...)
}

// Check reports a cancelled context; long kernels call it between chunks.
func (c *Ctx) Check() error {
	if c == nil || c.Context == nil {
		return nil
	}
	return c.Context.Err()
}

// Constant returns Constants[i], or nil where input i is not a known
// constant.
func (n *Node) Constant(i int) *tensor.Tensor {
	if i < 0 || i >= len(n.Constants) {
		return nil
	}
	return n.Constants[i]
}

// Err returns the first attribute error recorded while reading attributes.
func (n *Node) Err() error { return n.err }

// Errorf records and returns an error about this node.
func (n *Node) Errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if n.err == nil {
		n.err = err
	}
	return err
}

// Attr returns the attribute named name, or nil.
func (n *Node) Attr(name string) *Attr {
	for i := range n.Attrs {
		if n.Attrs[i].Name == name {
			return &n.Attrs[i]
		}
	}
	return nil
}

// Has reports whether the attribute is present.
func (n *Node) Has(name string) bool { return n.Attr(name) != nil }

func (n *Node) typed(name string, want AttrType) *Attr {
	a := n.Attr(name)
	if a == nil {
		return nil
	}
	if a.Type != want {
		n.Errorf("attribute %q is %v, want %v", name, a.Type, want)
		return nil
	}
	return a
}

// Int returns an int attribute or def when absent.
func (n *Node) Int(name string, def int64) int64 {
	if a := n.typed(name, AttrInt); a != nil {
		return a.I
	}
	return def
}

// Float returns a float attribute or def when absent.
func (n *Node) Float(name string, def float32) float32 {
	if a := n.typed(name, AttrFloat); a != nil {
		return a.F
	}
	return def
}

// String returns a string attribute or def when absent.
func (n *Node) String(name string, def string) string {
	if a := n.typed(name, AttrString); a != nil {
		return string(a.S)
	}
	return def
}

// Ints returns an ints attribute or def when absent.
func (n *Node) Ints(name string, def []int64) []int64 {
	if a := n.typed(name, AttrInts); a != nil {
		return a.Ints
	}
	return def
}

// Floats returns a floats attribute or def when absent.
func (n *Node) Floats(name string, def []float32) []float32 {
	if a := n.typed(name, AttrFloats); a != nil {
		return a.Floats
	}
	return def
}

// Strings returns a strings attribute or def when absent.
func (n *Node) Strings(name string, def []string) []string {
	a := n.typed(name, AttrStrings)
	if a == nil {
		return def
	}
	out := make([]string, len(a.Strings))
	for i, s := range a.Strings {
		out[i] = string(s)
	}
	return out
}

// Tensor returns a tensor attribute or nil when absent.
func (n *Node) Tensor(name string) *tensor.Tensor {
	if a := n.typed(name, AttrTensor); a != nil {
		return a.T
	}
	return nil
}

// Key identifies an operator independent of version.
type Key struct{ Domain, Type string }

func (k Key) String() string {
	if k.Domain == "" || k.Domain == "ai.onnx" {
		return k.Type
	}
	return k.Domain + "." + k.Type
}

// NormDomain maps "ai.onnx" to "" (both name the default domain).
func NormDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// Registry finds the schema version of an op that applies at an opset version.
type Registry struct {
	byKey map[Key][]*Op // sorted by Since ascending
}

// ErrUnknownOp is wrapped when no schema exists for an op at an opset version.
var ErrUnknownOp = errors.New("unsupported operator")

// NewRegistry builds a registry and checks the list: no two schemas with the
// same (domain, type, since), every schema has a type, a positive Since, a
// kernel and a doc line.
func NewRegistry(list ...[]*Op) (*Registry, error) {
	r := &Registry{byKey: map[Key][]*Op{}}
	var errs []string
	for _, l := range list {
		for _, op := range l {
			k := Key{NormDomain(op.Domain), op.Type}
			switch {
			case op.Type == "":
				errs = append(errs, "op with empty type")
				continue
			case op.Since < 1:
				errs = append(errs, fmt.Sprintf("%v: since-version %d", k, op.Since))
			case op.Compile == nil:
				errs = append(errs, fmt.Sprintf("%v-%d: no Compile", k, op.Since))
			case op.Doc == "":
				errs = append(errs, fmt.Sprintf("%v-%d: no Doc", k, op.Since))
			}
			vs := r.byKey[k]
			i := 0
			for i < len(vs) && vs[i].Since < op.Since {
				i++
			}
			if i < len(vs) && vs[i].Since == op.Since {
				errs = append(errs, fmt.Sprintf("%v-%d declared twice", k, op.Since))
				continue
			}
			vs = append(vs, nil)
			copy(vs[i+1:], vs[i:])
			vs[i] = op
			r.byKey[k] = vs
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ops: invalid op list: %s", strings.Join(errs, "; "))
	}
	return r, nil
}

// Lookup returns the schema of (domain, type) in force at opset version
// opset: the one with the greatest Since <= opset.
func (r *Registry) Lookup(domain, typ string, opset int) (*Op, error) {
	vs := r.byKey[Key{NormDomain(domain), typ}]
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w %v", ErrUnknownOp, Key{NormDomain(domain), typ})
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Since <= opset {
			return vs[i], nil
		}
	}
	return nil, fmt.Errorf("%w %v at opset %d (gort implements it from version %d)", ErrUnknownOp, Key{NormDomain(domain), typ}, opset, vs[0].Since)
}

// Ops returns every schema, sorted by key then version.
func (r *Registry) Ops() []*Op {
	var out []*Op
	for _, vs := range r.byKey {
		out = append(out, vs...)
	}
	sortOps(out)
	return out
}

// Has reports whether any version of (domain, type) exists.
func (r *Registry) Has(domain, typ string) bool {
	return len(r.byKey[Key{NormDomain(domain), typ}]) > 0
}
