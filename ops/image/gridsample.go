package image

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

func gridSampleOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "GridSample", "GridSample: y[n, c, o...] = Σ_t w_t · x[n, c, i_t] at the input position the normalized grid[n, o..., :] (x first) points to, with nearest, (bi/tri)linear or cubic (A = -0.75) taps and zeros, border or reflection padding.",
			[]int{16, 20, 22}, inferGridSample, compileGridSample),
		ops.Versions("", "AffineGrid", "AffineGrid: grid[n, (d,) h, w, :] = theta[n] · (x_w, y_h, (z_d,) 1) with normalized coordinates in [-1, 1] (pixel centers unless align_corners).",
			[]int{20}, inferAffineGrid, compileAffineGrid),
	)
}

func inferGridSample(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("want 2 inputs")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	x, g := in[0], in[1]
	if x.HasShape && g.HasShape && len(x.Shape) == len(g.Shape) && len(x.Shape) >= 3 {
		t.HasShape = true
		t.Shape = append([]tensor.Dim{x.Shape[0], x.Shape[1]}, g.Shape[1:len(g.Shape)-1]...)
	}
	return []tensor.Type{t}, nil
}

// gridSampler holds GridSample's attributes.
type gridSampler struct {
	mode    string // nearest, linear, cubic
	padding string // zeros, border, reflection
	align   bool
}

func compileGridSample(n *ops.Node) (*ops.Kernel, error) {
	def := "linear"
	if n.Opset < 20 {
		def = "bilinear"
	}
	g := &gridSampler{
		mode:    n.String("mode", def),
		padding: n.String("padding_mode", "zeros"),
		align:   n.Int("align_corners", 0) != 0,
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	switch g.mode {
	case "bilinear":
		g.mode = "linear"
	case "bicubic":
		g.mode = "cubic"
	case "nearest", "linear", "cubic":
	default:
		return nil, fmt.Errorf("mode %q must be nearest, linear (bilinear) or cubic (bicubic)", g.mode)
	}
	switch g.padding {
	case "zeros", "border", "reflection":
	default:
		return nil, fmt.Errorf("padding_mode %q must be zeros, border or reflection", g.padding)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		y, err := g.run(c, in[0], in[1])
		return []*tensor.Tensor{y}, err
	}}, nil
}

func (g *gridSampler) run(c *ops.Ctx, x, grid *tensor.Tensor) (*tensor.Tensor, error) {
	if err := floatio.Check("X", x); err != nil {
		return nil, err
	}
	xs, gs := x.Shape(), grid.Shape()
	r := len(xs)
	if r < 3 {
		return nil, fmt.Errorf("X has shape %v, want (N, C, D1, ..., Dk) with k >= 1", xs)
	}
	k := r - 2
	if len(gs) != r || gs[0] != xs[0] || gs[r-1] != k {
		return nil, fmt.Errorf("grid has shape %v, want (%d, O1, ..., O%d, %d) for X of shape %v", gs, xs[0], k, k, xs)
	}
	outShape := append([]int{xs[0], xs[1]}, gs[1:r-1]...)
	if floatio.Wide(x.DType()) {
		return gridSampleF[float64](c, g, x, grid, outShape)
	}
	return gridSampleF[float32](c, g, x, grid, outShape)
}

// gsBlock is the number of output points whose taps are built at once.
const gsBlock = 512

