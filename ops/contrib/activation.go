package contrib

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/tensor"
)

func activationOps() []*ops.Op {
	return ops.Join(
		// Gelu: y = 0.5 x (1 + erf(x / sqrt(2))).
		ops.Versions(ms, "Gelu", "y = 0.5*x*(1+erf(x/sqrt(2)))", []int{1},
			ops.InferSameAs(0), compileBiasAct(geluErf, linalg.ActGelu, 1, 1)),
		// BiasGelu: y = Gelu(A + B), B (the bias) of A's last dimension.
		ops.Versions(ms, "BiasGelu", "y = Gelu(A + B), B 1-D over A's last dimension", []int{1},
			ops.InferSameAs(0), compileBiasAct(geluErf, linalg.ActGelu, 2, 2)),
		// FastGelu: x = X + bias (optional),
		// y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
		ops.Versions(ms, "FastGelu", "y = 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))), x = X + bias", []int{1},
			ops.InferSameAs(0), compileBiasAct(geluTanh, linalg.ActGeluTanh, 1, 2)),
		// QuickGelu: y = x * sigmoid(alpha x), alpha = 1.702 by default.
		ops.Versions(ms, "QuickGelu", "y = x * sigmoid(alpha*x) (alpha = 1.702)", []int{1},
			ops.InferSameAs(0), compileQuickGelu),
		// BiasSoftmax: y = softmax(data + bias) over the dimensions
		// [axis, rank) flattened, bias broadcasting to data.
		ops.Versions(ms, "BiasSoftmax", "y = softmax(data + bias) over dimensions [axis, rank)", []int{1},
			ops.InferSameAs(0), compileBiasSoftmax),
	)
}

func geluErf(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func geluTanh(x float64) float64 {
	const k = 0.7978845608028654 // sqrt(2/pi)
	return 0.5 * x * (1 + math.Tanh(k*(x+0.044715*x*x*x)))
}

type biasAct struct {
	f func(float64) float64
	// act, when not ActNone, is f as a linalg activation: float32 inputs
	// run linalg.Activate's vectorized float32 approximation (erf and tanh
	// within 3e-7 absolute) instead of f in float64.
	act linalg.Activation
}

// compileBiasAct returns the compile function of y = f(x + bias) with
// between minIn and maxIn inputs (the second one the bias); act is f as a
// linalg activation for float32 inputs (ActNone: none).
func compileBiasAct(f func(float64) float64, act linalg.Activation, minIn, maxIn int) func(*ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		p := &biasAct{f: f, act: act}
		return floatio.Kernel(p, []string{"X", "bias"}, minIn, maxIn, runBiasAct[float32], runBiasAct[float64]), nil
	}
}

func compileQuickGelu(n *ops.Node) (*ops.Kernel, error) {
	alpha := float64(n.Float("alpha", 1.702))
	if err := n.Err(); err != nil {
		return nil, err
	}
	p := &biasAct{f: func(x float64) float64 { return x / (1 + math.Exp(-alpha*x)) }}
	return floatio.Kernel(p, []string{"X"}, 1, 1, runBiasAct[float32], runBiasAct[float64]), nil
}

// lastDimBias loads an optional 1-D bias whose length is x's last dimension.
func lastDimBias[F tensor.Float](name string, t *tensor.Tensor, x []int) ([]F, error) {
	if t == nil {
		return nil, nil
	}
	if len(x) == 0 || t.Rank() != 1 || t.Shape()[0] != x[len(x)-1] {
		return nil, fmt.Errorf("%s has shape %v, want 1-D of the input's last dimension (input %v)", name, t.Shape(), x)
	}
	return floatio.Load[F](t)
}

