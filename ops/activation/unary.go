package activation

import (
	"fmt"
	"github.com/gort-ml/gort/ops/internal/kernelutil"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// chunk is the number of elements processed between cancellation checks and
// the size of the float32 scratch used for float16/bfloat16 inputs.
const chunk = 1 << 14

// floatFn is one elementwise function instantiated for both native float
// widths; dst and src have equal length and may not overlap partially.
type floatFn struct {
	f32 func(dst, src []float32)
	f64 func(dst, src []float64)
}

// unary returns a kernel applying f to its single float input. float16 and
// bfloat16 are computed in float32 and rounded to nearest even. When ints is
// set, integer inputs are computed in float64 and truncated back.
func unary(f floatFn, ints bool) *ops.Kernel {
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		out, err := mapFloat(c, in[0], f, ints)
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{out}, nil
	}}
}

// mapFloat allocates out like x and fills it with f(x).
func mapFloat(c *ops.Ctx, x *tensor.Tensor, f floatFn, ints bool) (*tensor.Tensor, error) {
	if !floatOK(x.DType()) && !(ints && x.DType().IsInt() && x.DType().Size() >= 1) {
		return nil, fmt.Errorf("unsupported input dtype %v (want float16, bfloat16, float32 or float64)", x.DType())
	}
	out, err := c.New(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	return out, applyFloat(c, out, x, f)
}

func floatOK(d tensor.DType) bool {
	switch d {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		return true
	}
	return false
}

// grain is the least number of elements worth a goroutine.
const grain = 1 << 15

// applyFloat writes f(x) into out (same dtype and size as x), on up to
// c.Threads goroutines for large tensors.
func applyFloat(c *ops.Ctx, out, x *tensor.Tensor, f floatFn) error {
	return kernelutil.Parallel(c, x.Len(), grain, func(lo, hi int) error { return applyRange(c, out, x, f, lo, hi) })
}

// applyRange is applyFloat on elements [lo, hi).
func applyRange(c *ops.Ctx, out, x *tensor.Tensor, f floatFn, lo, hi int) error {
	switch x.DType() {
	case tensor.Float32:
		return chunked(c, tensor.Data[float32](out)[lo:hi], tensor.Data[float32](x)[lo:hi], f.f32)
	case tensor.Float64:
		return chunked(c, tensor.Data[float64](out)[lo:hi], tensor.Data[float64](x)[lo:hi], f.f64)
	case tensor.Float16:
		return viaF32(c, tensor.Data[tensor.Float16Bits](out)[lo:hi], tensor.Data[tensor.Float16Bits](x)[lo:hi], f.f32, f16in, f16out)
	case tensor.BFloat16:
		return viaF32(c, tensor.Data[tensor.BFloat16Bits](out)[lo:hi], tensor.Data[tensor.BFloat16Bits](x)[lo:hi], f.f32, bf16in, bf16out)
	case tensor.Int8:
		return viaF64(c, tensor.Data[int8](out)[lo:hi], tensor.Data[int8](x)[lo:hi], f.f64)
	case tensor.Int16:
		return viaF64(c, tensor.Data[int16](out)[lo:hi], tensor.Data[int16](x)[lo:hi], f.f64)
	case tensor.Int32:
		return viaF64(c, tensor.Data[int32](out)[lo:hi], tensor.Data[int32](x)[lo:hi], f.f64)
	case tensor.Int64:
		return viaF64(c, tensor.Data[int64](out)[lo:hi], tensor.Data[int64](x)[lo:hi], f.f64)
	case tensor.Uint8:
		return viaF64(c, tensor.Data[uint8](out)[lo:hi], tensor.Data[uint8](x)[lo:hi], f.f64)
	case tensor.Uint16:
		return viaF64(c, tensor.Data[uint16](out)[lo:hi], tensor.Data[uint16](x)[lo:hi], f.f64)
	case tensor.Uint32:
		return viaF64(c, tensor.Data[uint32](out)[lo:hi], tensor.Data[uint32](x)[lo:hi], f.f64)
	case tensor.Uint64:
		return viaF64(c, tensor.Data[uint64](out)[lo:hi], tensor.Data[uint64](x)[lo:hi], f.f64)
	}
	return fmt.Errorf("unsupported input dtype %v", x.DType())
}

func chunked[T tensor.Float](c *ops.Ctx, dst, src []T, f func(dst, src []T)) error {
	for i := 0; i < len(src); i += chunk {
		if err := c.Check(); err != nil {
			return err
		}
		j := min(i+chunk, len(src))
		f(dst[i:j], src[i:j])
	}
	return nil
}

func f16in(dst []float32, src []tensor.Float16Bits) {
	for i, v := range src {
		dst[i] = v.Float32()
	}
}

func f16out(dst []tensor.Float16Bits, src []float32) {
	for i, v := range src {
		dst[i] = tensor.Float16FromFloat32(v)
	}
}

func bf16in(dst []float32, src []tensor.BFloat16Bits) {
	for i, v := range src {
		dst[i] = v.Float32()
	}
}

func bf16out(dst []tensor.BFloat16Bits, src []float32) {
	for i, v := range src {
		dst[i] = tensor.BFloat16FromFloat32(v)
	}
}

// viaF32 runs a float32 kernel over 16-bit float data through a scratch buffer.
func viaF32[H any](c *ops.Ctx, dst, src []H, f func(dst, src []float32), load func([]float32, []H), store func([]H, []float32)) error {
	buf := make([]float32, min(chunk, len(src)))
	for i := 0; i < len(src); i += chunk {
		if err := c.Check(); err != nil {
			return err
		}
		j := min(i+chunk, len(src))
		b := buf[:j-i]
		load(b, src[i:j])
		f(b, b)
		store(dst[i:j], b)
	}
	return nil
}

// viaF64 runs a float64 kernel over integer data, truncating results toward zero.
func viaF64[T tensor.Integer](c *ops.Ctx, dst, src []T, f func(dst, src []float64)) error {
	buf := make([]float64, min(chunk, len(src)))
	for i := 0; i < len(src); i += chunk {
		if err := c.Check(); err != nil {
			return err
		}
		j := min(i+chunk, len(src))
		b := buf[:j-i]
		for k, v := range src[i:j] {
			b[k] = float64(v)
		}
		f(b, b)
		for k, v := range b {
			dst[i+k] = T(v)
		}
	}
	return nil
}

// floats widens a float tensor of any float dtype to float64 (for kernels
// whose inner loops are not elementwise, e.g. Softmax).
func floats(x *tensor.Tensor) ([]float64, error) {
	out := make([]float64, x.Len())
	switch x.DType() {
	case tensor.Float32:
		for i, v := range tensor.Data[float32](x) {
			out[i] = float64(v)
		}
	case tensor.Float64:
		copy(out, tensor.Data[float64](x))
	case tensor.Float16:
		for i, v := range tensor.Data[tensor.Float16Bits](x) {
			out[i] = float64(v.Float32())
		}
	case tensor.BFloat16:
		for i, v := range tensor.Data[tensor.BFloat16Bits](x) {
			out[i] = float64(v.Float32())
		}
	default:
		return nil, fmt.Errorf("unsupported input dtype %v (want float16, bfloat16, float32 or float64)", x.DType())
	}
	return out, nil
}

// storeFloats narrows v into out, whose float dtype was accepted by floats.
func storeFloats(out *tensor.Tensor, v []float64) {
	switch out.DType() {
	case tensor.Float32:
		d := tensor.Data[float32](out)
		for i, x := range v {
			d[i] = float32(x)
		}
	case tensor.Float64:
		copy(tensor.Data[float64](out), v)
	case tensor.Float16:
		d := tensor.Data[tensor.Float16Bits](out)
		for i, x := range v {
			d[i] = tensor.Float16FromFloat32(float32(x))
		}
	case tensor.BFloat16:
		d := tensor.Data[tensor.BFloat16Bits](out)
		for i, x := range v {
			d[i] = tensor.BFloat16FromFloat32(float32(x))
		}
	}
}
