package reduce

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// ArgMax is the int64 index of the largest element along axis (the first
// occurrence, or the last with select_last_index; NaN counts as largest).
var ArgMax = argOps("ArgMax", "y = index of max(x) along axis", true)

// ArgMin is the int64 index of the smallest element along axis (the first
// occurrence, or the last with select_last_index; NaN counts as smallest).
var ArgMin = argOps("ArgMin", "y = index of min(x) along axis", false)

func argOps(typ, doc string, isMax bool) []*ops.Op {
	return ops.Versions("", typ, doc, []int{1, 11, 12, 13}, axisInfer(tensor.Int64, "axis", 0, true),
		func(n *ops.Node) (*ops.Kernel, error) {
			axis := n.Int("axis", 0)
			keep := n.Int("keepdims", 1) != 0
			last := n.Int("select_last_index", 0) != 0
			if err := n.Err(); err != nil {
				return nil, err
			}
			return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
				if err := ops.Want(in, 1, 1); err != nil {
					return nil, err
				}
				x := in[0]
				a, outer, size, inner, err := axisDims(x.Shape(), axis)
				if err != nil {
					return nil, err
				}
				if size == 0 {
					return nil, fmt.Errorf("axis %d has size 0: no %s of an empty set", a, typ)
				}
				red := make([]bool, x.Rank())
				red[a] = true
				out, err := c.New(tensor.Int64, reducedShape(x.Shape(), red, keep)...)
				if err != nil {
					return nil, err
				}
				idx := tensor.Data[int64](out)
				xs, err := canonical(x)
				if err != nil {
					return nil, err
				}
				switch v := xs.(type) {
				case []float32:
					argReduce(v, idx, outer, size, inner, isMax, last)
				case []float64:
					argReduce(v, idx, outer, size, inner, isMax, last)
				case []int64:
					argReduce(v, idx, outer, size, inner, isMax, last)
				case []uint64:
					argReduce(v, idx, outer, size, inner, isMax, last)
				default:
					return nil, fmt.Errorf("unsupported input dtype %v", x.DType())
				}
				return []*tensor.Tensor{out}, nil
			}}, nil
		})
}

// better reports whether v replaces the current best b: strictly better, or
// equal with last set. NaN beats any number (numpy's argmax/argmin).
func better[T tensor.Number](v, b T, isMax, last bool) bool {
	switch {
	case b != b:
		return last && v != v
	case v != v:
		return true
	case v == b:
		return last
	case isMax:
		return v > b
	}
	return v < b
}

// argReduce writes into idx (outer, inner) the index along n of x (outer, n, inner).
func argReduce[T tensor.Number](x []T, idx []int64, outer, n, inner int, isMax, last bool) {
	best := make([]T, inner)
	for o := 0; o < outer; o++ {
		base := o * n * inner
		id := idx[o*inner : (o+1)*inner]
		copy(best, x[base:base+inner])
		for j := range id {
			id[j] = 0
		}
		for i := 1; i < n; i++ {
			for j, v := range x[base+i*inner : base+(i+1)*inner] {
				if better(v, best[j], isMax, last) {
					best[j], id[j] = v, int64(i)
				}
			}
		}
	}
}
