package elementwise

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// The generic kernels of the family: map1 (unary), map2 (binary with numpy
// broadcasting), map3 (Where). Each takes the element function; ops
// instantiate them through a dtype switch. float16 and bfloat16 inputs are
// widened to float32 by the callers (widen / narrowTo) and rounded back.

// map1 returns out[i] = f(x[i]) as a tensor of dtype dt.
func map1[T, O tensor.Elem](c *ops.Ctx, x *tensor.Tensor, dt tensor.DType, f func(T) O) (*tensor.Tensor, error) {
	out, err := c.New(dt, x.Shape()...)
	if err != nil {
		return nil, err
	}
	o, xs := tensor.Data[O](out), tensor.Data[T](x)
	parallel(c, len(o), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o[i] = f(xs[i])
		}
	})
	return out, nil
}

// map2 returns out = f(a, b) elementwise with numpy broadcasting, as a
// tensor of dtype dt. Equal shapes and scalar operands take flat loops.
func map2[A, B, O tensor.Elem](c *ops.Ctx, a, b *tensor.Tensor, dt tensor.DType, f func(A, B) O) (*tensor.Tensor, error) {
	var buf [ops.MaxAllocRank]int
	shape, err := tensor.BroadcastShapesTo(buf[:0], a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	out, err := c.New(dt, shape...)
	if err != nil {
		return nil, err
	}
	o, x, y := tensor.Data[O](out), tensor.Data[A](a), tensor.Data[B](b)
	switch {
	case len(o) == 0:
	case serial(c, len(o)) && len(x) == len(o) && len(y) == len(o):
		// The closures below escape (parallel starts goroutines): the
		// serial cases run without one.
		for i := range o {
			o[i] = f(x[i], y[i])
		}
	case serial(c, len(o)) && len(y) == 1 && len(x) == len(o):
		for i := range o {
			o[i] = f(x[i], y[0])
		}
	case serial(c, len(o)) && len(x) == 1 && len(y) == len(o):
		for i := range o {
			o[i] = f(x[0], y[i])
		}
	case len(x) == len(o) && len(y) == len(o):
		parallel(c, len(o), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				o[i] = f(x[i], y[i])
			}
		})
	case len(y) == 1 && len(x) == len(o):
		s := y[0]
		parallel(c, len(o), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				o[i] = f(x[i], s)
			}
		})
	case len(x) == 1 && len(y) == len(o):
		s := x[0]
		parallel(c, len(o), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				o[i] = f(s, y[i])
			}
		})
	default:
		err = rows(c, shape, [][]int{a.Shape(), b.Shape()}, func(r int, off, st operands, n int) {
			ia, ib, sa, sb := off[0], off[1], st[0], st[1]
			for j := r; j < r+n; j++ {
				o[j] = f(x[ia], y[ib])
				ia += sa
				ib += sb
			}
		})
	}
	return out, err
}

// map3 returns out = f(a, b, c) elementwise with numpy broadcasting.
func map3[A, B, C, O tensor.Elem](ctx *ops.Ctx, a, b, c *tensor.Tensor, dt tensor.DType, f func(A, B, C) O) (*tensor.Tensor, error) {
	var buf [ops.MaxAllocRank]int
	shape, err := tensor.BroadcastShapesTo(buf[:0], a.Shape(), b.Shape(), c.Shape())
	if err != nil {
		return nil, err
	}
	out, err := ctx.New(dt, shape...)
	if err != nil {
		return nil, err
	}
	o, x, y, z := tensor.Data[O](out), tensor.Data[A](a), tensor.Data[B](b), tensor.Data[C](c)
	if len(x) == len(o) && len(y) == len(o) && len(z) == len(o) {
		for i := range o {
			o[i] = f(x[i], y[i], z[i])
		}
		return out, nil
	}
	err = rows(ctx, shape, [][]int{a.Shape(), b.Shape(), c.Shape()}, func(r int, off, st operands, n int) {
		ia, ib, ic := off[0], off[1], off[2]
		for j := r; j < r+n; j++ {
			o[j] = f(x[ia], y[ib], z[ic])
			ia += st[0]
			ib += st[1]
			ic += st[2]
		}
	})
	return out, err
}

