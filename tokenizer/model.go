package tokenizer

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"unicode/utf8"
)

// token is a model's output for one word: an id and the rune range [start,
// end) of the word it covers.
type token struct {
	id         int
	start, end int
}

// A Model turns one pre-tokenized word into tokens.
type Model interface {
	// tokenize appends the tokens of word to dst; scratch is reused.
	tokenize(dst []token, word []rune, sc *scratch) []token
	// TokenToID returns the id of a vocabulary entry.
	TokenToID(tok string) (int, bool)
	// IDToToken returns the vocabulary entry of an id.
	IDToToken(id int) (string, bool)
	// VocabSize is the number of entries in the model's vocabulary.
	VocabSize() int
	toJSON() map[string]any
}

// scratch holds buffers reused across the words of one encoding and, through
// the tokenizer's pool, across encodings.
type scratch struct {
	buf     []byte
	pos     []int // byte offset of each rune in buf
	bpos    []int
	syms    []symbol
	q       mergeQueue
	ar      normStr // arena for normalized text; see alloc
	words   []normStr
	pieces  []piece
	toks    []token
	edits   []edit
	key     []byte
	lattice []latticeNode
}

// alloc returns an empty normStr with room for n runes, carved from the
// arena. Slices handed out stay valid until reset; appending past n
// allocates elsewhere, which is correct, only slower.
func (sc *scratch) alloc(n int) normStr {
	l := len(sc.ar.runes)
	if cap(sc.ar.runes)-l < n {
		size := max(n, 2*cap(sc.ar.runes), 256)
		sc.ar = normStr{make([]rune, 0, size), make([]span, 0, size)}
		l = 0
	}
	sc.ar.runes, sc.ar.align = sc.ar.runes[:l+n], sc.ar.align[:l+n]
	return normStr{sc.ar.runes[l : l : l+n], sc.ar.align[l : l : l+n]}
}

// reset makes the arena's memory reusable.
func (sc *scratch) reset() {
	sc.ar.runes, sc.ar.align = sc.ar.runes[:0], sc.ar.align[:0]
}

// vocab is a token <-> id table.
type vocab struct {
	ids    map[string]int
	tokens []string // by id; "" where unused
}

func newVocab(m map[string]int) (vocab, error) {
	maxID := -1
	for tok, id := range m {
		if id < 0 {
			return vocab{}, fmt.Errorf("vocab: token %q has negative id %d", tok, id)
		}
		maxID = max(maxID, id)
	}
	if maxID >= 2*len(m)+1024 {
		return vocab{}, fmt.Errorf("vocab: id %d is far beyond the %d entries; ids must be dense", maxID, len(m))
	}
	v := vocab{ids: m, tokens: make([]string, maxID+1)}
	seen := make([]bool, maxID+1)
	for tok, id := range m {
		if seen[id] {
			return vocab{}, fmt.Errorf("vocab: id %d is used by %q and %q", id, v.tokens[id], tok)
		}
		seen[id] = true
		v.tokens[id] = tok
	}
	return v, nil
}

func (v vocab) TokenToID(tok string) (int, bool) {
	id, ok := v.ids[tok]
	return id, ok
}

func (v vocab) IDToToken(id int) (string, bool) {
	if id < 0 || id >= len(v.tokens) {
		return "", false
	}
	t := v.tokens[id]
	if t == "" {
		if _, ok := v.ids[""]; !ok {
			return "", false
		}
	}
	return t, true
}

func (v vocab) VocabSize() int { return len(v.ids) }

// WordPiece is BERT's greedy longest-match-first subword model.
type WordPiece struct {
	vocab
	UnkToken                string
	ContinuingSubwordPrefix string
	MaxInputCharsPerWord    int
	unkID                   int
}

// NewWordPiece builds a WordPiece model; the unknown token must be in vocab.
func NewWordPiece(v map[string]int, unk, prefix string, maxChars int) (*WordPiece, error) {
	voc, err := newVocab(v)
	if err != nil {
		return nil, err
	}
	id, ok := v[unk]
	if !ok {
		return nil, fmt.Errorf("unk_token %q is not in the vocab", unk)
	}
	return &WordPiece{vocab: voc, UnkToken: unk, ContinuingSubwordPrefix: prefix, MaxInputCharsPerWord: maxChars, unkID: id}, nil
}

