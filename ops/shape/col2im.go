package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func col2imOps() []*ops.Op {
	return ops.Versions("", "Col2Im", "Col2Im: image[n, c, p] = sum of input[n, c*B + b, l] over block offsets b and positions l with p = o(l)*strides - pads_begin + b*dilations (inverse of im2col).",
		[]int{18}, inferDTypeOf(0, false), compileCol2Im)
}

// col2imGeom is the geometry of one Col2Im call over S spatial axes.
type col2imGeom struct {
	image, block, dil, padB, stride, outPos []int
}

func col2imAccumulate[T tensor.Float](c *ctx, dst, src []T, batchC, B, L int, g col2imGeom, imgSize int) error {
	S := len(g.image)
	bIdx, lIdx := make([]int, S), make([]int, S)
	for nc := 0; nc < batchC; nc++ {
		if err := c.Check(); err != nil {
			return err
		}
		img := dst[nc*imgSize : (nc+1)*imgSize]
		col := src[nc*B*L : (nc+1)*B*L]
		clear(bIdx)
		for b := 0; b < B; b++ {
			clear(lIdx)
			for l := 0; l < L; l++ {
				p, ok := 0, true
				for i := 0; i < S; i++ {
					q := lIdx[i]*g.stride[i] - g.padB[i] + bIdx[i]*g.dil[i]
					if q < 0 || q >= g.image[i] {
						ok = false
						break
					}
					p = p*g.image[i] + q
				}
				if ok {
					img[p] += col[b*L+l]
				}
				odometer(lIdx, g.outPos)
			}
			odometer(bIdx, g.block)
		}
	}
	return nil
}

// odometer advances a row-major multi-index over shape.
func odometer(idx, shape []int) {
	for k := len(idx) - 1; k >= 0; k-- {
		if idx[k]++; idx[k] < shape[k] {
			return
		}
		idx[k] = 0
	}
}

func compileCol2Im(n *ops.Node) (*ops.Kernel, error) {
	dil, pads, strides := n.Ints("dilations", nil), n.Ints("pads", nil), n.Ints("strides", nil)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 3, 3); err != nil {
			return nil, err
		}
		x := in[0]
		iv, err := intsOf(in[1], "image_shape")
		if err != nil {
			return nil, err
		}
		bv, err := intsOf(in[2], "block_shape")
		if err != nil {
			return nil, err
		}
		var g col2imGeom
		if g.image, err = dimsOf(iv, "image_shape"); err != nil {
			return nil, err
		}
		if g.block, err = dimsOf(bv, "block_shape"); err != nil {
			return nil, err
		}
		S := len(g.image)
		if len(g.block) != S {
			return nil, fmt.Errorf("block_shape has %d values, image_shape %d", len(g.block), S)
		}
		attr := func(v []int64, name string, def int64, want int) ([]int, error) {
			if v == nil {
				v = make([]int64, want)
				for i := range v {
					v[i] = def
				}
			}
			if len(v) != want {
				return nil, fmt.Errorf("%s has %d values, want %d", name, len(v), want)
			}
			for i, a := range v {
				if a < 0 || a > maxDim || (def == 1 && a == 0) {
					return nil, fmt.Errorf("%s[%d] = %d is invalid", name, i, a)
				}
			}
			return dimsOf(v, name)
		}
		if g.dil, err = attr(dil, "dilations", 1, S); err != nil {
			return nil, err
		}
		if g.stride, err = attr(strides, "strides", 1, S); err != nil {
			return nil, err
		}
		p, err := attr(pads, "pads", 0, 2*S)
		if err != nil {
			return nil, err
		}
		g.padB = p[:S]
		g.outPos = make([]int, S)
		for i := range g.outPos {
			span := g.dil[i]*(g.block[i]-1) + 1
			o := (g.image[i]+p[i]+p[i+S]-span)/g.stride[i] + 1
			if g.image[i]+p[i]+p[i+S] < span {
				o = 0
			}
			g.outPos[i] = o
		}
		B, L := prod(g.block), prod(g.outPos)
		s := x.Shape()
		if len(s) != 3 || B == 0 || s[1]%B != 0 || s[2] != L {
			return nil, fmt.Errorf("input shape %v must be (N, C*%d, %d) for block %v and image %v", s, B, L, g.block, g.image)
		}
		N, C := s[0], s[1]/B
		shape := append([]int{N, C}, g.image...)
		d := x.DType()
		if d != tensor.Float32 && d != tensor.Float64 {
			if x, err = converted(c, x, tensor.Float64); err != nil {
				return nil, err
			}
		}
		y, err := c.New(x.DType(), shape...)
		if err != nil {
			return nil, err
		}
		imgSize := prod(g.image)
		if x.DType() == tensor.Float32 {
			err = col2imAccumulate(c, tensor.Data[float32](y), tensor.Data[float32](x), N*C, B, L, g, imgSize)
		} else {
			err = col2imAccumulate(c, tensor.Data[float64](y), tensor.Data[float64](x), N*C, B, L, g, imgSize)
		}
		if err != nil {
			return nil, err
		}
		return result{c}.one(converted(c, y, d))
	}}, nil
}