// runBiasAct: y = f(x + bias); x is (..., D), bias is (D).
func runBiasAct[F tensor.Float](c *ops.Ctx, p *biasAct, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	var x []F
	var y floatio.Out[F]
	var err error
	if buf, ok := in[0].Raw().([]F); ok && c.Reusable(in[0]) {
		// Elementwise: y may be x (the runtime says no one reads x later).
		x, y = buf, floatio.Out[F]{T: in[0], Buf: buf}
	} else if x, y, err = floatio.Like[F](c, in[0]); err != nil {
		return nil, err
	}
	bias, err := lastDimBias[F]("bias", opt(in, 1), in[0].Shape())
	if err != nil {
		return nil, err
	}
	// Elements are independent, so ranges run concurrently (Gelu's erf
	// dominates BERT's elementwise time).
	if x32, ok := any(x).([]float32); ok && p.act != linalg.ActNone {
		// Ranges of whole bias rows: linalg.Activate repeats the bias.
		y32, b32 := any(y.Buf).([]float32), any(bias).([]float32)
		row := max(len(b32), 1)
		if rows, grain := len(x32)/row, max(1, actGrain/row); kernelutil.Workers(c, rows, grain) <= 1 {
			linalg.Activate(p.act, y32[:rows*row], x32[:rows*row], b32) // no function value on one worker
		} else {
			err = kernelutil.Parallel(c, rows, grain, func(lo, hi int) error {
				linalg.Activate(p.act, y32[lo*row:hi*row], x32[lo*row:hi*row], b32)
				return nil
			})
		}
	} else {
		err = kernelutil.Parallel(c, len(x), actGrain, func(lo, hi int) error {
			biasActRange(p.f, x, y.Buf, bias, lo, hi)
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	return c.Result(y.Done()), nil
}

// biasActRange writes y[i] = f(x[i] + bias[i%len(bias)]) for i in [lo, hi).
func biasActRange[F tensor.Float](f func(float64) float64, x, y, bias []F, lo, hi int) {
	d := len(bias)
	for i := lo; i < hi; i++ {
		s := float64(x[i])
		if d > 0 {
			s += float64(bias[i%d])
		}
		y[i] = F(f(s))
	}
}

// actGrain is the least number of activation elements worth a goroutine.
const actGrain = 1 << 14

// opt returns in[i], or nil when the input is absent.
func opt(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

type biasSoftmax struct {
	axis int64
}

func compileBiasSoftmax(n *ops.Node) (*ops.Kernel, error) {
	p := &biasSoftmax{axis: n.Int("axis", 1)}
	n.Int("is_inner_broadcast", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return floatio.Kernel(p, []string{"data", "bias"}, 2, 2, runBiasSoftmax[float32], runBiasSoftmax[float64]), nil
}

// runBiasSoftmax: data is (outer, inner) split at axis; bias broadcasts to
// data (is_inner_broadcast only says which numpy broadcast it is).
func runBiasSoftmax[F tensor.Float](c *ops.Ctx, p *biasSoftmax, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	sh := in[0].Shape()
	axis, err := ops.NormAxis(p.axis, len(sh))
	if err != nil {
		return nil, err
	}
	bias, err := broadcastTo[F]("bias", in[1], sh)
	if err != nil {
		return nil, err
	}
	x, y, err := floatio.Like[F](c, in[0])
	if err != nil {
		return nil, err
	}
	inner := 1
	for _, d := range sh[axis:] {
		inner *= d
	}
	row := make([]float64, inner)
	for o := 0; o+inner <= len(x) && inner > 0; o += inner {
		mx := math.Inf(-1)
		for j := range row {
			row[j] = float64(x[o+j]) + float64(bias[o+j])
			mx = max(mx, row[j])
		}
		softmax(row, mx)
		for j, v := range row {
			y.Buf[o+j] = F(v)
		}
	}
	return []*tensor.Tensor{y.Done()}, nil
}

// softmax replaces s by softmax(s) given its maximum mx; a row whose every
// entry is -inf becomes zeros.
func softmax(s []float64, mx float64) {
	if math.IsInf(mx, -1) || math.IsNaN(mx) {
		clear(s)
		return
	}
	var sum float64
	for j, v := range s {
		e := math.Exp(v - mx)
		s[j] = e
		sum += e
	}
	for j := range s {
		s[j] /= sum
	}
}

// broadcastTo returns t broadcast (numpy rules, t's shape to shape) as a
// flat []F of shape's size.
func broadcastTo[F tensor.Float](name string, t *tensor.Tensor, shape []int) ([]F, error) {
	src, err := floatio.Load[F](t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ts := t.Shape()
	if tensor.SameShape(ts, shape) {
		return src, nil
	}
	out, err := tensor.BroadcastShapes(ts, shape)
	if err != nil || !tensor.SameShape(out, shape) {
		return nil, fmt.Errorf("%s has shape %v, which does not broadcast to %v", name, ts, shape)
	}
	if tensor.SameShape(ts, shape) {
		return src, nil
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	dst := make([]F, n)
	tensor.BroadcastIndex(shape, [][]int{ts}, func(i int, idx []int) { dst[i] = src[idx[0]] })
	return dst, nil
}
