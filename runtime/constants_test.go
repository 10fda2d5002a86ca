package runtime

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// probeRegistry has one op, Probe, that records the Constants its Compile
// sees (by node name) and, at run time, fails unless every input the
// runtime called constant is that very tensor. It returns its first input.
func probeRegistry(t *testing.T, seen map[string][]*tensor.Tensor) *ops.Registry {
	probe := &ops.Op{Type: "Probe", Since: 1, Doc: "test constants", Compile: func(n *ops.Node) (*ops.Kernel, error) {
		consts := n.Constants
		seen[n.Name] = consts
		if len(consts) != len(n.Inputs) {
			return nil, fmt.Errorf("%d constants for %d inputs", len(consts), len(n.Inputs))
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			for i, k := range consts {
				if k != nil && in[i] != k {
					return nil, fmt.Errorf("input %d is not the constant the runtime promised", i)
				}
			}
			return []*tensor.Tensor{in[0]}, nil
		}}, nil
	}}
	r, err := ops.NewRegistry([]*ops.Op{probe, branchOp()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNodeConstants checks which inputs Compile sees as constants:
// initializers, captures of them and sparse initializers are; graph inputs,
// node outputs and initializers that a graph input of the same name
// overrides (ONNX IR >= 4) are not.
func TestNodeConstants(t *testing.T) {
	w := tensor.Must([]int{2}, []float32{1, 2})
	over := tensor.Must([]int{2}, []float32{3, 4})
	inner := tensor.Must([]int{2}, []float32{5, 6})
	body := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{vi("bx", 2)},
		Nodes: []*ir.Node{
			{Name: "in", OpType: "Probe", Inputs: []string{"bx", "w", "over", "inner", "x", "p"}, Outputs: []string{"by"}},
		},
		Outputs:      []*ir.ValueInfo{vi("by", 2)},
		Initializers: []*ir.Initializer{{Name: "inner", T: inner}},
	}
	m := model([]*ir.Node{
		{Name: "p", OpType: "Probe", Inputs: []string{"x", "w", "over", "", "sp"}, Outputs: []string{"p"}},
		{Name: "q", OpType: "Probe", Inputs: []string{"p", "w"}, Outputs: []string{"q"}},
		{Name: "br", OpType: "Branch", Inputs: []string{"q"}, Outputs: []string{"y"},
			Attrs: []ops.Attr{{Name: "body", Type: ops.AttrGraph, G: body}}},
	}, []*ir.ValueInfo{vi("x", 2), vi("over", 2)}, []*ir.ValueInfo{vi("y", 2)},
		&ir.Initializer{Name: "w", T: w}, &ir.Initializer{Name: "over", T: over})
	m.Graph.Sparse = []*ir.SparseInitializer{{Name: "sp", SparseTensor: ops.SparseTensor{
		Values: tensor.Must([]int{1}, []float32{7}), Indices: tensor.Must([]int{1}, []int64{1}), Dims: []int64{2}}}}
	seen := map[string][]*tensor.Tensor{}
	s, err := NewSession(m, Options{Provider: NativeWith(probeRegistry(t, seen))})
	if err != nil {
		t.Fatal(err)
	}
	p := seen["p"]
	if len(p) != 5 || p[0] != nil || p[1] != w || p[2] != nil || p[3] != nil || p[4] == nil {
		t.Errorf("p: constants %v, want [nil w nil nil sparse]", p)
	} else if got := tensor.Data[float32](p[4]); got[0] != 0 || got[1] != 7 {
		t.Errorf("p: sparse constant %v, want [0 7]", got)
	}
	if q := seen["q"]; len(q) != 2 || q[0] != nil || q[1] != w {
		t.Errorf("q: constants %v, want [nil w] (a node output is not constant)", q)
	}
	if in := seen["in"]; len(in) != 6 || in[0] != nil || in[1] != w || in[2] != nil || in[3] != inner || in[4] != nil || in[5] != nil {
		t.Errorf("body: constants %v, want [nil w nil inner nil nil]", in)
	}
	x := tensor.Must([]int{2}, []float32{9, 9})
	for _, feeds := range []map[string]*tensor.Tensor{{"x": x}, {"x": x, "over": x}} {
		if _, err := s.Run(context.Background(), feeds); err != nil {
			t.Fatalf("feeds %v: %v", feeds, err)
		}
	}
}

// The tests below run products with float32 weight matrices through the
// native provider twice: with the weights as initializers (the kernels pack
// them at compile time) and fed as graph inputs (packed on every run). The
// two must agree exactly where the packed kernels sum in the same order,
// and both must match a float64 reference. The initializer the kernels
// pack (input 1) is a copy that is NaN-filled once the session is made, so
// a kernel that read it at run time instead of its packed copy gives NaN.

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return tensor.Must(shape, v)
}

