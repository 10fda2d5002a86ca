package autodiff

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// shapeRules: ops that move, copy or select elements without arithmetic.
// Their gradients move dy back: reshape it, transpose it by the inverse
// permutation, sum the copies, or scatter it into zeros at the selected
// positions.
func shapeRules() []namedRule {
	return []namedRule{
		rule("Reshape", reshapeBack),
		rule("Unsqueeze", reshapeBack),
		rule("Squeeze", reshapeBack),
		rule("Flatten", reshapeBack),
		// y = transpose(x, perm): dx = transpose(dy, perm⁻¹); no perm
		// reverses the axes, which is its own inverse.
		rule("Transpose", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			perm, ok := attrIs(n, "perm")
			if !ok {
				return []string{b.Op("Transpose", nil, dy[0])}, nil
			}
			inv := make([]int64, len(perm))
			for i, p := range perm {
				if p < 0 || int(p) >= len(perm) {
					return nil, fmt.Errorf("perm %v is not a permutation", perm)
				}
				inv[p] = int64(i)
			}
			return []string{b.Op("Transpose", []Attr{attrInts("perm", inv...)}, dy[0])}, nil
		}),
		// y = expand(x, shape): dx = dy summed over the broadcast axes.
		rule("Expand", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return []string{b.ReduceTo(dy[0], n.Outputs[0], n.Inputs[0]), ""}, nil
		}),
		// y = concat(x₁..xₖ, axis): dxᵢ = split(dy, axis) by the inputs'
		// sizes along axis, read from their shapes at run time.
		rule("Concat", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			axis := attrI(n, "axis", 0)
			if len(n.Inputs) == 1 {
				return []string{dy[0]}, nil
			}
			sizes := make([]string, len(n.Inputs))
			for i, x := range n.Inputs {
				sizes[i] = b.dimOf(x, axis)
			}
			split := b.Op("Concat", []Attr{attrInt("axis", 0)}, sizes...)
			return b.OpN("Split", len(n.Inputs), []Attr{attrInt("axis", axis)}, dy[0], split), nil
		}),
		// (y₁..yₖ) = split(x, axis): dx = concat(dy₁..dyₖ, axis), with
		// zeros shaped like yᵢ for the outputs that get no gradient.
		rule("Split", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			parts := make([]string, len(n.Outputs))
			var idle []int // outputs without gradient: zeros of their shape
			for i := range n.Outputs {
				if i < len(dy) && dy[i] != "" {
					parts[i] = dy[i]
				} else {
					idle = append(idle, i)
				}
			}
			for k, y := range b.outputs(n, idle...) {
				parts[idle[k]] = b.zerosLike(y, n.Inputs[0])
			}
			out := make([]string, len(n.Inputs))
			out[0] = b.Op("Concat", []Attr{attrInt("axis", attrI(n, "axis", 0))}, parts...)
			return out, nil
		}),
		// y = x[starts:ends:steps] along axes: dx pads dy with zeros for
		// unit steps (sliceBack), else the same Slice applied to the flat
		// position map p = reshape(range(size(x)), shape(x)) yields the
		// position in x of every element of y, whatever the steps, negative
		// indices and clamping, and dx scatters dy there into zeros. Slice
		// never selects an element twice, so no reduction is needed and
		// both formulations are valid at every opset.
		rule("Slice", sliceBack),
		// DepthToSpace and SpaceToDepth permute elements; Compress selects
		// them; GatherND may select one several times (reduction=add,
		// opset >= 16). All use the position map as Slice does.
		// DepthToSpace (DCR) and SpaceToDepth are each other's inverse
		// permutation; CRD's inverse is its Reshape/Transpose unfolded.
		rule("DepthToSpace", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			bs := attrI(n, "blocksize", 0)
			if attrS(n, "mode", "DCR") == "DCR" {
				return []string{b.Op("SpaceToDepth", []Attr{attrInt("blocksize", bs)}, dy[0])}, nil
			}
			xs, ok := b.dims(n.Inputs[0])
			if !ok || len(xs) != 4 || !known(xs[1], xs[2], xs[3]) || bs <= 0 {
				return nil, fmt.Errorf("DepthToSpace CRD gradient needs the channels and spatial sizes of %q", n.Inputs[0])
			}
			c, h, w := int64(xs[1])/(bs*bs), int64(xs[2]), int64(xs[3])
			// y = reshape(transpose(reshape(x, (N, C, b, b, H, W)), (0, 1, 4, 2, 5, 3)), (N, C, H·b, W·b))
			v := b.Op("Reshape", nil, dy[0], b.Ints(0, c, h, bs, w, bs))
			v = b.Op("Transpose", []Attr{attrInts("perm", 0, 1, 3, 5, 2, 4)}, v)
			return []string{b.Op("Reshape", nil, v, b.Ints(0, c*bs*bs, h, w))}, nil
		}),
		rule("SpaceToDepth", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return []string{b.Op("DepthToSpace", []Attr{attrInt("blocksize", attrI(n, "blocksize", 0)), attrStr("mode", "DCR")}, dy[0])}, nil
		}),
		rule("Compress", moveRule(false)),
		rule("GatherND", moveRule(true)),
		// y = data with updates written (reduction none) or added (add) at
		// indices: ddata = dy, zeroed at the written positions for none;
		// dupdates = dy gathered at the indices.
		rule("ScatterND", scatterBack("GatherND")),
		rule("ScatterElements", scatterBack("GatherElements")),
		// y = x with the elements outside the triangle zeroed: dx = the same
		// Trilu of dy.
		rule("Trilu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			out := make([]string, len(n.Inputs))
			out[0] = b.Op("Trilu", n.Attrs, append([]string{dy[0]}, n.Inputs[1:]...)...)
			return out, nil
		}),
		// y = take(x, indices, axis): dx adds every dy row back at its
		// index (indices may repeat), see gatherBack.
		rule("Gather", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			dx, err := b.gatherBack(n.Inputs[0], n.Inputs[1], dy[0], attrI(n, "axis", 0))
			return []string{dx, ""}, err
		}),
		// y = x[indices] along axis elementwise: dx = ScatterElements(0,
		// indices, dy, axis, reduction=add) (opset >= 16).
		rule("GatherElements", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			if b.opset < 16 {
				return nil, fmt.Errorf("GatherElements gradient scatters with reduction=add, which needs ai.onnx opset >= 16 (the model has %d)", b.opset)
			}
			x := n.Inputs[0]
			dx := b.Op("ScatterElements", []Attr{attrInt("axis", attrI(n, "axis", 0)), attrStr("reduction", "add")},
				b.zerosLike(x, x), n.Inputs[1], dy[0])
			return []string{dx, ""}, nil
		}),
		// y = tile(x, repeats): y viewed as (r₀, x₀, r₁, x₁, ...) holds a
		// copy of x for every (r₀, r₁, ...); dx sums the copies.
		rule("Tile", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x, reps := n.Inputs[0], n.Inputs[1]
			r, ok := b.staticRank(x)
			if !ok {
				return nil, fmt.Errorf("Tile gradient needs the rank of %q", x)
			}
			if r == 0 {
				return []string{dy[0], ""}, nil
			}
			col := b.Ints(1)
			pairs := b.Op("Concat", []Attr{attrInt("axis", 1)},
				b.Op("Unsqueeze", nil, reps, col), b.Op("Unsqueeze", nil, b.Op("Shape", nil, x), col))
			view := b.Op("Reshape", nil, dy[0], b.Op("Reshape", nil, pairs, b.Ints(-1)))
			axes := make([]int64, r)
			for i := range axes {
				axes[i] = int64(2 * i)
			}
			return []string{b.Op("ReduceSum", []Attr{attrInt("keepdims", 0)}, view, b.Ints(axes...)), ""}, nil
		}),
		// y = pad(x): the same Pad applied to x's flat position map (−1
		// for the new elements) gives the source of every element of y,
		// in any mode; dx adds dy there (reflect, edge and wrap copy an
		// element several times, which needs reduction=add, opset >= 16).
		// The pad value gets no gradient.
		rule("Pad", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			if b.Needs(input(n, 2)) {
				return nil, fmt.Errorf("Pad gradient with respect to constant_value is not supported")
			}
			mode := attrS(n, "mode", "constant")
			if dx, ok := b.padBySlice(n, dy[0], mode); ok {
				out := make([]string, len(n.Inputs))
				out[0] = dx
				return out, nil
			}
			add := mode != "constant"
			if add && b.opset < 16 {
				return nil, fmt.Errorf("Pad mode %q gradient scatters with reduction=add, which needs ai.onnx opset >= 16 (the model has %d)", mode, b.opset)
			}
			args := []string{b.positions(x), n.Inputs[1], b.Const(tensor.Scalar(int64(-1)))}
			if a := input(n, 3); a != "" {
				args = append(args, a)
			}
			pos := b.Op("Pad", []Attr{attrStr("mode", mode)}, args...)
			// position p goes to slot p+1 of size(x)+1 slots; slot 0
			// collects the padding and is dropped.
			flat := b.Ints(-1)
			n1 := b.Op("Add", nil, b.Op("Reshape", nil, b.Op("Size", nil, x), b.Ints(1)), b.Ints(1))
			zeros := b.Op("ConstantOfShape", []Attr{tensorAttr("value", zeroOf(b.dtype(x)))}, n1)
			var attrs []Attr
			if add {
				attrs = []Attr{attrStr("reduction", "add")}
			}
			idx := b.Op("Add", nil, b.Op("Reshape", nil, pos, flat), b.Const(tensor.Scalar(int64(1))))
			sc := b.Op("ScatterElements", attrs, zeros, idx, b.Op("Reshape", nil, dy[0], flat))
			body := b.Op("Slice", nil, sc, b.Ints(1), b.Ints(math.MaxInt64))
			out := make([]string, len(n.Inputs))
			out[0] = b.Op("Reshape", nil, body, b.Op("Shape", nil, x))
			return out, nil
		}),
		// Resize with mode nearest copies input elements: the same Resize of
		// x's flat position map (as int32, which every runtime resizes; x
		// must have fewer than 2³¹ elements) gives the source of every
		// output element; dx adds dy there (opset >= 16). The linear and
		// cubic modes are not supported.
		rule("Resize", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			if mode := attrS(n, "mode", "nearest"); mode != "nearest" {
				return nil, fmt.Errorf("Resize gradient supports mode nearest, not %q", mode)
			}
			if b.opset < 16 {
				return nil, fmt.Errorf("Resize gradient scatters with reduction=add, which needs ai.onnx opset >= 16 (the model has %d)", b.opset)
			}
			args := append([]string{b.Op("Cast", []Attr{attrInt("to", int64(tensor.Int32))}, b.positions(x))}, n.Inputs[1:]...)
			pos := b.Op("Cast", []Attr{attrInt("to", int64(tensor.Int64))}, b.Op("Resize", n.Attrs, args...))
			out := make([]string, len(n.Inputs))
			out[0] = b.scatterFlat(x, pos, dy[0], true)
			return out, nil
		}),
		// (values, indices) = topk(x): dx scatters dvalues to indices.
		rule("TopK", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			if len(dy) > 1 && dy[1] != "" {
				return nil, fmt.Errorf("TopK indices have no gradient")
			}
			dx := b.Op("ScatterElements", []Attr{attrInt("axis", attrI(n, "axis", -1))}, b.zerosLike(x, x), b.output(n, 1), dy[0])
			return []string{dx, ""}, nil
		}),
		// y = cumsum(x, axis): dx = the cumulative sum of dy the other way
		// (same exclusive).
		rule("CumSum", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			attrs := []Attr{attrInt("exclusive", attrI(n, "exclusive", 0)), attrInt("reverse", 1-attrI(n, "reverse", 0))}
			return []string{b.Op("CumSum", attrs, dy[0], n.Inputs[1]), ""}, nil
		}),
		// Dropout: y = x·mask/(1-ratio) in training mode, x otherwise;
		// dx = dy·mask·scale with the same mask (the forward node's mask
		// output, named here when the model leaves it out) and scale
		// 1/(1-ratio) in training mode, 1 otherwise.
		rule("Dropout", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			training := input(n, 2)
			if training == "" {
				return []string{dy[0], "", ""}, nil
			}
			ratio := input(n, 1)
			if ratio == "" {
				ratio = b.Scalar(0.5, x)
			} else {
				ratio = b.castLike(ratio, x)
			}
			mask := b.output(n, 1)
			one := b.Scalar(1, x)
			scale := b.Where(training, b.Op("Div", nil, one, b.Op("Sub", nil, one, ratio)), one)
			g := b.Op("Mul", nil, dy[0], scale)
			return []string{b.Where(mask, g, b.Op("Mul", nil, g, b.Scalar(0, x))), "", ""}, nil
		}),
	}
}

