package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func gatherOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "Gather", "Gather: y[i..., j..., k...] = x[i..., indices[j...], k...] along axis (negative indices count from the end).",
			[]int{1, 11, 13}, inferGather, compileGather),
		ops.Versions("", "GatherElements", "GatherElements: y[i_0, ..., i_r] = x[i_0, ..., indices[i_0, ..., i_r], ..., i_r] with the index replacing position axis.",
			[]int{11, 13}, inferGatherElements, compileGatherElements),
		ops.Versions("", "GatherND", "GatherND: y[b..., j...] = x[b..., indices[b..., j..., :], ...] (the last index dimension addresses leading data axes after batch_dims).",
			[]int{11, 12, 13}, inferDTypeOf(0, false), compileGatherND),
	)
}

// normIndex maps an index into [0, dim), counting negative values from the end.
func normIndex(v int64, dim int, what string) (int, error) {
	if v < -int64(dim) || v >= int64(dim) {
		return 0, fmt.Errorf("%s value %d out of range [-%d, %d)", what, v, dim, dim)
	}
	if v < 0 {
		v += int64(dim)
	}
	return int(v), nil
}

func gatherShape(data, ind []int, a int) []int {
	return gatherShapeTo(make([]int, 0, len(data)+len(ind)-1), data, ind, a)
}

// gatherShapeTo is gatherShape appending to dst.
func gatherShapeTo(dst, data, ind []int, a int) []int {
	dst = append(dst, data[:a]...)
	dst = append(dst, ind...)
	return append(dst, data[a+1:]...)
}

// compileIndexed compiles an op with an axis attribute and inputs (data,
// indices, ...): run gets the normalized axis and the index values.
func compileIndexed(n *ops.Node, nin int, run func(c *ops.Ctx, in []*tensor.Tensor, a int, idx []int64) (*tensor.Tensor, error)) (*ops.Kernel, error) {
	axis := n.Int("axis", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, nin, nin); err != nil {
			return nil, err
		}
		a, err := ops.NormAxis(axis, in[0].Rank())
		if err != nil {
			return nil, err
		}
		idx, err := intsView(in[1], "indices")
		if err != nil {
			return nil, err
		}
		return result{c}.one(run(c, in, a, idx))
	}}, nil
}

func compileGather(n *ops.Node) (*ops.Kernel, error) {
	return compileIndexed(n, 2, func(c *ops.Ctx, in []*tensor.Tensor, a int, idx []int64) (*tensor.Tensor, error) {
		d := in[0].Shape()[a]
		p := borrowInts(len(idx))
		defer returnInts(p)
		rel := *p
		for j, v := range idx {
			var err error
			if rel[j], err = normIndex(v, d, "indices"); err != nil {
				return nil, err
			}
		}
		return takeAlong(c, in[0], a, rel, in[1].Shape())
	})
}

// takeAlong selects positions rel (in range) of axis a of x; the selection
// has shape relShape, which replaces axis a in the output shape.
func takeAlong(c *ctx, x *tensor.Tensor, a int, rel []int, relShape []int) (*tensor.Tensor, error) {
	var buf [ops.MaxAllocRank]int
	shape := gatherShapeTo(buf[:0], x.Shape(), relShape, a)
	if err := checkSize(c, x.DType(), shape); err != nil {
		return nil, err
	}
	// x is (outer, d, inner); y is (outer, len(rel), inner)
	d := x.Shape()[a]
	outer, inner := prod(x.Shape()[:a]), prod(x.Shape()[a+1:])
	if inner == 0 || outer == 0 {
		return c.New(x.DType(), shape...)
	}
	p := borrowInts(outer * len(rel))
	defer returnInts(p)
	starts := *p
	for o := 0; o < outer; o++ {
		for j, r := range rel {
			starts[o*len(rel)+j] = (o*d + r) * inner
		}
	}
	return gather(c, x, shape, starts, inner, nil)
}

func inferGather(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("gather needs 2 inputs")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if !in[0].HasShape || !in[1].HasShape {
		return []tensor.Type{t}, nil
	}
	a, err := ops.NormAxis(n.Int("axis", 0), len(in[0].Shape))
	if err != nil {
		return nil, err
	}
	s := append([]tensor.Dim{}, in[0].Shape[:a]...)
	s = append(s, in[1].Shape...)
	s = append(s, in[0].Shape[a+1:]...)
	return []tensor.Type{shapeType(in[0].DType, s)}, nil
}

