// Package attention holds gort's kernels for the attention operator family:
// Attention (opsets 23, 24 and 25, which adds sliding windows) and
// RotaryEmbedding (opset 23), LinearAttention and
// CausalConvWithState (opset 27), and ai.onnx.preview FlexAttention.
//
// # Overview
//
// Float16 and bfloat16 compute in float32, float64 in float64. Float32
// Attention runs the fused kernel of ops/internal/flash (blocks of keys, an
// online softmax, causal, window and padding masks as key ranges). Float64, and a
// node that asks for the qk output, work one (batch, head) pair per task,
// row by row: scores against every key, the row's bias (mask, causal,
// window and padding), a max-subtracted softmax, then the weighted sum of
// values.
// Neither holds an (Sq, T) score matrix.
package attention

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/flash"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		// Attention: Y = softmax(softcap(Q K^T * scale) + bias) V, with
		// bias from attn_mask (bool or additive), is_causal and
		// nonpad_kv_seqlen (opset 24) and left_window_size /
		// right_window_size (opset 25); past_key/past_value are prepended
		// to K/V and returned as present_key/present_value; GQA shares
		// each KV head among q_num_heads/kv_num_heads query heads.
		ops.Versions("", "Attention",
			"Y = softmax(softcap(Q K^T * scale) + mask) V, with KV cache, GQA, causal, sliding-window and padding masks",
			[]int{23, 24, 25}, inferAttention, compileAttention),
		// RotaryEmbedding rotates pairs (halves, or interleaved elements)
		// of each head: [x1, x2] -> [x1 cos - x2 sin, x1 sin + x2 cos].
		ops.Versions("", "RotaryEmbedding",
			"rotate (x1, x2) pairs of the first rotary_embedding_dim features by the cached (cos, sin) of each position",
			[]int{23}, ops.InferSameAs(0), compileRotary),
		// LinearAttention is a recurrent state S (B, H_kv, d_k, d_v):
		// S_t = decay(S_{t-1}) + k_t (x) v'_t, o_t = scale * q_t^T S_t.
		ops.Versions("", "LinearAttention",
			"S_t = exp(g_t) S_{t-1} + k_t (x) beta_t (v_t - S^T k_t) (by update_rule); o_t = scale * q_t^T S_t",
			[]int{27}, inferLinearAttention, compileLinearAttention),
		// CausalConvWithState: depthwise causal conv1d over [past_state, input]
		// with optional SiLU; present_state is the last k-1 positions.
		ops.Versions("", "CausalConvWithState",
			"y = act(depthwise_conv1d(concat(past_state, x), weight) + bias); present_state = last k-1 inputs",
			[]int{27}, inferCausalConv, compileCausalConv),
		// FlexAttention: softmax(mod(Q K^T * scale)) V with score_mod,
		// mask_mod and prob_mod subgraphs.
		ops.Versions("ai.onnx.preview", "FlexAttention",
			"Y = prob_mod(softmax(mask_mod(score_mod(Q K^T * scale)))) V",
			[]int{1}, inferFlex, compileFlex),
	)
}

// view is a (B, H, S, D) view of a 3-D (B, S, H*D) or 4-D (B, H, S, D)
// tensor: element (b, h, s, d) is at b*sb + h*sh + s*ss + d.
type view struct {
	b, h, s, d int
	sb, sh, ss int
}

func newView(name string, shape []int, heads int) (view, error) {
	switch len(shape) {
	case 3:
		if heads <= 0 {
			return view{}, fmt.Errorf("%s is 3-D %v: set q_num_heads and kv_num_heads", name, shape)
		}
		if shape[2]%heads != 0 {
			return view{}, fmt.Errorf("%s hidden size %d is not divisible by %d heads", name, shape[2], heads)
		}
		d := shape[2] / heads
		return view{b: shape[0], h: heads, s: shape[1], d: d, sb: shape[1] * shape[2], sh: d, ss: shape[2]}, nil
	case 4:
		return view{b: shape[0], h: shape[1], s: shape[2], d: shape[3],
			sb: shape[1] * shape[2] * shape[3], sh: shape[2] * shape[3], ss: shape[3]}, nil
	}
	return view{}, fmt.Errorf("%s has shape %v, want 3-D (B, S, H*D) or 4-D (B, H, S, D)", name, shape)
}

