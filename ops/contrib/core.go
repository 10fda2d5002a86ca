package contrib

import (
	"fmt"
	"math"
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/flash"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"github.com/gort-ml/gort/tensor"
)

// attend is scaled dot-product attention over contiguous head-major
// buffers, the part every attention op here shares:
//
//	q is (B, N, S, dk); k is (B, kvN, tcap, dk) and v (B, kvN, tcap, dv)
//	(query head h reads key/value head h / (N / kvN));
//	out is (B, S, N*dv).
//
// Query i of batch b scores keys [lo, hi) from keys(b, i): score =
// softcap(scale * q.k) + the bias row gives (additive masks and biases;
// nil for none), then softmax over [lo, hi); keys outside get probability 0
// and are never read (rows of a KV cache's capacity past its valid rows
// may hold anything).
// With sink set, head h's softmax has one more logit, sink[h], that takes
// probability but has no value (smooth softmax when it is 0).
type attend[F tensor.Float] struct {
	b, n, kvN, s, dk, dv, tcap int
	q, k, v                    []F
	scale, softcap             float64
	keys                       func(b, i int) (lo, hi int)
	bias                       func(b, h, i int, row []float64)
	// padded, when set, is the same masking as keys and bias for the
	// fused kernel, in a cheaper form (see useMask).
	padded *keyPadding
	// qh, kh and vh, when set, are where the rows of q, k and v lie
	// (views of a projection) instead of the contiguous layouts above.
	qh, kh, vh *heads
	sink       []float64
	// qk, when set, receives the (B, N, S, qkT) scores before the
	// softmax (qkMode 1) or the probabilities (qkMode 2); keys outside
	// [lo, hi) are left 0. qkT is tcap when 0.
	qk     []F
	qkMode int
	qkT    int
	// prob is the fused kernel's problem (in a, so that a pooled attend
	// makes none per run).
	prob flash.Problem
}

// attnChunk bounds the scores one task holds: query rows go through in
// chunks of about this many scores.
const attnChunk = 1 << 16

// run computes out. Float32 without a qk output goes to the fused kernel
// of ops/internal/flash (key blocks, online softmax, no (S, T) scores);
// the rest to materialized, below.
func (a *attend[F]) run(c *ops.Ctx, out []F) error {
	if q, ok := any(a.q).([]float32); ok && a.qk == nil {
		qh, kh, vh := a.layouts()
		p := &a.prob
		*p = flash.Problem{B: a.b, N: a.n, KVN: a.kvN, S: a.s, T: a.tcap, DK: a.dk, DV: a.dv,
			Q: q[qh.off:], QB: qh.sb, QH: qh.sh, QS: qh.ss,
			K: any(a.k).([]float32)[kh.off:], KB: kh.sb, KH: kh.sh, KS: kh.ss,
			V: any(a.v).([]float32)[vh.off:], VB: vh.sb, VH: vh.sh, VS: vh.ss,
			Out: any(out).([]float32), OB: a.s * a.n * a.dv, OH: a.dv, OS: a.n * a.dv,
			Scale: a.scale, Softcap: a.softcap, Keys: a.keys, Bias: a.bias, Sink: a.sink}
		if a.padded != nil {
			p.Keys, p.Bias, p.KeyBias = a.padded.keys, nil, a.padded.bias
		}
		return flash.Run(c, p)
	}
	return a.materialized(c, out)
}

// materialized computes out one (batch, head) pair per task: scores =
// Q K^T for a chunk of query rows (a GEMM), the row-wise masked softmax in
// float64 (filling the qk output when asked), then out = P V (a GEMM
// written straight into the (B, S, N*dv) output).
func (a *attend[F]) materialized(c *ops.Ctx, out []F) error {
	rows := max(1, min(a.s, attnChunk/max(a.tcap, 1)))
	qv, kv, vv := a.layouts()
	return kernelutil.Dynamic(c, a.b*a.n, func(next func() (int, bool)) {
		sc := make([]F, rows*a.tcap)
		row := make([]float64, a.tcap)
		for bh, ok := next(); ok; bh, ok = next() {
			a.materializedHead(bh, qv, kv, vv, rows, sc, row, out)
		}
	})
}

