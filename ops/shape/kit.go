package shape

import (
	"fmt"

	"github.com/gort-ml/gort/tensor"
)

// kit moves elements of one dtype between typed slices held as any. The
// shape ops only move elements, so one generic implementation per primitive
// serves every dtype (string, float16, float8, int4, ...); kitFor is the one
// place that maps a dtype to its instantiation.
type kit interface {
	// take fills dst with len(starts) runs of n elements, run i copied from
	// src[starts[i]:starts[i]+n]; a negative start leaves the run untouched.
	take(dst, src any, starts []int, n int)
	// put copies run i of n elements, src[i*n:(i+1)*n], to dst[offs[i]:].
	put(dst, src any, offs []int, n int)
	// fill sets every element of dst to src[i].
	fill(dst, src any, i int)
	// fillAt sets dst[o] = src[0] for every o in offs.
	fillAt(dst, src any, offs []int)
	// strided fills dst in order with runs of n contiguous elements read
	// from src at off + sum(idx[k]*strides[k]) for every index idx of shape
	// in row-major order (strides may be 0 to repeat, or negative).
	strided(dst, src any, off int, shape, strides []int, n int)
	// nonzero returns the flat indices of the elements that differ from the
	// zero value of the type.
	nonzero(src any) []int
}

type kitOf[T tensor.Elem] struct{}

func (kitOf[T]) take(dst, src any, starts []int, n int) {
	d, s := dst.([]T), src.([]T)
	if n == 1 {
		for i, st := range starts {
			if st >= 0 {
				d[i] = s[st]
			}
		}
		return
	}
	for i, st := range starts {
		if st >= 0 {
			copy(d[i*n:(i+1)*n], s[st:st+n])
		}
	}
}

func (kitOf[T]) put(dst, src any, offs []int, n int) {
	d, s := dst.([]T), src.([]T)
	for i, o := range offs {
		copy(d[o:o+n], s[i*n:(i+1)*n])
	}
}

func (kitOf[T]) fill(dst, src any, i int) {
	d := dst.([]T)
	v := src.([]T)[i]
	for j := range d {
		d[j] = v
	}
}

func (kitOf[T]) strided(dst, src any, off int, shape, strides []int, n int) {
	d, s := dst.([]T), src.([]T)
	if len(d) == 0 {
		return
	}
	r := len(shape)
	if r == 0 {
		copy(d[:n], s[off:off+n])
		return
	}
	ctr := make([]int, r)
	last, lastStride := shape[r-1], strides[r-1]
	o := 0
	for o < len(d) {
		// the innermost dimension as a tight loop
		p := off
		if n == 1 {
			for i := 0; i < last; i++ {
				d[o+i] = s[p]
				p += lastStride
			}
			o += last
		} else {
			for i := 0; i < last; i++ {
				copy(d[o:o+n], s[p:p+n])
				o += n
				p += lastStride
			}
		}
		for k := r - 2; k >= 0; k-- {
			ctr[k]++
			off += strides[k]
			if ctr[k] < shape[k] {
				break
			}
			off -= strides[k] * shape[k]
			ctr[k] = 0
		}
	}
}

func (kitOf[T]) fillAt(dst, src any, offs []int) {
	d := dst.([]T)
	v := src.([]T)[0]
	for _, o := range offs {
		d[o] = v
	}
}

func (kitOf[T]) nonzero(src any) []int {
	var z T
	var out []int
	for i, v := range src.([]T) {
		if v != z {
			out = append(out, i)
		}
	}
	return out
}

func kitFor(d tensor.DType) (kit, error) {
	switch d {
	case tensor.Float32:
		return kitOf[float32]{}, nil
	case tensor.Float64:
		return kitOf[float64]{}, nil
	case tensor.Int8:
		return kitOf[int8]{}, nil
	case tensor.Int16:
		return kitOf[int16]{}, nil
	case tensor.Int32:
		return kitOf[int32]{}, nil
	case tensor.Int64:
		return kitOf[int64]{}, nil
	case tensor.Uint8:
		return kitOf[uint8]{}, nil
	case tensor.Uint16:
		return kitOf[uint16]{}, nil
	case tensor.Uint32:
		return kitOf[uint32]{}, nil
	case tensor.Uint64:
		return kitOf[uint64]{}, nil
	case tensor.Bool:
		return kitOf[bool]{}, nil
	case tensor.String:
		return kitOf[string]{}, nil
	case tensor.Complex64:
		return kitOf[complex64]{}, nil
	case tensor.Complex128:
		return kitOf[complex128]{}, nil
	case tensor.Float16:
		return kitOf[tensor.Float16Bits]{}, nil
	case tensor.BFloat16:
		return kitOf[tensor.BFloat16Bits]{}, nil
	case tensor.Float8E4M3FN:
		return kitOf[tensor.F8E4M3FN]{}, nil
	case tensor.Float8E4M3FNUZ:
		return kitOf[tensor.F8E4M3FNUZ]{}, nil
	case tensor.Float8E5M2:
		return kitOf[tensor.F8E5M2]{}, nil
	case tensor.Float8E5M2FNUZ:
		return kitOf[tensor.F8E5M2FNUZ]{}, nil
	case tensor.Float8E8M0:
		return kitOf[tensor.F8E8M0]{}, nil
	case tensor.Float4E2M1:
		return kitOf[tensor.F4E2M1]{}, nil
	case tensor.Uint4:
		return kitOf[tensor.U4]{}, nil
	case tensor.Int4:
		return kitOf[tensor.I4]{}, nil
	case tensor.Uint2:
		return kitOf[tensor.U2]{}, nil
	case tensor.Int2:
		return kitOf[tensor.I2]{}, nil
	}
	return nil, fmt.Errorf("%w %v", tensor.ErrUnsupportedDType, d)
}

