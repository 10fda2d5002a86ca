package tokenizer

import (
	"bufio"
	"container/heap"
	"io"
	"iter"
	"slices"
	"sort"
	"strings"
)

// Progress reports training progress: stage is "count" (done = texts read,
// total = 0) or "merge" (done = vocabulary size, total = target size).
type Progress func(stage string, done, total int)

// WordPieceOptions configure TrainWordPiece.
type WordPieceOptions struct {
	VocabSize     int      // target vocabulary size, special tokens included (default 30000)
	MinFrequency  int      // a pair must occur this often to be merged (default 0: any)
	SpecialTokens []string // default [PAD] [UNK] [CLS] [SEP] [MASK]; must include [UNK]
	Lowercase     bool     // lowercase and strip accents, as bert-base-uncased
	LimitAlphabet int      // keep only this many most frequent characters (0: all)
	Progress      Progress
}

// BPEOptions configure TrainByteLevelBPE.
type BPEOptions struct {
	VocabSize      int      // target vocabulary size, special tokens included (default 30000)
	MinFrequency   int      // a pair must occur this often to be merged
	SpecialTokens  []string // e.g. <|endoftext|>
	AddPrefixSpace bool     // as GPT-2's pre-tokenizer option (default false)
	Progress       Progress
}

// Lines yields the lines of r without their line endings; err reports a read
// error once the sequence ends.
func Lines(r io.Reader) (seq iter.Seq[string], err func() error) {
	var e error
	return func(yield func(string) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
		for sc.Scan() {
			if !yield(strings.TrimRight(sc.Text(), "\r")) {
				return
			}
		}
		e = sc.Err()
	}, func() error { return e }
}

// TrainWordPiece learns a BERT WordPiece vocabulary from corpus as Hugging
// Face's WordPiece trainer does: BERT-normalize and pre-tokenize the texts,
// count words, then merge the most frequent pair of adjacent pieces (pieces
// after the first of a word carry the ## prefix) until VocabSize is reached.
// Ties go to the pair of smaller ids, so training is deterministic. The
// corpus is streamed; only word counts are kept.
func TrainWordPiece(corpus iter.Seq[string], opts WordPieceOptions) (*Tokenizer, error) {
	if opts.SpecialTokens == nil {
		opts.SpecialTokens = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	}
	if !slices.Contains(opts.SpecialTokens, "[UNK]") {
		return nil, errorf("train: SpecialTokens must include [UNK], which WordPiece gives unknown words")
	}
	pipe := &Tokenizer{
		Normalizer:   &BertNormalizer{CleanText: true, HandleChineseChars: true, Lowercase: opts.Lowercase},
		PreTokenizer: BertPreTokenizer{},
	}
	counts := pipe.countWords(corpus, opts.Progress)
	v, _ := trainBPE(counts, bpeConfig{vocabSize: opts.VocabSize, minFreq: opts.MinFrequency, special: opts.SpecialTokens,
		limitAlphabet: opts.LimitAlphabet, prefix: "##", progress: opts.Progress})
	t, err := newBert(v, opts.Lowercase)
	if err != nil {
		return nil, err
	}
	t.Padding = nil
	return t, nil
}

// TrainByteLevelBPE learns a GPT-2 style byte-level BPE from corpus as
// Hugging Face's ByteLevelBPETokenizer trainer: words from GPT-2's
// pre-tokenizer spelled in byte-level characters, all 256 of which start the
// vocabulary, then merges of the most frequent pair until VocabSize.
func TrainByteLevelBPE(corpus iter.Seq[string], opts BPEOptions) (*Tokenizer, error) {
	bl := ByteLevel{AddPrefixSpace: opts.AddPrefixSpace, TrimOffsets: true, UseRegex: true}
	pipe := &Tokenizer{PreTokenizer: bl}
	counts := pipe.countWords(corpus, opts.Progress)
	alphabet := make([]rune, 256)
	for i := range alphabet {
		alphabet[i] = byteToRune[i]
	}
	v, merges := trainBPE(counts, bpeConfig{vocabSize: opts.VocabSize, minFreq: opts.MinFrequency, special: opts.SpecialTokens,
		initial: alphabet, progress: opts.Progress})
	m, err := NewBPE(v, merges, "", "", "")
	if err != nil {
		return nil, errorf("train: %w", err)
	}
	t := &Tokenizer{PreTokenizer: bl, Model: m, Decoder: ByteLevelDecoder{bl}, PostProcessor: &ByteLevelProcessing{bl}}
	for _, s := range opts.SpecialTokens {
		t.AddTokens(AddedToken{ID: v[s], Content: s, Special: true})
	}
	return t, nil
}

// countWords normalizes and pre-tokenizes every text and counts the words.
func (t *Tokenizer) countWords(corpus iter.Seq[string], progress Progress) map[string]int {
	counts := map[string]int{}
	sc := new(scratch)
	var words []normStr
	n := 0
	for text := range corpus {
		sc.reset()
		s := fromString(text, 0, sc)
		if t.Normalizer != nil {
			s = t.Normalizer.normalize(s, sc)
		}
		for _, w := range t.preTokenize(words[:0], s, sc) {
			counts[string(w.runes)]++
		}
		n++
		if progress != nil && n%10000 == 0 {
			progress("count", n, 0)
		}
	}
	if progress != nil {
		progress("count", n, 0)
	}
	return counts
}

type bpeConfig struct {
	vocabSize, minFreq, limitAlphabet int
	special                           []string
	initial                           []rune
	prefix                            string
	progress                          Progress
}

