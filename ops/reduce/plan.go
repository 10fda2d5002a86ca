package reduce

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// plan is a reduction of an input shape over a set of axes, decomposed into
// contiguous runs: the input's dimensions, size-1 ones dropped, are merged
// into groups of adjacent dimensions that are all reduced or all kept. The
// innermost group is walked as a tight loop (a run of inner elements); the
// outer groups are walked with an odometer that tracks the output offset.
type plan struct {
	outShape []int  // output shape (keepdims applied)
	sizes    []int  // merged group sizes, outermost first; the last is the inner group
	outStr   []int  // output stride of each group (0 for reduced groups)
	innerRed bool   // whether the inner group is reduced
	inner    int    // size of the inner group
	runs     int    // number of runs: the product of all sizes but the last
	count    int    // input elements reduced into each output element
	outLen   int    // output element count
	inLen    int    // input element count
	reduced  []bool // per input axis
}

// normAxes maps axes into [0, rank) and rejects repeats.
func normAxes(axes []int64, rank int) ([]bool, error) {
	red := make([]bool, rank)
	for _, a := range axes {
		r := rank
		if r == 0 {
			r = 1 // a scalar accepts axis 0 or -1 and reduces nothing
		}
		ax, err := ops.NormAxis(a, r)
		if err != nil {
			return nil, fmt.Errorf("axes %v: %w", axes, err)
		}
		if rank == 0 {
			continue
		}
		if red[ax] {
			return nil, fmt.Errorf("axes %v name axis %d twice", axes, ax)
		}
		red[ax] = true
	}
	return red, nil
}

// reducedShape is the output shape for red (per-axis reduce flags).
func reducedShape(shape []int, red []bool, keep bool) []int {
	out := make([]int, 0, len(shape))
	for i, d := range shape {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	return out
}

// newPlan plans the reduction of shape over the axes flagged in red.
func newPlan(shape []int, red []bool, keep bool) *plan {
	p := &plan{outShape: reducedShape(shape, red, keep), reduced: red, count: 1, outLen: 1, inLen: 1}
	var sizes []int
	var flags []bool
	for i, d := range shape {
		p.inLen *= d
		if red[i] {
			p.count *= d
		} else {
			p.outLen *= d
		}
		if d == 1 {
			continue
		}
		if k := len(sizes) - 1; k >= 0 && flags[k] == red[i] {
			sizes[k] *= d
			continue
		}
		sizes = append(sizes, d)
		flags = append(flags, red[i])
	}
	if len(sizes) == 0 {
		sizes, flags = []int{1}, []bool{false}
	}
	p.sizes = sizes
	p.outStr = make([]int, len(sizes))
	st := 1
	for g := len(sizes) - 1; g >= 0; g-- {
		if !flags[g] {
			p.outStr[g] = st
			st *= sizes[g]
		}
	}
	last := len(sizes) - 1
	p.inner, p.innerRed = sizes[last], flags[last]
	p.runs = 1
	for _, s := range sizes[:last] {
		p.runs *= s
	}
	return p
}

// grain is the least number of input elements worth a goroutine.
const grain = 1 << 15

// each calls f(in, out) for every run: in is the input offset of the run's
// first element and out the output offset it reduces into (for a kept inner
// group, the run's elements map to out, out+1, ...). It checks for
// cancellation about every 64k elements.
//
// When only the innermost group is reduced, run r reduces into output r
// alone, so the runs are split over c.Threads goroutines; f must then only
// touch output out.
func (p *plan) each(c *ops.Ctx, f func(in, out int)) error {
	if p.inLen == 0 {
		return nil
	}
	if w := p.workers(c); w > 1 {
		errs := make([]error, w)
		var wg sync.WaitGroup
		for k := range w {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lo, hi := k*p.runs/w, (k+1)*p.runs/w
				every := max(1, (1<<16)/p.inner)
				for r := lo; r < hi; r++ {
					if (r-lo)%every == 0 {
						if errs[k] = c.Check(); errs[k] != nil {
							return
						}
					}
					f(r*p.inner, r)
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	ctr := make([]int, len(p.sizes)-1)
	every := max(1, (1<<16)/p.inner)
	out := 0
	for r := 0; r < p.runs; r++ {
		if r%every == 0 {
			if err := c.Check(); err != nil {
				return err
			}
		}
		f(r*p.inner, out)
		for d := len(ctr) - 1; d >= 0; d-- {
			ctr[d]++
			out += p.outStr[d]
			if ctr[d] < p.sizes[d] {
				break
			}
			out -= p.outStr[d] * p.sizes[d]
			ctr[d] = 0
		}
	}
	return nil
}

// workers is the number of goroutines each may use: more than one only
// when the inner group is the sole reduced one and the input is large.
func (p *plan) workers(c *ops.Ctx) int {
	if c == nil || c.Threads <= 1 || !p.innerRed || p.runs < 2 {
		return 1
	}
	for g := range len(p.sizes) - 1 {
		if p.outStr[g] == 0 {
			return 1
		}
	}
	return min(c.Threads, p.runs, p.inLen/grain)
}

// inferReduced gives the output type when the reduced axes are known.
func inferReduced(in tensor.Type, red []bool, keep bool) tensor.Type {
	t := tensor.Type{Kind: tensor.KindTensor, DType: in.DType}
	if !in.HasShape || red == nil {
		return t
	}
	t.HasShape = true
	for i, d := range in.Shape {
		switch {
		case !red[i]:
			t.Shape = append(t.Shape, d)
		case keep:
			t.Shape = append(t.Shape, tensor.Dim{Size: 1})
		}
	}
	return t
}
