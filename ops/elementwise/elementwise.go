// Package elementwise holds gort's kernels for the elementwise operator family.
package elementwise

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join()
}
