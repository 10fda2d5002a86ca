package runtime

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// withArenaMode compiles sessions made inside f with the given arena mode.
func withArenaMode(mode string, f func()) {
	old := arenaMode
	arenaMode = mode
	defer func() { arenaMode = old }()
	f()
}

// arenaRegistry has kernels that allocate through Ctx.New and kernels that
// return views of their input: Sum (a+b), Triple (3a), Tail (a view of a's
// data from the second element), Same (a itself), View (a new *Tensor over
// a's data) and testRegistry's Branch.
func arenaRegistry(t *testing.T) *ops.Registry {
	simple := func(typ string, f func(c *ops.Ctx, in []*tensor.Tensor) (*tensor.Tensor, error)) *ops.Op {
		return &ops.Op{Type: typ, Since: 1, Doc: "arena test op", Compile: ops.Simple(func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			out, err := f(c, in)
			return c.Result(out), err
		})}
	}
	sum := simple("Sum", func(c *ops.Ctx, in []*tensor.Tensor) (*tensor.Tensor, error) {
		out, err := c.New(tensor.Float32, in[0].Shape()...)
		if err != nil {
			return nil, err
		}
		a, b, o := tensor.Data[float32](in[0]), tensor.Data[float32](in[1]), tensor.Data[float32](out)
		for i := range o {
			o[i] += a[i] + b[i] // += : the buffer must come zeroed
		}
		return out, nil
	})
	triple := simple("Triple", func(c *ops.Ctx, in []*tensor.Tensor) (*tensor.Tensor, error) {
		out, err := c.New(tensor.Float32, in[0].Shape()...)
		if err != nil {
			return nil, err
		}
		a, o := tensor.Data[float32](in[0]), tensor.Data[float32](out)
		for i := range o {
			o[i] += 3 * a[i]
		}
		return out, nil
	})
	tail := simple("Tail", func(c *ops.Ctx, in []*tensor.Tensor) (*tensor.Tensor, error) {
		d := tensor.Data[float32](in[0])
		return tensor.From([]int{len(d) - 1}, d[1:])
	})
	same := simple("Same", func(c *ops.Ctx, in []*tensor.Tensor) (*tensor.Tensor, error) { return in[0], nil })
	view := simple("View", func(c *ops.Ctx, in []*tensor.Tensor) (*tensor.Tensor, error) { return in[0].Reshape(in[0].Shape()...) })
	// Raw returns an output from NewUninit without writing it.
	raw := simple("Raw", func(c *ops.Ctx, in []*tensor.Tensor) (*tensor.Tensor, error) {
		return c.NewUninit(tensor.Float32, in[0].Shape()...)
	})
	// CView is View through Ctx.View (headers the arena recycles).
	cview := simple("CView", func(c *ops.Ctx, in []*tensor.Tensor) (*tensor.Tensor, error) { return c.View(in[0], in[0].Shape()...) })
	list := []*ops.Op{sum, triple, tail, same, view, raw, cview}
	for _, op := range testRegistry(t).Ops() {
		if op.Type == "Branch" {
			list = append(list, op)
		}
	}
	r, err := ops.NewRegistry(list)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func node(op string, out string, in ...string) *ir.Node {
	return &ir.Node{Name: out, OpType: op, Inputs: in, Outputs: []string{out}}
}

func ramp(n int) *tensor.Tensor {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(i + 1)
	}
	return tensor.Must([]int{n}, d)
}

func checkScaled(t *testing.T, what string, got *tensor.Tensor, x []float32, k float32) {
	t.Helper()
	g := tensor.Data[float32](got)
	if len(g) != len(x) {
		t.Fatalf("%s has %d elements, want %d", what, len(g), len(x))
	}
	for i, v := range g {
		if v != k*x[i] {
			t.Fatalf("%s[%d] = %v, want %v (a buffer was recycled while still in use)", what, i, v, k*x[i])
		}
	}
}