func gridSampleF[F tensor.Float](c *ops.Ctx, g *gridSampler, x, grid *tensor.Tensor, outShape []int) (*tensor.Tensor, error) {
	o, err := floatio.New[F](c, x.DType(), outShape...)
	if err != nil {
		return nil, err
	}
	if o.T.Len() == 0 {
		return o.Done(), nil
	}
	xv, err := floatio.Load[F](x)
	if err != nil {
		return nil, err
	}
	gv, err := floats64(grid)
	if err != nil {
		return nil, fmt.Errorf("grid: %w", err)
	}
	xs := x.Shape()
	N, C, k := xs[0], xs[1], len(xs)-2
	dims := xs[2:]
	inPlane := 1
	for _, d := range dims {
		inPlane *= d
	}
	outPlane := 1
	for _, d := range outShape[2:] {
		outPlane *= d
	}
	if inPlane == 0 {
		if g.padding != "zeros" {
			return nil, fmt.Errorf("X has shape %v: an empty spatial dimension has no border to sample with padding_mode %s", xs, g.padding)
		}
		return o.Done(), nil // every sample reads zero padding
	}
	taps := map[string]int{"nearest": 1, "linear": 2, "cubic": 4}[g.mode]
	combos := 1
	for i := 0; i < k; i++ {
		combos *= taps
	}
	st := tensor.Strides(dims)
	blocks := (outPlane + gsBlock - 1) / gsBlock
	for n := 0; n < N; n++ {
		xn := xv[n*C*inPlane : (n+1)*C*inPlane]
		yn := o.Buf[n*C*outPlane : (n+1)*C*outPlane]
		gn := gv[n*outPlane*k : (n+1)*outPlane*k]
		err := parallel(c, blocks, 1, func(lo, hi int) error {
			offs := make([]int, gsBlock*combos)
			ws := make([]F, gsBlock*combos)
			t := make([]gsTaps, k)
			for i := range t {
				t[i] = gsTaps{idx: make([]int, taps), w: make([]float64, taps)}
			}
			for b := lo; b < hi; b++ {
				if err := c.Check(); err != nil {
					return err
				}
				p0, p1 := b*gsBlock, min((b+1)*gsBlock, outPlane)
				for p := p0; p < p1; p++ {
					pt := gn[p*k : (p+1)*k]
					for i := 0; i < k; i++ {
						g.taps(&t[i], pt[k-1-i], dims[i])
					}
					gsCombine(t, st, offs[(p-p0)*combos:(p-p0+1)*combos], ws[(p-p0)*combos:(p-p0+1)*combos])
				}
				np := p1 - p0
				for ch := 0; ch < C; ch++ {
					plane := xn[ch*inPlane : (ch+1)*inPlane]
					dst := yn[ch*outPlane+p0 : ch*outPlane+p1]
					if combos == 4 { // 2-D bilinear, unrolled
						for p := 0; p < np; p++ {
							of, w := offs[p*4:p*4+4:p*4+4], ws[p*4:p*4+4:p*4+4]
							dst[p] = w[0]*plane[of[0]] + w[1]*plane[of[1]] + w[2]*plane[of[2]] + w[3]*plane[of[3]]
						}
						continue
					}
					for p := 0; p < np; p++ {
						of, w := offs[p*combos:(p+1)*combos], ws[p*combos:(p+1)*combos]
						var acc F
						for q, i := range of {
							acc += w[q] * plane[i]
						}
						dst[p] = acc
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return o.Done(), nil
}

// gsTaps is one dimension's taps of one sample point.
type gsTaps struct {
	idx []int
	w   []float64 // 0 for taps that read zero padding
}

// gsCombine writes the tensor product of the per-dimension taps: flat
// offsets (strides st) and weights.
func gsCombine[F tensor.Float](t []gsTaps, st []int, offs []int, ws []F) {
	for q := range offs {
		off, w, r := 0, 1.0, q
		for i := len(t) - 1; i >= 0; i-- {
			n := len(t[i].idx)
			j := r % n
			r /= n
			off += t[i].idx[j] * st[i]
			w *= t[i].w[j]
		}
		offs[q], ws[q] = off, F(w)
	}
}

// reflect folds x into [lo, hi] by reflecting at the borders.
func reflect(x, lo, hi float64) float64 {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	if x < lo {
		dx := lo - x
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return lo + r
		}
		return hi - r
	}
	if x > hi {
		dx := x - hi
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

// pixel maps a tap index to an input index and reports whether it reads
// data (false: zero padding).
func (g *gridSampler) pixel(i, d int, lo, hi float64) (int, bool) {
	switch g.padding {
	case "zeros":
		return i, i >= 0 && i < d
	case "border":
		return min(max(i, 0), d-1), true
	}
	j := int(reflect(float64(i), lo, hi))
	return min(max(j, 0), d-1), true
}

// taps computes one dimension's taps for normalized coordinate v on an
// axis of length d.
func (g *gridSampler) taps(t *gsTaps, v float64, d int) {
	var x float64
	if g.align {
		x = (v + 1) / 2 * float64(d-1)
	} else {
		x = ((v+1)*float64(d) - 1) / 2
	}
	x = float64(float32(x))
	lo, hi := -0.5, float64(d)-0.5
	if g.align {
		lo, hi = 0, float64(d-1)
	}
	if math.IsNaN(x) {
		for i := range t.idx {
			t.idx[i], t.w[i] = 0, 0
		}
		return
	}
	if g.mode == "nearest" {
		// Round half to even (std::nearbyint, as ONNX Runtime and the node
		// tests do, for every rank).
		x = math.RoundToEven(x)
	}
	if x < lo || x > hi {
		switch g.padding {
		case "border":
			x = min(max(x, 0), float64(d-1))
		case "reflection":
			x = float64(float32(reflect(x, lo, hi)))
		}
	}
	// Far outside the zero-padded input every tap reads zero; clamping keeps
	// the integer conversion defined.
	x = min(max(x, -float64(d)-8), 2*float64(d)+8)
	switch g.mode {
	case "nearest":
		t.idx[0], t.w[0] = 0, 0
		if i, ok := g.pixel(int(x), d, lo, hi); ok {
			t.idx[0], t.w[0] = i, 1
		}
		return
	case "linear":
		x0 := math.Floor(x)
		f := x - x0
		t.w[0], t.w[1] = 1-f, f
	default:
		x0 := math.Floor(x)
		f := x - x0
		const a = -0.75
		t.w[0] = cubicKernel(f+1, a)
		t.w[1] = cubicKernel(f, a)
		t.w[2] = cubicKernel(1-f, a)
		t.w[3] = cubicKernel(2-f, a)
	}
	first := int(math.Floor(x))
	if g.mode == "cubic" {
		first--
	}
	for i := range t.idx {
		j, ok := g.pixel(first+i, d, lo, hi)
		if !ok {
			j, t.w[i] = 0, 0
		}
		t.idx[i] = j
	}
}

// AffineGrid -------------------------------------------------------------

func inferAffineGrid(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("want 2 inputs")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if s := in[1]; s.HasShape && len(s.Shape) == 1 && s.Shape[0].Known() && (s.Shape[0].Size == 4 || s.Shape[0].Size == 5) {
		k := int(s.Shape[0].Size) - 2
		t.HasShape = true
		t.Shape = make([]tensor.Dim, k+2)
		for i := range t.Shape {
			t.Shape[i] = tensor.Dim{Size: -1}
		}
		t.Shape[k+1] = tensor.Dim{Size: int64(k)}
		if in[0].HasShape && len(in[0].Shape) == 3 {
			t.Shape[0] = in[0].Shape[0]
		}
	}
	return []tensor.Type{t}, nil
}

func compileAffineGrid(n *ops.Node) (*ops.Kernel, error) {
	align := n.Int("align_corners", 0) != 0
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		y, err := affineGrid(c, in[0], in[1], align)
		return []*tensor.Tensor{y}, err
	}}, nil
}

// affineGrid: theta is (N, k, k+1), size is (N, C, [D,] H, W); the grid is
// (N, [D,] H, W, k).
func affineGrid(c *ops.Ctx, theta, size *tensor.Tensor, align bool) (*tensor.Tensor, error) {
	if err := floatio.Check("theta", theta); err != nil {
		return nil, err
	}
	sz, err := ops.Ints64(size)
	if err != nil {
		return nil, fmt.Errorf("size: %w", err)
	}
	if len(sz) != 4 && len(sz) != 5 {
		return nil, fmt.Errorf("size has %d values, want (N, C, H, W) or (N, C, D, H, W)", len(sz))
	}
	k := len(sz) - 2
	ts := theta.Shape()
	if len(ts) != 3 || ts[1] != k || ts[2] != k+1 || int64(ts[0]) != sz[0] {
		return nil, fmt.Errorf("theta has shape %v, want (%d, %d, %d) for size %v", ts, sz[0], k, k+1, sz)
	}
	shape := []int{ts[0]}
	for _, d := range sz[2:] {
		if d < 0 || d >= tensor.MaxElements {
			return nil, fmt.Errorf("size %v has an invalid spatial dimension %d", sz, d)
		}
		shape = append(shape, int(d))
	}
	shape = append(shape, k)
	th, err := floats64(theta)
	if err != nil {
		return nil, err
	}
	o, err := floatio.New[float64](c, theta.DType(), shape...)
	if err != nil {
		return nil, err
	}
	if o.T.Len() == 0 {
		return o.Done(), nil
	}
	// base[i][j] is the normalized coordinate of index j along spatial dim i.
	dims := shape[1 : k+1]
	base := make([][]float64, k)
	for i, d := range dims {
		base[i] = make([]float64, d)
		for j := range base[i] {
			switch {
			case d <= 1:
				base[i][j] = 0
			case align:
				base[i][j] = -1 + 2*float64(j)/float64(d-1)
			default:
				base[i][j] = (2*float64(j)+1)/float64(d) - 1
			}
		}
	}
	points := o.T.Len() / (ts[0] * k)
	hom := make([]float64, k+1) // (x, y, [z,] 1): x is the last spatial dim
	ctr := make([]int, k)
	q := 0
	for n := 0; n < ts[0]; n++ {
		m := th[n*k*(k+1) : (n+1)*k*(k+1)]
		clear(ctr)
		for p := 0; p < points; p++ {
			for i := 0; i < k; i++ {
				hom[i] = base[k-1-i][ctr[k-1-i]]
			}
			hom[k] = 1
			for r := 0; r < k; r++ {
				s := 0.0
				for j, h := range hom {
					s += m[r*(k+1)+j] * h
				}
				o.Buf[q] = s
				q++
			}
			for i := k - 1; i >= 0; i-- {
				if ctr[i]++; ctr[i] < dims[i] {
					break
				}
				ctr[i] = 0
			}
		}
	}
	return o.Done(), nil
}
