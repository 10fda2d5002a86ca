// Package norm holds gort's kernels for the normalization operator family:
// LayerNormalization, RMSNormalization, BatchNormalization,
// InstanceNormalization, GroupNormalization, MeanVarianceNormalization,
// LpNormalization, LRN and Dropout.
//
// Float16 and bfloat16 inputs compute in float32, float32 in float32 with
// float64 accumulators for means and variances, and float64 in float64.
package norm

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"github.com/gort-ml/gort/ops/internal/vecmath"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		// LayerNormalization normalizes over the dimensions [axis, rank):
		// Y = (X - mean) / sqrt(var + epsilon) * Scale + B, with optional
		// Mean and InvStdDev outputs of shape X.shape[:axis] + [1]*(rank-axis).
		ops.Versions("", "LayerNormalization", "Y = (X - mean) * InvStdDev * Scale + B over axes [axis, rank)",
			[]int{17}, inferLayerNorm, compileLayerNorm(false)),
		// RMSNormalization: Y = X / sqrt(mean(X^2) + epsilon) * scale over [axis, rank).
		ops.Versions("", "RMSNormalization", "Y = X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * scale",
			[]int{23}, ops.InferSameAs(0), compileLayerNorm(true)),
		// InstanceNormalization normalizes each (n, c) plane of X (N, C, D...):
		// y = scale[c] * (x - mean) / sqrt(var + epsilon) + B[c].
		ops.Versions("", "InstanceNormalization", "y = scale[c] * (x - mean[n,c]) / sqrt(var[n,c] + epsilon) + B[c]",
			[]int{1, 6, 22}, ops.InferSameAs(0), compileInstanceNorm),
		// GroupNormalization normalizes X (N, C, D...) over groups of C/num_groups
		// channels; scale and bias are per group at opset 18, per channel from 21.
		ops.Versions("", "GroupNormalization", "y = scale * (x - mean[n,g]) / sqrt(var[n,g] + epsilon) + bias, channels split in num_groups groups",
			[]int{18, 21}, ops.InferSameAs(0), compileGroupNorm),
		// MeanVarianceNormalization: Y = (X - mean) / (sqrt(var) + 1e-9) over axes.
		ops.Versions("", "MeanVarianceNormalization", "Y = (X - mean(X, axes)) / (std(X, axes) + 1e-9)",
			[]int{9, 13}, ops.InferSameAs(0), compileMVN),
		// LpNormalization: y = x / ||x||_p along axis (p is 1 or 2).
		ops.Versions("", "LpNormalization", "y = x / norm_p(x along axis), p in {1, 2}",
			[]int{1, 22}, ops.InferSameAs(0), compileLpNorm),
		// LRN: y = x / (bias + alpha/size * sum of x^2 over size neighbouring channels)^beta.
		ops.Versions("", "LRN", "y = x / (bias + alpha/size * square_sum over a window of size channels)^beta",
			[]int{1, 13}, ops.InferSameAs(0), compileLRN),
		batchNormOps(),
		dropoutOps(),
	)
}

// inputNames names the first input of every kernel here for float checks.
var inputNames = []string{"input"}

// rowMoments returns the mean and the mean squared deviation (population
// variance) of x, accumulated in float64. With rms it returns 0 and the mean
// of x^2.
func rowMoments[F tensor.Float](x []F, rms bool) (mean, variance float64) {
	if x32, ok := any(x).([]float32); ok {
		return vecmath.Moments(x32, rms)
	}
	if len(x) == 0 {
		return 0, 0
	}
	n := float64(len(x))
	if !rms {
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		mean = s / n
	}
	var s2 float64
	for _, v := range x {
		d := float64(v) - mean
		s2 += d * d
	}
	return mean, s2 / n
}

