package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Einsum evaluates an Einstein summation equation such as "bij,bjk->bik":
// each output element is the sum, over every label absent from the output,
// of the product of the inputs. Repeated labels in one operand take
// diagonals, "..." stands for broadcast leading dimensions, and without
// "->" the output is the ellipsis followed by the labels used once, in
// alphabetical order. Operands are contracted pairwise, each pair as a
// batched GEMM. It fails on a malformed equation or when a label's
// dimensions differ between operands.
var Einsum = ops.Versions("", "Einsum",
	"Y = einsum(equation, inputs...): Einstein summation with diagonals, ellipsis and implicit output",
	[]int{12}, nil, compileEinsum)

// ellipsisLabel is the first label of ellipsis dimensions (letters are their
// byte values, so sorting labels sorts letters alphabetically, as numpy does).
const ellipsisLabel = 256

type einsumEq struct {
	terms    []string // input terms, ellipsis as "..."
	out      string
	explicit bool
}

func compileEinsum(n *ops.Node) (*ops.Kernel, error) {
	eq := strings.ReplaceAll(n.String("equation", ""), " ", "")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if eq == "" {
		return nil, fmt.Errorf("attribute equation is required")
	}
	e := einsumEq{}
	lhs := eq
	if i := strings.Index(eq, "->"); i >= 0 {
		lhs, e.out, e.explicit = eq[:i], eq[i+2:], true
	}
	e.terms = strings.Split(lhs, ",")
	for _, t := range append(slices.Clone(e.terms), e.out) {
		if err := checkTerm(t); err != nil {
			return nil, fmt.Errorf("equation %q: %w", eq, err)
		}
	}
	return &ops.Kernel{Run: e.run}, nil
}

func checkTerm(t string) error {
	rest := strings.Replace(t, "...", "", 1)
	if strings.Contains(rest, ".") {
		return fmt.Errorf("term %q has a misplaced '.' (only one \"...\" per term)", t)
	}
	for _, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("term %q has label %q; labels are letters", t, r)
		}
	}
	return nil
}

// labelsOf maps a term to one label per dimension of an operand of the
// given rank; the ellipsis covers the last ellRank of the ellTotal
// ellipsis labels.
func labelsOf(term string, rank, ellTotal int) ([]int, error) {
	before, after, hasEll := strings.Cut(term, "...")
	letters := len(before) + len(after)
	if !hasEll {
		if letters != rank {
			return nil, fmt.Errorf("term %q has %d labels but its operand has rank %d", term, letters, rank)
		}
		return labelBytes(term), nil
	}
	ell := rank - letters
	if ell < 0 {
		return nil, fmt.Errorf("term %q has %d labels but its operand has rank %d", term, letters, rank)
	}
	out := labelBytes(before)
	for j := ellTotal - ell; j < ellTotal; j++ {
		out = append(out, ellipsisLabel+j)
	}
	return append(out, labelBytes(after)...), nil
}

func labelBytes(s string) []int {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out
}

// einsumOperand is a dense operand with one label per dimension.
type einsumOperand[T tensor.Number] struct {
	data   []T
	shape  []int
	labels []int
}

func (e einsumEq) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != len(e.terms) {
		return nil, fmt.Errorf("equation has %d input terms but the node has %d inputs", len(e.terms), len(in))
	}
	if err := ops.Want(in, len(in), len(in)); err != nil {
		return nil, err
	}
	names := make([]string, len(in))
	for i := range names {
		names[i] = fmt.Sprintf("input %d", i)
	}
	if err := sameDType(in, names...); err != nil {
		return nil, err
	}
	return widened(c, in, func(w []*tensor.Tensor) (*tensor.Tensor, error) {
		switch w[0].DType() {
		case tensor.Float32:
			return einsumTyped[float32](c, e, w)
		case tensor.Float64:
			return einsumTyped[float64](c, e, w)
		case tensor.Int32:
			return einsumTyped[int32](c, e, w)
		case tensor.Int64:
			return einsumTyped[int64](c, e, w)
		case tensor.Uint32:
			return einsumTyped[uint32](c, e, w)
		case tensor.Uint64:
			return einsumTyped[uint64](c, e, w)
		case tensor.Int8:
			return einsumTyped[int8](c, e, w)
		case tensor.Int16:
			return einsumTyped[int16](c, e, w)
		case tensor.Uint8:
			return einsumTyped[uint8](c, e, w)
		case tensor.Uint16:
			return einsumTyped[uint16](c, e, w)
		}
		return nil, unsupported(in[0].DType(), "numeric types")
	})
}