func (v view) at(b, h, s int) int { return b*v.sb + h*v.sh + s*v.ss }

type attnParams struct {
	causal           bool
	left, right      int // left_window_size, right_window_size (-1: unbounded)
	qHeads, kvHeads  int
	mode             int // qk_matmul_output_mode
	scale            float64
	softcap          float64
	outputs          []bool // which outputs the node asks for
	softmaxPrecision int64
}

func compileAttention(n *ops.Node) (*ops.Kernel, error) {
	p := &attnParams{
		causal:           n.Int("is_causal", 0) != 0,
		qHeads:           int(n.Int("q_num_heads", 0)),
		kvHeads:          int(n.Int("kv_num_heads", 0)),
		mode:             int(n.Int("qk_matmul_output_mode", 0)),
		scale:            float64(n.Float("scale", 0)),
		softcap:          float64(n.Float("softcap", 0)),
		softmaxPrecision: n.Int("softmax_precision", 0),
		left:             int(n.Int("left_window_size", -1)),
		right:            int(n.Int("right_window_size", -1)),
	}
	for _, o := range n.Outputs {
		p.outputs = append(p.outputs, o != "")
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.mode < 0 || p.mode > 3 {
		return nil, fmt.Errorf("qk_matmul_output_mode %d, want 0..3", p.mode)
	}
	if p.left < -1 || p.right < -1 {
		return nil, fmt.Errorf("left_window_size %d and right_window_size %d must be -1 (unbounded) or at least 0", p.left, p.right)
	}
	if p.qHeads < 0 || p.kvHeads < 0 {
		return nil, fmt.Errorf("q_num_heads %d and kv_num_heads %d must not be negative", p.qHeads, p.kvHeads)
	}
	if p.softmaxPrecision != 0 && !floatio.Supported(tensor.DType(p.softmaxPrecision)) {
		return nil, fmt.Errorf("softmax_precision %d, want a float dtype", p.softmaxPrecision)
	}
	return floatio.Kernel(p, []string{"Q", "K", "V"}, 3, 7, runAttention[float32], runAttention[float64]), nil
}

func inferAttention(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 3 {
		return nil, fmt.Errorf("want Q, K and V")
	}
	unknown := tensor.Dim{Size: -1}
	typ := func(dims ...tensor.Dim) tensor.Type {
		t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
		if dims != nil {
			t.HasShape, t.Shape = true, dims
		}
		return t
	}
	q, ok1 := dims4(in[0], n.Int("q_num_heads", 0))
	k, ok2 := dims4(in[1], n.Int("kv_num_heads", 0))
	v, ok3 := dims4(in[2], n.Int("kv_num_heads", 0))
	if !ok1 || !ok2 || !ok3 {
		out := make([]tensor.Type, max(1, len(n.Outputs)))
		for i := range out {
			out[i] = typ()
		}
		return out, nil
	}
	// total is the present sequence length: past + new when both are known.
	total := k[2]
	if len(n.Inputs) > 4 && n.Inputs[4] != "" {
		total = unknown
		if len(in) > 4 && in[4].HasShape && len(in[4].Shape) == 4 && in[4].Shape[2].Known() && k[2].Known() {
			total = tensor.Dim{Size: in[4].Shape[2].Size + k[2].Size}
		}
	}
	y := typ(q[0], q[1], q[2], v[3])
	if len(in[0].Shape) == 3 {
		hid := unknown
		if q[1].Known() && v[3].Known() {
			hid = tensor.Dim{Size: q[1].Size * v[3].Size}
		}
		y = typ(q[0], q[2], hid)
	}
	out := []tensor.Type{y, typ(k[0], k[1], total, k[3]), typ(v[0], v[1], total, v[3]), typ(q[0], q[1], q[2], total)}
	return out[:max(1, min(len(out), len(n.Outputs)))], nil
}

// dims4 gives the (B, H, S, D) dimensions of a 4-D type, or of a 3-D
// (B, S, H*D) type given its head count.
func dims4(t tensor.Type, heads int64) ([]tensor.Dim, bool) {
	if !t.HasShape {
		return nil, false
	}
	s := t.Shape
	switch {
	case len(s) == 4:
		return s, true
	case len(s) == 3 && heads > 0:
		d := tensor.Dim{Size: -1}
		if s[2].Known() {
			d = tensor.Dim{Size: s[2].Size / heads}
		}
		return []tensor.Dim{s[0], {Size: heads}, s[1], d}, true
	}
	return nil, false
}

// bias computes the additive bias of one (b, h, i) row over T keys: the
// attn_mask, and the key range [lo, hi) of keys that the causal mask, the
// sliding window and nonpad_kv_seqlen leave visible.
type bias[F tensor.Float] struct {
	maskF       []F
	maskB       []bool
	mlen        int // the mask's last dimension (<= T; the rest is masked)
	sb, sh, si  int // mask strides (0 where broadcast)
	causal      bool
	left, right int   // window bounds (-1: unbounded)
	offset      []int // per batch, the absolute position of query 0 (nil: 0)
	nonpad      []int // valid key count per batch, or nil
}

// ranged reports whether keys restricts any row.
func (m *bias[F]) ranged() bool {
	return m.causal || m.left >= 0 || m.right >= 0 || m.nonpad != nil
}

// keys returns the keys [lo, hi) of T that query i of batch b may attend
// to: at absolute position p = offset + i, causal keeps j <= p, the window
// p - left <= j <= p + right, and padding j < nonpad[b]. An empty range
// has lo >= hi.
func (m *bias[F]) keys(b, i, total int) (lo, hi int) {
	hi = total
	p := i
	if m.offset != nil {
		p += m.offset[b]
	}
	if m.causal {
		hi = min(hi, p+1)
	}
	if m.left >= 0 {
		lo = max(lo, p-m.left)
	}
	if m.right >= 0 {
		hi = min(hi, p+m.right+1)
	}
	if m.nonpad != nil {
		hi = min(hi, m.nonpad[b])
	}
	return lo, max(hi, 0)
}

func (m *bias[F]) row(b, h, i int, out []float64) {
	m.maskRow(b, h, i, out)
	if m.ranged() {
		negInf := math.Inf(-1)
		lo, hi := m.keys(b, i, len(out))
		for j := range out[:min(lo, len(out))] {
			out[j] = negInf
		}
		for j := max(hi, lo); j < len(out); j++ {
			out[j] = negInf
		}
	}
}

// maskRow writes the attn_mask part of the bias of row (b, h, i).
func (m *bias[F]) maskRow(b, h, i int, out []float64) {
	negInf := math.Inf(-1)
	for j := range out {
		out[j] = 0
	}
	if m.maskF != nil || m.maskB != nil {
		base := b*m.sb + h*m.sh + i*m.si
		for j := range out {
			switch {
			case j >= m.mlen:
				out[j] = negInf
			case m.maskB != nil:
				if !m.maskB[base+j] {
					out[j] = negInf
				}
			default:
				out[j] = float64(m.maskF[base+j])
			}
		}
	}
}

func runAttention[F tensor.Float](c *ops.Ctx, p *attnParams, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	qt, kt, vt := in[0], in[1], in[2]
	get := func(i int) *tensor.Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	maskT, pastK, pastV, nonpadT := get(3), get(4), get(5), get(6)
	if qt.Rank() != kt.Rank() || qt.Rank() != vt.Rank() {
		return nil, fmt.Errorf("Q %v, K %v and V %v must have the same rank", qt.Shape(), kt.Shape(), vt.Shape())
	}
	qv, err := newView("Q", qt.Shape(), p.qHeads)
	if err != nil {
		return nil, err
	}
	kv, err := newView("K", kt.Shape(), p.kvHeads)
	if err != nil {
		return nil, err
	}
	vv, err := newView("V", vt.Shape(), p.kvHeads)
	if err != nil {
		return nil, err
	}
	bsz, hq, sq, dk := qv.b, qv.h, qv.s, qv.d
	hkv, skv, dv := kv.h, kv.s, vv.d
	switch {
	case kv.b != bsz || vv.b != bsz:
		return nil, fmt.Errorf("batch sizes differ: Q %d, K %d, V %d", bsz, kv.b, vv.b)
	case vv.h != hkv || vv.s != skv:
		return nil, fmt.Errorf("K %v and V %v disagree on heads or sequence length", kt.Shape(), vt.Shape())
	case kv.d != dk:
		return nil, fmt.Errorf("Q head size %d differs from K head size %d", dk, kv.d)
	case hkv == 0 || hq%hkv != 0:
		return nil, fmt.Errorf("%d query heads are not a multiple of %d key/value heads", hq, hkv)
	}
	if (pastK == nil) != (pastV == nil) {
		return nil, fmt.Errorf("past_key and past_value must be given together")
	}
	past := 0
	if pastK != nil {
		ks, vs := pastK.Shape(), pastV.Shape()
		if len(ks) != 4 || len(vs) != 4 || ks[0] != bsz || ks[1] != hkv || ks[3] != dk ||
			vs[0] != bsz || vs[1] != hkv || vs[2] != ks[2] || vs[3] != dv {
			return nil, fmt.Errorf("past_key %v and past_value %v must be (%d, %d, P, %d) and (%d, %d, P, %d)",
				ks, vs, bsz, hkv, dk, bsz, hkv, dv)
		}
		past = ks[2]
	}
	total := past + skv
	q, err := floatio.Load[F](qt)
	if err != nil {
		return nil, err
	}
	// present K and V are (B, Hkv, T, D): the past rows, then the new ones.
	want := func(i int) bool { return i < len(p.outputs) && p.outputs[i] }
	presK, kAll, kView, err := keysOrValues[F](c, want(1), kt, kv, pastK, total)
	if err != nil {
		return nil, err
	}
	presV, vAll, vView, err := keysOrValues[F](c, want(2), vt, vv, pastV, total)
	if err != nil {
		return nil, err
	}

	m := bias[F]{causal: p.causal, left: p.left, right: p.right}
	if maskT != nil {
		if err := loadMask(&m, maskT, bsz, hq, sq, total); err != nil {
			return nil, err
		}
	}
	if nonpadT != nil {
		np, err := ops.Ints64(nonpadT)
		if err != nil {
			return nil, fmt.Errorf("nonpad_kv_seqlen: %w", err)
		}
		if len(np) != bsz {
			return nil, fmt.Errorf("nonpad_kv_seqlen has %d values, want batch size %d", len(np), bsz)
		}
		m.nonpad = make([]int, bsz)
		for b, v := range np {
			if v < 0 || v > int64(total) {
				return nil, fmt.Errorf("nonpad_kv_seqlen[%d] = %d out of range [0, %d]", b, v, total)
			}
			m.nonpad[b] = int(v)
		}
	}
	if m.ranged() {
		// Query 0 sits after the keys before the block: the past ones, or
		// those an external cache holds beyond the sq new ones.
		m.offset = make([]int, bsz)
		for b := range m.offset {
			m.offset[b] = past
			if pastK == nil && m.nonpad != nil {
				m.offset[b] = m.nonpad[b] - sq
			}
		}
	}
	scale := p.scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(dk))
	}

	yShape := []int{bsz, hq, sq, dv}
	yv := view{b: bsz, h: hq, s: sq, d: dv, sb: hq * sq * dv, sh: sq * dv, ss: dv}
	if qt.Rank() == 3 {
		yShape = []int{bsz, sq, hq * dv}
		yv = view{b: bsz, h: hq, s: sq, d: dv, sb: sq * hq * dv, sh: dv, ss: hq * dv}
	}
	y, err := floatio.New[F](c, qt.DType(), yShape...)
	if err != nil {
		return nil, err
	}
	var qk floatio.Out[F]
	if want(3) {
		if qk, err = floatio.New[F](c, qt.DType(), bsz, hq, sq, total); err != nil {
			return nil, err
		}
	}
	if err := attend(c, p, &m, q, qv, kAll, kView, vAll, vView, y.Buf, yv, qk, total, scale); err != nil {
		return nil, err
	}
	res := []*tensor.Tensor{y.Done(), nil, nil, nil}
	if want(1) {
		res[1] = presK.Done()
	}
	if want(2) {
		res[2] = presV.Done()
	}
	if qk.T != nil {
		res[3] = qk.Done()
	}
	return res[:max(1, min(4, len(p.outputs)))], nil
}

