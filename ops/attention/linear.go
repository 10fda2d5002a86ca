package attention

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

type linearAttn struct {
	qHeads, kvHeads int
	scale           float64
	gating, delta   bool
}

func compileLinearAttention(n *ops.Node) (*ops.Kernel, error) {
	p := &linearAttn{
		qHeads:  int(n.Int("q_num_heads", 0)),
		kvHeads: int(n.Int("kv_num_heads", 0)),
		scale:   float64(n.Float("scale", 0)),
	}
	_ = n.Int("chunk_size", 0) // a tuning hint with no effect on the result
	rule := n.String("update_rule", "gated_delta")
	if err := n.Err(); err != nil {
		return nil, err
	}
	switch rule {
	case "linear":
	case "gated":
		p.gating = true
	case "delta":
		p.delta = true
	case "gated_delta":
		p.gating, p.delta = true, true
	default:
		return nil, fmt.Errorf("update_rule %q, want linear, gated, delta or gated_delta", rule)
	}
	if p.qHeads <= 0 || p.kvHeads <= 0 || p.qHeads%p.kvHeads != 0 {
		return nil, fmt.Errorf("q_num_heads %d must be a positive multiple of kv_num_heads %d", p.qHeads, p.kvHeads)
	}
	return floatio.Kernel(p, []string{"query", "key", "value"}, 3, 7, runLinearAttention, runLinearAttention), nil
}

func inferLinearAttention(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 3 {
		return nil, fmt.Errorf("want query, key and value")
	}
	y := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	qh, kvh := n.Int("q_num_heads", 0), n.Int("kv_num_heads", 0)
	q, v := in[0], in[2]
	if q.HasShape && v.HasShape && len(q.Shape) == 3 && len(v.Shape) == 3 && v.Shape[2].Known() && kvh > 0 {
		y.HasShape = true
		y.Shape = []tensor.Dim{q.Shape[0], q.Shape[1], {Size: v.Shape[2].Size / kvh * qh}}
	}
	st := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if len(in) > 3 && in[3].Kind == tensor.KindTensor {
		st = in[3]
	}
	return []tensor.Type{y, st}, nil
}

