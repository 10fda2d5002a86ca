package autodiff

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ir"
)

// nnRules: softmax, normalizations, activations, the reductions that
// select (max, min) or are nonlinear, convolution and pooling.
func nnRules() []namedRule {
	return append(mathRules(), []namedRule{
		// y = softmax(x) along axis: dx = y ⊙ (dy − Σ_axis dy ⊙ y).
		rule("Softmax", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			y := n.Outputs[0]
			s := b.sumAxes(b.Op("Mul", nil, dy[0], y), true, attrI(n, "axis", -1))
			return []string{b.Op("Mul", nil, y, b.Op("Sub", nil, dy[0], s))}, nil
		}),
		// y = log softmax(x) along axis: dx = dy − exp(y) ⊙ Σ_axis dy.
		rule("LogSoftmax", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			s := b.sumAxes(dy[0], true, attrI(n, "axis", -1))
			return []string{b.Op("Sub", nil, dy[0], b.Op("Mul", nil, b.Op("Exp", nil, n.Outputs[0]), s))}, nil
		}),
		// Y = (X − mean)/√(var + ε) ⊙ scale + B over axes [axis, rank).
		rule("LayerNormalization", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return b.layerNormBack(n, dy, attrI(n, "axis", -1), false)
		}),
		// Y = X/√(mean(X²) + ε) ⊙ scale over axes [axis, rank).
		rule("RMSNormalization", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return b.layerNormBack(n, dy, attrI(n, "axis", -1), true)
		}),
		// ONNX Runtime's SimplifiedLayerNormalization (default domain) is RMSNormalization.
		rule("SimplifiedLayerNormalization", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return b.layerNormBack(n, dy, attrI(n, "axis", -1), true)
		}),
		rule("BatchNormalization", batchNormBack),
		// Gelu (opset 20): dx = dy·gelu'(x), exact (erf) or tanh approximation.
		rule("Gelu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			d, err := b.geluGrad(n.Inputs[0], n.Inputs[0], attrS(n, "approximate", "none"))
			if err != nil {
				return nil, err
			}
			return []string{b.Op("Mul", nil, dy[0], d)}, nil
		}),
		// y = max(0, min(1, αx + β)): dx = α·dy where 0 < αx + β < 1.
		rule("HardSigmoid", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			alpha := float64(attrF(n, "alpha", 0.2))
			v := b.Op("Add", nil, b.Op("Mul", nil, x, b.Scalar(alpha, x)), b.Scalar(float64(attrF(n, "beta", 0.5)), x))
			in := b.Op("And", nil, b.Op("Greater", nil, v, b.Scalar(0, x)), b.Op("Less", nil, v, b.Scalar(1, x)))
			return []string{b.Op("Mul", nil, dy[0], b.Where(in, b.Scalar(alpha, x), b.Scalar(0, x)))}, nil
		}),
		// y = x (x > 0), α(eˣ − 1) otherwise: dx = dy, or dy·(y + α).
		rule("Elu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x, y := n.Inputs[0], n.Outputs[0]
			slope := b.Op("Add", nil, y, b.Scalar(float64(attrF(n, "alpha", 1)), x))
			return []string{b.Op("Mul", nil, dy[0], b.Where(b.positive(x), b.Scalar(1, x), slope))}, nil
		}),
		// y = γx (x > 0), γα(eˣ − 1) otherwise: dx = γ·dy, or dy·(y + γα).
		rule("Selu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x, y := n.Inputs[0], n.Outputs[0]
			alpha := float64(attrF(n, "alpha", 1.67326319217681884765625))
			gamma := float64(attrF(n, "gamma", 1.05070102214813232421875))
			slope := b.Op("Add", nil, y, b.Scalar(gamma*alpha, x))
			return []string{b.Op("Mul", nil, dy[0], b.Where(b.positive(x), b.Scalar(gamma, x), slope))}, nil
		}),
		// y = x (x > 0), slope·x otherwise: dx = dy·(1 or slope),
		// dslope = dy·x where x ≤ 0, summed over slope's broadcast axes.
		rule("PRelu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x, slope, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
			pos := b.positive(x)
			out := []string{"", ""}
			if b.Needs(x) {
				out[0] = b.Op("Mul", nil, dy[0], b.Where(pos, b.Scalar(1, x), slope))
			}
			if b.Needs(slope) {
				out[1] = b.ReduceTo(b.Op("Mul", nil, dy[0], b.Where(pos, b.Scalar(0, x), x)), y, slope)
			}
			return out, nil
		}),
		// y = clip(x, min, max): dx = dy where min < x < max (the bounds get
		// no gradient; a value exactly at a bound gets none either).
		rule("Clip", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			for i := 1; i < len(n.Inputs); i++ {
				if b.Needs(n.Inputs[i]) {
					return nil, fmt.Errorf("Clip gradient with respect to its bounds is not supported (input %d depends on a trainable value)", i)
				}
			}
			var in string
			for i, cmp := range []string{"", "Greater", "Less"} {
				if bound := input(n, i); i > 0 && bound != "" {
					c := b.Op(cmp, nil, x, bound)
					if in != "" {
						c = b.Op("And", nil, in, c)
					}
					in = c
				}
			}
			out := make([]string, len(n.Inputs))
			out[0] = dy[0]
			if in != "" {
				out[0] = b.Where(in, dy[0], b.Op("Mul", nil, dy[0], b.Scalar(0, x)))
			}
			return out, nil
		}),
		// y = max (min) over axes: the gradient goes to the positions equal
		// to the result, split equally among ties (as TensorFlow and
		// PyTorch's amax do): dx = dy·[x = y]/#{x = y}.
		rule("ReduceMax", selectReduceBack),
		rule("ReduceMin", selectReduceBack),
		// y = √Σx²: dx = dy·x/y (infinite where y = 0).
		reduceRule("ReduceL2", func(b *Builder, x, y, dy string) string {
			return b.Op("Div", nil, b.Op("Mul", nil, dy, x), y)
		}),
		// y = Σ|x|: dx = dy·sign(x).
		reduceRule("ReduceL1", func(b *Builder, x, y, dy string) string {
			return b.Op("Mul", nil, dy, b.Op("Sign", nil, x))
		}),
		// y = Σx²: dx = 2·dy·x.
		reduceRule("ReduceSumSquare", func(b *Builder, x, y, dy string) string {
			return b.Op("Mul", nil, b.Op("Mul", nil, dy, x), b.Scalar(2, x))
		}),
		// y = ln Σx: dx = dy·e^(−y).
		reduceRule("ReduceLogSum", func(b *Builder, x, y, dy string) string {
			return b.Op("Mul", nil, dy, b.Op("Exp", nil, b.Op("Neg", nil, y)))
		}),
		// y = ln Σeˣ: dx = dy·e^(x−y).
		reduceRule("ReduceLogSumExp", func(b *Builder, x, y, dy string) string {
			return b.Op("Mul", nil, dy, b.Op("Exp", nil, b.Op("Sub", nil, x, y)))
		}),
		rule("Attention", attentionRule),
		rule("RotaryEmbedding", rotaryRule),
		// y = Πx: dx = dy·y/x (undefined where x = 0).
		reduceRule("ReduceProd", func(b *Builder, x, y, dy string) string {
			return b.Op("Div", nil, b.Op("Mul", nil, dy, y), x)
		}),
		// y = x/‖x‖ₚ along axis (p = 1 or 2): with n = ‖x‖ₚ and s = Σ dy⊙y,
		// dx = (dy − y·s)/n for p = 2 and (dy − sign(x)·s)/n for p = 1.
		rule("LpNormalization", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x, y := n.Inputs[0], n.Outputs[0]
			axis := attrI(n, "axis", -1)
			s := b.sumAxes(b.Op("Mul", nil, dy[0], y), true, axis)
			var dir, norm string
			switch p := attrI(n, "p", 2); p {
			case 2:
				dir = y
				norm = b.Op("Sqrt", nil, b.sumAxes(b.Op("Mul", nil, x, x), true, axis))
			case 1:
				dir = b.Op("Sign", nil, x)
				norm = b.sumAxes(b.Op("Abs", nil, x), true, axis)
			default:
				return nil, fmt.Errorf("LpNormalization p=%d, want 1 or 2", p)
			}
			return []string{b.Op("Div", nil, b.Op("Sub", nil, dy[0], b.Op("Mul", nil, dir, s)), norm)}, nil
		}),
		rule("Conv", convBack),
		rule("ConvTranspose", convTransposeBack),
		rule("MaxPool", maxPoolBack),
		rule("AveragePool", avgPoolBack),
		// y = mean over the spatial axes: dx = dy broadcast / (H·W·…).
		rule("GlobalAveragePool", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			return []string{b.Op("Div", nil, b.Op("Expand", nil, dy[0], b.Op("Shape", nil, x)), b.countRatio(x, dy[0]))}, nil
		}),
		// y = max over the spatial axes: as ReduceMax (ties split equally).
		rule("GlobalMaxPool", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			r, ok := b.staticRank(x)
			if !ok {
				return nil, fmt.Errorf("GlobalMaxPool gradient needs the rank of %q", x)
			}
			var axes []int64
			for i := 2; i < r; i++ {
				axes = append(axes, int64(i))
			}
			return []string{b.selectBack(x, n.Outputs[0], dy[0], b.Ints(axes...), nil)}, nil
		}),
		rule("InstanceNormalization", instanceNormBack),
		// Y = (X − mean)/(√var + 1e-9) over axes (default 0, 2, 3),
		// differentiated through that decomposition.
		rule("MeanVarianceNormalization", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			axes, ok := attrIs(n, "axes")
			if !ok {
				axes = []int64{0, 2, 3}
			}
			return b.backThrough(n, dy, func() ([]string, error) {
				s := b.sumAxes(x, true, axes...)
				cnt := b.countRatio(x, s)
				xc := b.Op("Sub", nil, x, b.Op("Div", nil, s, cnt))
				sd := b.Op("Sqrt", nil, b.Op("Div", nil, b.sumAxes(b.Op("Mul", nil, xc, xc), true, axes...), cnt))
				return []string{b.Op("Div", nil, xc, b.Op("Add", nil, sd, b.Scalar(1e-9, x)))}, nil
			})
		}),
		rule("GroupNormalization", groupNormBack),
	}...)
}

