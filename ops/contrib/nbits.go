package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

func quantOps() []*ops.Op {
	// MatMulNBits: Y = A @ dequant(B)^T + bias, B (N, K) quantized to
	// `bits` bits in blocks of block_size along K:
	// dequant(B)[n, k] = (q[n, k] - zero_point[n, blk]) * scale[n, blk].
	return ops.Versions(ms, "MatMulNBits", "Y = A @ ((q - zero_point) * scale)^T + bias, B quantized blockwise along K", []int{1},
		inferNBits, compileNBits)
}

type nbits struct {
	k, n, bits, block int
}

func compileNBits(n *ops.Node) (*ops.Kernel, error) {
	p := &nbits{
		k:     int(n.Int("K", 0)),
		n:     int(n.Int("N", 0)),
		bits:  int(n.Int("bits", 4)),
		block: int(n.Int("block_size", 0)),
	}
	n.Int("accuracy_level", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	switch {
	case p.k <= 0 || p.n <= 0:
		return nil, fmt.Errorf("K %d and N %d must be positive", p.k, p.n)
	case p.bits != 2 && p.bits != 4 && p.bits != 8:
		return nil, fmt.Errorf("bits %d, want 2, 4 or 8", p.bits)
	case p.block < 16 || p.block&(p.block-1) != 0:
		return nil, fmt.Errorf("block_size %d, want a power of two >= 16", p.block)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 3, 6); err != nil {
			return nil, err
		}
		for i, name := range []string{0: "A", 2: "scales", 5: "bias"} {
			if name != "" {
				if err := floatio.Check(name, opt(in, i)); err != nil {
					return nil, err
				}
			}
		}
		if floatio.Wide(in[0].DType()) {
			return runNBits[float64](c, p, in)
		}
		return runNBits[float32](c, p, in)
	}}, nil
}

func inferNBits(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	t := in[0]
	if t.HasShape && len(t.Shape) > 0 {
		t.Shape = append(append([]tensor.Dim{}, t.Shape[:len(t.Shape)-1]...), known(n.Int("N", 0)))
	}
	return []tensor.Type{t}, nil
}

// unpack returns element i of a little-endian packed array of bits-wide
// unsigned values.
func unpack(b []uint8, i, bits int) int {
	per := 8 / bits
	return int(b[i/per]>>(uint(i%per)*uint(bits))) & (1<<bits - 1)
}

// dequantizer reads MatMulNBits' packed weights.
type dequantizer struct {
	q                            []uint8
	blocks, blob, block, k, bits int
}

// unpackBlock writes the quantized values of block blk of row n into dst
// as float64 and returns how many of them lie inside K.
func (d *dequantizer) unpackBlock(dst []float64, n, blk int) int {
	width := min(d.block, d.k-blk*d.block)
	src := d.q[(n*d.blocks+blk)*d.blob:][:d.blob]
	switch d.bits {
	case 4:
		for j := 0; j+1 < width; j += 2 {
			b := src[j/2]
			dst[j], dst[j+1] = float64(b&0xf), float64(b>>4)
		}
		if width%2 == 1 {
			dst[width-1] = float64(src[width/2] & 0xf)
		}
	case 8:
		for j := 0; j < width; j++ {
			dst[j] = float64(src[j])
		}
	default:
		for j := 0; j < width; j++ {
			dst[j] = float64(unpack(src, j, d.bits))
		}
	}
	return width
}

