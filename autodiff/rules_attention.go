package autodiff

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// The attention ops are differentiated through their decomposition into
// standard ops (backThrough): heads split by Reshape and Transpose, scores
// by MatMul, masks added or selected, Softmax, MatMul with V. Supported:
// no KV cache (past inputs), gradients of the main output only.

// attentionRule is ai.onnx Attention (opset 23): Y = softmax(softcap(Q Kᵀ
// ·scale) + mask) V with Q, K, V 4-D (B, heads, S, h) or 3-D (B, S,
// heads·h) with q_num_heads/kv_num_heads; GQA repeats each KV head for
// its group of query heads; attn_mask is boolean (false masks with −inf)
// or additive; is_causal masks key j > query i.
func attentionRule(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	qs, ks, vs, err := b.attnShapes(n, dy, 4)
	if err != nil {
		return nil, err
	}
	if len(qs) != len(ks) || len(qs) != len(vs) || (len(qs) != 3 && len(qs) != 4) {
		return nil, fmt.Errorf("Attention gradient needs Q, K and V all 3-D or 4-D")
	}
	return b.backThrough(n, dy, func() ([]string, error) {
		var nq, nkv int64
		last := len(qs) - 1
		if len(qs) == 4 {
			nq, nkv = int64(qs[1]), int64(ks[1])
		} else {
			nq, nkv = attrI(n, "q_num_heads", 0), attrI(n, "kv_num_heads", 0)
		}
		if nq <= 0 || nkv <= 0 || nq%nkv != 0 || !known(qs[last], ks[last], vs[last]) {
			return nil, fmt.Errorf("Attention gradient needs the head counts (%d query, %d key/value, a multiple) and the feature sizes of Q, K and V", nq, nkv)
		}
		hd, hk, hv := int64(qs[last]), int64(ks[last]), int64(vs[last])
		if len(qs) == 3 {
			hd, hk, hv = hd/nq, hk/nkv, hv/nkv
		}
		q4, k4, v4 := q, k, v
		if len(qs) == 3 {
			q4, k4, v4 = b.splitHeads(q, nq), b.splitHeads(k, nkv), b.splitHeads(v, nkv)
		}
		if nq != nkv {
			k4, v4 = b.repeatHeads(k4, nq/nkv, nq, hk), b.repeatHeads(v4, nq/nkv, nq, hv)
		}
		scale := float64(attrF(n, "scale", 0))
		if scale == 0 {
			scale = 1 / math.Sqrt(float64(hd))
		}
		s := b.Op("Mul", nil, b.Op("MatMul", nil, q4, b.Op("Transpose", []Attr{attrInts("perm", 0, 1, 3, 2)}, k4)), b.Scalar(scale, q))
		if c := float64(attrF(n, "softcap", 0)); c > 0 {
			s = b.Op("Mul", nil, b.Op("Tanh", nil, b.Op("Div", nil, s, b.Scalar(c, q))), b.Scalar(c, q))
		}
		ninf := b.Scalar(math.Inf(-1), q)
		if m := input(n, 3); m != "" {
			if b.dtype(m) == tensor.Bool {
				s = b.Where(m, s, ninf)
			} else {
				s = b.Op("Add", nil, s, m)
			}
			s = b.declareRank(s, q, 4)
		}
		if attrI(n, "is_causal", 0) != 0 {
			if b.opset < 14 {
				return nil, fmt.Errorf("causal mask needs Trilu (opset >= 14)")
			}
			s = b.declareRank(b.Where(b.lowerTri(q4, k4, tensor.Bool), s, ninf), q, 4)
		}
		y := b.Op("MatMul", nil, b.Op("Softmax", []Attr{attrInt("axis", -1)}, s), v4)
		if len(qs) == 3 {
			y = b.mergeHeads(y)
		}
		return []string{y}, nil
	})
}

// rotaryRule is ai.onnx RotaryEmbedding (opset 23): inputs X, cos_cache,
// sin_cache, position_ids; see rotaryBack.
func rotaryRule(b *Builder, n *ir.Node, dy []string) ([]string, error) { return b.rotaryBack(n, dy, 2) }

// splitHeads turns (B, S, heads·h) into (B, heads, S, h).
func (b *Builder) splitHeads(x string, heads int64) string {
	return b.Op("Transpose", []Attr{attrInts("perm", 0, 2, 1, 3)}, b.Op("Reshape", nil, x, b.Ints(0, 0, heads, -1)))
}

// mergeHeads turns (B, heads, S, h) into (B, S, heads·h).
func (b *Builder) mergeHeads(x string) string {
	return b.Op("Reshape", nil, b.Op("Transpose", []Attr{attrInts("perm", 0, 2, 1, 3)}, x), b.Ints(0, 0, -1))
}

// repeatHeads repeats each head of x (B, heads/g, T, h) g times: (B,
// heads, T, h).
func (b *Builder) repeatHeads(x string, g, heads, h int64) string {
	e := b.Op("Expand", nil, b.Op("Unsqueeze", nil, x, b.Ints(2)), b.Ints(1, 1, g, 1, 1))
	return b.Op("Reshape", nil, e, b.Ints(0, heads, -1, h))
}

