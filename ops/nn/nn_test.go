package nn

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

// Test helpers: nodes from attribute maps, random tensors, index iteration.

func ints(name string, v ...int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInts, Ints: v} }
func intAttr(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
func strAttr(name, v string) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrString, S: []byte(v)}
}
func floatAttr(name string, v float32) ops.Attr {
	return ops.Attr{Name: name, Type: ops.AttrFloat, F: v}
}

// runOp compiles op (the newest version) with attrs and runs it.
func runOp(t *testing.T, op []*ops.Op, outputs int, attrs []ops.Attr, threads int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	n := &ops.Node{Attrs: attrs, Opset: 22, Outputs: make([]string, outputs)}
	for i := range n.Outputs {
		n.Outputs[i] = "y"
	}
	k, err := op[len(op)-1].Compile(n)
	if err != nil {
		return nil, err
	}
	return k.Run(&ops.Ctx{Context: context.Background(), Threads: threads}, in)
}

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	d := make([]float64, prod(shape))
	for i := range d {
		d[i] = r.NormFloat64()
	}
	return tensor.Must(shape, d)
}

func to32(t *tensor.Tensor) *tensor.Tensor {
	src := tensor.Data[float64](t)
	d := make([]float32, len(src))
	for i, v := range src {
		d[i] = float32(v)
	}
	return tensor.Must(t.Shape(), d)
}

// forEach calls f with every index of shape in row-major order.
func forEach(shape []int, f func(idx []int)) {
	idx := make([]int, len(shape))
	if prod(shape) == 0 {
		return
	}
	for {
		f(idx)
		i := len(idx) - 1
		for ; i >= 0; i-- {
			if idx[i]++; idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

func flat(shape, idx []int) int {
	o := 0
	for i, v := range idx {
		o = o*shape[i] + v
	}
	return o
}

func closeTo(t *testing.T, what string, got *tensor.Tensor, want []float64, wantShape []int, tol float64) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), wantShape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), wantShape)
	}
	var g []float64
	switch got.DType() {
	case tensor.Float64:
		g = tensor.Data[float64](got)
	case tensor.Float32:
		g = to64(tensor.Data[float32](got))
	default:
		t.Fatalf("%s: dtype %v", what, got.DType())
	}
	for i := range want {
		if d := math.Abs(g[i] - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, g[i], want[i])
		}
	}
}

// refConv is the direct convolution from its definition.
func refConv(x, w *tensor.Tensor, b []float64, group int, strides, dil, pb []int, outSp []int) ([]float64, []int) {
	xs, ws := x.Shape(), w.Shape()
	xd, wd := tensor.Data[float64](x), tensor.Data[float64](w)
	m, cg := ws[0], ws[1]
	mg := m / group
	outShape := append([]int{xs[0], m}, outSp...)
	out := make([]float64, prod(outShape))
	forEach(outShape, func(o []int) {
		n, mi := o[0], o[1]
		g := mi / mg
		s := 0.0
		if b != nil {
			s = b[mi]
		}
		forEach(ws[1:], func(k []int) {
			ci := g*cg + k[0]
			xi := []int{n, ci}
			for d := range outSp {
				p := o[2+d]*strides[d] - pb[d] + k[1+d]*dil[d]
				if p < 0 || p >= xs[2+d] {
					return
				}
				xi = append(xi, p)
			}
			s += xd[flat(xs, xi)] * wd[flat(ws, append([]int{mi}, k...))]
		})
		out[flat(outShape, o)] = s
	})
	return out, outShape
}

func TestConvAgainstDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name               string
		x, w               []int
		group              int
		strides, dil, pads []int
		autoPad            string
		bias               bool
		wantOut            []int // expected spatial output
	}{
		{"1d", []int{2, 3, 11}, []int{4, 3, 3}, 1, []int{2}, []int{1}, []int{1, 2}, "", true, []int{6}},
		{"2d", []int{1, 4, 7, 6}, []int{6, 2, 3, 2}, 2, []int{1, 2}, []int{2, 1}, []int{1, 0, 2, 1}, "", true, []int{6, 3}},
		{"depthwise", []int{2, 5, 8, 8}, []int{5, 1, 3, 3}, 5, []int{1, 1}, []int{1, 1}, []int{1, 1, 1, 1}, "", false, []int{8, 8}},
		{"3d", []int{1, 2, 5, 4, 6}, []int{3, 2, 2, 3, 2}, 1, []int{1, 1, 2}, []int{1, 1, 1}, []int{0, 1, 0, 1, 0, 1}, "", true, []int{5, 3, 3}},
		{"same_upper", []int{1, 3, 9, 9}, []int{4, 3, 4, 4}, 1, []int{2, 2}, []int{1, 1}, nil, "SAME_UPPER", false, []int{5, 5}},
		{"same_lower", []int{1, 3, 9, 9}, []int{4, 3, 4, 4}, 1, []int{2, 2}, []int{1, 1}, nil, "SAME_LOWER", false, []int{5, 5}},
		{"valid", []int{1, 2, 9, 9}, []int{4, 2, 3, 3}, 1, []int{2, 3}, []int{1, 1}, nil, "VALID", false, []int{4, 3}},
		{"1x1", []int{2, 8, 5, 5}, []int{16, 8, 1, 1}, 1, nil, nil, nil, "", true, []int{5, 5}},
		{"large", []int{1, 16, 40, 40}, []int{32, 16, 3, 3}, 1, []int{1, 1}, []int{1, 1}, []int{1, 1, 1, 1}, "", true, []int{40, 40}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, w := randTensor(r, tc.x...), randTensor(r, tc.w...)
			var b *tensor.Tensor
			var bd []float64
			in := []*tensor.Tensor{x, w}
			if tc.bias {
				b = randTensor(r, tc.w[0])
				bd = tensor.Data[float64](b)
				in = append(in, b)
			}
			attrs := []ops.Attr{intAttr("group", int64(tc.group))}
			nd := len(tc.x) - 2
			strides, dil := tc.strides, tc.dil
			if strides == nil {
				strides = []int{1, 1, 1}[:nd]
			} else {
				attrs = append(attrs, ints("strides", toI64(strides)...))
			}
			if dil == nil {
				dil = []int{1, 1, 1}[:nd]
			} else {
				attrs = append(attrs, ints("dilations", toI64(dil)...))
			}
			pb := make([]int, nd)
			switch {
			case tc.autoPad != "":
				attrs = append(attrs, strAttr("auto_pad", tc.autoPad))
				if strings.HasPrefix(tc.autoPad, "SAME") {
					for i := range nd {
						dk := (tc.w[2+i]-1)*dil[i] + 1
						total := max(0, (tc.wantOut[i]-1)*strides[i]+dk-tc.x[2+i])
						pb[i] = total / 2
						if tc.autoPad == "SAME_LOWER" {
							pb[i] = (total + 1) / 2
						}
					}
				}
			case tc.pads != nil:
				attrs = append(attrs, ints("pads", toI64(tc.pads)...))
				copy(pb, tc.pads)
			}
			want, wantShape := refConv(x, w, bd, tc.group, strides, dil, pb, tc.wantOut)
			for _, threads := range []int{1, 2} {
				got, err := runOp(t, Conv, 1, attrs, threads, in...)
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, "float64", got[0], want, wantShape, 1e-12)
				in32 := make([]*tensor.Tensor, len(in))
				for i, v := range in {
					in32[i] = to32(v)
				}
				got, err = runOp(t, Conv, 1, attrs, threads, in32...)
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, "float32", got[0], want, wantShape, 1e-4)
			}
		})
	}
}

func toI64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// refConvTranspose scatters every input element through the kernel.
func refConvTranspose(x, w *tensor.Tensor, group int, strides, dil, pb, outSp []int) ([]float64, []int) {
	xs, ws := x.Shape(), w.Shape()
	xd, wd := tensor.Data[float64](x), tensor.Data[float64](w)
	cg, mg := xs[1]/group, ws[1]
	outShape := append([]int{xs[0], mg * group}, outSp...)
	out := make([]float64, prod(outShape))
	forEach(xs, func(xi []int) {
		g := xi[1] / cg
		forEach(ws[1:], func(k []int) {
			oi := []int{xi[0], g*mg + k[0]}
			for d := range outSp {
				p := xi[2+d]*strides[d] - pb[d] + k[1+d]*dil[d]
				if p < 0 || p >= outSp[d] {
					return
				}
				oi = append(oi, p)
			}
			out[flat(outShape, oi)] += xd[flat(xs, xi)] * wd[flat(ws, append([]int{xi[1]}, k...))]
		})
	})
	return out, outShape
}

