package contrib

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"github.com/gort-ml/gort/ops/internal/vecmath"
	"github.com/gort-ml/gort/ops/norm"
	"github.com/gort-ml/gort/tensor"
)

func normOps() []*ops.Op {
	return ops.Join(
		// SkipLayerNormalization: s = input + skip + bias,
		// output = (s - mean(s)) / sqrt(var(s) + epsilon) * gamma + beta over
		// the last dimension; optional outputs mean, inv_std_var (both
		// (..., 1), float32) and s itself.
		ops.Versions(ms, "SkipLayerNormalization", "output = LayerNorm(input + skip + bias) * gamma + beta over the last axis", []int{1},
			inferSkipNorm, compileSkipNorm(false)),
		// SkipSimplifiedLayerNormalization: s = input + skip + bias,
		// output = s / sqrt(mean(s^2) + epsilon) * gamma.
		ops.Versions(ms, "SkipSimplifiedLayerNormalization", "output = RMSNorm(input + skip + bias) * gamma over the last axis", []int{1},
			inferSkipNorm, compileSkipNorm(true)),
		// SimplifiedLayerNormalization (declared by ONNX Runtime in the
		// default domain): Y = X / sqrt(mean(X^2) + epsilon) * scale over
		// [axis, rank); optional output inv_std_var.
		ops.Versions("", "SimplifiedLayerNormalization", "Y = X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * scale", []int{1},
			inferSimplifiedNorm, compileSimplifiedNorm),
		// LayerNormalization-1 is ONNX Runtime's default-domain contrib
		// schema that ONNX standardized at opset 17 unchanged.
		layerNorm1(),
		// EmbedLayerNormalization: e = word[input_ids] + position[position_ids]
		// + segment[segment_ids]; output = LayerNorm(e) * gamma + beta;
		// mask_index[b] = number of ones in mask[b].
		ops.Versions(ms, "EmbedLayerNormalization", "output = LayerNorm(word[ids] + position[pos] + segment[seg]) * gamma + beta; mask_index = ones per mask row", []int{1},
			inferEmbedNorm, compileEmbedNorm),
	)
}

// layerNorm1 declares LayerNormalization since version 1 with the kernel of
// ops/norm's LayerNormalization-17.
func layerNorm1() []*ops.Op {
	for _, op := range norm.Ops() {
		if op.Domain == "" && op.Type == "LayerNormalization" {
			return []*ops.Op{{Domain: "", Type: op.Type, Since: 1,
				Doc:   "ONNX Runtime's LayerNormalization-1 (as opset 17): Y = (X - mean) * InvStdDev * Scale + B over axes [axis, rank)",
				Infer: op.Infer, Compile: op.Compile}}
		}
	}
	return nil
}

// normRow writes (x - mean) * inv * gamma + beta into out, with mean 0 for
// rms, and returns the mean and inv = 1/sqrt(variance + eps).
func normRow[F tensor.Float](x, out, gamma, beta []F, eps float64, rms bool) (mean, inv float64) {
	if x32, ok := any(x).([]float32); ok {
		// float32 rows: the statistics in float64 and the affine map in
		// float32, vectorized.
		m, v := vecmath.Moments(x32, rms)
		inv = 1 / math.Sqrt(v+eps)
		vecmath.Affine(any(out).([]float32), x32, any(gamma).([]float32), any(beta).([]float32), float32(m), float32(inv))
		return m, inv
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
	inv = 1 / math.Sqrt(s2/n+eps)
	for j, v := range x {
		o := (float64(v) - mean) * inv * float64(gamma[j])
		if beta != nil {
			o += float64(beta[j])
		}
		out[j] = F(o)
	}
	return mean, inv
}

type skipNorm struct {
	rms     bool
	eps     float64
	outputs []bool
}

func compileSkipNorm(rms bool) func(*ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		p := &skipNorm{rms: rms, eps: float64(n.Float("epsilon", 1e-12)), outputs: present(n.Outputs)}
		if err := n.Err(); err != nil {
			return nil, err
		}
		if p.eps < 0 {
			return nil, fmt.Errorf("epsilon %g must not be negative", p.eps)
		}
		names := []string{"input", "skip", "gamma", "beta", "bias"}
		maxIn := 5
		if rms {
			names = []string{"input", "skip", "gamma", "bias"}
			maxIn = 4
		}
		return floatio.Kernel(p, names, 3, maxIn, runSkipNorm[float32], runSkipNorm[float64]), nil
	}
}

// present reports which node outputs are named.
func present(outputs []string) []bool {
	out := make([]bool, len(outputs))
	for i, o := range outputs {
		out[i] = o != ""
	}
	return out
}

