package ml

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// ZipMap turns each row of the class scores X (N, C) into a map from
// class label (classlabels_int64s or classlabels_strings, C of them) to
// score: Z is seq(map(label, float)).
var zipMapOps = ops.Versions(Domain, "ZipMap", "ZipMap: Z[n] = {classlabels[k]: X[n, k]}",
	[]int{1}, inferZipMap, compileZipMap)

func inferZipMap(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	key := tensor.Int64
	if n.Has("classlabels_strings") {
		key = tensor.String
	}
	val := tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}
	m := tensor.Type{Kind: tensor.KindMap, DType: key, Elem: &val}
	return []tensor.Type{{Kind: tensor.KindSequence, Elem: &m}}, nil
}

func compileZipMap(n *ops.Node) (*ops.Kernel, error) {
	lb, err := readLabels(n)
	if err != nil {
		return nil, err
	}
	var keys *tensor.Tensor
	if lb.strs != nil {
		keys = tensor.Must([]int{len(lb.strs)}, lb.strs)
	} else {
		keys = tensor.Must([]int{len(lb.ints)}, lb.ints)
	}
	elemVal := tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}
	elem := tensor.Type{Kind: tensor.KindMap, DType: keys.DType(), Elem: &elemVal}
	return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		if len(in) != 1 || in[0] == nil {
			return nil, fmt.Errorf("ZipMap takes one input X")
		}
		x, ok := in[0].(*tensor.Tensor)
		if !ok || x.DType() != tensor.Float32 {
			return nil, fmt.Errorf("input X must be a float32 tensor")
		}
		rows, cols := 1, 0
		switch x.Rank() {
		case 1:
			cols = x.Shape()[0]
		case 2:
			rows, cols = x.Shape()[0], x.Shape()[1]
		default:
			return nil, fmt.Errorf("input X has shape %v, want (N, C)", x.Shape())
		}
		if cols != keys.Len() {
			return nil, fmt.Errorf("input X has %d columns but there are %d class labels", cols, keys.Len())
		}
		if _, err := c.New(tensor.Float32, rows, cols); err != nil {
			return nil, err
		}
		xd := tensor.Data[float32](x)
		seq := &tensor.Sequence{Elem: elem, Items: make([]tensor.Value, rows)}
		for r := range seq.Items {
			vals := tensor.Must([]int{cols}, append([]float32(nil), xd[r*cols:(r+1)*cols]...))
			seq.Items[r] = &tensor.Map{Keys: keys, Values: vals}
		}
		return []tensor.Value{seq}, nil
	}}, nil
}

// DictVectorizer: Y[0, k] = X[vocabulary[k]] for the map X (keys int64 or
// string, as the vocabulary), 0 where the map lacks the key; a sequence of
// maps gives one row each. Y has the map's value type.
var dictVectorizerOps = ops.Versions(Domain, "DictVectorizer", "DictVectorizer: Y[n, k] = X_n[vocabulary[k]] (0 when absent)",
	[]int{1}, inferDictVectorizer, compileDictVectorizer)

// inferDictVectorizer gives the map's value dtype when it is known.
func inferDictVectorizer(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	t := tensor.Type{Kind: tensor.KindTensor}
	if len(in) > 0 {
		m := &in[0]
		if m.Kind == tensor.KindSequence && m.Elem != nil {
			m = m.Elem
		}
		if m.Kind == tensor.KindMap && m.Elem != nil {
			t.DType = m.Elem.DType
		}
	}
	return []tensor.Type{t}, nil
}

func compileDictVectorizer(n *ops.Node) (*ops.Kernel, error) {
	ints, strs := n.Ints("int64_vocabulary", nil), n.Strings("string_vocabulary", nil)
	if err := n.Err(); err != nil {
		return nil, err
	}
	var vocab *tensor.Tensor
	switch {
	case n.Has("int64_vocabulary") && !n.Has("string_vocabulary"):
		vocab = tensor.Must([]int{len(ints)}, ints)
	case n.Has("string_vocabulary") && !n.Has("int64_vocabulary"):
		vocab = tensor.Must([]int{len(strs)}, strs)
	default:
		return nil, fmt.Errorf("exactly one of int64_vocabulary and string_vocabulary is required")
	}
	pos := make([]int64, vocab.Len())
	for i := range pos {
		pos[i] = int64(i)
	}
	enc, err := newEncoder(vocab, tensor.Must([]int{len(pos)}, pos), tensor.Scalar(int64(-1)))
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		if len(in) != 1 || in[0] == nil {
			return nil, fmt.Errorf("DictVectorizer takes one input X")
		}
		var maps []*tensor.Map
		switch v := in[0].(type) {
		case *tensor.Map:
			maps = []*tensor.Map{v}
		case *tensor.Sequence:
			for i, it := range v.Items {
				m, ok := it.(*tensor.Map)
				if !ok {
					return nil, fmt.Errorf("element %d of the input sequence is not a map", i)
				}
				maps = append(maps, m)
			}
		default:
			return nil, fmt.Errorf("input X must be a map or a sequence of maps")
		}
		return dictVectorize(c, enc, vocab.Len(), maps)
	}}, nil
}

