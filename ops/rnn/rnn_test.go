package rnn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

// refCase describes a recurrent node for the reference implementation; all
// tensors are in layout 0, flat, float64.
type refCase struct {
	op                 string // RNN, GRU, LSTM
	S, B, I, H         int
	direction          string
	acts               []string // per direction, defaults when nil
	alpha, beta        []float32
	clip               float64
	lbr, inputForget   bool
	x, w, r, b, h0, c0 []float64
	p                  []float64
	lens               []int
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// refAct evaluates an activation by name straight from the ONNX definitions.
func refAct(name string, alpha, beta float64, x float64) float64 {
	switch name {
	case "Tanh":
		return math.Tanh(x)
	case "Sigmoid":
		return sigmoid(x)
	case "Relu":
		return math.Max(0, x)
	case "LeakyRelu":
		if x >= 0 {
			return x
		}
		return alpha * x
	case "HardSigmoid":
		return math.Max(0, math.Min(1, alpha*x+beta))
	case "ScaledTanh":
		return alpha * math.Tanh(beta*x)
	case "Affine":
		return alpha*x + beta
	case "Softsign":
		return x / (1 + math.Abs(x))
	case "Softplus":
		return math.Log(1 + math.Exp(x))
	case "Elu":
		if x >= 0 {
			return x
		}
		return alpha * (math.Exp(x) - 1)
	case "ThresholdedRelu":
		if x > alpha {
			return x
		}
		return 0
	}
	panic(name)
}

// reference computes Y [S, D, B, H], Y_h and Y_c [D, B, H] one scalar at a
// time from the operator definitions.
func (rc *refCase) reference() (y, yh, yc []float64) {
	G := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[rc.op]
	D := 1
	if rc.direction == "bidirectional" {
		D = 2
	}
	S, B, I, H := rc.S, rc.B, rc.I, rc.H
	y = make([]float64, S*D*B*H)
	yh = make([]float64, D*B*H)
	yc = make([]float64, D*B*H)
	nAct := map[string]int{"RNN": 1, "GRU": 2, "LSTM": 3}[rc.op]
	names := rc.acts
	if names == nil {
		names = map[string][]string{"RNN": {"Tanh"}, "GRU": {"Sigmoid", "Tanh"}, "LSTM": {"Sigmoid", "Tanh", "Tanh"}}[rc.op]
		if D == 2 {
			names = append(names, names...)
		}
	}
	// Alphas and betas go in order to the functions that take them.
	type fn func(float64) float64
	fns := make([]fn, len(names))
	ai, bi := 0, 0
	for k, name := range names {
		alpha, beta := map[string]float64{"LeakyRelu": 0.01, "HardSigmoid": 0.2, "Elu": 1, "ThresholdedRelu": 1, "ScaledTanh": 1, "Affine": 1}[name], map[string]float64{"HardSigmoid": 0.5, "ScaledTanh": 1}[name]
		if slices.Contains(strings.Fields("LeakyRelu HardSigmoid Elu ThresholdedRelu ScaledTanh Affine"), name) && ai < len(rc.alpha) {
			alpha = float64(rc.alpha[ai])
			ai++
		}
		if slices.Contains(strings.Fields("HardSigmoid ScaledTanh Affine"), name) && bi < len(rc.beta) {
			beta = float64(rc.beta[bi])
			bi++
		}
		fns[k] = func(x float64) float64 { return refAct(name, alpha, beta, x) }
	}
	lim := float64(float32(rc.clip)) // the attribute is a float32
	clip := func(v float64) float64 {
		if lim > 0 {
			return math.Max(-lim, math.Min(lim, v))
		}
		return v
	}
	// dot of X[t, b] or H with row j of W/R for direction d and gate q.
	wrow := func(m []float64, d, q, j, k, n int) []float64 {
		off := ((d*G+q)*H + j) * n
		return m[off+k : off+k+1]
	}
	bias := func(d, half, q, j int) float64 {
		if rc.b == nil {
			return 0
		}
		return rc.b[d*2*G*H+half*G*H+q*H+j]
	}
	for d := 0; d < D; d++ {
		rev := rc.direction == "reverse" || d == 1
		f := fns[d*nAct:]
		for b := 0; b < B; b++ {
			h := make([]float64, H)
			c := make([]float64, H)
			if rc.h0 != nil {
				copy(h, rc.h0[(d*B+b)*H:])
			}
			if rc.c0 != nil {
				copy(c, rc.c0[(d*B+b)*H:])
			}
			L := S
			if rc.lens != nil {
				L = rc.lens[b]
			}
			for s := 0; s < L; s++ {
				t := s
				if rev {
					t = L - 1 - s
				}
				xw := func(q, j int) float64 {
					v := bias(d, 0, q, j)
					for k := 0; k < I; k++ {
						v += rc.x[(t*B+b)*I+k] * wrow(rc.w, d, q, j, k, I)[0]
					}
					return v
				}
				hr := func(q, j int, hv []float64) float64 {
					v := 0.0
					for k := 0; k < H; k++ {
						v += hv[k] * wrow(rc.r, d, q, j, k, H)[0]
					}
					return v
				}
				nh := make([]float64, H)
				nc := make([]float64, H)
				switch rc.op {
				case "RNN":
					for j := range nh {
						nh[j] = f[0](clip(xw(0, j) + hr(0, j, h) + bias(d, 1, 0, j)))
					}
				case "GRU":
					z, r := make([]float64, H), make([]float64, H)
					for j := range z {
						z[j] = f[0](clip(xw(0, j) + hr(0, j, h) + bias(d, 1, 0, j)))
						r[j] = f[0](clip(xw(1, j) + hr(1, j, h) + bias(d, 1, 1, j)))
					}
					rh := make([]float64, H)
					for j := range rh {
						rh[j] = r[j] * h[j]
					}
					for j := range nh {
						var hh float64
						if rc.lbr {
							hh = f[1](clip(xw(2, j) + r[j]*(hr(2, j, h)+bias(d, 1, 2, j))))
						} else {
							hh = f[1](clip(xw(2, j) + hr(2, j, rh) + bias(d, 1, 2, j)))
						}
						nh[j] = (1-z[j])*hh + z[j]*h[j]
					}
				case "LSTM":
					peep := func(q, j int) float64 {
						if rc.p == nil {
							return 0
						}
						return rc.p[d*3*H+q*H+j]
					}
					for j := range nh {
						pre := func(q int) float64 { return xw(q, j) + hr(q, j, h) + bias(d, 1, q, j) }
						i := f[0](clip(pre(0) + peep(0, j)*c[j]))
						fg := f[0](clip(pre(2) + peep(2, j)*c[j]))
						if rc.inputForget {
							fg = 1 - i
						}
						nc[j] = fg*c[j] + i*f[1](clip(pre(3)))
						o := f[0](clip(pre(1) + peep(1, j)*nc[j]))
						nh[j] = o * f[2](nc[j])
					}
				}
				h, c = nh, nc
				copy(y[((t*D+d)*B+b)*H:], h)
			}
			if L > 0 {
				copy(yh[(d*B+b)*H:], h)
				copy(yc[(d*B+b)*H:], c)
			}
		}
	}
	return y, yh, yc
}

func randSlice(r *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = r.Float64()*2 - 1
	}
	return out
}

