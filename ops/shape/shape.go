// Package shape holds gort's kernels for the shape operator family: ops that
// move, select or create elements without arithmetic on them (Reshape,
// Transpose, Gather, Scatter*, Pad, Slice, Concat, ...).
//
// # Overview
//
// Every kernel is written once over the element type through kit (kit.go),
// so all dtypes gort holds work, including string, float16, float8 and the
// sub-byte types. Index and size inputs come from the model and are checked:
// out-of-range indices are errors naming the index and its bound, and output
// sizes computed from data are checked for overflow and go through Ctx.New,
// which enforces the session's element limit before anything is allocated.
//
// Reshape, Flatten, Squeeze, Unsqueeze and Identity return views that share
// the input's data (kernels never modify their inputs, so sharing is safe);
// every other op allocates its output.
package shape

import "github.com/gort-ml/gort/ops"

type ctx = ops.Ctx

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		reshapeOps(),
		transposeOps(),
		concatOps(),
		splitOps(),
		sliceOps(),
		gatherOps(),
		scatterOps(),
		expandOps(),
		constantOps(),
		padOps(),
		rangeOps(),
		selectOps(),
		uniqueOps(),
		col2imOps(),
	)
}