// runLinearAttention runs the recurrence per (batch, kv head) in float64:
// query (B, T, Hq*dk), key (B, T, Hkv*dk), value (B, T, Hkv*dv), decay
// (B, T, Hkv*dk) or (B, T, Hkv), beta (B, T, Hkv) or (B, T, 1), state
// (B, Hkv, dk, dv).
func runLinearAttention(c *ops.Ctx, p *linearAttn, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	get := func(i int) *tensor.Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	qt, kt, vt, pastT, decayT, betaT, eraseT := in[0], in[1], in[2], get(3), get(4), get(5), get(6)
	switch {
	case p.gating && decayT == nil:
		return nil, fmt.Errorf("this update_rule needs the decay input")
	case !p.gating && decayT != nil:
		return nil, fmt.Errorf("this update_rule takes no decay input")
	case p.delta && betaT == nil:
		return nil, fmt.Errorf("this update_rule needs the beta input")
	case !p.delta && (betaT != nil || eraseT != nil):
		return nil, fmt.Errorf("this update_rule takes no beta or erase_gate input")
	}
	qs, ks, vs := qt.Shape(), kt.Shape(), vt.Shape()
	if len(qs) != 3 || len(ks) != 3 || len(vs) != 3 {
		return nil, fmt.Errorf("query %v, key %v and value %v must be 3-D (B, T, H*D)", qs, ks, vs)
	}
	bsz, steps := qs[0], qs[1]
	hq, hkv := p.qHeads, p.kvHeads
	if qs[2]%hq != 0 || vs[2]%hkv != 0 {
		return nil, fmt.Errorf("query %v or value %v last dimension not divisible by the head count", qs, vs)
	}
	dk, dv := qs[2]/hq, vs[2]/hkv
	for _, s := range [][]int{ks, vs} {
		if s[0] != bsz || s[1] != steps {
			return nil, fmt.Errorf("key %v and value %v must share query's batch and length (%d, %d)", ks, vs, bsz, steps)
		}
	}
	if ks[2] != hkv*dk {
		return nil, fmt.Errorf("key has last dimension %d, want kv_num_heads*d_k = %d", ks[2], hkv*dk)
	}
	load := func(t *tensor.Tensor, name string, lasts ...int) ([]float64, int, error) {
		if t == nil {
			return nil, 0, nil
		}
		s := t.Shape()
		ok := len(s) == 3 && s[0] == bsz && s[1] == steps
		for _, l := range lasts {
			if ok && s[2] == l {
				v, err := floatio.Load[float64](t)
				return v, l, err
			}
		}
		return nil, 0, fmt.Errorf("%s has shape %v, want (%d, %d, one of %v)", name, s, bsz, steps, lasts)
	}
	q, _, err := load(qt, "query", qs[2])
	if err != nil {
		return nil, err
	}
	k, _, err := load(kt, "key", ks[2])
	if err != nil {
		return nil, err
	}
	v, _, err := load(vt, "value", vs[2])
	if err != nil {
		return nil, err
	}
	decay, dlast, err := load(decayT, "decay", hkv*dk, hkv)
	if err != nil {
		return nil, err
	}
	beta, blast, err := load(betaT, "beta", hkv, 1)
	if err != nil {
		return nil, err
	}
	erase, _, err := load(eraseT, "erase_gate", hkv*dk)
	if err != nil {
		return nil, err
	}
	stDType := qt.DType()
	state := make([]float64, bsz*hkv*dk*dv)
	if pastT != nil {
		if !tensor.SameShape(pastT.Shape(), []int{bsz, hkv, dk, dv}) {
			return nil, fmt.Errorf("past_state has shape %v, want (%d, %d, %d, %d)", pastT.Shape(), bsz, hkv, dk, dv)
		}
		ps, err := floatio.Load[float64](pastT)
		if err != nil {
			return nil, fmt.Errorf("past_state: %w", err)
		}
		copy(state, ps)
		stDType = pastT.DType()
	}
	scale := p.scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(dk))
	}
	y, err := floatio.New[float64](c, qt.DType(), bsz, steps, hq*dv)
	if err != nil {
		return nil, err
	}
	group := hq / hkv
	kE := make([]float64, dk)
	vt2 := make([]float64, dv)
	for b := 0; b < bsz; b++ {
		if err := c.Check(); err != nil {
			return nil, err
		}
		for h := 0; h < hkv; h++ {
			S := state[(b*hkv+h)*dk*dv:][:dk*dv] // S is (dk, dv)
			for t := 0; t < steps; t++ {
				bt := b*steps + t
				kt := k[bt*hkv*dk+h*dk:][:dk]
				copy(vt2, v[bt*hkv*dv+h*dv:][:dv])
				if p.gating {
					for d := 0; d < dk; d++ {
						g := decay[bt*dlast+h]
						if dlast != hkv {
							g = decay[bt*dlast+h*dk+d]
						}
						f := math.Exp(g)
						for m := range dv {
							S[d*dv+m] *= f
						}
					}
				}
				if p.delta {
					copy(kE, kt)
					if erase != nil {
						for d := range kE {
							kE[d] *= erase[bt*hkv*dk+h*dk+d]
						}
					}
					bv := beta[bt*blast+min(h, blast-1)]
					for m := 0; m < dv; m++ {
						var r float64
						for d := 0; d < dk; d++ {
							r += S[d*dv+m] * kE[d]
						}
						vt2[m] = bv * (vt2[m] - r)
					}
				}
				for d := 0; d < dk; d++ {
					for m := 0; m < dv; m++ {
						S[d*dv+m] += kt[d] * vt2[m]
					}
				}
				for hh := h * group; hh < (h+1)*group; hh++ {
					qv := q[bt*hq*dk+hh*dk:][:dk]
					out := y.Buf[bt*hq*dv+hh*dv:][:dv]
					for m := 0; m < dv; m++ {
						var o float64
						for d := 0; d < dk; d++ {
							o += qv[d] * S[d*dv+m]
						}
						out[m] = scale * o
					}
				}
			}
		}
	}
	st, err := floatio.Store(c, stDType, []int{bsz, hkv, dk, dv}, state)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{y.Done(), st}, nil
}