// TestArenaKeepsViewsAlive: a value whose slot is released but that later
// values still view (a Reshape-like view, an interior slice, the same
// *Tensor) is not recycled until the last of them dies, while buffers of
// the same size are recycled around it; outputs of earlier runs stay intact.
func TestArenaKeepsViewsAlive(t *testing.T) {
	const n = 64
	nodes := []*ir.Node{
		node("Sum", "a", "x", "x"), // 2x
		node("View", "v", "a"),
		node("Tail", "t", "a"),
		node("Same", "s", "a"), // a's slot is released here
		node("Triple", "c1", "x"),
		node("Triple", "c2", "c1"),
		node("Triple", "c3", "c2"),
		node("Sum", "y1", "v", "c3"), // 29x
		node("Sum", "y2", "s", "c3"), // 29x
		node("Triple", "c4", "y1"),
		node("Triple", "c5", "c4"),  // 261x
		node("Sum", "tt", "t", "t"), // 4x[1:]
	}
	for _, mode := range []string{"", "poison"} {
		t.Run(fmt.Sprintf("mode=%q", mode), func(t *testing.T) {
			var s *Session
			withArenaMode(mode, func() {
				var err error
				s, err = NewSession(model(nodes, []*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("y2", n), vi("c5", n), vi("tt", n-1)}),
					Options{Provider: NativeWith(arenaRegistry(t))})
				if err != nil {
					t.Fatal(err)
				}
			})
			x := ramp(n)
			xd := tensor.Data[float32](x)
			var first map[string]*tensor.Tensor
			for run := 0; run < 4; run++ {
				out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
				if err != nil {
					t.Fatal(err)
				}
				if run == 0 {
					first = out
				}
				for _, o := range []map[string]*tensor.Tensor{out, first} {
					checkScaled(t, "y2", o["y2"], xd, 29)
					checkScaled(t, "c5", o["c5"], xd, 261)
					checkScaled(t, "tt", o["tt"], xd[1:], 4)
				}
				checkScaled(t, "x", x, xd, 1)
			}
		})
	}
}

// TestArenaSubgraphResults: a subgraph that returns a captured main-graph
// value and a value of its own; both stay valid after the capture's slot is
// released in the main graph.
func TestArenaSubgraphResults(t *testing.T) {
	const n = 16
	body := &ir.Graph{Name: "body",
		Nodes:   []*ir.Node{node("Same", "p", "a"), node("Triple", "q", "a")},
		Outputs: []*ir.ValueInfo{vi("p", n), vi("q", n)}}
	nodes := []*ir.Node{
		node("Sum", "a", "x", "x"),
		{Name: "br", OpType: "Branch", Outputs: []string{"p", "q"}, Attrs: []ops.Attr{{Name: "body", Type: ops.AttrGraph, G: body}}},
		node("Triple", "c1", "x"), // a is dead in the main frame from here on
		node("Triple", "c2", "c1"),
		node("Sum", "y", "p", "c2"), // 2x + 9x
		node("Sum", "z", "q", "q"),  // 12x
	}
	withArenaMode("poison", func() {
		s, err := NewSession(model(nodes, []*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("y", n), vi("z", n)}),
			Options{Provider: NativeWith(arenaRegistry(t))})
		if err != nil {
			t.Fatal(err)
		}
		x := ramp(n)
		for run := 0; run < 3; run++ {
			out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			checkScaled(t, "y", out["y"], tensor.Data[float32](x), 11)
			checkScaled(t, "z", out["z"], tensor.Data[float32](x), 12)
		}
	})
}

// TestArenaRecycles: a chain of 16 ops on 4 MiB tensors allocates a few
// buffers per run, not 16 (and nothing at all in steady state).
func TestArenaRecycles(t *testing.T) {
	const n = 1 << 20
	var nodes []*ir.Node
	prev := "x"
	for i := 0; i < 16; i++ {
		out := fmt.Sprintf("h%d", i)
		nodes = append(nodes, node("Triple", out, prev))
		prev = out
	}
	perRun := func(mode string) uint64 {
		var s *Session
		withArenaMode(mode, func() {
			var err error
			s, err = NewSession(model(nodes, []*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi(prev, n)}), Options{Provider: NativeWith(arenaRegistry(t))})
			if err != nil {
				t.Fatal(err)
			}
		})
		feeds := map[string]*tensor.Tensor{"x": tensor.Zeros(tensor.Float32, n)}
		if _, err := s.Run(context.Background(), feeds); err != nil {
			t.Fatal(err)
		}
		var m0, m1 goruntime.MemStats
		goruntime.ReadMemStats(&m0)
		for i := 0; i < 4; i++ {
			if _, err := s.Run(context.Background(), feeds); err != nil {
				t.Fatal(err)
			}
		}
		goruntime.ReadMemStats(&m1)
		return (m1.TotalAlloc - m0.TotalAlloc) / 4
	}
	off, on := perRun("off"), perRun("")
	t.Logf("bytes allocated per run: %d without recycling, %d with", off, on)
	if off < 16*4*n {
		t.Fatalf("without recycling a run allocates %d bytes, want at least %d", off, 16*4*n)
	}
	// The output leaves the arena each run and is replaced; a second buffer
	// may be needed when sync.Pool drops the arena at a GC.
	if on > 3*4*n {
		t.Fatalf("with recycling a run allocates %d bytes, want at most %d", on, 3*4*n)
	}
}

