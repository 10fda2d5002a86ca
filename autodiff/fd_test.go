package autodiff

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// gradCase is one forward graph to differentiate. build declares float64
// inputs (their names and shapes in in) and returns the output to
// differentiate; the harness turns it into loss = ReduceSum(y ⊙ r) with a
// random r, so every element of dy differs.
type gradCase struct {
	name    string
	in      map[string][]int
	dynamic bool // declare input dims symbolically: exercises run-time shape arithmetic
	// dynAxes declares only these axes of an input symbolically (a batch
	// or sequence length), the others static.
	dynAxes map[string][]int
	// positive inputs (for Log, Sqrt, Pow bases)
	positive map[string]bool
	// ints holds non-differentiable integer inputs (indices, shapes) as constants.
	build func(b *irbuild.Builder) string
	// tol overrides the 1e-6 relative error bound, for cases that compute in
	// float32 on purpose (finite differences then see float32 rounding).
	tol float64
	h   float64 // finite-difference step; 0 means 1e-6
	// opset is the ai.onnx opset imported (0 means 17); contrib also
	// imports com.microsoft version 1.
	opset   int
	contrib bool
}

// gradCases covers every rule (TestRulesCovered checks that).
var gradCases = []gradCase{
	{name: "Add broadcast", in: map[string][]int{"a": {2, 3, 4}, "b": {3, 1}}, build: func(b *irbuild.Builder) string { return b.Op("Add", "a", "b") }},
	{name: "Add broadcast dynamic", dynamic: true, in: map[string][]int{"a": {2, 3, 4}, "b": {3, 1}}, build: func(b *irbuild.Builder) string { return b.Op("Add", "a", "b") }},
	{name: "Sub", in: map[string][]int{"a": {2, 3}, "b": {3}}, build: func(b *irbuild.Builder) string { return b.Op("Sub", "a", "b") }},
	{name: "Mul broadcast", in: map[string][]int{"a": {4, 1, 3}, "b": {2, 3}}, build: func(b *irbuild.Builder) string { return b.Op("Mul", "a", "b") }},
	{name: "Mul dynamic", dynamic: true, in: map[string][]int{"a": {4, 1, 3}, "b": {2, 3}}, build: func(b *irbuild.Builder) string { return b.Op("Mul", "a", "b") }},
	{name: "Div", in: map[string][]int{"a": {2, 3}, "b": {2, 3}}, positive: map[string]bool{"b": true}, build: func(b *irbuild.Builder) string { return b.Op("Div", "a", "b") }},
	{name: "Pow", in: map[string][]int{"a": {2, 3}, "b": {3}}, positive: map[string]bool{"a": true}, build: func(b *irbuild.Builder) string { return b.Op("Pow", "a", "b") }},
	{name: "Sum3", in: map[string][]int{"a": {2, 3}, "b": {3}, "c": {2, 1}}, build: func(b *irbuild.Builder) string { return b.Op("Sum", "a", "b", "c") }},
	{name: "Neg", in: map[string][]int{"a": {5}}, build: func(b *irbuild.Builder) string { return b.Op("Neg", "a") }},
	{name: "Identity", in: map[string][]int{"a": {5}}, build: func(b *irbuild.Builder) string { return b.Op("Identity", "a") }},
	{name: "Sqrt", in: map[string][]int{"a": {5}}, positive: map[string]bool{"a": true}, build: func(b *irbuild.Builder) string { return b.Op("Sqrt", "a") }},
	{name: "Reciprocal", in: map[string][]int{"a": {5}}, positive: map[string]bool{"a": true}, build: func(b *irbuild.Builder) string { return b.Op("Reciprocal", "a") }},
	{name: "Exp", in: map[string][]int{"a": {5}}, build: func(b *irbuild.Builder) string { return b.Op("Exp", "a") }},
	{name: "Log", in: map[string][]int{"a": {5}}, positive: map[string]bool{"a": true}, build: func(b *irbuild.Builder) string { return b.Op("Log", "a") }},
	{name: "Erf", in: map[string][]int{"a": {5}}, build: func(b *irbuild.Builder) string { return b.Op("Erf", "a") }},
	{name: "Tanh", in: map[string][]int{"a": {5}}, build: func(b *irbuild.Builder) string { return b.Op("Tanh", "a") }},
	{name: "Sigmoid", in: map[string][]int{"a": {5}}, build: func(b *irbuild.Builder) string { return b.Op("Sigmoid", "a") }},
	{name: "Relu", in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string { return b.Op("Relu", "a") }},
	{name: "LeakyRelu", in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string {
		return b.OpA("LeakyRelu", []irbuild.Attr{irbuild.Float("alpha", 0.2)}, "a")
	}},
	{name: "Abs", in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string { return b.Op("Abs", "a") }},
	{name: "Sin", in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string { return b.Op("Sin", "a") }},
	{name: "Cos", in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string { return b.Op("Cos", "a") }},
	{name: "Softplus", in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string { return b.Op("Softplus", "a") }},
	{name: "Cast same dtype", in: map[string][]int{"a": {3, 2}}, build: func(b *irbuild.Builder) string {
		return b.Op("Mul", "a", b.OpA("Cast", []irbuild.Attr{irbuild.Int("to", int64(tensor.Float64))}, "a"))
	}},
	{name: "Cast through float32", tol: 1e-4, h: 1e-2, in: map[string][]int{"a": {3, 2}}, build: func(b *irbuild.Builder) string {
		f := b.OpA("Cast", []irbuild.Attr{irbuild.Int("to", int64(tensor.Float32))}, "a")
		return b.OpA("Cast", []irbuild.Attr{irbuild.Int("to", int64(tensor.Float64))}, b.Op("Mul", f, f))
	}},
	{name: "Where", in: map[string][]int{"a": {2, 3}, "b": {3}}, build: func(b *irbuild.Builder) string {
		c := b.Const(tensor.Must([]int{2, 3}, []bool{true, false, true, false, false, true}))
		return b.Op("Where", c, "a", "b")
	}},
	{name: "MatMul", in: map[string][]int{"a": {3, 4}, "b": {4, 5}}, build: func(b *irbuild.Builder) string { return b.Op("MatMul", "a", "b") }},
	{name: "MatMul batched broadcast", in: map[string][]int{"a": {2, 3, 4}, "b": {4, 5}}, build: func(b *irbuild.Builder) string { return b.Op("MatMul", "a", "b") }},
	{name: "MatMul 4-D", in: map[string][]int{"a": {2, 2, 3, 4}, "b": {2, 2, 4, 3}}, build: func(b *irbuild.Builder) string { return b.Op("MatMul", "a", "b") }},
	{name: "Gemm", in: map[string][]int{"a": {3, 4}, "b": {4, 5}, "c": {5}}, build: func(b *irbuild.Builder) string {
		return b.OpA("Gemm", []irbuild.Attr{irbuild.Float("alpha", 0.5), irbuild.Float("beta", 2)}, "a", "b", "c")
	}},
	{name: "Gemm transposed", in: map[string][]int{"a": {4, 3}, "b": {5, 4}, "c": {3, 5}}, build: func(b *irbuild.Builder) string {
		return b.OpA("Gemm", []irbuild.Attr{irbuild.Int("transA", 1), irbuild.Int("transB", 1)}, "a", "b", "c")
	}},
}

