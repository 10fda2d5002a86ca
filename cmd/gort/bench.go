package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
)

// builtinModels are Hugging Face configurations the benchmark builds with
// random weights, so `make bench` needs no download.
var builtinModels = map[string]struct{ config, arch string }{
	"bert-base": {`{"model_type":"bert","vocab_size":30522,"hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072,"max_position_embeddings":512}`, "BertModel"},
	"bert-mini": {`{"model_type":"bert","vocab_size":30522,"hidden_size":256,"num_hidden_layers":4,"num_attention_heads":4,"intermediate_size":1024,"max_position_embeddings":512}`, "BertModel"},
	"gpt2":      {`{"model_type":"gpt2","vocab_size":50257,"n_embd":768,"n_layer":12,"n_head":12,"n_positions":1024}`, "GPT2LMHeadModel"},
	"vit-base":  {`{"model_type":"vit","image_size":224,"patch_size":16,"hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072}`, "ViTModel"},
}

func builtinNames() string {
	var names []string
	for n := range builtinModels {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// cmdBench times a model on the native provider, ONNX Runtime or both,
// alternating the providers run by run so that both see the same machine
// load, and prints medians and, with both, the ratio.
//
// Each run is preceded by a short pause (--gap, 30 ms): after a run, ONNX
// Runtime's pool threads spin-wait for more work, and a run that starts
// at once shares the cores with them (bert-base on 2 threads: native 80 ms
// right after an ORT run, 65 ms with the pause; ORT itself 63-70 with or
// without it). Longer pauses let an idle virtual machine slow down (native 85 ms
// after 200 ms idle, 64 ms when another thread kept a vCPU busy), which is
// the machine's, not a provider's, so the pause stays short.
func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "usage: gort bench MODEL [--provider native|ort|both] [--threads N] [--batch B] [--seq S] [--runs R] [--gap D] [--cpuprofile FILE]\nMODEL is an .onnx file or a built-in model with random weights: "+builtinNames(), stderr)
	prov := fs.String("provider", "both", "native, ort or both")
	threads := fs.Int("threads", 0, "intra-op threads for both providers (0: all cores)")
	batch := fs.Int("batch", 1, "batch size (symbolic batch dimensions)")
	seq := fs.Int("seq", 128, "sequence length (other symbolic dimensions)")
	runs := fs.Int("runs", 10, "timed runs per provider, after 2 warm-up runs")
	gap := fs.Duration("gap", 30*time.Millisecond, "pause before each run, so that ONNX Runtime's spin-waiting threads do not take the CPU from the next run (0: none)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the timed runs to this file (go tool pprof)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *runs < 1 {
		fs.Usage()
		return errExit(2)
	}
	m, err := benchModel(pos[0])
	if err != nil {
		return err
	}
	dims := map[string]int{}
	for _, v := range m.Graph.Inputs {
		for _, d := range v.Type.Shape {
			if d.Param != "" {
				dims[d.Param] = benchDim(d.Param, *batch, *seq)
			}
		}
	}
	feeds, err := conformance.RandomFeeds(m, 1, dims)
	if err != nil {
		return err
	}
	var names []string
	switch *prov {
	case "both":
		names = []string{"native", "ort"}
	case "native", "ort":
		names = []string{*prov}
	default:
		return fmt.Errorf("--provider %q: want native, ort or both", *prov)
	}
	sessions := make([]*runtime.Session, len(names))
	for i, name := range names {
		p, err := provider(name)
		if err != nil {
			return err
		}
		s, err := openSession(m, runtime.Options{Provider: p, IntraOpThreads: *threads}, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer s.Close()
		sessions[i] = s
	}
	times := make([][]float64, len(names))
	for r := -2; r < *runs; r++ {
		if r == 0 && *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		for i, s := range sessions {
			if *gap > 0 {
				time.Sleep(*gap)
			}
			start := time.Now()
			if _, err := s.Run(context.Background(), feeds); err != nil {
				return fmt.Errorf("%s: %w", names[i], err)
			}
			if r >= 0 {
				times[i] = append(times[i], float64(time.Since(start).Microseconds())/1000)
			}
		}
	}
	med := make([]float64, len(names))
	for i, name := range names {
		sort.Float64s(times[i])
		med[i] = times[i][len(times[i])/2]
		fmt.Fprintf(stdout, "%-6s median %8.2f ms  (min %.2f, max %.2f, %d runs; batch %d, seq %d, threads %d)\n",
			name, med[i], times[i][0], times[i][len(times[i])-1], *runs, *batch, *seq, *threads)
	}
	if len(names) == 2 {
		fmt.Fprintf(stdout, "bench: native/ort = %.2f\n", med[0]/med[1])
	}
	return nil
}

// benchDim is the size bench gives a symbolic dimension: the batch size
// for a batch one, the sum of its terms for a sum (an export's attention
// mask spans "past_sequence_length + sequence_length"), the sequence
// length otherwise.
func benchDim(param string, batch, seq int) int {
	if terms := strings.Split(param, "+"); len(terms) > 1 {
		n := 0
		for _, t := range terms {
			n += benchDim(strings.TrimSpace(t), batch, seq)
		}
		return n
	}
	if v, err := strconv.Atoi(param); err == nil {
		return v
	}
	if strings.Contains(strings.ToLower(param), "batch") {
		return batch
	}
	return seq
}

// benchModel loads an .onnx file or builds a built-in model.
func benchModel(name string) (*ir.Model, error) {
	if b, ok := builtinModels[name]; ok {
		cfg, err := zoo.ParseConfig([]byte(b.config))
		if err != nil {
			return nil, err
		}
		zm, err := zoo.Build(cfg, b.arch, zoo.BuildOptions{})
		if err != nil {
			return nil, err
		}
		return zm.IR, nil
	}
	if _, err := os.Stat(name); err != nil {
		return nil, fmt.Errorf("%w (or name a built-in model: %s)", err, builtinNames())
	}
	return onnx.Load(name)
}