// materializedHead is materialized for (batch, head) bh, with scratch sc
// (rows x tcap) and row (tcap). A chunk of query rows reads the keys
// before the last one any of them attends (khi) only: its scores are
// (rows, khi).
func (a *attend[F]) materializedHead(bh int, qv, kv, vv heads, rows int, sc []F, row []float64, out []F) {
	group := a.n / a.kvN
	b, h := bh/a.n, bh%a.n
	kh, vh := a.k[kv.at(b, h/group):], a.v[vv.at(b, h/group):]
	qh := a.q[qv.at(b, h):]
	qkT := a.tcap
	if a.qkT > 0 {
		qkT = a.qkT
	}
	ld := a.n * a.dv
	for i0 := 0; i0 < a.s; i0 += rows {
		i1 := min(a.s, i0+rows)
		khi := 0
		for i := i0; i < i1; i++ {
			lo, hi := a.keyRange(b, i)
			if lo < hi {
				khi = max(khi, hi)
			}
		}
		if khi == 0 {
			for i := i0; i < i1; i++ {
				clear(out[((b*a.s+i)*a.n+h)*a.dv:][:a.dv])
			}
			continue
		}
		gemmLD(false, true, i1-i0, khi, a.dk, 1, qh[i0*qv.ss:], qv.ss, kh, kv.ss, sc, khi)
		for i := i0; i < i1; i++ {
			lo, hi := a.keyRange(b, i)
			p := sc[(i-i0)*khi:][:khi]
			if lo >= hi {
				clear(p)
				continue
			}
			r := row[:hi]
			clear(r)
			if a.bias != nil {
				a.bias(b, h, i, r)
			}
			mx := math.Inf(-1)
			for j := lo; j < hi; j++ {
				v := float64(p[j]) * a.scale
				if a.softcap > 0 {
					v = a.softcap * math.Tanh(v/a.softcap)
				}
				r[j] += v
				mx = max(mx, r[j])
			}
			var qk []F
			if a.qk != nil {
				qk = a.qk[(bh*a.s+i)*qkT:][:qkT]
			}
			if a.qkMode == 1 {
				for j := lo; j < hi; j++ {
					qk[j] = F(r[j])
				}
			}
			if a.sink != nil {
				softmaxSink(r[lo:hi], mx, a.sink[h])
			} else {
				softmax(r[lo:hi], mx)
			}
			clear(p)
			for j := lo; j < hi; j++ {
				p[j] = F(r[j])
			}
			if a.qkMode == 2 {
				copy(qk[lo:hi], p[lo:hi])
			}
		}
		gemmLD(false, false, i1-i0, a.dv, khi, 1, sc, khi, vh, vv.ss, out[((b*a.s+i0)*a.n+h)*a.dv:], ld)
	}
}

// keyRange is keys(b, i) within [0, tcap], as the fused kernel takes it.
func (a *attend[F]) keyRange(b, i int) (lo, hi int) {
	lo, hi = a.keys(b, i)
	hi = min(max(hi, 0), a.tcap)
	return min(max(lo, 0), hi), hi
}