func (w *WordPiece) tokenize(dst []token, word []rune, sc *scratch) []token {
	if len(word) == 0 {
		return dst
	}
	if len(word) > w.MaxInputCharsPerWord {
		return append(dst, token{w.unkID, 0, len(word)})
	}
	// buf holds prefix + word; a piece starting at rune s > 0 is looked up
	// with the prefix copied right before it.
	p := len(w.ContinuingSubwordPrefix)
	sc.buf = append(sc.buf[:0], w.ContinuingSubwordPrefix...)
	sc.pos = sc.pos[:0]
	for _, r := range word {
		sc.pos = append(sc.pos, len(sc.buf))
		sc.buf = utf8.AppendRune(sc.buf, r)
	}
	sc.pos = append(sc.pos, len(sc.buf))
	first := len(dst)
	for start := 0; start < len(word); {
		found := false
		for end := len(word); end > start; end-- {
			var key []byte
			if start == 0 {
				key = sc.buf[p:sc.pos[end]]
			} else {
				b := sc.pos[start]
				// The prefix goes over the bytes just before the piece: they
				// belong to pieces already matched and are not read again.
				copy(sc.buf[b-p:b], w.ContinuingSubwordPrefix)
				key = sc.buf[b-p : sc.pos[end]]
			}
			if id, ok := w.ids[string(key)]; ok {
				dst = append(dst, token{id, start, end})
				start, found = end, true
				break
			}
		}
		if !found {
			return append(dst[:first], token{w.unkID, 0, len(word)})
		}
	}
	return dst
}

func (w *WordPiece) toJSON() map[string]any {
	return map[string]any{"type": "WordPiece", "unk_token": w.UnkToken,
		"continuing_subword_prefix": w.ContinuingSubwordPrefix,
		"max_input_chars_per_word":  w.MaxInputCharsPerWord, "vocab": orderedVocab(w.vocab)}
}

// BPE is byte-pair encoding: split a word into characters, then apply merges
// by rank.
type BPE struct {
	vocab
	Merges                  [][2]string
	UnkToken                string // "" for none
	ContinuingSubwordPrefix string
	EndOfWordSuffix         string
	FuseUnk                 bool
	ByteFallback            bool
	IgnoreMerges            bool
	merges                  map[uint64]mergeRule
	unkID                   int
	runeIDs                 map[rune]int // single-rune tokens, when there is no prefix or suffix

	// cache holds the tokens of words seen before, as Hugging Face's BPE
	// does; it stops growing at cacheCap entries.
	mu    sync.RWMutex
	cache map[string][]token
}

const (
	cacheCap     = 10000
	cacheWordLen = 64 // longer words are not cached
)

type mergeRule struct{ rank, id int }

func pairKey(a, b int) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// NewBPE builds a BPE model. Every merge's parts and result must be in vocab.
func NewBPE(v map[string]int, merges [][2]string, unk, prefix, suffix string) (*BPE, error) {
	voc, err := newVocab(v)
	if err != nil {
		return nil, err
	}
	m := &BPE{vocab: voc, Merges: merges, UnkToken: unk, ContinuingSubwordPrefix: prefix, EndOfWordSuffix: suffix,
		merges: make(map[uint64]mergeRule, len(merges)), unkID: -1}
	if unk != "" {
		if id, ok := v[unk]; ok {
			m.unkID = id
		}
	}
	for i, mg := range merges {
		a, ok1 := v[mg[0]]
		b, ok2 := v[mg[1]]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("merges[%d]: %q %q: part not in the vocab", i, mg[0], mg[1])
		}
		right := mg[1]
		if prefix != "" && len(right) >= len(prefix) && right[:len(prefix)] == prefix {
			right = right[len(prefix):]
		}
		id, ok := v[mg[0]+right]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: %q %q: merged token %q not in the vocab", i, mg[0], mg[1], mg[0]+right)
		}
		k := pairKey(a, b)
		if _, dup := m.merges[k]; !dup {
			m.merges[k] = mergeRule{i, id}
		}
	}
	if prefix == "" && suffix == "" {
		m.runeIDs = make(map[rune]int)
		for tok, id := range v {
			if r, n := utf8.DecodeRuneInString(tok); n == len(tok) && n > 0 && r != utf8.RuneError {
				m.runeIDs[r] = id
			}
		}
	}
	return m, nil
}

