package shape

import (
	"math"
	"math/big"
	"testing"

	"github.com/gort-ml/gort/tensor"
)

// TestRangeCount: the element count of integer Range agrees with exact
// big-integer arithmetic, at the int64 extremes too.
func TestRangeCount(t *testing.T) {
	vals := []int64{math.MinInt64, math.MinInt64 + 1, -1 << 40, -7, -3, -1, 0, 1, 2, 3, 7, 1 << 40, math.MaxInt64 - 1, math.MaxInt64}
	for _, start := range vals {
		for _, limit := range vals {
			for _, delta := range vals {
				if delta == 0 {
					continue
				}
				num := new(big.Int).Sub(big.NewInt(limit), big.NewInt(start))
				den := big.NewInt(delta)
				if delta < 0 {
					num.Neg(num)
					den.Neg(den)
				}
				num.Add(num, den).Sub(num, big.NewInt(1))
				q := new(big.Int).Div(num, den)
				if q.Sign() < 0 {
					q.SetInt64(0)
				}
				wantOK := q.IsInt64() && q.Int64() <= tensor.MaxElements
				n, ok := rangeCount(start, limit, delta)
				if ok != wantOK || (ok && int64(n) != q.Int64()) {
					t.Errorf("rangeCount(%d, %d, %d) = %d, %v; want %v, %v", start, limit, delta, n, ok, q, wantOK)
				}
			}
		}
	}
}
