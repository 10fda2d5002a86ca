package floatio_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/attention"
	"github.com/gort-ml/gort/ops/loss"
	"github.com/gort-ml/gort/ops/norm"
	"github.com/gort-ml/gort/tensor"
)

// randomInput is a tensor of a random small shape (dimensions 0 to 4, rank
// 0 to 4; base, when not nil, half the time) and one of a few dtypes, or nil.
func randomInput(r *rand.Rand, base []int) *tensor.Tensor {
	if r.IntN(8) == 0 {
		return nil
	}
	shape := make([]int, r.IntN(5))
	for i := range shape {
		shape[i] = r.IntN(5)
	}
	if base != nil && r.IntN(2) == 0 {
		shape = base[r.IntN(len(base)):]
	}
	switch r.IntN(6) {
	case 0:
		t, _ := tensor.New(tensor.Int64, shape...)
		d := tensor.Data[int64](t)
		for i := range d {
			d[i] = int64(r.IntN(7) - 3)
		}
		return t
	case 1:
		t, _ := tensor.New(tensor.Bool, shape...)
		return t
	case 2:
		t, _ := tensor.New(tensor.Float16, shape...)
		return t
	}
	t, _ := tensor.New(tensor.Float32, shape...)
	d := tensor.Data[float32](t)
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return t
}

// TestRandomInputsNoPanic runs every schema of the families that compute
// through floatio (norm, attention, loss) on random,
// mostly malformed inputs: kernels must return errors, never panic.
func TestRandomInputsNoPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	attrSets := [][]ops.Attr{
		nil,
		{{Name: "axis", Type: ops.AttrInt, I: 1}, {Name: "num_groups", Type: ops.AttrInt, I: 2}, {Name: "size", Type: ops.AttrInt, I: 3},
			{Name: "q_num_heads", Type: ops.AttrInt, I: 2}, {Name: "kv_num_heads", Type: ops.AttrInt, I: 1}, {Name: "num_heads", Type: ops.AttrInt, I: 2},
			{Name: "is_causal", Type: ops.AttrInt, I: 1}, {Name: "ignore_index", Type: ops.AttrInt, I: 1}, {Name: "training_mode", Type: ops.AttrInt, I: 1}},
	}
	for _, op := range ops.Join(norm.Ops(), attention.Ops(), loss.Ops()) {
		for ai, attrs := range attrSets {
			n := &ops.Node{OpType: op.Type, Domain: op.Domain, Opset: op.Since, Attrs: attrs,
				Outputs: []string{"a", "b", "c", "d", "e"}}
			k, err := op.Compile(n)
			if err != nil {
				continue
			}
			for trial := 0; trial < 3000; trial++ {
				base := []int{1 + r.IntN(3), 2 * (1 + r.IntN(2)), 1 + r.IntN(4), 2 * (1 + r.IntN(2))}
				in := make([]*tensor.Tensor, r.IntN(8))
				for i := range in {
					in[i] = randomInput(r, base)
				}
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("%s-%d attrs #%d on %v: panic: %v", op.Type, op.Since, ai, describe(in), p)
						}
					}()
					_, _ = k.Run(&ops.Ctx{Threads: 2}, in)
				}()
			}
		}
	}
}

func describe(in []*tensor.Tensor) string {
	s := ""
	for _, t := range in {
		if t == nil {
			s += "nil "
			continue
		}
		s += fmt.Sprintf("%v%v ", t.DType(), t.Shape())
	}
	return s
}