// positive returns x > 0.
func (b *Builder) positive(x string) string { return b.Op("Greater", nil, x, b.Scalar(0, x)) }

// sumAxes returns ReduceSum(x) over the given axes.
func (b *Builder) sumAxes(x string, keep bool, axes ...int64) string {
	return b.Op("ReduceSum", []Attr{attrInt("keepdims", boolI(keep))}, x, b.Ints(axes...))
}

// countRatio returns size(x)/size(y) in x's dtype: how many elements of x
// each element of a reduction result y stands for.
func (b *Builder) countRatio(x, y string) string {
	return b.castLike(b.Op("Div", nil, b.Op("Size", nil, x), b.Op("Size", nil, y)), x)
}

// geluGrad returns gelu'(x): Φ(x) + x·φ(x) for the exact Gelu, and for
// the tanh approximation with t = tanh(√(2/π)(x + 0.044715x³)):
// ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²).
// like is a value of x's dtype whose type is known (x may be a backward value).
func (b *Builder) geluGrad(x, like, approx string) (string, error) {
	switch approx {
	case "none":
		cdf := b.Op("Mul", nil, b.Op("Add", nil, b.Op("Erf", nil, b.Op("Mul", nil, x, b.Scalar(1/math.Sqrt2, like))), b.Scalar(1, like)), b.Scalar(0.5, like))
		pdf := b.Op("Mul", nil, b.Op("Exp", nil, b.Op("Mul", nil, b.Op("Mul", nil, x, x), b.Scalar(-0.5, like))), b.Scalar(1/math.Sqrt(2*math.Pi), like))
		return b.Op("Add", nil, cdf, b.Op("Mul", nil, x, pdf)), nil
	case "tanh":
		c := math.Sqrt(2 / math.Pi)
		x2 := b.Op("Mul", nil, x, x)
		u := b.Op("Mul", nil, b.Op("Add", nil, x, b.Op("Mul", nil, b.Op("Mul", nil, x2, x), b.Scalar(0.044715, like))), b.Scalar(c, like))
		t := b.Op("Tanh", nil, u)
		du := b.Op("Mul", nil, b.Op("Add", nil, b.Op("Mul", nil, x2, b.Scalar(3*0.044715, like)), b.Scalar(1, like)), b.Scalar(c, like))
		dt := b.Op("Mul", nil, b.Op("Sub", nil, b.Scalar(1, like), b.Op("Mul", nil, t, t)), du)
		half := b.Scalar(0.5, like)
		return b.Op("Add", nil, b.Op("Mul", nil, b.Op("Add", nil, t, b.Scalar(1, like)), half), b.Op("Mul", nil, b.Op("Mul", nil, x, dt), half)), nil
	}
	return "", fmt.Errorf("Gelu approximate=%q is not \"none\" or \"tanh\"", approx)
}