// reshapeBack is the rule of every op that only changes the shape: dx =
// reshape(dy, shape(x)).
func reshapeBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	out := make([]string, len(n.Inputs))
	out[0] = b.Op("Reshape", nil, dy[0], b.Op("Shape", nil, n.Inputs[0]))
	return out, nil
}

// input returns n's input i, or "" when it is absent.
func input(n *ir.Node, i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}

// output returns the name of n's output i. When the model leaves that
// output out, the node is replaced in the graph by a copy that names it,
// so a rule can use an optional output (a mask, saved statistics) that
// the forward pass computes anyway. A rule calls it once per node (see
// outputs for several).
func (b *Builder) output(n *ir.Node, i int) string { return b.outputs(n, i)[0] }

// outputs is output for several outputs of n at once.
func (b *Builder) outputs(n *ir.Node, is ...int) []string {
	c := *n
	c.Outputs = append([]string{}, n.Outputs...)
	names := make([]string, len(is))
	renamed := false
	for k, i := range is {
		for len(c.Outputs) <= i {
			c.Outputs = append(c.Outputs, "")
		}
		if c.Outputs[i] == "" {
			c.Outputs[i] = b.fresh(n.OpType + "_out")
			renamed = true
		}
		names[k] = c.Outputs[i]
	}
	if renamed {
		for k, m := range b.g.Nodes {
			if m == n {
				b.g.Nodes[k] = &c
			}
		}
	}
	return names
}

