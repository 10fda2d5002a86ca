package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

// rope rotates the first 2*half features of a head by the cached angle of
// a position: pairs (x[i], x[i+half]), or (x[2i], x[2i+1]) when
// interleaved, become (x1 cos - x2 sin, x1 sin + x2 cos).
type rope[F tensor.Float] struct {
	cos, sin    []F // (positions, stride), the first half columns used
	stride      int
	half        int
	positions   int
	interleaved bool
}

func newRope[F tensor.Float](cosT, sinT *tensor.Tensor, rd int, interleaved bool) (*rope[F], error) {
	cs := cosT.Shape()
	if len(cs) != 2 || !tensor.SameShape(cs, sinT.Shape()) {
		return nil, fmt.Errorf("cos_cache %v and sin_cache %v must have the same 2-D shape (max_position, rotary_dim/2)", cs, sinT.Shape())
	}
	if rd%2 != 0 || rd/2 > cs[1] {
		return nil, fmt.Errorf("rotary dimension %d must be even and at most twice cos_cache's %d columns", rd, cs[1])
	}
	cos, err := floatio.Load[F](cosT)
	if err != nil {
		return nil, fmt.Errorf("cos_cache: %w", err)
	}
	sin, err := floatio.Load[F](sinT)
	if err != nil {
		return nil, fmt.Errorf("sin_cache: %w", err)
	}
	return &rope[F]{cos: cos, sin: sin, stride: cs[1], half: rd / 2, positions: cs[0], interleaved: interleaved}, nil
}

func (r *rope[F]) check(pos int64) error {
	if pos < 0 || pos >= int64(r.positions) {
		return fmt.Errorf("position %d out of range [0, %d) of cos_cache", pos, r.positions)
	}
	return nil
}

// apply writes the rotation of src (one head) at position pos (checked)
// into dst; features past the rotary dimension are copied.
func (r *rope[F]) apply(dst, src []F, pos int) {
	c, s := r.cos[pos*r.stride:][:r.half], r.sin[pos*r.stride:][:r.half]
	for i := 0; i < r.half; i++ {
		i1, i2 := i, i+r.half
		if r.interleaved {
			i1, i2 = 2*i, 2*i+1
		}
		x1, x2 := src[i1], src[i2]
		dst[i1] = x1*c[i] - x2*s[i]
		dst[i2] = x1*s[i] + x2*c[i]
	}
	copy(dst[2*r.half:], src[2*r.half:])
}

type rotary struct {
	interleaved bool
	heads, dim  int
}

// RotaryEmbedding (com.microsoft): input is (B, S, N*H) or (B, N, S, H);
// position_ids is (B, S), or one offset p giving positions p + s; cos and
// sin caches are (max_position, rotary_dim/2).
func compileRotary(n *ops.Node) (*ops.Kernel, error) {
	p := &rotary{
		interleaved: n.Int("interleaved", 0) != 0,
		heads:       int(n.Int("num_heads", 0)),
		dim:         int(n.Int("rotary_embedding_dim", 0)),
	}
	// is_packed_batching and scale do not change the CPU computation (ONNX
	// Runtime's CPU kernel reads neither).
	n.Int("is_packed_batching", 0)
	n.Float("scale", 1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.heads < 0 || p.dim < 0 || p.dim%2 != 0 {
		return nil, fmt.Errorf("num_heads %d and rotary_embedding_dim %d must be non-negative, the latter even", p.heads, p.dim)
	}
	if p.dim > 0 && p.heads == 0 {
		return nil, fmt.Errorf("rotary_embedding_dim needs num_heads")
	}
	k := floatio.Kernel(p, []string{"input"}, 4, 4, runRotary[float32], runRotary[float64])
	return k, nil
}

func runRotary[F tensor.Float](c *ops.Ctx, p *rotary, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	xt, pt := in[0], in[1]
	xs := xt.Shape()
	cs := in[2].Shape()
	if len(cs) != 2 {
		return nil, fmt.Errorf("cos_cache has shape %v, want (max_position, rotary_dim/2)", cs)
	}
	var v heads
	switch len(xs) {
	case 3:
		head := 2 * cs[1]
		if p.heads > 0 {
			if xs[2]%p.heads != 0 {
				return nil, fmt.Errorf("hidden size %d is not divisible by %d heads", xs[2], p.heads)
			}
			head = xs[2] / p.heads
		}
		if head == 0 || xs[2]%head != 0 {
			return nil, fmt.Errorf("hidden size %d is not a multiple of the head size %d (twice cos_cache's columns); set num_heads", xs[2], head)
		}
		v = bsnh(xs[0], xs[1], xs[2]/head, head, xs[2], 0)
	case 4:
		v = bnsh(xs[0], xs[1], xs[2], xs[3])
	default:
		return nil, fmt.Errorf("input has shape %v, want (B, S, N*H) or (B, N, S, H)", xs)
	}
	rd := p.dim
	if rd == 0 {
		rd = v.d
	}
	if rd > v.d {
		return nil, fmt.Errorf("rotary_embedding_dim %d exceeds the head size %d", rd, v.d)
	}
	r, err := newRope[F](in[2], in[3], rd, p.interleaved)
	if err != nil {
		return nil, err
	}
	pos, err := ops.Ints64(pt)
	if err != nil {
		return nil, fmt.Errorf("position_ids: %w", err)
	}
	perRow := len(pos) != 1
	if perRow && !tensor.SameShape(pt.Shape(), []int{v.b, v.s}) {
		return nil, fmt.Errorf("position_ids has shape %v, want (%d, %d) or one offset", pt.Shape(), v.b, v.s)
	}
	position := func(b, s int) int64 {
		if perRow {
			return pos[b*v.s+s]
		}
		return pos[0] + int64(s)
	}
	for b := 0; b < v.b; b++ {
		for s := 0; s < v.s; s++ {
			if err := r.check(position(b, s)); err != nil {
				return nil, err
			}
		}
	}
	x, y, err := floatio.Like[F](c, xt)
	if err != nil {
		return nil, err
	}
	for b := 0; b < v.b; b++ {
		for s := 0; s < v.s; s++ {
			ps := int(position(b, s))
			for h := 0; h < v.n; h++ {
				o := v.off + b*v.sb + h*v.sh + s*v.ss
				r.apply(y.Buf[o:o+v.d], x[o:o+v.d], ps)
			}
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}
