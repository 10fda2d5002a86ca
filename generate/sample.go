package generate

import (
	"math"
	"math/rand/v2"
	"slices"
)

// sampler turns one row's logits into a token, applying the processors in
// transformers' order: repetition penalty, then (sampling only)
// temperature, top-k, top-p.
type sampler struct {
	opts  *Options
	rng   *rand.Rand
	score []float64 // vocab scratch
	idx   []int     // vocab scratch for sorting
	seen  []bool    // vocab: tokens in the row so far
}

func newSampler(o *Options, vocab int) *sampler {
	return &sampler{opts: o, rng: rand.New(rand.NewPCG(o.Seed, 0x67656e)), score: make([]float64, vocab), idx: make([]int, vocab), seen: make([]bool, vocab)}
}

// pick chooses the next token from logits (vocab) given the row's tokens.
func (s *sampler) pick(logits []float32, row []int64, rowMask []int64) int {
	o := s.opts
	sc := s.score[:len(logits)]
	for i, v := range logits {
		sc[i] = float64(v)
	}
	if p := o.RepetitionPenalty; p > 0 && p != 1 {
		// transformers: score < 0 ? score·p : score/p, on every token of
		// the row (prompt included), once per distinct token.
		clear(s.seen)
		for j, id := range row {
			if rowMask[j] == 0 || id < 0 || int(id) >= len(sc) || s.seen[id] {
				continue
			}
			s.seen[id] = true
			if sc[id] < 0 {
				sc[id] *= p
			} else {
				sc[id] /= p
			}
		}
	}
	if !o.sampling() {
		best := 0
		for i, v := range sc {
			if v > sc[best] {
				best = i
			}
		}
		return best
	}
	if t := o.Temperature; t > 0 && t != 1 {
		for i := range sc {
			sc[i] /= t
		}
	}
	idx := s.idx[:len(sc)]
	for i := range idx {
		idx[i] = i
	}
	// Descending by score, ties by id, so draws are reproducible.
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case sc[a] > sc[b]:
			return -1
		case sc[a] < sc[b]:
			return 1
		}
		return a - b
	})
	keep := len(idx)
	if o.TopK > 0 && o.TopK < keep {
		// transformers keeps every token tied with the k-th score.
		kth := sc[idx[o.TopK-1]]
		keep = o.TopK
		for keep < len(idx) && sc[idx[keep]] == kth {
			keep++
		}
	}
	top := sc[idx[0]]
	total := 0.0
	for _, i := range idx[:keep] {
		total += math.Exp(sc[i] - top)
	}
	if p := o.TopP; p > 0 && p < 1 {
		// Keep the smallest prefix whose probability reaches p (at least one).
		cum := 0.0
		for k, i := range idx[:keep] {
			cum += math.Exp(sc[i]-top) / total
			if cum >= p {
				keep = k + 1
				break
			}
		}
		total = 0
		for _, i := range idx[:keep] {
			total += math.Exp(sc[i] - top)
		}
	}
	u := s.rng.Float64() * total
	for _, i := range idx[:keep] {
		u -= math.Exp(sc[i] - top)
		if u < 0 {
			return i
		}
	}
	return idx[keep-1]
}