// normBack returns dx of xhat = (x − mean)·inv (rms: x·inv, no mean) with
// inv = 1/√(var + ε) over axes, given g = dL/dxhat, recomputing the
// statistics in x's dtype from x:
//
//	dx = inv·(g − mean(g) − xhat·mean(g ⊙ xhat))   (rms: without mean(g))
//
// It also returns xhat for the scale gradient. like is a value of x's
// dtype whose type is known (x may be a backward value).
func (b *Builder) normBack(x, like, g string, axes []int64, eps float64, rms bool) (dx, xhat string) {
	ax := b.Ints(axes...)
	keep := []Attr{attrInt("keepdims", 1)}
	sum := func(v string) string { return b.Op("ReduceSum", keep, v, ax) }
	s := sum(x)
	cnt := b.castLike(b.Op("Div", nil, b.Op("Size", nil, x), b.Op("Size", nil, s)), like)
	mean := func(v string) string { return b.Op("Div", nil, sum(v), cnt) }
	xc := x
	if !rms {
		xc = b.Op("Sub", nil, x, b.Op("Div", nil, s, cnt))
	}
	inv := b.Op("Reciprocal", nil, b.Op("Sqrt", nil, b.Op("Add", nil, mean(b.Op("Mul", nil, xc, xc)), b.Scalar(eps, like))))
	xhat = b.Op("Mul", nil, xc, inv)
	d := b.Op("Sub", nil, g, b.Op("Mul", nil, xhat, mean(b.Op("Mul", nil, g, xhat))))
	if !rms {
		d = b.Op("Sub", nil, d, mean(g))
	}
	return b.Op("Mul", nil, inv, d), xhat
}

