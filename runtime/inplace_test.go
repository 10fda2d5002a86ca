package runtime

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// grantRegistry is arenaRegistry plus Probe (3a, recording what the
// runtime grants for its input: "whole", "extend" or "none").
func grantRegistry(t *testing.T, seen map[string]string, mu *sync.Mutex) *ops.Registry {
	probe := &ops.Op{Type: "Probe", Since: 1, Doc: "records in-place grants", Compile: func(n *ops.Node) (*ops.Kernel, error) {
		name := n.Outputs[0]
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			g := "none"
			switch {
			case c.Reusable(in[0]):
				g = "whole"
			case c.Extendable(in[0]):
				g = "extend"
			}
			mu.Lock()
			seen[name] = g
			mu.Unlock()
			out, err := c.New(tensor.Float32, in[0].Shape()...)
			if err != nil {
				return nil, err
			}
			a, o := tensor.Data[float32](in[0]), tensor.Data[float32](out)
			for i := range o {
				o[i] = 3 * a[i]
			}
			return []*tensor.Tensor{out}, nil
		}}, nil
	}}
	r, err := ops.NewRegistry(arenaRegistry(t).Ops(), []*ops.Op{probe})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestInPlaceGrants: a kernel may write over an input only when the run
// produced it, no later node reads it, it is no graph output and no other
// value shares its buffer; a donated feed at its last use may only be
// extended; initializers, plain feeds and values a subgraph captures are
// never granted.
func TestInPlaceGrants(t *testing.T) {
	const n = 16
	nodes := []*ir.Node{
		node("Triple", "a", "x"),
		node("Probe", "p_twice1", "a"), // a is read again below
		node("Probe", "p_twice2", "a"), // last reader: reusable
		node("Triple", "o", "x"),
		node("Probe", "p_output", "o"), // o is a graph output
		node("Probe", "p_init", "w"),
		node("Probe", "p_feed", "x"),
		node("Probe", "p_donated", "d"),
		node("Triple", "b", "x"),
		node("View", "bv", "b"),
		node("Probe", "p_shared", "b"), // bv still views b's buffer
		node("Sum", "s", "bv", "p_shared"),
		node("Triple", "c", "x"),
		node("Sum", "cc", "c", "c"), // the same value twice: no grant (Sum does not probe)
		node("Probe", "p_after", "cc"),
	}
	outs := []*ir.ValueInfo{vi("o", n), vi("p_twice1", n), vi("p_twice2", n), vi("p_output", n), vi("p_init", n),
		vi("p_feed", n), vi("p_donated", n), vi("s", n), vi("p_after", n)}
	m := model(nodes, []*ir.ValueInfo{vi("x", n), vi("d", n)}, outs, &ir.Initializer{Name: "w", T: ramp(n)})
	want := map[string]string{"p_twice1": "none", "p_twice2": "whole", "p_output": "none", "p_init": "none",
		"p_feed": "none", "p_donated": "extend", "p_shared": "none", "p_after": "whole"}
	for _, mode := range []string{"", "off"} {
		t.Run(fmt.Sprintf("arena=%q", mode), func(t *testing.T) {
			seen, mu := map[string]string{}, new(sync.Mutex)
			var s *Session
			withArenaMode(mode, func() {
				var err error
				s, err = NewSession(m, Options{Provider: NativeWith(grantRegistry(t, seen, mu)), NoOptimize: true})
				if err != nil {
					t.Fatal(err)
				}
			})
			_, err := s.Run(WithDonated(context.Background(), "d"), map[string]*tensor.Tensor{"x": ramp(n), "d": ramp(n)})
			if err != nil {
				t.Fatal(err)
			}
			for k, w := range want {
				if mode == "off" {
					w = "none" // nothing is tracked without the arena
				}
				if seen[k] != w {
					t.Errorf("%s: granted %q, want %q", k, seen[k], w)
				}
			}
		})
	}
}

