package contrib

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/ops/nn"
	"github.com/gort-ml/gort/tensor"
)

func attentionOps() []*ops.Op {
	return ops.Join(
		// Attention: Q, K, V = input @ weights + bias split by
		// qkv_hidden_sizes into num_heads heads; past (2, B, N, P, H) is
		// prepended to K and V and returned as present;
		// output = softmax(scale Q K^T + mask + attention_bias) V.
		ops.Versions(ms, "Attention", "output = softmax(scale*Q K^T + mask + attention_bias) V, Q|K|V = input @ weights + bias", []int{1},
			inferAttention, compileAttention),
		// MultiHeadAttention: like Attention with Q, K and V given
		// (separate, or packed KV or QKV), bias added to each, past_key and
		// past_value (B, N, P, H) prepended.
		ops.Versions(ms, "MultiHeadAttention", "output = softmax(scale*Q K^T + key_padding_mask + attention_bias) V", []int{1},
			inferMHA, compileMHA),
		ops.Versions(ms, "RotaryEmbedding", "rotate (x1, x2) pairs of each head by cos/sin_cache[position]: [x1 cos - x2 sin, x1 sin + x2 cos]", []int{1},
			ops.InferSameAs(0), compileRotary),
		ops.Versions(ms, "GroupQueryAttention", "output = softmax(softcap(scale*Q K^T) over the causal, windowed keys) V with a KV cache shared by head groups", []int{1},
			inferGQA, compileGQA),
	)
}

// keyMask is the additive mask of Attention's mask_index or
// MultiHeadAttention's key_padding_mask (int32), and the causal mask:
// masked keys get filter added to their score, future keys the lowest
// float32.
type keyMask struct {
	kind   maskKind
	v      []int32
	b, s   int // batch and query length
	t      int // total key length
	past   int
	m      int // 4-D mask's max sequence length
	filter float64
	causal bool
}

type maskKind int

const (
	maskNone     maskKind = iota
	maskEnd               // (B): keys at or past the end are masked
	maskEndStart          // (2B): also keys before the start
	mask2D                // (B, T): 0 masks
	mask3D                // (B, S, T): 0 masks
	mask4D                // (B, 1, M, M): 0 masks; query i reads row past+i
)

func newKeyMask(t *tensor.Tensor, bsz, s, total, past int, filter float64, causal bool) (*keyMask, error) {
	m := new(keyMask)
	if err := m.init(t, bsz, s, total, past, filter, causal); err != nil {
		return nil, err
	}
	return m, nil
}

// init sets m to the mask t (nil for none) of bsz sequences of s queries
// over total keys, past of them before the first query.
func (m *keyMask) init(t *tensor.Tensor, bsz, s, total, past int, filter float64, causal bool) error {
	*m = keyMask{b: bsz, s: s, t: total, past: past, filter: filter, causal: causal}
	if t == nil {
		return nil
	}
	if t.DType() != tensor.Int32 {
		return fmt.Errorf("mask is %v, want int32", t.DType())
	}
	m.v = tensor.Data[int32](t)
	sh := t.Shape()
	switch {
	case len(sh) == 1 && sh[0] == bsz:
		m.kind = maskEnd
	case len(sh) == 1 && sh[0] == 2*bsz:
		m.kind = maskEndStart
	case len(sh) == 2 && sh[0] == bsz && sh[1] == total:
		m.kind = mask2D
	case len(sh) == 3 && sh[0] == bsz && sh[1] == s && sh[2] == total:
		m.kind = mask3D
	case len(sh) == 4 && sh[0] == bsz && sh[1] == 1 && sh[2] == sh[3] && sh[2] >= total:
		m.kind, m.m = mask4D, sh[2]
	default:
		return fmt.Errorf("mask has shape %v; want (%d), (%d), (%d, %d), (%d, %d, %d) or (%d, 1, M, M) with M >= %d",
			sh, bsz, 2*bsz, bsz, total, bsz, s, total, bsz, total)
	}
	return nil
}

