package tokenizer

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// AddedToken is a token matched in the text before normalization and
// pre-tokenization (Hugging Face's added_tokens entries).
type AddedToken struct {
	ID         int
	Content    string
	SingleWord bool // only match when not inside a word
	LStrip     bool // also consume whitespace on the left
	RStrip     bool // also consume whitespace on the right
	Normalized bool // match in the normalized text instead of the original
	Special    bool // skipped by Decode(ids, true)

	normContent string // Content normalized, for Normalized tokens
}

// token is the vocabulary entry of a: its content, normalized when a is
// matched in normalized text.
func (a *AddedToken) token() string {
	if a.Normalized && a.normContent != "" {
		return a.normContent
	}
	return a.Content
}

// piece is part of the text after added tokens are split out: either an added
// token (id >= 0) or text to normalize and tokenize.
type piece struct {
	id         int
	start, end int // byte range in the searched string
}

// matcher finds added tokens, leftmost-longest.
type matcher struct {
	toks    []*AddedToken // sorted by descending length
	byFirst map[byte][]int
	pats    []string // what is searched for (normalized content for normalized tokens)
}

func newMatcher(toks []*AddedToken, pats []string) *matcher {
	idx := make([]int, len(toks))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return len(pats[idx[a]]) > len(pats[idx[b]]) })
	m := &matcher{byFirst: map[byte][]int{}}
	for _, i := range idx {
		if pats[i] == "" {
			continue
		}
		k := len(m.toks)
		m.toks = append(m.toks, toks[i])
		m.pats = append(m.pats, pats[i])
		m.byFirst[pats[i][0]] = append(m.byFirst[pats[i][0]], k)
	}
	return m
}

// split appends to dst the pieces of s: added tokens and the text between.
func (m *matcher) split(dst []piece, s string) []piece {
	if m == nil || len(m.toks) == 0 {
		return append(dst, piece{-1, 0, len(s)})
	}
	last := 0 // end of the previous added token
	for i := 0; i < len(s); {
		cands := m.byFirst[s[i]]
		hit := -1
		for _, k := range cands {
			if strings.HasPrefix(s[i:], m.pats[k]) {
				hit = k
				break
			}
		}
		if hit < 0 {
			i++
			continue
		}
		t := m.toks[hit]
		start, stop := i, i+len(m.pats[hit])
		if t.SingleWord && ((start > 0 && endsWithWord(s[:start])) || (stop < len(s) && startsWithWord(s[stop:]))) {
			i++
			continue
		}
		if t.LStrip {
			ns := len(strings.TrimRightFunc(s[:start], isSpace))
			start = max(ns, last)
		}
		if t.RStrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], isSpace))
		}
		if last < start {
			dst = append(dst, piece{-1, last, start})
		}
		dst = append(dst, piece{t.ID, start, stop})
		last, i = stop, stop
	}
	if last < len(s) || len(dst) == 0 {
		dst = append(dst, piece{-1, last, len(s)})
	}
	return dst
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWordChar(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordChar(r)
}
