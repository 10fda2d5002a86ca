package activation

import (
	"math"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func benchOp(b *testing.B, list []*ops.Op, attrs []ops.Attr, threads int, shape ...int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)) * 4)
	}
	op := list[len(list)-1]
	k, err := op.Compile(&ops.Node{OpType: op.Type, Opset: op.Since, Attrs: attrs})
	if err != nil {
		b.Fatal(err)
	}
	in := []*tensor.Tensor{tensor.Must(shape, x)}
	c := &ops.Ctx{Threads: threads}
	b.SetBytes(int64(4 * n))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.Run(c, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSoftmaxRows1024x1024(b *testing.B)   { benchOp(b, Softmax, nil, 1, 1024, 1024) }
func BenchmarkSoftmaxRows1024x1024T8(b *testing.B) { benchOp(b, Softmax, nil, 8, 1024, 1024) }
func BenchmarkSoftmaxAxis0_1024x1024(b *testing.B) {
	benchOp(b, Softmax, []ops.Attr{{Name: "axis", Type: ops.AttrInt, I: 0}}, 1, 1024, 1024)
}
func BenchmarkGelu1M(b *testing.B)    { benchOp(b, Gelu, nil, 1, 1<<20) }
func BenchmarkGelu1MT8(b *testing.B)  { benchOp(b, Gelu, nil, 8, 1<<20) }
func BenchmarkRelu1M(b *testing.B)    { benchOp(b, Relu, nil, 1, 1<<20) }
func BenchmarkSigmoid1M(b *testing.B) { benchOp(b, Sigmoid, nil, 1, 1<<20) }
