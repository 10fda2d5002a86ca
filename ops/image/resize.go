package image

import (
	"fmt"
	"math"
	"sort"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

func resizeOps() []*ops.Op {
	return ops.Join(
		// Resize: y[o] = Σ_t w_t(x_orig(o)) · x[i_t(x_orig(o))] per resized axis,
		// with x_orig from coordinate_transformation_mode and the weights of the
		// nearest, linear or cubic filter (stretched by 1/scale when antialias
		// and downscaling); output size floor(in·scale) or sizes.
		ops.Versions("", "Resize", "Resize: y[o] = Σ_t w_t · x[i_t] per resized axis, with source coordinate x_orig(o) from coordinate_transformation_mode and nearest/linear/cubic weights (antialiased when downscaling with antialias=1); output size floor(in·scale) or sizes.",
			[]int{10, 11, 13, 18, 19}, inferSameRank, compileResize),
		// Upsample (deprecated): Resize with asymmetric coordinates, x_orig = o/scale.
		ops.Versions("", "Upsample", "Upsample: y = Resize(x, scales) with asymmetric coordinates x_orig = o/scale, nearest (floor) or linear.",
			[]int{7, 9, 10}, inferUpsample, compileUpsample),
	)
}

// resizer holds a Resize node's attributes.
type resizer struct {
	mode      string // nearest, linear, cubic
	coord     string // coordinate_transformation_mode
	nearest   string // nearest_mode, or "simple" for Upsample and Resize-10
	cubicA    float64
	exclude   bool
	extrap    float64
	antialias bool
	axes      []int64 // nil: every axis
	policy    string  // keep_aspect_ratio_policy
}

func compileResize(n *ops.Node) (*ops.Kernel, error) {
	r := &resizer{
		mode:      n.String("mode", "nearest"),
		coord:     n.String("coordinate_transformation_mode", "half_pixel"),
		nearest:   n.String("nearest_mode", "round_prefer_floor"),
		cubicA:    float64(n.Float("cubic_coeff_a", -0.75)),
		exclude:   n.Int("exclude_outside", 0) != 0,
		extrap:    float64(n.Float("extrapolation_value", 0)),
		antialias: n.Int("antialias", 0) != 0,
		axes:      append([]int64(nil), n.Ints("axes", nil)...),
		policy:    n.String("keep_aspect_ratio_policy", "stretch"),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if n.Opset < 11 {
		r.coord, r.nearest = "asymmetric", "simple"
	}
	if len(r.axes) == 0 {
		r.axes = nil
	}
	if err := r.validate(n.Opset); err != nil {
		return nil, err
	}
	opset := n.Opset // kernels must not retain n
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if opset < 11 {
			if err := ops.Want(in, 2, 2); err != nil {
				return nil, err
			}
			y, err := r.runInputs(c, in[0], nil, in[1], nil)
			return []*tensor.Tensor{y}, err
		}
		if err := ops.Want(in, 1, 4); err != nil {
			return nil, err
		}
		get := func(i int) *tensor.Tensor {
			if i < len(in) && in[i] != nil && in[i].Len() > 0 {
				return in[i]
			}
			return nil
		}
		y, err := r.runInputs(c, in[0], get(1), get(2), get(3))
		return []*tensor.Tensor{y}, err
	}}, nil
}

func (r *resizer) validate(opset int) error {
	switch r.mode {
	case "nearest", "linear":
	case "cubic":
		if opset < 11 {
			return fmt.Errorf("mode cubic needs opset 11")
		}
	default:
		return fmt.Errorf("mode %q must be nearest, linear or cubic", r.mode)
	}
	switch r.coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize":
	case "tf_half_pixel_for_nn":
		if opset >= 13 {
			return fmt.Errorf("coordinate_transformation_mode tf_half_pixel_for_nn was removed in opset 13")
		}
	case "half_pixel_symmetric":
		if opset < 19 {
			return fmt.Errorf("coordinate_transformation_mode half_pixel_symmetric needs opset 19")
		}
	default:
		return fmt.Errorf("coordinate_transformation_mode %q is not one of half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize", r.coord)
	}
	switch r.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple":
	default:
		return fmt.Errorf("nearest_mode %q must be round_prefer_floor, round_prefer_ceil, floor or ceil", r.nearest)
	}
	switch r.policy {
	case "stretch", "not_larger", "not_smaller":
	default:
		return fmt.Errorf("keep_aspect_ratio_policy %q must be stretch, not_larger or not_smaller", r.policy)
	}
	return nil
}