// swap01 exchanges the two leading axes (sizes a, b) of rows of inner elements.
func swap01(x []float64, a, b, inner int) []float64 {
	out := make([]float64, len(x))
	for i := 0; i < a; i++ {
		for j := 0; j < b; j++ {
			copy(out[(j*a+i)*inner:(j*a+i+1)*inner], x[(i*b+j)*inner:])
		}
	}
	return out
}

func toTensor(dt tensor.DType, shape []int, v []float64) *tensor.Tensor {
	if v == nil {
		return nil
	}
	t := tensor.Must(shape, v)
	out := tensor.Zeros(dt, shape...)
	if err := tensor.Convert(out, t, false); err != nil {
		panic(err)
	}
	return out
}

func toFloat64(t *tensor.Tensor) []float64 {
	out := tensor.Zeros(tensor.Float64, t.Shape()...)
	if err := tensor.Convert(out, t, false); err != nil {
		panic(err)
	}
	return tensor.Data[float64](out)
}

// run runs the case through the kernel in the given layout and dtype and
// returns Y, Y_h, Y_c converted back to layout 0.
func (rc *refCase) run(t *testing.T, layout int, dt tensor.DType) (y, yh, yc []float64) {
	t.Helper()
	G := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[rc.op]
	D := 1
	if rc.direction == "bidirectional" {
		D = 2
	}
	S, B, I, H := rc.S, rc.B, rc.I, rc.H
	x, h0, c0 := rc.x, rc.h0, rc.c0
	xShape, stShape := []int{S, B, I}, []int{D, B, H}
	if layout == 1 {
		x = swap01(x, S, B, I)
		if h0 != nil {
			h0 = swap01(h0, D, B, H)
		}
		if c0 != nil {
			c0 = swap01(c0, D, B, H)
		}
		xShape, stShape = []int{B, S, I}, []int{B, D, H}
	}
	in := []*tensor.Tensor{
		toTensor(dt, xShape, x), toTensor(dt, []int{D, G * H, I}, rc.w), toTensor(dt, []int{D, G * H, H}, rc.r),
		toTensor(dt, []int{D, 2 * G * H}, rc.b), nil, toTensor(dt, stShape, h0),
	}
	if rc.lens != nil {
		l := make([]int32, len(rc.lens))
		for i, v := range rc.lens {
			l[i] = int32(v)
		}
		in[4] = tensor.Must([]int{B}, l)
	}
	outs := []string{"Y", "Y_h"}
	if rc.op == "LSTM" {
		in = append(in, toTensor(dt, stShape, c0), toTensor(dt, []int{D, 3 * H}, rc.p))
		outs = append(outs, "Y_c")
	}
	attrs := []ops.Attr{optest.Int("hidden_size", int64(H)), optest.Int("layout", int64(layout)), optest.Float("clip", float32(rc.clip)),
		{Name: "direction", Type: ops.AttrString, S: []byte(rc.direction)}}
	if rc.lbr {
		attrs = append(attrs, optest.Int("linear_before_reset", 1))
	}
	if rc.inputForget {
		attrs = append(attrs, optest.Int("input_forget", 1))
	}
	if rc.acts != nil {
		a := ops.Attr{Name: "activations", Type: ops.AttrStrings}
		for _, s := range rc.acts {
			a.Strings = append(a.Strings, []byte(s))
		}
		attrs = append(attrs, a, ops.Attr{Name: "activation_alpha", Type: ops.AttrFloats, Floats: rc.alpha},
			ops.Attr{Name: "activation_beta", Type: ops.AttrFloats, Floats: rc.beta})
	}
	res, err := optest.Run(t, Ops(), rc.op, 22, attrs, outs, in...)
	if err != nil {
		t.Fatal(err)
	}
	y, yh = toFloat64(res[0]), toFloat64(res[1])
	if rc.op == "LSTM" {
		yc = toFloat64(res[2])
	}
	if layout == 1 {
		y = fromLayout1Y(toFloat64(res[0]), S, D, B, H)
		yh = swap01(yh, B, D, H)
		if yc != nil {
			yc = swap01(yc, B, D, H)
		}
	}
	return y, yh, yc
}