// TestArenaDonated: a donated feed's memory joins the pool when the run
// succeeds (poisoned here, so that it shows); it stays intact when the run
// fails, when it is not donated, and when an output views it.
func TestArenaDonated(t *testing.T) {
	const n = 32
	ref := ramp(n)
	refd := tensor.Data[float32](ref)
	nodes := []*ir.Node{node("Triple", "y", "x"), node("Triple", "z", "y"), node("Triple", "w", "z")}
	withArenaMode("poison", func() {
		s, err := NewSession(model(nodes, []*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("w", n), vi("z", n)}), Options{Provider: NativeWith(arenaRegistry(t))})
		if err != nil {
			t.Fatal(err)
		}
		for _, donate := range []bool{false, true, false} {
			x := ref.Clone()
			ctx := context.Background()
			if donate {
				ctx = WithDonated(ctx, "x")
			}
			out, err := s.Run(ctx, map[string]*tensor.Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			checkScaled(t, "w", out["w"], refd, 27)
			checkScaled(t, "z", out["z"], refd, 9)
			if recycled := math.IsNaN(float64(tensor.Data[float32](x)[0])); recycled != donate {
				t.Errorf("donated %v: x recycled %v", donate, recycled)
			}
		}
	})
	withArenaMode("poison", func() {
		reg := arenaRegistry(t)
		fail := &ops.Op{Type: "Fail", Since: 1, Doc: "fails", Compile: ops.Simple(func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return nil, fmt.Errorf("failing on purpose")
		})}
		reg, err := ops.NewRegistry(reg.Ops(), []*ops.Op{fail})
		if err != nil {
			t.Fatal(err)
		}
		nodes := []*ir.Node{node("Triple", "y", "x"), node("Triple", "z", "y"), node("Fail", "f", "z")}
		s, err := NewSession(model(nodes, []*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("f", n)}), Options{Provider: NativeWith(reg)})
		if err != nil {
			t.Fatal(err)
		}
		x := ref.Clone()
		if _, err := s.Run(WithDonated(context.Background(), "x"), map[string]*tensor.Tensor{"x": x}); err == nil {
			t.Fatal("the run should fail")
		}
		checkScaled(t, "x after a failed run", x, refd, 1)
	})
	// Returned as an output (through a view): kept.
	nodes = []*ir.Node{node("View", "keep", "x"), node("Triple", "y", "x"), node("Triple", "z", "y")}
	withArenaMode("poison", func() {
		s, err := NewSession(model(nodes, []*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("keep", n), vi("z", n)}), Options{Provider: NativeWith(arenaRegistry(t))})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(WithDonated(context.Background(), "x"), map[string]*tensor.Tensor{"x": ref.Clone()})
		if err != nil {
			t.Fatal(err)
		}
		checkScaled(t, "keep", out["keep"], refd, 1)
		checkScaled(t, "z", out["z"], refd, 9)
	})
}

// TestArenaNewUninit: NewUninit skips clearing a recycled buffer (poisoned
// here), while New clears it.
func TestArenaNewUninit(t *testing.T) {
	const n = 8
	nodes := []*ir.Node{node("Triple", "a", "x"), node("Triple", "b", "a"), node("Raw", "r", "b"), node("Triple", "c", "r")}
	withArenaMode("poison", func() {
		s, err := NewSession(model(nodes, []*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("r", n), vi("c", n)}), Options{Provider: NativeWith(arenaRegistry(t))})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": ramp(n)})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range tensor.Data[float32](out["r"]) {
			if !math.IsNaN(float64(v)) {
				t.Fatalf("r[%d] = %v: NewUninit should hand out a's poisoned buffer", i, v)
			}
		}
	})
}