// expand returns t broadcast (unidirectionally) to shape, as F values.
func expand[F tensor.Float](name string, t *tensor.Tensor, shape []int) ([]F, error) {
	src, err := floatio.Load[F](t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if tensor.SameShape(t.Shape(), shape) {
		return src, nil
	}
	b, err := tensor.BroadcastShapes(t.Shape(), shape)
	if err != nil || !tensor.SameShape(b, shape) || t.Rank() > len(shape) {
		return nil, fmt.Errorf("%s has shape %v, which does not broadcast to %v", name, t.Shape(), shape)
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	out := make([]F, n)
	tensor.BroadcastIndex(shape, [][]int{t.Shape()}, func(i int, idx []int) { out[i] = src[idx[0]] })
	return out, nil
}

// perChannel loads a 1-D parameter of length c (or of length c*s, one value
// per channel and position, for BatchNormalization with spatial=0).
func perChannel[F tensor.Float](name string, t *tensor.Tensor, c, s int) ([]F, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is required", name)
	}
	if t.Len() != c && t.Len() != c*s {
		return nil, fmt.Errorf("%s has shape %v, want (%d)", name, t.Shape(), c)
	}
	v, err := floatio.Load[F](t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// channels splits X (N, C, D...) into N, C and the spatial size.
func channels(x *tensor.Tensor) (n, c, s int, err error) {
	sh := x.Shape()
	if len(sh) < 2 {
		return 0, 0, 0, fmt.Errorf("input has shape %v, want (N, C, D1, ...)", sh)
	}
	s = 1
	for _, d := range sh[2:] {
		s *= d
	}
	return sh[0], sh[1], s, nil
}

// ---- LayerNormalization and RMSNormalization ----

type layerNorm struct {
	axis    int64
	eps     float64
	rms     bool
	stash   tensor.DType
	outputs int
}

func compileLayerNorm(rms bool) func(n *ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		p := &layerNorm{
			axis:    n.Int("axis", -1),
			eps:     float64(n.Float("epsilon", 1e-5)),
			rms:     rms,
			stash:   tensor.DType(n.Int("stash_type", 1)),
			outputs: len(n.Outputs),
		}
		if err := n.Err(); err != nil {
			return nil, err
		}
		if !floatio.Supported(p.stash) {
			return nil, fmt.Errorf("stash_type %d, want a float dtype (1 for float32)", p.stash)
		}
		maxIn := 3
		if rms {
			maxIn = 2
		}
		return floatio.Kernel(p, inputNames, 2, maxIn, runLayerNorm[float32], runLayerNorm[float64]), nil
	}
}

func inferLayerNorm(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input X missing")
	}
	out := []tensor.Type{in[0]}
	if len(n.Outputs) > 1 {
		st := tensor.Type{Kind: tensor.KindTensor, DType: tensor.DType(n.Int("stash_type", 1))}
		if in[0].HasShape {
			r := len(in[0].Shape)
			a, err := ops.NormAxis(n.Int("axis", -1), r)
			if err != nil {
				return nil, err
			}
			st.HasShape = true
			st.Shape = append([]tensor.Dim{}, in[0].Shape[:a]...)
			for i := a; i < r; i++ {
				st.Shape = append(st.Shape, tensor.Dim{Size: 1})
			}
		}
		out = append(out, st, st)
	}
	return out, nil
}

// runLayerNorm: X is (outer, inner) with inner = prod(shape[axis:]); Scale
// and B broadcast to shape[axis:] (or, failing that, to the whole of X).
func runLayerNorm[F tensor.Float](c *ops.Ctx, p *layerNorm, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	xt := in[0]
	sh := xt.Shape()
	axis, err := ops.NormAxis(p.axis, len(sh))
	if err != nil {
		return nil, err
	}
	inner := 1
	for _, d := range sh[axis:] {
		inner *= d
	}
	total := xt.Len()
	outer := 0
	if inner > 0 {
		outer = total / inner
	}
	x, err := floatio.Load[F](xt)
	if err != nil {
		return nil, err
	}
	// params returns a parameter indexable by j (inner position) when it
	// broadcasts over the normalized shape, else by the flat index.
	params := func(name string, t *tensor.Tensor) (v []F, full bool, err error) {
		if t == nil {
			return nil, false, nil
		}
		if v, err = expand[F](name, t, sh[axis:]); err == nil {
			return v, false, nil
		}
		v, err = expand[F](name, t, sh)
		return v, true, err
	}
	scale, scaleFull, err := params("scale", in[1])
	if err != nil {
		return nil, err
	}
	var bias []F
	biasFull := false
	if len(in) > 2 {
		if bias, biasFull, err = params("bias", in[2]); err != nil {
			return nil, err
		}
	}
	y, err := floatio.New[F](c, xt.DType(), sh...)
	if err != nil {
		return nil, err
	}
	var mean, inv floatio.Out[F]
	if p.outputs > 1 {
		ssh := append([]int{}, sh[:axis]...)
		for range sh[axis:] {
			ssh = append(ssh, 1)
		}
		if mean, err = floatio.New[F](c, p.stash, ssh...); err != nil {
			return nil, err
		}
		if inv, err = floatio.New[F](c, p.stash, ssh...); err != nil {
			return nil, err
		}
	}
	// Rows are independent: ranges of them run concurrently.
	lp := lnRows[F]{c: c, x: x, y: y.Buf, scale: scale, bias: bias, scaleFull: scaleFull, biasFull: biasFull,
		inner: inner, rms: p.rms, eps: p.eps}
	if mean.T != nil {
		lp.mean, lp.inv = mean.Buf, inv.Buf
	}
	grain := max(1, rowGrain/max(inner, 1))
	if kernelutil.Workers(c, outer, grain) <= 1 {
		err = lp.run(0, outer) // lp stays on the stack
	} else {
		shared := lp
		err = kernelutil.Parallel(c, outer, grain, shared.run)
	}
	if err != nil {
		return nil, err
	}
	res := c.Results(max(p.outputs, 1))
	res[0] = y.Done()
	if mean.T != nil {
		// Mean and InvStdDev, as many of them as the node has outputs for.
		copy(res[1:], []*tensor.Tensor{mean.Done(), inv.Done()})
	}
	return res, nil
}

// rowGrain is the least number of elements worth a goroutine.
const rowGrain = 1 << 14

// lnRows is LayerNormalization's per-row work: rows of inner values of x
// into y, scale and bias indexed by j or (with ...Full) the flat index,
// and the statistics into mean and inv when they are set.
type lnRows[F tensor.Float] struct {
	c                   *ops.Ctx
	x, y, scale, bias   []F
	mean, inv           []F
	scaleFull, biasFull bool
	inner               int
	rms                 bool
	eps                 float64
}

// run normalizes rows [lo, hi), checking the context every 256 rows.
func (p *lnRows[F]) run(lo, hi int) error {
	x, y, scale, bias, inner := p.x, p.y, p.scale, p.bias, p.inner
	scaleFull, biasFull := p.scaleFull, p.biasFull
	for r := lo; r < hi; r++ {
		if (r-lo)%256 == 0 {
			if err := p.c.Check(); err != nil {
				return err
			}
		}
		row := x[r*inner : (r+1)*inner]
		m, v := rowMoments(row, p.rms)
		is := 1 / math.Sqrt(v+p.eps)
		if p.mean != nil {
			p.mean[r] = F(m)
			p.inv[r] = F(is)
		}
		out := y[r*inner : (r+1)*inner]
		mf, isf := F(m), F(is)
		if row32, ok := any(row).([]float32); ok && !scaleFull && !biasFull {
			// The same arithmetic, vectorized.
			vecmath.Affine(any(out).([]float32), row32, any(scale).([]float32), any(bias).([]float32), float32(mf), float32(isf))
			continue
		}
		for j, xv := range row {
			k := j
			if scaleFull {
				k = r*inner + j
			}
			o := (xv - mf) * isf * scale[k]
			if bias != nil {
				k = j
				if biasFull {
					k = r*inner + j
				}
				o += bias[k]
			}
			out[j] = o
		}
	}
	return nil
}

// ---- InstanceNormalization and GroupNormalization ----

type groupNorm struct {
	groups int // 0 for InstanceNormalization (one group per channel)
	// groupParams: opset 18 declares scale and bias per group; a model at
	// that opset giving them per channel (as exporters that target opset
	// 21 semantics do) is read per channel.
	groupParams bool
	eps         float64
}

func compileInstanceNorm(n *ops.Node) (*ops.Kernel, error) {
	p := &groupNorm{eps: float64(n.Float("epsilon", 1e-5))}
	return compileGroupLike(n, p)
}

func compileGroupNorm(n *ops.Node) (*ops.Kernel, error) {
	p := &groupNorm{
		groups:      int(n.Int("num_groups", 0)),
		groupParams: n.Opset < 21,
		eps:         float64(n.Float("epsilon", 1e-5)),
	}
	if !n.Has("num_groups") || p.groups <= 0 {
		return nil, fmt.Errorf("num_groups must be set to a positive value, got %d", p.groups)
	}
	return compileGroupLike(n, p)
}

func compileGroupLike(n *ops.Node, p *groupNorm) (*ops.Kernel, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	return floatio.Kernel(p, inputNames, 3, 3, runGroupNorm[float32], runGroupNorm[float64]), nil
}

// runGroupNorm: X is (N, C, S) viewed as (N, G, C/G * S); statistics per
// (n, g); scale and bias per channel (or per group).
func runGroupNorm[F tensor.Float](c *ops.Ctx, p *groupNorm, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	n, ch, s, err := channels(in[0])
	if err != nil {
		return nil, err
	}
	g := p.groups
	if g == 0 {
		g = max(ch, 1) // InstanceNormalization: one group per channel
	}
	if ch%g != 0 {
		return nil, fmt.Errorf("%d channels are not divisible by num_groups %d", ch, g)
	}
	perGroup := p.groupParams && in[1].Len() == g
	plen := ch
	if perGroup {
		plen = g
	}
	scale, err := perChannel[F]("scale", in[1], plen, 1)
	if err != nil {
		return nil, err
	}
	bias, err := perChannel[F]("bias", in[2], plen, 1)
	if err != nil {
		return nil, err
	}
	x, y, err := floatio.Like[F](c, in[0])
	if err != nil {
		return nil, err
	}
	cpg := ch / g // channels per group
	blk := cpg * s
	for i := 0; i < n*g; i++ {
		if err := c.Check(); err != nil {
			return nil, err
		}
		row := x[i*blk : (i+1)*blk]
		m, v := rowMoments(row, false)
		mf, is := F(m), F(1/math.Sqrt(v+p.eps))
		gi := i % g
		for k := 0; k < cpg; k++ {
			pi := gi*cpg + k
			if perGroup {
				pi = gi
			}
			sc, b := scale[pi], bias[pi]
			for j := k * s; j < (k+1)*s; j++ {
				y.Buf[i*blk+j] = (row[j]-mf)*is*sc + b
			}
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}

// ---- MeanVarianceNormalization ----

func compileMVN(n *ops.Node) (*ops.Kernel, error) {
	axes := n.Ints("axes", []int64{0, 2, 3})
	if err := n.Err(); err != nil {
		return nil, err
	}
	return floatio.Kernel(axes, inputNames, 1, 1, runMVN[float32], runMVN[float64]), nil
}

// runMVN normalizes over the reduced axes by gathering each group of
// elements that share the kept coordinates.
func runMVN[F tensor.Float](c *ops.Ctx, axes []int64, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	sh := in[0].Shape()
	red := make([]bool, len(sh))
	for _, a := range axes {
		ax, err := ops.NormAxis(a, len(sh))
		if err != nil {
			return nil, err
		}
		red[ax] = true
	}
	// kept is the shape with reduced axes set to 1; every element maps to
	// the flat index of its kept coordinates.
	kept := make([]int, len(sh))
	for i, d := range sh {
		kept[i] = d
		if red[i] {
			kept[i] = 1
		}
	}
	x, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	nk, _ := tensor.NumElements(kept)
	grp := make([]int, len(x))
	tensor.BroadcastIndex(sh, [][]int{kept}, func(i int, idx []int) { grp[i] = idx[0] })
	sum := make([]float64, nk)
	cnt := make([]float64, nk)
	for i, v := range x {
		sum[grp[i]] += float64(v)
		cnt[grp[i]]++
	}
	for k := range sum {
		if cnt[k] > 0 {
			sum[k] /= cnt[k]
		}
	}
	vr := make([]float64, nk)
	for i, v := range x {
		d := float64(v) - sum[grp[i]]
		vr[grp[i]] += d * d
	}
	for k := range vr {
		if cnt[k] > 0 {
			vr[k] = math.Sqrt(vr[k]/cnt[k]) + 1e-9
		}
	}
	y, err := floatio.New[F](c, in[0].DType(), sh...)
	if err != nil {
		return nil, err
	}
	for i, v := range x {
		g := grp[i]
		y.Buf[i] = F((float64(v) - sum[g]) / vr[g])
	}
	return []*tensor.Tensor{y.Done()}, nil
}

// ---- LpNormalization ----

type lpNorm struct{ axis, p int64 }

func compileLpNorm(n *ops.Node) (*ops.Kernel, error) {
	p := lpNorm{axis: n.Int("axis", -1), p: n.Int("p", 2)}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.p != 1 && p.p != 2 {
		return nil, fmt.Errorf("p is %d, want 1 or 2", p.p)
	}
	return floatio.Kernel(p, inputNames, 1, 1, runLpNorm[float32], runLpNorm[float64]), nil
}

// runLpNorm views X as (outer, n, inner) around axis; a zero vector stays zero.
func runLpNorm[F tensor.Float](c *ops.Ctx, lp lpNorm, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	p := lp.p
	sh := in[0].Shape()
	a, err := ops.NormAxis(lp.axis, len(sh))
	if err != nil {
		return nil, err
	}
	outer, inner := 1, 1
	for _, d := range sh[:a] {
		outer *= d
	}
	for _, d := range sh[a+1:] {
		inner *= d
	}
	n := sh[a]
	x, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	y, err := floatio.New[F](c, in[0].DType(), sh...)
	if err != nil {
		return nil, err
	}
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*n*inner + i
			var s float64
			for k := 0; k < n; k++ {
				v := float64(x[base+k*inner])
				if p == 1 {
					s += math.Abs(v)
				} else {
					s += v * v
				}
			}
			if p == 2 {
				s = math.Sqrt(s)
			}
			if s == 0 {
				continue
			}
			for k := 0; k < n; k++ {
				y.Buf[base+k*inner] = F(float64(x[base+k*inner]) / s)
			}
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}

// ---- LRN ----

type lrn struct {
	alpha, beta, bias float64
	size              int
}

func compileLRN(n *ops.Node) (*ops.Kernel, error) {
	p := &lrn{
		alpha: float64(n.Float("alpha", 1e-4)),
		beta:  float64(n.Float("beta", 0.75)),
		bias:  float64(n.Float("bias", 1)),
		size:  int(n.Int("size", 0)),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.size <= 0 {
		return nil, fmt.Errorf("size must be a positive odd number, got %d", p.size)
	}
	return floatio.Kernel(p, inputNames, 1, 1, runLRN[float32], runLRN[float64]), nil
}

// runLRN: X is (N, C, S); the window for channel c is
// [c - floor((size-1)/2), c + ceil((size-1)/2)].
func runLRN[F tensor.Float](c *ops.Ctx, p *lrn, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	n, ch, s, err := channels(in[0])
	if err != nil {
		return nil, err
	}
	x, y, err := floatio.Like[F](c, in[0])
	if err != nil {
		return nil, err
	}
	lo, hi := (p.size-1)/2, (p.size-1+1)/2
	for b := 0; b < n; b++ {
		if err := c.Check(); err != nil {
			return nil, err
		}
		for k := 0; k < ch; k++ {
			c0, c1 := max(0, k-lo), min(ch-1, k+hi)
			for j := 0; j < s; j++ {
				var sq float64
				for cc := c0; cc <= c1; cc++ {
					v := float64(x[(b*ch+cc)*s+j])
					sq += v * v
				}
				i := (b*ch+k)*s + j
				y.Buf[i] = F(float64(x[i]) / math.Pow(p.bias+p.alpha/float64(p.size)*sq, p.beta))
			}
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}