// fromLayout1Y maps Y [B, S, D, H] to [S, D, B, H].
func fromLayout1Y(y []float64, S, D, B, H int) []float64 {
	out := make([]float64, len(y))
	for b := 0; b < B; b++ {
		for s := 0; s < S; s++ {
			for d := 0; d < D; d++ {
				copy(out[((s*D+d)*B+b)*H:((s*D+d)*B+b+1)*H], y[((b*S+s)*D+d)*H:])
			}
		}
	}
	return out
}

func closeTo(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol || math.IsNaN(got[i]) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestRNNHandComputed(t *testing.T) {
	// One unit, one input: H1 = tanh(2*1), H2 = tanh(2*2 + 0.5*H1).
	x := tensor.Must([]int{2, 1, 1}, []float32{1, 2})
	w := tensor.Must([]int{1, 1, 1}, []float32{2})
	r := tensor.Must([]int{1, 1, 1}, []float32{0.5})
	res, err := optest.Run(t, Ops(), "RNN", 14, nil, []string{"Y", "Y_h"}, x, w, r)
	if err != nil {
		t.Fatal(err)
	}
	h1 := math.Tanh(2)
	h2 := math.Tanh(4 + 0.5*h1)
	closeTo(t, "Y", toFloat64(res[0]), []float64{h1, h2}, 1e-6)
	closeTo(t, "Y_h", toFloat64(res[1]), []float64{h2}, 1e-6)
}

func TestAgainstReference(t *testing.T) {
	cases := []refCase{
		{op: "RNN", direction: "forward"},
		{op: "RNN", direction: "bidirectional", acts: []string{"LeakyRelu", "HardSigmoid"}, alpha: []float32{0.2, 0.3}, beta: []float32{0.4}},
		{op: "RNN", direction: "reverse", clip: 0.3},
		{op: "GRU", direction: "forward"},
		{op: "GRU", direction: "forward", lbr: true},
		{op: "GRU", direction: "bidirectional", lbr: true, acts: []string{"HardSigmoid", "Softsign", "Sigmoid", "ScaledTanh"}, alpha: []float32{0.3, 0.7}, beta: []float32{0.4, 1.5}},
		{op: "GRU", direction: "reverse", clip: 0.5},
		{op: "LSTM", direction: "forward"},
		{op: "LSTM", direction: "bidirectional"},
		{op: "LSTM", direction: "reverse", inputForget: true, clip: 0.8},
		{op: "LSTM", direction: "forward", acts: []string{"Sigmoid", "Elu", "Softplus"}, alpha: []float32{0.5}},
		{op: "LSTM", direction: "bidirectional", acts: []string{"Sigmoid", "Affine", "Relu", "Sigmoid", "ThresholdedRelu", "Tanh"}, alpha: []float32{0.9, 0.1}, beta: []float32{0.2}},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, rc := range cases {
		for _, withLens := range []bool{false, true} {
			rc := rc
			rc.S, rc.B, rc.I, rc.H = 4, 3, 5, 3
			G := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[rc.op]
			D := 1
			if rc.direction == "bidirectional" {
				D = 2
			}
			rc.x = randSlice(r, rc.S*rc.B*rc.I)
			rc.w = randSlice(r, D*G*rc.H*rc.I)
			rc.r = randSlice(r, D*G*rc.H*rc.H)
			if withLens {
				rc.b = randSlice(r, D*2*G*rc.H)
				rc.h0 = randSlice(r, D*rc.B*rc.H)
				rc.lens = []int{4, 2, 0}
				if rc.op == "LSTM" {
					rc.c0 = randSlice(r, D*rc.B*rc.H)
					rc.p = randSlice(r, D*3*rc.H)
				}
			}
			wy, wyh, wyc := rc.reference()
			for _, layout := range []int{0, 1} {
				for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
					tol := 1e-5
					if dt == tensor.Float64 {
						tol = 1e-12
					}
					t.Run(rc.op+"/"+rc.direction, func(t *testing.T) {
						y, yh, yc := rc.run(t, layout, dt)
						closeTo(t, "Y", y, wy, tol)
						closeTo(t, "Y_h", yh, wyh, tol)
						if rc.op == "LSTM" {
							closeTo(t, "Y_c", yc, wyc, tol)
						}
					})
				}
			}
		}
	}
}

func TestFloat16(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	rc := refCase{op: "GRU", direction: "forward", S: 3, B: 2, I: 4, H: 2}
	rc.x, rc.w, rc.r = randSlice(r, 3*2*4), randSlice(r, 3*2*4), randSlice(r, 3*2*2)
	// Round the inputs to float16 first so that only the output rounding differs.
	for _, v := range [][]float64{rc.x, rc.w, rc.r} {
		for i := range v {
			v[i] = float64(tensor.Float16FromFloat32(float32(v[i])).Float32())
		}
	}
	wy, wyh, _ := rc.reference()
	y, yh, _ := rc.run(t, 0, tensor.Float16)
	closeTo(t, "Y", y, wy, 1e-3)
	closeTo(t, "Y_h", yh, wyh, 1e-3)
}

func TestOmittedOutputs(t *testing.T) {
	x := tensor.Must([]int{1, 1, 1}, []float32{1})
	w := tensor.Must([]int{1, 4, 1}, []float32{1, 1, 1, 1})
	r := tensor.Must([]int{1, 4, 1}, []float32{1, 1, 1, 1})
	res, err := optest.Run(t, Ops(), "LSTM", 7, nil, []string{"", "", "Y_c"}, x, w, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0] != nil || res[1] != nil || res[2] == nil {
		t.Fatalf("outputs %v, want only Y_c", res)
	}
	i, cand := sigmoid(1), math.Tanh(1)
	closeTo(t, "Y_c", toFloat64(res[2]), []float64{i * cand}, 1e-6)
}

func TestBadInputs(t *testing.T) {
	f := func(shape ...int) *tensor.Tensor { return tensor.Zeros(tensor.Float32, shape...) }
	cases := []struct {
		name  string
		op    string
		attrs []ops.Attr
		in    []*tensor.Tensor
		want  string
	}{
		{"rank of X", "RNN", nil, []*tensor.Tensor{f(2, 3), f(1, 2, 3), f(1, 2, 2)}, "input X"},
		{"W rows", "GRU", nil, []*tensor.Tensor{f(2, 1, 3), f(1, 5, 3), f(1, 6, 2)}, "input W"},
		{"directions", "RNN", []ops.Attr{{Name: "direction", Type: ops.AttrString, S: []byte("bidirectional")}}, []*tensor.Tensor{f(2, 1, 3), f(1, 2, 3), f(1, 2, 2)}, "input W"},
		{"sequence_lens", "RNN", nil, []*tensor.Tensor{f(2, 1, 3), f(1, 2, 3), f(1, 2, 2), nil, tensor.Must([]int{1}, []int32{3})}, "sequence_lens[0] is 3"},
		{"peepholes", "LSTM", nil, []*tensor.Tensor{f(2, 1, 3), f(1, 8, 3), f(1, 8, 2), nil, nil, nil, nil, f(1, 5)}, "input P"},
		{"dtype", "RNN", nil, []*tensor.Tensor{tensor.Zeros(tensor.Int32, 2, 1, 3), f(1, 2, 3), f(1, 2, 2)}, "input X"},
		{"activation", "RNN", []ops.Attr{{Name: "activations", Type: ops.AttrStrings, Strings: [][]byte{[]byte("Gelu")}}}, nil, "activations[0]"},
		{"activation count", "LSTM", []ops.Attr{{Name: "activations", Type: ops.AttrStrings, Strings: [][]byte{[]byte("Tanh")}}}, nil, "activations has 1"},
		{"direction", "GRU", []ops.Attr{{Name: "direction", Type: ops.AttrString, S: []byte("sideways")}}, nil, "direction"},
		{"layout", "GRU", []ops.Attr{optest.Int("layout", 2)}, nil, "layout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := optest.Run(t, Ops(), c.op, 22, c.attrs, []string{"Y", "Y_h"}, c.in...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
