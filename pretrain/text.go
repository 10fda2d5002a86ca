package pretrain

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"

	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/tokenizer"
)

// IgnoreIndex marks label positions that carry no loss (torch's default).
const IgnoreIndex = -100

// Example is one training sequence before batching: token ids with the
// special tokens already in place.
type Example struct {
	IDs       []int64
	Types     []int64 // token_type_ids (BERT segments)
	WordStart []bool  // token begins a word (whole-word masking); special tokens false
	Special   []bool  // never masked
	IsRandom  int64   // next-sentence label: 1 when segment B is a random sentence
}

// Special token ids a text objective needs.
type specials struct {
	cls, sep, mask, pad, eos int64
	firstNormal              int64 // random replacement draws from [firstNormal, vocab)
	vocab                    int64
}

func tokenID(t *tokenizer.Tokenizer, names ...string) (int64, error) {
	for _, n := range names {
		if id, ok := t.TokenToID(n); ok {
			return int64(id), nil
		}
	}
	return 0, fmt.Errorf("pretrain: the tokenizer has no %s token", strings.Join(names, " or "))
}

func bertSpecials(t *tokenizer.Tokenizer) (specials, error) {
	var s specials
	var err error
	for _, f := range []struct {
		dst  *int64
		name string
	}{{&s.cls, "[CLS]"}, {&s.sep, "[SEP]"}, {&s.mask, "[MASK]"}, {&s.pad, "[PAD]"}} {
		if *f.dst, err = tokenID(t, f.name); err != nil {
			return s, err
		}
	}
	s.vocab = int64(t.VocabSize())
	for _, a := range t.AddedTokens() {
		if a.Special && int64(a.ID) >= s.firstNormal && int64(a.ID) < s.vocab/2 {
			s.firstNormal = int64(a.ID) + 1
		}
	}
	return s, nil
}

// encodeWords tokenizes a sentence without special tokens and returns the
// ids and which of them start a word (WordPiece continuations start "##").
func encodeWords(t *tokenizer.Tokenizer, text string) ([]int64, []bool) {
	e, err := t.EncodeWith(text, "", false, false)
	if err != nil {
		return nil, nil
	}
	ids := make([]int64, len(e.IDs))
	starts := make([]bool, len(e.IDs))
	for i, id := range e.IDs {
		ids[i] = int64(id)
		starts[i] = !strings.HasPrefix(e.Tokens[i], "##")
	}
	return ids, starts
}

// segment is a run of tokens with their word starts.
type segment struct {
	ids    []int64
	starts []bool
}

func (s *segment) add(o segment) {
	s.ids = append(s.ids, o.ids...)
	s.starts = append(s.starts, o.starts...)
}

// bertExamples turns documents into BERT inputs of at most seq tokens. With
// nsp, each example is [CLS] A [SEP] B [SEP] where B follows A in its
// document or, half of the time, is a sentence from another document
// (IsRandom = 1), as BERT's create_pretraining_data does; otherwise
// consecutive sentences are packed into [CLS] A [SEP].
func bertExamples(docs iter.Seq[[]string], t *tokenizer.Tokenizer, sp specials, seq int, nsp bool, r *rand.Rand) iter.Seq[Example] {
	return func(yield func(Example) bool) {
		var recent []segment // sentences of earlier documents, for random B segments
		for doc := range docs {
			sents := make([]segment, 0, len(doc))
			for _, s := range doc {
				ids, st := encodeWords(t, s)
				if len(ids) > 0 {
					sents = append(sents, segment{ids, st})
				}
			}
			if !nsp {
				var cur segment
				for _, s := range sents {
					if len(cur.ids) > 0 && len(cur.ids)+len(s.ids) > seq-2 {
						if !yield(single(cur, sp, seq)) {
							return
						}
						cur = segment{}
					}
					cur.add(s)
				}
				if len(cur.ids) > 0 && !yield(single(cur, sp, seq)) {
					return
				}
				continue
			}
			for i := 0; i+1 < len(sents) || (i < len(sents) && len(recent) > 0); i++ {
				a := sents[i]
				random := int64(0)
				var b segment
				if i+1 >= len(sents) || (len(recent) > 0 && r.IntN(2) == 0) {
					if len(recent) == 0 {
						break
					}
					b, random = recent[r.IntN(len(recent))], 1
				} else {
					b = sents[i+1]
				}
				if !yield(pair(a, b, random, sp, seq)) {
					return
				}
			}
			for _, s := range sents {
				if len(recent) < 256 {
					recent = append(recent, s)
				} else {
					recent[r.IntN(len(recent))] = s
				}
			}
		}
	}
}

func single(a segment, sp specials, seq int) Example {
	n := min(len(a.ids), seq-2)
	e := newExample(n + 2)
	e.push(sp.cls, 0, false, true)
	for i := 0; i < n; i++ {
		e.push(a.ids[i], 0, a.starts[i], false)
	}
	e.push(sp.sep, 0, false, true)
	return e
}

func pair(a, b segment, random int64, sp specials, seq int) Example {
	na, nb := len(a.ids), len(b.ids)
	for na+nb > seq-3 { // longest first
		if na >= nb {
			na--
		} else {
			nb--
		}
	}
	e := newExample(na + nb + 3)
	e.IsRandom = random
	e.push(sp.cls, 0, false, true)
	for i := 0; i < na; i++ {
		e.push(a.ids[i], 0, a.starts[i], false)
	}
	e.push(sp.sep, 0, false, true)
	for i := 0; i < nb; i++ {
		e.push(b.ids[i], 1, b.starts[i], false)
	}
	e.push(sp.sep, 1, false, true)
	return e
}

