// Package sequence holds gort's kernels for ONNX sequence and optional
// values.
//
// # Overview
//
// Sequence ops (SequenceEmpty, SequenceConstruct, SequenceAt, SequenceInsert,
// SequenceErase, SequenceLength, SplitToSequence, ConcatFromSequence,
// SequenceMap) take and produce *tensor.Sequence values; the optional ops
// (Optional, OptionalHasElement, OptionalGetElement) produce and inspect
// *tensor.Optional values. All use Kernel.RunValues.
//
// Values are immutable, so a sequence op that passes elements through
// (SequenceAt, SequenceInsert, SequenceConstruct, OptionalGetElement, ...)
// shares the element tensors with its input instead of copying them, like
// Identity; the sequence itself is always a new value. Positions accept
// int32 or int64 scalars (or one-element tensors); negative positions count
// from the back.
//
// Concat and Slab are exported for the control-flow kernels (Loop and Scan
// outputs, Scan inputs).
package sequence

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		SequenceEmpty,
		SequenceConstruct,
		SequenceAt,
		SequenceInsert,
		SequenceErase,
		SequenceLength,
		SplitToSequence,
		ConcatFromSequence,
		SequenceMap,
		Optional,
		OptionalHasElement,
		OptionalGetElement,
	)
}

// SequenceEmpty returns an empty sequence of tensors of the dtype attribute
// (default float32).
var SequenceEmpty = ops.Versions("", "SequenceEmpty", "seq() of element type dtype", []int{11},
	func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		return []tensor.Type{seqType(tensor.DType(n.Int("dtype", int64(tensor.Float32))))}, nil
	},
	func(n *ops.Node) (*ops.Kernel, error) {
		d := tensor.DType(n.Int("dtype", int64(tensor.Float32)))
		if !d.Supported() {
			return nil, fmt.Errorf("dtype %v is not supported", d)
		}
		return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
			return []tensor.Value{&tensor.Sequence{Elem: tensorType(d)}}, nil
		}}, nil
	})

// SequenceConstruct returns the sequence (in[0], in[1], ...) of tensors that
// share a dtype.
var SequenceConstruct = ops.Versions("", "SequenceConstruct", "seq(inputs...) of tensors of one dtype", []int{11},
	func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if len(in) == 0 {
			return nil, fmt.Errorf("no inputs")
		}
		return []tensor.Type{seqType(in[0].DType)}, nil
	},
	values(func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		if len(in) == 0 {
			return nil, fmt.Errorf("SequenceConstruct needs at least one input")
		}
		items := make([]tensor.Value, len(in))
		var d tensor.DType
		for i, v := range in {
			t, err := asTensor(v, fmt.Sprintf("input %d", i))
			if err != nil {
				return nil, err
			}
			if i == 0 {
				d = t.DType()
			} else if t.DType() != d {
				return nil, fmt.Errorf("input %d is %v, input 0 is %v; a sequence holds one dtype", i, t.DType(), d)
			}
			items[i] = t
		}
		return []tensor.Value{&tensor.Sequence{Elem: tensorType(d), Items: items}}, nil
	}))

// SequenceAt returns S[position], position in [-len(S), len(S)).
var SequenceAt = ops.Versions("", "SequenceAt", "S[position] (negative counts from the back)", []int{11},
	func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if len(in) > 0 && in[0].Kind == tensor.KindSequence && in[0].Elem != nil {
			return []tensor.Type{*in[0].Elem}, nil
		}
		return []tensor.Type{{}}, nil
	},
	values(func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		s, err := inputSeq(in)
		if err != nil {
			return nil, err
		}
		if len(in) < 2 || in[1] == nil {
			return nil, fmt.Errorf("input 1 (position) is required")
		}
		p, err := position(in[1], len(s.Items), false)
		if err != nil {
			return nil, err
		}
		return []tensor.Value{s.Items[p]}, nil
	}))

// SequenceInsert returns S with tensor inserted before position (default:
// appended), position in [-len(S), len(S)].
var SequenceInsert = ops.Versions("", "SequenceInsert", "S[:p] + [tensor] + S[p:] (p defaults to len(S))", []int{11},
	inferSameSeq,
	values(func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		s, err := inputSeq(in)
		if err != nil {
			return nil, err
		}
		if len(in) < 2 || in[1] == nil {
			return nil, fmt.Errorf("input 1 (tensor) is required")
		}
		t, err := asTensor(in[1], "input 1 (tensor)")
		if err != nil {
			return nil, err
		}
		elem := s.Elem
		switch {
		case elem.Kind == tensor.KindUnknown || (elem.Kind == tensor.KindTensor && elem.DType == tensor.Undefined):
			elem = tensorType(t.DType())
		case elem.Kind != tensor.KindTensor:
			return nil, fmt.Errorf("cannot insert a tensor into a sequence of %v values", elem.Kind)
		case elem.DType != t.DType():
			return nil, fmt.Errorf("cannot insert a %v tensor into a sequence of %v tensors; insert a Cast", t.DType(), elem.DType)
		}
		p := len(s.Items)
		if len(in) > 2 && in[2] != nil {
			if p, err = position(in[2], len(s.Items), true); err != nil {
				return nil, err
			}
		}
		items := make([]tensor.Value, 0, len(s.Items)+1)
		items = append(items, s.Items[:p]...)
		items = append(items, t)
		items = append(items, s.Items[p:]...)
		return []tensor.Value{&tensor.Sequence{Elem: elem, Items: items}}, nil
	}))