func einsumTyped[T tensor.Number](c *ops.Ctx, e einsumEq, in []*tensor.Tensor) (*tensor.Tensor, error) {
	// Ellipsis rank: the largest number of dimensions any "..." covers.
	ellTotal := 0
	for i, t := range e.terms {
		if strings.Contains(t, "...") {
			ellTotal = max(ellTotal, in[i].Rank()-(len(t)-3))
		}
	}
	size := map[int]int{}
	count := map[int]int{}
	operands := make([]einsumOperand[T], len(in))
	for i, t := range in {
		labels, err := labelsOf(e.terms[i], t.Rank(), ellTotal)
		if err != nil {
			return nil, err
		}
		seen := map[int]bool{}
		for d, l := range labels {
			n := t.Shape()[d]
			old, ok := size[l]
			switch {
			case !ok || old == 1 && l >= ellipsisLabel:
				size[l] = n
			case n == old || n == 1 && l >= ellipsisLabel:
			default:
				return nil, fmt.Errorf("label %s has size %d in input %d but %d elsewhere", labelName(l), n, i, old)
			}
			if !seen[l] {
				count[l]++
				seen[l] = true
			}
		}
		operands[i] = einsumOperand[T]{data: tensor.Data[T](t), shape: t.Shape(), labels: labels}
	}
	var out []int
	if e.explicit {
		var err error
		if out, err = outputLabels(e.out, ellTotal); err != nil {
			return nil, err
		}
		for _, l := range out {
			if _, ok := size[l]; !ok {
				return nil, fmt.Errorf("output label %s does not appear in any input", labelName(l))
			}
		}
	} else {
		for j := range ellTotal {
			out = append(out, ellipsisLabel+j)
		}
		var once []int
		for l, n := range count {
			if n == 1 && l < ellipsisLabel && countIn(operands, l) == 1 {
				once = append(once, l)
			}
		}
		slices.Sort(once)
		out = append(out, once...)
	}
	// Contract left to right, keeping labels the output or a later operand needs.
	cur := operands[0]
	for i := 1; i < len(operands); i++ {
		need := map[int]bool{}
		for _, l := range out {
			need[l] = true
		}
		for _, op := range operands[i+1:] {
			for _, l := range op.labels {
				need[l] = true
			}
		}
		var err error
		if cur, err = contractPair(c, cur, operands[i], need, size); err != nil {
			return nil, err
		}
	}
	shape := make([]int, len(out))
	for i, l := range out {
		shape[i] = size[l]
	}
	yt, err := c.New(tensor.DTypeOf[T](), shape...)
	if err != nil {
		return nil, err
	}
	relabel(cur, out, size, tensor.Data[T](yt))
	return yt, nil
}

// countIn counts the occurrences of label l over every operand's dimensions
// (a label repeated inside one term is a diagonal, not an output label).
func countIn[T tensor.Number](ops []einsumOperand[T], l int) int {
	n := 0
	for _, op := range ops {
		for _, x := range op.labels {
			if x == l {
				n++
			}
		}
	}
	return n
}

func outputLabels(term string, ellTotal int) ([]int, error) {
	before, after, hasEll := strings.Cut(term, "...")
	out := labelBytes(before)
	if hasEll {
		for j := range ellTotal {
			out = append(out, ellipsisLabel+j)
		}
	}
	out = append(out, labelBytes(after)...)
	seen := map[int]bool{}
	for _, l := range out {
		if seen[l] {
			return nil, fmt.Errorf("output label %s appears twice", labelName(l))
		}
		seen[l] = true
	}
	return out, nil
}

func labelName(l int) string {
	if l >= ellipsisLabel {
		return fmt.Sprintf("...[%d]", l-ellipsisLabel)
	}
	return fmt.Sprintf("%q", rune(l))
}