func inferSkipNorm(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input missing")
	}
	out := make([]tensor.Type, max(1, len(n.Outputs)))
	for i := range out {
		out[i] = in[0]
	}
	stat := tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}
	if in[0].HasShape && len(in[0].Shape) > 0 {
		stat.HasShape = true
		stat.Shape = append(append([]tensor.Dim{}, in[0].Shape[:len(in[0].Shape)-1]...), tensor.Dim{Size: 1})
	}
	for i := 1; i < len(out) && i < 3; i++ {
		out[i] = stat
	}
	return out, nil
}

// runSkipNorm: input is (..., H); skip broadcasts to it; gamma, beta and
// bias are (H).
func runSkipNorm[F tensor.Float](c *ops.Ctx, p *skipNorm, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	sh := in[0].Shape()
	if len(sh) < 2 {
		return nil, fmt.Errorf("input has shape %v, want (batch, sequence, hidden) or (tokens, hidden)", sh)
	}
	hidden := sh[len(sh)-1]
	x, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	skip, err := broadcastTo[F]("skip", in[1], sh)
	if err != nil {
		return nil, err
	}
	gamma, err := lastDimBias[F]("gamma", in[2], sh)
	if err != nil {
		return nil, err
	}
	var beta, bias []F
	if p.rms {
		bias, err = lastDimBias[F]("bias", opt(in, 3), sh)
	} else if beta, err = lastDimBias[F]("beta", opt(in, 3), sh); err == nil {
		bias, err = lastDimBias[F]("bias", opt(in, 4), sh)
	}
	if err != nil {
		return nil, err
	}
	want := func(i int) bool { return i < len(p.outputs) && p.outputs[i] }
	y, err := floatio.New[F](c, in[0].DType(), sh...)
	if err != nil {
		return nil, err
	}
	var statShape []int
	if want(1) || want(2) {
		statShape = append(append([]int{}, sh[:len(sh)-1]...), 1)
	}
	var mean, inv, sum floatio.Out[F]
	if want(1) {
		if mean, err = floatio.New[F](c, tensor.Float32, statShape...); err != nil {
			return nil, err
		}
	}
	if want(2) {
		if inv, err = floatio.New[F](c, tensor.Float32, statShape...); err != nil {
			return nil, err
		}
	}
	if want(3) {
		if sum, err = floatio.New[F](c, in[0].DType(), sh...); err != nil {
			return nil, err
		}
	}
	rows := 0
	if hidden > 0 {
		rows = len(x) / hidden
	}
	// Rows are independent: ranges of them run concurrently.
	sr := skipRows[F]{c: c, p: p, hidden: hidden, x: x, skip: skip, bias: bias, gamma: gamma, beta: beta, out: y.Buf, mean: mean, inv: inv, sum: sum}
	grain := max(1, actGrain/max(hidden, 1))
	if kernelutil.Workers(c, rows, grain) <= 1 {
		err = sr.run(0, rows) // sr stays on the stack
	} else {
		shared := sr
		err = kernelutil.Parallel(c, rows, grain, shared.run)
	}
	if err != nil {
		return nil, err
	}
	res := c.Results(max(1, len(p.outputs)))
	res[0] = y.Done()
	for i, o := range []floatio.Out[F]{mean, inv, sum} {
		if o.T != nil {
			res[i+1] = o.Done()
		}
	}
	return res, nil
}

// skipRows is one SkipLayerNormalization's rows.
type skipRows[F tensor.Float] struct {
	c                               *ops.Ctx
	p                               *skipNorm
	hidden                          int
	x, skip, bias, gamma, beta, out []F
	mean, inv, sum                  floatio.Out[F]
}

// run computes rows [lo, hi).
func (a *skipRows[F]) run(lo, hi int) error {
	// Locals, not fields, in the inner loops.
	x, skip, bias, out, hidden := a.x, a.skip, a.bias, a.out, a.hidden
	for r := lo; r < hi; r++ {
		if (r-lo)%256 == 0 {
			if err := a.c.Check(); err != nil {
				return err
			}
		}
		o := r * hidden
		// The sum x + skip (+ bias) goes to its output when it is wanted,
		// else to the output row, which normRow then overwrites in place
		// (it reads element j before it writes it).
		s := out[o : o+hidden]
		if a.sum.T != nil {
			s = a.sum.Buf[o : o+hidden]
		}
		if s32, ok := any(s).([]float32); ok {
			// The same float32 adds, vectorized.
			vecmath.Add(s32, any(x[o:o+hidden]).([]float32), any(skip[o:o+hidden]).([]float32))
			if bias != nil {
				vecmath.Add(s32, s32, any(bias).([]float32))
			}
		} else {
			for j := range s {
				v := x[o+j] + skip[o+j]
				if bias != nil {
					v += bias[j]
				}
				s[j] = v
			}
		}
		m, is := normRow(s, out[o:o+hidden], a.gamma, a.beta, a.p.eps, a.p.rms)
		if a.mean.T != nil {
			a.mean.Buf[r] = F(m)
		}
		if a.inv.T != nil {
			a.inv.Buf[r] = F(is)
		}
	}
	return nil
}