func randomInput(rng *rand.Rand, shape []int, positive bool) *tensor.Tensor {
	t := tensor.Zeros(tensor.Float64, shape...)
	for i, d := 0, tensor.Data[float64](t); i < len(d); i++ {
		if positive {
			d[i] = 0.5 + rng.Float64()
		} else {
			d[i] = rng.Float64()*2 - 1
			if math.Abs(d[i]) < 0.05 { // keep away from kinks (Relu, Abs) where FD is undefined
				d[i] += 0.1
			}
		}
	}
	return t
}

// buildCase returns the forward model with a scalar loss output "loss".
// When the forward model does not run it returns the graph built so far
// and the error.
func buildCase(c gradCase, rng *rand.Rand) (*ir.Model, map[string]*tensor.Tensor, []string, error) {
	opsets := []irbuild.Opset{{Version: 17}}
	if c.opset != 0 {
		opsets[0].Version = int64(c.opset)
	}
	if c.contrib {
		opsets = append(opsets, irbuild.Opset{Domain: "com.microsoft", Version: 1})
	}
	b := irbuild.New("grad", opsets...)
	var names []string
	for name := range c.in {
		names = append(names, name)
	}
	sortStrings(names)
	feeds := map[string]*tensor.Tensor{}
	for _, name := range names {
		shape := c.in[name]
		dims := make([]any, len(shape))
		for i, d := range shape {
			if c.dynamic || containsInt(c.dynAxes[name], i) {
				dims[i] = fmt.Sprintf("%s_%d", name, i)
			} else {
				dims[i] = d
			}
		}
		b.Input(name, tensor.Float64, dims...)
		feeds[name] = randomInput(rng, shape, c.positive[name])
	}
	y := c.build(b)
	// r is shaped by running the forward once: the harness does not trust
	// shape inference for the weights it uses to check gradients.
	probe := b.Model()
	probe.Graph.Outputs = []*ir.ValueInfo{{Name: y, Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float64}}}
	s, err := runtime.NewSession(probe, runtime.Options{})
	if err != nil {
		return probe, nil, nil, err
	}
	out, err := s.Run(context.Background(), feeds)
	if err != nil {
		return probe, nil, nil, err
	}
	r := randomInput(rng, out[y].Shape(), false)
	loss := b.Op("ReduceSum", b.Op("Mul", y, b.Const(r)))
	b.Rename(loss, "loss")
	m := b.Model()
	m.Graph.Outputs = []*ir.ValueInfo{{Name: "loss", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float64, HasShape: true}}}
	return m, feeds, names, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func runLoss(t *testing.T, s *runtime.Session, feeds map[string]*tensor.Tensor) float64 {
	out, err := s.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	return tensor.Data[float64](out["loss"])[0]
}

