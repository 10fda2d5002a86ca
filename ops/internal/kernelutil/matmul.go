package kernelutil

import (
	"fmt"
	"slices"

	"github.com/gort-ml/gort/tensor"
)

// MatMulShape is the shape bookkeeping of numpy's matmul of A (..., M, K)
// and B (..., K, N): a 1-D A is read as (1, K) and a 1-D B as (K, 1), the
// added dimension being dropped from Out; the batch dimensions broadcast.
// It holds no slice of the shapes it was planned from, so it may be kept
// (Memo) while they change.
type MatMulShape struct {
	M, K, N        int
	ABatch, BBatch []int // each operand's own batch shape
	Batch          []int // broadcast batch shape
	Out            []int // the product's shape
}

// PlanMatMul plans the product of shapes sa and sb. It fails when either is
// a scalar, when the inner dimensions differ or when the batch dimensions
// do not broadcast.
func PlanMatMul(sa, sb []int) (*MatMulShape, error) {
	if len(sa) == 0 || len(sb) == 0 {
		return nil, fmt.Errorf("inputs must have rank >= 1, got A %v and B %v", sa, sb)
	}
	a, b := sa, sb
	if len(a) == 1 {
		a = []int{1, a[0]}
	}
	if len(b) == 1 {
		b = []int{b[0], 1}
	}
	p := &MatMulShape{M: a[len(a)-2], K: a[len(a)-1], N: b[len(b)-1]}
	if kb := b[len(b)-2]; kb != p.K {
		return nil, fmt.Errorf("inner dimensions differ: A %v has K=%d (its last dimension), B %v has K=%d (its second-to-last dimension)", sa, p.K, sb, kb)
	}
	p.ABatch, p.BBatch = slices.Clone(a[:len(a)-2]), slices.Clone(b[:len(b)-2])
	batch, err := tensor.BroadcastShapes(p.ABatch, p.BBatch)
	if err != nil {
		return nil, fmt.Errorf("batch dimensions of A %v and B %v: %w", sa, sb, err)
	}
	p.Batch = batch
	p.Out = append([]int{}, batch...)
	if len(sa) > 1 {
		p.Out = append(p.Out, p.M)
	}
	if len(sb) > 1 {
		p.Out = append(p.Out, p.N)
	}
	return p, nil
}
