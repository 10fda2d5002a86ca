// Package random holds gort's kernels for the random operator family.
//
// # Overview
//
// RandomUniform, RandomNormal, their *Like forms, Bernoulli and Multinomial.
// A node with a `seed` attribute owns a generator seeded from it when the
// node is compiled, so a session replays the same sequence of outputs run
// after run; without a seed, samples come from the session's generator
// (ops.Ctx.Rand) or, when the session has none, from an automatically seeded
// one. Samples are drawn in float64 and rounded to the output dtype (ties to
// even for float16 and bfloat16).
package random

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		randomUniformOps, randomNormalOps, randomUniformLikeOps, randomNormalLikeOps,
		bernoulliOps, multinomialOps,
	)
}

// RandomUniform: output[i] = low + (high - low) * U[0, 1), of the given shape and dtype (default float32).
var randomUniformOps = ops.Versions("", "RandomUniform",
	"output = low + (high - low) * uniform[0, 1) with attribute shape and dtype",
	[]int{1, 22}, inferGenerator, compileGenerator(false, false))

// RandomNormal: output[i] = mean + scale * N(0, 1), of the given shape and dtype (default float32).
var randomNormalOps = ops.Versions("", "RandomNormal",
	"output = mean + scale * normal(0, 1) with attribute shape and dtype",
	[]int{1, 22}, inferGenerator, compileGenerator(true, false))

// RandomUniformLike: RandomUniform with input's shape and, unless dtype is given, its dtype.
var randomUniformLikeOps = ops.Versions("", "RandomUniformLike",
	"output = low + (high - low) * uniform[0, 1) with input's shape (and dtype unless given)",
	[]int{1, 22}, inferLike, compileGenerator(false, true))

// RandomNormalLike: RandomNormal with input's shape and, unless dtype is given, its dtype.
var randomNormalLikeOps = ops.Versions("", "RandomNormalLike",
	"output = mean + scale * normal(0, 1) with input's shape (and dtype unless given)",
	[]int{1, 22}, inferLike, compileGenerator(true, true))

// Bernoulli: output[i] = 1 with probability input[i], else 0, in dtype (default input's).
var bernoulliOps = ops.Versions("", "Bernoulli",
	"output[i] = 1 with probability input[i] else 0",
	[]int{15, 22}, inferLike, compileBernoulli)

// Multinomial: for each batch row of unnormalized log-probabilities input
// (batch, classes), draws sample_size class indices (int32 or int64).
var multinomialOps = ops.Versions("", "Multinomial",
	"output[b, s] = class index drawn from softmax(input[b, :])",
	[]int{7, 22}, inferMultinomial, compileMultinomial)

// sampler draws from a seeded generator or the session's.
type sampler struct {
	mu     sync.Mutex
	seeded *rand.Rand // nil when the node has no seed
}

func newSampler(n *ops.Node) *sampler {
	s := &sampler{}
	if a := n.Attr("seed"); a != nil && a.Type == ops.AttrFloat {
		bits := uint64(math.Float32bits(a.F))
		s.seeded = rand.New(rand.NewPCG(bits, bits^0x9e3779b97f4a7c15))
	}
	return s
}

// source returns the generator for one run and a function to release it.
func (s *sampler) source(c *ops.Ctx) (ops.RandSource, func()) {
	if s.seeded != nil {
		s.mu.Lock()
		return s.seeded, s.mu.Unlock
	}
	if c != nil && c.Rand != nil {
		return c.Rand, func() {}
	}
	return autoSeeded{}, func() {}
}

// autoSeeded draws from math/rand/v2's automatically seeded generator.
type autoSeeded struct{}

func (autoSeeded) Float64() float64     { return rand.Float64() }
func (autoSeeded) NormFloat64() float64 { return rand.NormFloat64() }

// floatDType reports the dtypes RandomUniform/RandomNormal produce.
func floatDType(d tensor.DType) bool {
	switch d {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		return true
	}
	return false
}

