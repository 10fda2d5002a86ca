package elementwise

import (
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Direct loops for Add, Sub, Mul and float Div: no per-element function
// call. Rows of a broadcast are vector-vector, vector-scalar or
// scalar-vector slices; large flat outputs are split across c.Threads.

// hasLoops reports whether op has direct loops for the dtype class.
func hasLoops(op binop, isFloat bool) bool {
	return op == opAdd || op == opSub || op == opMul || op == opDiv && isFloat
}

// arithT computes a op b for dtype T with broadcasting.
func arithT[T tensor.Number](c *ops.Ctx, op binop, isFloat bool, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if !hasLoops(op, isFloat) {
		return map2(c, a, b, a.DType(), binaryFn[T](op, isFloat))
	}
	shape, err := broadcastShape(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	out := reuseOperand(c, shape, a, b)
	if out == nil {
		if out, err = c.New(a.DType(), shape...); err != nil {
			return nil, err
		}
	}
	o, x, y := tensor.Data[T](out), tensor.Data[T](a), tensor.Data[T](b)
	switch {
	case len(o) == 0:
	case len(x) == len(o) && len(y) == len(o):
		flat(c, flatVV, op, o, x, y)
	case len(y) == 1 && len(x) == len(o):
		flat(c, flatVS, op, o, x, y)
	case len(x) == 1 && len(y) == len(o):
		flat(c, flatSV, op, o, x, y)
	default:
		err = rows(c, shape, [][]int{a.Shape(), b.Shape()}, func(r int, off, st operands, n int) {
			ia, ib := off[0], off[1]
			switch {
			case st[0] == 1 && st[1] == 1:
				vv(op, o[r:r+n], x[ia:ia+n], y[ib:ib+n])
			case st[0] == 1:
				vs(op, o[r:r+n], x[ia:ia+n], y[ib])
			case st[1] == 1:
				sv(op, o[r:r+n], x[ia], y[ib:ib+n])
			default:
				v := binaryFn[T](op, isFloat)(x[ia], y[ib])
				for j := r; j < r+n; j++ {
					o[j] = v
				}
			}
		})
	}
	return out, err
}

// reuseOperand returns the first of ts that has shape's element count and
// that the runtime lets the kernel write over (ops.Ctx.Reusable), viewed
// with shape; nil when none. Every loop below reads element i of an
// operand before it writes element i of the output and never reads
// another element of a full-size operand afterwards, so the output may be
// such an operand.
func reuseOperand(c *ops.Ctx, shape []int, ts ...*tensor.Tensor) *tensor.Tensor {
	n, err := tensor.NumElements(shape)
	if err != nil || n == 0 {
		return nil
	}
	for _, t := range ts {
		if t.Len() == n && c.Reusable(t) {
			if tensor.SameShape(t.Shape(), shape) {
				return t
			}
			if v, err := t.Reshape(shape...); err == nil {
				return v
			}
		}
	}
	return nil
}

// vv: o = x op y.
func vv[T tensor.Number](op binop, o, x, y []T) {
	x, y = x[:len(o)], y[:len(o)]
	switch op {
	case opAdd:
		for i := range o {
			o[i] = x[i] + y[i]
		}
	case opSub:
		for i := range o {
			o[i] = x[i] - y[i]
		}
	case opMul:
		for i := range o {
			o[i] = x[i] * y[i]
		}
	case opDiv:
		for i := range o {
			o[i] = x[i] / y[i]
		}
	}
}

// vs: o = x op s.
func vs[T tensor.Number](op binop, o, x []T, s T) {
	x = x[:len(o)]
	switch op {
	case opAdd:
		for i := range o {
			o[i] = x[i] + s
		}
	case opSub:
		for i := range o {
			o[i] = x[i] - s
		}
	case opMul:
		for i := range o {
			o[i] = x[i] * s
		}
	case opDiv:
		for i := range o {
			o[i] = x[i] / s
		}
	}
}

// sv: o = s op y.
func sv[T tensor.Number](op binop, o []T, s T, y []T) {
	y = y[:len(o)]
	switch op {
	case opAdd:
		for i := range o {
			o[i] = s + y[i]
		}
	case opSub:
		for i := range o {
			o[i] = s - y[i]
		}
	case opMul:
		for i := range o {
			o[i] = s * y[i]
		}
	case opDiv:
		for i := range o {
			o[i] = s / y[i]
		}
	}
}

// broadcastShape is tensor.BroadcastShapes, without allocating when the
// result is a or b (an operand of the output's shape, the other one
// broadcasting to it): then it returns that operand's shape, which the
// caller must not modify.
func broadcastShape(a, b []int) ([]int, error) {
	if covers(a, b) {
		return a, nil
	}
	if covers(b, a) {
		return b, nil
	}
	return tensor.BroadcastShapes(a, b)
}

// covers reports whether b broadcasts to a without changing a.
func covers(a, b []int) bool {
	if len(b) > len(a) {
		return false
	}
	off := len(a) - len(b)
	for i, d := range b {
		if d != 1 && d != a[off+i] {
			return false
		}
	}
	return true
}

// Kinds of flat loops.
const (
	flatVV = iota // o = x op y
	flatVS        // o = x op y[0]
	flatSV        // o = x[0] op y
)

// flat runs a flat loop of kind k over o in up to c.Threads chunks; on one
// goroutine it makes no function value, so that it allocates nothing.
func flat[T tensor.Number](c *ops.Ctx, k int, op binop, o, x, y []T) {
	if serial(c, len(o)) {
		flatRange(k, op, o, x, y, 0, len(o))
		return
	}
	parallel(c, len(o), func(lo, hi int) { flatRange(k, op, o, x, y, lo, hi) })
}

func flatRange[T tensor.Number](k int, op binop, o, x, y []T, lo, hi int) {
	switch k {
	case flatVV:
		vv(op, o[lo:hi], x[lo:hi], y[lo:hi])
	case flatVS:
		vs(op, o[lo:hi], x[lo:hi], y[0])
	case flatSV:
		sv(op, o[lo:hi], x[0], y[lo:hi])
	}
}

// parallelMin is the element count below which a flat loop stays on one goroutine.
const parallelMin = 1 << 16

// serial reports whether parallel runs a loop over n elements on one goroutine.
func serial(c *ops.Ctx, n int) bool {
	return c == nil || c.Threads <= 1 || n < parallelMin
}

// parallel runs fn over [0, n) in up to c.Threads contiguous chunks.
func parallel(c *ops.Ctx, n int, fn func(lo, hi int)) {
	if serial(c, n) {
		fn(0, n)
		return
	}
	t := min(c.Threads, n/(parallelMin/4))
	var wg sync.WaitGroup
	chunk := (n + t - 1) / t
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
