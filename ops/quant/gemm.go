package quant

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/tensor"
)

// MatMulInteger: Y[..., i, j] = sum_k (A[..., i, k] - a_zero_point[i]) *
// (B[..., k, j] - b_zero_point[j]) in int32, with numpy matmul shapes (1-D
// promotion, broadcast batch dimensions). Zero points are scalars, per row
// of A ([M] or [..., M, 1]) and per column of B ([N] or [..., 1, N]).
var matMulIntegerOps = ops.Versions("", "MatMulInteger",
	"Y = (A - a_zero_point) @ (B - b_zero_point), int8/uint8 inputs accumulated in int32",
	[]int{10}, inferMatMulInteger, ops.Simple(runMatMulInteger))

// QLinearMatMul: Y = saturate(round(((a - a_zp) @ (b - b_zp)) * (a_scale *
// b_scale / y_scale)) + y_zp): the product accumulates in int32, the
// multiplier is computed in the scales' dtype, the result rounds half to
// even and saturates to y_zero_point's dtype. Scales and zero points are
// per tensor, per row of a and per column of b. With float8 operands
// (opset 21) the product accumulates in float64 and the result is cast,
// saturating, to y_zero_point's float8 type.
var qlinearMatMulOps = ops.Versions("", "QLinearMatMul",
	"y = saturate(round((a - a_zp) @ (b - b_zp) * a_scale * b_scale / y_scale) + y_zp), int32 accumulation",
	[]int{10, 21}, inferQLinearMatMul, ops.Simple(runQLinearMatMul))

// mmPlan is the shape bookkeeping of a numpy matmul.
type mmPlan = kernelutil.MatMulShape

