package runtime

import (
	"slices"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
)

// A kernel that precomputed from a constant input (MatMul packs its
// weight matrix) lists it in ops.Kernel.Precomputed: its step then reads no
// slot for that input, and the kernel is passed nil there. A constant that
// no step, subgraph or graph output reads any more is dropped from the
// plan, so that a session does not hold both a weight and its packed copy.
//
// The session only drops its own references: the caller's model still
// holds its initializers while the caller holds the model. The saving
// appears once the caller lets the model go (generate.Load and `gort run`
// do), or for constants the optimizer made (a transposed weight) at once.

// precomputed stops st from reading the inputs its kernel k precomputed
// from, where they are indeed constants of the scope (a listed input that
// is not one is passed as usual).
func precomputed(st *step, k *ops.Kernel, n *ir.Node, sc *scope) {
	for _, i := range k.Precomputed {
		if i >= 0 && i < len(st.in) && i < len(n.Inputs) && st.in[i] >= 0 && sc.constOf(n.Inputs[i]) != nil {
			st.in[i] = -1
		}
	}
}

// dropUnread removes the constants no step, subgraph (through a step's
// reads), graph input or output uses from the plan, so that the session
// keeps no reference to them.
func (p *plan) dropUnread() {
	last := p.lastUses()
	p.consts = slices.DeleteFunc(p.consts, func(cs constSlot) bool {
		return last[cs.slot] < 0 && !slices.Contains(p.outputSlots, cs.slot) && !slices.Contains(p.inputSlots, cs.slot)
	})
}
