package conformance

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// RandomFeeds makes inputs for every graph input that has no initializer,
// shaped by the declared type, with values that make sense for the model:
//   - integer inputs that index a Gather table (token, position and segment
//     ids) are drawn inside that table's first dimension;
//   - inputs named like a mask are all ones;
//   - floating inputs are uniform in [-1, 1).
//
// Symbolic dimensions take their value from dims by name, else 1 for names
// containing "batch" and 8 for anything else; unknown dimensions are 1.
func RandomFeeds(m *ir.Model, seed uint64, dims map[string]int) (map[string]*tensor.Tensor, error) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	g := m.Graph
	inits := map[string]*ir.Initializer{}
	for _, t := range g.Initializers {
		inits[t.Name] = t
	}
	bound := gatherBounds(g, inits)
	feeds := map[string]*tensor.Tensor{}
	for _, v := range g.Inputs {
		if inits[v.Name] != nil {
			continue
		}
		if v.Type.Kind != tensor.KindTensor {
			return nil, fmt.Errorf("input %q is a %v; random inputs are made for tensors only (use --inputs)", v.Name, v.Type.Kind)
		}
		shape := make([]int, len(v.Type.Shape))
		for i, d := range v.Type.Shape {
			switch {
			case d.Known():
				shape[i] = int(d.Size)
			case d.Param != "":
				if n, ok := dims[d.Param]; ok {
					shape[i] = n
				} else if strings.Contains(strings.ToLower(d.Param), "batch") {
					shape[i] = 1
				} else {
					shape[i] = 8
				}
			default:
				shape[i] = 1
			}
		}
		t, err := tensor.New(v.Type.DType, shape...)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", v.Name, err)
		}
		lower := strings.ToLower(v.Name)
		isMask := strings.Contains(lower, "mask")
		hi := int64(bound[v.Name])
		if hi <= 0 {
			hi = 2
		}
		switch v.Type.DType {
		case tensor.Float32:
			d := tensor.Data[float32](t)
			for i := range d {
				d[i] = float32(rng.Float64()*2 - 1)
				if isMask {
					d[i] = 1
				}
			}
		case tensor.Float64:
			d := tensor.Data[float64](t)
			for i := range d {
				d[i] = rng.Float64()*2 - 1
				if isMask {
					d[i] = 1
				}
			}
		case tensor.Int64:
			d := tensor.Data[int64](t)
			for i := range d {
				d[i] = rng.Int64N(hi)
				if isMask {
					d[i] = 1
				}
			}
		case tensor.Int32:
			d := tensor.Data[int32](t)
			for i := range d {
				d[i] = int32(rng.Int64N(hi))
				if isMask {
					d[i] = 1
				}
			}
		case tensor.Bool:
			d := tensor.Data[bool](t)
			for i := range d {
				d[i] = isMask || rng.IntN(2) == 1
			}
		default:
			return nil, fmt.Errorf("input %q: no random generator for %v (use --inputs)", v.Name, v.Type.DType)
		}
		feeds[v.Name] = t
	}
	return feeds, nil
}

// gatherBounds finds graph inputs used (possibly through Cast/Reshape/
// Unsqueeze/Squeeze/Flatten) as Gather indices into an initializer, and
// returns the table's first dimension for each.
func gatherBounds(g *ir.Graph, inits map[string]*ir.Initializer) map[string]int {
	origin := map[string]string{} // value -> graph input it passes through unchanged in range
	for _, v := range g.Inputs {
		origin[v.Name] = v.Name
	}
	bound := map[string]int{}
	for _, n := range g.Nodes {
		switch n.OpType {
		case "Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand":
			if len(n.Inputs) > 0 && len(n.Outputs) > 0 {
				if o, ok := origin[n.Inputs[0]]; ok {
					origin[n.Outputs[0]] = o
				}
			}
		case "Gather":
			if len(n.Inputs) < 2 {
				continue
			}
			o, ok := origin[n.Inputs[1]]
			table := inits[n.Inputs[0]]
			if !ok || table == nil || table.T.Rank() == 0 {
				continue
			}
			size := table.T.Shape()[0]
			if b, seen := bound[o]; !seen || size < b {
				bound[o] = size
			}
		}
	}
	return bound
}