func dictVectorize(c *ops.Ctx, enc *encoder, width int, maps []*tensor.Map) ([]tensor.Value, error) {
	dt := tensor.Float32
	if len(maps) > 0 {
		v, ok := maps[0].Values.(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("map values must be a tensor")
		}
		dt = v.DType()
	}
	out, err := c.New(dt, len(maps), width)
	if err != nil {
		return nil, err
	}
	for r, m := range maps {
		vals, ok := m.Values.(*tensor.Tensor)
		if !ok || vals.DType() != dt || m.Keys == nil || vals.Len() != m.Keys.Len() {
			return nil, fmt.Errorf("map %d: want %v values, one per key", r, dt)
		}
		idx, err := enc.lookup(m.Keys)
		if err != nil {
			return nil, fmt.Errorf("map %d: %w", r, err)
		}
		for j, k := range idx {
			if k >= 0 {
				if err := tensor.SetFrom(out, r*width+k, vals, j); err != nil {
					return nil, err
				}
			}
		}
	}
	return []tensor.Value{out}, nil
}

// CastMap turns a map(int64, string or float) into a tensor (1, N) of
// cast_to's type (TO_FLOAT, TO_STRING, TO_INT64) holding the values in
// ascending key order (DENSE) or at the position of their key in a row of
// max_map (SPARSE; absent keys give 0 or ""). Values convert as Cast does.
var castMapOps = ops.Versions(Domain, "CastMap", "CastMap: Y[0, i] = cast(X[k_i]) for the keys in ascending order (DENSE) or Y[0, k] = cast(X[k]) (SPARSE)",
	[]int{1}, inferCastMap, compileCastMap)

var castMapTypes = map[string]tensor.DType{"TO_FLOAT": tensor.Float32, "TO_STRING": tensor.String, "TO_INT64": tensor.Int64}

func inferCastMap(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	return inferDTypes(castMapTypes[n.String("cast_to", "TO_FLOAT")])(n, in)
}

func compileCastMap(n *ops.Node) (*ops.Kernel, error) {
	castTo := n.String("cast_to", "TO_FLOAT")
	form := n.String("map_form", "DENSE")
	maxMap := n.Int("max_map", 1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	dt, ok := castMapTypes[castTo]
	if !ok {
		return nil, fmt.Errorf("attribute cast_to is %q, want TO_FLOAT, TO_STRING or TO_INT64", castTo)
	}
	if form != "DENSE" && form != "SPARSE" {
		return nil, fmt.Errorf("attribute map_form is %q, want DENSE or SPARSE", form)
	}
	if form == "SPARSE" && (maxMap < 1 || maxMap > 1<<30) {
		return nil, fmt.Errorf("attribute max_map is %d, want a positive length", maxMap)
	}
	return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		if len(in) != 1 || in[0] == nil {
			return nil, fmt.Errorf("CastMap takes one input X")
		}
		m, ok := in[0].(*tensor.Map)
		if !ok || m.Keys == nil || m.Keys.DType() != tensor.Int64 {
			return nil, fmt.Errorf("input X must be a map with int64 keys")
		}
		vals, ok := m.Values.(*tensor.Tensor)
		if !ok || vals.Len() != m.Keys.Len() {
			return nil, fmt.Errorf("input X must hold one tensor value per key")
		}
		keys := tensor.Data[int64](m.Keys)
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
		width := len(keys)
		if form == "SPARSE" {
			width = int(maxMap)
			for _, k := range keys {
				if k < 0 || k >= maxMap {
					return nil, fmt.Errorf("map key %d out of range [0, %d) (max_map)", k, maxMap)
				}
			}
		}
		// Cast the values in key order, then place them.
		sorted, err := tensor.New(vals.DType(), len(keys))
		if err != nil {
			return nil, err
		}
		for i, j := range order {
			if err := tensor.SetFrom(sorted, i, vals, j); err != nil {
				return nil, err
			}
		}
		cast, err := c.New(dt, len(keys))
		if err != nil {
			return nil, err
		}
		if err := tensor.Convert(cast, sorted, false); err != nil {
			return nil, fmt.Errorf("casting map values: %w", err)
		}
		if form == "DENSE" {
			out, err := cast.Reshape(1, width)
			return []tensor.Value{out}, err
		}
		out, err := c.New(dt, 1, width)
		if err != nil {
			return nil, err
		}
		for i, j := range order {
			if err := tensor.SetFrom(out, int(keys[j]), cast, i); err != nil {
				return nil, err
			}
		}
		return []tensor.Value{out}, nil
	}}, nil
}
