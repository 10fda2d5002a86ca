package nn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/tensor"
)

// TestTallPackedChunks: a product with a packed B, run in row chunks (a
// cancellation check between them) or in one call, equals the GEMM that
// packs B itself bit for bit, with and without a row bias epilogue.
func TestTallPackedChunks(t *testing.T) {
	defer func(v int) { checkFlops = v }(checkFlops)
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct{ m, n, k, flops int }{
		{1, 100, 8, 1 << 10},
		{2, 33, 300, 1 << 10},  // matrix-vector products on B
		{300, 70, 40, 1 << 10}, // row chunks of gemmMC, the last one longer
		{1100, 24, 40, 2 * 24 * 40 * 640},
		{1024, 17, 8, 1 << 30}, // one call
	} {
		m, n, k := c.m, c.n, c.k
		ad, bd := tensor.Data[float32](to32(randTensor(r, m, k))), tensor.Data[float32](to32(randTensor(r, k, n)))
		rb := tensor.Data[float32](to32(randTensor(r, m)))
		pb := linalg.PackB(false, k, n, bd, n)
		for _, threads := range []int{1, 2, 3} {
			for _, ep := range []linalg.Epilogue{{}, {RowBias: rb}} {
				checkFlops = c.flops
				got := make([]float32, m*n)
				ctx := &ops.Ctx{Context: context.Background(), Threads: threads}
				if err := TallPacked(ctx, m, 0.5, ad, pb, got, ep); err != nil {
					t.Fatal(err)
				}
				want := make([]float32, m*n)
				linalg.SgemmEx(false, false, m, n, k, 0.5, ad, k, bd, n, 0, want, n, ep, poolFor(threads))
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%dx%dx%d threads=%d bias=%v: y[%d] = %v packed, %v unpacked", m, n, k, threads, ep.RowBias != nil, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestPackConst: only constant, non-empty, 2-D float32 inputs are packed,
// and the packed matrix serves only that very tensor.
func TestPackConst(t *testing.T) {
	w := tensor.Zeros(tensor.Float32, 3, 4)
	for _, c := range []struct {
		consts []*tensor.Tensor
		ok     bool
	}{
		{nil, false},
		{[]*tensor.Tensor{nil, nil}, false},
		{[]*tensor.Tensor{nil, w}, true},
		{[]*tensor.Tensor{nil, tensor.Zeros(tensor.Float64, 3, 4)}, false},
		{[]*tensor.Tensor{nil, tensor.Zeros(tensor.Float32, 2, 3, 4)}, false},
		{[]*tensor.Tensor{nil, tensor.Zeros(tensor.Float32, 0, 4)}, false},
	} {
		pc := PackConst(&ops.Node{Constants: c.consts}, 1, true)
		if (pc != nil) != c.ok {
			t.Errorf("constants %v: packed %v, want %v", c.consts, pc != nil, c.ok)
			continue
		}
		if pc == nil {
			continue
		}
		if pb := pc.For(w); pb == nil || pb.K() != 4 || pb.N() != 3 {
			t.Errorf("For(w) = %v, want op(B) = wᵀ, 4 x 3", pb)
		}
		if pc.For(w.Clone()) != nil {
			t.Errorf("For(copy of w) is not nil: a packed B must serve only its own tensor")
		}
	}
}

// TestPackedMatMulHonoursCancel: a cancelled context stops a tall MatMul
// with a packed B before its first chunk.
func TestPackedMatMulHonoursCancel(t *testing.T) {
	defer func(v int) { checkFlops = v }(checkFlops)
	checkFlops = 1 << 16
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := tensor.Zeros(tensor.Float32, 64, 32)
	k, err := MatMul[len(MatMul)-1].Compile(&ops.Node{Opset: 13, Outputs: []string{"y"}, Constants: []*tensor.Tensor{nil, b}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Run(&ops.Ctx{Context: ctx, Threads: 1}, []*tensor.Tensor{tensor.Zeros(tensor.Float32, 2, 256, 64), b})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestPrecomputedInputs: MatMul and Gemm with a constant float32 B list it
// in Kernel.Precomputed and give the same result with B passed as nil (as
// the runtime does), with B itself, and compute with any other tensor
// passed there; the product is checked against a float64 reference. A
// float64 A with B left out fails with an error, not a panic; without a
// constant nothing is listed.
func TestPrecomputedInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const m, k, n = 5, 40, 24
	a, b, c := to32(randTensor(r, m, k)), to32(randTensor(r, k, n)), to32(randTensor(r, n))
	other := to32(randTensor(r, k, n))
	ref := func(b *tensor.Tensor, bias bool) []float64 {
		ad, bd, cd := tensor.Data[float32](a), tensor.Data[float32](b), tensor.Data[float32](c)
		y := make([]float64, m*n)
		for i := range m {
			for j := range n {
				for p := range k {
					y[i*n+j] += float64(ad[i*k+p]) * float64(bd[p*n+j])
				}
				if bias {
					y[i*n+j] += float64(cd[j])
				}
			}
		}
		return y
	}
	for _, op := range []struct {
		name string
		op   []*ops.Op
		in   []*tensor.Tensor // B is in[1]
	}{
		{"MatMul", MatMul, []*tensor.Tensor{a, b}},
		{"Gemm", Gemm, []*tensor.Tensor{a, b, c}},
	} {
		kern, err := op.op[len(op.op)-1].Compile(&ops.Node{Opset: 13, Outputs: []string{"y"}, Constants: []*tensor.Tensor{nil, b, nil}[:len(op.in)]})
		if err != nil {
			t.Fatal(err)
		}
		if len(kern.Precomputed) != 1 || kern.Precomputed[0] != 1 {
			t.Fatalf("%s: Precomputed = %v, want [1]", op.name, kern.Precomputed)
		}
		for _, bIn := range []*tensor.Tensor{nil, b, other} {
			in := append([]*tensor.Tensor{}, op.in...)
			in[1] = bIn
			out, err := kern.Run(&ops.Ctx{Context: context.Background(), Threads: 2}, in)
			if err != nil {
				t.Fatalf("%s with B %p: %v", op.name, bIn, err)
			}
			want := ref(b, len(in) > 2)
			if bIn == other {
				want = ref(other, len(in) > 2)
			}
			got := tensor.Data[float32](out[0])
			if !tensor.SameShape(out[0].Shape(), []int{m, n}) {
				t.Fatalf("%s: shape %v, want [%d %d]", op.name, out[0].Shape(), m, n)
			}
			for i := range want {
				if math.Abs(float64(got[i])-want[i]) > 1e-4*(1+math.Abs(want[i])) {
					t.Fatalf("%s with B %p: y[%d] = %v, want %v", op.name, bIn, i, got[i], want[i])
				}
			}
		}
		in := append([]*tensor.Tensor{}, op.in...)
		in[0], in[1] = tensor.Zeros(tensor.Float64, m, k), nil
		if _, err := kern.Run(&ops.Ctx{Context: context.Background(), Threads: 1}, in); err == nil {
			t.Errorf("%s: float64 A with the float32 B left out ran", op.name)
		}
		plain, err := op.op[len(op.op)-1].Compile(&ops.Node{Opset: 13, Outputs: []string{"y"}})
		if err != nil {
			t.Fatal(err)
		}
		if plain.Precomputed != nil {
			t.Errorf("%s without constants: Precomputed = %v", op.name, plain.Precomputed)
		}
	}
}

// TestPackConstKeepsNoMatrix: a PackedConst does not keep the tensor it
// packed alive (the runtime may drop it), and still serves only that
// tensor while it lives.
func TestPackConstKeepsNoMatrix(t *testing.T) {
	w := tensor.Zeros(tensor.Float32, 64, 64)
	freed := make(chan struct{})
	runtime.AddCleanup(w, func(ch chan struct{}) { close(ch) }, freed)
	pc := PackConst(&ops.Node{Constants: []*tensor.Tensor{nil, w}}, 1, false)
	if pc.For(w) == nil || pc.For(w.Clone()) != nil {
		t.Fatal("For serves another tensor than the packed one, or not the packed one")
	}
	if pc.For(nil).HoldsB() {
		t.Skip("this CPU's kernel runs matrix-vector products on B itself, so the PackedB keeps it")
	}
	w = nil
	for range 20 {
		runtime.GC()
		select {
		case <-freed:
			if pc.For(nil) == nil {
				t.Fatal("For(nil) after the matrix was freed is nil")
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("the packed matrix was not freed: PackedConst (or its PackedB) keeps it")
}
