package sequence

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// SequenceMap applies body to every element of input_sequence:
// out_k[i] = body(S[i], a_1[i], ...)_k, where an additional input a_j that is
// a sequence contributes its i-th element (it must have len(S) elements) and
// a tensor is passed whole on every iteration.
var SequenceMap = ops.Versions("", "SequenceMap", "out_k[i] = body(S[i], extra[i] or extra)_k", []int{17},
	nil,
	func(n *ops.Node) (*ops.Kernel, error) {
		body, err := n.Subgraph("body")
		if err != nil {
			return nil, err
		}
		if len(n.Inputs) == 0 {
			return nil, fmt.Errorf("SequenceMap needs an input sequence")
		}
		if got := len(body.Inputs()); got != len(n.Inputs) {
			return nil, fmt.Errorf("body takes %d inputs, the node has %d", got, len(n.Inputs))
		}
		if got := len(body.Outputs()); got < len(n.Outputs) {
			return nil, fmt.Errorf("body has %d outputs, the node has %d", got, len(n.Outputs))
		}
		outTypes := OutputTypes(body)
		nOut := len(n.Outputs)
		return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
			s, err := inputSeq(in)
			if err != nil {
				return nil, err
			}
			seqs := make([]*tensor.Sequence, len(in))
			for j := 1; j < len(in); j++ {
				if in[j] == nil {
					return nil, fmt.Errorf("input %d is missing", j)
				}
				if x, ok := in[j].(*tensor.Sequence); ok {
					if len(x.Items) != len(s.Items) {
						return nil, fmt.Errorf("input %d has %d elements, the input sequence %d", j, len(x.Items), len(s.Items))
					}
					seqs[j] = x
				}
			}
			outs := make([][]tensor.Value, len(body.Outputs()))
			args := make([]tensor.Value, len(in))
			for i := range s.Items {
				if err := c.Check(); err != nil {
					return nil, err
				}
				args[0] = s.Items[i]
				for j := 1; j < len(in); j++ {
					if seqs[j] != nil {
						args[j] = seqs[j].Items[i]
					} else {
						args[j] = in[j]
					}
				}
				res, err := body.Run(c, args)
				if err != nil {
					return nil, fmt.Errorf("element %d: %w", i, err)
				}
				for k := range outs {
					outs[k] = append(outs[k], res[k])
				}
			}
			result := make([]tensor.Value, nOut)
			for k := range result {
				elem := tensor.Type{Kind: tensor.KindTensor}
				if k < len(outTypes) && outTypes[k].Kind != tensor.KindUnknown {
					elem = outTypes[k]
					elem.Shape, elem.HasShape = nil, false
				}
				if len(outs[k]) > 0 {
					elem = typeOf(outs[k][0])
					elem.Shape, elem.HasShape = nil, false
				}
				result[k] = &tensor.Sequence{Elem: elem, Items: outs[k]}
			}
			return result, nil
		}}, nil
	})

// OutputTypes returns the declared output types of a compiled subgraph when
// the runtime provides them (nil otherwise): used for the element types of
// empty results (a Loop or Scan with zero iterations, SequenceMap on an
// empty sequence).
func OutputTypes(g ops.Subgraph) []tensor.Type {
	if t, ok := g.(interface{ OutputTypes() []tensor.Type }); ok {
		return t.OutputTypes()
	}
	return nil
}
