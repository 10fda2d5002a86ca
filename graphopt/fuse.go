package graphopt

import (
	"math"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

const tol = 1e-4 // relative tolerance on pattern constants (exporters round them)

func isFloat(d tensor.DType) bool {
	return d == tensor.Float32 || d == tensor.Float16 || d == tensor.Float64 || d == tensor.BFloat16
}

// lastAxis reports whether axes (from a ReduceMean's attribute or, at
// opset 18+, its second input) name only the last axis of a rank-r input,
// with keepdims on.
func (v *view) reducesLast(n *ir.Node, r int) bool {
	if attrInt(n, "keepdims", 1) != 1 {
		return false
	}
	axes, ok := v.axes(n)
	return ok && len(axes) == 1 && (axes[0] == -1 || axes[0] == int64(r-1))
}

// fuseLayerNorm matches
//
//	mean = ReduceMean(x); d = x - mean; var = ReduceMean(d^2)
//	y = d / Sqrt(var + eps) [* gamma] [+ beta]
//
// over the last axis and emits LayerNormalization(x, gamma, beta).
func fuseLayerNorm(st *state, m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	if !st.supported("", "LayerNormalization") {
		return nil, nil
	}
	v := newView(m, g)
	var patches []*Patch
	for _, div := range g.Nodes {
		if div.OpType != "Div" || !isONNX(div.Domain) || len(div.Inputs) != 2 {
			continue
		}
		sub := v.op(div.Inputs[0], "Sub")
		sqrt := v.op(div.Inputs[1], "Sqrt")
		if sub == nil || sqrt == nil {
			continue
		}
		x := sub.Inputs[0]
		r, ok := v.rank(x)
		mean := v.op(sub.Inputs[1], "ReduceMean")
		if !ok || mean == nil || mean.Inputs[0] != x || !v.reducesLast(mean, r) || !isFloat(v.dtype(x)) {
			continue
		}
		add := v.op(sqrt.Inputs[0], "Add")
		if add == nil {
			continue
		}
		var variance *ir.Node
		var eps float64
		for i := 0; i < 2 && variance == nil; i++ {
			if e, ok := v.scalar(add.Inputs[1-i]); ok {
				variance, eps = v.op(add.Inputs[i], "ReduceMean"), e
			}
		}
		if variance == nil || !v.reducesLast(variance, r) {
			continue
		}
		sq := v.producer[variance.Inputs[0]]
		switch {
		case sq == nil || !isONNX(sq.Domain):
			continue
		case sq.OpType == "Pow" && sq.Inputs[0] == sub.Outputs[0] && v.isScalar(sq.Inputs[1], 2, 0):
		case sq.OpType == "Mul" && sq.Inputs[0] == sub.Outputs[0] && sq.Inputs[1] == sub.Outputs[0]:
		default:
			continue
		}
		hidden, ok := v.lastDim(x)
		if !ok {
			continue
		}
		set := []*ir.Node{mean, sub, sq, variance, add, sqrt, div}
		out := div.Outputs[0]
		var gamma, beta string
		if mul := single(v, out, "Mul"); mul != nil && v.vector1D(other(mul, out), hidden) {
			gamma, out = other(mul, out), mul.Outputs[0]
			set = append(set, mul)
			if ad := single(v, out, "Add"); ad != nil && v.vector1D(other(ad, out), hidden) {
				beta, out = other(ad, out), ad.Outputs[0]
				set = append(set, ad)
			}
		}
		if !v.internal(set, out) {
			continue
		}
		p := &Patch{Remove: set}
		if gamma == "" {
			gamma = v.newName("ln_ones")
			ones, err := filled(v.dtype(x), int(hidden), 1)
			if err != nil {
				continue
			}
			p.Inits = append(p.Inits, &ir.Initializer{Name: gamma, T: ones})
		}
		p.Add = []*ir.Node{v.node("LayerNormalization", "", []string{x, gamma, beta}, []string{out},
			ops.Attr{Name: "axis", Type: ops.AttrInt, I: -1},
			ops.Attr{Name: "epsilon", Type: ops.AttrFloat, F: float32(eps)})}
		if beta == "" {
			p.Add[0].Inputs = p.Add[0].Inputs[:2]
		}
		patches = append(patches, p)
	}
	return patches, nil
}

// single returns the only reader of s when it is an ai.onnx node of the
// given type and s is not a graph output.
func single(v *view, s, opType string) *ir.Node {
	u := v.users[s]
	if len(u) != 1 || v.outputs[s] || v.captured[s] || u[0].OpType != opType || !isONNX(u[0].Domain) {
		return nil
	}
	return u[0]
}

// halfTimesX matches the tail every GELU form shares: a * x * 0.5 in any
// association (x*a*0.5, (x*0.5)*a, x*(a*0.5), ...), returning the final
// value and the nodes it uses.
func halfTimesX(v *view, a, x string) (string, []*ir.Node, bool) {
	u := single(v, a, "Mul")
	if u == nil {
		return "", nil, false
	}
	o := other(u, a)
	switch {
	case o == x:
		m2 := single(v, u.Outputs[0], "Mul")
		if m2 != nil && v.isScalar(other(m2, u.Outputs[0]), 0.5, tol) {
			return m2.Outputs[0], []*ir.Node{u, m2}, true
		}
	case v.isScalar(o, 0.5, tol):
		m2 := single(v, u.Outputs[0], "Mul")
		if m2 != nil && other(m2, u.Outputs[0]) == x {
			return m2.Outputs[0], []*ir.Node{u, m2}, true
		}
	default:
		h := v.op(o, "Mul")
		if h != nil && v.only(o, u) && (h.Inputs[0] == x && v.isScalar(h.Inputs[1], 0.5, tol) || h.Inputs[1] == x && v.isScalar(h.Inputs[0], 0.5, tol)) {
			return u.Outputs[0], []*ir.Node{h, u}, true
		}
	}
	return "", nil, false
}

// onePlus matches Add(s, 1) (or Sum(s, 1), as ONNX's Gelu function body
// writes it) reading s.
func onePlus(v *view, s string) (*ir.Node, bool) {
	a := single(v, s, "Add")
	if a == nil {
		a = single(v, s, "Sum")
	}
	if a == nil || len(a.Inputs) != 2 || !v.isScalar(other(a, s), 1, 0) {
		return nil, false
	}
	return a, true
}

// fuseGelu matches the exact GELU x*0.5*(1+erf(x/sqrt2)) and the tanh
// approximation x*0.5*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))).
func fuseGelu(st *state, m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	v := newView(m, g)
	std := opsetOf(m, "") >= 20
	var patches []*Patch
	for _, n := range g.Nodes {
		if !isONNX(n.Domain) || len(n.Inputs) != 1 || (n.OpType != "Erf" && n.OpType != "Tanh") {
			continue
		}
		var x string
		var set []*ir.Node
		if n.OpType == "Erf" {
			q := v.producer[n.Inputs[0]]
			if q == nil || !isONNX(q.Domain) || len(q.Inputs) != 2 {
				continue
			}
			switch {
			case q.OpType == "Div" && v.isScalar(q.Inputs[1], math.Sqrt2, tol):
				x = q.Inputs[0]
			case q.OpType == "Mul" && v.isScalar(q.Inputs[1], 1/math.Sqrt2, tol):
				x = q.Inputs[0]
			case q.OpType == "Mul" && v.isScalar(q.Inputs[0], 1/math.Sqrt2, tol):
				x = q.Inputs[1]
			default:
				continue
			}
			set = []*ir.Node{q, n}
		} else {
			var ok bool
			if x, set, ok = tanhArg(v, n); !ok {
				continue
			}
		}
		if !isFloat(v.dtype(x)) {
			continue
		}
		a, ok := onePlus(v, n.Outputs[0])
		if !ok {
			continue
		}
		out, tail, ok := halfTimesX(v, a.Outputs[0], x)
		if !ok {
			continue
		}
		set = append(append(set, a), tail...)
		if !v.internal(set, out) {
			continue
		}
		var fused *ir.Node
		switch {
		case std && n.OpType == "Erf" && st.emit("", "Gelu"):
			fused = v.node("Gelu", "", []string{x}, []string{out})
		case std && st.emit("", "Gelu"):
			fused = v.node("Gelu", "", []string{x}, []string{out}, ops.Attr{Name: "approximate", Type: ops.AttrString, S: []byte("tanh")})
		case n.OpType == "Erf" && st.emit(msDomain, "Gelu"):
			fused = v.node("Gelu", msDomain, []string{x}, []string{out})
		case n.OpType == "Tanh" && st.emit(msDomain, "FastGelu"):
			fused = v.node("FastGelu", msDomain, []string{x}, []string{out})
		default:
			continue
		}
		patches = append(patches, &Patch{Remove: set, Add: []*ir.Node{fused}})
	}
	return patches, nil
}

// tanhArg matches t = Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)) and returns x
// and the nodes from x^3 to the Tanh.
func tanhArg(v *view, t *ir.Node) (string, []*ir.Node, bool) {
	w := v.op(t.Inputs[0], "Mul")
	if w == nil {
		return "", nil, false
	}
	var s string
	switch c := math.Sqrt(2 / math.Pi); {
	case v.isScalar(w.Inputs[1], c, tol):
		s = w.Inputs[0]
	case v.isScalar(w.Inputs[0], c, tol):
		s = w.Inputs[1]
	default:
		return "", nil, false
	}
	add := v.op(s, "Add")
	if add == nil {
		add = v.op(s, "Sum")
	}
	if add == nil || len(add.Inputs) != 2 {
		return "", nil, false
	}
	for i := 0; i < 2; i++ {
		x, k := add.Inputs[i], v.op(add.Inputs[1-i], "Mul")
		if k == nil {
			continue
		}
		var cube string
		switch {
		case v.isScalar(k.Inputs[0], 0.044715, tol):
			cube = k.Inputs[1]
		case v.isScalar(k.Inputs[1], 0.044715, tol):
			cube = k.Inputs[0]
		default:
			continue
		}
		set := []*ir.Node{k, add, w, t}
		if p := v.op(cube, "Pow"); p != nil && p.Inputs[0] == x && v.isScalar(p.Inputs[1], 3, 0) {
			return x, append(set, p), true
		}
		if m1 := v.op(cube, "Mul"); m1 != nil {
			// x * (x * x) or (x * x) * x
			for j := 0; j < 2; j++ {
				if m1.Inputs[j] != x {
					continue
				}
				if sq := v.op(m1.Inputs[1-j], "Mul"); sq != nil && sq.Inputs[0] == x && sq.Inputs[1] == x {
					return x, append(set, m1, sq), true
				}
			}
		}
	}
	return "", nil, false
}

// fuseBiasGelu folds a bias Add in front of a GELU into BiasGelu (exact) or
// FastGelu's bias input (tanh form).
func fuseBiasGelu(st *state, m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	v := newView(m, g)
	var patches []*Patch
	for _, n := range g.Nodes {
		var fast bool
		switch {
		case n.OpType == "Gelu" && n.Domain == msDomain && len(n.Inputs) == 1:
		case n.OpType == "Gelu" && isONNX(n.Domain):
			switch string(attrString(n, "approximate", "none")) {
			case "none":
			case "tanh":
				fast = true
			default:
				continue
			}
		case n.OpType == "FastGelu" && n.Domain == msDomain && (len(n.Inputs) == 1 || n.Inputs[1] == ""):
			fast = true
		default:
			continue
		}
		add := v.op(n.Inputs[0], "Add")
		if add == nil || !v.only(add.Outputs[0], n) {
			continue
		}
		for i := 0; i < 2; i++ {
			x, bias := add.Inputs[i], add.Inputs[1-i]
			hidden, ok := v.lastDim(x)
			if !ok || !v.vector1D(bias, hidden) || v.dtype(x) != v.dtype(bias) {
				continue
			}
			var fused *ir.Node
			switch {
			case fast && st.emit(msDomain, "FastGelu"):
				fused = v.node("FastGelu", msDomain, []string{x, bias}, n.Outputs[:1])
			case !fast && st.emit(msDomain, "BiasGelu"):
				fused = v.node("BiasGelu", msDomain, []string{x, bias}, n.Outputs[:1])
			default:
				continue
			}
			patches = append(patches, &Patch{Remove: []*ir.Node{add, n}, Add: []*ir.Node{fused}})
			break
		}
	}
	return patches, nil
}

func attrString(n *ir.Node, name, def string) string {
	for _, a := range n.Attrs {
		if a.Name == name && a.Type == ops.AttrString {
			return string(a.S)
		}
	}
	return def
}

// fuseSkipLayerNorm matches LayerNormalization(a + b [+ bias]) over the last
// axis of 3-D float inputs of equal shapes and emits SkipLayerNormalization
// (which also returns the sum when something else reads it).
func fuseSkipLayerNorm(st *state, m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	if !st.supported(msDomain, "SkipLayerNormalization") {
		return nil, nil
	}
	v := newView(m, g)
	var patches []*Patch
	for _, ln := range g.Nodes {
		if ln.OpType != "LayerNormalization" || !isONNX(ln.Domain) || len(ln.Inputs) < 2 {
			continue
		}
		unused := true
		for _, o := range ln.Outputs[1:] {
			unused = unused && (o == "" || len(v.users[o]) == 0 && !v.outputs[o])
		}
		add := v.op(ln.Inputs[0], "Add")
		if !unused || add == nil || v.captured[add.Outputs[0]] {
			continue
		}
		// In pre-LN blocks (GPT-2, ViT) the sum also feeds the next
		// residual: SkipLayerNormalization then returns it as output 3.
		keepSum := !v.only(add.Outputs[0], ln)
		x := add.Outputs[0]
		r, ok := v.rank(x)
		hidden, ok2 := v.lastDim(x)
		if d := v.dtype(x); !ok || !ok2 || r != 3 || (d != tensor.Float32 && d != tensor.Float16) {
			continue
		}
		if axis := attrInt(ln, "axis", -1); axis != -1 && axis != 2 {
			continue
		}
		gamma, beta := ln.Inputs[1], ""
		if len(ln.Inputs) > 2 {
			beta = ln.Inputs[2]
		}
		if !v.vector1D(gamma, hidden) || beta != "" && !v.vector1D(beta, hidden) {
			continue
		}
		a, b := add.Inputs[0], add.Inputs[1]
		if !v.sameShape(a, b) || !v.sameShape(a, x) {
			continue
		}
		set := []*ir.Node{add, ln}
		bias := ""
		for _, swap := range []bool{false, true} {
			if swap {
				a, b = b, a
			}
			ba := v.op(a, "Add")
			if ba == nil || !v.only(a, add) {
				continue
			}
			for i := 0; i < 2; i++ {
				if v.vector1D(ba.Inputs[1-i], hidden) && v.sameShape(ba.Inputs[i], a) {
					a, bias = ba.Inputs[i], ba.Inputs[1-i]
					set = append(set, ba)
					break
				}
			}
			if bias != "" {
				break
			}
		}
		eps := attrFloat(ln, "epsilon", 1e-5)
		outs := ln.Outputs[:1]
		if keepSum {
			outs = []string{ln.Outputs[0], "", "", add.Outputs[0]}
		}
		fused := v.node("SkipLayerNormalization", msDomain, []string{a, b, gamma, beta, bias}, outs,
			ops.Attr{Name: "epsilon", Type: ops.AttrFloat, F: eps})
		for len(fused.Inputs) > 3 && fused.Inputs[len(fused.Inputs)-1] == "" {
			fused.Inputs = fused.Inputs[:len(fused.Inputs)-1]
		}
		st.emit(msDomain, "SkipLayerNormalization")
		patches = append(patches, &Patch{Remove: set, Add: []*ir.Node{fused}})
	}
	return patches, nil
}

// fuseMatMulAdd turns a 2-D MatMul by a constant matrix plus a constant
// bias into Gemm.
func fuseMatMulAdd(st *state, m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	v := newView(m, g)
	var patches []*Patch
	for _, add := range g.Nodes {
		if add.OpType != "Add" || !isONNX(add.Domain) || len(add.Inputs) != 2 {
			continue
		}
		for i := 0; i < 2; i++ {
			mm := v.op(add.Inputs[i], "MatMul")
			bias := add.Inputs[1-i]
			if mm == nil || !v.only(mm.Outputs[0], add) {
				continue
			}
			a, w := mm.Inputs[0], mm.Inputs[1]
			wt, ok := v.consts[w]
			r, okr := v.rank(a)
			if !ok || !okr || r != 2 || wt.Rank() != 2 || !v.vector1D(bias, int64(wt.Shape()[1])) {
				continue
			}
			if d := v.dtype(a); d != tensor.Float32 && d != tensor.Float64 || d != wt.DType() || d != v.dtype(bias) {
				continue
			}
			gemm := v.node("Gemm", "", []string{a, w, bias}, add.Outputs)
			patches = append(patches, &Patch{Remove: []*ir.Node{mm, add}, Add: []*ir.Node{gemm}})
			break
		}
	}
	return patches, nil
}

// filled returns a 1-D tensor of n copies of x in dtype d.
func filled(d tensor.DType, n int, x float64) (*tensor.Tensor, error) {
	src := tensor.Zeros(tensor.Float64, n)
	for i, f := 0, tensor.Data[float64](src); i < n; i++ {
		f[i] = x
	}
	dst, err := tensor.New(d, n)
	if err != nil {
		return nil, err
	}
	return dst, tensor.Convert(dst, src, false)
}
