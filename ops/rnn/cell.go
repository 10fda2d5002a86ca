package rnn

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/ops/nn"
	"github.com/gort-ml/gort/tensor"
)

var inputNames = [...]string{"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"}

// run checks the inputs and computes float64 inputs in float64, the other
// float dtypes in float32.
func (p *params) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	maxIn := 6
	if p.kind == cellLSTM {
		maxIn = 8
	}
	if err := ops.Want(in, 3, maxIn); err != nil {
		return nil, err
	}
	for i, t := range in {
		if i != 4 {
			if err := floatio.Check("input "+inputNames[i], t); err != nil {
				return nil, err
			}
		}
	}
	s, err := p.shapes(in)
	if err != nil {
		return nil, err
	}
	if floatio.Wide(in[0].DType()) {
		return runT[float64](c, p, s, in)
	}
	return runT[float32](c, p, s, in)
}

// dims are a run's sizes, checked against every input.
type dims struct {
	seq, batch, input, hidden int
	lens                      []int // per batch entry, each in [0, seq]
}

// shapes checks every input's shape and reads sequence_lens.
func (p *params) shapes(in []*tensor.Tensor) (*dims, error) {
	x, r := in[0], in[2]
	if x.Rank() != 3 {
		want := "[seq_length, batch_size, input_size]"
		if p.layout == 1 {
			want = "[batch_size, seq_length, input_size]"
		}
		return nil, fmt.Errorf("input X has shape %v, want %s", x.Shape(), want)
	}
	s := &dims{seq: x.Shape()[0], batch: x.Shape()[1], input: x.Shape()[2]}
	if p.layout == 1 {
		s.seq, s.batch = s.batch, s.seq
	}
	if r.Rank() != 3 {
		return nil, fmt.Errorf("input R has shape %v, want [num_directions, %d*hidden_size, hidden_size]", r.Shape(), p.kind.gates())
	}
	s.hidden = p.hidden
	if s.hidden == 0 {
		s.hidden = r.Shape()[2]
	}
	D, GH, H := p.dirs, p.kind.gates()*s.hidden, s.hidden
	want := func(i int, shape ...int) error {
		if i < len(in) && in[i] != nil && !tensor.SameShape(in[i].Shape(), shape) {
			return fmt.Errorf("input %s has shape %v, want %v (directions %d, hidden_size %d, layout %d)", inputNames[i], in[i].Shape(), shape, D, H, p.layout)
		}
		return nil
	}
	state := []int{D, s.batch, H}
	if p.layout == 1 {
		state = []int{s.batch, D, H}
	}
	for _, err := range []error{
		want(1, D, GH, s.input), want(2, D, GH, H), want(3, D, 2*GH),
		want(5, state...), want(6, state...), want(7, D, 3*H),
	} {
		if err != nil {
			return nil, err
		}
	}
	s.lens = make([]int, s.batch)
	for b := range s.lens {
		s.lens[b] = s.seq
	}
	if len(in) > 4 && in[4] != nil {
		lens, err := ops.Ints64(in[4])
		if err != nil {
			return nil, fmt.Errorf("input sequence_lens: %w", err)
		}
		if len(lens) != s.batch || in[4].Rank() != 1 {
			return nil, fmt.Errorf("input sequence_lens has shape %v, want [%d] (batch_size)", in[4].Shape(), s.batch)
		}
		for b, l := range lens {
			if l < 0 || l > int64(s.seq) {
				return nil, fmt.Errorf("sequence_lens[%d] is %d, out of range [0, %d] (seq_length)", b, l, s.seq)
			}
			s.lens[b] = int(l)
		}
	}
	return s, nil
}

// scratch allocates n elements of working memory under the session's limit.
func scratch[T tensor.Float](c *ops.Ctx, shape ...int) ([]T, error) {
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	if c != nil && c.MaxElements > 0 && n > c.MaxElements {
		return nil, fmt.Errorf("%w: working buffer %v has %d elements, the session allows %d", ops.ErrLimit, shape, n, c.MaxElements)
	}
	return make([]T, n), nil
}

