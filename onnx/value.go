package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/tensor"
)

// ParseTensor decodes a serialized TensorProto (such as a node test's
// input_0.pb) and returns its name and value. External data is refused.
func ParseTensor(data []byte) (string, *tensor.Tensor, error) {
	var tp onnxpb.TensorProto
	if err := unmarshal(data, &tp); err != nil {
		return "", nil, fmt.Errorf("onnx: tensor: %w", err)
	}
	t, err := tensorFromProto(&tp, "", true)
	if err != nil {
		return "", nil, err
	}
	return tp.GetName(), t, nil
}

// ParseValue decodes a serialized value of type t: a TensorProto when t.Kind
// is KindTensor or KindUnknown, a SequenceProto for KindSequence, an
// OptionalProto for KindOptional and a MapProto for KindMap, giving a
// *tensor.Tensor, *tensor.Sequence, *tensor.Optional or *tensor.Map. Element
// types come from t where it gives them, else from the message.
func ParseValue(data []byte, t tensor.Type) (string, tensor.Value, error) {
	var (
		msg  proto.Message
		name func() string
		conv func() (tensor.Value, error)
	)
	switch t.Kind {
	case tensor.KindUnknown, tensor.KindTensor:
		name, v, err := ParseTensor(data)
		if err != nil {
			return "", nil, err
		}
		return name, v, nil
	case tensor.KindSequence:
		var sp onnxpb.SequenceProto
		msg, name = &sp, sp.GetName
		conv = func() (tensor.Value, error) { return seqFromProto(&sp, t.Elem) }
	case tensor.KindOptional:
		var op onnxpb.OptionalProto
		msg, name = &op, op.GetName
		conv = func() (tensor.Value, error) { return optFromProto(&op, t.Elem) }
	case tensor.KindMap:
		var mp onnxpb.MapProto
		msg, name = &mp, mp.GetName
		conv = func() (tensor.Value, error) { return mapFromProto(&mp, t.Elem) }
	default:
		return "", nil, fmt.Errorf("onnx: cannot parse a value of kind %d (only tensors, sequences, optionals and maps)", t.Kind)
	}
	if err := unmarshal(data, msg); err != nil {
		return "", nil, fmt.Errorf("onnx: value: %w", err)
	}
	v, err := conv()
	if err != nil {
		return "", nil, fmt.Errorf("onnx: value %q: %w", name(), err)
	}
	return name(), v, nil
}

// Element kinds of SequenceProto and OptionalProto (their DataType enums
// share the numbering).
const (
	elemUndefined = 0
	elemTensor    = 1
	elemSparse    = 2
	elemSequence  = 3
	elemMap       = 4
	elemOptional  = 5
)

func kindOfElem(et int32) tensor.Kind {
	switch et {
	case elemTensor:
		return tensor.KindTensor
	case elemSparse:
		return tensor.KindSparseTensor
	case elemSequence:
		return tensor.KindSequence
	case elemMap:
		return tensor.KindMap
	case elemOptional:
		return tensor.KindOptional
	}
	return tensor.KindUnknown
}

func elemOfKind(k tensor.Kind) int32 {
	switch k {
	case tensor.KindTensor:
		return elemTensor
	case tensor.KindSparseTensor:
		return elemSparse
	case tensor.KindSequence:
		return elemSequence
	case tensor.KindMap:
		return elemMap
	case tensor.KindOptional:
		return elemOptional
	}
	return elemUndefined
}

// elemTypeFor returns the element type: the declared one when given, else
// one of the message's element kind.
func elemTypeFor(declared *tensor.Type, et int32) tensor.Type {
	if declared != nil {
		return *declared
	}
	return tensor.Type{Kind: kindOfElem(et)}
}

func seqFromProto(sp *onnxpb.SequenceProto, elem *tensor.Type) (*tensor.Sequence, error) {
	if sp == nil {
		sp = &onnxpb.SequenceProto{} // a map with no values field: empty
	}
	et := sp.GetElemType()
	s := &tensor.Sequence{Elem: elemTypeFor(elem, et)}
	if len(sp.SparseTensorValues) > 0 || et == elemSparse {
		return nil, fmt.Errorf("sequences of sparse tensors are not supported")
	}
	for i, tp := range sp.GetTensorValues() {
		t, err := TensorFromProto(tp, "")
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		s.Items = append(s.Items, t)
	}
	for i, q := range sp.GetSequenceValues() {
		v, err := seqFromProto(q, s.Elem.Elem)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		s.Items = append(s.Items, v)
	}
	for i, q := range sp.GetMapValues() {
		v, err := mapFromProto(q, s.Elem.Elem)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		s.Items = append(s.Items, v)
	}
	for i, q := range sp.GetOptionalValues() {
		v, err := optFromProto(q, s.Elem.Elem)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		s.Items = append(s.Items, v)
	}
	return s, nil
}

