package norm

import (
	"fmt"
	"math/rand/v2"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// dropoutOps declares Dropout. In inference (the default) the output is a
// copy of the input and the mask is all true (all ones before opset 10).
// In training mode (training_mode input from opset 12; is_test=0 at opsets
// 1 and 6) each element is kept with probability 1-ratio:
// output = x * mask / (1 - ratio).
func dropoutOps() []*ops.Op {
	return ops.Versions("", "Dropout",
		"inference: output = input, mask = true; training: output = input * mask / (1 - ratio), mask ~ Bernoulli(1 - ratio)",
		[]int{1, 6, 7, 10, 12, 13, 22}, inferDropout, compileDropout)
}

func inferDropout(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input data missing")
	}
	out := []tensor.Type{in[0]}
	if len(n.Outputs) > 1 {
		m := in[0]
		if n.Opset >= 10 {
			m.DType = tensor.Bool
		}
		out = append(out, m)
	}
	return out, nil
}

type dropout struct {
	ratio    float64 // the attribute's ratio (before opset 12)
	training bool    // is_test=0 at opsets 1 and 6
	boolMask bool
	seed     *uint64
	outputs  int
}

func compileDropout(n *ops.Node) (*ops.Kernel, error) {
	p := &dropout{ratio: float64(n.Float("ratio", 0.5)), boolMask: n.Opset >= 10, outputs: len(n.Outputs)}
	if n.Opset < 7 {
		p.training = n.Int("is_test", 0) == 0
	}
	if n.Has("seed") {
		s := uint64(n.Int("seed", 0))
		p.seed = &s
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return runDropout(c, p, in)
	}}, nil
}

func runDropout(c *ops.Ctx, p *dropout, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 3); err != nil {
		return nil, err
	}
	x := in[0]
	ratio, training := p.ratio, p.training
	if len(in) > 1 && in[1] != nil {
		r, err := scalarFloat(in[1])
		if err != nil {
			return nil, fmt.Errorf("ratio: %w", err)
		}
		ratio = r
	}
	if len(in) > 2 && in[2] != nil {
		if in[2].DType() != tensor.Bool || in[2].Len() != 1 {
			return nil, fmt.Errorf("training_mode is %v %v, want a bool scalar", in[2].DType(), in[2].Shape())
		}
		training = tensor.Data[bool](in[2])[0]
	}
	if training && (ratio < 0 || ratio >= 1) {
		return nil, fmt.Errorf("ratio %g out of range [0, 1)", ratio)
	}
	n := x.Len()
	keep := make([]bool, n)
	if !training || ratio == 0 {
		for i := range keep {
			keep[i] = true
		}
	} else {
		draw := randSource(c, p.seed)
		for i := range keep {
			keep[i] = draw() >= ratio
		}
	}
	y, err := c.New(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	if err := scaleMasked(x, y, keep, 1/(1-ratio), training && ratio != 0); err != nil {
		return nil, err
	}
	res := []*tensor.Tensor{y}
	if p.outputs > 1 {
		var m *tensor.Tensor
		if p.boolMask {
			m, err = tensor.From(x.Shape(), keep)
		} else {
			m, err = c.New(x.DType(), x.Shape()...)
			if err == nil {
				err = maskOnes(m, keep)
			}
		}
		if err != nil {
			return nil, err
		}
		res = append(res, m)
	}
	return res, nil
}

// randSource returns a uniform [0, 1) generator: NumPy's
// RandomState(seed) stream when the node has a seed attribute (so masks
// equal the ONNX reference's), else the session's Rand, else a fresh seed.
func randSource(c *ops.Ctx, seed *uint64) func() float64 {
	switch {
	case seed != nil:
		return newMT19937(uint32(*seed)).Float64
	case c != nil && c.Rand != nil:
		return c.Rand.Float64
	}
	return rand.Float64
}

func scalarFloat(t *tensor.Tensor) (float64, error) {
	if t.Len() != 1 {
		return 0, fmt.Errorf("want a scalar, got shape %v", t.Shape())
	}
	switch d := t.Raw().(type) {
	case []float32:
		return float64(d[0]), nil
	case []float64:
		return d[0], nil
	case []tensor.Float16Bits:
		return float64(d[0].Float32()), nil
	case []tensor.BFloat16Bits:
		return float64(d[0].Float32()), nil
	}
	return 0, fmt.Errorf("want a float scalar, got %v", t.DType())
}

// scaleMasked writes y = x * keep * scale (or a plain copy when !apply).
func scaleMasked(x, y *tensor.Tensor, keep []bool, scale float64, apply bool) error {
	switch d := x.Raw().(type) {
	case []float32:
		maskCopy(d, tensor.Data[float32](y), keep, func(v float32) float32 { return v * float32(scale) }, apply)
	case []float64:
		maskCopy(d, tensor.Data[float64](y), keep, func(v float64) float64 { return v * scale }, apply)
	case []tensor.Float16Bits:
		maskCopy(d, tensor.Data[tensor.Float16Bits](y), keep, func(v tensor.Float16Bits) tensor.Float16Bits {
			return tensor.Float16FromFloat32(v.Float32() * float32(scale))
		}, apply)
	case []tensor.BFloat16Bits:
		maskCopy(d, tensor.Data[tensor.BFloat16Bits](y), keep, func(v tensor.BFloat16Bits) tensor.BFloat16Bits {
			return tensor.BFloat16FromFloat32(v.Float32() * float32(scale))
		}, apply)
	default:
		if apply {
			return fmt.Errorf("training-mode dropout of %v, want a float dtype", x.DType())
		}
		*y = *x.Clone()
	}
	return nil
}

func maskCopy[T any](x, y []T, keep []bool, scale func(T) T, apply bool) {
	if !apply {
		copy(y, x)
		return
	}
	for i, v := range x {
		if keep[i] {
			y[i] = scale(v)
		}
	}
}

// maskOnes writes keep as 1/0 into a mask of the input's dtype (opset < 10).
func maskOnes(m *tensor.Tensor, keep []bool) error {
	switch d := m.Raw().(type) {
	case []float32:
		for i, k := range keep {
			if k {
				d[i] = 1
			}
		}
	case []float64:
		for i, k := range keep {
			if k {
				d[i] = 1
			}
		}
	case []tensor.Float16Bits:
		for i, k := range keep {
			if k {
				d[i] = tensor.Float16FromFloat32(1)
			}
		}
	default:
		return fmt.Errorf("dropout mask of %v, want a float dtype", m.DType())
	}
	return nil
}
