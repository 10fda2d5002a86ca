package autodiff

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// TestGradientsOnORT runs every case's backward graph on ONNX Runtime in
// float32 (ORT lacks most float64 kernels) and compares the gradients with
// the native float64 ones that TestGradientsFiniteDifferences checks: the
// backward graphs must be valid ONNX that another runtime executes the
// same way. Cases ORT cannot run skip with its reason; without the library
// the test skips.
func TestGradientsOnORT(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	opts := runtime.Options{Provider: ort.New(ort.Options{})}
	probe, _, _, err := buildCase(gradCases[0], rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.NewSession(probe, opts); errors.Is(err, runtime.ErrUnavailable) {
		t.Skip(err)
	}
	for i, c := range gradCases {
		t.Run(c.name, func(t *testing.T) {
			if why := ortSkips[c.name]; why != "" {
				t.Skip(why)
			}
			m, feeds, wrt, grads, ref := caseGradients(t, i, c)
			gm, g32 := backwardModel(t, toFloat32(m), wrt)
			s, err := runtime.NewSession(gm, opts)
			if err != nil {
				t.Skipf("ONNX Runtime: %v", err)
			}
			out, err := s.Run(context.Background(), toFloat32Feeds(feeds))
			if err != nil {
				t.Skipf("ONNX Runtime: %v", err)
			}
			for _, w := range wrt {
				got, want := out[g32[w]], ref[grads[w]]
				if got.DType() != tensor.Float32 || !tensor.SameShape(got.Shape(), want.Shape()) {
					t.Fatalf("d%s is %v %v, want float32 %v", w, got.DType(), got.Shape(), want.Shape())
				}
				var num, den float64
				for k, v := range tensor.Data[float32](got) {
					d := float64(v) - tensor.Data[float64](want)[k]
					num += d * d
					den += tensor.Data[float64](want)[k] * tensor.Data[float64](want)[k]
				}
				rel := math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-12)
				t.Logf("d%s: float32 on ONNX Runtime vs native float64: relative error %.3g", w, rel)
				if rel > 1e-4 {
					t.Errorf("d%s: relative error %.3g between ONNX Runtime (float32) and native (float64)", w, rel)
				}
			}
		})
	}
}

// ortSkips are the cases ONNX Runtime (1.30, CPU) cannot be compared on.
var ortSkips = map[string]string{
	"Dropout training": "ONNX Runtime draws a new mask on every run, even with a seed",
	"ms Attention unidirectional qkv_hidden_sizes": "ONNX Runtime's CPU Attention crashes the process (SIGSEGV) with a V size differing from Q and K",
}

// toFloat32 returns m with its float64 inputs, initializers, outputs and
// Casts to float64 turned to float32.
func toFloat32(m *ir.Model) *ir.Model {
	c := cloneModel(m)
	g := c.Graph
	retype := func(vs []*ir.ValueInfo) []*ir.ValueInfo {
		out := make([]*ir.ValueInfo, len(vs))
		for i, v := range vs {
			nv := *v
			if nv.Type.DType == tensor.Float64 {
				nv.Type.DType = tensor.Float32
			}
			out[i] = &nv
		}
		return out
	}
	g.Inputs, g.Outputs = retype(g.Inputs), retype(g.Outputs)
	g.Initializers = append([]*ir.Initializer{}, g.Initializers...)
	for i, in := range g.Initializers {
		if in.T.DType() == tensor.Float64 {
			g.Initializers[i] = &ir.Initializer{Name: in.Name, T: narrow(in.T)}
		}
	}
	for i, n := range g.Nodes {
		if n.OpType != "Cast" {
			continue
		}
		cn := *n
		cn.Attrs = append([]ops.Attr{}, n.Attrs...)
		for j, a := range cn.Attrs {
			if a.Name == "to" && a.I == int64(tensor.Float64) {
				cn.Attrs[j].I = int64(tensor.Float32)
			}
		}
		g.Nodes[i] = &cn
	}
	return c
}

// narrow converts a float64 tensor to float32.
func narrow(t *tensor.Tensor) *tensor.Tensor {
	f := tensor.Zeros(tensor.Float32, t.Shape()...)
	if err := tensor.Convert(f, t, false); err != nil {
		panic(err) // float64 to float32 always converts
	}
	return f
}

func toFloat32Feeds(feeds map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for k, v := range feeds {
		out[k] = narrow(v)
	}
	return out
}
