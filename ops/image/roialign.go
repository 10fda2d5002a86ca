package image

import (
	"fmt"
	"math"
	"sort"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

func roiAlignOps() []*ops.Op {
	return ops.Versions("", "RoiAlign", "RoiAlign: y[r, c, ph, pw] = avg (or max) over a sampling grid in bin (ph, pw) of ROI r of the bilinear interpolation of x[batch_indices[r], c] at (roi·spatial_scale - 0.5 with half_pixel).",
		[]int{10, 16, 22}, inferRoiAlign, compileRoiAlign)
}

func inferRoiAlign(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 3 {
		return nil, fmt.Errorf("want 3 inputs")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType, HasShape: true,
		Shape: []tensor.Dim{{Size: -1}, {Size: -1}, {Size: n.Int("output_height", 1)}, {Size: n.Int("output_width", 1)}}}
	if in[1].HasShape && len(in[1].Shape) == 2 {
		t.Shape[0] = in[1].Shape[0]
	}
	if in[0].HasShape && len(in[0].Shape) == 4 {
		t.Shape[1] = in[0].Shape[1]
	}
	return []tensor.Type{t}, nil
}

type roiAlign struct {
	max           bool
	outH, outW    int
	sampling      int
	spatialScale  float64
	halfPixel     bool
	maxGridPoints float64
}

func compileRoiAlign(n *ops.Node) (*ops.Kernel, error) {
	def := "half_pixel"
	if n.Opset < 16 {
		def = "output_half_pixel"
	}
	mode := n.String("mode", "avg")
	coord := n.String("coordinate_transformation_mode", def)
	ra := &roiAlign{
		max:          mode == "max",
		sampling:     int(n.Int("sampling_ratio", 0)),
		spatialScale: float64(n.Float("spatial_scale", 1)),
		halfPixel:    coord == "half_pixel",
	}
	oh, ow := n.Int("output_height", 1), n.Int("output_width", 1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if mode != "avg" && mode != "max" {
		return nil, fmt.Errorf("mode %q must be avg or max", mode)
	}
	if coord != "half_pixel" && coord != "output_half_pixel" {
		return nil, fmt.Errorf("coordinate_transformation_mode %q must be half_pixel or output_half_pixel", coord)
	}
	if oh < 1 || ow < 1 || oh > 1<<20 || ow > 1<<20 {
		return nil, fmt.Errorf("output_height %d and output_width %d must be in [1, 2^20]", oh, ow)
	}
	if ra.sampling < 0 {
		return nil, fmt.Errorf("sampling_ratio %d must be >= 0", ra.sampling)
	}
	ra.outH, ra.outW = int(oh), int(ow)
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 3, 3); err != nil {
			return nil, err
		}
		if floatio.Wide(in[0].DType()) {
			y, err := roiAlignF[float64](c, ra, in[0], in[1], in[2])
			return []*tensor.Tensor{y}, err
		}
		y, err := roiAlignF[float32](c, ra, in[0], in[1], in[2])
		return []*tensor.Tensor{y}, err
	}}, nil
}

// roiSample is one bilinear sample: four input offsets and their weights.
type roiSample struct {
	pos [4]int
	w   [4]float64
}

