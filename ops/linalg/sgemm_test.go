package linalg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is C = alpha·op(A)·op(B) + beta·C in float64 (beta 0 ignores C),
// then the epilogue, also in float64.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ep Epilogue) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			if ep.Bias != nil {
				v += float64(ep.Bias[j])
			}
			if ep.RowBias != nil {
				v += float64(ep.RowBias[i])
			}
			switch ep.Act {
			case ActRelu:
				v = math.Max(v, 0)
			case ActGelu:
				v = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
			case ActGeluTanh:
				v = 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
			}
			out[i*n+j] = v
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra elements per row of A, B and C
	ep             Epilogue
	packed         bool // B through PackB and SgemmPacked
}

// check runs one case on kern with pool and compares it to refGemm:
// |got - want| <= 1e-5·k·(|alpha|·Σ|a||b| + |beta·c| + |bias| + 1).
func check(t *testing.T, r *rand.Rand, kern *kernel, pool *Pool, tc gemmCase) {
	t.Helper()
	ar, ac, br, bc := storedDims(tc.transA, tc.transB, tc.m, tc.n, tc.k)
	lda, ldb, ldc := ac+tc.pad, bc+tc.pad, tc.n+tc.pad
	a := randSlice(r, max(ar*lda, 1))
	b := randSlice(r, max(br*ldb, 1))
	c := randSlice(r, max(tc.m*ldc, 1))
	if tc.beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	ep := tc.ep
	if ep.Bias != nil {
		ep.Bias = randSlice(r, tc.n)
	}
	if ep.RowBias != nil {
		ep.RowBias = randSlice(r, tc.m)
	}
	want := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc, ep)
	// The error scale: the same product on absolute values.
	absA, absB, absC := absOf(a), absOf(b), absOf(c)
	mag := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, float32(math.Abs(float64(tc.alpha))), absA, lda, absB, ldb,
		float32(math.Abs(float64(tc.beta))), absC, ldc, Epilogue{})
	got := append([]float32(nil), c...)
	if tc.packed {
		pb := packBWith(kern, tc.transB, tc.k, tc.n, b, ldb)
		SgemmPacked(tc.transA, tc.m, tc.alpha, a, lda, pb, tc.beta, got, ldc, ep, pool)
	} else {
		sgemm(kern, pool, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc, ep)
	}
	tol := 1e-5 * float64(max(tc.k, 1))
	for i := range tc.m {
		for j := range ldc {
			g := got[i*ldc+j]
			if j >= tc.n {
				// Padding past the row must be untouched.
				if math.Float32bits(g) != math.Float32bits(c[i*ldc+j]) {
					t.Fatalf("%+v: padding C[%d][%d] changed", tc, i, j)
				}
				continue
			}
			w := want[i*tc.n+j]
			scale := mag[i*tc.n+j] + 1
			if ep.Bias != nil {
				scale += math.Abs(float64(ep.Bias[j]))
			}
			if ep.RowBias != nil {
				scale += math.Abs(float64(ep.RowBias[i]))
			}
			if d := math.Abs(float64(g) - w); !(d <= tol*scale) {
				t.Fatalf("%s %+v: C[%d][%d] = %v, want %v (error %.3g > %.3g)", kern.name, tc, i, j, g, w, d, tol*scale)
			}
		}
	}
}

// pureGo turns the assembly packing and epilogue helpers off until the test
// ends, as on a CPU without them.
func pureGo(t *testing.T) {
	tr, ep := transpose8, epilogueVec
	transpose8, epilogueVec = nil, nil
	t.Cleanup(func() { transpose8, epilogueVec = tr, ep })
}

func absOf(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		if math.IsNaN(float64(v)) {
			v = 0
		}
		y[i] = float32(math.Abs(float64(v)))
	}
	return y
}

var testSizes = []int{1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 64, 65, 127, 129}

