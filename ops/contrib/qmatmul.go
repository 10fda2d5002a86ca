package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/quant"
	"github.com/gort-ml/gort/tensor"
)

// qmatmulOps are the integer matrix products of dynamically quantized
// exports (ONNX Runtime's quantize_dynamic on a transformer).
func qmatmulOps() []*ops.Op {
	return ops.Join(
		// DynamicQuantizeMatMul: A is quantized to uint8 over its range
		// (DynamicQuantizeLinear); Y = (qA - zA) sA @ (B - zB) sB + bias.
		ops.Versions(ms, "DynamicQuantizeMatMul", "Y = (qA - zA)*sA @ (B - zB)*sB + bias, A quantized to uint8 over its range", []int{1},
			inferQMatMul, compileQMatMul(true)),
		// MatMulIntegerToFloat: Y = (A - zA) sA @ (B - zB) sB + bias.
		ops.Versions(ms, "MatMulIntegerToFloat", "Y = (A - zA)*sA @ (B - zB)*sB + bias, A and B 8-bit integers", []int{1},
			inferQMatMul, compileQMatMul(false)),
	)
}

func inferQMatMul(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	t := tensorOf(tensor.Float32)
	if in[0].HasShape && len(in[0].Shape) > 0 && in[1].HasShape && len(in[1].Shape) == 2 {
		t = tensorOf(tensor.Float32, append(append([]tensor.Dim{}, in[0].Shape[:len(in[0].Shape)-1]...), in[1].Shape[1])...)
	}
	return []tensor.Type{t}, nil
}

// dynamicQuantize is ops/quant's DynamicQuantizeLinear kernel.
var dynamicQuantize = func() *ops.Op {
	for _, op := range quant.Ops() {
		if op.Domain == "" && op.Type == "DynamicQuantizeLinear" {
			return op
		}
	}
	return nil
}()

func compileQMatMul(dynamic bool) func(*ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		var dq *ops.Kernel
		if dynamic {
			if dynamicQuantize == nil {
				return nil, fmt.Errorf("DynamicQuantizeLinear is missing from ops/quant")
			}
			var err error
			if dq, err = dynamicQuantize.Compile(&ops.Node{OpType: "DynamicQuantizeLinear", Opset: 11, Outputs: []string{"y", "s", "z"}}); err != nil {
				return nil, err
			}
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			// Inputs: DynamicQuantizeMatMul A, B, b_scale, b_zero_point, bias;
			// MatMulIntegerToFloat A, B, a_scale, b_scale, a_zero_point,
			// b_zero_point, bias.
			var a, b, aScale, bScale, aZero, bZero, bias *tensor.Tensor
			if dynamic {
				if err := ops.Want(in, 3, 5); err != nil {
					return nil, err
				}
				if in[0].DType() != tensor.Float32 {
					return nil, fmt.Errorf("A is %v, want float32", in[0].DType())
				}
				q, err := dq.Run(c, in[:1])
				if err != nil {
					return nil, err
				}
				a, aScale, aZero = q[0], q[1], q[2]
				b, bScale, bZero, bias = in[1], in[2], opt(in, 3), opt(in, 4)
			} else {
				if err := ops.Want(in, 4, 7); err != nil {
					return nil, err
				}
				a, b, aScale, bScale, aZero, bZero, bias = in[0], in[1], in[2], in[3], opt(in, 4), opt(in, 5), opt(in, 6)
			}
			return runQMatMul(c, a, b, aScale, bScale, aZero, bZero, bias)
		}}, nil
	}
}

// ints8 reads an int8 or uint8 tensor as float32 values minus a zero
// point per column of a (rows, cols) matrix (zero nil for none).
func ints8(name string, t *tensor.Tensor, cols int, zero []float32) ([]float32, error) {
	out := make([]float32, t.Len())
	switch d := t.Raw().(type) {
	case []uint8:
		for i, v := range d {
			out[i] = float32(v)
		}
	case []int8:
		for i, v := range d {
			out[i] = float32(v)
		}
	default:
		return nil, fmt.Errorf("%s is %v, want int8 or uint8", name, t.DType())
	}
	if zero != nil {
		for i := range out {
			out[i] -= zero[(i%cols)%len(zero)]
		}
	}
	return out, nil
}

// perColumn reads an optional scalar or (n) scale or zero point of dtype
// float32, int8 or uint8.
func perColumn(name string, t *tensor.Tensor, n int) ([]float32, error) {
	if t == nil {
		return nil, nil
	}
	if t.Len() != 1 && t.Len() != n {
		return nil, fmt.Errorf("%s has shape %v, want a scalar or (%d)", name, t.Shape(), n)
	}
	if t.DType() == tensor.Float32 {
		return tensor.Data[float32](t), nil
	}
	return ints8(name, t, 1, nil)
}

// runQMatMul: A is (..., K) 8-bit, B (K, N) 8-bit, scales and zero points
// per tensor (B's also per column), bias (N); Y is (..., N) float32.
func runQMatMul(c *ops.Ctx, a, b, aScale, bScale, aZero, bZero, bias *tensor.Tensor) ([]*tensor.Tensor, error) {
	as, bs := a.Shape(), b.Shape()
	if len(as) == 0 || len(bs) != 2 || as[len(as)-1] != bs[0] {
		return nil, fmt.Errorf("A %v and B %v must be (..., K) and (K, N)", as, bs)
	}
	k, n := bs[0], bs[1]
	sa, err := perColumn("a_scale", aScale, 1)
	if err != nil {
		return nil, err
	}
	sb, err := perColumn("b_scale", bScale, n)
	if err != nil {
		return nil, err
	}
	za, err := perColumn("a_zero_point", aZero, 1)
	if err != nil {
		return nil, err
	}
	zb, err := perColumn("b_zero_point", bZero, n)
	if err != nil {
		return nil, err
	}
	bv, err := perColumn("bias", bias, n)
	if err != nil {
		return nil, err
	}
	if bias != nil && bias.Len() != n {
		return nil, fmt.Errorf("bias has shape %v, want (%d)", bias.Shape(), n)
	}
	av, err := ints8("A", a, k, za)
	if err != nil {
		return nil, err
	}
	bq, err := ints8("B", b, n, zb)
	if err != nil {
		return nil, err
	}
	m := 0
	if k > 0 {
		m = len(av) / k
	}
	ysh := append(append([]int{}, as[:len(as)-1]...), n)
	y, err := c.New(tensor.Float32, ysh...)
	if err != nil {
		return nil, err
	}
	yd := tensor.Data[float32](y)
	// The integer products are exact in float32 up to 2^24.
	gemm(c, m, n, k, 1, av, bq, yd)
	for i := range yd {
		j := i % n
		v := yd[i] * sa[0] * sb[j%len(sb)]
		if bv != nil {
			v += bv[j]
		}
		yd[i] = v
	}
	return []*tensor.Tensor{y}, nil
}
