package activation

import (
	"fmt"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Softmax is y = exp(x - max(x)) / sum(exp(x - max(x))) along axis. From
// opset 13 along the single dimension axis (default -1); before 13 over the
// input coerced to 2-D at axis (default 1): every dimension from axis on.
var Softmax = softmaxOps("Softmax", "y = exp(x-max) / sum(exp(x-max)) along axis", modeSoftmax)

// LogSoftmax is y = x - max(x) - log(sum(exp(x - max(x)))) along axis, with
// the same axis semantics as Softmax.
var LogSoftmax = softmaxOps("LogSoftmax", "y = x - max - log(sum(exp(x-max))) along axis", modeLogSoftmax)

// Hardmax is y = 1 at the first maximum along axis and 0 elsewhere, with the
// same axis semantics as Softmax.
var Hardmax = softmaxOps("Hardmax", "y = 1 at the first max along axis, else 0", modeHardmax)

type softmaxMode int

const (
	modeSoftmax softmaxMode = iota
	modeLogSoftmax
	modeHardmax
)

func softmaxOps(typ, doc string, mode softmaxMode) []*ops.Op {
	return ops.Versions("", typ, doc, []int{1, 11, 13}, ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		coerce := n.Opset < 13
		def := int64(-1)
		if coerce {
			def = 1
		}
		axis := n.Int("axis", def)
		if err := n.Err(); err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 1, 1); err != nil {
				return nil, err
			}
			x := in[0]
			outer, n, inner, err := softmaxDims(x.Shape(), axis, coerce)
			if err != nil {
				return nil, err
			}
			out, err := c.New(x.DType(), x.Shape()...)
			if err != nil {
				return nil, err
			}
			if x.Len() == 0 {
				return []*tensor.Tensor{out}, nil
			}
			switch x.DType() {
			case tensor.Float32:
				err = softmaxPar(c, tensor.Data[float32](out), tensor.Data[float32](x), outer, n, inner, mode)
			case tensor.Float64:
				err = softmaxPar(c, tensor.Data[float64](out), tensor.Data[float64](x), outer, n, inner, mode)
			default:
				var v []float64
				if v, err = floats(x); err != nil {
					return nil, err
				}
				if err = softmaxPar(c, v, v, outer, n, inner, mode); err != nil {
					return nil, err
				}
				storeFloats(out, v)
			}
			if err != nil {
				return nil, err
			}
			return []*tensor.Tensor{out}, nil
		}}, nil
	})
}

// softmaxDims views shape as (outer, n, inner) with the softmax taken over n.
func softmaxDims(shape []int, axis int64, coerce bool) (outer, n, inner int, err error) {
	rank := len(shape)
	if rank == 0 {
		if axis != 0 && axis != -1 {
			return 0, 0, 0, fmt.Errorf("axis %d out of range for a scalar", axis)
		}
		return 1, 1, 1, nil
	}
	a, err := ops.NormAxis(axis, rank)
	if err != nil {
		if !(coerce && int(axis) == rank) { // coercion allows axis == rank: n = 1
			return 0, 0, 0, err
		}
		a = rank
	}
	outer, n, inner = 1, 1, 1
	for _, d := range shape[:a] {
		outer *= d
	}
	if coerce {
		for _, d := range shape[a:] {
			n *= d
		}
		return outer, n, 1, nil
	}
	n = shape[a]
	for _, d := range shape[a+1:] {
		inner *= d
	}
	return outer, n, inner, nil
}

// softmaxPar is softmax with the outer dimension split over c.Threads.
func softmaxPar[T tensor.Float](c *ops.Ctx, dst, x []T, outer, n, inner int, mode softmaxMode) error {
	row := n * inner
	return kernelutil.Parallel(c, outer, grain/row+1, func(lo, hi int) error {
		return softmax(c, dst[lo*row:hi*row], x[lo*row:hi*row], hi-lo, n, inner, mode)
	})
}

