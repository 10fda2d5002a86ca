package ml

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// LinearRegressor: Y = post_transform(X·coefficientsᵀ + intercepts), with
// coefficients (targets x C) and Y float32 (N, targets).
var linearRegressorOps = ops.Versions(Domain, "LinearRegressor", "LinearRegressor: Y = post_transform(X·Wᵀ + intercepts), W = coefficients as (targets, C)",
	[]int{1}, inferDTypes(tensor.Float32), compileLinearRegressor)

// LinearClassifier: Z = post_transform(X·coefficientsᵀ + intercepts), one
// column per class, Y = label of the row's largest score. A single score s
// with two labels is binary as in ONNX Runtime: Y = labels[s > 0], Z =
// [1 - p, p] with p = s (LOGISTIC: σ(s), PROBIT: probit(s)). A single score
// with one label gives that label when the score reaches 0 (0.5 after a
// transform), else 0 or "".
var linearClassifierOps = ops.Versions(Domain, "LinearClassifier", "LinearClassifier: Z = post_transform(X·Wᵀ + intercepts), Y = label of argmax Z",
	[]int{1}, inferClassifier("classlabels_ints"), compileLinearClassifier)

// linear is a compiled X·Wᵀ + b.
type linear struct {
	w       []float64 // outputs x cols, row-major
	b       []float64 // outputs, or nil
	outputs int
	post    int
}

func readLinear(n *ops.Node, outputs int) (*linear, error) {
	coef := n.Floats("coefficients", nil)
	inter := n.Floats("intercepts", nil)
	post, err := parsePost(n.String("post_transform", "NONE"))
	if err != nil {
		return nil, err
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	l := &linear{w: widen(coef), b: widen(inter), post: post, outputs: outputs}
	if outputs < 1 || len(coef)%outputs != 0 {
		return nil, fmt.Errorf("attribute coefficients has %d values, want a multiple of %d (outputs)", len(coef), outputs)
	}
	if len(inter) != 0 && len(inter) != outputs {
		return nil, fmt.Errorf("attribute intercepts has %d values, want %d (one per output)", len(inter), outputs)
	}
	return l, nil
}

func widen(f []float32) []float64 {
	if f == nil {
		return nil
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}

// apply returns X·Wᵀ + b (rows x outputs) for X of rows x cols.
func (l *linear) apply(c *ops.Ctx, x *tensor.Tensor) ([]float64, int, error) {
	xs, rows, cols, err := featureRows(x, -1)
	if err != nil {
		return nil, 0, err
	}
	if cols*l.outputs != len(l.w) {
		return nil, 0, fmt.Errorf("input X has %d features, the coefficients are for %d", cols, len(l.w)/l.outputs)
	}
	if _, err := c.New(tensor.Float32, rows, l.outputs); err != nil {
		return nil, 0, err
	}
	out := make([]float64, rows*l.outputs)
	for r := 0; r < rows; r++ {
		xr := xs[r*cols : (r+1)*cols]
		for o := 0; o < l.outputs; o++ {
			s := 0.0
			if len(l.b) > 0 {
				s = l.b[o]
			}
			for j, w := range l.w[o*cols : (o+1)*cols] {
				s += w * xr[j]
			}
			out[r*l.outputs+o] = s
		}
	}
	return out, rows, nil
}

func compileLinearRegressor(n *ops.Node) (*ops.Kernel, error) {
	targets := n.Int("targets", 1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if targets < 1 || targets > 1<<24 {
		return nil, fmt.Errorf("attribute targets is %d, want >= 1", targets)
	}
	l, err := readLinear(n, int(targets))
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		y, rows, err := l.apply(c, in[0])
		if err != nil {
			return nil, err
		}
		postTransform(l.post, y, l.outputs)
		out, err := storeFloat32(c, y, rows, l.outputs)
		return []*tensor.Tensor{out}, err
	}}, nil
}

func compileLinearClassifier(n *ops.Node) (*ops.Kernel, error) {
	lb := labels{ints: n.Ints("classlabels_ints", nil), strs: n.Strings("classlabels_strings", nil)}
	inter := n.Floats("intercepts", nil)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if n.Has("classlabels_ints") == n.Has("classlabels_strings") || lb.len() == 0 {
		return nil, fmt.Errorf("exactly one of classlabels_ints and classlabels_strings is required, non-empty")
	}
	outputs := len(inter)
	if outputs == 0 {
		outputs = lb.len()
	}
	l, err := readLinear(n, outputs)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		scores, rows, err := l.apply(c, in[0])
		if err != nil {
			return nil, err
		}
		if l.outputs == 1 && lb.len() == 2 {
			return lb.binary(c, scores, l.post, binLinear)
		}
		postTransform(l.post, scores, l.outputs)
		if l.outputs > 1 {
			return lb.outputs(c, scores, nil, rows, l.outputs)
		}
		return lb.thresholded(c, scores, l.post)
	}}, nil
}

// thresholded labels single-score rows: label 0 when the score reaches
// the threshold (0 without a transform, else 0.5), else none (0 or "").
func (l labels) thresholded(c *ops.Ctx, scores []float64, post int) ([]*tensor.Tensor, error) {
	th := 0.5
	if post == postNone {
		th = 0
	}
	best := make([]int, len(scores))
	for r, v := range scores {
		best[r] = -1
		if v >= th {
			best[r] = 0
		}
	}
	return l.withScores(c, best, scores, len(scores), 1)
}

// probit is √2·erfinv(2v - 1) with ONNX Runtime's erfinv approximation
// (Winitzki, a = 0.147), so that scores match its; probit(0) = -Inf.
func probit(v float64) float64 {
	x := 2*v - 1
	sgn := 1.0
	if x < 0 {
		sgn = -1
	}
	lg := math.Log((1 - x) * (1 + x))
	a := 2/(3.14159*0.147) + 0.5*lg
	b := lg / 0.147
	return 1.41421356 * sgn * math.Sqrt(-a+math.Sqrt(a*a-b))
}