// dtypeAttr reads dtype; def is used when it is absent.
func dtypeAttr(n *ops.Node, def tensor.DType) tensor.DType {
	return tensor.DType(n.Int("dtype", int64(def)))
}

func inferGenerator(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	shape := n.Ints("shape", nil)
	t := tensor.Type{Kind: tensor.KindTensor, DType: dtypeAttr(n, tensor.Float32), HasShape: true, Shape: make([]tensor.Dim, len(shape))}
	for i, d := range shape {
		t.Shape[i] = tensor.Dim{Size: d}
	}
	return []tensor.Type{t}, nil
}

func inferLike(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := in[0]
	t.Kind = tensor.KindTensor
	t.DType = dtypeAttr(n, t.DType)
	return []tensor.Type{t}, nil
}

func inferMultinomial(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	t := tensor.Type{Kind: tensor.KindTensor, DType: dtypeAttr(n, tensor.Int32)}
	if len(in) > 0 && in[0].HasShape && len(in[0].Shape) == 2 {
		t.HasShape = true
		t.Shape = []tensor.Dim{in[0].Shape[0], {Size: n.Int("sample_size", 1)}}
	}
	return []tensor.Type{t}, nil
}

// compileGenerator builds RandomUniform / RandomNormal (normal) and their
// *Like forms (like: the shape, and dtype unless given, come from input 0).
func compileGenerator(normal, like bool) func(*ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		a, b := float64(n.Float("low", 0)), float64(n.Float("high", 1))
		if normal {
			a, b = float64(n.Float("mean", 0)), float64(n.Float("scale", 1))
		}
		hasDType := n.Has("dtype")
		dt := dtypeAttr(n, tensor.Float32)
		var shape []int
		if !like {
			s := n.Ints("shape", nil)
			if !n.Has("shape") {
				return nil, fmt.Errorf("attribute \"shape\" is required")
			}
			for _, d := range s {
				if d < 0 || d > tensor.MaxElements {
					return nil, fmt.Errorf("shape %v has an invalid dimension %d", s, d)
				}
				shape = append(shape, int(d))
			}
		}
		if err := n.Err(); err != nil {
			return nil, err
		}
		if (!like || hasDType) && !floatDType(dt) {
			return nil, fmt.Errorf("dtype %v, want float16, bfloat16, float32 or float64", dt)
		}
		smp := newSampler(n)
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			d, sh := dt, shape
			if like {
				if err := ops.Want(in, 1, 1); err != nil {
					return nil, err
				}
				sh = in[0].Shape()
				if !hasDType {
					d = in[0].DType()
					if !floatDType(d) {
						return nil, fmt.Errorf("input is %v; set dtype to a float type for the output", d)
					}
				}
			} else if err := ops.Want(in, 0, 0); err != nil {
				return nil, err
			}
			buf, err := c.New(tensor.Float64, sh...)
			if err != nil {
				return nil, err
			}
			v := tensor.Data[float64](buf)
			src, release := smp.source(c)
			if normal {
				for i := range v {
					v[i] = a + b*src.NormFloat64()
				}
			} else {
				for i := range v {
					v[i] = a + (b-a)*src.Float64()
				}
			}
			release()
			y, err := toDType(c, buf, d)
			return []*tensor.Tensor{y}, err
		}}, nil
	}
}

// toDType returns the float64 samples as dtype d (rounding to nearest even).
func toDType(c *ops.Ctx, buf *tensor.Tensor, d tensor.DType) (*tensor.Tensor, error) {
	if d == tensor.Float64 {
		return buf, nil
	}
	y, err := c.New(d, buf.Shape()...)
	if err != nil {
		return nil, err
	}
	return y, tensor.Convert(y, buf, true)
}