// layouts returns where the rows of q, k and v lie: a.qh, a.kh and a.vh,
// or the contiguous layouts.
func (a *attend[F]) layouts() (q, k, v heads) {
	q, k, v = bnsh(a.b, a.n, a.s, a.dk), bnsh(a.b, a.kvN, a.tcap, a.dk), bnsh(a.b, a.kvN, a.tcap, a.dv)
	for _, p := range []struct{ dst, src *heads }{{&q, a.qh}, {&k, a.kh}, {&v, a.vh}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	return q, k, v
}

// keyPadding is masking without a per-row bias: a key range per query and
// a bias per batch and key (nil for none).
type keyPadding struct {
	keys func(b, i int) (lo, hi int)
	bias func(b int, row []float64)
}

// maskState is attend's masking (see useMask): a key mask and an
// attention bias (when hasAB), and the functions that read them, bound
// once (see bind) so that a pooled state makes no closure per run.
type maskState[F tensor.Float] struct {
	m, km       keyMask // km: m without the causal mask
	ab          attnBias[F]
	hasAB       bool
	pad         keyPadding
	all, causal func(b, i int) (lo, hi int)
	bias        func(b, h, i int, row []float64)
	keyBias     func(b int, row []float64)
}

// bind sets ms's functions to its methods.
func (ms *maskState[F]) bind() {
	ms.all, ms.causal, ms.bias, ms.keyBias = ms.allKeys, ms.causalKeys, ms.addBias, ms.addKeyBias
}

// allKeys is the mask's valid keys, [0, m.t).
func (ms *maskState[F]) allKeys(int, int) (int, int) { return 0, ms.m.t }

// causalKeys is the keys query i sees under the causal mask.
func (ms *maskState[F]) causalKeys(_, i int) (int, int) { return 0, min(ms.m.t, ms.m.past+i+1) }

func (ms *maskState[F]) addBias(b, h, i int, row []float64) {
	ms.m.add(b, i, row)
	if ms.hasAB {
		ms.ab.add(b, h, i, row)
	}
}

// addKeyBias is the key mask of batch b over row, which the fused kernel
// makes tcap long: only the valid keys take it.
func (ms *maskState[F]) addKeyBias(b int, row []float64) {
	ms.km.add(b, 0, row[:min(len(row), ms.km.t)])
}

// useMask sets a's keys and bias for the key mask and attention bias of ms
// over the mask's m.t keys, the first of tcap (the rest, a KV cache's free
// rows, are never attended), and a.padded where the fused kernel can do
// with less: a key padding mask (mask_index or key_padding_mask of shape
// (B), (2B) or (B, T)) alone is a bias per key, computed once per task
// instead of once per row, and the causal mask the key range [0,
// past+i+1). Its future keys' float32-lowest scores have probability 0
// exactly either way, unless the filter is about as low.
func (a *attend[F]) useMask(ms *maskState[F]) {
	m := &ms.m
	a.keys, a.bias, a.padded = ms.all, ms.bias, nil
	switch {
	case ms.hasAB, m.kind == mask3D, m.kind == mask4D, m.causal && !(math.Abs(m.filter) < 1e30):
		return
	}
	ms.pad = keyPadding{keys: ms.all}
	if m.causal {
		ms.pad.keys = ms.causal
	}
	if m.kind != maskNone {
		ms.km = *m
		ms.km.causal = false
		ms.pad.bias = ms.keyBias
	}
	a.padded = &ms.pad
}

// attnState is one projected.attend call's state, pooled.
type attnState[F tensor.Float] struct {
	a  attend[F]
	ms maskState[F]
	// hs holds copies of the projection's layouts, where a.qh, a.kh and
	// a.vh point: the projection itself can then live on its caller's
	// stack.
	hs [3]heads
}

var attnPools = [2]sync.Pool{{New: newAttnState[float32]}, {New: newAttnState[float64]}}

func attnPool[F tensor.Float]() *sync.Pool { return poolFor[F](&attnPools) }

// poolFor is pools[0] for float32 values, pools[1] for float64.
func poolFor[F tensor.Float](pools *[2]sync.Pool) *sync.Pool {
	if _, ok := any(F(0)).(float32); ok {
		return &pools[0]
	}
	return &pools[1]
}

func newAttnState[F tensor.Float]() any {
	st := new(attnState[F])
	st.ms.bind()
	return st
}

// layout returns a copy of h in st (nil for nil), for attend's a.qh, a.kh
// and a.vh (slot i).
func (st *attnState[F]) layout(i int, h *heads) *heads {
	if h == nil {
		return nil
	}
	st.hs[i] = *h
	return &st.hs[i]
}

// put drops the call's buffers and returns st to its pool.
func (st *attnState[F]) put() {
	st.a = attend[F]{}
	ms := &st.ms
	ms.m, ms.km, ms.ab, ms.hasAB, ms.pad = keyMask{}, keyMask{}, attnBias[F]{}, false, keyPadding{}
	attnPool[F]().Put(st)
}

// softmaxSink is softmax over s and one more logit, sink, left out of
// the result.
func softmaxSink(s []float64, mx, sink float64) {
	mx = max(mx, sink)
	sum := math.Exp(sink - mx)
	for j, v := range s {
		e := math.Exp(v - mx)
		s[j] = e
		sum += e
	}
	for j := range s {
		s[j] /= sum
	}
}

// parallel runs f(i) for i in [0, n) on up to c.Threads goroutines that
// take the next index from a shared counter, and reports cancellation.
func parallel(c *ops.Ctx, n int, f func(i int)) error {
	return kernelutil.Dynamic(c, n, func(next func() (int, bool)) {
		for i, ok := next(); ok; i, ok = next() {
			f(i)
		}
	})
}

// heads is a strided (B, N, S, D) view of a projection: element (b, h, s,
// d) is at off + b*sb + h*sh + s*ss + d.
type heads struct {
	b, n, s, d      int
	off, sb, sh, ss int
}

// at is the offset of row 0 of (b, h).
func (v heads) at(b, h int) int { return v.off + b*v.sb + h*v.sh }

// views is project without copies, when there is nothing to add to the
// rows (no past, no bias): Q, K and V are read where they lie. ok is false
// otherwise.
func views[F tensor.Float](q, k, v part[F]) (p *projected[F], ok bool) {
	if q.bias != nil || k.bias != nil || v.bias != nil || k.past != nil || v.past != nil {
		return nil, false
	}
	return &projected[F]{b: q.v.b, n: q.v.n, s: q.v.s, t: k.v.s, hk: k.v.d, hv: v.v.d,
		q: q.src, k: k.src, v: v.src, qh: &q.v, kh: &k.v, vh: &v.v}, true
}

// bsnh views x (B, S, ...) whose rows hold N heads of D values starting at
// column col of a row of width w.
func bsnh(b, s, n, d, w, col int) heads {
	return heads{b: b, n: n, s: s, d: d, off: col, sb: s * w, sh: d, ss: w}
}

// bnsh views a contiguous (B, N, S, D) tensor.
func bnsh(b, n, s, d int) heads {
	return heads{b: b, n: n, s: s, d: d, sb: n * s * d, sh: s * d, ss: d}
}

// gather copies the view's rows of src, plus bias (D per head, N*D in
// all, at bias[bcol:]; nil for none), into dst laid out as (B, N, tcap, D)
// at sequence offset at.
func gather[F tensor.Float](dst []F, tcap, at int, src []F, v heads, bias []F) {
	for b := 0; b < v.b; b++ {
		for h := 0; h < v.n; h++ {
			for s := 0; s < v.s; s++ {
				o := dst[((b*v.n+h)*tcap+at+s)*v.d:][:v.d]
				copy(o, src[v.off+b*v.sb+h*v.sh+s*v.ss:][:v.d])
				if bias != nil {
					for x, e := range bias[h*v.d:][:v.d] {
						o[x] += e
					}
				}
			}
		}
	}
}

// cache is the (B, N, T, D) concatenation of a past (B, N, P, D) and new
// rows, with T = P + new.
func cache[F tensor.Float](c *ops.Ctx, past []F, p int, src []F, v heads, bias []F) ([]F, error) {
	n, err := cacheLen(c, v, p+v.s)
	if err != nil {
		return nil, err
	}
	dst := make([]F, n)
	cacheInto(dst, past, p, src, v, bias)
	return dst, nil
}

// cacheLen is the element count of a (v.b, v.n, t, v.d) cache, checked
// against the session's limit.
func cacheLen(c *ops.Ctx, v heads, t int) (int, error) {
	n, err := tensor.NumElements([]int{v.b, v.n, t, v.d})
	if err != nil {
		return 0, err
	}
	if c != nil && c.MaxElements > 0 && n > c.MaxElements {
		return 0, fmt.Errorf("%w: key/value cache (%d, %d, %d, %d) has %d elements, the session allows %d", ops.ErrLimit, v.b, v.n, t, v.d, n, c.MaxElements)
	}
	return n, nil
}

// scratchPools hold the buffers of pooledCache, float32 and float64.
var scratchPools [2]sync.Pool

func scratchPool[F tensor.Float]() *sync.Pool { return poolFor[F](&scratchPools) }

// pooledCache is cache without a past, into a pooled buffer that the
// kernel gives back with putScratch once it no longer reads it (it must
// not reach an output).
func pooledCache[F tensor.Float](c *ops.Ctx, src []F, v heads, bias []F) (*[]F, error) {
	n, err := cacheLen(c, v, v.s)
	if err != nil {
		return nil, err
	}
	buf, _ := scratchPool[F]().Get().(*[]F)
	if buf == nil || cap(*buf) < n {
		b := make([]F, n)
		buf = &b
	}
	*buf = (*buf)[:n]
	cacheInto(*buf, nil, 0, src, v, bias)
	return buf, nil
}

// putScratch gives back a buffer of pooledCache (nil: none).
func putScratch[F tensor.Float](buf *[]F) {
	if buf != nil {
		scratchPool[F]().Put(buf)
	}
}

// cacheInto fills dst as cache does.
func cacheInto[F tensor.Float](dst, past []F, p int, src []F, v heads, bias []F) {
	t := p + v.s
	if p > 0 {
		for bh := 0; bh < v.b*v.n; bh++ {
			copy(dst[bh*t*v.d:], past[bh*p*v.d:][:p*v.d])
		}
	}
	gather(dst, t, p, src, v, bias)
}

// extendable reports whether the runtime lets the kernel write every one
// of ts in place past its valid rows (ops.Ctx.Extendable) and each holds
// F values, so a KV cache can be extended in its own buffer.
func extendable[F tensor.Float](c *ops.Ctx, ts ...*tensor.Tensor) bool {
	for _, t := range ts {
		if _, ok := t.Raw().([]F); !ok || !c.Extendable(t) {
			return false
		}
	}
	return true
}

// kvBuffer returns the present of a KV cache whose past buffer t (values
// buf) it shares: t itself, to be extended in place, when inPlace (see
// extendable), else a copy of it as an output of dtype dt.
func kvBuffer[F tensor.Float](c *ops.Ctx, dt tensor.DType, t *tensor.Tensor, buf []F, inPlace bool) (floatio.Out[F], error) {
	if inPlace {
		return floatio.Out[F]{T: t, Buf: buf}, nil
	}
	o, err := floatio.New[F](c, dt, t.Shape()...)
	if err != nil {
		return o, err
	}
	copy(o.Buf, buf)
	return o, nil
}
