package tokenizer

import "unicode/utf8"

// A PreTokenizer cuts normalized text into the words a model tokenizes
// separately.
type PreTokenizer interface {
	// split appends the pieces of s to dst, taking new buffers from sc.
	split(dst []normStr, s normStr, sc *scratch) []normStr
	toJSON() map[string]any
}

// SplitBehavior says what happens to the characters a pre-tokenizer splits on
// (Hugging Face's SplitDelimiterBehavior).
type SplitBehavior string

// Split behaviors.
const (
	Removed            SplitBehavior = "Removed"
	Isolated           SplitBehavior = "Isolated"
	MergedWithPrevious SplitBehavior = "MergedWithPrevious"
	MergedWithNext     SplitBehavior = "MergedWithNext"
	Contiguous         SplitBehavior = "Contiguous"
)

func validBehavior(b SplitBehavior) bool {
	switch b {
	case Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous:
		return true
	}
	return false
}

// splitOn appends to dst the pieces of s cut at the runes for which delim is
// true, treating those runes as b says.
func splitOn(dst []normStr, s normStr, delim func(rune) bool, b SplitBehavior) []normStr {
	n := len(s.runes)
	start := 0 // start of the pending piece
	for i := 0; i < n; i++ {
		if !delim(s.runes[i]) {
			continue
		}
		j := i + 1
		if b == Contiguous {
			for j < n && delim(s.runes[j]) {
				j++
			}
		}
		switch b {
		case Removed:
			dst = appendPiece(dst, s, start, i)
			start = j
		case Isolated, Contiguous:
			dst = appendPiece(dst, s, start, i)
			dst = appendPiece(dst, s, i, j)
			start = j
		case MergedWithPrevious:
			dst = appendPiece(dst, s, start, j)
			start = j
		case MergedWithNext:
			dst = appendPiece(dst, s, start, i)
			start = i
		}
		i = j - 1
	}
	return appendPiece(dst, s, start, n)
}

func appendPiece(dst []normStr, s normStr, i, j int) []normStr {
	if i < j {
		dst = append(dst, s.slice(i, j))
	}
	return dst
}

// BertPreTokenizer splits on whitespace (dropped) and isolates punctuation.
type BertPreTokenizer struct{}

func (BertPreTokenizer) split(dst []normStr, s normStr, _ *scratch) []normStr {
	n := len(s.runes)
	start := 0
	for i := 0; i < n; i++ {
		r := s.runes[i]
		if isSpace(r) {
			dst = appendPiece(dst, s, start, i)
			start = i + 1
		} else if isBertPunct(r) {
			dst = appendPiece(dst, s, start, i)
			dst = appendPiece(dst, s, i, i+1)
			start = i + 1
		}
	}
	return appendPiece(dst, s, start, n)
}

func (BertPreTokenizer) toJSON() map[string]any { return map[string]any{"type": "BertPreTokenizer"} }

// WhitespaceSplit splits on whitespace, dropping it.
type WhitespaceSplit struct{}

func (WhitespaceSplit) split(dst []normStr, s normStr, _ *scratch) []normStr {
	return splitOn(dst, s, isSpace, Removed)
}
func (WhitespaceSplit) toJSON() map[string]any { return map[string]any{"type": "WhitespaceSplit"} }

// Whitespace keeps runs of word characters and runs of other non-space
// characters (the regular expression \w+|[^\w\s]+).
type Whitespace struct{}

func (Whitespace) split(dst []normStr, s normStr, _ *scratch) []normStr {
	n := len(s.runes)
	for i := 0; i < n; {
		r := s.runes[i]
		if isSpace(r) && !isWordChar(r) {
			i++
			continue
		}
		w := isWordChar(r)
		j := i + 1
		for j < n {
			q := s.runes[j]
			if w {
				if !isWordChar(q) {
					break
				}
			} else if isWordChar(q) || isSpace(q) {
				break
			}
			j++
		}
		dst = appendPiece(dst, s, i, j)
		i = j
	}
	return dst
}
func (Whitespace) toJSON() map[string]any { return map[string]any{"type": "Whitespace"} }

// Punctuation splits on punctuation characters.
type Punctuation struct{ Behavior SplitBehavior }

func (p Punctuation) split(dst []normStr, s normStr, _ *scratch) []normStr {
	return splitOn(dst, s, isBertPunct, p.Behavior)
}
func (p Punctuation) toJSON() map[string]any {
	return map[string]any{"type": "Punctuation", "behavior": string(p.Behavior)}
}

// Digits splits numbers off, each digit alone when IndividualDigits.
type Digits struct{ IndividualDigits bool }

