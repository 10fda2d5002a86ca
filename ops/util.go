package ops

import (
	"fmt"
	"sort"

	"github.com/gort-ml/gort/tensor"
)

func sortOps(l []*Op) {
	sort.Slice(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Domain != b.Domain {
			return a.Domain < b.Domain
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Since < b.Since
	})
}

// Versions declares the same op at several since-versions that share one
// implementation (the schema changed only in ways the kernel already covers,
// e.g. new dtypes). The Doc of every copy is doc.
func Versions(domain, typ, doc string, since []int, infer func(*Node, []tensor.Type) ([]tensor.Type, error), compile func(*Node) (*Kernel, error)) []*Op {
	out := make([]*Op, len(since))
	for i, s := range since {
		out[i] = &Op{Domain: domain, Type: typ, Since: s, Doc: doc, Infer: infer, Compile: compile}
	}
	return out
}

// Join concatenates op lists.
func Join(lists ...[]*Op) []*Op {
	var out []*Op
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Simple wraps a tensor kernel function that needs no compile-time state.
func Simple(run func(c *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error)) func(*Node) (*Kernel, error) {
	return func(*Node) (*Kernel, error) { return &Kernel{Run: run}, nil }
}

// InferSameAs returns an Infer function whose single output has the type of input i.
func InferSameAs(i int) func(*Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *Node, in []tensor.Type) ([]tensor.Type, error) {
		if i >= len(in) {
			return nil, fmt.Errorf("input %d missing", i)
		}
		return []tensor.Type{in[i]}, nil
	}
}

// InferBroadcast returns an Infer function for elementwise ops whose output
// shape is the broadcast of all inputs; out is the output dtype, or
// tensor.Undefined to use the first input's.
func InferBroadcast(out tensor.DType) func(*Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *Node, in []tensor.Type) ([]tensor.Type, error) {
		t := tensor.Type{Kind: tensor.KindTensor, DType: out}
		if len(in) > 0 && out == tensor.Undefined {
			t.DType = in[0].DType
		}
		rank := 0
		for _, x := range in {
			if !x.HasShape {
				return []tensor.Type{t}, nil
			}
			rank = max(rank, len(x.Shape))
		}
		t.HasShape = true
		t.Shape = make([]tensor.Dim, rank)
		for i := range t.Shape {
			t.Shape[i] = tensor.Dim{Size: 1}
		}
		for _, x := range in {
			off := rank - len(x.Shape)
			for j, d := range x.Shape {
				o := &t.Shape[off+j]
				switch {
				case d.Known() && d.Size == 1:
				case o.Known() && o.Size == 1:
					*o = d
				case d.Known() && o.Known() && d.Size != o.Size:
					return nil, fmt.Errorf("shapes do not broadcast: dimension %d is %d vs %d", off+j, o.Size, d.Size)
				case !o.Known() && d.Known():
					*o = d
				}
			}
		}
		return []tensor.Type{t}, nil
	}
}

// NormAxis maps a possibly negative axis into [0, rank).
func NormAxis(axis int64, rank int) (int, error) {
	a := int(axis)
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return a, nil
}

// Want checks the count of inputs present: at least min (non-nil), at most max.
func Want(in []*tensor.Tensor, min, max int) error {
	if len(in) > max {
		return fmt.Errorf("%d inputs, at most %d allowed", len(in), max)
	}
	for i := 0; i < min; i++ {
		if i >= len(in) || in[i] == nil {
			return fmt.Errorf("input %d is required", i)
		}
	}
	return nil
}

// Ints64 reads a 1-D (or scalar) integer tensor as []int64 (for shape,
// axes, pads and index inputs).
func Ints64(t *tensor.Tensor) ([]int64, error) {
	if d := t.DType(); d != tensor.Int64 && d != tensor.Int32 {
		return nil, fmt.Errorf("want an int64 or int32 tensor, got %v", d)
	}
	return AppendInts64(make([]int64, 0, t.Len()), t)
}

// AppendInts64 appends the elements of an int64 or int32 tensor to dst as
// int64 and returns the extended slice: Ints64 without an allocation when
// dst has room (a kernel's per-run integer inputs into a buffer it keeps).
// It fails, returning dst unchanged, for other dtypes.
func AppendInts64(dst []int64, t *tensor.Tensor) ([]int64, error) {
	switch d := t.Raw().(type) {
	case []int64:
		return append(dst, d...), nil
	case []int32:
		for _, v := range d {
			dst = append(dst, int64(v))
		}
		return dst, nil
	}
	return dst, fmt.Errorf("want an int64 or int32 tensor, got %v", t.DType())
}
