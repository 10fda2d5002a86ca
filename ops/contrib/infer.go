package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Shape inference of the ops whose output shapes differ from their first
// input's. Dimensions that cannot be told before run time stay unknown.

var unknownDim = tensor.Dim{Size: -1}

func tensorOf(d tensor.DType, dims ...tensor.Dim) tensor.Type {
	t := tensor.Type{Kind: tensor.KindTensor, DType: d}
	if dims != nil {
		t.HasShape, t.Shape = true, dims
	}
	return t
}

// dim returns dimension i of t, or an unknown dimension.
func dim(t tensor.Type, i int) tensor.Dim {
	if !t.HasShape || i >= len(t.Shape) {
		return unknownDim
	}
	return t.Shape[i]
}

func known(n int64) tensor.Dim { return tensor.Dim{Size: n} }

// mul multiplies known dimensions (unknown otherwise).
func mul(a, b tensor.Dim) tensor.Dim {
	if a.Known() && b.Known() {
		return known(a.Size * b.Size)
	}
	return unknownDim
}

// div divides a known dimension by n > 0 (unknown otherwise).
func div(a tensor.Dim, n int64) tensor.Dim {
	if a.Known() && n > 0 {
		return known(a.Size / n)
	}
	return unknownDim
}

// outputs trims a full list of output types to the node's outputs.
func outputs(n *ops.Node, all ...tensor.Type) []tensor.Type {
	return all[:max(1, min(len(all), len(n.Outputs)))]
}

func need(in []tensor.Type, k int) error {
	if len(in) < k {
		return fmt.Errorf("%d inputs, want at least %d", len(in), k)
	}
	return nil
}

// inferAttention: output (B, S, Dv), present (2, B, N, P+S, H).
func inferAttention(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	dt := in[0].DType
	heads := n.Int("num_heads", 0)
	dv, dk := div(dim(in[1], 1), 3), div(dim(in[1], 1), 3)
	if s := n.Ints("qkv_hidden_sizes", nil); len(s) == 3 {
		dk, dv = known(s[1]), known(s[2])
	}
	b, s := dim(in[0], 0), dim(in[0], 1)
	total := unknownDim
	if n.Int("past_present_share_buffer", 0) != 0 && len(in) > 4 {
		total = dim(in[4], 3) // present is the past buffer
	} else if len(in) > 4 && in[4].HasShape && s.Known() && dim(in[4], 3).Known() {
		total = known(dim(in[4], 3).Size + s.Size)
	} else if len(n.Inputs) <= 4 || n.Inputs[4] == "" {
		total = s
	}
	return outputs(n, tensorOf(dt, b, s, dv), tensorOf(dt, known(2), b, known(heads), total, div(dk, heads))), nil
}

// inferGQA: output (B, S, N*H); presents stay unknown (their length is
// an input's value).
func inferGQA(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	dt := in[0].DType
	nh, kvN := n.Int("num_heads", 0), n.Int("kv_num_heads", 0)
	d := dim(in[0], 2)
	packed := len(n.Inputs) < 2 || n.Inputs[1] == ""
	if packed {
		d = mul(div(d, nh+2*kvN), known(nh))
	}
	return outputs(n, tensorOf(dt, dim(in[0], 0), dim(in[0], 1), d), tensorOf(dt), tensorOf(dt)), nil
}

// inferEmbedNorm: output and embedding_sum (B, S, H), mask_index (B) int32.
func inferEmbedNorm(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if err := need(in, 3); err != nil {
		return nil, err
	}
	dt := in[2].DType
	b, s, h := dim(in[0], 0), dim(in[0], 1), dim(in[2], 1)
	y := tensorOf(dt, b, s, h)
	return outputs(n, y, tensorOf(tensor.Int32, b), y), nil
}

// inferSimplifiedNorm: Y as X; inv_std_var X.shape[:axis] + ones in the
// stash dtype.
func inferSimplifiedNorm(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	st := tensorOf(tensor.DType(n.Int("stash_type", 1)))
	if in[0].HasShape {
		r := len(in[0].Shape)
		a, err := ops.NormAxis(n.Int("axis", -1), r)
		if err != nil {
			return nil, err
		}
		st.HasShape = true
		st.Shape = append([]tensor.Dim{}, in[0].Shape[:a]...)
		for i := a; i < r; i++ {
			st.Shape = append(st.Shape, known(1))
		}
	}
	return outputs(n, in[0], st), nil
}

// inferMHA: output (B, S, N*Hv) by the layout of query, key and value.
func inferMHA(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	dt := in[0].DType
	q := in[0]
	has := func(i int) bool { return len(n.Inputs) > i && n.Inputs[i] != "" && len(in) > i }
	d := unknownDim
	switch {
	case q.HasShape && len(q.Shape) == 5:
		d = mul(q.Shape[2], q.Shape[4])
	case has(2) && in[2].HasShape && len(in[2].Shape) == 3:
		d = in[2].Shape[2]
	case has(2) && in[2].HasShape && len(in[2].Shape) == 4:
		d = mul(in[2].Shape[1], in[2].Shape[3])
	case has(1) && in[1].HasShape && len(in[1].Shape) == 5:
		d = dim(q, 2)
	}
	return outputs(n, tensorOf(dt, dim(q, 0), dim(q, 1), d), tensorOf(dt), tensorOf(dt)), nil
}
