package signal

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

func dftOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "DFT", "DFT: y[..., k, ..., :] = Σ_n x[..., n, ...] exp(∓2πi kn/N) (inverse: divided by N) along axis, with N = dft_length (zero-padded or truncated); last dim 1 (real) or 2 (complex); onesided keeps N/2+1 bins, or with inverse takes them and returns the real signal.",
			[]int{17, 20}, inferDFT, compileDFT),
		ops.Versions("", "STFT", "STFT: y[b, f, k, :] = Σ_t window[t] · signal[b, f·frame_step + t] exp(-2πi kt/frame_length); onesided keeps frame_length/2+1 bins.",
			[]int{17}, inferSTFT, compileSTFT),
	)
}

func inferDFT(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if in[0].HasShape {
		r := len(in[0].Shape)
		t.HasShape = true
		t.Shape = append([]tensor.Dim(nil), in[0].Shape...)
		if r > 0 {
			last := int64(2)
			if n.Int("inverse", 0) != 0 && n.Int("onesided", 0) != 0 {
				last = 1
			}
			t.Shape[r-1] = tensor.Dim{Size: last}
		}
		// The transformed axis keeps its size only without dft_length and onesided.
		axis := n.Int("axis", 1)
		if n.Opset >= 20 {
			axis = -2
			if len(n.Inputs) > 2 && n.Inputs[2] != "" {
				axis = -1000 // given at run time
			}
		}
		if axis < 0 {
			axis += int64(r)
		}
		changes := n.Int("onesided", 0) != 0 || (len(n.Inputs) > 1 && n.Inputs[1] != "")
		if axis < 0 || axis > int64(r-2) {
			for i := 0; i < r-1; i++ {
				if changes {
					t.Shape[i] = tensor.Dim{Size: -1}
				}
			}
		} else if changes {
			t.Shape[axis] = tensor.Dim{Size: -1}
		}
	}
	return []tensor.Type{t}, nil
}

func compileDFT(n *ops.Node) (*ops.Kernel, error) {
	inverse := n.Int("inverse", 0) != 0
	onesided := n.Int("onesided", 0) != 0
	attrAxis := int64(-2)
	if n.Opset < 20 {
		attrAxis = n.Int("axis", 1)
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	axisInput := n.Opset >= 20 // kernels must not retain n
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		max := 2
		if axisInput {
			max = 3
		}
		if err := ops.Want(in, 1, max); err != nil {
			return nil, err
		}
		axis := attrAxis
		if axisInput && len(in) > 2 && in[2] != nil {
			v, err := scalarInt(in[2], "axis")
			if err != nil {
				return nil, err
			}
			axis = v
		}
		length := int64(-1)
		if len(in) > 1 && in[1] != nil {
			v, err := scalarInt(in[1], "dft_length")
			if err != nil {
				return nil, err
			}
			if v < 1 {
				return nil, fmt.Errorf("dft_length %d must be positive", v)
			}
			length = v
		}
		y, err := dft(c, in[0], axis, length, inverse, onesided)
		return []*tensor.Tensor{y}, err
	}}, nil
}