// runInputs reads roi, scales and sizes (nil when absent) and resizes x.
func (r *resizer) runInputs(c *ops.Ctx, x, roiT, scalesT, sizesT *tensor.Tensor) (*tensor.Tensor, error) {
	var roi, scales []float64
	var sizes []int64
	var err error
	if roiT != nil && r.coord == "tf_crop_and_resize" {
		if roi, err = floats64(roiT); err != nil {
			return nil, fmt.Errorf("roi: %w", err)
		}
	}
	if scalesT != nil {
		if scales, err = floats64(scalesT); err != nil {
			return nil, fmt.Errorf("scales: %w", err)
		}
	}
	if sizesT != nil {
		if sizes, err = ops.Ints64(sizesT); err != nil {
			return nil, fmt.Errorf("sizes: %w", err)
		}
	}
	return r.resize(c, x, roi, scales, sizes)
}

// plan is the per-axis geometry of one resize.
type plan struct {
	scale []float64 // per axis
	outF  []float64 // the float output length (in·scale, or the exact size)
	out   []int
	roi0  []float64
	roi1  []float64
}

func (r *resizer) plan(shape []int, roi, scales []float64, sizes []int64) (*plan, error) {
	rank := len(shape)
	axes := make([]int, 0, rank)
	if r.axes == nil {
		for i := 0; i < rank; i++ {
			axes = append(axes, i)
		}
	} else {
		seen := make([]bool, rank)
		for _, a := range r.axes {
			k, err := ops.NormAxis(a, rank)
			if err != nil {
				return nil, fmt.Errorf("axes: %w", err)
			}
			if seen[k] {
				return nil, fmt.Errorf("axes: axis %d listed twice", a)
			}
			seen[k] = true
			axes = append(axes, k)
		}
	}
	p := &plan{scale: make([]float64, rank), outF: make([]float64, rank), out: make([]int, rank),
		roi0: make([]float64, rank), roi1: make([]float64, rank)}
	for k, d := range shape {
		p.scale[k], p.out[k], p.outF[k], p.roi1[k] = 1, d, float64(d), 1
	}
	switch {
	case scales != nil && sizes != nil:
		return nil, fmt.Errorf("both scales and sizes are given; pass only one")
	case scales == nil && sizes == nil:
		return nil, fmt.Errorf("neither scales nor sizes is given; pass one")
	case scales != nil:
		if len(scales) != len(axes) {
			return nil, fmt.Errorf("scales has %d values for %d axes", len(scales), len(axes))
		}
		for i, k := range axes {
			s := scales[i]
			if !(s > 0) || math.IsInf(s, 0) {
				return nil, fmt.Errorf("scales[%d] is %v, want a positive finite value", i, s)
			}
			o := s * float64(shape[k])
			if o >= tensor.MaxElements {
				return nil, fmt.Errorf("%w: axis %d of size %d scaled by %v is too large", ops.ErrLimit, k, shape[k], s)
			}
			p.scale[k], p.outF[k], p.out[k] = s, o, int(math.Floor(o))
		}
	default:
		if len(sizes) != len(axes) {
			return nil, fmt.Errorf("sizes has %d values for %d axes", len(sizes), len(axes))
		}
		for i, k := range axes {
			if sizes[i] < 0 || sizes[i] >= tensor.MaxElements {
				return nil, fmt.Errorf("sizes[%d] is %d, want a size in [0, 2^40)", i, sizes[i])
			}
			if shape[k] == 0 {
				if sizes[i] != 0 {
					return nil, fmt.Errorf("axis %d is empty and cannot be resized to %d", k, sizes[i])
				}
				continue
			}
			p.out[k] = int(sizes[i])
			p.outF[k] = float64(sizes[i])
			p.scale[k] = float64(sizes[i]) / float64(shape[k])
		}
		if r.policy != "stretch" {
			s := math.Inf(1)
			if r.policy == "not_smaller" {
				s = math.Inf(-1)
			}
			for _, k := range axes {
				if shape[k] == 0 {
					continue
				}
				if r.policy == "not_larger" {
					s = min(s, p.scale[k])
				} else {
					s = max(s, p.scale[k])
				}
			}
			for _, k := range axes {
				if shape[k] == 0 {
					continue
				}
				p.scale[k] = s
				p.outF[k] = s * float64(shape[k])
				p.out[k] = int(p.outF[k] + 0.5)
			}
		}
		for _, k := range axes {
			if p.out[k] > 0 && !(p.scale[k] > 0) {
				return nil, fmt.Errorf("axis %d: cannot compute a scale from size %d", k, p.out[k])
			}
		}
	}
	if r.coord == "tf_crop_and_resize" && roi != nil {
		if len(roi) != 2*len(axes) {
			return nil, fmt.Errorf("roi has %d values, want 2 per resized axis (%d)", len(roi), 2*len(axes))
		}
		for i, k := range axes {
			p.roi0[k], p.roi1[k] = roi[i], roi[len(axes)+i]
		}
	}
	return p, nil
}

