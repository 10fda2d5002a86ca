package shape

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func uniqueOps() []*ops.Op {
	return ops.Versions("", "Unique", "Unique: Y = the distinct elements (or slices along axis) of X, sorted or in order of first occurrence; indices = first occurrences, inverse_indices maps X to Y, counts = occurrences.",
		[]int{11}, inferUnique, compileUnique)
}

// slicesCompare returns a comparison of slices j1, j2 of x viewed as
// (outer, d, inner) along the middle axis, lexicographic in (outer, inner).
func slicesCompare[T cmp.Ordered](x []T, outer, d, inner int) func(a, b int) int {
	return func(a, b int) int {
		for o := 0; o < outer; o++ {
			ra, rb := x[(o*d+a)*inner:(o*d+a+1)*inner], x[(o*d+b)*inner:(o*d+b+1)*inner]
			if c := slices.Compare(ra, rb); c != 0 {
				return c
			}
		}
		return 0
	}
}

func compareFor(c *ctx, x *tensor.Tensor, outer, d, inner int) (func(a, b int) int, error) {
	switch x.DType() {
	case tensor.Float32:
		return slicesCompare(tensor.Data[float32](x), outer, d, inner), nil
	case tensor.Float64:
		return slicesCompare(tensor.Data[float64](x), outer, d, inner), nil
	case tensor.Int8:
		return slicesCompare(tensor.Data[int8](x), outer, d, inner), nil
	case tensor.Int16:
		return slicesCompare(tensor.Data[int16](x), outer, d, inner), nil
	case tensor.Int32:
		return slicesCompare(tensor.Data[int32](x), outer, d, inner), nil
	case tensor.Int64:
		return slicesCompare(tensor.Data[int64](x), outer, d, inner), nil
	case tensor.Uint8:
		return slicesCompare(tensor.Data[uint8](x), outer, d, inner), nil
	case tensor.Uint16:
		return slicesCompare(tensor.Data[uint16](x), outer, d, inner), nil
	case tensor.Uint32:
		return slicesCompare(tensor.Data[uint32](x), outer, d, inner), nil
	case tensor.Uint64:
		return slicesCompare(tensor.Data[uint64](x), outer, d, inner), nil
	case tensor.String:
		return slicesCompare(tensor.Data[string](x), outer, d, inner), nil
	case tensor.Bool, tensor.Float16, tensor.BFloat16, tensor.Float8E4M3FN, tensor.Float8E4M3FNUZ,
		tensor.Float8E5M2, tensor.Float8E5M2FNUZ, tensor.Int4, tensor.Uint4:
		// compare by value in a wider type
		to := tensor.Float32
		if x.DType() == tensor.Bool || x.DType() == tensor.Int4 || x.DType() == tensor.Uint4 {
			to = tensor.Int16
		}
		w, err := converted(c, x, to)
		if err != nil {
			return nil, err
		}
		return compareFor(c, w, outer, d, inner)
	}
	return nil, fmt.Errorf("unique does not support %v", x.DType())
}

func compileUnique(n *ops.Node) (*ops.Kernel, error) {
	axis, hasAxis := n.Int("axis", 0), n.Has("axis")
	sorted := n.Int("sorted", 1) != 0
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x := in[0]
		a := 0
		var err error
		if hasAxis {
			if a, err = ops.NormAxis(axis, x.Rank()); err != nil {
				return nil, err
			}
		} else if x, err = view(x, []int{x.Len()}); err != nil {
			return nil, err
		}
		// x is (outer, d, inner); the items compared are its d slices
		s := x.Shape()
		outer, d, inner := prod(s[:a]), s[a], prod(s[a+1:])
		compare, err := compareFor(c, x, outer, d, inner)
		if err != nil {
			return nil, err
		}
		order := make([]int, d)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, compare)
		// group equal slices; a group's first member is its first occurrence
		var first, counts []int64
		inverse := make([]int64, d)
		group := make([]int, d)
		for i, j := range order {
			if i == 0 || compare(order[i-1], j) != 0 {
				first = append(first, int64(j))
				counts = append(counts, 0)
			}
			group[j] = len(first) - 1
			counts[len(counts)-1]++
		}
		rank := make([]int, len(first)) // output position of each group
		for g := range rank {
			rank[g] = g
		}
		if !sorted {
			byFirst := make([]int, len(first))
			for g := range byFirst {
				byFirst[g] = g
			}
			slices.SortFunc(byFirst, func(p, q int) int { return cmp.Compare(first[p], first[q]) })
			for pos, g := range byFirst {
				rank[g] = pos
			}
			f2, c2 := make([]int64, len(first)), make([]int64, len(first))
			for g, pos := range rank {
				f2[pos], c2[pos] = first[g], counts[g]
			}
			first, counts = f2, c2
		}
		for j := range inverse {
			inverse[j] = int64(rank[group[j]])
		}
		rel := make([]int, len(first))
		for i, f := range first {
			rel[i] = int(f)
		}
		y, err := takeAlong(c, x, a, rel, []int{len(rel)})
		if err != nil {
			return nil, err
		}
		res := []*tensor.Tensor{y}
		for _, v := range [][]int64{first, inverse, counts} {
			t, err := tensor.From([]int{len(v)}, v)
			if err != nil {
				return nil, err
			}
			res = append(res, t)
		}
		return res, nil
	}}, nil
}
