package nn

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// DeformConv is the 2-D deformable convolution: Conv whose kernel taps are
// moved by learned offsets and scaled by an optional mask,
//
//	Y[n, m, i, j] = B[m] + sum_{c, kh, kw} W[m, c, kh, kw] * mask[n, og, kh, kw, i, j] *
//	                bilinear(X[n, c], i*sh - ph + kh*dh + Δh, j*sw - pw + kw*dw + Δw)
//
// with (Δh, Δw) = offset[n, og, kh, kw, :, i, j], og the offset group of
// channel c, and samples outside X reading 0. X is (N, C, H, W), W
// (M, C/group, kH, kW), offset (N, offset_group*kH*kW*2, oH, oW), mask
// (N, offset_group*kH*kW, oH, oW). It runs as a bilinear im2col + GEMM.
var DeformConv = ops.Versions("", "DeformConv",
	"Y = deformable 2-D convolution of X with W at taps moved by offset and scaled by mask, + B",
	[]int{19, 22}, nil, compileDeformConv)

type deformAttrs struct {
	convAttrs
	offsetGroup int
}

func compileDeformConv(n *ops.Node) (*ops.Kernel, error) {
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	a := deformAttrs{convAttrs: convAttrs{windowAttrs: w, group: int(n.Int("group", 1))},
		offsetGroup: int(n.Int("offset_group", 1))}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if a.group < 1 || a.offsetGroup < 1 {
		return nil, fmt.Errorf("group %d and offset_group %d must be >= 1", a.group, a.offsetGroup)
	}
	return &ops.Kernel{Run: a.run}, nil
}

func (a deformAttrs) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 3, 5); err != nil {
		return nil, err
	}
	if err := sameDType(in, "X", "W", "offset", "B", "mask"); err != nil {
		return nil, err
	}
	xs := in[0].Shape()
	if len(xs) != 4 {
		return nil, fmt.Errorf("X %v must be 4-D (N, C, H, W); gort implements 2-D DeformConv only", xs)
	}
	g, err := a.convShape(xs, in[1].Shape(), optional(in, 3))
	if err != nil {
		return nil, err
	}
	if xs[1]%a.offsetGroup != 0 {
		return nil, fmt.Errorf("X's channels C=%d are not divisible by offset_group=%d", xs[1], a.offsetGroup)
	}
	kSize := prod(g.kernel)
	want := []int{xs[0], a.offsetGroup * kSize * 2, g.pos[0], g.pos[1]}
	if !tensor.SameShape(in[2].Shape(), want) {
		return nil, fmt.Errorf("offset %v must be (N, offset_group*kH*kW*2, oH, oW) = %v", in[2].Shape(), want)
	}
	if mask := optional(in, 4); mask != nil {
		want[1] = a.offsetGroup * kSize
		if !tensor.SameShape(mask.Shape(), want) {
			return nil, fmt.Errorf("mask %v must be (N, offset_group*kH*kW, oH, oW) = %v", mask.Shape(), want)
		}
	}
	return widened(c, in, func(w []*tensor.Tensor) (*tensor.Tensor, error) {
		switch w[0].DType() {
		case tensor.Float32:
			return deformTyped[float32](c, a, g, w)
		case tensor.Float64:
			return deformTyped[float64](c, a, g, w)
		}
		return nil, unsupported(in[0].DType(), floatTypes)
	})
}

// deformTyped fills, per image and group, col ((C/G)*kH*kW, oH*oW) with
// masked bilinear samples and multiplies W_g by it.
func deformTyped[T tensor.Float](c *ops.Ctx, a deformAttrs, g *geometry, in []*tensor.Tensor) (*tensor.Tensor, error) {
	xs, ws := in[0].Shape(), in[1].Shape()
	nImg, ch, h, wd := xs[0], xs[1], xs[2], xs[3]
	m, kh, kw := ws[0], g.kernel[0], g.kernel[1]
	oh, ow := g.pos[0], g.pos[1]
	yt, err := c.New(in[0].DType(), nImg, m, oh, ow)
	if err != nil {
		return nil, err
	}
	x, w, off, y := tensor.Data[T](in[0]), tensor.Data[T](in[1]), tensor.Data[T](in[2]), tensor.Data[T](yt)
	var mask []T
	if mt := optional(in, 4); mt != nil {
		mask = tensor.Data[T](mt)
	}
	cg, mg := ch/a.group, m/a.group
	kSize, nPos := kh*kw, oh*ow
	rows := cg * kSize
	chPerOG := ch / a.offsetGroup
	col := getScratch[T](rows * nPos)
	defer putScratch(col)
	for n := range nImg {
		for gi := range a.group {
			if err := c.Check(); err != nil {
				return nil, err
			}
			for r := range rows {
				ci := gi*cg + r/kSize
				k := r % kSize
				og := ci / chPerOG
				plane := x[(n*ch+ci)*h*wd : (n*ch+ci+1)*h*wd]
				// offset[n, og, k, 0|1, :, :] and mask[n, og, k, :, :]
				dh := off[((n*a.offsetGroup+og)*kSize+k)*2*nPos:]
				dw := dh[nPos:]
				var mk []T
				if mask != nil {
					mk = mask[((n*a.offsetGroup+og)*kSize+k)*nPos:]
				}
				dst := col[r*nPos : (r+1)*nPos]
				baseH := -g.padBegin[0] + (k/kw)*g.dilations[0]
				baseW := -g.padBegin[1] + (k%kw)*g.dilations[1]
				for i := range oh {
					for j := range ow {
						p := i*ow + j
						v := bilinear(plane, h, wd,
							float64(baseH+i*g.strides[0])+float64(dh[p]),
							float64(baseW+j*g.strides[1])+float64(dw[p]))
						if mk != nil {
							v *= float64(mk[p])
						}
						dst[p] = T(v)
					}
				}
			}
			gemm(threadsOf(c), false, false, mg, nPos, rows, 1, w[gi*mg*rows:], rows, col, nPos, 0, y[(n*m+gi*mg)*nPos:], nPos)
		}
	}
	if bt := optional(in, 3); bt != nil {
		addBias(y, tensor.Data[T](bt), nImg, nPos)
	}
	return yt, nil
}

// bilinear samples the h x w plane at (y, x), corners outside reading 0.
func bilinear[T tensor.Float](plane []T, h, w int, y, x float64) float64 {
	if y <= -1 || y >= float64(h) || x <= -1 || x >= float64(w) || math.IsNaN(x+y) {
		return 0
	}
	y0, x0 := math.Floor(y), math.Floor(x)
	fy, fx := y-y0, x-x0
	iy, ix := int(y0), int(x0)
	at := func(r, c int) float64 {
		if r < 0 || r >= h || c < 0 || c >= w {
			return 0
		}
		return float64(plane[r*w+c])
	}
	return (1-fy)*((1-fx)*at(iy, ix)+fx*at(iy, ix+1)) + fy*((1-fx)*at(iy+1, ix)+fx*at(iy+1, ix+1))
}
