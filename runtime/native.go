package runtime

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

// Native returns the provider that runs gort's own Go kernels.
func Native() Provider { return nativeProvider{reg: all.Registry()} }

// NativeWith returns a native provider over a custom registry (tests, extensions).
func NativeWith(reg *ops.Registry) Provider { return nativeProvider{reg: reg} }

type nativeProvider struct{ reg *ops.Registry }

func (nativeProvider) Name() string { return "native" }

// Prepare compiles every node's kernel once. All unsupported ops of the model
// are reported together.
func (p nativeProvider) Prepare(m *ir.Model, opts Options) (Program, error) {
	var optErr error
	if !opts.NoOptimize {
		// The optimizer proves every rewrite equal on random inputs in its
		// tests; should it reject a model the executor accepts, run the
		// model as written rather than fail, and say so in OptimizeError.
		om, rep, err := optimize(m, graphopt.Options{Supported: func(domain, op string) bool { return p.reg.Has(domain, op) }})
		if err != nil {
			optErr = fmt.Errorf("runtime: running the model unoptimized: %w", err)
		} else {
			m, optErr = om, revertedPasses(rep)
		}
	}
	c := &compiler{reg: p.reg, model: m}
	pl, err := c.compileGraph(m.Graph, nil, opsetsOf(m.Opsets), 0)
	if err != nil {
		return nil, err
	}
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("runtime: native provider cannot run this model: %w", c.errs)
	}
	threads := opts.IntraOpThreads
	if threads <= 0 {
		threads = goruntime.GOMAXPROCS(0)
	}
	maxEl := opts.MaxTensorElements
	if maxEl <= 0 {
		maxEl = DefaultMaxTensorElements
	}
	seed := uint64(opts.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	maxLive := opts.MaxLiveBytes
	switch {
	case maxLive == 0:
		maxLive = DefaultMaxLiveBytes()
	case maxLive < 0:
		maxLive = 0
	}
	np := &nativeProgram{plan: pl, threads: threads, maxEl: maxEl, maxLive: maxLive, seed: seed, arenaMode: arenaMode, optErr: optErr}
	np.arenas.New = func() any { return newArena() }
	return np, nil
}

// optimize is graphopt.Optimize; tests replace it to make it fail.
var optimize = graphopt.Optimize

// revertedPasses joins the errors of the passes graphopt reverted (nil
// when none failed).
func revertedPasses(rep graphopt.Report) error {
	var errs []error
	for _, p := range rep.Passes {
		if p.Err != "" {
			errs = append(errs, fmt.Errorf("runtime: graphopt reverted pass %s %d times: %s", p.Name, p.Reverted, p.Err))
		}
	}
	return errors.Join(errs...)
}

// OptimizeError says why the native provider runs the model less
// optimized than graphopt would make it: the optimizer's error (the model
// then runs as written) or the passes it reverted after they failed (the
// model runs without their rewrites). It is nil when optimization went
// through, when Options.NoOptimize skipped it, and for other providers.
// The session runs correctly either way; this is for finding out why a
// model is slower than expected and for reporting optimizer bugs.
func (s *Session) OptimizeError() error {
	if p, ok := s.prog.(*nativeProgram); ok {
		return p.optErr
	}
	return nil
}

type nativeProgram struct {
	plan    *plan
	threads int
	maxEl   int
	maxLive int64
	seed    uint64
	runs    atomic.Uint64
	// arenas keeps the recycled buffers of finished runs for the next ones.
	// last holds the latest finished run's arena outside the pool: a
	// sync.Pool keeps what a goroutine puts back for the processor it ran
	// on, so a caller running steps one after another (a decoder) would
	// otherwise start with a fresh arena, and allocate every buffer again,
	// each time the scheduler moves it. Close drops it.
	arenas    sync.Pool
	last      atomic.Pointer[arena]
	arenaMode string
	optErr    error // Session.OptimizeError
}

func (p *nativeProgram) Close() error {
	p.last.Store(nil)
	return nil
}

