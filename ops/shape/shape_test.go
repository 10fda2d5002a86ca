package shape

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

var registry = func() *ops.Registry {
	r, err := ops.NewRegistry(Ops())
	if err != nil {
		panic(err)
	}
	return r
}()

// call is one kernel invocation: op type, opset, attributes, inputs and the
// number of outputs the node declares.
type call struct {
	op    string
	opset int
	attrs []ops.Attr
	in    []*tensor.Tensor
	outs  int
	max   int // Ctx.MaxElements
}

func (k call) run() ([]*tensor.Tensor, error) {
	opset := k.opset
	if opset == 0 {
		opset = 25
	}
	op, err := registry.Lookup("", k.op, opset)
	if err != nil {
		return nil, err
	}
	outs := max(k.outs, 1)
	n := &ops.Node{OpType: k.op, Opset: opset, Attrs: k.attrs, Outputs: make([]string, outs)}
	for i := range n.Outputs {
		n.Outputs[i] = fmt.Sprint("y", i)
	}
	kern, err := op.Compile(n)
	if err != nil {
		return nil, err
	}
	c := &ops.Ctx{Context: context.Background(), MaxElements: k.max, Threads: 1}
	if kern.Run != nil {
		return kern.Run(c, k.in)
	}
	vin := make([]tensor.Value, len(k.in))
	for i, t := range k.in {
		vin[i] = t
	}
	vout, err := kern.RunValues(c, vin)
	if err != nil {
		return nil, err
	}
	out := make([]*tensor.Tensor, len(vout))
	for i, v := range vout {
		out[i] = v.(*tensor.Tensor)
	}
	return out, nil
}

func ints(name string, v ...int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInts, Ints: v} }
func intAttr(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
func strAttr(name, v string) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrString, S: []byte(v)}
}
func i64(v ...int64) *tensor.Tensor { return tensor.Must([]int{len(v)}, v) }

// iota32 is a float32 tensor of the given shape holding 0, 1, 2, ...
func iota32(shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return tensor.Must(shape, v)
}

func f32(shape []int, v ...float32) *tensor.Tensor { return tensor.Must(shape, v) }

