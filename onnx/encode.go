package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Marshal serializes m as a ModelProto with every tensor inline. Models
// whose serialization would exceed protobuf's 2 GB limit fail; use Save,
// which moves large initializers to an external file.
func Marshal(m *ir.Model) ([]byte, error) {
	mp, err := ModelToProto(m)
	if err != nil {
		return nil, err
	}
	return marshalModel(mp)
}

func marshalModel(mp *onnxpb.ModelProto) ([]byte, error) {
	if size := proto.Size(mp); size > maxProtoSize {
		return nil, fmt.Errorf("onnx: model serializes to %d bytes, over protobuf's 2 GB limit; use Save, which stores large initializers as external data", size)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return b, nil
}

// maxProtoSize is the largest message protobuf implementations accept (2 GiB - 1);
// a variable so tests can exercise the switch to external data.
var maxProtoSize = 1<<31 - 1

// ModelToProto converts m to a ModelProto with every tensor inline.
func ModelToProto(m *ir.Model) (*onnxpb.ModelProto, error) {
	e := &encoder{meta: m.TensorMeta}
	mp, err := e.model(m)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return mp, nil
}

// encoder converts ir to protobuf messages.
type encoder struct {
	meta map[*tensor.Tensor]ir.TensorMeta
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

func (e *encoder) model(m *ir.Model) (*onnxpb.ModelProto, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("model has no graph")
	}
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(m.IRVersion),
		OpsetImport:     opsetProtos(m.Opsets),
		ProducerName:    optString(m.ProducerName),
		ProducerVersion: optString(m.ProducerVersion),
		Domain:          optString(m.Domain),
		DocString:       optString(m.Doc),
		MetadataProps:   entryProtos(m.Metadata),
	}
	if m.ModelVersion != 0 {
		mp.ModelVersion = proto.Int64(m.ModelVersion)
	}
	var err error
	if mp.Graph, err = e.graph(m.Graph, 0); err != nil {
		return nil, err
	}
	for _, f := range m.Functions {
		fp, err := e.function(f)
		if err != nil {
			return nil, fmt.Errorf("function %q (domain %q): %w", f.Name, f.Domain, err)
		}
		mp.Functions = append(mp.Functions, fp)
	}
	if err := mergeRest(mp, m.Unmodeled); err != nil {
		return nil, fmt.Errorf("unmodeled model fields: %w", err)
	}
	return mp, nil
}

// mergeRest adds the fields kept as serialized bytes back to msg.
func mergeRest(msg proto.Message, rest []byte) error {
	if len(rest) == 0 {
		return nil
	}
	return proto.UnmarshalOptions{Merge: true}.Unmarshal(rest, msg)
}

func opsetProtos(os []ir.OpsetID) []*onnxpb.OperatorSetIdProto {
	var out []*onnxpb.OperatorSetIdProto
	for _, o := range os {
		out = append(out, &onnxpb.OperatorSetIdProto{Domain: proto.String(o.Domain), Version: proto.Int64(o.Version)})
	}
	return out
}

func entryProtos(es []ir.StringEntry) []*onnxpb.StringStringEntryProto {
	var out []*onnxpb.StringStringEntryProto
	for _, x := range es {
		out = append(out, &onnxpb.StringStringEntryProto{Key: proto.String(x.Key), Value: proto.String(x.Value)})
	}
	return out
}

func (e *encoder) graph(g *ir.Graph, depth int) (*onnxpb.GraphProto, error) {
	gp, err := e.graphBody(g, depth)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", graphLabel(g.Name), err)
	}
	return gp, nil
}

func (e *encoder) graphBody(g *ir.Graph, depth int) (*onnxpb.GraphProto, error) {
	if depth > ir.MaxSubgraphDepth {
		return nil, fmt.Errorf("%w (limit %d)", ir.ErrDepth, ir.MaxSubgraphDepth)
	}
	gp := &onnxpb.GraphProto{
		Name:          optString(g.Name),
		DocString:     optString(g.Doc),
		Input:         valueInfoProtos(g.Inputs),
		Output:        valueInfoProtos(g.Outputs),
		ValueInfo:     valueInfoProtos(g.ValueInfo),
		MetadataProps: entryProtos(g.Metadata),
	}
	for _, in := range g.Initializers {
		tp, err := initializerProto(in)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", in.Name, err)
		}
		gp.Initializer = append(gp.Initializer, tp)
	}
	for _, s := range g.Sparse {
		sp, err := e.sparse(&s.SparseTensor)
		if err != nil {
			return nil, fmt.Errorf("sparse initializer %q: %w", s.Name, err)
		}
		sp.Values.Name = proto.String(s.Name)
		gp.SparseInitializer = append(gp.SparseInitializer, sp)
	}
	for _, qa := range g.QuantAnnot {
		gp.QuantizationAnnotation = append(gp.QuantizationAnnotation, &onnxpb.TensorAnnotation{
			TensorName:                optString(qa.Tensor),
			QuantParameterTensorNames: entryProtos(qa.Params),
		})
	}
	for i, n := range g.Nodes {
		np, err := e.node(n, depth)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ir.NodeLabel(n, i), err)
		}
		gp.Node = append(gp.Node, np)
	}
	return gp, nil
}