// axisMap is one axis's resampling table: output position j reads
// idx[j*taps : (j+1)*taps] with weights w (nearest: one tap of weight 1).
type axisMap struct {
	axis, in, out, taps int
	idx                 []int
	w                   []float64
	outside             []bool // extrapolated positions (tf_crop_and_resize); nil if none
	identity            bool
}

// origin maps output coordinate j of an axis to the input coordinate.
func (r *resizer) origin(j, in, out int, scale, outF, r0, r1 float64) float64 {
	x := float64(j)
	switch r.coord {
	case "half_pixel":
		return (x+0.5)/scale - 0.5
	case "half_pixel_symmetric":
		adj := float64(out) / outF
		center := float64(in) / 2
		return center*(1-adj) + (x+0.5)/scale - 0.5
	case "pytorch_half_pixel":
		if out <= 1 {
			return 0
		}
		return (x+0.5)/scale - 0.5
	case "align_corners":
		if outF == 1 {
			return 0
		}
		return x * float64(in-1) / (outF - 1)
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale
	case "tf_crop_and_resize":
		var v float64
		if outF == 1 {
			v = (r1 - r0) * float64(in-1) / 2
		} else {
			v = x * (r1 - r0) * float64(in-1) / (outF - 1)
		}
		return v + r0*float64(in-1)
	}
	return x / scale // asymmetric
}

// cubicKernel is Keys' cubic convolution kernel with parameter a.
func cubicKernel(x, a float64) float64 {
	x = math.Abs(x)
	switch {
	case x <= 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return ((a*x-5*a)*x+8*a)*x - 4*a
	}
	return 0
}

