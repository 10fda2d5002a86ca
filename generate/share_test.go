package generate

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// merged wraps a decoder with past as optimum's merged decoder does: the
// same inputs plus use_cache_branch, and one If whose branches both run
// the decoder (the else branch with its own value names).
func merged(m *ir.Model) *ir.Model {
	g := m.Graph
	branch := func(suffix string) *ir.Graph {
		outer := g.Defined()
		re := func(s string) string {
			if s == "" || outer[s] {
				return s
			}
			return s + suffix
		}
		b := &ir.Graph{Name: "branch" + suffix}
		for _, n := range g.Nodes {
			b.Nodes = append(b.Nodes, n.Renamed(re))
		}
		for _, o := range g.Outputs {
			c := *o
			c.Name = re(o.Name)
			b.Outputs = append(b.Outputs, &c)
		}
		return b
	}
	ng := *g
	ng.Inputs = append(append([]*ir.ValueInfo(nil), g.Inputs...), &ir.ValueInfo{Name: "use_cache_branch",
		Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Bool, Shape: []tensor.Dim{{Size: 1}}, HasShape: true}})
	var outs []string
	for _, o := range g.Outputs {
		outs = append(outs, o.Name)
	}
	ng.Nodes = []*ir.Node{{Name: "optimum::if", OpType: "If", Inputs: []string{"use_cache_branch"}, Outputs: outs,
		Attrs: []ops.Attr{{Name: "then_branch", Type: ops.AttrGraph, G: branch("")},
			{Name: "else_branch", Type: ops.AttrGraph, G: branch("_else")}}}}
	nm := *m
	nm.Graph = &ng
	return &nm
}

// The rewritten graphs write the cache in place: the present outputs are
// the donated past buffers.
func TestShareCacheInPlace(t *testing.T) {
	for _, kind := range []graphKind{rewrittenGraph, mergedShared} {
		t.Run(kind.String(), func(t *testing.T) {
			s, _, tok := tinyModels(t, kind)
			checkInPlace(t, s, tok.Encode("the quick brown").IDs)
		})
	}
}

