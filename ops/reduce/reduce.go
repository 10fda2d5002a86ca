// Package reduce holds gort's kernels for the reduce operator family.
//
// # Overview
//
// The Reduce* ops share one planner (plan.go) that merges the input's
// dimensions into alternating kept/reduced groups and walks the input once
// in memory order: a reduced innermost group folds a contiguous run into one
// accumulator, a kept innermost group adds a run into a contiguous slice of
// accumulators. Float inputs accumulate in float64 (float16 and bfloat16 are
// widened to float32 first), integer inputs in int64 with wraparound, the
// same bits numpy gives after casting back; Max and Min compare natively.
// ArgMax/ArgMin, CumSum/CumProd and TopK view the input as (outer, n, inner)
// around one axis.
package reduce

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
		ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare,
		ArgMax, ArgMin, CumSum, CumProd, TopK,
	)
}

type kind int

const (
	kSum kind = iota
	kMean
	kMax
	kMin
	kProd
	kL1
	kL2
	kLogSum
	kLogSumExp
	kSumSquare
)

// Reduce ops: axes is an attribute before the version in the third argument
// and an optional second input from it on. An empty reduction gives the
// identity (0 for sums, 1 for Prod, -inf for Max and LogSum(Exp), +inf for
// Min, NaN for Mean).
var (
	// ReduceSum is y = sum(x) over axes.
	ReduceSum = reduceOps("ReduceSum", "y = sum(x) over axes", kSum, 13, []int{1, 11, 13})
	// ReduceMean is y = sum(x)/count over axes.
	ReduceMean = reduceOps("ReduceMean", "y = sum(x)/n over axes", kMean, 18, []int{1, 11, 13, 18})
	// ReduceMax is y = max(x) over axes (bool: any, opset 20).
	ReduceMax = reduceOps("ReduceMax", "y = max(x) over axes", kMax, 18, []int{1, 11, 12, 13, 18, 20})
	// ReduceMin is y = min(x) over axes (bool: all, opset 20).
	ReduceMin = reduceOps("ReduceMin", "y = min(x) over axes", kMin, 18, []int{1, 11, 12, 13, 18, 20})
	// ReduceProd is y = prod(x) over axes.
	ReduceProd = reduceOps("ReduceProd", "y = prod(x) over axes", kProd, 18, []int{1, 11, 13, 18})
	// ReduceL1 is y = sum(|x|) over axes.
	ReduceL1 = reduceOps("ReduceL1", "y = sum(|x|) over axes", kL1, 18, []int{1, 11, 13, 18})
	// ReduceL2 is y = sqrt(sum(x^2)) over axes.
	ReduceL2 = reduceOps("ReduceL2", "y = sqrt(sum(x^2)) over axes", kL2, 18, []int{1, 11, 13, 18})
	// ReduceLogSum is y = log(sum(x)) over axes. Version 28 only drops
	// integer inputs from the schema; gort keeps accepting them.
	ReduceLogSum = reduceOps("ReduceLogSum", "y = log(sum(x)) over axes", kLogSum, 18, []int{1, 11, 13, 18, 28})
	// ReduceLogSumExp is y = log(sum(exp(x))) over axes, computed as
	// m + log(sum(exp(x-m))) with m = max(x) so that it does not overflow.
	// Version 28 only drops integer inputs; gort keeps accepting them.
	ReduceLogSumExp = reduceOps("ReduceLogSumExp", "y = log(sum(exp(x))) over axes", kLogSumExp, 18, []int{1, 11, 13, 18, 28})
	// ReduceSumSquare is y = sum(x^2) over axes.
	ReduceSumSquare = reduceOps("ReduceSumSquare", "y = sum(x^2) over axes", kSumSquare, 18, []int{1, 11, 13, 18})
)

// reduceConf is a compiled Reduce node.
type reduceConf struct {
	k          kind
	keep, noop bool
	axes       []int64 // from the attribute; nil when absent
}

func reduceOps(typ, doc string, k kind, axesInput int, since []int) []*ops.Op {
	conf := func(n *ops.Node) (*reduceConf, error) {
		r := &reduceConf{k: k, keep: n.Int("keepdims", 1) != 0, axes: n.Ints("axes", nil)}
		if n.Opset >= axesInput {
			r.noop = n.Int("noop_with_empty_axes", 0) != 0
		}
		return r, n.Err()
	}
	infer := func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if len(in) == 0 {
			return nil, fmt.Errorf("input 0 missing")
		}
		r, err := conf(n)
		if err != nil {
			return nil, err
		}
		if len(n.Inputs) > 1 && n.Inputs[1] != "" { // axes known at run time only
			return []tensor.Type{inferReduced(in[0], nil, r.keep)}, nil
		}
		var red []bool
		if in[0].HasShape {
			if red, err = r.reducedAxes(r.axes, len(in[0].Shape)); err != nil {
				return nil, err
			}
		}
		return []tensor.Type{inferReduced(in[0], red, r.keep)}, nil
	}
	return ops.Versions("", typ, doc, since, infer, func(n *ops.Node) (*ops.Kernel, error) {
		r, err := conf(n)
		if err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: r.run}, nil
	})
}