func roiAlignF[F tensor.Float](c *ops.Ctx, ra *roiAlign, x, rois, batch *tensor.Tensor) (*tensor.Tensor, error) {
	if err := floatio.Check("X", x); err != nil {
		return nil, err
	}
	xs, rs := x.Shape(), rois.Shape()
	if len(xs) != 4 {
		return nil, fmt.Errorf("X has shape %v, want (N, C, H, W)", xs)
	}
	if len(rs) != 2 || rs[1] != 4 {
		return nil, fmt.Errorf("rois has shape %v, want (num_rois, 4)", rs)
	}
	bi, err := ops.Ints64(batch)
	if err != nil {
		return nil, fmt.Errorf("batch_indices: %w", err)
	}
	if len(bi) != rs[0] {
		return nil, fmt.Errorf("batch_indices has %d values for %d rois", len(bi), rs[0])
	}
	N, C, H, W := xs[0], xs[1], xs[2], xs[3]
	for r, b := range bi {
		if b < 0 || b >= int64(N) {
			return nil, fmt.Errorf("batch_indices[%d] = %d out of range [0, %d)", r, b, N)
		}
	}
	rv, err := floats64(rois)
	if err != nil {
		return nil, fmt.Errorf("rois: %w", err)
	}
	o, err := floatio.New[F](c, x.DType(), rs[0], C, ra.outH, ra.outW)
	if err != nil {
		return nil, err
	}
	if o.T.Len() == 0 || H == 0 || W == 0 {
		return o.Done(), nil // an empty feature map: every sample reads nothing
	}
	xv, err := floatio.Load[F](x)
	if err != nil {
		return nil, err
	}
	bins := ra.outH * ra.outW
	offset := 0.0
	if ra.halfPixel {
		offset = 0.5
	}
	for r := 0; r < rs[0]; r++ {
		roi := rv[r*4 : r*4+4]
		x0, y0 := roi[0]*ra.spatialScale-offset, roi[1]*ra.spatialScale-offset
		x1, y1 := roi[2]*ra.spatialScale-offset, roi[3]*ra.spatialScale-offset
		rw, rh := x1-x0, y1-y0
		if !ra.halfPixel {
			rw, rh = max(rw, 1), max(rh, 1) // malformed ROIs become 1x1
		}
		for _, v := range []float64{x0, y0, rw, rh} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("roi %d has non-finite coordinates %v", r, roi)
			}
		}
		binH, binW := rh/float64(ra.outH), rw/float64(ra.outW)
		fh, fw := float64(ra.sampling), float64(ra.sampling)
		if ra.sampling == 0 {
			fh, fw = max(0, math.Ceil(binH)), max(0, math.Ceil(binW))
		}
		if err := checkElems(c, fh*fw*float64(bins), fmt.Sprintf("roi %d's sampling grid", r)); err != nil {
			return nil, err
		}
		gh, gw := int(fh), int(fw)
		count := float64(max(gh*gw, 1))
		// Sample positions and weights are shared by every channel.
		sm := make([]roiSample, gh*gw*bins)
		q := 0
		for ph := 0; ph < ra.outH; ph++ {
			for pw := 0; pw < ra.outW; pw++ {
				for iy := 0; iy < gh; iy++ {
					yy := y0 + float64(ph)*binH + (float64(iy)+0.5)*binH/float64(gh)
					for ix := 0; ix < gw; ix++ {
						xx := x0 + float64(pw)*binW + (float64(ix)+0.5)*binW/float64(gw)
						sm[q] = bilinearSample(yy, xx, H, W)
						q++
					}
				}
			}
		}
		per := gh * gw
		b := int(bi[r])
		for ch := 0; ch < C; ch++ {
			if err := c.Check(); err != nil {
				return nil, err
			}
			plane := xv[(b*C+ch)*H*W : (b*C+ch+1)*H*W]
			dst := o.Buf[(r*C+ch)*bins : (r*C+ch+1)*bins]
			for bin := range dst {
				ss := sm[bin*per : (bin+1)*per]
				if ra.max {
					best := 0.0
					for i, s := range ss {
						v := max(s.w[0]*float64(plane[s.pos[0]]), s.w[1]*float64(plane[s.pos[1]]),
							s.w[2]*float64(plane[s.pos[2]]), s.w[3]*float64(plane[s.pos[3]]))
						if i == 0 || v > best {
							best = v
						}
					}
					dst[bin] = F(best)
					continue
				}
				acc := 0.0
				for _, s := range ss {
					acc += s.w[0]*float64(plane[s.pos[0]]) + s.w[1]*float64(plane[s.pos[1]]) +
						s.w[2]*float64(plane[s.pos[2]]) + s.w[3]*float64(plane[s.pos[3]])
				}
				dst[bin] = F(acc / count)
			}
		}
	}
	return o.Done(), nil
}

// bilinearSample is the four-neighbour interpolation at (y, x) of an H×W
// plane; samples more than one pixel outside read nothing (zero weights).
func bilinearSample(y, x float64, H, W int) roiSample {
	var s roiSample
	if y < -1 || y > float64(H) || x < -1 || x > float64(W) || H == 0 || W == 0 {
		return s
	}
	y, x = max(y, 0), max(x, 0)
	yl, xl := int(y), int(x)
	yh, xh := yl+1, xl+1
	if yl >= H-1 {
		yl, yh, y = H-1, H-1, float64(H-1)
	}
	if xl >= W-1 {
		xl, xh, x = W-1, W-1, float64(W-1)
	}
	ly, lx := y-float64(yl), x-float64(xl)
	hy, hx := 1-ly, 1-lx
	s.pos = [4]int{yl*W + xl, yl*W + xh, yh*W + xl, yh*W + xh}
	s.w = [4]float64{hy * hx, hy * lx, ly * hx, ly * lx}
	return s
}

// NonMaxSuppression --------------------------------------------------------

func nmsOps() []*ops.Op {
	return ops.Versions("", "NonMaxSuppression", "NonMaxSuppression: per batch and class, greedily keep the highest-scoring boxes (score > score_threshold) whose IoU with every kept box is <= iou_threshold, at most max_output_boxes_per_class; y rows are (batch, class, box).",
		[]int{10, 11}, func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
			return []tensor.Type{{Kind: tensor.KindTensor, DType: tensor.Int64, HasShape: true, Shape: []tensor.Dim{{Size: -1}, {Size: 3}}}}, nil
		}, compileNMS)
}

