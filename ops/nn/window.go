package nn

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// windowAttrs are the sliding-window attributes Conv and the pools share.
type windowAttrs struct {
	autoPad   string
	kernel    []int // nil: taken from W (Conv)
	strides   []int
	dilations []int
	pads      []int // begin values then end values
	ceil      bool
}

func readWindow(n *ops.Node) (windowAttrs, error) {
	w := windowAttrs{
		autoPad:   n.String("auto_pad", "NOTSET"),
		strides:   toInts(n.Ints("strides", nil)),
		dilations: toInts(n.Ints("dilations", nil)),
		pads:      toInts(n.Ints("pads", nil)),
		ceil:      n.Int("ceil_mode", 0) != 0,
	}
	if n.Has("kernel_shape") {
		w.kernel = toInts(n.Ints("kernel_shape", nil))
	}
	if err := n.Err(); err != nil {
		return w, err
	}
	switch w.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	case "":
		w.autoPad = "NOTSET"
	default:
		return w, fmt.Errorf("auto_pad %q is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER", w.autoPad)
	}
	for _, v := range w.kernel {
		if v < 1 {
			return w, fmt.Errorf("kernel_shape %v must be positive", w.kernel)
		}
	}
	for _, v := range w.strides {
		if v < 1 {
			return w, fmt.Errorf("strides %v must be positive", w.strides)
		}
	}
	for _, v := range w.dilations {
		if v < 1 {
			return w, fmt.Errorf("dilations %v must be positive", w.dilations)
		}
	}
	for _, v := range w.pads {
		if v < 0 {
			return w, fmt.Errorf("pads %v must be non-negative", w.pads)
		}
	}
	return w, nil
}

// geometry is a resolved window: image coordinate = pos*stride - padBegin +
// k*dilation for window position pos and kernel offset k, per spatial axis.
type geometry struct {
	img       []int // image spatial shape
	pos       []int // window-position spatial shape (the output of Conv/pools)
	kernel    []int
	strides   []int
	dilations []int
	padBegin  []int
	padEnd    []int
}

// fillDefaults checks attribute lengths against nd spatial axes and
// returns strides, dilations and pads with their defaults.
func (w windowAttrs) fillDefaults(nd int, kernel []int) (strides, dilations, pads []int, err error) {
	if len(kernel) != nd {
		return nil, nil, nil, fmt.Errorf("kernel_shape %v has %d values, want %d (one per spatial axis)", kernel, len(kernel), nd)
	}
	ones := func(name string, v []int) ([]int, error) {
		if len(v) == 0 {
			v = make([]int, nd)
			for i := range v {
				v[i] = 1
			}
			return v, nil
		}
		if len(v) != nd {
			return nil, fmt.Errorf("%s %v has %d values, want %d (one per spatial axis)", name, v, len(v), nd)
		}
		return v, nil
	}
	if strides, err = ones("strides", w.strides); err != nil {
		return
	}
	if dilations, err = ones("dilations", w.dilations); err != nil {
		return
	}
	pads = w.pads
	if len(pads) == 0 {
		pads = make([]int, 2*nd)
	}
	if len(pads) != 2*nd {
		return nil, nil, nil, fmt.Errorf("pads %v has %d values, want %d (begin and end per spatial axis)", pads, len(pads), 2*nd)
	}
	return strides, dilations, pads, nil
}

// resolve computes the output positions and padding of a window of the
// given kernel over an image of spatial shape img (Conv and pool rules,
// including auto_pad and ceil_mode).
func (w windowAttrs) resolve(img, kernel []int) (*geometry, error) {
	nd := len(img)
	strides, dilations, pads, err := w.fillDefaults(nd, kernel)
	if err != nil {
		return nil, err
	}
	g := &geometry{img: img, kernel: kernel, strides: strides, dilations: dilations,
		pos: make([]int, nd), padBegin: make([]int, nd), padEnd: make([]int, nd)}
	for i := range nd {
		in, s := img[i], strides[i]
		dk := (kernel[i]-1)*dilations[i] + 1
		pb, pe := pads[i], pads[i+nd]
		switch w.autoPad {
		case "VALID":
			pb, pe = 0, 0
		case "SAME_UPPER", "SAME_LOWER":
			out := (in + s - 1) / s
			total := max(0, (out-1)*s+dk-in)
			pb = total / 2
			if w.autoPad == "SAME_LOWER" {
				pb = total - total/2
			}
			pe = total - pb
		}
		span := in + pb + pe - dk
		if span < 0 {
			return nil, fmt.Errorf("kernel extent %d (kernel %d, dilation %d) is larger than the padded input %d along spatial axis %d", dk, kernel[i], dilations[i], in+pb+pe, i)
		}
		out := span/s + 1
		if w.ceil && w.autoPad != "SAME_UPPER" && w.autoPad != "SAME_LOWER" {
			out = (span+s-1)/s + 1
			// The last window must start inside the input or the begin padding.
			if (out-1)*s >= in+pb {
				out--
			}
		}
		g.pos[i], g.padBegin[i], g.padEnd[i] = out, pb, pe
	}
	return g, nil
}

