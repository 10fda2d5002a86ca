package contrib

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// qlinearOps are ONNX Runtime's QOperator-format quantized ops (static
// quantization): each dequantizes its 8-bit inputs, (q - zero_point) *
// scale, computes in float and requantizes the result with the output's
// scale and zero point (round half to even, saturating).
func qlinearOps() []*ops.Op {
	binary := func(typ string, f func(a, b float64) float64) []*ops.Op {
		return ops.Versions(ms, typ, "C = quantize(dequantize(A) "+map[string]string{"QLinearAdd": "+", "QLinearMul": "*"}[typ]+" dequantize(B)), numpy broadcasting", []int{1},
			inferQOut(0, 7), func(*ops.Node) (*ops.Kernel, error) {
				return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) { return runQBinary(c, in, f) }}, nil
			})
	}
	return ops.Join(
		binary("QLinearAdd", func(a, b float64) float64 { return a + b }),
		binary("QLinearMul", func(a, b float64) float64 { return a * b }),
		ops.Versions(ms, "QLinearSigmoid", "Y = quantize(sigmoid(dequantize(X)))", []int{1},
			inferQOut(0, 4), compileQUnary(func(*ops.Node) (func(float64) float64, error) {
				return func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, nil
			})),
		ops.Versions(ms, "QLinearLeakyRelu", "Y = quantize(leaky_relu(dequantize(X), alpha))", []int{1},
			inferQOut(0, 4), compileQUnary(func(n *ops.Node) (func(float64) float64, error) {
				alpha := float64(n.Float("alpha", 0.01))
				return func(x float64) float64 {
					if x < 0 {
						return alpha * x
					}
					return x
				}, n.Err()
			})),
		ops.Versions(ms, "QLinearSoftmax", "Y = quantize(softmax(dequantize(X), axis))", []int{1},
			inferQOut(0, 4), compileQSoftmax),
		ops.Versions(ms, "QLinearGlobalAveragePool", "Y = quantize(mean of dequantize(X) over the spatial axes)", []int{1},
			nil, compileQGlobalAvgPool),
		ops.Versions(ms, "QLinearConcat", "Y = quantize(concat(dequantize(X_i)) along axis)", []int{1},
			nil, compileQConcat),
		ops.Versions(ms, "QGemm", "Y = quantize(alpha * A' B' + C) of dequantized A, B and int32 C (scale sA*sB); float Y without y_scale", []int{1},
			nil, compileQGemm),
	)
}

// inferQOut gives the output the dtype of the zero point at input zp (or
// uint8) and, for elementwise ops, the shape of input x.
func inferQOut(x, zp int) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if err := need(in, x+1); err != nil {
			return nil, err
		}
		t := in[x]
		t.DType = tensor.Uint8
		if zp < len(in) && zp < len(n.Inputs) && n.Inputs[zp] != "" && in[zp].DType != tensor.Undefined {
			t.DType = in[zp].DType
		}
		if zp == 7 { // binary ops broadcast
			t.HasShape = false
			t.Shape = nil
		}
		return []tensor.Type{t}, nil
	}
}

// qvalues dequantizes an 8-bit tensor with a per-tensor scale and zero
// point into float64.
func qvalues(name string, q, scale, zero *tensor.Tensor) ([]float64, error) {
	if q == nil || scale == nil {
		return nil, fmt.Errorf("%s and its scale are required", name)
	}
	if scale.Len() != 1 || (zero != nil && zero.Len() != 1) {
		return nil, fmt.Errorf("%s scale %v and zero point must be scalars", name, scale.Shape())
	}
	d, err := dequant(name, q, scale, zero)
	if err != nil {
		return nil, err
	}
	v := tensor.Data[float32](d)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, nil
}

// requant returns round(v / scale) + zero saturated to the zero point's
// dtype (uint8 when zero is nil), shaped shape.
func requant(c *ops.Ctx, v []float64, shape []int, scale, zero *tensor.Tensor) (*tensor.Tensor, error) {
	if scale == nil || scale.Len() != 1 || (zero != nil && zero.Len() != 1) {
		return nil, fmt.Errorf("the output scale and zero point must be scalars")
	}
	s, err := perColumn("output scale", scale, 1)
	if err != nil {
		return nil, err
	}
	dt := tensor.Uint8
	var z float64
	if zero != nil {
		dt = zero.DType()
		zv, err := perColumn("output zero point", zero, 1)
		if err != nil {
			return nil, err
		}
		z = float64(zv[0])
	}
	lo, hi := 0.0, 255.0
	if dt == tensor.Int8 {
		lo, hi = -128, 127
	}
	y, err := c.New(dt, shape...)
	if err != nil {
		return nil, err
	}
	sc := float64(s[0])
	q := func(x float64) float64 { return min(max(math.RoundToEven(x/sc)+z, lo), hi) }
	switch d := y.Raw().(type) {
	case []uint8:
		for i, x := range v {
			d[i] = uint8(q(x))
		}
	case []int8:
		for i, x := range v {
			d[i] = int8(q(x))
		}
	}
	return y, nil
}