// add adds the mask of query i of batch b to row (T keys).
func (m *keyMask) add(b, i int, row []float64) {
	f := m.filter
	switch m.kind {
	case maskEnd, maskEndStart:
		end := int(m.v[b])
		for j := max(end, 0); j < len(row); j++ {
			row[j] += f
		}
		if m.kind == maskEndStart {
			start := min(int(m.v[b+m.b]), len(row))
			for j := 0; j < start; j++ {
				row[j] += f
			}
		}
	case mask2D, mask3D, mask4D:
		var raw []int32
		switch m.kind {
		case mask2D:
			raw = m.v[b*m.t:]
		case mask3D:
			raw = m.v[(b*m.s+i)*m.t:]
		default:
			raw = m.v[(b*m.m+m.past+i)*m.m:]
		}
		for j := range row {
			if raw[j] <= 0 {
				row[j] += f
			}
		}
	}
	if m.causal {
		// Future keys get float32's lowest value, not the filter (as in
		// ONNX Runtime), so a row whose visible keys are all masked
		// still spreads over those keys only.
		for j := m.past + i + 1; j < len(row); j++ {
			row[j] = -math.MaxFloat32
		}
	}
}

// attnBias is an additive (B or 1, N or 1, S, T) bias.
type attnBias[F tensor.Float] struct {
	v      []F
	sb, sh int // strides of batch and head (0 when broadcast)
	s, t   int
}

func newAttnBias[F tensor.Float](t *tensor.Tensor, bsz, n, s, total int) (*attnBias[F], error) {
	a := new(attnBias[F])
	if ok, err := a.init(t, bsz, n, s, total); !ok {
		return nil, err
	}
	return a, nil
}

// init sets a to the attention bias t (false when t is nil or wrong).
func (a *attnBias[F]) init(t *tensor.Tensor, bsz, n, s, total int) (bool, error) {
	if t == nil {
		return false, nil
	}
	sh := t.Shape()
	if len(sh) != 4 || (sh[0] != 1 && sh[0] != bsz) || (sh[1] != 1 && sh[1] != n) || sh[2] != s || sh[3] != total {
		return false, fmt.Errorf("attention_bias has shape %v, want (%d or 1, %d or 1, %d, %d)", sh, bsz, n, s, total)
	}
	v, err := floatio.Load[F](t)
	if err != nil {
		return false, fmt.Errorf("attention_bias: %w", err)
	}
	*a = attnBias[F]{v: v, s: s, t: total}
	if sh[0] != 1 {
		a.sb = sh[1] * s * total
	}
	if sh[1] != 1 {
		a.sh = s * total
	}
	return true, nil
}

func (a *attnBias[F]) add(b, h, i int, row []float64) {
	for j, e := range a.v[b*a.sb+h*a.sh+i*a.t:][:len(row)] {
		row[j] += float64(e)
	}
}

// biasFn combines a key mask and an attention bias into attend's bias.
func biasFn[F tensor.Float](m *keyMask, ab *attnBias[F]) func(b, h, i int, row []float64) {
	return func(b, h, i int, row []float64) {
		m.add(b, i, row)
		if ab != nil {
			ab.add(b, h, i, row)
		}
	}
}

func allKeys(t int) func(b, i int) (int, int) { return func(int, int) (int, int) { return 0, t } }

type attention struct {
	heads    int
	causal   bool
	share    bool
	qkvSizes []int64
	filter   float64
	scale    float64
	outputs  []bool
	w        *nn.PackedConst // constant float32 weights packed at compile time, or nil
}

func compileAttention(n *ops.Node) (*ops.Kernel, error) {
	p := &attention{
		heads:    int(n.Int("num_heads", 0)),
		causal:   n.Int("unidirectional", 0) != 0,
		qkvSizes: n.Ints("qkv_hidden_sizes", nil),
		filter:   float64(n.Float("mask_filter_value", -10000)),
		scale:    float64(n.Float("scale", 0)),
		outputs:  present(n.Outputs),
	}
	rotary := n.Int("do_rotary", 0)
	p.share = n.Int("past_present_share_buffer", 0) != 0
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.heads <= 0 {
		return nil, fmt.Errorf("num_heads %d, want a positive count", p.heads)
	}
	if len(p.qkvSizes) != 0 && len(p.qkvSizes) != 3 {
		return nil, fmt.Errorf("qkv_hidden_sizes has %d values, want 3", len(p.qkvSizes))
	}
	if rotary != 0 {
		return nil, fmt.Errorf("do_rotary=1 is not supported (as in ONNX Runtime's CPU kernel); apply RotaryEmbedding before the attention")
	}
	p.w = nn.PackConst(n, 1, false)
	k := floatio.Kernel(p, []string{"input", "weights", "bias"}, 1, 7, runAttention[float32], runAttention[float64])
	k.Precomputed = p.w.Precomputed(1)
	return k, nil
}