// lowerTri returns the (S, T) matrix of key j ≤ query i (1 or true), with
// S and T from q4 and k4 (…, S, h) and (…, T, h).
func (b *Builder) lowerTri(q4, k4 string, dt tensor.DType) string {
	dim := func(x string) string { return b.Op("Gather", nil, b.Op("Shape", nil, x), b.Ints(-2)) }
	st := b.Op("Concat", []Attr{attrInt("axis", 0)}, dim(q4), dim(k4))
	ones := b.Op("ConstantOfShape", []Attr{tensorAttr("value", tensor.Must([]int{1}, []int64{1}))}, st)
	tri := b.Op("Trilu", []Attr{attrInt("upper", 0)}, ones)
	return b.Op("Cast", []Attr{attrInt("to", int64(dt))}, tri)
}

// msAttentionRule is com.microsoft Attention: Q|K|V = input·weights +
// bias split by qkv_hidden_sizes into num_heads heads, output =
// softmax(scale·Q Kᵀ + mask + attention_bias) V, where masked keys get
// mask_filter_value (default −10000) added: mask_index (B) key lengths,
// (B, T) or (B, S, T) with 0 for masked keys; unidirectional masks key j >
// query i.
func msAttentionRule(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x, w := n.Inputs[0], n.Inputs[1]
	if input(n, 4) != "" || input(n, 6) != "" {
		return nil, fmt.Errorf("Attention gradient with past is not supported")
	}
	for i := 1; i < len(dy); i++ {
		if dy[i] != "" {
			return nil, fmt.Errorf("Attention gradient through present is not supported")
		}
	}
	ws, ok := b.staticShape(w)
	if !ok || len(ws) != 2 {
		return nil, fmt.Errorf("Attention gradient needs the static (D, Dq+Dk+Dv) shape of weights %q", w)
	}
	heads := attrI(n, "num_heads", 0)
	sizes, ok := attrIs(n, "qkv_hidden_sizes")
	if !ok {
		d := int64(ws[1] / 3)
		sizes = []int64{d, d, d}
	}
	if heads <= 0 || len(sizes) != 3 || sizes[0]%heads != 0 {
		return nil, fmt.Errorf("Attention num_heads %d and qkv_hidden_sizes %v", heads, sizes)
	}
	return b.backThrough(n, dy, func() ([]string, error) {
		qkv := b.Op("MatMul", nil, x, w)
		if bias := input(n, 2); bias != "" {
			qkv = b.Op("Add", nil, qkv, bias)
		}
		parts := b.OpN("Split", 3, []Attr{attrInt("axis", -1)}, qkv, b.Ints(sizes...))
		y, err := b.msAttend(n, x, parts[0], parts[1], parts[2], heads, sizes[0]/heads, input(n, 3), input(n, 5))
		return []string{y}, err
	})
}

// msAttend emits ONNX Runtime's multi-head attention of q (B, S, N·hk), k
// (B, T, N·hk), v (B, T, N·hv) in standard ops: softmax(scale·Q Kᵀ +
// mask·mask_filter_value + attention_bias) V, merged back to (B, S, N·hv).
// mask is mask_index/key_padding_mask: (B) key lengths, (B, T) or (B, S,
// T) with 0 for masked keys; unidirectional masks key j > query i. like
// is a value of the computation's float dtype.
func (b *Builder) msAttend(n *ir.Node, like, q3, k3, v3 string, heads, hk int64, mask, bias string) (string, error) {
	q, k, v := b.splitHeads(q3, heads), b.splitHeads(k3, heads), b.splitHeads(v3, heads)
	scale := float64(attrF(n, "scale", 0))
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(hk))
	}
	s := b.Op("Mul", nil, b.Op("MatMul", nil, q, b.Op("Transpose", []Attr{attrInts("perm", 0, 1, 3, 2)}, k)), b.Scalar(scale, like))
	filter := b.Scalar(float64(attrF(n, "mask_filter_value", -10000)), like)
	if mask != "" {
		r, ok := b.staticRank(mask)
		if !ok {
			return "", fmt.Errorf("mask %q needs a known rank", mask)
		}
		var masked string // true where a key is masked, broadcastable to (B, N, S, T)
		switch r {
		case 1: // key lengths: j >= end[b]
			t := b.Op("Gather", nil, b.Op("Shape", nil, k), b.Ints(2))
			pos := b.Op("Range", nil, b.Const(tensor.Scalar(int64(0))), b.Op("Squeeze", nil, t), b.Const(tensor.Scalar(int64(1))))
			end := b.Op("Unsqueeze", nil, b.Op("Cast", []Attr{attrInt("to", int64(tensor.Int64))}, mask), b.Ints(1))
			masked = b.Op("Unsqueeze", nil, b.Op("Not", nil, b.Op("Less", nil, pos, end)), b.Ints(1, 2))
		case 2:
			masked = b.Op("Unsqueeze", nil, b.Op("LessOrEqual", nil, mask, b.Const(tensor.Scalar(int32(0)))), b.Ints(1, 2))
		case 3:
			masked = b.Op("Unsqueeze", nil, b.Op("LessOrEqual", nil, mask, b.Const(tensor.Scalar(int32(0)))), b.Ints(1))
		default:
			return "", fmt.Errorf("mask of rank %d is not supported by the gradient", r)
		}
		s = b.declareRank(b.Op("Add", nil, s, b.Op("Mul", nil, b.castLike(masked, like), filter)), like, 4)
	}
	if attrI(n, "unidirectional", 0) != 0 {
		if b.opset < 14 {
			return "", fmt.Errorf("unidirectional mask needs Trilu (opset >= 14)")
		}
		future := b.Op("Sub", nil, b.Scalar(1, like), b.castLike(b.lowerTri(q, k, tensor.Bool), like))
		s = b.declareRank(b.Op("Add", nil, s, b.Op("Mul", nil, future, filter)), like, 4)
	}
	if bias != "" {
		s = b.declareRank(b.Op("Add", nil, s, bias), like, 4)
	}
	y := b.Op("MatMul", nil, b.Op("Softmax", []Attr{attrInt("axis", -1)}, s), v)
	return b.mergeHeads(y), nil
}

