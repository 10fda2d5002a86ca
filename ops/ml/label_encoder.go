package ml

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// LabelEncoder maps each element of X through the table keys -> values:
// Y[i] = values[j] where keys[j] == X[i], else the default. Version 1 maps
// strings to their index in classes_strings (or int64 indices back to
// strings); version 2 takes keys_* and values_* (floats, int64s, strings);
// version 4 adds keys_tensor, values_tensor and default_tensor (any of
// string, int16..int64, float, double). From version 4 a NaN key matches
// NaN inputs.
var labelEncoderOps = ops.Join(
	ops.Versions(Domain, "LabelEncoder", "LabelEncoder-1: string <-> index in classes_strings, default_int64/default_string when absent",
		[]int{1}, inferSwapStringInt, compileLabelEncoder1),
	ops.Versions(Domain, "LabelEncoder", "LabelEncoder: Y[i] = values[j] where keys[j] == X[i], else the default",
		[]int{2, 4}, inferLabelEncoder, compileLabelEncoder),
)

// encoder is one compiled key -> value table.
type encoder struct {
	keyType tensor.DType
	strs    map[string]int
	ints    map[int64]int
	floats  map[float64]int
	nan     int // index of a NaN key, -1 if none
	values  *tensor.Tensor
	def     *tensor.Tensor // one element of values' dtype
}

func compileLabelEncoder1(n *ops.Node) (*ops.Kernel, error) {
	classes := n.Strings("classes_strings", nil)
	defInt := n.Int("default_int64", -1)
	defStr := n.String("default_string", "_Unused")
	if err := n.Err(); err != nil {
		return nil, err
	}
	idx := make([]int64, len(classes))
	for i := range idx {
		idx[i] = int64(i)
	}
	return compileBimap(classes, idx, defInt, defStr)
}

// compileBimap returns a kernel mapping strings[i] -> ints[i] for string
// inputs and ints[i] -> strings[i] for integer inputs, with defaults for
// values not listed.
func compileBimap(strs []string, ints []int64, defInt int64, defStr string) (*ops.Kernel, error) {
	ti, ts := tensor.Must([]int{len(ints)}, ints), tensor.Must([]int{len(strs)}, strs)
	toInt, err := newEncoder(ts, ti, tensor.Scalar(defInt))
	if err != nil {
		return nil, err
	}
	toStr, err := newEncoder(ti, ts, tensor.Scalar(defStr))
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		if in[0].DType() == tensor.String {
			return toInt.run(c, in[0])
		}
		return toStr.run(c, in[0])
	}}, nil
}

// tableAttr reads the one keys_* or values_* attribute present (prefix
// "keys" or "values") as a 1-D tensor.
func tableAttr(n *ops.Node, prefix string) (*tensor.Tensor, error) {
	var found []*tensor.Tensor
	if v := n.Strings(prefix+"_strings", nil); n.Has(prefix + "_strings") {
		found = append(found, tensor.Must([]int{len(v)}, v))
	}
	if v := n.Ints(prefix+"_int64s", nil); n.Has(prefix + "_int64s") {
		found = append(found, tensor.Must([]int{len(v)}, v))
	}
	if v := n.Floats(prefix+"_floats", nil); n.Has(prefix + "_floats") {
		found = append(found, tensor.Must([]int{len(v)}, v))
	}
	if t := n.Tensor(prefix + "_tensor"); t != nil {
		r, err := t.Reshape(t.Len())
		if err != nil {
			return nil, err
		}
		found = append(found, r)
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("want exactly one of %[1]s_strings, %[1]s_int64s, %[1]s_floats and %[1]s_tensor, got %d", prefix, len(found))
	}
	return found[0], nil
}

func compileLabelEncoder(n *ops.Node) (*ops.Kernel, error) {
	keys, err := tableAttr(n, "keys")
	if err != nil {
		return nil, err
	}
	values, err := tableAttr(n, "values")
	if err != nil {
		return nil, err
	}
	def := n.Tensor("default_tensor")
	if def == nil {
		// The default follows the values' kind.
		switch vd := values.DType(); {
		case vd == tensor.String:
			def = tensor.Scalar(n.String("default_string", "_Unused"))
		case vd.IsFloat():
			def = tensor.Scalar(n.Float("default_float", float32(math.Copysign(0, -1))))
		default:
			def = tensor.Scalar(n.Int("default_int64", -1))
		}
		if err := n.Err(); err != nil {
			return nil, err
		}
	} else if def.Len() != 1 {
		return nil, fmt.Errorf("attribute default_tensor has %d elements, want 1", def.Len())
	}
	enc, err := newEncoder(keys, values, def)
	if err != nil {
		return nil, err
	}
	if n.Opset < 4 {
		enc.nan = -1 // before version 4 a NaN key matches nothing (as in ONNX Runtime)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		return enc.run(c, in[0])
	}}, nil
}

