package runtime

import (
	"context"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/tensor"
)

// watch returns a channel closed once t is collected.
func watch(t *tensor.Tensor) chan struct{} {
	ch := make(chan struct{})
	goruntime.AddCleanup(t, func(ch chan struct{}) { close(ch) }, ch)
	return ch
}

// collected reports whether ch is closed after a few collections.
func collected(ch chan struct{}) bool {
	for range 10 {
		goruntime.GC()
		select {
		case <-ch:
			return true
		case <-time.After(5 * time.Millisecond):
		}
	}
	return false
}

// precomputedModel is y = MatMul(MatMul(x, w1), w2), z = w2 + w2, the
// graph output w3, and b = Branch(y) whose body computes MatMul(bx, w4):
// w1 is read by a packed MatMul only, w2 by one and by Add, w3 by no node
// and w4 by a packed MatMul inside a subgraph (captured).
func precomputedModel(w1, w2, w3, w4 *tensor.Tensor) *ir.Model {
	body := &ir.Graph{Name: "body", Inputs: []*ir.ValueInfo{vi("bx", 3, 6)},
		Nodes:   []*ir.Node{{Name: "inner", OpType: "MatMul", Inputs: []string{"bx", "w4"}, Outputs: []string{"by"}}},
		Outputs: []*ir.ValueInfo{vi("by", 3, 6)}}
	return model([]*ir.Node{
		{Name: "m1", OpType: "MatMul", Inputs: []string{"x", "w1"}, Outputs: []string{"h"}},
		{Name: "m2", OpType: "MatMul", Inputs: []string{"h", "w2"}, Outputs: []string{"y"}},
		{Name: "add", OpType: "Add", Inputs: []string{"w2", "w2"}, Outputs: []string{"z"}},
		{Name: "br", OpType: "Branch", Inputs: []string{"y"}, Outputs: []string{"b"},
			Attrs: []ops.Attr{{Name: "body", Type: ops.AttrGraph, G: body}}},
	}, []*ir.ValueInfo{vi("x", 3, 8)}, []*ir.ValueInfo{vi("y", 3, 6), vi("z", 6, 6), vi("w3", 2), vi("b", 3, 6)},
		&ir.Initializer{Name: "w1", T: w1}, &ir.Initializer{Name: "w2", T: w2},
		&ir.Initializer{Name: "w3", T: w3}, &ir.Initializer{Name: "w4", T: w4})
}

// matmul64 is a·b in float64 for row-major a (m x k) and b (k x n).
func matmul64(a, b []float64, m, k, n int) []float64 {
	y := make([]float64, m*n)
	for i := range m {
		for j := range n {
			for p := range k {
				y[i*n+j] += a[i*k+p] * b[p*n+j]
			}
		}
	}
	return y
}

func float64s(t *tensor.Tensor) []float64 {
	var out []float64
	for _, v := range tensor.Data[float32](t) {
		out = append(out, float64(v))
	}
	return out
}

// TestPrecomputedConstantsAreDropped: once the caller lets the model go, a
// session keeps no initializer that only packed MatMuls read (w1), and
// keeps those another node (w2, read by Add), a subgraph (w4) or a graph
// output (w3) reads; runs after collections give the float64 reference's
// values, and the caller's tensors are left unchanged.
func TestPrecomputedConstantsAreDropped(t *testing.T) {
	if linalg.PackB(false, 1, 1, []float32{1}, 1).HoldsB() {
		t.Skip("this CPU's packed products keep B (no panel GEMV): nothing is freed")
	}
	reg, err := ops.NewRegistry(append(all.Registry().Ops(), branchOp()))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(11, 12))
	randT := func(shape ...int) *tensor.Tensor {
		t := tensor.Zeros(tensor.Float32, shape...)
		for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
			d[i] = float32(r.NormFloat64())
		}
		return t
	}
	x := randT(3, 8)
	for _, noOpt := range []bool{true, false} {
		w := []*tensor.Tensor{randT(8, 6), randT(6, 6), randT(2), randT(6, 6)}
		vals := make([][]float64, len(w))
		freed := make([]chan struct{}, len(w))
		for i, t := range w {
			vals[i], freed[i] = float64s(t), watch(t)
		}
		s, err := NewSession(precomputedModel(w[0], w[1], w[2], w[3]), Options{Provider: NativeWith(reg), NoOptimize: noOpt})
		if err != nil {
			t.Fatal(err)
		}
		kept := []*tensor.Tensor{nil, w[1], w[2], w[3]} // the caller keeps all but w1
		w = nil
		if !collected(freed[0]) {
			t.Errorf("NoOptimize %v: w1, read only by a packed MatMul, is still held after the model was dropped", noOpt)
		}
		y := matmul64(matmul64(float64s(x), vals[0], 3, 8, 6), vals[1], 3, 6, 6)
		z := make([]float64, 36)
		for i, v := range vals[1] {
			z[i] = 2 * v
		}
		want := map[string][]float64{"y": y, "z": z, "w3": vals[2], "b": matmul64(y, vals[3], 3, 6, 6)}
		for run := range 2 {
			out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
			if err != nil {
				t.Fatalf("NoOptimize %v, run %d: %v", noOpt, run, err)
			}
			for name, wv := range want {
				got := float64s(out[name])
				for i := range wv {
					if math.Abs(got[i]-wv[i]) > 1e-5*(1+math.Abs(wv[i])) {
						t.Fatalf("NoOptimize %v, run %d: %s[%d] = %v, want %v", noOpt, run, name, i, got[i], wv[i])
					}
				}
			}
			goruntime.GC()
		}
		for i, k := range kept {
			if k == nil {
				continue
			}
			for j, v := range float64s(k) {
				if v != vals[i][j] {
					t.Fatalf("the caller's initializer %d changed", i+1)
				}
			}
		}
		if noOpt {
			kept = nil // the session alone must keep w2, w3 and w4
			for range 3 {
				goruntime.GC()
			}
			time.Sleep(10 * time.Millisecond)
			for i, name := range []string{"w2", "w3", "w4"} {
				select {
				case <-freed[i+1]:
					t.Errorf("%s was collected while the session needs it", name)
				default:
				}
			}
			if _, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x}); err != nil {
				t.Fatalf("run after the model's tensors were let go: %v", err)
			}
		}
		goruntime.KeepAlive(s)
	}
}