func attrStr(name, v string) Attr { return Attr{Name: name, Type: ops.AttrString, S: []byte(v)} }

// attrS returns a string attribute of n.
func attrS(n *ir.Node, name, def string) string {
	for _, a := range n.Attrs {
		if a.Name == name {
			return string(a.S)
		}
	}
	return def
}

// zerosLike returns zeros of value shaped's shape and value typed's dtype.
func (b *Builder) zerosLike(shaped, typed string) string {
	return b.Op("ConstantOfShape", []Attr{tensorAttr("value", zeroOf(b.dtype(typed)))}, b.Op("Shape", nil, shaped))
}

// dimOf returns x's size along axis as a 1-D int64 of one element: a
// constant when known, else read from Shape at run time.
func (b *Builder) dimOf(x string, axis int64) string {
	if s, ok := b.staticShape(x); ok {
		a := axis
		if a < 0 {
			a += int64(len(s))
		}
		if a >= 0 && int(a) < len(s) {
			return b.Ints(int64(s[a]))
		}
	}
	return b.Op("Gather", nil, b.Op("Shape", nil, x), b.Ints(axis))
}

// positions returns reshape(range(size(x)), shape(x)): the flat int64
// position of every element of x.
func (b *Builder) positions(x string) string {
	size := b.Op("Size", nil, x)
	r := b.Op("Range", nil, b.Const(tensor.Scalar(int64(0))), size, b.Const(tensor.Scalar(int64(1))))
	return b.Op("Reshape", nil, r, b.Op("Shape", nil, x))
}

