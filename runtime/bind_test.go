package runtime

import (
	"context"
	"fmt"
	"math"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

// bindSession runs y = 3x and z = 9x (z reads y inside the graph), x of
// n elements.
func bindSession(t *testing.T, n int) *Session {
	t.Helper()
	s, err := NewSession(model([]*ir.Node{node("Triple", "y", "x"), node("Triple", "z", "y")},
		[]*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("y", n), vi("z", n)}), Options{Provider: NativeWith(arenaRegistry(t))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// poisoned is a float32 tensor of NaNs, so that an output not written
// into it shows.
func poisoned(shape ...int) *tensor.Tensor {
	b := tensor.Zeros(tensor.Float32, shape...)
	for i := range tensor.Data[float32](b) {
		tensor.Data[float32](b)[i] = float32(math.NaN())
	}
	return b
}

// TestWithOutputsErrors: a binding the graph cannot honour fails the run
// with an error naming the output and saying what to do.
func TestWithOutputsErrors(t *testing.T) {
	s := bindSession(t, 4)
	x := ramp(4)
	sym, err := NewSession(model([]*ir.Node{node("Triple", "y", "x")},
		[]*ir.ValueInfo{{Name: "x", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32, HasShape: true, Shape: []tensor.Dim{{Size: -1, Param: "n"}}}}},
		[]*ir.ValueInfo{{Name: "y", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32, HasShape: true, Shape: []tensor.Dim{{Size: -1, Param: "n"}}}}}),
		Options{Provider: NativeWith(arenaRegistry(t))})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		s     *Session
		binds map[string]*tensor.Tensor
		want  []string
	}{
		{"unknown name", s, map[string]*tensor.Tensor{"w": poisoned(4)}, []string{`"w"`, "not a graph output", "outputs: y, z"}},
		{"nil tensor", s, map[string]*tensor.Tensor{"y": nil}, []string{`output "y"`, "nil tensor"}},
		{"dtype", s, map[string]*tensor.Tensor{"y": tensor.Zeros(tensor.Float64, 4)}, []string{`output "y"`, "is float32", "bind a float32 tensor"}},
		{"fixed dimension", s, map[string]*tensor.Tensor{"z": poisoned(5)}, []string{`output "z"`, "float32[4]", "[5]", "bind a tensor of the output's shape"}},
		{"rank", s, map[string]*tensor.Tensor{"z": poisoned(4, 1)}, []string{`output "z"`, "[4 1]"}},
		{"shared with a feed", s, map[string]*tensor.Tensor{"y": x}, []string{`output "y"`, `feed "x"`, "of its own"}},
		{"shared by two outputs", s, func() map[string]*tensor.Tensor {
			b := poisoned(8)
			d := tensor.Data[float32](b)
			return map[string]*tensor.Tensor{"y": tensor.Must([]int{4}, d[:4]), "z": tensor.Must([]int{4}, d[2:6])}
		}(), []string{`"y" and "z"`, "share memory"}},
		{"produced shape", sym, map[string]*tensor.Tensor{"y": poisoned(3)}, []string{`output "y"`, "float32[4]", "float32[3]", "leave the output unbound"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.s.Run(WithOutputs(context.Background(), c.binds), map[string]*tensor.Tensor{"x": x})
			if err == nil {
				t.Fatal("run succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	// x is intact after all that.
	checkScaled(t, "x", x, tensor.Data[float32](ramp(4)), 1)
}

// TestWithOutputsInPlace: a bound output comes back as the bound tensor,
// written by its kernel (no buffer per run), run after run with new
// feeds; the output another node reads inside the graph is bound too, in
// every arena mode.
func TestWithOutputsInPlace(t *testing.T) {
	const n = 1 << 16
	for _, mode := range []string{"", "poison", "off"} {
		t.Run("arena="+mode, func(t *testing.T) {
			var s *Session
			withArenaMode(mode, func() { s = bindSession(t, n) })
			y, z := poisoned(n), poisoned(n)
			ctx := WithOutputs(context.Background(), map[string]*tensor.Tensor{"y": y})
			ctx = WithOutputs(ctx, map[string]*tensor.Tensor{"z": z})
			x := ramp(n)
			run := func(k float32) {
				xs := tensor.Data[float32](x)
				for i := range xs {
					xs[i] = k * float32(i+1)
				}
				out, err := s.Run(ctx, map[string]*tensor.Tensor{"x": x})
				if err != nil {
					t.Fatal(err)
				}
				if out["y"] != y || out["z"] != z {
					t.Fatal("the outputs are not the bound tensors")
				}
				checkScaled(t, "y", y, xs, 3)
				checkScaled(t, "z", z, xs, 9)
			}
			run(1)
			debug.SetGCPercent(-1)
			defer debug.SetGCPercent(100)
			var m0, m1 goruntime.MemStats
			goruntime.ReadMemStats(&m0)
			for k := 2; k < 6; k++ {
				run(float32(k))
			}
			goruntime.ReadMemStats(&m1)
			perRun := (m1.TotalAlloc - m0.TotalAlloc) / 4
			t.Logf("%d bytes per run", perRun)
			// Recycling, the kernels write the bound tensors (a copy
			// would leave an n·4-byte buffer with each run's outputs).
			if mode != "off" && perRun > n {
				t.Errorf("a run allocates %d bytes, want under %d: the bound outputs were not written in place", perRun, n)
			}
		})
	}
}

// TestWithOutputsThroughViews: a bound output that is a Reshape of a
// node's output is written by that node; the node's output, returned
// under its own name unbound, is not overwritten by the binding; an output
// made in place from a dying intermediate is copied.
func TestWithOutputsThroughViews(t *testing.T) {
	const n = 1 << 14
	shape := tensor.Must([]int{2}, []int64{2, n / 2})
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetID{{Version: 17}}, Graph: &ir.Graph{Name: "g",
		Nodes: []*ir.Node{
			{Name: "m", OpType: "Mul", Inputs: []string{"x", "x"}, Outputs: []string{"sq"}},
			{Name: "r", OpType: "Reshape", Inputs: []string{"sq", "shape"}, Outputs: []string{"sq2"}},
			{Name: "a", OpType: "Add", Inputs: []string{"x", "x"}, Outputs: []string{"dbl"}},
			{Name: "e", OpType: "Exp", Inputs: []string{"dbl"}, Outputs: []string{"e"}}, // may write over dbl
		},
		Inputs:       []*ir.ValueInfo{vi("x", n)},
		Outputs:      []*ir.ValueInfo{vi("sq2", 2, n/2), vi("sq", n), vi("e", n)},
		Initializers: []*ir.Initializer{{Name: "shape", T: shape}},
	}}
	s, err := NewSession(m, Options{Provider: NativeWith(all.Registry()), NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.Zeros(tensor.Float32, n)
	for i := range tensor.Data[float32](x) {
		tensor.Data[float32](x)[i] = float32(i%7) / 8
	}
	want, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	sq2, e := poisoned(2, n/2), poisoned(n)
	ctx := WithOutputs(context.Background(), map[string]*tensor.Tensor{"sq2": sq2, "e": e})
	for range 3 {
		got, err := s.Run(ctx, map[string]*tensor.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		if got["sq2"] != sq2 || got["e"] != e {
			t.Fatal("the outputs are not the bound tensors")
		}
		for _, name := range []string{"sq2", "sq", "e"} {
			if !tensor.Equal(got[name], want[name]) {
				t.Errorf("%s differs from the unbound run's", name)
			}
		}
		if lo, _, _ := dataRange(got["sq"]); overlaps(sq2, lo, lo+1) {
			t.Error("sq lies in the tensor bound to sq2, which its reshape fills")
		}
	}
	// Without sq among the outputs, Mul writes sq2's tensor: no buffer
	// per run.
	m.Graph.Outputs = m.Graph.Outputs[:1]
	m.Graph.Nodes = m.Graph.Nodes[:2]
	if s, err = NewSession(m, Options{Provider: NativeWith(all.Registry()), NoOptimize: true}); err != nil {
		t.Fatal(err)
	}
	feeds := map[string]*tensor.Tensor{"x": x}
	ctx = WithOutputs(context.Background(), map[string]*tensor.Tensor{"sq2": sq2})
	if _, err := s.Run(ctx, feeds); err != nil {
		t.Fatal(err)
	}
	debug.SetGCPercent(-1)
	defer debug.SetGCPercent(100)
	var m0, m1 goruntime.MemStats
	goruntime.ReadMemStats(&m0)
	for range 4 {
		if _, err := s.Run(ctx, feeds); err != nil {
			t.Fatal(err)
		}
	}
	goruntime.ReadMemStats(&m1)
	if perRun := (m1.TotalAlloc - m0.TotalAlloc) / 4; perRun > n {
		t.Errorf("a run allocates %d bytes, want under %d: Mul did not write the bound tensor", perRun, n)
	}
	if !tensor.Equal(sq2, want["sq2"]) {
		t.Error("sq2 differs from the unbound run's")
	}
}

// TestWithOutputsConcurrent: concurrent runs with their own bindings each
// get their own results (run with -race).
func TestWithOutputsConcurrent(t *testing.T) {
	const n = 256
	s := bindSession(t, n)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			y := poisoned(n)
			ctx := WithOutputs(context.Background(), map[string]*tensor.Tensor{"y": y})
			x := ramp(n)
			for it := range 20 {
				k := float32(g*100 + it)
				xs := tensor.Data[float32](x)
				for i := range xs {
					xs[i] = k + float32(i)
				}
				out, err := s.Run(ctx, map[string]*tensor.Tensor{"x": x})
				if err != nil {
					errs <- err
					return
				}
				ys, zs := tensor.Data[float32](y), tensor.Data[float32](out["z"])
				for i := range ys {
					if ys[i] != 3*(k+float32(i)) || zs[i] != 9*(k+float32(i)) {
						errs <- fmt.Errorf("goroutine %d run %d: y[%d] = %v, z[%d] = %v, want %v and %v", g, it, i, ys[i], i, zs[i], 3*(k+float32(i)), 9*(k+float32(i)))
						return
					}
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

// cloningProvider runs the native provider and returns copies of its
// outputs, as a provider that knows nothing of bindings does.
type cloningProvider struct{ Provider }

type cloningProgram struct{ Program }

func (p cloningProvider) Prepare(m *ir.Model, opts Options) (Program, error) {
	prog, err := p.Provider.Prepare(m, opts)
	return cloningProgram{prog}, err
}

func (p cloningProgram) Run(ctx context.Context, feeds map[string]tensor.Value) (map[string]tensor.Value, error) {
	out, err := p.Program.Run(context.Background(), feeds) // the bindings stay with the session
	for k, v := range out {
		out[k] = cloneValue(v)
	}
	return out, err
}

// TestWithOutputsOtherProviders: the session copies into the bound
// tensors what a provider returns elsewhere, and checks the shape.
func TestWithOutputsOtherProviders(t *testing.T) {
	s, err := NewSession(model([]*ir.Node{node("Triple", "y", "x"), node("Triple", "z", "y")},
		[]*ir.ValueInfo{vi("x", 4)}, []*ir.ValueInfo{vi("y", 4), vi("z", 4)}), Options{Provider: cloningProvider{NativeWith(arenaRegistry(t))}})
	if err != nil {
		t.Fatal(err)
	}
	z := poisoned(4)
	out, err := s.Run(WithOutputs(context.Background(), map[string]*tensor.Tensor{"z": z}), map[string]*tensor.Tensor{"x": ramp(4)})
	if err != nil {
		t.Fatal(err)
	}
	if out["z"] != z {
		t.Fatal("z is not the bound tensor")
	}
	checkScaled(t, "z", z, tensor.Data[float32](ramp(4)), 9)
	checkScaled(t, "y", out["y"], tensor.Data[float32](ramp(4)), 3)
}

// TestRunInto: RunInto fills the caller's map (cleared first, emptied by a
// failed run) with every provider, and a steady-state run of a graph whose
// outputs are bound allocates nothing.
func TestRunInto(t *testing.T) {
	const n = 64
	for _, p := range []Provider{NativeWith(arenaRegistry(t)), cloningProvider{NativeWith(arenaRegistry(t))}} {
		s, err := NewSession(model([]*ir.Node{node("Triple", "y", "x"), node("Triple", "z", "y")},
			[]*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("y", n), vi("z", n)}), Options{Provider: p})
		if err != nil {
			t.Fatal(err)
		}
		x := ramp(n)
		outs := map[string]*tensor.Tensor{"stale": x}
		if err := s.RunInto(context.Background(), map[string]*tensor.Tensor{"x": x}, outs); err != nil {
			t.Fatal(err)
		}
		if len(outs) != 2 {
			t.Fatalf("outs holds %d entries, want y and z", len(outs))
		}
		checkScaled(t, "y", outs["y"], tensor.Data[float32](x), 3)
		checkScaled(t, "z", outs["z"], tensor.Data[float32](x), 9)
		if err := s.RunInto(context.Background(), map[string]*tensor.Tensor{"x": ramp(n + 1)}, outs); err == nil || len(outs) != 0 {
			t.Fatalf("a run with a wrong feed: error %v, %d outputs left", err, len(outs))
		}
	}
	s := bindSession(t, n)
	y, z := poisoned(n), poisoned(n)
	ctx := WithOutputs(context.Background(), map[string]*tensor.Tensor{"y": y, "z": z})
	feeds, outs := map[string]*tensor.Tensor{"x": ramp(n)}, map[string]*tensor.Tensor{}
	allocs := testing.AllocsPerRun(50, func() {
		if err := s.RunInto(ctx, feeds, outs); err != nil {
			t.Fatal(err)
		}
	})
	checkScaled(t, "z", z, tensor.Data[float32](feeds["x"]), 9)
	if allocs > 0 {
		t.Errorf("a run allocates %.1f times, want none", allocs)
	}
}
