// Package rnn holds gort's kernels for the rnn operator family.
package rnn

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join()
}
