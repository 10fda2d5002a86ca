package ops

import (
	"slices"
	"testing"

	"github.com/gort-ml/gort/tensor"
)

// AppendInts64 appends int32 and int64 elements after dst's, without an
// allocation when dst has room; Ints64 returns the same values in a new
// slice; both refuse other dtypes.
func TestAppendInts64(t *testing.T) {
	for _, x := range []*tensor.Tensor{tensor.Must([]int{3}, []int32{-1, 2, 1 << 30}), tensor.Must([]int{3}, []int64{-1, 2, 1 << 30})} {
		buf := make([]int64, 1, 8)
		buf[0] = 7
		got, err := AppendInts64(buf, x)
		if err != nil || !slices.Equal(got, []int64{7, -1, 2, 1 << 30}) || &got[0] != &buf[0] {
			t.Errorf("%v: AppendInts64 = %v, %v (in place %v)", x.DType(), got, err, &got[0] == &buf[0])
		}
		if n := testing.AllocsPerRun(10, func() { _, _ = AppendInts64(buf[:0], x) }); n != 0 {
			t.Errorf("%v: AppendInts64 with room allocates %v times", x.DType(), n)
		}
		v, err := Ints64(x)
		if err != nil || !slices.Equal(v, []int64{-1, 2, 1 << 30}) {
			t.Errorf("%v: Ints64 = %v, %v", x.DType(), v, err)
		}
	}
	f := tensor.Must([]int{1}, []float32{1})
	if got, err := AppendInts64([]int64{5}, f); err == nil || !slices.Equal(got, []int64{5}) {
		t.Errorf("float32: AppendInts64 = %v, %v; want an error and dst unchanged", got, err)
	}
	if v, err := Ints64(f); err == nil || v != nil {
		t.Errorf("float32: Ints64 = %v, %v; want an error", v, err)
	}
	if v, err := Ints64(tensor.Must([]int{0}, []int64{})); err != nil || v == nil || len(v) != 0 {
		t.Errorf("empty: Ints64 = %#v, %v; want an empty non-nil slice", v, err)
	}
}
