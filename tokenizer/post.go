package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// A PostProcessor adds special tokens around encoded sequences and sets type
// ids.
type PostProcessor interface {
	// process rewrites the model encodings of one sequence or a pair; the
	// tokenizer concatenates what it returns.
	process(encs []*Encoding, addSpecial bool) []*Encoding
	// addedTokens is the number of special tokens added to a single
	// sequence or a pair.
	addedTokens(pair bool) int
	toJSON() map[string]any
}

// SpecialToken is a token and its id, as in BertProcessing's "cls": ["[CLS]", 101].
type SpecialToken struct {
	Token string
	ID    int
}

func (s SpecialToken) enc(typeID int) *Encoding {
	var e Encoding
	e.push(s.ID, typeID, s.Token, [2]int{0, 0}, 1, -1)
	return &e
}

// BertProcessing gives [CLS] A [SEP] and [CLS] A [SEP] B [SEP], type ids 0
// for the first sequence and 1 for the second.
type BertProcessing struct{ Sep, Cls SpecialToken }

func (p *BertProcessing) process(encs []*Encoding, add bool) []*Encoding {
	if !add {
		return encs
	}
	out := []*Encoding{p.Cls.enc(0), encs[0], p.Sep.enc(0)}
	encs[0].setTypeIDs(0)
	if len(encs) > 1 {
		encs[1].setTypeIDs(1)
		out = append(out, encs[1], p.Sep.enc(1))
	}
	return out
}

func (p *BertProcessing) addedTokens(pair bool) int {
	if pair {
		return 3
	}
	return 2
}

func (p *BertProcessing) toJSON() map[string]any {
	return map[string]any{"type": "BertProcessing", "sep": []any{p.Sep.Token, p.Sep.ID}, "cls": []any{p.Cls.Token, p.Cls.ID}}
}

// RobertaProcessing gives <s> A </s> and <s> A </s></s> B </s>, type ids all
// 0, after trimming whitespace from byte-level offsets when TrimOffsets.
type RobertaProcessing struct {
	Sep, Cls       SpecialToken
	TrimOffsets    bool
	AddPrefixSpace bool
}

func (p *RobertaProcessing) process(encs []*Encoding, add bool) []*Encoding {
	if p.TrimOffsets {
		for _, e := range encs {
			trimOffsets(e, p.AddPrefixSpace)
		}
	}
	for _, e := range encs {
		e.setTypeIDs(0)
	}
	if !add {
		return encs
	}
	out := []*Encoding{p.Cls.enc(0), encs[0], p.Sep.enc(0)}
	if len(encs) > 1 {
		out = append(out, p.Sep.enc(0), encs[1], p.Sep.enc(0))
	}
	return out
}

func (p *RobertaProcessing) addedTokens(pair bool) int {
	if pair {
		return 4
	}
	return 2
}

func (p *RobertaProcessing) toJSON() map[string]any {
	return map[string]any{"type": "RobertaProcessing", "sep": []any{p.Sep.Token, p.Sep.ID},
		"cls": []any{p.Cls.Token, p.Cls.ID}, "trim_offsets": p.TrimOffsets, "add_prefix_space": p.AddPrefixSpace}
}

// ByteLevelProcessing is the ByteLevel post-processor: it trims the spaces
// byte-level tokens carry out of their offsets.
type ByteLevelProcessing struct{ ByteLevel }

func (p *ByteLevelProcessing) process(encs []*Encoding, add bool) []*Encoding {
	if p.TrimOffsets {
		for _, e := range encs {
			trimOffsets(e, p.AddPrefixSpace)
		}
	}
	return encs
}

func (p *ByteLevelProcessing) addedTokens(bool) int { return 0 }

// trimOffsets removes leading and trailing spaces (Ġ) of byte-level tokens
// from their offsets, keeping a space the pre-tokenizer itself added. Hugging
// Face counts in the offsets' unit; its Python binding uses characters, so
// the bounds move by characters of the sequence's text here.
func trimOffsets(e *Encoding, addPrefixSpace bool) {
	sp := byteToRune[' ']
	text := e.text
	for i, tok := range e.Tokens {
		lead, trail := 0, 0
		for _, r := range tok {
			if r != sp && !isSpace(r) {
				break
			}
			lead++
		}
		for j := len(tok); j > 0; {
			r, n := utf8.DecodeLastRuneInString(tok[:j])
			if r != sp && !isSpace(r) {
				break
			}
			trail++
			j -= n
		}
		o := &e.Offsets[i]
		if o[0] < 0 || o[1] > len(text) || o[0] > o[1] {
			continue
		}
		if lead > 0 {
			if (i == 0 || o[0] == 0) && addPrefixSpace && lead == 1 {
				lead = 0
			}
			for ; lead > 0 && o[0] < o[1]; lead-- {
				_, n := utf8.DecodeRuneInString(text[o[0]:])
				o[0] += n
			}
		}
		if trail > 0 && atLeastRunes(text[:o[1]], trail) {
			for ; trail > 0 && o[1] > o[0]; trail-- {
				_, n := utf8.DecodeLastRuneInString(text[:o[1]])
				o[1] -= n
			}
		}
	}
}