// layerNormBack is the rule of LayerNormalization and the RMS variants:
// inputs (X, scale, B?) normalized over [axis, rank).
func (b *Builder) layerNormBack(n *ir.Node, dy []string, axis int64, rms bool) ([]string, error) {
	x, scale, y := n.Inputs[0], input(n, 1), n.Outputs[0]
	for i := 1; i < len(dy); i++ {
		if dy[i] != "" {
			return nil, fmt.Errorf("%s gradient through its saved statistics (output %d) is not supported", n.OpType, i)
		}
	}
	r, ok := b.staticRank(x)
	if !ok {
		return nil, fmt.Errorf("%s gradient needs the rank of %q", n.OpType, x)
	}
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || int(axis) >= r {
		return nil, fmt.Errorf("%s axis %d out of range for rank %d", n.OpType, attrI(n, "axis", -1), r)
	}
	var axes []int64
	for i := axis; i < int64(r); i++ {
		axes = append(axes, i)
	}
	g := dy[0]
	if scale != "" {
		g = b.Op("Mul", nil, g, scale)
	}
	dx, xhat := b.normBack(x, x, g, axes, float64(attrF(n, "epsilon", 1e-5)), rms)
	out := make([]string, len(n.Inputs))
	out[0] = dx
	if b.Needs(scale) {
		out[1] = b.ReduceTo(b.Op("Mul", nil, dy[0], xhat), y, scale)
	}
	if bias := input(n, 2); b.Needs(bias) {
		out[2] = b.ReduceTo(dy[0], y, bias)
	}
	return out, nil
}

