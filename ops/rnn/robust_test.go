package rnn

import (
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TestRandomInputsNoPanic runs every schema on random, mostly inconsistent
// inputs and attributes: kernels must return errors, never panic.
func TestRandomInputsNoPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	dims := func() []int {
		s := make([]int, r.IntN(4)+1)
		for i := range s {
			s[i] = r.IntN(4)
		}
		return s
	}
	for _, op := range Ops() {
		for trial := 0; trial < 300; trial++ {
			attrs := []ops.Attr{
				{Name: "hidden_size", Type: ops.AttrInt, I: int64(r.IntN(4))},
				{Name: "layout", Type: ops.AttrInt, I: int64(r.IntN(2))},
				{Name: "direction", Type: ops.AttrString, S: []byte([]string{"forward", "reverse", "bidirectional"}[r.IntN(3)])},
			}
			n := &ops.Node{OpType: op.Type, Opset: op.Since, Attrs: attrs, Outputs: []string{"Y", "Y_h", "Y_c"}[:r.IntN(3)+1]}
			k, err := op.Compile(n)
			if err != nil {
				continue
			}
			// Mostly consistent shapes, with one of them replaced at random.
			S, B, I, H, D := r.IntN(3), r.IntN(3), r.IntN(3), r.IntN(3)+1, 1+r.IntN(2)
			G := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[op.Type]
			shapes := [][]int{{S, B, I}, {D, G * H, I}, {D, G * H, H}, {D, 2 * G * H}, {B}, {D, B, H}, {D, B, H}, {D, 3 * H}}
			shapes[r.IntN(len(shapes))] = dims()
			in := make([]*tensor.Tensor, 3+r.IntN(6))
			for i := range in {
				if i >= 3 && r.IntN(3) == 0 {
					continue
				}
				if i == 4 {
					l := make([]int32, max(B, 1))
					for j := range l {
						l[j] = int32(r.IntN(5) - 1)
					}
					in[i] = tensor.Must([]int{len(l)}, l)
					continue
				}
				in[i] = tensor.Zeros(tensor.Float32, shapes[i]...)
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s-%d panicked on %v: %v", op.Type, op.Since, in, p)
					}
				}()
				k.Run(&ops.Ctx{Threads: 1}, in)
			}()
		}
	}
}
