package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// qattentionOps are the quantized forms of Attention and
// EmbedLayerNormalization: their 8-bit inputs are dequantized,
// (q - zero_point) * scale, and the float kernels run.
func qattentionOps() []*ops.Op {
	return ops.Join(
		ops.Versions(ms, "QAttention", "Attention of dequantized input and weights: (q - zero_point) * scale", []int{1},
			inferQAttention, compileQAttention),
		ops.Versions(ms, "QEmbedLayerNormalization", "EmbedLayerNormalization of dequantized tables: (q - zero_point) * scale", []int{1},
			inferQEmbedNorm, compileQEmbedNorm),
	)
}

// dequant returns (q - zero) * scale as float32, with scale and zero per
// tensor or per column of the last dimension (zero nil for 0).
func dequant(name string, q, scale, zero *tensor.Tensor) (*tensor.Tensor, error) {
	if q == nil || scale == nil {
		return nil, fmt.Errorf("%s and its scale are required", name)
	}
	if q.DType() == tensor.Float32 {
		return q, nil
	}
	sh := q.Shape()
	cols := 1
	if len(sh) > 0 {
		cols = sh[len(sh)-1]
	}
	s, err := perColumn(name+" scale", scale, cols)
	if err != nil {
		return nil, err
	}
	z, err := perColumn(name+" zero point", zero, cols)
	if err != nil {
		return nil, err
	}
	v, err := ints8(name, q, cols, z)
	if err != nil {
		return nil, err
	}
	for i := range v {
		v[i] *= s[(i%max(cols, 1))%len(s)]
	}
	return tensor.From(sh, v)
}

// qAttentionInputs are the QAttention inputs that Attention takes, in
// Attention's order (input, weights, bias, mask_index, past).
var qAttentionInputs = []int{0, 1, 2, 5, 8}

func inferQAttention(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	m := *n
	m.Inputs = nil
	var types []tensor.Type
	for _, i := range qAttentionInputs {
		name, t := "", tensor.Type{}
		if i < len(n.Inputs) && i < len(in) {
			name, t = n.Inputs[i], in[i]
		}
		m.Inputs, types = append(m.Inputs, name), append(types, t)
	}
	out, err := inferAttention(&m, types)
	for i := range out {
		out[i].DType = tensor.Float32
	}
	return out, err
}

func inferQEmbedNorm(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	out, err := inferEmbedNorm(n, in)
	if len(out) > 0 {
		out[0].DType = tensor.Float32
	}
	return out, err
}

func compileQAttention(n *ops.Node) (*ops.Kernel, error) {
	k, err := compileAttention(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		// input, weight, bias, input_scale, weight_scale, mask_index,
		// input_zero_point, weight_zero_point, past.
		if err := ops.Want(in, 5, 9); err != nil {
			return nil, err
		}
		x, err := dequant("input", in[0], in[3], opt(in, 6))
		if err != nil {
			return nil, err
		}
		w, err := dequant("weight", in[1], in[4], opt(in, 7))
		if err != nil {
			return nil, err
		}
		return k.Run(c, []*tensor.Tensor{x, w, in[2], opt(in, qAttentionInputs[3]), opt(in, qAttentionInputs[4])})
	}}, nil
}

func compileQEmbedNorm(n *ops.Node) (*ops.Kernel, error) {
	k, err := compileEmbedNorm(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		// input_ids, segment_ids, word, position, segment, gamma, beta
		// (quantized), mask, then the five scales and five zero points in
		// the same order.
		if err := ops.Want(in, 1, 18); err != nil {
			return nil, err
		}
		names := []string{"word_embedding", "position_embedding", "segment_embedding", "layer_norm_weight", "layer_norm_bias"}
		f := []*tensor.Tensor{in[0], opt(in, 1), nil, nil, nil, nil, nil, opt(in, 7)}
		for i, name := range names {
			q := opt(in, 2+i)
			if q == nil {
				continue
			}
			var err error
			if f[2+i], err = dequant(name, q, opt(in, 8+i), opt(in, 13+i)); err != nil {
				return nil, err
			}
		}
		return k.Run(c, f)
	}}, nil
}