// scatterFlat returns zeros shaped like x with the values of g written
// (add: added, which repeated positions need) at the flat positions pos.
func (b *Builder) scatterFlat(x, pos, g string, add bool) string {
	flat := b.Ints(-1)
	zeros := b.Op("ConstantOfShape", []Attr{tensorAttr("value", zeroOf(b.dtype(x)))}, b.Op("Reshape", nil, b.Op("Size", nil, x), b.Ints(1)))
	var attrs []Attr
	if add {
		attrs = []Attr{attrStr("reduction", "add")}
	}
	s := b.Op("ScatterElements", attrs, zeros, b.Op("Reshape", nil, pos, flat), b.Op("Reshape", nil, g, flat))
	return b.Op("Reshape", nil, s, b.Op("Shape", nil, x))
}

// gatherBack returns the gradient of y = Gather(x, indices, axis): x's
// axis is moved to the front (a Transpose, unless axis is 0), dy is
// transposed to indices' dims followed by x's remaining dims, and the rows
// are added at their indices: ScatterND(zeros, indices[..., None], dy,
// reduction=add) at opset >= 16, else OneHot(indices)ᵀ·dy (a MatMul that
// costs len(indices)·x.shape[axis] memory, fine for small tables).
// Negative indices count from the end, as in Gather.
func (b *Builder) gatherBack(x, idx, dy string, axis int64) (string, error) {
	r, okx := b.staticRank(x)
	q, oki := b.staticRank(idx)
	if !okx || !oki {
		return "", fmt.Errorf("Gather gradient needs the ranks of %q and %q", x, idx)
	}
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || int(axis) >= r {
		return "", fmt.Errorf("Gather axis %d out of range for rank %d", axis, r)
	}
	a := int(axis)
	// xt = transpose(x, xperm) puts axis first; dy's dims are
	// x[:a] ++ indices ++ x[a+1:], dyt's are indices ++ x[:a] ++ x[a+1:].
	xperm := []int64{axis}
	dperm := []int64{}
	for i := 0; i < q; i++ {
		dperm = append(dperm, int64(a+i))
	}
	for i := 0; i < r; i++ {
		if i != a {
			xperm = append(xperm, int64(i))
		}
	}
	for i := 0; i < a; i++ {
		dperm = append(dperm, int64(i))
	}
	for i := a + q; i < r+q-1; i++ {
		dperm = append(dperm, int64(i))
	}
	xt, dyt := x, dy
	if a != 0 {
		xt = b.Op("Transpose", []Attr{attrInts("perm", xperm...)}, x)
		dyt = b.Op("Transpose", []Attr{attrInts("perm", dperm...)}, dy)
	}
	var dxt string
	if b.opset >= 16 {
		// ScatterND wants indices in range: wrap the negative ones.
		zero := b.Const(tensor.Scalar(int64(0)))
		rows := b.Op("Gather", nil, b.Op("Shape", nil, xt), zero) // a scalar
		i64 := b.Op("Cast", []Attr{attrInt("to", int64(tensor.Int64))}, idx)
		wrapped := b.Where(b.Op("Less", nil, i64, zero), b.Op("Add", nil, i64, rows), i64)
		dxt = b.Op("ScatterND", []Attr{attrStr("reduction", "add")},
			b.zerosLike(xt, x), b.Op("Unsqueeze", nil, wrapped, b.Ints(-1)), dyt)
	} else {
		rows := b.Op("Gather", nil, b.Op("Shape", nil, xt), b.Ints(0))
		oh := b.Op("OneHot", []Attr{attrInt("axis", 0)},
			b.Op("Reshape", nil, idx, b.Ints(-1)), rows, b.castLike(b.Ints(0, 1), x))
		// oh is (rows, k) with k = size(indices); dyt viewed as (k, rest).
		k := b.Op("Size", nil, idx)
		g := b.Op("Reshape", nil, dyt, b.Op("Concat", []Attr{attrInt("axis", 0)}, b.Op("Reshape", nil, k, b.Ints(1)), b.Ints(-1)))
		dxt = b.Op("Reshape", nil, b.Op("MatMul", nil, oh, g), b.Op("Shape", nil, xt))
	}
	if a == 0 {
		return dxt, nil
	}
	inv := make([]int64, r)
	for i, p := range xperm {
		inv[p] = int64(i)
	}
	return b.Op("Transpose", []Attr{attrInts("perm", inv...)}, dxt), nil
}

