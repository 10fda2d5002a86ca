package activation

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Relu is y = max(0, x); NaN stays NaN. Integer inputs (opset 14) are exact.
var Relu = ops.Versions("", "Relu", "y = max(0, x) elementwise", []int{1, 6, 13, 14},
	ops.InferSameAs(0), compileRelu)

func compileRelu(n *ops.Node) (*ops.Kernel, error) {
	f := floatFn{f32: relu[float32], f64: relu[float64]}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x := in[0]
		var out *tensor.Tensor
		var err error
		switch x.DType() {
		case tensor.Int8:
			out, err = reluInt[int8](c, x)
		case tensor.Int16:
			out, err = reluInt[int16](c, x)
		case tensor.Int32:
			out, err = reluInt[int32](c, x)
		case tensor.Int64:
			out, err = reluInt[int64](c, x)
		default:
			out, err = mapFloat(c, x, f, false)
		}
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{out}, nil
	}}, nil
}

func relu[T tensor.Float](dst, src []T) {
	for i, x := range src {
		if x < 0 {
			x = 0
		}
		dst[i] = x
	}
}

func reluInt[T int8 | int16 | int32 | int64](c *ops.Ctx, x *tensor.Tensor) (*tensor.Tensor, error) {
	out, err := c.New(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	dst := tensor.Data[T](out)
	for i, v := range tensor.Data[T](x) {
		dst[i] = max(v, 0)
	}
	return out, nil
}

// LeakyRelu is y = x for x >= 0, alpha*x otherwise (alpha defaults to 0.01).
var LeakyRelu = ops.Versions("", "LeakyRelu", "y = x if x >= 0 else alpha*x (alpha = 0.01)", []int{1, 6, 16},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		a := float64(n.Float("alpha", 0.01))
		if err := n.Err(); err != nil {
			return nil, err
		}
		return unary(floatFn{
			f32: func(d, s []float32) { leaky(d, s, a) },
			f64: func(d, s []float64) { leaky(d, s, a) },
		}, false), nil
	})

func leaky[T tensor.Float](dst, src []T, alpha float64) {
	a := T(alpha)
	for i, x := range src {
		if x < 0 {
			x *= a
		}
		dst[i] = x
	}
}

// ThresholdedRelu is y = x for x > alpha, 0 otherwise (alpha defaults to 1).
var ThresholdedRelu = ops.Versions("", "ThresholdedRelu", "y = x if x > alpha else 0 (alpha = 1)", []int{10, 22},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		a := float64(n.Float("alpha", 1))
		if err := n.Err(); err != nil {
			return nil, err
		}
		return unary(floatFn{
			f32: func(d, s []float32) { thresholded(d, s, a) },
			f64: func(d, s []float64) { thresholded(d, s, a) },
		}, false), nil
	})

func thresholded[T tensor.Float](dst, src []T, alpha float64) {
	a := T(alpha)
	for i, x := range src {
		if !(x > a) { // NaN gives 0, as the ONNX reference (np.where) does
			x = 0
		}
		dst[i] = x
	}
}

// Shrink is y = x+bias for x < -lambd, x-bias for x > lambd, else 0
// (lambd = 0.5, bias = 0). Integer inputs are computed in float64.
var Shrink = ops.Versions("", "Shrink", "y = x+bias if x < -lambd; x-bias if x > lambd; else 0", []int{9},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		l := float64(n.Float("lambd", 0.5))
		b := float64(n.Float("bias", 0))
		if err := n.Err(); err != nil {
			return nil, err
		}
		return unary(floatFn{
			f32: func(d, s []float32) { shrink(d, s, l, b) },
			f64: func(d, s []float64) { shrink(d, s, l, b) },
		}, true), nil
	})

func shrink[T tensor.Float](dst, src []T, lambd, bias float64) {
	for i, x := range src {
		v := float64(x)
		switch {
		case v < -lambd:
			v += bias
		case v > lambd:
			v -= bias
		default: // NaN gives 0, as the ONNX reference (np.where) does
			v = 0
		}
		dst[i] = T(v)
	}
}

