package attention

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// BenchmarkAttention runs causal self-attention on (1, 12, S, 64), the
// shape of a BERT/GPT-2-base layer, at several sequence lengths.
func BenchmarkAttention(b *testing.B) {
	for _, s := range []int{128, 512} {
		b.Run(fmt.Sprintf("B1H12S%dD64", s), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			q, k, v := randT(r, 1, 12, s, 64), randT(r, 1, 12, s, 64), randT(r, 1, 12, s, 64)
			reg, _ := ops.NewRegistry(Ops())
			schema, _ := reg.Lookup("", "Attention", 23)
			kern, err := schema.Compile(&ops.Node{OpType: "Attention", Opset: 23, Outputs: []string{"y"},
				Attrs: []ops.Attr{ints("is_causal", 1)}})
			if err != nil {
				b.Fatal(err)
			}
			c := &ops.Ctx{Threads: 1}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := kern.Run(c, []*tensor.Tensor{q, k, v}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(2*2*12*s*s*64)/float64(b.Elapsed().Seconds())*float64(b.N)/1e9, "GFLOP/s")
		})
	}
}
