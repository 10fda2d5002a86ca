package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func expandOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "Expand", "Expand: y = x broadcast (numpy rules) with shape; y.shape = broadcast(x.shape, shape).",
			[]int{8, 13}, inferDTypeOf(0, false), compileExpand),
		ops.Versions("", "Tile", "Tile: y[i_0, ..., i_r] = x[i_0 mod d_0, ..., i_r mod d_r], y.shape[k] = x.shape[k] * repeats[k].",
			[]int{1, 6, 13}, inferDTypeOf(0, true), compileTile),
	)
}

func compileExpand(n *ops.Node) (*ops.Kernel, error) {
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		v, err := intsView(in[1], "shape")
		if err != nil {
			return nil, err
		}
		var tbuf, sbuf, stbuf [ops.MaxAllocRank]int
		target, err := dimsTo(tbuf[:0], v, "shape")
		if err != nil {
			return nil, err
		}
		x := in[0]
		shape, err := tensor.BroadcastShapesTo(sbuf[:0], x.Shape(), target)
		if err != nil {
			return nil, err
		}
		return result{c}.one(stridedCopy(c, x, shape, 0, tensor.BroadcastStridesTo(stbuf[:0], x.Shape(), shape)))
	}}, nil
}

func compileTile(n *ops.Node) (*ops.Kernel, error) {
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 3); err != nil {
			return nil, err
		}
		x := in[0]
		reps, err := intsOf(in[1], "repeats")
		if err != nil {
			return nil, err
		}
		if len(in) > 2 && in[2] != nil { // Tile-1: (input, tiles, axis)
			return tile1(c, x, reps, in[2])
		}
		if len(reps) != x.Rank() {
			return nil, fmt.Errorf("repeats has %d values, the input has rank %d", len(reps), x.Rank())
		}
		r, err := dimsOf(reps, "repeats")
		if err != nil {
			return nil, err
		}
		return result{c}.one(tile(c, x, r))
	}}, nil
}

// tile repeats x r[k] times along every axis k.
func tile(c *ctx, x *tensor.Tensor, r []int) (*tensor.Tensor, error) {
	// y is x viewed as (r_0, d_0, r_1, d_1, ...) with stride 0 on the r_k
	st := tensor.Strides(x.Shape())
	shape := make([]int, 0, 2*len(r))
	strides := make([]int, 0, 2*len(r))
	final := make([]int, len(r))
	for k, d := range x.Shape() {
		shape = append(shape, r[k], d)
		strides = append(strides, 0, st[k])
	}
	y, err := stridedCopy(c, x, shape, 0, strides)
	if err != nil {
		return nil, err
	}
	for k, d := range x.Shape() {
		final[k] = r[k] * d
	}
	return view(y, final)
}

// tile1 is Tile-1: tiles copies along one axis.
func tile1(c *ctx, x *tensor.Tensor, tiles []int64, axisT *tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(tiles) != 1 {
		return nil, fmt.Errorf("tile-1 takes a scalar tiles input")
	}
	axis, err := scalarInt(axisT, "axis")
	if err != nil {
		return nil, err
	}
	a, err := ops.NormAxis(axis, x.Rank())
	if err != nil {
		return nil, err
	}
	r := make([]int, x.Rank())
	for i := range r {
		r[i] = 1
	}
	t, err := dimsOf(tiles, "tiles")
	if err != nil {
		return nil, err
	}
	r[a] = t[0]
	return result{c}.one(tile(c, x, r))
}