// TestSgemmKernels checks every kernel this CPU runs against the float64
// reference: all transpose combinations, sizes around the tile and block
// edges, alpha/beta variants (beta 0 on a NaN-poisoned C) and padded strides.
func TestSgemmKernels(t *testing.T) {
	pool := NewPool(3)
	defer pool.Close()
	// Split even the small products, to test the thread grid on edge tiles.
	defer func(w int) { minThreadWork = w }(minThreadWork)
	minThreadWork = 1
	for _, kern := range kernels {
		t.Run(kern.name, func(t *testing.T) {
			if kern == genericKernel {
				pureGo(t)
			}
			r := rand.New(rand.NewPCG(1, 2))
			n := 0
			for _, m := range testSizes {
				for _, nn := range testSizes {
					for _, k := range testSizes {
						// -short runs a deterministic third of the grid.
						if testing.Short() && (m+nn+k)%3 != 0 {
							continue
						}
						tc := gemmCase{transA: n&1 != 0, transB: n&2 != 0, m: m, n: nn, k: k,
							alpha: []float32{1, -0.5, 2}[n%3], beta: []float32{0, 1, 0.75, 0}[n%4], pad: n % 5 % 3,
							packed: n%7 == 3}
						var p *Pool
						if n%2 == 0 {
							p = pool
						}
						check(t, r, kern, p, tc)
						n++
					}
				}
			}
			// Including narrow last panels (64 = 48+16, 80 = 48+32) over
			// several k blocks.
			// 1000 columns on 3 threads: a thread's columns cross the nc
			// block boundary.
			large := [][3]int{{300, 200, 700}, {513, 97, 259}, {64, 1100, 300}, {1, 768, 3072}, {200, 1, 513},
				{136, 80, 600}, {64, 64, 520}, {40, 1000, 600}, {2, 1000, 300}}
			for i, s := range large {
				for tr := range 4 {
					if testing.Short() && tr != i%4 {
						continue
					}
					for _, packed := range []bool{false, true} {
						check(t, r, kern, pool, gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2],
							alpha: 1.5, beta: []float32{0, 0.5}[i%2], pad: i % 2 * 3, packed: packed})
					}
				}
			}
		})
	}
}

func TestSgemmDegenerate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, kern := range kernels {
		for _, tc := range []gemmCase{
			{m: 5, n: 7, k: 0, alpha: 1, beta: 0},
			{m: 5, n: 7, k: 0, alpha: 1, beta: 0.5},
			{m: 5, n: 7, k: 9, alpha: 0, beta: 2},
			{m: 0, n: 7, k: 9, alpha: 1, beta: 0},
			{m: 5, n: 0, k: 9, alpha: 1, beta: 0},
			{m: 5, n: 7, k: 0, alpha: 1, beta: 0, ep: Epilogue{Bias: []float32{}, Act: ActRelu}},
			{m: 5, n: 7, k: 0, alpha: 1, beta: 0.5, packed: true, ep: Epilogue{RowBias: []float32{}}},
			{m: 0, n: 7, k: 9, alpha: 1, beta: 0, packed: true},
			{m: 5, n: 7, k: 9, alpha: 0, beta: 2, packed: true},
			{m: 1, n: 7, k: 9, alpha: 1, beta: 0, packed: true, ep: Epilogue{Act: ActGelu}},
		} {
			check(t, r, kern, DefaultPool(), tc)
		}
	}
}

func TestSgemmEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pool := NewPool(2)
	defer pool.Close()
	for _, kern := range kernels {
		if kern == genericKernel {
			pureGo(t)
		}
		for _, act := range []Activation{ActNone, ActRelu, ActGelu, ActGeluTanh} {
			// bias: bit 0 a Bias along n, bit 1 a RowBias along m (check
			// fills them in).
			for bias := range 4 {
				for _, s := range [][3]int{{1, 1, 1}, {2, 40, 9}, {9, 50, 17}, {130, 300, 300}, {7, 5, 0}} {
					ep := Epilogue{Act: act}
					if bias&1 != 0 {
						ep.Bias = []float32{}
					}
					if bias&2 != 0 {
						ep.RowBias = []float32{}
					}
					check(t, r, kern, pool, gemmCase{m: s[0], n: s[1], k: s[2], alpha: 0.3, beta: 0.5, pad: 1, ep: ep})
				}
			}
		}
	}
}

