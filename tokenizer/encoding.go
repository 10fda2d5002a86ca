package tokenizer

import (
	"errors"
	"fmt"
)

// Encoding is the result of encoding one sequence or a pair. All slices have
// the same length, one element per token.
type Encoding struct {
	IDs               []int
	TypeIDs           []int
	Tokens            []string
	Offsets           [][2]int // byte offsets into the sequence the token came from; (0, 0) for added special tokens
	AttentionMask     []int    // 1 for tokens, 0 for padding
	SpecialTokensMask []int    // 1 for tokens added by the post-processor and padding
	SequenceIDs       []int    // 0 or 1: the sequence of a pair the token came from; -1 for special tokens and padding

	text string // the sequence a model encoding came from, for post-processing
}

// Len is the number of tokens.
func (e *Encoding) Len() int { return len(e.IDs) }

func (e *Encoding) push(id, typeID int, tok string, off [2]int, special, seq int) {
	e.IDs = append(e.IDs, id)
	e.TypeIDs = append(e.TypeIDs, typeID)
	e.Tokens = append(e.Tokens, tok)
	e.Offsets = append(e.Offsets, off)
	e.AttentionMask = append(e.AttentionMask, 1)
	e.SpecialTokensMask = append(e.SpecialTokensMask, special)
	e.SequenceIDs = append(e.SequenceIDs, seq)
}

// appendEnc appends all of o to e.
func (e *Encoding) appendEnc(o *Encoding) {
	e.IDs = append(e.IDs, o.IDs...)
	e.TypeIDs = append(e.TypeIDs, o.TypeIDs...)
	e.Tokens = append(e.Tokens, o.Tokens...)
	e.Offsets = append(e.Offsets, o.Offsets...)
	e.AttentionMask = append(e.AttentionMask, o.AttentionMask...)
	e.SpecialTokensMask = append(e.SpecialTokensMask, o.SpecialTokensMask...)
	e.SequenceIDs = append(e.SequenceIDs, o.SequenceIDs...)
}

func (e *Encoding) setTypeIDs(t int) {
	for i := range e.TypeIDs {
		e.TypeIDs[i] = t
	}
}

func (e *Encoding) setSequence(s int) {
	for i := range e.SequenceIDs {
		e.SequenceIDs[i] = s
	}
}

// keep keeps tokens [i, j).
func (e *Encoding) keep(i, j int) {
	e.IDs, e.TypeIDs, e.Tokens = e.IDs[i:j], e.TypeIDs[i:j], e.Tokens[i:j]
	e.Offsets, e.AttentionMask = e.Offsets[i:j], e.AttentionMask[i:j]
	e.SpecialTokensMask, e.SequenceIDs = e.SpecialTokensMask[i:j], e.SequenceIDs[i:j]
}

// Direction is the side truncation removes from or padding adds to.
type Direction string

// Directions.
const (
	Right Direction = "Right"
	Left  Direction = "Left"
)

// truncate keeps n tokens, dropping from the side d says.
func (e *Encoding) truncate(n int, d Direction) {
	if n >= e.Len() {
		return
	}
	if d == Left {
		e.keep(e.Len()-n, e.Len())
	} else {
		e.keep(0, n)
	}
}

// TruncationStrategy says which sequence of a pair loses tokens.
type TruncationStrategy string

// Truncation strategies.
const (
	LongestFirst TruncationStrategy = "LongestFirst"
	OnlyFirst    TruncationStrategy = "OnlyFirst"
	OnlySecond   TruncationStrategy = "OnlySecond"
)

// Truncation limits encodings to MaxLength tokens, special tokens included.
// Overflowing tokens are dropped (no stride windows).
type Truncation struct {
	MaxLength int
	Strategy  TruncationStrategy
	Direction Direction
	Stride    int // kept for tokenizer.json round trips; unused
}

// Errors of truncation settings that cannot be met.
var (
	ErrSecondSequenceNotProvided = errors.New("tokenizer: truncation strategy OnlySecond needs a pair of sequences")
	ErrSequenceTooShort          = errors.New("tokenizer: the sequence to truncate is shorter than what must be removed; use LongestFirst")
)