// atLeastRunes reports whether s has n runes or more, looking at its last n
// only.
func atLeastRunes(s string, n int) bool {
	for ; n > 0; n-- {
		if len(s) == 0 {
			return false
		}
		_, k := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-k]
	}
	return true
}

// TemplatePiece is one element of a TemplateProcessing template: a special
// token or sequence "A"/"B", with the type id its tokens get.
type TemplatePiece struct {
	Special  string // special token name, or "" for a sequence
	Sequence string // "A" or "B"
	TypeID   int
}

// TemplateSpecial is what a template's special token name expands to.
type TemplateSpecial struct {
	ID     string
	IDs    []int
	Tokens []string
}

// TemplateProcessing places special tokens as its templates say, e.g.
// "[CLS] $A [SEP]" and "[CLS] $A [SEP] $B:1 [SEP]:1".
type TemplateProcessing struct {
	Single, Pair  []TemplatePiece
	SpecialTokens map[string]TemplateSpecial
}

func (p *TemplateProcessing) process(encs []*Encoding, add bool) []*Encoding {
	tpl := p.Single
	if len(encs) > 1 {
		tpl = p.Pair
	}
	var out []*Encoding
	for _, pc := range tpl {
		if pc.Special == "" {
			i := 0
			if pc.Sequence == "B" {
				i = 1
			}
			if i >= len(encs) {
				continue
			}
			encs[i].setTypeIDs(pc.TypeID)
			out = append(out, encs[i])
			continue
		}
		if !add {
			continue
		}
		st := p.SpecialTokens[pc.Special]
		var e Encoding
		for k, id := range st.IDs {
			e.push(id, pc.TypeID, st.Tokens[k], [2]int{0, 0}, 1, -1)
		}
		out = append(out, &e)
	}
	return out
}

func (p *TemplateProcessing) addedTokens(pair bool) int {
	tpl := p.Single
	if pair {
		tpl = p.Pair
	}
	n := 0
	for _, pc := range tpl {
		if pc.Special != "" {
			n += len(p.SpecialTokens[pc.Special].IDs)
		}
	}
	return n
}

func (p *TemplateProcessing) toJSON() map[string]any {
	tj := func(t []TemplatePiece) []any {
		l := make([]any, len(t))
		for i, pc := range t {
			if pc.Special != "" {
				l[i] = map[string]any{"SpecialToken": map[string]any{"id": pc.Special, "type_id": pc.TypeID}}
			} else {
				l[i] = map[string]any{"Sequence": map[string]any{"id": pc.Sequence, "type_id": pc.TypeID}}
			}
		}
		return l
	}
	sp := map[string]any{}
	for k, v := range p.SpecialTokens {
		sp[k] = map[string]any{"id": v.ID, "ids": v.IDs, "tokens": v.Tokens}
	}
	return map[string]any{"type": "TemplateProcessing", "single": tj(p.Single), "pair": tj(p.Pair), "special_tokens": sp}
}

// validate checks that every special token a template names is defined.
func (p *TemplateProcessing) validate() error {
	for _, t := range [][]TemplatePiece{p.Single, p.Pair} {
		for _, pc := range t {
			if pc.Special == "" {
				if pc.Sequence != "A" && pc.Sequence != "B" {
					return fmt.Errorf("sequence id %q must be A or B", pc.Sequence)
				}
				continue
			}
			st, ok := p.SpecialTokens[pc.Special]
			if !ok {
				return fmt.Errorf("special token %q is used in a template but missing from special_tokens", pc.Special)
			}
			if len(st.IDs) != len(st.Tokens) {
				return fmt.Errorf("special token %q has %d ids but %d tokens", pc.Special, len(st.IDs), len(st.Tokens))
			}
		}
	}
	return nil
}

// PostProcessorSequence applies post-processors in order.
type PostProcessorSequence []PostProcessor

func (q PostProcessorSequence) process(encs []*Encoding, add bool) []*Encoding {
	for _, p := range q {
		encs = p.process(encs, add)
	}
	return encs
}

func (q PostProcessorSequence) addedTokens(pair bool) int {
	n := 0
	for _, p := range q {
		n += p.addedTokens(pair)
	}
	return n
}

func (q PostProcessorSequence) toJSON() map[string]any {
	return sequenceJSON(q, "processors")
}
