package graphopt

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops/all"
)

// Pass is one graph rewrite. Run inspects g (the main graph of m) and returns
// the patches to apply; it must not modify m or g.
type Pass struct {
	Name string
	Doc  string
	// After names passes that must come earlier in Passes().
	After []string
	// Level is the lowest optimization level that runs the pass.
	Level Level
	Run   func(m *ir.Model, g *ir.Graph) ([]*Patch, error)
}

// Patch is one atomic rewrite: Remove's nodes go, Add's nodes come (placed
// where the first removed node was), Inits join the initializers, and every
// use of a value named by a key of Rename reads the mapped value instead.
// Patches never modify existing nodes; a renamed use gets a copy of its node.
type Patch struct {
	Remove    []*ir.Node
	Add       []*ir.Node
	Inits     []*ir.Initializer
	ValueInfo []*ir.ValueInfo
	Rename    map[string]string
	// DropInits names initializers to delete (unused or folded away).
	DropInits []string
}

// Level selects how far Optimize goes.
type Level int

const (
	// Basic runs shape inference, constant folding, DCE, CSE and
	// Transpose/Reshape folding: standard ops in, standard ops out.
	Basic Level = 1
	// Extended adds the operator fusions.
	Extended Level = 2
)

// ParseLevel reads "basic" or "extended".
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(s) {
	case "basic", "1":
		return Basic, nil
	case "extended", "2", "":
		return Extended, nil
	}
	return 0, fmt.Errorf("graphopt: unknown level %q (basic or extended)", s)
}

// Options configure Optimize.
type Options struct {
	// Level is Basic or Extended; 0 means Extended.
	Level Level
	// Disable names passes to skip.
	Disable []string
	// Supported says whether a fused op may be emitted; nil means the ops
	// gort's native provider implements (all.Registry().Has).
	Supported func(domain, opType string) bool
	// MaxIterations bounds the fixed-point loop over the pass list; 0 means 4.
	MaxIterations int
}

// PassStat counts what one pass did over all iterations.
type PassStat struct {
	Name     string
	Patches  int
	Reverted int
	Err      string `json:",omitempty"`
}

// Report summarizes an Optimize run.
type Report struct {
	NodesBefore, NodesAfter int
	Iterations              int
	Passes                  []PassStat
	// OpsBefore and OpsAfter count nodes per op type ("domain:Op" outside ai.onnx).
	OpsBefore, OpsAfter map[string]int
}

// String renders the report for people.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nodes: %d -> %d (%d iterations)\n", r.NodesBefore, r.NodesAfter, r.Iterations)
	for _, p := range r.Passes {
		if p.Patches == 0 && p.Reverted == 0 && p.Err == "" {
			continue
		}
		fmt.Fprintf(&b, "  %-22s %4d patches", p.Name, p.Patches)
		if p.Reverted > 0 {
			fmt.Fprintf(&b, ", %d reverted", p.Reverted)
		}
		if p.Err != "" {
			fmt.Fprintf(&b, " (%s)", p.Err)
		}
		b.WriteString("\n")
	}
	keys := map[string]bool{}
	for k := range r.OpsBefore {
		keys[k] = true
	}
	for k := range r.OpsAfter {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		if r.OpsBefore[k] != r.OpsAfter[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "  %-34s %4d -> %d\n", k, r.OpsBefore[k], r.OpsAfter[k])
	}
	return b.String()
}

func opCounts(g *ir.Graph) map[string]int {
	c := map[string]int{}
	for _, n := range g.Nodes {
		k := n.OpType
		if d := n.Domain; d != "" && d != "ai.onnx" {
			k = d + ":" + k
		}
		c[k]++
	}
	return c
}