// ---- CausalConvWithState ----

func compileCausalConv(n *ops.Node) (*ops.Kernel, error) {
	act := n.String("activation", "none")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if act != "none" && act != "silu" && act != "swish" {
		return nil, fmt.Errorf("activation %q, want none, silu or swish", act)
	}
	silu := act != "none"
	return floatio.Kernel(silu, []string{"input"}, 2, 4, runCausalConv[float32], runCausalConv[float64]), nil
}

func inferCausalConv(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("want input and weight")
	}
	st := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if in[0].HasShape && in[1].HasShape && len(in[0].Shape) == 3 && len(in[1].Shape) == 3 && in[1].Shape[2].Known() {
		st.HasShape = true
		st.Shape = []tensor.Dim{in[0].Shape[0], in[0].Shape[1], {Size: in[1].Shape[2].Size - 1}}
	}
	return []tensor.Type{in[0], st}, nil
}

// runCausalConv: input (B, C, L), weight (C, 1, K), bias (C), past_state
// (B, C, K-1). padded = concat(past_state, input) is (B, C, L+K-1);
// out[b,c,t] = bias[c] + sum_i padded[b,c,t+i] * weight[c,0,i].
func runCausalConv[F tensor.Float](c *ops.Ctx, silu bool, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	xs, ws := in[0].Shape(), in[1].Shape()
	if len(xs) != 3 || len(ws) != 3 || ws[0] != xs[1] || ws[1] != 1 || ws[2] < 1 {
		return nil, fmt.Errorf("input %v and weight %v must be (B, C, L) and (C, 1, K)", xs, ws)
	}
	bsz, ch, l, kw := xs[0], xs[1], xs[2], ws[2]
	x, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	w, err := floatio.Load[F](in[1])
	if err != nil {
		return nil, fmt.Errorf("weight: %w", err)
	}
	var bias, past []F
	if len(in) > 2 && in[2] != nil {
		if in[2].Len() != ch {
			return nil, fmt.Errorf("bias has shape %v, want (%d)", in[2].Shape(), ch)
		}
		if bias, err = floatio.Load[F](in[2]); err != nil {
			return nil, fmt.Errorf("bias: %w", err)
		}
	}
	if len(in) > 3 && in[3] != nil {
		if !tensor.SameShape(in[3].Shape(), []int{bsz, ch, kw - 1}) {
			return nil, fmt.Errorf("past_state has shape %v, want (%d, %d, %d)", in[3].Shape(), bsz, ch, kw-1)
		}
		if past, err = floatio.Load[F](in[3]); err != nil {
			return nil, fmt.Errorf("past_state: %w", err)
		}
	}
	y, err := floatio.New[F](c, in[0].DType(), bsz, ch, l)
	if err != nil {
		return nil, err
	}
	st, err := floatio.New[F](c, in[0].DType(), bsz, ch, kw-1)
	if err != nil {
		return nil, err
	}
	pl := l + kw - 1
	padded := make([]F, pl)
	for b := 0; b < bsz; b++ {
		for k := 0; k < ch; k++ {
			row := b*ch + k
			clear(padded[:kw-1])
			if past != nil {
				copy(padded, past[row*(kw-1):][:kw-1])
			}
			copy(padded[kw-1:], x[row*l:][:l])
			wr := w[k*kw:][:kw]
			out := y.Buf[row*l:][:l]
			for t := 0; t < l; t++ {
				var s F
				if bias != nil {
					s = bias[k]
				}
				for i, wi := range wr {
					s += padded[t+i] * wi
				}
				if silu {
					s = F(float64(s) / (1 + math.Exp(-float64(s))))
				}
				out[t] = s
			}
			copy(st.Buf[row*(kw-1):][:kw-1], padded[l:])
		}
	}
	return []*tensor.Tensor{y.Done(), st.Done()}, nil
}
