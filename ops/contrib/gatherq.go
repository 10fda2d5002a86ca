package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

// GatherBlockQuantized (int4 LLM exports' quantized embedding tables):
// Gather along gather_axis of dequant(data) = (q - zero_point) * scale,
// with scales and zero points per block of block_size along
// quantize_axis. data is int4, uint4 or uint8 (bits = 4: two values a
// byte, low nibble first, along the last axis; bits = 8: one). Zero points
// default to 0 for int4 and to the midpoint of unsigned types.
func gatherQuantizedOps() []*ops.Op {
	return ops.Versions(ms, "GatherBlockQuantized", "Y = Gather((q - zero_point) * scale, indices), blockwise scales along quantize_axis", []int{1},
		nil, compileGatherQuantized)
}

type gatherQuantized struct {
	gatherAxis, quantAxis int64
	block, bits           int
}

func compileGatherQuantized(n *ops.Node) (*ops.Kernel, error) {
	p := &gatherQuantized{
		gatherAxis: n.Int("gather_axis", 0),
		quantAxis:  n.Int("quantize_axis", 1),
		block:      int(n.Int("block_size", 128)),
		bits:       int(n.Int("bits", 4)),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if p.block < 16 || p.block&(p.block-1) != 0 {
		return nil, fmt.Errorf("block_size %d, want a power of two >= 16", p.block)
	}
	if p.bits != 4 && p.bits != 8 {
		return nil, fmt.Errorf("bits %d, want 4 or 8", p.bits)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 3, 4); err != nil {
			return nil, err
		}
		if err := floatio.Check("scales", in[2]); err != nil {
			return nil, err
		}
		if floatio.Wide(in[2].DType()) {
			return runGatherQuantized[float64](c, p, in)
		}
		return runGatherQuantized[float32](c, p, in)
	}}, nil
}

// quantValues returns the logical shape and integer values of GatherBlockQuantized's
// data (or zero points), and the midpoint zero point of its type.
func quantValues(name string, t *tensor.Tensor, bits int) ([]int, []int32, int32, error) {
	sh := append([]int{}, t.Shape()...)
	switch d := t.Raw().(type) {
	case []tensor.I4:
		v := make([]int32, len(d))
		for i, x := range d {
			v[i] = int32(x)
		}
		return sh, v, 0, nil
	case []tensor.U4:
		v := make([]int32, len(d))
		for i, x := range d {
			v[i] = int32(x)
		}
		return sh, v, 8, nil
	case []uint8:
		if bits == 8 {
			v := make([]int32, len(d))
			for i, x := range d {
				v[i] = int32(x)
			}
			return sh, v, 128, nil
		}
		if len(sh) == 0 {
			return nil, nil, 0, fmt.Errorf("%s is a scalar; packed 4-bit values need an axis", name)
		}
		sh[len(sh)-1] *= 2
		v := make([]int32, 2*len(d))
		for i, x := range d {
			v[2*i], v[2*i+1] = int32(x&0xf), int32(x>>4)
		}
		return sh, v, 8, nil
	}
	return nil, nil, 0, fmt.Errorf("%s is %v, want int4, uint4 or uint8", name, t.DType())
}

// runGatherQuantized: data (d0, ..., dr) logical; scales the same with
// dimension quantize_axis ceil(d/block_size); output data.shape[:g] +
// indices.shape + data.shape[g+1:].
func runGatherQuantized[F tensor.Float](c *ops.Ctx, p *gatherQuantized, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	ds, q, mid, err := quantValues("data", in[0], p.bits)
	if err != nil {
		return nil, err
	}
	r := len(ds)
	g, err := ops.NormAxis(p.gatherAxis, r)
	if err != nil {
		return nil, fmt.Errorf("gather_axis: %w", err)
	}
	qa, err := ops.NormAxis(p.quantAxis, r)
	if err != nil {
		return nil, fmt.Errorf("quantize_axis: %w", err)
	}
	ss := append([]int{}, ds...)
	ss[qa] = (ds[qa] + p.block - 1) / p.block
	if !tensor.SameShape(in[2].Shape(), ss) {
		return nil, fmt.Errorf("scales have shape %v, want %v", in[2].Shape(), ss)
	}
	scales, err := floatio.Load[F](in[2])
	if err != nil {
		return nil, err
	}
	var zero []int32
	if zt := opt(in, 3); zt != nil {
		zs, zv, _, err := quantValues("zero_points", zt, p.bits)
		if err != nil {
			return nil, err
		}
		if zt.DType() == tensor.Uint8 && p.bits == 4 && zs[len(zs)-1] == ss[len(ss)-1]+1 {
			zs[len(zs)-1]-- // an odd count padded to whole bytes
			zv = trimRows(zv, zs[len(zs)-1]+1, zs[len(zs)-1])
		}
		if !tensor.SameShape(zs, ss) {
			return nil, fmt.Errorf("zero_points have shape %v, want %v", zs, ss)
		}
		zero = zv
	}
	idx, err := ops.Ints64(in[1])
	if err != nil {
		return nil, fmt.Errorf("indices: %w", err)
	}
	for i, v := range idx {
		if v < -int64(ds[g]) || v >= int64(ds[g]) {
			return nil, fmt.Errorf("indices value %d out of range [-%d, %d)", v, ds[g], ds[g])
		}
		if v < 0 {
			idx[i] = v + int64(ds[g])
		}
	}
	outer, inner := 1, 1
	for _, d := range ds[:g] {
		outer *= d
	}
	for _, d := range ds[g+1:] {
		inner *= d
	}
	ysh := append(append(append([]int{}, ds[:g]...), in[1].Shape()...), ds[g+1:]...)
	y, err := floatio.New[F](c, in[2].DType(), ysh...)
	if err != nil {
		return nil, err
	}
	dst := tensor.Strides(ds)
	sst := tensor.Strides(ss)
	// value returns the dequantized element at flat data index i.
	coord := make([]int, r)
	value := func(i int) F {
		rem := i
		si := 0
		for d := 0; d < r; d++ {
			coord[d] = rem / dst[d]
			rem %= dst[d]
			cd := coord[d]
			if d == qa {
				cd /= p.block
			}
			si += cd * sst[d]
		}
		z := mid
		if zero != nil {
			z = zero[si]
		}
		return F(float64(q[i]-z) * float64(scales[si]))
	}
	o := 0
	for a := 0; a < outer; a++ {
		for _, ix := range idx {
			base := (a*ds[g] + int(ix)) * inner
			for j := 0; j < inner; j++ {
				y.Buf[o] = value(base + j)
				o++
			}
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}

// trimRows drops the last value of each row of width w (keeping keep).
func trimRows(v []int32, w, keep int) []int32 {
	out := make([]int32, 0, len(v)/w*keep)
	for i := 0; i+w <= len(v); i += w {
		out = append(out, v[i:i+keep]...)
	}
	return out
}