// mulT sets C = A·Bᵀ: A is m×k (row stride lda), B is n×k (ldb), C is m×n (ldc).
func mulT[T tensor.Float](threads, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
		return
	}
	if a32, ok := any(a).([]float32); ok {
		nn.SgemmThreads(threads, false, true, m, n, k, 1, a32, lda, any(b).([]float32), ldb, 0, any(c).([]float32), ldc)
		return
	}
	for i := 0; i < m; i++ {
		ar := a[i*lda : i*lda+k]
		for j := 0; j < n; j++ {
			br := b[j*ldb : j*ldb+k]
			var s T
			for l, v := range ar {
				s += v * br[l]
			}
			c[i*ldc+j] = s
		}
	}
}

// loadOpt loads an optional input (nil when absent).
func loadOpt[T tensor.Float](in []*tensor.Tensor, i int) ([]T, error) {
	if i >= len(in) || in[i] == nil {
		return nil, nil
	}
	return floatio.Load[T](in[i])
}

func runT[T tensor.Float](c *ops.Ctx, p *params, s *dims, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	var ins [8][]T
	for i := range ins {
		if i == 4 {
			continue
		}
		var err error
		if ins[i], err = loadOpt[T](in, i); err != nil {
			return nil, fmt.Errorf("input %s: %w", inputNames[i], err)
		}
	}
	D, H := p.dirs, s.hidden
	yShape := []int{s.seq, D, s.batch, H}
	stShape := []int{D, s.batch, H}
	if p.layout == 1 {
		yShape = []int{s.batch, s.seq, D, H}
		stShape = []int{s.batch, D, H}
	}
	var outs [3]floatio.Out[T]
	for k := range outs {
		if !p.outputs[k] {
			continue
		}
		shape := stShape
		if k == 0 {
			shape = yShape
		}
		var err error
		if outs[k], err = floatio.New[T](c, in[0].DType(), shape...); err != nil {
			return nil, err
		}
	}
	r := &runner[T]{p: p, s: s, c: c, x: ins[0], w: ins[1], r: ins[2], b: ins[3], h0: ins[5], c0: ins[6], peep: ins[7],
		y: outs[0].Buf, yh: outs[1].Buf, yc: outs[2].Buf}
	for d := 0; d < D; d++ {
		if err := r.direction(d); err != nil {
			return nil, err
		}
	}
	res := make([]*tensor.Tensor, p.nOut)
	for k := range res {
		if p.outputs[k] {
			res[k] = outs[k].Done()
		}
	}
	return res, nil
}

// runner holds one run's inputs (as T) and output buffers (nil when not wanted).
type runner[T tensor.Float] struct {
	p                  *params
	s                  *dims
	c                  *ops.Ctx
	x, w, r, b, h0, c0 []T
	peep               []T
	y, yh, yc          []T
}

// yAt is the offset of Y[t, d, b, :] in layout order.
func (r *runner[T]) yAt(t, d, b int) int {
	s := r.s
	if r.p.layout == 1 {
		return ((b*s.seq+t)*r.p.dirs + d) * s.hidden
	}
	return ((t*r.p.dirs+d)*s.batch + b) * s.hidden
}

// stAt is the offset of state[d, b, :] (Y_h, Y_c, initial_h, initial_c) in layout order.
func (r *runner[T]) stAt(d, b int) int {
	if r.p.layout == 1 {
		return (b*r.p.dirs + d) * r.s.hidden
	}
	return (d*r.s.batch + b) * r.s.hidden
}

// xAt is the row of X[t, b, :] in layout order.
func (r *runner[T]) xAt(t, b int) int {
	if r.p.layout == 1 {
		return b*r.s.seq + t
	}
	return t*r.s.batch + b
}

func (p *params) clipped(v float64) float64 {
	if p.clip > 0 {
		return max(-p.clip, min(p.clip, v))
	}
	return v
}