// TestArenaConcurrentBERT runs the tiny BERT from several goroutines with
// poisoned recycling and compares every output with runs that do not
// recycle.
func TestArenaConcurrentBERT(t *testing.T) {
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	feeds := func() map[string]*tensor.Tensor {
		const b, sq = 2, 12
		ids, mask := make([]int64, b*sq), make([]int64, b*sq)
		for i := range ids {
			ids[i] = int64(rng.IntN(tiny.TinyBERT.VocabSize))
			mask[i] = int64(rng.IntN(4)/3 ^ 1)
		}
		return map[string]*tensor.Tensor{"input_ids": tensor.Must([]int{b, sq}, ids),
			"attention_mask": tensor.Must([]int{b, sq}, mask), "token_type_ids": tensor.Zeros(tensor.Int64, b, sq)}
	}
	var ref, s *Session
	withArenaMode("off", func() { ref, err = NewSession(m, Options{IntraOpThreads: 1}) })
	if err != nil {
		t.Fatal(err)
	}
	withArenaMode("poison", func() { s, err = NewSession(m, Options{}) })
	if err != nil {
		t.Fatal(err)
	}
	const workers, runs = 4, 3
	inputs := make([]map[string]*tensor.Tensor, workers*runs)
	want := make([]map[string]*tensor.Tensor, len(inputs))
	for i := range inputs {
		inputs[i] = feeds()
		if want[i], err = ref.Run(context.Background(), inputs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(inputs))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < runs; r++ {
				i := w*runs + r
				out, err := s.Run(context.Background(), inputs[i])
				if err != nil {
					errs <- err
					return
				}
				for name, wt := range want[i] {
					g, e := tensor.Data[float32](out[name]), tensor.Data[float32](wt)
					for j := range e {
						if math.IsNaN(float64(g[j])) || math.Abs(float64(g[j]-e[j])) > 1e-4 {
							errs <- fmt.Errorf("run %d: %s[%d] = %v, want %v", i, name, j, g[j], e[j])
							return
						}
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

// TestArenaSizeClasses: a new buffer's capacity is its size class, at
// least the elements asked for and at most an eighth more (a power of two
// up to 16), never past the session's element limit.
func TestArenaSizeClasses(t *testing.T) {
	a := newArena()
	for n := 1; n < 1<<20; n += 1 + n/3 {
		c := a.sizeClass(n)
		if c < n || (n > 16 && 8*c > 9*n) || (n <= 16 && c >= 2*n && c > 1) {
			t.Errorf("sizeClass(%d) = %d", n, c)
		}
	}
	a.ctx.MaxElements = 1000
	if c := a.sizeClass(999); c != 999 {
		t.Errorf("sizeClass(999) with a limit of 1000 elements = %d, want 999", c)
	}
}

// TestArenaGrowingValues: when the feed grows by a few elements per run
// (a decoder's mask), the intermediates of the next run find the buffers
// of the last one, values stay right, and a view into a buffer is found
// among many live ones.
func TestArenaGrowingValues(t *testing.T) {
	nodes := []*ir.Node{node("Triple", "a", "x"), node("Tail", "ta", "a")}
	prev := "x"
	for i := 0; i < 7; i++ { // 3^7·x stays exact in float32
		out := fmt.Sprintf("h%d", i)
		nodes = append(nodes, node("Triple", out, prev))
		prev = out
	}
	nodes = append(nodes, node("Sum", "y", prev, "x"), node("Triple", "t3", "ta"))
	x := &ir.ValueInfo{Name: "x", Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32, HasShape: true, Shape: []tensor.Dim{{Size: -1, Param: "n"}}}}
	y, t3 := *x, *x
	y.Name, t3.Name = "y", "t3"
	s, err := NewSession(model(nodes, []*ir.ValueInfo{x}, []*ir.ValueInfo{&y, &t3}), Options{Provider: NativeWith(arenaRegistry(t))})
	if err != nil {
		t.Fatal(err)
	}
	const n0 = 4096
	run := func(n int) {
		in := ramp(n)
		out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": in})
		if err != nil {
			t.Fatal(err)
		}
		checkScaled(t, "y", out["y"], tensor.Data[float32](in), 2187+1) // 3^7 x + x
		checkScaled(t, "t3", out["t3"], tensor.Data[float32](in)[1:], 9)
	}
	run(n0)
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(1))
	var m0, m1 goruntime.MemStats
	goruntime.ReadMemStats(&m0)
	const runs = 16
	for k := 1; k <= runs; k++ {
		run(n0 + 7*k)
	}
	goruntime.ReadMemStats(&m1)
	perRun := (m1.TotalAlloc - m0.TotalAlloc) / runs
	t.Logf("%d bytes per run", perRun)
	// The feed and the two outputs take 3·4n bytes; without size classes
	// the intermediates, recycled within a run but not across runs, take
	// about 3·4n more (measured 5.6·4n; 3.5·4n with them).
	if perRun > 4*4*(n0+7*runs) {
		t.Errorf("a run allocates %d bytes, want at most %d: growing intermediates are not recycled", perRun, 4*4*(n0+7*runs))
	}
}

// TestArenaViewHeaders: the headers of views (Ctx.View) serve again in
// later runs, so that views cost no allocation per run, except the ones an
// output holds, which stay the caller's.
func TestArenaViewHeaders(t *testing.T) {
	const n = 8
	build := func(views int) *Session {
		nodes := []*ir.Node{node("Triple", "a", "x")}
		prev := "a"
		for i := 0; i < views; i++ {
			out := fmt.Sprintf("v%d", i)
			nodes = append(nodes, node("CView", out, prev))
			prev = out
		}
		nodes = append(nodes, node("Triple", "b", prev), node("CView", "y", "b"))
		s, err := NewSession(model(nodes, []*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("y", n)}), Options{Provider: NativeWith(arenaRegistry(t))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := build(4)
	x := ramp(n)
	first, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	y := first["y"]
	for k := 2; k < 5; k++ {
		x2 := ramp(n)
		for i := range tensor.Data[float32](x2) {
			tensor.Data[float32](x2)[i] *= float32(k)
		}
		out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x2})
		if err != nil {
			t.Fatal(err)
		}
		if out["y"] == y {
			t.Fatal("a later run returned the header of an earlier run's output")
		}
		checkScaled(t, "y", out["y"], tensor.Data[float32](x2), 9)
	}
	checkScaled(t, "the first run's y", y, tensor.Data[float32](x), 9)
	if !tensor.SameShape(y.Shape(), []int{n}) {
		t.Fatalf("the first run's y has shape %v", y.Shape())
	}
	feeds := map[string]*tensor.Tensor{"x": x}
	perRun := func(s *Session) float64 {
		return testing.AllocsPerRun(20, func() {
			if _, err := s.Run(context.Background(), feeds); err != nil {
				t.Fatal(err)
			}
		})
	}
	few, many := perRun(build(2)), perRun(build(18))
	t.Logf("allocations per run: %.0f with 2 views inside, %.0f with 18", few, many)
	if many > few+1 {
		t.Errorf("16 more views add %.0f allocations per run, want none", many-few)
	}
}

// TestArenaKeepsLengths: values of one size class but different lengths
// (Shape's 3- and 4-element outputs) find free buffers whose headers have
// their length already, so that recycling them boxes no new slice in a
// header's data: none allocates once warm, freed in an order that hands
// the other length out last.
func TestArenaKeepsLengths(t *testing.T) {
	a := newArena()
	free := func(x *tensor.Tensor) {
		lo, _, _ := dataRange(x)
		a.mu.Lock()
		defer a.mu.Unlock()
		b := a.find(lo)
		if b == nil || !a.disownLocked(b) {
			t.Fatal("a buffer New handed out is not owned")
		}
		a.freeLocked(b)
	}
	dims := func(n int) ops.Dims { return ops.Dims{Rank: 1, D: [ops.MaxAllocRank]int{n}} }
	cycle := func() {
		x3, err := a.New(tensor.Int64, 3, dims(3), true)
		if err != nil {
			t.Fatal(err)
		}
		x4, err := a.New(tensor.Int64, 4, dims(4), true)
		if err != nil {
			t.Fatal(err)
		}
		if x3.Len() != 3 || x4.Len() != 4 {
			t.Fatalf("New gave lengths %d and %d, want 3 and 4", x3.Len(), x4.Len())
		}
		free(x3)
		free(x4)
		clear(a.fresh)
		a.fresh = a.fresh[:0]
	}
	cycle()
	if n := testing.AllocsPerRun(20, cycle); n != 0 {
		t.Errorf("%.0f allocations per cycle, want none", n)
	}
}