// axisMap builds the table of axis k.
func (r *resizer) axisMap(c *ops.Ctx, p *plan, k, in int) (*axisMap, error) {
	out, scale := p.out[k], p.scale[k]
	m := &axisMap{axis: k, in: in, out: out, taps: 1}
	start := 0
	if r.mode != "nearest" {
		s := 1.0
		if r.antialias && scale < 1 {
			s = scale
		}
		support := 1.0
		if r.mode == "cubic" {
			support = 2
		}
		f := math.Floor(-support/s) + 1
		if f < -float64(in)-4 {
			f = -float64(in) - 4 // taps beyond the axis all clamp to its edges
		}
		start = int(f)
		m.taps = 2 - 2*start
	}
	if err := checkElems(c, float64(out)*float64(m.taps), "the resize table"); err != nil {
		return nil, err
	}
	m.idx = make([]int, out*m.taps)
	m.w = make([]float64, out*m.taps)
	crop := r.coord == "tf_crop_and_resize"
	lim := float64(in + m.taps + 2)
	identity := out == in
	for j := 0; j < out; j++ {
		xo := r.origin(j, in, out, scale, p.outF[k], p.roi0[k], p.roi1[k])
		idx, w := m.idx[j*m.taps:(j+1)*m.taps], m.w[j*m.taps:(j+1)*m.taps]
		if crop && (xo < 0 || xo > float64(in-1) || math.IsNaN(xo)) {
			if m.outside == nil {
				m.outside = make([]bool, out)
			}
			m.outside[j] = true
			identity = false
			continue
		}
		if math.IsNaN(xo) {
			return nil, fmt.Errorf("axis %d: source coordinate of output %d is NaN", k, j)
		}
		xo = max(-lim, min(lim, xo))
		fl := math.Floor(xo)
		ratio, i0 := xo-fl, int(fl)
		if ratio == 0 {
			ratio, i0 = 1, i0-1 // the reference keeps ratio in (0, 1]
		}
		if r.mode == "nearest" {
			pick := i0 + 1
			if ratio != 1 {
				switch r.nearest {
				case "round_prefer_floor":
					if ratio <= 0.5 {
						pick = i0
					}
				case "round_prefer_ceil":
					if ratio < 0.5 {
						pick = i0
					}
				case "floor":
					pick = i0
				case "simple":
					if scale >= 1 {
						pick = i0
					}
				}
			}
			idx[0], w[0] = min(max(pick, 0), in-1), 1
			identity = identity && idx[0] == j
			continue
		}
		s := 1.0
		if r.antialias && scale < 1 {
			s = scale
		}
		sum := 0.0
		for t := range idx {
			pos := i0 + start + t
			d := float64(start+t) - ratio
			var v float64
			if r.mode == "linear" {
				v = max(0, 1-math.Abs(d*s))
			} else {
				v = cubicKernel(d*s, r.cubicA)
			}
			if r.exclude && (pos < 0 || pos >= in) {
				v = 0
			}
			idx[t], w[t] = min(max(pos, 0), in-1), v
			sum += v
		}
		if (r.antialias || r.exclude) && sum != 0 {
			for t := range w {
				w[t] /= sum
			}
		}
		if identity {
			for t := range w {
				if (w[t] != 0 && w[t] != 1) || (w[t] == 1 && idx[t] != j) {
					identity = false
				}
			}
		}
	}
	m.identity = identity
	return m, nil
}

// resize resizes x; roi, scales and sizes are nil when absent.
func (r *resizer) resize(c *ops.Ctx, x *tensor.Tensor, roi, scales []float64, sizes []int64) (*tensor.Tensor, error) {
	shape := x.Shape()
	p, err := r.plan(shape, roi, scales, sizes)
	if err != nil {
		return nil, err
	}
	y, err := c.New(x.DType(), p.out...)
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return y, nil
	}
	var maps []*axisMap
	for k, d := range shape {
		m, err := r.axisMap(c, p, k, d)
		if err != nil {
			return nil, err
		}
		if !m.identity {
			maps = append(maps, m)
		}
	}
	if r.mode == "nearest" {
		return y, gatherNearest(c, x, y, maps, r.extrap)
	}
	// Downsampled axes first keeps every intermediate within max(|x|, |y|).
	sort.SliceStable(maps, func(a, b int) bool {
		return float64(maps[a].out)/float64(maps[a].in) < float64(maps[b].out)/float64(maps[b].in)
	})
	switch x.DType() {
	case tensor.Float64:
		return y, resampleInto(c, tensor.Data[float64](x), tensor.Data[float64](y), shape, maps, r.extrap)
	case tensor.Float32:
		return y, resampleInto(c, tensor.Data[float32](x), tensor.Data[float32](y), shape, maps, r.extrap)
	case tensor.Float16, tensor.BFloat16:
		xs, err := floatio.Load[float32](x)
		if err != nil {
			return nil, err
		}
		o, err := floatio.New[float32](c, x.DType(), p.out...)
		if err != nil {
			return nil, err
		}
		if err := resampleInto(c, xs, o.Buf, shape, maps, r.extrap); err != nil {
			return nil, err
		}
		return o.Done(), nil
	}
	return y, resampleInt(c, x, y, shape, maps, r.extrap)
}