// imcol moves values between an image (channels, img...) and a column
// matrix (channels*prod(kernel), prod(pos)) restricted to the window
// positions [p0, p1), the column rows having stride ld. gather (im2col)
// writes col from the image with zeros where the window leaves it; scatter
// (col2im) adds col into the image, dropping values that fall outside.
// Channels are split over up to threads goroutines (each channel's rows
// touch only that channel of the image, so scatters do not race).
func imcol[T tensor.Number](threads int, g *geometry, channels int, image, col []T, ld, p0, p1 int, scatter bool) {
	if channels*prod(g.kernel)*(p1-p0) < 1<<16 {
		threads = 1
	}
	parallelFor(threads, channels, func(c0, c1 int) {
		imcolChannels(g, c0, c1, image, col, ld, p0, p1, scatter)
	})
}

func imcolChannels[T tensor.Number](g *geometry, c0, c1 int, image, col []T, ld, p0, p1 int, scatter bool) {
	nd := len(g.img)
	kSize := prod(g.kernel)
	imgSize := prod(g.img)
	imgStr := tensor.Strides(g.img)
	var kc, o, posStr [8]int // spatial rank is small; larger ranks use the slices below
	kcoord, ocoord, pstr := kc[:0], o[:0], posStr[:0]
	if nd > len(kc) {
		kcoord, ocoord, pstr = make([]int, 0, nd), make([]int, 0, nd), make([]int, 0, nd)
	}
	kcoord, ocoord = kcoord[:nd], ocoord[:nd]
	pstr = append(pstr, tensor.Strides(g.pos)...)
	last := nd - 1
	sl, dl, pbl, inl, outl := g.strides[last], g.dilations[last], g.padBegin[last], g.img[last], g.pos[last]
	width := p1 - p0
	for r := c0 * kSize; r < c1*kSize; r++ {
		ch, kk := r/kSize, r%kSize
		for i := last; i >= 0; i-- {
			kcoord[i] = kk % g.kernel[i]
			kk /= g.kernel[i]
		}
		rem := p0
		for i := range nd {
			ocoord[i] = rem / pstr[i]
			rem %= pstr[i]
		}
		dst := col[r*ld : r*ld+width]
		img := image[ch*imgSize : (ch+1)*imgSize]
		koff := kcoord[last]*dl - pbl
		for i := 0; i < width; {
			base, valid := 0, true
			for d := range last {
				x := ocoord[d]*g.strides[d] - g.padBegin[d] + kcoord[d]*g.dilations[d]
				if x < 0 || x >= g.img[d] {
					valid = false
					break
				}
				base += x * imgStr[d]
			}
			cnt := min(outl-ocoord[last], width-i)
			seg := dst[i : i+cnt]
			switch {
			case !valid:
				if !scatter {
					clear(seg)
				}
			default:
				// Positions j whose image coordinate x = (o+j)*sl + koff is in [0, inl).
				o0 := ocoord[last]
				lo, hi := 0, cnt
				for lo < cnt && (o0+lo)*sl+koff < 0 {
					lo++
				}
				for hi > lo && (o0+hi-1)*sl+koff >= inl {
					hi--
				}
				row := img[base:]
				if scatter {
					for j := lo; j < hi; j++ {
						row[(o0+j)*sl+koff] += seg[j]
					}
				} else {
					clear(seg[:lo])
					for j := lo; j < hi; j++ {
						seg[j] = row[(o0+j)*sl+koff]
					}
					clear(seg[hi:])
				}
			}
			i += cnt
			ocoord[last] += cnt
			for d := last; d > 0 && ocoord[d] == g.pos[d]; d-- {
				ocoord[d] = 0
				ocoord[d-1]++
			}
		}
	}
}

// spatialOf returns the spatial dims of an (N, C, spatial...) shape, or an
// error naming the input when the rank is below 3.
func spatialOf(name string, shape []int) ([]int, error) {
	if len(shape) < 3 {
		return nil, fmt.Errorf("%s must be (N, C, spatial...) with at least one spatial axis, got %v", name, shape)
	}
	return shape[2:], nil
}

// inferWindowShape gives the (N, C', pos...) output type of a window op
// when X's rank is known; the spatial sizes need X's spatial dims and the
// kernel. channels is C' (nil keeps X's C). N carries over, symbolic or not.
func inferWindowShape(w windowAttrs, x tensor.Type, kernel []int, channels *tensor.Dim) tensor.Type {
	out := tensor.Type{Kind: tensor.KindTensor, DType: x.DType}
	if !x.HasShape || len(x.Shape) < 3 {
		return out
	}
	dims := append([]tensor.Dim{}, x.Shape...)
	if channels != nil {
		dims[1] = *channels
	}
	img := make([]int, len(dims)-2)
	known := kernel != nil
	for i, d := range x.Shape[2:] {
		img[i] = int(d.Size)
		known = known && d.Known()
	}
	var g *geometry
	if known {
		g, _ = w.resolve(img, kernel)
	}
	for i := range img {
		dims[2+i] = tensor.Dim{Size: -1}
		if g != nil {
			dims[2+i] = tensor.Dim{Size: int64(g.pos[i])}
		}
	}
	out.HasShape, out.Shape = true, dims
	return out
}