// PRelu is y = x for x >= 0, slope*x otherwise, with slope broadcast to
// x's shape (unidirectional broadcasting, opset 7 on).
var PRelu = ops.Versions("", "PRelu", "y = x if x >= 0 else slope*x (slope broadcasts to x)", []int{1, 6, 7, 9, 16},
	ops.InferSameAs(0), ops.Simple(runPRelu))

func runPRelu(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 2, 2); err != nil {
		return nil, err
	}
	x, s := in[0], in[1]
	if x.DType() != s.DType() {
		return nil, fmt.Errorf("slope dtype %v differs from input dtype %v", s.DType(), x.DType())
	}
	bs, err := tensor.BroadcastShapes(x.Shape(), s.Shape())
	if err != nil || !tensor.SameShape(bs, x.Shape()) {
		return nil, fmt.Errorf("slope shape %v does not broadcast to input shape %v", s.Shape(), x.Shape())
	}
	out, err := c.New(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	switch x.DType() {
	case tensor.Float32:
		prelu(out, x, s, tensor.Data[float32])
	case tensor.Float64:
		prelu(out, x, s, tensor.Data[float64])
	case tensor.Int32:
		prelu(out, x, s, tensor.Data[int32])
	case tensor.Int64:
		prelu(out, x, s, tensor.Data[int64])
	case tensor.Uint32:
		prelu(out, x, s, tensor.Data[uint32])
	case tensor.Uint64:
		prelu(out, x, s, tensor.Data[uint64])
	case tensor.Float16:
		prelu16(out, x, s, tensor.Data[tensor.Float16Bits], tensor.Float16FromFloat32)
	case tensor.BFloat16:
		prelu16(out, x, s, tensor.Data[tensor.BFloat16Bits], tensor.BFloat16FromFloat32)
	default:
		return nil, fmt.Errorf("unsupported input dtype %v", x.DType())
	}
	return []*tensor.Tensor{out}, nil
}

// rows calls f(base, sbase, sstep) for each innermost row of x (length
// inner), where sbase is the slope offset of the row's first element and
// sstep the slope stride along the row (0 or 1).
func rows(xshape, sshape []int, f func(base, sbase, sstep int)) {
	rank := len(xshape)
	st := tensor.BroadcastStrides(sshape, xshape)
	inner, sstep := 1, 0
	if rank > 0 {
		inner, sstep = xshape[rank-1], st[rank-1]
	}
	outer := 1
	for _, d := range xshape[:max(rank-1, 0)] {
		outer *= d
	}
	if inner == 0 || outer == 0 {
		return
	}
	ctr := make([]int, max(rank-1, 0))
	sbase := 0
	for r := 0; r < outer; r++ {
		f(r*inner, sbase, sstep)
		for d := len(ctr) - 1; d >= 0; d-- {
			ctr[d]++
			sbase += st[d]
			if ctr[d] < xshape[d] {
				break
			}
			sbase -= st[d] * xshape[d]
			ctr[d] = 0
		}
	}
}

func prelu[T tensor.Number](out, x, s *tensor.Tensor, data func(*tensor.Tensor) []T) {
	dst, src, sl := data(out), data(x), data(s)
	inner := 1
	if x.Rank() > 0 {
		inner = x.Shape()[x.Rank()-1]
	}
	rows(x.Shape(), s.Shape(), func(base, sb, ss int) {
		for j, v := range src[base : base+inner] {
			if v < 0 {
				v *= sl[sb+j*ss]
			}
			dst[base+j] = v
		}
	})
}

func prelu16[H interface{ Float32() float32 }](out, x, s *tensor.Tensor, data func(*tensor.Tensor) []H, round func(float32) H) {
	dst, src, sl := data(out), data(x), data(s)
	inner := 1
	if x.Rank() > 0 {
		inner = x.Shape()[x.Rank()-1]
	}
	rows(x.Shape(), s.Shape(), func(base, sb, ss int) {
		for j, h := range src[base : base+inner] {
			if v := h.Float32(); v < 0 {
				h = round(v * sl[sb+j*ss].Float32())
			}
			dst[base+j] = h
		}
	})
}
