package train

import (
	"context"
	"fmt"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// probeRanks runs the forward model once on small random inputs (symbolic
// dimensions of size 2) with every intermediate value as an output, and
// returns each value's dtype and rank with all dimensions unknown. Static
// inference cannot type values downstream of data-dependent shapes (a Range
// over a sequence length, a Reshape to a computed shape); gradient rules
// that need only ranks then still apply, at any batch size.
func probeRanks(m *ir.Model) (map[string]tensor.Type, error) {
	pm := cloneModel(m)
	g := pm.Graph
	seen := map[string]bool{}
	var outs []*ir.ValueInfo
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" && !seen[o] {
				seen[o] = true
				outs = append(outs, &ir.ValueInfo{Name: o})
			}
		}
	}
	g.Outputs = outs
	feeds, err := conformance.RandomFeeds(pm, 1, symbolicDims(pm, 2))
	if err != nil {
		return nil, err
	}
	s, err := runtime.NewSession(pm, runtime.Options{NoOptimize: true}) // every intermediate is an output: nothing to fuse
	if err != nil {
		return nil, err
	}
	defer s.Close()
	res, err := s.RunValues(context.Background(), toValues(feeds))
	if err != nil {
		return nil, fmt.Errorf("probing the forward graph on random inputs: %w", err)
	}
	types := map[string]tensor.Type{}
	for name, v := range res {
		t, ok := v.(*tensor.Tensor)
		if !ok {
			continue
		}
		ty := tensor.Type{Kind: tensor.KindTensor, DType: t.DType(), HasShape: true, Shape: make([]tensor.Dim, t.Rank())}
		for i := range ty.Shape {
			ty.Shape[i] = tensor.Dim{Size: -1}
		}
		types[name] = ty
	}
	return types, nil
}

func symbolicDims(m *ir.Model, size int) map[string]int {
	dims := map[string]int{}
	for _, v := range m.Graph.Inputs {
		for _, d := range v.Type.Shape {
			if d.Param != "" {
				dims[d.Param] = size
			}
		}
	}
	return dims
}

func toValues(feeds map[string]*tensor.Tensor) map[string]tensor.Value {
	out := make(map[string]tensor.Value, len(feeds))
	for k, v := range feeds {
		out[k] = v
	}
	return out
}
