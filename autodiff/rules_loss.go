package autodiff

import (
	"fmt"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// lossRules: the classification losses. Both weigh sample i (labels tᵢ)
// by wᵢ = weight[tᵢ] (1 without weights; 0 where tᵢ = ignore_index) and
// reduce by none, sum or mean (Σ loss / Σ wᵢ).
func lossRules() []namedRule {
	return []namedRule{
		// loss_i = −wᵢ·log softmax(scores)[i, tᵢ] (softmax over axis 1):
		// dscores = sᵢ·(softmax(scores) − onehot(tᵢ)), with sᵢ = dlossᵢ·wᵢ
		// (divided by Σwᵢ for mean). The optional log_prob output adds
		// the LogSoftmax gradient of its own dy.
		rule("SoftmaxCrossEntropyLoss", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			out := make([]string, len(n.Inputs))
			if err := noWeightGrad(b, n); err != nil {
				return nil, err
			}
			var terms []string
			if dy[0] != "" {
				s, onehot, err := b.lossScale(n, dy[0])
				if err != nil {
					return nil, err
				}
				p := b.Op("Softmax", []Attr{attrInt("axis", 1)}, x)
				terms = append(terms, b.Op("Mul", nil, s, b.Op("Sub", nil, p, onehot)))
			}
			if len(dy) > 1 && dy[1] != "" {
				sum := b.sumAxes(dy[1], true, 1)
				terms = append(terms, b.Op("Sub", nil, dy[1], b.Op("Mul", nil, b.Op("Exp", nil, n.Outputs[1]), sum)))
			}
			out[0] = b.sum(x, terms)
			return out, nil
		}),
		// loss_i = −wᵢ·input[i, tᵢ]: dinput = −sᵢ·onehot(tᵢ).
		rule("NegativeLogLikelihoodLoss", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			if err := noWeightGrad(b, n); err != nil {
				return nil, err
			}
			s, onehot, err := b.lossScale(n, dy[0])
			if err != nil {
				return nil, err
			}
			out := make([]string, len(n.Inputs))
			out[0] = b.Op("Neg", nil, b.Op("Mul", nil, s, onehot))
			return out, nil
		}),
	}
}

func noWeightGrad(b *Builder, n *ir.Node) error {
	if w := input(n, 2); b.Needs(w) {
		return fmt.Errorf("%s gradient with respect to the class weights is not supported", n.OpType)
	}
	return nil
}

// lossScale returns, for a loss node with scores/log-probabilities x
// (N, C, d...) and labels t (N, d...), the per-sample factor s (N, 1, d...)
// = dloss·wᵢ (÷ Σwᵢ for mean) and onehot(t) (N, C, d...) in x's dtype,
// zero at ignored samples.
func (b *Builder) lossScale(n *ir.Node, dloss string) (s, onehot string, err error) {
	x, t := n.Inputs[0], n.Inputs[1]
	dt := b.dtype(x)
	t = b.Op("Cast", []Attr{attrInt("to", int64(tensor.Int64))}, t)
	var valid string
	if hasAttr(n, "ignore_index") {
		ign := b.Const(tensor.Scalar(attrI(n, "ignore_index", 0)))
		valid = b.Op("Not", nil, b.Op("Equal", nil, t, ign))
		t = b.Where(valid, t, b.Const(tensor.Scalar(int64(0))))
	}
	depth := b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(1), b.Ints(2))
	values := b.Const(tensor.Must([]int{2}, []float64{0, 1}))
	if dt != tensor.Float64 {
		values = b.castLike(values, x)
	}
	onehot = b.Op("OneHot", []Attr{attrInt("axis", 1)}, t, depth, values)
	// w is (N, d...)
	var w string
	if weights := input(n, 2); weights != "" {
		w = b.Op("Gather", nil, weights, t)
	} else {
		w = b.Op("ConstantOfShape", []Attr{tensorAttr("value", oneOf(dt))}, b.Op("Shape", nil, t))
	}
	if valid != "" {
		w = b.Where(valid, w, b.Scalar(0, x))
	}
	switch r := attrS(n, "reduction", "mean"); r {
	case "none", "sum":
		s = b.Op("Mul", nil, dloss, w)
	case "mean":
		s = b.Op("Mul", nil, b.Op("Div", nil, dloss, b.Op("ReduceSum", []Attr{attrInt("keepdims", 0)}, w)), w)
	default:
		return "", "", fmt.Errorf("%s reduction %q, want none, sum or mean", n.OpType, r)
	}
	return b.Op("Unsqueeze", nil, s, b.Ints(1)), onehot, nil
}

func hasAttr(n *ir.Node, name string) bool {
	for _, a := range n.Attrs {
		if a.Name == name {
			return true
		}
	}
	return false
}
