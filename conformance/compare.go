package conformance

import (
	"fmt"
	"math"
	"math/cmplx"

	"github.com/gort-ml/gort/tensor"
)

// Tolerance is an allclose tolerance: |got-want| <= Atol + Rtol*|want|.
type Tolerance struct{ Rtol, Atol float64 }

// ONNXTolerance is the ONNX backend runner's default (numpy assert_allclose
// with rtol 1e-3, atol 1e-7).
var ONNXTolerance = Tolerance{Rtol: 1e-3, Atol: 1e-7}

// Diff summarizes the difference between two tensors.
type Diff struct {
	MaxAbs, MaxRel float64
	Worst          int // flat index of the worst element (by tolerance excess)
	Bad            int // elements outside the tolerance
}

// BFloat16Rtol is the least relative tolerance for bfloat16 outputs, the
// one the onnx 1.23 backend runner (assert_similar_outputs) applies to them
// ("two bfloat16 ULPs"). A bfloat16 has 8 significant bits, so one ulp is
// 2^-8 to 2^-7 of the value: a kernel that rounds once where the reference
// rounds after every step differs by more than the default rtol of 1e-3.
const BFloat16Rtol = 1.0 / 64

// CompareValues checks got against want: same kind, dtype and shape;
// floating values within tol, bfloat16 ones with rtol at least
// BFloat16Rtol (NaN matches NaN, infinities must match); everything else
// exact. Sequences and optionals compare element-wise.
func CompareValues(want, got tensor.Value, tol Tolerance) error {
	switch w := want.(type) {
	case *tensor.Tensor:
		if w.DType() == tensor.BFloat16 {
			tol.Rtol = max(tol.Rtol, BFloat16Rtol)
		}
		g, ok := got.(*tensor.Tensor)
		if !ok {
			if o, isOpt := got.(*tensor.Optional); isOpt {
				if gt, ok2 := o.V.(*tensor.Tensor); ok2 {
					return CompareValues(want, gt, tol)
				}
			}
			return fmt.Errorf("got a %T, want a tensor", got)
		}
		_, err := CompareTensors(w, g, tol)
		return err
	case *tensor.Sequence:
		g, ok := got.(*tensor.Sequence)
		if !ok {
			return fmt.Errorf("got a %T, want a sequence", got)
		}
		if len(g.Items) != len(w.Items) {
			return fmt.Errorf("sequence has %d items, want %d", len(g.Items), len(w.Items))
		}
		for i := range w.Items {
			if err := CompareValues(w.Items[i], g.Items[i], tol); err != nil {
				return fmt.Errorf("sequence item %d: %w", i, err)
			}
		}
		return nil
	case *tensor.Optional:
		var gv tensor.Value
		switch g := got.(type) {
		case *tensor.Optional:
			gv = g.V
		default:
			gv = got
		}
		if w.V == nil || gv == nil {
			if (w.V == nil) != (gv == nil) {
				return fmt.Errorf("optional: want empty=%v, got empty=%v", w.V == nil, gv == nil)
			}
			return nil
		}
		return CompareValues(w.V, gv, tol)
	case *tensor.Map:
		g, ok := got.(*tensor.Map)
		if !ok {
			return fmt.Errorf("got a %T, want a map", got)
		}
		if _, err := CompareTensors(w.Keys, g.Keys, tol); err != nil {
			return fmt.Errorf("map keys: %w", err)
		}
		return CompareValues(w.Values, g.Values, tol)
	}
	return fmt.Errorf("cannot compare a %T", want)
}

// CompareTensors checks dtype, shape and values and returns the difference.
func CompareTensors(want, got *tensor.Tensor, tol Tolerance) (Diff, error) {
	var d Diff
	if want.DType() != got.DType() {
		return d, fmt.Errorf("dtype %v, want %v", got.DType(), want.DType())
	}
	if !tensor.SameShape(want.Shape(), got.Shape()) {
		return d, fmt.Errorf("shape %v, want %v", got.Shape(), want.Shape())
	}
	wf, okW := asFloat64(want)
	gf, okG := asFloat64(got)
	if okW && okG {
		excess := 0.0
		for i := range wf {
			a, b := wf[i], gf[i]
			if math.IsNaN(a) || math.IsNaN(b) {
				if math.IsNaN(a) != math.IsNaN(b) {
					d.Bad++
					if d.Bad == 1 {
						d.Worst = i
					}
				}
				continue
			}
			if math.IsInf(a, 0) || math.IsInf(b, 0) {
				if a != b {
					d.Bad++
					d.Worst = i
					excess = math.Inf(1)
				}
				continue
			}
			diff := math.Abs(a - b)
			d.MaxAbs = max(d.MaxAbs, diff)
			if a != 0 {
				d.MaxRel = max(d.MaxRel, diff/math.Abs(a))
			} else if diff > 0 {
				d.MaxRel = math.Inf(1)
			}
			if e := diff - (tol.Atol + tol.Rtol*math.Abs(a)); e > 0 {
				d.Bad++
				if e > excess {
					excess = e
					d.Worst = i
				}
			}
		}
		if d.Bad > 0 {
			return d, fmt.Errorf("%d of %d values differ beyond rtol=%g atol=%g (max_abs=%.3g max_rel=%.3g; at %d: got %v want %v)",
				d.Bad, len(wf), tol.Rtol, tol.Atol, d.MaxAbs, d.MaxRel, d.Worst, gf[d.Worst], wf[d.Worst])
		}
		return d, nil
	}
	if wc, ok := asComplex(want); ok {
		gc, _ := asComplex(got)
		for i := range wc {
			diff := cmplx.Abs(wc[i] - gc[i])
			if diff > tol.Atol+tol.Rtol*cmplx.Abs(wc[i]) {
				return d, fmt.Errorf("value %d: got %v want %v", i, gc[i], wc[i])
			}
		}
		return d, nil
	}
	if !tensor.Equal(want, got) {
		return d, fmt.Errorf("values differ: got %v, want %v", got, want)
	}
	return d, nil
}

// asFloat64 widens any real numeric tensor to float64 (integers included, so
// that int64 results compare exactly: their difference is then 0 or >= 1).
func asFloat64(t *tensor.Tensor) ([]float64, bool) {
	switch t.DType() {
	case tensor.Float32:
		return widen(tensor.Data[float32](t)), true
	case tensor.Float64:
		return tensor.Data[float64](t), true
	case tensor.Float16:
		src := tensor.Data[tensor.Float16Bits](t)
		out := make([]float64, len(src))
		for i, v := range src {
			out[i] = float64(v.Float32())
		}
		return out, true
	case tensor.BFloat16:
		src := tensor.Data[tensor.BFloat16Bits](t)
		out := make([]float64, len(src))
		for i, v := range src {
			out[i] = float64(v.Float32())
		}
		return out, true
	}
	return nil, false
}

func widen(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

func asComplex(t *tensor.Tensor) ([]complex128, bool) {
	switch t.DType() {
	case tensor.Complex64:
		src := tensor.Data[complex64](t)
		out := make([]complex128, len(src))
		for i, v := range src {
			out[i] = complex128(v)
		}
		return out, true
	case tensor.Complex128:
		return tensor.Data[complex128](t), true
	}
	return nil, false
}
