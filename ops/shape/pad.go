package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func padOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "Pad", "Pad: y = x with pads[k] elements before and pads[k+r] after axis k (negative pads crop), filled per mode: constant value, reflect, edge or wrap.",
			[]int{1, 2, 11, 13, 18, 19, 21, 23, 24, 25}, inferDTypeOf(0, true), compilePad),
		ops.Versions("", "CenterCropPad", "CenterCropPad: y = x center-cropped or zero-padded on the listed axes to shape (crop starts at (d-s)/2, padding before is (s-d)/2).",
			[]int{18}, inferDTypeOf(0, true), compileCenterCropPad),
	)
}

// padMap returns, for every output position of an axis of size d padded by
// (before, after), the input position it reads, or -1 for the fill value.
func padMap(d, before, after int, mode string) ([]int, error) {
	m := make([]int, d+before+after)
	for i := range m {
		j := i - before
		if j >= 0 && j < d {
			m[i] = j
			continue
		}
		switch {
		case mode == "constant":
			j = -1
		case d == 0:
			return nil, fmt.Errorf("mode %s cannot pad an empty axis", mode)
		case mode == "edge":
			j = min(max(j, 0), d-1)
		case mode == "wrap":
			j = ((j % d) + d) % d
		case mode == "reflect":
			if d == 1 {
				j = 0
				break
			}
			p := 2 * (d - 1)
			j = ((j % p) + p) % p
			if j >= d {
				j = p - j
			}
		}
		m[i] = j
	}
	return m, nil
}

// padTensor pads (or, with negative pads, crops) every axis of x.
func padTensor(c *ctx, x *tensor.Tensor, before, after []int, mode string, fill *tensor.Tensor) (*tensor.Tensor, error) {
	r := x.Rank()
	shape := make([]int, r)
	for k, d := range x.Shape() {
		shape[k] = d + before[k] + after[k]
		if shape[k] < 0 {
			return nil, fmt.Errorf("axis %d: pads (%d, %d) remove more than the %d elements of the axis", k, before[k], after[k], d)
		}
	}
	if err := checkSize(c, x.DType(), shape); err != nil {
		return nil, err
	}
	total := prod(shape)
	if total == 0 {
		return c.New(x.DType(), shape...)
	}
	maps := make([][]int, r)
	for k, d := range x.Shape() {
		var err error
		if maps[k], err = padMap(d, before[k], after[k], mode); err != nil {
			return nil, fmt.Errorf("axis %d: %w", k, err)
		}
	}
	// y is gathered element by element: starts[i] is the flat input index
	// of output element i, -1 where the fill value goes.
	st := tensor.Strides(x.Shape())
	starts := make([]int, total)
	{
		ctr := make([]int, r)
		for i := range starts {
			if i&0xffff == 0xffff {
				if err := c.Check(); err != nil {
					return nil, err
				}
			}
			o := 0
			for k := 0; k < r; k++ {
				j := maps[k][ctr[k]]
				if j < 0 {
					o = -1
					break
				}
				o += j * st[k]
			}
			starts[i] = o
			for k := r - 1; k >= 0; k-- {
				if ctr[k]++; ctr[k] < shape[k] {
					break
				}
				ctr[k] = 0
			}
		}
	}
	if fill == nil {
		var err error
		if fill, err = zeroOf(x.DType()); err != nil {
			return nil, err
		}
	}
	return gather(c, x, shape, starts, 1, fill)
}

func compilePad(n *ops.Node) (*ops.Kernel, error) {
	mode := n.String("mode", "constant")
	var attrPads []int64
	var value float32
	if n.Opset < 11 {
		name := "pads"
		if n.Opset < 2 {
			name = "paddings"
		}
		attrPads = n.Ints(name, nil)
		value = n.Float("value", 0)
		if attrPads == nil {
			return nil, fmt.Errorf("pad needs the %s attribute before opset 11", name)
		}
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	switch mode {
	case "constant", "reflect", "edge":
	case "wrap":
		if n.Opset < 19 {
			return nil, fmt.Errorf("mode wrap needs opset 19")
		}
	default:
		return nil, fmt.Errorf("mode %q must be constant, reflect, edge or wrap", mode)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 4); err != nil {
			return nil, err
		}
		x := in[0]
		pads, axes := attrPads, []int64(nil)
		var fill *tensor.Tensor
		var err error
		if n := len(in); attrPads == nil {
			if n < 2 || in[1] == nil {
				return nil, fmt.Errorf("pads input is required")
			}
			if pads, err = intsOf(in[1], "pads"); err != nil {
				return nil, err
			}
			if n > 2 && in[2] != nil && in[2].Len() > 0 {
				fill = in[2]
			}
			if n > 3 && in[3] != nil {
				if axes, err = intsOf(in[3], "axes"); err != nil {
					return nil, err
				}
			}
		} else if value != 0 {
			if fill, err = valueOf(x.DType(), float64(value)); err != nil {
				return nil, err
			}
		}
		before, after, err := padAmounts(pads, axes, x.Rank())
		if err != nil {
			return nil, err
		}
		return result{c}.one(padTensor(c, x, before, after, mode, fill))
	}}, nil
}

// padAmounts splits pads [b_0, ..., b_k, e_0, ..., e_k] for the listed axes
// (all axes when nil) into per-axis amounts.
func padAmounts(pads, axes []int64, r int) ([]int, []int, error) {
	if axes == nil {
		axes = make([]int64, r)
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	ax, err := normAxes(axes, r)
	if err != nil {
		return nil, nil, err
	}
	if len(pads) != 2*len(ax) {
		return nil, nil, fmt.Errorf("pads has %d values, want %d (2 per padded axis)", len(pads), 2*len(ax))
	}
	before, after := make([]int, r), make([]int, r)
	for i, a := range ax {
		b, e := pads[i], pads[i+len(ax)]
		if b < -maxDim || b > maxDim || e < -maxDim || e > maxDim {
			return nil, nil, fmt.Errorf("pads %v: value out of range", pads)
		}
		before[a], after[a] = int(b), int(e)
	}
	return before, after, nil
}

func compileCenterCropPad(n *ops.Node) (*ops.Kernel, error) {
	axes := n.Ints("axes", nil)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		x := in[0]
		v, err := intsOf(in[1], "shape")
		if err != nil {
			return nil, err
		}
		target, err := dimsOf(v, "shape")
		if err != nil {
			return nil, err
		}
		ax := axes
		if ax == nil {
			ax = make([]int64, x.Rank())
			for i := range ax {
				ax[i] = int64(i)
			}
		}
		if len(target) != len(ax) {
			return nil, fmt.Errorf("shape has %d values for %d axes", len(target), len(ax))
		}
		norm, err := normAxes(ax, x.Rank())
		if err != nil {
			return nil, err
		}
		before, after := make([]int, x.Rank()), make([]int, x.Rank())
		for i, a := range norm {
			d, t := x.Shape()[a], target[i]
			if t < d { // crop, starting at (d-t)/2
				before[a] = -((d - t) / 2)
				after[a] = -(d - t) - before[a]
			} else { // pad, (t-d)/2 before
				before[a] = (t - d) / 2
				after[a] = t - d - before[a]
			}
		}
		return result{c}.one(padTensor(c, x, before, after, "constant", nil))
	}}, nil
}
