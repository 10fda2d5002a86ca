package autodiff

import (
	"fmt"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// window is the geometry of a convolution or pooling node along its
// spatial axes: input sizes, kernel, strides, dilations, explicit begin
// and end pads, output sizes, and the rows at the end that no window
// reaches (the ConvTranspose output_padding that restores the input size).
type window struct {
	in, k, s, d, pb, pe, out, rest []int64
}

// geometry reads the window of n over x (N, C, spatial...) with kernel k,
// resolving auto_pad. The spatial sizes must be known.
func (b *Builder) geometry(n *ir.Node, x string, k []int64) (*window, error) {
	t, ok := b.types[x]
	if !ok || t.Kind != tensor.KindTensor || !t.HasShape || len(t.Shape) < 3 {
		return nil, fmt.Errorf("%s gradient needs the shape of %q (N, C, spatial...)", n.OpType, x)
	}
	nd := len(t.Shape) - 2
	if len(k) != nd {
		return nil, fmt.Errorf("%s kernel %v does not match %d spatial axes", n.OpType, k, nd)
	}
	w := &window{k: k}
	for _, d := range t.Shape[2:] {
		if !d.Known() {
			return nil, fmt.Errorf("%s gradient needs the spatial sizes of %q (it has %v)", n.OpType, x, t.Shape)
		}
		w.in = append(w.in, d.Size)
	}
	ones := func() []int64 {
		v := make([]int64, nd)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	w.s, w.d = ones(), ones()
	if v, ok := attrIs(n, "strides"); ok && len(v) == nd {
		w.s = v
	}
	if v, ok := attrIs(n, "dilations"); ok && len(v) == nd {
		w.d = v
	}
	w.pb, w.pe = make([]int64, nd), make([]int64, nd)
	ceil := attrI(n, "ceil_mode", 0) != 0
	switch pad := attrS(n, "auto_pad", "NOTSET"); pad {
	case "NOTSET", "":
		if p, ok := attrIs(n, "pads"); ok {
			if len(p) != 2*nd {
				return nil, fmt.Errorf("%s pads %v: want %d values", n.OpType, p, 2*nd)
			}
			copy(w.pb, p[:nd])
			copy(w.pe, p[nd:])
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i := range nd {
			out := (w.in[i] + w.s[i] - 1) / w.s[i]
			total := max(0, (out-1)*w.s[i]+(k[i]-1)*w.d[i]+1-w.in[i])
			small, big := total/2, total-total/2
			if pad == "SAME_UPPER" {
				w.pb[i], w.pe[i] = small, big
			} else {
				w.pb[i], w.pe[i] = big, small
			}
		}
		ceil = false
	default:
		return nil, fmt.Errorf("%s auto_pad %q is not supported", n.OpType, pad)
	}
	for i := range nd {
		span := w.in[i] + w.pb[i] + w.pe[i] - ((k[i]-1)*w.d[i] + 1)
		if span < 0 || w.s[i] <= 0 {
			return nil, fmt.Errorf("%s window larger than the padded input along axis %d", n.OpType, i+2)
		}
		w.out = append(w.out, span/w.s[i]+1)
		w.rest = append(w.rest, span%w.s[i])
		if ceil && span%w.s[i] != 0 {
			return nil, fmt.Errorf("%s gradient with ceil_mode=1 adding a partial window is not supported", n.OpType)
		}
	}
	return w, nil
}

func (w *window) pads() []int64 { return append(append([]int64{}, w.pb...), w.pe...) }

// transpose emits ConvTranspose(g, kernel) of this window: the adjoint of
// its convolution, output sized like the input.
func (b *Builder) convTranspose(w *window, g, kernel string, group int64) string {
	return b.Op("ConvTranspose", []Attr{attrInts("strides", w.s...), attrInts("dilations", w.d...),
		attrInts("pads", w.pads()...), attrInts("output_padding", w.rest...), attrInts("kernel_shape", w.k...),
		attrInt("group", group)}, g, kernel)
}

// convBack: Y = conv(X, W) + B with X (N, C, spatial), W (M, C/G, k).
//
//   - dX = ConvTranspose(dY, W) with the same strides, pads, dilations and
//     group, and output_padding for the rows no window reached.
//   - dW[m, c, j] = Σ_n Σ_o dY[n, m, o]·X[n, g·C/G + c, o·s + j·d − pb]:
//     a convolution of X (channels to batch: (C/G, G·N, spatial)) with dY
//     as the kernel ((M, N, out), group G), strides and dilations swapped,
//     the same pads, cut to the kernel size.
//   - dB = Σ dY over every axis but 1.
func convBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x, wt := n.Inputs[0], n.Inputs[1]
	ws, ok := b.staticShape(wt)
	if !ok {
		return nil, fmt.Errorf("Conv gradient needs the shape of the weight %q", wt)
	}
	k := make([]int64, len(ws)-2)
	for i := range k {
		k[i] = int64(ws[i+2])
	}
	w, err := b.geometry(n, x, k)
	if err != nil {
		return nil, err
	}
	group := attrI(n, "group", 1)
	nd := len(k)
	out := make([]string, len(n.Inputs))
	if b.Needs(x) {
		out[0] = b.convTranspose(w, dy[0], wt, group)
	}
	swap := []int64{1, 0}
	for i := range nd {
		swap = append(swap, int64(i+2))
	}
	if b.Needs(wt) {
		out[1] = b.weightGrad(w, x, dy[0], group, int64(ws[1]))
	}
	if len(n.Inputs) > 2 && b.Needs(n.Inputs[2]) {
		out[2] = b.sumAxes(dy[0], false, append([]int64{0}, spatialAxes(nd+2)...)...)
	}
	return out, nil
}

// weightGrad returns dW[m, c, j] = Σ_n Σ_o small[n, m, o]·big[n, g·C/G +
// c, o·s + j·d − pb] (C/G = cg) for the window w over big's spatial axes
// with small's spatial sizes w.out: the weight gradient of a convolution
// (big = X, small = dY) and of a transposed one (big = dY, small = X). It
// is a convolution of big, channels moved to the batch ((C/G, G·N,
// spatial)), with small as the kernel ((M, N, out), group G), strides and
// dilations swapped, the same pads, cut to the kernel size.
func (b *Builder) weightGrad(w *window, big, small string, group, cg int64) string {
	nd := len(w.k)
	swap := []int64{1, 0}
	for i := range nd {
		swap = append(swap, int64(i+2))
	}
	var in string
	if group == 1 {
		in = b.Op("Transpose", []Attr{attrInts("perm", swap...)}, big)
	} else {
		// (N, G, C/G, sp) → (C/G, G, N, sp) → (C/G, G·N, sp)
		v := b.Op("Reshape", nil, big, b.Ints(append([]int64{-1, group, cg}, w.in...)...))
		perm := []int64{2, 1, 0}
		for i := range nd {
			perm = append(perm, int64(i+3))
		}
		v = b.Op("Transpose", []Attr{attrInts("perm", perm...)}, v)
		in = b.Op("Reshape", nil, v, b.Ints(append([]int64{cg, -1}, w.in...)...))
	}
	kern := b.Op("Transpose", []Attr{attrInts("perm", swap...)}, small)
	r := b.Op("Conv", []Attr{attrInts("strides", w.d...), attrInts("dilations", w.s...), attrInts("pads", w.pads()...),
		attrInt("group", group)}, in, kern)
	// r is (C/G, M, k'), k' ≥ k
	cut := false
	starts, axes := make([]int64, nd), make([]int64, nd)
	for i := range nd {
		kk := (w.in[i]+w.pb[i]+w.pe[i]-(w.out[i]-1)*w.s[i]-1)/w.d[i] + 1
		cut = cut || kk != w.k[i]
		axes[i] = int64(i + 2)
	}
	if cut {
		r = b.Op("Slice", nil, r, b.Ints(starts...), b.Ints(w.k...), b.Ints(axes...))
	}
	return b.Op("Transpose", []Attr{attrInts("perm", swap...)}, r)
}

// convTransposeBack: Y = conv_transpose(X, W) + B with X (N, C, in), W
// (C, M/G, k), Y (N, M, out), out = s(in − 1) + output_padding + (k −
// 1)d + 1 − pb − pe. Its adjoint is the convolution with the same window
// over Y: dX = Conv(dY, W) (strides, pads, dilations, group), dW the
// convolution weight gradient with the roles of input and output
// swapped, dB = Σ dY over every axis but 1. Explicit pads only
// (output_shape and auto_pad are not supported).
func convTransposeBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x, wt := n.Inputs[0], n.Inputs[1]
	if hasAttr(n, "output_shape") || attrS(n, "auto_pad", "NOTSET") != "NOTSET" {
		return nil, fmt.Errorf("ConvTranspose gradient with output_shape or auto_pad is not supported; give explicit pads")
	}
	ws, ok := b.staticShape(wt)
	xs, okx := b.staticShape(x)
	if !ok || !okx || len(xs) != len(ws) || len(ws) < 3 {
		return nil, fmt.Errorf("ConvTranspose gradient needs the shapes of %q and %q", x, wt)
	}
	nd := len(ws) - 2
	g := &window{}
	for i := range nd {
		g.k = append(g.k, int64(ws[i+2]))
		g.out = append(g.out, int64(xs[i+2]))
		g.s = append(g.s, 1)
		g.d = append(g.d, 1)
	}
	g.pb, g.pe = make([]int64, nd), make([]int64, nd)
	if v, ok := attrIs(n, "strides"); ok && len(v) == nd {
		g.s = v
	}
	if v, ok := attrIs(n, "dilations"); ok && len(v) == nd {
		g.d = v
	}
	if p, ok := attrIs(n, "pads"); ok && len(p) == 2*nd {
		g.pb, g.pe = p[:nd], p[nd:]
	}
	op, _ := attrIs(n, "output_padding")
	for i := range nd {
		o := g.s[i]*(g.out[i]-1) + (g.k[i]-1)*g.d[i] + 1 - g.pb[i] - g.pe[i]
		if i < len(op) {
			o += op[i]
		}
		g.in = append(g.in, o)
	}
	group := attrI(n, "group", 1)
	out := make([]string, len(n.Inputs))
	if b.Needs(x) {
		out[0] = b.Op("Conv", []Attr{attrInts("strides", g.s...), attrInts("dilations", g.d...), attrInts("pads", g.pads()...),
			attrInts("kernel_shape", g.k...), attrInt("group", group)}, dy[0], wt)
	}
	if b.Needs(wt) {
		out[1] = b.weightGrad(g, dy[0], x, group, int64(ws[1]))
	}
	if len(n.Inputs) > 2 && b.Needs(n.Inputs[2]) {
		out[2] = b.sumAxes(dy[0], false, append([]int64{0}, spatialAxes(nd+2)...)...)
	}
	return out, nil
}

// maxPoolBack: every dY element goes to the input position its window's
// maximum came from, read from the node's Indices output (named on the
// forward node when the model leaves it out), added into zeros as
// overlapping windows may share a maximum. The add needs opset ≥ 16;
// before, only windows that cannot overlap (stride ≥ dilated kernel) work.
func maxPoolBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x := n.Inputs[0]
	if attrI(n, "storage_order", 0) != 0 {
		return nil, fmt.Errorf("MaxPool gradient with storage_order=1 is not supported")
	}
	if len(dy) > 1 && dy[1] != "" {
		return nil, fmt.Errorf("MaxPool Indices output has no gradient")
	}
	add := b.opset >= 16
	if !add {
		k, _ := attrIs(n, "kernel_shape")
		s, _ := attrIs(n, "strides")
		d, _ := attrIs(n, "dilations")
		for i, kk := range k {
			si, di := int64(1), int64(1)
			if i < len(s) {
				si = s[i]
			}
			if i < len(d) {
				di = d[i]
			}
			if si < (kk-1)*di+1 {
				return nil, fmt.Errorf("MaxPool gradient with overlapping windows scatters with reduction=add, which needs ai.onnx opset >= 16 (the model has %d)", b.opset)
			}
		}
	}
	idx := b.output(n, 1)
	return []string{b.scatterFlat(x, idx, dy[0], add)}, nil
}