// symbol is one part of a word during merging: a token id and the rune range
// it covers, linked to its neighbours.
type symbol struct {
	id         int
	start, end int
	prev, next int
}

type mergeItem struct{ rank, pos, id int }

// mergeQueue is a binary min-heap of merges by (rank, pos), written out so
// that pushing and popping do not box items.
type mergeQueue []mergeItem

func (m mergeItem) less(o mergeItem) bool {
	if m.rank != o.rank {
		return m.rank < o.rank
	}
	return m.pos < o.pos
}

func (q *mergeQueue) push(x mergeItem) {
	h := append(*q, x)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	*q = h
}

func (q *mergeQueue) pop() mergeItem {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].less(h[m]) {
			m = l
		}
		if r < n && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

func (m *BPE) runeID(word []rune, i int, sc *scratch) (int, bool) {
	if m.runeIDs != nil {
		id, ok := m.runeIDs[word[i]]
		return id, ok
	}
	sc.buf = sc.buf[:0]
	if i > 0 {
		sc.buf = append(sc.buf, m.ContinuingSubwordPrefix...)
	}
	sc.buf = utf8.AppendRune(sc.buf, word[i])
	if i == len(word)-1 {
		sc.buf = append(sc.buf, m.EndOfWordSuffix...)
	}
	id, ok := m.ids[string(sc.buf)]
	return id, ok
}

func (m *BPE) tokenize(dst []token, word []rune, sc *scratch) []token {
	if len(word) == 0 {
		return dst
	}
	cacheable := len(word) <= cacheWordLen
	if cacheable {
		sc.key = sc.key[:0]
		for _, r := range word {
			sc.key = utf8.AppendRune(sc.key, r)
		}
		m.mu.RLock()
		toks, ok := m.cache[string(sc.key)]
		m.mu.RUnlock()
		if ok {
			return append(dst, toks...)
		}
	}
	first := len(dst)
	dst = m.merge(dst, word, sc)
	if cacheable {
		m.mu.Lock()
		if m.cache == nil {
			m.cache = make(map[string][]token)
		}
		if len(m.cache) < cacheCap {
			m.cache[string(sc.key)] = slices.Clone(dst[first:])
		}
		m.mu.Unlock()
	}
	return dst
}

// merge splits word into characters and applies the merges by rank.
func (m *BPE) merge(dst []token, word []rune, sc *scratch) []token {
	if m.IgnoreMerges {
		sc.buf = append(sc.buf[:0], string(word)...)
		if id, ok := m.ids[string(sc.buf)]; ok {
			return append(dst, token{id, 0, len(word)})
		}
	}
	syms := sc.syms[:0]
	unk := -1 // start of a pending unknown run
	flushUnk := func(end int) {
		if unk >= 0 {
			syms = append(syms, symbol{id: m.unkID, start: unk, end: end})
			unk = -1
		}
	}
	for i := range word {
		if id, ok := m.runeID(word, i, sc); ok {
			flushUnk(i)
			syms = append(syms, symbol{id: id, start: i, end: i + 1})
			continue
		}
		if m.ByteFallback && m.byteFallback(&syms, word[i], i) {
			continue // a pending unknown run stays pending, as in Hugging Face
		}
		if m.unkID >= 0 {
			if unk >= 0 && !m.FuseUnk {
				flushUnk(i)
			}
			if unk < 0 {
				unk = i
			}
		}
	}
	flushUnk(len(word))
	for i := range syms {
		syms[i].prev, syms[i].next = i-1, i+1
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	q := sc.q[:0]
	for i := 0; i+1 < len(syms); i++ {
		if r, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			q.push(mergeItem{r.rank, i, r.id})
		}
	}
	for len(q) > 0 {
		top := q.pop()
		s := &syms[top.pos]
		if s.end == s.start || s.next < 0 {
			continue
		}
		right := syms[s.next]
		if r, ok := m.merges[pairKey(s.id, right.id)]; !ok || r.id != top.id {
			continue // stale entry
		}
		s.id, s.end = top.id, right.end
		syms[s.next].end = syms[s.next].start // removed
		s.next = right.next
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if s.prev >= 0 {
			if r, ok := m.merges[pairKey(syms[s.prev].id, s.id)]; ok {
				q.push(mergeItem{r.rank, s.prev, r.id})
			}
		}
		if s.next >= 0 {
			if r, ok := m.merges[pairKey(s.id, syms[s.next].id)]; ok {
				q.push(mergeItem{r.rank, top.pos, r.id})
			}
		}
	}
	sc.q, sc.syms = q, syms
	for _, s := range syms {
		if s.end > s.start {
			dst = append(dst, token{s.id, s.start, s.end})
		}
	}
	return dst
}

