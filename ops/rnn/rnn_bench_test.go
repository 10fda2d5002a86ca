package rnn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

// BenchmarkLSTM runs a forward LSTM of seq S, batch B, input I, hidden H.
func BenchmarkLSTM(b *testing.B) {
	for _, sz := range []struct{ S, B, I, H int }{{50, 1, 128, 128}, {50, 32, 128, 256}} {
		b.Run(fmt.Sprintf("S%dB%dI%dH%d", sz.S, sz.B, sz.I, sz.H), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			f := func(shape ...int) *tensor.Tensor {
				t := tensor.Zeros(tensor.Float32, shape...)
				for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
					d[i] = float32(r.Float64()-0.5) * 0.2
				}
				return t
			}
			in := []*tensor.Tensor{f(sz.S, sz.B, sz.I), f(1, 4*sz.H, sz.I), f(1, 4*sz.H, sz.H), f(1, 8*sz.H)}
			reg, _ := ops.NewRegistry(Ops())
			op, _ := reg.Lookup("", "LSTM", 22)
			k, err := op.Compile(&ops.Node{OpType: "LSTM", Opset: 22, Attrs: []ops.Attr{optest.Int("hidden_size", int64(sz.H))}, Outputs: []string{"Y", "Y_h"}})
			if err != nil {
				b.Fatal(err)
			}
			c := &ops.Ctx{Threads: 4}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := k.Run(c, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