// Optimize returns an optimized copy of m (m itself is not modified) and a
// report. Only the main graph is rewritten; subgraphs stay as they are. An
// error means the input model is invalid; a pass that fails or produces an
// invalid graph is reverted and recorded in the report instead.
func Optimize(m *ir.Model, opts Options) (*ir.Model, Report, error) {
	if m == nil || m.Graph == nil {
		return nil, Report{}, fmt.Errorf("graphopt: model has no graph")
	}
	if err := m.Graph.Validate(nil); err != nil {
		return nil, Report{}, fmt.Errorf("graphopt: invalid input model: %w", err)
	}
	if opts.Level == 0 {
		opts.Level = Extended
	}
	if opts.MaxIterations <= 0 {
		opts.MaxIterations = 4
	}
	if opts.Supported == nil {
		reg := all.Registry()
		opts.Supported = reg.Has
	}
	disabled := map[string]bool{}
	for _, d := range opts.Disable {
		disabled[d] = true
	}
	for _, d := range opts.Disable {
		if passByName(d) == nil {
			return nil, Report{}, fmt.Errorf("graphopt: no pass named %q (passes: %s)", d, strings.Join(PassNames(), ", "))
		}
	}
	out := *m
	g := *m.Graph
	g.Nodes = append([]*ir.Node(nil), g.Nodes...)
	g.Initializers = append([]*ir.Initializer(nil), g.Initializers...)
	g.ValueInfo = append([]*ir.ValueInfo(nil), g.ValueInfo...)
	out.Graph = &g
	// The opset imports may grow (com.microsoft), so they are copied too.
	out.Opsets = append([]ir.OpsetID(nil), m.Opsets...)
	st := &state{supported: opts.Supported}
	rep := Report{NodesBefore: len(g.Nodes), OpsBefore: opCounts(&g)}
	list := passes(st)
	stats := make([]PassStat, len(list))
	for i, p := range list {
		stats[i].Name = p.Name
	}
	for it := 0; it < opts.MaxIterations; it++ {
		rep.Iterations = it + 1
		changed := false
		for i, p := range list {
			if disabled[p.Name] || p.Level > opts.Level {
				continue
			}
			n, err := runPass(&out, &g, p)
			if err != nil {
				stats[i].Reverted++
				stats[i].Err = err.Error()
				continue
			}
			stats[i].Patches += n
			if n > 0 && p.Name != "infer-shapes" {
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	if st.usesMS {
		addOpset(&out, "com.microsoft", 1)
	}
	pruneValueInfo(&g)
	rep.Passes = stats
	rep.NodesAfter = len(g.Nodes)
	rep.OpsAfter = opCounts(&g)
	return &out, rep, nil
}

// state is what the passes of one Optimize run share.
type state struct {
	supported func(domain, opType string) bool
	usesMS    bool
}

// emit reports whether a fused op may be emitted, remembering that the
// model will need the com.microsoft opset import.
func (s *state) emit(domain, opType string) bool {
	if !s.supported(domain, opType) {
		return false
	}
	if domain == msDomain {
		s.usesMS = true
	}
	return true
}

const msDomain = "com.microsoft"

func addOpset(m *ir.Model, domain string, v int64) {
	if m.Opset(domain) == 0 {
		m.Opsets = append(m.Opsets, ir.OpsetID{Domain: domain, Version: v})
	}
}

// runPass runs one pass and applies its patches; on failure or an invalid
// result the graph is restored and an error returned.
func runPass(m *ir.Model, g *ir.Graph, p *Pass) (n int, err error) {
	saved := *g
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("graphopt: pass %s panicked: %v", p.Name, r)
		}
		if err != nil {
			*g = saved
		}
	}()
	patches, err := p.Run(m, g)
	if err != nil {
		return 0, fmt.Errorf("graphopt: pass %s: %w", p.Name, err)
	}
	if len(patches) == 0 {
		return 0, nil
	}
	n, err = apply(g, patches)
	if err != nil {
		return 0, fmt.Errorf("graphopt: pass %s: %w", p.Name, err)
	}
	if err := g.Validate(nil); err != nil {
		return 0, fmt.Errorf("graphopt: pass %s made the graph invalid: %w", p.Name, err)
	}
	return n, nil
}

// apply applies the patches in order, skipping any patch that removes a node
// an earlier patch already removed (overlapping matches), and returns the
// number applied. The nodes end in topological order.
func apply(g *ir.Graph, patches []*Patch) (int, error) {
	removed := map[*ir.Node]bool{}
	addAt := map[*ir.Node][]*ir.Node{} // new nodes go where the patch's first removed node was
	var tail []*ir.Node
	rename := map[string]string{}
	dropInit := map[string]bool{}
	outputs := map[string]bool{}
	for _, o := range g.Outputs {
		outputs[o.Name] = true
	}
	applied := 0
	var inits []*ir.Initializer
	var infos []*ir.ValueInfo
next:
	for _, p := range patches {
		for _, r := range p.Remove {
			if removed[r] {
				continue next
			}
		}
		for from := range p.Rename {
			if outputs[from] {
				continue next // a graph output keeps its name
			}
			if _, dup := rename[from]; dup {
				continue next
			}
		}
		for _, r := range p.Remove {
			removed[r] = true
		}
		if len(p.Remove) > 0 {
			addAt[p.Remove[0]] = append(addAt[p.Remove[0]], p.Add...)
		} else {
			tail = append(tail, p.Add...)
		}
		for k, v := range p.Rename {
			rename[k] = v
		}
		for _, d := range p.DropInits {
			dropInit[d] = true
		}
		inits = append(inits, p.Inits...)
		infos = append(infos, p.ValueInfo...)
		applied++
	}
	if applied == 0 {
		return 0, nil
	}
	resolve := func(s string) string {
		for i := 0; i < 64; i++ {
			r, ok := rename[s]
			if !ok {
				return s
			}
			s = r
		}
		return s
	}
	if len(rename) > 0 {
		for _, n := range g.Nodes {
			for _, sg := range n.Subgraphs() {
				for _, free := range sg.FreeNames() {
					if _, ok := rename[free]; ok {
						return 0, fmt.Errorf("renamed value %q is captured by a subgraph of %s", free, ir.NodeLabel(n, 0))
					}
				}
			}
		}
	}
	var nodes []*ir.Node
	put := func(n *ir.Node) {
		if len(rename) > 0 {
			var c *ir.Node
			for i, in := range n.Inputs {
				if r := resolve(in); r != in {
					if c == nil {
						cc := *n
						cc.Inputs = append([]string(nil), n.Inputs...)
						c = &cc
					}
					c.Inputs[i] = r
				}
			}
			if c != nil {
				n = c
			}
		}
		nodes = append(nodes, n)
	}
	for _, n := range g.Nodes {
		for _, a := range addAt[n] {
			put(a)
		}
		if !removed[n] {
			put(n)
		}
	}
	for _, a := range tail {
		put(a)
	}
	g.Nodes = nodes
	if len(dropInit) > 0 || len(inits) > 0 {
		var keep []*ir.Initializer
		for _, t := range g.Initializers {
			if !dropInit[t.Name] {
				keep = append(keep, t)
			}
		}
		g.Initializers = append(keep, inits...)
	}
	if len(infos) > 0 {
		g.ValueInfo = append(append([]*ir.ValueInfo(nil), g.ValueInfo...), infos...)
	}
	order, err := g.TopoOrder(nil)
	if err != nil {
		return 0, err
	}
	sorted := make([]*ir.Node, len(order))
	for i, j := range order {
		sorted[i] = g.Nodes[j]
	}
	g.Nodes = sorted
	return applied, nil
}

// pruneValueInfo drops value_info entries of values the graph no longer
// has, and duplicates.
func pruneValueInfo(g *ir.Graph) {
	live := map[string]bool{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			live[o] = true
		}
	}
	seen := map[string]bool{}
	var keep []*ir.ValueInfo
	for _, v := range g.ValueInfo {
		if live[v.Name] && !seen[v.Name] {
			seen[v.Name] = true
			keep = append(keep, v)
		}
	}
	g.ValueInfo = keep
}