// runAttention: input is (B, S, Din), weights (Din, Dq+Dk+Dv), bias
// (Dq+Dk+Dv); past and present are (2, B, N, P or T, H); output is
// (B, S, Dv).
func runAttention[F tensor.Float](c *ops.Ctx, p *attention, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	pw, ws, err := p.w.Operand(in, 1)
	if err != nil {
		return nil, err
	}
	xs := in[0].Shape()
	if len(xs) != 3 || len(ws) != 2 || ws[0] != xs[2] {
		return nil, fmt.Errorf("input %v and weights %v must be (B, S, D) and (D, Dq+Dk+Dv)", xs, ws)
	}
	bsz, s, din, dtot := xs[0], xs[1], xs[2], ws[1]
	dq, dk, dv := dtot/3, dtot/3, dtot/3
	if len(p.qkvSizes) == 3 {
		dq, dk, dv = int(p.qkvSizes[0]), int(p.qkvSizes[1]), int(p.qkvSizes[2])
	} else if dtot%3 != 0 {
		return nil, fmt.Errorf("weights have %d columns, not divisible into Q, K and V; set qkv_hidden_sizes", dtot)
	}
	nh := p.heads
	switch {
	case dq <= 0 || dk <= 0 || dv <= 0 || dq+dk+dv != dtot:
		return nil, fmt.Errorf("qkv_hidden_sizes %v must be positive and sum to the %d weight columns", p.qkvSizes, dtot)
	case dq != dk:
		return nil, fmt.Errorf("Q hidden size %d differs from K hidden size %d", dq, dk)
	case dq%nh != 0 || dv%nh != 0:
		return nil, fmt.Errorf("hidden sizes %d and %d are not divisible by %d heads", dq, dv, nh)
	}
	hk, hv := dq/nh, dv/nh
	var bias []F
	if bt := opt(in, 2); bt != nil {
		if bt.Rank() != 1 || bt.Shape()[0] != dtot {
			return nil, fmt.Errorf("bias has shape %v, want (%d)", bt.Shape(), dtot)
		}
		var err error
		if bias, err = floatio.Load[F](bt); err != nil {
			return nil, err
		}
	}
	past := 0
	var pastKV, pastK, pastV []F
	if pt := opt(in, 4); pt != nil {
		ps := pt.Shape()
		if len(ps) != 5 || ps[0] != 2 || ps[1] != bsz || ps[2] != nh || ps[4] != hk || hk != hv {
			return nil, fmt.Errorf("past has shape %v, want (2, %d, %d, P, %d) with equal Q, K and V head sizes", ps, bsz, nh, hk)
		}
		pv, err := floatio.Load[F](pt)
		if err != nil {
			return nil, err
		}
		past = ps[3]
		half := len(pv) / 2
		pastKV, pastK, pastV = pv, pv[:half], pv[half:]
	}
	// With past_present_share_buffer, past is a (2, B, N, M, H) buffer whose
	// first past_sequence_length rows are filled; present is the same
	// buffer with the new rows after them.
	maxLen := 0
	if p.share {
		if pastK == nil || opt(in, 6) == nil {
			return nil, fmt.Errorf("past_present_share_buffer needs past and past_sequence_length")
		}
		pl, ok := oneInt(in[6])
		if !ok || pl < 0 || pl+int64(s) > int64(past) {
			return nil, fmt.Errorf("past_sequence_length must be one value in [0, %d] (the buffer holds %d rows, %d are new)", past-s, past, s)
		}
		maxLen = past
		past = int(pl)
	} else if opt(in, 6) != nil {
		return nil, fmt.Errorf("past_sequence_length is only used with past_present_share_buffer = 1")
	}
	total := past + s
	x, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	// qkv is (B*S, Dq+Dk+Dv) before the bias.
	if err := checkSize(c, bsz*s, dtot); err != nil {
		return nil, err
	}
	qkv := make([]F, bsz*s*dtot)
	if pw != nil {
		// The weights are packed already; the bias is added while each
		// block of qkv is in cache rather than by project.
		var ep linalg.Epilogue
		if bias != nil {
			ep.Bias, bias = any(bias).([]float32), nil
		}
		if err := nn.TallPacked(c, bsz*s, 1, any(x).([]float32), pw, any(qkv).([]float32), ep); err != nil {
			return nil, err
		}
	} else {
		w, err := floatio.Load[F](in[1])
		if err != nil {
			return nil, err
		}
		gemm(c, bsz*s, dtot, din, 1, x, w, qkv)
	}
	slice := func(v []F, i int) []F {
		if v == nil {
			return nil
		}
		return v[i:]
	}
	qp, kp, vp := part[F]{qkv, bsnh(bsz, s, nh, hk, dtot, 0), bias, nil},
		part[F]{qkv, bsnh(bsz, s, nh, hk, dtot, dq), slice(bias, dq), pastK},
		part[F]{qkv, bsnh(bsz, s, nh, hv, dtot, dq+dk), slice(bias, dq+dk), pastV}
	wantPresent := len(p.outputs) > 1 && p.outputs[1]
	if wantPresent && hk != hv {
		return nil, fmt.Errorf("present needs equal K and V head sizes, got %d and %d", hk, hv)
	}
	var pr *projected[F]
	var present floatio.Out[F]
	if p.share {
		// present is the past buffer (itself when the runtime lets the
		// kernel extend it, else a copy) with the new rows after the
		// past, and the attention reads the cache there.
		if present, err = kvBuffer(c, in[0].DType(), in[4], pastKV, extendable[F](c, in[4])); err != nil {
			return nil, err
		}
		half := len(present.Buf) / 2
		var qBuf *[]F
		var prv projected[F]
		pr, qBuf, err = extendShared(c, &prv, past, maxLen, qp, kp, vp, present.Buf[:half], present.Buf[half:])
		defer putScratch(qBuf)
		if err != nil {
			return nil, err
		}
	} else {
		// Attention reads the heads straight from qkv unless present
		// needs them gathered.
		var ok bool
		if pr, ok = views(qp, kp, vp); !ok || wantPresent {
			if pr, err = project(c, past, qp, kp, vp); err != nil {
				return nil, err
			}
		}
	}
	y, _, err := pr.attend(c, in[0].DType(), p.scale, "mask_index", opt(in, 3), p.filter, p.causal, opt(in, 5), false)
	if err != nil {
		return nil, err
	}
	res := c.Results(max(1, len(p.outputs)))
	res[0] = y
	switch {
	case !wantPresent:
	case p.share:
		res[1] = present.Done()
	default:
		o, err := floatio.New[F](c, in[0].DType(), 2, bsz, nh, total, hk)
		if err != nil {
			return nil, err
		}
		half := len(o.Buf) / 2
		copy(o.Buf[:half], pr.k)
		copy(o.Buf[half:], pr.v)
		res[1] = o.Done()
	}
	return res, nil
}