// attend computes y from q, k and v seen through qv, kv and vv (T keys).
// Float32 without the qk output runs the fused kernel of ops/internal/flash,
// the causal, window and padding masks as key ranges and attn_mask as the
// bias; the rest goes row by row, below.
func attend[F tensor.Float](c *ops.Ctx, p *attnParams, m *bias[F], q []F, qv view, k []F, kv view, v []F, vv view, y []F, yv view, qk floatio.Out[F], total int, scale float64) error {
	bsz, hq, sq, dk, dv, hkv := qv.b, qv.h, qv.s, qv.d, yv.d, kv.h
	if q32, ok := any(q).([]float32); ok && qk.T == nil {
		fp := &flash.Problem{B: bsz, N: hq, KVN: hkv, S: sq, T: total, DK: dk, DV: dv,
			Q: q32, QB: qv.sb, QH: qv.sh, QS: qv.ss,
			K: any(k).([]float32), KB: kv.sb, KH: kv.sh, KS: kv.ss,
			V: any(v).([]float32), VB: vv.sb, VH: vv.sh, VS: vv.ss,
			Out: any(y).([]float32), OB: yv.sb, OH: yv.sh, OS: yv.ss,
			Scale: scale, Softcap: p.softcap}
		if m.ranged() {
			fp.Keys = func(b, i int) (int, int) { return m.keys(b, i, total) }
		}
		switch {
		case m.maskF == nil && m.maskB == nil:
		case m.sh == 0 && m.si == 0:
			// A mask over keys only, computed once per task.
			fp.KeyBias = func(b int, row []float64) { m.maskRow(b, 0, 0, row) }
		default:
			fp.Bias = m.maskRow
		}
		return flash.Run(c, fp)
	}
	group := hq / hkv
	return kernelutil.Dynamic(c, bsz*hq, func(next func() (int, bool)) {
		s := make([]float64, total)
		bs := make([]float64, total)
		acc := make([]F, dv)
		for bh, ok := next(); ok; bh, ok = next() {
			b, h := bh/hq, bh%hq
			hk := h / group
			for i := 0; i < sq; i++ {
				qrow := q[qv.at(b, h, i):][:dk]
				m.row(b, h, i, bs)
				var qkRow []F
				if qk.T != nil {
					qkRow = qk.Buf[((b*hq+h)*sq+i)*total:][:total]
				}
				mx := math.Inf(-1)
				// Scores of keys the bias masks out are not needed unless the
				// raw scores are an output.
				skip := qkRow == nil || p.mode >= 2
				for j := 0; j < total; j++ {
					if skip && math.IsInf(bs[j], -1) {
						s[j] = bs[j]
						if qkRow != nil {
							qkRow[j] = F(bs[j])
						}
						continue
					}
					sc := float64(dot(qrow, k[kv.at(b, hk, j):][:dk])) * scale
					if p.softcap > 0 {
						sc = p.softcap * math.Tanh(sc/p.softcap)
					}
					if p.mode <= 1 && qkRow != nil {
						qkRow[j] = F(sc)
					}
					sc += bs[j]
					if p.mode == 2 && qkRow != nil {
						qkRow[j] = F(sc)
					}
					s[j] = sc
					mx = max(mx, sc)
				}
				softmaxRow(s, mx)
				if p.mode == 3 && qkRow != nil {
					for j, v := range s {
						qkRow[j] = F(v)
					}
				}
				clear(acc)
				for j, pj := range s {
					if pj != 0 {
						axpy(acc, F(pj), v[vv.at(b, hk, j):][:dv])
					}
				}
				copy(y[yv.at(b, h, i):][:dv], acc)
			}
		}
	})
}