func count(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// vecParams is how a per-row (or per-column) parameter tensor indexes: the
// value for matrix b of the operand's batch and row r is at b*batchStride + r*rowStride.
type vecParams struct{ batchStride, rowStride int }

// rowParams checks the shape of a scale or zero point of an operand with
// `batch` matrices of `rows` rows (or columns, when col): a scalar, a vector
// of `rows`, or [..., rows, 1] ([..., 1, rows] when col) over the batch.
func rowParams(name string, t *tensor.Tensor, batch, rows int, col bool) (vecParams, error) {
	if t == nil || t.Len() == 1 {
		return vecParams{}, nil
	}
	sh := t.Shape()
	if len(sh) == 1 && sh[0] == rows {
		return vecParams{0, 1}, nil
	}
	if len(sh) >= 2 && t.Len() == batch*rows {
		r, one := sh[len(sh)-2], sh[len(sh)-1]
		if col {
			r, one = one, r
		}
		if r == rows && one == 1 {
			return vecParams{rows, 1}, nil
		}
	}
	what := "row"
	if col {
		what = "column"
	}
	return vecParams{}, fmt.Errorf("%s has shape %v; want a scalar or one value per %s (%d)", name, sh, what, rows)
}

// centered returns x - zp as float32 (exact: |x - zp| <= 255). x holds
// matrices of outer rows of inner values; zp has one value per matrix and
// row (byInner false: per row of a) or per matrix and column (byInner true:
// per column of b), indexed through p.
func centered(x *tensor.Tensor, zp []float64, p vecParams, outer, inner int, byInner bool) []float32 {
	out := make([]float32, x.Len())
	src := x.Raw()
	var buf [chunk]float64
	per := outer * inner
	for base := 0; base < len(out); base += inner { // one row
		mat, o := base/per, base%per/inner
		for c0 := 0; c0 < inner; c0 += chunk {
			b := buf[:min(chunk, inner-c0)]
			readF64(b, src, base+c0)
			dst := out[base+c0:][:len(b)]
			if byInner {
				z := zp[mat*p.batchStride+c0*p.rowStride:]
				for j, v := range b {
					dst[j] = float32(v - z[j*p.rowStride])
				}
				continue
			}
			z := zp[mat*p.batchStride+o*p.rowStride]
			for j, v := range b {
				dst[j] = float32(v - z)
			}
		}
	}
	return out
}

// int8Input checks that t is int8 or uint8.
func int8Input(name string, t *tensor.Tensor) error {
	if d := t.DType(); d != tensor.Int8 && d != tensor.Uint8 {
		return fmt.Errorf("%s is %v, want int8 or uint8", name, d)
	}
	return nil
}

// zeroPoint checks that a zero point has its operand's dtype.
func zeroPoint(name string, zp *tensor.Tensor, of string, x *tensor.Tensor) error {
	if zp != nil && zp.DType() != x.DType() {
		return fmt.Errorf("%s is %v but %s is %v; they must match", name, zp.DType(), of, x.DType())
	}
	return nil
}

// intMM is an int32 matmul of centered operands: acc is (batch..., M, N).
type intMM struct {
	p          *mmPlan
	aIdx, bIdx []int // matrix index of a and b for each output matrix
}

// batchIndex lists, for each output matrix of p, the matrix of a and of b
// it multiplies.
func batchIndex(p *mmPlan) (aIdx, bIdx []int) {
	if len(p.Batch) == 0 {
		return []int{0}, []int{0}
	}
	nb := count(p.Batch)
	aIdx, bIdx = make([]int, 0, nb), make([]int, 0, nb)
	tensor.BroadcastIndex(p.Batch, [][]int{p.ABatch, p.BBatch}, func(_ int, idx []int) {
		aIdx = append(aIdx, idx[0])
		bIdx = append(bIdx, idx[1])
	})
	return aIdx, bIdx
}

func newIntMM(c *ops.Ctx, p *mmPlan, a, b []float32, acc []int32) (*intMM, error) {
	mm := &intMM{p: p}
	mm.aIdx, mm.bIdx = batchIndex(p)
	m, k, n := p.M, p.K, p.N
	tmp := make([]float32, m*n)
	for bi := range mm.aIdx {
		if err := c.Check(); err != nil {
			return nil, err
		}
		gemmExact(c.Threads, m, n, k, a[mm.aIdx[bi]*m*k:], b[mm.bIdx[bi]*k*n:], acc[bi*m*n:], tmp)
	}
	return mm, nil
}

// exactK is how much of the inner dimension one float32 GEMM may sum: with
// factors of magnitude <= 255 every partial sum of exactK products stays
// below 2^24, so float32 holds it exactly whatever the summation order.
const exactK = 256

// gemmExact adds a (m, k) @ b (k, n) to acc (m, n), row-major, where a and b
// hold integers of magnitude <= 255 as float32: the product goes through
// the float32 GEMM of package linalg in slices of exactK along k, each
// exact, accumulated in int32 (wrapping on overflow, as int32 accumulation
// does). tmp is scratch of m*n. threads > 1 runs on linalg's shared pool.
func gemmExact(threads, m, n, k int, a, b []float32, acc []int32, tmp []float32) {
	acc, tmp = acc[:m*n], tmp[:m*n]
	var pool *linalg.Pool // nil: the calling goroutine only
	if threads > 1 {
		pool = linalg.DefaultPool()
	}
	for k0 := 0; k0 < k; k0 += exactK {
		kc := min(exactK, k-k0)
		linalg.SgemmEx(false, false, m, n, kc, 1, a[k0:], k, b[k0*n:], n, 0, tmp, n, linalg.Epilogue{}, pool)
		for i, v := range tmp {
			acc[i] += int32(v)
		}
	}
}

func inferMatMulInteger(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	return inferMM(in, 0, 1, tensor.Int32)
}

func inferQLinearMatMul(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	d := tensor.Undefined
	if len(in) > 7 {
		d = in[7].DType
	}
	return inferMM(in, 0, 3, d)
}

// inferMM gives the matmul of inputs ia and ib dtype d, with a shape when
// both input shapes are fully known.
func inferMM(in []tensor.Type, ia, ib int, d tensor.DType) ([]tensor.Type, error) {
	t := tensor.Type{Kind: tensor.KindTensor, DType: d}
	if ib >= len(in) {
		return []tensor.Type{t}, nil
	}
	sa, oka := knownShape(in[ia])
	sb, okb := knownShape(in[ib])
	if !oka || !okb {
		return []tensor.Type{t}, nil
	}
	p, err := kernelutil.PlanMatMul(sa, sb)
	if err != nil {
		return nil, err
	}
	return []tensor.Type{tensor.TensorType(d, p.Out...)}, nil
}

// knownShape returns t's shape when every dimension is known.
func knownShape(t tensor.Type) ([]int, bool) {
	if !t.HasShape {
		return nil, false
	}
	s := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		if !d.Known() {
			return nil, false
		}
		s[i] = int(d.Size)
	}
	return s, true
}

