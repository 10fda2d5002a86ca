// Package text holds gort's kernels for the text operator family.
//
// # Overview
//
// String tensors in, strings, booleans or n-gram counts out:
// StringNormalizer (stopword removal and Unicode case change), StringConcat
// (broadcast concatenation), StringSplit (Python str.split semantics, padded
// with ""), RegexFullMatch (RE2 syntax through Go's regexp) and
// TfIdfVectorizer (n-gram counts with skips over int or string tokens).
package text

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(stringNormalizerOps, stringConcatOps, stringSplitOps, regexFullMatchOps, tfIdfOps)
}

// stringsOf returns the elements of a string tensor named name.
func stringsOf(t *tensor.Tensor, name string) ([]string, error) {
	if t.DType() != tensor.String {
		return nil, fmt.Errorf("%s is %v, want string", name, t.DType())
	}
	return tensor.Data[string](t), nil
}

// inferTensor returns an Infer function for a single output of dtype d whose
// shape is input 0's when sameShape is set and unknown otherwise.
func inferTensor(d tensor.DType, sameShape bool) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		t := tensor.Type{Kind: tensor.KindTensor, DType: d}
		if sameShape && len(in) > 0 && in[0].HasShape {
			t.HasShape = true
			t.Shape = append([]tensor.Dim(nil), in[0].Shape...)
		}
		return []tensor.Type{t}, nil
	}
}
