// Package flash is gort's fused float32 attention kernel, shared by the
// com.microsoft attention ops and ONNX Attention:
//
//	out = softmax(softcap(scale · Q Kᵀ) + bias) V
//
// computed flash-style: per (batch, head, block of query rows) it walks
// the keys in blocks, scores a block with a small GEMM, keeps a running
// maximum and sum per query row (the online softmax, rescaling what was
// accumulated when the maximum grows) and adds P·V of the block into the
// output. No (S, T) score matrix is ever held, only a (rows, keys) tile per
// worker, and scratch is reused across tasks and runs.
package flash

import (
	"fmt"
	"math"
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"github.com/gort-ml/gort/ops/internal/vecmath"
	"github.com/gort-ml/gort/ops/linalg"
)

// Problem is one attention: q is (B, N, S, DK), k (B, KVN, T, DK) and v
// (B, KVN, T, DV), out (B, N, S, DV); query head h reads key/value head
// h / (N / KVN).
type Problem struct {
	B, N, KVN, S, T, DK, DV int
	// Row (b, h, i) of Q starts at b*QB + h*QH + i*QS, row (b, hk, j) of
	// K at b*KB + hk*KH + j*KS, of V at b*VB + hk*VH + j*VS, and row (b, h,
	// i) of Out at b*OB + h*OH + i*OS: contiguous (B, H, S, D) tensors and
	// heads interleaved in (B, S, H*D) rows alike.
	Q          []float32
	QB, QH, QS int
	K          []float32
	KB, KH, KS int
	V          []float32
	VB, VH, VS int
	Out        []float32
	OB, OH, OS int
	// Scale multiplies Q Kᵀ; Softcap, when positive, maps a score x to
	// Softcap · tanh(x / Softcap) before the bias.
	Scale, Softcap float64
	// Keys gives the keys [lo, hi) query i of batch b attends to (nil: all
	// T); keys outside get probability 0, and a query with none, or whose
	// scores are all -Inf, gets a zero output row.
	Keys func(b, i int) (lo, hi int)
	// Bias, when set, adds the additive bias (masks) of query row (b, h,
	// i) to row, which holds zeros for keys [0, hi) on entry.
	Bias func(b, h, i int, row []float64)
	// KeyBias, when set instead of Bias, adds a bias that depends on the
	// batch and the key only (a key padding mask) to row (zeros, T long on
	// entry); it is called once per task, not once per query row.
	KeyBias func(b int, row []float64)
	// Sink, when set, holds one more logit per query head that takes
	// probability but has no value.
	Sink []float64
}

const (
	// qBlock query rows share a key tile; kBlock keys make one tile.
	qBlock = 128
	kBlock = 256
	// biasScratch bounds the float32 bias rows of a task: with a per-row
	// bias over many keys, tasks take fewer query rows.
	biasScratch = 1 << 20
)

// scratch is one worker's buffers, kept in a pool across runs.
type scratch struct {
	s      []float32 // scores, then probabilities: qBlock x kBlock
	m      [qBlock]float32
	l      [qBlock]float64
	lo, hi [qBlock]int
	biased [qBlock]bool // the row has a nonzero bias
	boff   [qBlock]int  // where the row's bias starts in bias
	bias   []float32    // bias rows over the task's key span
	row    []float64    // one bias row as Bias writes it
}

var scratchPool = sync.Pool{New: func() any { return &scratch{s: make([]float32, qBlock*kBlock)} }}

// Run computes p.Out, splitting (batch, head, query block) tasks over
// c.Threads goroutines.
func Run(c *ops.Ctx, p *Problem) error {
	if err := p.check(); err != nil {
		return err
	}
	qb := qBlock
	if p.Bias != nil {
		qb = max(1, min(qBlock, biasScratch/max(p.T, 1)))
	}
	nqb := (p.S + qb - 1) / qb
	r := runners.Get().(*runner)
	r.p, r.nqb, r.qb = p, nqb, qb
	err := kernelutil.Dynamic(c, p.B*p.N*nqb, r.work)
	r.p = nil
	runners.Put(r)
	return err
}

// runner is one Run's worker function and what it reads, pooled so that
// a Run makes no closure.
type runner struct {
	p       *Problem
	nqb, qb int
	work    func(next func() (int, bool)) // r.run, bound once
}

