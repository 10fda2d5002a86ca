package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func scatterOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "Scatter", "Scatter (deprecated, = ScatterElements without reduction): y = data; y[..., indices[i...], ...] = updates[i...] along axis.",
			[]int{9, 11}, ops.InferSameAs(0), compileScatterElements),
		ops.Versions("", "ScatterElements", "ScatterElements: y = data; y[..., indices[i...], ...] (op)= updates[i...] along axis, op = reduction (none, add, mul, max, min).",
			[]int{11, 13, 16, 18}, ops.InferSameAs(0), compileScatterElements),
		ops.Versions("", "ScatterND", "ScatterND: y = data; y[indices[j..., :], ...] (op)= updates[j..., ...], op = reduction (none, add, mul, max, min).",
			[]int{11, 13, 16, 18}, ops.InferSameAs(0), compileScatterND),
		ops.Versions("", "TensorScatter", "TensorScatter: present = past_cache with update written along axis at write_indices[batch] (+ s, modulo the axis size when mode is circular).",
			[]int{24}, ops.InferSameAs(0), compileTensorScatter),
	)
}

// Scatter reductions.
const (
	reduceNone = iota
	reduceAdd
	reduceMul
	reduceMax
	reduceMin
)

func reduction(n *ops.Node) (int, error) {
	r := n.String("reduction", "none")
	if err := n.Err(); err != nil {
		return 0, err
	}
	switch r {
	case "none":
		return reduceNone, nil
	case "add":
		return reduceAdd, nil
	case "mul":
		return reduceMul, nil
	case "max":
		return reduceMax, nil
	case "min":
		return reduceMin, nil
	}
	return 0, fmt.Errorf("reduction %q must be none, add, mul, max or min", r)
}

// combiner applies a scatter reduction: dst[offs[i]+j] op= src[i*n+j].
type combiner interface {
	combine(dst, src any, offs []int, n int, mode int)
}

type numOf[T tensor.Number] struct{}

func (numOf[T]) combine(dst, src any, offs []int, n int, mode int) {
	d, s := dst.([]T), src.([]T)
	for i, o := range offs {
		dd, ss := d[o:o+n], s[i*n:(i+1)*n]
		for j, v := range ss {
			switch mode {
			case reduceAdd:
				dd[j] += v
			case reduceMul:
				dd[j] *= v
			case reduceMax:
				dd[j] = max(dd[j], v)
			case reduceMin:
				dd[j] = min(dd[j], v)
			}
		}
	}
}

// halfOf combines 16-bit floats in float32, rounding after every step as
// arithmetic in the narrow type does.
type halfOf[T tensor.Float16Bits | tensor.BFloat16Bits] struct {
	widen  func(T) float32
	narrow func(float32) T
}

func (h halfOf[T]) combine(dst, src any, offs []int, n int, mode int) {
	d, s := dst.([]T), src.([]T)
	for i, o := range offs {
		for j := 0; j < n; j++ {
			a, b := h.widen(d[o+j]), h.widen(s[i*n+j])
			switch mode {
			case reduceAdd:
				a += b
			case reduceMul:
				a *= b
			case reduceMax:
				a = max(a, b)
			case reduceMin:
				a = min(a, b)
			}
			d[o+j] = h.narrow(a)
		}
	}
}

func combinerFor(d tensor.DType) (combiner, error) {
	switch d {
	case tensor.Float32:
		return numOf[float32]{}, nil
	case tensor.Float64:
		return numOf[float64]{}, nil
	case tensor.Int8:
		return numOf[int8]{}, nil
	case tensor.Int16:
		return numOf[int16]{}, nil
	case tensor.Int32:
		return numOf[int32]{}, nil
	case tensor.Int64:
		return numOf[int64]{}, nil
	case tensor.Uint8:
		return numOf[uint8]{}, nil
	case tensor.Uint16:
		return numOf[uint16]{}, nil
	case tensor.Uint32:
		return numOf[uint32]{}, nil
	case tensor.Uint64:
		return numOf[uint64]{}, nil
	case tensor.Float16:
		return halfOf[tensor.Float16Bits]{tensor.Float16Bits.Float32, tensor.Float16FromFloat32}, nil
	case tensor.BFloat16:
		return halfOf[tensor.BFloat16Bits]{tensor.BFloat16Bits.Float32, tensor.BFloat16FromFloat32}, nil
	}
	return nil, fmt.Errorf("scatter reductions do not support %v", d)
}