// batchNormBack: Y = scale·x̂ + B per channel (axis 1). In training mode
// (training_mode=1, opset ≥ 14) x̂ uses the batch statistics over every
// axis but 1, differentiated like a LayerNorm over those axes; in inference
// mode x̂ = (X − mean)/√(var + ε) with the given statistics, so dX =
// dY·scale/√(var + ε). mean and var get no gradient.
func batchNormBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x, scale, bias, y := n.Inputs[0], n.Inputs[1], n.Inputs[2], n.Outputs[0]
	if b.Needs(n.Inputs[3]) || b.Needs(n.Inputs[4]) {
		return nil, fmt.Errorf("BatchNormalization gradient with respect to its mean and variance inputs is not supported")
	}
	r, ok := b.staticRank(x)
	if !ok {
		return nil, fmt.Errorf("BatchNormalization gradient needs the rank of %q", x)
	}
	axes := append([]int64{0}, spatialAxes(r)...)
	chan_ := func(v string) string { return b.perChannel(v, r) }
	eps := float64(attrF(n, "epsilon", 1e-5))
	g := b.Op("Mul", nil, dy[0], chan_(scale))
	var dx, xhat string
	if attrI(n, "training_mode", 0) != 0 {
		dx, xhat = b.normBack(x, x, g, axes, eps, false)
	} else {
		inv := b.Op("Reciprocal", nil, b.Op("Sqrt", nil, b.Op("Add", nil, chan_(n.Inputs[4]), b.Scalar(eps, x))))
		dx = b.Op("Mul", nil, g, inv)
		xhat = b.Op("Mul", nil, b.Op("Sub", nil, x, chan_(n.Inputs[3])), inv)
	}
	out := make([]string, len(n.Inputs))
	out[0] = dx
	if b.Needs(scale) {
		out[1] = b.sumAxes(b.Op("Mul", nil, dy[0], xhat), false, axes...)
	}
	if b.Needs(bias) {
		out[2] = b.sumAxes(dy[0], false, axes...)
	}
	_ = y
	return out, nil
}

// reduceAxes returns the axes of a Reduce* node as a value name ("" when
// every axis is reduced): the axes attribute before opset 18, else the
// axes input.
func (b *Builder) reduceAxes(n *ir.Node) string {
	if a, ok := attrIs(n, "axes"); ok {
		return b.Ints(a...)
	}
	return input(n, 1)
}

// keepDims returns v (a Reduce* result or its gradient) with the reduced
// axes put back as size 1 when the node dropped them (keepdims=0), so it
// broadcasts against the input.
func (b *Builder) keepDims(n *ir.Node, v string) string {
	if attrI(n, "keepdims", 1) != 0 {
		return v
	}
	axes := b.reduceAxes(n)
	if axes == "" {
		return v // a scalar broadcasts as it is
	}
	return b.Op("Unsqueeze", nil, v, axes)
}

// reduceRule declares the gradient of a Reduce* op from dx = f(x, y, dy)
// with y and dy broadcastable to x.
func reduceRule(op string, f func(b *Builder, x, y, dy string) string) namedRule {
	return rule(op, func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
		x := n.Inputs[0]
		g := f(b, x, b.keepDims(n, n.Outputs[0]), b.keepDims(n, dy[0]))
		out := make([]string, len(n.Inputs))
		out[0] = b.Op("Expand", nil, g, b.Op("Shape", nil, x))
		return out, nil
	})
}

func selectReduceBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x := n.Inputs[0]
	var attrs []Attr
	if v := attrI(n, "noop_with_empty_axes", 0); v != 0 {
		attrs = append(attrs, attrInt("noop_with_empty_axes", v))
	}
	out := make([]string, len(n.Inputs))
	out[0] = b.selectBack(x, b.keepDims(n, n.Outputs[0]), b.keepDims(n, dy[0]), b.reduceAxes(n), attrs)
	return out, nil
}

