package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TestTallGemmChunks: a MatMul computed in column or row chunks (a
// cancellation check between them) equals one GEMM call bit for bit, and a
// float64 reference within rounding, whether the chunks divide the output
// or not.
func TestTallGemmChunks(t *testing.T) {
	defer func(v int) { checkFlops = v }(checkFlops)
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ m, n, k, flops int }{
		{1, 1000, 8, 1 << 10}, // column chunks of 256
		{3, 900, 40, 2 * 3 * 40 * 512},
		{200, 700, 16, 1 << 16}, // columns
		{1100, 24, 40, 1 << 10}, // row chunks of 512
		{2100, 24, 40, 2 * 24 * 40 * 640},
		{1024, 16, 8, 1 << 30}, // one GEMM
	} {
		m, n, k := c.m, c.n, c.k
		a, b := to32(randTensor(r, m, k)), to32(randTensor(r, k, n))
		ad, bd := tensor.Data[float32](a), tensor.Data[float32](b)
		for _, threads := range []int{1, 2, 3} {
			checkFlops = c.flops
			got := make([]float32, m*n)
			ctx := &ops.Ctx{Context: context.Background(), Threads: threads}
			if err := tallGemm(ctx, threads, m, n, k, ad, bd, got); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, m*n)
			gemm(threads, false, false, m, n, k, 1, ad, k, bd, n, 0, want, n)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%dx%dx%d threads=%d: y[%d] = %v chunked, %v in one GEMM", m, n, k, threads, i, got[i], want[i])
				}
			}
			for i := range m {
				for j := range n {
					var s float64
					for p := range k {
						s += float64(ad[i*k+p]) * float64(bd[p*n+j])
					}
					if math.Abs(s-float64(got[i*n+j])) > 1e-4*(1+math.Abs(s)) {
						t.Fatalf("%dx%dx%d: y[%d,%d] = %v, want %v", m, n, k, i, j, got[i*n+j], s)
					}
				}
			}
		}
	}
}

// TestChunks covers the chunk boundaries.
func TestChunks(t *testing.T) {
	for _, c := range []struct {
		total, step int
		want        string
	}{{10, 4, "[0,4)[4,10)"}, {12, 4, "[0,4)[4,8)[8,12)"}, {3, 4, "[0,3)"}, {0, 4, ""}} {
		got := ""
		chunks(&ops.Ctx{}, c.total, c.step, func(lo, hi int) { got += fmt.Sprintf("[%d,%d)", lo, hi) })
		if got != c.want {
			t.Errorf("chunks(%d, %d) = %s, want %s", c.total, c.step, got, c.want)
		}
	}
}

// TestMatMulHonoursCancel: a cancelled context stops a tall MatMul before
// its first chunk.
func TestMatMulHonoursCancel(t *testing.T) {
	defer func(v int) { checkFlops = v }(checkFlops)
	checkFlops = 1 << 16
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k, err := MatMul[len(MatMul)-1].Compile(&ops.Node{Opset: 13, Outputs: []string{"y"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Run(&ops.Ctx{Context: ctx, Threads: 1}, []*tensor.Tensor{tensor.Zeros(tensor.Float32, 2, 256, 64), tensor.Zeros(tensor.Float32, 64, 32)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
