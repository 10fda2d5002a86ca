package nn

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// MaxPool is Y[n, c, o...] = max over the window X[n, c, o*s - pb + k*d...]
// (padding excluded), X (N, C, D...). The optional Indices output (from
// version 8) holds the flat index of each maximum in X, spatial axes in
// row-major (storage_order 0) or column-major (1) order. ceil_mode and
// dilations from version 10; int8/uint8 from 12.
var MaxPool = ops.Versions("", "MaxPool",
	"Y = max over each sliding window of X (N, C, D...); optional Indices of the maxima",
	[]int{1, 8, 10, 11, 12, 22}, inferPool, compilePool(poolMax))

// AveragePool is Y[n, c, o...] = mean over the window of X; the divisor
// counts only input elements unless count_include_pad (version 7) counts
// the padding too. ceil_mode from 10, dilations from 19.
var AveragePool = ops.Versions("", "AveragePool",
	"Y = mean over each sliding window of X (N, C, D...), padding counted when count_include_pad=1",
	[]int{1, 7, 10, 11, 19, 22}, inferPool, compilePool(poolAvg))

// LpPool is Y[n, c, o...] = (sum over the window of |X|^p)^(1/p) (p a float
// attribute in version 1, an int from 2); padding contributes 0. dilations
// from 11 and ceil_mode from 18.
var LpPool = ops.Versions("", "LpPool",
	"Y = (sum over each sliding window of |X|^p)^(1/p)",
	[]int{1, 2, 11, 18, 22}, inferPool, compilePool(poolLp))

// GlobalAveragePool is Y[n, c, 1...] = mean of X[n, c, ...] over all spatial axes.
var GlobalAveragePool = ops.Versions("", "GlobalAveragePool",
	"Y[n, c] = mean of X[n, c, ...] over every spatial axis (kept as size 1)",
	[]int{1, 22}, inferGlobalPool, compileGlobalPool(poolAvg))

// GlobalMaxPool is Y[n, c, 1...] = max of X[n, c, ...] over all spatial axes.
var GlobalMaxPool = ops.Versions("", "GlobalMaxPool",
	"Y[n, c] = max of X[n, c, ...] over every spatial axis (kept as size 1)",
	[]int{1, 22}, inferGlobalPool, compileGlobalPool(poolMax))

// GlobalLpPool is Y[n, c, 1...] = (sum of |X[n, c, ...]|^p)^(1/p).
var GlobalLpPool = ops.Versions("", "GlobalLpPool",
	"Y[n, c] = (sum of |X[n, c, ...]|^p)^(1/p) over every spatial axis (kept as size 1)",
	[]int{1, 2, 22}, inferGlobalPool, compileGlobalPool(poolLp))

type poolKind int

const (
	poolMax poolKind = iota
	poolAvg
	poolLp
)

type poolAttrs struct {
	windowAttrs
	kind            poolKind
	countIncludePad bool
	columnMajor     bool
	p               float64
}

// readP reads LpPool's p: a float in version 1, an int afterwards.
func readP(n *ops.Node) (float64, error) {
	p := 2.0
	if a := n.Attr("p"); a != nil {
		switch a.Type {
		case ops.AttrInt:
			p = float64(a.I)
		case ops.AttrFloat:
			p = float64(a.F)
		default:
			return 0, fmt.Errorf("attribute p is %v, want int", a.Type)
		}
	}
	if !(p > 0) || math.IsInf(p, 0) {
		return 0, fmt.Errorf("p=%v must be positive", p)
	}
	return p, nil
}

func readPool(n *ops.Node, kind poolKind) (*poolAttrs, error) {
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	a := &poolAttrs{windowAttrs: w, kind: kind,
		countIncludePad: n.Int("count_include_pad", 0) != 0,
		columnMajor:     n.Int("storage_order", 0) != 0,
	}
	if kind == poolLp {
		if a.p, err = readP(n); err != nil {
			return nil, err
		}
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if a.kernel == nil {
		return nil, fmt.Errorf("kernel_shape attribute is required")
	}
	return a, nil
}

func compilePool(kind poolKind) func(*ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		a, err := readPool(n, kind)
		if err != nil {
			return nil, err
		}
		wantIndices := kind == poolMax && len(n.Outputs) > 1 && n.Outputs[1] != ""
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return a.run(c, in, wantIndices)
		}}, nil
	}
}