func TestConvTransposeAgainstScatter(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x, w := randTensor(r, 2, 4, 5, 4), randTensor(r, 4, 3, 3, 2)
	attrs := []ops.Attr{intAttr("group", 2), ints("strides", 2, 3), ints("dilations", 1, 2),
		ints("pads", 1, 0, 0, 1), ints("output_padding", 1, 0)}
	// out = s*(in-1) + op + (k-1)*d + 1 - pb - pe
	outSp := []int{2*4 + 1 + 2 + 1 - 1, 3*3 + 0 + 2 + 1 - 1}
	want, shape := refConvTranspose(x, w, 2, []int{2, 3}, []int{1, 2}, []int{1, 0}, outSp)
	got, err := runOp(t, ConvTranspose, 1, attrs, 2, x, w)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "convtranspose", got[0], want, shape, 1e-12)
}

func TestMatMulBroadcast(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := [][2][]int{
		{{3}, {3}}, {{3}, {2, 3, 4}}, {{2, 1, 4, 3}, {5, 3, 2}}, {{6, 5, 7}, {7, 3}}, {{4, 3}, {3}}, {{1, 2, 3}, {4, 3, 2}},
	}
	for _, c := range cases {
		a, b := randTensor(r, c[0]...), randTensor(r, c[1]...)
		got, err := runOp(t, MatMul, 1, nil, 2, to32(a), to32(b))
		if err != nil {
			t.Fatalf("%v x %v: %v", c[0], c[1], err)
		}
		// Reference: promote, broadcast, multiply.
		sa, sb := append([]int{}, c[0]...), append([]int{}, c[1]...)
		if len(sa) == 1 {
			sa = []int{1, sa[0]}
		}
		if len(sb) == 1 {
			sb = []int{sb[0], 1}
		}
		batch, _ := tensor.BroadcastShapes(sa[:len(sa)-2], sb[:len(sb)-2])
		m, k, n := sa[len(sa)-2], sa[len(sa)-1], sb[len(sb)-1]
		full := append(append([]int{}, batch...), m, n)
		want := make([]float64, prod(full))
		ad, bd := tensor.Data[float64](a), tensor.Data[float64](b)
		forEach(full, func(idx []int) {
			s := 0.0
			for p := range k {
				ai := bcastIdx(sa, idx[:len(batch)], idx[len(batch)], p)
				bi := bcastIdx(sb, idx[:len(batch)], p, idx[len(batch)+1])
				s += ad[ai] * bd[bi]
			}
			want[flat(full, idx)] = s
		})
		wantShape := append([]int{}, batch...)
		if len(c[0]) > 1 {
			wantShape = append(wantShape, m)
		}
		if len(c[1]) > 1 {
			wantShape = append(wantShape, n)
		}
		closeTo(t, "matmul", got[0], want, wantShape, 1e-4)
	}
}

// bcastIdx is the flat index of (batch..., i, j) in a matrix stack of shape s.
func bcastIdx(s, batch []int, i, j int) int {
	r := len(s) - 2
	off := 0
	for d := range r {
		v := batch[len(batch)-r+d]
		if s[d] == 1 {
			v = 0
		}
		off = off*s[d] + v
	}
	return (off*s[r]+i)*s[r+1] + j
}