func typed(name string, t *tensor.Tensor) *ir.ValueInfo {
	return &ir.ValueInfo{Name: name, Type: tensor.TensorType(t.DType(), t.Shape()...)}
}

// runConstVsFed builds one node y = op(x, weights...) and returns y with the
// weights as initializers and with them fed. With initializers, input 1
// (the weight matrix) is a copy NaN-filled after NewSession: only its
// packed copy holds the values.
func runConstVsFed(t *testing.T, n *ir.Node, opsets []ir.OpsetID, threads int, x *tensor.Tensor, weights map[string]*tensor.Tensor) (packed, fed *tensor.Tensor) {
	t.Helper()
	run := func(asInit bool) *tensor.Tensor {
		g := &ir.Graph{Name: "g", Nodes: []*ir.Node{n}, Inputs: []*ir.ValueInfo{typed("x", x)},
			Outputs: []*ir.ValueInfo{{Name: "y", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}}}}
		feeds := map[string]*tensor.Tensor{"x": x}
		var poison *tensor.Tensor
		for i, name := range n.Inputs[1:] {
			w := weights[name]
			if w == nil {
				continue
			}
			if asInit {
				if i == 0 {
					w = w.Clone()
					poison = w
				}
				g.Initializers = append(g.Initializers, &ir.Initializer{Name: name, T: w})
			} else {
				g.Inputs = append(g.Inputs, typed(name, w))
				feeds[name] = w
			}
		}
		m := &ir.Model{IRVersion: 8, Opsets: opsets, Graph: g}
		s, err := NewSession(m, Options{NoOptimize: true, IntraOpThreads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if poison != nil {
			for i, d := 0, tensor.Data[float32](poison); i < len(d); i++ {
				d[i] = float32(math.NaN())
			}
		}
		out, err := s.Run(context.Background(), feeds)
		if err != nil {
			t.Fatal(err)
		}
		return out["y"]
	}
	return run(true), run(false)
}

// sameValues fails unless got and want have one shape and equal values
// (tol 0), or differ by at most tol relative to scale (per element).
func sameValues(t *testing.T, what string, got, want *tensor.Tensor, tol float64, scale []float64) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	g, w := tensor.Data[float32](got), tensor.Data[float32](want)
	for i := range g {
		d := math.Abs(float64(g[i]) - float64(w[i]))
		lim := 0.0
		if tol > 0 {
			lim = tol * max(scale[i], 1e-30)
		}
		if !(d <= lim) {
			t.Fatalf("%s: element %d is %v, want %v (tolerance %g)", what, i, g[i], w[i], lim)
		}
	}
}

// refGemm is y[i][j] = alpha·sum_p a[i][p]·b[p][j] + c[i][j] in float64 on
// row-major op(A) (m x k) and op(B) (k x n) given by accessors; it also
// returns the scale of each element (the sum of magnitudes).
func refGemm(m, n, k int, alpha float64, a, b func(i, p int) float64, c func(i, j int) float64) (y, scale []float64) {
	y, scale = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			s, sa := 0.0, 0.0
			for p := range k {
				v := a(i, p) * b(p, j)
				s += v
				sa += math.Abs(v)
			}
			cv := c(i, j)
			y[i*n+j] = alpha*s + cv
			scale[i*n+j] = math.Abs(alpha)*sa + math.Abs(cv)
		}
	}
	return y, scale
}

// closeToRef fails unless got is within 1e-5 of ref relative to scale.
func closeToRef(t *testing.T, what string, got *tensor.Tensor, ref, scale []float64) {
	t.Helper()
	g := tensor.Data[float32](got)
	if len(g) != len(ref) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(ref))
	}
	for i, v := range g {
		if d := math.Abs(float64(v) - ref[i]); !(d <= 1e-5*scale[i]+1e-30) {
			t.Fatalf("%s: element %d is %v, reference %v", what, i, v, ref[i])
		}
	}
}