// selectBack returns dy·[x = y]/#{x = y} (the count over axes), for y and
// dy keeping the reduced axes.
func (b *Builder) selectBack(x, y, dy, axes string, attrs []Attr) string {
	mask := b.castLike(b.Op("Equal", nil, x, y), x)
	in := []string{mask}
	if axes != "" {
		in = append(in, axes)
	}
	cnt := b.Op("ReduceSum", append([]Attr{attrInt("keepdims", 1)}, attrs...), in...)
	return b.Op("Mul", nil, mask, b.Op("Div", nil, dy, cnt))
}

// spatialAxes returns 2, ..., r-1.
func spatialAxes(r int) []int64 {
	var axes []int64
	for i := 2; i < r; i++ {
		axes = append(axes, int64(i))
	}
	return axes
}

// perChannel returns a per-channel (C) value shaped (C, 1, ..., 1) to
// broadcast against a rank-r (N, C, ...) tensor.
func (b *Builder) perChannel(v string, r int) string {
	if r <= 2 {
		return v
	}
	tail := make([]int64, r-2)
	for i := range tail {
		tail[i] = int64(i + 1)
	}
	return b.Op("Unsqueeze", nil, v, b.Ints(tail...))
}

// instanceNormBack: y = x̂·scale + B per channel, x̂ normalized over the
// spatial axes of each (n, c).
func instanceNormBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x, scale, bias := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	r, ok := b.staticRank(x)
	if !ok || r < 3 {
		return nil, fmt.Errorf("InstanceNormalization gradient needs the rank (>= 3) of %q", x)
	}
	sp := spatialAxes(r)
	dx, xhat := b.normBack(x, x, b.Op("Mul", nil, dy[0], b.perChannel(scale, r)), sp, float64(attrF(n, "epsilon", 1e-5)), false)
	out := []string{dx, "", ""}
	all := append([]int64{0}, sp...)
	if b.Needs(scale) {
		out[1] = b.sumAxes(b.Op("Mul", nil, dy[0], xhat), false, all...)
	}
	if b.Needs(bias) {
		out[2] = b.sumAxes(dy[0], false, all...)
	}
	return out, nil
}

// groupNormBack: x (N, C, ...) viewed as (N, G, C/G·...) is normalized
// over its last axis, then y = x̂·scale + bias per channel (opset 21; per
// group before, repeated over the group's channels).
func groupNormBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x, scale, bias := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	xs, ok := b.staticShape(x)
	groups := attrI(n, "num_groups", 0)
	if !ok || len(xs) < 2 || groups <= 0 || int64(xs[1])%groups != 0 {
		return nil, fmt.Errorf("GroupNormalization gradient needs the static shape of %q and num_groups dividing its channels", x)
	}
	r, c := len(xs), int64(xs[1])
	perGroup := b.opset < 21 // scale and bias have one value per group
	// per-channel scale (C)
	sc := scale
	if perGroup {
		sc = b.Op("Reshape", nil, b.Op("Expand", nil, b.Op("Unsqueeze", nil, scale, b.Ints(1)), b.Ints(groups, c/groups)), b.Ints(c))
	}
	g := b.Op("Mul", nil, dy[0], b.perChannel(sc, r))
	view := b.Ints(0, groups, -1)
	dxv, xhatv := b.normBack(b.Op("Reshape", nil, x, view), x, b.Op("Reshape", nil, g, view), []int64{2}, float64(attrF(n, "epsilon", 1e-5)), false)
	shape := b.Op("Shape", nil, x)
	out := []string{b.Op("Reshape", nil, dxv, shape), "", ""}
	all := append([]int64{0}, spatialAxes(r)...)
	toGroup := func(v string) string { // (C) → (G) sums over each group's channels
		if !perGroup {
			return v
		}
		return b.sumAxes(b.Op("Reshape", nil, v, b.Ints(groups, c/groups)), false, 1)
	}
	if b.Needs(scale) {
		out[1] = toGroup(b.sumAxes(b.Op("Mul", nil, dy[0], b.Op("Reshape", nil, xhatv, shape)), false, all...))
	}
	if b.Needs(bias) {
		out[2] = toGroup(b.sumAxes(dy[0], false, all...))
	}
	return out, nil
}