// rows walks the output of shape out row by row (a row is the last
// dimension, after merging trailing dimensions that every operand reads
// contiguously or not at all), calling fn with the row's flat output
// offset r, each operand's flat offset and inner stride (0 or 1), and the
// row length n.
func rows(c *ops.Ctx, out []int, ins [][]int, fn func(r int, off, st operands, n int)) error {
	if len(ins) > len(operands{}) {
		return fmt.Errorf("%d operands, at most %d", len(ins), len(operands{}))
	}
	rank := len(out)
	// The strides, offsets and counter live on the stack up to
	// ops.MaxAllocRank dimensions; fn gets offsets and strides by value.
	var sbuf [len(operands{})][ops.MaxAllocRank]int
	var strides [len(operands{})][]int
	for k, s := range ins {
		strides[k] = tensor.BroadcastStridesTo(sbuf[k][:0], s, out)
	}
	var off, st operands
	if rank == 0 {
		fn(0, off, st, 1)
		return nil
	}
	// Merge trailing dimensions while every operand is either fully
	// contiguous over them or fully broadcast (stride 0) over them.
	n := out[rank-1]
	for k := range ins {
		st[k] = strides[k][rank-1]
	}
	inner := rank - 1
	for inner > 0 {
		d := inner - 1
		ok := true
		for k := range ins {
			want := 0
			if st[k] == 1 {
				want = n
			}
			if out[d] != 1 && strides[k][d] != want {
				ok = false
				break
			}
		}
		if !ok {
			break
		}
		n *= out[d]
		inner = d
	}
	total := 1
	for _, d := range out[:inner] {
		total *= d
	}
	if n == 0 || total == 0 {
		return nil
	}
	var cbuf [ops.MaxAllocRank]int
	ctr := cbuf[:0]
	if inner <= len(cbuf) {
		ctr = cbuf[:inner]
	} else {
		ctr = make([]int, inner)
	}
	for r := 0; r < total; r++ {
		if r&255 == 0 {
			if err := c.Check(); err != nil {
				return err
			}
		}
		fn(r*n, off, st, n)
		for d := inner - 1; d >= 0; d-- {
			ctr[d]++
			for k := range ins {
				off[k] += strides[k][d]
			}
			if ctr[d] < out[d] {
				break
			}
			for k := range ins {
				off[k] -= strides[k][d] * out[d]
			}
			ctr[d] = 0
		}
	}
	return nil
}

// operands holds a value per operand of rows (at most three: Where).
type operands [3]int

// isHalf reports dtypes computed in float32 and rounded back.
func isHalf(d tensor.DType) bool { return d == tensor.Float16 || d == tensor.BFloat16 }

// widen returns t converted to float32 when it is float16 or bfloat16, else t.
func widen(c *ops.Ctx, t *tensor.Tensor) (*tensor.Tensor, error) {
	if t == nil || !isHalf(t.DType()) {
		return t, nil
	}
	return convertTo(c, t, tensor.Float32)
}

// convertTo returns t converted to dtype d (saturating float8 conversions).
func convertTo(c *ops.Ctx, t *tensor.Tensor, d tensor.DType) (*tensor.Tensor, error) {
	if t.DType() == d {
		return t, nil
	}
	out, err := c.New(d, t.Shape()...)
	if err != nil {
		return nil, err
	}
	if err := tensor.Convert(out, t, true); err != nil {
		return nil, err
	}
	return out, nil
}

// halfWrap runs k on float16/bfloat16 inputs widened to float32 and rounds
// float32 results back to the inputs' dtype; other dtypes go straight to k.
func halfWrap(c *ops.Ctx, in []*tensor.Tensor, k func(in []*tensor.Tensor) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
	d := tensor.Undefined
	for _, t := range in {
		if t != nil && isHalf(t.DType()) {
			d = t.DType()
		}
	}
	if d == tensor.Undefined {
		return k(in)
	}
	w := make([]*tensor.Tensor, len(in))
	for i, t := range in {
		var err error
		if w[i], err = widen(c, t); err != nil {
			return nil, err
		}
	}
	out, err := k(w)
	if err != nil || out.DType() != tensor.Float32 {
		return out, err
	}
	return convertTo(c, out, d)
}

// sameDTypes checks that every present input has the dtype of the first.
func sameDTypes(op string, in []*tensor.Tensor) error {
	var first *tensor.Tensor
	for _, t := range in {
		if t == nil {
			continue
		}
		if first == nil {
			first = t
			continue
		}
		if t.DType() != first.DType() {
			return fmt.Errorf("%s: input dtypes differ (%v vs %v); insert a Cast", op, first.DType(), t.DType())
		}
	}
	return nil
}

func unsupported(op string, d tensor.DType) error {
	return fmt.Errorf("%s: dtype %v is not supported", op, d)
}