// operands validates and centers the two int8/uint8 operands of an integer
// matmul (names gives a, b, a_zero_point, b_zero_point) and runs the int32 product.
func operands(c *ops.Ctx, names [4]string, a, b, azp, bzp *tensor.Tensor) (*intMM, *tensor.Tensor, error) {
	for i, t := range []*tensor.Tensor{a, b} {
		if err := int8Input(names[i], t); err != nil {
			return nil, nil, err
		}
	}
	if err := zeroPoint(names[2], azp, names[0], a); err != nil {
		return nil, nil, err
	}
	if err := zeroPoint(names[3], bzp, names[1], b); err != nil {
		return nil, nil, err
	}
	p, err := kernelutil.PlanMatMul(a.Shape(), b.Shape())
	if err != nil {
		return nil, nil, err
	}
	accT, err := c.New(tensor.Int32, p.Out...) // checks the size before the int32 copies
	if err != nil {
		return nil, nil, err
	}
	na, nb := count(p.ABatch), count(p.BBatch)
	ap, err := rowParams(names[2], azp, na, p.M, false)
	if err != nil {
		return nil, nil, err
	}
	bp, err := rowParams(names[3], bzp, nb, p.N, true)
	if err != nil {
		return nil, nil, err
	}
	ac := centered(a, params(azp), ap, p.M, p.K, false)
	bc := centered(b, params(bzp), bp, p.K, p.N, true)
	mm, err := newIntMM(c, p, ac, bc, tensor.Data[int32](accT))
	return mm, accT, err
}

func runMatMulInteger(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	names := [4]string{"A", "B", "a_zero_point", "b_zero_point"}
	if err := needInputs(in, names[:], 2); err != nil {
		return nil, err
	}
	_, acc, err := operands(c, names, in[0], in[1], opt(in, 2), opt(in, 3))
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{acc}, nil
}

func runQLinearMatMul(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	names := []string{"a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point"}
	if err := needInputs(in, names, 8); err != nil {
		return nil, err
	}
	a, as, azp, b, bs, bzp, ys, yzp := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]
	for i, s := range []*tensor.Tensor{as, bs, ys} {
		if !floatOut(s.DType()) {
			return nil, fmt.Errorf("%s is %v, want float32, float16 or bfloat16", names[1+3*i], s.DType())
		}
	}
	if ys.Len() != 1 || yzp.Len() != 1 {
		return nil, fmt.Errorf("y_scale %v and y_zero_point %v must be scalars", ys.Shape(), yzp.Shape())
	}
	if err := sameShapeParams("a_scale", as, "a_zero_point", azp); err != nil {
		return nil, err
	}
	if err := sameShapeParams("b_scale", bs, "b_zero_point", bzp); err != nil {
		return nil, err
	}
	var (
		p          *mmPlan
		aIdx, bIdx []int
		acc        []int32   // int8 / uint8 operands
		accF       []float64 // float8 operands
	)
	if float8(a.DType()) {
		var err error
		if p, aIdx, bIdx, accF, err = floatOperands(c, a, b, azp, bzp); err != nil {
			return nil, err
		}
		if !float8(yzp.DType()) {
			return nil, fmt.Errorf("y_zero_point is %v; with float8 inputs y must be float8 too", yzp.DType())
		}
	} else {
		if err := int8Input("y_zero_point", yzp); err != nil {
			return nil, err
		}
		mm, accT, err := operands(c, [4]string{"a", "b", "a_zero_point", "b_zero_point"}, a, b, azp, bzp)
		if err != nil {
			return nil, err
		}
		p, aIdx, bIdx, acc = mm.p, mm.aIdx, mm.bIdx, tensor.Data[int32](accT)
	}
	ap, err := rowParams("a_scale", as, count(p.ABatch), p.M, false)
	if err != nil {
		return nil, err
	}
	bp, err := rowParams("b_scale", bs, count(p.BBatch), p.N, true)
	if err != nil {
		return nil, err
	}
	asv, bsv, ysv := params(as), params(bs), params(ys)
	if err := checkScales("y_scale", ysv); err != nil {
		return nil, err
	}
	y, err := c.New(yzp.DType(), p.Out...)
	if err != nil {
		return nil, err
	}
	rq := requant{scaleType: as.DType(), ys: ysv[0], yzp: params(yzp)[0]}
	dst := y.Raw()
	var buf [chunk]float64
	for bi := range aIdx {
		for i := 0; i < p.M; i++ {
			sa := asv[aIdx[bi]*ap.batchStride+i*ap.rowStride]
			row := (bi*p.M + i) * p.N
			for j0 := 0; j0 < p.N; j0 += chunk {
				bb := buf[:min(chunk, p.N-j0)]
				for j := range bb {
					mult := rq.multiplier(sa, bsv[bIdx[bi]*bp.batchStride+(j0+j)*bp.rowStride])
					if accF != nil {
						bb[j] = accF[row+j0+j]*mult + rq.yzp // float8 outputs are cast, not rounded to integers
					} else {
						bb[j] = rq.apply(acc[row+j0+j], mult)
					}
				}
				storeQuant(dst, (bi*p.M+i)*p.N+j0, bb, true)
			}
		}
	}
	return []*tensor.Tensor{y}, nil
}