// castLike casts v to x's dtype: a Cast when that dtype is known (valid at
// every opset; CastLike needs 15), else CastLike.
func (b *Builder) castLike(v, x string) string {
	if t, ok := b.types[x]; ok && t.DType != tensor.Undefined {
		return b.Op("Cast", []Attr{attrInt("to", int64(t.DType))}, v)
	}
	return b.Op("CastLike", nil, v, x)
}

// moveRule is the rule of an op that only moves or selects elements of
// its first input (the other inputs being indices, shapes or conditions):
// the same op applied to x's flat position map gives the source of every
// output element, and dx adds dy there (add when an element may be
// selected more than once, which needs opset >= 16).
func moveRule(add bool) Rule {
	return func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
		if add && b.opset < 16 {
			return nil, fmt.Errorf("%s gradient scatters with reduction=add, which needs ai.onnx opset >= 16 (the model has %d)", n.OpType, b.opset)
		}
		x := n.Inputs[0]
		pos := b.Op(n.OpType, n.Attrs, append([]string{b.positions(x)}, n.Inputs[1:]...)...)
		out := make([]string, len(n.Inputs))
		out[0] = b.scatterFlat(x, pos, dy[0], add)
		return out, nil
	}
}

// scatterBack is the rule of ScatterND/ScatterElements, whose gradient
// gathers with the matching op (gather).
func scatterBack(gather string) Rule {
	return func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
		data, idx, upd := n.Inputs[0], n.Inputs[1], n.Inputs[2]
		red := attrS(n, "reduction", "none")
		if red != "none" && red != "add" {
			return nil, fmt.Errorf("%s gradient with reduction %q is not supported", n.OpType, red)
		}
		var attrs []Attr
		if gather == "GatherElements" {
			attrs = []Attr{attrInt("axis", attrI(n, "axis", 0))}
		}
		out := []string{"", "", ""}
		if b.Needs(data) {
			out[0] = dy[0]
			if red == "none" {
				out[0] = b.Op(n.OpType, attrs, dy[0], idx, b.zerosLike(upd, upd))
			}
		}
		if b.Needs(upd) {
			out[2] = b.Op(gather, attrs, dy[0], idx)
		}
		return out, nil
	}
}