// runNBits: A is (..., K); B is (N, blocks, block*bits/8) uint8; scales are
// (N*blocks) or (N, blocks); zero_points packed uint8 (N, ceil(blocks*bits/8))
// or scale-typed (N*blocks); g_idx (K) gives each k's block; bias is (N).
func runNBits[F tensor.Float](c *ops.Ctx, p *nbits, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	as := in[0].Shape()
	if len(as) == 0 || as[len(as)-1] != p.k {
		return nil, fmt.Errorf("A has shape %v, want last dimension K = %d", as, p.k)
	}
	blocks := (p.k + p.block - 1) / p.block
	blob := p.block * p.bits / 8
	if in[1].DType() != tensor.Uint8 || in[1].Len() != p.n*blocks*blob {
		return nil, fmt.Errorf("B is %v%v, want uint8 (%d, %d, %d)", in[1].DType(), in[1].Shape(), p.n, blocks, blob)
	}
	q := tensor.Data[uint8](in[1])
	scales, err := floatio.Load[F](in[2])
	if err != nil {
		return nil, err
	}
	if len(scales) != p.n*blocks {
		return nil, fmt.Errorf("scales have %d values, want N*blocks = %d", len(scales), p.n*blocks)
	}
	// zero(n, blk) is the zero point of a block.
	mid := float64(int(1) << (p.bits - 1))
	zero := func(n, blk int) float64 { return mid }
	if zt := opt(in, 3); zt != nil {
		if zt.DType() == tensor.Uint8 {
			row := (blocks*p.bits + 7) / 8
			if zt.Len() != p.n*row {
				return nil, fmt.Errorf("zero_points have %d bytes, want N*ceil(blocks*bits/8) = %d", zt.Len(), p.n*row)
			}
			zb := tensor.Data[uint8](zt)
			zero = func(n, blk int) float64 { return float64(unpack(zb[n*row:], blk, p.bits)) }
		} else {
			zf, err := floatio.Load[F](zt)
			if err != nil {
				return nil, fmt.Errorf("zero_points: %w", err)
			}
			if len(zf) != p.n*blocks {
				return nil, fmt.Errorf("zero_points have %d values, want N*blocks = %d", len(zf), p.n*blocks)
			}
			zero = func(n, blk int) float64 { return float64(zf[n*blocks+blk]) }
		}
	}
	blockOf := func(k int) int { return k / p.block }
	if gt := opt(in, 4); gt != nil {
		if zt := opt(in, 3); zt != nil && zt.DType() == tensor.Uint8 {
			return nil, fmt.Errorf("g_idx (deprecated) with packed uint8 zero_points is not supported; give float zero_points or reorder B's columns at export")
		}
		g, err := ops.Ints64(gt)
		if err != nil || len(g) != p.k {
			return nil, fmt.Errorf("g_idx has shape %v, want (%d) integers (%v)", gt.Shape(), p.k, err)
		}
		for _, v := range g {
			if v < 0 || v >= int64(blocks) {
				return nil, fmt.Errorf("g_idx value %d out of range [0, %d)", v, blocks)
			}
		}
		blockOf = func(k int) int { return int(g[k]) }
	}
	var bias []F
	if bt := opt(in, 5); bt != nil {
		if bias, err = lastDimBias[F]("bias", bt, []int{p.n}); err != nil {
			return nil, err
		}
	}
	a, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	m := len(a) / p.k
	ysh := append(append([]int{}, as[:len(as)-1]...), p.n)
	y, err := floatio.New[F](c, in[0].DType(), ysh...)
	if err != nil {
		return nil, err
	}
	dq := dequantizer{q: q, blocks: blocks, blob: blob, block: p.block, k: p.k, bits: p.bits}
	if m <= 8 && opt(in, 4) == nil {
		// A few rows (decoding): y[m, n] = sum over blocks of
		// scale * (a . q - zero * sum(a)) without materializing B.
		asum := make([]float64, m*blocks)
		for i := 0; i < m; i++ {
			for k, v := range a[i*p.k : (i+1)*p.k] {
				asum[i*blocks+k/p.block] += float64(v)
			}
		}
		err = parallel(c, p.n, func(n int) {
			deq := make([]float64, p.block)
			for blk := 0; blk < blocks; blk++ {
				width := dq.unpackBlock(deq, n, blk)
				sc, z := float64(scales[n*blocks+blk]), zero(n, blk)
				for i := 0; i < m; i++ {
					ar := a[i*p.k+blk*p.block:][:width]
					var acc float64
					for j, v := range ar {
						acc += float64(v) * deq[j]
					}
					y.Buf[i*p.n+n] += F(sc * (acc - z*asum[i*blocks+blk]))
				}
			}
		})
	} else {
		if err = checkSize(c, p.n, p.k); err != nil {
			return nil, err
		}
		// w is dequant(B): (N, K).
		w := make([]F, p.k*p.n)
		err = parallel(c, p.n, func(n int) {
			deq := make([]float64, p.block)
			for blk := 0; blk < blocks; blk++ {
				width := dq.unpackBlock(deq, n, blk)
				for j, v := range deq[:width] {
					k := blk*p.block + j
					b := blockOf(k)
					w[n*p.k+k] = F((v - zero(n, b)) * float64(scales[n*blocks+b]))
				}
			}
		})
		if err == nil {
			threads := 1
			if c != nil {
				threads = max(1, c.Threads)
			}
			gemmThreads(threads, false, true, m, p.n, p.k, 1, a, p.k, w, p.k, y.Buf, p.n)
		}
	}
	if err != nil {
		return nil, err
	}
	if bias != nil {
		for i := range y.Buf {
			y.Buf[i] += bias[i%p.n]
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}
