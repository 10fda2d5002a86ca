package generate

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/tokenizer"
)

// Options configure a Generator. The zero value decodes greedily, 32 new
// tokens, with the KV cache when the model has one.
type Options struct {
	// MaxNewTokens bounds the generated tokens per prompt (0: 32).
	MaxNewTokens int
	// Temperature > 0 samples; 0 decodes greedily (argmax). TopK and
	// TopP only apply when sampling.
	Temperature float64
	// TopK keeps the k most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches p (0 or 1: all).
	TopP float64
	// RepetitionPenalty divides positive (multiplies negative) logits of
	// tokens already in the sequence, prompt included (0 or 1: off).
	RepetitionPenalty float64
	// Seed makes sampling reproducible.
	Seed uint64
	// EOS are the token ids that end a sequence (kept in the ids, left out
	// of the text).
	EOS []int
	// StopStrings end a sequence when its text contains one; the text is
	// cut before it.
	StopStrings []string
	// Pad fills the left of shorter prompts in a batch and the tail of
	// finished rows (default: EOS[0], else 0).
	Pad *int
	// WithPast is decoder_with_past_model.onnx when the session runs
	// optimum's decoder_model.onnx (the split layout).
	WithPast *runtime.Session
	// NoCache runs the whole sequence at every step even when the model
	// takes past_key_values (for checking; much slower).
	NoCache bool
}

func (o *Options) sampling() bool { return o.Temperature > 0 }

// Stats describe one generation.
type Stats struct {
	PromptTokens int // per row, padding included
	NewTokens    int // tokens produced, all rows together
	Steps        int
	Prefill      time.Duration // the prompt's step
	Decode       time.Duration // the following steps
}

// TokensPerSecond is new tokens over the whole generation time.
func (s Stats) TokensPerSecond() float64 {
	d := (s.Prefill + s.Decode).Seconds()
	if d == 0 {
		return 0
	}
	return float64(s.NewTokens) / d
}

// Generator decodes text from a causal language model. Generate and Stream
// may run concurrently.
type Generator struct {
	m    *model
	tok  *tokenizer.Tokenizer
	opts Options
	eos  map[int]bool
	pad  int

	mu   sync.Mutex
	last Stats
}

// New checks the session's inputs and outputs and returns a generator.
// The model must take input_ids (and may take attention_mask,
// position_ids, past_key_values.N.key/value, use_cache_branch) and return
// logits (and present.N.key/value with past). tok may be nil for
// GenerateIDs.
func New(s *runtime.Session, tok *tokenizer.Tokenizer, opts Options) (*Generator, error) {
	if s == nil {
		return nil, errors.New("generate: nil session")
	}
	m, err := newModel(s, opts.WithPast)
	if err != nil {
		return nil, err
	}
	if opts.MaxNewTokens == 0 {
		opts.MaxNewTokens = 32
	}
	if opts.MaxNewTokens < 0 || opts.Temperature < 0 || opts.TopK < 0 || opts.TopP < 0 || opts.TopP > 1 || opts.RepetitionPenalty < 0 {
		return nil, fmt.Errorf("generate: options out of range: max new tokens %d, temperature %g, top-k %d, top-p %g (in [0, 1]), repetition penalty %g; none may be negative",
			opts.MaxNewTokens, opts.Temperature, opts.TopK, opts.TopP, opts.RepetitionPenalty)
	}
	g := &Generator{m: m, tok: tok, opts: opts, eos: map[int]bool{}}
	for _, e := range opts.EOS {
		g.eos[e] = true
	}
	switch {
	case opts.Pad != nil:
		g.pad = *opts.Pad
	case len(opts.EOS) > 0:
		g.pad = opts.EOS[0]
	}
	return g, nil
}

// Layout says how the model takes its cache.
func (g *Generator) Layout() Layout { return g.m.layout }

// LastStats returns the statistics of the most recent generation.
func (g *Generator) LastStats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// GenerateIDs continues each prompt (token ids) and returns the new ids
// per prompt, up to and including an EOS token. Prompts of different
// lengths are left-padded into one batch.
func (g *Generator) GenerateIDs(ctx context.Context, prompts [][]int) ([][]int, error) {
	out := make([][]int, len(prompts))
	_, err := g.run(ctx, prompts, func(row, id int) bool {
		out[row] = append(out[row], id)
		return true
	})
	return out, err
}

// Result is one prompt's continuation.
type Result struct {
	IDs  []int  // new token ids (an EOS included)
	Text string // their text, special tokens left out, cut before a stop string
}

