// Package autodiff differentiates ONNX graphs: it appends to a forward graph
// the nodes, in standard ONNX ops, that compute the gradient of a scalar
// loss with respect to chosen values (usually the trainable initializers).
//
// # Overview
//
// Gradients walks the forward graph in reverse topological order. For every
// node on a path from a trainable value to the loss it calls the op's
// gradient Rule, which emits backward nodes through a Builder; gradients
// reaching one value from several consumers are summed. Because the result
// is an ordinary ONNX graph, any provider runs it: the native runtime or
// ONNX Runtime. Package trainstep turns it into a whole training step
// (forward, loss, backward, optimizer update).
//
// Gradient names read like the math: the gradient of value x is "d/x" (the
// sum of contributions), of a node output y "d/y".
package autodiff

import (
	"errors"
	"fmt"
	"sort"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// ErrNoRule is wrapped when an op on the path to the loss has no gradient rule.
var ErrNoRule = errors.New("no gradient rule")

// MinOpset is the lowest ai.onnx opset autodiff emits into (ReduceSum with
// axes as an input, Squeeze/Unsqueeze with axes inputs, Split with a split input).
const MinOpset = 13

// Gradients appends to m.Graph the backward nodes computing d(loss)/d(x) for
// every x in wrt and returns the gradient value names by x. loss must be a
// value of floating dtype; its gradient is seeded with ones (so a non-scalar
// loss is implicitly summed). A value in wrt that does not influence the
// loss gets a zero gradient. The model's graph outputs are left unchanged;
// callers add the gradients as outputs as they need.
func Gradients(m *ir.Model, loss string, wrt []string) (map[string]string, error) {
	return GradientsWith(m, loss, wrt, Options{})
}

// Options refine Gradients.
type Options struct {
	// Types supplements static inference for values it cannot type (for
	// example ranks observed by running the model once); inferred types win
	// where both exist.
	Types map[string]tensor.Type
}

// GradientsWith is Gradients with options.
func GradientsWith(m *ir.Model, loss string, wrt []string, opts Options) (map[string]string, error) {
	opset := m.Opset("")
	if opset < MinOpset {
		return nil, fmt.Errorf("autodiff: model imports ai.onnx opset %d; gradients need opset >= %d (re-export the model at a newer opset)", opset, MinOpset)
	}
	g := m.Graph
	order, err := g.TopoOrder(nil)
	if err != nil {
		return nil, fmt.Errorf("autodiff: %w", err)
	}
	types := InferTypes(m)
	for name, t := range opts.Types {
		if cur, ok := types[name]; !ok || (!cur.HasShape && t.HasShape) {
			types[name] = t
		}
	}
	b := &Builder{g: g, opset: opset, types: types, used: usedNames(g)}

	// Forward reachability from wrt: which values depend on a trainable value.
	depends := map[string]bool{}
	for _, w := range wrt {
		depends[w] = true
	}
	for _, i := range order {
		n := g.Nodes[i]
		if !isDifferentiable(n) {
			continue
		}
		for _, in := range n.Inputs {
			if depends[in] {
				for _, o := range n.Outputs {
					if o != "" {
						depends[o] = true
					}
				}
				break
			}
		}
	}
	if !depends[loss] {
		return nil, fmt.Errorf("autodiff: loss %q does not depend on any of the %d trainable values", loss, len(wrt))
	}
	b.depends = depends

	grads := map[string][]string{} // contributions per value
	seed := b.Op("ConstantOfShape", []ops.Attr{tensorAttr("value", oneOf(b.dtype(loss)))}, b.Op("Shape", nil, loss))
	grads[loss] = []string{seed}

	var missing ir.ErrorList
	for k := len(order) - 1; k >= 0; k-- {
		i := order[k]
		n := g.Nodes[i]
		dy := make([]string, len(n.Outputs))
		any := false
		for j, o := range n.Outputs {
			if o == "" || !depends[o] {
				continue
			}
			if c := grads[o]; len(c) > 0 {
				dy[j] = b.sum(o, c)
				any = true
			}
		}
		if !any {
			continue
		}
		need := false
		for _, in := range n.Inputs {
			if in != "" && depends[in] {
				need = true
			}
		}
		if !need {
			continue
		}
		rule, ok := Rules()[ops.Key{Domain: ops.NormDomain(n.Domain), Type: n.OpType}]
		if !ok {
			missing = append(missing, fmt.Errorf("%s: %w for %s; it lies between a trainable value and the loss", ir.NodeLabel(n, i), ErrNoRule, n.OpType))
			continue
		}
		b.prefix = gradPrefix(n, i)
		dx, err := rule(b, n, dy)
		if err != nil {
			return nil, fmt.Errorf("autodiff: %s: %w", ir.NodeLabel(n, i), err)
		}
		for j, d := range dx {
			if d == "" || j >= len(n.Inputs) || n.Inputs[j] == "" || !depends[n.Inputs[j]] {
				continue
			}
			grads[n.Inputs[j]] = append(grads[n.Inputs[j]], d)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("autodiff: %w", missing)
	}
	out := map[string]string{}
	b.prefix = ""
	for _, w := range wrt {
		var g string
		if c := grads[w]; len(c) > 0 {
			g = b.sum(w, c)
		} else {
			g = b.Op("ConstantOfShape", []ops.Attr{tensorAttr("value", zeroOf(b.dtype(w)))}, b.Op("Shape", nil, w))
		}
		out[w] = b.Alias("d/"+w, g)
	}
	return out, nil
}

// isDifferentiable reports whether gradients flow through n at all: shape
// queries and integer-producing comparisons stop them.
func isDifferentiable(n *ir.Node) bool {
	switch n.OpType {
	case "Shape", "Size", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And",
		"Or", "Xor", "IsNaN", "IsInf", "ArgMax", "ArgMin", "NonZero", "ConstantOfShape", "Range", "EyeLike",
		"RandomNormalLike", "RandomUniformLike", "Bernoulli":
		return false
	}
	return true
}

func gradPrefix(n *ir.Node, i int) string {
	if n.Name != "" {
		return "grad/" + n.Name + "/"
	}
	return fmt.Sprintf("grad/%s_%d/", n.OpType, i)
}

func usedNames(g *ir.Graph) map[string]bool {
	used := g.Defined()
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			used[o] = true
		}
		used[n.Name] = true
	}
	return used
}

