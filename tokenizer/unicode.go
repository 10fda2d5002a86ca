package tokenizer

import (
	"sort"
	"unicode/utf8"
)

// runeRange is an inclusive range of code points.
type runeRange [2]rune

// inTable reports whether r lies in one of the sorted ranges t.
func inTable(t []runeRange, r rune) bool {
	i := sort.Search(len(t), func(i int) bool { return t[i][1] >= r })
	return i < len(t) && t[i][0] <= r
}

// isSpace is \s of GPT-2's pattern, which is also Unicode's White_Space
// property (Rust's char::is_whitespace).
func isSpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return inTable(spaceTable, r)
}

// isBertWhitespace is what BERT's clean_text maps to a space.
func isBertWhitespace(r rune) bool { return isSpace(r) }

// isBertControl is what BERT's clean_text drops besides NUL and U+FFFD:
// control, format and private-use characters except tab, newline and carriage
// return.
func isBertControl(r rune) bool {
	if r < 0x80 {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f
	}
	return inTable(bertControlTable, r)
}

// isBertPunct is ASCII punctuation (which includes symbols such as $ and +)
// or Unicode punctuation.
func isBertPunct(r rune) bool {
	if r < 0x80 {
		return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
	}
	return inTable(bertPunctTable, r)
}

// isBertMark reports the non-spacing marks BERT's strip_accents drops.
func isBertMark(r rune) bool { return r >= 0x300 && inTable(bertMarkTable, r) }

// isCombiningMark reports the marks the StripAccents normalizer drops.
func isCombiningMark(r rune) bool { return r >= 0x300 && inTable(combiningMarkTable, r) }

// isWordChar is \w of the Whitespace pre-tokenizer.
func isWordChar(r rune) bool {
	if r < 0x80 {
		return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') || r == '_'
	}
	return inTable(wordTable, r)
}

// isLetter is \p{L} of GPT-2's pattern.
func isLetter(r rune) bool {
	if r < 0x80 {
		return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
	}
	return inTable(letterTable, r)
}

// isNumber is \p{N} of GPT-2's pattern.
func isNumber(r rune) bool {
	if r < 0x80 {
		return '0' <= r && r <= '9'
	}
	return inTable(numberTable, r)
}

// toLower is Rust's char::to_lowercase for runes with a one-rune lowercase.
func toLower(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	i := sort.Search(len(lowerTable), func(i int) bool { return lowerTable[i][0] >= r })
	if i < len(lowerTable) && lowerTable[i][0] == r {
		return lowerTable[i][1]
	}
	return r
}

func encodeRune(b []byte, r rune) int { return utf8.EncodeRune(b, r) }

// byteToRune is GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for
// themselves, the others for U+0100 onwards in byte order.
var byteToRune, runeToByte = byteTables()

func byteTables() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := make(map[rune]byte, 256)
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			b2r[b] = rune(b)
		} else {
			b2r[b] = rune(256 + n)
			n++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}