// SequenceErase returns S without S[position] (default: the last element),
// position in [-len(S), len(S)).
var SequenceErase = ops.Versions("", "SequenceErase", "S[:p] + S[p+1:] (p defaults to -1)", []int{11},
	inferSameSeq,
	values(func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		s, err := inputSeq(in)
		if err != nil {
			return nil, err
		}
		if len(s.Items) == 0 {
			return nil, fmt.Errorf("cannot erase from an empty sequence")
		}
		p := len(s.Items) - 1
		if len(in) > 1 && in[1] != nil {
			if p, err = position(in[1], len(s.Items), false); err != nil {
				return nil, err
			}
		}
		items := make([]tensor.Value, 0, len(s.Items)-1)
		items = append(items, s.Items[:p]...)
		items = append(items, s.Items[p+1:]...)
		return []tensor.Value{&tensor.Sequence{Elem: s.Elem, Items: items}}, nil
	}))

// SequenceLength returns len(S) as an int64 scalar.
var SequenceLength = ops.Versions("", "SequenceLength", "len(S) as an int64 scalar", []int{11},
	func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		return []tensor.Type{tensor.TensorType(tensor.Int64)}, nil
	},
	values(func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		s, err := inputSeq(in)
		if err != nil {
			return nil, err
		}
		return []tensor.Value{tensor.Scalar(int64(len(s.Items)))}, nil
	}))

func tensorType(d tensor.DType) tensor.Type { return tensor.Type{Kind: tensor.KindTensor, DType: d} }

func seqType(d tensor.DType) tensor.Type {
	e := tensorType(d)
	return tensor.Type{Kind: tensor.KindSequence, Elem: &e}
}

func inferSameSeq(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("no inputs")
	}
	return []tensor.Type{in[0]}, nil
}

// inputSeq returns input 0 as a sequence.
func inputSeq(in []tensor.Value) (*tensor.Sequence, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, fmt.Errorf("input 0 (sequence) is required")
	}
	return asSeq(in[0], "input 0")
}

// asSeq accepts a sequence or an optional holding one.
func asSeq(v tensor.Value, what string) (*tensor.Sequence, error) {
	return unwrap[*tensor.Sequence](v, what, "sequence")
}

// asTensor accepts a tensor or an optional holding one.
func asTensor(v tensor.Value, what string) (*tensor.Tensor, error) {
	return unwrap[*tensor.Tensor](v, what, "tensor")
}

func unwrap[T interface {
	*tensor.Tensor | *tensor.Sequence
	tensor.Value
}](v tensor.Value, what, want string) (T, error) {
	if o, ok := v.(*tensor.Optional); ok && o.V != nil {
		v = o.V
	}
	x, ok := v.(T)
	if !ok || x == nil {
		return nil, fmt.Errorf("%s is a %s, want a %s", what, kindOf(v), want)
	}
	return x, nil
}

func kindOf(v tensor.Value) string {
	switch x := v.(type) {
	case nil:
		return "missing value"
	case *tensor.Tensor:
		return "tensor"
	case *tensor.Sequence:
		return "sequence"
	case *tensor.Map:
		return "map"
	case *tensor.Optional:
		if x.V == nil {
			return "empty optional"
		}
		return "optional " + kindOf(x.V)
	}
	return fmt.Sprintf("%T", v)
}

// position reads a position tensor (int32/int64, one element) and maps it
// into [0, n) — or [0, n] when end is allowed (insertion).
func position(v tensor.Value, n int, end bool) (int, error) {
	t, err := asTensor(v, "position")
	if err != nil {
		return 0, err
	}
	if t.Len() != 1 {
		return 0, fmt.Errorf("position has shape %v, want a scalar", t.Shape())
	}
	ps, err := ops.Ints64(t)
	if err != nil {
		return 0, fmt.Errorf("position: %w", err)
	}
	p := ps[0]
	hi := int64(n)
	if !end {
		hi--
	}
	if p < -int64(n) || p > hi {
		return 0, fmt.Errorf("position %d out of range [%d, %d] for a sequence of length %d", p, -n, hi, n)
	}
	if p < 0 {
		p += int64(n)
	}
	return int(p), nil
}

// values wraps a RunValues function that needs no compile-time state.
func values(run func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error)) func(*ops.Node) (*ops.Kernel, error) {
	return func(*ops.Node) (*ops.Kernel, error) { return &ops.Kernel{RunValues: run}, nil }
}
