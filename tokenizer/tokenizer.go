package tokenizer

import (
	"runtime"
	"strings"
	"sync"
)

// Tokenizer is a text tokenization pipeline. It is safe for concurrent use
// once built; set its fields before the first Encode.
type Tokenizer struct {
	Normalizer    Normalizer    // nil for none
	PreTokenizer  PreTokenizer  // nil: the whole normalized text is one word
	Model         Model         // required
	PostProcessor PostProcessor // nil: sequences are concatenated, the second with type id 1
	Decoder       Decoder       // nil: Decode joins tokens with spaces
	Truncation    *Truncation   // nil for none
	Padding       *Padding      // nil for none

	added     []*AddedToken
	addedByID map[int]*AddedToken
	raw, norm *matcher        // added tokens matched in the original and in the normalized text
	special   map[string]bool // contents of the special added tokens
	pool      sync.Pool
}

// AddedTokens returns the added tokens, in the order they were added.
func (t *Tokenizer) AddedTokens() []AddedToken {
	out := make([]AddedToken, len(t.added))
	for i, a := range t.added {
		out[i] = *a
	}
	return out
}

// AddTokens adds tokens matched before normalization (or, for Normalized
// ones, in the normalized text: set Normalizer first). A token whose content
// is already added keeps its id; one whose ID is negative gets the model's id
// for that content or the next free id.
func (t *Tokenizer) AddTokens(toks ...AddedToken) {
	if t.addedByID == nil {
		t.addedByID = map[int]*AddedToken{}
	}
	for _, a := range toks {
		if old := t.addedByContent(a.Content); old != nil {
			id := old.ID
			*old = a
			old.ID = id
			continue
		}
		if a.ID < 0 {
			if id, ok := t.Model.TokenToID(a.Content); ok {
				a.ID = id
			} else {
				a.ID = t.nextID()
			}
		}
		p := new(AddedToken)
		*p = a
		t.added = append(t.added, p)
		t.addedByID[a.ID] = p
	}
	t.refreshMatchers()
}

func (t *Tokenizer) addedByContent(s string) *AddedToken {
	for _, a := range t.added {
		if a.Content == s {
			return a
		}
	}
	return nil
}

func (t *Tokenizer) nextID() int {
	n := 0
	if t.Model != nil {
		n = t.Model.VocabSize()
		if v, ok := t.Model.(interface{ maxID() int }); ok {
			n = max(n, v.maxID()+1)
		}
	}
	for id := range t.addedByID {
		n = max(n, id+1)
	}
	return n
}

func (v vocab) maxID() int { return len(v.tokens) - 1 }

// refreshMatchers rebuilds the added-token matchers; normalized tokens are
// searched for in their normalized form.
func (t *Tokenizer) refreshMatchers() {
	var raw, norm []*AddedToken
	var rawP, normP []string
	t.special = map[string]bool{}
	for _, a := range t.added {
		if a.Special {
			t.special[a.Content] = true
		}
		if a.Normalized {
			norm = append(norm, a)
			p := a.Content
			if t.Normalizer != nil {
				sc := new(scratch)
				p = t.Normalizer.normalize(fromString(p, 0, sc), sc).String()
			}
			normP = append(normP, p)
			a.normContent = p
		} else {
			raw = append(raw, a)
			rawP = append(rawP, a.Content)
		}
	}
	t.raw, t.norm = newMatcher(raw, rawP), nil
	if len(norm) > 0 {
		t.norm = newMatcher(norm, normP)
	}
}

func (t *Tokenizer) scratch() *scratch {
	if s, ok := t.pool.Get().(*scratch); ok {
		return s
	}
	return new(scratch)
}

