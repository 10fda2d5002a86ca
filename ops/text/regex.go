package text

import (
	"fmt"
	"regexp"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// RegexFullMatch: Y[i] = pattern matches all of X[i]. The pattern is RE2
// syntax, which Go's regexp implements; an invalid pattern fails Compile.
var regexFullMatchOps = ops.Versions("", "RegexFullMatch", "RegexFullMatch: Y[i] = (X[i] fully matches the RE2 pattern)",
	[]int{20}, inferTensor(tensor.Bool, true), compileRegexFullMatch)

func compileRegexFullMatch(n *ops.Node) (*ops.Kernel, error) {
	pat := n.String("pattern", "")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if !n.Has("pattern") {
		return nil, fmt.Errorf("attribute pattern is required")
	}
	re, err := regexp.Compile(`^(?:` + pat + `)$`)
	if err != nil {
		return nil, fmt.Errorf("attribute pattern %q is not valid RE2 syntax: %w", pat, err)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x, err := stringsOf(in[0], "input X")
		if err != nil {
			return nil, err
		}
		out, err := c.New(tensor.Bool, in[0].Shape()...)
		if err != nil {
			return nil, err
		}
		y := tensor.Data[bool](out)
		for i, s := range x {
			if i%1024 == 1023 {
				if err := c.Check(); err != nil {
					return nil, err
				}
			}
			y[i] = re.MatchString(s)
		}
		return []*tensor.Tensor{out}, nil
	}}, nil
}
