package control_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/control"
	"github.com/gort-ml/gort/ops/sequence"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// The tests run control flow through runtime.NewSession with a registry of
// this package's ops, the sequence ops and a few tiny test ops defined here
// (so they do not depend on the elementwise family).

func binary(name string, f64 func(a, b float64) float64) *ops.Op {
	return &ops.Op{Type: name, Since: 1, Doc: "test op", Compile: ops.Simple(func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		a, b := in[0], in[1]
		if a.DType() != b.DType() {
			return nil, fmt.Errorf("dtypes %v and %v", a.DType(), b.DType())
		}
		big, small := a, b
		swap := false
		if b.Len() > a.Len() {
			big, small, swap = b, a, true
		}
		if small.Len() != 1 && !tensor.SameShape(a.Shape(), b.Shape()) {
			return nil, fmt.Errorf("shapes %v and %v", a.Shape(), b.Shape())
		}
		out, err := c.New(big.DType(), big.Shape()...)
		if err != nil {
			return nil, err
		}
		get := func(t *tensor.Tensor, i int) float64 {
			if t.Len() == 1 {
				i = 0
			}
			switch t.DType() {
			case tensor.Float32:
				return float64(tensor.Data[float32](t)[i])
			case tensor.Int64:
				return float64(tensor.Data[int64](t)[i])
			}
			panic("test op dtype")
		}
		for i := 0; i < out.Len(); i++ {
			x, y := get(big, i), get(small, i)
			if swap {
				x, y = y, x
			}
			r := f64(x, y)
			switch out.DType() {
			case tensor.Float32:
				tensor.Data[float32](out)[i] = float32(r)
			case tensor.Int64:
				tensor.Data[int64](out)[i] = int64(r)
			}
		}
		return []*tensor.Tensor{out}, nil
	})}
}

var testOps = []*ops.Op{
	binary("Add", func(a, b float64) float64 { return a + b }),
	binary("Mul", func(a, b float64) float64 { return a * b }),
	{Type: "Less", Since: 1, Doc: "test op", Compile: ops.Simple(func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return []*tensor.Tensor{tensor.Scalar(tensor.Data[int64](in[0])[0] < tensor.Data[int64](in[1])[0])}, nil
	})},
	{Type: "Identity", Since: 1, Doc: "test op", Compile: func(*ops.Node) (*ops.Kernel, error) {
		return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) { return in[:1], nil }}, nil
	}},
}

func testRegistry(t *testing.T) *ops.Registry {
	t.Helper()
	r, err := ops.NewRegistry(control.Ops(), sequence.Ops(), testOps)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func vi(name string, typ tensor.Type) *ir.ValueInfo { return &ir.ValueInfo{Name: name, Type: typ} }

func nd(op string, in, out []string, attrs ...ops.Attr) *ir.Node {
	return &ir.Node{OpType: op, Inputs: in, Outputs: out, Attrs: attrs}
}

func gattr(name string, g *ir.Graph) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrGraph, G: g} }
func iattr(name string, v int64) ops.Attr     { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
func intsAttr(name string, v ...int64) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrInts, Ints: v}
}

func scalarT(d tensor.DType) tensor.Type { return tensor.TensorType(d) }

func seqT(d tensor.DType) tensor.Type {
	e := tensor.Type{Kind: tensor.KindTensor, DType: d}
	return tensor.Type{Kind: tensor.KindSequence, Elem: &e}
}

func optT(e tensor.Type) tensor.Type { return tensor.Type{Kind: tensor.KindOptional, Elem: &e} }

// run builds a model around g at the given opset and runs it once.
func run(t *testing.T, g *ir.Graph, opset int64, feeds map[string]tensor.Value, opts runtime.Options) (map[string]tensor.Value, error) {
	t.Helper()
	return runCtx(t, context.Background(), g, opset, feeds, opts)
}

func runCtx(t *testing.T, ctx context.Context, g *ir.Graph, opset int64, feeds map[string]tensor.Value, opts runtime.Options) (map[string]tensor.Value, error) {
	t.Helper()
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetID{{Domain: "", Version: opset}}, Graph: g}
	opts.Provider = runtime.NativeWith(testRegistry(t))
	s, err := runtime.NewSession(m, opts)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	return s.RunValues(ctx, feeds)
}

// wantTensor checks that v is a tensor of the given shape and values.
func wantTensor[T tensor.Elem](t *testing.T, what string, v tensor.Value, shape []int, want []T) {
	t.Helper()
	x, ok := v.(*tensor.Tensor)
	if !ok {
		t.Fatalf("%s: got a %T, want a tensor", what, v)
	}
	if !tensor.SameShape(x.Shape(), shape) {
		t.Fatalf("%s: shape %v, want %v", what, x.Shape(), shape)
	}
	if x.DType() != tensor.DTypeOf[T]() {
		t.Fatalf("%s: dtype %v, want %v", what, x.DType(), tensor.DTypeOf[T]())
	}
	got := tensor.Data[T](x)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}
