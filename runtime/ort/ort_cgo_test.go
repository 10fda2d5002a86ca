//go:build cgo

package ort_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// needORT skips the test when the ONNX Runtime library is absent (`make test`
// always installs it first).
func needORT(t testing.TB) {
	t.Helper()
	lib := ort.DefaultLibrary()
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("ONNX Runtime library %s not found; run `make ort` or set GORT_ORT_LIB", lib)
	}
}

func ortSession(t testing.TB, m *ir.Model, o ort.Options) *runtime.Session {
	t.Helper()
	s, err := runtime.NewSession(m, runtime.Options{Provider: ort.New(o)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randF32(r *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.Zeros(tensor.Float32, shape...)
	d := tensor.Data[float32](x)
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return x
}

// floats widens a float tensor to float64, or returns nil for other dtypes.
func floats(x *tensor.Tensor) []float64 {
	var out []float64
	switch d := x.Raw().(type) {
	case []float32:
		for _, v := range d {
			out = append(out, float64(v))
		}
	case []float64:
		out = append(out, d...)
	case []tensor.Float16Bits:
		for _, v := range d {
			out = append(out, float64(v.Float32()))
		}
	default:
		return nil
	}
	return out
}

// close reports how got differs from want: same dtype and shape, floats
// within rtol/atol (NaN matching NaN), everything else exactly equal.
func closeTo(got, want *tensor.Tensor, rtol, atol float64) error {
	if got.DType() != want.DType() || !tensor.SameShape(got.Shape(), want.Shape()) {
		return fmt.Errorf("got %v%v, want %v%v", got.DType(), got.Shape(), want.DType(), want.Shape())
	}
	g, w := floats(got), floats(want)
	if g == nil {
		if !tensor.Equal(got, want) {
			return fmt.Errorf("got %v, want %v", got, want)
		}
		return nil
	}
	for i := range g {
		if math.IsNaN(g[i]) && math.IsNaN(w[i]) {
			continue
		}
		if math.Abs(g[i]-w[i]) > atol+rtol*math.Abs(w[i]) {
			return fmt.Errorf("element %d: got %g, want %g", i, g[i], w[i])
		}
	}
	return nil
}

// ORT's outputs must match the native provider's on the same graph.
func TestMatchesNative(t *testing.T) {
	needORT(t)
	r := rand.New(rand.NewPCG(1, 2))
	w := &ir.Initializer{Name: "w", T: randF32(r, 4, 3)}
	cases := []struct {
		name  string
		m     *ir.Model
		feeds map[string]*tensor.Tensor
	}{
		{"Add broadcast",
			model(14, []*ir.Node{node("Add", []string{"a", "b"}, []string{"y"})},
				[]*ir.ValueInfo{vi("a", tensor.Float32, 2, 3), vi("b", tensor.Float32, 3)},
				[]*ir.ValueInfo{out("y", tensor.Float32)}),
			map[string]*tensor.Tensor{"a": randF32(r, 2, 3), "b": randF32(r, 3)}},
		{"MatMul+Relu with an initializer",
			model(13, []*ir.Node{
				node("MatMul", []string{"x", "w"}, []string{"h"}),
				node("Relu", []string{"h"}, []string{"y"}),
			}, []*ir.ValueInfo{vi("x", tensor.Float32, 5, 4)}, []*ir.ValueInfo{out("y", tensor.Float32)}, w),
			map[string]*tensor.Tensor{"x": randF32(r, 5, 4)}},
		{"Cast float32 to int32 and float16",
			model(13, []*ir.Node{
				node("Cast", []string{"x"}, []string{"i"}, intAttr("to", int64(tensor.Int32))),
				node("Cast", []string{"x"}, []string{"h"}, intAttr("to", int64(tensor.Float16))),
			}, []*ir.ValueInfo{vi("x", tensor.Float32, 6)},
				[]*ir.ValueInfo{out("i", tensor.Int32), out("h", tensor.Float16)}),
			map[string]*tensor.Tensor{"x": tensor.Must([]int{6}, []float32{-2.7, -0.5, 0, 1.49, 3.99, 1e4})}},
		{"ReduceSum to a scalar",
			model(13, []*ir.Node{node("ReduceSum", []string{"x"}, []string{"y"}, intAttr("keepdims", 0))},
				[]*ir.ValueInfo{vi("x", tensor.Float32, 3, 4)}, []*ir.ValueInfo{out("y", tensor.Float32)}),
			map[string]*tensor.Tensor{"x": randF32(r, 3, 4)}},
		{"Softmax",
			model(13, []*ir.Node{node("Softmax", []string{"x"}, []string{"y"}, intAttr("axis", -1))},
				[]*ir.ValueInfo{vi("x", tensor.Float32, 2, 5)}, []*ir.ValueInfo{out("y", tensor.Float32)}),
			map[string]*tensor.Tensor{"x": randF32(r, 2, 5)}},
		{"Where on bool",
			model(16, []*ir.Node{node("Where", []string{"c", "a", "b"}, []string{"y"})},
				[]*ir.ValueInfo{vi("c", tensor.Bool, 4), vi("a", tensor.Int64, 4), vi("b", tensor.Int64)},
				[]*ir.ValueInfo{out("y", tensor.Int64)}),
			map[string]*tensor.Tensor{
				"c": tensor.Must([]int{4}, []bool{true, false, false, true}),
				"a": tensor.Must([]int{4}, []int64{1, 2, 3, 4}),
				"b": tensor.Scalar(int64(-9)),
			}},
		{"Add float16",
			model(14, []*ir.Node{node("Add", []string{"a", "b"}, []string{"y"})},
				[]*ir.ValueInfo{vi("a", tensor.Float16, 3), vi("b", tensor.Float16, 3)},
				[]*ir.ValueInfo{out("y", tensor.Float16)}),
			map[string]*tensor.Tensor{
				"a": tensor.Must([]int{3}, []tensor.Float16Bits{0x3c00, 0x4000, 0x7bff}),
				"b": tensor.Must([]int{3}, []tensor.Float16Bits{0x3800, 0xc000, 0x7bff}),
			}},
		{"Gemm transB alpha beta",
			model(13, []*ir.Node{node("Gemm", []string{"a", "b", "c"}, []string{"y"},
				intAttr("transB", 1), floatAttr("alpha", 0.5), floatAttr("beta", 2))},
				[]*ir.ValueInfo{vi("a", tensor.Float32, 3, 4), vi("b", tensor.Float32, 5, 4), vi("c", tensor.Float32, 5)},
				[]*ir.ValueInfo{out("y", tensor.Float32)}),
			map[string]*tensor.Tensor{"a": randF32(r, 3, 4), "b": randF32(r, 5, 4), "c": randF32(r, 5)}},
		{"Conv strided padded",
			model(11, []*ir.Node{node("Conv", []string{"x", "k", "bias"}, []string{"y"},
				intsAttr("pads", 1, 0, 1, 2), intsAttr("strides", 2, 1))},
				[]*ir.ValueInfo{vi("x", tensor.Float32, 2, 3, 7, 6), vi("k", tensor.Float32, 4, 3, 3, 2), vi("bias", tensor.Float32, 4)},
				[]*ir.ValueInfo{out("y", tensor.Float32)}),
			map[string]*tensor.Tensor{"x": randF32(r, 2, 3, 7, 6), "k": randF32(r, 4, 3, 3, 2), "bias": randF32(r, 4)}},
		{"LayerNormalization",
			model(17, []*ir.Node{node("LayerNormalization", []string{"x", "g", "b"}, []string{"y"}, intAttr("axis", -1))},
				[]*ir.ValueInfo{vi("x", tensor.Float32, 2, 3, 8), vi("g", tensor.Float32, 8), vi("b", tensor.Float32, 8)},
				[]*ir.ValueInfo{out("y", tensor.Float32)}),
			map[string]*tensor.Tensor{"x": randF32(r, 2, 3, 8), "g": randF32(r, 8), "b": randF32(r, 8)}},
		{"Gather negative indices, Transpose, Concat",
			model(13, []*ir.Node{
				node("Gather", []string{"x", "i"}, []string{"g"}, intAttr("axis", 1)),
				node("Transpose", []string{"g"}, []string{"t"}, intsAttr("perm", 1, 0, 2)),
				node("Concat", []string{"t", "t"}, []string{"y"}, intAttr("axis", 2)),
			}, []*ir.ValueInfo{vi("x", tensor.Float32, 2, 5, 3), vi("i", tensor.Int64, 4)},
				[]*ir.ValueInfo{out("y", tensor.Float32)}),
			map[string]*tensor.Tensor{"x": randF32(r, 2, 5, 3), "i": tensor.Must([]int{4}, []int64{0, -1, 2, -5})}},
		{"MaxPool, Sigmoid, Tanh",
			model(13, []*ir.Node{
				node("MaxPool", []string{"x"}, []string{"p"}, intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2)),
				node("Sigmoid", []string{"p"}, []string{"s"}),
				node("Tanh", []string{"p"}, []string{"y"}),
			}, []*ir.ValueInfo{vi("x", tensor.Float32, 1, 2, 4, 6)},
				[]*ir.ValueInfo{out("s", tensor.Float32), out("y", tensor.Float32)}),
			map[string]*tensor.Tensor{"x": randF32(r, 1, 2, 4, 6)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			native, err := runtime.NewSession(c.m, runtime.Options{})
			if err != nil {
				t.Skipf("native provider cannot run it yet: %v", err)
			}
			want, err := native.Run(context.Background(), c.feeds)
			if err != nil {
				t.Fatalf("native: %v", err)
			}
			got, err := ortSession(t, c.m, ort.Options{}).Run(context.Background(), c.feeds)
			if err != nil {
				t.Fatalf("ort: %v", err)
			}
			for name, w := range want {
				if err := closeTo(got[name], w, 1e-5, 1e-6); err != nil {
					t.Errorf("output %q: %v", name, err)
				}
			}
		})
	}
}

// Identity through ORT returns every dtype, rank and size unchanged.
func TestDTypesRoundTrip(t *testing.T) {
	needORT(t)
	cases := []*tensor.Tensor{
		tensor.Must([]int{2, 2}, []float32{1, -2, float32(math.Inf(1)), float32(math.NaN())}),
		tensor.Must([]int{3}, []float64{math.Pi, -0.0, math.SmallestNonzeroFloat64}),
		tensor.Must([]int{2}, []tensor.Float16Bits{0x3c00, 0xfbff}),
		tensor.Must([]int{2}, []tensor.BFloat16Bits{0x3f80, 0xc2f7}),
		tensor.Must([]int{2}, []int8{-128, 127}),
		tensor.Must([]int{2}, []int16{-32768, 32767}),
		tensor.Must([]int{2}, []int32{math.MinInt32, math.MaxInt32}),
		tensor.Must([]int{2}, []int64{math.MinInt64, math.MaxInt64}),
		tensor.Must([]int{2}, []uint8{0, 255}),
		tensor.Must([]int{2}, []uint16{0, 65535}),
		tensor.Must([]int{2}, []uint32{0, math.MaxUint32}),
		tensor.Must([]int{2}, []uint64{0, math.MaxUint64}),
		tensor.Must([]int{3}, []bool{true, false, true}),
		tensor.Must([]int{3}, []string{"", "héllo", "a\x00b"}),
		tensor.Must([]int{2}, []tensor.F8E4M3FN{0x38, 0xfe}),
		tensor.Must([]int{2}, []tensor.F8E5M2{0x3c, 0xfb}),
		tensor.Scalar(float32(2.5)),
		tensor.Scalar(tensor.Float16Bits(0x3c00)),
		tensor.Scalar("scalar"),
		tensor.Scalar(true),
		tensor.Zeros(tensor.Float32, 0, 3),
		tensor.Zeros(tensor.String, 2, 0),
		tensor.Zeros(tensor.Int64, 1, 1, 1, 1, 1, 1, 2),
	}
	for _, x := range cases {
		t.Run(fmt.Sprintf("%v%v", x.DType(), x.Shape()), func(t *testing.T) {
			m := model(21, []*ir.Node{node("Identity", []string{"x"}, []string{"y"})},
				[]*ir.ValueInfo{vi("x", x.DType(), x.Shape()...)}, []*ir.ValueInfo{out("y", x.DType())})
			s, err := runtime.NewSession(m, runtime.Options{Provider: ort.New(ort.Options{})})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.Equal(got["y"], x) {
				t.Errorf("got %v, want %v", got["y"], x)
			}
		})
	}
}

// ORT packs 4-bit integers two to a byte and 2-bit ones four to a byte, low
// bits first; it has no Identity for them, so Cast carries them in and out.
// int2 and uint2 also pin down the element type numbering (see wireInputs).
func TestSubByteIntegers(t *testing.T) {
	needORT(t)
	for _, c := range []struct {
		d    tensor.DType
		x    *tensor.Tensor
		want []int8
	}{
		{tensor.Int4, tensor.Must([]int{5}, []tensor.I4{-8, 7, -1, 0, 3}), []int8{-8, 7, -1, 0, 3}},
		{tensor.Uint4, tensor.Must([]int{5}, []tensor.U4{0, 15, 9, 1, 8}), []int8{0, 15, 9, 1, 8}},
		{tensor.Int2, tensor.Must([]int{5}, []tensor.I2{-2, 1, -1, 0, 1}), []int8{-2, 1, -1, 0, 1}},
		{tensor.Uint2, tensor.Must([]int{5}, []tensor.U2{3, 0, 2, 1, 3}), []int8{3, 0, 2, 1, 3}},
	} {
		t.Run(c.d.String(), func(t *testing.T) {
			m := model(25, []*ir.Node{ // Cast takes 2-bit types since opset 25
				node("Cast", []string{"x"}, []string{"wide"}, intAttr("to", int64(tensor.Int8))),
				node("Cast", []string{"wide"}, []string{"back"}, intAttr("to", int64(c.d))),
			}, []*ir.ValueInfo{vi("x", c.d, 5)}, []*ir.ValueInfo{out("wide", tensor.Int8), out("back", c.d)})
			got, err := ortSession(t, m, ort.Options{}).Run(context.Background(), map[string]*tensor.Tensor{"x": c.x})
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.Equal(got["wide"], tensor.Must([]int{5}, c.want)) {
				t.Errorf("Cast to int8: got %v, want %v", got["wide"], c.want)
			}
			if !tensor.Equal(got["back"], c.x) {
				t.Errorf("Cast back: got %v, want %v", got["back"], c.x)
			}
		})
	}
}

// float8e8m0 is the third type whose C API number differs from onnx.proto's.
func TestFloat8E8M0(t *testing.T) {
	needORT(t)
	x := tensor.Must([]int{4}, []float32{0.25, 1, 4, 1024})
	m := model(24, []*ir.Node{
		node("Cast", []string{"x"}, []string{"e"}, intAttr("to", int64(tensor.Float8E8M0))),
		node("Cast", []string{"e"}, []string{"back"}, intAttr("to", int64(tensor.Float32))),
	}, []*ir.ValueInfo{vi("x", tensor.Float32, 4)}, []*ir.ValueInfo{out("e", tensor.Float8E8M0), out("back", tensor.Float32)})
	s := ortSession(t, m, ort.Options{})
	got, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	// e8m0 holds 2^(e-127): the exponent byte is log2(x) + 127.
	e := tensor.Must([]int{4}, []tensor.F8E8M0{125, 127, 129, 137})
	if !tensor.Equal(got["e"], e) || !tensor.Equal(got["back"], x) {
		t.Errorf("got %v and %v, want %v and %v", got["e"], got["back"], e, x)
	}
	// And as an input: a model fed e8m0 directly.
	m2 := model(24, []*ir.Node{node("Cast", []string{"e"}, []string{"y"}, intAttr("to", int64(tensor.Float32)))},
		[]*ir.ValueInfo{vi("e", tensor.Float8E8M0, 4)}, []*ir.ValueInfo{out("y", tensor.Float32)})
	got, err = ortSession(t, m2, ort.Options{}).Run(context.Background(), map[string]*tensor.Tensor{"e": e})
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.Equal(got["y"], x) {
		t.Errorf("e8m0 input: got %v, want %v", got["y"], x)
	}
}

// An initializer-backed input keeps its initializer unless it is fed.
func TestInitializerOverride(t *testing.T) {
	needORT(t)
	b := &ir.Initializer{Name: "b", T: tensor.Must([]int{2}, []float32{10, 20})}
	m := model(14, []*ir.Node{node("Add", []string{"x", "b"}, []string{"y"})},
		[]*ir.ValueInfo{vi("x", tensor.Float32, 2), vi("b", tensor.Float32, 2)},
		[]*ir.ValueInfo{out("y", tensor.Float32)}, b)
	s := ortSession(t, m, ort.Options{IntraOpThreads: 1})
	x := tensor.Must([]int{2}, []float32{1, 2})
	for _, c := range []struct {
		feeds map[string]*tensor.Tensor
		want  []float32
	}{
		{map[string]*tensor.Tensor{"x": x}, []float32{11, 22}},
		{map[string]*tensor.Tensor{"x": x, "b": tensor.Must([]int{2}, []float32{-1, -2})}, []float32{0, 0}},
	} {
		got, err := s.Run(context.Background(), c.feeds)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.Equal(got["y"], tensor.Must([]int{2}, c.want)) {
			t.Errorf("feeding %d inputs: got %v, want %v", len(c.feeds), got["y"], c.want)
		}
	}
}

func TestConcurrentRuns(t *testing.T) {
	needORT(t)
	r := rand.New(rand.NewPCG(3, 4))
	w := &ir.Initializer{Name: "w", T: randF32(r, 16, 16)}
	m := model(13, []*ir.Node{
		node("MatMul", []string{"x", "w"}, []string{"h"}),
		node("Relu", []string{"h"}, []string{"y"}),
	}, []*ir.ValueInfo{vi("x", tensor.Float32, 8, 16)}, []*ir.ValueInfo{out("y", tensor.Float32)}, w)
	s := ortSession(t, m, ort.Options{})
	xs := make([]*tensor.Tensor, 8)
	want := make([]*tensor.Tensor, len(xs))
	for i := range xs {
		xs[i] = randF32(r, 8, 16)
		got, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": xs[i]})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = got["y"]
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(xs))
	for i := range xs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 25; k++ {
				got, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": xs[i]})
				if err == nil && !tensor.Equal(got["y"], want[i]) {
					err = fmt.Errorf("goroutine %d run %d: result differs", i, k)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCancelledContext(t *testing.T) {
	needORT(t)
	m := model(13, []*ir.Node{node("Relu", []string{"x"}, []string{"y"})},
		[]*ir.ValueInfo{vi("x", tensor.Float32, 2)}, []*ir.ValueInfo{out("y", tensor.Float32)})
	s := ortSession(t, m, ort.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Run(ctx, map[string]*tensor.Tensor{"x": tensor.Must([]int{2}, []float32{1, -1})})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// Cancelling during a long run terminates it (or the run finishes first).
func TestCancelDuringRun(t *testing.T) {
	needORT(t)
	r := rand.New(rand.NewPCG(5, 6))
	var nodes []*ir.Node
	prev := "x"
	for i := 0; i < 200; i++ {
		o := fmt.Sprintf("h%d", i)
		nodes = append(nodes, node("MatMul", []string{prev, "w"}, []string{o}))
		prev = o
	}
	nodes = append(nodes, node("Identity", []string{prev}, []string{"y"}))
	m := model(13, nodes, []*ir.ValueInfo{vi("x", tensor.Float32, 256, 256)}, []*ir.ValueInfo{out("y", tensor.Float32)},
		&ir.Initializer{Name: "w", T: randF32(r, 256, 256)})
	s := ortSession(t, m, ort.Options{IntraOpThreads: 1})
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	_, err := s.Run(ctx, map[string]*tensor.Tensor{"x": randF32(r, 256, 256)})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want nil or context.Canceled", err)
	}
}

func TestNonTensorValues(t *testing.T) {
	needORT(t)
	m := model(13, []*ir.Node{node("Relu", []string{"x"}, []string{"y"})},
		[]*ir.ValueInfo{{Name: "x", Type: tensor.Type{Kind: tensor.KindUnknown}}}, []*ir.ValueInfo{out("y", tensor.Float32)})
	prog, err := ort.New(ort.Options{}).Prepare(m, runtime.Options{})
	if err != nil {
		t.Skipf("ORT rejects an untyped input: %v", err)
	}
	defer prog.Close()
	seq := &tensor.Sequence{Elem: tensor.TensorType(tensor.Float32, 2), Items: []tensor.Value{tensor.Must([]int{2}, []float32{1, 2})}}
	_, err = prog.Run(context.Background(), map[string]tensor.Value{"x": seq})
	if !errors.Is(err, runtime.ErrUnavailable) || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("feeding a sequence: got %v, want an unavailable error naming input \"x\"", err)
	}

	elem := tensor.TensorType(tensor.Float32, 2)
	seqOut := model(13, []*ir.Node{node("SequenceConstruct", []string{"a"}, []string{"s"})},
		[]*ir.ValueInfo{vi("a", tensor.Float32, 2)},
		[]*ir.ValueInfo{{Name: "s", Type: tensor.Type{Kind: tensor.KindSequence, Elem: &elem}}})
	_, err = ort.New(ort.Options{}).Prepare(seqOut, runtime.Options{})
	if !errors.Is(err, runtime.ErrUnavailable) || !strings.Contains(err.Error(), `"s"`) {
		t.Errorf("sequence output: got %v, want an unavailable error naming output \"s\"", err)
	}
}

// The library `make ort` installs is CPU-only: asking for a GPU provider
// says so.
func TestGPUProviderMissing(t *testing.T) {
	needORT(t)
	m := model(13, []*ir.Node{node("Relu", []string{"x"}, []string{"y"})},
		[]*ir.ValueInfo{vi("x", tensor.Float32, 2)}, []*ir.ValueInfo{out("y", tensor.Float32)})
	for _, ep := range []string{"cuda", "tensorrt"} {
		p, err := ort.New(ort.Options{EP: ep}).Prepare(m, runtime.Options{})
		if err == nil {
			p.Close()
			t.Logf("%s is available in this ONNX Runtime", ep)
			continue
		}
		if !errors.Is(err, runtime.ErrUnavailable) || !strings.Contains(err.Error(), ep) || !strings.Contains(err.Error(), "CPU-only") {
			t.Errorf("EP %s: got %v, want an unavailable error naming it and saying the library is CPU-only", ep, err)
		}
	}
	if _, err := ort.New(ort.Options{EP: "tpu"}).Prepare(m, runtime.Options{}); err == nil || !strings.Contains(err.Error(), "tpu") {
		t.Errorf("unknown EP: got %v", err)
	}
}

func TestCloseTwiceAndRunAfterClose(t *testing.T) {
	needORT(t)
	m := model(13, []*ir.Node{node("Relu", []string{"x"}, []string{"y"})},
		[]*ir.ValueInfo{vi("x", tensor.Float32, 2)}, []*ir.ValueInfo{out("y", tensor.Float32)})
	p, err := ort.New(ort.Options{}).Prepare(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.Run(context.Background(), map[string]tensor.Value{"x": tensor.Must([]int{2}, []float32{1, 2})}); err == nil {
		t.Error("Run after Close succeeded")
	}
}

func TestModelErrors(t *testing.T) {
	needORT(t)
	// ORT rejects an op it does not know; the error carries ORT's message.
	m := model(13, []*ir.Node{node("NoSuchOp", []string{"x"}, []string{"y"})},
		[]*ir.ValueInfo{vi("x", tensor.Float32, 2)}, []*ir.ValueInfo{out("y", tensor.Float32)})
	if _, err := ort.New(ort.Options{}).Prepare(m, runtime.Options{}); err == nil || !strings.Contains(err.Error(), "NoSuchOp") {
		t.Errorf("unknown op: got %v", err)
	}
	// A run-time failure (shape mismatch) is an error, not a crash.
	mm := model(13, []*ir.Node{node("MatMul", []string{"a", "b"}, []string{"y"})},
		[]*ir.ValueInfo{{Name: "a", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}}, {Name: "b", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32}}},
		[]*ir.ValueInfo{out("y", tensor.Float32)})
	p, err := ort.New(ort.Options{}).Prepare(mm, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Run(context.Background(), map[string]tensor.Value{"a": tensor.Zeros(tensor.Float32, 2, 3), "b": tensor.Zeros(tensor.Float32, 4, 5)})
	if err == nil {
		t.Error("mismatched MatMul succeeded")
	}
	// Unknown feed names are rejected.
	_, err = p.Run(context.Background(), map[string]tensor.Value{"zz": tensor.Zeros(tensor.Float32, 1)})
	if err == nil || !strings.Contains(err.Error(), "zz") {
		t.Errorf("unknown feed: got %v", err)
	}
}

func TestOutputLimit(t *testing.T) {
	needORT(t)
	m := model(13, []*ir.Node{node("Relu", []string{"x"}, []string{"y"})},
		[]*ir.ValueInfo{vi("x", tensor.Float32, 10)}, []*ir.ValueInfo{out("y", tensor.Float32)})
	p, err := ort.New(ort.Options{}).Prepare(m, runtime.Options{MaxTensorElements: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Run(context.Background(), map[string]tensor.Value{"x": tensor.Zeros(tensor.Float32, 10)}); err == nil || !strings.Contains(err.Error(), "MaxTensorElements") {
		t.Errorf("got %v, want an error naming the limit", err)
	}
}

func TestRuntimeVersion(t *testing.T) {
	needORT(t)
	v, err := ort.New(ort.Options{}).(*ort.Provider).RuntimeVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ONNX Runtime %s", v)
	if v == "" {
		t.Error("empty version")
	}
}

// TestWithOutputs: ONNX Runtime's outputs land in the tensors bound to
// them (runtime.WithOutputs, one copy each), run after run, equal to the
// native provider's, and a bound tensor of the wrong shape fails the run.
func TestWithOutputs(t *testing.T) {
	needORT(t)
	r := rand.New(rand.NewPCG(11, 12))
	m := model(14, []*ir.Node{node("Add", []string{"a", "b"}, []string{"s"}), node("Mul", []string{"s", "a"}, []string{"y"})},
		[]*ir.ValueInfo{vi("a", tensor.Float32, 3, 5), vi("b", tensor.Float32, 3, 5)}, []*ir.ValueInfo{out("s", tensor.Float32), out("y", tensor.Float32)})
	o, err := runtime.NewSession(m, runtime.Options{Provider: ort.New(ort.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	n, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	y := tensor.Zeros(tensor.Float32, 3, 5)
	ctx := runtime.WithOutputs(context.Background(), map[string]*tensor.Tensor{"y": y})
	for range 3 {
		feeds := map[string]*tensor.Tensor{"a": randF32(r, 3, 5), "b": randF32(r, 3, 5)}
		got, err := o.Run(ctx, feeds)
		if err != nil {
			t.Fatal(err)
		}
		want, err := n.Run(context.Background(), feeds)
		if err != nil {
			t.Fatal(err)
		}
		if got["y"] != y || !tensor.Equal(y, want["y"]) || !tensor.Equal(got["s"], want["s"]) {
			t.Fatalf("bound y %v (the bound tensor: %v), want %v", got["y"], got["y"] == y, want["y"])
		}
	}
	bad := runtime.WithOutputs(context.Background(), map[string]*tensor.Tensor{"y": tensor.Zeros(tensor.Float32, 5, 3)})
	if _, err := o.Run(bad, map[string]*tensor.Tensor{"a": randF32(r, 3, 5), "b": randF32(r, 3, 5)}); err == nil || !strings.Contains(err.Error(), `output "y"`) {
		t.Fatalf("a bound tensor of the wrong shape: %v, want an error naming output y", err)
	}
}
