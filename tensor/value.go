package tensor

// Value is anything a graph edge can carry: a *Tensor, a *Sequence, an
// *Optional or a *Map. Most code deals in tensors only.
type Value interface{ isValue() }

func (*Tensor) isValue()   {}
func (*Sequence) isValue() {}
func (*Optional) isValue() {}
func (*Map) isValue()      {}

// Sequence is an ordered list of values of one type (ONNX seq(T)).
// Elem describes the element type even when the sequence is empty.
type Sequence struct {
	Elem  Type
	Items []Value
}

// Optional is ONNX optional(T): a value or nothing. V is nil when empty.
type Optional struct {
	Elem Type
	V    Value
}

// Map is ONNX map(K, V) with keys in Keys (a 1-D tensor of an integer or
// string dtype) and values in Values (a tensor with the same first dimension,
// or a sequence).
type Map struct {
	Keys   *Tensor
	Values Value
}

// Kind tells which kind of value a Type describes.
type Kind int

// Kinds of value type.
const (
	KindUnknown Kind = iota
	KindTensor
	KindSequence
	KindMap
	KindOptional
	KindSparseTensor
	KindOpaque
)

// Dim is one dimension of a symbolic shape: a known size (Size >= 0), a named
// parameter (Param, e.g. "batch"), or unknown (Size -1, Param "").
type Dim struct {
	Size  int64
	Param string
}

// Known reports whether the dimension has a concrete size.
func (d Dim) Known() bool { return d.Size >= 0 }

// Type describes the type of a value with a possibly symbolic shape.
// For tensors, Shape nil with HasShape false means unknown rank.
type Type struct {
	Kind     Kind
	DType    DType // element type of a tensor or sparse tensor; key type of a map
	Shape    []Dim
	HasShape bool
	Elem     *Type // sequence/optional element type, map value type
}

// TensorType returns the Type of a tensor with a fully known shape.
func TensorType(d DType, shape ...int) Type {
	t := Type{Kind: KindTensor, DType: d, HasShape: true, Shape: make([]Dim, len(shape))}
	for i, s := range shape {
		t.Shape[i] = Dim{Size: int64(s)}
	}
	return t
}
