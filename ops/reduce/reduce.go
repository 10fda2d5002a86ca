// Package reduce holds gort's kernels for the reduce operator family.
package reduce

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join()
}