type simplifiedNorm struct {
	axis    int64
	eps     float64
	stash   tensor.DType
	outputs []bool
}

func compileSimplifiedNorm(n *ops.Node) (*ops.Kernel, error) {
	p := &simplifiedNorm{
		axis:    n.Int("axis", -1),
		eps:     float64(n.Float("epsilon", 1e-5)),
		stash:   tensor.DType(n.Int("stash_type", 1)),
		outputs: present(n.Outputs),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if !floatio.Supported(p.stash) {
		return nil, fmt.Errorf("stash_type %d, want a float dtype (1 for float32)", p.stash)
	}
	return floatio.Kernel(p, []string{"X", "scale"}, 2, 2, runSimplifiedNorm[float32], runSimplifiedNorm[float64]), nil
}

// runSimplifiedNorm: X is (outer, inner) split at axis; scale has inner
// elements.
func runSimplifiedNorm[F tensor.Float](c *ops.Ctx, p *simplifiedNorm, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	sh := in[0].Shape()
	axis, err := ops.NormAxis(p.axis, len(sh))
	if err != nil {
		return nil, err
	}
	inner := 1
	for _, d := range sh[axis:] {
		inner *= d
	}
	scale, err := broadcastTo[F]("scale", in[1], sh[axis:])
	if err != nil {
		return nil, err
	}
	x, y, err := floatio.Like[F](c, in[0])
	if err != nil {
		return nil, err
	}
	var inv floatio.Out[F]
	if len(p.outputs) > 1 && p.outputs[1] {
		ssh := append([]int{}, sh[:axis]...)
		for range sh[axis:] {
			ssh = append(ssh, 1)
		}
		if inv, err = floatio.New[F](c, p.stash, ssh...); err != nil {
			return nil, err
		}
	}
	for r := 0; r*inner < len(x) && inner > 0; r++ {
		o := r * inner
		_, is := normRow(x[o:o+inner], y.Buf[o:o+inner], scale, nil, p.eps, true)
		if inv.T != nil {
			inv.Buf[r] = F(is)
		}
	}
	res := make([]*tensor.Tensor, max(1, len(p.outputs)))
	res[0] = y.Done()
	if inv.T != nil {
		res[1] = inv.Done()
	}
	return res, nil
}

type embedNorm struct {
	eps     float64
	outputs []bool
}

func compileEmbedNorm(n *ops.Node) (*ops.Kernel, error) {
	p := &embedNorm{eps: float64(n.Float("epsilon", 1e-12)), outputs: present(n.Outputs)}
	n.Int("mask_index_type", 1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 9); err != nil {
			return nil, err
		}
		if opt(in, 2) == nil {
			return nil, fmt.Errorf("input 2 (word_embedding) is required")
		}
		for i, name := range []string{2: "word_embedding", 3: "position_embedding", 4: "segment_embedding", 5: "gamma", 6: "beta"} {
			if name != "" {
				if err := floatio.Check(name, opt(in, i)); err != nil {
					return nil, err
				}
			}
		}
		if floatio.Wide(in[2].DType()) {
			return runEmbedNorm[float64](c, p, in)
		}
		return runEmbedNorm[float32](c, p, in)
	}}, nil
}

