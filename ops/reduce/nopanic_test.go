package reduce

import (
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TestNoPanic runs every schema on odd inputs (scalars, empty tensors,
// unsupported dtypes, out-of-range axes and k, missing inputs): each must
// return a result or an error, never panic.
func TestNoPanic(t *testing.T) {
	xs := []*tensor.Tensor{
		tensor.Scalar(float32(2)),
		tensor.Must([]int{0}, []float32{}),
		tensor.Must([]int{2, 0, 3}, []int32{}),
		tensor.Must([]int{2, 3}, []float64{1, 2, 3, 4, 5, 6}),
		tensor.Must([]int{3}, []bool{true, false, true}),
		tensor.Must([]int{1}, []string{"a"}),
		tensor.Must([]int{2}, []tensor.Float16Bits{1, 2}),
	}
	seconds := []*tensor.Tensor{
		nil,
		tensor.Scalar(int64(0)),
		tensor.Scalar(int64(-7)),
		tensor.Must([]int{1}, []int64{1 << 40}),
		tensor.Must([]int{2}, []int64{0, 0}),
		tensor.Must([]int{0}, []int64{}),
		tensor.Must([]int{1}, []float32{1}),
	}
	attrSets := [][]ops.Attr{
		nil,
		{intA("axis", 5), intA("keepdims", 0)},
		{intA("axis", -1<<62), ints("axes", 9), intA("k", -1)},
		{intA("noop_with_empty_axes", 1), intA("select_last_index", 1), intA("exclusive", 1), intA("reverse", 1), intA("largest", 0)},
	}
	for _, op := range Ops() {
		for _, attrs := range attrSets {
			k, err := op.Compile(&ops.Node{OpType: op.Type, Opset: op.Since, Attrs: attrs})
			if err != nil {
				continue
			}
			for _, x := range xs {
				for _, s := range seconds {
					func() {
						defer func() {
							if r := recover(); r != nil {
								t.Errorf("%s-%d attrs %v on %v, %v: panic %v", op.Type, op.Since, attrs, x, s, r)
							}
						}()
						in := []*tensor.Tensor{x, s}
						if s == nil {
							in = in[:1]
						}
						k.Run(&ops.Ctx{}, in)
						k.Run(&ops.Ctx{}, nil)
					}()
				}
			}
		}
	}
}
