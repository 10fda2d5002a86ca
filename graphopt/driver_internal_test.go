package graphopt

import (
	"errors"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

func chain() (*ir.Model, *ir.Graph) {
	b := irbuild.New("chain", irbuild.Opset{Domain: "", Version: 17})
	x := b.Input("x", tensor.Float32, 4)
	y := b.Op("Relu", b.Op("Exp", x))
	b.Rename(y, "y")
	b.Output("y", tensor.Float32, 4)
	m := b.Model()
	return m, m.Graph
}

// TestRunPassReverts checks that a pass producing an invalid graph, failing
// or panicking leaves the graph as it was.
func TestRunPassReverts(t *testing.T) {
	bad := map[string]func(*ir.Model, *ir.Graph) ([]*Patch, error){
		"dangling": func(m *ir.Model, g *ir.Graph) ([]*Patch, error) {
			return []*Patch{{Remove: []*ir.Node{g.Nodes[0]}}}, nil // Relu's input disappears
		},
		"error": func(*ir.Model, *ir.Graph) ([]*Patch, error) { return nil, errors.New("boom") },
		"panic": func(*ir.Model, *ir.Graph) ([]*Patch, error) { panic("boom") },
	}
	for name, run := range bad {
		m, g := chain()
		nodes := append([]*ir.Node(nil), g.Nodes...)
		if _, err := runPass(m, g, &Pass{Name: name, Run: run}); err == nil {
			t.Errorf("%s: no error", name)
		}
		if len(g.Nodes) != len(nodes) || g.Nodes[0] != nodes[0] || g.Nodes[1] != nodes[1] {
			t.Errorf("%s: graph not restored", name)
		}
	}
}

// TestApplyConflicts checks that overlapping patches apply first come, first
// served, that renames reach readers, and that graph outputs keep their names.
func TestApplyConflicts(t *testing.T) {
	_, g := chain()
	exp, relu := g.Nodes[0], g.Nodes[1]
	sig := &ir.Node{Name: "s", OpType: "Sigmoid", Inputs: []string{"x"}, Outputs: []string{"s"}}
	n, err := apply(g, []*Patch{
		{Remove: []*ir.Node{exp}, Add: []*ir.Node{sig}, Rename: map[string]string{exp.Outputs[0]: "s"}},
		{Remove: []*ir.Node{exp, relu}},       // overlaps the first: skipped
		{Rename: map[string]string{"y": "x"}}, // renames a graph output: skipped
	})
	if err != nil || n != 1 {
		t.Fatalf("applied %d (err %v), want 1", n, err)
	}
	if err := g.Validate(nil); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 || g.Nodes[0] != sig || g.Nodes[1].Inputs[0] != "s" || relu.Inputs[0] == "s" {
		t.Errorf("unexpected graph %v %v (the original Relu must not be modified)", g.Nodes[0], g.Nodes[1])
	}
}