// Generate continues each prompt; all prompts run as one left-padded batch.
func (g *Generator) Generate(ctx context.Context, prompts ...string) ([]Result, error) {
	if g.tok == nil {
		return nil, errors.New("generate: no tokenizer; use GenerateIDs")
	}
	ids := make([][]int, len(prompts))
	for i, p := range prompts {
		ids[i] = g.tok.Encode(p).IDs
	}
	res := make([]Result, len(prompts))
	_, err := g.run(ctx, ids, func(row, id int) bool {
		r := &res[row]
		r.IDs = append(r.IDs, id)
		if len(g.opts.StopStrings) == 0 {
			return true
		}
		text := g.tok.Decode(r.IDs, true)
		_, stop := g.cut(text, true)
		return !stop
	})
	for i := range res {
		res[i].Text, _ = g.cut(g.tok.Decode(res[i].IDs, true), true)
	}
	return res, err
}

// cut returns the part of text that is final: before a stop string (stop
// is then true), else all of it when done, else all but a tail that could
// still become a stop string or an incomplete character.
func (g *Generator) cut(text string, done bool) (string, bool) {
	for _, s := range g.opts.StopStrings {
		if i := strings.Index(text, s); s != "" && i >= 0 {
			return text[:i], true
		}
	}
	if done {
		return text, false
	}
	end := len(text)
	// An undecodable tail (U+FFFD) may be a character still being spelled.
	for end > 0 {
		r, n := utf8.DecodeLastRuneInString(text[:end])
		if r != utf8.RuneError {
			break
		}
		end -= n
	}
	for _, s := range g.opts.StopStrings {
		for k := min(len(s)-1, end); k > 0; k-- {
			if strings.HasSuffix(text[:end], s[:k]) {
				end -= k
				break
			}
		}
	}
	return text[:end], false
}

// Stream continues one prompt and yields its text as it is produced;
// a failure is yielded last with an empty piece. Breaking out of the loop
// or cancelling ctx stops generation.
func (g *Generator) Stream(ctx context.Context, prompt string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if g.tok == nil {
			yield("", errors.New("generate: no tokenizer to stream text"))
			return
		}
		var ids []int
		sent := 0
		stopped := false
		_, err := g.run(ctx, [][]int{g.tok.Encode(prompt).IDs}, func(_, id int) bool {
			ids = append(ids, id)
			text, stop := g.cut(g.tok.Decode(ids, true), false)
			if len(text) > sent {
				if !yield(text[sent:], nil) {
					stopped = true
					return false
				}
				sent = len(text)
			}
			return !stop
		})
		if stopped {
			return
		}
		if err != nil {
			yield("", err)
			return
		}
		if text, _ := g.cut(g.tok.Decode(ids, true), true); len(text) > sent {
			yield(text[sent:], nil)
		}
	}
}

// run decodes the batch; emit receives each row's new tokens in order and
// returns false to end that row.
func (g *Generator) run(ctx context.Context, prompts [][]int, emit func(row, id int) bool) (Stats, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var stats Stats
	if len(prompts) == 0 {
		return stats, nil
	}
	for i, p := range prompts {
		if len(p) == 0 {
			return stats, fmt.Errorf("generate: prompt %d has no tokens", i)
		}
	}
	if !g.m.hasPos {
		for i, p := range prompts {
			if len(p) != len(prompts[0]) {
				return stats, fmt.Errorf("generate: prompts %d and %d differ in length and the model takes no position_ids, so left padding would shift positions; generate them one at a time", 0, i)
			}
		}
	}
	st := g.m.newStep(prompts, g.pad, g.opts.MaxNewTokens, !g.opts.NoCache)
	stats.PromptTokens = st.n
	B, L := st.batch, st.maxLen
	done := make([]bool, B)
	next := make([]int, B)
	var smp *sampler
	start := time.Now()
	for k := 0; k < g.opts.MaxNewTokens; k++ {
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		logits, err := st.run(ctx, k == 0)
		if err != nil {
			return stats, err
		}
		sh := logits.Shape()
		S, V := sh[1], sh[2]
		if smp == nil {
			smp = newSampler(&g.opts, V)
		}
		all := tensor.Data[float32](logits)
		live := 0
		for b := 0; b < B; b++ {
			if done[b] {
				next[b] = g.pad
				continue
			}
			row := all[(b*S+S-1)*V : (b*S+S)*V]
			id := smp.pick(row, st.ids[b*L:b*L+st.n], st.mask[b*L:b*L+st.n])
			next[b] = id
			stats.NewTokens++
			if !emit(b, id) || g.eos[id] {
				done[b] = true
			} else {
				live++
			}
		}
		stats.Steps++
		if k == 0 {
			stats.Prefill = time.Since(start)
		}
		if live == 0 {
			break
		}
		st.push(next)
	}
	stats.Decode = time.Since(start) - stats.Prefill
	g.mu.Lock()
	g.last = stats
	g.mu.Unlock()
	return stats, nil
}
