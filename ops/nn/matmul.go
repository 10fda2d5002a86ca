package nn

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/tensor"
)

// MatMul is numpy's matmul: Y[..., i, j] = sum_k A[..., i, k] * B[..., k, j].
// A 1-D A is read as (1, K) and a 1-D B as (K, 1), the added dimension being
// dropped from Y; the batch dimensions broadcast. It fails when the inner
// dimensions differ or the batch dimensions do not broadcast.
var MatMul = ops.Versions("", "MatMul",
	"Y = A @ B with numpy matmul semantics (1-D promotion, broadcast batch dimensions)",
	[]int{1, 9, 13}, inferMatMul, compileMatMul)

// compileMatMul packs a constant float32 matrix B once; products of a
// float32 A with it then skip packing B on every run.
// The node's last plan is kept for runs with the same shapes.
func compileMatMul(n *ops.Node) (*ops.Kernel, error) {
	memo := new(kernelutil.Memo[*matmulPlan])
	pc := PackConst(n, 1, false)
	if pc == nil {
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return runMatMulMemo(c, in, memo)
		}}, nil
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) == 2 {
			pb, bs, err := pc.Use(in[0], in[1])
			if err != nil {
				return nil, err
			}
			if pb != nil {
				return matmulPacked(c, in[0], bs, pb, memo)
			}
		}
		return runMatMulMemo(c, in, memo)
	}, Precomputed: pc.Precomputed(1)}, nil
}

// matmulPacked is MatMul of a float32 A (..., M, K) or (K) and a 2-D B of
// shape bs packed in pb: one tall product over all rows of A.
func matmulPacked(c *ops.Ctx, at *tensor.Tensor, bs []int, pb *linalg.PackedB, memo *kernelutil.Memo[*matmulPlan]) ([]*tensor.Tensor, error) {
	p, err := memoPlan(memo, at.Shape(), bs)
	if err != nil {
		return nil, err
	}
	yt, err := c.NewUninit(tensor.Float32, p.Out...)
	if err != nil {
		return nil, err
	}
	if err := TallPacked(c, prod(p.Batch)*p.M, 1, tensor.Data[float32](at), pb, tensor.Data[float32](yt), linalg.Epilogue{}); err != nil {
		return nil, err
	}
	return c.Result(yt), nil
}

// matmulPlan is the shape bookkeeping of one MatMul.
type matmulPlan = kernelutil.MatMulShape

// memoPlan is kernelutil.PlanMatMul through memo (nil: no memo).
func memoPlan(memo *kernelutil.Memo[*matmulPlan], sa, sb []int) (*matmulPlan, error) {
	if memo == nil {
		return kernelutil.PlanMatMul(sa, sb)
	}
	if p, ok := memo.Get(sa, sb); ok {
		return p, nil
	}
	p, err := kernelutil.PlanMatMul(sa, sb)
	if err == nil {
		memo.Put(sa, sb, p)
	}
	return p, err
}

func runMatMul(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return runMatMulMemo(c, in, nil)
}

func runMatMulMemo(c *ops.Ctx, in []*tensor.Tensor, memo *kernelutil.Memo[*matmulPlan]) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 2, 2); err != nil {
		return nil, err
	}
	if err := sameDType(in, "A", "B"); err != nil {
		return nil, err
	}
	p, err := memoPlan(memo, in[0].Shape(), in[1].Shape())
	if err != nil {
		return nil, err
	}
	return widened(c, in, func(w []*tensor.Tensor) (*tensor.Tensor, error) {
		switch w[0].DType() {
		case tensor.Float32:
			return matmulTyped[float32](c, p, w[0], w[1])
		case tensor.Float64:
			return matmulTyped[float64](c, p, w[0], w[1])
		case tensor.Int32:
			return matmulTyped[int32](c, p, w[0], w[1])
		case tensor.Int64:
			return matmulTyped[int64](c, p, w[0], w[1])
		case tensor.Uint32:
			return matmulTyped[uint32](c, p, w[0], w[1])
		case tensor.Uint64:
			return matmulTyped[uint64](c, p, w[0], w[1])
		}
		return nil, unsupported(in[0].DType(), "float16/32/64, bfloat16, int32/64, uint32/64")
	})
}

// matmulTyped computes the planned product; Y is (batch..., M, N) in memory.
func matmulTyped[T tensor.Number](c *ops.Ctx, p *matmulPlan, at, bt *tensor.Tensor) (*tensor.Tensor, error) {
	yt, err := c.New(at.DType(), p.Out...)
	if err != nil {
		return nil, err
	}
	a, b, y := tensor.Data[T](at), tensor.Data[T](bt), tensor.Data[T](yt)
	threads := threadsOf(c)
	nb := prod(p.Batch)
	if nb == 0 || p.M == 0 || p.N == 0 {
		return yt, nil
	}
	// B shared by every batch and A contiguous: one tall GEMM.
	if prod(p.BBatch) == 1 && prod(p.ABatch) == nb {
		if err := tallGemm(c, threads, nb*p.M, p.N, p.K, a, b, y); err != nil {
			return nil, err
		}
		return yt, nil
	}
	aOff := make([]int, 0, nb)
	bOff := make([]int, 0, nb)
	tensor.BroadcastIndex(p.Batch, [][]int{p.ABatch, p.BBatch}, func(_ int, idx []int) {
		aOff = append(aOff, idx[0]*p.M*p.K)
		bOff = append(bOff, idx[1]*p.K*p.N)
	})
	if err := batchedGemm(c, nb, p.M, p.N, p.K, a, aOff, b, bOff, y); err != nil {
		return nil, err
	}
	return yt, nil
}