func compileNMS(n *ops.Node) (*ops.Kernel, error) {
	center := n.Int("center_point_box", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if center != 0 && center != 1 {
		return nil, fmt.Errorf("center_point_box %d must be 0 or 1", center)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 5); err != nil {
			return nil, err
		}
		y, err := nms(c, in, center == 1)
		return []*tensor.Tensor{y}, err
	}}, nil
}

// nmsBox is a box as (x1, y1, x2, y2) with x1 <= x2, y1 <= y2.
type nmsBox [4]float32

func nms(c *ops.Ctx, in []*tensor.Tensor, center bool) (*tensor.Tensor, error) {
	boxes, scores := in[0], in[1]
	bs, ss := boxes.Shape(), scores.Shape()
	if len(bs) != 3 || bs[2] != 4 {
		return nil, fmt.Errorf("boxes has shape %v, want (batches, boxes, 4)", bs)
	}
	if len(ss) != 3 || ss[0] != bs[0] || ss[2] != bs[1] {
		return nil, fmt.Errorf("scores has shape %v, want (%d, classes, %d) for boxes %v", ss, bs[0], bs[1], bs)
	}
	opt := func(i int) *tensor.Tensor {
		if i < len(in) && in[i] != nil && in[i].Len() > 0 {
			return in[i]
		}
		return nil
	}
	maxOut := int64(0)
	if t := opt(2); t != nil {
		v, err := scalarInt(t, "max_output_boxes_per_class")
		if err != nil {
			return nil, err
		}
		maxOut = max(v, 0)
	}
	iouT := float32(0)
	if t := opt(3); t != nil {
		v, err := scalarFloat(t, "iou_threshold")
		if err != nil {
			return nil, err
		}
		iouT = float32(v)
	}
	useScore, scoreT := false, float32(0)
	if t := opt(4); t != nil {
		v, err := scalarFloat(t, "score_threshold")
		if err != nil {
			return nil, err
		}
		useScore, scoreT = true, float32(v)
	}
	bv, err := floats64(boxes)
	if err != nil {
		return nil, fmt.Errorf("boxes: %w", err)
	}
	sv, err := floats64(scores)
	if err != nil {
		return nil, fmt.Errorf("scores: %w", err)
	}
	B, nBox, nCls := bs[0], bs[1], ss[1]
	box := make([]nmsBox, nBox)
	var sel []int64
	type cand struct {
		score float32
		idx   int
	}
	cands := make([]cand, 0, nBox)
	kept := make([]int, 0, min(int64(nBox), maxOut))
	for b := 0; b < B && maxOut > 0; b++ {
		for i := range box {
			v := bv[(b*nBox+i)*4 : (b*nBox+i+1)*4]
			a, p, q, r := float32(v[0]), float32(v[1]), float32(v[2]), float32(v[3])
			if center {
				box[i] = nmsBox{a - q/2, p - r/2, a + q/2, p + r/2}
			} else {
				box[i] = nmsBox{min(p, r), min(a, q), max(p, r), max(a, q)}
			}
		}
		for cl := 0; cl < nCls; cl++ {
			if err := c.Check(); err != nil {
				return nil, err
			}
			sc := sv[(b*nCls+cl)*nBox : (b*nCls+cl+1)*nBox]
			cands = cands[:0]
			for i, s := range sc {
				if s := float32(s); !useScore || s > scoreT {
					cands = append(cands, cand{s, i})
				}
			}
			sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
			kept = kept[:0]
			for _, cd := range cands {
				if int64(len(kept)) >= maxOut {
					break
				}
				ok := true
				for _, k := range kept {
					if iouAbove(box[cd.idx], box[k], iouT) {
						ok = false
						break
					}
				}
				if ok {
					kept = append(kept, cd.idx)
					sel = append(sel, int64(b), int64(cl), int64(cd.idx))
				}
			}
		}
	}
	if err := checkElems(c, float64(len(sel)), "the selected indices"); err != nil {
		return nil, err
	}
	y, err := c.New(tensor.Int64, len(sel)/3, 3)
	if err != nil {
		return nil, err
	}
	copy(tensor.Data[int64](y), sel)
	return y, nil
}

// iouAbove reports whether the intersection over union of a and b exceeds t
// (computed in float32, as the reference implementation does).
func iouAbove(a, b nmsBox, t float32) bool {
	ix0, ix1 := max(a[0], b[0]), min(a[2], b[2])
	if ix1 <= ix0 {
		return false
	}
	iy0, iy1 := max(a[1], b[1]), min(a[3], b[3])
	if iy1 <= iy0 {
		return false
	}
	inter := (ix1 - ix0) * (iy1 - iy0)
	areaA := (a[2] - a[0]) * (a[3] - a[1])
	areaB := (b[2] - b[0]) * (b[3] - b[1])
	union := areaA + areaB - inter
	if inter <= 0 || areaA <= 0 || areaB <= 0 || union <= 0 {
		return false
	}
	return inter/union > t
}
