package quant

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// ConvInteger: y = conv(x - x_zero_point, w - w_zero_point) accumulated in
// int32 (padding reads x_zero_point, i.e. contributes 0); w_zero_point is a
// scalar or one value per output channel. Conv's attributes: auto_pad,
// dilations, group, kernel_shape, pads, strides, for any number of spatial
// dimensions.
var convIntegerOps = ops.Versions("", "ConvInteger",
	"y = Conv(x - x_zero_point, w - w_zero_point) with int8/uint8 inputs accumulated in int32",
	[]int{10}, inferConvInteger, compileConvInteger)

// QLinearConv: y = saturate(round((conv(x - x_zp, w - w_zp) + B) * x_scale *
// w_scale / y_scale) + y_zp), accumulated in int32, rounded half to even and
// saturated to y_zero_point's dtype; w_scale and w_zero_point may be per
// output channel. B is an optional int32 bias (one per output channel).
var qlinearConvOps = ops.Versions("", "QLinearConv",
	"y = saturate(round((Conv(x - x_zp, w - w_zp) + B) * x_scale * w_scale / y_scale) + y_zp), int32 accumulation",
	[]int{10}, inferQLinearConv, compileQLinearConv)

func inferConvInteger(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	return inferConv(n, in, 0, 1, tensor.Int32)
}

func inferQLinearConv(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	d := tensor.Undefined
	switch {
	case len(in) > 7 && in[7].DType != tensor.Undefined:
		d = in[7].DType
	case len(in) > 0:
		d = in[0].DType
	}
	return inferConv(n, in, 0, 3, d)
}

// inferConv gives the convolution of inputs ix (x) and iw (w) dtype d, with
// a shape when both input shapes are fully known.
func inferConv(n *ops.Node, in []tensor.Type, ix, iw int, d tensor.DType) ([]tensor.Type, error) {
	t := tensor.Type{Kind: tensor.KindTensor, DType: d}
	if iw >= len(in) {
		return []tensor.Type{t}, nil
	}
	xs, okx := knownShape(in[ix])
	ws, okw := knownShape(in[iw])
	if !okx || !okw {
		return []tensor.Type{t}, nil
	}
	a, err := readConvAttrs(n)
	if err != nil {
		return nil, err
	}
	g, err := a.geometry(xs, ws)
	if err != nil {
		return nil, err
	}
	return []tensor.Type{tensor.TensorType(d, append([]int{g.n, g.m}, g.out...)...)}, nil
}

// convAttrs are Conv's geometry attributes.
type convAttrs struct {
	autoPad                         string
	dilations, kernel, pads, stride []int64
	group                           int64
}

func readConvAttrs(n *ops.Node) (convAttrs, error) {
	a := convAttrs{
		autoPad:   n.String("auto_pad", "NOTSET"),
		dilations: n.Ints("dilations", nil),
		kernel:    n.Ints("kernel_shape", nil),
		pads:      n.Ints("pads", nil),
		stride:    n.Ints("strides", nil),
		group:     n.Int("group", 1),
	}
	if err := n.Err(); err != nil {
		return a, err
	}
	switch a.autoPad {
	case "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID":
	default:
		return a, fmt.Errorf("auto_pad %q is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", a.autoPad)
	}
	if a.group < 1 {
		return a, fmt.Errorf("group %d must be >= 1", a.group)
	}
	return a, nil
}

// convGeom is a resolved convolution: x (N, C, in...), w (M, C/group, k...),
// y (N, M, out...).
type convGeom struct {
	n, c, m, group int
	in, k, out     []int
	inSize, kSize  int
	outSize        int
	dil, str, pads []int // resolved per spatial axis (pads: begins, then ends)
	// src[kk*outSize + p] is the offset within one input channel that kernel
	// tap kk reads for output position p, or -1 where it reads padding.
	src []int
}