// NewBuilder returns a Builder that appends nodes to m's main graph with
// names under prefix, for graph pieces other than gradients (losses,
// optimizer updates). Types of existing values are inferred once.
func NewBuilder(m *ir.Model, prefix string) *Builder {
	return &Builder{g: m.Graph, opset: m.Opset(""), types: InferTypes(m), used: usedNames(m.Graph), prefix: prefix, depends: map[string]bool{}}
}

// Alias emits Identity(src) whose output is called name (suffixed _2, _3,
// ... if taken) and returns the output name.
func (b *Builder) Alias(name, src string) string {
	out := b.reserve(name)
	b.g.Nodes = append(b.g.Nodes, &ir.Node{Name: b.fresh("Identity"), OpType: "Identity", Inputs: []string{src}, Outputs: []string{out}})
	return out
}

// SetPrefix changes the prefix of generated names.
func (b *Builder) SetPrefix(p string) { b.prefix = p }

// Builder emits backward nodes with fresh, readable names.
type Builder struct {
	g       *ir.Graph
	opset   int
	types   map[string]tensor.Type
	used    map[string]bool
	depends map[string]bool
	prefix  string
	count   int
}

// Needs reports whether value x needs a gradient (it depends on a trainable value).
func (b *Builder) Needs(x string) bool { return x != "" && b.depends[x] }

// Opset returns the ai.onnx opset the graph imports.
func (b *Builder) Opset() int { return b.opset }

// Type returns the inferred type of a forward value (Kind unknown if not inferred).
func (b *Builder) Type(x string) tensor.Type { return b.types[x] }

func (b *Builder) dtype(x string) tensor.DType {
	if t, ok := b.types[x]; ok && t.DType != tensor.Undefined {
		return t.DType
	}
	return tensor.Float32
}