func (a *poolAttrs) run(c *ops.Ctx, in []*tensor.Tensor, wantIndices bool) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, err
	}
	x := in[0]
	img, err := spatialOf("X", x.Shape())
	if err != nil {
		return nil, err
	}
	g, err := a.resolve(img, a.kernel)
	if err != nil {
		return nil, err
	}
	dt := x.DType()
	if a.kind != poolMax && !isFloatKernel(dt) {
		return nil, unsupported(dt, floatTypes)
	}
	if x, err = widen(c, x); err != nil {
		return nil, err
	}
	var y, ind *tensor.Tensor
	switch x.DType() {
	case tensor.Float32:
		y, ind, err = poolTyped[float32](c, a, g, x, wantIndices)
	case tensor.Float64:
		y, ind, err = poolTyped[float64](c, a, g, x, wantIndices)
	case tensor.Int8:
		y, ind, err = poolTyped[int8](c, a, g, x, wantIndices)
	case tensor.Uint8:
		y, ind, err = poolTyped[uint8](c, a, g, x, wantIndices)
	default:
		return nil, unsupported(dt, floatTypes+", int8, uint8")
	}
	if err != nil {
		return nil, err
	}
	y, err = narrow(c, y, dt)
	return []*tensor.Tensor{y, ind}, err
}

// axisWindow is the part of one window along one axis: kernel offsets
// [lo, hi) land inside the input, and cnt of them inside the padded input.
type axisWindow struct{ lo, hi, cnt int }

// axisWindows lists the window extent of every output position of every axis.
func axisWindows(g *geometry) [][]axisWindow {
	out := make([][]axisWindow, len(g.img))
	for i := range g.img {
		s, d, k, in := g.strides[i], g.dilations[i], g.kernel[i], g.img[i]
		out[i] = make([]axisWindow, g.pos[i])
		for o := range out[i] {
			// Taps t with 0 <= start + t*d < in (and < in + padEnd for ph),
			// computed directly: kernels may be huge, windows are not.
			start := o*s - g.padBegin[i]
			lo := 0
			if start < 0 {
				lo = min(k, (-start+d-1)/d)
			}
			hi := max(lo, min(k, ceilDiv(in-start, d)))
			ph := max(0, min(k, ceilDiv(in+g.padEnd[i]-start, d)))
			out[i][o] = axisWindow{lo, hi, ph}
		}
	}
	return out
}

// ceilDiv is ceil(a/b) for b > 0 and any a.
func ceilDiv(a, b int) int {
	return -floorDiv(-a, b)
}

// poolTyped pools every (n, c) plane of X; Y is (N, C, pos...).
func poolTyped[T tensor.Number](c *ops.Ctx, a *poolAttrs, g *geometry, xt *tensor.Tensor, wantIndices bool) (*tensor.Tensor, *tensor.Tensor, error) {
	xs := xt.Shape()
	shape := append([]int{xs[0], xs[1]}, g.pos...)
	yt, err := c.New(xt.DType(), shape...)
	if err != nil {
		return nil, nil, err
	}
	var it *tensor.Tensor
	var ind []int64
	if wantIndices {
		if it, err = c.New(tensor.Int64, shape...); err != nil {
			return nil, nil, err
		}
		ind = tensor.Data[int64](it)
	}
	x, y := tensor.Data[T](xt), tensor.Data[T](yt)
	planes, inSize, outSize := xs[0]*xs[1], prod(g.img), prod(g.pos)
	if outSize == 0 || planes == 0 {
		return yt, it, nil
	}
	wins := axisWindows(g)
	nd := len(g.img)
	last := nd - 1
	inStr := tensor.Strides(g.img)
	// Column-major strides for storage_order=1 indices.
	colStr := make([]int, nd)
	for i, s := 0, 1; i < nd; i++ {
		colStr[i], s = s, s*g.img[i]
	}
	var ferr firstError
	parallelFor(threadsOf(c), planes, func(p0, p1 int) {
		ocoord := make([]int, nd)
		kcoord := make([]int, nd)
		for pl := p0; pl < p1; pl++ {
			if pl%64 == 0 {
				if err := c.Check(); err != nil {
					ferr.set(err)
					return
				}
			}
			xp := x[pl*inSize : (pl+1)*inSize]
			clear(ocoord)
			for op := range outSize {
				// The window of this output position, axis by axis.
				empty, taps, padTaps := false, 1, 1
				for i := range nd {
					w := wins[i][ocoord[i]]
					kcoord[i] = w.lo
					empty = empty || w.lo >= w.hi
					taps *= w.hi - w.lo
					padTaps *= w.cnt
				}
				var best T
				bestAt := -1
				var sum float64
				if !empty {
					wl := wins[last][ocoord[last]]
					sl, dl := g.strides[last], g.dilations[last]
					startL := ocoord[last]*sl - g.padBegin[last]
					for {
						off := 0
						for i := range last {
							off += (ocoord[i]*g.strides[i] - g.padBegin[i] + kcoord[i]*g.dilations[i]) * inStr[i]
						}
						row := xp[off:]
						switch a.kind {
						case poolMax:
							for k := wl.lo; k < wl.hi; k++ {
								at := startL + k*dl
								if v := row[at]; bestAt < 0 || v > best {
									best, bestAt = v, off+at
								}
							}
						case poolAvg:
							for k := wl.lo; k < wl.hi; k++ {
								sum += float64(row[startL+k*dl])
							}
						case poolLp:
							for k := wl.lo; k < wl.hi; k++ {
								sum += lpTerm(float64(row[startL+k*dl]), a.p)
							}
						}
						// Advance the kernel odometer over the outer axes.
						i := last - 1
						for ; i >= 0; i-- {
							kcoord[i]++
							if kcoord[i] < wins[i][ocoord[i]].hi {
								break
							}
							kcoord[i] = wins[i][ocoord[i]].lo
						}
						if i < 0 {
							break
						}
					}
				}
				out := pl*outSize + op
				switch a.kind {
				case poolMax:
					y[out] = best
					if ind != nil {
						ind[out] = int64(pl*inSize + storageIndex(bestAt, g.img, inStr, colStr, a.columnMajor))
					}
				case poolAvg:
					div := taps
					if a.countIncludePad {
						div = padTaps
					}
					if div > 0 {
						y[out] = T(sum / float64(div))
					}
				case poolLp:
					y[out] = T(lpRoot(sum, a.p))
				}
				for i := last; i >= 0; i-- {
					ocoord[i]++
					if ocoord[i] < g.pos[i] {
						break
					}
					ocoord[i] = 0
				}
			}
		}
	})
	if err := ferr.get(); err != nil {
		return nil, nil, err
	}
	return yt, it, nil
}

