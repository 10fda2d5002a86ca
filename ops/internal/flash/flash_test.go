package flash

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
)

// reference is the attention of p in float64, row by row: the full score
// row, its bias and key range, a max-subtracted softmax (a row with no
// finite score gives zeros), then the weighted sum of values.
func reference(p *Problem) []float64 {
	out := make([]float64, len(p.Out))
	group := p.N / p.KVN
	row := make([]float64, p.T)
	for b := range p.B {
		for h := range p.N {
			var kh, vh []float32
			if p.T > 0 {
				kh, vh = p.K[b*p.KB+h/group*p.KH:], p.V[b*p.VB+h/group*p.VH:]
			}
			for i := range p.S {
				lo, hi := 0, p.T
				if p.Keys != nil {
					lo, hi = p.Keys(b, i)
				}
				clear(row)
				if p.Bias != nil && hi > 0 {
					p.Bias(b, h, i, row[:hi])
				}
				if p.KeyBias != nil {
					p.KeyBias(b, row)
				}
				q := p.Q[b*p.QB+h*p.QH+i*p.QS:][:p.DK]
				mx := math.Inf(-1)
				for j := range p.T {
					if j < lo || j >= hi {
						row[j] = math.Inf(-1)
						continue
					}
					var d float64
					for x, qv := range q {
						d += float64(qv) * float64(kh[j*p.KS+x])
					}
					d *= p.Scale
					if p.Softcap > 0 {
						d = p.Softcap * math.Tanh(d/p.Softcap)
					}
					row[j] += d
					mx = max(mx, row[j])
				}
				o := out[b*p.OB+h*p.OH+i*p.OS:][:p.DV]
				if math.IsInf(mx, -1) {
					continue
				}
				var sum float64
				if p.Sink != nil {
					sum = math.Exp(p.Sink[h] - mx)
				}
				for j := range p.T {
					row[j] = math.Exp(row[j] - mx)
					sum += row[j]
				}
				for j := range p.T {
					for x := range o {
						o[x] += row[j] / sum * float64(vh[j*p.VS+x])
					}
				}
			}
		}
	}
	return out
}

