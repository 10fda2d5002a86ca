package graphopt_test

import (
	"testing"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/runtime/ort/orttest"
	"github.com/gort-ml/gort/tensor"
)

// TestFuseMatMulTranspose: MatMul(A, Transpose(W)) of a constant W that
// folding leaves alone (folding is disabled here, as the fold budget does
// for a large shared weight) becomes FusedMatMul(A, W, transB=1), once per
// reader of the Transpose, which then goes; a W computed at run time, or a
// Transpose that folding can evaluate, stays a MatMul.
func TestFuseMatMulTranspose(t *testing.T) {
	noFold := graphopt.Options{Disable: []string{"fold-constants"}}
	for _, c := range []struct {
		name  string
		opts  graphopt.Options
		build func(b *irbuild.Builder, x string) string
		want  map[string]int
	}{
		{"3-d", noFold, func(b *irbuild.Builder, x string) string {
			return b.Op("MatMul", x, b.Op("Transpose", b.Const(f32s([]int{5, 8}))))
		}, map[string]int{"FusedMatMul": 1, "MatMul": 0, "Transpose": 0}},
		{"2-d-perm-attr", noFold, func(b *irbuild.Builder, x string) string {
			x2 := b.Op("Reshape", x, b.Const(i64s(-1, 8)))
			return b.Op("MatMul", x2, b.OpA("Transpose", attrs(irbuild.Ints("perm", 1, 0)), b.Const(f32s([]int{3, 8}))))
		}, map[string]int{"FusedMatMul": 1, "MatMul": 0, "Transpose": 0}},
		{"two-readers-shared-weight", noFold, func(b *irbuild.Builder, x string) string {
			w := b.Const(f32s([]int{8, 8}))
			wt := b.Op("Transpose", w)
			h := b.Op("MatMul", b.Op("MatMul", x, wt), wt)
			return b.Op("Add", h, b.Op("ReduceSum", w, b.Const(i64s(0)))) // W has another reader
		}, map[string]int{"FusedMatMul": 2, "MatMul": 0, "Transpose": 0}},
		{"run-time-weight-stays", noFold, func(b *irbuild.Builder, x string) string {
			w := b.Op("Relu", b.Op("Reshape", x, b.Const(i64s(-1, 8))))
			return b.Op("MatMul", x, b.Op("Transpose", b.Op("Slice", w, b.Const(i64s(0)), b.Const(i64s(4)))))
		}, map[string]int{"FusedMatMul": 0, "MatMul": 1}},
		{"folded-transpose-stays-matmul", graphopt.Options{}, func(b *irbuild.Builder, x string) string {
			return b.Op("MatMul", x, b.Op("Transpose", b.Const(f32s([]int{5, 8}))))
		}, map[string]int{"FusedMatMul": 0, "MatMul": 1, "Transpose": 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := irbuild.New(c.name, irbuild.Opset{Domain: "", Version: 17})
			x := b.Input("x", tensor.Float32, "batch", "sequence", 8)
			b.Rename(c.build(b, x), "y")
			b.Output("y", tensor.Float32)
			m := b.Model()
			opt, rep := checkEquivalent(t, m, c.opts, map[string]int{"batch": 2, "sequence": 5}, nil)
			for op, n := range c.want {
				if got := count(opt, op); got != n {
					t.Errorf("%d %s nodes, want %d\n%s", got, op, n, rep)
				}
			}
			if orttest.Err() == nil {
				compareORT(t, m, opt, 3)
			}
		})
	}
}
