package graphopt

import (
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// fuseEmbedLayerNorm matches BERT's embeddings,
//
//	LayerNorm(word[ids] + segment[types] + position[0..S-1])
//
// (the three Gathers added in any order, position ids from Range(0, S, 1)
// over the ids' sequence length) and emits com.microsoft
// EmbedLayerNormalization, which takes int32 ids. Token ids are assumed in
// range, as ONNX Runtime's fusion assumes: Gather would also accept
// negative ones.
func fuseEmbedLayerNorm(st *state, m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	if !st.supported(msDomain, "EmbedLayerNormalization") {
		return nil, nil
	}
	v := newView(m, g)
	var patches []*Patch
	for _, ln := range g.Nodes {
		if ln.OpType != "LayerNormalization" || !isONNX(ln.Domain) || len(ln.Inputs) < 3 || ln.Inputs[2] == "" {
			continue
		}
		if axis := attrInt(ln, "axis", -1); axis != -1 && axis != 2 {
			continue
		}
		outer := v.op(ln.Inputs[0], "Add")
		if outer == nil || !v.only(outer.Outputs[0], ln) {
			continue
		}
		var inner *ir.Node
		var terms []string
		for i := 0; i < 2 && inner == nil; i++ {
			if a := v.op(outer.Inputs[i], "Add"); a != nil && v.only(a.Outputs[0], outer) {
				inner, terms = a, []string{a.Inputs[0], a.Inputs[1], outer.Inputs[1-i]}
			}
		}
		if inner == nil {
			continue
		}
		var word, seg, pos *ir.Node
		var ids string
		var posLen tensor.Dim
		ok := true
		for _, t := range terms {
			gn := v.op(t, "Gather")
			if gn == nil || attrInt(gn, "axis", 0) != 0 || !v.only(t, outer) && !v.only(t, inner) {
				ok = false
				break
			}
			if tb, isConst := v.consts[gn.Inputs[0]]; !isConst || tb.Rank() != 2 || tb.DType() != tensor.Float32 {
				ok = false
				break
			}
			if lim, isPos := positionLimit(v, gn.Inputs[1]); isPos {
				pos, posLen = gn, lim
				continue
			}
			switch {
			case word == nil:
				word = gn
			default:
				seg = gn
			}
		}
		if !ok || word == nil || seg == nil || pos == nil {
			continue
		}
		// Which Gather reads token ids and which segment ids cannot be told
		// by shape; the larger table is the vocabulary.
		if v.consts[word.Inputs[0]].Shape()[0] < v.consts[seg.Inputs[0]].Shape()[0] {
			word, seg = seg, word
		}
		ids = word.Inputs[1]
		if r, ok := v.rank(ids); !ok || r != 2 || !v.sameShape(ids, seg.Inputs[1]) || !isDim(v, posLen, ids, 1) {
			continue
		}
		hidden := int64(v.consts[word.Inputs[0]].Shape()[1])
		if !v.vector1D(ln.Inputs[1], hidden) || !v.vector1D(ln.Inputs[2], hidden) ||
			int64(v.consts[pos.Inputs[0]].Shape()[1]) != hidden || int64(v.consts[seg.Inputs[0]].Shape()[1]) != hidden {
			continue
		}
		unused := true
		for _, o := range ln.Outputs[1:] {
			unused = unused && (o == "" || len(v.users[o]) == 0 && !v.outputs[o])
		}
		if !unused {
			continue
		}
		set := v.withDead([]*ir.Node{word, seg, pos, inner, outer, ln}, ids, seg.Inputs[1])
		if !v.internal(set, ln.Outputs[0]) {
			continue
		}
		toI32 := func(s string) (*ir.Node, string) {
			o := v.newName(s + "_int32")
			return v.node("Cast", "", []string{s}, []string{o}, ops.Attr{Name: "to", Type: ops.AttrInt, I: int64(tensor.Int32)}), o
		}
		c1, ids32 := toI32(ids)
		c2, seg32 := toI32(seg.Inputs[1])
		st.emit(msDomain, "EmbedLayerNormalization")
		fused := v.node("EmbedLayerNormalization", msDomain,
			[]string{ids32, seg32, word.Inputs[0], pos.Inputs[0], seg.Inputs[0], ln.Inputs[1], ln.Inputs[2]},
			[]string{ln.Outputs[0], v.newName("mask_index")},
			ops.Attr{Name: "epsilon", Type: ops.AttrFloat, F: attrFloat(ln, "epsilon", 1e-5)})
		patches = append(patches, &Patch{Remove: set, Add: []*ir.Node{c1, c2, fused}})
	}
	return patches, nil
}

// positionLimit returns S when s is Unsqueeze(Range(0, S, 1), [0]).
func positionLimit(v *view, s string) (tensor.Dim, bool) {
	un := v.op(s, "Unsqueeze")
	if un == nil {
		return tensor.Dim{}, false
	}
	axes, ok := v.axes(un)
	rg := v.op(un.Inputs[0], "Range")
	if !ok || !sameInts(axes, 0) || rg == nil || !v.isScalar(rg.Inputs[0], 0, 0) || !v.isScalar(rg.Inputs[2], 1, 0) {
		return tensor.Dim{}, false
	}
	lim, ok := v.vals[rg.Inputs[1]]
	if !ok || len(lim) != 1 {
		return tensor.Dim{}, false
	}
	return lim[0], true
}

// isDim reports whether d is dimension i of value x: the same name, or a
// value taken from x's shape.
func isDim(v *view, d tensor.Dim, x string, i int) bool {
	t, ok := v.types[x]
	if !ok || !t.HasShape || i >= len(t.Shape) {
		return false
	}
	if d.Known() {
		return t.Shape[i].Known() && t.Shape[i].Size == d.Size
	}
	return d.Param != "" && (d.Param == t.Shape[i].Param || d.Param == anonParam(x, i))
}
