package graphopt

import (
	"math"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// decoderAttention is one self-attention block fuseDecoderAttention
// matched: the (B, S, D) query, key and value inputs, the additive mask
// and, with a KV cache, the past inputs and present outputs.
type decoderAttention struct {
	q, k, v      string
	mask         string
	pastK, pastV string
	presentK     string
	presentV     string
	out          string
	heads        int64
	scale        float64
	set          []*ir.Node
	expand       bool   // the mask needs an Expand to (…, S, T)
	scores       string // the (B, N, S, T) Q Kᵀ product
}

// fuseDecoderAttention matches decoder self-attention whose mask is any
// additive (B or 1, 1 or N, S, T) tensor the graph computes, with or
// without a KV cache: the form of gort's zoo GPT-2 (models/zoo BuildGPT2
// and BuildGPT2WithPast) and of optimum's GPT-2 exports (transformers'
// SDPA path, opset 14 and 17),
//
//	q    = Transpose(Reshape(Q, [B, S, N, h]), 0,2,1,3)
//	k    = Transpose(Reshape(K, [B, S, N, h]), 0,2,1,3)      v likewise
//	[k   = present_key = Concat(past_key, k, axis 2)]         v likewise
//	s    = (q [* c1]) @ (Transpose(k, 0,1,3,2) [* c2]) [* or / c]
//	     (or kᵀ as Transpose(Reshape(K), 0,2,3,1) without a cache)
//	p    = Softmax(s [+ mask]) [then Where(IsNaN(p), 0, p)]
//	out  = Reshape(Transpose(p @ v, 0,2,1,3), [B, S, N*h])
//
// and emits com.microsoft MultiHeadAttention(Q, K, V, "", "", mask,
// past_key, past_value) with num_heads and scale, whose present_key and
// present_value outputs take the names the Concat nodes gave the graph's
// present outputs. MultiHeadAttention's kernel gives a query whose keys
// are all masked with -Inf a zero row, as the IsNaN guard does.
func fuseDecoderAttention(st *state, v *view, g *ir.Graph, softmaxAxis int64, done map[*ir.Node]bool) []*Patch {
	if !st.supported(msDomain, "MultiHeadAttention") {
		return nil
	}
	var patches []*Patch
	for _, sm := range g.Nodes {
		if done[sm] || sm.OpType != "Softmax" || !isONNX(sm.Domain) {
			continue
		}
		if a := attrInt(sm, "axis", softmaxAxis); a != -1 && a != 3 {
			continue
		}
		d, ok := matchDecoderAttention(v, sm)
		if !ok {
			continue
		}
		p := &Patch{Remove: d.set}
		attrs := []ops.Attr{{Name: "num_heads", Type: ops.AttrInt, I: d.heads}, {Name: "scale", Type: ops.AttrFloat, F: float32(d.scale)}}
		mask, padding := d.mask, ""
		if pad, filter, ok := causalPadding(v, d); ok {
			// The kernel skips the future keys instead of adding a mask.
			mask, padding = "", v.newName("key_padding_mask")
			p.Add = append(p.Add, v.node("Cast", "", []string{pad}, []string{padding},
				ops.Attr{Name: "to", Type: ops.AttrInt, I: int64(tensor.Int32)}))
			attrs = append(attrs, ops.Attr{Name: "unidirectional", Type: ops.AttrInt, I: 1},
				ops.Attr{Name: "mask_filter_value", Type: ops.AttrFloat, F: float32(math.Max(filter, -math.MaxFloat32))})
		} else {
			finiteMask(v, p, d)
			if d.expand {
				mask = expandBias(v, p, d)
			}
		}
		in := []string{d.q, d.k, d.v, "", padding, mask, d.pastK, d.pastV}
		for len(in) > 3 && in[len(in)-1] == "" {
			in = in[:len(in)-1]
		}
		out := []string{d.out}
		if d.pastK != "" {
			out = append(out, d.presentK, d.presentV)
			presentShapes(v, p, d)
		}
		st.emit(msDomain, "MultiHeadAttention")
		p.Add = append(p.Add, v.node("MultiHeadAttention", msDomain, in, out, attrs...))
		patches = append(patches, p)
	}
	return patches
}

func matchDecoderAttention(v *view, sm *ir.Node) (decoderAttention, bool) {
	var d decoderAttention
	set := []*ir.Node{sm}
	probs := sm.Outputs[0]
	if isnan, w := nanGuard(v, probs); w != nil {
		set = append(set, isnan, w)
		probs = w.Outputs[0]
	}
	pv := single(v, probs, "MatMul")
	if pv == nil || pv.Inputs[0] != probs {
		return d, false
	}
	// Scores, then an additive mask on either side of an Add.
	qk, qIn, kIn, scale, nodes := scaledScores(v, sm.Inputs[0])
	if qk == nil {
		add := v.op(sm.Inputs[0], "Add")
		if add == nil || !v.only(add.Outputs[0], sm) {
			return d, false
		}
		for i := 0; i < 2 && qk == nil; i++ {
			if qk, qIn, kIn, scale, nodes = scaledScores(v, add.Inputs[i]); qk != nil {
				d.mask = add.Inputs[1-i]
			}
		}
		if qk == nil {
			return d, false
		}
		set = append(set, add)
	}
	set = append(set, nodes...)
	set = append(set, qk, pv)
	d.scale, d.scores = scale, qk.Outputs[0]

	// Query heads.
	q, ok := unheads(v, qIn, 0, 2, 1, 3)
	if !ok {
		return d, false
	}
	set = append(set, q.nodes...)
	d.q, d.heads = q.x, q.n
	// Key heads: Kᵀ of present (or of the new keys), or one Transpose
	// 0,2,3,1 of the reshaped keys.
	kT := v.op(kIn, "Transpose")
	if kT == nil {
		return d, false
	}
	perm, _ := attrInts(kT, "perm")
	var k heads
	switch {
	case sameInts(perm, 0, 2, 3, 1):
		if k, ok = unheads(v, kT.Outputs[0], 0, 2, 3, 1); !ok {
			return d, false
		}
	case sameInts(perm, 0, 1, 3, 2):
		set = append(set, kT)
		if k, d.pastK, d.presentK, ok = cachedHeads(v, kT.Inputs[0]); !ok {
			return d, false
		}
	default:
		return d, false
	}
	set = append(set, k.nodes...)
	val, pastV, presentV, ok := cachedHeads(v, pv.Inputs[1])
	if !ok {
		return d, false
	}
	set = append(set, val.nodes...)
	d.k, d.v, d.pastV, d.presentV = k.x, val.x, pastV, presentV
	if k.n != q.n || val.n != q.n || k.h != q.h || (d.pastK == "") != (d.pastV == "") {
		return d, false
	}
	for _, x := range []string{d.q, d.k, d.v, d.pastK, d.pastV, d.mask} {
		if x != "" && v.dtype(x) != tensor.Float32 {
			return d, false
		}
	}
	if d.pastK != "" && !pastShape(v, d.pastK, q.n, q.h) || d.pastV != "" && !pastShape(v, d.pastV, q.n, val.h) {
		return d, false
	}
	if d.mask != "" {
		r, ok := v.rank(d.mask)
		if ok && r > 4 {
			return d, false
		}
		d.expand = !ok || r != 4 || !biasShape(v, d.mask, qk.Outputs[0], q.n)
	}

	// Context: heads merged back into (B, S, N*hv).
	tr := reader(v, pv.Outputs[0], "Transpose")
	if tr == nil {
		return d, false
	}
	if perm, ok := attrInts(tr, "perm"); !ok || !sameInts(perm, 0, 2, 1, 3) {
		return d, false
	}
	rs := reader(v, tr.Outputs[0], "Reshape")
	if rs == nil || len(rs.Inputs) != 2 || attrInt(rs, "allowzero", 0) != 0 || !mergesHeads(v, rs, d.q, q.n*val.h) {
		return d, false
	}
	set = append(set, tr, rs)
	d.out = rs.Outputs[0]
	d.set = v.withDead(set, d.q, d.k, d.v, d.mask, d.pastK, d.pastV)
	keep := []string{d.out}
	if d.presentK != "" {
		keep = append(keep, d.presentK, d.presentV)
	}
	return d, v.internal(d.set, keep...)
}

// presentShapes computes the Shape nodes reading d's present outputs from
// the past inputs instead: the exporters take the key length for slicing
// the mask from present_key's shape, and the mask feeds the node that now
// makes present_key. Shape(Concat(past, new, axis 2)) is Shape(past) +
// [0, 0, S_k, 0] with S_k the new keys' length.
func presentShapes(v *view, p *Patch, d decoderAttention) {
	in := map[*ir.Node]bool{}
	for _, n := range d.set {
		in[n] = true
	}
	var delta string
	for j, present := range []string{d.presentK, d.presentV} {
		past := []string{d.pastK, d.pastV}[j]
		for _, u := range v.users[present] {
			if in[u] || u.OpType != "Shape" || !isONNX(u.Domain) {
				continue
			}
			if delta == "" {
				delta = v.newName("present_shape_delta")
				p.Add = append(p.Add, v.node("Concat", "", []string{constInts(v, p, 0, 0), sliceDim(v, p, d.k, 1), constInts(v, p, 0)},
					[]string{delta}, ops.Attr{Name: "axis", Type: ops.AttrInt, I: 0}))
			}
			shape, full := v.newName("past_shape"), u.Outputs[0]
			if hasAttr(u, "start") || hasAttr(u, "end") {
				// Shape(x, start, end) is Slice(Shape(x), [start], [end]):
				// both clamp and count negative bounds from the rank.
				full = v.newName("present_shape")
				p.Add = append(p.Add, v.node("Slice", "", []string{full, constInts(v, p, attrInt(u, "start", 0)),
					constInts(v, p, attrInt(u, "end", math.MaxInt64))}, []string{u.Outputs[0]}))
			}
			p.Add = append(p.Add, v.node("Shape", "", []string{past}, []string{shape}),
				v.node("Add", "", []string{shape, delta}, []string{full}))
			p.Remove = append(p.Remove, u)
		}
	}
}

// constInts adds an int64 vector initializer to p and returns its name.
func constInts(v *view, p *Patch, x ...int64) string {
	name := v.newName("mha_shape")
	t, _ := tensor.From([]int{len(x)}, x)
	p.Inits = append(p.Inits, &ir.Initializer{Name: name, T: t})
	return name
}

// sliceDim adds to p the nodes computing x.shape[axis:axis+1].
func sliceDim(v *view, p *Patch, x string, axis int64) string {
	shape, out := v.newName("mha_shape"), v.newName("mha_dim")
	p.Add = append(p.Add, v.node("Shape", "", []string{x}, []string{shape}),
		v.node("Slice", "", []string{shape, constInts(v, p, axis), constInts(v, p, axis+1)}, []string{out}))
	return out
}

// reader returns the one ai.onnx node of the given type that reads s, which
// must not be a graph output; other readers (Shape nodes computing a
// Reshape target the fusion removes) are left to v.internal to judge.
func reader(v *view, s, opType string) *ir.Node {
	if v.outputs[s] || v.captured[s] {
		return nil
	}
	var found *ir.Node
	for _, u := range v.users[s] {
		if u.OpType == opType && isONNX(u.Domain) {
			if found != nil {
				return nil
			}
			found = u
		}
	}
	return found
}

// causalPadding matches, without a cache, the zoo's square mask
//
//	Where(And(LessOrEqual(Unsqueeze(r, [0]), Unsqueeze(r, [1])),
//	          Cast(Unsqueeze(m, [1, 2]), bool)), 0, c)
//
// with r = Range(0, n, 1), the (S, S) comparison proven of the scores'
// query and key lengths, m the (B, S) attention_mask and c very negative:
// causal attention over the keys m keeps. It returns m and c.
func causalPadding(v *view, d decoderAttention) (string, float64, bool) {
	w := v.op(d.mask, "Where")
	st, ok := v.types[d.scores]
	if d.pastK != "" || w == nil || len(w.Inputs) != 3 || !v.isScalar(w.Inputs[1], 0, 0) || !ok || !st.HasShape || len(st.Shape) != 4 {
		return "", 0, false
	}
	c, ok := v.scalar(w.Inputs[2])
	and := v.op(w.Inputs[0], "And")
	if !ok || c > -1e4 || and == nil {
		return "", 0, false
	}
	s, t := st.Shape[2], st.Shape[3]
	for i := 0; i < 2; i++ {
		le := v.op(and.Inputs[i], "LessOrEqual")
		if le == nil || !squareCausal(v, le) {
			continue
		}
		lt, ok := v.types[le.Outputs[0]]
		if !ok || !lt.HasShape || len(lt.Shape) != 2 || !sameDim(lt.Shape[0], s) || !sameDim(lt.Shape[1], t) || !sameDim(s, t) {
			continue
		}
		cast := v.op(and.Inputs[1-i], "Cast")
		if cast == nil || attrInt(cast, "to", 0) != int64(tensor.Bool) {
			continue
		}
		un := v.op(cast.Inputs[0], "Unsqueeze")
		if un == nil {
			continue
		}
		axes, ok := v.axes(un)
		m := un.Inputs[0]
		mt, ok2 := v.types[m]
		if !ok || !sameInts(axes, 1, 2) || !ok2 || !mt.HasShape || len(mt.Shape) != 2 || !sameDim(mt.Shape[1], t) ||
			(mt.DType != tensor.Int64 && mt.DType != tensor.Int32) {
			continue
		}
		return m, c, true
	}
	return "", 0, false
}

// squareCausal reports whether le is LessOrEqual(Unsqueeze(r, [0]),
// Unsqueeze(r, [1])) of one r = Range(0, n, 1): key j <= query i.
func squareCausal(v *view, le *ir.Node) bool {
	var r [2]string
	for i, want := range []int64{0, 1} {
		un := v.op(le.Inputs[i], "Unsqueeze")
		if un == nil {
			return false
		}
		axes, ok := v.axes(un)
		if !ok || !sameInts(axes, want) {
			return false
		}
		r[i] = un.Inputs[0]
	}
	rg := v.op(r[0], "Range")
	return r[0] == r[1] && rg != nil && v.isScalar(rg.Inputs[0], 0, 0) && v.isScalar(rg.Inputs[2], 1, 0)
}

// finiteMask rewrites an -Inf mask Where(c, 0, -Inf) that only this
// attention reads into Where(c, 0, lowest float32). With -Inf, a query
// whose keys are all masked (left padding) gets NaN probabilities, which
// SDPA exports zero with Where(IsNaN(p), 0, p); gort's kernel gives such a
// row zeros as well but ONNX Runtime's MultiHeadAttention gives NaN, which
// reaches the real rows through the padded keys of later layers. With the
// lowest float32 the row is a finite average in both; only outputs at
// fully masked (padding) positions differ from the unfused graph.
func finiteMask(v *view, p *Patch, d decoderAttention) {
	w := v.op(d.mask, "Where")
	if w == nil || len(w.Inputs) != 3 || v.outputs[d.mask] || v.captured[d.mask] || len(v.users[d.mask]) != 1 {
		return
	}
	if c, ok := v.scalar(w.Inputs[2]); !ok || !math.IsInf(c, -1) || !v.isScalar(w.Inputs[1], 0, 0) {
		return
	}
	lowest := v.newName("mask_lowest")
	p.Inits = append(p.Inits, &ir.Initializer{Name: lowest, T: tensor.Scalar(float32(-math.MaxFloat32))})
	p.Remove = append(p.Remove, w)
	p.Add = append(p.Add, v.node("Where", "", []string{w.Inputs[0], w.Inputs[1], lowest}, w.Outputs))
}

// expandBias adds to p the nodes that broadcast d's mask to the (…, S, T)
// scores shape the Add gave it, where shape inference cannot tell that it
// has that shape already: Expand(mask, [1, 1, S, P + S_k]) with S the
// query length, S_k the new keys' and P the past's (0 without a cache).
// MultiHeadAttention's attention_bias must be (B or 1, N or 1, S, T).
func expandBias(v *view, p *Patch, d decoderAttention) string {
	total := sliceDim(v, p, d.k, 1)
	if d.pastK != "" {
		sum := v.newName("mha_dim")
		p.Add = append(p.Add, v.node("Add", "", []string{sliceDim(v, p, d.pastK, 2), total}, []string{sum}))
		total = sum
	}
	target, out := v.newName("mha_shape"), v.newName("attention_bias")
	p.Add = append(p.Add,
		v.node("Concat", "", []string{constInts(v, p, 1, 1), sliceDim(v, p, d.q, 1), total}, []string{target}, ops.Attr{Name: "axis", Type: ops.AttrInt, I: 0}),
		v.node("Expand", "", []string{d.mask, target}, []string{out}))
	return out
}

// nanGuard matches Where(IsNaN(p), 0, p), which SDPA exports put after the
// softmax to zero fully masked rows.
func nanGuard(v *view, p string) (isnan, where *ir.Node) {
	u := v.users[p]
	if len(u) != 2 || v.outputs[p] || v.captured[p] {
		return nil, nil
	}
	for i := 0; i < 2; i++ {
		isnan, where = u[i], u[1-i]
		if isnan.OpType == "IsNaN" && isONNX(isnan.Domain) && where.OpType == "Where" && isONNX(where.Domain) &&
			len(where.Inputs) == 3 && where.Inputs[0] == isnan.Outputs[0] && where.Inputs[2] == p &&
			v.only(isnan.Outputs[0], where) && v.isScalar(where.Inputs[1], 0, 0) {
			return isnan, where
		}
	}
	return nil, nil
}

// scaledScores matches MatMul(a [* c1], b [* c2]) [* or / c] and returns
// the MatMul, a and b, the product of the scales and the scaling nodes.
func scaledScores(v *view, s string) (qk *ir.Node, a, b string, scale float64, nodes []*ir.Node) {
	scale = 1.0
	if sc := v.producer[s]; sc != nil && isONNX(sc.Domain) && (sc.OpType == "Div" || sc.OpType == "Mul") {
		c, ok := v.scalarValue(sc.Inputs[1], 0)
		if !ok || c == 0 {
			return nil, "", "", 0, nil
		}
		if sc.OpType == "Div" {
			c = 1 / c
		}
		scale, s = c, sc.Inputs[0]
		nodes = append(nodes, sc)
	}
	if qk = v.op(s, "MatMul"); qk == nil {
		return nil, "", "", 0, nil
	}
	in := [2]string{qk.Inputs[0], qk.Inputs[1]}
	for i, x := range in {
		mul := v.op(x, "Mul")
		if mul == nil {
			continue
		}
		for j := 0; j < 2; j++ {
			if c, ok := v.scalarValue(mul.Inputs[1-j], 0); ok {
				scale *= c
				in[i] = mul.Inputs[j]
				nodes = append(nodes, mul)
				break
			}
		}
	}
	return qk, in[0], in[1], scale, nodes
}

// scalarValue evaluates s when it is a float scalar the graph computes
// from constants and static dimensions: Sqrt, Div, Mul and Cast of
// constants and of Shape values (the exporters' 1/sqrt(head_size)).
func (v *view) scalarValue(s string, depth int) (float64, bool) {
	if c, ok := v.scalar(s); ok {
		return c, true
	}
	if d, ok := v.vals[s]; ok {
		if len(d) == 1 && d[0].Known() {
			return float64(d[0].Size), true
		}
		return 0, false
	}
	n := v.producer[s]
	if n == nil || !isONNX(n.Domain) || depth > 8 {
		return 0, false
	}
	switch n.OpType {
	case "Cast":
		return v.scalarValue(n.Inputs[0], depth+1)
	case "Sqrt":
		x, ok := v.scalarValue(n.Inputs[0], depth+1)
		return math.Sqrt(x), ok && x >= 0
	case "Div", "Mul":
		a, ok1 := v.scalarValue(n.Inputs[0], depth+1)
		b, ok2 := v.scalarValue(n.Inputs[1], depth+1)
		if !ok1 || !ok2 || n.OpType == "Div" && b == 0 {
			return 0, false
		}
		if n.OpType == "Div" {
			return a / b, true
		}
		return a * b, true
	}
	return 0, false
}

// heads is a (B, S, N*h) value x split into N heads of h by a Reshape and
// a Transpose (the nodes).
type heads struct {
	x     string
	n, h  int64
	nodes []*ir.Node
}

// unheads follows s, Transpose(Reshape(x, [B, S, N, h]), perm), back to x.
func unheads(v *view, s string, perm ...int64) (heads, bool) {
	var hd heads
	tr, rs := headsSplit(v, s, perm...)
	if tr == nil {
		return hd, false
	}
	x := rs.Inputs[0]
	xt, ok := v.types[x]
	target, ok2 := shapeValue(v.consts, v.vals, rs.Inputs[1])
	if !ok || !xt.HasShape || len(xt.Shape) != 3 || !xt.Shape[2].Known() || !ok2 || len(target) != 4 {
		return hd, false
	}
	width := xt.Shape[2].Size
	for i := 0; i < 2; i++ {
		if t := target[i]; !(t.Known() && t.Size == 0) && !sameDim(t, xt.Shape[i]) && !v.dimOf(t, x, i) {
			return hd, false
		}
	}
	n, h := target[2], target[3]
	if !h.Known() || h.Size <= 0 || width%h.Size != 0 {
		return hd, false
	}
	if n.Size != -1 || n.Param != "" {
		if !n.Known() || n.Size*h.Size != width {
			return hd, false
		}
	}
	// The Reshape may have other readers (SDPA exports transpose it twice,
	// to kᵀ and to the key heads whose Shape slices the mask): withDead
	// removes it with the fusion when nothing else reads it.
	return heads{x: x, n: width / h.Size, h: h.Size, nodes: []*ir.Node{tr}}, true
}

// cachedHeads follows s, the (B, N, T, h) keys or values attention reads,
// to the new (B, S, N*h) projection: Concat(past, heads, axis 2) (s is
// then the present output and past the past input) or the heads alone.
func cachedHeads(v *view, s string) (hd heads, past, present string, ok bool) {
	if cat := v.op(s, "Concat"); cat != nil {
		axis := attrInt(cat, "axis", 0)
		if len(cat.Inputs) != 2 || axis != 2 && axis != -2 {
			return hd, "", "", false
		}
		if hd, ok = unheads(v, cat.Inputs[1], 0, 2, 1, 3); !ok {
			return hd, "", "", false
		}
		hd.nodes = append(hd.nodes, cat)
		return hd, cat.Inputs[0], s, true
	}
	hd, ok = unheads(v, s, 0, 2, 1, 3)
	return hd, "", "", ok
}

// dimOf reports whether shape value dimension t is dimension i of x: it
// names that dimension of x or of another output of the Split that made
// x along another axis (exporters read the batch and sequence sizes of
// one of the Q, K and V parts for all three).
func (v *view) dimOf(t tensor.Dim, x string, i int) bool {
	if t.Param == anonParam(x, i) {
		return true
	}
	sp := v.producer[x]
	if sp == nil || sp.OpType != "Split" || !isONNX(sp.Domain) {
		return false
	}
	r, ok := v.rank(x)
	axis := attrInt(sp, "axis", 0)
	if axis < 0 {
		axis += int64(r)
	}
	if !ok || axis == int64(i) {
		return false
	}
	for _, o := range sp.Outputs {
		if o != "" && t.Param == anonParam(o, i) {
			return true
		}
	}
	return false
}

func sameDim(a, b tensor.Dim) bool {
	return a.Known() && b.Known() && a.Size == b.Size || a.Param != "" && a.Param == b.Param
}

// pastShape reports whether s is (B, n, P, h).
func pastShape(v *view, s string, n, h int64) bool {
	t, ok := v.types[s]
	return ok && t.HasShape && len(t.Shape) == 4 && t.Shape[1].Known() && t.Shape[1].Size == n && t.Shape[3].Known() && t.Shape[3].Size == h
}

// biasShape reports whether mask, added to the (B, N, S, T) scores, is
// MultiHeadAttention's attention_bias: (B or 1, 1 or N, S, T), so the Add
// broadcast it on the first two axes only.
func biasShape(v *view, mask, scores string, n int64) bool {
	mt, ok1 := v.types[mask]
	st, ok2 := v.types[scores]
	if !ok1 || !ok2 || !mt.HasShape || !st.HasShape || len(mt.Shape) != 4 || len(st.Shape) != 4 {
		return false
	}
	one := func(d tensor.Dim) bool { return d.Known() && d.Size == 1 }
	m := mt.Shape
	return (one(m[0]) || sameDim(m[0], st.Shape[0])) && (one(m[1]) || m[1].Known() && m[1].Size == n) &&
		sameDim(m[2], st.Shape[2]) && sameDim(m[3], st.Shape[3])
}

// mergesHeads reports whether Reshape rs makes the (B, S, N, hv) context
// (B, S, width) for a query q of shape (B, S, D): its target keeps the
// first two dimensions (0, q's or the context's own) and makes the last
// width or -1.
func mergesHeads(v *view, rs *ir.Node, q string, width int64) bool {
	qt, ok := v.types[q]
	if !ok || !qt.HasShape || len(qt.Shape) != 3 {
		return false
	}
	if target, ok := shapeValue(v.consts, v.vals, rs.Inputs[1]); ok {
		if len(target) != 3 {
			return false
		}
		for i := 0; i < 2; i++ {
			if t := target[i]; !(t.Known() && t.Size == 0) && !sameDim(t, qt.Shape[i]) && t.Param != anonParam(rs.Inputs[0], i) {
				return false
			}
		}
		last := target[2]
		return last.Param == "" && (last.Size == -1 || last.Size == width)
	}
	// Shape inference lost the context's shape: read the target's
	// Concat(x.shape[0], x.shape[1], [-1 or width]) of the context x.
	cat := v.op(rs.Inputs[1], "Concat")
	if cat == nil || len(cat.Inputs) != 3 || attrInt(cat, "axis", 0) != 0 {
		return false
	}
	for i := 0; i < 2; i++ {
		if src, axis, ok := dimRef(v, cat.Inputs[i]); !ok || src != rs.Inputs[0] || axis != int64(i) {
			return false
		}
	}
	last, ok := v.ints(cat.Inputs[2])
	return ok && len(last) == 1 && (last[0] == -1 || last[0] == width)
}

// dimRef matches Unsqueeze(Gather(Shape(x), i), [0]), the one-element
// dimension i of x, and returns x and i.
func dimRef(v *view, s string) (string, int64, bool) {
	un := v.op(s, "Unsqueeze")
	if un == nil {
		return "", 0, false
	}
	axes, ok := v.axes(un)
	ga := v.op(un.Inputs[0], "Gather")
	if !ok || !sameInts(axes, 0) || ga == nil || attrInt(ga, "axis", 0) != 0 {
		return "", 0, false
	}
	sh := v.op(ga.Inputs[0], "Shape")
	i, ok := v.ints(ga.Inputs[1])
	if sh == nil || !ok || len(i) != 1 || i[0] < 0 || hasAttr(sh, "start") || hasAttr(sh, "end") {
		return "", 0, false
	}
	return sh.Inputs[0], i[0], true
}
