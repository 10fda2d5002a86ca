package nn

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Det is the determinant of each square matrix of X (..., M, M); Y has
// shape (...). It is computed by LU decomposition with partial pivoting in
// float64. It fails when the last two dimensions differ.
var Det = ops.Versions("", "Det",
	"Y[...] = det(X[..., :, :]) by LU decomposition with partial pivoting",
	[]int{11, 22}, inferDet, ops.Simple(runDet))

func runDet(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if len(s) < 2 || s[len(s)-1] != s[len(s)-2] {
		return nil, fmt.Errorf("X %v must be (..., M, M) square matrices", s)
	}
	return widened(c, in, func(w []*tensor.Tensor) (*tensor.Tensor, error) {
		switch w[0].DType() {
		case tensor.Float32:
			return detTyped[float32](c, w[0])
		case tensor.Float64:
			return detTyped[float64](c, w[0])
		}
		return nil, unsupported(in[0].DType(), floatTypes)
	})
}

func detTyped[T tensor.Float](c *ops.Ctx, xt *tensor.Tensor) (*tensor.Tensor, error) {
	s := xt.Shape()
	m := s[len(s)-1]
	yt, err := c.New(xt.DType(), s[:len(s)-2]...)
	if err != nil {
		return nil, err
	}
	x, y := tensor.Data[T](xt), tensor.Data[T](yt)
	a := make([]float64, m*m)
	for b := range y {
		for i, v := range x[b*m*m : (b+1)*m*m] {
			a[i] = float64(v)
		}
		y[b] = T(detLU(a, m))
	}
	return yt, nil
}

// detLU returns det(a) for the m x m row-major a, destroying a.
func detLU(a []float64, m int) float64 {
	det := 1.0
	for k := range m {
		p := k
		for i := k + 1; i < m; i++ {
			if math.Abs(a[i*m+k]) > math.Abs(a[p*m+k]) {
				p = i
			}
		}
		if a[p*m+k] == 0 {
			return 0
		}
		if p != k {
			for j := range m {
				a[k*m+j], a[p*m+j] = a[p*m+j], a[k*m+j]
			}
			det = -det
		}
		piv := a[k*m+k]
		det *= piv
		for i := k + 1; i < m; i++ {
			f := a[i*m+k] / piv
			if f == 0 {
				continue
			}
			for j := k + 1; j < m; j++ {
				a[i*m+j] -= f * a[k*m+j]
			}
		}
	}
	return det
}

// inferDet gives Y (...) when X's rank is known.
func inferDet(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 1 {
		return nil, fmt.Errorf("Det needs input X")
	}
	out := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if !in[0].HasShape || len(in[0].Shape) < 2 {
		return []tensor.Type{out}, nil
	}
	out.HasShape, out.Shape = true, append([]tensor.Dim{}, in[0].Shape[:len(in[0].Shape)-2]...)
	return []tensor.Type{out}, nil
}
