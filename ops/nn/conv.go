package nn

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Conv is the N-D grouped convolution (cross-correlation):
//
//	Y[n, m, o...] = B[m] + sum_{c, k...} X[n, g*C/G + c, o*s - pb + k*d...] * W[m, c, k...]
//
// with g = m / (M/G), X (N, C, D...), W (M, C/G, K...), B (M) optional and
// zero padding. It runs as im2col + GEMM per image and group. It fails when
// C is not W's second dimension times group, M is not divisible by group,
// or the dilated kernel exceeds the padded input.
var Conv = ops.Versions("", "Conv",
	"Y = conv(X, W) + B: N-D grouped cross-correlation with strides, dilations, pads/auto_pad",
	[]int{1, 11, 22}, inferConv, compileConv)

// maxColElems bounds the im2col buffer; larger problems are processed in
// bands of output positions.
const maxColElems = 1 << 22

type convAttrs struct {
	windowAttrs
	group int
}

func compileConv(n *ops.Node) (*ops.Kernel, error) {
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	a := convAttrs{windowAttrs: w, group: int(n.Int("group", 1))}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if a.group < 1 {
		return nil, fmt.Errorf("group %d must be >= 1", a.group)
	}
	return &ops.Kernel{Run: a.run}, nil
}

// convShape checks X, W, B of a Conv and resolves its window geometry.
func (a convAttrs) convShape(xs, ws []int, b *tensor.Tensor) (*geometry, error) {
	img, err := spatialOf("X", xs)
	if err != nil {
		return nil, err
	}
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("W %v must have the rank of X %v", ws, xs)
	}
	if xs[1] != ws[1]*a.group {
		return nil, fmt.Errorf("channel mismatch: X has C=%d channels but W %v expects C/group=%d with group=%d (C must be %d)", xs[1], ws, ws[1], a.group, ws[1]*a.group)
	}
	if ws[0]%a.group != 0 {
		return nil, fmt.Errorf("W's output channels M=%d are not divisible by group=%d", ws[0], a.group)
	}
	kernel := ws[2:]
	if err := checkKernel(ws); err != nil {
		return nil, err
	}
	if a.kernel != nil && !tensor.SameShape(a.kernel, kernel) {
		return nil, fmt.Errorf("kernel_shape %v does not match W's spatial dims %v", a.kernel, kernel)
	}
	if b != nil && (b.Rank() != 1 || b.Shape()[0] != ws[0]) {
		return nil, fmt.Errorf("B %v must be 1-D with M=%d elements", b.Shape(), ws[0])
	}
	return a.resolve(img, kernel)
}

func (a convAttrs) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return runConv(c, in, a.group, a.convShape, convTyped[float32], convTyped[float64])
}

// convTypedFunc computes a Conv or ConvTranspose of float inputs in of
// geometry g.
type convTypedFunc func(c *ops.Ctx, group int, g *geometry, in []*tensor.Tensor) (*tensor.Tensor, error)

// runConv is the run of Conv and ConvTranspose: it checks X, W and B,
// resolves their geometry and computes on inputs widened to float32 (f32)
// or float64 (f64).
func runConv(c *ops.Ctx, in []*tensor.Tensor, group int, geom func(xs, ws []int, b *tensor.Tensor) (*geometry, error), f32, f64 convTypedFunc) ([]*tensor.Tensor, error) {
	if err := convInputs(in); err != nil {
		return nil, err
	}
	g, err := geom(in[0].Shape(), in[1].Shape(), optional(in, 2))
	if err != nil {
		return nil, err
	}
	return widened(c, in, func(w []*tensor.Tensor) (*tensor.Tensor, error) {
		switch w[0].DType() {
		case tensor.Float32:
			return f32(c, group, g, w)
		case tensor.Float64:
			return f64(c, group, g, w)
		}
		return nil, unsupported(in[0].DType(), floatTypes)
	})
}

