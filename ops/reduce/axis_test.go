package reduce

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

func TestArgMaxMin(t *testing.T) {
	nan := float32(math.NaN())
	// x is (2, 4); reductions along axis 1.
	x := tensor.Must([]int{2, 4}, []float32{1, 3, 3, 0, nan, 2, nan, 5})
	cases := []struct {
		list []*ops.Op
		last int64
		want []int64
	}{
		{ArgMax, 0, []int64{1, 0}},
		{ArgMax, 1, []int64{2, 2}},
		{ArgMin, 0, []int64{3, 0}},
		{ArgMin, 1, []int64{3, 2}},
	}
	for _, c := range cases {
		out, err := run(t, c.list, 13, []ops.Attr{intA("axis", -1), intA("keepdims", 0), intA("select_last_index", c.last)}, x)
		if err != nil {
			t.Fatal(err)
		}
		if g := tensor.Data[int64](out[0]); !slices.Equal(g, c.want) || !tensor.SameShape(out[0].Shape(), []int{2}) {
			t.Errorf("%s last=%d: %v, want %v", c.list[0].Type, c.last, out[0], c.want)
		}
	}
	// Along axis 0 of (2, 3) int64 with keepdims: strided path.
	xi := tensor.Must([]int{2, 3}, []int64{5, -1, 7, 5, 4, -9})
	out, err := run(t, ArgMax, 13, []ops.Attr{intA("select_last_index", 1)}, xi)
	if err != nil {
		t.Fatal(err)
	}
	if g := tensor.Data[int64](out[0]); !slices.Equal(g, []int64{1, 1, 0}) || !tensor.SameShape(out[0].Shape(), []int{1, 3}) {
		t.Errorf("argmax axis 0 = %v", out[0])
	}
	if _, err := run(t, ArgMax, 13, nil, tensor.Must([]int{0, 2}, []float32{})); err == nil {
		t.Error("argmax over an empty axis: no error")
	}
}

func TestCum(t *testing.T) {
	x := tensor.Must([]int{2, 3}, []float64{1, 2, 3, 4, 5, 6})
	cases := []struct {
		list      []*ops.Op
		axis      int32
		excl, rev int64
		want      []float64
	}{
		{CumSum, 1, 0, 0, []float64{1, 3, 6, 4, 9, 15}},
		{CumSum, 1, 1, 0, []float64{0, 1, 3, 0, 4, 9}},
		{CumSum, -1, 0, 1, []float64{6, 5, 3, 15, 11, 6}},
		{CumSum, 1, 1, 1, []float64{5, 3, 0, 11, 6, 0}},
		{CumSum, 0, 0, 0, []float64{1, 2, 3, 5, 7, 9}},
		{CumSum, 0, 1, 1, []float64{4, 5, 6, 0, 0, 0}},
		{CumProd, 1, 0, 0, []float64{1, 2, 6, 4, 20, 120}},
		{CumProd, 1, 1, 1, []float64{6, 3, 1, 30, 6, 1}},
		{CumProd, 0, 1, 0, []float64{1, 1, 1, 1, 2, 3}},
	}
	for _, c := range cases {
		out, err := run(t, c.list, 26, []ops.Attr{intA("exclusive", c.excl), intA("reverse", c.rev)}, x, tensor.Scalar(c.axis))
		if err != nil {
			t.Fatal(err)
		}
		if g := tensor.Data[float64](out[0]); !slices.Equal(g, c.want) {
			t.Errorf("%s axis %d excl %d rev %d = %v, want %v", c.list[0].Type, c.axis, c.excl, c.rev, g, c.want)
		}
	}
	if _, err := run(t, CumSum, 14, nil, x, tensor.Scalar(int64(2))); err == nil {
		t.Error("axis out of range: no error")
	}
}

func TestTopK(t *testing.T) {
	x := tensor.Must([]int{2, 4}, []float32{3, 1, 3, 2, 0, 0, 7, 0})
	cases := []struct {
		k       int64
		largest int64
		vals    []float32
		idx     []int64
	}{
		{2, 1, []float32{3, 3, 7, 0}, []int64{0, 2, 2, 0}},
		{3, 0, []float32{1, 2, 3, 0, 0, 0}, []int64{1, 3, 0, 0, 1, 3}},
		{0, 1, []float32{}, []int64{}},
	}
	for _, c := range cases {
		out, err := run(t, TopK, 11, []ops.Attr{intA("largest", c.largest)}, x, tensor.Must([]int{1}, []int64{c.k}))
		if err != nil {
			t.Fatal(err)
		}
		if v, i := tensor.Data[float32](out[0]), tensor.Data[int64](out[1]); !slices.Equal(v, c.vals) || !slices.Equal(i, c.idx) {
			t.Errorf("k=%d largest=%d: %v %v, want %v %v", c.k, c.largest, v, i, c.vals, c.idx)
		}
	}
	// Opset 1: k attribute, axis 0 (strided).
	out, err := run(t, TopK, 1, []ops.Attr{intA("k", 1), intA("axis", 0)}, x)
	if err != nil {
		t.Fatal(err)
	}
	if v := tensor.Data[float32](out[0]); !slices.Equal(v, []float32{3, 1, 7, 2}) {
		t.Errorf("axis 0 top1 = %v", v)
	}
	if _, err := run(t, TopK, 11, nil, x, tensor.Must([]int{1}, []int64{5})); err == nil {
		t.Error("k > n: no error")
	}
}

