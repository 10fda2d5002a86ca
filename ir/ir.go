package ir

import (
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Model is an ONNX model in memory: a main graph, the opsets it imports and
// model-local functions. Fields mirror onnx.proto's ModelProto so that
// conversion in both directions loses nothing.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetID
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	Doc             string
	Graph           *Graph
	Metadata        []StringEntry
	Functions       []*Function
	// Unmodeled holds serialized ModelProto fields gort does not interpret
	// (training_info, configuration), re-emitted unchanged on export.
	Unmodeled []byte
	// TensorMeta keeps the TensorProto fields a *tensor.Tensor lacks (name,
	// doc string, metadata) for tensors inside attributes and sparse
	// tensors, keyed by the decoded tensor, so export restores them.
	// Initializers keep theirs in Initializer. Tensors absent here export
	// without a name.
	TensorMeta map[*tensor.Tensor]TensorMeta
}

// TensorMeta is the descriptive part of a TensorProto.
type TensorMeta struct {
	Name     string
	Doc      string
	Metadata []StringEntry
}

// OpsetID is an (domain, version) operator-set import.
type OpsetID struct {
	Domain  string
	Version int64
}

// StringEntry is a key/value metadata pair.
type StringEntry struct{ Key, Value string }

// Graph is a computation graph. Value names connect nodes: a node input names
// a graph input, an initializer, or an output of an earlier node (or, in a
// subgraph, a value of an enclosing graph).
type Graph struct {
	Name         string
	Doc          string
	Nodes        []*Node
	Inputs       []*ValueInfo
	Outputs      []*ValueInfo
	ValueInfo    []*ValueInfo
	Initializers []*Initializer
	Sparse       []*SparseInitializer
	QuantAnnot   []QuantAnnotation
	Metadata     []StringEntry
}

// Initializer is a named constant tensor of a graph.
type Initializer struct {
	Name string
	Doc  string
	T    *tensor.Tensor
	// Metadata of the TensorProto (metadata_props).
	Metadata []StringEntry
	// External records where the tensor was stored when it came from external
	// data (nil if inline); the loader has already read the bytes.
	External []StringEntry
}

// SparseInitializer is a named sparse constant.
type SparseInitializer struct {
	Name string
	ops.SparseTensor
}

// QuantAnnotation is onnx's TensorAnnotation.
type QuantAnnotation struct {
	Tensor string
	Params []StringEntry
}

// Node is one operator application.
type Node struct {
	Name     string
	OpType   string
	Domain   string
	Overload string
	Inputs   []string // "" marks an omitted optional input
	Outputs  []string
	Attrs    []ops.Attr // graph attributes hold *Graph in Attr.G / Attr.Graphs
	Doc      string
	Metadata []StringEntry
	// Unmodeled holds serialized NodeProto fields gort does not interpret
	// (device_configurations).
	Unmodeled []byte
}

// ValueInfo names a value and gives its type.
type ValueInfo struct {
	Name     string
	Type     tensor.Type
	Doc      string
	Metadata []StringEntry
	// Denotations holds the type's and dims' denotation strings when present
	// (kept for a lossless round trip).
	Denotation    string
	DimDenotation []string
}

// Function is a model-local function (FunctionProto).
type Function struct {
	Name       string
	Domain     string
	Overload   string
	Inputs     []string
	Outputs    []string
	AttrNames  []string   // attributes without defaults
	AttrProtos []ops.Attr // attributes with defaults
	Nodes      []*Node
	Opsets     []OpsetID
	Doc        string
	ValueInfo  []*ValueInfo
	Metadata   []StringEntry
}

// Opset returns the version of domain imported by the model (0 if absent).
// "" and "ai.onnx" name the same domain.
func (m *Model) Opset(domain string) int {
	for _, o := range m.Opsets {
		if ops.NormDomain(o.Domain) == ops.NormDomain(domain) {
			return int(o.Version)
		}
	}
	return 0
}
