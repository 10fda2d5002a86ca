package activation

import (
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TestNoPanic runs every schema on odd inputs (scalars, empty tensors,
// unsupported dtypes, mismatched second inputs, bad axes, missing inputs):
// each must return a result or an error, never panic.
func TestNoPanic(t *testing.T) {
	vals := []*tensor.Tensor{
		nil,
		tensor.Scalar(float32(-2)),
		tensor.Must([]int{0, 3}, []float32{}),
		tensor.Must([]int{2, 3}, []float64{1, -2, 3, -4, 5, -6}),
		tensor.Must([]int{3}, []int32{1, -2, 3}),
		tensor.Must([]int{3}, []bool{true, false, true}),
		tensor.Must([]int{1}, []string{"a"}),
		tensor.Must([]int{2}, []tensor.BFloat16Bits{0x3f80, 0xbf80}),
	}
	attrSets := [][]ops.Attr{nil, {in("axis", 7)}, {in("axis", -1<<62), fl("alpha", 0)}}
	for _, op := range Ops() {
		for _, attrs := range attrSets {
			k, err := op.Compile(&ops.Node{OpType: op.Type, Opset: op.Since, Attrs: attrs})
			if err != nil {
				continue
			}
			for _, a := range vals {
				for _, b := range vals {
					func() {
						defer func() {
							if r := recover(); r != nil {
								t.Errorf("%s-%d attrs %v on %v, %v: panic %v", op.Type, op.Since, attrs, a, b, r)
							}
						}()
						k.Run(&ops.Ctx{}, []*tensor.Tensor{a})
						k.Run(&ops.Ctx{}, []*tensor.Tensor{a, b})
					}()
				}
			}
		}
	}
}
