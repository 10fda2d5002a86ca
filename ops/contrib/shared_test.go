package contrib_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

// sharedCase is one attention step over a KV cache of capacity maxLen
// that past and present share, filled to past rows, with s new rows.
type sharedCase struct {
	op                    string // MultiHeadAttention or Attention
	dt                    tensor.DType
	past, s               int
	mask, attnBias        bool // left padding of batch 1 by a key mask or an attention bias
	causal, bias, packed  bool // packed: MultiHeadAttention's packed (B, S, N, 3, H) query
	qk                    bool // MultiHeadAttention outputs the scores (the materialized path for every dtype)
	threads               int
	b, n, h, maxLen, pads int
}

func (c sharedCase) String() string {
	return fmt.Sprintf("%s_%v_p%d_s%d_mask%v_ab%v_causal%v_bias%v_packed%v_qk%v_t%d",
		c.op, c.dt, c.past, c.s, c.mask, c.attnBias, c.causal, c.bias, c.packed, c.qk, c.threads)
}

// kernel compiles c's op, with past_present_share_buffer when shared (for
// Attention; MultiHeadAttention shares whenever past_sequence_length is
// given).
func (c sharedCase) kernel(t *testing.T, shared bool) *ops.Kernel {
	t.Helper()
	attr := func(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
	attrs := []ops.Attr{attr("num_heads", int64(c.n)), attr("unidirectional", b2i(c.causal))}
	outs := []string{"y", "present_key", "present_value"}
	if c.qk {
		outs = append(outs, "qk")
	}
	if c.op == "Attention" {
		outs = outs[:2]
		if shared {
			attrs = append(attrs, attr("past_present_share_buffer", 1))
		}
	}
	o, err := all.Registry().Lookup(ms, c.op, 1)
	if err != nil {
		t.Fatal(err)
	}
	k, err := o.Compile(&ops.Node{OpType: c.op, Domain: ms, Opset: 1, Attrs: attrs, Outputs: outs})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sharedInputs are c's inputs: the shared form (past buffers of maxLen
// rows, those after the past NaN, and past_sequence_length) and the
// concatenating form (past buffers of the past rows only).
func (c sharedCase) inputs(r *rand.Rand) (shared, concat []*tensor.Tensor) {
	d, total := c.n*c.h, c.past+c.s
	// mk makes a tensor of c's dtype.
	mk := func(shape []int, v []float64) *tensor.Tensor {
		if c.dt == tensor.Float64 {
			return tensor.Must(shape, v)
		}
		f := make([]float32, len(v))
		for i, e := range v {
			f[i] = float32(e)
		}
		return tensor.Must(shape, f)
	}
	vals := func(shape ...int) []float64 {
		n := 1
		for _, e := range shape {
			n *= e
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = r.Float64()*2 - 1
		}
		return v
	}
	rnd := func(shape ...int) *tensor.Tensor { return mk(shape, vals(shape...)) }
	// buffer is a past buffer of n (B, N, maxLen, H) caches whose rows
	// past the past are NaN, and filled, the same caches cut to the past.
	buffer := func(n int) (buf, filled *tensor.Tensor) {
		shape := []int{c.b, c.n, c.maxLen, c.h}
		fshape := []int{c.b, c.n, c.past, c.h}
		if n == 2 {
			shape = append([]int{2}, shape...)
			fshape = append([]int{2}, fshape...)
		}
		v := vals(shape...)
		var f []float64
		for blk := 0; blk < n*c.b*c.n; blk++ {
			row := v[blk*c.maxLen*c.h:][:c.maxLen*c.h]
			f = append(f, row[:c.past*c.h]...)
			for j := c.past * c.h; j < len(row); j++ {
				row[j] = math.NaN()
			}
		}
		return mk(shape, v), mk(fshape, f)
	}
	var mask, ab *tensor.Tensor
	if c.mask {
		// Batch 1 is left-padded: its first pads keys are masked.
		v := make([]int32, c.b*total)
		for i := range v {
			if i/total != 1 || i%total >= c.pads {
				v[i] = 1
			}
		}
		mask = tensor.Must([]int{c.b, total}, v)
	}
	if c.attnBias {
		v := vals(c.b, 1, c.s, total)
		for i := 0; i < c.s; i++ {
			for j := 0; j < c.pads; j++ {
				v[(c.s+i)*total+j] = -1e4
			}
		}
		ab = mk([]int{c.b, 1, c.s, total}, v)
	}
	pl := tensor.Must([]int{1}, []int32{int32(c.past)})
	if c.op == "Attention" {
		var bias *tensor.Tensor
		if c.bias {
			bias = rnd(3 * d)
		}
		x, w := rnd(c.b, c.s, d), rnd(d, 3*d)
		buf, filled := buffer(2)
		return []*tensor.Tensor{x, w, bias, mask, buf, ab, pl}, []*tensor.Tensor{x, w, bias, mask, filled, ab}
	}
	var bias *tensor.Tensor
	if c.bias {
		bias = rnd(3 * d)
	}
	q, k, v := rnd(c.b, c.s, d), rnd(c.b, c.s, d), rnd(c.b, c.s, d)
	if c.packed {
		q, k, v = rnd(c.b, c.s, c.n, 3, c.h), nil, nil
	}
	pk, fk := buffer(1)
	pv, fv := buffer(1)
	return []*tensor.Tensor{q, k, v, bias, mask, ab, pk, pv, pl}, []*tensor.Tensor{q, k, v, bias, mask, ab, fk, fv}
}

// TestSharedKVBuffer: MultiHeadAttention with past_sequence_length and
// Attention with past_present_share_buffer attend over the shared buffer
// with the outputs of the concatenating form (past buffers cut to the
// filled rows) and present the buffer with that form's present in its
// first rows. The buffer's rows past the new ones are NaN and stay NaN:
// no output is NaN, so they are not read. Granted the past buffer
// (ops.Ctx.Extendable), present is that buffer; otherwise it is a copy and
// the input is unchanged.
func TestSharedKVBuffer(t *testing.T) {
	var cases []sharedCase
	base := sharedCase{b: 2, n: 3, h: 4, maxLen: 16, threads: 1}
	for _, op := range []string{"MultiHeadAttention", "Attention"} {
		for _, ps := range [][2]int{{0, 1}, {0, 3}, {5, 1}, {5, 3}} {
			for _, pad := range []string{"", "mask", "ab"} {
				for _, causal := range []bool{false, true} {
					for _, bias := range []bool{false, true} {
						c := base
						c.op, c.dt, c.past, c.s, c.causal, c.bias = op, tensor.Float32, ps[0], ps[1], causal, bias
						c.mask, c.attnBias = pad == "mask", pad == "ab"
						c.pads = min(2, c.past+c.s-1)
						cases = append(cases, c)
					}
				}
			}
		}
	}
	// Float64 (the materialized path), three threads, the scores output
	// and packed QKV on a few of them.
	n := len(cases)
	for i := 0; i < n; i += 3 {
		c := cases[i]
		c.dt = tensor.Float64
		cases = append(cases, c)
		if c.op == "MultiHeadAttention" {
			c.dt, c.qk = tensor.Float32, true
			cases = append(cases, c)
		}
		c = cases[i+1]
		c.threads = 3
		cases = append(cases, c)
		if c.op == "MultiHeadAttention" && !c.attnBias {
			c.packed, c.threads = true, 1
			cases = append(cases, c)
		}
	}
	r := rand.New(rand.NewPCG(26, 1))
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) { c.check(t, r) })
	}
}

