package elementwise

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Clip: y = min(max(x, lo), hi); when lo > hi every element becomes hi.
// Before opset 11 lo/hi are the float attributes min/max; from 11 they are
// optional scalar inputs 1 and 2 of x's dtype. NaN stays NaN.
var clipOps = ops.Versions("", "Clip", "y = min(max(x, min), max) (min/max attributes before opset 11, optional scalar inputs after)",
	[]int{1, 6, 11, 12, 13}, ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		legacy := n.Opset < 11
		lo := n.Float("min", -math.MaxFloat32)
		hi := n.Float("max", math.MaxFloat32)
		if err := n.Err(); err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 1, 3); err != nil {
				return nil, err
			}
			x := in[0]
			var bounds [2]*tensor.Tensor
			if legacy {
				var err error
				for i, v := range []float32{lo, hi} {
					if bounds[i], err = convertTo(c, tensor.Scalar(v), x.DType()); err != nil {
						return nil, err
					}
				}
			} else {
				copy(bounds[:], in[1:])
			}
			for i, b := range bounds {
				if b == nil {
					continue
				}
				if b.Len() != 1 {
					return nil, fmt.Errorf("Clip: %s must be a scalar, got shape %v", [2]string{"min", "max"}[i], b.Shape())
				}
				if b.DType() != x.DType() {
					return nil, fmt.Errorf("Clip: %s is %v but input is %v; insert a Cast", [2]string{"min", "max"}[i], b.DType(), x.DType())
				}
			}
			y, err := clip(c, x, bounds[0], bounds[1])
			return c.Result(y), err
		}}, nil
	})

func clip(c *ops.Ctx, x, lo, hi *tensor.Tensor) (*tensor.Tensor, error) {
	switch d := x.DType(); d {
	case tensor.Float32:
		return clipT[float32](c, x, lo, hi)
	case tensor.Float64:
		return clipT[float64](c, x, lo, hi)
	case tensor.Float16, tensor.BFloat16:
		return halfWrap(c, []*tensor.Tensor{x, lo, hi}, func(in []*tensor.Tensor) (*tensor.Tensor, error) {
			return clip(c, in[0], in[1], in[2])
		})
	case tensor.Int8:
		return clipT[int8](c, x, lo, hi)
	case tensor.Int16:
		return clipT[int16](c, x, lo, hi)
	case tensor.Int32:
		return clipT[int32](c, x, lo, hi)
	case tensor.Int64:
		return clipT[int64](c, x, lo, hi)
	case tensor.Uint8:
		return clipT[uint8](c, x, lo, hi)
	case tensor.Uint16:
		return clipT[uint16](c, x, lo, hi)
	case tensor.Uint32:
		return clipT[uint32](c, x, lo, hi)
	case tensor.Uint64:
		return clipT[uint64](c, x, lo, hi)
	}
	return nil, unsupported("Clip", x.DType())
}

func clipT[T tensor.Number](c *ops.Ctx, x, lo, hi *tensor.Tensor) (*tensor.Tensor, error) {
	hasLo, hasHi := lo != nil, hi != nil
	var l, h T
	if hasLo {
		l = tensor.Data[T](lo)[0]
	}
	if hasHi {
		h = tensor.Data[T](hi)[0]
	}
	return map1(c, x, x.DType(), func(v T) T {
		if hasLo && v < l {
			v = l
		}
		if hasHi && v > h {
			v = h
		}
		return v
	})
}