func TestFastFunctions(t *testing.T) {
	for x := -12.0; x <= 12; x += 1.0 / 1024 {
		if d := math.Abs(float64(erf32(float32(x))) - math.Erf(x)); d > 5e-7 {
			t.Fatalf("erf32(%v) off by %g", x, d)
		}
		if d := math.Abs(float64(tanh32(float32(x))) - math.Tanh(x)); d > 5e-7 {
			t.Fatalf("tanh32(%v) off by %g", x, d)
		}
	}
}

func TestSgemmPanics(t *testing.T) {
	for i, f := range []func(){
		func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		func() {
			Sgemm(false, true, 2, 3, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 6), 3)
		},
		func() { Sgemm(false, false, -1, 2, 2, 1, nil, 2, nil, 2, 0, nil, 2) },
		func() {
			SgemmEx(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2,
				Epilogue{Bias: []float32{1}}, nil)
		},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

// TestEpilogueValues runs the epilogue (the vector path on rows of 16 and
// more, the scalar one on the rest) over a sweep of values and extremes.
func TestEpilogueValues(t *testing.T) {
	t.Run("vector", testEpilogueValues)
	t.Run("go", func(t *testing.T) {
		pureGo(t)
		testEpilogueValues(t)
	})
}

func testEpilogueValues(t *testing.T) {
	var xs []float32
	for x := float32(-12); x <= 12; x += 1.0 / 256 {
		xs = append(xs, x)
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1)))
	ref := func(act Activation, v float64) float64 {
		switch act {
		case ActRelu:
			return math.Max(v, 0)
		case ActGelu:
			return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
		case ActGeluTanh:
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}
		return v
	}
	for _, act := range []Activation{ActNone, ActRelu, ActGelu, ActGeluTanh} {
		for _, bias := range []bool{false, true} {
			row := append([]float32(nil), xs...)
			ep := Epilogue{Act: act}
			var b []float32
			if bias {
				b = make([]float32, len(row))
				for i := range b {
					b[i] = float32(i%7) - 3
				}
				ep.Bias = b
			}
			var rb float32
			if bias {
				rb = 0.25
			}
			ep.apply(row, b, rb)
			for i, x := range xs {
				v := float64(x)
				if bias {
					v += float64(b[i]) + float64(rb)
				}
				w := ref(act, v)
				if math.IsInf(v, 0) || math.Abs(v) > 1e20 {
					// Only the sign and size matter out there.
					if act != ActNone && v < 0 && row[i] != 0 && !math.IsNaN(float64(row[i])) {
						t.Errorf("act %d bias %v: f(%v) = %v, want 0", act, bias, v, row[i])
					}
					continue
				}
				if d := math.Abs(float64(row[i]) - w); d > 1e-6*(1+math.Abs(w)) {
					t.Errorf("act %d bias %v: f(%v) = %v, want %v", act, bias, v, row[i], w)
				}
			}
		}
	}
	nan := []float32{float32(math.NaN())}
	for range 4 {
		nan = append(nan, nan...)
	}
	for _, act := range []Activation{ActRelu, ActGelu, ActGeluTanh} {
		row := append([]float32(nil), nan...)
		Epilogue{Act: act}.apply(row, nil, 0)
		for i, v := range row {
			if !math.IsNaN(float64(v)) {
				t.Errorf("act %d: f(NaN) = %v at %d", act, v, i)
			}
		}
	}
}

func TestGrid(t *testing.T) {
	for _, tc := range []struct{ threads, m, n, tm, tn int }{
		{1, 100, 100, 1, 1},
		{2, 128, 768, 1, 2}, // columns: each thread packs half of B
		{2, 512, 512, 2, 1}, // rows split into whole 8-row panels
		{2, 300, 16, 2, 1},  // one 48-column panel: split the rows
		{4, 8, 4000, 1, 4},
		{4, 400, 400, 4, 1}, // 48-column padding makes 2 x 2 dearer
	} {
		if tm, tn := grid(tc.threads, tc.m, tc.n, 8, 48); tm != tc.tm || tn != tc.tn {
			t.Errorf("grid(%d, %d, %d) = %d x %d, want %d x %d", tc.threads, tc.m, tc.n, tm, tn, tc.tm, tc.tn)
		}
	}
}
