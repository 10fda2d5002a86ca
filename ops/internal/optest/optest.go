// Package optest runs one operator schema from an op list in unit tests.
package optest

import (
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Run compiles the schema of (domain "", op) in force at opset from list,
// with the given attributes and output names, and runs it on in with a
// two-thread context. Compile and run errors are returned; a missing
// schema fails the test.
func Run(t testing.TB, list []*ops.Op, op string, opset int, attrs []ops.Attr, outputs []string, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	reg, err := ops.NewRegistry(list)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := reg.Lookup("", op, opset)
	if err != nil {
		t.Fatal(err)
	}
	k, err := schema.Compile(&ops.Node{OpType: op, Opset: opset, Attrs: attrs, Outputs: outputs})
	if err != nil {
		return nil, err
	}
	return k.Run(&ops.Ctx{Threads: 2}, in)
}

// Kernel compiles the newest schema of list for node n, whose OpType,
// Domain and Opset it sets from the schema; a compile error, or one the
// node recorded reading its attributes, fails the test.
func Kernel(t testing.TB, list []*ops.Op, n *ops.Node) *ops.Kernel {
	t.Helper()
	o := list[len(list)-1]
	n.OpType, n.Domain, n.Opset = o.Type, o.Domain, o.Since
	k, err := o.Compile(n)
	if err == nil {
		err = n.Err()
	}
	if err != nil {
		t.Fatalf("%s: compile: %v", o.Type, err)
	}
	return k
}

// SameType reports whether a and b have one dtype and one (possibly
// symbolic) shape, or both no shape.
func SameType(a, b tensor.Type) bool {
	if a.DType != b.DType || a.HasShape != b.HasShape || len(a.Shape) != len(b.Shape) {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	return true
}

// Int and Float make attributes.
func Int(name string, v int64) ops.Attr     { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
func Float(name string, v float32) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrFloat, F: v} }
