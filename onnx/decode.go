package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// MaxIRVersion is the newest ONNX IR version gort reads. The onnx 1.23.0
// release defines IR 14 (IR 13 plus the FLOAT6E2M3/FLOAT6E3M2 dtypes, which
// fail per tensor with tensor.ErrUnsupportedDType) and writes it for opset 28
// models, including 227 of the node tests it generates.
const MaxIRVersion = 14

// decoder converts protobuf messages to ir, reading external data through ext
// and recording attribute tensors' names in meta.
type decoder struct {
	ext  *externalReader
	meta map[*tensor.Tensor]ir.TensorMeta
	// owned: the ModelProto is the decoder's own (parsed from bytes), so
	// tensors may share its raw_data (decodeTensor).
	owned bool
}

// ModelFromProto converts a parsed ModelProto to ir. External data is read
// relative to baseDir ("" refuses it).
func ModelFromProto(mp *onnxpb.ModelProto, baseDir string) (*ir.Model, error) {
	return modelFromProto(mp, baseDir, false)
}

// modelFromProto is ModelFromProto; owned says mp belongs to the caller
// alone, so that tensors may share its raw_data (decodeTensor).
func modelFromProto(mp *onnxpb.ModelProto, baseDir string, owned bool) (*ir.Model, error) {
	return newDecoder(baseDir, owned).model(mp)
}

func newDecoder(baseDir string, owned bool) *decoder {
	return &decoder{ext: newExternalReader(baseDir), meta: map[*tensor.Tensor]ir.TensorMeta{}, owned: owned}
}

func (d *decoder) model(mp *onnxpb.ModelProto) (*ir.Model, error) {
	if mp == nil {
		return nil, fmt.Errorf("nil model")
	}
	if v := mp.GetIrVersion(); v > MaxIRVersion {
		return nil, fmt.Errorf("IR version %d is newer than the newest gort reads (%d); re-export the model with an older onnx or upgrade gort", v, MaxIRVersion)
	}
	if mp.Graph == nil {
		return nil, fmt.Errorf("model has no graph (a model file must contain one; is this a bare FunctionProto or a truncated file?)")
	}
	m := &ir.Model{
		IRVersion:       mp.GetIrVersion(),
		Opsets:          opsets(mp.GetOpsetImport()),
		ProducerName:    mp.GetProducerName(),
		ProducerVersion: mp.GetProducerVersion(),
		Domain:          mp.GetDomain(),
		ModelVersion:    mp.GetModelVersion(),
		Doc:             mp.GetDocString(),
		Metadata:        entries(mp.GetMetadataProps()),
		TensorMeta:      d.meta,
	}
	g, err := d.graph(mp.Graph, 0)
	if err != nil {
		return nil, err
	}
	m.Graph = g
	for _, fp := range mp.GetFunctions() {
		f, err := d.function(fp)
		if err != nil {
			return nil, fmt.Errorf("function %q (domain %q): %w", fp.GetName(), fp.GetDomain(), err)
		}
		m.Functions = append(m.Functions, f)
	}
	rest := &onnxpb.ModelProto{TrainingInfo: mp.TrainingInfo, Configuration: mp.Configuration}
	rest.ProtoReflect().SetUnknown(mp.ProtoReflect().GetUnknown())
	if m.Unmodeled, err = marshalRest(rest); err != nil {
		return nil, err
	}
	if len(d.meta) == 0 {
		m.TensorMeta = nil
	}
	return m, nil
}

// marshalRest serializes the fields gort keeps opaque, or nil when none are set.
func marshalRest(rest proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(rest)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

func opsets(ps []*onnxpb.OperatorSetIdProto) []ir.OpsetID {
	var out []ir.OpsetID
	for _, p := range ps {
		out = append(out, ir.OpsetID{Domain: p.GetDomain(), Version: p.GetVersion()})
	}
	return out
}

func entries(ps []*onnxpb.StringStringEntryProto) []ir.StringEntry {
	var out []ir.StringEntry
	for _, p := range ps {
		out = append(out, ir.StringEntry{Key: p.GetKey(), Value: p.GetValue()})
	}
	return out
}

func graphLabel(name string) string {
	if name == "" {
		return "graph"
	}
	return fmt.Sprintf("graph %q", name)
}

func (d *decoder) graph(gp *onnxpb.GraphProto, depth int) (*ir.Graph, error) {
	g, err := d.graphBody(gp, depth)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", graphLabel(gp.GetName()), err)
	}
	return g, nil
}

