package graphopt

import (
	"strconv"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
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
// vals holds the shape values trackValues found, so that Range(0, n, 1)
// gets the symbolic length position ids have.
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
		return tensor.TensorType(tensor.Int64, len(in[0].Shape)), true
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

// splitInfer types the outputs of a Split of a shaped input along an axis
// of known size, keeping the other (symbolic) dimensions.
func splitInfer(consts map[string]*tensor.Tensor, n *ir.Node, in []tensor.Type) ([]tensor.Type, bool) {
	if n.OpType != "Split" || !isONNX(n.Domain) || len(in) == 0 || in[0].Kind != tensor.KindTensor || !in[0].HasShape {
		return nil, false
	}
	r := int64(len(in[0].Shape))
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r || !in[0].Shape[axis].Known() {
		return nil, false
	}
	total := in[0].Shape[axis].Size
	sizes, ok := attrInts(n, "split")
	if !ok && len(n.Inputs) > 1 && n.Inputs[1] != "" {
		t, isConst := consts[n.Inputs[1]]
		if !isConst {
			return nil, false
		}
		x, err := ops.Ints64(t)
		if err != nil {
			return nil, false
		}
		sizes, ok = x, true
	}
	if !ok {
		k := int64(len(n.Outputs))
		if k == 0 || total%k != 0 || hasAttr(n, "num_outputs") {
			return nil, false
		}
		sizes = make([]int64, k)
		for i := range sizes {
			sizes[i] = total / k
		}
	}
	if len(sizes) != len(n.Outputs) {
		return nil, false
	}
	outs := make([]tensor.Type, len(sizes))
	for i, sz := range sizes {
		dims := append([]tensor.Dim(nil), in[0].Shape...)
		dims[axis] = tensor.Dim{Size: sz}
		outs[i] = tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType, HasShape: true, Shape: dims}
	}
	return outs, true
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

// anonParam names the anonymous dimension i of value x inside shape values,
// so a Reshape can tell that it copies that very dimension.
func anonParam(x string, i int) string { return "?" + x + "#" + strconv.Itoa(i) }

// shapeValue returns the dimensions an integer value holds: a tracked shape
// value or a constant of rank 0 or 1.
func shapeValue(consts map[string]*tensor.Tensor, vals map[string][]tensor.Dim, name string) ([]tensor.Dim, bool) {
	if d, ok := vals[name]; ok {
		return d, true
	}
	t, ok := consts[name]
	if !ok || t.Rank() > 1 {
		return nil, false
	}
	x, err := ops.Ints64(t)
	if err != nil {
		return nil, false
	}
	dims := make([]tensor.Dim, len(x))
	for i, v := range x {
		dims[i] = tensor.Dim{Size: v}
		if v < 0 {
			dims[i] = tensor.Dim{Size: -1} // -1 in a Reshape shape: stays "infer"
		}
	}
	return dims, true
}

// trackValues follows shapes through the integer ops exporters compute
// Reshape targets with (Shape, Gather, Unsqueeze, Squeeze, Cast, Concat,
// Slice), recording in vals the dimensions each output holds. Scalars are
// recorded as one dimension.
func trackValues(consts map[string]*tensor.Tensor, vals map[string][]tensor.Dim, n *ir.Node, in []tensor.Type) {
	if !isONNX(n.Domain) || len(n.Outputs) == 0 || len(n.Inputs) == 0 {
		return
	}
	arg := func(i int) ([]tensor.Dim, bool) {
		if i >= len(n.Inputs) || n.Inputs[i] == "" {
			return nil, false
		}
		return shapeValue(consts, vals, n.Inputs[i])
	}
	ints := func(i int) ([]int64, bool) {
		if i >= len(n.Inputs) {
			return nil, false
		}
		t, ok := consts[n.Inputs[i]]
		if !ok {
			return nil, false
		}
		x, err := ops.Ints64(t)
		return x, err == nil
	}
	one := func(i int) (int64, bool) {
		x, ok := ints(i)
		if !ok || len(x) != 1 {
			return 0, false
		}
		return x[0], true
	}
	out := n.Outputs[0]
	switch n.OpType {
	case "Shape":
		if len(in) == 0 || !in[0].HasShape || in[0].Kind != tensor.KindTensor {
			return
		}
		r := int64(len(in[0].Shape))
		lo, hi := attrInt(n, "start", 0), attrInt(n, "end", r)
		if lo < 0 {
			lo += r
		}
		if hi < 0 {
			hi += r
		}
		lo, hi = min(max(lo, 0), r), min(max(hi, 0), r)
		var dims []tensor.Dim
		for i := lo; i < hi; i++ {
			d := in[0].Shape[i]
			if !d.Known() && d.Param == "" {
				d.Param = anonParam(n.Inputs[0], int(i))
			}
			dims = append(dims, d)
		}
		vals[out] = dims
	case "Gather":
		data, ok := vals[n.Inputs[0]]
		idx, ok2 := ints(1)
		if !ok || !ok2 || attrInt(n, "axis", 0) != 0 || len(n.Inputs) != 2 {
			return
		}
		var dims []tensor.Dim
		for _, i := range idx {
			if i < 0 {
				i += int64(len(data))
			}
			if i < 0 || i >= int64(len(data)) {
				return
			}
			dims = append(dims, data[i])
		}
		vals[out] = dims
	case "Unsqueeze", "Squeeze", "Cast", "Identity":
		if n.OpType == "Cast" {
			if to := tensor.DType(attrInt(n, "to", 0)); to != tensor.Int64 && to != tensor.Int32 {
				return
			}
		}
		if d, ok := vals[n.Inputs[0]]; ok && len(d) == 1 || n.OpType == "Cast" || n.OpType == "Identity" {
			if ok {
				vals[out] = d
			}
		}
	case "Concat":
		if attrInt(n, "axis", 0) != 0 {
			return
		}
		var dims []tensor.Dim
		for i := range n.Inputs {
			d, ok := arg(i)
			if !ok {
				return
			}
			dims = append(dims, d...)
		}
		vals[out] = dims
	case "Sub":
		a, ok1 := arg(0)
		b, ok2 := arg(1)
		if !ok1 || !ok2 || len(a) != 1 || len(b) != 1 {
			return
		}
		switch {
		case a[0].Known() && b[0].Known():
			vals[out] = []tensor.Dim{{Size: a[0].Size - b[0].Size}}
		case a[0].Param != "" && a[0].Param == b[0].Param:
			vals[out] = []tensor.Dim{{Size: 0}} // key_length - query_length in self-attention
		}
	case "Slice":
		data, ok := vals[n.Inputs[0]]
		lo, ok1 := one(1)
		hi, ok2 := one(2)
		if !ok || !ok1 || !ok2 {
			return
		}
		if a, ok := one(3); len(n.Inputs) > 3 && n.Inputs[3] != "" && (!ok || a != 0 && a != -1) {
			return
		}
		if st, ok := one(4); len(n.Inputs) > 4 && n.Inputs[4] != "" && (!ok || st != 1) {
			return
		}
		r := int64(len(data))
		if lo < 0 {
			lo += r
		}
		if hi < 0 {
			hi += r
		}
		lo, hi = min(max(lo, 0), r), min(max(hi, 0), r)
		if lo <= hi {
			vals[out] = data[lo:hi]
		}
	}
}

// reshapeTarget turns a Reshape of x to the tracked shape value dims into
// a constant shape: dimensions copied from x become 0, known sizes stay,
// and one remaining dimension becomes -1.
func reshapeTarget(x string, xt tensor.Type, dims []tensor.Dim) ([]int64, bool) {
	shape := make([]int64, len(dims))
	infer := false
	for i, d := range dims {
		switch {
		case d.Known() && d.Size > 0:
			shape[i] = d.Size
		case d.Known():
			return nil, false // a literal 0 would mean "copy"
		case i < len(xt.Shape) && (d.Param != "" && d.Param == xt.Shape[i].Param || d.Param == anonParam(x, i)):
			shape[i] = 0
		case !infer:
			shape[i], infer = -1, true
		default:
			return nil, false
		}
	}
	return shape, true
}