// msMHARule is com.microsoft MultiHeadAttention with query (B, S, D), key
// (B, T, D) and value (B, T, Dv), bias (D + D + Dv) optional, masks as in
// Attention (key_padding_mask, attention_bias, unidirectional). Packed
// layouts, 4-D keys and past are not supported.
func msMHARule(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	q, k, v := n.Inputs[0], input(n, 1), input(n, 2)
	qs, ks, vs, err := b.attnShapes(n, dy, 6)
	if err != nil {
		return nil, err
	}
	heads := attrI(n, "num_heads", 0)
	if len(qs) != 3 || len(ks) != 3 || len(vs) != 3 || heads <= 0 || !known(qs[2], ks[2], vs[2]) || int64(qs[2])%heads != 0 {
		return nil, fmt.Errorf("MultiHeadAttention gradient needs 3-D query, key and value with known feature sizes, and num_heads")
	}
	return b.backThrough(n, dy, func() ([]string, error) {
		q3, k3, v3 := q, k, v
		if bias := input(n, 3); bias != "" {
			parts := b.OpN("Split", 3, []Attr{attrInt("axis", 0)}, bias, b.Ints(int64(qs[2]), int64(ks[2]), int64(vs[2])))
			q3, k3, v3 = b.Op("Add", nil, q, parts[0]), b.Op("Add", nil, k, parts[1]), b.Op("Add", nil, v, parts[2])
		}
		y, err := b.msAttend(n, q, q3, k3, v3, heads, int64(qs[2])/heads, input(n, 4), input(n, 5))
		return []string{y}, err
	})
}

// declareRank records that v has like's dtype and rank r (sizes unknown)
// where inference cannot tell (an operand shaped by a constant), so the
// rules differentiating a decomposition know the ranks they need.
func (b *Builder) declareRank(v, like string, r int) string {
	if _, known := b.types[v]; !known {
		b.types[v] = tensor.Type{Kind: tensor.KindTensor, DType: b.dtype(like), HasShape: true, Shape: make([]tensor.Dim, r)}
		for i := range r {
			b.types[v].Shape[i] = tensor.Dim{Size: -1}
		}
	}
	return v
}

// attnShapes checks that an attention node n has no KV cache inputs (from
// index cache on) and that only its main output has a gradient, and
// returns the shapes of its inputs 0, 1 and 2 (query, key, value), -1
// for sizes known only at run time.
func (b *Builder) attnShapes(n *ir.Node, dy []string, cache int) (qs, ks, vs []int, err error) {
	for i := cache; i < len(n.Inputs); i++ {
		if n.Inputs[i] != "" {
			return nil, nil, nil, fmt.Errorf("%s gradient with a KV cache (past_key/past_value) or sequence lengths (input %d) is not supported", n.OpType, i)
		}
	}
	for i := 1; i < len(dy); i++ {
		if dy[i] != "" {
			return nil, nil, nil, fmt.Errorf("%s gradient through output %d is not supported", n.OpType, i)
		}
	}
	var ok [3]bool
	qs, ok[0] = b.dims(input(n, 0))
	ks, ok[1] = b.dims(input(n, 1))
	vs, ok[2] = b.dims(input(n, 2))
	if !ok[0] || !ok[1] || !ok[2] {
		return nil, nil, nil, fmt.Errorf("%s gradient needs the ranks of query, key and value", n.OpType)
	}
	return qs, ks, vs, nil
}

// dims returns x's shape with -1 for the sizes not known statically (a
// symbolic batch or sequence length); false when even the rank is unknown.
func (b *Builder) dims(x string) ([]int, bool) {
	t, ok := b.types[x]
	if !ok || t.Kind != tensor.KindTensor || !t.HasShape {
		return nil, false
	}
	s := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		s[i] = -1
		if d.Known() {
			s[i] = int(d.Size)
		}
	}
	return s, true
}

// known reports whether every size in v is known, for an error otherwise.
func known(v ...int) bool {
	for _, d := range v {
		if d < 0 {
			return false
		}
	}
	return true
}