// resampleInto applies the axis tables one after another, src (shape) to dst.
func resampleInto[F tensor.Float](c *ops.Ctx, src, dst []F, shape []int, maps []*axisMap, extrap float64) error {
	cur := append([]int(nil), shape...)
	if len(maps) == 0 {
		copy(dst, src)
		return nil
	}
	buf := src
	for i, m := range maps {
		outer, inner := 1, 1
		for k := 0; k < m.axis; k++ {
			outer *= cur[k]
		}
		for k := m.axis + 1; k < len(cur); k++ {
			inner *= cur[k]
		}
		var next []F
		if i == len(maps)-1 {
			next = dst
		} else {
			next = make([]F, outer*m.out*inner)
		}
		if err := resamplePass(c, buf, next, outer, m.in, inner, m); err != nil {
			return err
		}
		buf, cur[m.axis] = next, m.out
	}
	for _, m := range maps {
		if m.outside != nil {
			fillOutside(dst, cur, m, F(extrap))
		}
	}
	return nil
}

// resamplePass resamples one axis: src is (outer, in, inner), dst is (outer, out, inner).
func resamplePass[F tensor.Float](c *ops.Ctx, src, dst []F, outer, in, inner int, m *axisMap) error {
	n, out := m.taps, m.out
	w := make([]F, len(m.w))
	for i, v := range m.w {
		w[i] = F(v)
	}
	rows := outer * out
	return parallel(c, rows, max(1, 1<<14/max(inner*n, 1)), func(lo, hi int) error {
		o, j := lo/out, lo%out
		for q := lo; q < hi; q++ {
			if (q-lo)&1023 == 1023 {
				if err := c.Check(); err != nil {
					return err
				}
			}
			s := src[o*in*inner : (o+1)*in*inner]
			d := dst[q*inner : (q+1)*inner]
			ix, ww := m.idx[j*n:(j+1)*n], w[j*n:(j+1)*n]
			if inner == 1 {
				var acc F
				for t, i := range ix {
					acc += ww[t] * s[i]
				}
				d[0] = acc
			} else {
				r, w0 := s[ix[0]*inner:(ix[0]+1)*inner], ww[0]
				for k := range d {
					d[k] = w0 * r[k]
				}
				for t := 1; t < n; t++ {
					wt := ww[t]
					if wt == 0 {
						continue
					}
					r = s[ix[t]*inner : (ix[t]+1)*inner]
					for k := range d {
						d[k] += wt * r[k]
					}
				}
			}
			if j++; j == out {
				j, o = 0, o+1
			}
		}
		return nil
	})
}

// fillOutside writes v at every position whose index along m.axis is
// outside the crop box; y has shape.
func fillOutside[T any](y []T, shape []int, m *axisMap, v T) {
	outer, inner := 1, 1
	for k := 0; k < m.axis; k++ {
		outer *= shape[k]
	}
	for k := m.axis + 1; k < len(shape); k++ {
		inner *= shape[k]
	}
	for o := 0; o < outer; o++ {
		for j, out := range m.outside {
			if out {
				row := y[(o*m.out+j)*inner : (o*m.out+j+1)*inner]
				for k := range row {
					row[k] = v
				}
			}
		}
	}
}