func (d *decoder) graphBody(gp *onnxpb.GraphProto, depth int) (*ir.Graph, error) {
	if depth > ir.MaxSubgraphDepth {
		return nil, fmt.Errorf("%w (limit %d)", ir.ErrDepth, ir.MaxSubgraphDepth)
	}
	g := &ir.Graph{
		Name:     gp.GetName(),
		Doc:      gp.GetDocString(),
		Metadata: entries(gp.GetMetadataProps()),
	}
	var err error
	if g.Inputs, err = valueInfos("input", gp.GetInput()); err != nil {
		return nil, err
	}
	if g.Outputs, err = valueInfos("output", gp.GetOutput()); err != nil {
		return nil, err
	}
	if g.ValueInfo, err = valueInfos("value_info", gp.GetValueInfo()); err != nil {
		return nil, err
	}
	for _, tp := range gp.GetInitializer() {
		t, err := decodeTensor(tp, d.ext, d.owned)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", tp.GetName(), err)
		}
		g.Initializers = append(g.Initializers, &ir.Initializer{
			Name:     tp.GetName(),
			Doc:      tp.GetDocString(),
			T:        t,
			Metadata: entries(tp.GetMetadataProps()),
			External: entries(tp.GetExternalData()),
		})
	}
	for i, sp := range gp.GetSparseInitializer() {
		name := sp.GetValues().GetName()
		s, err := d.sparse(sp)
		if err != nil {
			return nil, fmt.Errorf("sparse initializer #%d %q: %w", i, name, err)
		}
		g.Sparse = append(g.Sparse, &ir.SparseInitializer{Name: name, SparseTensor: *s})
	}
	for _, qa := range gp.GetQuantizationAnnotation() {
		a := ir.QuantAnnotation{Tensor: qa.GetTensorName()}
		for _, p := range qa.GetQuantParameterTensorNames() {
			a.Params = append(a.Params, ir.StringEntry{Key: p.GetKey(), Value: p.GetValue()})
		}
		g.QuantAnnot = append(g.QuantAnnot, a)
	}
	for i, np := range gp.GetNode() {
		n, err := d.node(np, depth)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ir.NodeLabel(&ir.Node{Name: np.GetName(), OpType: np.GetOpType()}, i), err)
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

func (d *decoder) node(np *onnxpb.NodeProto, depth int) (*ir.Node, error) {
	n := &ir.Node{
		Name:     np.GetName(),
		OpType:   np.GetOpType(),
		Domain:   np.GetDomain(),
		Overload: np.GetOverload(),
		Inputs:   np.GetInput(),
		Outputs:  np.GetOutput(),
		Doc:      np.GetDocString(),
		Metadata: entries(np.GetMetadataProps()),
	}
	var err error
	if n.Attrs, err = d.attrs(np.GetAttribute(), depth); err != nil {
		return nil, err
	}
	rest := &onnxpb.NodeProto{DeviceConfigurations: np.DeviceConfigurations}
	rest.ProtoReflect().SetUnknown(np.ProtoReflect().GetUnknown())
	if n.Unmodeled, err = marshalRest(rest); err != nil {
		return nil, err
	}
	return n, nil
}

func (d *decoder) attrs(aps []*onnxpb.AttributeProto, depth int) ([]ops.Attr, error) {
	var out []ops.Attr
	for _, ap := range aps {
		a, err := d.attr(ap, depth)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", ap.GetName(), err)
		}
		out = append(out, a)
	}
	return out, nil
}

// tensorWithMeta decodes an attribute's or sparse tensor's TensorProto and
// remembers its descriptive fields.
func (d *decoder) tensor(tp *onnxpb.TensorProto) (*tensor.Tensor, error) {
	t, err := decodeTensor(tp, d.ext, d.owned)
	if err != nil {
		if tp.GetName() != "" {
			return nil, fmt.Errorf("tensor %q: %w", tp.GetName(), err)
		}
		return nil, err
	}
	if tp.Name != nil || tp.DocString != nil || len(tp.MetadataProps) > 0 {
		d.meta[t] = ir.TensorMeta{Name: tp.GetName(), Doc: tp.GetDocString(), Metadata: entries(tp.GetMetadataProps())}
	}
	return t, nil
}

