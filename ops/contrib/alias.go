package contrib

import (
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/quant"
	"github.com/gort-ml/gort/ops/shape"
	"github.com/gort-ml/gort/tensor"
)

// aliasOps are com.microsoft schemas that ONNX later standardized (or that
// are older names of ops here): each runs the kernel of the standard schema
// that has the same semantics.
func aliasOps() []*ops.Op {
	return ops.Join(
		// TransposeMatMul is FusedMatMul's older name.
		ops.Versions(ms, "TransposeMatMul", "Y = alpha * op(A) @ op(B) (FusedMatMul's older name)", []int{1},
			nil, compileFusedMatMul),
		alias("Trilu", shape.Ops(), 14, "y = the upper (or lower) triangle of x above diagonal k, as ONNX Trilu-14"),
		alias("QuantizeLinear", quant.Ops(), 21, "y = saturate(round(x / y_scale) + y_zero_point), as ONNX QuantizeLinear-21 (int4..int16 outputs)"),
		alias("DequantizeLinear", quant.Ops(), 21, "y = (x - x_zero_point) * x_scale, as ONNX DequantizeLinear-21 (int4..int32 inputs)"),
	)
}

// alias declares com.microsoft typ version 1 running the default-domain
// schema of typ in force at opset (as a model of that opset would).
func alias(typ string, list []*ops.Op, opset int, doc string) []*ops.Op {
	var std *ops.Op
	for _, op := range list {
		if op.Domain == "" && op.Type == typ && op.Since <= opset && (std == nil || op.Since > std.Since) {
			std = op
		}
	}
	if std == nil {
		return nil
	}
	at := func(n *ops.Node) *ops.Node {
		c := *n
		c.Domain, c.Opset = "", opset
		return &c
	}
	a := &ops.Op{Domain: ms, Type: typ, Since: 1, Doc: doc,
		Compile: func(n *ops.Node) (*ops.Kernel, error) { return std.Compile(at(n)) }}
	if std.Infer != nil {
		a.Infer = func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) { return std.Infer(at(n), in) }
	}
	return []*ops.Op{a}
}