func TestGemmAttributes(t *testing.T) {
	// A (2x3) transposed is stored 3x2; B stored 2x... hand-checked values.
	a := tensor.Must([]int{3, 2}, []float32{1, 4, 2, 5, 3, 6}) // Aᵀ of [[1,2,3],[4,5,6]]
	b := tensor.Must([]int{2, 3}, []float32{1, 0, 1, 0, 1, 1}) // Bᵀ of [[1,0],[0,1],[1,1]]
	c := tensor.Must([]int{2}, []float32{10, 20})
	attrs := []ops.Attr{intAttr("transA", 1), intAttr("transB", 1), floatAttr("alpha", 2), floatAttr("beta", 0.5)}
	got, err := runOp(t, Gemm, 1, attrs, 1, a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	// A·B = [[4,5],[10,11]]; 2*AB + 0.5*C = [[13,20],[25,32]]
	closeTo(t, "gemm", got[0], []float64{13, 20, 25, 32}, []int{2, 2}, 1e-6)
}

// refEinsum evaluates an explicit equation by brute force over every label.
func refEinsum(eq string, in ...*tensor.Tensor) []float64 {
	lhs, out, _ := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	size := map[byte]int{}
	var labels []byte
	for i, tm := range terms {
		for d := range len(tm) {
			if _, ok := size[tm[d]]; !ok {
				labels = append(labels, tm[d])
			}
			size[tm[d]] = in[i].Shape()[d]
		}
	}
	outShape := make([]int, len(out))
	for i := range len(out) {
		outShape[i] = size[out[i]]
	}
	res := make([]float64, prod(outShape))
	all := make([]int, len(labels))
	for i, l := range labels {
		all[i] = size[l]
	}
	forEach(all, func(idx []int) {
		val := map[byte]int{}
		for i, l := range labels {
			val[l] = idx[i]
		}
		p := 1.0
		for i, tm := range terms {
			ii := make([]int, len(tm))
			for d := range len(tm) {
				ii[d] = val[tm[d]]
			}
			p *= tensor.Data[float64](in[i])[flat(in[i].Shape(), ii)]
		}
		oi := make([]int, len(out))
		for d := range len(out) {
			oi[d] = val[out[d]]
		}
		res[flat(outShape, oi)] += p
	})
	return res
}

func TestEinsumAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	cases := []struct {
		eq     string
		shapes [][]int
		shape  []int
	}{
		{"ij,jk->ik", [][]int{{3, 4}, {4, 5}}, []int{3, 5}},
		{"bij,bjk->bik", [][]int{{2, 3, 4}, {2, 4, 5}}, []int{2, 3, 5}},
		{"ii->i", [][]int{{4, 4}}, []int{4}},
		{"ii->", [][]int{{4, 4}}, []int{}},
		{"iji->j", [][]int{{3, 2, 3}}, []int{2}},
		{"ij,ij->", [][]int{{3, 4}, {3, 4}}, []int{}},
		{"ijk,kj,il->lk", [][]int{{2, 3, 4}, {4, 3}, {2, 5}}, []int{5, 4}},
		{"bhqd,bhkd->bhqk", [][]int{{2, 3, 4, 5}, {2, 3, 6, 5}}, []int{2, 3, 4, 6}},
		{"i,j->ij", [][]int{{3}, {4}}, []int{3, 4}},
		{"abc,cd,de->ae", [][]int{{2, 3, 4}, {4, 5}, {5, 2}}, []int{2, 2}},
	}
	for _, tc := range cases {
		in := make([]*tensor.Tensor, len(tc.shapes))
		for i, s := range tc.shapes {
			in[i] = randTensor(r, s...)
		}
		want := refEinsum(tc.eq, in...)
		got, err := runOp(t, Einsum, 1, []ops.Attr{strAttr("equation", tc.eq)}, 2, in...)
		if err != nil {
			t.Fatalf("%s: %v", tc.eq, err)
		}
		closeTo(t, tc.eq, got[0], want, tc.shape, 1e-12)
	}
}

func TestEinsumEllipsisAndImplicit(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	a, b := randTensor(r, 2, 3, 4), randTensor(r, 4, 5)
	// "...ij,jk" implicit: output is ...ik; same as batched matmul.
	got, err := runOp(t, Einsum, 1, []ops.Attr{strAttr("equation", "...ij,jk")}, 1, a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := refEinsum("bij,jk->bik", a, b)
	closeTo(t, "ellipsis", got[0], want, []int{2, 3, 5}, 1e-12)
	// Implicit output sorts labels alphabetically: "ba" -> "ab" is a transpose.
	got, err = runOp(t, Einsum, 1, []ops.Attr{strAttr("equation", "ba")}, 1, b)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "implicit transpose", got[0], refEinsum("ba->ab", b), []int{5, 4}, 0)
}

func TestDet(t *testing.T) {
	x := tensor.Must([]int{2, 3, 3}, []float64{
		2, 0, 1, 1, 3, 2, 1, 1, 1, // det = 2(3-2) - 0 + 1(1-3) = 0
		0, 1, 0, 1, 0, 0, 0, 0, 4, // a row swap: det = -4
	})
	got, err := runOp(t, Det, 1, nil, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "det", got[0], []float64{0, -4}, []int{2}, 1e-12)
}