// elementOffsets returns, for every element of an index tensor of shape
// ishape, the flat offset into a tensor of shape dshape where position a is
// replaced by the (normalized) index value. Index dimensions other than a
// must not exceed the data's.
func elementOffsets(dshape, ishape []int, idx []int64, a int) ([]int, error) {
	if len(ishape) != len(dshape) {
		return nil, fmt.Errorf("indices have rank %d, data has rank %d; they must match", len(ishape), len(dshape))
	}
	for k := range ishape {
		if k != a && ishape[k] > dshape[k] {
			return nil, fmt.Errorf("indices shape %v exceeds data shape %v at axis %d", ishape, dshape, k)
		}
	}
	st := tensor.Strides(dshape)
	offs := make([]int, len(idx))
	ctr := make([]int, len(ishape))
	base := 0 // offset of ctr with the axis coordinate left out
	d := dshape[a]
	for i, v := range idx {
		r, err := normIndex(v, d, "indices")
		if err != nil {
			return nil, err
		}
		offs[i] = base + r*st[a]
		for k := len(ishape) - 1; k >= 0; k-- {
			ctr[k]++
			if k != a {
				base += st[k]
			}
			if ctr[k] < ishape[k] {
				break
			}
			if k != a {
				base -= st[k] * ishape[k]
			}
			ctr[k] = 0
		}
	}
	return offs, nil
}

func compileGatherElements(n *ops.Node) (*ops.Kernel, error) {
	return compileIndexed(n, 2, func(c *ops.Ctx, in []*tensor.Tensor, a int, idx []int64) (*tensor.Tensor, error) {
		offs, err := elementOffsets(in[0].Shape(), in[1].Shape(), idx, a)
		if err != nil {
			return nil, err
		}
		return gather(c, in[0], in[1].Shape(), offs, 1, nil)
	})
}

func inferGatherElements(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("gatherelements needs 2 inputs")
	}
	t := in[1]
	t.DType = in[0].DType
	return []tensor.Type{t}, nil
}

// ndOffsets resolves GatherND/ScatterND index tuples: for data of shape
// dshape and indices of shape ishape (last dimension k), it returns the
// flat offset of every tuple's slice, the shape of the tuple grid and the
// slice length. The first b dimensions are batch dimensions shared by both.
func ndOffsets(dshape, ishape []int, idx []int64, b int) (offs []int, grid []int, run int, err error) {
	q, r := len(ishape), len(dshape)
	if q < 1 {
		return nil, nil, 0, fmt.Errorf("indices must have rank >= 1")
	}
	if b < 0 || b >= q || b >= r {
		return nil, nil, 0, fmt.Errorf("batch_dims %d must be less than the ranks of data (%d) and indices (%d)", b, r, q)
	}
	for i := 0; i < b; i++ {
		if dshape[i] != ishape[i] {
			return nil, nil, 0, fmt.Errorf("batch dimension %d differs: data %v, indices %v", i, dshape, ishape)
		}
	}
	k := ishape[q-1]
	if k < 0 || b+k > r {
		return nil, nil, 0, fmt.Errorf("index tuples of length %d address more than the %d non-batch data axes", k, r-b)
	}
	st := tensor.Strides(dshape)
	run = prod(dshape[b+k:])
	batch := prod(dshape[:b])
	batchSize := prod(dshape[b:])
	tuples := len(idx) / max(k, 1)
	if k == 0 {
		tuples = prod(ishape[:q-1])
	}
	perBatch := 1
	if batch > 0 {
		perBatch = tuples / batch
	}
	offs = make([]int, tuples)
	for t := range offs {
		o := (t / max(perBatch, 1)) * batchSize
		for j := 0; j < k; j++ {
			v, err := normIndex(idx[t*k+j], dshape[b+j], "indices")
			if err != nil {
				return nil, nil, 0, err
			}
			o += v * st[b+j]
		}
		offs[t] = o
	}
	return offs, ishape[:q-1], run, nil
}

func compileGatherND(n *ops.Node) (*ops.Kernel, error) {
	b := n.Int("batch_dims", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		x := in[0]
		idx, err := intsOf(in[1], "indices")
		if err != nil {
			return nil, err
		}
		ishape := in[1].Shape()
		if len(ishape) > 0 && ishape[len(ishape)-1] > x.Rank() {
			return nil, fmt.Errorf("index tuples of length %d exceed data rank %d", ishape[len(ishape)-1], x.Rank())
		}
		offs, grid, run, err := ndOffsets(x.Shape(), ishape, idx, int(b))
		if err != nil {
			return nil, err
		}
		k := ishape[len(ishape)-1]
		shape := append(append([]int{}, grid...), x.Shape()[int(b)+k:]...)
		if err := checkSize(c, x.DType(), shape); err != nil {
			return nil, err
		}
		if run == 0 {
			return result{c}.one(c.New(x.DType(), shape...))
		}
		return result{c}.one(gather(c, x, shape, offs, run, nil))
	}}, nil
}