func (c sharedCase) check(t *testing.T, r *rand.Rand) {
	sh, cat := c.inputs(r)
	want, err := c.kernel(t, false).Run(&ops.Ctx{Threads: c.threads}, cat)
	if err != nil {
		t.Fatalf("concatenating: %v", err)
	}
	k := c.kernel(t, true)
	at := []int{6, 7} // where the past buffers are among the inputs
	if c.op == "Attention" {
		at = []int{4}
	}
	tl := 1e-5
	if c.dt == tensor.Float64 {
		tl = 1e-12
	}
	for _, inPlace := range []bool{false, true} {
		in := append([]*tensor.Tensor(nil), sh...)
		ctx := &ops.Ctx{Threads: c.threads}
		if inPlace {
			// Fresh copies of the buffers, granted for extension.
			for _, i := range at {
				in[i] = sh[i].Clone()
				ctx.Reuse = append(ctx.Reuse, ops.Reuse{T: in[i]})
			}
		}
		var kept []*tensor.Tensor
		for _, i := range at {
			kept = append(kept, in[i].Clone())
		}
		got, err := k.Run(ctx, in)
		if err != nil {
			t.Fatalf("shared (in place %v): %v", inPlace, err)
		}
		near(t, "y", got[0], want[0], tl)
		if c.qk {
			near(t, "qk", got[3], want[3], tl)
		}
		for i := 1; i <= len(at); i++ {
			buf := in[at[i-1]]
			if (got[i] == buf) != inPlace {
				t.Fatalf("in place %v: present %d is the past buffer %v", inPlace, i, got[i] == buf)
			}
			c.checkPresent(t, i, got[i], want[i], kept[i-1], tl)
			if !inPlace && fmt.Sprint(buf.Raw()) != fmt.Sprint(kept[i-1].Raw()) {
				t.Fatalf("past buffer %d changed without a grant", i)
			}
		}
	}
}

