package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/gort-ml/gort/generate"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tokenizer"
)

// cmdGenerate continues a prompt with a decoder: an optimum export (any of
// its layouts) or a Hugging Face GPT-2 checkpoint folder.
func cmdGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", "usage: gort generate MODEL_OR_DIR [--tokenizer tokenizer.json] --prompt TEXT [--max-new-tokens N] [--greedy | --temperature T --top-k K --top-p P] [--seed S] [--stream]", stderr)
	tokPath := fs.String("tokenizer", "", "tokenizer.json (default: the one next to the model)")
	prompt := fs.String("prompt", "", "text to continue")
	maxNew := fs.Int("max-new-tokens", 32, "tokens to generate at most")
	greedy := fs.Bool("greedy", false, "pick the most likely token (the default unless --temperature is set)")
	temp := fs.Float64("temperature", 0, "sample with this temperature (> 0)")
	topK := fs.Int("top-k", 0, "sample among the k most likely tokens (0: all)")
	topP := fs.Float64("top-p", 0, "sample among the most likely tokens reaching probability p (0: all)")
	rep := fs.Float64("repetition-penalty", 0, "penalize tokens already present (1: off)")
	seed := fs.Uint64("seed", 0, "sampling seed")
	stream := fs.Bool("stream", false, "print text as it is produced")
	noCache := fs.Bool("no-cache", false, "rerun the whole sequence each step (for checking)")
	prov := fs.String("provider", "native", "execution provider: native or ort")
	var stops multiFlag
	fs.Var(&stops, "stop", "stop when the text contains this string (repeatable)")
	modelPath, err := oneArg(fs, args)
	if err != nil {
		return err
	}
	if *greedy && (*temp > 0 || *topK > 0 || *topP > 0) {
		return fmt.Errorf("--greedy excludes --temperature, --top-k and --top-p")
	}
	if (*topK > 0 || *topP > 0) && *temp == 0 {
		*temp = 1 // top-k / top-p imply sampling, as do_sample does
	}
	p, err := provider(*prov)
	if err != nil {
		return err
	}
	l, err := generate.Load(modelPath, runtime.Options{Provider: p})
	if err != nil {
		return err
	}
	defer l.Close()
	if l.NotShared != "" {
		fmt.Fprintf(stderr, "note: %s; the KV cache grows by a copy at every step\n", l.NotShared)
	}
	if *tokPath == "" {
		*tokPath = filepath.Join(l.Dir, "tokenizer.json")
	}
	tok, err := tokenizer.Load(*tokPath)
	if err != nil {
		return fmt.Errorf("%w (pass --tokenizer)", err)
	}
	eos := l.EOS
	if len(eos) == 0 {
		if id, ok := tok.TokenToID("<|endoftext|>"); ok {
			eos = []int{id}
		}
	}
	g, err := generate.New(l.Session, tok, generate.Options{
		MaxNewTokens: *maxNew, Temperature: *temp, TopK: *topK, TopP: *topP, RepetitionPenalty: *rep,
		Seed: *seed, EOS: eos, StopStrings: stops, WithPast: l.WithPast, NoCache: *noCache,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprint(stdout, *prompt)
	if *stream {
		for piece, err := range g.Stream(ctx, *prompt) {
			if err != nil {
				fmt.Fprintln(stdout)
				return err
			}
			fmt.Fprint(stdout, piece)
		}
	} else {
		res, err := g.Generate(ctx, *prompt)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, res[0].Text)
	}
	fmt.Fprintln(stdout)
	s := g.LastStats()
	fmt.Fprintf(stderr, "%d prompt + %d new tokens (%s, %s): prefill %.1f ms, %.1f tokens/s\n",
		s.PromptTokens, s.NewTokens, g.Layout(), p.Name(), float64(s.Prefill.Microseconds())/1000, s.TokensPerSecond())
	return nil
}
