// Package all assembles gort's operator registry from the op families.
//
// # Overview
//
// Each family package (ops/elementwise, ops/shape, ...) declares one value
// per operator schema and lists them in its Ops function; Lists concatenates
// the families explicitly, with no init() registration, so the set of
// supported ops is readable here in one place.
package all

import (
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/activation"
	"github.com/gort-ml/gort/ops/attention"
	"github.com/gort-ml/gort/ops/contrib"
	"github.com/gort-ml/gort/ops/control"
	"github.com/gort-ml/gort/ops/elementwise"
	"github.com/gort-ml/gort/ops/image"
	"github.com/gort-ml/gort/ops/loss"
	"github.com/gort-ml/gort/ops/ml"
	"github.com/gort-ml/gort/ops/nn"
	"github.com/gort-ml/gort/ops/norm"
	"github.com/gort-ml/gort/ops/quant"
	"github.com/gort-ml/gort/ops/random"
	"github.com/gort-ml/gort/ops/reduce"
	"github.com/gort-ml/gort/ops/rnn"
	"github.com/gort-ml/gort/ops/sequence"
	"github.com/gort-ml/gort/ops/shape"
	"github.com/gort-ml/gort/ops/signal"
	"github.com/gort-ml/gort/ops/text"
	"github.com/gort-ml/gort/ops/training"
)

// Lists returns every family's op list.
func Lists() [][]*ops.Op {
	return [][]*ops.Op{
		elementwise.Ops(),
		activation.Ops(),
		shape.Ops(),
		reduce.Ops(),
		nn.Ops(),
		norm.Ops(),
		attention.Ops(),
		loss.Ops(),
		control.Ops(),
		sequence.Ops(),
		image.Ops(),
		signal.Ops(),
		rnn.Ops(),
		quant.Ops(),
		text.Ops(),
		ml.Ops(),
		random.Ops(),
		training.Ops(),
		contrib.Ops(),
	}
}

var (
	once sync.Once
	reg  *ops.Registry
	err  error
)

// Registry returns the registry of every op gort implements natively. It
// panics if the lists are inconsistent (a duplicate schema): that is a bug
// caught by this package's test, not a runtime condition.
func Registry() *ops.Registry {
	once.Do(func() { reg, err = ops.NewRegistry(Lists()...) })
	if err != nil {
		panic(err)
	}
	return reg
}