func initializerProto(in *ir.Initializer) (*onnxpb.TensorProto, error) {
	tp, err := tensorProto(in.T)
	if err != nil {
		return nil, err
	}
	tp.Name = proto.String(in.Name)
	tp.DocString = optString(in.Doc)
	tp.MetadataProps = entryProtos(in.Metadata)
	return tp, nil
}

// tensorProto is TensorToProto without a name and without the package
// prefix on errors.
func tensorProto(t *tensor.Tensor) (*onnxpb.TensorProto, error) {
	if t == nil {
		return nil, fmt.Errorf("nil tensor")
	}
	tp := &onnxpb.TensorProto{DataType: proto.Int32(int32(t.DType()))}
	tp.Dims = make([]int64, t.Rank())
	for i, d := range t.Shape() {
		tp.Dims[i] = int64(d)
	}
	if t.DType() == tensor.String {
		s := tensor.Data[string](t)
		tp.StringData = make([][]byte, len(s))
		for i, v := range s {
			tp.StringData[i] = []byte(v)
		}
		return tp, nil
	}
	raw, err := encodeRaw(t)
	if err != nil {
		return nil, err
	}
	tp.RawData = raw
	return tp, nil
}

// tensor encodes an attribute's or sparse tensor's tensor with the
// descriptive fields recorded when it was decoded.
func (e *encoder) tensor(t *tensor.Tensor) (*onnxpb.TensorProto, error) {
	tp, err := tensorProto(t)
	if err != nil {
		return nil, err
	}
	if md, ok := e.meta[t]; ok {
		tp.Name = proto.String(md.Name)
		tp.DocString = optString(md.Doc)
		tp.MetadataProps = entryProtos(md.Metadata)
	}
	return tp, nil
}

func (e *encoder) sparse(s *ops.SparseTensor) (*onnxpb.SparseTensorProto, error) {
	sp := &onnxpb.SparseTensorProto{Dims: s.Dims}
	var err error
	if sp.Values, err = e.tensor(s.Values); err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	if sp.Indices, err = e.tensor(s.Indices); err != nil {
		return nil, fmt.Errorf("indices: %w", err)
	}
	return sp, nil
}

func (e *encoder) node(n *ir.Node, depth int) (*onnxpb.NodeProto, error) {
	np := &onnxpb.NodeProto{
		Input:         n.Inputs,
		Output:        n.Outputs,
		Name:          optString(n.Name),
		OpType:        optString(n.OpType),
		Domain:        optString(n.Domain),
		Overload:      optString(n.Overload),
		DocString:     optString(n.Doc),
		MetadataProps: entryProtos(n.Metadata),
	}
	var err error
	if np.Attribute, err = e.attrs(n.Attrs, depth); err != nil {
		return nil, err
	}
	if err := mergeRest(np, n.Unmodeled); err != nil {
		return nil, fmt.Errorf("unmodeled node fields: %w", err)
	}
	return np, nil
}

func (e *encoder) attrs(as []ops.Attr, depth int) ([]*onnxpb.AttributeProto, error) {
	var out []*onnxpb.AttributeProto
	for i := range as {
		ap, err := e.attr(&as[i], depth)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", as[i].Name, err)
		}
		out = append(out, ap)
	}
	return out, nil
}

func (e *encoder) attr(a *ops.Attr, depth int) (*onnxpb.AttributeProto, error) {
	ap := &onnxpb.AttributeProto{
		Name:        proto.String(a.Name),
		RefAttrName: optString(a.RefAttr),
		DocString:   optString(a.Doc),
		Type:        onnxpb.AttributeProto_AttributeType(a.Type).Enum(),
	}
	if a.RefAttr != "" {
		return ap, nil
	}
	var err error
	switch a.Type {
	case ops.AttrFloat:
		ap.F = proto.Float32(a.F)
	case ops.AttrInt:
		ap.I = proto.Int64(a.I)
	case ops.AttrString:
		ap.S = a.S
		if ap.S == nil {
			ap.S = []byte{}
		}
	case ops.AttrFloats:
		ap.Floats = a.Floats
	case ops.AttrInts:
		ap.Ints = a.Ints
	case ops.AttrStrings:
		ap.Strings = a.Strings
	case ops.AttrTensor:
		ap.T, err = e.tensor(a.T)
	case ops.AttrTensors:
		for _, t := range a.Tensors {
			tp, err := e.tensor(t)
			if err != nil {
				return nil, err
			}
			ap.Tensors = append(ap.Tensors, tp)
		}
	case ops.AttrGraph:
		g, ok := a.G.(*ir.Graph)
		if !ok || g == nil {
			return nil, fmt.Errorf("graph attribute holds %T, want *ir.Graph", a.G)
		}
		ap.G, err = e.graph(g, depth+1)
	case ops.AttrGraphs:
		for _, x := range a.Graphs {
			g, ok := x.(*ir.Graph)
			if !ok || g == nil {
				return nil, fmt.Errorf("graphs attribute holds %T, want *ir.Graph", x)
			}
			gp, err := e.graph(g, depth+1)
			if err != nil {
				return nil, err
			}
			ap.Graphs = append(ap.Graphs, gp)
		}
	case ops.AttrSparseTensor:
		if a.Sparse == nil {
			return nil, fmt.Errorf("sparse_tensor attribute has no tensor")
		}
		ap.SparseTensor, err = e.sparse(a.Sparse)
	case ops.AttrSparseTensors:
		for _, s := range a.Sparses {
			sp, err := e.sparse(s)
			if err != nil {
				return nil, err
			}
			ap.SparseTensors = append(ap.SparseTensors, sp)
		}
	case ops.AttrTypeProto:
		if a.TP == nil {
			return nil, fmt.Errorf("type_proto attribute has no type")
		}
		ap.Tp = typeProto(*a.TP)
	case ops.AttrTypeProtos:
		for _, t := range a.TPs {
			ap.TypeProtos = append(ap.TypeProtos, typeProto(*t))
		}
	default:
		return nil, fmt.Errorf("unknown attribute type %d", int32(a.Type))
	}
	if err != nil {
		return nil, err
	}
	return ap, nil
}

