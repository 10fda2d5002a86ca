package nn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TestRandomInputsNeverPanic feeds every op random small shapes (zeros
// included) and attributes: a kernel may fail, never panic.
func TestRandomInputsNeverPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	shape := func(rank int) []int {
		s := make([]int, rank)
		for i := range s {
			s[i] = r.IntN(5)
			if r.IntN(4) > 0 {
				s[i]++
			}
		}
		return s
	}
	small := func(n int, lo, hi int64) []int64 {
		v := make([]int64, n)
		for i := range v {
			v[i] = lo + r.Int64N(hi-lo+1)
		}
		return v
	}
	allOps := map[string][]*ops.Op{"MatMul": MatMul, "Gemm": Gemm, "Conv": Conv, "ConvTranspose": ConvTranspose,
		"MaxPool": MaxPool, "AveragePool": AveragePool, "LpPool": LpPool, "GlobalMaxPool": GlobalMaxPool,
		"Det": Det, "Einsum": Einsum, "DeformConv": DeformConv, "MaxUnpool": MaxUnpool}
	ran := map[string]int{}
	defer func() { t.Logf("runs without error: %v", ran) }()
	for name, op := range allOps {
		for trial := 0; trial < 1500; trial++ {
			rank := 1 + r.IntN(4)
			nd := max(rank-2, 1)
			var attrs []ops.Attr
			if r.IntN(2) == 0 {
				attrs = append(attrs, ints("kernel_shape", small(nd, 1, 3)...))
			}
			if r.IntN(2) == 0 {
				attrs = append(attrs, ints("strides", small(nd, 1, 3)...))
			}
			if r.IntN(2) == 0 {
				attrs = append(attrs, ints("dilations", small(nd, 1, 3)...))
			}
			if r.IntN(2) == 0 {
				attrs = append(attrs, ints("pads", small(2*nd, 0, 3)...))
			}
			if r.IntN(3) == 0 {
				attrs = append(attrs, strAttr("auto_pad", []string{"SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"}[r.IntN(4)]))
			}
			if r.IntN(3) == 0 {
				attrs = append(attrs, intAttr("group", 1+r.Int64N(3)))
			}
			if r.IntN(3) == 0 {
				attrs = append(attrs, intAttr("ceil_mode", 1))
			}
			if r.IntN(3) == 0 {
				attrs = append(attrs, ints("output_padding", small(nd, 0, 2)...))
			}
			if r.IntN(3) == 0 {
				attrs = append(attrs, intAttr("transA", 1))
			}
			attrs = append(attrs, strAttr("equation", []string{"ij,jk->ik", "...i,...i", "ii", "i,i->i", "ab...,b"}[r.IntN(5)]))
			nIn := 1 + r.IntN(3)
			in := make([]*tensor.Tensor, nIn)
			for i := range in {
				in[i] = to32(randTensor(r, shape(rank)...))
			}
			if r.IntN(2) == 0 && nIn > 1 && rank >= 3 {
				// Consistent channels, so the conv family gets past its checks.
				xs, ws := in[0].Shape(), append([]int{}, in[1].Shape()...)
				ws[1] = xs[1]
				if name == "ConvTranspose" {
					ws[0] = xs[1]
				}
				in[1] = to32(randTensor(r, ws...))
				if name == "DeformConv" {
					in = append(in[:2], to32(randTensor(r, shape(4)...)))
				}
			}
			if name == "MaxUnpool" && nIn > 1 {
				s := in[0].Shape()
				idx := make([]int64, prod(s))
				for i := range idx {
					idx[i] = r.Int64N(int64(len(idx)*4 + 1))
				}
				in[1] = tensor.Must(s, idx)
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						shapes := ""
						for _, x := range in {
							shapes += fmt.Sprint(x.Shape())
						}
						t.Fatalf("%s panicked on inputs %s attrs %+v: %v", name, shapes, attrs, p)
					}
				}()
				n := &ops.Node{Attrs: attrs, Outputs: []string{"y", "i"}}
				k, err := op[len(op)-1].Compile(n)
				if err != nil {
					return
				}
				if _, err := k.Run(&ops.Ctx{Context: context.Background(), Threads: 2, MaxElements: 1 << 20}, in); err == nil {
					ran[name]++
				}
			}()
		}
	}
}
