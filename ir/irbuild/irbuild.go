// Package irbuild builds ir graphs in Go code: for tests, built-in models
// and the model zoo.
//
// # Overview
//
//	b := irbuild.New("tiny", irbuild.Opset{Domain: "", Version: 17})
//	x := b.Input("x", tensor.Float32, "batch", 4)
//	w := b.Init("w", wTensor)
//	y := b.Op("MatMul", x, w)
//	b.Output(b.Op("Relu", y), tensor.Float32, "batch", 8)
//	m := b.Model()
//
// Value names are generated ("MatMul_0", ...) unless given with Named.
package irbuild

import (
	"fmt"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Opset is an operator-set import.
type Opset = ir.OpsetID

// Builder accumulates a graph.
type Builder struct {
	m     *ir.Model
	g     *ir.Graph
	count int
	scope string
}

// New starts a model with the given opset imports (IR version 8 unless set later).
func New(name string, opsets ...Opset) *Builder {
	g := &ir.Graph{Name: name}
	return &Builder{
		m: &ir.Model{IRVersion: 8, Opsets: opsets, ProducerName: "gort", Graph: g},
		g: g,
	}
}

// Scope sets a prefix for generated node and value names (e.g. "layer.0/").
func (b *Builder) Scope(prefix string) { b.scope = prefix }

// Dim builds a symbolic shape from ints (known sizes) and strings (named dims).
func Dims(dims ...any) []tensor.Dim {
	out := make([]tensor.Dim, len(dims))
	for i, d := range dims {
		switch v := d.(type) {
		case int:
			out[i] = tensor.Dim{Size: int64(v)}
		case string:
			out[i] = tensor.Dim{Size: -1, Param: v}
		default:
			panic(fmt.Sprintf("irbuild: dim %v (%T)", d, d))
		}
	}
	return out
}

// Input declares a graph input of the given dtype and (symbolic) shape.
func (b *Builder) Input(name string, dt tensor.DType, dims ...any) string {
	b.g.Inputs = append(b.g.Inputs, &ir.ValueInfo{Name: name, Type: tensor.Type{Kind: tensor.KindTensor, DType: dt, HasShape: true, Shape: Dims(dims...)}})
	return name
}

// Output declares a graph output.
func (b *Builder) Output(name string, dt tensor.DType, dims ...any) {
	t := tensor.Type{Kind: tensor.KindTensor, DType: dt}
	if dims != nil {
		t.HasShape = true
		t.Shape = Dims(dims...)
	}
	b.g.Outputs = append(b.g.Outputs, &ir.ValueInfo{Name: name, Type: t})
}

// Init adds an initializer and returns its name.
func (b *Builder) Init(name string, t *tensor.Tensor) string {
	b.g.Initializers = append(b.g.Initializers, &ir.Initializer{Name: name, T: t})
	return name
}

// Const adds an initializer with a generated name.
func (b *Builder) Const(t *tensor.Tensor) string {
	b.count++
	return b.Init(fmt.Sprintf("%sconst_%d", b.scope, b.count), t)
}

// Attr is a node attribute for Op.
type Attr = ops.Attr

// Int, Float, Ints, Floats, String and Graph make attributes.
func Int(name string, v int64) Attr         { return Attr{Name: name, Type: ops.AttrInt, I: v} }
func Float(name string, v float32) Attr     { return Attr{Name: name, Type: ops.AttrFloat, F: v} }
func Ints(name string, v ...int64) Attr     { return Attr{Name: name, Type: ops.AttrInts, Ints: v} }
func Floats(name string, v ...float32) Attr { return Attr{Name: name, Type: ops.AttrFloats, Floats: v} }
func String(name, v string) Attr            { return Attr{Name: name, Type: ops.AttrString, S: []byte(v)} }
func Graph(name string, g *ir.Graph) Attr   { return Attr{Name: name, Type: ops.AttrGraph, G: g} }
func TensorAttr(name string, t *tensor.Tensor) Attr {
	return Attr{Name: name, Type: ops.AttrTensor, T: t}
}

// Node is a node under construction; see Op and OpN.
type Node struct {
	b *Builder
	n *ir.Node
}

// Op adds a single-output node of the default domain and returns its output name.
func (b *Builder) Op(opType string, inputs ...string) string {
	return b.OpN(opType, 1, inputs...).Out(0)
}

// OpA adds a single-output node with attributes.
func (b *Builder) OpA(opType string, attrs []Attr, inputs ...string) string {
	return b.OpN(opType, 1, inputs...).With(attrs...).Out(0)
}

// OpN adds a node with nOut outputs.
func (b *Builder) OpN(opType string, nOut int, inputs ...string) *Node {
	b.count++
	name := fmt.Sprintf("%s%s_%d", b.scope, opType, b.count)
	n := &ir.Node{Name: name, OpType: opType, Inputs: inputs}
	for i := 0; i < nOut; i++ {
		n.Outputs = append(n.Outputs, fmt.Sprintf("%s:%d", name, i))
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return &Node{b: b, n: n}
}

// With sets attributes.
func (n *Node) With(attrs ...Attr) *Node { n.n.Attrs = append(n.n.Attrs, attrs...); return n }

// Domain sets the node's domain.
func (n *Node) Domain(d string) *Node { n.n.Domain = d; return n }

// Named renames output i (so graph outputs get readable names).
func (n *Node) Named(i int, name string) *Node { n.n.Outputs[i] = name; return n }

// Out returns output i's name.
func (n *Node) Out(i int) string { return n.n.Outputs[i] }

// Rename renames the value produced as old to name everywhere in the graph.
func (b *Builder) Rename(old, name string) string {
	for _, n := range b.g.Nodes {
		for i := range n.Outputs {
			if n.Outputs[i] == old {
				n.Outputs[i] = name
			}
		}
		for i := range n.Inputs {
			if n.Inputs[i] == old {
				n.Inputs[i] = name
			}
		}
	}
	return name
}

// Graph returns the graph built so far (for subgraphs).
func (b *Builder) Graph() *ir.Graph { return b.g }

// Model returns the model.
func (b *Builder) Model() *ir.Model { return b.m }