func (d *decoder) attr(ap *onnxpb.AttributeProto, depth int) (ops.Attr, error) {
	a := ops.Attr{
		Name:    ap.GetName(),
		Type:    ops.AttrType(ap.GetType()),
		Doc:     ap.GetDocString(),
		RefAttr: ap.GetRefAttrName(),
	}
	if a.Type == ops.AttrUndefined {
		a.Type = inferAttrType(ap)
	}
	if a.RefAttr != "" {
		return a, nil
	}
	var err error
	switch a.Type {
	case ops.AttrFloat:
		a.F = ap.GetF()
	case ops.AttrInt:
		a.I = ap.GetI()
	case ops.AttrString:
		a.S = ap.GetS()
	case ops.AttrFloats:
		a.Floats = ap.GetFloats()
	case ops.AttrInts:
		a.Ints = ap.GetInts()
	case ops.AttrStrings:
		a.Strings = ap.GetStrings()
	case ops.AttrTensor:
		if a.T, err = d.tensor(ap.GetT()); err != nil {
			return a, err
		}
	case ops.AttrTensors:
		for i, tp := range ap.GetTensors() {
			t, err := d.tensor(tp)
			if err != nil {
				return a, fmt.Errorf("tensors[%d]: %w", i, err)
			}
			a.Tensors = append(a.Tensors, t)
		}
	case ops.AttrGraph:
		if ap.G == nil {
			return a, fmt.Errorf("graph attribute has no graph")
		}
		g, err := d.graph(ap.G, depth+1)
		if err != nil {
			return a, err
		}
		a.G = g
	case ops.AttrGraphs:
		for _, gp := range ap.GetGraphs() {
			g, err := d.graph(gp, depth+1)
			if err != nil {
				return a, err
			}
			a.Graphs = append(a.Graphs, g)
		}
	case ops.AttrSparseTensor:
		if a.Sparse, err = d.sparse(ap.GetSparseTensor()); err != nil {
			return a, err
		}
	case ops.AttrSparseTensors:
		for i, sp := range ap.GetSparseTensors() {
			s, err := d.sparse(sp)
			if err != nil {
				return a, fmt.Errorf("sparse_tensors[%d]: %w", i, err)
			}
			a.Sparses = append(a.Sparses, s)
		}
	case ops.AttrTypeProto:
		if ap.Tp == nil {
			return a, fmt.Errorf("type_proto attribute has no type")
		}
		t, err := decodeType(ap.Tp)
		if err != nil {
			return a, err
		}
		a.TP = &t
	case ops.AttrTypeProtos:
		for _, tp := range ap.GetTypeProtos() {
			t, err := decodeType(tp)
			if err != nil {
				return a, err
			}
			a.TPs = append(a.TPs, &t)
		}
	default:
		return a, fmt.Errorf("unknown attribute type %d", int32(a.Type))
	}
	return a, nil
}

// inferAttrType guesses the type of attributes written before IR version 2
// made the type field mandatory, from the field that is set.
func inferAttrType(ap *onnxpb.AttributeProto) ops.AttrType {
	switch {
	case ap.F != nil:
		return ops.AttrFloat
	case ap.I != nil:
		return ops.AttrInt
	case ap.S != nil:
		return ops.AttrString
	case ap.T != nil:
		return ops.AttrTensor
	case ap.G != nil:
		return ops.AttrGraph
	case ap.SparseTensor != nil:
		return ops.AttrSparseTensor
	case ap.Tp != nil:
		return ops.AttrTypeProto
	case len(ap.Floats) > 0:
		return ops.AttrFloats
	case len(ap.Ints) > 0:
		return ops.AttrInts
	case len(ap.Strings) > 0:
		return ops.AttrStrings
	case len(ap.Tensors) > 0:
		return ops.AttrTensors
	case len(ap.Graphs) > 0:
		return ops.AttrGraphs
	case len(ap.SparseTensors) > 0:
		return ops.AttrSparseTensors
	case len(ap.TypeProtos) > 0:
		return ops.AttrTypeProtos
	}
	return ops.AttrUndefined
}

func (d *decoder) sparse(sp *onnxpb.SparseTensorProto) (*ops.SparseTensor, error) {
	if sp == nil {
		return nil, fmt.Errorf("missing sparse tensor")
	}
	s := &ops.SparseTensor{Dims: sp.GetDims()}
	if _, _, err := protoShape(s.Dims); err != nil {
		return nil, fmt.Errorf("sparse tensor: %w", err)
	}
	var err error
	if s.Values, err = d.tensor(sp.GetValues()); err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	if s.Indices, err = d.tensor(sp.GetIndices()); err != nil {
		return nil, fmt.Errorf("indices: %w", err)
	}
	if s.Values.Rank() != 1 {
		return nil, fmt.Errorf("values must be 1-D, have shape %v", s.Values.Shape())
	}
	if s.Indices.DType() != tensor.Int64 {
		return nil, fmt.Errorf("indices must be int64, are %v", s.Indices.DType())
	}
	return s, nil
}

