package graphopt

import (
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// Symbolic shape rules for the ops transformer graphs are made of. The ops'
// own inference functions lose symbolic dimensions in places (Reshape with
// 0 and -1, broadcasting against an unknown dimension); fusions need ranks,
// hidden sizes and "same shape" facts, so these rules run first and the
// op's Infer is the fallback.

// hasShapeRule reports whether symbolicInfer has a rule for the op.
func hasShapeRule(op string) bool {
	switch op {
	case "Cast", "Where", "MatMul", "Transpose", "Reshape", "Unsqueeze", "Gather", "Attention", "MultiHeadAttention":
		return true
	}
	return sameShapeOps[op] || broadcastOps[op] || compareOps[op]
}

var sameShapeOps = map[string]bool{
	"Relu": true, "Erf": true, "Tanh": true, "Sigmoid": true, "Sqrt": true, "Neg": true, "Exp": true,
	"Log": true, "Abs": true, "Reciprocal": true, "Softmax": true, "LogSoftmax": true, "Gelu": true,
	"FastGelu": true, "BiasGelu": true, "Identity": true, "Dropout": true, "LayerNormalization": true,
	"SkipLayerNormalization": true, "Not": true, "QuickGelu": true,
}

var broadcastOps = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true}

var compareOps = map[string]bool{"Equal": true, "Less": true, "Greater": true, "LessOrEqual": true, "GreaterOrEqual": true, "And": true, "Or": true}

// symbolicInfer returns the type of n's first output when a rule here knows
// it with a shape, else ok false.
//
// vals tracks int64 values that are (parts of) shapes: Shape(x) holds x's
// dimensions, Gather of one element of it a scalar dimension, so that
// Range(0, that, 1) gets the symbolic length position ids have.
func symbolicInfer(consts map[string]*tensor.Tensor, vals map[string][]tensor.Dim, n *ir.Node, in []tensor.Type) (tensor.Type, bool) {
	shaped := func(i int) bool {
		return i < len(in) && in[i].Kind == tensor.KindTensor && in[i].HasShape && in[i].DType != tensor.Undefined
	}
	out := func(d tensor.DType, dims []tensor.Dim) (tensor.Type, bool) {
		return tensor.Type{Kind: tensor.KindTensor, DType: d, HasShape: true, Shape: dims}, true
	}
	constInts := func(i int) ([]int64, bool) {
		if i >= len(n.Inputs) {
			return nil, false
		}
		t, ok := consts[n.Inputs[i]]
		if !ok || (t.DType() != tensor.Int64 && t.DType() != tensor.Int32) {
			return nil, false
		}
		if t.DType() == tensor.Int32 {
			var r []int64
			for _, x := range tensor.Data[int32](t) {
				r = append(r, int64(x))
			}
			return r, true
		}
		return tensor.Data[int64](t), true
	}
	op := n.OpType
	if !isONNX(n.Domain) && n.Domain != msDomain {
		return tensor.Type{}, false
	}
	switch {
	case op == "Shape" && shaped(0) && !hasAttr(n, "start") && !hasAttr(n, "end"):
		vals[n.Outputs[0]] = in[0].Shape
		return tensor.TensorType(tensor.Int64, len(in[0].Shape)), true
	case op == "Gather" && len(n.Inputs) == 2 && vals[n.Inputs[0]] != nil:
		idx, ok := constInts(1)
		shape := vals[n.Inputs[0]]
		if ok && len(idx) == 1 && idx[0] >= -int64(len(shape)) && idx[0] < int64(len(shape)) && shaped(1) && len(in[1].Shape) == 0 {
			if idx[0] < 0 {
				idx[0] += int64(len(shape))
			}
			vals[n.Outputs[0]] = []tensor.Dim{shape[idx[0]]}
			return tensor.TensorType(tensor.Int64), true
		}
	case op == "Range" && len(n.Inputs) == 3 && len(vals[n.Inputs[1]]) == 1:
		if t, ok := consts[n.Inputs[0]]; ok && t.Len() == 1 && t.DType() == tensor.Int64 && tensor.Data[int64](t)[0] == 0 {
			if d, ok := consts[n.Inputs[2]]; ok && d.Len() == 1 && d.DType() == tensor.Int64 && tensor.Data[int64](d)[0] == 1 {
				return out(tensor.Int64, vals[n.Inputs[1]])
			}
		}
	case op == "Attention" && n.Domain == msDomain && shaped(0) && len(in[0].Shape) == 3 && shaped(1) && len(in[1].Shape) == 2 && in[1].Shape[1].Known():
		if _, has := attrInts(n, "qkv_hidden_sizes"); has {
			return tensor.Type{}, false
		}
		return out(in[0].DType, []tensor.Dim{in[0].Shape[0], in[0].Shape[1], {Size: in[1].Shape[1].Size / 3}})
	case op == "MultiHeadAttention" && n.Domain == msDomain && shaped(0) && len(in[0].Shape) == 3 && shaped(2) && len(in[2].Shape) == 3:
		return out(in[0].DType, []tensor.Dim{in[0].Shape[0], in[0].Shape[1], in[2].Shape[2]})
	case sameShapeOps[op] && shaped(0):
		return out(in[0].DType, in[0].Shape)
	case op == "Cast" && shaped(0):
		return out(tensor.DType(attrInt(n, "to", 0)), in[0].Shape)
	case (broadcastOps[op] || compareOps[op]) && len(in) == 2 && shaped(0) && shaped(1):
		dims, ok := broadcastDims(in[0].Shape, in[1].Shape)
		if !ok {
			return tensor.Type{}, false
		}
		d := in[0].DType
		if compareOps[op] {
			d = tensor.Bool
		}
		return out(d, dims)
	case op == "Where" && len(in) == 3 && shaped(0) && shaped(1) && shaped(2):
		d1, ok1 := broadcastDims(in[0].Shape, in[1].Shape)
		if !ok1 {
			return tensor.Type{}, false
		}
		dims, ok := broadcastDims(d1, in[2].Shape)
		if !ok {
			return tensor.Type{}, false
		}
		return out(in[1].DType, dims)
	case op == "MatMul" && shaped(0) && shaped(1) && len(in[0].Shape) >= 2 && len(in[1].Shape) >= 2:
		a, b := in[0].Shape, in[1].Shape
		batch, ok := broadcastDims(a[:len(a)-2], b[:len(b)-2])
		if !ok {
			return tensor.Type{}, false
		}
		return out(in[0].DType, append(batch, a[len(a)-2], b[len(b)-1]))
	case op == "Transpose" && shaped(0):
		perm, ok := permOf(n, len(in[0].Shape))
		if !ok {
			return tensor.Type{}, false
		}
		dims := make([]tensor.Dim, len(perm))
		for i, p := range perm {
			dims[i] = in[0].Shape[p]
		}
		return out(in[0].DType, dims)
	case op == "Reshape" && shaped(0) && attrInt(n, "allowzero", 0) == 0:
		shape, ok := constInts(1)
		if !ok {
			return tensor.Type{}, false
		}
		dims, ok := reshapeDims(in[0].Shape, shape)
		if !ok {
			return tensor.Type{}, false
		}
		return out(in[0].DType, dims)
	case op == "Unsqueeze" && shaped(0):
		axes, ok := attrInts(n, "axes")
		if !ok {
			axes, ok = constInts(1)
		}
		if !ok {
			return tensor.Type{}, false
		}
		r := len(in[0].Shape) + len(axes)
		dims := make([]tensor.Dim, r)
		mark := make([]bool, r)
		for _, a := range axes {
			if a < 0 {
				a += int64(r)
			}
			if a < 0 || a >= int64(r) || mark[a] {
				return tensor.Type{}, false
			}
			mark[a] = true
			dims[a] = tensor.Dim{Size: 1}
		}
		j := 0
		for i := range dims {
			if !mark[i] {
				dims[i] = in[0].Shape[j]
				j++
			}
		}
		return out(in[0].DType, dims)
	case op == "Gather" && shaped(0) && shaped(1):
		r := len(in[0].Shape)
		axis := attrInt(n, "axis", 0)
		if axis < 0 {
			axis += int64(r)
		}
		if axis < 0 || axis >= int64(r) {
			return tensor.Type{}, false
		}
		dims := append(append(append([]tensor.Dim(nil), in[0].Shape[:axis]...), in[1].Shape...), in[0].Shape[axis+1:]...)
		return out(in[0].DType, dims)
	}
	return tensor.Type{}, false
}