// part is one of Q, K and V: a view of the new rows in src, their bias
// (nil for none) and the past rows (nil for none).
type part[F tensor.Float] struct {
	src  []F
	v    heads
	bias []F
	past []F
}

// projected holds Q (B, N, S, Hk), K (B, N, T, Hk) and V (B, N, T, Hv)
// with T = past + new key rows, K and V holding the past rows first. With
// tcap set, K and V are (B, N, tcap, H) KV caches of which the first T rows
// of each head are valid (see extendShared).
type projected[F tensor.Float] struct {
	q, k, v                  []F
	b, n, s, t, past, hk, hv int
	tcap                     int
	qv                       heads // Q's layout in q when qView (a view of the query input)
	qView                    bool  // attend reads Q as qv (a pointer to it would make p escape)
	// qh, kh and vh, when set, are views of q, k and v in other layouts
	// (see views).
	qh, kh, vh *heads
}

// extendShared is project, into p (which attend does not keep: it may
// lie on the caller's stack), for KV caches that past and present share:
// kBuf and vBuf are (B, N, tcap, Hk) and (B, N, tcap, Hv) buffers (the
// present outputs) whose first past rows of each head are valid. The new
// K and V rows, with their bias, go to rows [past, past+L) of each head,
// and the projection attends rows [0, past+L) where they lie: nothing of
// the cache is copied, and rows past the new ones are never read. Q is
// read where it lies too, unless it has a bias: then it is added in a
// pooled copy, returned for the caller to give back (putScratch) once the
// attention has run.
func extendShared[F tensor.Float](c *ops.Ctx, p *projected[F], past, tcap int, q, k, v part[F], kBuf, vBuf []F) (*projected[F], *[]F, error) {
	*p = projected[F]{b: q.v.b, n: q.v.n, s: q.v.s, t: past + k.v.s, tcap: tcap, past: past, hk: k.v.d, hv: v.v.d,
		k: kBuf, v: vBuf}
	gather(kBuf, tcap, past, k.src, k.v, k.bias)
	gather(vBuf, tcap, past, v.src, v.v, v.bias)
	if q.bias == nil {
		p.q, p.qv, p.qView = q.src, q.v, true
		return p, nil, nil
	}
	qBuf, err := pooledCache(c, q.src, q.v, q.bias)
	if err != nil {
		return nil, nil, err
	}
	p.q = *qBuf
	return p, qBuf, nil
}

