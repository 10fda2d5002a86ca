// Package signal holds gort's kernels for the signal operator family.
package signal

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join()
}