var edgeDims = [][3]int{ // m, k, n
	{1, 1, 1}, {2, 3, 5}, {3, 17, 15}, {5, 16, 16}, {7, 33, 47}, {13, 256, 48},
	{17, 257, 49}, {31, 300, 97}, {64, 64, 1025}, {129, 40, 33}, {130, 513, 64},
}

func at(v []float32, ld int, trans bool) func(i, p int) float64 {
	if trans {
		return func(i, p int) float64 { return float64(v[p*ld+i]) }
	}
	return func(i, p int) float64 { return float64(v[i*ld+p]) }
}

func TestPackedMatMulMatchesFed(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	opsets := []ir.OpsetID{{Version: 17}}
	for _, d := range edgeDims {
		m, k, n := d[0], d[1], d[2]
		for _, lead := range [][]int{nil, {2}, {2, 3}, {}} {
			xs := append(append([]int{}, lead...), m, k)
			if lead != nil && len(lead) == 0 {
				xs = []int{k} // a 1-D A
			}
			x, b := randTensor(r, xs...), randTensor(r, k, n)
			rows := x.Len() / k
			for _, threads := range []int{1, 3} {
				name := fmt.Sprintf("A%v_B%dx%d_t%d", xs, k, n, threads)
				node := &ir.Node{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "b"}, Outputs: []string{"y"}}
				packed, fed := runConstVsFed(t, node, opsets, threads, x, map[string]*tensor.Tensor{"b": b})
				ref, sc := refGemm(rows, n, k, 1, at(tensor.Data[float32](x), k, false), at(tensor.Data[float32](b), n, false), func(int, int) float64 { return 0 })
				closeToRef(t, name, packed, ref, sc)
				if rows <= 2 && n < 16 {
					// Matrix-vector products narrower than the 16-column
					// vector kernel sum in Go on B as stored (a rounding
					// per multiply and add), with fused multiply-adds on
					// the packed panels.
					sameValues(t, name, packed, fed, 1e-6, sc)
					continue
				}
				sameValues(t, name, packed, fed, 0, nil)
			}
		}
	}
}