var runners = sync.Pool{New: func() any {
	r := new(runner)
	r.work = r.run
	return r
}}

func (r *runner) run(next func() (int, bool)) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	for t, ok := next(); ok; t, ok = next() {
		r.p.task(sc, t/r.nqb, t%r.nqb*r.qb, r.qb)
	}
}

// check fails when the buffers are too short for the sizes (a caller bug,
// reported rather than left to the GEMM's panic).
func (p *Problem) check() error {
	if p.B < 0 || p.N <= 0 || p.KVN <= 0 || p.N%p.KVN != 0 || p.S < 0 || p.T < 0 || p.DK < 0 || p.DV < 0 {
		return fmt.Errorf("flash attention: bad sizes B %d, N %d, KVN %d, S %d, T %d, DK %d, DV %d", p.B, p.N, p.KVN, p.S, p.T, p.DK, p.DV)
	}
	if p.B == 0 || p.S == 0 {
		return nil
	}
	last := func(h, s, b, hs, ss int) int { return (p.B-1)*b + (h-1)*hs + (s-1)*ss }
	short := len(p.Q) < last(p.N, p.S, p.QB, p.QH, p.QS)+p.DK || len(p.Out) < last(p.N, p.S, p.OB, p.OH, p.OS)+p.DV
	if p.T > 0 {
		short = short || len(p.K) < last(p.KVN, p.T, p.KB, p.KH, p.KS)+p.DK || len(p.V) < last(p.KVN, p.T, p.VB, p.VH, p.VS)+p.DV
	}
	// Row strides below the row lengths would overlap rows: a caller that
	// left them unset.
	if (p.S > 1 && (p.QS < p.DK || p.OS < p.DV)) || (p.T > 1 && (p.KS < p.DK || p.VS < p.DV)) {
		return fmt.Errorf("flash attention: row strides Q %d, K %d, V %d, Out %d below head sizes %d and %d", p.QS, p.KS, p.VS, p.OS, p.DK, p.DV)
	}
	switch {
	case short, p.Sink != nil && len(p.Sink) < p.N:
		return fmt.Errorf("flash attention: buffers too short for B %d, N %d, S %d, T %d", p.B, p.N, p.S, p.T)
	}
	return nil
}

