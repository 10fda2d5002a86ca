package tensor

import (
	"fmt"
	"slices"
)

// BroadcastShapes returns the numpy-style broadcast of the given shapes.
func BroadcastShapes(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	return BroadcastShapesTo(make([]int, 0, rank), shapes...)
}

// BroadcastShapesTo is BroadcastShapes appending to dst, which can be a
// caller's stack array: it allocates nothing when dst has the room.
func BroadcastShapesTo(dst []int, shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	base := len(dst)
	for range rank {
		dst = append(dst, 1)
	}
	out := dst[base:]
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d == *o || d == 1:
			case *o == 1:
				*o = d
			default:
				// Copies, so that shapes can stay on a caller's stack.
				cp := make([][]int, len(shapes))
				for k, s := range shapes {
					cp[k] = slices.Clone(s)
				}
				return nil, fmt.Errorf("%w: shapes %v do not broadcast (dimension %d: %d vs %d)", ErrShape, cp, off+i, *o, d)
			}
		}
	}
	return dst, nil
}

// Strides returns row-major element strides of shape.
func Strides(shape []int) []int {
	return StridesTo(make([]int, 0, len(shape)), shape)
}

// StridesTo is Strides appending to dst (no allocation when dst has the
// room).
func StridesTo(dst, shape []int) []int {
	base := len(dst)
	dst = append(dst, shape...)
	st := dst[base:]
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return dst
}

// BroadcastStrides returns strides for reading a tensor of shape `in` as if it
// had shape `out` (len(out) >= len(in)): broadcast dimensions get stride 0.
func BroadcastStrides(in, out []int) []int {
	return BroadcastStridesTo(make([]int, 0, len(out)), in, out)
}

// BroadcastStridesTo is BroadcastStrides appending to dst (no allocation
// when dst has the room).
func BroadcastStridesTo(dst, in, out []int) []int {
	base := len(dst)
	for range out {
		dst = append(dst, 0)
	}
	st := dst[base:]
	off := len(out) - len(in)
	s := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			st[off+i] = s
		}
		s *= in[i]
	}
	return dst
}

// BroadcastIndex fills idx[k] with the flat index into operand k for every
// element of out, in row-major order, calling f(i, idx) for output element i.
// It avoids per-element division: the index advances like an odometer.
func BroadcastIndex(out []int, operands [][]int, f func(i int, idx []int)) {
	n := 1
	for _, d := range out {
		n *= d
	}
	if n == 0 {
		return
	}
	strides := make([][]int, len(operands))
	for k, s := range operands {
		strides[k] = BroadcastStrides(s, out)
	}
	idx := make([]int, len(operands))
	ctr := make([]int, len(out))
	for i := 0; i < n; i++ {
		f(i, idx)
		for d := len(out) - 1; d >= 0; d-- {
			ctr[d]++
			for k := range idx {
				idx[k] += strides[k][d]
			}
			if ctr[d] < out[d] {
				break
			}
			for k := range idx {
				idx[k] -= strides[k][d] * out[d]
			}
			ctr[d] = 0
		}
	}
}