func (d *decoder) function(fp *onnxpb.FunctionProto) (*ir.Function, error) {
	f := &ir.Function{
		Name:      fp.GetName(),
		Domain:    fp.GetDomain(),
		Overload:  fp.GetOverload(),
		Inputs:    fp.GetInput(),
		Outputs:   fp.GetOutput(),
		AttrNames: fp.GetAttribute(),
		Opsets:    opsets(fp.GetOpsetImport()),
		Doc:       fp.GetDocString(),
		Metadata:  entries(fp.GetMetadataProps()),
	}
	var err error
	if f.AttrProtos, err = d.attrs(fp.GetAttributeProto(), 0); err != nil {
		return nil, err
	}
	if f.ValueInfo, err = valueInfos("value_info", fp.GetValueInfo()); err != nil {
		return nil, err
	}
	for i, np := range fp.GetNode() {
		n, err := d.node(np, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ir.NodeLabel(&ir.Node{Name: np.GetName(), OpType: np.GetOpType()}, i), err)
		}
		f.Nodes = append(f.Nodes, n)
	}
	return f, nil
}

func valueInfos(kind string, vps []*onnxpb.ValueInfoProto) ([]*ir.ValueInfo, error) {
	var out []*ir.ValueInfo
	for _, vp := range vps {
		v := &ir.ValueInfo{Name: vp.GetName(), Doc: vp.GetDocString(), Metadata: entries(vp.GetMetadataProps())}
		if vp.Type != nil {
			t, err := decodeType(vp.Type)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", kind, vp.GetName(), err)
			}
			v.Type = t
			v.Denotation = vp.Type.GetDenotation()
			for _, dim := range shapeOf(vp.Type).GetDim() {
				v.DimDenotation = append(v.DimDenotation, dim.GetDenotation())
			}
			if allEmpty(v.DimDenotation) {
				v.DimDenotation = nil
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func allEmpty(s []string) bool {
	for _, x := range s {
		if x != "" {
			return false
		}
	}
	return true
}

func shapeOf(tp *onnxpb.TypeProto) *onnxpb.TensorShapeProto {
	if t := tp.GetTensorType(); t != nil {
		return t.GetShape()
	}
	return tp.GetSparseTensorType().GetShape()
}

// decodeType converts a TypeProto. A TypeProto with no value set gives
// KindUnknown.
func decodeType(tp *onnxpb.TypeProto) (tensor.Type, error) {
	var t tensor.Type
	switch v := tp.GetValue().(type) {
	case nil:
		t.Kind = tensor.KindUnknown
	case *onnxpb.TypeProto_TensorType:
		t.Kind = tensor.KindTensor
		t.DType = tensor.DType(v.TensorType.GetElemType())
		t.Shape, t.HasShape = decodeShape(v.TensorType.GetShape())
	case *onnxpb.TypeProto_SparseTensorType:
		t.Kind = tensor.KindSparseTensor
		t.DType = tensor.DType(v.SparseTensorType.GetElemType())
		t.Shape, t.HasShape = decodeShape(v.SparseTensorType.GetShape())
	case *onnxpb.TypeProto_SequenceType:
		t.Kind = tensor.KindSequence
		e, err := elemType(v.SequenceType.GetElemType())
		if err != nil {
			return t, fmt.Errorf("sequence element: %w", err)
		}
		t.Elem = e
	case *onnxpb.TypeProto_OptionalType:
		t.Kind = tensor.KindOptional
		e, err := elemType(v.OptionalType.GetElemType())
		if err != nil {
			return t, fmt.Errorf("optional element: %w", err)
		}
		t.Elem = e
	case *onnxpb.TypeProto_MapType:
		t.Kind = tensor.KindMap
		t.DType = tensor.DType(v.MapType.GetKeyType())
		e, err := elemType(v.MapType.GetValueType())
		if err != nil {
			return t, fmt.Errorf("map value: %w", err)
		}
		t.Elem = e
	case *onnxpb.TypeProto_OpaqueType:
		t.Kind = tensor.KindOpaque
	default:
		return t, fmt.Errorf("unknown type %T", v)
	}
	return t, nil
}

func elemType(tp *onnxpb.TypeProto) (*tensor.Type, error) {
	if tp == nil {
		return nil, nil
	}
	e, err := decodeType(tp)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

func decodeShape(sp *onnxpb.TensorShapeProto) ([]tensor.Dim, bool) {
	if sp == nil {
		return nil, false
	}
	dims := make([]tensor.Dim, len(sp.GetDim()))
	for i, d := range sp.GetDim() {
		switch v := d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			dims[i] = tensor.Dim{Size: v.DimValue}
			if v.DimValue < 0 { // invalid in a file; treat as unknown rather than trust it
				dims[i] = tensor.Dim{Size: -1}
			}
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			dims[i] = tensor.Dim{Size: -1, Param: v.DimParam}
		default:
			dims[i] = tensor.Dim{Size: -1}
		}
	}
	return dims, true
}
