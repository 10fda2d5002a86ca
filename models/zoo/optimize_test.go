package zoo

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// The optimizer's fusions (embeddings, attention, GELU, LayerNorm, ...)
// keep every zoo graph's outputs.
func TestOptimizedGraphsAgree(t *testing.T) {
	for _, mt := range modelTypes {
		c := tinyConfig(t, mt)
		for _, a := range Architectures(mt) {
			for _, opset := range []int{17, 20} {
				t.Run(fmt.Sprintf("%s/opset%d", a, opset), func(t *testing.T) {
					m, err := Build(c, a, BuildOptions{Seed: 2, Opset: opset, Loss: true})
					if err != nil {
						t.Fatal(err)
					}
					opt, _, err := graphopt.Optimize(m.IR, graphopt.Options{})
					if err != nil {
						t.Fatal(err)
					}
					in := feeds(m, rand.New(rand.NewPCG(5, 6)), 2, 9)
					want := run(t, m, runtime.Native(), in)
					got := run(t, &Model{IR: opt}, runtime.Native(), in)
					for _, name := range m.Outputs {
						if want[name].DType() != tensor.Float32 {
							if !tensor.Equal(got[name], want[name]) {
								t.Errorf("%s differs", name)
							}
							continue
						}
						if e, err := maxErr(got[name], want[name]); err != nil || e > 1e-4 {
							t.Errorf("%s: max error %g (%v)", name, e, err)
						}
					}
					t.Logf("%d -> %d nodes", len(m.IR.Graph.Nodes), len(opt.Graph.Nodes))
				})
			}
		}
	}
}
