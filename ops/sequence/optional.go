package sequence

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Optional wraps its input in an optional value, or, with no input, returns
// an empty optional of the type attribute.
var Optional = ops.Versions("", "Optional", "optional(input), or an empty optional(type)", []int{15},
	func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		var e tensor.Type
		if len(in) > 0 && in[0].Kind != tensor.KindUnknown {
			e = in[0]
		} else if a := n.Attr("type"); a != nil && a.TP != nil {
			e = *a.TP
		}
		return []tensor.Type{{Kind: tensor.KindOptional, Elem: &e}}, nil
	},
	func(n *ops.Node) (*ops.Kernel, error) {
		var elem tensor.Type
		hasType := false
		if a := n.Attr("type"); a != nil {
			if a.Type != ops.AttrTypeProto || a.TP == nil {
				return nil, fmt.Errorf("attribute type is %v, want a type_proto", a.Type)
			}
			elem, hasType = *a.TP, true
		}
		hasInput := len(n.Inputs) > 0 && n.Inputs[0] != ""
		if !hasInput && !hasType {
			return nil, fmt.Errorf("Optional needs an input or a type attribute")
		}
		return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
			if len(in) == 0 || in[0] == nil {
				return []tensor.Value{&tensor.Optional{Elem: elem}}, nil
			}
			if o, ok := in[0].(*tensor.Optional); ok {
				return []tensor.Value{o}, nil // already optional: Identity
			}
			e := elem
			if !hasType {
				e = typeOf(in[0])
			}
			return []tensor.Value{&tensor.Optional{Elem: e, V: in[0]}}, nil
		}}, nil
	})

// OptionalHasElement reports whether its input holds a value: false for an
// empty optional or a missing input, true otherwise (from version 18 a plain
// tensor or sequence is accepted; gort accepts it at 15 too, as a Loop may
// carry an optional that becomes a plain value after the first iteration).
var OptionalHasElement = ops.Versions("", "OptionalHasElement", "input is not empty (bool scalar)", []int{15, 18},
	func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		return []tensor.Type{tensor.TensorType(tensor.Bool)}, nil
	},
	values(func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		has := len(in) > 0 && in[0] != nil
		if has {
			if o, ok := in[0].(*tensor.Optional); ok {
				has = o.V != nil
			}
		}
		return []tensor.Value{tensor.Scalar(has)}, nil
	}))

// OptionalGetElement returns the value held by an optional (an error when it
// is empty); a plain tensor or sequence is returned as is (Identity).
var OptionalGetElement = ops.Versions("", "OptionalGetElement", "the value inside optional input", []int{15, 18},
	func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if len(in) > 0 && in[0].Kind == tensor.KindOptional && in[0].Elem != nil {
			return []tensor.Type{*in[0].Elem}, nil
		}
		if len(in) > 0 {
			return []tensor.Type{in[0]}, nil
		}
		return nil, fmt.Errorf("no inputs")
	},
	values(func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		if len(in) == 0 || in[0] == nil {
			return nil, fmt.Errorf("input 0 is an empty optional; check OptionalHasElement first")
		}
		v := in[0]
		if o, ok := v.(*tensor.Optional); ok {
			if o.V == nil {
				return nil, fmt.Errorf("input 0 is an empty optional; check OptionalHasElement first")
			}
			v = o.V
		}
		return []tensor.Value{v}, nil
	}))

// typeOf describes a runtime value (dtype and kind; shapes are left unknown
// for sequence elements, which may differ).
func typeOf(v tensor.Value) tensor.Type {
	switch x := v.(type) {
	case *tensor.Tensor:
		return tensor.TensorType(x.DType(), x.Shape()...)
	case *tensor.Sequence:
		e := x.Elem
		return tensor.Type{Kind: tensor.KindSequence, Elem: &e}
	case *tensor.Optional:
		e := x.Elem
		return tensor.Type{Kind: tensor.KindOptional, Elem: &e}
	case *tensor.Map:
		return tensor.Type{Kind: tensor.KindMap, DType: x.Keys.DType()}
	}
	return tensor.Type{}
}
