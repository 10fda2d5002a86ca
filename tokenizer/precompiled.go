package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Precompiled is SentencePiece's normalizer as Hugging Face runs it: the
// precompiled_charsmap of a SentencePiece model (nmt_nfkc rules, say) maps
// byte sequences to replacement strings through a double-array trie.
//
// The text is cut into extended grapheme clusters; a cluster shorter than 6
// bytes whose bytes start with a mapped sequence is replaced whole by the
// replacement of the shortest such sequence, otherwise each character is
// replaced by its own mapping, if any. Alignments follow Hugging Face's
// transform: the first character of a replacement of k characters for m
// carries the change k-m, the others are inserted (see applyEdits).
type Precompiled struct {
	Charsmap []byte // the raw precompiled_charsmap; empty maps nothing (Hugging Face refuses it)

	units      []uint32 // double-array trie
	normalized []byte   // NUL-terminated replacement strings
}

// NewPrecompiled decodes a precompiled_charsmap: a little-endian uint32 trie
// size in bytes, the trie's uint32 units, then the replacement strings,
// which must be valid UTF-8.
func NewPrecompiled(charsmap []byte) (*Precompiled, error) {
	p := &Precompiled{Charsmap: charsmap}
	if len(charsmap) == 0 {
		return p, nil
	}
	if len(charsmap) < 4 {
		return nil, fmt.Errorf("precompiled_charsmap: %d bytes, too short for the trie size", len(charsmap))
	}
	size := uint64(binary.LittleEndian.Uint32(charsmap)) / 4 * 4
	if size > uint64(len(charsmap)-4) {
		return nil, fmt.Errorf("precompiled_charsmap: trie of %d bytes but only %d follow", size, len(charsmap)-4)
	}
	p.units = make([]uint32, size/4)
	for i := range p.units {
		p.units[i] = binary.LittleEndian.Uint32(charsmap[4+4*i:])
	}
	p.normalized = charsmap[4+size:]
	if !utf8.Valid(p.normalized) {
		return nil, errors.New("precompiled_charsmap: replacement strings are not valid UTF-8")
	}
	return p, nil
}

// lookup returns the replacement of the shortest prefix of key the trie
// maps (SentencePiece's DoubleArray common prefix search, first result); a
// NUL byte ends the key. Units pointing outside the trie or the strings end
// the search: a damaged charsmap maps less, it never panics.
func (p *Precompiled) lookup(key []byte) ([]byte, bool) {
	u := p.units
	if len(u) == 0 {
		return nil, false
	}
	offset := func(x uint32) uint64 { return uint64(x>>10) << ((x & (1 << 9)) >> 6) }
	pos := offset(u[0])
	for _, c := range key {
		if c == 0 {
			break
		}
		pos ^= uint64(c)
		if pos >= uint64(len(u)) {
			return nil, false
		}
		x := u[pos]
		if x&(1<<31|0xFF) != uint32(c) {
			return nil, false
		}
		pos ^= offset(x)
		if x>>8&1 == 1 {
			if pos >= uint64(len(u)) {
				return nil, false
			}
			v := uint64(u[pos] & (1<<31 - 1))
			if v > uint64(len(p.normalized)) {
				return nil, false
			}
			s := p.normalized[v:]
			for i, b := range s {
				if b == 0 {
					s = s[:i]
					break
				}
			}
			return s, true
		}
	}
	return nil, false
}

// maxGraphemeBytes: clusters of this many bytes or more are mapped character
// by character, as in Hugging Face.
const maxGraphemeBytes = 6

func (p *Precompiled) normalize(n normStr, sc *scratch) normStr {
	if len(p.units) == 0 || len(n.runes) == 0 {
		return n
	}
	eds := sc.edits[:0]
	modified := false
	key := sc.key
	// push appends the edits replacing m characters with rep: each new
	// character replaces one, the surplus ones are inserted, and a shortfall
	// is charged to the last edit, the previous character's when rep is
	// empty (at the very start, to none: the following characters shift).
	push := func(rep []byte, m int) {
		modified = true
		k := 0
		for _, r := range string(rep) {
			eds = append(eds, edit{r, 0})
			k++
		}
		if diff := k - m; diff > 0 {
			for i := len(eds) - diff; i < len(eds); i++ {
				eds[i].change = 1
			}
		} else if diff < 0 && len(eds) > 0 {
			eds[len(eds)-1].change += diff
		}
	}
	for i := 0; i < len(n.runes); {
		j := graphemeEnd(n.runes, i)
		key = key[:0]
		for _, r := range n.runes[i:j] {
			key = utf8.AppendRune(key, r)
		}
		if len(key) < maxGraphemeBytes {
			if rep, ok := p.lookup(key); ok {
				push(rep, j-i)
				i = j
				continue
			}
			if j == i+1 { // the character's own lookup, just done
				eds = append(eds, edit{n.runes[i], 0})
				i = j
				continue
			}
		}
		for _, r := range n.runes[i:j] {
			key = utf8.AppendRune(key[:0], r)
			if rep, ok := p.lookup(key); ok {
				push(rep, 1)
			} else {
				eds = append(eds, edit{r, 0})
			}
		}
		i = j
	}
	sc.edits, sc.key = eds, key
	if !modified {
		return n
	}
	return applyEdits(n, eds, sc)
}

func (p *Precompiled) toJSON() map[string]any {
	return map[string]any{"type": "Precompiled", "precompiled_charsmap": base64.StdEncoding.EncodeToString(p.Charsmap)}
}

// applyEdits builds the text eds describe from n, aligned as Hugging Face's
// NormalizedString::transform does: an edit with change > 0 is inserted with
// the alignment of the input character before it; any other takes the next
// input character's alignment and skips -change more. Input characters no
// edit reaches are dropped.
func applyEdits(n normStr, eds []edit, sc *scratch) normStr {
	out := sc.alloc(len(eds))
	p := 0 // next input rune
	for _, e := range eds {
		var a span
		switch {
		case len(n.align) == 0:
		case e.change > 0 && p > 0:
			a = n.align[min(p, len(n.align))-1]
		case e.change > 0:
			a = span{n.align[0][0], n.align[0][0]}
		default:
			a = n.align[min(p, len(n.align)-1)]
			p += 1 - e.change
		}
		out.runes = append(out.runes, e.r)
		out.align = append(out.align, a)
	}
	return out
}