// storageIndex converts a row-major spatial offset to the storage_order
// the Indices output asks for.
func storageIndex(at int, img, rowStr, colStr []int, columnMajor bool) int {
	if !columnMajor || at < 0 {
		return at
	}
	idx := 0
	for i := range img {
		idx += (at / rowStr[i]) * colStr[i]
		at %= rowStr[i]
	}
	return idx
}

func lpTerm(v, p float64) float64 {
	switch p {
	case 1:
		return math.Abs(v)
	case 2:
		return v * v
	}
	return math.Pow(math.Abs(v), p)
}

func lpRoot(s, p float64) float64 {
	switch p {
	case 1:
		return s
	case 2:
		return math.Sqrt(s)
	}
	return math.Pow(s, 1/p)
}

// inferPool gives Y's (and Indices') type when X's shape is known.
func inferPool(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 1 {
		return nil, fmt.Errorf("pool needs input X")
	}
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	y := inferWindowShape(w, in[0], w.kernel, nil)
	ind := y
	ind.DType = tensor.Int64
	return []tensor.Type{y, ind}, nil
}

func compileGlobalPool(kind poolKind) func(*ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		p := 2.0
		if kind == poolLp {
			var err error
			if p, err = readP(n); err != nil {
				return nil, err
			}
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return runGlobalPool(c, in, kind, p)
		}}, nil
	}
}

func runGlobalPool(c *ops.Ctx, in []*tensor.Tensor, kind poolKind, p float64) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, err
	}
	if _, err := spatialOf("X", in[0].Shape()); err != nil {
		return nil, err
	}
	return widened(c, in, func(w []*tensor.Tensor) (*tensor.Tensor, error) {
		switch w[0].DType() {
		case tensor.Float32:
			return globalPoolTyped[float32](c, w[0], kind, p)
		case tensor.Float64:
			return globalPoolTyped[float64](c, w[0], kind, p)
		}
		return nil, unsupported(in[0].DType(), floatTypes)
	})
}

// globalPoolTyped reduces every (n, c) plane of X to one value; Y is (N, C, 1...).
func globalPoolTyped[T tensor.Float](c *ops.Ctx, xt *tensor.Tensor, kind poolKind, p float64) (*tensor.Tensor, error) {
	xs := xt.Shape()
	shape := []int{xs[0], xs[1]}
	for range xs[2:] {
		shape = append(shape, 1)
	}
	yt, err := c.New(xt.DType(), shape...)
	if err != nil {
		return nil, err
	}
	x, y := tensor.Data[T](xt), tensor.Data[T](yt)
	size := prod(xs[2:])
	for pl := range y {
		plane := x[pl*size : (pl+1)*size]
		switch kind {
		case poolMax:
			if len(plane) == 0 {
				continue
			}
			m := plane[0]
			for _, v := range plane[1:] {
				if v > m || v != v {
					m = v
				}
			}
			y[pl] = m
		case poolAvg:
			var s float64
			for _, v := range plane {
				s += float64(v)
			}
			y[pl] = T(s / float64(size))
		case poolLp:
			var s float64
			for _, v := range plane {
				s += lpTerm(float64(v), p)
			}
			y[pl] = T(lpRoot(s, p))
		}
	}
	return yt, nil
}