func randf(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

type tcase struct {
	name                    string
	b, n, kvN, s, t, dk, dv int
	bsnh                    bool // Q and Out as (B, S, N*D) rows
	causal, window, padded  bool
	bias, masked, softcap   bool
	keyBias, sink           bool
}

func (tc tcase) problem(rng *rand.Rand) *Problem {
	p := &Problem{B: tc.b, N: tc.n, KVN: tc.kvN, S: tc.s, T: tc.t, DK: tc.dk, DV: tc.dv,
		Q: randf(rng, tc.b*tc.n*tc.s*tc.dk), K: randf(rng, tc.b*tc.kvN*tc.t*tc.dk), V: randf(rng, tc.b*tc.kvN*tc.t*tc.dv),
		Out: make([]float32, tc.b*tc.n*tc.s*tc.dv), Scale: 1 / math.Sqrt(float64(tc.dk))}
	// Larger scores make the running max move between key blocks.
	for i := range p.Q {
		p.Q[i] *= 3
	}
	if tc.bsnh {
		p.QB, p.QH, p.QS = tc.s*tc.n*tc.dk, tc.dk, tc.n*tc.dk
		p.OB, p.OH, p.OS = tc.s*tc.n*tc.dv, tc.dv, tc.n*tc.dv
		p.KB, p.KH, p.KS = tc.t*tc.kvN*tc.dk, tc.dk, tc.kvN*tc.dk
		p.VB, p.VH, p.VS = tc.t*tc.kvN*tc.dv, tc.dv, tc.kvN*tc.dv
	} else {
		p.QB, p.QH, p.QS = tc.n*tc.s*tc.dk, tc.s*tc.dk, tc.dk
		p.OB, p.OH, p.OS = tc.n*tc.s*tc.dv, tc.s*tc.dv, tc.dv
		p.KB, p.KH, p.KS = tc.kvN*tc.t*tc.dk, tc.t*tc.dk, tc.dk
		p.VB, p.VH, p.VS = tc.kvN*tc.t*tc.dv, tc.t*tc.dv, tc.dv
	}
	lens := make([]int, tc.b)
	for b := range lens {
		lens[b] = tc.t
		if tc.padded {
			lens[b] = rng.IntN(tc.t + 1) // some batches with no keys at all
		}
	}
	if tc.causal || tc.window || tc.padded {
		past := tc.t - tc.s
		p.Keys = func(b, i int) (int, int) {
			lo, hi := 0, lens[b]
			if tc.causal {
				hi = min(hi, past+i+1)
			}
			if tc.window {
				lo = max(0, past+i-40)
			}
			return min(lo, hi), hi
		}
	}
	if tc.bias || tc.masked {
		bias := make([]float64, tc.b*tc.n*tc.s*tc.t)
		for i := range bias {
			if tc.bias {
				bias[i] = rng.NormFloat64()
			}
			if tc.masked && rng.IntN(3) == 0 {
				bias[i] = math.Inf(-1)
			}
		}
		if tc.masked {
			// Fully masked rows: every key of query 1 of each head.
			for bh := range tc.b * tc.n {
				for j := range tc.t {
					bias[(bh*tc.s+1)*tc.t+j] = math.Inf(-1)
				}
			}
		}
		p.Bias = func(b, h, i int, row []float64) {
			for j, v := range bias[((b*tc.n+h)*tc.s+i)*tc.t:][:len(row)] {
				row[j] += v
			}
		}
	}
	if tc.keyBias {
		kb := make([]float64, tc.b*tc.t)
		for i := range kb {
			kb[i] = rng.NormFloat64()
			if rng.IntN(4) == 0 {
				kb[i] = math.Inf(-1)
			}
		}
		if tc.b > 1 {
			for j := range tc.t {
				kb[tc.t+j] = math.Inf(-1) // batch 1 fully masked
			}
		}
		p.KeyBias = func(b int, row []float64) {
			for j, v := range kb[b*tc.t:][:len(row)] {
				row[j] += v
			}
		}
	}
	if tc.softcap {
		p.Softcap = 2.5
	}
	if tc.sink {
		p.Sink = make([]float64, tc.n)
		for h := range p.Sink {
			p.Sink[h] = rng.NormFloat64()
		}
	}
	return p
}

func TestAgainstReference(t *testing.T) {
	cases := []tcase{
		{name: "bert", b: 2, n: 3, kvN: 3, s: 128, t: 128, dk: 64, dv: 64, bsnh: true},
		{name: "long", b: 1, n: 2, kvN: 2, s: 70, t: 600, dk: 32, dv: 24},
		{name: "odd", b: 2, n: 2, kvN: 1, s: 65, t: 257, dk: 7, dv: 5, bias: true},
		{name: "masked", b: 2, n: 2, kvN: 2, s: 67, t: 513, dk: 16, dv: 16, bsnh: true, masked: true, bias: true},
		{name: "causal", b: 1, n: 4, kvN: 2, s: 300, t: 300, dk: 16, dv: 16, causal: true},
		{name: "decode", b: 3, n: 4, kvN: 1, s: 1, t: 700, dk: 16, dv: 8, causal: true, padded: true},
		{name: "window", b: 2, n: 2, kvN: 2, s: 130, t: 400, dk: 16, dv: 16, causal: true, window: true, softcap: true, sink: true},
		{name: "keybias", b: 3, n: 2, kvN: 1, s: 140, t: 600, dk: 16, dv: 16, keyBias: true, causal: true},
		{name: "keybias_sink", b: 2, n: 2, kvN: 2, s: 20, t: 300, dk: 8, dv: 8, keyBias: true, sink: true, softcap: true},
		// Fewer query rows per task (bounded bias scratch), several tasks.
		{name: "longbias", b: 1, n: 1, kvN: 1, s: 60, t: 20000, dk: 4, dv: 4, bias: true, masked: true},
		{name: "nokeys", b: 2, n: 2, kvN: 2, s: 3, t: 0, dk: 4, dv: 4, bsnh: true},
		{name: "padded", b: 4, n: 2, kvN: 2, s: 20, t: 270, dk: 16, dv: 16, padded: true, masked: true, sink: true},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range cases {
		for _, threads := range []int{1, 3} {
			p := tc.problem(rng)
			for i := range p.Out {
				p.Out[i] = float32(math.NaN()) // every element must be written
			}
			if err := Run(&ops.Ctx{Threads: threads}, p); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			want := reference(p)
			for i, w := range want {
				if g := float64(p.Out[i]); !(math.Abs(g-w) <= 2e-5+2e-5*math.Abs(w)) {
					t.Fatalf("%s, %d threads: out[%d] = %v, want %v", tc.name, threads, i, g, w)
				}
			}
		}
	}
}

func TestShortBuffers(t *testing.T) {
	p := tcase{b: 1, n: 2, kvN: 2, s: 4, t: 4, dk: 4, dv: 4}.problem(rand.New(rand.NewPCG(1, 1)))
	p.V = p.V[:len(p.V)-1]
	if err := Run(nil, p); err == nil {
		t.Fatal("short V: no error")
	}
}
