// Package training holds gort's kernels for the training operator family.
package training

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join()
}