func unknownDim() tensor.Dim { return tensor.Dim{Size: -1} }

// broadcastDims broadcasts two symbolic shapes; a named dimension against a
// known size other than 1 takes the known size (a valid run needs them equal).
func broadcastDims(a, b []tensor.Dim) ([]tensor.Dim, bool) {
	r := max(len(a), len(b))
	out := make([]tensor.Dim, r)
	for i := 0; i < r; i++ {
		x, y := tensor.Dim{Size: 1}, tensor.Dim{Size: 1}
		if j := i - (r - len(a)); j >= 0 {
			x = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			y = b[j]
		}
		switch {
		case x.Known() && x.Size == 1:
			out[i] = y
		case y.Known() && y.Size == 1:
			out[i] = x
		case x.Known() && y.Known():
			if x.Size != y.Size {
				return nil, false
			}
			out[i] = x
		case x.Known():
			out[i] = x
		case y.Known():
			out[i] = y
		case x.Param != "" && x.Param == y.Param:
			out[i] = x
		default:
			out[i] = unknownDim()
		}
	}
	return out, true
}

// reshapeDims applies a Reshape shape (0 copies, -1 infers) symbolically.
// The -1 dimension is known when the named dimensions the input has are
// exactly those the output copies with 0.
func reshapeDims(in []tensor.Dim, shape []int64) ([]tensor.Dim, bool) {
	out := make([]tensor.Dim, len(shape))
	infer := -1
	for i, s := range shape {
		switch {
		case s == 0:
			if i >= len(in) {
				return nil, false
			}
			out[i] = in[i]
		case s == -1:
			if infer >= 0 {
				return nil, false
			}
			infer = i
		case s > 0:
			out[i] = tensor.Dim{Size: s}
		default:
			return nil, false
		}
	}
	if infer < 0 {
		return out, true
	}
	out[infer] = unknownDim()
	inKnown, outKnown := int64(1), int64(1)
	params := map[string]int{}
	for _, d := range in {
		switch {
		case d.Known():
			inKnown *= d.Size
		case d.Param != "":
			params[d.Param]++
		default:
			return out, true
		}
	}
	for i, d := range out {
		if i == infer {
			continue
		}
		switch {
		case d.Known():
			outKnown *= d.Size
		case d.Param != "":
			params[d.Param]--
		default:
			return out, true
		}
	}
	for _, c := range params {
		if c != 0 {
			return out, true
		}
	}
	if outKnown > 0 && inKnown%outKnown == 0 {
		out[infer] = tensor.Dim{Size: inKnown / outKnown}
	}
	return out, true
}