func TestPackedGemmMatchesFed(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	opsets := []ir.OpsetID{{Version: 13}}
	for _, d := range edgeDims {
		m, k, n := d[0], d[1], d[2]
		for ci, cShape := range [][]int{nil, {n}, {1, n}, {m, 1}, {m, n}, {}, {1}} {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				alpha, beta := float32(1), float32(1)
				if ci%2 == 1 {
					alpha, beta = 0.5, -2
				}
				xs, bs := []int{m, k}, []int{k, n}
				if tr[0] {
					xs = []int{k, m}
				}
				if tr[1] {
					bs = []int{n, k}
				}
				x, b := randTensor(r, xs...), randTensor(r, bs...)
				weights := map[string]*tensor.Tensor{"b": b}
				inputs := []string{"x", "b"}
				cv := func(int, int) float64 { return 0 }
				if cShape != nil {
					ct := randTensor(r, cShape...)
					weights["c"] = ct
					inputs = append(inputs, "c")
					cd, cst := tensor.Data[float32](ct), tensor.Strides(append(make([]int, 2-len(cShape)), cShape...))
					bc := append([]int{1, 1}[:2-len(cShape)], cShape...)
					cv = func(i, j int) float64 {
						if bc[0] == 1 {
							i = 0
						}
						if bc[1] == 1 {
							j = 0
						}
						return float64(beta) * float64(cd[i*cst[0]+j*cst[1]])
					}
				}
				node := &ir.Node{Name: "gemm", OpType: "Gemm", Inputs: inputs, Outputs: []string{"y"}, Attrs: []ops.Attr{
					{Name: "alpha", Type: ops.AttrFloat, F: alpha}, {Name: "beta", Type: ops.AttrFloat, F: beta},
					{Name: "transA", Type: ops.AttrInt, I: b2i(tr[0])}, {Name: "transB", Type: ops.AttrInt, I: b2i(tr[1])}}}
				name := fmt.Sprintf("m%d_k%d_n%d_C%v_trans%v", m, k, n, cShape, tr)
				packed, fed := runConstVsFed(t, node, opsets, 2, x, weights)
				ref, sc := refGemm(m, n, k, float64(alpha), at(tensor.Data[float32](x), xs[1], tr[0]), at(tensor.Data[float32](b), bs[1], tr[1]), cv)
				// The epilogue adds a row or column C after the whole sum
				// rather than before the first k block: equal to rounding.
				sameValues(t, name, packed, fed, 1e-6, sc)
				closeToRef(t, name, packed, ref, sc)
			}
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestPackedFusedMatMulMatchesFed(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	opsets := []ir.OpsetID{{Version: 17}, {Domain: "com.microsoft", Version: 1}}
	for _, d := range edgeDims[:8] {
		m, k, n := d[0], d[1], d[2]
		for _, opA := range [][]int{{k}, {m, k}, {2, m, k}, {3, 2, m, k}} {
			for _, tr := range [][3]bool{{false, false, false}, {true, false, false}, {false, true, false}, {true, true, true}} {
				transA, transB, transBatchA := tr[0], tr[1], tr[2]
				xs := storedShape(opA, transBatchA, transA)
				bs := []int{k, n}
				if transB {
					bs = []int{n, k}
				}
				x, b := randTensor(r, xs...), randTensor(r, bs...)
				node := &ir.Node{Name: "fmm", OpType: "FusedMatMul", Domain: "com.microsoft", Inputs: []string{"x", "b"}, Outputs: []string{"y"}, Attrs: []ops.Attr{
					{Name: "alpha", Type: ops.AttrFloat, F: 0.25},
					{Name: "transA", Type: ops.AttrInt, I: b2i(transA)}, {Name: "transB", Type: ops.AttrInt, I: b2i(transB)},
					{Name: "transBatchA", Type: ops.AttrInt, I: b2i(transBatchA)}}}
				name := fmt.Sprintf("A%v_B%v_trans%v", xs, bs, tr)
				packed, fed := runConstVsFed(t, node, opsets, 2, x, map[string]*tensor.Tensor{"b": b})
				// The packed kernel runs the batches of A as one tall
				// product, the other one product per batch (matrix-vector
				// products for one or two rows): equal to rounding.
				av := opValues(tensor.Data[float32](x), xs, opA, transBatchA, transA)
				ref, sc := refGemm(len(av)/k, n, k, 0.25, at(av, k, false), at(tensor.Data[float32](b), bs[1], transB), func(int, int) float64 { return 0 })
				sameValues(t, name, packed, fed, 1e-6, sc)
				closeToRef(t, name, packed, ref, sc)
			}
		}
	}
}

// fusedPerm is FusedMatMul's op on an operand of rank r >= 2, written
// out independently of the kernel: op's dimension i is stored dimension
// perm[i] (perm [1, ..., r-2, 0, r-1] with transBatch, then the last two
// swapped with trans).
func fusedPerm(r int, transBatch, trans bool) []int {
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	if transBatch && r >= 3 {
		for i := 0; i < r-2; i++ {
			perm[i] = i + 1
		}
		perm[r-2] = 0
	}
	if trans {
		perm[r-2], perm[r-1] = perm[r-1], perm[r-2]
	}
	return perm
}

// storedShape is the shape of an operand that op turns into shape op.
func storedShape(op []int, transBatch, trans bool) []int {
	if len(op) < 2 {
		return op
	}
	sh := make([]int, len(op))
	for i, p := range fusedPerm(len(op), transBatch, trans) {
		sh[p] = op[i]
	}
	return sh
}

// opValues returns op(X), of shape op, as a contiguous slice; x is stored
// with shape xs = storedShape(op, transBatch, trans).
func opValues(x []float32, xs, op []int, transBatch, trans bool) []float32 {
	r := len(op)
	if r < 2 {
		return x
	}
	st, perm := tensor.Strides(xs), fusedPerm(r, transBatch, trans)
	out := make([]float32, len(x))
	idx := make([]int, r)
	for e := range out {
		off := 0
		for i, v := range idx {
			off += v * st[perm[i]]
		}
		out[e] = x[off]
		for d := r - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < op[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

func TestPackedAttentionMatchesFed(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	opsets := []ir.OpsetID{{Version: 17}, {Domain: "com.microsoft", Version: 1}}
	for _, d := range [][4]int{{1, 1, 8, 2}, {2, 5, 12, 3}, {1, 130, 64, 4}, {3, 17, 48, 2}} {
		bsz, s, din, heads := d[0], d[1], d[2], d[3]
		for _, withBias := range []bool{false, true} {
			x, w := randTensor(r, bsz, s, din), randTensor(r, din, 3*din)
			weights := map[string]*tensor.Tensor{"w": w}
			inputs := []string{"x", "w", ""}
			if withBias {
				weights["bias"] = randTensor(r, 3*din)
				inputs[2] = "bias"
			}
			node := &ir.Node{Name: "att", OpType: "Attention", Domain: "com.microsoft", Inputs: inputs, Outputs: []string{"y"},
				Attrs: []ops.Attr{{Name: "num_heads", Type: ops.AttrInt, I: int64(heads)}}}
			for _, threads := range []int{1, 2} {
				name := fmt.Sprintf("B%d_S%d_D%d_bias%v_t%d", bsz, s, din, withBias, threads)
				packed, fed := runConstVsFed(t, node, opsets, threads, x, weights)
				sameValues(t, name, packed, fed, 0, nil)
			}
		}
	}
}

// TestOverriddenInitializerIsNotPacked feeds a graph input that shares its
// name with an initializer (ONNX IR >= 4): the product must use the fed
// value, and the initializer when nothing is fed.
func TestOverriddenInitializerIsNotPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x, b, fed := randTensor(r, 4, 8), randTensor(r, 8, 3), randTensor(r, 8, 3)
	for _, op := range []string{"MatMul", "Gemm"} {
		g := &ir.Graph{Name: "g",
			Nodes:        []*ir.Node{{Name: "mm", OpType: op, Inputs: []string{"x", "b"}, Outputs: []string{"y"}}},
			Inputs:       []*ir.ValueInfo{typed("x", x), typed("b", b)},
			Outputs:      []*ir.ValueInfo{{Name: "y", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}}},
			Initializers: []*ir.Initializer{{Name: "b", T: b}}}
		s, err := NewSession(&ir.Model{IRVersion: 8, Opsets: []ir.OpsetID{{Version: 17}}, Graph: g}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, bv := range []*tensor.Tensor{nil, fed, b, fed} {
			feeds := map[string]*tensor.Tensor{"x": x}
			want := b
			if bv != nil {
				feeds["b"], want = bv, bv
			}
			out, err := s.Run(context.Background(), feeds)
			if err != nil {
				t.Fatal(err)
			}
			ref, sc := refGemm(4, 3, 8, 1, at(tensor.Data[float32](x), 8, false), at(tensor.Data[float32](want), 3, false), func(int, int) float64 { return 0 })
			closeToRef(t, fmt.Sprintf("%s fed %v", op, bv != nil), out["y"], ref, sc)
		}
	}
}

// TestPackedConcurrentRuns shares one session, and so one packed weight,
// between goroutines (run it with -race).
func TestPackedConcurrentRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	b := randTensor(r, 40, 70)
	g := &ir.Graph{Name: "g",
		Nodes:        []*ir.Node{{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "b"}, Outputs: []string{"y"}}},
		Inputs:       []*ir.ValueInfo{vi("x", 3, 40)},
		Outputs:      []*ir.ValueInfo{vi("y", 3, 70)},
		Initializers: []*ir.Initializer{{Name: "b", T: b}}}
	s, err := NewSession(&ir.Model{IRVersion: 8, Opsets: []ir.OpsetID{{Version: 17}}, Graph: g}, Options{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	xs := make([]*tensor.Tensor, 8)
	for i := range xs {
		xs[i] = randTensor(r, 3, 40)
	}
	errs := make(chan error, len(xs))
	for _, x := range xs {
		go func() {
			for range 20 {
				out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
				if err != nil {
					errs <- err
					return
				}
				ref, sc := refGemm(3, 70, 40, 1, at(tensor.Data[float32](x), 40, false), at(tensor.Data[float32](b), 70, false), func(int, int) float64 { return 0 })
				y := tensor.Data[float32](out["y"])
				for i, v := range y {
					if math.Abs(float64(v)-ref[i]) > 1e-5*sc[i] {
						errs <- fmt.Errorf("y[%d] = %v, reference %v", i, v, ref[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range xs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
