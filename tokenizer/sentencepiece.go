package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Components of tokenizers converted from SentencePiece (Llama-style): the
// Prepend, Replace and Strip normalizers, the Metaspace pre-tokenizer and
// decoder, and the Replace, ByteFallback, Fuse and Strip decoders.

// Prepend puts Prepend before non-empty text, aligned to its first character.
type Prepend struct{ Prepend string }

func (p Prepend) normalize(n normStr, sc *scratch) normStr {
	if len(n.runes) == 0 || p.Prepend == "" {
		return n
	}
	k := utf8.RuneCountInString(p.Prepend)
	out := sc.alloc(len(n.runes) + k)
	for _, r := range p.Prepend {
		out.runes = append(out.runes, r)
		out.align = append(out.align, n.align[0])
	}
	out.runes = append(out.runes, n.runes...)
	out.align = append(out.align, n.align...)
	return out
}

func (p Prepend) toJSON() map[string]any {
	return map[string]any{"type": "Prepend", "prepend": p.Prepend}
}

// Replace replaces every occurrence of the string Pattern with Content; the
// replacement is aligned to the last character it replaces.
type Replace struct{ Pattern, Content string }

func (p Replace) normalize(n normStr, sc *scratch) normStr {
	pat := []rune(p.Pattern)
	if len(pat) == 0 {
		return n
	}
	content := []rune(p.Content)
	if len(pat) == 1 && len(content) == 1 {
		for i, r := range n.runes {
			if r == pat[0] {
				n.runes[i] = content[0]
			}
		}
		return n
	}
	out := sc.alloc(len(n.runes) + len(n.runes)/len(pat)*len(content))
	for i := 0; i < len(n.runes); {
		if i+len(pat) <= len(n.runes) && runesEqual(n.runes[i:i+len(pat)], pat) {
			a := n.align[i+len(pat)-1]
			for _, r := range content {
				out.runes = append(out.runes, r)
				out.align = append(out.align, a)
			}
			i += len(pat)
			continue
		}
		out.runes = append(out.runes, n.runes[i])
		out.align = append(out.align, n.align[i])
		i++
	}
	return out
}

func runesEqual(a, b []rune) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (p Replace) toJSON() map[string]any {
	return map[string]any{"type": "Replace", "pattern": map[string]any{"String": p.Pattern}, "content": p.Content}
}

// Strip removes whitespace from the left and/or right of the text.
type Strip struct{ Left, Right bool }

func (p Strip) normalize(n normStr, _ *scratch) normStr {
	i, j := 0, len(n.runes)
	if p.Left {
		for i < j && isSpace(n.runes[i]) {
			i++
		}
	}
	if p.Right {
		for j > i && isSpace(n.runes[j-1]) {
			j--
		}
	}
	return n.slice(i, j)
}

func (p Strip) toJSON() map[string]any {
	return map[string]any{"type": "Strip", "strip_left": p.Left, "strip_right": p.Right}
}

// Prepend schemes of Metaspace.
const (
	PrependAlways = "always"
	PrependFirst  = "first" // only to text starting the sequence
	PrependNever  = "never"
)

// Metaspace replaces spaces with Replacement, prepends one as its scheme
// says, and splits before each (SentencePiece's word boundaries).
type Metaspace struct {
	Replacement   rune
	PrependScheme string
	Split         bool
}

func (m Metaspace) split(dst []normStr, s normStr, sc *scratch) []normStr {
	if len(s.runes) == 0 {
		return dst
	}
	s = Replace{" ", string(m.Replacement)}.normalize(s, sc)
	if s.runes[0] != m.Replacement && (m.PrependScheme == PrependAlways || m.PrependScheme == PrependFirst && s.align[0][0] == 0) {
		s = Prepend{string(m.Replacement)}.normalize(s, sc)
	}
	if !m.Split {
		return append(dst, s)
	}
	return splitOn(dst, s, func(r rune) bool { return r == m.Replacement }, MergedWithNext)
}

func (m Metaspace) toJSON() map[string]any {
	return map[string]any{"type": "Metaspace", "replacement": string(m.Replacement), "prepend_scheme": m.PrependScheme, "split": m.Split}
}

func (m Metaspace) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var sb strings.Builder
		for _, r := range t {
			if r == m.Replacement {
				if i == 0 && m.PrependScheme != PrependNever {
					continue
				}
				r = ' '
			}
			sb.WriteRune(r)
		}
		out[i] = sb.String()
	}
	return out
}

// ReplaceDecoder replaces Pattern with Content in every token.
type ReplaceDecoder struct{ Pattern, Content string }

func (d ReplaceDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strings.ReplaceAll(t, d.Pattern, d.Content)
	}
	return out
}

func (d ReplaceDecoder) toJSON() map[string]any { return Replace(d).toJSON() }

