package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

// DecoderMaskedMultiHeadAttention is one decoding step (sequence length
// 1) of MultiHeadAttention over a KV cache that past and present share:
// past_key/value (B, N, M, H) hold past_sequence_length P positions, the
// step's key and value go to position P of present_key/value (the past
// buffer itself when the runtime lets the kernel extend it, see
// ops.Ctx.Extendable; a copy of it otherwise), and the query attends
// positions [0, P], read from present without beam search. Under
// beam search (beam_width > 1) past position j of batch entry b is read
// from beam cache_indirection[b, j] of b's group. Without past_key it is
// cross attention over per-head key and value (B, N, L, H).
func dmmhaOps() []*ops.Op {
	return ops.Versions(ms, "DecoderMaskedMultiHeadAttention",
		"one decoding step of MultiHeadAttention over a shared KV cache (past_sequence_length, beam search cache indirection)", []int{1},
		nil, compileDMMHA)
}

type dmmha struct {
	heads   int
	filter  float64
	scale   float64
	share   bool
	qk      bool
	outputs []bool
	mha     *ops.Kernel
}

func compileDMMHA(n *ops.Node) (*ops.Kernel, error) {
	p := &dmmha{
		heads:   int(n.Int("num_heads", 0)),
		filter:  float64(n.Float("mask_filter_value", -10000)),
		scale:   float64(n.Float("scale", 0)),
		share:   n.Int("past_present_share_buffer", 0) != 0,
		qk:      n.Int("output_qk", 0) != 0,
		outputs: present(n.Outputs),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.heads <= 0 {
		return nil, fmt.Errorf("num_heads %d, want a positive count", p.heads)
	}
	// Cross attention is MultiHeadAttention with per-head key and value.
	mn := &ops.Node{OpType: "MultiHeadAttention", Domain: ms, Opset: 1, Attrs: n.Attrs,
		Outputs: []string{"output", "", "", ""}}
	if p.qk {
		mn.Outputs[3] = "qk"
	}
	var err error
	if p.mha, err = compileMHA(mn); err != nil {
		return nil, err
	}
	return floatio.Kernel(p, []string{"query", "key", "value"}, 1, 11, runDMMHA[float32], runDMMHA[float64]), nil
}

func runDMMHA[F tensor.Float](c *ops.Ctx, p *dmmha, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	want := func(i int) bool { return i < len(p.outputs) && p.outputs[i] }
	if opt(in, 5) == nil && !want(1) && !want(2) {
		if opt(in, 4) != nil {
			return nil, fmt.Errorf("attention_bias is not supported for cross attention")
		}
		// query, key, value, bias, key_padding_mask as MultiHeadAttention's.
		res, err := p.mha.Run(c, []*tensor.Tensor{in[0], opt(in, 1), opt(in, 2), opt(in, 10), opt(in, 3)})
		if err != nil {
			return nil, err
		}
		out := make([]*tensor.Tensor, max(1, len(p.outputs)))
		out[0] = res[0]
		if want(3) && len(res) > 3 {
			out[3] = res[3]
		}
		return out, nil
	}
	if !p.share {
		return nil, fmt.Errorf("self attention needs past_present_share_buffer = 1")
	}
	qt, kt, vt := in[0], opt(in, 1), opt(in, 2)
	pkT, pvT, plT := opt(in, 5), opt(in, 6), opt(in, 7)
	if kt == nil || vt == nil || pkT == nil || pvT == nil || plT == nil {
		return nil, fmt.Errorf("self attention needs key, value, past_key, past_value and past_sequence_length")
	}
	nh := p.heads
	qs := qt.Shape()
	if len(qs) != 3 || qs[1] != 1 || qs[2]%nh != 0 || !tensor.SameShape(kt.Shape(), qs) || !tensor.SameShape(vt.Shape(), qs) {
		return nil, fmt.Errorf("query %v, key %v and value %v must all be (B, 1, D) with D divisible by %d heads", qs, kt.Shape(), vt.Shape(), nh)
	}
	bsz, d := qs[0], qs[2]
	hd := d / nh
	ps := pkT.Shape()
	if len(ps) != 4 || ps[0] != bsz || ps[1] != nh || ps[3] != hd || !tensor.SameShape(pvT.Shape(), ps) {
		return nil, fmt.Errorf("past_key %v and past_value %v must both be (%d, %d, M, %d)", ps, pvT.Shape(), bsz, nh, hd)
	}
	maxLen := ps[2]
	pl, ok := oneInt(plT)
	if !ok || pl < 0 || pl >= int64(maxLen) {
		return nil, fmt.Errorf("past_sequence_length must be one value in [0, %d)", maxLen)
	}
	past := int(pl)
	total := past + 1
	beams := 1
	if bt := opt(in, 8); bt != nil {
		bw, err := ops.Ints64(bt)
		if err != nil || len(bw) != 1 || bw[0] < 1 || bsz%int(bw[0]) != 0 {
			return nil, fmt.Errorf("beam_width must be one positive value dividing the batch size %d", bsz)
		}
		beams = int(bw[0])
	}
	var indir []int64
	if ct := opt(in, 9); ct != nil {
		var err error
		if indir, err = ops.Ints64(ct); err != nil || len(indir) != bsz*maxLen {
			return nil, fmt.Errorf("cache_indirection has shape %v, want (%d, %d, %d)", ct.Shape(), bsz/beams, beams, maxLen)
		}
		for _, v := range indir {
			if v < 0 || v >= int64(beams) {
				return nil, fmt.Errorf("cache_indirection value %d out of range [0, %d)", v, beams)
			}
		}
	} else if beams > 1 {
		return nil, fmt.Errorf("beam_width > 1 needs cache_indirection")
	}
	var qb, kb, vb []F
	if bt := opt(in, 10); bt != nil {
		if bt.Rank() != 1 || bt.Shape()[0] != 3*d {
			return nil, fmt.Errorf("bias has shape %v, want (%d)", bt.Shape(), 3*d)
		}
		bias, err := floatio.Load[F](bt)
		if err != nil {
			return nil, err
		}
		qb, kb, vb = bias[:d], bias[d:2*d], bias[2*d:]
	}
	load := func(t *tensor.Tensor, bias []F) ([]F, error) {
		x, err := floatio.Load[F](t)
		if err != nil {
			return nil, err
		}
		return cache(c, nil, 0, x, bsnh(bsz, 1, nh, hd, d, 0), bias)
	}
	q, err := load(qt, qb)
	if err != nil {
		return nil, err
	}
	kNew, err := load(kt, kb)
	if err != nil {
		return nil, err
	}
	vNew, err := load(vt, vb)
	if err != nil {
		return nil, err
	}
	pk, err := floatio.Load[F](pkT)
	if err != nil {
		return nil, err
	}
	pv, err := floatio.Load[F](pvT)
	if err != nil {
		return nil, err
	}
	// present is the past buffer with the step's row at position past.
	// Without beam indirection the attention reads its keys and values
	// straight from present (capacity maxLen); present is past's own
	// buffer, written in place, when the runtime lets the kernel extend
	// the past (ops.Ctx.Extendable: no copy of the cache per step).
	inPlace := extendable[F](c, pkT, pvT)
	wantQK := p.qk && want(3)
	direct := indir == nil && !wantQK && (inPlace || want(1) && want(2))
	var presents [2]floatio.Out[F]
	if direct || want(1) || want(2) {
		for i, pair := range [][2][]F{{pk, kNew}, {pv, vNew}} {
			if !direct && !want(i+1) {
				continue
			}
			o, err := kvBuffer(c, qt.DType(), [2]*tensor.Tensor{pkT, pvT}[i], pair[0], inPlace)
			if err != nil {
				return nil, err
			}
			for bh := 0; bh < bsz*nh; bh++ {
				copy(o.Buf[(bh*maxLen+past)*hd:][:hd], pair[1][bh*hd:][:hd])
			}
			presents[i] = o
		}
	}
	m, err := newKeyMask(opt(in, 3), bsz, 1, total, past, p.filter, false)
	if err != nil {
		return nil, fmt.Errorf("mask_index: %w", err)
	}
	ab, err := newAttnBias[F](opt(in, 4), bsz, nh, 1, total)
	if err != nil {
		return nil, err
	}
	bias := biasFn(m, ab)
	a := &attend[F]{b: bsz, n: nh, kvN: nh, s: 1, dk: hd, dv: hd, q: q,
		scale: scaleOr(p.scale, hd), keys: allKeys(total)}
	if direct {
		a.k, a.v, a.tcap = presents[0].Buf, presents[1].Buf, maxLen
		a.bias = func(b, h, i int, row []float64) { bias(b, h, i, row[:min(len(row), total)]) }
	} else {
		// k and v are (B, N, total, H): past rows (through the beam
		// indirection), then the step's.
		gatherPast := func(src, fresh []F) []F {
			dst := make([]F, bsz*nh*total*hd)
			for b := 0; b < bsz; b++ {
				for h := 0; h < nh; h++ {
					row := dst[(b*nh+h)*total*hd:]
					for j := 0; j < past; j++ {
						sb := b
						if indir != nil {
							sb = b/beams*beams + int(indir[b*maxLen+j])
						}
						copy(row[j*hd:][:hd], src[((sb*nh+h)*maxLen+j)*hd:][:hd])
					}
					copy(row[past*hd:][:hd], fresh[(b*nh+h)*hd:][:hd])
				}
			}
			return dst
		}
		a.k, a.v, a.tcap, a.bias = gatherPast(pk, kNew), gatherPast(pv, vNew), total, bias
	}
	y, err := floatio.New[F](c, qt.DType(), bsz, 1, d)
	if err != nil {
		return nil, err
	}
	var qk floatio.Out[F]
	if wantQK {
		if qk, err = floatio.New[F](c, qt.DType(), bsz, nh, 1, total); err != nil {
			return nil, err
		}
		a.qk, a.qkMode = qk.Buf, 1
	}
	if err := a.run(c, y.Buf); err != nil {
		return nil, err
	}
	res := make([]*tensor.Tensor, max(1, len(p.outputs)))
	res[0] = y.Done()
	for i := range presents {
		if want(i+1) && presents[i].T != nil {
			res[i+1] = presents[i].Done()
		}
	}
	if qk.T != nil {
		res[3] = qk.Done()
	}
	return res, nil
}
