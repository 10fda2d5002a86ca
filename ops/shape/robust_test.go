package shape

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TestNoPanic feeds every op random shapes, indices and attributes (mostly
// invalid) and requires an output or an error, never a panic.
func TestNoPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	smallInt := func() int64 {
		vals := []int64{-3, -2, -1, 0, 1, 2, 3, 5, 1 << 40, -(1 << 40)}
		return vals[rng.IntN(len(vals))]
	}
	randInts := func() *tensor.Tensor {
		n := rng.IntN(4)
		v := make([]int64, n)
		for i := range v {
			v[i] = smallInt()
		}
		if rng.IntN(4) == 0 && n == 1 {
			return tensor.Scalar(v[0])
		}
		return tensor.Must([]int{n}, v)
	}
	randData := func() *tensor.Tensor {
		r := rng.IntN(4)
		shape := make([]int, r)
		for i := range shape {
			shape[i] = rng.IntN(4)
		}
		return iota32(shape...)
	}
	attrNames := []string{"axis", "axes", "perm", "split", "num_outputs", "allowzero", "batch_dims", "blocksize",
		"upper", "k", "sorted", "start", "end", "time_axis", "batch_axis", "mode", "reduction", "starts", "ends", "pads"}
	var types []string
	seen := map[string]bool{}
	for _, op := range Ops() {
		if !seen[op.Type] {
			seen[op.Type] = true
			types = append(types, op.Type)
		}
	}
	ok := 0
	for iter := 0; iter < 20000; iter++ {
		typ := types[rng.IntN(len(types))]
		var attrs []ops.Attr
		for _, name := range attrNames {
			if rng.IntN(5) != 0 {
				continue
			}
			switch rng.IntN(3) {
			case 0:
				attrs = append(attrs, intAttr(name, smallInt()))
			case 1:
				attrs = append(attrs, ints(name, tensor.Data[int64](randInts())...))
			default:
				modes := []string{"constant", "reflect", "edge", "wrap", "add", "max", "DCR", "CRD", "circular", "bogus"}
				attrs = append(attrs, strAttr(name, modes[rng.IntN(len(modes))]))
			}
		}
		in := []*tensor.Tensor{randData()}
		for j := rng.IntN(4); j > 0; j-- {
			switch rng.IntN(6) {
			case 0:
				in = append(in, nil)
			case 1, 2, 3:
				in = append(in, randInts())
			default:
				in = append(in, randData())
			}
		}
		opsets := []int{1, 9, 11, 13, 18, 25}
		k := call{op: typ, opset: opsets[rng.IntN(len(opsets))], attrs: attrs, in: in, outs: 1 + rng.IntN(3), max: 1 << 16}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s-%d attrs %v inputs %v: panic: %v", typ, k.opset, fmt.Sprint(attrs), in, p)
				}
			}()
			if _, err := k.run(); err == nil {
				ok++
			}
		}()
	}
	t.Logf("%d of 20000 random calls succeeded", ok)
}