// avgPoolBack: Y = Σ_window X / D, with D the window size (count_include_pad
// = 1) or the number of input elements in the window (0, computed as a
// convolution of ones with ones). dX = ConvTranspose(dY/D, ones) with
// channels folded into the batch: (N·C, 1, spatial).
func avgPoolBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	x := n.Inputs[0]
	k, ok := attrIs(n, "kernel_shape")
	if !ok {
		return nil, fmt.Errorf("AveragePool without kernel_shape")
	}
	w, err := b.geometry(n, x, k)
	if err != nil {
		return nil, err
	}
	dt := b.dtype(x)
	ones := func(shape ...int64) string {
		return b.Op("ConstantOfShape", []Attr{tensorAttr("value", oneOf(dt))}, b.Ints(shape...))
	}
	kernel := ones(append([]int64{1, 1}, k...)...)
	var div string
	if attrI(n, "count_include_pad", 0) != 0 {
		size := int64(1)
		for _, v := range k {
			size *= v
		}
		div = b.Scalar(float64(size), x)
	} else {
		div = b.Op("Conv", []Attr{attrInts("strides", w.s...), attrInts("dilations", w.d...), attrInts("pads", w.pads()...)},
			ones(append([]int64{1, 1}, w.in...)...), kernel)
	}
	fold := append([]int64{-1, 1}, w.out...)
	g := b.Op("Div", nil, b.Op("Reshape", nil, dy[0], b.Ints(fold...)), div)
	return []string{b.Op("Reshape", nil, b.convTranspose(w, g, kernel, 1), b.Op("Shape", nil, x))}, nil
}