// gather allocates a tensor of x's dtype and the given shape filled from x by
// kit.take; fill, when not nil, is a one-element tensor written first to
// every element (the value of runs whose start is negative).
func gather(c *ctx, x *tensor.Tensor, shape []int, starts []int, n int, fill *tensor.Tensor) (*tensor.Tensor, error) {
	k, out, err := newLike(c, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	if fill != nil {
		if fill.DType() != x.DType() {
			return nil, fmt.Errorf("fill value is %v, data is %v; they must match", fill.DType(), x.DType())
		}
		if fill.Len() < 1 {
			return nil, fmt.Errorf("fill value is empty, want one element")
		}
		k.fill(out.Raw(), fill.Raw(), 0)
	}
	k.take(out.Raw(), x.Raw(), starts, n)
	return out, nil
}

// copyOf returns a new tensor with x's dtype, data and the given shape.
func copyOf(c *ctx, x *tensor.Tensor, shape ...int) (*tensor.Tensor, error) {
	out, err := c.New(x.DType(), shape...)
	if err != nil {
		return nil, err
	}
	if out.Len() != x.Len() {
		return nil, fmt.Errorf("%w: cannot hold %d elements in shape %v", tensor.ErrShape, x.Len(), shape)
	}
	k, err := kitFor(x.DType())
	if err != nil {
		return nil, err
	}
	if x.Len() > 0 {
		k.put(out.Raw(), x.Raw(), []int{0}, x.Len())
	}
	return out, nil
}

// stridedCopy allocates a tensor of x's dtype and shape `shape` whose
// element idx is x's flat element off + sum(idx[k]*strides[k]).
func stridedCopy(c *ctx, x *tensor.Tensor, shape []int, off int, strides []int) (*tensor.Tensor, error) {
	k, out, err := newLike(c, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return out, nil
	}
	// Coalesce: drop size-1 dimensions, fold a trailing unit-stride block
	// into the run length and merge adjacent dimensions that are contiguous
	// with each other.
	// The kit call makes its slices escape: they come from intPool.
	r := len(shape)
	p := borrowInts(4 * r)
	defer returnInts(p)
	buf := *p
	sh, st := buf[0:0:r], buf[r:r:2*r]
	for i, d := range shape {
		if d != 1 {
			sh = append(sh, d)
			st = append(st, strides[i])
		}
	}
	n := 1
	for len(sh) > 0 && st[len(st)-1] == n {
		n *= sh[len(sh)-1]
		sh, st = sh[:len(sh)-1], st[:len(st)-1]
	}
	msh, mst := buf[2*r:2*r:3*r], buf[3*r:3*r:4*r]
	for i := range sh {
		if j := len(msh) - 1; j >= 0 && mst[j] == sh[i]*st[i] {
			msh[j] *= sh[i]
			mst[j] = st[i]
			continue
		}
		msh = append(msh, sh[i])
		mst = append(mst, st[i])
	}
	k.strided(out.Raw(), x.Raw(), off, msh, mst, n)
	return out, nil
}

// newLike allocates a tensor of dtype d and returns it with d's kit.
func newLike(c *ctx, d tensor.DType, shape []int) (kit, *tensor.Tensor, error) {
	k, err := kitFor(d)
	if err != nil {
		return nil, nil, err
	}
	out, err := c.New(d, shape...)
	if err != nil {
		return nil, nil, err
	}
	return k, out, nil
}

// valueOf returns a scalar of dtype d holding v converted as Cast does.
func valueOf(d tensor.DType, v float64) (*tensor.Tensor, error) {
	out, err := tensor.New(d)
	if err != nil {
		return nil, err
	}
	if err := tensor.Convert(out, tensor.Scalar(v), false); err != nil {
		return nil, err
	}
	return out, nil
}

// converted returns x converted to dtype d (x itself when it already is).
func converted(c *ctx, x *tensor.Tensor, d tensor.DType) (*tensor.Tensor, error) {
	if x.DType() == d {
		return x, nil
	}
	out, err := c.New(d, x.Shape()...)
	if err != nil {
		return nil, err
	}
	return out, tensor.Convert(out, x, false)
}
