package reduce

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// CumSum is y[i] = sum(x[0..i]) along the axis input (exclusive: up to
// i-1; reverse: from the end). Accumulation is sequential in the input type
// (float32 for float16/bfloat16), as numpy's cumsum.
var CumSum = cumOps("CumSum", "y[i] = x[0] + ... + x[i] along axis", false, []int{11, 14})

// CumProd is y[i] = prod(x[0..i]) along the axis input, with the same
// exclusive and reverse attributes as CumSum.
var CumProd = cumOps("CumProd", "y[i] = x[0] * ... * x[i] along axis", true, []int{26})

func cumOps(typ, doc string, prod bool, since []int) []*ops.Op {
	return ops.Versions("", typ, doc, since, ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		excl := n.Int("exclusive", 0) != 0
		rev := n.Int("reverse", 0) != 0
		if err := n.Err(); err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 2, 2); err != nil {
				return nil, err
			}
			x := in[0]
			av, err := ops.Ints64(in[1])
			if err != nil || len(av) != 1 || in[1].Rank() > 1 {
				return nil, fmt.Errorf("axis must be an int32 or int64 scalar (or 1-element tensor), got %v%v", in[1].DType(), in[1].Shape())
			}
			_, outer, size, inner, err := axisDims(x.Shape(), av[0])
			if err != nil {
				return nil, err
			}
			out, err := c.New(x.DType(), x.Shape()...)
			if err != nil {
				return nil, err
			}
			cf := cumConf{outer: outer, n: size, inner: inner, prod: prod, excl: excl, rev: rev}
			xs, ys, done, err := canonIO(x, out)
			if err != nil {
				return nil, err
			}
			switch v := xs.(type) {
			case []float32:
				cum(cf, v, ys.([]float32))
			case []float64:
				cum(cf, v, ys.([]float64))
			case []int64:
				cum(cf, v, ys.([]int64))
			case []uint64:
				cum(cf, v, ys.([]uint64))
			default:
				return nil, fmt.Errorf("unsupported input dtype %v", x.DType())
			}
			done()
			return []*tensor.Tensor{out}, nil
		}}, nil
	})
}

type cumConf struct {
	outer, n, inner int
	prod, excl, rev bool
}

// cum scans x (outer, n, inner) along n into y; each step combines a whole
// contiguous inner row with the previous output row.
func cum[T tensor.Number](cf cumConf, x, y []T) {
	var id T // identity: 0 for sums, 1 for products
	if cf.prod {
		id = 1
	}
	n, inner := cf.n, cf.inner
	for o := 0; o < cf.outer; o++ {
		base := o * n * inner
		for s := 0; s < n; s++ {
			i, prev := s, s-1 // position along n and the one before it in scan order
			if cf.rev {
				i, prev = n-1-s, n-s
			}
			dst := y[base+i*inner : base+(i+1)*inner]
			if cf.excl {
				// y[i] = y[prev] op x[prev]
				if s == 0 {
					for j := range dst {
						dst[j] = id
					}
					continue
				}
				py, px := y[base+prev*inner:base+(prev+1)*inner], x[base+prev*inner:base+(prev+1)*inner]
				combine(dst, py, px, cf.prod)
				continue
			}
			src := x[base+i*inner : base+(i+1)*inner]
			if s == 0 {
				copy(dst, src)
				continue
			}
			combine(dst, y[base+prev*inner:base+(prev+1)*inner], src, cf.prod)
		}
	}
}

// combine sets dst = a + b (or a * b).
func combine[T tensor.Number](dst, a, b []T, prod bool) {
	a, b = a[:len(dst)], b[:len(dst)]
	if prod {
		for j := range dst {
			dst[j] = a[j] * b[j]
		}
		return
	}
	for j := range dst {
		dst[j] = a[j] + b[j]
	}
}
