package zoo

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/runtime/ort/orttest"
	"github.com/gort-ml/gort/tensor"
)

// The graph with past, fed a prompt and then one token at a time with its
// own presents as past, gives the logits of the full-sequence graph at
// every position, including rows with left padding.
func TestGPT2WithPastMatchesFullGraph(t *testing.T) {
	cfg := tinyConfig(t, "gpt2")
	full, err := Build(cfg, "GPT2LMHeadModel", BuildOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := BuildGPT2WithPast(cfg, BuildOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := "logits"; inc.Outputs[0] != want || inc.IR.Graph.Outputs[0].Name != want {
		t.Fatalf("first output %q, want logits", inc.Outputs[0])
	}
	fs, err := runtime.NewSession(full.IR, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	is, err := runtime.NewSession(inc.IR, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const B, S, prompt = 2, 9, 4
	ids := make([]int64, B*S)
	for i := range ids {
		ids[i] = int64((i*37 + 11) % cfg.VocabSize)
	}
	mask := make([]int64, B*S)
	for i := range mask {
		mask[i] = 1
	}
	mask[S+0], mask[S+1] = 0, 0 // row 1 is left-padded by two
	// Positions count kept tokens, as transformers' generate derives them.
	posAll := make([]int64, B*S)
	for b := 0; b < B; b++ {
		n := int64(0)
		for s := 0; s < S; s++ {
			if mask[b*S+s] == 1 {
				posAll[b*S+s] = n
				n++
			} else {
				posAll[b*S+s] = 1
			}
		}
	}
	ctx := context.Background()
	ref, err := fs.Run(ctx, map[string]*tensor.Tensor{"input_ids": tensor.Must([]int{B, S}, ids), "attention_mask": tensor.Must([]int{B, S}, mask)})
	if err != nil {
		t.Fatal(err)
	}
	// The full graph uses positions 0..S−1 regardless of padding; compare
	// row 0 (unpadded) everywhere and row 1 only through the incremental
	// graph fed the same 0..S−1 positions.
	for b := range posAll {
		posAll[b] = int64(b % S)
	}
	hd := cfg.HiddenSize / cfg.NumHeads
	feeds := map[string]*tensor.Tensor{}
	for l := 0; l < cfg.NumLayers; l++ {
		for _, kv := range []string{"key", "value"} {
			feeds[fmt.Sprintf("past_key_values.%d.%s", l, kv)] = tensor.Zeros(tensor.Float32, B, cfg.NumHeads, 0, hd)
		}
	}
	cols := func(x []int64, from, to int) *tensor.Tensor {
		out := make([]int64, 0, B*(to-from))
		for b := 0; b < B; b++ {
			out = append(out, x[b*S+from:b*S+to]...)
		}
		return tensor.Must([]int{B, to - from}, out)
	}
	V := cfg.VocabSize
	want := tensor.Data[float32](ref["logits"])
	for from, to := 0, prompt; from < S; from, to = to, to+1 {
		feeds["input_ids"] = cols(ids, from, to)
		feeds["position_ids"] = cols(posAll, from, to)
		feeds["attention_mask"] = cols(mask, 0, to)
		out, err := is.Run(ctx, feeds)
		if err != nil {
			t.Fatalf("step at %d: %v", from, err)
		}
		got := tensor.Data[float32](out["logits"])
		n := to - from
		for b := 0; b < B; b++ {
			for s := from; s < to; s++ {
				if mask[b*S+s] == 0 {
					continue
				}
				for v := 0; v < V; v++ {
					g, w := got[(b*n+s-from)*V+v], want[(b*S+s)*V+v]
					if math.Abs(float64(g-w)) > 1e-4 {
						t.Fatalf("row %d position %d logit %d: %g, full graph %g", b, s, v, g, w)
					}
				}
			}
		}
		for name, v := range out {
			if len(name) > 8 && name[:8] == "present." {
				feeds["past_key_values."+name[8:]] = v
				if v.Shape()[2] != to {
					t.Fatalf("%s has %d positions, want %d", name, v.Shape()[2], to)
				}
			}
		}
	}
}

func TestGPT2WithPastRefusesOthers(t *testing.T) {
	if _, err := BuildGPT2WithPast(tinyConfig(t, "bert"), BuildOptions{}); err == nil {
		t.Error("bert config built")
	}
	if _, err := BuildGPT2WithPast(tinyConfig(t, "gpt2"), BuildOptions{Loss: true}); err == nil {
		t.Error("loss graph built")
	}
}

// The shared-cache graph gives the logits of the graph with past at every
// step of a left-padded batch, natively with its past donated (written in
// place: present is the past buffer) or not, and through ONNX Runtime.
func TestGPT2SharedCacheMatchesWithPast(t *testing.T) {
	cfg := tinyConfig(t, "gpt2")
	ref, err := BuildGPT2WithPast(cfg, BuildOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := BuildGPT2SharedCache(cfg, BuildOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	type variant struct {
		name   string
		prov   runtime.Provider
		donate bool
	}
	variants := []variant{{"native donated", nil, true}, {"native", nil, false}}
	if orttest.Err() == nil {
		variants = append(variants, variant{"ort", ort.New(ort.Options{}), false})
	} else if os.Getenv("CI") != "" {
		orttest.Need(t)
	}
	rs, err := runtime.NewSession(ref.IR, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const B, S, prompt, capacity = 2, 8, 4, 10
	hd, nh, V := cfg.HiddenSize/cfg.NumHeads, cfg.NumHeads, cfg.VocabSize
	ids, mask, pos := make([]int64, B*S), make([]int64, B*S), make([]int64, B*S)
	for i := range ids {
		ids[i] = int64((i*53 + 7) % V)
		mask[i] = 1
		pos[i] = int64(i%S - 1)
	}
	mask[S] = 0 // row 1 is left-padded by one
	pos[S] = 1
	for s := 0; s < S; s++ {
		pos[s] = int64(s)
	}
	cols := func(x []int64, from, to int) *tensor.Tensor {
		out := make([]int64, 0, B*(to-from))
		for b := 0; b < B; b++ {
			out = append(out, x[b*S+from:b*S+to]...)
		}
		return tensor.Must([]int{B, to - from}, out)
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			ss, err := runtime.NewSession(sh.IR, runtime.Options{Provider: v.prov})
			if err != nil {
				t.Fatal(err)
			}
			defer ss.Close()
			rf, sf := map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
			var pastNames []string
			for l := 0; l < cfg.NumLayers; l++ {
				for _, kv := range []string{"key", "value"} {
					name := fmt.Sprintf("past_key_values.%d.%s", l, kv)
					pastNames = append(pastNames, name)
					rf[name] = tensor.Zeros(tensor.Float32, B, nh, 0, hd)
					sf[name] = tensor.Zeros(tensor.Float32, B, nh, capacity, hd)
				}
			}
			ctx := context.Background()
			if v.donate {
				ctx = runtime.WithDonated(ctx, pastNames...)
			}
			for from, to := 0, prompt; from < S; from, to = to, to+1 {
				for _, f := range []map[string]*tensor.Tensor{rf, sf} {
					f["input_ids"], f["position_ids"], f["attention_mask"] = cols(ids, from, to), cols(pos, from, to), cols(mask, 0, to)
				}
				want, err := rs.Run(context.Background(), rf)
				if err != nil {
					t.Fatal(err)
				}
				past0 := sf[pastNames[0]]
				got, err := ss.Run(ctx, sf)
				if err != nil {
					t.Fatalf("step at %d: %v", from, err)
				}
				g, w := tensor.Data[float32](got["logits"]), tensor.Data[float32](want["logits"])
				for i := range w {
					b, s := i/V/(to-from), from+i/V%(to-from)
					if mask[b*S+s] == 1 && math.Abs(float64(g[i]-w[i])) > 1e-4 {
						t.Fatalf("step at %d: logit %d is %g, graph with past %g", from, i, g[i], w[i])
					}
				}
				inPlace := &tensor.Data[float32](got["present.0.key"])[0] == &tensor.Data[float32](past0)[0]
				if want := v.donate; inPlace != want {
					t.Fatalf("step at %d: present written in place %v, want %v", from, inPlace, want)
				}
				for _, name := range pastNames {
					p := got["present."+name[len("past_key_values."):]]
					if sh := p.Shape(); sh[2] != capacity {
						t.Fatalf("%s has shape %v, want %d positions", name, sh, capacity)
					}
					// The valid rows are the graph with past's present.
					r := tensor.Data[float32](want["present."+name[len("past_key_values."):]])
					pd := tensor.Data[float32](p)
					for bh := 0; bh < B*nh; bh++ {
						for j := 0; j < to*hd; j++ {
							if mask[bh/nh*S+j/hd] == 0 {
								continue // padding: masked everywhere
							}
							if a, b := pd[bh*capacity*hd+j], r[bh*to*hd+j]; math.Abs(float64(a-b)) > 1e-5 {
								t.Fatalf("step at %d: %s row %d element %d is %g, want %g", from, name, bh, j, a, b)
							}
						}
					}
					sf[name], rf[name] = p, want["present."+name[len("past_key_values."):]]
				}
			}
		})
	}
}
