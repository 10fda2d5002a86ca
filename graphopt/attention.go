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
}

// matchProjection follows value s (a Transpose output) back to its
// projection; perm is the Transpose's required permutation.
func matchProjection(v *view, s string, perm ...int64) (projection, bool) {
	var p projection
	if p.tr = v.op(s, "Transpose"); p.tr == nil {
		return p, false
	}
	got, ok := attrInts(p.tr, "perm")
	if !ok || len(got) != len(perm) {
		return p, false
	}
	for i := range perm {
		if got[i] != perm[i] {
			return p, false
		}
	}
	if p.rs = v.op(p.tr.Inputs[0], "Reshape"); p.rs == nil || len(p.rs.Inputs) != 2 || attrInt(p.rs, "allowzero", 0) != 0 {
		return p, false
	}
	shape, ok := v.ints(p.rs.Inputs[1])
	if !ok || len(shape) != 4 || shape[2] <= 0 || shape[3] <= 0 {
		return p, false
	}
	p.heads, p.headSize = shape[2], shape[3]
	if p.add = v.op(p.rs.Inputs[0], "Add"); p.add == nil {
		return p, false
	}
	for i := 0; i < 2; i++ {
		mm := v.op(p.add.Inputs[i], "MatMul")
		if mm == nil {
			continue
		}
		w, ok := v.consts[mm.Inputs[1]]
		hidden := p.heads * p.headSize
		if !ok || w.Rank() != 2 || int64(w.Shape()[1]) != hidden || !v.vector1D(p.add.Inputs[1-i], hidden) {
			continue
		}
		p.mm, p.x, p.w, p.b = mm, mm.Inputs[0], mm.Inputs[1], p.add.Inputs[1-i]
		return p, true
	}
	return p, false
}

func (p projection) nodes() []*ir.Node { return []*ir.Node{p.mm, p.add, p.rs, p.tr} }

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
			a, ok := attrInts(n, "axes")
			if !ok && len(n.Inputs) > 1 {
				a, ok = v.ints(n.Inputs[1])
			}
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
		p := &Patch{}
		maskIdx := ""
		if mask != "" {
			attrs = append(attrs, ops.Attr{Name: "mask_filter_value", Type: ops.AttrFloat, F: float32(math.Max(filter, -math.MaxFloat32))})
			maskIdx = v.newName("mask_index")
			p.Add = append(p.Add, v.node("Cast", "", []string{mask}, []string{maskIdx},
				ops.Attr{Name: "to", Type: ops.AttrInt, I: int64(tensor.Int32)}))
		}
		if useAttention {
			if !v.internal(set, out) {
				continue
			}
			w, err1 := concatConsts(1, v.consts[q.w], v.consts[k.w], v.consts[val.w])
			b, err2 := concatConsts(0, v.consts[q.b], v.consts[k.b], v.consts[val.b])
			if err1 != nil || err2 != nil {
				continue
			}
			wn, bn := v.newName("qkv_weight"), v.newName("qkv_bias")
			p.Inits = []*ir.Initializer{{Name: wn, T: w}, {Name: bn, T: b}}
			in := []string{q.x, wn, bn}
			if maskIdx != "" {
				in = append(in, maskIdx)
			}
			st.emit(msDomain, "Attention")
			p.Add = append(p.Add, v.node("Attention", msDomain, in, []string{out}, attrs...))
		} else {
			// MultiHeadAttention keeps the three projection MatMuls and
			// takes their biases packed.
			keep := map[*ir.Node]bool{q.mm: true, k.mm: true, val.mm: true}
			var rest []*ir.Node
			for _, n := range set {
				if !keep[n] {
					rest = append(rest, n)
				}
			}
			set = rest
			if !v.internal(set, out) {
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
	}
	return patches, nil
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