// runQBinary: A, A_scale, A_zero_point, B, B_scale, B_zero_point,
// C_scale, C_zero_point.
func runQBinary(c *ops.Ctx, in []*tensor.Tensor, f func(a, b float64) float64) ([]*tensor.Tensor, error) {
	if len(in) < 7 || len(in) > 8 || in[0] == nil || in[3] == nil {
		return nil, fmt.Errorf("want A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale and C_zero_point")
	}
	a, err := qvalues("A", in[0], in[1], opt(in, 2))
	if err != nil {
		return nil, err
	}
	b, err := qvalues("B", in[3], in[4], opt(in, 5))
	if err != nil {
		return nil, err
	}
	as, bs := in[0].Shape(), in[3].Shape()
	shape, err := tensor.BroadcastShapes(as, bs)
	if err != nil {
		return nil, err
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	if err := checkSize(c, n, 1); err != nil {
		return nil, err
	}
	v := make([]float64, n)
	tensor.BroadcastIndex(shape, [][]int{as, bs}, func(i int, idx []int) { v[i] = f(a[idx[0]], b[idx[1]]) })
	y, err := requant(c, v, shape, in[6], opt(in, 7))
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{y}, nil
}

// compileQUnary: X, X_scale, X_zero_point, Y_scale, Y_zero_point.
func compileQUnary(fn func(*ops.Node) (func(float64) float64, error)) func(*ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		f, err := fn(n)
		if err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if len(in) < 4 || in[0] == nil {
				return nil, fmt.Errorf("want X, X_scale, X_zero_point, Y_scale and Y_zero_point")
			}
			x, err := qvalues("X", in[0], in[1], in[2])
			if err != nil {
				return nil, err
			}
			for i, v := range x {
				x[i] = f(v)
			}
			y, err := requant(c, x, in[0].Shape(), in[3], opt(in, 4))
			return []*tensor.Tensor{y}, err
		}}, nil
	}
}

func compileQSoftmax(n *ops.Node) (*ops.Kernel, error) {
	axis := n.Int("axis", -1)
	opset := n.Int("opset", 13)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 4 || in[0] == nil {
			return nil, fmt.Errorf("want X, X_scale, X_zero_point, Y_scale and Y_zero_point")
		}
		sh := in[0].Shape()
		a, err := ops.NormAxis(axis, len(sh))
		if err != nil {
			return nil, err
		}
		x, err := qvalues("X", in[0], in[1], in[2])
		if err != nil {
			return nil, err
		}
		// Before opset 13 the softmax runs over the flattened [axis, rank);
		// from 13 over axis alone.
		inner, n := 1, 1
		for _, d := range sh[a+1:] {
			inner *= d
		}
		n = sh[a]
		if opset < 13 {
			n, inner = n*inner, 1
		}
		row := make([]float64, n)
		for o := 0; o*n*inner < len(x) && n > 0; o++ {
			for j := 0; j < inner; j++ {
				mx := math.Inf(-1)
				for k := range row {
					row[k] = x[(o*n+k)*inner+j]
					mx = max(mx, row[k])
				}
				softmax(row, mx)
				for k, v := range row {
					x[(o*n+k)*inner+j] = v
				}
			}
		}
		y, err := requant(c, x, sh, in[3], opt(in, 4))
		return []*tensor.Tensor{y}, err
	}}, nil
}

func compileQGlobalAvgPool(n *ops.Node) (*ops.Kernel, error) {
	last := n.Int("channels_last", 0) != 0
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 4 || in[0] == nil {
			return nil, fmt.Errorf("want X, x_scale, x_zero_point, y_scale and y_zero_point")
		}
		sh := in[0].Shape()
		if len(sh) < 3 {
			return nil, fmt.Errorf("X has shape %v, want (N, C, spatial...)", sh)
		}
		x, err := qvalues("X", in[0], in[1], in[2])
		if err != nil {
			return nil, err
		}
		nb, ch := sh[0], sh[1]
		if last {
			ch = sh[len(sh)-1]
		}
		spatial := 0
		if nb*ch > 0 {
			spatial = len(x) / (nb * ch)
		}
		out := make([]float64, nb*ch)
		for b := 0; b < nb; b++ {
			for k := 0; k < ch; k++ {
				var s float64
				for p := 0; p < spatial; p++ {
					i := (b*ch+k)*spatial + p
					if last {
						i = (b*spatial+p)*ch + k
					}
					s += x[i]
				}
				out[b*ch+k] = s / float64(max(spatial, 1))
			}
		}
		ysh := make([]int, len(sh))
		for i := range ysh {
			ysh[i] = 1
		}
		ysh[0] = nb
		if last {
			ysh[len(sh)-1] = ch
		} else {
			ysh[1] = ch
		}
		y, err := requant(c, out, ysh, in[3], opt(in, 4))
		return []*tensor.Tensor{y}, err
	}}, nil
}

