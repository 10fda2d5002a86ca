package ops

import (
	"fmt"

	"github.com/gort-ml/gort/tensor"
)

// AttrType is an attribute's kind, numbered as onnx.proto's AttributeProto.AttributeType.
type AttrType int32

// Attribute kinds.
const (
	AttrUndefined     AttrType = 0
	AttrFloat         AttrType = 1
	AttrInt           AttrType = 2
	AttrString        AttrType = 3
	AttrTensor        AttrType = 4
	AttrGraph         AttrType = 5
	AttrFloats        AttrType = 6
	AttrInts          AttrType = 7
	AttrStrings       AttrType = 8
	AttrTensors       AttrType = 9
	AttrGraphs        AttrType = 10
	AttrSparseTensor  AttrType = 11
	AttrSparseTensors AttrType = 12
	AttrTypeProto     AttrType = 13
	AttrTypeProtos    AttrType = 14
)

func (t AttrType) String() string {
	names := [...]string{"undefined", "float", "int", "string", "tensor", "graph", "floats", "ints",
		"strings", "tensors", "graphs", "sparse_tensor", "sparse_tensors", "type_proto", "type_protos"}
	if t >= 0 && int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("attrtype(%d)", int32(t))
}

// Attr is a node attribute. Exactly the field named by Type is meaningful.
// Graph-valued attributes hold the owning package's graph type (an *ir.Graph)
// as an opaque value: ops never looks inside a graph, the runtime compiles it.
type Attr struct {
	Name    string
	Type    AttrType
	Doc     string
	RefAttr string // ref_attr_name inside function bodies

	F       float32
	I       int64
	S       []byte
	T       *tensor.Tensor
	G       any
	Sparse  *SparseTensor
	TP      *tensor.Type
	Floats  []float32
	Ints    []int64
	Strings [][]byte
	Tensors []*tensor.Tensor
	Graphs  []any
	Sparses []*SparseTensor
	TPs     []*tensor.Type
}

// SparseTensor is ONNX's COO sparse tensor: Values is 1-D (NNZ), Indices is
// (NNZ, rank) or (NNZ) linearized, Dims the dense shape.
type SparseTensor struct {
	Values  *tensor.Tensor
	Indices *tensor.Tensor
	Dims    []int64
}