// reducedAxes flags the reduced axes: all of them for empty axes unless
// noop_with_empty_axes is set, in which case none is.
func (r *reduceConf) reducedAxes(axes []int64, rank int) ([]bool, error) {
	if len(axes) == 0 {
		red := make([]bool, rank)
		for i := range red {
			red[i] = !r.noop
		}
		return red, nil
	}
	return normAxes(axes, rank)
}

func (r *reduceConf) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 2); err != nil {
		return nil, err
	}
	x := in[0]
	axes := r.axes
	if len(in) > 1 && in[1] != nil {
		var err error
		if axes, err = ops.Ints64(in[1]); err != nil {
			return nil, fmt.Errorf("axes: %w", err)
		}
	}
	red, err := r.reducedAxes(axes, x.Rank())
	if err != nil {
		return nil, err
	}
	p := newPlan(x.Shape(), red, r.keep)
	out, err := c.New(x.DType(), p.outShape...)
	if err != nil {
		return nil, err
	}
	xs, ys, done, err := canonIO(x, out)
	if err != nil {
		return nil, err
	}
	switch v := xs.(type) {
	case []float32:
		err = reduceFloat(c, p, r.k, v, ys.([]float32))
	case []float64:
		err = reduceFloat(c, p, r.k, v, ys.([]float64))
	case []int64:
		lo, hi := intLimits(x.DType())
		err = reduceInt(c, p, r.k, v, ys.([]int64), lo, hi)
	case []uint64:
		err = reduceInt(c, p, r.k, v, ys.([]uint64), 0, 1<<64-1)
	case []bool:
		err = reduceBool(c, p, r.k, v, ys.([]bool))
	}
	if err != nil {
		return nil, err
	}
	done()
	return []*tensor.Tensor{out}, nil
}

// reduceFloat reduces float x into dst, accumulating in float64.
func reduceFloat[T tensor.Float](c *ops.Ctx, p *plan, k kind, x, dst []T) error {
	switch k {
	case kMax, kMin:
		return extreme(c, p, k == kMax, x, dst, T(math.Inf(-1)), T(math.Inf(1)))
	case kLogSumExp:
		// m = max(x) per output; then y = m + log(sum(exp(x - m))).
		m := make([]T, len(dst))
		if err := extreme(c, p, true, x, m, T(math.Inf(-1)), T(math.Inf(1))); err != nil {
			return err
		}
		shift := make([]float64, len(dst))
		for i, v := range m {
			if f := float64(v); !math.IsInf(f, 0) {
				shift[i] = f
			}
		}
		acc := make([]float64, len(dst))
		if err := p.each(c, func(in, out int) { expRun(p, x, acc, shift, in, out) }); err != nil {
			return err
		}
		for i, s := range acc {
			if f := float64(m[i]); math.IsInf(f, 0) || f != f {
				dst[i] = m[i]
			} else {
				dst[i] = T(f + math.Log(s))
			}
		}
		return nil
	}
	acc, err := accumulate[T, float64](c, p, k, x)
	if err != nil {
		return err
	}
	n := float64(p.count)
	for i, s := range acc {
		switch k {
		case kMean:
			s /= n
		case kL2:
			s = math.Sqrt(s)
		case kLogSum:
			s = math.Log(s)
		}
		dst[i] = T(s)
	}
	return nil
}

// reduceInt reduces integer x into dst: sums and products wrap in int64
// (numpy's result after the cast back to T); Mean truncates toward zero; L2,
// LogSum and LogSumExp go through float64 and truncate.
// Empty Max and Min reductions give lo and hi, the limits of the input dtype.
func reduceInt[T int64 | uint64](c *ops.Ctx, p *plan, k kind, x, dst []T, lo, hi T) error {
	switch k {
	case kMax, kMin:
		return extreme(c, p, k == kMax, x, dst, lo, hi)
	case kLogSumExp:
		xf := make([]float64, len(x))
		for i, v := range x {
			xf[i] = float64(v)
		}
		df := make([]float64, len(dst))
		if err := reduceFloat(c, p, k, xf, df); err != nil {
			return err
		}
		for i, v := range df {
			dst[i] = T(v)
		}
		return nil
	}
	acc, err := accumulate[T, int64](c, p, k, x)
	if err != nil {
		return err
	}
	for i, s := range acc {
		switch k {
		case kMean:
			if p.count > 0 {
				s /= int64(p.count)
			}
		case kL2:
			s = int64(math.Sqrt(float64(s)))
		case kLogSum:
			s = int64(math.Log(float64(s)))
		}
		dst[i] = T(s)
	}
	return nil
}

// intLimits returns the smallest and largest values of the integer dtype d
// (64-bit unsigned excluded).
func intLimits(d tensor.DType) (lo, hi int64) {
	bits := 8 * d.Size()
	if d.IsSigned() {
		return -1 << (bits - 1), 1<<(bits-1) - 1
	}
	return 0, 1<<bits - 1
}

