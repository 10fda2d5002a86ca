package text

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// StringNormalizer drops the elements of X ([C] or [1, C]) equal to a
// stopword (compared after lowercasing both when is_case_sensitive is 0),
// then lower- or upper-cases what is left (Unicode case mapping; Turkish and
// Azeri locales map dotted and dotless i). When every element is dropped the
// output is [""] with shape [1] or [1, 1].
var stringNormalizerOps = ops.Versions("", "StringNormalizer", "StringNormalizer: Y = case_change(X without stopwords); [C] or [1, C] strings",
	[]int{10}, inferTensor(tensor.String, false), compileStringNormalizer)

type normalizer struct {
	action        string // NONE, LOWER, UPPER
	caseSensitive bool
	stops         map[string]bool
	special       unicode.SpecialCase
}

func compileStringNormalizer(n *ops.Node) (*ops.Kernel, error) {
	p := &normalizer{
		action:        n.String("case_change_action", "NONE"),
		caseSensitive: n.Int("is_case_sensitive", 0) != 0,
		stops:         map[string]bool{},
	}
	locale := n.String("locale", "en_US")
	stops := n.Strings("stopwords", nil)
	if err := n.Err(); err != nil {
		return nil, err
	}
	switch p.action {
	case "NONE", "LOWER", "UPPER":
	default:
		return nil, fmt.Errorf("attribute case_change_action is %q, want NONE, LOWER or UPPER", p.action)
	}
	if l := strings.ToLower(locale); strings.HasPrefix(l, "tr") || strings.HasPrefix(l, "az") {
		p.special = unicode.TurkishCase
	}
	for _, w := range stops {
		if !p.caseSensitive {
			w = p.lower(w)
		}
		p.stops[w] = true
	}
	return &ops.Kernel{Run: p.run}, nil
}

func (p *normalizer) lower(s string) string {
	if p.special != nil {
		return strings.ToLowerSpecial(p.special, s)
	}
	return strings.ToLower(s)
}

func (p *normalizer) upper(s string) string {
	if p.special != nil {
		return strings.ToUpperSpecial(p.special, s)
	}
	return strings.ToUpper(s)
}

func (p *normalizer) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, err
	}
	x, err := stringsOf(in[0], "input X")
	if err != nil {
		return nil, err
	}
	shape := in[0].Shape()
	if !(len(shape) == 1 || len(shape) == 2 && shape[0] == 1) {
		return nil, fmt.Errorf("input X has shape %v, want [C] or [1, C]", shape)
	}
	kept := make([]string, 0, len(x))
	for _, s := range x {
		key := s
		if !p.caseSensitive {
			key = p.lower(s)
		}
		if p.stops[key] {
			continue
		}
		switch p.action {
		case "LOWER":
			s = p.lower(s)
		case "UPPER":
			s = p.upper(s)
		}
		kept = append(kept, s)
	}
	if len(kept) == 0 {
		kept = append(kept, "")
	}
	outShape := []int{len(kept)}
	if len(shape) == 2 {
		outShape = []int{1, len(kept)}
	}
	out, err := c.New(tensor.String, outShape...)
	if err != nil {
		return nil, err
	}
	copy(tensor.Data[string](out), kept)
	return []*tensor.Tensor{out}, nil
}
