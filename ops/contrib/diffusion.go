package contrib

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

// diffusionOps are the fusions ONNX Runtime's optimizer makes in Stable
// Diffusion UNets (its kernels for them are GPU-only; these run anywhere).
func diffusionOps() []*ops.Op {
	return ops.Join(
		// BiasAdd: Y = X + bias + skip; X and skip (N, S, C), bias (C).
		ops.Versions(ms, "BiasAdd", "Y = X + bias + skip, bias over the channels", []int{1},
			ops.InferSameAs(0), compileBiasAdd),
		// BiasSplitGelu: Z = X + bias split in halves L, R along the
		// channels; Y = L * Gelu(R).
		ops.Versions(ms, "BiasSplitGelu", "Y = L * Gelu(R), [L, R] = X + bias split along the last axis", []int{1},
			nil, compileBiasSplitGelu),
		// GroupNorm: Y = act((X - mean) / sqrt(var + epsilon) * gamma + beta),
		// statistics per (batch, group of channels); X is NHWC (or NCHW with
		// channels_last = 0); act is SiLU when activation = 1.
		ops.Versions(ms, "GroupNorm", "Y = act(GroupNorm(X) * gamma + beta), NHWC or NCHW, act = SiLU when activation = 1", []int{1},
			ops.InferSameAs(0), compileGroupNorm(false)),
		// SkipGroupNorm: S = X + skip + bias, Y = GroupNorm(S) as above,
		// with S as an optional second output; X is NHWC, skip (N, H, W, C),
		// (N, 1, 1, C) or (N, C).
		ops.Versions(ms, "SkipGroupNorm", "S = X + skip + bias; Y = act(GroupNorm(S) * gamma + beta), NHWC", []int{1},
			nil, compileGroupNorm(true)),
	)
}

func compileBiasAdd(n *ops.Node) (*ops.Kernel, error) {
	return floatio.Kernel(struct{}{}, []string{"X", "bias", "skip"}, 3, 3, runBiasAdd[float32], runBiasAdd[float64]), nil
}

func runBiasAdd[F tensor.Float](c *ops.Ctx, _ struct{}, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	sh := in[0].Shape()
	if len(sh) != 3 || !tensor.SameShape(in[2].Shape(), sh) {
		return nil, fmt.Errorf("X %v and skip %v must both be (N, S, C)", sh, in[2].Shape())
	}
	bias, err := lastDimBias[F]("bias", in[1], sh)
	if err != nil {
		return nil, err
	}
	skip, err := floatio.Load[F](in[2])
	if err != nil {
		return nil, err
	}
	x, y, err := floatio.Like[F](c, in[0])
	if err != nil {
		return nil, err
	}
	for i, v := range x {
		y.Buf[i] = v + bias[i%len(bias)] + skip[i]
	}
	return []*tensor.Tensor{y.Done()}, nil
}

func compileBiasSplitGelu(n *ops.Node) (*ops.Kernel, error) {
	return floatio.Kernel(struct{}{}, []string{"X", "bias"}, 2, 2, runBiasSplitGelu[float32], runBiasSplitGelu[float64]), nil
}

