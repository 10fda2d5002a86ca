package nn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// BenchmarkMatMulConstB times MatMul with B a constant packed at compile
// time against the same B as a run-time input (packed on every call), at
// bert-base's shapes (seq 128) and a single-token row.
func BenchmarkMatMulConstB(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, d := range [][3]int{{128, 768, 768}, {128, 768, 2304}, {128, 768, 3072}, {128, 3072, 768}, {1, 768, 3072}} {
		m, k, n := d[0], d[1], d[2]
		x, w := to32(randTensor(r, m, k)), to32(randTensor(r, k, n))
		for _, threads := range []int{1, 2} {
			for _, packed := range []bool{false, true} {
				node := &ops.Node{Opset: 13, Outputs: []string{"y"}}
				if packed {
					node.Constants = []*tensor.Tensor{nil, w}
				}
				kern, err := MatMul[len(MatMul)-1].Compile(node)
				if err != nil {
					b.Fatal(err)
				}
				c := &ops.Ctx{Context: context.Background(), Threads: threads}
				b.Run(fmt.Sprintf("%dx%dx%d/threads=%d/packed=%v", m, k, n, threads, packed), func(b *testing.B) {
					for b.Loop() {
						if _, err := kern.Run(c, []*tensor.Tensor{x, w}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
