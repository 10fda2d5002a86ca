package text

import (
	"strings"
	"unicode"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// StringSplit splits every element like Python's str.split(delimiter,
// maxsplit): with a delimiter, at each occurrence (consecutive delimiters
// give empty strings); without one (or ""), at runs of whitespace, dropping
// leading and trailing whitespace. substrings has shape X.shape + [m], m the
// most pieces of any element, shorter rows padded with ""; length (int64,
// X.shape) counts each element's pieces.
var stringSplitOps = ops.Versions("", "StringSplit", "StringSplit: substrings[i, :] = X[i].split(delimiter, maxsplit) padded with \"\"; length[i] = number of pieces",
	[]int{20}, inferStringSplit, compileStringSplit)

func inferStringSplit(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	l, _ := inferTensor(tensor.Int64, true)(n, in)
	s := tensor.Type{Kind: tensor.KindTensor, DType: tensor.String}
	if l[0].HasShape {
		s.HasShape = true
		s.Shape = append(append([]tensor.Dim(nil), l[0].Shape...), tensor.Dim{Size: -1})
	}
	return []tensor.Type{s, l[0]}, nil
}

func compileStringSplit(n *ops.Node) (*ops.Kernel, error) {
	delim := n.String("delimiter", "")
	maxsplit := n.Int("maxsplit", -1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if maxsplit < 0 {
		maxsplit = -1
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x, err := stringsOf(in[0], "input X")
		if err != nil {
			return nil, err
		}
		pieces := make([][]string, len(x))
		width := 0
		for i, s := range x {
			if delim == "" {
				pieces[i] = splitSpace(s, int(maxsplit))
			} else {
				pieces[i] = strings.SplitN(s, delim, splitN(maxsplit))
			}
			width = max(width, len(pieces[i]))
		}
		shape := append(append([]int{}, in[0].Shape()...), width)
		sub, err := c.New(tensor.String, shape...)
		if err != nil {
			return nil, err
		}
		length, err := c.New(tensor.Int64, in[0].Shape()...)
		if err != nil {
			return nil, err
		}
		sd, ld := tensor.Data[string](sub), tensor.Data[int64](length)
		for i, p := range pieces {
			copy(sd[i*width:], p)
			ld[i] = int64(len(p))
		}
		return []*tensor.Tensor{sub, length}, nil
	}}, nil
}

// splitN converts Python's maxsplit (-1: no limit) to strings.SplitN's n.
func splitN(maxsplit int64) int {
	if maxsplit < 0 || maxsplit > 1<<30 {
		return -1
	}
	return int(maxsplit) + 1
}

// splitSpace is Python's s.split(None, maxsplit): runs of whitespace
// separate pieces, leading whitespace is dropped, and once maxsplit splits
// are made the rest (without its leading whitespace) is the last piece.
func splitSpace(s string, maxsplit int) []string {
	var out []string
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			return out
		}
		if maxsplit >= 0 && len(out) == maxsplit {
			return append(out, s)
		}
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			return append(out, s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}