func optFromProto(op *onnxpb.OptionalProto, elem *tensor.Type) (*tensor.Optional, error) {
	o := &tensor.Optional{Elem: elemTypeFor(elem, op.GetElemType())}
	var err error
	switch {
	case op.TensorValue != nil:
		o.V, err = TensorFromProto(op.TensorValue, "")
	case op.SequenceValue != nil:
		o.V, err = seqFromProto(op.SequenceValue, o.Elem.Elem)
	case op.MapValue != nil:
		o.V, err = mapFromProto(op.MapValue, o.Elem.Elem)
	case op.OptionalValue != nil:
		o.V, err = optFromProto(op.OptionalValue, o.Elem.Elem)
	case op.SparseTensorValue != nil:
		err = fmt.Errorf("optional sparse tensors are not supported")
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

func mapFromProto(mp *onnxpb.MapProto, valueType *tensor.Type) (*tensor.Map, error) {
	kt := tensor.DType(mp.GetKeyType())
	var keys *tensor.Tensor
	var err error
	if kt == tensor.String {
		ks := make([]string, len(mp.StringKeys))
		for i, k := range mp.StringKeys {
			ks[i] = string(k)
		}
		keys, err = tensor.From([]int{len(ks)}, ks)
	} else {
		keys, err = intKeys(kt, mp.GetKeys())
	}
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	vals, err := seqFromProto(mp.GetValues(), valueType)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	if len(vals.Items) != keys.Len() {
		return nil, fmt.Errorf("%d keys but %d values", keys.Len(), len(vals.Items))
	}
	return &tensor.Map{Keys: keys, Values: vals}, nil
}

func intKeys(kt tensor.DType, k []int64) (*tensor.Tensor, error) {
	shape := []int{len(k)}
	switch kt {
	case tensor.Int64:
		return tensor.From(shape, append([]int64{}, k...))
	case tensor.Int32:
		return tensor.From(shape, convert(k, func(v int64) int32 { return int32(v) }))
	case tensor.Int16:
		return tensor.From(shape, convert(k, func(v int64) int16 { return int16(v) }))
	case tensor.Int8:
		return tensor.From(shape, convert(k, func(v int64) int8 { return int8(v) }))
	case tensor.Uint64:
		return tensor.From(shape, convert(k, func(v int64) uint64 { return uint64(v) }))
	case tensor.Uint32:
		return tensor.From(shape, convert(k, func(v int64) uint32 { return uint32(v) }))
	case tensor.Uint16:
		return tensor.From(shape, convert(k, func(v int64) uint16 { return uint16(v) }))
	case tensor.Uint8:
		return tensor.From(shape, convert(k, func(v int64) uint8 { return uint8(v) }))
	}
	return nil, fmt.Errorf("map key type %v is not an integer or string type", kt)
}

// MarshalValue serializes v as the message ParseValue reads back: a
// TensorProto, SequenceProto, OptionalProto or MapProto named name.
func MarshalValue(name string, v tensor.Value) ([]byte, error) {
	msg, err := valueToProto(name, v)
	if err != nil {
		return nil, fmt.Errorf("onnx: value %q: %w", name, err)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(msg)
}

func valueToProto(name string, v tensor.Value) (proto.Message, error) {
	switch x := v.(type) {
	case *tensor.Tensor:
		return TensorToProto(name, x)
	case *tensor.Sequence:
		return seqToProto(name, x)
	case *tensor.Optional:
		return optToProto(name, x)
	case *tensor.Map:
		return mapToProto(name, x)
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

func optName(name string) *string {
	if name == "" {
		return nil
	}
	return proto.String(name)
}

func seqToProto(name string, s *tensor.Sequence) (*onnxpb.SequenceProto, error) {
	sp := &onnxpb.SequenceProto{Name: optName(name), ElemType: proto.Int32(elemOfKind(s.Elem.Kind))}
	for i, item := range s.Items {
		m, err := valueToProto("", item)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		switch m := m.(type) {
		case *onnxpb.TensorProto:
			sp.TensorValues = append(sp.TensorValues, m)
		case *onnxpb.SequenceProto:
			sp.SequenceValues = append(sp.SequenceValues, m)
		case *onnxpb.MapProto:
			sp.MapValues = append(sp.MapValues, m)
		case *onnxpb.OptionalProto:
			sp.OptionalValues = append(sp.OptionalValues, m)
		}
		if sp.GetElemType() == elemUndefined {
			sp.ElemType = proto.Int32(elemOfMessage(m))
		}
	}
	return sp, nil
}

func elemOfMessage(m proto.Message) int32 {
	switch m.(type) {
	case *onnxpb.TensorProto:
		return elemTensor
	case *onnxpb.SequenceProto:
		return elemSequence
	case *onnxpb.MapProto:
		return elemMap
	case *onnxpb.OptionalProto:
		return elemOptional
	}
	return elemUndefined
}

func optToProto(name string, o *tensor.Optional) (*onnxpb.OptionalProto, error) {
	op := &onnxpb.OptionalProto{Name: optName(name), ElemType: proto.Int32(elemOfKind(o.Elem.Kind))}
	if o.V == nil {
		return op, nil
	}
	m, err := valueToProto("", o.V)
	if err != nil {
		return nil, err
	}
	switch m := m.(type) {
	case *onnxpb.TensorProto:
		op.TensorValue = m
	case *onnxpb.SequenceProto:
		op.SequenceValue = m
	case *onnxpb.MapProto:
		op.MapValue = m
	case *onnxpb.OptionalProto:
		op.OptionalValue = m
	}
	if op.GetElemType() == elemUndefined {
		op.ElemType = proto.Int32(elemOfMessage(m))
	}
	return op, nil
}

func mapToProto(name string, m *tensor.Map) (*onnxpb.MapProto, error) {
	if m.Keys == nil || m.Keys.Rank() != 1 {
		return nil, fmt.Errorf("map keys must be a 1-D tensor")
	}
	mp := &onnxpb.MapProto{Name: optName(name), KeyType: proto.Int32(int32(m.Keys.DType()))}
	switch k := m.Keys.Raw().(type) {
	case []string:
		for _, s := range k {
			mp.StringKeys = append(mp.StringKeys, []byte(s))
		}
	case []int64:
		mp.Keys = append([]int64{}, k...)
	case []int32:
		mp.Keys = convert(k, func(v int32) int64 { return int64(v) })
	case []int16:
		mp.Keys = convert(k, func(v int16) int64 { return int64(v) })
	case []int8:
		mp.Keys = convert(k, func(v int8) int64 { return int64(v) })
	case []uint64:
		mp.Keys = convert(k, func(v uint64) int64 { return int64(v) })
	case []uint32:
		mp.Keys = convert(k, func(v uint32) int64 { return int64(v) })
	case []uint16:
		mp.Keys = convert(k, func(v uint16) int64 { return int64(v) })
	case []uint8:
		mp.Keys = convert(k, func(v uint8) int64 { return int64(v) })
	default:
		return nil, fmt.Errorf("map key type %v is not an integer or string type", m.Keys.DType())
	}
	var err error
	switch v := m.Values.(type) {
	case *tensor.Sequence:
		mp.Values, err = seqToProto("", v)
	case *tensor.Tensor:
		mp.Values, err = seqToProto("", tensorRows(v))
	default:
		err = fmt.Errorf("map values must be a sequence or a tensor, not %T", m.Values)
	}
	if err != nil {
		return nil, err
	}
	return mp, nil
}

// tensorRows splits a tensor along its first dimension into a sequence of
// scalars or sub-tensors, the form MapProto stores values in.
func tensorRows(t *tensor.Tensor) *tensor.Sequence {
	s := &tensor.Sequence{Elem: tensor.Type{Kind: tensor.KindTensor, DType: t.DType()}}
	if t.Rank() == 0 {
		s.Items = append(s.Items, t)
		return s
	}
	rows := t.Shape()[0]
	sub := t.Shape()[1:]
	per := 1
	for _, d := range sub {
		per *= d
	}
	for r := 0; r < rows; r++ {
		row := tensor.Zeros(t.DType(), sub...)
		for j := 0; j < per; j++ {
			_ = tensor.SetFrom(row, j, t, r*per+j)
		}
		s.Items = append(s.Items, row)
	}
	return s
}
