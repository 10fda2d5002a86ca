package reduce

import (
	"fmt"
	"slices"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TopK returns the k largest (or, with largest = 0, smallest) elements
// along axis and their int64 indices, sorted best first; equal values keep
// the lower index first, and NaN counts as larger than any number. k is an
// attribute in opset 1 and the second input from opset 10.
var TopK = ops.Versions("", "TopK", "Values, Indices = the k largest (smallest) elements along axis, best first",
	[]int{1, 10, 11, 24}, inferTopK, compileTopK)

func inferTopK(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	v := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	i := tensor.Type{Kind: tensor.KindTensor, DType: tensor.Int64}
	if in[0].HasShape {
		a, err := ops.NormAxis(n.Int("axis", -1), len(in[0].Shape))
		if err != nil {
			return nil, err
		}
		k := tensor.Dim{Size: -1}
		if n.Opset < 10 {
			k.Size = n.Int("k", -1)
		}
		v.HasShape, v.Shape = true, slices.Clone(in[0].Shape)
		v.Shape[a] = k
		i.HasShape, i.Shape = true, slices.Clone(v.Shape)
	}
	return []tensor.Type{v, i}, n.Err()
}

func compileTopK(n *ops.Node) (*ops.Kernel, error) {
	axis := n.Int("axis", -1)
	largest := n.Int("largest", 1) != 0
	kAttr := n.Int("k", -1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 2); err != nil {
			return nil, err
		}
		x := in[0]
		k := kAttr
		if len(in) > 1 && in[1] != nil {
			kv, err := ops.Ints64(in[1])
			if err != nil || len(kv) != 1 {
				return nil, fmt.Errorf("k must be a 1-element int64 tensor, got %v%v", in[1].DType(), in[1].Shape())
			}
			k = kv[0]
		}
		a, outer, size, inner, err := axisDims(x.Shape(), axis)
		if err != nil {
			return nil, err
		}
		if k < 0 || k > int64(size) {
			return nil, fmt.Errorf("k = %d is outside [0, %d] (the size of axis %d)", k, size, a)
		}
		shape := slices.Clone(x.Shape())
		shape[a] = int(k)
		vals, err := c.New(x.DType(), shape...)
		if err != nil {
			return nil, err
		}
		idx, err := c.New(tensor.Int64, shape...)
		if err != nil {
			return nil, err
		}
		sel := topkSel{outer: outer, n: size, inner: inner, k: int(k), largest: largest}
		id := tensor.Data[int64](idx)
		xs, vs, done, err := canonIO(x, vals)
		if err != nil {
			return nil, err
		}
		switch v := xs.(type) {
		case []float32:
			err = topk(c, sel, v, vs.([]float32), id)
		case []float64:
			err = topk(c, sel, v, vs.([]float64), id)
		case []int64:
			err = topk(c, sel, v, vs.([]int64), id)
		case []uint64:
			err = topk(c, sel, v, vs.([]uint64), id)
		default:
			err = fmt.Errorf("unsupported input dtype %v", x.DType())
		}
		done()
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{vals, idx}, nil
	}}, nil
}

type topkSel struct {
	outer, n, inner, k int
	largest            bool
}

// cmpNaNLast orders a before b when a < b, with NaN after every number.
func cmpNaNLast[T tensor.Number](a, b T) int {
	an, bn := a != a, b != b
	switch {
	case an || bn:
		if an == bn {
			return 0
		}
		if an {
			return 1
		}
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// topk selects along n of x (outer, n, inner) into vals and idx (outer, k, inner).
func topk[T tensor.Number](c *ops.Ctx, s topkSel, x, vals []T, idx []int64) error {
	if s.k == 0 {
		return nil
	}
	row := make([]T, s.n) // the current slice along n, gathered contiguously
	heap := make([]int, 0, s.k)
	for o := 0; o < s.outer; o++ {
		if err := c.Check(); err != nil {
			return err
		}
		for j := 0; j < s.inner; j++ {
			base := o*s.n*s.inner + j
			for i := range row {
				row[i] = x[base+i*s.inner]
			}
			heap = selectK(heap[:0], row, s.k, s.largest)
			slices.SortFunc(heap, func(a, b int) int { return rank(row, a, b, s.largest) })
			ob := o*s.k*s.inner + j
			for r, i := range heap {
				vals[ob+r*s.inner] = row[i]
				idx[ob+r*s.inner] = int64(i)
			}
		}
	}
	return nil
}

// rank is < 0 when candidate a ranks before b: a better value (larger when
// largest is set), then the lower index.
func rank[T tensor.Number](row []T, a, b int, largest bool) int {
	r := cmpNaNLast(row[a], row[b])
	if largest {
		r = -r
	}
	if r != 0 {
		return r
	}
	return a - b
}

// selectK returns the k best indices of row (unsorted) using a bounded
// heap whose root is the worst kept candidate: O(n log k).
func selectK[T tensor.Number](h []int, row []T, k int, largest bool) []int {
	down := func(i int) {
		for {
			w, l, r := i, 2*i+1, 2*i+2
			if l < len(h) && rank(row, h[l], h[w], largest) > 0 {
				w = l
			}
			if r < len(h) && rank(row, h[r], h[w], largest) > 0 {
				w = r
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for i, v := range row {
		if len(h) < k {
			h = append(h, i)
			for c := len(h) - 1; c > 0; { // sift up
				p := (c - 1) / 2
				if rank(row, h[c], h[p], largest) <= 0 {
					break
				}
				h[c], h[p] = h[p], h[c]
				c = p
			}
			continue
		}
		// Every kept index is below i, so a tie with the root keeps the root.
		d := cmpNaNLast(v, row[h[0]])
		if largest {
			d = -d
		}
		if d < 0 {
			h[0] = i
			down(0)
		}
	}
	return h
}