// checkInPlace runs a prompt's step and the next on s and fails unless
// both return the donated past buffers as present.
func checkInPlace(t *testing.T, s *runtime.Session, prompt []int) {
	t.Helper()
	g, err := New(s, nil, Options{MaxNewTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	if g.Layout() != Shared {
		t.Fatalf("layout %v, want %v", g.Layout(), Shared)
	}
	st := g.m.newStep([][]int{prompt}, 0, 4, true)
	before := append([]*tensor.Tensor(nil), st.past...)
	for i, prefill := range []bool{true, false} {
		if i > 0 {
			st.push([]int{prompt[0]})
		}
		if _, err := st.run(context.Background(), prefill); err != nil {
			t.Fatal(err)
		}
		for i, p := range st.past {
			if p != before[i] {
				t.Fatalf("%s is a new tensor, not the donated buffer", st.onames[i])
			}
		}
	}
}

// smallGPT2 builds a small GPT-2 of layers layers with build (seed 1).
func smallGPT2(t *testing.T, layers int, build func(*zoo.Config, zoo.BuildOptions) (*zoo.Model, error)) *ir.Model {
	t.Helper()
	cfg, err := zoo.ParseConfig([]byte(`{"model_type": "gpt2", "vocab_size": 50, "n_embd": 16, "n_layer": ` + strconv.Itoa(layers) + `, "n_head": 2, "n_positions": 32}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := build(cfg, zoo.BuildOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m.IR
}

// ShareCache refuses, with ErrNotShareable and a reason, the graphs it
// does not understand.
func TestShareCacheRefuses(t *testing.T) {
	build := func(f func(*zoo.Config, zoo.BuildOptions) (*zoo.Model, error)) *ir.Model { return smallGPT2(t, 1, f) }
	full := func(c *zoo.Config, o zoo.BuildOptions) (*zoo.Model, error) { return zoo.Build(c, "GPT2LMHeadModel", o) }
	extraUse := build(zoo.BuildGPT2WithPast)
	// The past key also feeds a graph output of its own.
	extraUse.Graph.Nodes = append(extraUse.Graph.Nodes, &ir.Node{OpType: "Identity", Inputs: []string{"past_key_values.0.key"}, Outputs: []string{"echo"}})
	extraUse.Graph.Outputs = append(extraUse.Graph.Outputs, &ir.ValueInfo{Name: "echo", Type: extraUse.Graph.Inputs[3].Type})
	noMask := build(zoo.BuildGPT2WithPast)
	for _, in := range noMask.Graph.Inputs {
		if in.Name == "attention_mask" {
			in.Name = "mask"
		}
	}
	for _, n := range noMask.Graph.Nodes {
		for i, s := range n.Inputs {
			if s == "attention_mask" {
				n.Inputs[i] = "mask"
			}
		}
	}
	for _, c := range []struct {
		name string
		m    *ir.Model
		want string
	}{
		{"no past", build(full), "takes no past_key_values"},
		{"past read elsewhere", extraUse, "Identity"},
		{"no attention mask", noMask, "no attention_mask input"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ShareCache(c.m)
			if !errors.Is(err, ErrNotShareable) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrNotShareable saying %q", err, c.want)
			}
		})
	}
}

// ShareCache does not modify its argument.
func TestShareCacheKeepsInput(t *testing.T) {
	m := merged(smallGPT2(t, 1, zoo.BuildGPT2WithPast))
	nodes, inputs := len(m.Graph.Nodes), len(m.Graph.Inputs)
	dim := m.Graph.Inputs[3].Type.Shape[2]
	if _, err := ShareCache(m); err != nil {
		t.Fatal(err)
	}
	if len(m.Graph.Nodes) != nodes || len(m.Graph.Inputs) != inputs || m.Graph.Inputs[3].Type.Shape[2] != dim {
		t.Fatal("ShareCache changed its argument")
	}
	s, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, err := New(s, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Layout() != Merged {
		t.Fatalf("the merged model after ShareCache has layout %v", g.Layout())
	}
}

// ShareCache on damaged graphs (nodes dropped, inputs rewired, attributes
// and outputs removed, in the graph with past and its merged form) returns
// a model or an error, never panics.
func TestShareCacheDamaged(t *testing.T) {
	withPast := smallGPT2(t, 2, zoo.BuildGPT2WithPast)
	rng := rand.New(rand.NewPCG(1, 2))
	outcomes := map[string]int{}
	for i := range 300 {
		m := withPast
		if i%2 == 1 {
			m = merged(m)
		}
		g := *m.Graph
		nodes := g.Nodes
		if i%2 == 1 {
			nodes = m.Graph.Nodes[0].Attrs[0].G.(*ir.Graph).Nodes
		}
		var names []string
		for _, in := range g.Inputs {
			names = append(names, in.Name)
		}
		for _, n := range nodes {
			names = append(names, n.Outputs...)
		}
		// One or two nodes damaged, so that many graphs stay valid and
		// reach the rewrite.
		hit := map[int]bool{rng.IntN(len(nodes)): true, rng.IntN(len(nodes)): i%3 == 0}
		damaged := make([]*ir.Node, 0, len(nodes))
		for j, n := range nodes {
			c := *n
			if !hit[j] {
				damaged = append(damaged, &c)
				continue
			}
			switch rng.IntN(5) {
			case 0:
				continue // dropped
			case 1:
				if len(c.Inputs) > 0 {
					c.Inputs = append([]string(nil), c.Inputs...)
					c.Inputs[rng.IntN(len(c.Inputs))] = names[rng.IntN(len(names))]
				}
			case 2:
				c.Attrs = nil
			case 3:
				c.Outputs = c.Outputs[:rng.IntN(len(c.Outputs)+1)]
			case 4:
				c.Inputs = nil
			}
			damaged = append(damaged, &c)
		}
		nm := *m
		if i%2 == 1 {
			branch := *m.Graph.Nodes[0].Attrs[0].G.(*ir.Graph)
			branch.Nodes = damaged
			ifNode := *m.Graph.Nodes[0]
			ifNode.Attrs = append([]ops.Attr(nil), ifNode.Attrs...)
			ifNode.Attrs[0].G = &branch
			if rng.IntN(4) == 0 {
				ifNode.Inputs = nil
			}
			g.Nodes = []*ir.Node{&ifNode}
		} else {
			g.Nodes = damaged
		}
		nm.Graph = &g
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("case %d: ShareCache panicked: %v", i, r)
				}
			}()
			_, err := ShareCache(&nm)
			switch {
			case err == nil:
				outcomes["rewritten"]++
			case errors.Is(err, ErrNotShareable):
				outcomes["not shareable"]++
			default:
				outcomes["other error"]++
			}
		}()
	}
	t.Logf("outcomes: %v", outcomes)
	if outcomes["rewritten"] == 0 || outcomes["not shareable"] == 0 {
		t.Fatalf("the damage should leave some graphs rewritable and make others not shareable: %v", outcomes)
	}
}
