package nn

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// ConvTranspose is the gradient of Conv with respect to its input: every
// input element scatters a kernel-sized window into Y,
//
//	Y[n, g*M/G + m, i*s - pb + k*d...] += X[n, g*C/G + c, i...] * W[g*C/G + c, m, k...]
//
// plus B[m], with X (N, C, D...), W (C, M/G, K...). Y's spatial size is
// s*(D-1) + output_padding + (K-1)*d + 1 - pb - pe, or output_shape, from
// which pads are then derived (auto_pad SAME_* or NOTSET rules). It runs as
// GEMM (Wᵀ X) + col2im. It fails when C is not divisible by group or the
// output would be empty.
var ConvTranspose = ops.Versions("", "ConvTranspose",
	"Y = conv_transpose(X, W) + B: gradient of Conv w.r.t. its input, with output_padding/output_shape",
	[]int{1, 11, 22}, inferConvTranspose, compileConvTranspose)

type convTransposeAttrs struct {
	windowAttrs
	group         int
	outputPadding []int
	outputShape   []int
	hasPads       bool
}

func compileConvTranspose(n *ops.Node) (*ops.Kernel, error) {
	a, err := readConvTranspose(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: a.run}, nil
}

func readConvTranspose(n *ops.Node) (convTransposeAttrs, error) {
	w, err := readWindow(n)
	if err != nil {
		return convTransposeAttrs{}, err
	}
	a := convTransposeAttrs{
		windowAttrs:   w,
		group:         int(n.Int("group", 1)),
		outputPadding: toInts(n.Ints("output_padding", nil)),
		outputShape:   toInts(n.Ints("output_shape", nil)),
		hasPads:       n.Has("pads"),
	}
	if err := n.Err(); err != nil {
		return a, err
	}
	if a.group < 1 {
		return a, fmt.Errorf("group %d must be >= 1", a.group)
	}
	return a, nil
}

// geometry resolves the output shape and pads of a ConvTranspose; the
// returned geometry maps input positions (pos) into the output (img).
func (a convTransposeAttrs) geometry(xs, ws []int, b *tensor.Tensor) (*geometry, error) {
	in, err := spatialOf("X", xs)
	if err != nil {
		return nil, err
	}
	nd := len(in)
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("W %v must have the rank of X %v", ws, xs)
	}
	if ws[0] != xs[1] {
		return nil, fmt.Errorf("channel mismatch: X has C=%d channels but W %v has %d input channels (its first dimension)", xs[1], ws, ws[0])
	}
	if xs[1]%a.group != 0 {
		return nil, fmt.Errorf("X's channels C=%d are not divisible by group=%d", xs[1], a.group)
	}
	kernel := ws[2:]
	if err := checkKernel(ws); err != nil {
		return nil, err
	}
	if a.kernel != nil && !tensor.SameShape(a.kernel, kernel) {
		return nil, fmt.Errorf("kernel_shape %v does not match W's spatial dims %v", a.kernel, kernel)
	}
	if m := ws[1] * a.group; b != nil && (b.Rank() != 1 || b.Shape()[0] != m) {
		return nil, fmt.Errorf("B %v must be 1-D with M=%d elements", b.Shape(), m)
	}
	strides, dilations, pads, err := a.fillDefaults(nd, kernel)
	if err != nil {
		return nil, err
	}
	outPad := a.outputPadding
	if len(outPad) == 0 {
		outPad = make([]int, nd)
	}
	if len(outPad) != nd && len(outPad) != 2*nd {
		return nil, fmt.Errorf("output_padding %v has %d values, want %d", outPad, len(outPad), nd)
	}
	outShape := a.outputShape
	if len(outShape) > nd {
		// output_shape may include N and C.
		outShape = outShape[len(outShape)-nd:]
	}
	if len(outShape) != 0 && len(outShape) != nd {
		return nil, fmt.Errorf("output_shape %v has %d values, want %d", a.outputShape, len(a.outputShape), nd)
	}
	same := a.autoPad == "SAME_UPPER" || a.autoPad == "SAME_LOWER"
	g := &geometry{pos: in, kernel: kernel, strides: strides, dilations: dilations,
		img: make([]int, nd), padBegin: make([]int, nd), padEnd: make([]int, nd)}
	for i := range nd {
		if outPad[i] < 0 || (outPad[i] >= strides[i] && outPad[i] >= dilations[i]) {
			return nil, fmt.Errorf("output_padding %v must be non-negative and smaller than the stride or dilation of each axis", outPad)
		}
		full := strides[i]*(in[i]-1) + outPad[i] + (kernel[i]-1)*dilations[i] + 1
		pb, pe := pads[i], pads[i+nd]
		switch {
		case a.autoPad == "VALID":
			pb, pe = 0, 0
		case !a.hasPads && (len(outShape) > 0 || same):
			want := in[i] * strides[i]
			if len(outShape) > 0 {
				want = outShape[i]
			}
			total := full - want
			half := floorDiv(total, 2)
			pb = total - half
			if a.autoPad == "SAME_UPPER" {
				pb = half
			}
			pe = total - pb
		}
		out := full - pb - pe
		if len(outShape) > 0 {
			out = outShape[i]
		}
		if out <= 0 {
			return nil, fmt.Errorf("output spatial axis %d would have size %d; check pads %v and output_shape %v", i, out, pads, a.outputShape)
		}
		g.img[i], g.padBegin[i], g.padEnd[i] = out, pb, pe
	}
	return g, nil
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (a convTransposeAttrs) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return runConv(c, in, a.group, a.geometry, convTransposeTyped[float32], convTransposeTyped[float64])
}