// inferMatMul gives Y's dtype and, when both ranks are known, its shape
// (symbolic dimensions such as "batch" carry over).
func inferMatMul(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("MatMul needs 2 inputs, got %d", len(in))
	}
	out := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if !in[0].HasShape || !in[1].HasShape {
		return []tensor.Type{out}, nil
	}
	a, b := in[0].Shape, in[1].Shape
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("MatMul inputs must have rank >= 1")
	}
	one := tensor.Dim{Size: 1}
	ra, rb := len(a), len(b)
	if ra == 1 {
		a = []tensor.Dim{one, a[0]}
	}
	if rb == 1 {
		b = []tensor.Dim{b[0], one}
	}
	ka, kb := a[len(a)-1], b[len(b)-2]
	if ka.Known() && kb.Known() && ka.Size != kb.Size {
		return nil, fmt.Errorf("MatMul inner dimensions differ: A has K=%d, B has K=%d", ka.Size, kb.Size)
	}
	dims, err := broadcastDims(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, err
	}
	if ra > 1 {
		dims = append(dims, a[len(a)-2])
	}
	if rb > 1 {
		dims = append(dims, b[len(b)-1])
	}
	out.HasShape, out.Shape = true, dims
	return []tensor.Type{out}, nil
}

// broadcastDims broadcasts two partially known shapes.
func broadcastDims(x, y []tensor.Dim) ([]tensor.Dim, error) {
	r := max(len(x), len(y))
	out := make([]tensor.Dim, r)
	for i := range out {
		dx, dy := tensor.Dim{Size: 1}, tensor.Dim{Size: 1}
		if j := i - (r - len(x)); j >= 0 {
			dx = x[j]
		}
		if j := i - (r - len(y)); j >= 0 {
			dy = y[j]
		}
		switch {
		case dx.Known() && dx.Size == 1:
			out[i] = dy
		case dy.Known() && dy.Size == 1:
			out[i] = dx
		case dx.Known() && dy.Known():
			if dx.Size != dy.Size {
				return nil, fmt.Errorf("batch dimensions do not broadcast (%d vs %d)", dx.Size, dy.Size)
			}
			out[i] = dx
		case dx.Known():
			out[i] = dx
		case dy.Known() || dx.Param == dy.Param:
			out[i] = dy
		default:
			out[i] = tensor.Dim{Size: -1}
		}
	}
	return out, nil
}

// checkFlops is about the work between two cancellation checks of a large
// MatMul: 2^28 multiply-adds, a few milliseconds on two cores (a variable
// for tests).
var checkFlops = 1 << 28

// gemmMC is the row granularity of tallGemm's row chunks.
const gemmMC = 128

// tallGemm computes y (m x n) = a (m x k) * b (k x n) in chunks of about
// checkFlops, checking the context between them, so cancelling a run does
// not wait for a whole large product. Column chunks (at least 256 wide) cost
// nothing extra, as the GEMM packs A afresh for every 1024 columns anyway;
// when they would still be too large (many rows), row chunks of at least
// 4*gemmMC rows repack B once per chunk, under 3%. Each output element is
// summed exactly as by one GEMM call.
func tallGemm[T tensor.Number](c *ops.Ctx, threads, m, n, k int, a, b, y []T) error {
	if 2*m*n*k <= checkFlops {
		gemm(threads, false, false, m, n, k, 1, a, k, b, n, 0, y, n)
		return nil
	}
	if cols := checkFlops / (2 * m * k) / 256 * 256; cols >= 256 || m < 8*gemmMC {
		return chunks(c, n, max(cols, 256), func(c0, c1 int) {
			gemm(threads, false, false, m, c1-c0, k, 1, a, k, b[c0:], n, 0, y[c0:], n)
		})
	}
	rows := max(4*gemmMC, checkFlops/(2*n*k)/gemmMC*gemmMC)
	return chunks(c, m, rows, func(r0, r1 int) {
		gemm(threads, false, false, r1-r0, n, k, 1, a[r0*k:], k, b, n, 0, y[r0*n:], n)
	})
}

// chunks calls f on [lo, hi) pieces of [0, total) of size step (the last
// one takes the remainder), checking the context before each.
func chunks(c *ops.Ctx, total, step int, f func(lo, hi int)) error {
	for lo := 0; lo < total; {
		if err := c.Check(); err != nil {
			return err
		}
		hi := lo + step
		if total-hi < step {
			hi = total // the remainder joins the last chunk
		}
		f(lo, hi)
		lo = hi
	}
	return nil
}
