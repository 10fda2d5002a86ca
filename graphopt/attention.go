package graphopt

import (
	"errors"
	"math"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// projection is one of the Q/K/V projections x @ W + b split into heads:
// Transpose(Reshape(Add(MatMul(x, W), b), [_, _, heads, headSize]), perm).
type projection struct {
	x, w, b         string
	mm, add, rs, tr *ir.Node
	heads, headSize int64
	// split is set when the projection is output part of a packed QKV
	// projection Split into three (GPT-2's c_attn); w and b are then the
	// packed (H, 3H) and (3H) constants.
	split *ir.Node
	part  int
}

// matchProjection follows value s (a Transpose output) back to its
// projection; perm is the Transpose's required permutation.
func matchProjection(v *view, s string, perm ...int64) (projection, bool) {
	var p projection
	if p.tr, p.rs = headsSplit(v, s, perm...); p.tr == nil {
		return p, false
	}
	shape, ok := v.ints(p.rs.Inputs[1])
	if !ok || len(shape) != 4 || shape[2] <= 0 || shape[3] <= 0 {
		return p, false
	}
	p.heads, p.headSize = shape[2], shape[3]
	hidden := p.heads * p.headSize
	in, width := p.rs.Inputs[0], hidden
	if sp := v.op(in, "Split"); sp != nil {
		if p.part = splitPart(v, sp, in, hidden); p.part < 0 {
			return p, false
		}
		p.split, in, width = sp, sp.Inputs[0], 3*hidden
	}
	if p.add = v.op(in, "Add"); p.add == nil {
		return p, false
	}
	for i := 0; i < 2; i++ {
		mm := v.op(p.add.Inputs[i], "MatMul")
		if mm == nil {
			continue
		}
		w, ok := v.consts[mm.Inputs[1]]
		if !ok || w.Rank() != 2 || int64(w.Shape()[1]) != width || !v.vector1D(p.add.Inputs[1-i], width) {
			continue
		}
		p.mm, p.x, p.w, p.b = mm, mm.Inputs[0], mm.Inputs[1], p.add.Inputs[1-i]
		return p, true
	}
	return p, false
}

// headsSplit returns the nodes of s = Transpose(Reshape(x, shape), perm),
// the way heads are split off a (B, S, N*h) value, or nils when s is not
// such (the Reshape must not allowzero).
func headsSplit(v *view, s string, perm ...int64) (tr, rs *ir.Node) {
	tr = v.op(s, "Transpose")
	if tr == nil {
		return nil, nil
	}
	if p, ok := attrInts(tr, "perm"); !ok || !sameInts(p, perm...) {
		return nil, nil
	}
	rs = v.op(tr.Inputs[0], "Reshape")
	if rs == nil || len(rs.Inputs) != 2 || attrInt(rs, "allowzero", 0) != 0 {
		return nil, nil
	}
	return tr, rs
}

func (p projection) nodes() []*ir.Node {
	if p.split != nil {
		return []*ir.Node{p.mm, p.add, p.split, p.rs, p.tr}
	}
	return []*ir.Node{p.mm, p.add, p.rs, p.tr}
}

// splitPart returns which of three equal parts of the last axis output s
// of Split sp is, or -1 when sp is not such a split.
func splitPart(v *view, sp *ir.Node, s string, part int64) int {
	r, ok := v.rank(sp.Inputs[0])
	if axis := attrInt(sp, "axis", 0); !ok || len(sp.Outputs) != 3 || axis != -1 && axis != int64(r-1) {
		return -1
	}
	sizes, ok := attrInts(sp, "split")
	if !ok && len(sp.Inputs) > 1 && sp.Inputs[1] != "" {
		if sizes, ok = v.ints(sp.Inputs[1]); !ok {
			return -1
		}
	}
	if ok && !sameInts(sizes, part, part, part) {
		return -1
	}
	for i, o := range sp.Outputs {
		if o == s {
			return i
		}
	}
	return -1
}

// causalMask reports whether s is a lower-triangular mask: a constant
// tril of ones (GPT-2's bias buffer) sliced from 0 on its last two axes
// (bias[:, :, k-q:k, :k] with k = q in self-attention), possibly cast.
func causalMask(v *view, s string) bool {
	for steps := 0; steps < 4; steps++ {
		if t, ok := v.consts[s]; ok {
			return isTril(t)
		}
		n := v.producer[s]
		if n == nil || !isONNX(n.Domain) {
			return false
		}
		switch n.OpType {
		case "Cast":
		case "Slice":
			if len(n.Inputs) < 3 || !slicesFromZero(v, n) {
				return false
			}
		default:
			return false
		}
		s = n.Inputs[0]
	}
	return false
}

// slicesFromZero reports whether a Slice starts at 0 with step 1 on every
// axis it slices, and slices only the last two axes.
func slicesFromZero(v *view, n *ir.Node) bool {
	r, ok := v.rank(n.Inputs[0])
	starts, ok2 := shapeValue(v.consts, v.vals, n.Inputs[1])
	if !ok || !ok2 || r < 2 {
		return false
	}
	axes := make([]int64, len(starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if len(n.Inputs) > 3 && n.Inputs[3] != "" {
		a, ok := v.ints(n.Inputs[3])
		if !ok || len(a) != len(starts) {
			return false
		}
		axes = a
	}
	if len(n.Inputs) > 4 && n.Inputs[4] != "" {
		st, ok := v.ints(n.Inputs[4])
		if !ok {
			return false
		}
		for _, x := range st {
			if x != 1 {
				return false
			}
		}
	}
	for i, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		if a < int64(r-2) || !starts[i].Known() || starts[i].Size != 0 {
			return false
		}
	}
	return true
}

// isTril reports whether the last two axes of t hold a square lower
// triangle of non-zeros (j <= i) and zeros above it, for every leading index.
func isTril(t *tensor.Tensor) bool {
	shape := t.Shape()
	if len(shape) < 2 || shape[len(shape)-1] != shape[len(shape)-2] || t.Len() == 0 {
		return false
	}
	f := tensor.Zeros(tensor.Float64, shape...)
	if err := tensor.Convert(f, t, false); err != nil {
		return false
	}
	d := tensor.Data[float64](f)
	m := shape[len(shape)-1]
	for k := range d {
		i, j := (k/m)%m, k%m
		if (d[k] != 0) != (j <= i) {
			return false
		}
	}
	return true
}

// paddingMask matches the exporter's additive mask (1 - m4) * c with c very
// negative, where m4 is the (B, S) mask m made (B, 1, 1, S) by Unsqueeze
// (axes [1, 2] at once or one at a time) and Cast to float in either order.
// It returns m and c.
func paddingMask(v *view, s string) (string, float64, bool) {
	mul := v.op(s, "Mul")
	if mul == nil {
		return "", 0, false
	}
	for i := 0; i < 2; i++ {
		c, ok := v.scalar(mul.Inputs[1-i])
		sub := v.op(mul.Inputs[i], "Sub")
		if !ok || c > -1e4 || sub == nil || !v.isScalar(sub.Inputs[0], 1, 0) {
			continue
		}
		if m, ok := unsqueezedMask(v, sub.Inputs[1]); ok {
			return m, c, true
		}
	}
	return "", 0, false
}

// unsqueezedMask walks from a float (B, 1, 1, S) value back through Cast
// and Unsqueeze nodes to the rank-2 mask they came from.
func unsqueezedMask(v *view, s string) (string, bool) {
	if !isFloat(v.dtype(s)) {
		return "", false
	}
	var axes []int64 // inserted axes in the order the Unsqueezes apply
walk:
	for steps := 0; steps < 4; steps++ {
		n := v.producer[s]
		if n == nil || !isONNX(n.Domain) {
			break
		}
		switch n.OpType {
		case "Cast":
		case "Unsqueeze":
			a, ok := v.axes(n)
			if !ok {
				return "", false
			}
			axes = append(append([]int64(nil), a...), axes...)
		default:
			break walk
		}
		s = n.Inputs[0]
	}
	// [1, 2] at once or in turn, or [1] twice, make (B, S) into (B, 1, 1, S).
	r, ok := v.rank(s)
	if !ok || r != 2 || !sameInts(axes, 1, 2) && !sameInts(axes, 1, 1) {
		return "", false
	}
	return s, true
}

// fuseAttention matches the self-attention block of Hugging Face's BERT and
// ViT exports,
//
//	q, v = heads(x @ Wq + bq), heads(x @ Wv + bv)       (B, N, S, h)
//	kT   = Transpose(Reshape(x @ Wk + bk), 0,2,3,1)     (B, N, h, S)
//	p    = Softmax(q @ kT / sqrt(h) [+ (1 - mask) * min])
//	out  = Reshape(Transpose(p @ v, 0,2,1,3), [0, 0, N*h])
//
// and emits com.microsoft Attention (packed QKV weights) or, where the
// native provider lacks it, MultiHeadAttention.
func fuseAttention(st *state, m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	useAttention := st.supported(msDomain, "Attention")
	useMHA := st.supported(msDomain, "MultiHeadAttention")
	if !useAttention && !useMHA {
		return nil, nil
	}
	v := newView(m, g)
	softmaxAxis := int64(-1)
	if opsetOf(m, "") < 13 {
		softmaxAxis = 1
	}
	var patches []*Patch
	done := map[*ir.Node]bool{}
	for _, sm := range g.Nodes {
		if sm.OpType != "Softmax" || !isONNX(sm.Domain) {
			continue
		}
		if a := attrInt(sm, "axis", softmaxAxis); a != -1 && a != 3 {
			continue
		}
		set := []*ir.Node{sm}
		scores := sm.Inputs[0]
		mask, filter := "", 0.0
		if add := v.op(scores, "Add"); add != nil {
			found := false
			for i := 0; i < 2 && !found; i++ {
				if mk, c, ok := paddingMask(v, add.Inputs[1-i]); ok {
					scores, mask, filter, found = add.Inputs[i], mk, c, true
				}
			}
			if !found {
				continue
			}
			set = append(set, add)
		}
		causal := false
		if w := v.op(scores, "Where"); w != nil && len(w.Inputs) == 3 && causalMask(v, w.Inputs[0]) {
			if c, ok := v.scalar(w.Inputs[2]); ok && c <= -1e4 {
				scores, causal = w.Inputs[1], true
				set = append(set, w)
			}
		}
		scale := 1.0
		if sc := v.producer[scores]; sc != nil && isONNX(sc.Domain) && (sc.OpType == "Div" || sc.OpType == "Mul") {
			c, ok := v.scalar(sc.Inputs[1])
			if !ok || c == 0 {
				continue
			}
			if sc.OpType == "Div" {
				c = 1 / c
			}
			scale, scores = c, sc.Inputs[0]
			set = append(set, sc)
		}
		qk := v.op(scores, "MatMul")
		if qk == nil {
			continue
		}
		q, ok1 := matchProjection(v, qk.Inputs[0], 0, 2, 1, 3)
		k, ok2 := matchProjection(v, qk.Inputs[1], 0, 2, 3, 1)
		pv := single(v, sm.Outputs[0], "MatMul")
		if !ok1 || !ok2 || pv == nil || pv.Inputs[0] != sm.Outputs[0] {
			continue
		}
		val, ok3 := matchProjection(v, pv.Inputs[1], 0, 2, 1, 3)
		if !ok3 || q.x != k.x || q.x != val.x || q.heads != k.heads || q.heads != val.heads ||
			q.headSize != k.headSize || q.headSize != val.headSize || v.dtype(q.x) != tensor.Float32 {
			continue
		}
		packed := q.split != nil && q.split == k.split && q.split == val.split && q.part == 0 && k.part == 1 && val.part == 2
		if (q.split != nil || k.split != nil || val.split != nil) && !packed {
			continue
		}
		if r, ok := v.rank(q.x); !ok || r != 3 {
			continue
		}
		tr := single(v, pv.Outputs[0], "Transpose")
		if tr == nil {
			continue
		}
		if perm, ok := attrInts(tr, "perm"); !ok || !sameInts(perm, 0, 2, 1, 3) {
			continue
		}
		rs := single(v, tr.Outputs[0], "Reshape")
		hidden := q.heads * q.headSize
		if rs == nil || len(rs.Inputs) != 2 {
			continue
		}
		if shape, ok := v.ints(rs.Inputs[1]); !ok || !sameInts(shape, 0, 0, hidden) && !sameInts(shape, 0, 0, -1) {
			continue
		}
		out := rs.Outputs[0]
		set = append(set, qk, pv, tr, rs)
		set = append(set, q.nodes()...)
		set = append(set, k.nodes()...)
		set = append(set, val.nodes()...)
		attrs := []ops.Attr{
			{Name: "num_heads", Type: ops.AttrInt, I: q.heads},
			{Name: "scale", Type: ops.AttrFloat, F: float32(scale)},
		}
		if causal {
			attrs = append(attrs, ops.Attr{Name: "unidirectional", Type: ops.AttrInt, I: 1})
		}
		p := &Patch{}
		maskIdx := ""
		if mask != "" {
			attrs = append(attrs, ops.Attr{Name: "mask_filter_value", Type: ops.AttrFloat, F: float32(math.Max(filter, -math.MaxFloat32))})
			maskIdx = v.newName("mask_index")
			p.Add = append(p.Add, v.node("Cast", "", []string{mask}, []string{maskIdx},
				ops.Attr{Name: "to", Type: ops.AttrInt, I: int64(tensor.Int32)}))
		}
		if useAttention {
			if set = v.withDead(set, q.x, mask); !v.internal(set, out) {
				continue
			}
			wn, bn := q.w, q.b // GPT-2's c_attn is packed already
			if !packed {
				w, err1 := concatConsts(1, v.consts[q.w], v.consts[k.w], v.consts[val.w])
				b, err2 := concatConsts(0, v.consts[q.b], v.consts[k.b], v.consts[val.b])
				if err1 != nil || err2 != nil {
					continue
				}
				wn, bn = v.newName("qkv_weight"), v.newName("qkv_bias")
				p.Inits = []*ir.Initializer{{Name: wn, T: w}, {Name: bn, T: b}}
			}
			in := []string{q.x, wn, bn}
			if maskIdx != "" {
				in = append(in, maskIdx)
			}
			st.emit(msDomain, "Attention")
			p.Add = append(p.Add, v.node("Attention", msDomain, in, []string{out}, attrs...))
		} else {
			if packed {
				continue // MultiHeadAttention would need the packed projection unpacked
			}
			// MultiHeadAttention keeps the three projection MatMuls and
			// takes their biases packed.
			keep := map[*ir.Node]bool{q.mm: true, k.mm: true, val.mm: true}
			var rest []*ir.Node
			for _, n := range set {
				if !keep[n] {
					rest = append(rest, n)
				}
			}
			if set = v.withDead(rest, q.x, mask, q.mm.Outputs[0], k.mm.Outputs[0], val.mm.Outputs[0]); !v.internal(set, out) {
				continue
			}
			b, err := concatConsts(0, v.consts[q.b], v.consts[k.b], v.consts[val.b])
			if err != nil {
				continue
			}
			bn := v.newName("qkv_bias")
			p.Inits = []*ir.Initializer{{Name: bn, T: b}}
			in := []string{q.mm.Outputs[0], k.mm.Outputs[0], val.mm.Outputs[0], bn}
			if maskIdx != "" {
				in = append(in, maskIdx)
			}
			st.emit(msDomain, "MultiHeadAttention")
			p.Add = append(p.Add, v.node("MultiHeadAttention", msDomain, in, []string{out}, attrs...))
		}
		p.Remove = set
		patches = append(patches, p)
		done[sm] = true
	}
	return append(patches, fuseDecoderAttention(st, v, g, softmaxAxis, done)...), nil
}

func sameInts(got []int64, want ...int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// concatConsts concatenates float32 constants along axis 0 (1-D) or 1 (2-D
// matrices with equal row counts).
func concatConsts(axis int, ts ...*tensor.Tensor) (*tensor.Tensor, error) {
	for _, t := range ts {
		if t == nil || t.DType() != tensor.Float32 || t.Rank() != axis+1 {
			return nil, errNotFusable
		}
	}
	if axis == 0 {
		var data []float32
		for _, t := range ts {
			data = append(data, tensor.Data[float32](t)...)
		}
		return tensor.From([]int{len(data)}, data)
	}
	rows := ts[0].Shape()[0]
	cols := 0
	for _, t := range ts {
		if t.Shape()[0] != rows {
			return nil, errNotFusable
		}
		cols += t.Shape()[1]
	}
	out := make([]float32, 0, rows*cols)
	for r := 0; r < rows; r++ {
		for _, t := range ts {
			c := t.Shape()[1]
			out = append(out, tensor.Data[float32](t)[r*c:(r+1)*c]...)
		}
	}
	return tensor.From([]int{rows, cols}, out)
}

var errNotFusable = errors.New("graphopt: constants do not fit the fused op")