// inferGlobalPool gives Y (N, C, 1...) when X's rank is known.
func inferGlobalPool(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 1 {
		return nil, fmt.Errorf("global pool needs input X")
	}
	out := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if !in[0].HasShape || len(in[0].Shape) < 3 {
		return []tensor.Type{out}, nil
	}
	out.HasShape, out.Shape = true, append([]tensor.Dim{}, in[0].Shape...)
	for i := 2; i < len(out.Shape); i++ {
		out.Shape[i] = tensor.Dim{Size: 1}
	}
	return []tensor.Type{out}, nil
}

// MaxUnpool inverts MaxPool: Y is zero except Y.flat[I[i]] = X.flat[i],
// with Y (N, C, (D-1)*s + K - pb - pe...) or the output_shape input. It fails
// when an index is outside Y or I's shape differs from X's.
var MaxUnpool = ops.Versions("", "MaxUnpool",
	"Y = zeros with Y.flat[I] = X: the partial inverse of MaxPool",
	[]int{9, 11, 22}, nil, compileMaxUnpool)

func compileMaxUnpool(n *ops.Node) (*ops.Kernel, error) {
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	if w.kernel == nil {
		return nil, fmt.Errorf("kernel_shape attribute is required")
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return runMaxUnpool(c, w, in)
	}}, nil
}

func runMaxUnpool(c *ops.Ctx, w windowAttrs, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 2, 3); err != nil {
		return nil, err
	}
	x, it := in[0], in[1]
	img, err := spatialOf("X", x.Shape())
	if err != nil {
		return nil, err
	}
	if !tensor.SameShape(x.Shape(), it.Shape()) {
		return nil, fmt.Errorf("I %v must have X's shape %v", it.Shape(), x.Shape())
	}
	idx, err := ops.Ints64(it)
	if err != nil {
		return nil, fmt.Errorf("I: %w", err)
	}
	strides, _, pads, err := w.fillDefaults(len(img), w.kernel)
	if err != nil {
		return nil, err
	}
	nd := len(img)
	shape := []int{x.Shape()[0], x.Shape()[1]}
	for i := range img {
		shape = append(shape, (img[i]-1)*strides[i]+w.kernel[i]-pads[i]-pads[i+nd])
	}
	y, err := c.New(x.DType(), shape...)
	if err != nil {
		return nil, err
	}
	n := y.Len()
	for i, v := range idx {
		if v < 0 || v >= int64(n) {
			return nil, fmt.Errorf("index I[%d]=%d out of range [0, %d) for the unpooled shape %v", i, v, n, shape)
		}
		if err := tensor.SetFrom(y, int(v), x, i); err != nil {
			return nil, err
		}
	}
	if len(in) > 2 && in[2] != nil {
		// The unpooled values go to the leading corner of output_shape.
		os, err := ops.Ints64(in[2])
		if err != nil {
			return nil, fmt.Errorf("output_shape: %w", err)
		}
		if len(os) != len(shape) {
			return nil, fmt.Errorf("output_shape %v must have %d values (X's rank)", os, len(shape))
		}
		if y, err = padCorner(c, y, toInts(os)); err != nil {
			return nil, err
		}
	}
	return []*tensor.Tensor{y}, nil
}

// padCorner returns a zero tensor of shape with src copied into its
// leading corner (dimensions beyond either shape are dropped).
func padCorner(c *ops.Ctx, src *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	dst, err := c.New(src.DType(), shape...)
	if err != nil {
		return nil, err
	}
	ss := src.Shape()
	common := make([]int, len(shape))
	for i := range common {
		common[i] = min(ss[i], shape[i])
	}
	if prod(common) == 0 {
		return dst, nil
	}
	sst, dst2 := tensor.Strides(ss), tensor.Strides(shape)
	ctr := make([]int, len(common))
	for {
		si, di := 0, 0
		for i, v := range ctr {
			si += v * sst[i]
			di += v * dst2[i]
		}
		if err := tensor.SetFrom(dst, di, src, si); err != nil {
			return nil, err
		}
		i := len(ctr) - 1
		for ; i >= 0; i-- {
			if ctr[i]++; ctr[i] < common[i] {
				break
			}
			ctr[i] = 0
		}
		if i < 0 {
			return dst, nil
		}
	}
}
