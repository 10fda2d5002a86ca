package tokenizer

import (
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// span is a half-open byte range [0]..[1] of the original text.
type span = [2]int

// normStr is text being normalized: one rune per element and, for each rune,
// the byte range of the original text it came from (Hugging Face's
// NormalizedString alignments, kept per character instead of per byte).
type normStr struct {
	runes []rune
	align []span
}

// fromString builds a normStr over s whose offsets start at base.
func fromString(s string, base int, sc *scratch) normStr {
	dst := sc.alloc(len(s))
	for i, r := range s {
		dst.runes = append(dst.runes, r)
		dst.align = append(dst.align, span{base + i, base + i + utf8.RuneLen(r)})
	}
	return dst
}

func (n normStr) len() int { return len(n.runes) }

func (n normStr) slice(i, j int) normStr {
	return normStr{runes: n.runes[i:j:j], align: n.align[i:j:j]}
}

// offsets returns the original byte range covered by runes [i, j).
func (n normStr) offsets(i, j int) span {
	if i >= j || j > len(n.align) {
		return span{0, 0}
	}
	return span{n.align[i][0], n.align[j-1][1]}
}

func (n normStr) String() string { return string(n.runes) }

// A Normalizer rewrites text while keeping every character aligned to the
// original text it came from.
type Normalizer interface {
	// normalize may rewrite n in place and takes new buffers from sc.
	normalize(n normStr, sc *scratch) normStr
	toJSON() map[string]any
}

// BertNormalizer is Hugging Face's BertNormalizer: drop control characters and
// map whitespace to spaces (CleanText), surround CJK ideographs with spaces,
// strip accents (NFD then drop non-spacing marks) and lowercase. StripAccents
// nil means "same as Lowercase".
type BertNormalizer struct {
	CleanText          bool
	HandleChineseChars bool
	StripAccents       *bool
	Lowercase          bool
}

func (b *BertNormalizer) normalize(n normStr, sc *scratch) normStr {
	if b.CleanText {
		k := 0
		for i, r := range n.runes {
			if r == 0 || r == 0xfffd || isBertControl(r) {
				continue
			}
			if isBertWhitespace(r) {
				r = ' '
			}
			n.runes[k], n.align[k] = r, n.align[i]
			k++
		}
		n = n.slice(0, k)
	}
	if b.HandleChineseChars {
		cnt := 0
		for _, r := range n.runes {
			if isChineseChar(r) {
				cnt++
			}
		}
		if cnt > 0 {
			out := sc.alloc(len(n.runes) + 2*cnt)
			for i, r := range n.runes {
				a := n.align[i]
				if isChineseChar(r) {
					out.runes = append(out.runes, ' ', r, ' ')
					out.align = append(out.align, a, a, a)
				} else {
					out.runes = append(out.runes, r)
					out.align = append(out.align, a)
				}
			}
			n = out
		}
	}
	strip := b.Lowercase
	if b.StripAccents != nil {
		strip = *b.StripAccents
	}
	if strip {
		n = filterMarks(decompose(n, false, sc), isBertMark)
	}
	if b.Lowercase {
		n = lowercase(n, sc)
	}
	return n
}

func (b *BertNormalizer) toJSON() map[string]any {
	var sa any
	if b.StripAccents != nil {
		sa = *b.StripAccents
	}
	return map[string]any{"type": "BertNormalizer", "clean_text": b.CleanText,
		"handle_chinese_chars": b.HandleChineseChars, "strip_accents": sa, "lowercase": b.Lowercase}
}

// isChineseChar reports the CJK ideograph blocks BERT isolates.
func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// filterMarks drops the runes for which isMark is true, in place.
func filterMarks(n normStr, isMark func(rune) bool) normStr {
	k := 0
	for i, r := range n.runes {
		if r >= 0x300 && isMark(r) {
			continue
		}
		n.runes[k], n.align[k] = r, n.align[i]
		k++
	}
	return n.slice(0, k)
}

// lowercase maps each rune to its lowercase form; U+0130 becomes two runes
// ("i̇") as in Rust's char::to_lowercase.
func lowercase(n normStr, sc *scratch) normStr {
	extra := 0
	for _, r := range n.runes {
		if r == 0x130 {
			extra++
		}
	}
	if extra > 0 {
		out := sc.alloc(len(n.runes) + extra)
		for i, r := range n.runes {
			if r == 0x130 {
				out.runes = append(out.runes, 'i', 0x307)
				out.align = append(out.align, n.align[i], n.align[i])
				continue
			}
			out.runes = append(out.runes, toLower(r))
			out.align = append(out.align, n.align[i])
		}
		return out
	}
	for i, r := range n.runes {
		n.runes[i] = toLower(r)
	}
	return n
}

func isASCII(rs []rune) bool {
	for _, r := range rs {
		if r >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// decompose applies NFD (or NFKD when compat) rune by rune, then puts
// combining marks in canonical order; every output rune keeps the alignment
// of the rune it came from.
func decompose(n normStr, compat bool, sc *scratch) normStr {
	if isASCII(n.runes) {
		return n
	}
	form := norm.NFD
	if compat {
		form = norm.NFKD
	}
	out := sc.alloc(len(n.runes) + len(n.runes)/4 + 8) // appends past this allocate
	var buf [utf8.UTFMax]byte
	dec := sc.buf[:0]
	for i, r := range n.runes {
		if r < 0xC0 && !compat {
			out.runes = append(out.runes, r)
			out.align = append(out.align, n.align[i])
			continue
		}
		k := utf8.EncodeRune(buf[:], r)
		dec = form.Append(dec[:0], buf[:k]...)
		for _, d := range string(dec) {
			out.runes = append(out.runes, d)
			out.align = append(out.align, n.align[i])
		}
	}
	sc.buf = dec
	canonicalOrder(out)
	return out
}

func ccc(r rune) uint8 {
	if r < 0x300 {
		return 0
	}
	var buf [utf8.UTFMax]byte
	k := utf8.EncodeRune(buf[:], r)
	return norm.NFD.Properties(buf[:k]).CCC()
}

// canonicalOrder stably sorts each run of non-starters by combining class.
// Alignments stay in place, as Hugging Face assigns them by position.
func canonicalOrder(n normStr) {
	for i := 1; i < len(n.runes); i++ {
		c := ccc(n.runes[i])
		if c == 0 {
			continue
		}
		for j := i; j > 0; j-- {
			p := ccc(n.runes[j-1])
			if p <= c {
				break
			}
			n.runes[j], n.runes[j-1] = n.runes[j-1], n.runes[j]
		}
	}
}

// compose applies canonical composition to decomposed text; a composed rune
// keeps the alignment of its starter, as Hugging Face's alignments do.
func compose(n normStr) normStr {
	if isASCII(n.runes) {
		return n
	}
	k := 0
	starter, last := -1, -1 // last: combining class of the last kept rune after the starter, -1 if adjacent
	for i, r := range n.runes {
		c := int(ccc(r))
		if starter >= 0 && (last == -1 || (last < c && c != 0)) {
			if p, ok := composePair(n.runes[starter], r); ok {
				n.runes[starter] = p
				continue
			}
		}
		if c == 0 {
			starter, last = k, -1
		} else {
			last = c
		}
		n.runes[k], n.align[k] = r, n.align[i]
		k++
	}
	return n.slice(0, k)
}

// composePair returns the primary composite of a and b, if any.
func composePair(a, b rune) (rune, bool) {
	if b < 0x300 {
		return 0, false // every second half of a composition is at or above U+0300
	}
	var buf [2 * utf8.UTFMax]byte
	k := utf8.EncodeRune(buf[:], a)
	k += utf8.EncodeRune(buf[k:], b)
	var out [2 * utf8.UTFMax]byte
	res := norm.NFC.Append(out[:0], buf[:k]...)
	r, sz := utf8.DecodeRune(res)
	if sz == len(res) && r != utf8.RuneError {
		return r, true
	}
	return 0, false
}

// Unicode normalization forms, as Hugging Face's NFC/NFD/NFKC/NFKD normalizers.
type (
	NFC  struct{}
	NFD  struct{}
	NFKC struct{}
	NFKD struct{}
	// Lowercase maps to lowercase (Rust's char::to_lowercase).
	Lowercase struct{}
	// StripAccents drops non-spacing marks; put NFD before it.
	StripAccents struct{}
	// Sequence applies normalizers in order.
	NormalizerSequence []Normalizer
)

func (NFC) normalize(n normStr, sc *scratch) normStr  { return compose(decompose(n, false, sc)) }
func (NFD) normalize(n normStr, sc *scratch) normStr  { return decompose(n, false, sc) }
func (NFKC) normalize(n normStr, sc *scratch) normStr { return compose(decompose(n, true, sc)) }
func (NFKD) normalize(n normStr, sc *scratch) normStr { return decompose(n, true, sc) }
func (Lowercase) normalize(n normStr, sc *scratch) normStr {
	return lowercase(n, sc)
}
func (StripAccents) normalize(n normStr, _ *scratch) normStr {
	return filterMarks(n, isCombiningMark)
}
func (s NormalizerSequence) normalize(n normStr, sc *scratch) normStr {
	for _, x := range s {
		n = x.normalize(n, sc)
	}
	return n
}

func (NFC) toJSON() map[string]any          { return map[string]any{"type": "NFC"} }
func (NFD) toJSON() map[string]any          { return map[string]any{"type": "NFD"} }
func (NFKC) toJSON() map[string]any         { return map[string]any{"type": "NFKC"} }
func (NFKD) toJSON() map[string]any         { return map[string]any{"type": "NFKD"} }
func (Lowercase) toJSON() map[string]any    { return map[string]any{"type": "Lowercase"} }
func (StripAccents) toJSON() map[string]any { return map[string]any{"type": "StripAccents"} }
func (s NormalizerSequence) toJSON() map[string]any {
	return sequenceJSON(s, "normalizers")
}
