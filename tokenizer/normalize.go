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
	for i := 0; i < len(s); {
		// Invalid UTF-8 reads as U+FFFD, one per byte.
		r, w := utf8.DecodeRuneInString(s[i:])
		dst.runes = append(dst.runes, r)
		dst.align = append(dst.align, span{base + i, base + i + w})
		i += w
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
		n = filterMarks(normalizeForm(n, false, false, sc), isBertMark)
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

// An edit is one character of normalized output and how it relates to the
// input, as Hugging Face's NormalizedString::transform takes them: change 0
// replaces the next input character, +1 inserts after the previous one, -k
// replaces the next input character and drops the k after it.
type edit struct {
	r      rune
	change int
}

// normalizeForm applies NFD, NFKD (compat), NFC or NFKC (compose) the way
// Hugging Face's alignment-tracking normalizer does: decompose each character
// (its first rune replaces it, the others are inserted), put combining marks
// in canonical order (edits move with their runes), compose (an absorbed
// rune's drop is charged to the rune kept before it), then align by position.
// Only the decompositions and combining classes of Hugging Face's Unicode
// version are used (gen_unicode.go).
func normalizeForm(n normStr, compat, composeToo bool, sc *scratch) normStr {
	if isASCII(n.runes) {
		return n
	}
	form, table := norm.NFD, nfdTable
	if compat {
		form, table = norm.NFKD, nfkdTable
	}
	eds := sc.edits[:0]
	var buf [utf8.UTFMax]byte
	dec := sc.buf[:0]
	for _, r := range n.runes {
		if r < 0x80 || !inTable(table, r) {
			eds = append(eds, edit{r, 0})
			continue
		}
		k := utf8.EncodeRune(buf[:], r)
		dec = form.Append(dec[:0], buf[:k]...)
		first := true
		for _, d := range string(dec) {
			c := 1
			if first {
				c, first = 0, false
			}
			eds = append(eds, edit{d, c})
		}
	}
	sc.buf = dec
	// Canonical order: stable insertion sort of each run of non-starters.
	for i := 1; i < len(eds); i++ {
		c := hfCCC(eds[i].r)
		if c == 0 {
			continue
		}
		for j := i; j > 0 && hfCCC(eds[j-1].r) > c; j-- {
			eds[j], eds[j-1] = eds[j-1], eds[j]
		}
	}
	if composeToo {
		eds = composeEdits(eds)
	}
	sc.edits = eds
	return applyEdits(n, eds, sc)
}

// hfCCC is the canonical combining class in Hugging Face's Unicode version:
// marks it does not know have class 0.
func hfCCC(r rune) int {
	if r < 0x300 {
		return 0
	}
	var buf [utf8.UTFMax]byte
	k := utf8.EncodeRune(buf[:], r)
	c := int(norm.NFD.Properties(buf[:k]).CCC())
	if c > 1 && !inTable(cccTable, r) {
		return 0
	}
	return c
}

// composeEdits applies canonical composition in place.
func composeEdits(eds []edit) []edit {
	k := 0
	starter, last := -1, -1 // last: class of the last kept rune after the starter, -1 if none
	for _, e := range eds {
		c := hfCCC(e.r)
		if starter >= 0 && (last == -1 || (last < c && c != 0)) {
			if p, ok := composePair(eds[starter].r, e.r); ok {
				eds[starter].r = p
				eds[k-1].change += e.change - 1
				continue
			}
		}
		if c == 0 {
			starter, last = k, -1
		} else {
			last = c
		}
		eds[k] = e
		k++
	}
	return eds[:k]
}

// composePair returns the primary composite of a and b, if Hugging Face's
// Unicode version has it.
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
	if sz == len(res) && r != utf8.RuneError && inTable(nfdTable, r) {
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

func (NFC) normalize(n normStr, sc *scratch) normStr  { return normalizeForm(n, false, true, sc) }
func (NFD) normalize(n normStr, sc *scratch) normStr  { return normalizeForm(n, false, false, sc) }
func (NFKC) normalize(n normStr, sc *scratch) normStr { return normalizeForm(n, true, true, sc) }
func (NFKD) normalize(n normStr, sc *scratch) normStr { return normalizeForm(n, true, false, sc) }
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
