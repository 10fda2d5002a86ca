// Package floatio converts float tensors of any supported width to and from
// the float32 or float64 slices that kernels compute in.
//
// # Overview
//
// Kernels of the norm, attention and loss families compute float16 and
// bfloat16 inputs in float32, float32 in float32 and float64 in float64.
// Load gives an input's elements in the compute type (without a copy when
// the dtype already matches; the result must then not be modified), and New
// allocates an output whose buffer is written in the compute type and
// rounded to the output dtype by Out.Done.
package floatio

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Supported reports whether d is a float dtype these helpers convert.
func Supported(d tensor.DType) bool {
	switch d {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		return true
	}
	return false
}

// Check returns an error unless t is a supported float tensor.
func Check(name string, t *tensor.Tensor) error {
	if t != nil && !Supported(t.DType()) {
		return fmt.Errorf("%s is %v, want float16, bfloat16, float32 or float64", name, t.DType())
	}
	return nil
}

// Load returns t's elements as F. When t already holds F the tensor's own
// slice is returned: callers must treat it as read-only.
func Load[F tensor.Float](t *tensor.Tensor) ([]F, error) {
	switch d := t.Raw().(type) {
	case []F:
		return d, nil
	case []float32:
		return convert[float32, F](d), nil
	case []float64:
		return convert[float64, F](d), nil
	case []tensor.Float16Bits:
		out := make([]F, len(d))
		for i, v := range d {
			out[i] = F(v.Float32())
		}
		return out, nil
	case []tensor.BFloat16Bits:
		out := make([]F, len(d))
		for i, v := range d {
			out[i] = F(v.Float32())
		}
		return out, nil
	}
	return nil, fmt.Errorf("%v input, want float16, bfloat16, float32 or float64", t.DType())
}

// Copy returns t's elements as a fresh, writable []F.
func Copy[F tensor.Float](t *tensor.Tensor) ([]F, error) {
	d, err := Load[F](t)
	if err != nil {
		return nil, err
	}
	if _, same := t.Raw().([]F); same {
		d = append([]F(nil), d...)
	}
	return d, nil
}

func convert[S, D tensor.Float](s []S) []D {
	out := make([]D, len(s))
	for i, v := range s {
		out[i] = D(v)
	}
	return out
}

// Out is an output tensor being written in compute type F.
type Out[F tensor.Float] struct {
	T   *tensor.Tensor
	Buf []F // the tensor's own data when its dtype is F, else scratch
}

// New allocates an output of dtype d (a Supported dtype) through c, so that
// the session's size limit applies, and a buffer of F to write it in.
func New[F tensor.Float](c *ops.Ctx, d tensor.DType, shape ...int) (Out[F], error) {
	if !Supported(d) {
		return Out[F]{}, fmt.Errorf("output dtype %v, want float16, bfloat16, float32 or float64", d)
	}
	t, err := c.New(d, shape...)
	if err != nil {
		return Out[F]{}, err
	}
	if buf, ok := t.Raw().([]F); ok {
		return Out[F]{T: t, Buf: buf}, nil
	}
	return Out[F]{T: t, Buf: make([]F, t.Len())}, nil
}

// Done rounds the buffer into the tensor (when they differ) and returns it.
func (o Out[F]) Done() *tensor.Tensor {
	switch d := o.T.Raw().(type) {
	case []F:
	case []float32:
		for i, v := range o.Buf {
			d[i] = float32(v)
		}
	case []float64:
		for i, v := range o.Buf {
			d[i] = float64(v)
		}
	case []tensor.Float16Bits:
		for i, v := range o.Buf {
			d[i] = tensor.Float16FromFloat32(float32(v))
		}
	case []tensor.BFloat16Bits:
		for i, v := range o.Buf {
			d[i] = tensor.BFloat16FromFloat32(float32(v))
		}
	}
	return o.T
}

// Store returns a new tensor of dtype d holding v.
func Store[F tensor.Float](c *ops.Ctx, d tensor.DType, shape []int, v []F) (*tensor.Tensor, error) {
	o, err := New[F](c, d, shape...)
	if err != nil {
		return nil, err
	}
	if len(o.Buf) != len(v) {
		return nil, fmt.Errorf("%d values for shape %v", len(v), shape)
	}
	copy(o.Buf, v)
	return o.Done(), nil
}

// Wide reports whether a kernel should compute dtype d in float64 (only
// float64 itself; narrower floats compute in float32).
func Wide(d tensor.DType) bool { return d == tensor.Float64 }

// Kernel returns a kernel that checks the input count (ops.Want) and that
// the inputs named in names (by position) are floats, then runs run64 when
// the first input is float64 and run32 otherwise.
func Kernel[P any](p P, names []string, minIn, maxIn int,
	run32, run64 func(*ops.Ctx, P, []*tensor.Tensor) ([]*tensor.Tensor, error)) *ops.Kernel {
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, minIn, maxIn); err != nil {
			return nil, err
		}
		for i, name := range names {
			if i < len(in) {
				if err := Check(name, in[i]); err != nil {
					return nil, err
				}
			}
		}
		if Wide(in[0].DType()) {
			return run64(c, p, in)
		}
		return run32(c, p, in)
	}}
}

// Like loads t as F and allocates an output of t's dtype and shape: the
// common start of an elementwise-shaped kernel.
func Like[F tensor.Float](c *ops.Ctx, t *tensor.Tensor) ([]F, Out[F], error) {
	x, err := Load[F](t)
	if err != nil {
		return nil, Out[F]{}, err
	}
	y, err := New[F](c, t.DType(), t.Shape()...)
	return x, y, err
}
