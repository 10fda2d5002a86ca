package nn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TestTallGemmChunks: a tall MatMul computed in row chunks (a cancellation
// check between them) equals one GEMM call bit for bit, and a float64
// reference within rounding, for chunk counts that divide the rows or not.
func TestTallGemmChunks(t *testing.T) {
	defer func(v int) { checkFlops = v }(checkFlops)
	r := rand.New(rand.NewPCG(3, 4))
	const n, k = 24, 40
	for _, m := range []int{1, 511, 512, 513, 1100, 2100} {
		a, b := to32(randTensor(r, m, k)), to32(randTensor(r, k, n))
		ad, bd := tensor.Data[float32](a), tensor.Data[float32](b)
		for _, threads := range []int{1, 2, 3} {
			checkFlops = 2 * n * k * 4 * gemmMC // chunks of 512 rows
			got := make([]float32, m*n)
			c := &ops.Ctx{Context: context.Background(), Threads: threads}
			if err := tallGemm(c, threads, m, n, k, ad, bd, got); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, m*n)
			gemm(threads, false, false, m, n, k, 1, ad, k, bd, n, 0, want, n)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("m=%d threads=%d: y[%d] = %v chunked, %v in one GEMM", m, threads, i, got[i], want[i])
				}
			}
			for i := range m {
				for j := range n {
					var s float64
					for p := range k {
						s += float64(ad[i*k+p]) * float64(bd[p*n+j])
					}
					if math.Abs(s-float64(got[i*n+j])) > 1e-4*(1+math.Abs(s)) {
						t.Fatalf("m=%d: y[%d,%d] = %v, want %v", m, i, j, got[i*n+j], s)
					}
				}
			}
		}
	}
}

// TestMatMulHonoursCancel: a cancelled context stops a tall MatMul before
// its first chunk.
func TestMatMulHonoursCancel(t *testing.T) {
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
