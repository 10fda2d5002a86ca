package nn

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func benchConv(b *testing.B, x, w []int, attrs []ops.Attr, threads int) {
	r := rand.New(rand.NewPCG(1, 1))
	xt, wt := to32(randTensor(r, x...)), to32(randTensor(r, w...))
	k, err := Conv[len(Conv)-1].Compile(&ops.Node{Attrs: attrs, Outputs: []string{"y"}})
	if err != nil {
		b.Fatal(err)
	}
	c := &ops.Ctx{Context: context.Background(), Threads: threads}
	for b.Loop() {
		if _, err := k.Run(c, []*tensor.Tensor{xt, wt}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConvResNet3x3(b *testing.B) {
	benchConv(b, []int{1, 64, 56, 56}, []int{64, 64, 3, 3}, []ops.Attr{ints("pads", 1, 1, 1, 1)}, 2)
}

func BenchmarkConvDepthwise3x3(b *testing.B) {
	benchConv(b, []int{1, 32, 112, 112}, []int{32, 1, 3, 3}, []ops.Attr{ints("pads", 1, 1, 1, 1), intAttr("group", 32)}, 2)
}

func BenchmarkMatMulBert(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, w := to32(randTensor(r, 8, 128, 768)), to32(randTensor(r, 768, 768))
	c := &ops.Ctx{Context: context.Background(), Threads: 2}
	for b.Loop() {
		if _, err := runMatMul(c, []*tensor.Tensor{x, w}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSgemmBert(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const m, n, k = 1024, 768, 768
	x, y, z := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	for _, threads := range []int{1, 2} {
		b.Run(map[int]string{1: "t1", 2: "t2"}[threads], func(b *testing.B) {
			b.SetBytes(2 * m * n * k)
			for b.Loop() {
				SgemmThreads(threads, false, false, m, n, k, 1, x, k, y, n, 0, z, n)
			}
		})
	}
}