// refPool computes max/avg pools from the definition.
func refPool(x *tensor.Tensor, kind poolKind, k, s, pb, pe, outSp []int, includePad bool) ([]float64, []int64) {
	xs := x.Shape()
	xd := tensor.Data[float64](x)
	outShape := append([]int{xs[0], xs[1]}, outSp...)
	out := make([]float64, prod(outShape))
	idx := make([]int64, len(out))
	forEach(outShape, func(o []int) {
		best, bestAt, sum, cnt, padCnt := math.Inf(-1), -1, 0.0, 0, 0
		forEach(k, func(kk []int) {
			xi := []int{o[0], o[1]}
			inside, inPadded := true, true
			for d := range outSp {
				p := o[2+d]*s[d] - pb[d] + kk[d]
				inside = inside && p >= 0 && p < xs[2+d]
				inPadded = inPadded && p < xs[2+d]+pe[d]
				xi = append(xi, p)
			}
			if inPadded {
				padCnt++
			}
			if !inside {
				return
			}
			v := xd[flat(xs, xi)]
			cnt++
			sum += v
			if v > best {
				best, bestAt = v, flat(xs, xi)
			}
		})
		i := flat(outShape, o)
		switch kind {
		case poolMax:
			out[i], idx[i] = best, int64(bestAt)
		case poolAvg:
			if includePad {
				out[i] = sum / float64(padCnt)
			} else {
				out[i] = sum / float64(cnt)
			}
		}
	})
	return out, idx
}

func TestPoolsAgainstDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x := randTensor(r, 2, 3, 7, 8)
	k, s, pb, pe := []int{3, 2}, []int{2, 3}, []int{1, 0}, []int{1, 1}
	attrs := []ops.Attr{ints("kernel_shape", 3, 2), ints("strides", 2, 3), ints("pads", 1, 0, 1, 1), intAttr("ceil_mode", 1)}
	// ceil((7+2-3)/2)+1 = 4; ceil((8+1-2)/3)+1 = 4, last window starts at 9 >= 8+0: 3.
	outSp := []int{4, 3}
	wantMax, wantIdx := refPool(x, poolMax, k, s, pb, pe, outSp, false)
	got, err := runOp(t, MaxPool, 2, attrs, 2, x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "maxpool", got[0], wantMax, []int{2, 3, 4, 3}, 0)
	for i, v := range tensor.Data[int64](got[1]) {
		if v != wantIdx[i] {
			t.Fatalf("maxpool index %d = %d, want %d", i, v, wantIdx[i])
		}
	}
	for _, include := range []bool{false, true} {
		want, _ := refPool(x, poolAvg, k, s, pb, pe, outSp, include)
		a := append(attrs[:len(attrs):len(attrs)], intAttr("count_include_pad", map[bool]int64{false: 0, true: 1}[include]))
		got, err := runOp(t, AveragePool, 1, a, 1, x)
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, "averagepool", got[0], want, []int{2, 3, 4, 3}, 1e-12)
	}
}