func (p *nativeProgram) Run(ctx context.Context, feeds map[string]tensor.Value) (map[string]tensor.Value, error) {
	var res map[string]tensor.Value
	err := runNative(p, ctx, feeds, func(outs []tensor.Value) error {
		res = make(map[string]tensor.Value, len(outs))
		for i, name := range p.plan.outputNames {
			res[name] = outs[i]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (p *nativeProgram) runTensors(ctx context.Context, feeds, res map[string]*tensor.Tensor) error {
	err := runNative(p, ctx, feeds, func(outs []tensor.Value) error {
		for i, name := range p.plan.outputNames {
			t, ok := outs[i].(*tensor.Tensor)
			if !ok {
				return fmt.Errorf("runtime: output %q is a %T, not a tensor; use RunValues", name, outs[i])
			}
			res[name] = t
		}
		return nil
	})
	if err != nil {
		clear(res)
	}
	return err
}

// runNative runs the program on feeds and hands its outputs, in the plan's
// order, to emit before the run's arena goes back to the pool; an error
// from emit fails the run.
func runNative[V tensor.Value](p *nativeProgram, ctx context.Context, feeds map[string]V, emit func([]tensor.Value) error) error {
	seed, stream := p.seed, p.runs.Add(1)
	if s, ok := ctx.Value(seedKey{}).(uint64); ok {
		seed, stream = s, 0
	}
	var a *arena
	var c *ops.Ctx
	var in []tensor.Value
	if p.arenaMode != "off" {
		// The run's context, random source and inputs live in its arena,
		// which no other run uses until this one returns.
		if a = p.last.Swap(nil); a == nil {
			a = p.arenas.Get().(*arena)
		}
		a.poison = p.arenaMode == "poison"
		a.pcg.Seed(seed, stream)
		a.live.Store(0)
		c = &a.ctx
		*c = ops.Ctx{Context: ctx, MaxLiveBytes: p.maxLive, Live: &a.live, MaxElements: p.maxEl, Threads: p.threads, Rand: a.rng, Alloc: a}
		in = slices.Grow(a.in[:0], len(p.plan.inputNames))[:len(p.plan.inputNames)]
		defer func() {
			*c = ops.Ctx{}
			clear(in)
			a.in = in[:0]
			a.reset()
			if !p.last.CompareAndSwap(nil, a) {
				p.arenas.Put(a)
			}
		}()
	} else {
		c = &ops.Ctx{Context: ctx, MaxLiveBytes: p.maxLive, Live: new(atomic.Int64), MaxElements: p.maxEl, Threads: p.threads, Rand: rand.New(rand.NewPCG(seed, stream))}
		in = make([]tensor.Value, len(p.plan.inputNames))
	}
	donated, _ := ctx.Value(donatedKey{}).(map[string]bool)
	for i, name := range p.plan.inputNames {
		in[i] = feed(feeds, name) // nil for an unfed initializer-backed input: the default stays
		if a != nil && in[i] != nil && donated[name] {
			a.donate(in[i])
		}
	}
	binds := outputBindings(ctx)
	if a != nil && binds != nil {
		a.bind(p.plan, binds)
	}
	outs, err := p.plan.run(c, nil, in)
	if err != nil {
		return err
	}
	// Before the donated buffers join the pool: a bound output of the
	// wrong shape fails the run.
	if binds != nil {
		if err := placeOutputs(p.plan.outputNames, outs, binds); err != nil {
			return err
		}
	}
	if a != nil {
		a.forgetReturned(outs)
	}
	if err := emit(outs); err != nil {
		return err
	}
	if a != nil {
		a.succeeded()
	}
	return nil
}

// plan is one compiled graph (the main graph or a subgraph).
type plan struct {
	name        string
	nslots      int
	consts      []constSlot
	inputNames  []string
	inputSlots  []int
	inputTypes  []tensor.Type
	outputNames []string
	outputSlots []int
	outputTypes []tensor.Type
	captures    []capture
	steps       []step
	isProduced  []bool // slot is the output of a step
	// outputStep is, for each output, the step whose New may be handed
	// the tensor a caller bound to it (WithOutputs): the step making the
	// output's data, before any view op (-1: none).
	outputStep []int
}

// viewOps return a view of their first input's data.
var viewOps = map[string]bool{"Reshape": true, "Identity": true, "Squeeze": true, "Unsqueeze": true, "Flatten": true}

type constSlot struct {
	slot int
	v    tensor.Value
}

// capture copies a value of an enclosing scope into this plan's frame.
type capture struct {
	up   int // how many frames up
	from int // slot there
	to   int // slot here
}

type step struct {
	label  string
	opType string
	kernel *ops.Kernel
	in     []int // -1: omitted optional input
	reads  []int // slots this step's subgraphs capture
	out    []int // -1: omitted optional output
	free   []int // slots dead after this step
	// reuse are the input positions whose slot dies at this step and
	// appears once among its inputs: the run grants the kernel their
	// memory (ops.Ctx.Reuse) when the arena owns it and no other value
	// shares it.
	reuse []int
}

type frame struct {
	vals   []tensor.Value
	parent *frame
}

// valueBytes estimates the memory a value holds.
func valueBytes(v tensor.Value) int64 {
	switch x := v.(type) {
	case *tensor.Tensor:
		if x.DType() == tensor.String {
			n := int64(0)
			for _, s := range tensor.Data[string](x) {
				n += int64(len(s)) + 16
			}
			return n
		}
		return int64(x.Len()) * int64(x.DType().Size())
	case *tensor.Sequence:
		n := int64(0)
		for _, it := range x.Items {
			n += valueBytes(it)
		}
		return n
	case *tensor.Optional:
		if x.V != nil {
			return valueBytes(x.V)
		}
	case *tensor.Map:
		return valueBytes(x.Keys) + valueBytes(x.Values)
	}
	return 0
}

// scope maps names to slots during compilation; parent is the enclosing graph's scope.
type scope struct {
	slots map[string]int
	types map[string]tensor.Type
	// consts are the slots that hold the same tensor on every run:
	// initializers no graph input overrides and captures of such values.
	consts map[string]*tensor.Tensor
	parent *scope
}

func (s *scope) lookup(name string) (up, slot int, ok bool) {
	for sc := s; sc != nil; sc, up = sc.parent, up+1 {
		if sl, found := sc.slots[name]; found {
			return up, sl, true
		}
	}
	return 0, 0, false
}

// constOf returns the constant a name resolves to, or nil.
func (s *scope) constOf(name string) *tensor.Tensor {
	for sc := s; sc != nil; sc = sc.parent {
		if _, found := sc.slots[name]; found {
			return sc.consts[name]
		}
	}
	return nil
}

func (s *scope) typeOf(name string) tensor.Type {
	for sc := s; sc != nil; sc = sc.parent {
		if t, ok := sc.types[name]; ok {
			return t
		}
	}
	return tensor.Type{}
}

type compiler struct {
	reg   *ops.Registry
	model *ir.Model
	errs  ir.ErrorList
}

func opsetsOf(ids []ir.OpsetID) map[string]int {
	m := map[string]int{}
	for _, o := range ids {
		m[ops.NormDomain(o.Domain)] = int(o.Version)
	}
	return m
}

func (c *compiler) compileGraph(g *ir.Graph, parent *scope, opsets map[string]int, depth int) (*plan, error) {
	if depth > ir.MaxSubgraphDepth {
		return nil, fmt.Errorf("runtime: %w", ir.ErrDepth)
	}
	nodes, err := ir.InlineFunctions(g.Nodes, c.model.Functions)
	if err != nil {
		return nil, err
	}
	gg := *g
	gg.Nodes = nodes
	g = &gg
	order, err := g.TopoOrder(nil)
	if err != nil {
		return nil, fmt.Errorf("runtime: graph %q: %w", g.Name, err)
	}
	p := &plan{name: g.Name}
	sc := &scope{slots: map[string]int{}, types: map[string]tensor.Type{}, consts: map[string]*tensor.Tensor{}, parent: parent}
	newSlot := func(name string) int {
		if s, ok := sc.slots[name]; ok {
			return s
		}
		s := p.nslots
		p.nslots++
		sc.slots[name] = s
		return s
	}
	for _, vi := range g.ValueInfo {
		sc.types[vi.Name] = vi.Type
	}
	for _, vi := range g.Outputs {
		if vi.Type.Kind != tensor.KindUnknown {
			sc.types[vi.Name] = vi.Type
		}
	}
	for _, init := range g.Initializers {
		s := newSlot(init.Name)
		p.consts = append(p.consts, constSlot{s, init.T})
		sc.consts[init.Name] = init.T
		sc.types[init.Name] = tensor.TensorType(init.T.DType(), init.T.Shape()...)
	}
	for _, sp := range g.Sparse {
		s := newSlot(sp.Name)
		d, err := denseFromSparse(&sp.SparseTensor)
		if err != nil {
			return nil, fmt.Errorf("runtime: sparse initializer %q: %w", sp.Name, err)
		}
		p.consts = append(p.consts, constSlot{s, d})
		sc.consts[sp.Name] = d
	}
	for _, vi := range g.Inputs {
		p.inputNames = append(p.inputNames, vi.Name)
		p.inputSlots = append(p.inputSlots, newSlot(vi.Name))
		p.inputTypes = append(p.inputTypes, vi.Type)
		sc.types[vi.Name] = vi.Type
		delete(sc.consts, vi.Name) // a feed may override the initializer
	}
	// slotOf resolves a name used in this graph, capturing from enclosing scopes.
	slotOf := func(name string) (int, bool) {
		if s, ok := sc.slots[name]; ok {
			return s, true
		}
		if parent == nil {
			return 0, false
		}
		up, from, ok := parent.lookup(name)
		if !ok {
			return 0, false
		}
		s := newSlot(name)
		p.captures = append(p.captures, capture{up: up, from: from, to: s})
		if t := parent.constOf(name); t != nil {
			sc.consts[name] = t
		}
		return s, true
	}
	// Outputs of all nodes get slots first so that subgraph captures resolve.
	for _, i := range order {
		for _, o := range g.Nodes[i].Outputs {
			if o != "" {
				newSlot(o)
				delete(sc.consts, o) // the node overwrites the slot
			}
		}
	}
	for _, i := range order {
		n := g.Nodes[i]
		label := ir.NodeLabel(n, i)
		st := step{label: label, opType: n.OpType}
		for _, in := range n.Inputs {
			if in == "" {
				st.in = append(st.in, -1)
				continue
			}
			s, ok := slotOf(in)
			if !ok {
				return nil, fmt.Errorf("runtime: %s: %w %q", label, ir.ErrUndefined, in)
			}
			st.in = append(st.in, s)
		}
		for _, o := range n.Outputs {
			if o == "" {
				st.out = append(st.out, -1)
			} else {
				st.out = append(st.out, sc.slots[o])
			}
		}
		// Values captured by this node's subgraphs must be visible: make sure
		// the captures of this graph itself are resolved now.
		for _, sg := range n.Subgraphs() {
			for _, name := range sg.FreeNames() {
				if s, ok := slotOf(name); ok {
					st.reads = append(st.reads, s)
				}
			}
		}
		k, err := c.compileNode(n, label, sc, opsets, depth)
		if err != nil {
			c.errs = append(c.errs, err)
			continue
		}
		st.kernel = k
		precomputed(&st, k, n, sc)
		p.steps = append(p.steps, st)
	}
	for _, o := range g.Outputs {
		s, ok := slotOf(o.Name)
		if !ok {
			return nil, fmt.Errorf("runtime: graph %q: output %w %q", g.Name, ir.ErrUndefined, o.Name)
		}
		p.outputNames = append(p.outputNames, o.Name)
		p.outputSlots = append(p.outputSlots, s)
		p.outputTypes = append(p.outputTypes, o.Type)
	}
	p.isProduced = make([]bool, p.nslots)
	for _, st := range p.steps {
		for _, o := range st.out {
			if o >= 0 {
				p.isProduced[o] = true
			}
		}
	}
	p.computeFrees()
	p.computeOutputSteps()
	p.dropUnread()
	return p, nil
}

func (p *plan) computeOutputSteps() {
	producer := unset(p.nslots)
	for i, st := range p.steps {
		for _, o := range st.out {
			if o >= 0 {
				producer[o] = i
			}
		}
	}
	for _, s := range p.outputSlots {
		k := producer[s]
		for k >= 0 && viewOps[p.steps[k].opType] && len(p.steps[k].in) > 0 && p.steps[k].in[0] >= 0 {
			k = producer[p.steps[k].in[0]]
		}
		p.outputStep = append(p.outputStep, k)
	}
}

// unset returns n step indices, all -1 (none).
func unset(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = -1
	}
	return s
}

// computeFrees marks, for each step, the slots whose last reader it is, so
// intermediate tensors become garbage as early as possible. Values read by
// subgraphs are conservatively kept until the step that owns the subgraph.
func (p *plan) computeFrees() {
	keep := make([]bool, p.nslots)
	for _, s := range p.outputSlots {
		keep[s] = true
	}
	for _, cs := range p.consts {
		keep[cs.slot] = true
	}
	for _, cp := range p.captures {
		keep[cp.to] = true // captured values belong to enclosing frames
	}
	last := p.lastUses()
	for s, l := range last {
		if l >= 0 && !keep[s] {
			p.steps[l].free = append(p.steps[l].free, s)
		}
	}
	for i := range p.steps {
		st := &p.steps[i]
	inputs:
		for j, s := range st.in {
			if s < 0 || last[s] != i || keep[s] || slices.Contains(st.reads, s) {
				continue
			}
			for j2, s2 := range st.in {
				if j2 != j && s2 == s {
					continue inputs
				}
			}
			st.reuse = append(st.reuse, j)
		}
	}
}

// lastUses returns, per slot, the last step that reads it (as an input or
// through its subgraphs) or writes it, -1 for none.
func (p *plan) lastUses() []int {
	last := unset(p.nslots)
	for i, st := range p.steps {
		for _, s := range st.in {
			if s >= 0 {
				last[s] = i
			}
		}
		for _, s := range st.reads {
			last[s] = i
		}
		for _, s := range st.out {
			if s >= 0 && last[s] < i {
				last[s] = i // an unread output dies right after its step
			}
		}
	}
	return last
}

func (c *compiler) compileNode(n *ir.Node, label string, sc *scope, opsets map[string]int, depth int) (*ops.Kernel, error) {
	domain := ops.NormDomain(n.Domain)
	opset, ok := opsets[domain]
	if !ok {
		if domain == "com.microsoft" || domain == "ai.onnx.ml" || domain == "ai.onnx.preview.training" {
			opset = 1
		} else {
			return nil, fmt.Errorf("%s: the model does not import domain %q", label, n.Domain)
		}
	}
	op, err := c.reg.Lookup(domain, n.OpType, opset)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	on := &ops.Node{
		Name:    n.Name,
		OpType:  n.OpType,
		Domain:  domain,
		Opset:   opset,
		Attrs:   n.Attrs,
		Inputs:  n.Inputs,
		Outputs: n.Outputs,
	}
	on.InputTypes = make([]tensor.Type, len(n.Inputs))
	on.Constants = make([]*tensor.Tensor, len(n.Inputs))
	for i, in := range n.Inputs {
		if in != "" {
			on.InputTypes[i] = sc.typeOf(in)
			on.Constants[i] = sc.constOf(in)
		}
	}
	on.Subgraph = func(attr string) (ops.Subgraph, error) {
		a := on.Attr(attr)
		if a == nil || a.Type != ops.AttrGraph {
			return nil, fmt.Errorf("no graph attribute %q", attr)
		}
		g, ok := a.G.(*ir.Graph)
		if !ok || g == nil {
			return nil, fmt.Errorf("graph attribute %q is empty", attr)
		}
		sub, err := c.compileGraph(g, sc, opsets, depth+1)
		if err != nil {
			return nil, err
		}
		return &subgraph{p: sub}, nil
	}
	if op.Infer != nil {
		if outs, err := op.Infer(on, on.InputTypes); err == nil {
			for i, t := range outs {
				if i < len(n.Outputs) && n.Outputs[i] != "" && t.Kind != tensor.KindUnknown {
					if _, known := sc.types[n.Outputs[i]]; !known {
						sc.types[n.Outputs[i]] = t
					}
				}
			}
		}
	}
	k, err := op.Compile(on)
	if err == nil {
		err = on.Err()
	}
	// Compile must not retain on; should a kernel do so anyway, the node
	// must not keep the compiler's scope (every constant, through the
	// Subgraph closure) or constants the runtime drops alive.
	on.Subgraph, on.Constants = nil, nil
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if k == nil || (k.Run == nil && k.RunValues == nil) {
		return nil, fmt.Errorf("%s: op %s-%d compiled to no kernel", label, n.OpType, op.Since)
	}
	return k, nil
}

// subgraph adapts a compiled plan to ops.Subgraph.
type subgraph struct{ p *plan }

func (s *subgraph) Inputs() []string          { return s.p.inputNames }
func (s *subgraph) Outputs() []string         { return s.p.outputNames }
func (s *subgraph) InputTypes() []tensor.Type { return s.p.inputTypes }

// OutputTypes gives the declared output types; kernels find it through an
// interface assertion (sequence.OutputTypes) to type empty results such as
// the scan outputs of a Loop that runs zero times.
func (s *subgraph) OutputTypes() []tensor.Type { return s.p.outputTypes }
func (s *subgraph) Run(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
	parent, _ := c.Frame.(*frame)
	defer func() { c.Frame = parent }()
	return s.p.run(c, parent, in)
}

// noGrants turns in-place grants off (benchmarks compare).
var noGrants bool

// errOut reports a kernel error with the node that failed.
func errOut(st *step, err error) error {
	return fmt.Errorf("runtime: %s: %w", st.label, err)
}

func (p *plan) run(c *ops.Ctx, parent *frame, in []tensor.Value) ([]tensor.Value, error) {
	// The main graph's frame tracks which recyclable buffers its slots
	// hold; it and the step buffers below live in the run's arena.
	var a *arena
	if parent == nil {
		a, _ = c.Alloc.(*arena)
	}
	var f *frame
	var tin []*tensor.Tensor
	var vin, resBuf, res []tensor.Value
	var grants []ops.Reuse
	if a != nil {
		f = &a.run.f
		f.vals = slices.Grow(f.vals[:0], p.nslots)[:p.nslots]
		clear(f.vals)
		tin, resBuf, grants = a.run.tin[:0], a.run.resBuf[:0], a.run.grants[:0]
		res = slices.Grow(a.run.res[:0], len(p.outputSlots))[:len(p.outputSlots)]
		defer func() { a.run.tin, a.run.resBuf, a.run.grants, a.run.res = tin[:0], resBuf[:0], grants[:0], res }()
	} else {
		f = &frame{vals: make([]tensor.Value, p.nslots), parent: parent}
		res = make([]tensor.Value, len(p.outputSlots))
	}
	for _, cs := range p.consts {
		f.vals[cs.slot] = cs.v
	}
	if len(in) > len(p.inputSlots) {
		return nil, fmt.Errorf("runtime: graph %q takes %d inputs, got %d", p.name, len(p.inputSlots), len(in))
	}
	for i, v := range in {
		if v != nil {
			f.vals[p.inputSlots[i]] = v
			if a != nil {
				a.hold(v)
			}
		}
	}
	for _, cp := range p.captures {
		src := parent
		for k := 0; k < cp.up && src != nil; k++ {
			src = src.parent
		}
		if src == nil {
			return nil, fmt.Errorf("runtime: graph %q: captured value has no enclosing frame", p.name)
		}
		f.vals[cp.to] = src.vals[cp.from]
	}
	// live counts the bytes of values this frame's nodes produced and still
	// holds; counted is how much of it is already in c.Live.
	var live, counted int64
	if c.MaxLiveBytes > 0 {
		defer func() { c.Live.Add(-counted) }()
	}
	for i := range p.steps {
		st := &p.steps[i]
		if a != nil {
			a.step = i
		}
		if err := c.Check(); err != nil {
			return nil, fmt.Errorf("runtime: cancelled before %s: %w", st.label, err)
		}
		c.Frame = f
		var outs []tensor.Value
		if st.kernel.Run != nil {
			tin = tin[:0]
			for j, s := range st.in {
				if s < 0 || f.vals[s] == nil {
					tin = append(tin, nil)
					continue
				}
				t, ok := f.vals[s].(*tensor.Tensor)
				if !ok {
					if o, isOpt := f.vals[s].(*tensor.Optional); isOpt {
						if t2, ok2 := o.V.(*tensor.Tensor); ok2 || o.V == nil {
							tin = append(tin, t2)
							continue
						}
					}
					return nil, errOut(st, fmt.Errorf("input %d is a %T; %s takes tensors", j, f.vals[s], st.opType))
				}
				tin = append(tin, t)
			}
			// Only the main frame's values are tracked: subgraph steps
			// get no grants.
			grants = grants[:0]
			if a != nil && !noGrants {
				for _, j := range st.reuse {
					if whole, ok := a.grantable(tin[j]); ok {
						grants = append(grants, ops.Reuse{T: tin[j], Whole: whole})
					}
				}
			}
			c.Reuse = grants
			res, err := st.kernel.Run(c, tin)
			c.Reuse = nil
			if err != nil {
				return nil, errOut(st, err)
			}
			outs = resBuf[:0]
			for _, t := range res {
				if t != nil {
					outs = append(outs, t)
				} else {
					outs = append(outs, nil)
				}
			}
			resBuf = outs
		} else {
			vin = vin[:0]
			for _, s := range st.in {
				if s < 0 {
					vin = append(vin, nil)
				} else {
					vin = append(vin, f.vals[s])
				}
			}
			c.Reuse = nil
			res, err := st.kernel.RunValues(c, vin)
			if err != nil {
				return nil, errOut(st, err)
			}
			outs = res
		}
		if len(outs) < countRequired(st.out) {
			return nil, errOut(st, fmt.Errorf("kernel returned %d outputs, node has %d", len(outs), len(st.out)))
		}
		for j, s := range st.out {
			if s >= 0 && j < len(outs) {
				f.vals[s] = outs[j]
				live += valueBytes(outs[j])
				if a != nil {
					a.hold(outs[j])
				}
			}
		}
		if a != nil {
			a.stepDone()
		}
		// The peak is while a node's inputs and outputs are both held.
		if c.MaxLiveBytes > 0 {
			total := c.Live.Add(live - counted)
			counted = live
			if total > c.MaxLiveBytes {
				return nil, errOut(st, fmt.Errorf("%w: live tensors take %d bytes at this node, the session allows %d (raise runtime.Options.MaxLiveBytes)", ops.ErrLimit, total, c.MaxLiveBytes))
			}
		}
		for _, s := range st.free {
			if p.isProduced[s] && f.vals[s] != nil { // made by this frame's nodes, not a constant, input or capture
				live -= valueBytes(f.vals[s])
			}
			if a != nil {
				a.release(f.vals[s])
			}
			f.vals[s] = nil
		}
	}
	for i, s := range p.outputSlots {
		if f.vals[s] == nil {
			return nil, fmt.Errorf("runtime: graph %q: output %q was not produced", p.name, p.outputNames[i])
		}
		res[i] = f.vals[s]
	}
	return res, nil
}

func countRequired(out []int) int {
	n := 0
	for i, s := range out {
		if s >= 0 {
			n = i + 1
		}
	}
	return n
}

var errSparse = errors.New("sparse tensor indices out of range")

// denseFromSparse expands a COO sparse tensor.
func denseFromSparse(sp *ops.SparseTensor) (*tensor.Tensor, error) {
	shape := make([]int, len(sp.Dims))
	for i, d := range sp.Dims {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension %d", d)
		}
		shape[i] = int(d)
	}
	out, err := tensor.New(sp.Values.DType(), shape...)
	if err != nil {
		return nil, err
	}
	idx, err := ops.Ints64(sp.Indices)
	if err != nil {
		return nil, err
	}
	nnz := sp.Values.Len()
	total := out.Len()
	strides := tensor.Strides(shape)
	flat := make([]int, nnz)
	switch {
	case len(idx) == nnz:
		for i, v := range idx {
			flat[i] = int(v)
		}
	case len(idx) == nnz*len(shape):
		for i := 0; i < nnz; i++ {
			for d := range shape {
				flat[i] += int(idx[i*len(shape)+d]) * strides[d]
			}
		}
	default:
		return nil, fmt.Errorf("%d indices for %d values", len(idx), nnz)
	}
	for i, f := range flat {
		if f < 0 || f >= total {
			return nil, errSparse
		}
		if err := tensor.SetFrom(out, f, sp.Values, i); err != nil {
			return nil, err
		}
	}
	return out, nil
}
