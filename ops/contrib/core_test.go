package contrib

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/tensor"
)

// TestViewsMatchProject checks attention read straight from a (B, S,
// 3*N*H) projection (views) against the gathered copies (project), for the
// fused float32 kernel and the float64 path, with a key padding mask and a
// causal one.
func TestViewsMatchProject(t *testing.T) {
	t.Run("float32", func(t *testing.T) { viewsMatchProject[float32](t, 1e-6) })
	t.Run("float64", func(t *testing.T) { viewsMatchProject[float64](t, 1e-12) })
}

func viewsMatchProject[F tensor.Float](t *testing.T, tol float64) {
	const b, s, n, h = 2, 70, 3, 8
	rng := rand.New(rand.NewPCG(9, 10))
	w := 3 * n * h
	qkv := make([]F, b*s*w)
	for i := range qkv {
		qkv[i] = F(rng.NormFloat64())
	}
	lens := []int32{s, 41}
	mask := tensor.Must([]int{b}, lens)
	parts := func() (part[F], part[F], part[F]) {
		return part[F]{qkv, bsnh(b, s, n, h, w, 0), nil, nil},
			part[F]{qkv, bsnh(b, s, n, h, w, n*h), nil, nil},
			part[F]{qkv, bsnh(b, s, n, h, w, 2*n*h), nil, nil}
	}
	for _, causal := range []bool{false, true} {
		pv, ok := views(parts())
		if !ok {
			t.Fatal("views refused a projection without past or bias")
		}
		q, k, v := parts()
		pp, err := project(nil, 0, q, k, v)
		if err != nil {
			t.Fatal(err)
		}
		dt := tensor.Float32
		if _, ok := any(qkv).([]float64); ok {
			dt = tensor.Float64
		}
		yv, _, err := pv.attend(nil, dt, 0, "mask_index", mask, -10000, causal, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		yp, _, err := pp.attend(nil, dt, 0, "mask_index", mask, -10000, causal, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		gv, gp := tensor.Data[F](yv), tensor.Data[F](yp)
		for i := range gp {
			if d := math.Abs(float64(gv[i] - gp[i])); !(d <= tol) {
				t.Fatalf("causal %v: y[%d] = %v from views, %v from copies", causal, i, gv[i], gp[i])
			}
		}
	}
	qp, kp, vp := parts()
	kp.bias = qkv[:w]
	if _, ok := views(qp, kp, vp); ok {
		t.Error("views accepted a K bias")
	}
}