// ByteFallback turns runs of <0xXX> tokens back into text, one U+FFFD per
// byte when a run is not valid UTF-8.
type ByteFallback struct{}

func (ByteFallback) decodeChain(toks []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range toks {
		if b, ok := byteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// byteToken parses "<0xXX>".
func byteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	var v byte
	for _, c := range t[3:5] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | byte(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | byte(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | byte(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

func (ByteFallback) toJSON() map[string]any { return map[string]any{"type": "ByteFallback"} }

// Fuse joins all tokens into one.
type Fuse struct{}

func (Fuse) decodeChain(toks []string) []string { return []string{strings.Join(toks, "")} }
func (Fuse) toJSON() map[string]any             { return map[string]any{"type": "Fuse"} }

// StripDecoder removes up to Start leading and Stop trailing Content runes
// from every token.
type StripDecoder struct {
	Content     rune
	Start, Stop int
}

func (d StripDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		a, b := 0, len(rs)
		for a < min(d.Start, len(rs)) && rs[a] == d.Content {
			a++
		}
		for k := 0; k < d.Stop && b > a && rs[b-1] == d.Content; k++ {
			b--
		}
		out[i] = string(rs[a:b])
	}
	return out
}

func (d StripDecoder) toJSON() map[string]any {
	return map[string]any{"type": "Strip", "content": string(d.Content), "start": d.Start, "stop": d.Stop}
}

// RegexReplace replaces every match of a regular expression with Content,
// aligned as Replace (SpmConverter's Replace(" {2,}", "▁"), say). Hugging
// Face matches with Oniguruma; patterns are accepted only where Go's
// regexp reads them the same: \A and \z but no ^ or $ (line anchors in
// Oniguruma), no word boundaries, Perl classes (\d \s \w), POSIX classes
// or flag groups, and no pattern that matches the empty string.
type RegexReplace struct {
	Pattern, Content string
	re               *regexp.Regexp
}

// NewRegexReplace compiles pattern, refusing what Go and Oniguruma would
// read differently.
func NewRegexReplace(pattern, content string) (*RegexReplace, error) {
	inClass := false
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\' && i+1 < len(pattern):
			if strings.IndexByte("dDsSwWbBZhHRXKG", pattern[i+1]) >= 0 {
				return nil, fmt.Errorf("pattern: regex %q: \\%c differs between Oniguruma and Go", pattern, pattern[i+1])
			}
			i++
		case c == '[' && !inClass:
			inClass = true
			if strings.HasPrefix(pattern[i:], "[[:") {
				return nil, fmt.Errorf("pattern: regex %q: POSIX classes are not supported", pattern)
			}
			if strings.HasPrefix(pattern[i:], "[^]") || strings.HasPrefix(pattern[i:], "[]") {
				return nil, fmt.Errorf("pattern: regex %q: a ] first in a class differs between Oniguruma and Go", pattern)
			}
		case c == ']' && inClass:
			inClass = false
		case (c == '^' || c == '$') && !inClass:
			return nil, fmt.Errorf("pattern: regex %q: ^ and $ match at lines in Oniguruma, at the text in Go; use \\A and \\z", pattern)
		case c == '(' && !inClass && strings.HasPrefix(pattern[i:], "(?") && !strings.HasPrefix(pattern[i:], "(?:"):
			return nil, fmt.Errorf("pattern: regex %q: flag and look-around groups are not supported", pattern)
		}
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern: regex %q: %w", pattern, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("pattern: regex %q matches the empty string", pattern)
	}
	return &RegexReplace{Pattern: pattern, Content: content, re: re}, nil
}

func (p *RegexReplace) normalize(n normStr, sc *scratch) normStr {
	if len(n.runes) == 0 {
		return n
	}
	s := n.String()
	m := p.re.FindAllStringIndex(s, -1)
	if m == nil {
		return n
	}
	content := []rune(p.Content)
	out := sc.alloc(len(n.runes) + len(m)*len(content))
	i, b := 0, 0 // rune index and its byte offset in s
	for _, mt := range m {
		for b < mt[0] {
			out.runes = append(out.runes, n.runes[i])
			out.align = append(out.align, n.align[i])
			b += encodedLen(n.runes[i])
			i++
		}
		for b < mt[1] {
			b += encodedLen(n.runes[i])
			i++
		}
		a := n.align[i-1]
		for _, r := range content {
			out.runes = append(out.runes, r)
			out.align = append(out.align, a)
		}
	}
	out.runes = append(out.runes, n.runes[i:]...)
	out.align = append(out.align, n.align[i:]...)
	return out
}

func (p *RegexReplace) toJSON() map[string]any {
	return map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": p.Pattern}, "content": p.Content}
}

// encodedLen is the length of r in string(runes): invalid runes become U+FFFD.
func encodedLen(r rune) int {
	if n := utf8.RuneLen(r); n > 0 {
		return n
	}
	return 3
}