func (b *Builder) fresh(base string) string {
	for {
		b.count++
		name := fmt.Sprintf("%s%s_%d", b.prefix, base, b.count)
		if !b.used[name] {
			b.used[name] = true
			return name
		}
	}
}

func (b *Builder) reserve(name string) string {
	base := name
	for k := 2; b.used[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	b.used[name] = true
	return name
}

// Op emits a single-output node and returns its output name.
func (b *Builder) Op(opType string, attrs []ops.Attr, inputs ...string) string {
	return b.OpN(opType, 1, attrs, inputs...)[0]
}

// OpN emits a node with nOut outputs.
func (b *Builder) OpN(opType string, nOut int, attrs []ops.Attr, inputs ...string) []string {
	name := b.fresh(opType)
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = fmt.Sprintf("%s:%d", name, i)
		b.used[outs[i]] = true
	}
	b.g.Nodes = append(b.g.Nodes, &ir.Node{Name: name, OpType: opType, Inputs: inputs, Outputs: outs, Attrs: attrs})
	return outs
}

// OpDomain emits a node of another domain (e.g. ai.onnx.preview.training)
// with nOut outputs. The caller makes sure the model imports the domain.
func (b *Builder) OpDomain(domain, opType string, nOut int, attrs []ops.Attr, inputs ...string) []string {
	outs := b.OpN(opType, nOut, attrs, inputs...)
	b.g.Nodes[len(b.g.Nodes)-1].Domain = domain
	return outs
}

// Const adds a constant tensor (a Constant node, so the graph stays
// self-contained) and returns its name.
func (b *Builder) Const(t *tensor.Tensor) string {
	return b.Op("Constant", []ops.Attr{tensorAttr("value", t)})
}

// Ints adds a 1-D int64 constant.
func (b *Builder) Ints(v ...int64) string { return b.Const(tensor.Must([]int{len(v)}, v)) }

// Scalar adds a rank-0 constant of x's dtype (rank 0 so that broadcasting
// never changes a shape). When like's type was not inferred (an op without
// shape inference produced it) the constant is cast to its dtype at run
// time (CastLike, opset >= 15).
func (b *Builder) Scalar(v float64, like string) string {
	if t, ok := b.types[like]; (!ok || t.DType == tensor.Undefined) && b.opset >= 15 {
		return b.Op("CastLike", nil, b.Const(scalarOf(tensor.Float64, v, nil)), like)
	}
	return b.Const(scalarOf(b.dtype(like), v, nil))
}

func (b *Builder) sum(value string, contributions []string) string {
	if len(contributions) == 1 {
		return contributions[0]
	}
	sorted := append([]string{}, contributions...)
	sort.Strings(sorted) // deterministic graphs
	return b.Op("Sum", nil, sorted...)
}

func tensorAttr(name string, t *tensor.Tensor) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrTensor, T: t}
}

// Attr helpers for rules.
// Attr is a node attribute.
type Attr = ops.Attr

func attrInt(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
func attrInts(name string, v ...int64) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrInts, Ints: v}
}
func attrFloat(name string, v float32) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrFloat, F: v}
}

// scalarOf makes a one-element tensor of shape (nil: rank 0).
func scalarOf(dt tensor.DType, v float64, shape []int) *tensor.Tensor {
	switch dt {
	case tensor.Float64:
		return tensor.Must(shape, []float64{v})
	case tensor.Float16:
		return tensor.Must(shape, []tensor.Float16Bits{tensor.Float16FromFloat32(float32(v))})
	case tensor.BFloat16:
		return tensor.Must(shape, []tensor.BFloat16Bits{tensor.BFloat16FromFloat32(float32(v))})
	}
	return tensor.Must(shape, []float32{float32(v)})
}

// oneOf and zeroOf are ConstantOfShape values (shape [1]).
func oneOf(dt tensor.DType) *tensor.Tensor  { return scalarOf(dt, 1, []int{1}) }
func zeroOf(dt tensor.DType) *tensor.Tensor { return scalarOf(dt, 0, []int{1}) }