// dft transforms x (..., L, ..., C) along axis; length < 0 means the default.
func dft(c *ops.Ctx, x *tensor.Tensor, axis, length int64, inverse, onesided bool) (*tensor.Tensor, error) {
	if err := floatio.Check("input", x); err != nil {
		return nil, err
	}
	shape := x.Shape()
	r := len(shape)
	if r < 2 || (shape[r-1] != 1 && shape[r-1] != 2) {
		return nil, fmt.Errorf("input has shape %v, want (..., 1) for real or (..., 2) for complex values", shape)
	}
	a := axis
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || a > int64(r-2) {
		return nil, fmt.Errorf("axis %d out of range [-%d, -2] ∪ [0, %d] for rank %d", axis, r, r-2, r)
	}
	ax := int(a)
	L := shape[ax]
	irfft := inverse && onesided
	n := int(length)
	if length < 0 {
		n = L
		if irfft {
			n = 2 * (L - 1)
		}
	}
	if n < 1 {
		return nil, fmt.Errorf("transform length %d along axis %d of %v must be positive; pass dft_length", n, ax, shape)
	}
	out := append([]int(nil), shape...)
	switch {
	case irfft:
		out[ax], out[r-1] = n, 1
	case onesided:
		out[ax], out[r-1] = n/2+1, 2
	default:
		out[ax], out[r-1] = n, 2
	}
	o, err := floatio.New[float64](c, x.DType(), out...)
	if err != nil {
		return nil, err
	}
	if o.T.Len() == 0 {
		return o.Done(), nil
	}
	if err := checkElems(c, 4*float64(n), "the FFT plan"); err != nil {
		return nil, err
	}
	xv, err := floatio.Load[float64](x)
	if err != nil {
		return nil, err
	}
	outer, inner := 1, 1
	for _, d := range shape[:ax] {
		outer *= d
	}
	for _, d := range shape[ax+1 : r-1] {
		inner *= d
	}
	C, K, Co := shape[r-1], out[ax], out[r-1]
	p := newFFTPlan(n)
	scale := 1.0
	if inverse {
		scale = 1 / float64(n)
	}
	take := min(L, n)
	if irfft {
		take = min(L, n/2+1)
	}
	// Lines (ob, i) are independent: split them over the threads.
	err = parallel(c, outer*inner, max(1, 1<<12/n), func(lo, hi int) error {
		buf, scratch := make([]complex128, n), p.newScratch()
		for q := lo; q < hi; q++ {
			if (q-lo)&63 == 63 {
				if err := c.Check(); err != nil {
					return err
				}
			}
			ob, i := q/inner, q%inner
			clear(buf)
			for l := 0; l < take; l++ {
				at := ((ob*L+l)*inner + i) * C
				if C == 2 {
					buf[l] = complex(xv[at], xv[at+1])
				} else {
					buf[l] = complex(xv[at], 0)
				}
			}
			if irfft {
				for k := n/2 + 1; k < n; k++ {
					buf[k] = conj(buf[n-k])
				}
			}
			if inverse {
				p.inverse(buf, scratch)
			} else {
				p.forward(buf, scratch)
			}
			for k := 0; k < K; k++ {
				at := ((ob*K+k)*inner + i) * Co
				o.Buf[at] = real(buf[k]) * scale
				if Co == 2 {
					o.Buf[at+1] = imag(buf[k]) * scale
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o.Done(), nil
}

// STFT -------------------------------------------------------------------

func inferSTFT(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType, HasShape: true,
		Shape: []tensor.Dim{{Size: -1}, {Size: -1}, {Size: -1}, {Size: 2}}}
	if in[0].HasShape && len(in[0].Shape) == 3 {
		t.Shape[0] = in[0].Shape[0]
	}
	return []tensor.Type{t}, nil
}

func compileSTFT(n *ops.Node) (*ops.Kernel, error) {
	onesided := n.Int("onesided", 1) != 0
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 4); err != nil {
			return nil, err
		}
		y, err := stft(c, in, onesided)
		return []*tensor.Tensor{y}, err
	}}, nil
}

func stft(c *ops.Ctx, in []*tensor.Tensor, onesided bool) (*tensor.Tensor, error) {
	x := in[0]
	if err := floatio.Check("signal", x); err != nil {
		return nil, err
	}
	shape := x.Shape()
	if len(shape) != 3 || (shape[2] != 1 && shape[2] != 2) {
		return nil, fmt.Errorf("signal has shape %v, want (batch, length, 1) or (batch, length, 2)", shape)
	}
	B, L, C := shape[0], shape[1], shape[2]
	step, err := scalarInt(in[1], "frame_step")
	if err != nil {
		return nil, err
	}
	if step < 1 {
		return nil, fmt.Errorf("frame_step %d must be positive", step)
	}
	var window []float64
	if len(in) > 2 && in[2] != nil {
		if in[2].Rank() != 1 {
			return nil, fmt.Errorf("window has shape %v, want 1-D", in[2].Shape())
		}
		if window, err = floatio.Load[float64](in[2]); err != nil {
			return nil, fmt.Errorf("window: %w", err)
		}
	}
	fl := int64(-1)
	if len(in) > 3 && in[3] != nil {
		if fl, err = scalarInt(in[3], "frame_length"); err != nil {
			return nil, err
		}
		if fl < 1 {
			return nil, fmt.Errorf("frame_length %d must be positive", fl)
		}
		if window != nil && int64(len(window)) != fl {
			return nil, fmt.Errorf("window has %d values, frame_length is %d", len(window), fl)
		}
	}
	switch {
	case fl > 0:
	case window != nil:
		fl = int64(len(window))
	default:
		return nil, fmt.Errorf("STFT needs a window or frame_length")
	}
	if fl > int64(L) {
		return nil, fmt.Errorf("frame_length %d exceeds the signal length %d", fl, L)
	}
	n := int(fl)
	frames := 1 + (L-n)/int(step)
	bins := n
	if onesided {
		bins = n/2 + 1
	}
	o, err := floatio.New[float64](c, x.DType(), B, frames, bins, 2)
	if err != nil {
		return nil, err
	}
	if o.T.Len() == 0 {
		return o.Done(), nil
	}
	xv, err := floatio.Load[float64](x)
	if err != nil {
		return nil, err
	}
	p := newFFTPlan(n)
	err = parallel(c, B*frames, max(1, 1<<12/n), func(lo, hi int) error {
		buf, scratch := make([]complex128, n), p.newScratch()
		for q := lo; q < hi; q++ {
			if (q-lo)&63 == 63 {
				if err := c.Check(); err != nil {
					return err
				}
			}
			b, f := q/frames, q%frames
			for t := 0; t < n; t++ {
				at := (b*L + f*int(step) + t) * C
				w := 1.0
				if window != nil {
					w = window[t]
				}
				if C == 2 {
					buf[t] = complex(xv[at]*w, xv[at+1]*w)
				} else {
					buf[t] = complex(xv[at]*w, 0)
				}
			}
			p.forward(buf, scratch)
			dst := o.Buf[q*bins*2:]
			for k := 0; k < bins; k++ {
				dst[2*k], dst[2*k+1] = real(buf[k]), imag(buf[k])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o.Done(), nil
}
