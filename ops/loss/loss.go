// Package loss holds gort's kernels for the loss operator family:
// SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss.
package loss

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		// SoftmaxCrossEntropyLoss: log_prob = LogSoftmax(scores, axis=1);
		// l[n,d] = -log_prob[n,labels[n,d],d] * weights[labels[n,d]] (0 where
		// labels == ignore_index), then reduced by "none", "sum" or "mean"
		// (sum divided by the sum of the applied weights).
		ops.Versions("", "SoftmaxCrossEntropyLoss",
			"loss = reduce(-LogSoftmax(scores, axis=1)[labels] * weights[labels]); optional log_prob output",
			[]int{12, 13}, inferLoss, compile(true)),
		// NegativeLogLikelihoodLoss: l[n,d] = -input[n,target[n,d],d] *
		// weight[target[n,d]] (0 where target == ignore_index), reduced as above.
		ops.Versions("", "NegativeLogLikelihoodLoss",
			"loss = reduce(-input[target] * weight[target]) with reduction none, sum or mean",
			[]int{12, 13, 22}, inferLoss, compile(false)),
	)
}

type reduction int

const (
	reduceNone reduction = iota
	reduceSum
	reduceMean
)

// params are a compiled loss node's attributes.
type params struct {
	softmax   bool
	reduction reduction
	hasIgnore bool
	ignore    int64
	outputs   int // the node's output count
}

func compile(softmax bool) func(n *ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		p := params{softmax: softmax, outputs: len(n.Outputs)}
		switch r := n.String("reduction", "mean"); r {
		case "none":
			p.reduction = reduceNone
		case "sum":
			p.reduction = reduceSum
		case "mean":
			p.reduction = reduceMean
		default:
			return nil, fmt.Errorf("reduction %q, want none, sum or mean", r)
		}
		p.hasIgnore = n.Has("ignore_index")
		p.ignore = n.Int("ignore_index", 0)
		if err := n.Err(); err != nil {
			return nil, err
		}
		return floatio.Kernel(&p, []string{"input"}, 2, 3, run[float32], run[float64]), nil
	}
}

// inferLoss gives the loss output (labels' shape for reduction "none", else
// a scalar) and, for SoftmaxCrossEntropyLoss, log_prob shaped like scores.
func inferLoss(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("want at least 2 inputs, got %d", len(in))
	}
	loss := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType, HasShape: true}
	if n.String("reduction", "mean") == "none" {
		loss.Shape, loss.HasShape = in[1].Shape, in[1].HasShape
	}
	out := []tensor.Type{loss}
	if len(n.Outputs) > 1 {
		out = append(out, in[0])
	}
	return out, nil
}

// run computes the loss. x is (N, C, D...) flattened to (N, C, D); labels
// are (N, D).
func run[F tensor.Float](c *ops.Ctx, p *params, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	xt, lt := in[0], in[1]
	xs := xt.Shape()
	if len(xs) < 2 {
		return nil, fmt.Errorf("input has shape %v, want (N, C) or (N, C, D1, ...)", xs)
	}
	n, cls := xs[0], xs[1]
	want := append([]int{n}, xs[2:]...)
	if !tensor.SameShape(lt.Shape(), want) {
		return nil, fmt.Errorf("labels have shape %v, want %v for input %v", lt.Shape(), want, xs)
	}
	labels, err := ops.Ints64(lt)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	var weights []F
	if len(in) > 2 && in[2] != nil {
		if in[2].Rank() != 1 || in[2].Len() != cls {
			return nil, fmt.Errorf("weights have shape %v, want (%d)", in[2].Shape(), cls)
		}
		if weights, err = floatio.Load[F](in[2]); err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
	}
	x, err := floatio.Load[F](xt)
	if err != nil {
		return nil, err
	}
	d := 1
	for _, s := range xs[2:] {
		d *= s
	}
	var logProb floatio.Out[F]
	if p.softmax {
		if logProb, err = floatio.New[F](c, xt.DType(), xs...); err != nil {
			return nil, err
		}
		logSoftmax(x, logProb.Buf, n, cls, d)
		x = logProb.Buf
	}
	// loss is (N, D); wsum is the sum of the weights applied.
	loss := make([]F, n*d)
	var wsum float64
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			k := i*d + j
			lab := labels[k]
			if p.hasIgnore && lab == p.ignore {
				continue
			}
			if lab < 0 || lab >= int64(cls) {
				return nil, fmt.Errorf("label %d at position %d out of range [0, %d); set ignore_index to skip it", lab, k, cls)
			}
			w := F(1)
			if weights != nil {
				w = weights[lab]
			}
			loss[k] = -x[(i*cls+int(lab))*d+j] * w
			wsum += float64(w)
		}
	}
	var out floatio.Out[F]
	switch p.reduction {
	case reduceNone:
		if out, err = floatio.New[F](c, xt.DType(), want...); err != nil {
			return nil, err
		}
		copy(out.Buf, loss)
	default:
		if out, err = floatio.New[F](c, xt.DType()); err != nil {
			return nil, err
		}
		var s float64
		for _, v := range loss {
			s += float64(v)
		}
		if p.reduction == reduceMean {
			s /= wsum // 0/0 is NaN when every label is ignored, as in PyTorch
		}
		out.Buf[0] = F(s)
	}
	res := []*tensor.Tensor{out.Done()}
	if p.softmax && p.outputs > 1 {
		res = append(res, logProb.Done())
	}
	return res, nil
}

// logSoftmax writes LogSoftmax over axis 1 of x (N, C, D) into y.
func logSoftmax[F tensor.Float](x, y []F, n, cls, d int) {
	for i := 0; i < n; i++ {
		base := i * cls * d
		for j := 0; j < d; j++ {
			m := math.Inf(-1)
			for k := 0; k < cls; k++ {
				m = math.Max(m, float64(x[base+k*d+j]))
			}
			var s float64
			for k := 0; k < cls; k++ {
				s += math.Exp(float64(x[base+k*d+j]) - m)
			}
			ls := m + math.Log(s)
			for k := 0; k < cls; k++ {
				y[base+k*d+j] = F(float64(x[base+k*d+j]) - ls)
			}
		}
	}
}