// truncatePair applies t to the model encodings a and b (b may be nil) so
// that they fit with `added` special tokens, as Hugging Face's
// truncate_encodings.
func truncatePair(a, b *Encoding, t *Truncation, added int) error {
	maxLen := max(t.MaxLength-added, 0)
	if t.MaxLength == 0 {
		a.truncate(0, t.Direction)
		if b != nil {
			b.truncate(0, t.Direction)
		}
		return nil
	}
	total := a.Len()
	if b != nil {
		total += b.Len()
	}
	if total <= maxLen {
		return nil
	}
	remove := total - maxLen
	switch t.Strategy {
	case OnlyFirst, OnlySecond:
		target := a
		if t.Strategy == OnlySecond {
			if b == nil {
				return ErrSecondSequenceNotProvided
			}
			target = b
		}
		if target.Len() <= remove {
			return ErrSequenceTooShort
		}
		target.truncate(target.Len()-remove, t.Direction)
	default:
		if b == nil {
			a.truncate(maxLen, t.Direction)
			return nil
		}
		n1, n2 := a.Len(), b.Len()
		swap := n1 > n2
		if swap {
			n1, n2 = n2, n1
		}
		if n1 > maxLen {
			n2 = n1
		} else {
			n2 = max(n1, maxLen-n1)
		}
		if n1+n2 > maxLen {
			n1 = maxLen / 2
			n2 = n1 + maxLen%2
		}
		if swap {
			n1, n2 = n2, n1
		}
		a.truncate(n1, t.Direction)
		b.truncate(n2, t.Direction)
	}
	return nil
}

// PaddingStrategy says how long padded encodings are.
type PaddingStrategy string

// Padding strategies.
const (
	PadLongest PaddingStrategy = "BatchLongest" // the longest encoding of the batch
	PadFixed   PaddingStrategy = "Fixed"        // Padding.Length
)

// Padding pads encodings with PadID up to a common length.
type Padding struct {
	Strategy        PaddingStrategy
	Length          int // for PadFixed
	Direction       Direction
	PadToMultipleOf int // 0 for none
	PadID           int
	PadTypeID       int
	PadToken        string
}

// pad pads all encodings as p says.
func pad(encs []Encoding, p *Padding) {
	n := p.Length
	if p.Strategy != PadFixed {
		n = 0
		for i := range encs {
			n = max(n, encs[i].Len())
		}
	}
	if m := p.PadToMultipleOf; m > 0 && n%m != 0 {
		n += m - n%m
	}
	for i := range encs {
		e := &encs[i]
		k := n - e.Len()
		if k <= 0 {
			continue
		}
		padding := Encoding{IDs: make([]int, k), TypeIDs: make([]int, k), Tokens: make([]string, k),
			Offsets: make([][2]int, k), AttentionMask: make([]int, k), SpecialTokensMask: make([]int, k), SequenceIDs: make([]int, k)}
		for j := range k {
			padding.IDs[j], padding.TypeIDs[j], padding.Tokens[j] = p.PadID, p.PadTypeID, p.PadToken
			padding.SpecialTokensMask[j], padding.SequenceIDs[j] = 1, -1
		}
		if p.Direction == Left {
			padding.appendEnc(e)
			*e = padding
		} else {
			e.appendEnc(&padding)
		}
	}
}

// CharOffsets converts byte offsets into text to character (code point)
// offsets with the rule of Hugging Face's Python binding: start maps to its
// character, end to one past the character of byte end-1, an empty range at
// the end of text to the character count; offsets it cannot map stay as they
// are.
func CharOffsets(text string, offsets [][2]int) [][2]int {
	idx := make([]int, len(text)+1) // byte -> index of the character holding it
	c := -1
	for i := 0; i < len(text); i++ {
		if text[i]&0xC0 != 0x80 {
			c++
		}
		idx[i] = c
	}
	out := make([][2]int, len(offsets))
	for k, o := range offsets {
		out[k] = o
		s, e := o[0], o[1]
		if s == e && s == len(text) && s > 0 {
			out[k] = [2]int{idx[s-1] + 1, idx[s-1] + 1}
			continue
		}
		if s < 0 || s >= len(text) || e < s || e > len(text) {
			continue
		}
		if s == e {
			out[k] = [2]int{idx[s], idx[s]}
			continue
		}
		out[k] = [2]int{idx[s], idx[e-1] + 1}
	}
	return out
}

func fieldErr(field string, err error) error { return fmt.Errorf("%s: %w", field, err) }
