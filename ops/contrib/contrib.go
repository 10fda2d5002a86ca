// Package contrib holds gort's kernels for the contrib operator family.
package contrib

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join()
}