// dot returns sum a[i]*b[i] (len(b) >= len(a)) with four partial sums.
func dot[F tensor.Float](a, b []F) F {
	b = b[:len(a)]
	var s0, s1, s2, s3 F
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds alpha*x to y (len(x) >= len(y)).
func axpy[F tensor.Float](y []F, alpha F, x []F) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// softmaxRow replaces s by softmax(s) given its max; a row whose every
// entry is -inf (fully masked) becomes all zeros instead of NaN.
func softmaxRow(s []float64, mx float64) {
	if math.IsInf(mx, -1) || math.IsNaN(mx) {
		for j := range s {
			s[j] = 0
		}
		return
	}
	var sum float64
	for j, v := range s {
		e := math.Exp(v - mx)
		s[j] = e
		sum += e
	}
	for j := range s {
		s[j] /= sum
	}
}

// keysOrValues returns the present keys or values (the concatenation
// concatKV builds; only filled as an output when asOutput) and the rows
// attention reads, with their view: x itself through xv when there is no
// past and no present output, else the concatenation's (B, H, T, D).
func keysOrValues[F tensor.Float](c *ops.Ctx, asOutput bool, x *tensor.Tensor, xv view, past *tensor.Tensor, total int) (floatio.Out[F], []F, view, error) {
	if past == nil && !asOutput {
		buf, err := floatio.Load[F](x)
		return floatio.Out[F]{}, buf, xv, err
	}
	out, err := concatKV[F](c, asOutput, x, xv, past, total)
	return out, out.Buf, view{b: xv.b, h: xv.h, s: total, d: xv.d, sb: xv.h * total * xv.d, sh: total * xv.d, ss: xv.d}, err
}

// concatKV builds the (B, H, T, D) concatenation of past (B, H, P, D) and
// the new keys or values x seen through xv; it is the present output when
// asked for, else scratch.
func concatKV[F tensor.Float](c *ops.Ctx, asOutput bool, x *tensor.Tensor, xv view, past *tensor.Tensor, total int) (floatio.Out[F], error) {
	var out floatio.Out[F]
	shape := []int{xv.b, xv.h, total, xv.d}
	if asOutput {
		var err error
		if out, err = floatio.New[F](c, x.DType(), shape...); err != nil {
			return out, err
		}
	} else {
		// Scratch only: Buf is used, out.T stays nil.
		n, err := tensor.NumElements(shape)
		if err != nil {
			return out, err
		}
		if c != nil && c.MaxElements > 0 && n > c.MaxElements {
			return out, fmt.Errorf("%w: key/value cache %v has %d elements, the session allows %d", ops.ErrLimit, shape, n, c.MaxElements)
		}
		out.Buf = make([]F, n)
	}
	xs, err := floatio.Load[F](x)
	if err != nil {
		return out, err
	}
	var ps []F
	np := 0
	if past != nil {
		if ps, err = floatio.Load[F](past); err != nil {
			return out, err
		}
		np = past.Shape()[2]
	}
	for b := 0; b < xv.b; b++ {
		for h := 0; h < xv.h; h++ {
			dst := out.Buf[(b*xv.h+h)*total*xv.d:]
			if np > 0 {
				copy(dst, ps[(b*xv.h+h)*np*xv.d:][:np*xv.d])
			}
			for s := 0; s < xv.s; s++ {
				copy(dst[(np+s)*xv.d:], xs[xv.at(b, h, s):][:xv.d])
			}
		}
	}
	return out, nil
}

// loadMask reads attn_mask, which broadcasts to (B, Hq, Sq, <=T), into m.
func loadMask[F tensor.Float](m *bias[F], t *tensor.Tensor, bsz, hq, sq, total int) error {
	sh := t.Shape()
	if len(sh) < 1 || len(sh) > 4 {
		return fmt.Errorf("attn_mask has shape %v, want 1-D to 4-D broadcastable to (%d, %d, %d, %d)", sh, bsz, hq, sq, total)
	}
	full := append(make([]int, 4-len(sh)), sh...)
	for i := 0; i < 4-len(sh); i++ {
		full[i] = 1
	}
	target := []int{bsz, hq, sq}
	for i, d := range full[:3] {
		if d != 1 && d != target[i] {
			return fmt.Errorf("attn_mask has shape %v, which does not broadcast to (%d, %d, %d, %d)", sh, bsz, hq, sq, total)
		}
	}
	m.mlen = full[3]
	if m.mlen > total {
		return fmt.Errorf("attn_mask's last dimension %d exceeds the total sequence length %d", m.mlen, total)
	}
	st := tensor.Strides(full)
	stride := func(i int) int {
		if full[i] == 1 {
			return 0
		}
		return st[i]
	}
	m.sb, m.sh, m.si = stride(0), stride(1), stride(2)
	if t.DType() == tensor.Bool {
		m.maskB = tensor.Data[bool](t)
		return nil
	}
	v, err := floatio.Load[F](t)
	if err != nil {
		return fmt.Errorf("attn_mask: %w", err)
	}
	m.maskF = v
	return nil
}