// resampleInt runs linear/cubic resampling of an integer tensor in float32
// and rounds the result to the nearest value, saturating to the dtype.
func resampleInt(c *ops.Ctx, x, y *tensor.Tensor, shape []int, maps []*axisMap, extrap float64) error {
	switch s := x.Raw().(type) {
	case []int8:
		return resampleIntT(c, s, y.Raw().([]int8), shape, maps, extrap, -128, 127)
	case []int16:
		return resampleIntT(c, s, y.Raw().([]int16), shape, maps, extrap, math.MinInt16, math.MaxInt16)
	case []int32:
		return resampleIntT(c, s, y.Raw().([]int32), shape, maps, extrap, math.MinInt32, math.MaxInt32)
	case []int64:
		return resampleIntT(c, s, y.Raw().([]int64), shape, maps, extrap, math.MinInt64, math.MaxInt64)
	case []uint8:
		return resampleIntT(c, s, y.Raw().([]uint8), shape, maps, extrap, 0, math.MaxUint8)
	case []uint16:
		return resampleIntT(c, s, y.Raw().([]uint16), shape, maps, extrap, 0, math.MaxUint16)
	case []uint32:
		return resampleIntT(c, s, y.Raw().([]uint32), shape, maps, extrap, 0, math.MaxUint32)
	case []uint64:
		return resampleIntT(c, s, y.Raw().([]uint64), shape, maps, extrap, 0, math.MaxUint64)
	}
	return fmt.Errorf("resize of %v tensors is not supported; cast to float32", x.DType())
}

func resampleIntT[T tensor.Integer](c *ops.Ctx, src, dst []T, shape []int, maps []*axisMap, extrap, lo, hi float64) error {
	xs := make([]float64, len(src))
	for i, v := range src {
		xs[i] = float64(v)
	}
	ys := make([]float64, len(dst))
	if err := resampleInto(c, xs, ys, shape, maps, extrap); err != nil {
		return err
	}
	for i, v := range ys {
		v = math.Round(v)
		switch {
		case v <= lo || math.IsNaN(v):
			dst[i] = T(lo)
		case v >= hi:
			dst[i] = T(hi)
		default:
			dst[i] = T(v)
		}
	}
	return nil
}

// gatherNearest copies, for every output position, the input element its
// per-axis nearest indices select (extrap where a crop box is left).
func gatherNearest(c *ops.Ctx, x, y *tensor.Tensor, maps []*axisMap, extrap float64) error {
	switch s := x.Raw().(type) {
	case []float32:
		return gatherT(c, s, tensor.Data[float32](y), x.Shape(), y.Shape(), maps, float32(extrap))
	case []float64:
		return gatherT(c, s, tensor.Data[float64](y), x.Shape(), y.Shape(), maps, extrap)
	case []tensor.Float16Bits:
		return gatherT(c, s, tensor.Data[tensor.Float16Bits](y), x.Shape(), y.Shape(), maps, tensor.Float16FromFloat32(float32(extrap)))
	case []tensor.BFloat16Bits:
		return gatherT(c, s, tensor.Data[tensor.BFloat16Bits](y), x.Shape(), y.Shape(), maps, tensor.BFloat16FromFloat32(float32(extrap)))
	case []int8:
		return gatherT(c, s, tensor.Data[int8](y), x.Shape(), y.Shape(), maps, int8(extrap))
	case []int16:
		return gatherT(c, s, tensor.Data[int16](y), x.Shape(), y.Shape(), maps, int16(extrap))
	case []int32:
		return gatherT(c, s, tensor.Data[int32](y), x.Shape(), y.Shape(), maps, int32(extrap))
	case []int64:
		return gatherT(c, s, tensor.Data[int64](y), x.Shape(), y.Shape(), maps, int64(extrap))
	case []uint8:
		return gatherT(c, s, tensor.Data[uint8](y), x.Shape(), y.Shape(), maps, uint8(extrap))
	case []uint16:
		return gatherT(c, s, tensor.Data[uint16](y), x.Shape(), y.Shape(), maps, uint16(extrap))
	case []uint32:
		return gatherT(c, s, tensor.Data[uint32](y), x.Shape(), y.Shape(), maps, uint32(extrap))
	case []uint64:
		return gatherT(c, s, tensor.Data[uint64](y), x.Shape(), y.Shape(), maps, uint64(extrap))
	case []bool:
		return gatherT(c, s, tensor.Data[bool](y), x.Shape(), y.Shape(), maps, extrap != 0)
	}
	return fmt.Errorf("resize of %v tensors is not supported", x.DType())
}