// direction runs every time step of direction d.
func (r *runner[T]) direction(d int) error {
	p, s := r.p, r.s
	H, B, I := s.hidden, s.batch, s.input
	G := p.kind.gates()
	GH := G * H
	wd := r.w[d*GH*I : (d+1)*GH*I]
	rd := r.r[d*GH*H : (d+1)*GH*H]
	acts := p.acts[d*p.kind.nActs() : (d+1)*p.kind.nActs()]
	if B == 0 {
		return nil // every output is empty
	}

	// xw[row] = X[row]·Wdᵀ + Wb + Rb (rows in X's layout order); GRU with
	// linear_before_reset keeps Rbh apart, it is scaled by r.
	xw, err := scratch[T](r.c, s.seq*B, GH)
	if err != nil {
		return err
	}
	mulT(max(r.c.Threads, 1), s.seq*B, GH, I, r.x, I, wd, I, xw, GH)
	var rbh []T
	if r.b != nil {
		bd := r.b[d*2*GH : (d+1)*2*GH]
		bias := make([]T, GH)
		for j := range bias {
			bias[j] = bd[j] + bd[GH+j]
		}
		if p.kind == cellGRU && p.lbr {
			rbh = bd[GH+2*H : 2*GH]
			for j := 2 * H; j < GH; j++ {
				bias[j] = bd[j]
			}
		}
		for row := 0; row < s.seq*B; row++ {
			xr := xw[row*GH : (row+1)*GH]
			for j, v := range bias {
				xr[j] += v
			}
		}
	}

	h := make([]T, B*H)
	var cs []T
	if p.kind == cellLSTM {
		cs = make([]T, B*H)
	}
	for b := 0; b < B; b++ {
		if r.h0 != nil {
			copy(h[b*H:(b+1)*H], r.h0[r.stAt(d, b):])
		}
		if cs != nil && r.c0 != nil {
			copy(cs[b*H:(b+1)*H], r.c0[r.stAt(d, b):])
		}
	}
	var pi, po, pf []T
	if r.peep != nil {
		pd := r.peep[d*3*H : (d+1)*3*H]
		pi, po, pf = pd[:H], pd[H:2*H], pd[2*H:]
	}
	hr := make([]T, B*GH)
	var zs, rh []T // GRU without linear_before_reset: z and r ⊙ H between the two products
	if p.kind == cellGRU && !p.lbr {
		zs, rh = make([]T, B*H), make([]T, B*H)
	}
	for step := 0; step < s.seq; step++ {
		if err := r.c.Check(); err != nil {
			return err
		}
		if zs != nil {
			mulT(1, B, 2*H, H, h, H, rd, H, hr, GH)
		} else {
			mulT(1, B, GH, H, h, H, rd, H, hr, GH)
		}
		for b := 0; b < B; b++ {
			g, hb, hrb, ok := r.rows(d, step, b, xw, h, hr)
			if !ok {
				continue
			}
			switch {
			case p.kind == cellRNN:
				f := &acts[0]
				for j := range hb {
					hb[j] = T(f.apply(p.clipped(float64(g[j] + hrb[j]))))
				}
			case p.kind == cellLSTM:
				r.lstmCell(acts, g, hrb, hb, cs[b*H:(b+1)*H], pi, po, pf)
			case zs != nil:
				f := &acts[0]
				for j := range hb {
					zs[b*H+j] = T(f.apply(p.clipped(float64(g[j] + hrb[j]))))
					rg := f.apply(p.clipped(float64(g[H+j] + hrb[H+j])))
					rh[b*H+j] = T(rg) * hb[j]
				}
			default:
				f, gf := &acts[0], &acts[1]
				for j := range hb {
					z := f.apply(p.clipped(float64(g[j] + hrb[j])))
					rg := f.apply(p.clipped(float64(g[H+j] + hrb[H+j])))
					lin := float64(hrb[2*H+j])
					if rbh != nil {
						lin += float64(rbh[j])
					}
					hh := gf.apply(p.clipped(float64(g[2*H+j]) + rg*lin))
					hb[j] = T((1-z)*hh + z*float64(hb[j]))
				}
			}
		}
		if zs != nil {
			// Candidate with the reset applied before the product: (r ⊙ H)·Rhᵀ.
			mulT(1, B, H, H, rh, H, rd[2*H*H:], H, hr[2*H:], GH)
			gf := &acts[1]
			for b := 0; b < B; b++ {
				g, hb, hrb, ok := r.rows(d, step, b, xw, h, hr)
				if !ok {
					continue
				}
				for j := range hb {
					z := float64(zs[b*H+j])
					hh := gf.apply(p.clipped(float64(g[2*H+j] + hrb[2*H+j])))
					hb[j] = T((1-z)*hh + z*float64(hb[j]))
				}
			}
		}
		if r.y != nil {
			for b := 0; b < B; b++ {
				if t, ok := r.time(d, step, b); ok {
					copy(r.y[r.yAt(t, d, b):r.yAt(t, d, b)+H], h[b*H:(b+1)*H])
				}
			}
		}
	}
	for b := 0; b < B; b++ {
		if s.lens[b] == 0 {
			continue // an empty sequence has zero final states, as in ONNX Runtime
		}
		if r.yh != nil {
			copy(r.yh[r.stAt(d, b):r.stAt(d, b)+H], h[b*H:(b+1)*H])
		}
		if r.yc != nil && cs != nil {
			copy(r.yc[r.stAt(d, b):r.stAt(d, b)+H], cs[b*H:(b+1)*H])
		}
	}
	return nil
}