// runBiasSplitGelu: X is (N, S, D), bias (D), Y (N, S, D/2).
func runBiasSplitGelu[F tensor.Float](c *ops.Ctx, _ struct{}, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	sh := in[0].Shape()
	if len(sh) != 3 || sh[2]%2 != 0 {
		return nil, fmt.Errorf("X has shape %v, want (N, S, D) with D even", sh)
	}
	bias, err := lastDimBias[F]("bias", in[1], sh)
	if err != nil {
		return nil, err
	}
	x, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	d, h := sh[2], sh[2]/2
	y, err := floatio.New[F](c, in[0].DType(), sh[0], sh[1], h)
	if err != nil {
		return nil, err
	}
	for r := 0; r < sh[0]*sh[1]; r++ {
		row, out := x[r*d:][:d], y.Buf[r*h:][:h]
		for j := range out {
			l := float64(row[j] + bias[j])
			out[j] = F(l * geluErf(float64(row[j+h]+bias[j+h])))
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}

type groupNorm struct {
	skip         bool
	eps          float64
	groups       int
	silu         bool
	channelsLast bool
	outputs      []bool
}

func compileGroupNorm(skip bool) func(*ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		p := &groupNorm{
			skip:         skip,
			eps:          float64(n.Float("epsilon", 1e-5)),
			groups:       int(n.Int("groups", 0)),
			silu:         n.Int("activation", 0) == 1,
			channelsLast: n.Int("channels_last", 1) != 0,
			outputs:      present(n.Outputs),
		}
		act := n.Int("activation", 0)
		if err := n.Err(); err != nil {
			return nil, err
		}
		switch {
		case p.groups <= 0:
			return nil, fmt.Errorf("groups %d, want a positive count", p.groups)
		case act != 0 && act != 1:
			return nil, fmt.Errorf("activation %d, want 0 (none) or 1 (SiLU)", act)
		case skip && !p.channelsLast:
			return nil, fmt.Errorf("SkipGroupNorm needs channels_last = 1")
		}
		minIn, maxIn := 3, 3
		if skip {
			minIn, maxIn = 4, 5
		}
		return floatio.Kernel(p, []string{"X", "gamma", "beta", "skip", "bias"}, minIn, maxIn, runGroupNorm[float32], runGroupNorm[float64]), nil
	}
}

// runGroupNorm: X is (N, H, W, C) (or (N, C, H, W) without channels_last,
// any number of spatial dimensions); gamma and beta are (C).
func runGroupNorm[F tensor.Float](c *ops.Ctx, p *groupNorm, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	sh := in[0].Shape()
	if len(sh) < 3 {
		return nil, fmt.Errorf("X has shape %v, want (N, H, W, C)", sh)
	}
	nb, ch := sh[0], sh[len(sh)-1]
	if !p.channelsLast {
		ch = sh[1]
	}
	if ch%p.groups != 0 {
		return nil, fmt.Errorf("%d channels are not divisible into %d groups", ch, p.groups)
	}
	total := in[0].Len()
	spatial := 0
	if nb*ch > 0 {
		spatial = total / (nb * ch)
	}
	gamma, err := channelParam[F]("gamma", in[1], ch)
	if err != nil {
		return nil, err
	}
	beta, err := channelParam[F]("beta", in[2], ch)
	if err != nil {
		return nil, err
	}
	x, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	var sum floatio.Out[F]
	if p.skip {
		// s = x + skip + bias, skip (N, H, W, C), (N, 1, 1, C) or (N, C).
		ss := in[3].Shape()
		perPos := tensor.SameShape(ss, sh)
		if !perPos && in[3].Len() != nb*ch {
			return nil, fmt.Errorf("skip has shape %v, want %v, (N, 1, 1, C) or (N, C)", ss, sh)
		}
		skip, err := floatio.Load[F](in[3])
		if err != nil {
			return nil, err
		}
		var bias []F
		if bt := opt(in, 4); bt != nil {
			if bias, err = channelParam[F]("bias", bt, ch); err != nil {
				return nil, err
			}
		}
		if sum, err = floatio.New[F](c, in[0].DType(), sh...); err != nil {
			return nil, err
		}
		for i, v := range x {
			k := (i/(spatial*ch))*ch + i%ch
			if perPos {
				k = i
			}
			v += skip[k]
			if bias != nil {
				v += bias[i%ch]
			}
			sum.Buf[i] = v
		}
		x = sum.Buf
	}
	y, err := floatio.New[F](c, in[0].DType(), sh...)
	if err != nil {
		return nil, err
	}
	// at(b, ch, s) is the flat index of channel ch at spatial position s.
	at := func(b, k, s int) int { return (b*spatial+s)*ch + k }
	if !p.channelsLast {
		at = func(b, k, s int) int { return (b*ch+k)*spatial + s }
	}
	cpg := ch / p.groups
	err = parallel(c, nb*p.groups, func(bg int) {
		b, g := bg/p.groups, bg%p.groups
		var s1, s2 float64
		for k := g * cpg; k < (g+1)*cpg; k++ {
			for s := 0; s < spatial; s++ {
				v := float64(x[at(b, k, s)])
				s1 += v
				s2 += v * v
			}
		}
		n := float64(cpg * spatial)
		mean := s1 / n
		inv := 1 / math.Sqrt(max(s2/n-mean*mean, 0)+p.eps)
		for k := g * cpg; k < (g+1)*cpg; k++ {
			a, o := inv*float64(gamma[k]), float64(beta[k])-mean*inv*float64(gamma[k])
			for s := 0; s < spatial; s++ {
				i := at(b, k, s)
				v := float64(x[i])*a + o
				if p.silu {
					v /= 1 + math.Exp(-v)
				}
				y.Buf[i] = F(v)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	res := make([]*tensor.Tensor, max(1, len(p.outputs)))
	res[0] = y.Done()
	if len(res) > 1 && p.outputs[1] && sum.T != nil {
		res[1] = sum.Done()
	}
	return res, nil
}

// channelParam loads a per-channel parameter of ch values.
func channelParam[F tensor.Float](name string, t *tensor.Tensor, ch int) ([]F, error) {
	if t.Len() != ch {
		return nil, fmt.Errorf("%s has shape %v, want (%d)", name, t.Shape(), ch)
	}
	return floatio.Load[F](t)
}