func gatherT[T any](c *ops.Ctx, src, dst []T, inShape, outShape []int, maps []*axisMap, fill T) error {
	r := len(outShape)
	if r == 0 {
		dst[0] = src[0]
		return nil
	}
	// src[k][j] is the input index of output position j on axis k.
	srcIdx := make([][]int, r)
	for k := range srcIdx {
		srcIdx[k] = make([]int, outShape[k])
		for j := range srcIdx[k] {
			srcIdx[k][j] = j
		}
	}
	for _, m := range maps {
		copy(srcIdx[m.axis], m.idx)
	}
	st := tensor.Strides(inShape)
	last := r - 1
	cols := outShape[last]
	rows := len(dst) / cols
	err := parallel(c, rows, max(1, 1<<14/cols), func(lo, hi int) error {
		ctr := make([]int, last)
		for k, q := last-1, lo; k >= 0; k-- {
			ctr[k] = q % outShape[k]
			q /= outShape[k]
		}
		li := srcIdx[last]
		for q := lo; q < hi; q++ {
			if (q-lo)&1023 == 1023 {
				if err := c.Check(); err != nil {
					return err
				}
			}
			base := 0
			for k := 0; k < last; k++ {
				base += srcIdx[k][ctr[k]] * st[k]
			}
			row := dst[q*cols : (q+1)*cols]
			for j := range row {
				row[j] = src[base+li[j]]
			}
			for k := last - 1; k >= 0; k-- {
				if ctr[k]++; ctr[k] < outShape[k] {
					break
				}
				ctr[k] = 0
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range maps {
		if m.outside != nil {
			fillOutside(dst, outShape, m, fill)
		}
	}
	return nil
}

// Upsample ----------------------------------------------------------------

func inferUpsample(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	out, err := inferSameRank(n, in)
	if err != nil || n.Opset >= 9 || !in[0].HasShape {
		return out, err
	}
	scales := n.Floats("scales", nil)
	if len(scales) != len(in[0].Shape) {
		return out, nil
	}
	for k, d := range in[0].Shape {
		if d.Known() {
			out[0].Shape[k] = tensor.Dim{Size: int64(math.Floor(float64(d.Size) * float64(scales[k])))}
		}
	}
	return out, nil
}

func compileUpsample(n *ops.Node) (*ops.Kernel, error) {
	mode := n.String("mode", "nearest")
	var attrScales []float64
	if n.Opset < 9 {
		s := n.Floats("scales", nil)
		if s == nil {
			return nil, fmt.Errorf("upsample needs the scales attribute before opset 9")
		}
		for _, v := range s {
			attrScales = append(attrScales, float64(v))
		}
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	if mode == "bilinear" {
		mode = "linear"
	}
	if mode != "nearest" && mode != "linear" {
		return nil, fmt.Errorf("mode %q must be nearest or linear", mode)
	}
	r := &resizer{mode: mode, coord: "asymmetric", nearest: "simple", cubicA: -0.75, policy: "stretch"}
	opset := n.Opset // kernels must not retain n
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if opset < 9 {
			if err := ops.Want(in, 1, 1); err != nil {
				return nil, err
			}
			y, err := r.resize(c, in[0], nil, attrScales, nil)
			return []*tensor.Tensor{y}, err
		}
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		y, err := r.runInputs(c, in[0], nil, in[1], nil)
		return []*tensor.Tensor{y}, err
	}}, nil
}
