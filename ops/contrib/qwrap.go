package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/elementwise"
	"github.com/gort-ml/gort/ops/nn"
	"github.com/gort-ml/gort/ops/reduce"
	"github.com/gort-ml/gort/tensor"
)

// qwrapOps are QOperator ops that run a standard float kernel between
// dequantization and requantization.
func qwrapOps() []*ops.Op {
	return ops.Join(
		// QLinearAveragePool: X, x_scale, x_zero_point, y_scale,
		// y_zero_point; AveragePool's attributes, channels_last.
		qwrap("QLinearAveragePool", "Y = quantize(AveragePool(dequantize(X))), NCHW or channels-last",
			nn.AveragePool, 11, []int{0}, 3, true),
		// QLinearReduceMean: data, data_scale, data_zero_point,
		// reduced_scale, reduced_zero_point; axes, keepdims.
		qwrap("QLinearReduceMean", "Y = quantize(ReduceMean(dequantize(data), axes, keepdims))",
			reduce.ReduceMean, 13, []int{0}, 3, false),
		// QLinearWhere: condition, X, x_scale, x_zero_point, Y, y_scale,
		// y_zero_point, z_scale, z_zero_point.
		qwrap("QLinearWhere", "Z = quantize(Where(condition, dequantize(X), dequantize(Y)))",
			elementwise.Ops(), 16, []int{1, 4}, 7, false),
	)
}

// qwrap declares com.microsoft typ: the default-domain typ (named by
// stripping "QLinear") of list at opset, run on the inputs where each
// quantized triple (q, scale, zero_point) starting at the positions qs is
// replaced by its float value; the output is quantized with the scale
// and zero point at out, out+1. With layout the op may take
// channels_last = 1 and run between transposes.
func qwrap(typ, doc string, list []*ops.Op, opset int, qs []int, out int, layout bool) []*ops.Op {
	stdType := typ[len("QLinear"):]
	var std *ops.Op
	for _, op := range list {
		if op.Domain == "" && op.Type == stdType && op.Since <= opset && (std == nil || op.Since > std.Since) {
			std = op
		}
	}
	if std == nil {
		return nil
	}
	compile := func(n *ops.Node) (*ops.Kernel, error) {
		last := n.Int("channels_last", 0) != 0
		if err := n.Err(); err != nil {
			return nil, err
		}
		if last && !layout {
			return nil, fmt.Errorf("channels_last is not an attribute of %s", typ)
		}
		inner := *n
		inner.Domain, inner.Opset, inner.Attrs = "", opset, nil
		for _, a := range n.Attrs {
			if a.Name != "channels_last" {
				inner.Attrs = append(inner.Attrs, a)
			}
		}
		k, err := std.Compile(&inner)
		if err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if len(in) < out+1 {
				return nil, fmt.Errorf("%d inputs, want at least %d", len(in), out+1)
			}
			var args []*tensor.Tensor
			for i := 0; i < out; i++ {
				q := -1
				for _, s := range qs {
					if i >= s && i < s+3 {
						q = s
					}
				}
				switch {
				case q < 0:
					args = append(args, in[i])
				case i == q:
					if in[i] == nil || in[i+1] == nil || in[i+1].Len() != 1 || (in[i+2] != nil && in[i+2].Len() != 1) {
						return nil, fmt.Errorf("input %d needs a scalar scale and zero point", i)
					}
					x, err := dequant(fmt.Sprintf("input %d", i), in[i], in[i+1], in[i+2])
					if err != nil {
						return nil, err
					}
					if last {
						if x.Rank() < 3 {
							return nil, fmt.Errorf("X has shape %v, want (N, spatial..., C)", x.Shape())
						}
						if x, err = channelsFirst(c, x); err != nil {
							return nil, err
						}
					}
					args = append(args, x)
				}
			}
			res, err := k.Run(c, args)
			if err != nil || len(res) == 0 || res[0] == nil {
				return res, err
			}
			y := res[0]
			if last {
				if y, err = channelsLast(c, y); err != nil {
					return nil, err
				}
			}
			if y.DType() != tensor.Float32 {
				return nil, fmt.Errorf("%s computed %v, want float32", stdType, y.DType())
			}
			v := make([]float64, y.Len())
			for i, e := range tensor.Data[float32](y) {
				v[i] = float64(e)
			}
			yq, err := requant(c, v, y.Shape(), in[out], opt(in, out+1))
			return []*tensor.Tensor{yq}, err
		}}, nil
	}
	return ops.Versions(ms, typ, doc, []int{1}, nil, compile)
}