// probabilities reads a float input as float64.
func probabilities(t *tensor.Tensor) (*tensor.Tensor, error) {
	if !floatDType(t.DType()) {
		return nil, fmt.Errorf("input is %v, want float16, bfloat16, float32 or float64", t.DType())
	}
	if t.DType() == tensor.Float64 {
		return t, nil
	}
	p, err := tensor.New(tensor.Float64, t.Shape()...)
	if err != nil {
		return nil, err
	}
	return p, tensor.Convert(p, t, true)
}

func compileBernoulli(n *ops.Node) (*ops.Kernel, error) {
	hasDType := n.Has("dtype")
	dt := dtypeAttr(n, tensor.Undefined)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if hasDType && !(dt.IsFloat() || dt.IsInt() || dt == tensor.Bool) {
		return nil, fmt.Errorf("dtype %v, want a numeric or bool type", dt)
	}
	smp := newSampler(n)
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		d := dt
		if !hasDType {
			d = in[0].DType()
		}
		y, err := c.New(d, in[0].Shape()...) // allocated first: the size check comes before the float64 copy
		if err != nil {
			return nil, err
		}
		p, err := probabilities(in[0])
		if err != nil {
			return nil, err
		}
		buf := y
		if d != tensor.Float64 {
			if buf, err = c.New(tensor.Float64, in[0].Shape()...); err != nil {
				return nil, err
			}
		}
		v, pv := tensor.Data[float64](buf), tensor.Data[float64](p)
		src, release := smp.source(c)
		for i, q := range pv {
			if src.Float64() < q {
				v[i] = 1
			}
		}
		release()
		if d == tensor.Float64 {
			return []*tensor.Tensor{y}, nil
		}
		return []*tensor.Tensor{y}, tensor.Convert(y, buf, true)
	}}, nil
}

func compileMultinomial(n *ops.Node) (*ops.Kernel, error) {
	dt := dtypeAttr(n, tensor.Int32)
	size := n.Int("sample_size", 1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if dt != tensor.Int32 && dt != tensor.Int64 {
		return nil, fmt.Errorf("dtype %v, want int32 or int64", dt)
	}
	if size < 0 || size > tensor.MaxElements {
		return nil, fmt.Errorf("sample_size %d is out of range", size)
	}
	smp := newSampler(n)
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		if in[0].Rank() != 2 {
			return nil, fmt.Errorf("input has shape %v, want (batch_size, class_size)", in[0].Shape())
		}
		batch, classes := in[0].Shape()[0], in[0].Shape()[1]
		if classes == 0 && batch > 0 && size > 0 {
			return nil, fmt.Errorf("input has shape %v: no classes to draw from", in[0].Shape())
		}
		y, err := c.New(dt, batch, int(size))
		if err != nil {
			return nil, err
		}
		p, err := probabilities(in[0])
		if err != nil {
			return nil, err
		}
		logits := tensor.Data[float64](p)
		cum := make([]float64, classes)
		out := make([]int64, 0, int(size))
		src, release := smp.source(c)
		defer release()
		for b := 0; b < batch; b++ {
			if err := c.Check(); err != nil {
				return nil, err
			}
			row := logits[b*classes : (b+1)*classes]
			hi := math.Inf(-1)
			for _, l := range row {
				hi = max(hi, l)
			}
			total := 0.0
			for i, l := range row {
				total += math.Exp(l - hi)
				cum[i] = total
			}
			out = out[:0]
			for s := 0; s < int(size); s++ {
				u := src.Float64() * total
				k := sort.Search(classes, func(i int) bool { return cum[i] > u }) // first class whose cumulative weight exceeds u
				out = append(out, int64(min(k, classes-1)))
			}
			switch d := y.Raw().(type) {
			case []int32:
				for s, k := range out {
					d[b*int(size)+s] = int32(k)
				}
			case []int64:
				copy(d[b*int(size):], out)
			}
		}
		return []*tensor.Tensor{y}, nil
	}}, nil
}