// checkPresent checks present (the shared buffer after the step) against
// the concatenating form's present (its first total rows per head) and the
// past buffer as given (its rows past total, NaN).
func (c sharedCase) checkPresent(t *testing.T, i int, present, cat, buf *tensor.Tensor, tl float64) {
	t.Helper()
	total := c.past + c.s
	g, w, b := floats(present), floats(cat), floats(buf)
	if len(g) != len(b) {
		t.Fatalf("present %d has shape %v, want the buffer's %v", i, present.Shape(), buf.Shape())
	}
	for blk := 0; blk < len(g)/(c.maxLen*c.h); blk++ {
		for j := 0; j < c.maxLen*c.h; j++ {
			at := blk*c.maxLen*c.h + j
			if j >= total*c.h {
				if !math.IsNaN(g[at]) {
					t.Fatalf("present %d: row %d of head block %d past the new rows is %g, want the buffer's NaN", i, j/c.h, blk, g[at])
				}
				continue
			}
			if wv := w[blk*total*c.h+j]; math.Abs(g[at]-wv) > tl*(1+math.Abs(wv)) {
				t.Fatalf("present %d: head block %d row %d: %g, concatenating %g", i, blk, j/c.h, g[at], wv)
			}
		}
	}
}

// near fails unless got is finite and within tl of want.
func near(t *testing.T, name string, got, want *tensor.Tensor, tl float64) {
	t.Helper()
	g, w := floats(got), floats(want)
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape(), want.Shape())
	}
	for i := range g {
		if math.IsNaN(g[i]) || math.IsInf(g[i], 0) || math.Abs(g[i]-w[i]) > tl*(1+math.Abs(w[i])) {
			t.Fatalf("%s[%d] = %g, concatenating %g", name, i, g[i], w[i])
		}
	}
}

// TestSharedMHAAllocs: a MultiHeadAttention step over a granted shared
// buffer allocates the same at 16 and 512 filled rows, in count and in
// bytes (nothing the size of the cache: the filled rows alone are 2 x 124
// KiB more at 512).
func TestSharedMHAAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop values: pooled state is made anew")
	}
	allocs := func(past int) (count, bytes float64) {
		c := sharedCase{op: "MultiHeadAttention", dt: tensor.Float32, past: past, s: 1, b: 1, n: 4, h: 16, maxLen: 1024,
			causal: true, bias: true, threads: 1}
		in, _ := c.inputs(rand.New(rand.NewPCG(26, 2)))
		k := c.kernel(t, true)
		ctx := &ops.Ctx{Threads: 1, Reuse: []ops.Reuse{{T: in[6]}, {T: in[7]}}}
		run := func() {
			if _, err := k.Run(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		count = testing.AllocsPerRun(20, run)
		// Bytes: the least of a few trials, as a collection that empties
		// the scratch pools in one makes their buffers anew.
		bytes = math.Inf(1)
		for range 3 {
			var m0, m1 goruntime.MemStats
			goruntime.ReadMemStats(&m0)
			for range 20 {
				run()
			}
			goruntime.ReadMemStats(&m1)
			bytes = min(bytes, float64(m1.TotalAlloc-m0.TotalAlloc)/20)
		}
		return count, bytes
	}
	n16, b16 := allocs(16)
	n512, b512 := allocs(512)
	if math.Abs(n16-n512) > 2 || b512-b16 > 8<<10 {
		t.Errorf("per step: %v allocations of %.0f bytes at 16 filled rows, %v of %.0f at 512", n16, b16, n512, b512)
	}
	t.Logf("per step: %v allocations of %.0f bytes at 16 filled rows, %v of %.0f at 512", n16, b16, n512, b512)
}