// sliceBack: y = x[starts:ends:steps] along axes. With unit steps (steps
// absent or a constant of ones) dx = Pad(dy) with zeros: along each sliced
// axis of size d, pads s' before and d − max(e', s') after, where s' and
// e' are starts and ends made non-negative and clamped to [0, d] at run
// time. Other steps use the position map (moveRule).
func sliceBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x := n.Inputs[0]
	r, okr := b.staticRank(x)
	if steps := input(n, 4); steps != "" {
		v, ok := b.constInts(steps)
		for _, s := range v {
			ok = ok && s == 1
		}
		if !ok {
			return moveRule(false)(b, n, dy)
		}
	}
	if !okr {
		return moveRule(false)(b, n, dy)
	}
	i64 := func(v string) string { return b.Op("Cast", []Attr{attrInt("to", int64(tensor.Int64))}, v) }
	starts, ends := i64(n.Inputs[1]), i64(n.Inputs[2])
	axes := input(n, 3)
	if axes == "" {
		axes = b.Op("Range", nil, b.Const(tensor.Scalar(int64(0))), b.Op("Size", nil, starts), b.Const(tensor.Scalar(int64(1))))
	} else {
		axes = i64(axes)
	}
	rank := b.Ints(int64(r))
	axes = b.Op("Mod", nil, b.Op("Add", nil, axes, rank), rank) // non-negative
	dims := b.Op("Gather", nil, b.Op("Shape", nil, x), axes)
	zero := b.Const(tensor.Scalar(int64(0)))
	norm := func(v string) string {
		v = b.Where(b.Op("Less", nil, v, zero), b.Op("Add", nil, v, dims), v)
		return b.Op("Max", nil, b.Op("Min", nil, v, dims), zero)
	}
	s0, e0 := norm(starts), norm(ends)
	before, after := s0, b.Op("Sub", nil, dims, b.Op("Max", nil, e0, s0))
	pads := b.Op("ScatterElements", nil, b.Op("ConstantOfShape", []Attr{tensorAttr("value", tensor.Must([]int{1}, []int64{0}))}, b.Ints(int64(2*r))),
		b.Op("Concat", []Attr{attrInt("axis", 0)}, axes, b.Op("Add", nil, axes, rank)),
		b.Op("Concat", []Attr{attrInt("axis", 0)}, before, after))
	out := make([]string, len(n.Inputs))
	out[0] = b.Op("Pad", nil, dy[0], pads)
	return out, nil
}

// constInts returns the values of an integer constant (an initializer or a
// Constant node's value).
func (b *Builder) constInts(name string) ([]int64, bool) {
	var t *tensor.Tensor
	for _, in := range b.g.Initializers {
		if in.Name == name {
			t = in.T
		}
	}
	for _, nd := range b.g.Nodes {
		if nd.OpType == "Constant" && len(nd.Outputs) == 1 && nd.Outputs[0] == name {
			for _, a := range nd.Attrs {
				if a.Name == "value" {
					t = a.T
				}
			}
		}
	}
	if t == nil {
		return nil, false
	}
	v, err := ops.Ints64(t)
	return v, err == nil
}

// padBySlice returns the gradient of a constant-mode Pad whose pads are a
// non-negative constant: dx = dy[pb : pb + shape(x)] along the padded
// axes. false when the pads are not such a constant.
func (b *Builder) padBySlice(n *ir.Node, dy, mode string) (string, bool) {
	x := n.Inputs[0]
	pads, ok := b.constInts(n.Inputs[1])
	if mode != "constant" || !ok || len(pads)%2 != 0 {
		return "", false
	}
	k := len(pads) / 2
	var axes []int64
	if a := input(n, 3); a != "" {
		if axes, ok = b.constInts(a); !ok || len(axes) != k {
			return "", false
		}
	} else {
		for i := range k {
			axes = append(axes, int64(i))
		}
	}
	for _, p := range pads {
		if p < 0 {
			return "", false
		}
	}
	starts := b.Ints(pads[:k]...)
	ax := b.Ints(axes...)
	ends := b.Op("Add", nil, starts, b.Op("Gather", nil, b.Op("Shape", nil, x), ax))
	return b.Op("Slice", nil, dy, starts, ends, ax), true
}
