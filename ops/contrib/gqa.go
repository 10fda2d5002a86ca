package contrib

import (
	"fmt"
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

type gqa struct {
	heads, kvHeads int
	scale, softcap float64
	window         int
	rotary         bool
	interleaved    bool
	smooth         bool
	qkMode         int
	outputs        []bool
}

// GroupQueryAttention: query (B, S, N*H) with key and value (B, S, kvN*H),
// or packed query (B, S, (N+2 kvN)*H); past_key/value (B, kvN, P, H) hold
// each sequence's first seqlens_k[b]+1-S positions (right-padded);
// present_key/value (B, kvN, max(P, total_sequence_length), H) append the
// new positions after them. Query i of batch b sits at position
// p = past_b + i and attends keys (p - local_window_size, p] (all of
// [0, p] without a window), capped at the sequence's seqlens_k[b]+1 keys.
// A past buffer of present's length that the runtime lets the kernel
// extend (ops.Ctx.Extendable) is present's buffer: the new positions are
// written into it, nothing is copied.
func compileGQA(n *ops.Node) (*ops.Kernel, error) {
	p := &gqa{
		heads:       int(n.Int("num_heads", 0)),
		kvHeads:     int(n.Int("kv_num_heads", 0)),
		scale:       float64(n.Float("scale", 0)),
		softcap:     float64(n.Float("softcap", 0)),
		window:      int(n.Int("local_window_size", -1)),
		rotary:      n.Int("do_rotary", 0) != 0,
		interleaved: n.Int("rotary_interleaved", 0) != 0,
		smooth:      n.Int("smooth_softmax", 0) != 0,
		outputs:     present(n.Outputs),
	}
	p.qkMode = int(n.Int("qk_output", 0))
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.heads <= 0 || p.kvHeads <= 0 || p.heads%p.kvHeads != 0 {
		return nil, fmt.Errorf("num_heads %d must be a positive multiple of kv_num_heads %d", p.heads, p.kvHeads)
	}
	if p.softcap < 0 {
		return nil, fmt.Errorf("softcap %g must not be negative", p.softcap)
	}
	if p.qkMode < 0 || p.qkMode > 2 {
		return nil, fmt.Errorf("qk_output %d, want 0 (none), 1 (scores before the softmax) or 2 (probabilities)", p.qkMode)
	}
	if (p.qkMode != 0) != (len(p.outputs) > 3 && p.outputs[3]) {
		return nil, fmt.Errorf("output_qk is needed exactly when qk_output is set (qk_output %d, %d outputs)", p.qkMode, len(p.outputs))
	}
	return floatio.Kernel(p, []string{"query", "key", "value", "past_key", "past_value"}, 1, 12, runGQA[float32], runGQA[float64]), nil
}

func runGQA[F tensor.Float](c *ops.Ctx, p *gqa, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if opt(in, 5) == nil || opt(in, 6) == nil {
		return nil, fmt.Errorf("seqlens_k and total_sequence_length are required")
	}
	qs := in[0].Shape()
	if len(qs) != 3 {
		return nil, fmt.Errorf("query has shape %v, want (B, S, D)", qs)
	}
	bsz, s := qs[0], qs[1]
	nh, kvN := p.heads, p.kvHeads
	kt, vt := opt(in, 1), opt(in, 2)
	var qv, kv, vv heads
	var hd int
	switch {
	case kt == nil && vt == nil:
		if qs[2]%(nh+2*kvN) != 0 {
			return nil, fmt.Errorf("packed query width %d is not divisible by num_heads + 2*kv_num_heads = %d", qs[2], nh+2*kvN)
		}
		hd = qs[2] / (nh + 2*kvN)
		qv = bsnh(bsz, s, nh, hd, qs[2], 0)
		kv = bsnh(bsz, s, kvN, hd, qs[2], nh*hd)
		vv = bsnh(bsz, s, kvN, hd, qs[2], (nh+kvN)*hd)
	case kt != nil && vt != nil:
		if qs[2]%nh != 0 {
			return nil, fmt.Errorf("query width %d is not divisible by %d heads", qs[2], nh)
		}
		hd = qs[2] / nh
		want := []int{bsz, s, kvN * hd}
		if !tensor.SameShape(kt.Shape(), want) || !tensor.SameShape(vt.Shape(), want) {
			return nil, fmt.Errorf("key %v and value %v must be %v", kt.Shape(), vt.Shape(), want)
		}
		qv = bsnh(bsz, s, nh, hd, qs[2], 0)
		kv = bsnh(bsz, s, kvN, hd, kvN*hd, 0)
		vv = kv
	default:
		return nil, fmt.Errorf("key and value must be given together (or neither, with packed query)")
	}
	pastKT, pastVT := opt(in, 3), opt(in, 4)
	if (pastKT == nil) != (pastVT == nil) {
		return nil, fmt.Errorf("past_key and past_value must be given together")
	}
	pastBuf := 0
	var pastK, pastV []F
	if pastKT != nil {
		ks := pastKT.Shape()
		if len(ks) != 4 || ks[0] != bsz || ks[1] != kvN || ks[3] != hd || !tensor.SameShape(ks, pastVT.Shape()) {
			return nil, fmt.Errorf("past_key %v and past_value %v must both be (%d, %d, P, %d)", ks, pastVT.Shape(), bsz, kvN, hd)
		}
		pastBuf = ks[2]
		var err error
		if pastK, err = floatio.Load[F](pastKT); err != nil {
			return nil, err
		}
		if pastV, err = floatio.Load[F](pastVT); err != nil {
			return nil, err
		}
	}
	// The call's attention state comes from a pool (its slices and
	// functions are made once, not per run).
	st := gqaPool[F]().Get().(*gqaState[F])
	defer st.put()
	seqlens, err := ops.AppendInts64(st.seqlens[:0], in[5])
	st.seqlens = seqlens
	if err != nil || len(seqlens) != bsz {
		return nil, fmt.Errorf("seqlens_k has shape %v and dtype %v, want (%d) int32", in[5].Shape(), in[5].DType(), bsz)
	}
	tot, ok := oneInt(in[6])
	if !ok {
		return nil, fmt.Errorf("total_sequence_length has shape %v and dtype %v, want one int32", in[6].Shape(), in[6].DType())
	}
	total := int(tot)
	tp := max(total, pastBuf)
	if total < s {
		return nil, fmt.Errorf("total_sequence_length %d is less than the sequence length %d", total, s)
	}
	first := s == total
	if !first && s > 1 && bsz != 1 {
		return nil, fmt.Errorf("a prompt after a past (sequence length %d, total %d) needs batch size 1", s, total)
	}
	// past[b] is how many cached positions precede this step's tokens.
	st.past = append(st.past[:0], make([]int, bsz)...)
	past := st.past
	lowest := int64(0)
	if !first {
		lowest = int64(s) - 1
	}
	for b, l := range seqlens {
		if l < lowest || l+1 > int64(tp) {
			return nil, fmt.Errorf("seqlens_k[%d] = %d out of range [%d, %d)", b, l, lowest, tp)
		}
		if !first {
			past[b] = int(l) + 1 - s
			if past[b] > pastBuf {
				return nil, fmt.Errorf("seqlens_k[%d] = %d needs %d past positions, past_key has %d", b, l, past[b], pastBuf)
			}
		}
	}
	x, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	kSrc, vSrc := x, x
	if kt != nil {
		if kSrc, err = floatio.Load[F](kt); err != nil {
			return nil, err
		}
		if vSrc, err = floatio.Load[F](vt); err != nil {
			return nil, err
		}
	}
	// The head-major copies of the queries (and rotated keys) are
	// scratch from a pool: attention reads them, no output holds them.
	qBuf, err := pooledCache(c, x, qv, nil)
	if err != nil {
		return nil, err
	}
	defer putScratch(qBuf)
	q := *qBuf
	// Rotated keys go through a head-major copy; plain ones are copied
	// into present straight from the input, as values are.
	var kNew []F
	if p.rotary {
		kBuf, err := pooledCache(c, kSrc, kv, nil)
		if err != nil {
			return nil, err
		}
		defer putScratch(kBuf)
		kNew = *kBuf
	}
	// position(b, i) is the position of query i of batch b.
	position := func(b, i int) int { return past[b] + i }
	if pt := opt(in, 9); pt != nil {
		pos, err := ops.Ints64(pt)
		if err != nil || len(pos) != bsz*s {
			return nil, fmt.Errorf("position_ids has shape %v, want (%d, %d) (%v)", pt.Shape(), bsz, s, err)
		}
		position = func(b, i int) int { return int(pos[b*s+i]) }
	}
	if p.rotary {
		cosT, sinT := opt(in, 7), opt(in, 8)
		if cosT == nil || sinT == nil {
			return nil, fmt.Errorf("do_rotary needs cos_cache and sin_cache")
		}
		r, err := newRope[F](cosT, sinT, 2*cosT.Shape()[len(cosT.Shape())-1], p.interleaved)
		if err != nil {
			return nil, err
		}
		if 2*r.half > hd {
			return nil, fmt.Errorf("rotary dimension %d exceeds the head size %d", 2*r.half, hd)
		}
		for b := 0; b < bsz; b++ {
			for i := 0; i < s; i++ {
				if err := r.check(int64(position(b, i))); err != nil {
					return nil, err
				}
			}
		}
		for _, buf := range []struct {
			v []F
			n int
		}{{q, nh}, {kNew, kvN}} {
			for b := 0; b < bsz; b++ {
				for h := 0; h < buf.n; h++ {
					for i := 0; i < s; i++ {
						row := buf.v[((b*buf.n+h)*s+i)*hd:][:hd]
						r.apply(row, row, position(b, i))
					}
				}
			}
		}
	}
	// present is (B, kvN, tp, H): each batch's past positions, then the
	// new ones, then zeros. When the past buffer is as long as present
	// and the runtime grants it (a shared past/present buffer, ONNX
	// Runtime's past_present_share_buffer), the new positions are written
	// into it in place: the past positions are neither copied nor
	// changed, and the positions after the new ones keep what the buffer
	// held.
	inPlace := tp == pastBuf && extendable[F](c, pastKT, pastVT)
	presentOf := func(pastT *tensor.Tensor, pastBuf0 []F, src []F, v heads, fresh []F) (floatio.Out[F], error) {
		var o floatio.Out[F]
		if inPlace {
			o = floatio.Out[F]{T: pastT, Buf: pastBuf0}
		} else {
			var err error
			if o, err = floatio.New[F](c, in[0].DType(), bsz, kvN, tp, hd); err != nil {
				return o, err
			}
		}
		for b := 0; b < bsz; b++ {
			for h := 0; h < kvN; h++ {
				dst := o.Buf[(b*kvN+h)*tp*hd:][:tp*hd]
				if past[b] > 0 && !inPlace {
					copy(dst, pastBuf0[(b*kvN+h)*pastBuf*hd:][:past[b]*hd])
				}
				if fresh != nil {
					copy(dst[past[b]*hd:], fresh[(b*kvN+h)*s*hd:][:s*hd])
					continue
				}
				for i := 0; i < s; i++ {
					copy(dst[(past[b]+i)*hd:][:hd], src[v.off+b*v.sb+h*v.sh+i*v.ss:][:hd])
				}
			}
		}
		return o, nil
	}
	pk, err := presentOf(pastKT, pastK, kSrc, kv, kNew)
	if err != nil {
		return nil, err
	}
	pv, err := presentOf(pastVT, pastV, vSrc, vv, nil)
	if err != nil {
		return nil, err
	}
	hasBias, err := st.ab.init(opt(in, 10), bsz, nh, s, total)
	if err != nil {
		return nil, err
	}
	st.window, st.total = p.window, total
	a := &st.a
	*a = attend[F]{b: bsz, n: nh, kvN: kvN, s: s, dk: hd, dv: hd, tcap: tp, q: q, k: pk.Buf, v: pv.Buf,
		scale: scaleOr(p.scale, hd), softcap: p.softcap, keys: st.keys}
	if hasBias {
		a.bias = st.bias
	}
	if st := opt(in, 11); st != nil {
		sink, err := floatio.Load[F](st)
		if err != nil || len(sink) != nh {
			return nil, fmt.Errorf("head_sink has shape %v, want (%d) floats (%v)", st.Shape(), nh, err)
		}
		a.sink = make([]float64, nh)
		for h, v := range sink {
			a.sink[h] = float64(v)
		}
	} else if p.smooth {
		a.sink = make([]float64, nh)
	}
	y, err := floatio.New[F](c, in[0].DType(), bsz, s, nh*hd)
	if err != nil {
		return nil, err
	}
	var qk floatio.Out[F]
	if p.qkMode != 0 {
		if qk, err = floatio.New[F](c, in[0].DType(), bsz, nh, s, tp); err != nil {
			return nil, err
		}
		a.qk, a.qkMode = qk.Buf, p.qkMode
	}
	if err := a.run(c, y.Buf); err != nil {
		return nil, err
	}
	res := c.Results(max(1, len(p.outputs)))
	res[0] = y.Done()
	if len(res) > 1 {
		res[1] = pk.Done()
	}
	if len(res) > 2 {
		res[2] = pv.Done()
	}
	if qk.T != nil {
		res[3] = qk.Done()
	}
	return res, nil
}

// oneInt reads a one-element int32 or int64 tensor without allocating.
func oneInt(t *tensor.Tensor) (int64, bool) {
	var one [1]int64
	if t.Len() != 1 {
		return 0, false
	}
	v, err := ops.AppendInts64(one[:0], t)
	if err != nil {
		return 0, false
	}
	return v[0], true
}

// gqaState is the attention state of one GroupQueryAttention call, pooled:
// keys and bias are its methods, bound once.
type gqaState[F tensor.Float] struct {
	a             attend[F]
	ab            attnBias[F]
	past          []int
	seqlens       []int64
	window, total int
	keys          func(b, i int) (int, int)
	bias          func(b, h, i int, row []float64)
}

var gqaPools = [2]sync.Pool{{New: newGQAState[float32]}, {New: newGQAState[float64]}}

func gqaPool[F tensor.Float]() *sync.Pool { return poolFor[F](&gqaPools) }

func newGQAState[F tensor.Float]() any {
	st := new(gqaState[F])
	st.keys, st.bias = st.keyRange, st.addBias
	return st
}

// put drops the call's buffers and returns st to its pool.
func (st *gqaState[F]) put() {
	st.a, st.ab = attend[F]{}, attnBias[F]{}
	gqaPool[F]().Put(st)
}

// keyRange is the keys query i of batch b attends to: [0, its position]
// within the window, capped at the sequence's seqlens_k[b]+1 keys (a padded
// query of a right-padded prompt, past the sequence's end, sees the
// sequence's keys, as ONNX Runtime's).
func (st *gqaState[F]) keyRange(b, i int) (int, int) {
	at := st.past[b] + i
	lo := 0
	if st.window > 0 {
		lo = max(0, at-st.window+1)
	}
	hi := min(at+1, int(st.seqlens[b])+1)
	return min(lo, hi), hi
}

func (st *gqaState[F]) addBias(b, h, i int, row []float64) {
	st.ab.add(b, h, i, row[:min(len(row), st.total)])
}
