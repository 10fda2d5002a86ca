package attention

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

type flex struct {
	scale                      float64
	scoreMod, maskMod, probMod ops.Subgraph
}

func compileFlex(n *ops.Node) (*ops.Kernel, error) {
	p := &flex{scale: float64(n.Float("scale", 0))}
	if err := n.Err(); err != nil {
		return nil, err
	}
	for _, g := range []struct {
		name string
		dst  *ops.Subgraph
	}{{"score_mod", &p.scoreMod}, {"mask_mod", &p.maskMod}, {"prob_mod", &p.probMod}} {
		if !n.Has(g.name) {
			continue
		}
		if n.Subgraph == nil {
			return nil, fmt.Errorf("%s: the runtime does not compile graph attributes", g.name)
		}
		sg, err := n.Subgraph(g.name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		if len(sg.Inputs()) != 1 || len(sg.Outputs()) != 1 {
			return nil, fmt.Errorf("%s has %d inputs and %d outputs, want 1 and 1", g.name, len(sg.Inputs()), len(sg.Outputs()))
		}
		*g.dst = sg
	}
	return floatio.Kernel(p, []string{"Q", "K", "V"}, 3, 3, runFlex[float32], runFlex[float64]), nil
}

func inferFlex(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 3 {
		return nil, fmt.Errorf("want Q, K and V")
	}
	y := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if in[0].HasShape && in[2].HasShape && len(in[0].Shape) == 4 && len(in[2].Shape) == 4 {
		y.HasShape = true
		y.Shape = append(append([]tensor.Dim{}, in[0].Shape[:3]...), in[2].Shape[3])
	}
	return []tensor.Type{y}, nil
}

// applyMod runs a (B, H, L, S) -> (B, H, L, S) subgraph on s in dtype d. A
// bool result (a mask) keeps scores where true and sets -inf elsewhere.
func applyMod[F tensor.Float](c *ops.Ctx, g ops.Subgraph, d tensor.DType, shape []int, s []F) ([]F, error) {
	t, err := floatio.Store(c, d, shape, s)
	if err != nil {
		return nil, err
	}
	out, err := g.Run(c, []tensor.Value{t})
	if err != nil {
		return nil, err
	}
	r, ok := out[0].(*tensor.Tensor)
	if !ok || !tensor.SameShape(r.Shape(), shape) {
		return nil, fmt.Errorf("subgraph returned %T, want a tensor of shape %v", out[0], shape)
	}
	if r.DType() == tensor.Bool {
		keep := tensor.Data[bool](r)
		res := append([]F(nil), s...)
		for i, k := range keep {
			if !k {
				res[i] = F(math.Inf(-1))
			}
		}
		return res, nil
	}
	return floatio.Load[F](r)
}

// runFlex: Q (B, Hq, L, E), K (B, Hkv, S, E), V (B, Hkv, S, Ev); query head
// h reads K/V head h / (Hq/Hkv).
func runFlex[F tensor.Float](c *ops.Ctx, p *flex, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	qs, ks, vs := in[0].Shape(), in[1].Shape(), in[2].Shape()
	if len(qs) != 4 || len(ks) != 4 || len(vs) != 4 {
		return nil, fmt.Errorf("Q %v, K %v and V %v must be 4-D", qs, ks, vs)
	}
	b, hq, l, e := qs[0], qs[1], qs[2], qs[3]
	hkv, s, ev := ks[1], ks[2], vs[3]
	if ks[0] != b || vs[0] != b || vs[1] != hkv || vs[2] != s || ks[3] != e || hkv == 0 || hq%hkv != 0 {
		return nil, fmt.Errorf("Q %v, K %v and V %v do not fit (B, Hq, L, E), (B, Hkv, S, E), (B, Hkv, S, Ev) with Hq a multiple of Hkv", qs, ks, vs)
	}
	q, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	k, err := floatio.Load[F](in[1])
	if err != nil {
		return nil, err
	}
	v, err := floatio.Load[F](in[2])
	if err != nil {
		return nil, err
	}
	scale := p.scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(e))
	}
	group := hq / hkv
	shape := []int{b, hq, l, s}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	if c != nil && c.MaxElements > 0 && n > c.MaxElements {
		return nil, fmt.Errorf("%w: scores %v", ops.ErrLimit, shape)
	}
	sc := make([]F, n)
	for bh := 0; bh < b*hq; bh++ {
		kb := (bh/hq*hkv + bh%hq/group) * s
		for i := 0; i < l; i++ {
			qr := q[(bh*l+i)*e:][:e]
			for j := 0; j < s; j++ {
				kr := k[(kb+j)*e:][:e]
				var d F
				for x, qx := range qr {
					d += qx * kr[x]
				}
				sc[(bh*l+i)*s+j] = F(float64(d) * scale)
			}
		}
	}
	dt := in[0].DType()
	for _, g := range []ops.Subgraph{p.scoreMod, p.maskMod} {
		if g != nil {
			if sc, err = applyMod(c, g, dt, shape, sc); err != nil {
				return nil, err
			}
		}
	}
	prob := make([]F, n)
	row := make([]float64, s)
	for r := 0; r < b*hq*l; r++ {
		mx := math.Inf(-1)
		for j := range row {
			row[j] = float64(sc[r*s+j])
			mx = max(mx, row[j])
		}
		softmaxRow(row, mx)
		for j, pj := range row {
			prob[r*s+j] = F(pj)
		}
	}
	if p.probMod != nil {
		if prob, err = applyMod(c, p.probMod, dt, shape, prob); err != nil {
			return nil, err
		}
	}
	y, err := floatio.New[F](c, dt, b, hq, l, ev)
	if err != nil {
		return nil, err
	}
	for bh := 0; bh < b*hq; bh++ {
		vb := (bh/hq*hkv + bh%hq/group) * s
		for i := 0; i < l; i++ {
			out := y.Buf[(bh*l+i)*ev:][:ev]
			pr := prob[(bh*l+i)*s:][:s]
			for j, pj := range pr {
				vr := v[(vb+j)*ev:][:ev]
				for x, vx := range vr {
					out[x] += pj * vx
				}
			}
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}