// softmax computes along n of x viewed as (outer, n, inner) into dst, in
// float64; dst may be x.
func softmax[T tensor.Float](c *ops.Ctx, dst, x []T, outer, n, inner int, mode softmaxMode) error {
	if inner == 1 {
		for o := 0; o < outer; o++ {
			if o&255 == 0 {
				if err := c.Check(); err != nil {
					return err
				}
			}
			row := x[o*n : (o+1)*n]
			softmaxRow(dst[o*n:(o+1)*n], row, mode)
		}
		return nil
	}
	// Strided: keep one running max and sum per inner position so every
	// inner loop walks memory contiguously.
	m := make([]float64, inner)
	s := make([]float64, inner)
	arg := make([]int, inner)
	for o := 0; o < outer; o++ {
		if err := c.Check(); err != nil {
			return err
		}
		base := o * n * inner
		for j := range m {
			m[j], s[j], arg[j] = math.Inf(-1), 0, 0
		}
		for i := 0; i < n; i++ {
			for j, v := range x[base+i*inner : base+(i+1)*inner] {
				if f := float64(v); f > m[j] || (f != f && m[j] == m[j]) {
					m[j], arg[j] = f, i
				}
			}
		}
		if mode == modeHardmax {
			for i := 0; i < n; i++ {
				row := dst[base+i*inner : base+(i+1)*inner]
				for j := range row {
					row[j] = 0
					if arg[j] == i {
						row[j] = 1
					}
				}
			}
			continue
		}
		if mode == modeLogSoftmax {
			for i := 0; i < n; i++ {
				for j, v := range x[base+i*inner : base+(i+1)*inner] {
					s[j] += expFor[T](float64(v) - m[j])
				}
			}
			for j := range s {
				s[j] = m[j] + math.Log(s[j])
			}
			for i := 0; i < n; i++ {
				row := dst[base+i*inner : base+(i+1)*inner]
				for j, v := range x[base+i*inner : base+(i+1)*inner] {
					row[j] = T(float64(v) - s[j])
				}
			}
			continue
		}
		// Softmax: keep exp(x-m) in dst (one extra rounding, < 1.2e-7
		// relative for float32), then scale by 1/sum.
		for i := 0; i < n; i++ {
			row := dst[base+i*inner : base+(i+1)*inner]
			for j, v := range x[base+i*inner : base+(i+1)*inner] {
				e := expFor[T](float64(v) - m[j])
				s[j] += e
				row[j] = T(e)
			}
		}
		for j := range s {
			s[j] = 1 / s[j]
		}
		for i := 0; i < n; i++ {
			row := dst[base+i*inner : base+(i+1)*inner]
			for j, v := range row {
				row[j] = T(float64(v) * s[j])
			}
		}
	}
	return nil
}

// softmaxRow is softmax over one contiguous row; dst may be row.
func softmaxRow[T tensor.Float](dst, row []T, mode softmaxMode) {
	m, arg := math.Inf(-1), 0
	for i, v := range row {
		if f := float64(v); f > m || (f != f && m == m) {
			m, arg = f, i
		}
	}
	switch mode {
	case modeHardmax:
		for i := range dst {
			dst[i] = 0
		}
		dst[arg] = 1
	case modeLogSoftmax:
		s := 0.0
		for _, v := range row {
			s += expFor[T](float64(v) - m)
		}
		ls := math.Log(s)
		for i, v := range row {
			dst[i] = T(float64(v) - m - ls)
		}
	default:
		s := 0.0
		for i, v := range row {
			e := expFor[T](float64(v) - m)
			s += e
			dst[i] = T(e)
		}
		r := 1 / s
		for i, v := range dst {
			dst[i] = T(float64(v) * r)
		}
	}
}

// expFor is exp(d) for d = x - max(x) <= 0 (or NaN): expNeg for float32
// results, whose error it keeps far below float32 rounding, math.Exp for
// float64 ones.
func expFor[T tensor.Float](d float64) float64 {
	var z T
	if _, ok := any(z).(float32); ok {
		return expNeg(d)
	}
	return math.Exp(d)
}
