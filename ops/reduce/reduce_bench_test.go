package reduce

import (
	"math"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func benchReduce(b *testing.B, list []*ops.Op, axes []int64, threads int, shape ...int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	op := list[len(list)-1]
	k, err := op.Compile(&ops.Node{OpType: op.Type, Opset: op.Since})
	if err != nil {
		b.Fatal(err)
	}
	in := []*tensor.Tensor{tensor.Must(shape, x), tensor.Must([]int{len(axes)}, axes)}
	if op.Type == "TopK" || op.Type == "CumSum" {
		in[1] = tensor.Must([]int{1}, axes)
	}
	if op.Type == "ArgMax" {
		in = in[:1]
	}
	c := &ops.Ctx{Threads: threads}
	b.SetBytes(int64(4 * n))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.Run(c, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReduceMeanLast1024x1024(b *testing.B) {
	benchReduce(b, ReduceMean, []int64{-1}, 1, 1024, 1024)
}
func BenchmarkReduceMeanLast1024x1024T8(b *testing.B) {
	benchReduce(b, ReduceMean, []int64{-1}, 8, 1024, 1024)
}
func BenchmarkReduceSumFirst1024x1024(b *testing.B) {
	benchReduce(b, ReduceSum, []int64{0}, 1, 1024, 1024)
}
func BenchmarkReduceMaxMid64x256x64(b *testing.B) {
	benchReduce(b, ReduceMax, []int64{1}, 1, 64, 256, 64)
}
func BenchmarkReduceLSELast1024x1024(b *testing.B) {
	benchReduce(b, ReduceLogSumExp, []int64{-1}, 1, 1024, 1024)
}
func BenchmarkTopK64x50000k50(b *testing.B) { benchReduce(b, TopK, []int64{50}, 1, 64, 50000) }
func BenchmarkCumSum1024x1024(b *testing.B) { benchReduce(b, CumSum, []int64{1}, 1, 1024, 1024) }
func BenchmarkArgMax1024x1024(b *testing.B) { benchReduce(b, ArgMax, nil, 1, 1024, 1024) }