// ids reads an optional int32/int64 index tensor that must hold n values
// in [0, limit).
func ids(name string, t *tensor.Tensor, n, limit int) ([]int64, error) {
	if t == nil {
		return nil, nil
	}
	v, err := ops.Ints64(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(v) != n {
		return nil, fmt.Errorf("%s has shape %v, want %d values", name, t.Shape(), n)
	}
	for _, x := range v {
		if x < 0 || x >= int64(limit) {
			return nil, fmt.Errorf("%s value %d out of range [0, %d)", name, x, limit)
		}
	}
	return v, nil
}

// table checks an embedding table (rows, hidden) and loads it.
func table[F tensor.Float](name string, t *tensor.Tensor, hidden int) ([]F, int, error) {
	if t == nil {
		return nil, 0, nil
	}
	sh := t.Shape()
	if len(sh) != 2 || (hidden >= 0 && sh[1] != hidden) {
		return nil, 0, fmt.Errorf("%s has shape %v, want (rows, %d)", name, sh, hidden)
	}
	v, err := floatio.Load[F](t)
	return v, sh[0], err
}

// runEmbedNorm: input_ids, segment_ids, mask are (B, S); position_ids is
// (B, S) or (1, S); the tables are (rows, H); output is (B, S, H).
func runEmbedNorm[F tensor.Float](c *ops.Ctx, p *embedNorm, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	is := in[0].Shape()
	if len(is) != 2 {
		return nil, fmt.Errorf("input_ids has shape %v, want (batch, sequence)", is)
	}
	bsz, seq := is[0], is[1]
	ws := in[2].Shape()
	if len(ws) != 2 {
		return nil, fmt.Errorf("word_embedding has shape %v, want (vocabulary, hidden)", ws)
	}
	hidden := ws[1]
	word, nWord, err := table[F]("word_embedding", in[2], hidden)
	if err != nil {
		return nil, err
	}
	pos, nPos, err := table[F]("position_embedding", opt(in, 3), hidden)
	if err != nil {
		return nil, err
	}
	seg, nSeg, err := table[F]("segment_embedding", opt(in, 4), hidden)
	if err != nil {
		return nil, err
	}
	if pos == nil || opt(in, 5) == nil {
		return nil, fmt.Errorf("position_embedding and gamma are required")
	}
	gamma, err := lastDimBias[F]("gamma", in[5], ws)
	if err != nil {
		return nil, err
	}
	beta, err := lastDimBias[F]("beta", opt(in, 6), ws)
	if err != nil {
		return nil, err
	}
	wordIDs, err := ids("input_ids", in[0], bsz*seq, nWord)
	if err != nil {
		return nil, err
	}
	if (opt(in, 1) == nil) != (seg == nil) {
		return nil, fmt.Errorf("segment_ids and segment_embedding must be given together")
	}
	segIDs, err := ids("segment_ids", opt(in, 1), bsz*seq, nSeg)
	if err != nil {
		return nil, err
	}
	var posIDs []int64
	posStride := 0 // 0 when position_ids (1, S) serve every batch row
	if pt := opt(in, 8); pt != nil {
		n := seq
		if pt.Len() == bsz*seq {
			n, posStride = bsz*seq, seq
		}
		if posIDs, err = ids("position_ids", pt, n, nPos); err != nil {
			return nil, err
		}
	} else if seq > nPos {
		return nil, fmt.Errorf("sequence length %d exceeds the %d rows of position_embedding", seq, nPos)
	}
	var mask []int64
	if mt := opt(in, 7); mt != nil {
		if mask, err = ops.Ints64(mt); err != nil {
			return nil, fmt.Errorf("mask: %w", err)
		}
		if len(mask) != bsz*seq {
			return nil, fmt.Errorf("mask has shape %v, want (%d, %d)", mt.Shape(), bsz, seq)
		}
	}
	want := func(i int) bool { return i < len(p.outputs) && p.outputs[i] }
	y, err := floatio.New[F](c, in[2].DType(), bsz, seq, hidden)
	if err != nil {
		return nil, err
	}
	var sum floatio.Out[F]
	if want(2) {
		if sum, err = floatio.New[F](c, in[2].DType(), bsz, seq, hidden); err != nil {
			return nil, err
		}
	}
	e := make([]F, hidden)
	for b := 0; b < bsz; b++ {
		for s := 0; s < seq; s++ {
			t := b*seq + s
			w := word[int(wordIDs[t])*hidden:][:hidden]
			pi := s
			if posIDs != nil {
				pi = int(posIDs[b*posStride+s])
			}
			pr := pos[pi*hidden:][:hidden]
			for j := range e {
				e[j] = w[j] + pr[j]
			}
			if segIDs != nil {
				sr := seg[int(segIDs[t])*hidden:][:hidden]
				for j := range e {
					e[j] += sr[j]
				}
			}
			normRow(e, y.Buf[t*hidden:][:hidden], gamma, beta, p.eps, false)
			if sum.T != nil {
				copy(sum.Buf[t*hidden:], e)
			}
		}
	}
	res := make([]*tensor.Tensor, max(1, len(p.outputs)))
	res[0] = y.Done()
	if want(1) {
		mi, err := c.New(tensor.Int32, bsz)
		if err != nil {
			return nil, err
		}
		md := tensor.Data[int32](mi)
		for b := range md {
			for s := 0; s < seq && mask != nil; s++ {
				if mask[b*seq+s] == 1 {
					md[b]++
				}
			}
		}
		res[1] = mi
	}
	if sum.T != nil {
		res[2] = sum.Done()
	}
	return res, nil
}