func (a convAttrs) geometry(xs, ws []int) (*convGeom, error) {
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, fmt.Errorf("x %v and w %v must have the same rank >= 3 (N, C, spatial...)", xs, ws)
	}
	sp := len(xs) - 2
	g := &convGeom{n: xs[0], c: xs[1], m: ws[0], group: int(a.group), in: xs[2:], k: ws[2:]}
	if g.c%g.group != 0 || g.m%g.group != 0 {
		return nil, fmt.Errorf("group %d must divide input channels %d and output channels %d", g.group, g.c, g.m)
	}
	if ws[1]*g.group != g.c {
		return nil, fmt.Errorf("w %v has %d input channels per group; x %v with group %d needs %d", ws, ws[1], xs, g.group, g.c/g.group)
	}
	if a.kernel != nil && !equalInts(a.kernel, g.k) {
		return nil, fmt.Errorf("kernel_shape %v differs from w's spatial shape %v", a.kernel, g.k)
	}
	dil, err := perAxis("dilations", a.dilations, sp, 1)
	if err != nil {
		return nil, err
	}
	str, err := perAxis("strides", a.stride, sp, 1)
	if err != nil {
		return nil, err
	}
	pads := make([]int, 2*sp)
	if a.pads != nil {
		if len(a.pads) != 2*sp {
			return nil, fmt.Errorf("pads has %d values, want %d (begin and end per spatial axis)", len(a.pads), 2*sp)
		}
		for i, p := range a.pads {
			if p < 0 || p > tensor.MaxElements {
				return nil, fmt.Errorf("pads %v has a value out of range [0, 2^40]", a.pads)
			}
			pads[i] = int(p)
		}
	}
	g.out = make([]int, sp)
	for i := 0; i < sp; i++ {
		if g.k[i] > 1 && dil[i] > tensor.MaxElements/(g.k[i]-1) {
			return nil, fmt.Errorf("dilations %v are too large for kernel %v", a.dilations, g.k)
		}
		ext := dil[i]*(g.k[i]-1) + 1
		switch a.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			o := (g.in[i] + str[i] - 1) / str[i]
			total := max(0, (o-1)*str[i]+ext-g.in[i])
			pads[i] = total / 2
			if a.autoPad == "SAME_LOWER" {
				pads[i] = total - total/2
			}
			pads[i+sp] = total - pads[i]
		case "VALID":
			pads[i], pads[i+sp] = 0, 0
		}
		span := g.in[i] + pads[i] + pads[i+sp] - ext
		if span < 0 {
			return nil, fmt.Errorf("kernel extent %d exceeds padded input %d along spatial axis %d", ext, g.in[i]+pads[i]+pads[i+sp], i)
		}
		g.out[i] = span/str[i] + 1
	}
	g.inSize, g.kSize, g.outSize = count(g.in), count(g.k), count(g.out)
	g.dil, g.str, g.pads = dil, str, pads
	return g, nil
}

// taps fills the tap table after checking its size and the output's.
func (g *convGeom) taps(c *ops.Ctx) error {
	sp := len(g.in)
	dil, str, pads := g.dil, g.str, g.pads
	if err := fits(c, g.kSize, g.outSize); err != nil { // the tap table's size
		return err
	}
	if err := fits(c, append([]int{g.n, g.m}, g.out...)...); err != nil { // the output's
		return err
	}
	g.src = make([]int, g.kSize*g.outSize)
	inSt := tensor.Strides(g.in)
	kIdx := make([]int, sp)
	oIdx := make([]int, sp)
	for kk := 0; kk < g.kSize; kk++ {
		unravel(kk, g.k, kIdx)
		for p := 0; p < g.outSize; p++ {
			unravel(p, g.out, oIdx)
			off := 0
			for i := 0; i < sp; i++ {
				pos := oIdx[i]*str[i] - pads[i] + kIdx[i]*dil[i]
				if pos < 0 || pos >= g.in[i] {
					off = -1
					break
				}
				off += pos * inSt[i]
			}
			g.src[kk*g.outSize+p] = off
		}
	}
	return nil
}

