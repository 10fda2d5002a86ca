package elementwise

import (
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func benchOp(b *testing.B, typ string, opset int, attrs []ops.Attr, in ...*tensor.Tensor) {
	k, err := compile(b, typ, opset, attrs)
	if err != nil {
		b.Fatal(err)
	}
	c := &ops.Ctx{Threads: 1}
	n := in[0].Len()
	b.SetBytes(int64(4 * n))
	b.ResetTimer()
	for range b.N {
		if _, err := k.Run(c, in); err != nil {
			b.Fatal(err)
		}
	}
}

// 1M float32 elements: (1024, 1024).
func BenchmarkAddSame1M(b *testing.B) {
	benchOp(b, "Add", 14, nil, seq([]int{1024, 1024}, 0), seq([]int{1024, 1024}, 1))
}
func BenchmarkAddBias1M(b *testing.B) {
	benchOp(b, "Add", 14, nil, seq([]int{1024, 1024}, 0), seq([]int{1024}, 1))
}
func BenchmarkAddColumn1M(b *testing.B) {
	benchOp(b, "Add", 14, nil, seq([]int{1024, 1024}, 0), seq([]int{1024, 1}, 1))
}
func BenchmarkMulScalar1M(b *testing.B) {
	benchOp(b, "Mul", 14, nil, seq([]int{1024, 1024}, 0), seq(nil, 2))
}
func BenchmarkExp1M(b *testing.B) { benchOp(b, "Exp", 13, nil, seq([]int{1024, 1024}, 0)) }
func BenchmarkLess1M(b *testing.B) {
	benchOp(b, "Less", 13, nil, seq([]int{1024, 1024}, 0), seq([]int{1024}, 1))
}
func BenchmarkWhere1M(b *testing.B) {
	cond := tensor.Zeros(tensor.Bool, 1024, 1024)
	benchOp(b, "Where", 16, nil, cond, seq([]int{1024, 1024}, 0), seq(nil, 1))
}
func BenchmarkCastF32ToF16_1M(b *testing.B) {
	benchOp(b, "Cast", 21, []ops.Attr{intAttr("to", int64(tensor.Float16))}, seq([]int{1024, 1024}, 0))
}
