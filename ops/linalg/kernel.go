package linalg

// A kernel is one register-tile micro-kernel and the cache blocking tuned for
// it. fn computes the mr x nr tile C = A·B (load == 0) or C = A·B + beta·C
// (load != 0) from a packed A panel (kc steps of mr values) and a packed B
// panel (kc steps of nr values); c starts at the tile's top-left element and
// has row stride ldc. The driver only calls fn on whole tiles: edge tiles go
// through a scratch tile.
type kernel struct {
	name   string
	mr, nr int
	// mc, kc, nc block op(A) in mc x kc panels (kept in L2) and op(B) in
	// kc x nc panels (L2/L3); mc is a multiple of mr and nc of nr.
	mc, kc, nc int
	fn         func(kc int, a, b, c []float32, ldc int, beta float32, load int)
	// packRows, if not nil, packs kc rows of a row-major B (stride ldb) into
	// panels whole nr-column panels (see packB).
	packRows func(kc, panels int, src []float32, ldb int, dst []float32)
	// edges, narrowest first, compute only the first cols columns of a
	// packed nr-column panel, for the last panel of a block when it is
	// partial.
	edges []edgeKernel

	// Optional vector kernels for products with one row of op(A), nil
	// where the Go loops serve: gemv sets y[0:gemvN] (gemv16: y[0:16]) to
	// Σ_p x[p]·b[p·ldb+j] for k >= 1; dot returns Σ_p x[p]·y[p] for k a
	// positive multiple of 64.
	gemv, gemv16 func(k int, x, b []float32, ldb int, y []float32)
	gemvN        int
	dot          func(k int, x, y []float32) float32
	// gemvPanel, if not nil, adds one row times a packed nr-column panel
	// to y[0:nr] (see gemvPanelGeneric): products with one or two rows of
	// A then read a PackedB front to back.
	gemvPanel func(kc int, x, panel, y []float32)
}

// edgeKernel is a micro-kernel for the mr x cols tile of an nr-column
// panel (cols < nr), with fn's contract otherwise.
type edgeKernel struct {
	cols int
	fn   func(kc int, a, b, c []float32, ldc int, beta float32, load int)
}

// genericKernel is the pure-Go micro-kernel: every CPU runs it, and tests
// force it on amd64 to check it against the reference too.
var genericKernel = &kernel{
	name: "generic",
	mr:   4, nr: 4,
	mc: 128, kc: 256, nc: 1024,
	fn: sgemmKernelGeneric,
}

// sgemmKernelGeneric is the 4 x 4 Go micro-kernel, run as two passes of two
// rows: 16 accumulators plus operands would exceed the 15 float registers
// amd64 leaves to Go code, and spilling costs more than reloading B.
func sgemmKernelGeneric(kc int, a, b, c []float32, ldc int, beta float32, load int) {
	for r := 0; r < 4; r += 2 {
		var c00, c01, c02, c03, c10, c11, c12, c13 float32
		a := a[:kc*4]
		b := b[:kc*4]
		for p := 0; p+4 <= len(b); p += 4 {
			a0, a1 := a[p+r], a[p+r+1]
			bb := b[p : p+4 : p+4]
			b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
			c00 += a0 * b0
			c01 += a0 * b1
			c02 += a0 * b2
			c03 += a0 * b3
			c10 += a1 * b0
			c11 += a1 * b1
			c12 += a1 * b2
			c13 += a1 * b3
		}
		storeRow4(c[r*ldc:r*ldc+4:r*ldc+4], c00, c01, c02, c03, beta, load)
		storeRow4(c[(r+1)*ldc:(r+1)*ldc+4:(r+1)*ldc+4], c10, c11, c12, c13, beta, load)
	}
}

// storeRow4 writes one row of a 4-wide tile: r = v or r = v + beta·r.
func storeRow4(r []float32, v0, v1, v2, v3, beta float32, load int) {
	if load != 0 {
		v0 += beta * r[0]
		v1 += beta * r[1]
		v2 += beta * r[2]
		v3 += beta * r[3]
	}
	r[0], r[1], r[2], r[3] = v0, v1, v2, v3
}
