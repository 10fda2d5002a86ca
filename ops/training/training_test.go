package training

import (
	"math"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

func kernel(t *testing.T, op []*ops.Op, attrs ...ops.Attr) *ops.Kernel {
	t.Helper()
	return optest.Kernel(t, op, &ops.Node{Attrs: attrs})
}

func fattr(name string, v float32) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrFloat, F: v} }

func vec(v ...float32) *tensor.Tensor { return tensor.Must([]int{len(v)}, v) }

// near checks float32 outputs against float64 expectations.
func near(t *testing.T, what string, got *tensor.Tensor, want ...float64) {
	t.Helper()
	g := tensor.Data[float32](got)
	if len(g) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(want))
	}
	for i := range want {
		if math.Abs(float64(g[i])-want[i]) > 1e-6*max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, g[i], want[i])
		}
	}
}

func TestAdagrad(t *testing.T) {
	// r = 0.1 / (1 + 3*0.1); gr = 0.001*x + g; h' = h + gr^2; x' = x - r*gr/(sqrt(h')+1e-5)
	k := kernel(t, adagradOps, fattr("norm_coefficient", 0.001), fattr("epsilon", 1e-5), fattr("decay_factor", 0.1))
	out, err := k.Run(&ops.Ctx{}, []*tensor.Tensor{
		tensor.Scalar[float32](0.1), tensor.Scalar[int64](3),
		vec(1, -2), vec(3), vec(-1, 0.5), vec(4), vec(2, 0), vec(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := 0.1 / 1.3
	expect := func(x, g, h float64) (float64, float64) {
		gr := 0.001*x + g
		h += gr * gr
		return x - r*gr/(math.Sqrt(h)+1e-5), h
	}
	x0, h0 := expect(1, -1, 2)
	x1, h1 := expect(-2, 0.5, 0)
	x2, h2 := expect(3, 4, 1)
	if len(out) != 4 {
		t.Fatalf("%d outputs, want 4", len(out))
	}
	near(t, "X1_new", out[0], x0, x1)
	near(t, "X2_new", out[1], x2)
	near(t, "H1_new", out[2], h0, h1)
	near(t, "H2_new", out[3], h2)
}

func TestAdam(t *testing.T) {
	const alpha, beta, eps, norm, post = 0.95, 0.1, 1e-7, 0.001, 0.01
	k := kernel(t, adamOps, fattr("alpha", alpha), fattr("beta", beta), fattr("epsilon", eps),
		fattr("norm_coefficient", norm), fattr("norm_coefficient_post", post))
	for _, T := range []int64{0, 10} {
		out, err := k.Run(&ops.Ctx{}, []*tensor.Tensor{
			tensor.Scalar[float32](0.1), tensor.Scalar(T),
			vec(1.2, 2.8), vec(-0.94, -2.5), vec(1.7, 3.6), vec(0.1, 0.1),
		})
		if err != nil {
			t.Fatal(err)
		}
		a, b := float64(float32(alpha)), float64(float32(beta))
		rate := 0.1
		if T > 0 {
			rate = float64(float32(0.1)) * math.Sqrt(1-math.Pow(b, float64(T))) / (1 - math.Pow(a, float64(T)))
		}
		var wx, wv, wh []float64
		for i, x := range []float64{1.2, 2.8} {
			x = float64(float32(x))
			g := float64([]float32{-0.94, -2.5}[i])
			v := float64([]float32{1.7, 3.6}[i])
			gr := float64(float32(norm))*x + g
			v = a*v + (1-a)*gr
			h := b*float64(float32(0.1)) + (1-b)*gr*gr
			x = (1 - float64(float32(post))) * (x - rate*v/(math.Sqrt(h)+float64(float32(eps))))
			wx, wv, wh = append(wx, x), append(wv, v), append(wh, h)
		}
		near(t, "X_new", out[0], wx...)
		near(t, "V_new", out[1], wv...)
		near(t, "H_new", out[2], wh...)
	}
}

func TestMomentum(t *testing.T) {
	for _, mode := range []string{"standard", "nesterov"} {
		k := kernel(t, momentumOps, fattr("alpha", 0.5), fattr("beta", 0.25), fattr("norm_coefficient", 0.1),
			ops.Attr{Name: "mode", Type: ops.AttrString, S: []byte(mode)})
		for _, T := range []int64{0, 1} {
			out, err := k.Run(&ops.Ctx{}, []*tensor.Tensor{
				tensor.Scalar(0.5), tensor.Scalar(T), // R is float64 here
				vec(2), vec(1), vec(4),
			})
			if err != nil {
				t.Fatal(err)
			}
			b := 0.25
			if T == 0 {
				b = 1
			}
			gr := 0.1*2 + 1.0
			v := 0.5*4 + b*gr
			x := 2 - 0.5*v
			if mode == "nesterov" {
				x = 2 - 0.5*(gr+0.5*v)
			}
			near(t, mode+" X_new", out[0], x)
			near(t, mode+" V_new", out[1], v)
		}
	}
}

func TestFloat64Tensors(t *testing.T) {
	k := kernel(t, momentumOps, fattr("alpha", 0.9), fattr("beta", 1), fattr("norm_coefficient", 0),
		ops.Attr{Name: "mode", Type: ops.AttrString, S: []byte("standard")})
	out, err := k.Run(&ops.Ctx{}, []*tensor.Tensor{
		tensor.Scalar[float32](0.1), tensor.Scalar[int64](5),
		tensor.Must([]int{2}, []float64{1, 2}), tensor.Must([]int{2}, []float64{0.5, -0.5}), tensor.Must([]int{2}, []float64{0, 1}),
	})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.Data[float64](out[0])
	r := float64(float32(0.1))
	if want := 1 - r*0.5; math.Abs(x[0]-want) > 1e-15 {
		t.Fatalf("X_new[0] = %v, want %v", x[0], want)
	}
	if want := 2 - r*(float64(float32(0.9))-0.5); math.Abs(x[1]-want) > 1e-15 {
		t.Fatalf("X_new[1] = %v, want %v", x[1], want)
	}
}

func TestErrors(t *testing.T) {
	ada := kernel(t, adagradOps)
	r, T := tensor.Scalar[float32](0.1), tensor.Scalar[int64](0)
	for _, tc := range []struct {
		name string
		in   []*tensor.Tensor
		want string
	}{
		{"group count", []*tensor.Tensor{r, T, vec(1), vec(1)}, "groups of equally many"},
		{"shape mismatch", []*tensor.Tensor{r, T, vec(1, 2), vec(1), vec(1, 2)}, "has shape [1]"},
		{"T dtype", []*tensor.Tensor{r, tensor.Scalar[int32](0), vec(1), vec(1), vec(1)}, "want an int64 scalar"},
		{"R shape", []*tensor.Tensor{vec(1, 2), T, vec(1), vec(1), vec(1)}, "want a float32 or float64 scalar"},
		{"integer tensor", []*tensor.Tensor{r, T, tensor.Must([]int{1}, []int32{1}), vec(1), vec(1)}, "want float32 or float64"},
		{"missing", []*tensor.Tensor{r, T, nil, vec(1), vec(1)}, "missing"},
	} {
		_, err := ada.Run(&ops.Ctx{}, tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	o := momentumOps[0]
	if _, err := o.Compile(&ops.Node{OpType: "Momentum", Attrs: []ops.Attr{fattr("alpha", 1)}}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("Momentum without beta: err = %v", err)
	}
	n := &ops.Node{OpType: "Momentum", Attrs: []ops.Attr{fattr("alpha", 1), fattr("beta", 1), fattr("norm_coefficient", 0),
		{Name: "mode", Type: ops.AttrString, S: []byte("heavy-ball")}}}
	if _, err := o.Compile(n); err == nil || !strings.Contains(err.Error(), "heavy-ball") {
		t.Errorf("bad mode: err = %v", err)
	}
}

func TestThreadsGiveTheSameResult(t *testing.T) {
	const n = 300001 // several chunks and a ragged end
	in := []*tensor.Tensor{tensor.Scalar[float32](0.01), tensor.Scalar[int64](3)}
	for g := 0; g < 4; g++ {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(float64(i*(g+1)))) + float32(g)
		}
		in = append(in, tensor.Must([]int{n}, v))
	}
	k := kernel(t, adamOps)
	one, err := k.Run(&ops.Ctx{Threads: 1}, in)
	if err != nil {
		t.Fatal(err)
	}
	many, err := k.Run(&ops.Ctx{Threads: 4}, in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range one {
		if !tensor.Equal(one[i], many[i]) {
			t.Fatalf("output %d differs between 1 and 4 threads", i)
		}
	}
}

// BenchmarkAdam10M is one Adam step over 10M float32 parameters.
func BenchmarkAdam10M(b *testing.B) {
	const n = 10_000_000
	in := []*tensor.Tensor{tensor.Scalar[float32](0.001), tensor.Scalar[int64](5)}
	for g := 0; g < 4; g++ {
		in = append(in, tensor.Zeros(tensor.Float32, n))
	}
	o := adamOps[0]
	k, _ := o.Compile(&ops.Node{OpType: o.Type, Domain: Domain})
	c := &ops.Ctx{Threads: 1}
	for b.Loop() {
		if _, err := k.Run(c, in); err != nil {
			b.Fatal(err)
		}
	}
}
