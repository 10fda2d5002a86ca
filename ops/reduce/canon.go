package reduce

import (
	"fmt"

	"github.com/gort-ml/gort/tensor"
)

// The kernels of this package are generic over four canonical element
// types: []float32 (also holding float16 and bfloat16), []float64, []int64
// (also holding int8..int32 and uint8..uint32, exactly) and []uint64, plus
// []bool where an op allows it. canonical and canonOut convert at the edges
// so that each op dispatches over those few types only; sums and products of
// the narrower integers, computed in int64 and truncated back, wrap exactly
// as they would natively.

// canonical returns x's elements in their canonical type. When x already
// holds that type its own slice is returned: callers must not modify it.
func canonical(x *tensor.Tensor) (any, error) {
	switch d := x.Raw().(type) {
	case []float32, []float64, []int64, []uint64, []bool:
		return d, nil
	case []tensor.Float16Bits:
		return widenHalf(d), nil
	case []tensor.BFloat16Bits:
		return widenHalf(d), nil
	case []int8:
		return widenInt(d), nil
	case []int16:
		return widenInt(d), nil
	case []int32:
		return widenInt(d), nil
	case []uint8:
		return widenInt(d), nil
	case []uint16:
		return widenInt(d), nil
	case []uint32:
		return widenInt(d), nil
	}
	return nil, fmt.Errorf("unsupported input dtype %v", x.DType())
}

func widenHalf[H interface{ Float32() float32 }](d []H) []float32 {
	v := make([]float32, len(d))
	for i, h := range d {
		v[i] = h.Float32()
	}
	return v
}

func widenInt[T int8 | int16 | int32 | uint8 | uint16 | uint32](d []T) []int64 {
	v := make([]int64, len(d))
	for i, x := range d {
		v[i] = int64(x)
	}
	return v
}

// canonOut returns a canonical slice to write out's elements into, and a
// function that narrows it into out afterwards (a no-op when out already
// holds the canonical type, whose own slice is then returned).
func canonOut(out *tensor.Tensor) (any, func()) {
	n := out.Len()
	switch d := out.Raw().(type) {
	case []float32, []float64, []int64, []uint64, []bool:
		return d, func() {}
	case []tensor.Float16Bits:
		v := make([]float32, n)
		return v, func() { narrowTo(d, v, tensor.Float16FromFloat32) }
	case []tensor.BFloat16Bits:
		v := make([]float32, n)
		return v, func() { narrowTo(d, v, tensor.BFloat16FromFloat32) }
	}
	v := make([]int64, n)
	return v, func() {
		switch d := out.Raw().(type) {
		case []int8:
			narrowTo(d, v, func(x int64) int8 { return int8(x) })
		case []int16:
			narrowTo(d, v, func(x int64) int16 { return int16(x) })
		case []int32:
			narrowTo(d, v, func(x int64) int32 { return int32(x) })
		case []uint8:
			narrowTo(d, v, func(x int64) uint8 { return uint8(x) })
		case []uint16:
			narrowTo(d, v, func(x int64) uint16 { return uint16(x) })
		case []uint32:
			narrowTo(d, v, func(x int64) uint32 { return uint32(x) })
		}
	}
}

func narrowTo[D, S any](dst []D, src []S, f func(S) D) {
	for i, x := range src {
		dst[i] = f(x)
	}
}

// canonIO is canonical(x) and canonOut(out) together.
func canonIO(x, out *tensor.Tensor) (xs, ys any, done func(), err error) {
	if xs, err = canonical(x); err != nil {
		return nil, nil, nil, err
	}
	ys, done = canonOut(out)
	return xs, ys, done, nil
}