// TestSharedCacheInPlace: GroupQueryAttention over donated past buffers of
// the present's length writes the step's row into them (present is the
// past buffer), with outputs bit-identical to a run that copies; a run
// that fails after the write leaves the valid rows intact.
func TestSharedCacheInPlace(t *testing.T) {
	const B, N, H, capacity, past = 2, 2, 4, 6, 3
	i32 := func(shape []int, v ...int32) *tensor.Tensor { return tensor.Must(shape, v) }
	gqa := &ir.Node{Name: "gqa", OpType: "GroupQueryAttention", Domain: "com.microsoft",
		Inputs:  []string{"qkv", "", "", "pk", "pv", "seqlens", "total"},
		Outputs: []string{"y", "present_key", "present_value"},
		Attrs:   []ops.Attr{{Name: "num_heads", Type: ops.AttrInt, I: N}, {Name: "kv_num_heads", Type: ops.AttrInt, I: N}}}
	reshape := &ir.Node{Name: "r", OpType: "Reshape", Inputs: []string{"y", "shape"}, Outputs: []string{"r"}}
	i64 := func(name string, shape ...int) *ir.ValueInfo {
		return &ir.ValueInfo{Name: name, Type: tensor.TensorType(tensor.Int64, shape...)}
	}
	m := model([]*ir.Node{gqa, reshape},
		[]*ir.ValueInfo{vi("qkv", B, 1, 3*N*H), vi("pk", B, N, capacity, H), vi("pv", B, N, capacity, H),
			{Name: "seqlens", Type: tensor.TensorType(tensor.Int32, B)}, {Name: "total", Type: tensor.TensorType(tensor.Int32)}, i64("shape", 2)},
		[]*ir.ValueInfo{vi("present_key", B, N, capacity, H), vi("present_value", B, N, capacity, H), vi("r", B, N*H)})
	m.Opsets = append(m.Opsets, ir.OpsetID{Domain: "com.microsoft", Version: 1})
	s, err := NewSession(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cacheOf := func(seed float32) *tensor.Tensor {
		d := make([]float32, B*N*capacity*H)
		for i := range d {
			d[i] = seed + float32(i%7)/7 - float32(i%3)/5
		}
		return tensor.Must([]int{B, N, capacity, H}, d)
	}
	qkv := cacheOf(0.5).Clone()
	qkv, _ = tensor.From([]int{B, 1, 3 * N * H}, tensor.Data[float32](qkv)[:B*3*N*H])
	feeds := func(shape ...int64) map[string]*tensor.Tensor {
		return map[string]*tensor.Tensor{"qkv": qkv, "pk": cacheOf(1), "pv": cacheOf(2),
			"seqlens": i32([]int{B}, past, past), "total": i32(nil, past+1), "shape": tensor.Must([]int{2}, shape)}
	}
	rowsEqual := func(t *testing.T, what string, got, want *tensor.Tensor, from, to int) {
		t.Helper()
		g, w := tensor.Data[float32](got), tensor.Data[float32](want)
		for bh := 0; bh < B*N; bh++ {
			for j := from * H; j < to*H; j++ {
				if i := bh*capacity*H + j; g[i] != w[i] {
					t.Fatalf("%s: row %d element %d is %v, want %v", what, bh, j, g[i], w[i])
				}
			}
		}
	}
	donated := WithDonated(context.Background(), "pk", "pv")
	ref, err := s.Run(context.Background(), feeds(B, N*H))
	if err != nil {
		t.Fatal(err)
	}
	// A failed run after the in-place write: valid rows intact, the
	// step's row written.
	f := feeds(B, 7)
	pk, pv := f["pk"], f["pv"]
	if _, err := s.Run(donated, f); err == nil {
		t.Fatal("a Reshape to (B, 7) should fail")
	}
	rowsEqual(t, "past_key after a failed run", pk, cacheOf(1), 0, past)
	rowsEqual(t, "past_value after a failed run", pv, cacheOf(2), 0, past)
	rowsEqual(t, "the step's key row (written in place before the failure)", pk, ref["present_key"], past, past+1)
	// Success: present is the donated buffer, equal to the copying run's.
	f = feeds(B, N*H)
	pk = f["pk"]
	out, err := s.Run(donated, f)
	if err != nil {
		t.Fatal(err)
	}
	if &tensor.Data[float32](out["present_key"])[0] != &tensor.Data[float32](pk)[0] {
		t.Error("present_key is not the donated past buffer")
	}
	rowsEqual(t, "present_key", out["present_key"], ref["present_key"], 0, past+1)
	rowsEqual(t, "present_value", out["present_value"], ref["present_value"], 0, past+1)
	for i, v := range tensor.Data[float32](ref["r"]) {
		if g := tensor.Data[float32](out["r"])[i]; g != v {
			t.Fatalf("attention output %d: in place %v, copying %v", i, g, v)
		}
	}
}

// BenchmarkInPlace runs a BERT-base-wide, 2-layer BERT (batch 1, 128
// tokens) with and without in-place grants, alternating, and reports both
// times and their ratio (in place / allocating < 1: in place is faster).
// GORT_BENCH_NOOPT=1 runs the graph unoptimized (unfused elementwise ops).
func BenchmarkInPlace(b *testing.B) {
	m, err := tiny.BERT(tiny.BERTConfig{VocabSize: 8192, HiddenSize: 768, NumLayers: 2, NumHeads: 12,
		IntermediateSize: 3072, MaxPositions: 512, TypeVocabSize: 2, LayerNormEps: 1e-12, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	// Unoptimized: graphopt's fusions leave few elementwise nodes.
	noOpt := os.Getenv("GORT_BENCH_NOOPT") != ""
	s, err := NewSession(m, Options{IntraOpThreads: 1, NoOptimize: noOpt})
	if err != nil {
		b.Fatal(err)
	}
	ids, mask := make([]int64, 128), make([]int64, 128)
	for i := range ids {
		ids[i], mask[i] = int64(i*31%8192), 1
	}
	feeds := map[string]*tensor.Tensor{"input_ids": tensor.Must([]int{1, 128}, ids),
		"attention_mask": tensor.Must([]int{1, 128}, mask), "token_type_ids": tensor.Zeros(tensor.Int64, 1, 128)}
	defer func() { noGrants = false }()
	var d [2]time.Duration
	for b.Loop() {
		for _, off := range []bool{true, false} {
			i := 0
			if off {
				i = 1
			}
			noGrants = off
			st := time.Now()
			if _, err := s.Run(context.Background(), feeds); err != nil {
				b.Fatal(err)
			}
			d[i] += time.Since(st)
		}
	}
	n := float64(b.N)
	b.ReportMetric(d[0].Seconds()*1e3/n, "inplace-ms")
	b.ReportMetric(d[1].Seconds()*1e3/n, "allocating-ms")
	b.ReportMetric(float64(d[0])/float64(d[1]), "inplace/allocating")
}

// TestInPlaceArithmeticGraph runs real in-place kernels (Add, Mul, Sub,
// Div, BiasGelu) on a graph where a value feeds several nodes, a graph
// output is also consumed, an initializer and a plain feed are operands,
// and compares every output, bit for bit, with a run without the arena
// (no grants); the feeds and the initializer keep their values.
func TestInPlaceArithmeticGraph(t *testing.T) {
	const n = 48
	nodes := []*ir.Node{
		{Name: "a", OpType: "Mul", Inputs: []string{"x", "w"}, Outputs: []string{"a"}},
		{Name: "b", OpType: "Add", Inputs: []string{"a", "x"}, Outputs: []string{"b"}}, // a is read again
		{Name: "c", OpType: "Sub", Inputs: []string{"b", "a"}, Outputs: []string{"c"}}, // last use of a and b
		{Name: "o", OpType: "Div", Inputs: []string{"c", "w"}, Outputs: []string{"o"}}, // o: output, read below
		{Name: "d", OpType: "Add", Inputs: []string{"o", "c"}, Outputs: []string{"d"}},
		{Name: "g", OpType: "BiasGelu", Domain: "com.microsoft", Inputs: []string{"d", "w"}, Outputs: []string{"g"}},
		{Name: "e", OpType: "Mul", Inputs: []string{"g", "g"}, Outputs: []string{"e"}}, // one value twice
	}
	w := ramp(n)
	m := model(nodes, []*ir.ValueInfo{vi("x", n)}, []*ir.ValueInfo{vi("o", n), vi("e", n)}, &ir.Initializer{Name: "w", T: w})
	m.Opsets = append(m.Opsets, ir.OpsetID{Domain: "com.microsoft", Version: 1})
	run := func(mode string) map[string]*tensor.Tensor {
		var s *Session
		var err error
		withArenaMode(mode, func() { s, err = NewSession(m, Options{NoOptimize: true}) })
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]*tensor.Tensor
		for range 3 { // recycled buffers from the second run on
			x := ramp(n)
			if out, err = s.Run(context.Background(), map[string]*tensor.Tensor{"x": x}); err != nil {
				t.Fatal(err)
			}
			checkScaled(t, "x after the run", x, tensor.Data[float32](ramp(n)), 1)
		}
		return out
	}
	want, got := run("off"), run("poison")
	for name := range want {
		if g, w := fmt.Sprint(got[name].Raw()), fmt.Sprint(want[name].Raw()); g != w {
			t.Errorf("%s: with grants %s, without %s", name, g, w)
		}
	}
	checkScaled(t, "the initializer", w, tensor.Data[float32](ramp(n)), 1)
}