// requant turns an int32 accumulator into the output's quantized value.
type requant struct {
	scaleType tensor.DType
	ys, yzp   float64
}

// multiplier is x_scale * w_scale / y_scale, each step rounded to the scales' dtype.
func (r requant) multiplier(sa, sb float64) float64 {
	m := roundTo(r.scaleType, float32(sa)*float32(sb))
	return float64(roundTo(r.scaleType, m/float32(r.ys)))
}

// apply is round(acc * mult) + y_zero_point (saturated later by storeQuant).
func (r requant) apply(acc int32, mult float64) float64 {
	return math.RoundToEven(float64(acc)*mult) + r.yzp
}

// float8 reports the float8 dtypes (QLinearMatMul-21 operands).
func float8(d tensor.DType) bool { return floatQuant(d) && d != tensor.Float4E2M1 }

// floatOperands is the float8 form of operands: (a - a_zero_point) @
// (b - b_zero_point) accumulated in float64.
func floatOperands(c *ops.Ctx, a, b, azp, bzp *tensor.Tensor) (*mmPlan, []int, []int, []float64, error) {
	if !float8(b.DType()) {
		return nil, nil, nil, nil, fmt.Errorf("a is %v but b is %v; with float8 a, b must be float8 too", a.DType(), b.DType())
	}
	if err := zeroPoint("a_zero_point", azp, "a", a); err != nil {
		return nil, nil, nil, nil, err
	}
	if err := zeroPoint("b_zero_point", bzp, "b", b); err != nil {
		return nil, nil, nil, nil, err
	}
	p, err := kernelutil.PlanMatMul(a.Shape(), b.Shape())
	if err != nil {
		return nil, nil, nil, nil, err
	}
	accT, err := c.New(tensor.Float64, p.Out...)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	na, nb := count(p.ABatch), count(p.BBatch)
	ap, err := rowParams("a_zero_point", azp, na, p.M, false)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	bp, err := rowParams("b_zero_point", bzp, nb, p.N, true)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	av, bv := make([]float64, a.Len()), make([]float64, b.Len())
	readF64(av, a.Raw(), 0)
	readF64(bv, b.Raw(), 0)
	az, bz := params(azp), params(bzp)
	for i := range av {
		mat, r := i/(p.M*p.K), i%(p.M*p.K)/p.K
		av[i] -= az[mat*ap.batchStride+r*ap.rowStride]
	}
	for i := range bv {
		mat, col := i/(p.K*p.N), i%p.N
		bv[i] -= bz[mat*bp.batchStride+col*bp.rowStride]
	}
	aIdx, bIdx := batchIndex(p)
	acc := tensor.Data[float64](accT)
	for bi := range aIdx {
		if err := c.Check(); err != nil {
			return nil, nil, nil, nil, err
		}
		am, bm, cm := av[aIdx[bi]*p.M*p.K:], bv[bIdx[bi]*p.K*p.N:], acc[bi*p.M*p.N:]
		for i := 0; i < p.M; i++ {
			for kk := 0; kk < p.K; kk++ {
				x := am[i*p.K+kk]
				for j := 0; j < p.N; j++ {
					cm[i*p.N+j] += x * bm[kk*p.N+j]
				}
			}
		}
	}
	return p, aIdx, bIdx, acc, nil
}
