package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// A Decoder turns tokens back into text.
type Decoder interface {
	decodeChain(toks []string) []string
	toJSON() map[string]any
}

// WordPieceDecoder joins WordPiece tokens: continuation pieces lose their
// prefix, others get a space before them; Cleanup removes spaces before
// punctuation and in English contractions.
type WordPieceDecoder struct {
	Prefix  string
	Cleanup bool
}

func (d WordPieceDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		if i > 0 {
			if strings.HasPrefix(t, d.Prefix) {
				t = strings.Replace(t, d.Prefix, "", 1)
			} else {
				t = " " + t
			}
		}
		if d.Cleanup {
			t = cleanup(t)
		}
		out[i] = t
	}
	return out
}

var cleanupReplacer = []string{" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'", " n't", "n't", " 'm", "'m", " do not", " don't", " 's", "'s", " 've", "'ve", " 're", "'re"}

func cleanup(s string) string {
	if !strings.Contains(s, " ") {
		return s
	}
	for i := 0; i < len(cleanupReplacer); i += 2 {
		s = strings.ReplaceAll(s, cleanupReplacer[i], cleanupReplacer[i+1])
	}
	return s
}

func (d WordPieceDecoder) toJSON() map[string]any {
	return map[string]any{"type": "WordPiece", "prefix": d.Prefix, "cleanup": d.Cleanup}
}

// ByteLevelDecoder maps byte-level characters back to bytes and reads them as
// UTF-8, replacing invalid sequences with U+FFFD.
type ByteLevelDecoder struct{ ByteLevel }

func (d ByteLevelDecoder) decodeChain(toks []string) []string {
	var b []byte
	for _, t := range toks {
		n := len(b)
		ok := true
		for _, r := range t {
			c, found := runeToByte[r]
			if !found {
				ok = false
				break
			}
			b = append(b, c)
		}
		if !ok {
			b = append(b[:n], t...)
		}
	}
	return []string{lossyUTF8(b)}
}

// lossyUTF8 is Rust's String::from_utf8_lossy: each maximal prefix of a valid
// sequence becomes one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			sb.WriteRune(r)
			i += n
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += invalidLen(b[i:])
	}
	return sb.String()
}

// invalidLen is the length of the maximal subpart of an ill-formed sequence
// at the start of b (at least 1).
func invalidLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

func (d ByteLevelDecoder) toJSON() map[string]any {
	m := d.ByteLevel.toJSON()
	return m
}

// BPEDecoder replaces the end-of-word suffix with a space (nothing at the end).
type BPEDecoder struct{ Suffix string }

func (d BPEDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rep := " "
		if i == len(toks)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(t, d.Suffix, rep)
	}
	return out
}

func (d BPEDecoder) toJSON() map[string]any {
	return map[string]any{"type": "BPEDecoder", "suffix": d.Suffix}
}

// DecoderSequence applies decoders in order.
type DecoderSequence []Decoder

func (q DecoderSequence) decodeChain(toks []string) []string {
	for _, d := range q {
		toks = d.decodeChain(toks)
	}
	return toks
}

func (q DecoderSequence) toJSON() map[string]any {
	return sequenceJSON(q, "decoders")
}