// task computes query rows [i0, i0+qb) of (batch, head) bh, qb <= qBlock.
func (p *Problem) task(sc *scratch, bh, i0, qb int) {
	b, h := bh/p.N, bh%p.N
	rows := min(qb, p.S-i0)
	q := p.Q[b*p.QB+h*p.QH+i0*p.QS:]
	out := p.Out[b*p.OB+h*p.OH+i0*p.OS:]
	orow := func(r int) []float32 { return out[r*p.OS:][:p.DV] }

	// The key span [klo, khi) of the block's rows.
	klo, khi := p.T, 0
	for r := range rows {
		lo, hi := 0, p.T
		if p.Keys != nil {
			lo, hi = p.Keys(b, i0+r)
			hi = min(max(hi, 0), p.T)
			lo = min(max(lo, 0), hi)
		}
		sc.lo[r], sc.hi[r], sc.biased[r] = lo, hi, false
		if lo < hi {
			klo, khi = min(klo, lo), max(khi, hi)
		}
		sc.m[r], sc.l[r] = float32(math.Inf(-1)), 0
	}
	if khi <= klo {
		for r := range rows {
			clear(orow(r))
		}
		return
	}
	span := khi - klo
	hk := h / (p.N / p.KVN)
	kh, vh := p.K[b*p.KB+hk*p.KH:], p.V[b*p.VB+hk*p.VH:]
	switch {
	case p.Bias != nil:
		sc.loadBias(p, b, h, i0, rows, klo, span)
	case p.KeyBias != nil:
		sc.loadKeyBias(p, b, rows, klo, khi)
	}

	first := true
	scale := float32(p.Scale)
	for j0 := klo; j0 < khi; j0 += kBlock {
		kn := min(kBlock, khi-j0)
		s := sc.s[:rows*kn]
		// alpha 1: the GEMM packs Q with its vector transpose, and the
		// scale folds into the exponent below.
		linalg.SgemmEx(false, true, rows, kn, p.DK, 1, q, p.QS, kh[j0*p.KS:], p.KS, 0, s, kn, linalg.Epilogue{}, nil)
		for r := range rows {
			pr := s[r*kn:][:kn]
			lo, hi := sc.lo[r], sc.hi[r]
			a, e := max(lo, j0)-j0, min(hi, j0+kn)-j0 // the row's keys in the tile
			if a >= e {
				clear(pr)
				continue
			}
			x := pr[a:e]
			// The logits are f·x: f is the scale while x holds raw dot
			// products, 1 once they are scaled.
			f := scale
			switch {
			case p.Softcap > 0:
				for j, v := range x {
					x[j] = float32(p.Softcap * math.Tanh(float64(v)*p.Scale/p.Softcap))
				}
				f = 1
				if sc.biased[r] {
					vecmath.ScaleAdd(x, 1, sc.bias[sc.boff[r]+j0-klo+a:])
				}
			case sc.biased[r]:
				vecmath.ScaleAdd(x, scale, sc.bias[sc.boff[r]+j0-klo+a:])
				f = 1
			case scale <= 0:
				vecmath.Scale(x, scale)
				f = 1
			}
			bm := vecmath.Max(x)
			if math.IsInf(float64(bm), -1) {
				clear(pr)
				continue
			}
			bm *= f
			clear(pr[:a])
			clear(pr[e:])
			mOld := sc.m[r]
			mNew := max(mOld, bm)
			if mNew > mOld && !first && !math.IsInf(float64(mOld), -1) {
				corr := math.Exp(float64(mOld - mNew))
				sc.l[r] *= corr
				vecmath.Scale(orow(r), float32(corr))
			}
			sc.m[r] = mNew
			sc.l[r] += float64(vecmath.ExpSub(x, f, mNew))
		}
		beta := float32(1)
		if first {
			beta = 0
		}
		linalg.SgemmEx(false, false, rows, p.DV, kn, 1, s, kn, vh[j0*p.VS:], p.VS, beta, out, p.OS, linalg.Epilogue{}, nil)
		first = false
	}

	for r := range rows {
		o := orow(r)
		m, l := sc.m[r], sc.l[r]
		if math.IsInf(float64(m), -1) {
			clear(o)
			continue
		}
		if p.Sink != nil {
			l += math.Exp(p.Sink[h] - float64(m))
		}
		vecmath.Scale(o, float32(1/l))
	}
}

// loadBias fills sc.bias with the float32 bias of rows [i0, i0+rows) over
// keys [klo, klo+span), and sc.biased with which rows have one.
func (sc *scratch) loadBias(p *Problem, b, h, i0, rows, klo, span int) {
	sc.grow(rows*span, p.T)
	for r := range rows {
		lo, hi := sc.lo[r], sc.hi[r]
		if lo >= hi {
			continue
		}
		row := sc.row[:hi]
		clear(row)
		p.Bias(b, h, i0+r, row)
		sc.boff[r] = r * span
		sc.biased[r] = convert(sc.bias[r*span:][lo-klo:hi-klo], row[lo:hi])
	}
}

// loadKeyBias is loadBias for p.KeyBias: one row that every row shares.
func (sc *scratch) loadKeyBias(p *Problem, b, rows, klo, khi int) {
	sc.grow(khi-klo, p.T)
	row := sc.row[:p.T]
	clear(row)
	p.KeyBias(b, row)
	nonzero := convert(sc.bias[:khi-klo], row[klo:khi])
	for r := range rows {
		sc.boff[r], sc.biased[r] = 0, nonzero
	}
}

// grow makes sc.bias hold at least n values and sc.row t.
func (sc *scratch) grow(n, t int) {
	if cap(sc.bias) < n {
		sc.bias = make([]float32, n)
	}
	sc.bias = sc.bias[:cap(sc.bias)]
	if cap(sc.row) < t {
		sc.row = make([]float64, t)
	}
}

// convert sets dst to the float32 values of src when one is nonzero, and
// reports whether one was. Masks that mask nothing are common (BERT's
// all-ones mask), so it looks before it converts.
func convert(dst []float32, src []float64) bool {
	var bits uint64
	for _, v := range src {
		bits |= math.Float64bits(v) << 1 // ±0 alike
	}
	if bits == 0 {
		return false
	}
	for j, v := range src {
		dst[j] = float32(v)
	}
	return true
}