// convTyped computes Y (N, M, pos...) = W_g * im2col(X_g) + B per image n
// and group g.
func convTyped[T tensor.Float](c *ops.Ctx, group int, g *geometry, in []*tensor.Tensor) (*tensor.Tensor, error) {
	xt, wt, bt := in[0], in[1], optional(in, 2)
	xs, ws := xt.Shape(), wt.Shape()
	nImg, ch, m := xs[0], xs[1], ws[0]
	yt, err := c.New(xt.DType(), append([]int{nImg, m}, g.pos...)...)
	if err != nil {
		return nil, err
	}
	x, w, y := tensor.Data[T](xt), tensor.Data[T](wt), tensor.Data[T](yt)
	cg, mg := ch/group, m/group
	kSize := prod(g.kernel)
	rows := cg * kSize // GEMM depth
	nPos, imgSize := prod(g.pos), prod(g.img)
	if nPos == 0 || nImg == 0 || m == 0 {
		return yt, nil
	}
	// A 1x1 kernel with unit strides and no padding reads X as the column matrix.
	direct := kSize == 1 && nPos == imgSize
	for i := range g.img {
		direct = direct && g.strides[i] == 1 && g.padBegin[i] == 0
	}
	band := nPos
	if !direct && rows*band > maxColElems {
		band = max(1, maxColElems/max(rows, 1))
	}
	threads := threadsOf(c)
	units := nImg * group
	// Many small GEMMs (depthwise, small images): parallel over (image, group).
	outer, inner := 1, threads
	if threads > 1 && units >= 2 && mg*nPos*rows < 4*parallelGemmFlops {
		outer, inner = threads, 1
	}
	var ferr firstError
	parallelFor(outer, units, func(lo, hi int) {
		var col []T
		if !direct {
			col = getScratch[T](rows * min(band, nPos))
			defer putScratch(col)
		}
		for u := lo; u < hi; u++ {
			if err := c.Check(); err != nil {
				ferr.set(err)
				return
			}
			n, gi := u/group, u%group
			xImg := x[(n*ch+gi*cg)*imgSize : (n*ch+(gi+1)*cg)*imgSize]
			wg := w[gi*mg*rows : (gi+1)*mg*rows]
			yg := y[(n*m+gi*mg)*nPos:]
			if direct {
				gemm(inner, false, false, mg, nPos, rows, 1, wg, rows, xImg, nPos, 0, yg, nPos)
				continue
			}
			for p0 := 0; p0 < nPos; p0 += band {
				p1 := min(p0+band, nPos)
				imcol(inner, g, cg, xImg, col, p1-p0, p0, p1, false)
				gemm(inner, false, false, mg, p1-p0, rows, 1, wg, rows, col, p1-p0, 0, yg[p0:], nPos)
			}
		}
	})
	if err := ferr.get(); err != nil {
		return nil, err
	}
	if bt != nil {
		addBias(y, tensor.Data[T](bt), nImg, nPos)
	}
	return yt, nil
}

// checkKernel rejects a weight (M, C, K...) with an empty kernel axis.
func checkKernel(ws []int) error {
	for i, k := range ws[2:] {
		if k < 1 {
			return fmt.Errorf("W %v has an empty kernel along spatial axis %d", ws, i)
		}
	}
	return nil
}

// convInputs checks the X, W and optional B inputs of Conv and ConvTranspose.
func convInputs(in []*tensor.Tensor) error {
	if err := ops.Want(in, 2, 3); err != nil {
		return err
	}
	return sameDType(in, "X", "W", "B")
}

// addBias adds b[m] to every element of channel m of y (N, M, P).
func addBias[T tensor.Number](y, b []T, n, p int) {
	for i := range n {
		for mi, bv := range b {
			row := y[(i*len(b)+mi)*p : (i*len(b)+mi+1)*p]
			for j := range row {
				row[j] += bv
			}
		}
	}
}

// inferConv gives Y's type (N, M, pos...) when X and W shapes are known.
func inferConv(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("Conv needs X and W, got %d inputs", len(in))
	}
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	wd, ok := dimsOf(in[1])
	if !ok || len(wd) < 3 {
		return []tensor.Type{{Kind: tensor.KindTensor, DType: in[0].DType}}, nil
	}
	kernel := w.kernel
	if kernel == nil {
		kernel = make([]int, len(wd)-2)
		for i, d := range wd[2:] {
			if d < 0 {
				kernel = nil // spatial output sizes stay unknown
				break
			}
			kernel[i] = int(d)
		}
	}
	return []tensor.Type{inferWindowShape(w, in[0], kernel, &in[1].Shape[0])}, nil
}
