// Package text holds gort's kernels for the text operator family.
package text

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join()
}
