package autodiff

import (
	"fmt"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
)

// Rule emits the backward nodes of one forward node. dy holds the gradient
// of each output ("" where no gradient flows); the rule returns one gradient
// per input ("" for inputs that get none, such as shapes and indices). A
// rule may skip inputs for which b.Needs is false.
type Rule func(b *Builder, n *ir.Node, dy []string) ([]string, error)

// Rules returns the gradient rule of every differentiable op, by op key.
// The list is explicit: an op missing here is reported by name when it lies
// on a path to the loss.
func Rules() map[ops.Key]Rule {
	r := map[ops.Key]Rule{}
	for _, list := range [][]namedRule{elementwiseRules(), linalgRules(), reduceRules(), shapeRules(), nnRules(), lossRules(), contribRules()} {
		for _, nr := range list {
			r[ops.Key{Domain: nr.domain, Type: nr.op}] = guarded(nr.op, nr.rule)
		}
	}
	return r
}

type namedRule struct {
	domain, op string
	rule       Rule
}

// rule declares the gradient of an ai.onnx op.
func rule(op string, r Rule) namedRule { return namedRule{"", op, r} }

// Ops lists the (domain, op) pairs that have gradient rules, sorted.
func Ops() []ops.Key {
	var keys []ops.Key
	for k := range Rules() {
		keys = append(keys, k)
	}
	sortKeys(keys)
	return keys
}

// guarded turns a panic of rule r (an index past the inputs or outputs of
// a malformed node from an untrusted model) into an error.
func guarded(op string, r Rule) Rule {
	return func(b *Builder, n *ir.Node, dy []string) (dx []string, err error) {
		defer func() {
			if p := recover(); p != nil {
				dx, err = nil, fmt.Errorf("%s gradient: malformed node with %d inputs and %d outputs (%v)", op, len(n.Inputs), len(n.Outputs), p)
			}
		}()
		return r(b, n, dy)
	}
}