// TestTopKHeap compares the heap selection (k much smaller than n, many
// ties) with a stable sort reference.
func TestTopKHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 1000
	x := make([]int32, n)
	for i := range x {
		x[i] = int32(r.IntN(50))
	}
	for _, largest := range []int64{0, 1} {
		ref := make([]int, n)
		for i := range ref {
			ref[i] = i
		}
		sort.SliceStable(ref, func(a, b int) bool {
			if largest == 1 {
				return x[ref[a]] > x[ref[b]]
			}
			return x[ref[a]] < x[ref[b]]
		})
		out, err := run(t, TopK, 24, []ops.Attr{intA("largest", largest)}, tensor.Must([]int{n}, x), tensor.Must([]int{1}, []int64{37}))
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range tensor.Data[int64](out[1]) {
			if int(id) != ref[i] || tensor.Data[int32](out[0])[i] != x[ref[i]] {
				t.Fatalf("largest=%d rank %d: index %d, want %d", largest, i, id, ref[i])
			}
		}
	}
}

// TestNarrowTypes runs the narrower dtypes through their canonical widening.
func TestNarrowTypes(t *testing.T) {
	// int8 CumSum wraps like int8 arithmetic.
	out, err := run(t, CumSum, 14, nil, tensor.Must([]int{3}, []int8{100, 27, 1}), tensor.Scalar(int64(0)))
	if err != nil {
		t.Fatal(err)
	}
	if g := tensor.Data[int8](out[0]); !slices.Equal(g, []int8{100, 127, -128}) {
		t.Errorf("int8 cumsum = %v", g)
	}
	// uint8 ArgMax and TopK compare unsigned.
	xu := tensor.Must([]int{4}, []uint8{3, 250, 7, 250})
	out, err = run(t, ArgMax, 13, []ops.Attr{intA("keepdims", 0)}, xu)
	if err != nil || tensor.Data[int64](out[0])[0] != 1 {
		t.Errorf("uint8 argmax = %v, %v", out, err)
	}
	out, err = run(t, TopK, 11, nil, xu, tensor.Must([]int{1}, []int64{3}))
	if err != nil || !slices.Equal(tensor.Data[uint8](out[0]), []uint8{250, 250, 7}) || !slices.Equal(tensor.Data[int64](out[1]), []int64{1, 3, 2}) {
		t.Errorf("uint8 topk = %v, %v", out, err)
	}
	// An empty int8 max gives the dtype's lowest value.
	out, err = run(t, ReduceMax, 20, nil, tensor.Must([]int{2, 0}, []int8{}), tensor.Must([]int{1}, []int64{1}))
	if err != nil || !slices.Equal(tensor.Data[int8](out[0]), []int8{-128, -128}) {
		t.Errorf("empty int8 max = %v, %v", out, err)
	}
	// bfloat16 TopK returns the input's own values.
	b := []tensor.BFloat16Bits{tensor.BFloat16FromFloat32(1.5), tensor.BFloat16FromFloat32(-2), tensor.BFloat16FromFloat32(3.25)}
	out, err = run(t, TopK, 24, []ops.Attr{intA("largest", 0)}, tensor.Must([]int{3}, b), tensor.Must([]int{1}, []int64{2}))
	if err != nil || !slices.Equal(tensor.Data[tensor.BFloat16Bits](out[0]), []tensor.BFloat16Bits{b[1], b[0]}) {
		t.Errorf("bfloat16 topk = %v, %v", out, err)
	}
}

func TestAxisInfer(t *testing.T) {
	in := []tensor.Type{tensor.TensorType(tensor.Float16, 2, 3, 4)}
	cases := []struct {
		op    *ops.Op
		attrs []ops.Attr
		want  []tensor.Type
	}{
		{ArgMax[len(ArgMax)-1], []ops.Attr{intA("axis", -2)}, []tensor.Type{tensor.TensorType(tensor.Int64, 2, 1, 4)}},
		{ArgMin[0], []ops.Attr{intA("axis", 0), intA("keepdims", 0)}, []tensor.Type{tensor.TensorType(tensor.Int64, 3, 4)}},
		{TopK[0], []ops.Attr{intA("k", 2)}, []tensor.Type{tensor.TensorType(tensor.Float16, 2, 3, 2), tensor.TensorType(tensor.Int64, 2, 3, 2)}},
		{CumSum[1], nil, in},
	}
	for _, c := range cases {
		got, err := c.op.Infer(&ops.Node{Opset: c.op.Since, Attrs: c.attrs}, in)
		if err != nil {
			t.Fatal(c.op.Type, err)
		}
		for i := range c.want {
			if !optest.SameType(got[i], c.want[i]) {
				t.Errorf("%s-%d output %d: %+v, want %+v", c.op.Type, c.op.Since, i, got[i], c.want[i])
			}
		}
	}
	// TopK from opset 10 takes k at run time: that dimension is unknown.
	got, err := TopK[len(TopK)-1].Infer(&ops.Node{Opset: 24}, in)
	if err != nil || got[0].Shape[2].Known() || got[1].DType != tensor.Int64 {
		t.Errorf("TopK-24 infer = %+v, %v", got, err)
	}
}