// newEncoder indexes keys (1-D) and converts the default to values' dtype.
func newEncoder(keys, values, def *tensor.Tensor) (*encoder, error) {
	if keys.Len() != values.Len() {
		return nil, fmt.Errorf("%d keys but %d values; want one value per key", keys.Len(), values.Len())
	}
	e := &encoder{keyType: keys.DType(), values: values, nan: -1}
	d, err := tensor.New(values.DType())
	if err != nil {
		return nil, err
	}
	def, err = def.Reshape()
	if err != nil {
		return nil, err
	}
	if err := tensor.Convert(d, def, false); err != nil {
		return nil, fmt.Errorf("default value: %w", err)
	}
	e.def = d
	// Later duplicates do not override the first key (as a lookup would find it first).
	switch kd := keys.DType(); {
	case kd == tensor.String:
		e.strs = map[string]int{}
		for i, k := range tensor.Data[string](keys) {
			if _, dup := e.strs[k]; !dup {
				e.strs[k] = i
			}
		}
	case kd.IsInt():
		ks, err := intsOf(keys)
		if err != nil {
			return nil, err
		}
		e.ints = map[int64]int{}
		for i, k := range ks {
			if _, dup := e.ints[k]; !dup {
				e.ints[k] = i
			}
		}
	case kd == tensor.Float32 || kd == tensor.Float64:
		e.floats = map[float64]int{}
		for i, k := range floatsOf(keys) {
			if math.IsNaN(k) {
				if e.nan < 0 {
					e.nan = i
				}
			} else if _, dup := e.floats[k]; !dup {
				e.floats[k] = i
			}
		}
	default:
		return nil, fmt.Errorf("keys are %v, want string, an integer type, float or double", kd)
	}
	return e, nil
}

// intsOf widens an integer tensor to int64.
func intsOf(t *tensor.Tensor) ([]int64, error) {
	w, err := tensor.New(tensor.Int64, t.Shape()...)
	if err != nil {
		return nil, err
	}
	if err := tensor.Convert(w, t, false); err != nil {
		return nil, err
	}
	return tensor.Data[int64](w), nil
}

// floatsOf widens a float32 or float64 tensor to float64.
func floatsOf(t *tensor.Tensor) []float64 {
	if d, ok := t.Raw().([]float64); ok {
		return d
	}
	d := tensor.Data[float32](t)
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

// lookup returns, for each element of x, the index of its key or -1.
func (e *encoder) lookup(x *tensor.Tensor) ([]int, error) {
	idx := make([]int, x.Len())
	xd := x.DType()
	switch {
	case e.strs != nil && xd == tensor.String:
		for i, v := range tensor.Data[string](x) {
			j, ok := e.strs[v]
			idx[i] = pick(j, ok)
		}
	case e.ints != nil && xd.IsInt():
		xs, err := intsOf(x)
		if err != nil {
			return nil, err
		}
		for i, v := range xs {
			j, ok := e.ints[v]
			idx[i] = pick(j, ok)
		}
	case e.floats != nil && (xd == tensor.Float32 || xd == tensor.Float64):
		for i, v := range floatsOf(x) {
			if math.IsNaN(v) {
				idx[i] = e.nan
				continue
			}
			j, ok := e.floats[v]
			idx[i] = pick(j, ok)
		}
	default:
		return nil, fmt.Errorf("input X is %v but the keys are %v", xd, e.keyType)
	}
	return idx, nil
}

func pick(j int, ok bool) int {
	if ok {
		return j
	}
	return -1
}

func (e *encoder) run(c *ops.Ctx, x *tensor.Tensor) ([]*tensor.Tensor, error) {
	idx, err := e.lookup(x)
	if err != nil {
		return nil, err
	}
	out, err := c.New(e.values.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	switch e.values.DType() {
	case tensor.String:
		take(tensor.Data[string](out), tensor.Data[string](e.values), tensor.Data[string](e.def)[0], idx)
	case tensor.Int64:
		take(tensor.Data[int64](out), tensor.Data[int64](e.values), tensor.Data[int64](e.def)[0], idx)
	case tensor.Float32:
		take(tensor.Data[float32](out), tensor.Data[float32](e.values), tensor.Data[float32](e.def)[0], idx)
	default:
		for i, j := range idx {
			src, k := e.values, j
			if j < 0 {
				src, k = e.def, 0
			}
			if err := tensor.SetFrom(out, i, src, k); err != nil {
				return nil, err
			}
		}
	}
	return []*tensor.Tensor{out}, nil
}

// take sets dst[i] = vals[idx[i]], or def where idx[i] < 0.
func take[T any](dst, vals []T, def T, idx []int) {
	for i, j := range idx {
		if j < 0 {
			dst[i] = def
		} else {
			dst[i] = vals[j]
		}
	}
}