// byteFallback spells r as <0xXX> byte tokens when all of them exist.
func (m *BPE) byteFallback(syms *[]symbol, r rune, i int) bool {
	var b [4]byte
	n := utf8.EncodeRune(b[:], r)
	ids := make([]int, n)
	for k := 0; k < n; k++ {
		id, ok := m.ids[fmt.Sprintf("<0x%02X>", b[k])]
		if !ok {
			return false
		}
		ids[k] = id
	}
	for _, id := range ids {
		*syms = append(*syms, symbol{id: id, start: i, end: i + 1})
	}
	return true
}

func (m *BPE) toJSON() map[string]any {
	merges := make([]any, len(m.Merges))
	for i, mg := range m.Merges {
		merges[i] = []string{mg[0], mg[1]}
	}
	opt := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return map[string]any{"type": "BPE", "dropout": nil, "unk_token": opt(m.UnkToken),
		"continuing_subword_prefix": opt(m.ContinuingSubwordPrefix), "end_of_word_suffix": opt(m.EndOfWordSuffix),
		"fuse_unk": m.FuseUnk, "byte_fallback": m.ByteFallback, "ignore_merges": m.IgnoreMerges,
		"vocab": orderedVocab(m.vocab), "merges": merges}
}

// orderedVocab is a vocab that marshals to a JSON object in id order.
type orderedVocab vocab

func (o orderedVocab) MarshalJSON() ([]byte, error) {
	type kv struct {
		tok string
		id  int
	}
	l := make([]kv, 0, len(o.ids))
	for t, id := range o.ids {
		l = append(l, kv{t, id})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].id < l[j].id })
	b := []byte{'{'}
	for i, e := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, e.tok)
		b = append(b, ':')
		b = fmt.Appendf(b, "%d", e.id)
	}
	return append(b, '}'), nil
}

// WordLevel maps each whole word to its id, or to the unknown token.
type WordLevel struct {
	vocab
	UnkToken string
	unkID    int
}

// NewWordLevel builds a WordLevel model; the unknown token must be in vocab.
func NewWordLevel(v map[string]int, unk string) (*WordLevel, error) {
	voc, err := newVocab(v)
	if err != nil {
		return nil, err
	}
	id, ok := v[unk]
	if !ok {
		return nil, fmt.Errorf("unk_token %q is not in the vocab", unk)
	}
	return &WordLevel{vocab: voc, UnkToken: unk, unkID: id}, nil
}

func (w *WordLevel) tokenize(dst []token, word []rune, sc *scratch) []token {
	if len(word) == 0 {
		return dst
	}
	sc.buf = sc.buf[:0]
	for _, r := range word {
		sc.buf = utf8.AppendRune(sc.buf, r)
	}
	id, ok := w.ids[string(sc.buf)]
	if !ok {
		id = w.unkID
	}
	return append(dst, token{id, 0, len(word)})
}

func (w *WordLevel) toJSON() map[string]any {
	return map[string]any{"type": "WordLevel", "unk_token": w.UnkToken, "vocab": orderedVocab(w.vocab)}
}