// TestOutputs compares kernels with hand-computed results.
func TestOutputs(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	cases := []struct {
		name string
		call call
		want []*tensor.Tensor
	}{
		{"reshape 0 and -1", call{op: "Reshape", in: []*tensor.Tensor{iota32(2, 3, 4), i64(0, -1)}},
			[]*tensor.Tensor{iota32(2, 12)}},
		{"reshape allowzero empty", call{op: "Reshape", attrs: []ops.Attr{intAttr("allowzero", 1)},
			in: []*tensor.Tensor{iota32(0, 3), i64(3, 0)}}, []*tensor.Tensor{iota32(3, 0)}},
		{"flatten negative axis", call{op: "Flatten", attrs: []ops.Attr{intAttr("axis", -1)}, in: []*tensor.Tensor{iota32(2, 3, 4)}},
			[]*tensor.Tensor{iota32(6, 4)}},
		{"squeeze negative axis", call{op: "Squeeze", in: []*tensor.Tensor{iota32(2, 1, 3, 1), i64(-1)}},
			[]*tensor.Tensor{iota32(2, 1, 3)}},
		{"unsqueeze negative axes", call{op: "Unsqueeze", in: []*tensor.Tensor{iota32(2, 3), i64(-1, 0)}},
			[]*tensor.Tensor{iota32(1, 2, 3, 1)}},
		{"unsqueeze-11 attribute", call{op: "Unsqueeze", opset: 11, attrs: []ops.Attr{ints("axes", 1)}, in: []*tensor.Tensor{iota32(2, 3)}},
			[]*tensor.Tensor{iota32(2, 1, 3)}},
		{"transpose default reverses", call{op: "Transpose", in: []*tensor.Tensor{iota32(2, 3)}},
			[]*tensor.Tensor{f32([]int{3, 2}, 0, 3, 1, 4, 2, 5)}},
		{"transpose strings", call{op: "Transpose", attrs: []ops.Attr{ints("perm", 1, 0)},
			in: []*tensor.Tensor{tensor.Must([]int{2, 2}, []string{"a", "b", "c", "d"})}},
			[]*tensor.Tensor{tensor.Must([]int{2, 2}, []string{"a", "c", "b", "d"})}},
		{"slice reverse with INT_MIN end", call{op: "Slice", in: []*tensor.Tensor{iota32(5), i64(-1), i64(minI), i64(0), i64(-1)}},
			[]*tensor.Tensor{f32([]int{5}, 4, 3, 2, 1, 0)}},
		{"slice INT_MAX end step 2", call{op: "Slice", in: []*tensor.Tensor{iota32(5), i64(1), i64(maxI), i64(-1), i64(2)}},
			[]*tensor.Tensor{f32([]int{2}, 1, 3)}},
		{"slice INT_MAX step", call{op: "Slice", in: []*tensor.Tensor{iota32(5), i64(0), i64(5), nil, i64(maxI)}},
			[]*tensor.Tensor{f32([]int{1}, 0)}},
		{"slice out-of-range start is empty", call{op: "Slice", in: []*tensor.Tensor{iota32(5), i64(7), i64(9)}},
			[]*tensor.Tensor{iota32(0)}},
		{"slice-1 attributes", call{op: "Slice", opset: 1, attrs: []ops.Attr{ints("starts", 1), ints("ends", -1), ints("axes", 1)},
			in: []*tensor.Tensor{iota32(2, 4)}}, []*tensor.Tensor{f32([]int{2, 2}, 1, 2, 5, 6)}},
		{"gather negative index and axis", call{op: "Gather", attrs: []ops.Attr{intAttr("axis", -1)}, in: []*tensor.Tensor{iota32(2, 3), i64(-1, 0)}},
			[]*tensor.Tensor{f32([]int{2, 2}, 2, 0, 5, 3)}},
		{"gather scalar index", call{op: "Gather", in: []*tensor.Tensor{iota32(3, 2), tensor.Scalar(int64(1))}},
			[]*tensor.Tensor{f32([]int{2}, 2, 3)}},
		{"split uneven num_outputs", call{op: "Split", opset: 18, outs: 3, attrs: []ops.Attr{intAttr("num_outputs", 3)}, in: []*tensor.Tensor{iota32(7)}},
			[]*tensor.Tensor{f32([]int{3}, 0, 1, 2), f32([]int{3}, 3, 4, 5), f32([]int{1}, 6)}},
		{"concat negative axis", call{op: "Concat", attrs: []ops.Attr{intAttr("axis", -1)}, in: []*tensor.Tensor{iota32(2, 1), iota32(2, 0), iota32(2, 2)}},
			[]*tensor.Tensor{f32([]int{2, 3}, 0, 0, 1, 1, 2, 3)}},
		{"pad reflect", call{op: "Pad", attrs: []ops.Attr{strAttr("mode", "reflect")}, in: []*tensor.Tensor{f32([]int{3}, 1, 2, 3), i64(2, 2)}},
			[]*tensor.Tensor{f32([]int{7}, 3, 2, 1, 2, 3, 2, 1)}},
		{"pad edge", call{op: "Pad", attrs: []ops.Attr{strAttr("mode", "edge")}, in: []*tensor.Tensor{f32([]int{3}, 1, 2, 3), i64(2, 2)}},
			[]*tensor.Tensor{f32([]int{7}, 1, 1, 1, 2, 3, 3, 3)}},
		{"pad wrap", call{op: "Pad", attrs: []ops.Attr{strAttr("mode", "wrap")}, in: []*tensor.Tensor{f32([]int{3}, 1, 2, 3), i64(2, 2)}},
			[]*tensor.Tensor{f32([]int{7}, 2, 3, 1, 2, 3, 1, 2)}},
		{"pad negative crops, constant value", call{op: "Pad", in: []*tensor.Tensor{f32([]int{3}, 1, 2, 3), i64(-1, 2), f32([]int{}, 9)}},
			[]*tensor.Tensor{f32([]int{4}, 2, 3, 9, 9)}},
		{"pad-2 attributes", call{op: "Pad", opset: 2, attrs: []ops.Attr{ints("pads", 1, 0), {Name: "value", Type: ops.AttrFloat, F: 7}},
			in: []*tensor.Tensor{f32([]int{2}, 1, 2)}}, []*tensor.Tensor{f32([]int{3}, 7, 1, 2)}},
		{"tile", call{op: "Tile", in: []*tensor.Tensor{f32([]int{2}, 1, 2), i64(3)}},
			[]*tensor.Tensor{f32([]int{6}, 1, 2, 1, 2, 1, 2)}},
		{"expand", call{op: "Expand", in: []*tensor.Tensor{f32([]int{2, 1}, 1, 2), i64(2, 3)}},
			[]*tensor.Tensor{f32([]int{2, 3}, 1, 1, 1, 2, 2, 2)}},
		{"range negative delta", call{op: "Range", in: []*tensor.Tensor{tensor.Scalar(int64(10)), tensor.Scalar(int64(4)), tensor.Scalar(int64(-3))}},
			[]*tensor.Tensor{i64(10, 7)}},
		{"range empty", call{op: "Range", in: []*tensor.Tensor{tensor.Scalar(float32(1)), tensor.Scalar(float32(0)), tensor.Scalar(float32(1))}},
			[]*tensor.Tensor{iota32(0)}},
		{"trilu lower k=-1", call{op: "Trilu", attrs: []ops.Attr{intAttr("upper", 0)}, in: []*tensor.Tensor{iota32(3, 3), tensor.Scalar(int64(-1))}},
			[]*tensor.Tensor{f32([]int{3, 3}, 0, 0, 0, 3, 0, 0, 6, 7, 0)}},
		{"nonzero", call{op: "NonZero", in: []*tensor.Tensor{f32([]int{2, 2}, 0, 1, 2, 0)}},
			[]*tensor.Tensor{tensor.Must([]int{2, 2}, []int64{0, 1, 1, 0})}},
		{"onehot negative index, axis 0", call{op: "OneHot", attrs: []ops.Attr{intAttr("axis", 0)},
			in: []*tensor.Tensor{i64(-1, 0, 5), tensor.Scalar(int64(3)), f32([]int{2}, 0, 1)}},
			[]*tensor.Tensor{f32([]int{3, 3}, 0, 1, 0, 0, 0, 0, 1, 0, 0)}},
		{"unique unsorted", call{op: "Unique", outs: 4, attrs: []ops.Attr{intAttr("sorted", 0)}, in: []*tensor.Tensor{f32([]int{5}, 3, 1, 3, 2, 1)}},
			[]*tensor.Tensor{f32([]int{3}, 3, 1, 2), i64(0, 1, 3), i64(0, 1, 0, 2, 1), i64(2, 2, 1)}},
		{"unique sorted", call{op: "Unique", outs: 4, in: []*tensor.Tensor{f32([]int{5}, 3, 1, 3, 2, 1)}},
			[]*tensor.Tensor{f32([]int{3}, 1, 2, 3), i64(1, 3, 0), i64(2, 0, 2, 1, 0), i64(2, 1, 2)}},
		{"scatternd add duplicates", call{op: "ScatterND", attrs: []ops.Attr{strAttr("reduction", "add")},
			in: []*tensor.Tensor{f32([]int{3}, 1, 1, 1), tensor.Must([]int{2, 1}, []int64{2, 2}), f32([]int{2}, 5, 6)}},
			[]*tensor.Tensor{f32([]int{3}, 1, 1, 12)}},
		{"scatterelements max float16", call{op: "ScatterElements", attrs: []ops.Attr{strAttr("reduction", "max")},
			in: []*tensor.Tensor{tensor.Must([]int{2}, []tensor.Float16Bits{tensor.Float16FromFloat32(1), tensor.Float16FromFloat32(4)}),
				i64(1, -2), tensor.Must([]int{2}, []tensor.Float16Bits{tensor.Float16FromFloat32(3), tensor.Float16FromFloat32(2)})}},
			[]*tensor.Tensor{tensor.Must([]int{2}, []tensor.Float16Bits{tensor.Float16FromFloat32(2), tensor.Float16FromFloat32(4)})}},
		{"shape start end", call{op: "Shape", attrs: []ops.Attr{intAttr("start", -2), intAttr("end", 100)}, in: []*tensor.Tensor{iota32(2, 3, 4)}},
			[]*tensor.Tensor{i64(3, 4)}},
		{"constant value_ints", call{op: "Constant", attrs: []ops.Attr{ints("value_ints", 4, 5)}}, []*tensor.Tensor{i64(4, 5)}},
		{"constant value_strings", call{op: "Constant", attrs: []ops.Attr{{Name: "value_strings", Type: ops.AttrStrings, Strings: [][]byte{[]byte("a"), []byte("")}}}},
			[]*tensor.Tensor{tensor.Must([]int{2}, []string{"a", ""})}},
		{"constant sparse coordinates", call{op: "Constant", attrs: []ops.Attr{{Name: "sparse_value", Type: ops.AttrSparseTensor, Sparse: &ops.SparseTensor{
			Values: f32([]int{2}, 5, 6), Indices: tensor.Must([]int{2, 2}, []int64{0, 1, 1, 2}), Dims: []int64{2, 3}}}}},
			[]*tensor.Tensor{f32([]int{2, 3}, 0, 5, 0, 0, 0, 6)}},
		{"constant sparse linear", call{op: "Constant", attrs: []ops.Attr{{Name: "sparse_value", Type: ops.AttrSparseTensor, Sparse: &ops.SparseTensor{
			Values: f32([]int{2}, 5, 6), Indices: i64(1, 5), Dims: []int64{2, 3}}}}},
			[]*tensor.Tensor{f32([]int{2, 3}, 0, 5, 0, 0, 0, 6)}},
		{"eyelike k=1 int", call{op: "EyeLike", attrs: []ops.Attr{intAttr("k", 1), intAttr("dtype", int64(tensor.Int64))}, in: []*tensor.Tensor{iota32(2, 3)}},
			[]*tensor.Tensor{tensor.Must([]int{2, 3}, []int64{0, 1, 0, 0, 0, 1})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.call.run()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d outputs, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !tensor.Equal(got[i], tc.want[i]) {
					t.Errorf("output %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestErrors checks that bad indices, shapes and sizes taken from data are
// refused with an error that says what is wrong, without panicking or
// allocating the claimed size.
func TestErrors(t *testing.T) {
	huge := int64(1) << 40
	cases := []struct {
		name  string
		call  call
		want  string
		limit bool // the error must wrap ops.ErrLimit
	}{
		{"reshape two -1", call{op: "Reshape", in: []*tensor.Tensor{iota32(2, 3), i64(-1, -1)}}, "more than one -1", false},
		{"reshape allowzero with -1", call{op: "Reshape", attrs: []ops.Attr{intAttr("allowzero", 1)}, in: []*tensor.Tensor{iota32(0, 3), i64(0, -1)}}, "cannot be inferred", false},
		{"reshape count mismatch", call{op: "Reshape", in: []*tensor.Tensor{iota32(2, 3), i64(4, 2)}}, "cannot reshape", false},
		{"reshape overflow", call{op: "Reshape", in: []*tensor.Tensor{iota32(2, 3), i64(huge, huge, huge)}}, "too many elements", false},
		{"gather index", call{op: "Gather", in: []*tensor.Tensor{iota32(3), i64(3)}}, "indices value 3 out of range [-3, 3)", false},
		{"gather negative index", call{op: "Gather", in: []*tensor.Tensor{iota32(3), i64(-4)}}, "indices value -4 out of range [-3, 3)", false},
		{"gather axis", call{op: "Gather", attrs: []ops.Attr{intAttr("axis", 2)}, in: []*tensor.Tensor{iota32(3), i64(0)}}, "axis 2 out of range", false},
		{"gatherelements index", call{op: "GatherElements", in: []*tensor.Tensor{iota32(2, 2), tensor.Must([]int{1, 2}, []int64{0, 2})}}, "indices value 2 out of range [-2, 2)", false},
		{"gathernd index", call{op: "GatherND", in: []*tensor.Tensor{iota32(2, 2), tensor.Must([]int{1, 2}, []int64{0, 5})}}, "indices value 5 out of range [-2, 2)", false},
		{"scatterelements index", call{op: "ScatterElements", in: []*tensor.Tensor{iota32(3), i64(7), f32([]int{1}, 1)}}, "indices value 7 out of range [-3, 3)", false},
		{"scatternd index", call{op: "ScatterND", in: []*tensor.Tensor{iota32(3), tensor.Must([]int{1, 1}, []int64{-9}), f32([]int{1}, 1)}}, "indices value -9 out of range [-3, 3)", false},
		{"tensorscatter linear overflow", call{op: "TensorScatter", in: []*tensor.Tensor{iota32(1, 3, 2), iota32(1, 2, 2), i64(2)}}, "out of range [0, 3)", false},
		{"expand bomb", call{op: "Expand", in: []*tensor.Tensor{iota32(1), i64(huge, huge)}}, "more than 2^40 elements", false},
		{"expand over session limit", call{op: "Expand", max: 100, in: []*tensor.Tensor{iota32(1), i64(1000, 1000)}}, "the session allows 100", true},
		{"tile bomb", call{op: "Tile", in: []*tensor.Tensor{iota32(2), i64(huge)}}, "more than 2^40 elements", false},
		{"constantofshape bomb", call{op: "ConstantOfShape", in: []*tensor.Tensor{i64(huge, huge)}}, "more than 2^40 elements", false},
		{"constantofshape over limit", call{op: "ConstantOfShape", max: 10, in: []*tensor.Tensor{i64(11)}}, "the session allows 10", true},
		{"constantofshape negative", call{op: "ConstantOfShape", in: []*tensor.Tensor{i64(-1)}}, "not a valid dimension", false},
		{"range bomb", call{op: "Range", in: []*tensor.Tensor{tensor.Scalar(int64(math.MinInt64)), tensor.Scalar(int64(math.MaxInt64)), tensor.Scalar(int64(1))}}, "too many elements", true},
		{"range float bomb", call{op: "Range", in: []*tensor.Tensor{tensor.Scalar(float32(0)), tensor.Scalar(float32(1e30)), tensor.Scalar(float32(1))}}, "too many elements", true},
		{"range over limit", call{op: "Range", max: 5, in: []*tensor.Tensor{tensor.Scalar(int64(0)), tensor.Scalar(int64(6)), tensor.Scalar(int64(1))}}, "the session allows 5", true},
		{"range zero delta", call{op: "Range", in: []*tensor.Tensor{tensor.Scalar(int64(0)), tensor.Scalar(int64(6)), tensor.Scalar(int64(0))}}, "delta cannot be 0", false},
		{"pad bomb", call{op: "Pad", in: []*tensor.Tensor{iota32(1, 1), i64(huge, huge, 0, 0)}}, "more than 2^40 elements", false},
		{"pad over limit", call{op: "Pad", max: 10, in: []*tensor.Tensor{iota32(2), i64(5, 5)}}, "the session allows 10", true},
		{"pad crops too much", call{op: "Pad", in: []*tensor.Tensor{iota32(2), i64(-2, -1)}}, "remove more than", false},
		{"onehot over limit", call{op: "OneHot", max: 1000, in: []*tensor.Tensor{i64(0, 1), tensor.Scalar(int64(1e9)), f32([]int{2}, 0, 1)}}, "the session allows 1000", true},
		{"onehot depth", call{op: "OneHot", in: []*tensor.Tensor{i64(0), tensor.Scalar(int64(0)), f32([]int{2}, 0, 1)}}, "positive size", false},
		{"slice zero step", call{op: "Slice", in: []*tensor.Tensor{iota32(3), i64(0), i64(3), i64(0), i64(0)}}, "step cannot be 0", false},
		{"squeeze non-1 axis", call{op: "Squeeze", in: []*tensor.Tensor{iota32(2, 3), i64(-1)}}, "its size is 3", false},
		{"unsqueeze duplicate axis", call{op: "Unsqueeze", in: []*tensor.Tensor{iota32(2), i64(0, -3)}}, "appears twice", false},
		{"concat mismatch", call{op: "Concat", attrs: []ops.Attr{intAttr("axis", 0)}, in: []*tensor.Tensor{iota32(2, 3), iota32(2, 2)}}, "incompatible", false},
		{"split sizes", call{op: "Split", outs: 2, in: []*tensor.Tensor{iota32(5), i64(2, 2)}}, "sums to 4", false},
		{"split uneven without num_outputs", call{op: "Split", opset: 13, outs: 2, in: []*tensor.Tensor{iota32(5)}}, "equal parts", false},
		{"transpose perm", call{op: "Transpose", attrs: []ops.Attr{ints("perm", 0, 0)}, in: []*tensor.Tensor{iota32(2, 2)}}, "appears twice", false},
		{"depthtospace channels", call{op: "DepthToSpace", attrs: []ops.Attr{intAttr("blocksize", 2)}, in: []*tensor.Tensor{iota32(1, 3, 1, 1)}}, "not divisible", false},
		{"reversesequence lens", call{op: "ReverseSequence", in: []*tensor.Tensor{iota32(2, 2), i64(3, 1)}}, "out of range [0, 2]", false},
		{"compress condition too long", call{op: "Compress", attrs: []ops.Attr{intAttr("axis", 0)}, in: []*tensor.Tensor{iota32(2), tensor.Must([]int{3}, []bool{false, false, true})}}, "beyond the 2 slices", false},
		{"constant without value", call{op: "Constant"}, "exactly one value attribute", false},
		{"constant sparse index", call{op: "Constant", attrs: []ops.Attr{{Name: "sparse_value", Type: ops.AttrSparseTensor, Sparse: &ops.SparseTensor{
			Values: f32([]int{1}, 5), Indices: i64(6), Dims: []int64{2, 3}}}}}, "sparse index 6 out of range [0, 6)", false},
		{"constant sparse bomb", call{op: "Constant", max: 1000, attrs: []ops.Attr{{Name: "sparse_value", Type: ops.AttrSparseTensor, Sparse: &ops.SparseTensor{
			Values: f32([]int{1}, 5), Indices: i64(0), Dims: []int64{1 << 20, 1 << 20}}}}}, "the session allows 1000", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.call.run()
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if tc.limit && !errors.Is(err, ops.ErrLimit) {
				t.Errorf("error %q does not wrap ops.ErrLimit", err)
			}
		})
	}
}

// TestEveryDType moves elements of every dtype gort holds through the
// generic kernels (Transpose, Gather, Concat, Pad) and checks the result
// against the same ops on float32 positions.
func TestEveryDType(t *testing.T) {
	for _, d := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Bool, tensor.String, tensor.Complex64,
		tensor.Complex128, tensor.Float16, tensor.BFloat16, tensor.Float8E4M3FN, tensor.Float8E4M3FNUZ, tensor.Float8E5M2,
		tensor.Float8E5M2FNUZ, tensor.Float8E8M0, tensor.Float4E2M1, tensor.Uint4, tensor.Int4, tensor.Uint2, tensor.Int2} {
		t.Run(d.String(), func(t *testing.T) {
			x, err := tensor.New(d, 2, 3)
			if err != nil {
				t.Fatal(err)
			}
			// (2, 3) transposed is (3, 2); gathering row 1 of that is x[:, 1]
			y, err := call{op: "Transpose", in: []*tensor.Tensor{x}}.run()
			if err != nil {
				t.Fatal(err)
			}
			if got := y[0].Shape(); !tensor.SameShape(got, []int{3, 2}) {
				t.Fatalf("transpose shape %v", got)
			}
			g, err := call{op: "Gather", in: []*tensor.Tensor{y[0], i64(1, -1)}}.run()
			if err != nil {
				t.Fatal(err)
			}
			c, err := call{op: "Concat", attrs: []ops.Attr{intAttr("axis", 0)}, in: []*tensor.Tensor{g[0], y[0]}}.run()
			if err != nil {
				t.Fatal(err)
			}
			p, err := call{op: "Pad", in: []*tensor.Tensor{c[0], i64(1, 0, 0, 1)}}.run()
			if err != nil {
				t.Fatal(err)
			}
			if got := p[0].Shape(); !tensor.SameShape(got, []int{6, 3}) || p[0].DType() != d {
				t.Fatalf("pad result %v %v, want %v [6 3]", p[0].DType(), got, d)
			}
		})
	}
}

// TestInfer checks static shape inference where the output shape follows
// from input shapes and attributes.
func TestInfer(t *testing.T) {
	f := tensor.TensorType(tensor.Float32, 2, 3, 4)
	cases := []struct {
		op    string
		opset int
		attrs []ops.Attr
		in    []tensor.Type
		want  []int
	}{
		{"Transpose", 25, []ops.Attr{ints("perm", 2, 0, 1)}, []tensor.Type{f}, []int{4, 2, 3}},
		{"Flatten", 25, []ops.Attr{intAttr("axis", -1)}, []tensor.Type{f}, []int{6, 4}},
		{"Squeeze", 11, []ops.Attr{ints("axes", 0)}, []tensor.Type{tensor.TensorType(tensor.Float32, 1, 3)}, []int{3}},
		{"Unsqueeze", 11, []ops.Attr{ints("axes", -1)}, []tensor.Type{f}, []int{2, 3, 4, 1}},
		{"Concat", 13, []ops.Attr{intAttr("axis", 1)}, []tensor.Type{f, f}, []int{2, 6, 4}},
		{"Shape", 25, []ops.Attr{intAttr("start", 1)}, []tensor.Type{f}, []int{2}},
		{"Size", 25, nil, []tensor.Type{f}, []int{}},
		{"Gather", 13, []ops.Attr{intAttr("axis", 1)}, []tensor.Type{f, tensor.TensorType(tensor.Int64, 5, 6)}, []int{2, 5, 6, 4}},
		{"Constant", 13, []ops.Attr{ints("value_ints", 1, 2, 3)}, nil, []int{3}},
	}
	for _, tc := range cases {
		op, err := registry.Lookup("", tc.op, tc.opset)
		if err != nil {
			t.Fatal(err)
		}
		if op.Infer == nil {
			t.Errorf("%s-%d: no Infer", tc.op, tc.opset)
			continue
		}
		got, err := op.Infer(&ops.Node{OpType: tc.op, Opset: tc.opset, Attrs: tc.attrs}, tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.op, err)
			continue
		}
		if !got[0].HasShape || !known(got[0]) || !tensor.SameShape(typeDims(got[0]), tc.want) {
			t.Errorf("%s: inferred %+v, want shape %v", tc.op, got[0], tc.want)
		}
	}
}

// TestSpaceToDepthModes checks SpaceToDepth against its definition: output
// channel (DCR) (by*b+bx)*C + c, or (CRD) c*b*b + by*b + bx, at (h, w) holds
// x[c, h*b+by, w*b+bx]; each is undone by DepthToSpace in the same mode.
// Before opset 28 the mode attribute does not exist and the order is DCR.
func TestSpaceToDepthModes(t *testing.T) {
	const N, C, H, W, b = 2, 3, 4, 6, 2
	x := iota32(N, C, H, W)
	xs := tensor.Data[float32](x)
	for _, tc := range []struct {
		mode  string
		opset int
	}{{"DCR", 28}, {"CRD", 28}, {"CRD", 13}} {
		attrs := []ops.Attr{intAttr("blocksize", b), strAttr("mode", tc.mode)}
		out, err := call{op: "SpaceToDepth", opset: tc.opset, attrs: attrs, in: []*tensor.Tensor{x}}.run()
		if err != nil {
			t.Fatalf("%s-%d: %v", tc.mode, tc.opset, err)
		}
		y := tensor.Data[float32](out[0])
		crd := tc.mode == "CRD" && tc.opset >= 28
		order := "DCR"
		if crd {
			order = "CRD"
		}
		for n := 0; n < N; n++ {
			for c := 0; c < C; c++ {
				for h := 0; h < H; h++ {
					for w := 0; w < W; w++ {
						by, bx := h%b, w%b
						oc := (by*b+bx)*C + c
						if crd {
							oc = c*b*b + by*b + bx
						}
						got := y[((n*C*b*b+oc)*(H/b)+h/b)*(W/b)+w/b]
						if want := xs[((n*C+c)*H+h)*W+w]; got != want {
							t.Fatalf("%s-%d: channel %d at (%d, %d) holds %v, want x[%d, %d, %d, %d] = %v",
								tc.mode, tc.opset, oc, h/b, w/b, got, n, c, h, w, want)
						}
					}
				}
			}
		}
		back, err := call{op: "DepthToSpace", opset: 28, attrs: []ops.Attr{intAttr("blocksize", b), strAttr("mode", order)}, in: out}.run()
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.Equal(back[0], x) {
			t.Errorf("%s-%d: DepthToSpace does not undo SpaceToDepth", tc.mode, tc.opset)
		}
	}
	if _, err := (call{op: "SpaceToDepth", opset: 28, attrs: []ops.Attr{intAttr("blocksize", b), strAttr("mode", "RCD")}, in: []*tensor.Tensor{x}}).run(); err == nil {
		t.Error("SpaceToDepth mode RCD: no error")
	}
}