// TestGradientsFiniteDifferences checks every rule against central finite
// differences in float64: ‖g − fd‖ / max(‖g‖, ‖fd‖) ≤ 1e-6.
func TestGradientsFiniteDifferences(t *testing.T) {
	for i, c := range gradCases {
		t.Run(c.name, func(t *testing.T) { checkGradients(t, i, c) })
	}
}

// checkGradients differentiates case i and compares with finite differences.
func checkGradients(t *testing.T, i int, c gradCase) {
	m, feeds, wrt, grads, out := caseGradients(t, i, c)
	fwd, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := 1e-6
	if c.h > 0 {
		h = c.h
	}
	for _, w := range wrt {
		g := out[grads[w]]
		if !tensor.SameShape(g.Shape(), feeds[w].Shape()) {
			t.Fatalf("d%s has shape %v, want %v", w, g.Shape(), feeds[w].Shape())
		}
		gd := tensor.Data[float64](g)
		x := tensor.Data[float64](feeds[w])
		var num, den1, den2 float64
		for k := range x {
			orig := x[k]
			x[k] = orig + h
			lp := runLoss(t, fwd, feeds)
			x[k] = orig - h
			lm := runLoss(t, fwd, feeds)
			x[k] = orig
			fd := (lp - lm) / (2 * h)
			num += (gd[k] - fd) * (gd[k] - fd)
			den1 += gd[k] * gd[k]
			den2 += fd * fd
		}
		rel := math.Sqrt(num) / math.Max(math.Sqrt(max(den1, den2)), 1e-12)
		tol := 1e-6
		if c.tol > 0 {
			tol = c.tol
		}
		t.Logf("d%s: relative error %.3g", w, rel)
		if rel > tol {
			t.Errorf("d%s: relative error %.3g vs finite differences (analytic %v)", w, rel, gd)
		}
	}
}

