package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

type mha struct {
	heads   int
	causal  bool
	filter  float64
	scale   float64
	outputs []bool
}

func compileMHA(n *ops.Node) (*ops.Kernel, error) {
	p := &mha{
		heads:   int(n.Int("num_heads", 0)),
		causal:  n.Int("unidirectional", 0) != 0,
		filter:  float64(n.Float("mask_filter_value", -10000)),
		scale:   float64(n.Float("scale", 0)),
		outputs: present(n.Outputs),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.heads <= 0 {
		return nil, fmt.Errorf("num_heads %d, want a positive count", p.heads)
	}
	return floatio.Kernel(p, []string{"query", "key", "value", "bias"}, 1, 10, runMHA[float32], runMHA[float64]), nil
}

// mhaViews finds the Q, K and V views of MultiHeadAttention's inputs:
//
//	query (B, S, D), key (B, L, D), value (B, L, Dv): separate;
//	query (B, S, D), key (B, N, L, H), value (B, N, L, Hv): K and V per head;
//	query (B, S, D), key (B, L, N, 2, H), no value: packed K and V;
//	query (B, S, N, 3, H), no key or value: packed Q, K and V.
//
// kv is the tensor K and V are read from when it is not the query.
func mhaViews(qt, kt, vt *tensor.Tensor, nh int) (q, k, v heads, kv *tensor.Tensor, err error) {
	qs := qt.Shape()
	bad := func() (heads, heads, heads, *tensor.Tensor, error) {
		var ks, vs []int
		if kt != nil {
			ks = kt.Shape()
		}
		if vt != nil {
			vs = vt.Shape()
		}
		return q, k, v, nil, fmt.Errorf("query %v, key %v and value %v are not a supported layout for %d heads: "+
			"(B, S, D) with (B, L, D) and (B, L, Dv), (B, N, L, H) and (B, N, L, Hv), or packed (B, L, N, 2, H); or packed (B, S, N, 3, H) alone", qs, ks, vs, nh)
	}
	if len(qs) == 5 {
		if kt != nil || vt != nil || qs[2] != nh || qs[3] != 3 {
			return bad()
		}
		b, s, h := qs[0], qs[1], qs[4]
		w := nh * 3 * h
		q = heads{b: b, n: nh, s: s, d: h, sb: s * w, sh: 3 * h, ss: w}
		k, v = q, q
		k.off, v.off = h, 2*h
		return q, k, v, qt, nil
	}
	if len(qs) != 3 || kt == nil || qs[2]%nh != 0 {
		return bad()
	}
	b, s, d := qs[0], qs[1], qs[2]
	q = bsnh(b, s, nh, d/nh, d, 0)
	ks := kt.Shape()
	switch {
	case len(ks) == 3 && vt != nil && vt.Rank() == 3:
		vs := vt.Shape()
		if ks[0] != b || ks[2] != d || vs[0] != b || vs[1] != ks[1] || vs[2]%nh != 0 {
			return bad()
		}
		k = bsnh(b, ks[1], nh, d/nh, d, 0)
		v = bsnh(b, vs[1], nh, vs[2]/nh, vs[2], 0)
		return q, k, v, nil, nil
	case len(ks) == 4 && vt != nil && vt.Rank() == 4:
		vs := vt.Shape()
		if ks[0] != b || ks[1] != nh || ks[3] != d/nh || vs[0] != b || vs[1] != nh || vs[2] != ks[2] {
			return bad()
		}
		return q, bnsh(b, nh, ks[2], ks[3]), bnsh(b, nh, vs[2], vs[3]), nil, nil
	case len(ks) == 5 && vt == nil:
		if ks[0] != b || ks[2] != nh || ks[3] != 2 || ks[4] != d/nh {
			return bad()
		}
		h := ks[4]
		w := nh * 2 * h
		k = heads{b: b, n: nh, s: ks[1], d: h, sb: ks[1] * w, sh: 2 * h, ss: w}
		v = k
		v.off = h
		return q, k, v, kt, nil
	}
	return bad()
}

// runMHA: output is (B, S, N*Hv); past_key/value and present_key/value
// are (B, N, P or P+L, H).
func runMHA[F tensor.Float](c *ops.Ctx, p *mha, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	nh := p.heads
	qv, kv, vv, packed, err := mhaViews(in[0], opt(in, 1), opt(in, 2), nh)
	if err != nil {
		return nil, err
	}
	if opt(in, 9) != nil {
		return nil, fmt.Errorf("cache_indirection (beam search over a shared KV buffer) is not supported; use DecoderMaskedMultiHeadAttention")
	}
	bsz, hq, hv := qv.b, qv.d, vv.d
	hk := kv.d
	if hk != hq {
		return nil, fmt.Errorf("query head size %d differs from key head size %d", hq, hk)
	}
	q, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	kSrc, vSrc := q, q
	if packed != nil && packed != in[0] {
		kSrc, vSrc = nil, nil
		if kSrc, err = floatio.Load[F](packed); err != nil {
			return nil, err
		}
		vSrc = kSrc
	} else if packed == nil {
		if kSrc, err = floatio.Load[F](in[1]); err != nil {
			return nil, err
		}
		if vSrc, err = floatio.Load[F](in[2]); err != nil {
			return nil, err
		}
	}
	// bias is (N*Hq + N*Hk + N*Hv): one slice each for Q, K and V.
	var qb, kb, vb []F
	if bt := opt(in, 3); bt != nil {
		want := nh * (hq + hk + hv)
		if bt.Rank() != 1 || bt.Shape()[0] != want {
			return nil, fmt.Errorf("bias has shape %v, want (%d)", bt.Shape(), want)
		}
		bias, err := floatio.Load[F](bt)
		if err != nil {
			return nil, err
		}
		qb, kb, vb = bias[:nh*hq], bias[nh*hq:nh*(hq+hk)], bias[nh*(hq+hk):]
		if kt := opt(in, 1); kt != nil && kt.Rank() == 4 {
			// Per-head K and V are already projected (a cross-attention
			// cache): only Q takes its bias.
			kb, vb = nil, nil
		}
	}
	pastK, pastV := opt(in, 6), opt(in, 7)
	if (pastK == nil) != (pastV == nil) {
		return nil, fmt.Errorf("past_key and past_value must be given together")
	}
	past := 0
	var pk, pv []F
	if pastK != nil {
		ks, vs := pastK.Shape(), pastV.Shape()
		if len(ks) != 4 || len(vs) != 4 || ks[0] != bsz || ks[1] != nh || ks[3] != hk ||
			vs[0] != bsz || vs[1] != nh || vs[2] != ks[2] || vs[3] != hv {
			return nil, fmt.Errorf("past_key %v and past_value %v must be (%d, %d, P, %d) and (%d, %d, P, %d)", ks, vs, bsz, nh, hk, bsz, nh, hv)
		}
		past = ks[2]
		if pk, err = floatio.Load[F](pastK); err != nil {
			return nil, err
		}
		if pv, err = floatio.Load[F](pastV); err != nil {
			return nil, err
		}
	}
	var prv projected[F]
	pr, qBuf, presents, err := mhaProject(c, &prv, in, past, part[F]{q, qv, qb, nil}, part[F]{kSrc, kv, kb, pk}, part[F]{vSrc, vv, vb, pv})
	defer putScratch(qBuf)
	if err != nil {
		return nil, err
	}
	wantQK := len(p.outputs) > 3 && p.outputs[3]
	y, qk, err := pr.attend(c, in[0].DType(), p.scale, "key_padding_mask", opt(in, 4), p.filter, p.causal, opt(in, 5), wantQK)
	if err != nil {
		return nil, err
	}
	res := c.Results(max(1, len(p.outputs)))
	res[0] = y
	for i, buf := range [][]F{pr.k, pr.v} {
		if i+1 < len(p.outputs) && p.outputs[i+1] {
			if presents[i].T != nil {
				res[i+1] = presents[i].Done()
				continue
			}
			d := [2]int{hk, hv}[i]
			if res[i+1], err = floatio.Store(c, in[0].DType(), []int{bsz, nh, pr.t, d}, buf); err != nil {
				return nil, err
			}
		}
	}
	if wantQK {
		res[3] = qk
	}
	return res, nil
}

// mhaProject projects MultiHeadAttention's Q, K and V, with K and V after
// the past rows. With past_sequence_length, past_key/value (their values
// in k.past and v.past) are (B, N, M, H) buffers filled to that length:
// the new rows are written after it into presents, the past buffers
// themselves when the runtime lets the kernel extend them, else copies
// (see extendShared), and qBuf is scratch to give back after attending.
func mhaProject[F tensor.Float](c *ops.Ctx, dst *projected[F], in []*tensor.Tensor, past int, q, k, v part[F]) (pr *projected[F], qBuf *[]F, presents [2]floatio.Out[F], err error) {
	pl := opt(in, 8)
	if pl == nil {
		pr, err = project(c, past, q, k, v)
		return pr, nil, presents, err
	}
	filled, ok := oneInt(pl)
	if !ok || k.past == nil || filled < 0 || filled+int64(k.v.s) > int64(past) {
		return nil, nil, presents, fmt.Errorf("past_sequence_length needs past_key and past_value and one value in [0, %d]", past-k.v.s)
	}
	for i, pt := range [2]part[F]{k, v} {
		t := in[6+i]
		if presents[i], err = kvBuffer(c, in[0].DType(), t, pt.past, extendable[F](c, t)); err != nil {
			return nil, nil, presents, err
		}
	}
	pr, qBuf, err = extendShared(c, dst, int(filled), past, q, k, v, presents[0].Buf, presents[1].Buf)
	return pr, qBuf, presents, err
}