// contractPair multiplies a and b as a batched GEMM: labels of both that
// need keeps are batch dimensions, labels of both that it drops are
// contracted (K), and labels of one operand only are kept (M or N) when
// needed, else summed away first.
func contractPair[T tensor.Number](c *ops.Ctx, a, b einsumOperand[T], need map[int]bool, size map[int]int) (einsumOperand[T], error) {
	inA, inB := map[int]bool{}, map[int]bool{}
	for _, l := range a.labels {
		inA[l] = true
	}
	for _, l := range b.labels {
		inB[l] = true
	}
	var batch, ms, ns, ks []int
	for _, l := range uniqueLabels(a.labels) {
		switch {
		case inB[l] && need[l]:
			batch = append(batch, l)
		case inB[l]:
			ks = append(ks, l)
		case need[l]:
			ms = append(ms, l)
		}
	}
	for _, l := range uniqueLabels(b.labels) {
		if !inA[l] && need[l] {
			ns = append(ns, l)
		}
	}
	sz := func(ls []int) int {
		p := 1
		for _, l := range ls {
			p *= size[l]
		}
		return p
	}
	nb, m, n, k := sz(batch), sz(ms), sz(ns), sz(ks)
	// Every buffer of the contraction must fit the session's limits.
	for _, ls := range [][]int{slices.Concat(batch, ms, ks), slices.Concat(batch, ks, ns), slices.Concat(batch, ms, ns)} {
		dims := make([]int, len(ls))
		for i, l := range ls {
			dims[i] = size[l]
		}
		cnt, err := tensor.NumElements(dims)
		if err == nil && c != nil && c.MaxElements > 0 && cnt > c.MaxElements {
			err = fmt.Errorf("%w: einsum intermediate %v has %d elements, the session allows %d", ops.ErrLimit, dims, cnt, c.MaxElements)
		}
		if err != nil {
			return a, err
		}
	}
	total := nb * m * n
	aLabels := slices.Concat(batch, ms, ks)
	bLabels := slices.Concat(batch, ks, ns)
	ad := laidOut(a, aLabels, size, nb*m*k)
	bd := laidOut(b, bLabels, size, nb*k*n)
	out := einsumOperand[T]{data: make([]T, total), labels: slices.Concat(batch, ms, ns)}
	for _, l := range out.labels {
		out.shape = append(out.shape, size[l])
	}
	if err := batchedGemm(c, nb, m, n, k, ad, nil, bd, nil, out.data); err != nil {
		return a, err
	}
	return out, nil
}

// laidOut returns op's data in the layout want (n elements), sharing it when
// op already has that layout.
func laidOut[T tensor.Number](op einsumOperand[T], want []int, size map[int]int, n int) []T {
	if slices.Equal(op.labels, want) && len(op.data) == n {
		return op.data
	}
	d := make([]T, n)
	relabel(op, want, size, d)
	return d
}

func uniqueLabels(ls []int) []int {
	var out []int
	for _, l := range ls {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// relabel writes op into dst laid out with dimensions want (sizes from
// size): labels of op missing from want are summed, a label repeated in op
// reads its diagonal, and a size-1 (broadcast) dimension is repeated.
func relabel[T tensor.Number](op einsumOperand[T], want []int, size map[int]int, dst []T) {
	uniq := uniqueLabels(op.labels)
	inStr := tensor.Strides(op.shape)
	outStrides := map[int]int{}
	s := 1
	for i := len(want) - 1; i >= 0; i-- {
		outStrides[want[i]] = s
		s *= size[want[i]]
	}
	// Identity layout: copy.
	if slices.Equal(op.labels, want) && len(op.data) == len(dst) {
		copy(dst, op.data)
		return
	}
	clear(dst)
	dims := make([]int, len(uniq))
	is := make([]int, len(uniq))
	os := make([]int, len(uniq))
	for j, l := range uniq {
		dims[j] = size[l]
		for d, x := range op.labels {
			if x == l && op.shape[d] != 1 {
				is[j] += inStr[d]
			}
		}
		os[j] = outStrides[l]
	}
	total := prod(dims)
	if total == 0 {
		return
	}
	ctr := make([]int, len(dims))
	ii, oi := 0, 0
	for range total {
		dst[oi] += op.data[ii]
		for j := len(dims) - 1; j >= 0; j-- {
			ctr[j]++
			ii += is[j]
			oi += os[j]
			if ctr[j] < dims[j] {
				break
			}
			ii -= is[j] * dims[j]
			oi -= os[j] * dims[j]
			ctr[j] = 0
		}
	}
}