// encodeSeq runs one sequence through added-token splitting, normalization,
// pre-tokenization and the model.
func (t *Tokenizer) encodeSeq(text string, typeID, seq int) *Encoding {
	sc := t.scratch()
	defer t.pool.Put(sc)
	sc.reset()
	e := &Encoding{text: text}
	n := len(text)/4 + 4
	e.IDs, e.TypeIDs, e.Tokens = make([]int, 0, n), make([]int, 0, n), make([]string, 0, n)
	e.Offsets, e.AttentionMask = make([][2]int, 0, n), make([]int, 0, n)
	e.SpecialTokensMask, e.SequenceIDs = make([]int, 0, n), make([]int, 0, n)
	sc.pieces = t.raw.split(sc.pieces[:0], text)
	words, toks := sc.words[:0], sc.toks[:0]
	defer func() { sc.words, sc.toks = words[:0], toks[:0] }()
	for _, p := range sc.pieces {
		if p.id >= 0 {
			// The token is the text matched, stripped spaces included, as in Hugging Face.
			e.push(p.id, typeID, text[p.start:p.end], [2]int{p.start, p.end}, 0, seq)
			continue
		}
		s := fromString(text[p.start:p.end], p.start, sc)
		if t.Normalizer != nil {
			s = t.Normalizer.normalize(s, sc)
		}
		words = words[:0]
		if t.norm != nil {
			words = t.splitNormalized(e, words, s, typeID, seq, sc)
		} else {
			words = t.preTokenize(words, s, sc)
		}
		for _, w := range words {
			if w.runes == nil { // an added token found in the normalized text
				continue
			}
			toks = t.tokenizeWord(e, toks, w, typeID, seq, sc)
		}
	}
	return e
}

// tokenizeWord runs the model on one word and pushes its tokens to e; toks
// is scratch space, returned for reuse.
func (t *Tokenizer) tokenizeWord(e *Encoding, toks []token, w normStr, typeID, seq int, sc *scratch) []token {
	toks = t.Model.tokenize(toks[:0], w.runes, sc)
	u, _ := t.Model.(*Unigram)
	for _, k := range toks {
		tok, _ := t.Model.IDToToken(k.id)
		if u != nil && k.id == u.UnkID {
			tok = string(w.runes[k.start:k.end]) // Hugging Face's Unigram names an unknown by its text
		}
		e.push(k.id, typeID, tok, w.offsets(k.start, k.end), 0, seq)
	}
	return toks
}

func (t *Tokenizer) preTokenize(dst []normStr, s normStr, sc *scratch) []normStr {
	if len(s.runes) == 0 {
		return dst
	}
	if t.PreTokenizer == nil {
		return append(dst, s)
	}
	return t.PreTokenizer.split(dst, s, sc)
}

// splitNormalized splits s at normalized added tokens; those are pushed to e
// directly when reached, so the words before them must be tokenized first:
// it tokenizes in order and returns nothing left to do.
func (t *Tokenizer) splitNormalized(e *Encoding, words []normStr, s normStr, typeID, seq int, sc *scratch) []normStr {
	str := s.String()
	// rune index of each byte offset of str
	ri := make([]int, len(str)+1)
	k := 0
	for i := range str {
		ri[i] = k
		k++
	}
	ri[len(str)] = k
	for i := len(str) - 1; i >= 0; i-- {
		if str[i]&0xC0 == 0x80 {
			ri[i] = ri[i+1]
		}
	}
	var toks []token
	for _, p := range t.norm.split(nil, str) {
		a, b := ri[p.start], ri[p.end]
		if p.id >= 0 {
			e.push(p.id, typeID, str[p.start:p.end], s.offsets(a, b), 0, seq)
			continue
		}
		for _, w := range t.preTokenize(words[:0], s.slice(a, b), sc) {
			toks = t.tokenizeWord(e, toks, w, typeID, seq, sc)
		}
	}
	return words[:0]
}

// Encode encodes one sequence with special tokens, truncation and padding
// set on t. Truncation that cannot be met as configured falls back to
// LongestFirst.
func (t *Tokenizer) Encode(text string) Encoding {
	e, err := t.EncodeWith(text, "", false, true)
	if err != nil {
		e = t.encodeFallback(text, "", false)
	}
	return e
}

// EncodePair encodes a pair of sequences, as Encode.
func (t *Tokenizer) EncodePair(a, b string) Encoding {
	e, err := t.EncodeWith(a, b, true, true)
	if err != nil {
		e = t.encodeFallback(a, b, true)
	}
	return e
}

func (t *Tokenizer) encodeFallback(a, b string, pair bool) Encoding {
	tr := *t.Truncation
	tr.Strategy = LongestFirst
	e, _ := t.encode(a, b, pair, true, &tr, t.Padding)
	return e
}

