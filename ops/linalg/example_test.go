package linalg_test

import (
	"fmt"

	"github.com/gort-ml/gort/ops/linalg"
)

// A Linear layer, y = Relu(x·Wᵀ + b), with W stored out x in as ONNX
// Gemm(transB=1) has it.
func ExampleSgemmEx() {
	x := []float32{ // 2 x 3
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // 2 x 3: out x in
		1, 0, -1,
		0.5, 0.5, 0.5,
	}
	b := []float32{0, -5}
	y := make([]float32, 2*2)
	linalg.SgemmEx(false, true, 2, 2, 3, 1, x, 3, w, 3, 0, y, 2,
		linalg.Epilogue{Bias: b, Act: linalg.ActRelu}, nil)
	fmt.Println(y)
	// Output: [0 0 0 2.5]
}

// Plain C = A·B on the package's default pool.
func ExampleSgemm() {
	a := []float32{1, 2, 3, 4} // 2 x 2
	b := []float32{5, 6, 7, 8} // 2 x 2
	c := make([]float32, 4)
	linalg.Sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
	fmt.Println(c)
	// Output: [19 22 43 50]
}

// A persistent pool: Parallel hands out index ranges without starting
// goroutines.
func ExamplePool_Parallel() {
	pool := linalg.NewPool(2)
	defer pool.Close()
	sums := make([]int, 8)
	pool.Parallel(len(sums), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sums[i] = i * i
		}
	})
	fmt.Println(sums)
	// Output: [0 1 4 9 16 25 36 49]
}
