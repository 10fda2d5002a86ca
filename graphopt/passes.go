package graphopt

import (
	"fmt"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops/all"
)

// Passes returns the ordered pass list, with fusions gated on the ops gort's
// native provider implements.
func Passes() []*Pass {
	reg := all.Registry()
	return passes(&state{supported: reg.Has})
}

func passes(st *state) []*Pass {
	fuse := func(f func(*state, *ir.Model, *ir.Graph) ([]*Patch, error)) func(*ir.Model, *ir.Graph) ([]*Patch, error) {
		return func(m *ir.Model, g *ir.Graph) ([]*Patch, error) { return f(st, m, g) }
	}
	return []*Pass{
		{Name: "infer-shapes", Level: Basic, Run: inferShapes,
			Doc: "record inferred tensor types as value_info"},
		{Name: "eliminate-identity", Level: Basic, Run: eliminateIdentity, After: []string{"infer-shapes"},
			Doc: "drop Identity, no-op Cast, inference Dropout and identity Transpose"},
		{Name: "fold-constants", Level: Basic, Run: foldConstants, After: []string{"infer-shapes"},
			Doc: "evaluate nodes of constant inputs (and Shape/Size of static shapes) into initializers"},
		{Name: "fold-transpose-reshape", Level: Basic, Run: foldTransposeReshape, After: []string{"eliminate-identity"},
			Doc: "compose Transpose∘Transpose and Reshape∘Reshape; Reshape targets computed from Shape become constants"},
		{Name: "unflatten-gemm", Level: Basic, Run: unflattenGemm, After: []string{"fold-transpose-reshape"},
			Doc: "Reshape(Gemm(Reshape(x, [-1, K]), W, b), x.shape[:-1] + [N]) (PyTorch addmm over 3-D input) into MatMul + Add"},
		{Name: "cse", Level: Basic, Run: eliminateCommon, After: []string{"fold-constants"},
			Doc: "merge equal nodes and equal small initializers"},
		{Name: "fuse-layernorm", Level: Extended, Run: fuse(fuseLayerNorm), After: []string{"fold-constants", "cse"},
			Doc: "ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul/Add] into LayerNormalization"},
		{Name: "fuse-gelu", Level: Extended, Run: fuse(fuseGelu), After: []string{"fold-constants", "cse"},
			Doc: "x*0.5*(1+erf(x/sqrt2)) into Gelu, the tanh form into FastGelu"},
		{Name: "fuse-attention", Level: Extended, Run: fuse(fuseAttention), After: []string{"fold-transpose-reshape", "unflatten-gemm", "cse"},
			Doc: "BERT/ViT multi-head attention (projections, heads, scaled scores, padding mask, softmax) and GPT-2's causal attention (packed c_attn, tril-sliced Where) into Attention or MultiHeadAttention; decoder attention under any additive mask, with or without Concat of a KV cache (zoo and optimum GPT-2), into MultiHeadAttention with attention_bias and past/present"},
		{Name: "fuse-embed-layernorm", Level: Extended, Run: fuse(fuseEmbedLayerNorm), After: []string{"fuse-layernorm", "fold-constants"},
			Doc: "LayerNormalization(word[ids] + segment[types] + position[0..S-1]) into EmbedLayerNormalization"},
		{Name: "fuse-skip-layernorm", Level: Extended, Run: fuse(fuseSkipLayerNorm), After: []string{"fuse-layernorm", "fuse-attention", "fuse-embed-layernorm"},
			Doc: "LayerNormalization(x + skip [+ bias]) into SkipLayerNormalization"},
		{Name: "fuse-bias-gelu", Level: Extended, Run: fuse(fuseBiasGelu), After: []string{"fuse-gelu"},
			Doc: "Gelu(x + bias) into BiasGelu, FastGelu(x + bias) into FastGelu with bias"},
		{Name: "fuse-matmul-add", Level: Extended, Run: fuse(fuseMatMulAdd), After: []string{"fuse-attention", "fuse-skip-layernorm", "fuse-bias-gelu"},
			Doc: "2-D MatMul + bias into Gemm"},
		{Name: "fuse-matmul-transpose", Level: Extended, Run: fuse(fuseMatMulTranspose), After: []string{"fold-constants", "fold-transpose-reshape", "fuse-attention"},
			Doc: "MatMul(A, Transpose(W)) of a constant float32 matrix W into FusedMatMul(A, W, transB=1), where folding left the Transpose to run time"},
		{Name: "dce", Level: Basic, Run: eliminateDead, After: []string{"fold-constants", "cse", "fuse-matmul-add", "fuse-matmul-transpose"},
			Doc: "remove nodes and initializers that no graph output depends on"},
	}
}

// PassNames lists the pass names in order.
func PassNames() []string {
	var names []string
	for _, p := range Passes() {
		names = append(names, p.Name)
	}
	return names
}

func passByName(name string) *Pass {
	for _, p := range Passes() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// CheckOrder verifies that names are unique and every pass comes after the
// passes it names in After.
func CheckOrder(list []*Pass) error {
	pos := map[string]int{}
	for i, p := range list {
		if _, dup := pos[p.Name]; dup {
			return fmt.Errorf("graphopt: pass %q listed twice", p.Name)
		}
		if p.Run == nil || p.Doc == "" || p.Level == 0 {
			return fmt.Errorf("graphopt: pass %q lacks Run, Doc or Level", p.Name)
		}
		pos[p.Name] = i
	}
	for i, p := range list {
		for _, a := range p.After {
			j, ok := pos[a]
			if !ok {
				return fmt.Errorf("graphopt: pass %q must follow unknown pass %q", p.Name, a)
			}
			if j >= i {
				return fmt.Errorf("graphopt: pass %q must follow %q", p.Name, a)
			}
		}
	}
	return nil
}
