package graphopt

import (
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// unflattenGemm rewrites the way PyTorch exports a linear layer over a 3-D
// input with addmm (GPT-2's Conv1D):
//
//	Reshape(Gemm(Reshape(x, [-1, K]), W, b), x.shape[:-1] + [N])
//
// into Add(MatMul(x, W), b), the form the other fusions (attention,
// BiasGelu, SkipLayerNorm) recognize.
func unflattenGemm(m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	v := newView(m, g)
	var patches []*Patch
	for _, outer := range g.Nodes {
		if outer.OpType != "Reshape" || !isONNX(outer.Domain) || len(outer.Inputs) != 2 {
			continue
		}
		gemm := v.op(outer.Inputs[0], "Gemm")
		if gemm == nil || !v.only(gemm.Outputs[0], outer) || len(gemm.Inputs) < 2 ||
			attrInt(gemm, "transA", 0) != 0 || attrInt(gemm, "transB", 0) != 0 ||
			attrFloat(gemm, "alpha", 1) != 1 || attrFloat(gemm, "beta", 1) != 1 {
			continue
		}
		inner := v.op(gemm.Inputs[0], "Reshape")
		w, ok := v.consts[gemm.Inputs[1]]
		if inner == nil || !v.only(inner.Outputs[0], gemm) || !ok || w.Rank() != 2 {
			continue
		}
		x := inner.Inputs[0]
		k, n := int64(w.Shape()[0]), int64(w.Shape()[1])
		xt, ok := v.types[x]
		if !ok || !xt.HasShape || len(xt.Shape) < 2 || !xt.Shape[len(xt.Shape)-1].Known() || xt.Shape[len(xt.Shape)-1].Size != k {
			continue
		}
		if flat, ok := v.ints(inner.Inputs[1]); !ok || !sameInts(flat, -1, k) {
			continue
		}
		target, ok := shapeValue(v.consts, v.vals, outer.Inputs[1])
		if !ok || len(target) != len(xt.Shape) || !target[len(target)-1].Known() || target[len(target)-1].Size != n {
			continue
		}
		lead := true
		for i := range target[:len(target)-1] {
			lead = lead && isDim(v, target[i], x, i)
		}
		bias := ""
		if len(gemm.Inputs) > 2 {
			bias = gemm.Inputs[2]
		}
		if !lead || bias != "" && !v.vector1D(bias, n) || v.dtype(x) != w.DType() {
			continue
		}
		mm := v.node("MatMul", "", []string{x, gemm.Inputs[1]}, []string{outer.Outputs[0]})
		p := &Patch{Remove: []*ir.Node{inner, gemm, outer}, Add: []*ir.Node{mm}}
		if bias != "" {
			prod := v.newName("matmul")
			mm.Outputs = []string{prod}
			p.Add = append(p.Add, v.node("Add", "", []string{prod, bias}, []string{outer.Outputs[0]}))
		}
		patches = append(patches, p)
	}
	return patches, nil
}

// fuseMatMulTranspose rewrites MatMul(A, Transpose(W)), W a constant
// float32 matrix, into com.microsoft FusedMatMul(A, W, transB=1). Folding
// leaves such a Transpose to run time when W has other readers and its
// copy would exceed the fold budget (GPT-2's LM head reads the token
// embedding, 50257 x 768, that the embedding Gather also reads): every run
// then transposes the whole matrix. FusedMatMul reads W as it is, and the
// native kernel packs Wᵀ once when the session is built.
func fuseMatMulTranspose(st *state, m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	if !st.supported(msDomain, "FusedMatMul") {
		return nil, nil
	}
	v := newView(m, g)
	var patches []*Patch
	for _, mm := range g.Nodes {
		if mm.OpType != "MatMul" || !isONNX(mm.Domain) || len(mm.Inputs) != 2 {
			continue
		}
		tr := v.op(mm.Inputs[1], "Transpose")
		if tr == nil || len(tr.Inputs) != 1 {
			continue
		}
		a, w := mm.Inputs[0], tr.Inputs[0]
		wt, ok := v.consts[w]
		ra, okr := v.rank(a)
		if !ok || !okr || ra < 2 || wt.Rank() != 2 || wt.DType() != tensor.Float32 || v.dtype(a) != tensor.Float32 {
			continue
		}
		if perm, ok := permOf(tr, 2); !ok || perm[0] != 1 {
			continue
		}
		st.emit(msDomain, "FusedMatMul")
		// The Transpose goes with the last reader (dead-code elimination).
		fm := v.node("FusedMatMul", msDomain, []string{a, w}, mm.Outputs, ops.Attr{Name: "transB", Type: ops.AttrInt, I: 1})
		patches = append(patches, &Patch{Remove: []*ir.Node{mm}, Add: []*ir.Node{fm}})
	}
	return patches, nil
}
