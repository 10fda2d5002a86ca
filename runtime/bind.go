package runtime

import (
	"context"
	"fmt"
	"reflect"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

type outputsKey struct{}

// WithOutputs binds caller-owned tensors to graph outputs by name, as ONNX
// Runtime's IOBinding does: Run writes each bound output into its tensor
// and returns that tensor under the output's name, so that a caller
// running a model step after step (a decoder's logits) allocates no
// output. The native provider has the kernel that produces the output
// write straight into the bound tensor where it can (the output comes
// from a New of the node that makes it, or from a Reshape, Identity,
// Squeeze, Unsqueeze or Flatten of it); otherwise, and with other
// providers, Run copies the output into it once.
//
// A bound tensor must have the output's dtype and, after the run, its
// exact shape: Run fails before running when the dtype or a fixed
// dimension of the declared output type differs, and after running when
// the produced shape differs. It must not share memory with a feed or
// another bound tensor. The caller must not read or write a bound tensor
// while the run is in progress; after a failed Run its contents are
// unspecified. A later WithOutputs on a context carrying bindings adds to
// them (and rebinds names bound before). Bind the same tensor in two
// concurrent runs only if the caller does not care which run's output it
// holds.
func WithOutputs(ctx context.Context, outs map[string]*tensor.Tensor) context.Context {
	set := map[string]*tensor.Tensor{}
	if old, ok := ctx.Value(outputsKey{}).(map[string]*tensor.Tensor); ok {
		for k, v := range old {
			set[k] = v
		}
	}
	for k, v := range outs {
		set[k] = v
	}
	return context.WithValue(ctx, outputsKey{}, set)
}

// outputBindings returns the bindings of ctx, nil when there are none.
func outputBindings(ctx context.Context) map[string]*tensor.Tensor {
	m, _ := ctx.Value(outputsKey{}).(map[string]*tensor.Tensor)
	if len(m) == 0 {
		return nil
	}
	return m
}

// checkBindings checks the bound tensors against the declared outputs and
// against each other and the feeds before a run.
func checkBindings[V tensor.Value](s *Session, binds map[string]*tensor.Tensor, feeds map[string]V) error {
	var errs ir.ErrorList
	for name, b := range binds {
		var decl *ir.ValueInfo
		for _, o := range s.outputs {
			if o.Name == name {
				decl = o
				break
			}
		}
		switch {
		case decl == nil:
			errs = append(errs, fmt.Errorf("runtime: WithOutputs binds %q, which is not a graph output (outputs: %s)", name, inputNames(s.outputs)))
			continue
		case b == nil:
			errs = append(errs, fmt.Errorf("runtime: WithOutputs binds a nil tensor to output %q; bind an allocated tensor or leave the output unbound", name))
			continue
		}
		if err := checkBound(name, decl.Type, b); err != nil {
			errs = append(errs, err)
			continue
		}
		lo, hi, _ := dataRange(b)
		for other, o := range binds {
			if other < name && o != nil && overlaps(o, lo, hi) {
				errs = append(errs, fmt.Errorf("runtime: the tensors bound to outputs %q and %q share memory; bind a separate tensor to each", other, name))
			}
		}
		for in := range feeds {
			if f, ok := feed(feeds, in).(*tensor.Tensor); ok && overlaps(f, lo, hi) {
				errs = append(errs, fmt.Errorf("runtime: the tensor bound to output %q shares memory with feed %q; bind a tensor of its own", name, in))
			}
		}
	}
	return errs.Err()
}

// checkBound checks a bound tensor against an output's declared type:
// dtype, rank and fixed dimensions.
func checkBound(name string, t tensor.Type, b *tensor.Tensor) error {
	if t.Kind != tensor.KindTensor && t.Kind != tensor.KindUnknown {
		return fmt.Errorf("runtime: output %q is a %s, not a tensor; only tensor outputs can be bound", name, FormatType(t))
	}
	if t.Kind == tensor.KindUnknown {
		return nil
	}
	if t.DType != tensor.Undefined && b.DType() != t.DType {
		return fmt.Errorf("runtime: output %q is %v but the tensor bound to it (WithOutputs) is %v; bind a %v tensor", name, t.DType, b.DType(), t.DType)
	}
	if !t.HasShape {
		return nil
	}
	bad := len(t.Shape) != b.Rank()
	for i := 0; !bad && i < len(t.Shape); i++ {
		bad = t.Shape[i].Known() && int64(b.Shape()[i]) != t.Shape[i].Size
	}
	if bad {
		return fmt.Errorf("runtime: output %q has type %s but the tensor bound to it (WithOutputs) has shape %v; bind a tensor of the output's shape", name, FormatType(t), b.Shape())
	}
	return nil
}

// overlaps reports whether t's data meets the address range [lo, hi).
func overlaps(t *tensor.Tensor, lo, hi uintptr) bool {
	tlo, thi, _ := dataRange(t)
	return tlo < hi && lo < thi
}

// placeOutputs puts each bound output's value into its bound tensor and
// the tensor in its place in vals (names[i] names vals[i]). A value
// already in its bound tensor's memory with its shape is not copied. A
// value that lies in some bound tensor's memory otherwise (a kernel wrote
// it there before the output it was meant for was known) is cloned first,
// so that filling the bound tensors overwrites nothing still returned.
func placeOutputs(names []string, vals []tensor.Value, binds map[string]*tensor.Tensor) error {
	inPlace := func(i int) bool {
		b := binds[names[i]]
		x, ok := vals[i].(*tensor.Tensor)
		if b == nil || !ok || x == nil || x.DType() != b.DType() || !tensor.SameShape(x.Shape(), b.Shape()) {
			return false
		}
		xlo, xhi, _ := dataRange(x)
		blo, bhi, _ := dataRange(b)
		return xlo == blo && xhi == bhi
	}
	for i, v := range vals {
		if v == nil || inPlace(i) {
			continue
		}
		alias := false
		walkTensors(v, func(t *tensor.Tensor) {
			for _, b := range binds {
				if b != nil && !alias {
					lo, hi, _ := dataRange(b)
					alias = overlaps(t, lo, hi)
				}
			}
		})
		if alias {
			vals[i] = cloneValue(v)
		}
	}
	for i, name := range names {
		b := binds[name]
		if b == nil {
			continue
		}
		if inPlace(i) {
			vals[i] = b
			continue
		}
		x, ok := vals[i].(*tensor.Tensor)
		if !ok || x == nil {
			return fmt.Errorf("runtime: output %q is a %T, not a tensor; leave it unbound (WithOutputs) and use RunValues", name, vals[i])
		}
		if x.DType() != b.DType() || !tensor.SameShape(x.Shape(), b.Shape()) {
			return fmt.Errorf("runtime: output %q came out %v%v but the tensor bound to it (WithOutputs) is %v%v; bind a tensor of the output's shape, or leave the output unbound when its shape varies", name, x.DType(), x.Shape(), b.DType(), b.Shape())
		}
		reflect.Copy(reflect.ValueOf(b.Raw()), reflect.ValueOf(x.Raw()))
		vals[i] = b
	}
	return nil
}

// cloneValue deep-copies the tensors of v.
func cloneValue(v tensor.Value) tensor.Value {
	switch x := v.(type) {
	case *tensor.Tensor:
		return x.Clone()
	case *tensor.Sequence:
		c := *x
		c.Items = make([]tensor.Value, len(x.Items))
		for i, it := range x.Items {
			c.Items[i] = cloneValue(it)
		}
		return &c
	case *tensor.Optional:
		c := *x
		if x.V != nil {
			c.V = cloneValue(x.V)
		}
		return &c
	case *tensor.Map:
		c := *x
		if x.Keys != nil {
			c.Keys = x.Keys.Clone()
		}
		if x.Values != nil {
			c.Values = cloneValue(x.Values)
		}
		return &c
	}
	return v
}