func unravel(i int, shape, idx []int) {
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
}

func equalInts(a []int64, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if int(a[i]) != b[i] {
			return false
		}
	}
	return true
}

func perAxis(name string, v []int64, n, def int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		out[i] = def
	}
	if v == nil {
		return out, nil
	}
	if len(v) != n {
		return nil, fmt.Errorf("%s has %d values, want %d", name, len(v), n)
	}
	for i, x := range v {
		if x < 1 || x > tensor.MaxElements {
			return nil, fmt.Errorf("%s %v must be in [1, 2^40]", name, v)
		}
		out[i] = int(x)
	}
	return out, nil
}

// intConv computes acc (N, M, out...) = conv(x - xzp, w - wzp) in int32;
// wzp has one value or one per output channel. Each (image, group) is an
// im2col of the centered input, (C/group * taps, out positions), multiplied
// by the group's (M/group, C/group * taps) weights.
func (g *convGeom) intConv(c *ops.Ctx, x, w *tensor.Tensor, xzp, wzp []float64, acc []int32) error {
	xc := centered(x, xzp, vecParams{}, 1, max(x.Len(), 1), false)
	wp := vecParams{}
	if len(wzp) > 1 {
		wp = vecParams{batchStride: 0, rowStride: 1}
	}
	cg, mg := g.c/g.group, g.m/g.group
	kdim := cg * g.kSize // the GEMM's inner dimension
	wc := centered(w, wzp, wp, g.m, kdim, false)
	colT, err := c.New(tensor.Float32, kdim, g.outSize)
	if err != nil {
		return err
	}
	col := tensor.Data[float32](colT)
	tmp := make([]float32, mg*g.outSize)
	for n := 0; n < g.n; n++ {
		for grp := 0; grp < g.group; grp++ {
			if err := c.Check(); err != nil {
				return err
			}
			for ci := 0; ci < cg; ci++ {
				plane := xc[(n*g.c+grp*cg+ci)*g.inSize : (n*g.c+grp*cg+ci+1)*g.inSize]
				for kk := 0; kk < g.kSize; kk++ {
					dst := col[(ci*g.kSize+kk)*g.outSize : (ci*g.kSize+kk+1)*g.outSize]
					for p, s := range g.src[kk*g.outSize : (kk+1)*g.outSize] {
						if s >= 0 {
							dst[p] = plane[s]
						} else {
							dst[p] = 0
						}
					}
				}
			}
			out := acc[(n*g.m+grp*mg)*g.outSize : (n*g.m+(grp+1)*mg)*g.outSize]
			gemmExact(c.Threads, mg, g.outSize, kdim, wc[grp*mg*kdim:(grp+1)*mg*kdim], col, out, tmp)
		}
	}
	return nil
}

// perChannel checks a per-tensor or per-output-channel weight parameter.
func perChannel(name string, t *tensor.Tensor, m int) error {
	if t == nil || t.Len() == 1 {
		return nil
	}
	if sh := t.Shape(); len(sh) != 1 || sh[0] != m {
		return fmt.Errorf("%s has shape %v; want a scalar or one value per output channel (%d)", name, sh, m)
	}
	return nil
}