// EncodeWith encodes a or the pair (a, b), adding special tokens when
// addSpecial. It fails when the truncation settings cannot be met.
func (t *Tokenizer) EncodeWith(a, b string, pair, addSpecial bool) (Encoding, error) {
	return t.encode(a, b, pair, addSpecial, t.Truncation, t.Padding)
}

func (t *Tokenizer) encode(a, b string, pair, addSpecial bool, tr *Truncation, pd *Padding) (Encoding, error) {
	ea := t.encodeSeq(a, 0, 0)
	var eb *Encoding
	encs := []*Encoding{ea}
	if pair {
		eb = t.encodeSeq(b, 1, 1)
		encs = append(encs, eb)
	}
	if tr != nil {
		added := 0
		if addSpecial && t.PostProcessor != nil {
			added = t.PostProcessor.addedTokens(pair)
		}
		if err := truncatePair(ea, eb, tr, added); err != nil {
			return Encoding{}, err
		}
	}
	if t.PostProcessor != nil {
		encs = t.PostProcessor.process(encs, addSpecial)
	}
	var out Encoding
	if len(encs) == 1 {
		out = *encs[0]
		out.text = ""
	} else {
		for _, e := range encs {
			out.appendEnc(e)
		}
	}
	if pd != nil {
		l := []Encoding{out}
		pad(l, pd)
		out = l[0]
	}
	return out, nil
}

// BatchOptions are the settings of EncodeBatch.
type BatchOptions struct {
	Pairs      []string    // second sequences, one per text; nil for single sequences
	NoSpecial  bool        // do not add special tokens
	Truncation *Truncation // nil: the tokenizer's
	Padding    *Padding    // nil: the tokenizer's
}

// EncodeBatch encodes texts in parallel, then pads them together.
func (t *Tokenizer) EncodeBatch(texts []string, opts BatchOptions) ([]Encoding, error) {
	if opts.Pairs != nil && len(opts.Pairs) != len(texts) {
		return nil, errorf("batch has %d texts but %d pairs", len(texts), len(opts.Pairs))
	}
	tr, pd := opts.Truncation, opts.Padding
	if tr == nil {
		tr = t.Truncation
	}
	if pd == nil {
		pd = t.Padding
	}
	out := make([]Encoding, len(texts))
	errs := make([]error, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	var wg sync.WaitGroup
	next := make(chan int, len(texts))
	for i := range texts {
		next <- i
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for i := range next {
				b := ""
				if opts.Pairs != nil {
					b = opts.Pairs[i]
				}
				out[i], errs[i] = t.encode(texts[i], b, opts.Pairs != nil, !opts.NoSpecial, tr, nil)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, errorf("text %d: %w", i, err)
		}
	}
	if pd != nil {
		pad(out, pd)
	}
	return out, nil
}

// IDToToken returns the token of id, added tokens included (normalized ones
// in normalized form, as Hugging Face gives them).
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if a, ok := t.addedByID[id]; ok {
		return a.token(), true
	}
	return t.Model.IDToToken(id)
}

// TokenToID returns the id of a token, added tokens included.
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	if a := t.addedByContent(tok); a != nil {
		return a.ID, true
	}
	return t.Model.TokenToID(tok)
}

// VocabSize is the model's vocabulary size plus added tokens not in it.
func (t *Tokenizer) VocabSize() int {
	n := t.Model.VocabSize()
	for _, a := range t.added {
		if _, ok := t.Model.IDToToken(a.ID); !ok {
			n++
		}
	}
	return n
}

// Decode turns ids back into text, leaving out special added tokens when
// skipSpecial. Unknown ids are skipped.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if a, ok := t.addedByID[id]; ok {
			if skipSpecial && a.Special {
				continue
			}
			toks = append(toks, a.token())
			continue
		}
		// A model token spelled as a special added token is special too,
		// as in Hugging Face, which tells them by content.
		if tok, ok := t.Model.IDToToken(id); ok && !(skipSpecial && t.special[tok]) {
			toks = append(toks, tok)
		}
	}
	if t.Decoder == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.Decoder.decodeChain(toks), "")
}
