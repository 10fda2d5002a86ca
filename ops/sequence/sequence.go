// Package sequence holds gort's kernels for the sequence operator family.
package sequence

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join()
}