func project[F tensor.Float](c *ops.Ctx, past int, q, k, v part[F]) (*projected[F], error) {
	p := &projected[F]{b: q.v.b, n: q.v.n, s: q.v.s, t: past + k.v.s, past: past, hk: k.v.d, hv: v.v.d}
	var err error
	if p.q, err = cache(c, nil, 0, q.src, q.v, q.bias); err != nil {
		return nil, err
	}
	if p.k, err = cache(c, k.past, past, k.src, k.v, k.bias); err != nil {
		return nil, err
	}
	if p.v, err = cache(c, v.past, past, v.src, v.v, v.bias); err != nil {
		return nil, err
	}
	return p, nil
}

// attend returns softmax(scale Q K^T + mask + attention_bias) V as a
// (B, S, N*Hv) tensor of dtype dt; mask is an int32 mask_index or
// key_padding_mask (named maskName in errors). With wantQK it also returns
// the (B, N, S, T) scores before the softmax.
func (p *projected[F]) attend(c *ops.Ctx, dt tensor.DType, scale float64, maskName string, mask *tensor.Tensor, filter float64, causal bool, bias *tensor.Tensor, wantQK bool) (y, qk *tensor.Tensor, err error) {
	// The attention state comes from a pool: its functions are bound
	// once, not per run.
	st := attnPool[F]().Get().(*attnState[F])
	defer st.put()
	ms := &st.ms
	if err := ms.m.init(mask, p.b, p.s, p.t, p.past, filter, causal); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", maskName, err)
	}
	if ms.hasAB, err = ms.ab.init(bias, p.b, p.n, p.s, p.t); err != nil {
		return nil, nil, err
	}
	tcap := p.t
	if p.tcap > 0 {
		tcap = p.tcap
	}
	a := &st.a
	*a = attend[F]{b: p.b, n: p.n, kvN: p.n, s: p.s, dk: p.hk, dv: p.hv, tcap: tcap, q: p.q, k: p.k, v: p.v,
		scale: scaleOr(scale, p.hk), qkT: p.t}
	a.qh, a.kh, a.vh = st.layout(0, p.qh), st.layout(1, p.kh), st.layout(2, p.vh)
	if p.qView {
		a.qh = st.layout(0, &p.qv)
	}
	a.useMask(ms)
	out, err := floatio.New[F](c, dt, p.b, p.s, p.n*p.hv)
	if err != nil {
		return nil, nil, err
	}
	var qko floatio.Out[F]
	if wantQK {
		if qko, err = floatio.New[F](c, dt, p.b, p.n, p.s, p.t); err != nil {
			return nil, nil, err
		}
		a.qk, a.qkMode = qko.Buf, 1
	}
	if err := a.run(c, out.Buf); err != nil {
		return nil, nil, err
	}
	if wantQK {
		qk = qko.Done()
	}
	return out.Done(), qk, nil
}

// scaleOr returns scale, or 1/sqrt(headSize) when scale is 0.
func scaleOr(scale float64, headSize int) float64 {
	if scale != 0 {
		return scale
	}
	return 1 / math.Sqrt(float64(headSize))
}

// checkSize fails when a rows x cols scratch buffer exceeds the session
// limit.
func checkSize(c *ops.Ctx, rows, cols int) error {
	n, err := tensor.NumElements([]int{rows, cols})
	if err != nil {
		return err
	}
	if c != nil && c.MaxElements > 0 && n > c.MaxElements {
		return fmt.Errorf("%w: scratch (%d, %d) has %d elements, the session allows %d", ops.ErrLimit, rows, cols, n, c.MaxElements)
	}
	return nil
}