// pairStat is a heap entry: a pair and its count when pushed.
type pairStat struct {
	pair  uint64
	count int
}

type pairHeap []pairStat

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].pair < h[j].pair // the pair of smaller ids first
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairStat)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// trainBPE learns a vocabulary and merges from word counts.
func trainBPE(counts map[string]int, cfg bpeConfig) (map[string]int, [][2]string) {
	if cfg.vocabSize <= 0 {
		cfg.vocabSize = 30000
	}
	vocab := map[string]int{}
	var tokens []string
	add := func(s string) int {
		if id, ok := vocab[s]; ok {
			return id
		}
		vocab[s] = len(tokens)
		tokens = append(tokens, s)
		return len(tokens) - 1
	}
	for _, s := range cfg.special {
		add(s)
	}
	// Alphabet: every character weighted by the counts of the words it is in.
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Strings(words)
	charCount := map[rune]int{}
	for _, w := range words {
		for _, r := range w {
			charCount[r] += counts[w]
		}
	}
	for _, r := range cfg.initial {
		charCount[r] = int(^uint(0) >> 1)
	}
	alphabet := make([]rune, 0, len(charCount))
	for r := range charCount {
		alphabet = append(alphabet, r)
	}
	if cfg.limitAlphabet > 0 && len(alphabet) > cfg.limitAlphabet {
		sort.Slice(alphabet, func(i, j int) bool {
			ci, cj := charCount[alphabet[i]], charCount[alphabet[j]]
			if ci != cj {
				return ci > cj
			}
			return alphabet[i] < alphabet[j]
		})
		alphabet = alphabet[:cfg.limitAlphabet]
	}
	slices.Sort(alphabet)
	inAlphabet := map[rune]bool{}
	for _, r := range alphabet {
		add(string(r))
		inAlphabet[r] = true
	}
	// Words as token ids; characters outside the alphabet are dropped.
	syms := make([][]int, len(words))
	freq := make([]int, len(words))
	for i, w := range words {
		freq[i] = counts[w]
		first := true
		for _, r := range w {
			if !inAlphabet[r] {
				continue
			}
			s := string(r)
			if !first && cfg.prefix != "" {
				s = cfg.prefix + s
			}
			first = false
			syms[i] = append(syms[i], add(s))
		}
	}
	pairCount := map[uint64]int{}
	where := map[uint64]map[int]struct{}{}
	for i, w := range syms {
		for k := 0; k+1 < len(w); k++ {
			p := pairKey(w[k], w[k+1])
			pairCount[p] += freq[i]
			if where[p] == nil {
				where[p] = map[int]struct{}{}
			}
			where[p][i] = struct{}{}
		}
	}
	h := make(pairHeap, 0, len(pairCount))
	for p, c := range pairCount {
		if c > 0 {
			h = append(h, pairStat{p, c})
		}
	}
	heap.Init(&h)
	var merges [][2]string
	for len(tokens) < cfg.vocabSize && h.Len() > 0 {
		top := heap.Pop(&h).(pairStat)
		if c := pairCount[top.pair]; c != top.count {
			if c > 0 {
				heap.Push(&h, pairStat{top.pair, c})
			}
			continue
		}
		if top.count < 1 || top.count < cfg.minFreq {
			break
		}
		a, b := int(top.pair>>32), int(uint32(top.pair))
		right := tokens[b]
		if cfg.prefix != "" {
			right = strings.TrimPrefix(right, cfg.prefix)
		}
		id := add(tokens[a] + right)
		merges = append(merges, [2]string{tokens[a], tokens[b]})
		// Merge the pair in every word holding it, in word order.
		pos := make([]int, 0, len(where[top.pair]))
		for i := range where[top.pair] {
			pos = append(pos, i)
		}
		slices.Sort(pos)
		delete(where, top.pair)
		delete(pairCount, top.pair)
		changed := map[uint64]struct{}{}
		for _, i := range pos {
			syms[i] = mergeWord(syms[i], a, b, id, func(p uint64, delta int) {
				if p == top.pair {
					return // every occurrence is merged away
				}
				pairCount[p] += delta * freq[i]
				if delta > 0 {
					if where[p] == nil {
						where[p] = map[int]struct{}{}
					}
					where[p][i] = struct{}{}
					changed[p] = struct{}{}
				}
			})
		}
		for p := range changed {
			if c := pairCount[p]; c > 0 {
				heap.Push(&h, pairStat{p, c})
			}
		}
		if cfg.progress != nil && len(merges)%1000 == 0 {
			cfg.progress("merge", len(tokens), cfg.vocabSize)
		}
	}
	if cfg.progress != nil {
		cfg.progress("merge", len(tokens), cfg.vocabSize)
	}
	return vocab, merges
}

// mergeWord replaces each (a, b) in w, left to right, by id and reports how
// the counts of the neighbouring pairs change.
func mergeWord(w []int, a, b, id int, change func(pair uint64, delta int)) []int {
	out := w[:0]
	for k := 0; k < len(w); k++ {
		if k+1 < len(w) && w[k] == a && w[k+1] == b {
			if len(out) > 0 {
				prev := out[len(out)-1]
				change(pairKey(prev, a), -1)
				change(pairKey(prev, id), 1)
			}
			if k+2 < len(w) {
				next := w[k+2]
				change(pairKey(b, next), -1)
				change(pairKey(id, next), 1)
			}
			out = append(out, id)
			k++
			continue
		}
		out = append(out, w[k])
	}
	return out
}