func (e *encoder) function(f *ir.Function) (*onnxpb.FunctionProto, error) {
	fp := &onnxpb.FunctionProto{
		Name:          optString(f.Name),
		Input:         f.Inputs,
		Output:        f.Outputs,
		Attribute:     f.AttrNames,
		OpsetImport:   opsetProtos(f.Opsets),
		DocString:     optString(f.Doc),
		Domain:        optString(f.Domain),
		Overload:      optString(f.Overload),
		ValueInfo:     valueInfoProtos(f.ValueInfo),
		MetadataProps: entryProtos(f.Metadata),
	}
	var err error
	if fp.AttributeProto, err = e.attrs(f.AttrProtos, 0); err != nil {
		return nil, err
	}
	for i, n := range f.Nodes {
		np, err := e.node(n, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ir.NodeLabel(n, i), err)
		}
		fp.Node = append(fp.Node, np)
	}
	return fp, nil
}

func valueInfoProtos(vs []*ir.ValueInfo) []*onnxpb.ValueInfoProto {
	var out []*onnxpb.ValueInfoProto
	for _, v := range vs {
		vp := &onnxpb.ValueInfoProto{
			Name:          proto.String(v.Name),
			DocString:     optString(v.Doc),
			MetadataProps: entryProtos(v.Metadata),
		}
		if v.Type.Kind != tensor.KindUnknown {
			vp.Type = typeProto(v.Type)
			vp.Type.Denotation = optString(v.Denotation)
			if sh := shapeOf(vp.Type); sh != nil {
				for i, d := range v.DimDenotation {
					if i < len(sh.Dim) {
						sh.Dim[i].Denotation = optString(d)
					}
				}
			}
		}
		out = append(out, vp)
	}
	return out
}

// typeProto converts a type; KindUnknown gives an empty TypeProto.
func typeProto(t tensor.Type) *onnxpb.TypeProto {
	tp := &onnxpb.TypeProto{}
	switch t.Kind {
	case tensor.KindTensor:
		tp.Value = &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(t.DType)), Shape: shapeProto(t),
		}}
	case tensor.KindSparseTensor:
		tp.Value = &onnxpb.TypeProto_SparseTensorType{SparseTensorType: &onnxpb.TypeProto_SparseTensor{
			ElemType: proto.Int32(int32(t.DType)), Shape: shapeProto(t),
		}}
	case tensor.KindSequence:
		tp.Value = &onnxpb.TypeProto_SequenceType{SequenceType: &onnxpb.TypeProto_Sequence{ElemType: elemTypeProto(t.Elem)}}
	case tensor.KindOptional:
		tp.Value = &onnxpb.TypeProto_OptionalType{OptionalType: &onnxpb.TypeProto_Optional{ElemType: elemTypeProto(t.Elem)}}
	case tensor.KindMap:
		tp.Value = &onnxpb.TypeProto_MapType{MapType: &onnxpb.TypeProto_Map{
			KeyType: proto.Int32(int32(t.DType)), ValueType: elemTypeProto(t.Elem),
		}}
	case tensor.KindOpaque:
		tp.Value = &onnxpb.TypeProto_OpaqueType{OpaqueType: &onnxpb.TypeProto_Opaque{}}
	}
	return tp
}

func elemTypeProto(t *tensor.Type) *onnxpb.TypeProto {
	if t == nil {
		return nil
	}
	return typeProto(*t)
}

func shapeProto(t tensor.Type) *onnxpb.TensorShapeProto {
	if !t.HasShape {
		return nil
	}
	sp := &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(t.Shape))}
	for i, d := range t.Shape {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch {
		case d.Param != "":
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
		case d.Size >= 0:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
		}
		sp.Dim[i] = dim
	}
	return sp
}