// convTransposeTyped computes, per image n and group g, col = W_gᵀ X_g
// ((M/G)*K, D) and scatters col into Y (N, M, out...).
func convTransposeTyped[T tensor.Float](c *ops.Ctx, group int, g *geometry, in []*tensor.Tensor) (*tensor.Tensor, error) {
	xt, wt, bt := in[0], in[1], optional(in, 2)
	xs, ws := xt.Shape(), wt.Shape()
	nImg, ch := xs[0], xs[1]
	cg, mg := ch/group, ws[1]
	m := mg * group
	yt, err := c.New(xt.DType(), append([]int{nImg, m}, g.img...)...)
	if err != nil {
		return nil, err
	}
	x, w, y := tensor.Data[T](xt), tensor.Data[T](wt), tensor.Data[T](yt)
	kSize := prod(g.kernel)
	rows := mg * kSize
	nIn, outSize := prod(g.pos), prod(g.img)
	if nIn == 0 || nImg == 0 || m == 0 {
		if bt != nil {
			addBias(y, tensor.Data[T](bt), nImg, outSize)
		}
		return yt, nil
	}
	band := nIn
	if rows*band > maxColElems {
		band = max(1, maxColElems/max(rows, 1))
	}
	threads := threadsOf(c)
	units := nImg * group
	outer, inner := 1, threads
	if threads > 1 && units >= 2 {
		outer, inner = threads, 1
	}
	var ferr firstError
	parallelFor(outer, units, func(lo, hi int) {
		col := getScratch[T](rows * min(band, nIn))
		defer putScratch(col)
		for u := lo; u < hi; u++ {
			if err := c.Check(); err != nil {
				ferr.set(err)
				return
			}
			n, gi := u/group, u%group
			xg := x[(n*ch+gi*cg)*nIn:]
			wg := w[gi*cg*rows : (gi+1)*cg*rows]
			yg := y[(n*m+gi*mg)*outSize : (n*m+(gi+1)*mg)*outSize]
			for p0 := 0; p0 < nIn; p0 += band {
				p1 := min(p0+band, nIn)
				gemm(inner, true, false, rows, p1-p0, cg, 1, wg, rows, xg[p0:], nIn, 0, col, p1-p0)
				imcol(inner, g, mg, yg, col, p1-p0, p0, p1, true)
			}
		}
	})
	if err := ferr.get(); err != nil {
		return nil, err
	}
	if bt != nil {
		addBias(y, tensor.Data[T](bt), nImg, outSize)
	}
	return yt, nil
}

// inferConvTranspose gives Y's dtype and, from version-independent rules,
// its shape when X and W are fully known.
func inferConvTranspose(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("ConvTranspose needs X and W, got %d inputs", len(in))
	}
	unknown := []tensor.Type{{Kind: tensor.KindTensor, DType: in[0].DType}}
	xd, ok1 := dimsOf(in[0])
	wd, ok2 := dimsOf(in[1])
	if !ok1 || !ok2 || len(xd) < 3 || len(wd) != len(xd) {
		return unknown, nil
	}
	xs, ws := make([]int, len(xd)), make([]int, len(wd))
	for i := range xd {
		if xd[i] < 0 || wd[i] < 0 {
			return unknown, nil
		}
		xs[i], ws[i] = int(xd[i]), int(wd[i])
	}
	a, err := readConvTranspose(n)
	if err != nil {
		return nil, err
	}
	g, err := a.geometry(xs, ws, nil)
	if err != nil {
		return nil, err
	}
	dims := []int64{int64(xs[0]), int64(ws[1] * a.group)}
	for _, d := range g.img {
		dims = append(dims, int64(d))
	}
	return []tensor.Type{typeOf(in[0].DType, dims)}, nil
}