func (d Digits) split(dst []normStr, s normStr, _ *scratch) []normStr {
	b := Contiguous
	if d.IndividualDigits {
		b = Isolated
	}
	return splitOn(dst, s, isNumber, b)
}
func (d Digits) toJSON() map[string]any {
	return map[string]any{"type": "Digits", "individual_digits": d.IndividualDigits}
}

// PreTokenizerSequence applies pre-tokenizers in order, each to every piece
// the previous ones produced.
type PreTokenizerSequence []PreTokenizer

func (q PreTokenizerSequence) split(dst []normStr, s normStr, sc *scratch) []normStr {
	cur := []normStr{s}
	var next []normStr
	for _, p := range q {
		next = next[:0]
		for _, c := range cur {
			next = p.split(next, c, sc)
		}
		cur, next = next, cur
	}
	return append(dst, cur...)
}

func (q PreTokenizerSequence) toJSON() map[string]any {
	return sequenceJSON(q, "pretokenizers")
}

// ByteLevel is GPT-2's pre-tokenizer: optionally prefix a space, split with
// GPT-2's pattern, then spell every UTF-8 byte as one printable character.
type ByteLevel struct {
	AddPrefixSpace bool
	TrimOffsets    bool
	UseRegex       bool
}

func (b ByteLevel) split(dst []normStr, s normStr, sc *scratch) []normStr {
	if len(s.runes) == 0 {
		return dst
	}
	if b.AddPrefixSpace && s.runes[0] != ' ' {
		p := sc.alloc(len(s.runes) + 1)
		p.runes = append(append(p.runes, ' '), s.runes...)
		p.align = append(append(p.align, s.align[0]), s.align...)
		s = p
	}
	// Spell all of s in byte-level characters once, then cut that at the
	// pieces' boundaries: rune i of s starts at m[i] in bs.
	bs := toByteChars(s, sc)
	if !b.UseRegex {
		return append(dst, bs)
	}
	ascii := len(bs.runes) == len(s.runes)
	m := sc.bpos[:0]
	if !ascii {
		k := 0
		for _, r := range s.runes {
			m = append(m, k)
			k += utf8.RuneLen(r)
		}
		m = append(m, k)
		sc.bpos = m
	}
	for i := 0; i < len(s.runes); {
		j := gpt2Match(s.runes, i)
		if ascii {
			dst = append(dst, bs.slice(i, j))
		} else {
			dst = append(dst, bs.slice(m[i], m[j]))
		}
		i = j
	}
	return dst
}

func (b ByteLevel) toJSON() map[string]any {
	return map[string]any{"type": "ByteLevel", "add_prefix_space": b.AddPrefixSpace,
		"trim_offsets": b.TrimOffsets, "use_regex": b.UseRegex}
}

// toByteChars spells each UTF-8 byte of s as its byte-level character; all
// bytes of one rune keep that rune's alignment.
func toByteChars(s normStr, sc *scratch) normStr {
	n := 0
	for _, r := range s.runes {
		n += utf8.RuneLen(r)
	}
	out := sc.alloc(n)
	var buf [4]byte
	for i, r := range s.runes {
		k := encodeRune(buf[:], r)
		for _, c := range buf[:k] {
			out.runes = append(out.runes, byteToRune[c])
			out.align = append(out.align, s.align[i])
		}
	}
	return out
}

// gpt2Match returns the end (> i) of the match of GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// starting at rune i, scanned by hand because Go's regexp has no lookahead.
func gpt2Match(rs []rune, i int) int {
	n := len(rs)
	r := rs[i]
	if r == '\'' && i+1 < n {
		switch rs[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < n && rs[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < n && rs[i+2] == 'l' {
				return i + 3
			}
		}
	}
	k := i
	if r == ' ' && i+1 < n && !isSpace(rs[i+1]) {
		k = i + 1 // the optional space of ` ?\p{L}+`, ` ?\p{N}+` and ` ?[^\s\p{L}\p{N}]+`
	}
	if !isSpace(rs[k]) {
		c := gpt2Class(rs[k])
		j := k + 1
		for j < n && !isSpace(rs[j]) && gpt2Class(rs[j]) == c {
			j++
		}
		return j
	}
	j := i + 1
	for j < n && isSpace(rs[j]) {
		j++
	}
	if j < n && j-i > 1 {
		return j - 1 // \s+(?!\S): leave the last space to prefix the next word
	}
	return j
}

// gpt2Class returns 0 for letters, 1 for numbers, 2 for other non-space runes.
func gpt2Class(r rune) int {
	switch {
	case isLetter(r):
		return 0
	case isNumber(r):
		return 1
	}
	return 2
}
