package nn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

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
