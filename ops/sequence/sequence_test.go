package sequence

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

// kernel compiles the newest schema of op (a list from this package) for a
// node with the given attributes and input count.
func kernel(t *testing.T, op []*ops.Op, nIn int, attrs ...ops.Attr) *ops.Kernel {
	t.Helper()
	n := &ops.Node{Attrs: attrs, Inputs: make([]string, nIn), Outputs: []string{"y"}}
	for i := range n.Inputs {
		n.Inputs[i] = fmt.Sprint("x", i)
	}
	return optest.Kernel(t, op, n)
}

func iattr(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }

func f32s(shape []int, v ...float32) *tensor.Tensor { return tensor.Must(shape, v) }

func seqOf(items ...*tensor.Tensor) *tensor.Sequence {
	s := &tensor.Sequence{Elem: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}}
	for _, t := range items {
		s.Items = append(s.Items, t)
	}
	return s
}

func check(t *testing.T, what string, got tensor.Value, want *tensor.Tensor) {
	t.Helper()
	g, ok := got.(*tensor.Tensor)
	if !ok || !tensor.Equal(g, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func TestConcat(t *testing.T) {
	a := f32s([]int{2, 2}, 1, 2, 3, 4)
	b := f32s([]int{2, 1}, 5, 6)
	c := f32s([]int{2, 2}, 7, 8, 9, 10)
	for _, tc := range []struct {
		name    string
		items   []*tensor.Tensor
		axis    int64
		newAxis bool
		want    *tensor.Tensor
	}{
		{"axis1", []*tensor.Tensor{a, b}, 1, false, f32s([]int{2, 3}, 1, 2, 5, 3, 4, 6)},
		{"axis-1", []*tensor.Tensor{a, b}, -1, false, f32s([]int{2, 3}, 1, 2, 5, 3, 4, 6)},
		{"axis0", []*tensor.Tensor{a, c}, 0, false, f32s([]int{4, 2}, 1, 2, 3, 4, 7, 8, 9, 10)},
		{"stack0", []*tensor.Tensor{a, c}, 0, true, f32s([]int{2, 2, 2}, 1, 2, 3, 4, 7, 8, 9, 10)},
		{"stack1", []*tensor.Tensor{a, c}, 1, true, f32s([]int{2, 2, 2}, 1, 2, 7, 8, 3, 4, 9, 10)},
		{"stack2", []*tensor.Tensor{a, c}, 2, true, f32s([]int{2, 2, 2}, 1, 7, 2, 8, 3, 9, 4, 10)},
		{"stack-1", []*tensor.Tensor{a, c}, -1, true, f32s([]int{2, 2, 2}, 1, 7, 2, 8, 3, 9, 4, 10)},
		{"scalars", []*tensor.Tensor{tensor.Scalar(float32(1)), tensor.Scalar(float32(2))}, 0, true, f32s([]int{2}, 1, 2)},
	} {
		got, err := Concat(nil, tc.items, tc.axis, tc.newAxis)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		check(t, tc.name, got, tc.want)
	}
	strs, err := Concat(nil, []*tensor.Tensor{tensor.Must([]int{1}, []string{"a"}), tensor.Must([]int{2}, []string{"b", "c"})}, 0, false)
	if err != nil || !tensor.Equal(strs, tensor.Must([]int{3}, []string{"a", "b", "c"})) {
		t.Fatalf("strings: got %v, %v", strs, err)
	}
	for _, tc := range []struct {
		name    string
		items   []*tensor.Tensor
		axis    int64
		newAxis bool
	}{
		{"empty", nil, 0, false},
		{"other dim differs", []*tensor.Tensor{a, b}, 0, false},
		{"stack shapes differ", []*tensor.Tensor{a, b}, 0, true},
		{"axis out of range", []*tensor.Tensor{a, c}, 2, false},
		{"stack axis out of range", []*tensor.Tensor{a, c}, 3, true},
		{"dtypes differ", []*tensor.Tensor{a, tensor.Zeros(tensor.Int64, 2, 2)}, 0, false},
		{"scalars without new axis", []*tensor.Tensor{tensor.Scalar(float32(1))}, 0, false},
	} {
		if _, err := Concat(nil, tc.items, tc.axis, tc.newAxis); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := Concat(&ops.Ctx{MaxElements: 7}, []*tensor.Tensor{a, c}, 0, true); !errors.Is(err, ops.ErrLimit) {
		t.Errorf("limit: got %v, want ErrLimit", err)
	}
}

func TestSlab(t *testing.T) {
	x := f32s([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	got, err := Slab(nil, x, 1, 1, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "cols 1:3", got, f32s([]int{2, 2}, 2, 3, 5, 6))
	got, err = Slab(nil, x, 1, 2, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "col 2 dropped", got, f32s([]int{2}, 3, 6))
	got, err = Slab(nil, x, 0, 1, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "row 1 dropped", got, f32s([]int{3}, 4, 5, 6))
	if _, err := Slab(nil, x, 1, 2, 2, false); err == nil {
		t.Error("slice past the end: no error")
	}
	if _, err := Slab(nil, x, 2, 0, 1, false); err == nil {
		t.Error("bad axis: no error")
	}
}

func TestSequenceOps(t *testing.T) {
	a, b, c := f32s([]int{1}, 1), f32s([]int{2}, 2, 3), f32s([]int{}, 4)
	s := seqOf(a, b)
	pos := func(p int64) tensor.Value { return tensor.Scalar(p) }

	out, err := kernel(t, SequenceEmpty, 0, iattr("dtype", int64(tensor.Int64))).RunValues(nil, nil)
	if e := out[0].(*tensor.Sequence); err != nil || len(e.Items) != 0 || e.Elem.DType != tensor.Int64 {
		t.Fatalf("SequenceEmpty: %v %v", out, err)
	}
	out, err = kernel(t, SequenceConstruct, 3).RunValues(nil, []tensor.Value{a, b, c})
	if cs := out[0].(*tensor.Sequence); err != nil || len(cs.Items) != 3 || cs.Items[2] != c {
		t.Fatalf("SequenceConstruct: %v %v", out, err)
	}
	if _, err := kernel(t, SequenceConstruct, 2).RunValues(nil, []tensor.Value{a, tensor.Scalar(int64(1))}); err == nil {
		t.Error("SequenceConstruct of mixed dtypes: no error")
	}

	at := kernel(t, SequenceAt, 2)
	for p, want := range map[int64]*tensor.Tensor{0: a, 1: b, -1: b, -2: a} {
		out, err := at.RunValues(nil, []tensor.Value{s, pos(p)})
		if err != nil || out[0] != want {
			t.Errorf("SequenceAt(%d): %v %v", p, out, err)
		}
	}
	for _, p := range []int64{2, -3} {
		if _, err := at.RunValues(nil, []tensor.Value{s, pos(p)}); err == nil {
			t.Errorf("SequenceAt(%d): no error", p)
		}
	}
	if out, err := at.RunValues(nil, []tensor.Value{s, tensor.Scalar(int32(1))}); err != nil || out[0] != b {
		t.Errorf("SequenceAt(int32 1): %v %v", out, err)
	}

	ins := kernel(t, SequenceInsert, 3)
	for _, tc := range []struct {
		pos  tensor.Value
		want []tensor.Value
	}{
		{nil, []tensor.Value{a, b, c}},
		{pos(0), []tensor.Value{c, a, b}},
		{pos(2), []tensor.Value{a, b, c}},
		{pos(-1), []tensor.Value{a, c, b}},
	} {
		out, err := ins.RunValues(nil, []tensor.Value{s, c, tc.pos})
		if err != nil {
			t.Fatalf("SequenceInsert(%v): %v", tc.pos, err)
		}
		got := out[0].(*tensor.Sequence).Items
		if len(got) != len(tc.want) || got[0] != tc.want[0] || got[1] != tc.want[1] || got[2] != tc.want[2] {
			t.Errorf("SequenceInsert(%v): got %v, want %v", tc.pos, got, tc.want)
		}
	}
	if len(s.Items) != 2 {
		t.Fatal("SequenceInsert modified its input")
	}
	if _, err := ins.RunValues(nil, []tensor.Value{s, c, pos(3)}); err == nil {
		t.Error("SequenceInsert(3) into 2: no error")
	}
	if _, err := ins.RunValues(nil, []tensor.Value{s, tensor.Scalar(int64(1)), nil}); err == nil {
		t.Error("SequenceInsert of an int64 into float32: no error")
	}

	er := kernel(t, SequenceErase, 2)
	out, err = er.RunValues(nil, []tensor.Value{s, nil})
	if got := out[0].(*tensor.Sequence).Items; err != nil || len(got) != 1 || got[0] != a {
		t.Errorf("SequenceErase(): %v %v", got, err)
	}
	out, err = er.RunValues(nil, []tensor.Value{s, pos(-2)})
	if got := out[0].(*tensor.Sequence).Items; err != nil || len(got) != 1 || got[0] != b {
		t.Errorf("SequenceErase(-2): %v %v", got, err)
	}
	if _, err := er.RunValues(nil, []tensor.Value{seqOf(), nil}); err == nil {
		t.Error("SequenceErase on empty: no error")
	}

	out, err = kernel(t, SequenceLength, 1).RunValues(nil, []tensor.Value{s})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "SequenceLength", out[0], tensor.Scalar(int64(2)))
	if _, err := kernel(t, SequenceLength, 1).RunValues(nil, []tensor.Value{a}); err == nil {
		t.Error("SequenceLength of a tensor: no error")
	}
}

func TestSplitToSequence(t *testing.T) {
	x := f32s([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	for _, tc := range []struct {
		name  string
		split tensor.Value
		attrs []ops.Attr
		want  []*tensor.Tensor
	}{
		{"default axis 0", nil, nil, []*tensor.Tensor{f32s([]int{1, 3}, 1, 2, 3), f32s([]int{1, 3}, 4, 5, 6)}},
		{"keepdims 0", nil, []ops.Attr{iattr("keepdims", 0)}, []*tensor.Tensor{f32s([]int{3}, 1, 2, 3), f32s([]int{3}, 4, 5, 6)}},
		{"scalar split, uneven", tensor.Scalar(int64(2)), []ops.Attr{iattr("axis", 1)},
			[]*tensor.Tensor{f32s([]int{2, 2}, 1, 2, 4, 5), f32s([]int{2, 1}, 3, 6)}},
		{"1-D split, keepdims ignored", tensor.Must([]int{2}, []int32{1, 2}), []ops.Attr{iattr("axis", -1), iattr("keepdims", 0)},
			[]*tensor.Tensor{f32s([]int{2, 1}, 1, 4), f32s([]int{2, 2}, 2, 3, 5, 6)}},
	} {
		out, err := kernel(t, SplitToSequence, 2, tc.attrs...).RunValues(nil, []tensor.Value{x, tc.split})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := out[0].(*tensor.Sequence)
		if len(got.Items) != len(tc.want) || got.Elem.DType != tensor.Float32 {
			t.Fatalf("%s: got %d items of %v, want %d", tc.name, len(got.Items), got.Elem.DType, len(tc.want))
		}
		for i := range tc.want {
			check(t, fmt.Sprintf("%s[%d]", tc.name, i), got.Items[i], tc.want[i])
		}
	}
	for _, split := range []tensor.Value{tensor.Scalar(int64(0)), tensor.Must([]int{3}, []int64{1, 1, 1}), tensor.Must([]int{1, 1}, []int64{2})} {
		if _, err := kernel(t, SplitToSequence, 2).RunValues(nil, []tensor.Value{x, split}); err == nil {
			t.Errorf("split %v: no error", split)
		}
	}
}

// TestSplitToSequenceCount: an empty tensor with a huge dimension must not
// become a huge sequence.
func TestSplitToSequenceCount(t *testing.T) {
	x := tensor.Zeros(tensor.Float32, 1<<30, 0)
	c := &ops.Ctx{MaxElements: 1000}
	for _, split := range []tensor.Value{nil, tensor.Scalar(int64(2))} {
		if _, err := kernel(t, SplitToSequence, 2).RunValues(c, []tensor.Value{x, split}); !errors.Is(err, ops.ErrLimit) {
			t.Errorf("split %v: got %v, want ErrLimit", split, err)
		}
	}
}

func TestConcatFromSequence(t *testing.T) {
	s := seqOf(f32s([]int{2}, 1, 2), f32s([]int{2}, 3, 4))
	out, err := kernel(t, ConcatFromSequence, 1, iattr("axis", 0)).RunValues(nil, []tensor.Value{s})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "concat", out[0], f32s([]int{4}, 1, 2, 3, 4))
	out, err = kernel(t, ConcatFromSequence, 1, iattr("axis", -1), iattr("new_axis", 1)).RunValues(nil, []tensor.Value{s})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "stack -1", out[0], f32s([]int{2, 2}, 1, 3, 2, 4))
	if _, err := kernel(t, ConcatFromSequence, 1, iattr("axis", 0)).RunValues(nil, []tensor.Value{seqOf()}); err == nil {
		t.Error("empty sequence: no error")
	}
	n := &ops.Node{OpType: "ConcatFromSequence", Inputs: []string{"s"}, Outputs: []string{"y"}}
	if _, err := ConcatFromSequence[0].Compile(n); err == nil {
		t.Error("missing axis compiled")
	}
}

func TestOptionalOps(t *testing.T) {
	x := f32s([]int{1}, 1)
	s := seqOf(x)
	empty := &tensor.Optional{Elem: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}}
	full := &tensor.Optional{Elem: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}, V: x}
	has := kernel(t, OptionalHasElement, 1)
	for _, tc := range []struct {
		in   tensor.Value
		want bool
	}{{nil, false}, {empty, false}, {full, true}, {x, true}, {s, true}} {
		out, err := has.RunValues(nil, []tensor.Value{tc.in})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("OptionalHasElement(%v)", tc.in), out[0], tensor.Scalar(tc.want))
	}
	if out, err := has.RunValues(nil, nil); err != nil || !tensor.Equal(out[0].(*tensor.Tensor), tensor.Scalar(false)) {
		t.Errorf("OptionalHasElement() with no input: %v %v", out, err)
	}
	get := kernel(t, OptionalGetElement, 1)
	for _, in := range []tensor.Value{full, x} {
		if out, err := get.RunValues(nil, []tensor.Value{in}); err != nil || out[0] != x {
			t.Errorf("OptionalGetElement(%v): %v %v", in, out, err)
		}
	}
	if out, err := get.RunValues(nil, []tensor.Value{s}); err != nil || out[0] != s {
		t.Errorf("OptionalGetElement(seq): %v %v", out, err)
	}
	for _, in := range []tensor.Value{empty, nil} {
		if _, err := get.RunValues(nil, []tensor.Value{in}); err == nil {
			t.Errorf("OptionalGetElement(%v): no error", in)
		}
	}

	out, err := kernel(t, Optional, 1).RunValues(nil, []tensor.Value{s})
	if o, ok := out[0].(*tensor.Optional); err != nil || !ok || o.V != s || o.Elem.Kind != tensor.KindSequence {
		t.Errorf("Optional(seq): %v %v", out, err)
	}
	typ := tensor.Type{Kind: tensor.KindTensor, DType: tensor.Int8}
	out, err = kernel(t, Optional, 0, ops.Attr{Name: "type", Type: ops.AttrTypeProto, TP: &typ}).RunValues(nil, nil)
	if o, ok := out[0].(*tensor.Optional); err != nil || !ok || o.V != nil || o.Elem.DType != tensor.Int8 {
		t.Errorf("Optional(type=int8): %v %v", out, err)
	}
	n := &ops.Node{OpType: "Optional", Outputs: []string{"y"}}
	if _, err := Optional[0].Compile(n); err == nil {
		t.Error("Optional with neither input nor type compiled")
	}
}
