package reduce

import (
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// axisDims views shape as (outer, n, inner) around axis; a must be normalized.
func axisDims(shape []int, a int) (outer, n, inner int) {
	outer, inner = 1, 1
	for _, d := range shape[:a] {
		outer *= d
	}
	for _, d := range shape[a+1:] {
		inner *= d
	}
	return outer, shape[a], inner
}

// widen returns float16/bfloat16 data as float32 (ok false for other dtypes).
func widen(x *tensor.Tensor) (v []float32, ok bool) {
	switch x.DType() {
	case tensor.Float16:
		d := tensor.Data[tensor.Float16Bits](x)
		v = make([]float32, len(d))
		for i, h := range d {
			v[i] = h.Float32()
		}
		return v, true
	case tensor.BFloat16:
		d := tensor.Data[tensor.BFloat16Bits](x)
		v = make([]float32, len(d))
		for i, h := range d {
			v[i] = h.Float32()
		}
		return v, true
	}
	return nil, false
}

// narrow rounds v into out, a float16 or bfloat16 tensor.
func narrow(out *tensor.Tensor, v []float32) {
	if out.DType() == tensor.Float16 {
		d := tensor.Data[tensor.Float16Bits](out)
		for i, f := range v {
			d[i] = tensor.Float16FromFloat32(f)
		}
		return
	}
	d := tensor.Data[tensor.BFloat16Bits](out)
	for i, f := range v {
		d[i] = tensor.BFloat16FromFloat32(f)
	}
}

// axisInfer returns an Infer function for an op whose output replaces
// dimension axis of input 0 by size (keep) or drops it, with dtype out
// (tensor.Undefined: the input's).
func axisInfer(out tensor.DType, axisAttr string, def int64, keepAttr bool) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		t := tensor.Type{Kind: tensor.KindTensor, DType: out}
		if len(in) > 0 && out == tensor.Undefined {
			t.DType = in[0].DType
		}
		if len(in) == 0 || !in[0].HasShape {
			return []tensor.Type{t}, nil
		}
		a, err := ops.NormAxis(n.Int(axisAttr, def), len(in[0].Shape))
		if err != nil {
			return nil, err
		}
		keep := !keepAttr || n.Int("keepdims", 1) != 0
		t.HasShape = true
		for i, d := range in[0].Shape {
			switch {
			case i != a:
				t.Shape = append(t.Shape, d)
			case keep:
				t.Shape = append(t.Shape, tensor.Dim{Size: 1})
			}
		}
		return []tensor.Type{t}, n.Err()
	}
}