func TestBadInputs(t *testing.T) {
	f := func(shape ...int) *tensor.Tensor { return tensor.Zeros(tensor.Float32, shape...) }
	cases := []struct {
		name string
		op   []*ops.Op
		attr []ops.Attr
		in   []*tensor.Tensor
		want string
	}{
		{"matmul inner", MatMul, nil, []*tensor.Tensor{f(2, 3), f(4, 5)}, "inner dimensions differ"},
		{"matmul batch", MatMul, nil, []*tensor.Tensor{f(2, 2, 3), f(3, 3, 5)}, "batch dimensions"},
		{"gemm inner", Gemm, nil, []*tensor.Tensor{f(2, 3), f(4, 5)}, "inner dimensions differ"},
		{"gemm C", Gemm, nil, []*tensor.Tensor{f(2, 3), f(3, 5), f(3)}, "does not broadcast"},
		{"conv channels", Conv, nil, []*tensor.Tensor{f(1, 3, 5, 5), f(4, 2, 3, 3)}, "channel mismatch"},
		{"conv group", Conv, []ops.Attr{intAttr("group", 2)}, []*tensor.Tensor{f(1, 4, 5, 5), f(3, 2, 3, 3)}, "not divisible by group"},
		{"conv kernel", Conv, nil, []*tensor.Tensor{f(1, 1, 2, 5), f(1, 1, 3, 3)}, "spatial axis 0"},
		{"conv rank", Conv, nil, []*tensor.Tensor{f(1, 1), f(1, 1, 3)}, "at least one spatial axis"},
		{"pool kernel", MaxPool, []ops.Attr{ints("kernel_shape", 4)}, []*tensor.Tensor{f(1, 1, 3)}, "larger than the padded input"},
		{"convtranspose channels", ConvTranspose, nil, []*tensor.Tensor{f(1, 3, 5, 5), f(2, 2, 3, 3)}, "channel mismatch"},
		{"einsum sizes", Einsum, []ops.Attr{strAttr("equation", "ij,jk->ik")}, []*tensor.Tensor{f(2, 3), f(4, 5)}, "label 'j'"},
		{"det square", Det, nil, []*tensor.Tensor{f(2, 3)}, "square"},
		{"maxunpool index", MaxUnpool, []ops.Attr{ints("kernel_shape", 2)},
			[]*tensor.Tensor{f(1, 1, 2), tensor.Must([]int{1, 1, 2}, []int64{0, 9})}, "out of range"},
	}
	for _, tc := range cases {
		_, err := runOp(t, tc.op, 1, tc.attr, 1, tc.in...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestInfer(t *testing.T) {
	tt := func(shape ...int) tensor.Type { return tensor.TensorType(tensor.Float32, shape...) }
	n := &ops.Node{Attrs: []ops.Attr{ints("strides", 2, 2), ints("pads", 1, 1, 1, 1)}}
	got, err := Conv[0].Infer(n, []tensor.Type{tt(2, 3, 9, 9), tt(8, 3, 3, 3)})
	if err != nil || !optest.SameType(got[0], tt(2, 8, 5, 5)) {
		t.Fatalf("Conv infer = %+v, %v", got, err)
	}
	got, err = MatMul[0].Infer(&ops.Node{}, []tensor.Type{tt(5, 1, 2, 3), tt(4, 3, 6)})
	if err != nil || !optest.SameType(got[0], tt(5, 4, 2, 6)) {
		t.Fatalf("MatMul infer = %+v, %v", got, err)
	}
	got, err = Gemm[0].Infer(&ops.Node{Attrs: []ops.Attr{intAttr("transA", 1)}}, []tensor.Type{tt(3, 2), tt(3, 7)})
	if err != nil || !optest.SameType(got[0], tt(2, 7)) {
		t.Fatalf("Gemm infer = %+v, %v", got, err)
	}
	// Symbolic dimensions carry over.
	sym := tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32, HasShape: true,
		Shape: []tensor.Dim{{Size: -1, Param: "batch"}, {Size: 3}, {Size: 9}, {Size: 9}}}
	got, err = Conv[0].Infer(n, []tensor.Type{sym, tt(8, 3, 3, 3)})
	if err != nil || got[0].Shape[0].Param != "batch" || got[0].Shape[1].Size != 8 || got[0].Shape[3].Size != 5 {
		t.Fatalf("Conv symbolic infer = %+v, %v", got, err)
	}
	sym.Shape = []tensor.Dim{{Size: -1, Param: "batch"}, {Size: -1, Param: "seq"}, {Size: 4}}
	got, err = MatMul[0].Infer(&ops.Node{}, []tensor.Type{sym, tt(4, 6)})
	if err != nil || got[0].Shape[0].Param != "batch" || got[0].Shape[1].Param != "seq" || got[0].Shape[2].Size != 6 {
		t.Fatalf("MatMul symbolic infer = %+v, %v", got, err)
	}
	pn := &ops.Node{Attrs: []ops.Attr{ints("kernel_shape", 2, 2), ints("strides", 2, 2)}}
	got, err = MaxPool[0].Infer(pn, []tensor.Type{tt(1, 3, 7, 6)})
	if err != nil || !optest.SameType(got[0], tt(1, 3, 3, 3)) {
		t.Fatalf("MaxPool infer = %+v, %v", got, err)
	}
}

func TestMaxPoolColumnMajorIndices(t *testing.T) {
	// One 2x3 plane; a 2x2 window at stride 1 gives maxima at (1,1) and (1,2).
	x := tensor.Must([]int{1, 1, 2, 3}, []float32{1, 2, 3, 4, 6, 5})
	attrs := []ops.Attr{ints("kernel_shape", 2, 2), intAttr("storage_order", 1)}
	got, err := runOp(t, MaxPool, 2, attrs, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	// Column-major offsets in a 2x3 plane: (h, w) -> h + 2*w.
	if ind := tensor.Data[int64](got[1]); ind[0] != 1+2*1 || ind[1] != 1+2*1 {
		t.Fatalf("indices %v, want [3 3]", ind)
	}
	got, err = runOp(t, MaxPool, 2, attrs[:1], 1, x)
	if err != nil {
		t.Fatal(err)
	}
	if ind := tensor.Data[int64](got[1]); ind[0] != 4 || ind[1] != 4 {
		t.Fatalf("row-major indices %v, want [4 4]", ind)
	}
}

func TestMaxUnpoolInvertsMaxPool(t *testing.T) {
	x := tensor.Must([]int{1, 1, 4}, []float32{1, 5, 2, 3})
	attrs := []ops.Attr{ints("kernel_shape", 2), ints("strides", 2)}
	p, err := runOp(t, MaxPool, 2, attrs, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := runOp(t, MaxUnpool, 1, attrs, 1, p[0], p[1], tensor.Must([]int{3}, []int64{1, 1, 6}))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "maxunpool", got[0], []float64{0, 5, 0, 3, 0, 0}, []int{1, 1, 6}, 0)
}

func TestLpPools(t *testing.T) {
	x := tensor.Must([]int{1, 1, 4}, []float64{1, -2, 3, -4})
	got, err := runOp(t, LpPool, 1, []ops.Attr{ints("kernel_shape", 2), intAttr("p", 3)}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	c := func(a, b float64) float64 { return math.Cbrt(math.Abs(a*a*a) + math.Abs(b*b*b)) }
	closeTo(t, "lppool p=3", got[0], []float64{c(1, 2), c(2, 3), c(3, 4)}, []int{1, 1, 3}, 1e-12)
	got, err = runOp(t, GlobalLpPool, 1, nil, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "globallppool", got[0], []float64{math.Sqrt(30)}, []int{1, 1, 1}, 1e-12)
}

func TestHalfPrecisionRoundsOnce(t *testing.T) {
	h := func(v ...float32) []tensor.Float16Bits {
		out := make([]tensor.Float16Bits, len(v))
		for i, f := range v {
			out[i] = tensor.Float16FromFloat32(f)
		}
		return out
	}
	// [1 2; 3 4] x [0.5; 0.25] = [1; 2.5], exact in float16.
	a := tensor.Must([]int{2, 2}, h(1, 2, 3, 4))
	b := tensor.Must([]int{2}, h(0.5, 0.25))
	got, err := runOp(t, MatMul, 1, nil, 1, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].DType() != tensor.Float16 {
		t.Fatalf("dtype %v, want float16", got[0].DType())
	}
	if y := tensor.Data[tensor.Float16Bits](got[0]); y[0].Float32() != 1 || y[1].Float32() != 2.5 {
		t.Fatalf("got %v %v, want 1 2.5", y[0].Float32(), y[1].Float32())
	}
	bf := tensor.Must([]int{1, 1, 2}, []tensor.BFloat16Bits{tensor.BFloat16FromFloat32(1), tensor.BFloat16FromFloat32(3)})
	got, err = runOp(t, GlobalAveragePool, 1, nil, 1, bf)
	if err != nil {
		t.Fatal(err)
	}
	if y := tensor.Data[tensor.BFloat16Bits](got[0]); y[0].Float32() != 2 {
		t.Fatalf("bfloat16 mean %v, want 2", y[0].Float32())
	}
}

func TestEinsumEllipsisBroadcast(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	a, b := randTensor(r, 2, 1, 3, 4), randTensor(r, 5, 4, 2)
	got, err := runOp(t, Einsum, 1, []ops.Attr{strAttr("equation", "...ij,...jk->...ik")}, 2, a, b)
	if err != nil {
		t.Fatal(err)
	}
	// numpy matmul broadcasts the batch dimensions the same way (checked
	// against a direct loop in TestMatMulBroadcast).
	want, err := runOp(t, MatMul, 1, nil, 1, a, b)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "ellipsis broadcast", got[0], tensor.Data[float64](want[0]), []int{2, 5, 3, 2}, 1e-12)
}