// time is the time index that step handles for batch entry b in direction
// d, and false when b's sequence has ended.
func (r *runner[T]) time(d, step, b int) (int, bool) {
	l := r.s.lens[b]
	if step >= l {
		return 0, false
	}
	if r.p.reverse[d] {
		return l - 1 - step, true
	}
	return step, true
}

// rows returns batch entry b's slices at this step of direction d: its
// gate inputs g (X·Wᵀ + biases), state hb and H·Rᵀ row hrb; ok is false
// when b's sequence has ended.
func (r *runner[T]) rows(d, step, b int, xw, h, hr []T) (g, hb, hrb []T, ok bool) {
	t, ok := r.time(d, step, b)
	if !ok {
		return nil, nil, nil, false
	}
	H, GH := r.s.hidden, r.p.kind.gates()*r.s.hidden
	row := r.xAt(t, b)
	return xw[row*GH : (row+1)*GH], h[b*H : (b+1)*H], hr[b*GH : (b+1)*GH], true
}

// lstmCell updates one batch entry's hidden state hb and cell state cb from
// the gate pre-activations g (X·Wᵀ + biases) and hrb (H·Rᵀ), gates in the
// order i, o, f, c.
func (r *runner[T]) lstmCell(acts []act, g, hrb, hb, cb, pi, po, pf []T) {
	p := r.p
	H := len(hb)
	f, ga, ha := &acts[0], &acts[1], &acts[2]
	for j := range hb {
		cPrev := float64(cb[j])
		var peepI, peepF, peepO float64
		if pi != nil {
			peepI, peepF, peepO = float64(pi[j]), float64(pf[j]), float64(po[j])
		}
		i := f.apply(p.clipped(float64(g[j]+hrb[j]) + peepI*cPrev))
		var fg float64
		if p.inputForget {
			fg = 1 - i
		} else {
			fg = f.apply(p.clipped(float64(g[2*H+j]+hrb[2*H+j]) + peepF*cPrev))
		}
		cand := ga.apply(p.clipped(float64(g[3*H+j] + hrb[3*H+j])))
		cNew := fg*cPrev + i*cand
		o := f.apply(p.clipped(float64(g[H+j]+hrb[H+j]) + peepO*cNew))
		cb[j] = T(cNew)
		hb[j] = T(o * ha.apply(cNew))
	}
}