func compileQConcat(n *ops.Node) (*ops.Kernel, error) {
	axis := n.Int("axis", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		// Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input.
		if len(in) < 5 || (len(in)-2)%3 != 0 {
			return nil, fmt.Errorf("%d inputs, want Y_scale, Y_zero_point and triples (X, X_scale, X_zero_point)", len(in))
		}
		var parts [][]float64
		var shapes [][]int
		for i := 2; i < len(in); i += 3 {
			v, err := qvalues(fmt.Sprintf("input %d", i), in[i], in[i+1], in[i+2])
			if err != nil {
				return nil, err
			}
			parts, shapes = append(parts, v), append(shapes, in[i].Shape())
		}
		r := len(shapes[0])
		a, err := ops.NormAxis(axis, r)
		if err != nil {
			return nil, err
		}
		shape := append([]int{}, shapes[0]...)
		shape[a] = 0
		for _, s := range shapes {
			if len(s) != r {
				return nil, fmt.Errorf("inputs have ranks %d and %d", r, len(s))
			}
			for d := range s {
				if d != a && s[d] != shapes[0][d] {
					return nil, fmt.Errorf("input shapes %v and %v differ off axis %d", shapes[0], s, a)
				}
			}
			shape[a] += s[a]
		}
		outer := 1
		for _, d := range shape[:a] {
			outer *= d
		}
		var out []float64
		for o := 0; o < outer; o++ {
			for _, v := range parts {
				chunk := len(v) / max(outer, 1)
				out = append(out, v[o*chunk:(o+1)*chunk]...)
			}
		}
		y, err := requant(c, out, shape, in[0], in[1])
		return []*tensor.Tensor{y}, err
	}}, nil
}

func compileQGemm(n *ops.Node) (*ops.Kernel, error) {
	alpha := float64(n.Float("alpha", 1))
	transA, transB := n.Int("transA", 0) != 0, n.Int("transB", 0) != 0
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		// A, a_scale, a_zero_point, B, b_scale, b_zero_point, C, y_scale,
		// y_zero_point.
		if len(in) < 6 || in[0] == nil || in[3] == nil {
			return nil, fmt.Errorf("want A, a_scale, a_zero_point, B, b_scale and b_zero_point")
		}
		as, bs := in[0].Shape(), in[3].Shape()
		if len(as) != 2 || len(bs) != 2 {
			return nil, fmt.Errorf("A %v and B %v must be matrices", as, bs)
		}
		m, k := as[0], as[1]
		if transA {
			m, k = k, m
		}
		k2, nn := bs[0], bs[1]
		if transB {
			k2, nn = nn, k2
		}
		if k != k2 {
			return nil, fmt.Errorf("op(A) is (%d, %d), op(B) is (%d, %d)", m, k, k2, nn)
		}
		a, err := qvalues("A", in[0], in[1], in[2])
		if err != nil {
			return nil, err
		}
		// B's scale and zero point may be per column (per output column N).
		cols := bs[1]
		if in[4] == nil {
			return nil, fmt.Errorf("b_scale is required")
		}
		bsc, err := perColumn("b_scale", in[4], nn)
		if err != nil {
			return nil, err
		}
		bz, err := perColumn("b_zero_point", opt(in, 5), nn)
		if err != nil {
			return nil, err
		}
		braw, err := ints8("B", in[3], cols, nil)
		if err != nil {
			return nil, err
		}
		saV, err := perColumn("a_scale", in[1], 1)
		if err != nil {
			return nil, err
		}
		sa := float64(saV[0])
		y := make([]float64, m*nn)
		for i := 0; i < m; i++ {
			for j := 0; j < nn; j++ {
				zb, sb := 0.0, float64(bsc[j%len(bsc)])
				if bz != nil {
					zb = float64(bz[j%len(bz)])
				}
				var s float64
				for p := 0; p < k; p++ {
					ai := i*k + p
					if transA {
						ai = p*m + i
					}
					bi := p*nn + j
					if transB {
						bi = j*k + p
					}
					s += a[ai] * (float64(braw[bi]) - zb) * sb
				}
				y[i*nn+j] = alpha * s
			}
		}
		if ct := opt(in, 6); ct != nil {
			cv, err := ops.Ints64(ct)
			if err != nil || (len(cv) != nn && len(cv) != m*nn && len(cv) != 1) {
				return nil, fmt.Errorf("C has shape %v, want int32 (%d), (%d, %d) or a scalar", ct.Shape(), nn, m, nn)
			}
			for i := range y {
				j := i % nn
				sb := float64(bsc[j%len(bsc)])
				idx := j
				if len(cv) == m*nn {
					idx = i
				} else if len(cv) == 1 {
					idx = 0
				}
				// C is quantized with scale alpha * a_scale * b_scale.
				y[i] += alpha * float64(cv[idx]) * sa * sb
			}
		}
		if st := opt(in, 7); st != nil {
			out, err := requant(c, y, []int{m, nn}, st, opt(in, 8))
			return []*tensor.Tensor{out}, err
		}
		out, err := c.New(tensor.Float32, m, nn)
		if err != nil {
			return nil, err
		}
		for i, v := range y {
			tensor.Data[float32](out)[i] = float32(v)
		}
		return []*tensor.Tensor{out}, nil
	}}, nil
}