// accumulate folds x into one accumulator per output element for the
// sum-like kinds and Prod.
func accumulate[T tensor.Number, A float64 | int64](c *ops.Ctx, p *plan, k kind, x []T) ([]A, error) {
	acc := make([]A, p.outLen)
	var err error
	switch k {
	case kProd:
		for i := range acc {
			acc[i] = 1
		}
		err = p.each(c, func(in, out int) { prodRun(p, x, acc, in, out) })
	case kL1:
		err = p.each(c, func(in, out int) { absRun(p, x, acc, in, out) })
	case kL2, kSumSquare:
		err = p.each(c, func(in, out int) { sqRun(p, x, acc, in, out) })
	default:
		err = p.each(c, func(in, out int) { sumRun(p, x, acc, in, out) })
	}
	if err != nil {
		return nil, err
	}
	return acc, nil
}

func sumRun[T tensor.Number, A float64 | int64](p *plan, x []T, acc []A, in, out int) {
	run := x[in : in+p.inner]
	if p.innerRed {
		s := acc[out]
		for _, v := range run {
			s += A(v)
		}
		acc[out] = s
		return
	}
	a := acc[out : out+len(run)]
	for j, v := range run {
		a[j] += A(v)
	}
}

func absRun[T tensor.Number, A float64 | int64](p *plan, x []T, acc []A, in, out int) {
	run := x[in : in+p.inner]
	if p.innerRed {
		s := acc[out]
		for _, v := range run {
			a := A(v)
			if v < 0 { // test v, not a: a uint64 above 2^63 is negative as int64
				a = -a
			}
			s += a
		}
		acc[out] = s
		return
	}
	d := acc[out : out+len(run)]
	for j, v := range run {
		a := A(v)
		if v < 0 {
			a = -a
		}
		d[j] += a
	}
}

func sqRun[T tensor.Number, A float64 | int64](p *plan, x []T, acc []A, in, out int) {
	run := x[in : in+p.inner]
	if p.innerRed {
		s := acc[out]
		for _, v := range run {
			s += A(v) * A(v)
		}
		acc[out] = s
		return
	}
	d := acc[out : out+len(run)]
	for j, v := range run {
		d[j] += A(v) * A(v)
	}
}

func prodRun[T tensor.Number, A float64 | int64](p *plan, x []T, acc []A, in, out int) {
	run := x[in : in+p.inner]
	if p.innerRed {
		s := acc[out]
		for _, v := range run {
			s *= A(v)
		}
		acc[out] = s
		return
	}
	d := acc[out : out+len(run)]
	for j, v := range run {
		d[j] *= A(v)
	}
}

// expRun adds exp(x - shift) for LogSumExp.
func expRun[T tensor.Float](p *plan, x []T, acc, shift []float64, in, out int) {
	run := x[in : in+p.inner]
	if p.innerRed {
		s, m := acc[out], shift[out]
		for _, v := range run {
			s += math.Exp(float64(v) - m)
		}
		acc[out] = s
		return
	}
	d, m := acc[out:out+len(run)], shift[out:out+len(run)]
	for j, v := range run {
		d[j] += math.Exp(float64(v) - m[j])
	}
}

// extreme computes max (or min) natively in T; NaN propagates. Empty
// reductions give lo for max and hi for min.
func extreme[T tensor.Number](c *ops.Ctx, p *plan, isMax bool, x, dst []T, lo, hi T) error {
	init := hi
	if isMax {
		init = lo
	}
	for i := range dst {
		dst[i] = init
	}
	return p.each(c, func(in, out int) {
		run := x[in : in+p.inner]
		switch {
		case p.innerRed && isMax:
			m := dst[out]
			for _, v := range run {
				if v > m || v != v {
					m = v
				}
			}
			dst[out] = m
		case p.innerRed:
			m := dst[out]
			for _, v := range run {
				if v < m || v != v {
					m = v
				}
			}
			dst[out] = m
		case isMax:
			d := dst[out : out+len(run)]
			for j, v := range run {
				if v > d[j] || v != v {
					d[j] = v
				}
			}
		default:
			d := dst[out : out+len(run)]
			for j, v := range run {
				if v < d[j] || v != v {
					d[j] = v
				}
			}
		}
	})
}

// reduceBool is ReduceMax (any) and ReduceMin (all) over bools.
func reduceBool(c *ops.Ctx, p *plan, k kind, x, dst []bool) error {
	if k != kMax && k != kMin {
		return fmt.Errorf("bool input is supported by ReduceMax and ReduceMin only")
	}
	all := k == kMin
	for i := range dst {
		dst[i] = all
	}
	return p.each(c, func(in, out int) {
		run := x[in : in+p.inner]
		if p.innerRed {
			r := dst[out]
			for _, v := range run {
				if all {
					r = r && v
				} else {
					r = r || v
				}
			}
			dst[out] = r
			return
		}
		d := dst[out : out+len(run)]
		for j, v := range run {
			if all {
				d[j] = d[j] && v
			} else {
				d[j] = d[j] || v
			}
		}
	})
}
