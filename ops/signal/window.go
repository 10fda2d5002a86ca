package signal

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func windowOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "HannWindow", "HannWindow: w[n] = sin²(πn/N) = 0.5 - 0.5·cos(2πn/N), N = size (periodic) or size-1 (symmetric).",
			[]int{17}, inferWindow, compileWindow(func(x float64) float64 { return 0.5 - 0.5*math.Cos(x) })),
		ops.Versions("", "HammingWindow", "HammingWindow: w[n] = 25/46 - 21/46·cos(2πn/N), N = size (periodic) or size-1 (symmetric).",
			[]int{17}, inferWindow, compileWindow(func(x float64) float64 { return 25.0/46 - 21.0/46*math.Cos(x) })),
		ops.Versions("", "BlackmanWindow", "BlackmanWindow: w[n] = 0.42 - 0.5·cos(2πn/N) + 0.08·cos(4πn/N), N = size (periodic) or size-1 (symmetric).",
			[]int{17}, inferWindow, compileWindow(func(x float64) float64 { return 0.42 - 0.5*math.Cos(x) + 0.08*math.Cos(2*x) })),
		ops.Versions("", "MelWeightMatrix", "MelWeightMatrix: y[k, m] = triangular filter m of num_mel_bins evenly spaced on the mel scale (mel = 2595·log10(1 + f/700)) between lower_edge_hertz and upper_edge_hertz, at DFT bin k of dft_length/2+1.",
			[]int{17}, inferMel, compileMel),
	)
}

// outputType reads output_datatype (default float32) and checks that
// gort can write it.
func outputType(n *ops.Node) (tensor.DType, error) {
	d := tensor.DType(n.Int("output_datatype", int64(tensor.Float32)))
	if err := n.Err(); err != nil {
		return 0, err
	}
	if !d.Supported() || d == tensor.String || d == tensor.Bool || d == tensor.Complex64 || d == tensor.Complex128 {
		return 0, fmt.Errorf("output_datatype %v must be a real numeric dtype", d)
	}
	return d, nil
}

func inferWindow(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	d := tensor.DType(n.Int("output_datatype", int64(tensor.Float32)))
	return []tensor.Type{{Kind: tensor.KindTensor, DType: d, HasShape: true, Shape: []tensor.Dim{{Size: -1}}}}, nil
}

// compileWindow returns the Compile of a cosine-sum window w[n] = f(2πn/N).
func compileWindow(f func(float64) float64) func(*ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		periodic := n.Int("periodic", 1) != 0
		d, err := outputType(n)
		if err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 1, 1); err != nil {
				return nil, err
			}
			size, err := scalarInt(in[0], "size")
			if err != nil {
				return nil, err
			}
			if size < 0 || size >= tensor.MaxElements {
				return nil, fmt.Errorf("size %d must be in [0, 2^40)", size)
			}
			if err := checkElems(c, float64(size), "the window"); err != nil {
				return nil, err
			}
			w := make([]float64, size)
			N := float64(size)
			if !periodic {
				N--
			}
			for i := range w {
				if N <= 0 {
					w[i] = 1 // a one-point symmetric window
					continue
				}
				w[i] = f(2 * math.Pi * float64(i) / N)
			}
			y, err := store(c, d, []int{int(size)}, w)
			return []*tensor.Tensor{y}, err
		}}, nil
	}
}

// store converts v to a new tensor of dtype d and the given shape.
func store(c *ops.Ctx, d tensor.DType, shape []int, v []float64) (*tensor.Tensor, error) {
	y, err := c.New(d, shape...)
	if err != nil {
		return nil, err
	}
	src, err := tensor.From(shape, v)
	if err != nil {
		return nil, err
	}
	if err := tensor.Convert(y, src, false); err != nil {
		return nil, err
	}
	return y, nil
}

func inferMel(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	d := tensor.DType(n.Int("output_datatype", int64(tensor.Float32)))
	return []tensor.Type{{Kind: tensor.KindTensor, DType: d, HasShape: true, Shape: []tensor.Dim{{Size: -1}, {Size: -1}}}}, nil
}

func compileMel(n *ops.Node) (*ops.Kernel, error) {
	d, err := outputType(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 5, 5); err != nil {
			return nil, err
		}
		var iv [3]int64
		for i, name := range []string{"num_mel_bins", "dft_length", "sample_rate"} {
			v, err := scalarInt(in[i], name)
			if err != nil {
				return nil, err
			}
			iv[i] = v
		}
		var fv [2]float64
		for i, name := range []string{"lower_edge_hertz", "upper_edge_hertz"} {
			v, err := scalarFloat(in[3+i], name)
			if err != nil {
				return nil, err
			}
			fv[i] = v
		}
		y, err := melWeights(c, d, iv[0], iv[1], iv[2], fv[0], fv[1])
		return []*tensor.Tensor{y}, err
	}}, nil
}

// melWeights is (dft/2+1, mel): triangle m rises from bin f[m] to f[m+1]
// and falls to f[m+2], where f are mel+2 points evenly spaced in mel between
// lower and upper hertz, mapped to bins floor((dft+1)·hz/rate).
func melWeights(c *ops.Ctx, d tensor.DType, mel, dft, rate int64, lower, upper float64) (*tensor.Tensor, error) {
	switch {
	case mel < 0 || mel >= tensor.MaxElements:
		return nil, fmt.Errorf("num_mel_bins %d must be in [0, 2^40)", mel)
	case dft < 1 || dft >= tensor.MaxElements:
		return nil, fmt.Errorf("dft_length %d must be in [1, 2^40)", dft)
	case rate < 1:
		return nil, fmt.Errorf("sample_rate %d must be positive", rate)
	case math.IsNaN(lower) || math.IsNaN(upper) || math.IsInf(lower, 0) || math.IsInf(upper, 0) || lower < 0 || upper < lower:
		return nil, fmt.Errorf("edges %v to %v hertz must be finite with 0 <= lower <= upper", lower, upper)
	}
	bins := int(dft/2 + 1)
	if err := checkElems(c, float64(bins)*float64(mel), "the mel weight matrix"); err != nil {
		return nil, err
	}
	M := int(mel)
	lowMel := 2595 * math.Log10(1+lower/700)
	highMel := 2595 * math.Log10(1+upper/700)
	step := (highMel - lowMel) / float64(M+2)
	f := make([]int, M+2)
	for i := range f {
		hz := 700 * (math.Pow(10, (float64(i)*step+lowMel)/2595) - 1)
		v := math.Floor(float64(dft+1) * hz / float64(rate))
		if v < 0 || v >= float64(bins) {
			return nil, fmt.Errorf("mel point %d falls in DFT bin %.0f, outside [0, %d); lower upper_edge_hertz to at most sample_rate/2", i, v, bins)
		}
		f[i] = int(v)
	}
	w := make([]float64, bins*M)
	for m := 0; m < M; m++ {
		lo, mid, hi := f[m], f[m+1], f[m+2]
		if mid == lo {
			w[mid*M+m] = 1
		} else {
			for j := lo; j <= mid; j++ {
				w[j*M+m] = float64(j-lo) / float64(mid-lo)
			}
		}
		if hi > mid {
			for j := mid; j < hi; j++ {
				w[j*M+m] = float64(hi-j) / float64(hi-mid)
			}
		}
	}
	return store(c, d, []int{bins, M}, w)
}
