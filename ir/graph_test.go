package ir

import (
	"reflect"
	"slices"
	"testing"

	"github.com/gort-ml/gort/tensor"
)

// DeclaredTypes takes value_info, then known output types, then inputs,
// then initializers, each overriding the one before.
func TestDeclaredTypes(t *testing.T) {
	f32 := func(dims ...int) tensor.Type { return tensor.TensorType(tensor.Float32, dims...) }
	g := &Graph{
		ValueInfo: []*ValueInfo{{Name: "v", Type: f32(1)}, {Name: "o", Type: f32(2)}, {Name: "u", Type: f32(3)},
			{Name: "x", Type: f32(4)}, {Name: "w", Type: f32(5)}},
		Outputs:      []*ValueInfo{{Name: "o", Type: f32(6)}, {Name: "u"}},
		Inputs:       []*ValueInfo{{Name: "x", Type: f32(7)}, {Name: "w", Type: f32(8)}},
		Initializers: []*Initializer{{Name: "w", T: tensor.Zeros(tensor.Int64, 9)}},
	}
	want := map[string]tensor.Type{"v": f32(1), "o": f32(6), "u": f32(3), "x": f32(7), "w": tensor.TensorType(tensor.Int64, 9)}
	got := g.DeclaredTypes()
	if len(got) != len(want) {
		t.Fatalf("got %d types, want %d: %v", len(got), len(want), got)
	}
	for name, w := range want {
		if g := got[name]; !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %v, want %v", name, g, w)
		}
	}
}

// Renamed maps inputs and outputs (omitted inputs through f as well) into
// new slices, leaving n as it was.
func TestRenamed(t *testing.T) {
	n := &Node{Name: "n", OpType: "Add", Inputs: []string{"a", "", "b"}, Outputs: []string{"y"}}
	c := n.Renamed(func(s string) string {
		if s == "" {
			return s
		}
		return s + "'"
	})
	if !slices.Equal(c.Inputs, []string{"a'", "", "b'"}) || !slices.Equal(c.Outputs, []string{"y'"}) || c.Name != "n" || c.OpType != "Add" {
		t.Fatalf("renamed %+v", c)
	}
	if !slices.Equal(n.Inputs, []string{"a", "", "b"}) || !slices.Equal(n.Outputs, []string{"y"}) {
		t.Fatalf("the original changed: %+v", n)
	}
}