// caseGradients builds case i (skipping it when an op has no kernel yet)
// and runs its gradients natively: the forward model, the feeds, the
// trainable inputs, their gradient names and the backward run's outputs.
func caseGradients(t *testing.T, i int, c gradCase) (*ir.Model, map[string]*tensor.Tensor, []string, map[string]string, map[string]*tensor.Tensor) {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	m, feeds, wrt, err := buildCase(c, rng)
	if err != nil {
		reg := all.Registry()
		for _, n := range m.Graph.Nodes {
			if !reg.Has(ops.NormDomain(n.Domain), n.OpType) {
				t.Skipf("%s %s has no kernel yet: %v", n.Domain, n.OpType, err)
			}
		}
		t.Fatal(err)
	}
	gm, grads := backwardModel(t, m, wrt)
	bwd, err := runtime.NewSession(gm, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := bwd.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	return m, feeds, wrt, grads, out
}

// backwardModel returns a copy of m with the gradients of wrt as outputs.
func backwardModel(t *testing.T, m *ir.Model, wrt []string) (*ir.Model, map[string]string) {
	gm := cloneModel(m)
	grads, err := Gradients(gm, "loss", wrt)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrt {
		gm.Graph.Outputs = append(gm.Graph.Outputs, &ir.ValueInfo{Name: grads[w], Type: tensor.Type{Kind: tensor.KindTensor, DType: gm.Graph.Outputs[0].Type.DType}})
	}
	return gm, grads
}

func cloneModel(m *ir.Model) *ir.Model {
	c := *m
	g := *m.Graph
	g.Nodes = append([]*ir.Node{}, g.Nodes...)
	g.Outputs = append([]*ir.ValueInfo{}, g.Outputs...)
	c.Graph = &g
	return &c
}

// TestRulesCovered requires a finite-difference case for every rule.
func TestRulesCovered(t *testing.T) {
	tested := map[ops.Key]bool{}
	for _, c := range gradCases {
		rng := rand.New(rand.NewPCG(1, 1))
		m, _, _, _ := buildCase(c, rng)
		for _, n := range m.Graph.Nodes {
			tested[ops.Key{Domain: ops.NormDomain(n.Domain), Type: n.OpType}] = true
		}
	}
	for _, k := range Ops() {
		if !tested[k] {
			t.Errorf("gradient rule %v has no finite-difference case in gradCases", k)
		}
	}
}

// TestMissingRuleNamesTheNode checks the error for an op without a rule.
func TestMissingRuleNamesTheNode(t *testing.T) {
	b := irbuild.New("g", irbuild.Opset{Version: 17})
	b.Input("a", tensor.Float64, 3)
	y := b.OpN("Hardmax", 1, "a").Named(0, "h").Out(0)
	loss := b.Op("ReduceSum", y)
	b.Rename(loss, "loss")
	_, err := Gradients(b.Model(), "loss", []string{"a"})
	if err == nil || !contains(err.Error(), "Hardmax") || !contains(err.Error(), "no gradient rule") {
		t.Fatalf("got %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func init() {
	gradCases = append(gradCases,
		gradCase{name: "ReduceSum axes keepdims=0", in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceSum", []irbuild.Attr{irbuild.Int("keepdims", 0)}, "a", b.Const(tensor.Must([]int{2}, []int64{0, -1})))
		}},
		gradCase{name: "ReduceSum all", in: map[string][]int{"a": {2, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceSum", []irbuild.Attr{irbuild.Int("keepdims", 0)}, "a")
		}},
		gradCase{name: "ReduceMean keepdims", dynamic: true, in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceMean", []irbuild.Attr{irbuild.Ints("axes", 1)}, "a")
		}},
	)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