// scatterInto returns a copy of data with updates written (or combined) as
// runs of n elements at offs.
func scatterInto(c *ctx, data, updates *tensor.Tensor, offs []int, n, mode int) (*tensor.Tensor, error) {
	if updates.DType() != data.DType() {
		return nil, fmt.Errorf("updates are %v, data is %v; they must match", updates.DType(), data.DType())
	}
	if updates.Len() != len(offs)*n {
		return nil, fmt.Errorf("updates have %d elements, the indices address %d", updates.Len(), len(offs)*n)
	}
	out, err := copyOf(c, data, data.Shape()...)
	if err != nil {
		return nil, err
	}
	if n == 0 || len(offs) == 0 {
		return out, nil
	}
	if mode == reduceNone {
		k, _ := kitFor(data.DType())
		k.put(out.Raw(), updates.Raw(), offs, n)
		return out, nil
	}
	cb, err := combinerFor(data.DType())
	if err != nil {
		return nil, err
	}
	cb.combine(out.Raw(), updates.Raw(), offs, n, mode)
	return out, nil
}

func compileScatterElements(n *ops.Node) (*ops.Kernel, error) {
	mode, err := reduction(n)
	if err != nil {
		return nil, err
	}
	return compileIndexed(n, 3, func(c *ops.Ctx, in []*tensor.Tensor, a int, idx []int64) (*tensor.Tensor, error) {
		if !tensor.SameShape(in[1].Shape(), in[2].Shape()) {
			return nil, fmt.Errorf("updates shape %v differs from indices shape %v", in[2].Shape(), in[1].Shape())
		}
		offs, err := elementOffsets(in[0].Shape(), in[1].Shape(), idx, a)
		if err != nil {
			return nil, err
		}
		return scatterInto(c, in[0], in[2], offs, 1, mode)
	})
}

func compileScatterND(n *ops.Node) (*ops.Kernel, error) {
	mode, err := reduction(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 3, 3); err != nil {
			return nil, err
		}
		x, upd := in[0], in[2]
		idx, err := intsOf(in[1], "indices")
		if err != nil {
			return nil, err
		}
		offs, grid, run, err := ndOffsets(x.Shape(), in[1].Shape(), idx, 0)
		if err != nil {
			return nil, err
		}
		k := in[1].Shape()[in[1].Rank()-1]
		want := append(append([]int{}, grid...), x.Shape()[k:]...)
		if !tensor.SameShape(upd.Shape(), want) {
			return nil, fmt.Errorf("updates shape %v, want %v (indices.shape[:-1] + data.shape[%d:])", upd.Shape(), want, k)
		}
		return result{c}.one(scatterInto(c, x, upd, offs, run, mode))
	}}, nil
}

func compileTensorScatter(n *ops.Node) (*ops.Kernel, error) {
	axis := n.Int("axis", -2)
	mode := n.String("mode", "linear")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if mode != "linear" && mode != "circular" {
		return nil, fmt.Errorf("mode %q must be linear or circular", mode)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 3); err != nil {
			return nil, err
		}
		past, upd := in[0], in[1]
		ps, us := past.Shape(), upd.Shape()
		a, err := ops.NormAxis(axis, len(ps))
		if err != nil {
			return nil, err
		}
		if a == 0 {
			return nil, fmt.Errorf("axis %d is the batch axis; the sequence axis must come after it", axis)
		}
		if len(us) != len(ps) {
			return nil, fmt.Errorf("update has rank %d, past_cache rank %d", len(us), len(ps))
		}
		for k := range ps {
			if k != a && us[k] != ps[k] || k == a && us[k] > ps[k] {
				return nil, fmt.Errorf("update shape %v does not fit past_cache shape %v on axis %d", us, ps, a)
			}
		}
		batch := ps[0]
		write := make([]int64, batch)
		if len(in) > 2 && in[2] != nil {
			w, err := intsOf(in[2], "write_indices")
			if err != nil {
				return nil, err
			}
			if len(w) != batch {
				return nil, fmt.Errorf("write_indices has %d values, batch size is %d", len(w), batch)
			}
			write = w
		}
		// past is (outer, maxSeq, inner), update (outer, seq, inner); the
		// batch of outer row o is o / (outer / batch).
		outer, inner := prod(ps[:a]), prod(ps[a+1:])
		maxSeq, seq := int64(ps[a]), us[a]
		perBatch := max(outer/max(batch, 1), 1)
		offs := make([]int, 0, outer*seq)
		for o := 0; o < outer; o++ {
			w := write[o/perBatch]
			for s := 0; s < seq; s++ {
				p := w + int64(s)
				if mode == "circular" && maxSeq > 0 {
					p = ((p % maxSeq) + maxSeq) % maxSeq
				}
				if p < 0 || p >= maxSeq {
					return nil, fmt.Errorf("write index %d + %d is out of range [0, %d) of axis %d", w, s, maxSeq, a)
				}
				offs = append(offs, (o*int(maxSeq)+int(p))*inner)
			}
		}
		return result{c}.one(scatterInto(c, past, upd, offs, inner, reduceNone))
	}}, nil
}
