package shape

import (
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func benchCall(b *testing.B, k call) {
	b.Helper()
	if _, err := k.run(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransposeHeads is BERT's (B, T, H, D) -> (B, H, T, D) at B=8, T=128, H=12, D=64.
func BenchmarkTransposeHeads(b *testing.B) {
	benchCall(b, call{op: "Transpose", attrs: []ops.Attr{ints("perm", 0, 2, 1, 3)}, in: []*tensor.Tensor{iota32(8, 128, 12, 64)}})
}

// BenchmarkTransposeLast is a (B, T, C) -> (B, C, T) transpose at 8x128x768 (element-wise strides).
func BenchmarkTransposeLast(b *testing.B) {
	benchCall(b, call{op: "Transpose", attrs: []ops.Attr{ints("perm", 0, 2, 1)}, in: []*tensor.Tensor{iota32(8, 128, 768)}})
}

// BenchmarkGatherEmbedding looks up 1024 rows of a 30522x768 table.
func BenchmarkGatherEmbedding(b *testing.B) {
	idx := make([]int64, 1024)
	for i := range idx {
		idx[i] = int64(i * 29)
	}
	benchCall(b, call{op: "Gather", in: []*tensor.Tensor{iota32(30522, 768), tensor.Must([]int{8, 128}, idx)}})
}
