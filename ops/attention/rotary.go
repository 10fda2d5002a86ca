package attention

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

type rotary struct {
	interleaved bool
	heads       int
	dim         int
}

func compileRotary(n *ops.Node) (*ops.Kernel, error) {
	p := &rotary{
		interleaved: n.Int("interleaved", 0) != 0,
		heads:       int(n.Int("num_heads", 0)),
		dim:         int(n.Int("rotary_embedding_dim", 0)),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.heads < 0 || p.dim < 0 || p.dim%2 != 0 {
		return nil, fmt.Errorf("num_heads %d and rotary_embedding_dim %d must be non-negative, the latter even", p.heads, p.dim)
	}
	return floatio.Kernel(p, []string{"input"}, 3, 4, runRotary[float32], runRotary[float64]), nil
}

// runRotary: input is (B, H, S, D) or (B, S, H*D); cos and sin are
// (max_position, rd/2) indexed by position_ids (B, S), or (B, S, rd/2),
// (1, S, rd/2) (broadcast over the batch, as torch.onnx's dynamo exports of
// Llama write it) or (S, rd/2) without position_ids.
func runRotary[F tensor.Float](c *ops.Ctx, p *rotary, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	xt, cosT, sinT := in[0], in[1], in[2]
	var posT *tensor.Tensor
	if len(in) > 3 {
		posT = in[3]
	}
	heads := p.heads
	if xt.Rank() == 4 {
		heads = xt.Shape()[1]
	}
	xv, err := newView("input", xt.Shape(), heads)
	if err != nil {
		return nil, err
	}
	rd := p.dim
	if rd == 0 {
		rd = xv.d
	}
	if rd > xv.d || rd%2 != 0 {
		return nil, fmt.Errorf("rotary dimension %d must be even and at most the head size %d", rd, xv.d)
	}
	half := rd / 2
	if !tensor.SameShape(cosT.Shape(), sinT.Shape()) {
		return nil, fmt.Errorf("cos_cache %v and sin_cache %v differ in shape", cosT.Shape(), sinT.Shape())
	}
	cs := cosT.Shape()
	if len(cs) == 0 || cs[len(cs)-1] != half {
		return nil, fmt.Errorf("cos_cache has shape %v, want last dimension rotary_embedding_dim/2 = %d", cs, half)
	}
	// row(b, s) is the cache row offset for batch b, position s.
	var row func(b, s int) int
	switch {
	case posT != nil:
		pos, err := ops.Ints64(posT)
		if err != nil {
			return nil, fmt.Errorf("position_ids: %w", err)
		}
		if !tensor.SameShape(posT.Shape(), []int{xv.b, xv.s}) || len(cs) != 2 {
			return nil, fmt.Errorf("position_ids %v and cos_cache %v must be (%d, %d) and (max_position, %d)", posT.Shape(), cs, xv.b, xv.s, half)
		}
		for _, v := range pos {
			if v < 0 || v >= int64(cs[0]) {
				return nil, fmt.Errorf("position id %d out of range [0, %d)", v, cs[0])
			}
		}
		row = func(b, s int) int { return int(pos[b*xv.s+s]) * half }
	case len(cs) == 3 && cs[0] == xv.b && cs[1] == xv.s:
		row = func(b, s int) int { return (b*xv.s + s) * half }
	case len(cs) == 3 && cs[0] == 1 && cs[1] == xv.s, len(cs) == 2 && cs[0] == xv.s:
		row = func(_, s int) int { return s * half }
	default:
		return nil, fmt.Errorf("cos_cache has shape %v, want (%d, %d, %d) without position_ids", cs, xv.b, xv.s, half)
	}
	cos, err := floatio.Load[F](cosT)
	if err != nil {
		return nil, err
	}
	sin, err := floatio.Load[F](sinT)
	if err != nil {
		return nil, err
	}
	x, y, err := floatio.Like[F](c, xt)
	if err != nil {
		return nil, err
	}
	for b := 0; b < xv.b; b++ {
		for s := 0; s < xv.s; s++ {
			r := row(b, s)
			cr, sr := cos[r:r+half], sin[r:r+half]
			for h := 0; h < xv.h; h++ {
				o := xv.at(b, h, s)
				src, dst := x[o:o+xv.d], y.Buf[o:o+xv.d]
				for i := 0; i < half; i++ {
					i1, i2 := i, i+half
					if p.interleaved {
						i1, i2 = 2*i, 2*i+1
					}
					x1, x2 := src[i1], src[i2]
					dst[i1] = cr[i]*x1 - sr[i]*x2
					dst[i2] = sr[i]*x1 + cr[i]*x2
				}
				copy(dst[rd:], src[rd:])
			}
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}