// convOperands validates the int8/uint8 operands and zero points of an
// integer convolution and returns the int32 accumulator tensor.
func (a convAttrs) convOperands(c *ops.Ctx, x, xzp, w, wzp *tensor.Tensor, names [4]string) (*convGeom, *tensor.Tensor, error) {
	if err := int8Input(names[0], x); err != nil {
		return nil, nil, err
	}
	if err := int8Input(names[2], w); err != nil {
		return nil, nil, err
	}
	if err := zeroPoint(names[1], xzp, names[0], x); err != nil {
		return nil, nil, err
	}
	if err := zeroPoint(names[3], wzp, names[2], w); err != nil {
		return nil, nil, err
	}
	if xzp != nil && xzp.Len() != 1 {
		return nil, nil, fmt.Errorf("%s has shape %v; it must be a scalar", names[1], xzp.Shape())
	}
	g, err := a.geometry(x.Shape(), w.Shape())
	if err == nil {
		err = g.taps(c)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := perChannel(names[3], wzp, g.m); err != nil {
		return nil, nil, err
	}
	acc, err := c.New(tensor.Int32, append([]int{g.n, g.m}, g.out...)...)
	if err != nil {
		return nil, nil, err
	}
	err = g.intConv(c, x, w, params(xzp), params(wzp), tensor.Data[int32](acc))
	return g, acc, err
}

func compileConvInteger(n *ops.Node) (*ops.Kernel, error) {
	a, err := readConvAttrs(n)
	if err != nil {
		return nil, err
	}
	names := [4]string{"x", "x_zero_point", "w", "w_zero_point"}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, []string{"x", "w", "x_zero_point", "w_zero_point"}, 2); err != nil {
			return nil, err
		}
		_, acc, err := a.convOperands(c, in[0], opt(in, 2), in[1], opt(in, 3), names)
		return []*tensor.Tensor{acc}, err
	}}, nil
}

func compileQLinearConv(n *ops.Node) (*ops.Kernel, error) {
	a, err := readConvAttrs(n)
	if err != nil {
		return nil, err
	}
	names := []string{"x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale", "y_zero_point", "B"}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, names, 8); err != nil {
			return nil, err
		}
		x, xs, xzp, w, ws, wzp, ys, yzp, bias := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], opt(in, 8)
		for i, s := range []*tensor.Tensor{xs, ws, ys} {
			if !floatOut(s.DType()) {
				return nil, fmt.Errorf("%s is %v, want float32, float16 or bfloat16", names[1+3*i], s.DType())
			}
		}
		if err := int8Input("y_zero_point", yzp); err != nil {
			return nil, err
		}
		if xs.Len() != 1 || ys.Len() != 1 || yzp.Len() != 1 {
			return nil, fmt.Errorf("x_scale %v, y_scale %v and y_zero_point %v must be scalars", xs.Shape(), ys.Shape(), yzp.Shape())
		}
		g, accT, err := a.convOperands(c, x, xzp, w, wzp, [4]string{"x", "x_zero_point", "w", "w_zero_point"})
		if err != nil {
			return nil, err
		}
		if err := perChannel("w_scale", ws, g.m); err != nil {
			return nil, err
		}
		var b []int32
		if bias != nil {
			if bias.DType() != tensor.Int32 || bias.Len() != g.m || bias.Rank() != 1 {
				return nil, fmt.Errorf("B is %v%v; want int32 with one value per output channel (%d)", bias.DType(), bias.Shape(), g.m)
			}
			b = tensor.Data[int32](bias)
		}
		xsv, wsv, ysv := params(xs), params(ws), params(ys)
		if err := checkScales("y_scale", ysv); err != nil {
			return nil, err
		}
		y, err := c.New(yzp.DType(), accT.Shape()...)
		if err != nil {
			return nil, err
		}
		rq := requant{scaleType: xs.DType(), ys: ysv[0], yzp: params(yzp)[0]}
		acc, dst := tensor.Data[int32](accT), y.Raw()
		var buf [chunk]float64
		for nm := 0; nm < g.n*g.m; nm++ {
			m := nm % g.m
			mult := rq.multiplier(xsv[0], wsv[min(m, len(wsv)-1)])
			var bv int32
			if b != nil {
				bv = b[m]
			}
			plane := acc[nm*g.outSize : (nm+1)*g.outSize]
			for p0 := 0; p0 < len(plane); p0 += chunk {
				bb := buf[:min(chunk, len(plane)-p0)]
				for j := range bb {
					bb[j] = rq.apply(plane[p0+j]+bv, mult)
				}
				storeQuant(dst, nm*g.outSize+p0, bb, true)
			}
		}
		return []*tensor.Tensor{y}, nil
	}}, nil
}