func newExample(n int) Example {
	return Example{IDs: make([]int64, 0, n), Types: make([]int64, 0, n), WordStart: make([]bool, 0, n), Special: make([]bool, 0, n)}
}

func (e *Example) push(id, typ int64, start, special bool) {
	e.IDs = append(e.IDs, id)
	e.Types = append(e.Types, typ)
	e.WordStart = append(e.WordStart, start)
	e.Special = append(e.Special, special)
}

// clmBlocks concatenates the documents' tokens, an end-of-text token after
// each document, and cuts the stream into blocks of exactly seq tokens
// (transformers' group_texts); the last partial block is dropped.
func clmBlocks(docs iter.Seq[[]string], t *tokenizer.Tokenizer, eos int64, seq int) iter.Seq[Example] {
	return func(yield func(Example) bool) {
		buf := make([]int64, 0, 2*seq)
		for doc := range docs {
			e, err := t.EncodeWith(strings.Join(doc, "\n"), "", false, false)
			if err != nil {
				continue
			}
			for _, id := range e.IDs {
				buf = append(buf, int64(id))
			}
			buf = append(buf, eos)
			for len(buf) >= seq {
				ids := append([]int64(nil), buf[:seq]...)
				if !yield(Example{IDs: ids}) {
					return
				}
				buf = append(buf[:0], buf[seq:]...)
			}
		}
	}
}

// MaskOptions configure masked-language-model masking.
type MaskOptions struct {
	Prob      float64 // fraction of tokens (or words) selected; BERT: 0.15
	WholeWord bool    // select whole words: every piece of a selected word is masked
	MaskID    int64
	// Random replacements draw from [FirstNormal, Vocab).
	FirstNormal, Vocab int64
}

// Mask applies BERT's dynamic masking to one example: each non-special
// token (or word) is selected with probability Prob; a selected token
// becomes [MASK] 80% of the time, a random token 10% and stays unchanged
// 10%. Labels hold the original id at selected positions and IgnoreIndex
// elsewhere. At least one token is selected when any can be.
func Mask(e Example, o MaskOptions, r *rand.Rand) (ids, labels []int64) {
	n := len(e.IDs)
	ids = append([]int64(nil), e.IDs...)
	labels = make([]int64, n)
	sel := make([]bool, n)
	any, candidates := false, 0
	for i := 0; i < n; i++ {
		labels[i] = IgnoreIndex
		if e.Special[i] {
			continue
		}
		candidates++
		start := !o.WholeWord || i == 0 || e.WordStart[i] || e.Special[i-1]
		if start {
			sel[i] = r.Float64() < o.Prob
		} else {
			sel[i] = sel[i-1] // continuation follows its word
		}
		any = any || sel[i]
	}
	if !any && candidates > 0 {
		// Select one token (whole words: one word) uniformly.
		var starts []int
		for i := 0; i < n; i++ {
			if !e.Special[i] && (!o.WholeWord || i == 0 || e.WordStart[i] || e.Special[i-1]) {
				starts = append(starts, i)
			}
		}
		i := starts[r.IntN(len(starts))]
		sel[i] = true
		for j := i + 1; o.WholeWord && j < n && !e.Special[j] && !e.WordStart[j]; j++ {
			sel[j] = true
		}
	}
	for i := 0; i < n; i++ {
		if !sel[i] {
			continue
		}
		labels[i] = e.IDs[i]
		switch p := r.Float64(); {
		case p < 0.8:
			ids[i] = o.MaskID
		case p < 0.9 && o.Vocab > o.FirstNormal:
			ids[i] = o.FirstNormal + r.Int64N(o.Vocab-o.FirstNormal)
		}
	}
	return ids, labels
}

// textBatch builds the feeds of one batch: input_ids, attention_mask,
// token_type_ids (BERT), labels and next_sentence_label (with NSP), padded
// to seq with pad. mask != nil applies MLM masking with r.
func textBatch(exs []Example, seq int, pad int64, bert, nsp bool, mask *MaskOptions, r *rand.Rand) map[string]*tensor.Tensor {
	b := len(exs)
	ids := make([]int64, b*seq)
	att := make([]int64, b*seq)
	typ := make([]int64, b*seq)
	lab := make([]int64, b*seq)
	next := make([]int64, b)
	for i := range lab {
		ids[i], lab[i] = pad, IgnoreIndex
	}
	for k, e := range exs {
		in, l := e.IDs, e.IDs
		if mask != nil {
			in, l = Mask(e, *mask, r)
		}
		n := min(len(in), seq)
		copy(ids[k*seq:], in[:n])
		copy(lab[k*seq:], l[:n])
		for j := 0; j < n; j++ {
			att[k*seq+j] = 1
		}
		if e.Types != nil {
			copy(typ[k*seq:], e.Types[:n])
		}
		next[k] = e.IsRandom
	}
	f := map[string]*tensor.Tensor{
		"input_ids":      tensor.Must([]int{b, seq}, ids),
		"attention_mask": tensor.Must([]int{b, seq}, att),
		"labels":         tensor.Must([]int{b, seq}, lab),
	}
	if bert {
		f["token_type_ids"] = tensor.Must([]int{b, seq}, typ)
	}
	if nsp {
		f["next_sentence_label"] = tensor.Must([]int{b}, next)
	}
	return f
}
