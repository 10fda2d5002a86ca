package norm

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

// batchNormOps declares BatchNormalization. In inference,
// y = scale[c] * (x - mean[c]) / sqrt(var[c] + epsilon) + B[c]. In training
// (training_mode=1 from opset 14; before that, when the node asks for the
// statistics outputs) the batch statistics over (N, D...) normalize x and
// running = input * momentum + batch * (1 - momentum) are returned.
func batchNormOps() []*ops.Op {
	return ops.Versions("", "BatchNormalization",
		"y = scale * (x - mean) / sqrt(var + epsilon) + B per channel; training mode returns running statistics",
		[]int{1, 6, 7, 9, 14, 15}, inferBatchNorm, compileBatchNorm)
}

type batchNorm struct {
	eps, momentum float64
	training      bool
	outputs       int
}

func compileBatchNorm(n *ops.Node) (*ops.Kernel, error) {
	p := &batchNorm{
		eps:      float64(n.Float("epsilon", 1e-5)),
		momentum: float64(n.Float("momentum", 0.9)),
		outputs:  len(n.Outputs),
	}
	if n.Opset >= 14 {
		p.training = n.Int("training_mode", 0) != 0
	} else {
		// Before opset 14 the mode is told by the outputs a graph asks for
		// (is_test is ignored, as ONNX Runtime does).
		for _, o := range n.Outputs[1:] {
			p.training = p.training || o != ""
		}
		_ = n.Int("is_test", 0)
		_ = n.Int("spatial", 1) // spatial=0 is handled by parameters of length C*D
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	return floatio.Kernel(p, inputNames, 5, 5, runBatchNorm[float32], runBatchNorm[float64]), nil
}

func inferBatchNorm(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 5 {
		return nil, fmt.Errorf("want 5 inputs, got %d", len(in))
	}
	out := []tensor.Type{in[0]}
	for i := 1; i < len(n.Outputs); i++ {
		out = append(out, in[3])
	}
	return out, nil
}

// runBatchNorm: X is (N, C, S); parameters are (C), or (C*S) for spatial=0.
func runBatchNorm[F tensor.Float](c *ops.Ctx, p *batchNorm, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	n, ch, s, err := channels(in[0])
	if err != nil {
		return nil, err
	}
	var prm [4][]F
	for i, name := range []string{"scale", "B", "input_mean", "input_var"} {
		if prm[i], err = perChannel[F](name, in[i+1], ch, s); err != nil {
			return nil, err
		}
	}
	scale, bias, mean, vr := prm[0], prm[1], prm[2], prm[3]
	x, y, err := floatio.Like[F](c, in[0])
	if err != nil {
		return nil, err
	}
	if !p.training {
		for b := 0; b < n; b++ {
			for k := 0; k < ch; k++ {
				base := (b*ch + k) * s
				for j := 0; j < s; j++ {
					pi := k
					if len(mean) != ch {
						pi = k*s + j
					}
					is := F(1 / math.Sqrt(float64(vr[pi])+p.eps))
					y.Buf[base+j] = (x[base+j]-mean[pi])*is*scale[pi] + bias[pi]
				}
			}
		}
		res := []*tensor.Tensor{y.Done()}
		for len(res) < p.outputs {
			res = append(res, nil)
		}
		return res, nil
	}
	if len(mean) != ch || len(scale) != ch || len(bias) != ch || len(vr) != ch {
		return nil, fmt.Errorf("training mode needs per-channel parameters of length %d", ch)
	}
	// Batch statistics per channel over (N, S), population variance.
	bm := make([]float64, ch)
	bv := make([]float64, ch)
	cnt := float64(n * s)
	for k := 0; k < ch; k++ {
		var sum float64
		for b := 0; b < n; b++ {
			for _, v := range x[(b*ch+k)*s : (b*ch+k+1)*s] {
				sum += float64(v)
			}
		}
		m := sum / cnt
		var sq float64
		for b := 0; b < n; b++ {
			for _, v := range x[(b*ch+k)*s : (b*ch+k+1)*s] {
				d := float64(v) - m
				sq += d * d
			}
		}
		bm[k], bv[k] = m, sq/cnt
		is := 1 / math.Sqrt(bv[k]+p.eps)
		for b := 0; b < n; b++ {
			base := (b*ch + k) * s
			for j := 0; j < s; j++ {
				y.Buf[base+j] = F((float64(x[base+j])-m)*is*float64(scale[k]) + float64(bias[k]))
			}
		}
	}
	pd := in[3].DType()
	running := func(in []F, batch []float64) (*tensor.Tensor, error) {
		o, err := floatio.New[F](c, pd, ch)
		if err != nil {
			return nil, err
		}
		for k := range o.Buf {
			o.Buf[k] = F(float64(in[k])*p.momentum + batch[k]*(1-p.momentum))
		}
		return o.Done(), nil
	}
	saved := func(batch []float64) (*tensor.Tensor, error) {
		o, err := floatio.New[F](c, pd, ch)
		if err != nil {
			return nil, err
		}
		for k := range o.Buf {
			o.Buf[k] = F(batch[k])
		}
		return o.Done(), nil
	}
	res := []*tensor.Tensor{y.Done()}
	outs := []func() (*tensor.Tensor, error){
		func() (*tensor.Tensor, error) { return running(mean, bm) },
		func() (*tensor.Tensor, error) { return running(vr, bv) },
		func() (*tensor.Tensor, error) { return saved(bm) },
		func() (*tensor.Tensor, error) { return saved(bv) },
	}
	for i := 1; i < p.outputs && i <= len(outs); i++ {
		t, err := outs[i-1]()
		if err != nil {
			return nil, err
		}
		res = append(res, t)
	}
	return res, nil
}
