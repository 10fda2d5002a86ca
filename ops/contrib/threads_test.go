package contrib_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// TestThreadsSameBits checks that the kernels split over rows or elements
// (BiasGelu, SkipLayerNormalization, LayerNormalization) give the same bits at 1 and 3 threads,
// with range boundaries off the last dimension.
func TestThreadsSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []tc{
		{name: "biasgelu", op: "BiasGelu", inputs: []in{{"x", f32(r, 3, 37, 1000)}, {"b", f32(r, 1000)}}, outputs: y(tensor.Float32)},
		{name: "gelu", op: "Gelu", inputs: []in{{"x", f32(r, 2, 41, 999)}}, outputs: y(tensor.Float32)},
		{name: "ln", domain: "-", op: "LayerNormalization",
			inputs:  []in{{"x", f32(r, 3, 53, 768)}, {"g", f32(r, 768)}, {"b", f32(r, 768)}},
			outputs: []out{{"y", tensor.Float32}, {"mean", tensor.Float32}, {"inv", tensor.Float32}}},
		{name: "sln", op: "SkipLayerNormalization",
			inputs:  []in{{"x", f32(r, 3, 53, 768)}, {"skip", f32(r, 3, 53, 768)}, {"g", f32(r, 768)}, {"b", f32(r, 768)}, {"bias", f32(r, 768)}},
			outputs: []out{{"y", tensor.Float32}, {"", 0}, {"", 0}, {"sum", tensor.Float32}}},
	} {
		feeds := map[string]*tensor.Tensor{}
		for _, x := range c.inputs {
			feeds[x.name] = x.t
		}
		var res []map[string]*tensor.Tensor
		for _, threads := range []int{1, 3} {
			s, err := runtime.NewSession(sessionModel(c, false), runtime.Options{IntraOpThreads: threads})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got, err := s.Run(context.Background(), feeds)
			s.Close()
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			res = append(res, got)
		}
		for name, a := range res[0] {
			x, z := a.Raw().([]float32), res[1][name].Raw().([]float32)
			for i := range x {
				if math.Float32bits(x[i]) != math.Float32bits(z[i]) {
					t.Fatalf("%s %s[%d]: %v at 1 thread, %v at 3", c.name, name, i, x[i], z[i])
				}
			}
		}
	}
}
