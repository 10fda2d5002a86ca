package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// cmdDemo is the README's main job until pretraining lands: build a small
// BERT-shaped encoder in Go, run it natively and through ONNX Runtime on the
// same padded batch, and show that they agree and how fast each is.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", 20, "timed runs per provider")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	cfg := tiny.TinyBERT
	m, err := tiny.BERT(cfg)
	if err != nil {
		return err
	}
	params := 0
	for _, t := range m.Graph.Initializers {
		params += t.T.Len()
	}
	fmt.Fprintf(stdout, "gort demo: a BERT-shaped encoder built in Go (%d layers, hidden %d, %d heads, vocab %d; %d parameters, %d nodes)\n",
		cfg.NumLayers, cfg.HiddenSize, cfg.NumHeads, cfg.VocabSize, params, len(m.Graph.Nodes))
	const batch, seq = 2, 32
	feeds, err := conformance.RandomFeeds(m, 7, map[string]int{"batch": batch, "sequence": seq})
	if err != nil {
		return err
	}
	// Pad the second sequence: its last 12 tokens are masked out.
	mask := tensor.Data[int64](feeds["attention_mask"])
	for j := seq - 12; j < seq; j++ {
		mask[seq+j] = 0
	}
	fmt.Fprintf(stdout, "input: batch %d x %d tokens, the second sequence padded (12 masked positions)\n\n", batch, seq)
	ortP, ortErr := provider("ort")
	providers := []runtime.Provider{runtime.Native()}
	if ortErr == nil {
		providers = append(providers, ortP)
	} else {
		fmt.Fprintf(stdout, "ONNX Runtime unavailable (%v): showing the native provider only; run `make ort`\n", ortErr)
	}
	outs := map[string]map[string]*tensor.Tensor{}
	for _, p := range providers {
		sess, err := runtime.NewSession(m, runtime.Options{Provider: p})
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name(), err)
		}
		times := make([]float64, 0, *runs)
		var out map[string]*tensor.Tensor
		for i := 0; i < *runs+1; i++ { // the first run warms up
			start := time.Now()
			out, err = sess.Run(context.Background(), feeds)
			if err != nil {
				sess.Close()
				return fmt.Errorf("%s: %w", p.Name(), err)
			}
			if i > 0 {
				times = append(times, float64(time.Since(start).Microseconds())/1000)
			}
		}
		sess.Close()
		sort.Float64s(times)
		outs[p.Name()] = out
		fmt.Fprintf(stdout, "%-7s median %.2f ms per batch over %d runs\n", p.Name(), times[len(times)/2], *runs)
	}
	if len(outs) < 2 {
		return nil
	}
	fmt.Fprintln(stdout)
	bad := 0
	for _, o := range m.Graph.Outputs {
		d, err := conformance.CompareTensors(outs["ort"][o.Name], outs["native"][o.Name], conformance.Tolerance{Rtol: 1e-4, Atol: 1e-4})
		fmt.Fprintf(stdout, "output %-18s %v  max_abs=%.2e max_rel=%.2e\n", o.Name, outs["native"][o.Name].Shape(), d.MaxAbs, d.MaxRel)
		if err != nil {
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintln(stdout, "demo: native and ONNX Runtime DISAGREE beyond 1e-4")
		return errExit(1)
	}
	fmt.Fprintln(stdout, "demo: native and ONNX Runtime agree within 1e-4 on every output")
	return nil
}
