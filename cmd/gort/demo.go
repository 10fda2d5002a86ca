package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/tokenizer"
)

// cmdDemo is the README's main job, on built-in defaults: from the raw text
// shipped in data/, train a WordPiece tokenizer and pretrain a tiny BERT
// with masked language modelling (loss falling, masked words predicted
// before and after), fine-tune it to classify sentences with the small
// labelled set shipped beside it, export the classifier to ONNX, and run
// the export natively and through ONNX Runtime to show that they agree.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "out/demo", "folder for everything the demo writes")
	data := fs.String("data", "data", "folder with tiny-corpus.txt and tiny-topics/")
	steps := fs.Int("steps", 1500, "pretraining steps")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	corpus := filepath.Join(*data, "tiny-corpus.txt")
	topics := filepath.Join(*data, "tiny-topics")
	for _, p := range []string{corpus, filepath.Join(topics, "train.jsonl"), filepath.Join(topics, "dev.jsonl")} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w (run the demo from the repository root, or pass --data)", err)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	pre, ft, onnxPath := filepath.Join(*out, "pretrained"), filepath.Join(*out, "finetuned"), filepath.Join(*out, "classifier.onnx")
	for _, d := range []string{pre, ft} {
		os.RemoveAll(d) // a fresh run each time
	}
	start := time.Now()
	section := func(n int, title string) {
		fmt.Fprintf(stdout, "\n== %d. %s ==\n", n, title)
	}
	run := func(name string, f func([]string, io.Writer, io.Writer) error, args ...string) error {
		fmt.Fprintf(stdout, "$ gort %s %s\n", name, strings.Join(args, " "))
		if err := f(args, stdout, stderr); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}

	section(1, "Pretrain a tiny BERT with masked language modelling on raw text")
	fmt.Fprintf(stdout, "%s is original English text shipped with gort; the tokenizer is trained on it first.\n", corpus)
	t0 := time.Now()
	if err := run("pretrain", cmdPretrain, "--arch", "bert", "--data", corpus, "--vocab-size", "400", "--steps", fmt.Sprint(*steps),
		"--batch", "16", "--seq", "24", "--lr", "5e-3", "--out", pre); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pretraining took %s; loss curve: %s\n", time.Since(t0).Round(time.Second), filepath.Join(pre, "loss.png"))

	section(2, "Fine-tune it to tell sentences about animals from sentences about people")
	t0 = time.Now()
	if err := run("finetune", cmdFinetune, pre, "--task", "seq-cls", "--labels", "2",
		"--data", filepath.Join(topics, "train.jsonl"), "--eval", filepath.Join(topics, "dev.jsonl"),
		"--epochs", "2", "--batch", "16", "--lr", "1e-3", "--max-len", "24", "--out", ft); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fine-tuning took %s\n", time.Since(t0).Round(time.Second))

	section(3, "Export the classifier to ONNX")
	if err := run("export", cmdExport, ft, "--format", "onnx", "--out", onnxPath); err != nil {
		return err
	}

	section(4, "Run the export natively (pure Go) and through ONNX Runtime")
	if err := classify(stdout, onnxPath, filepath.Join(pre, "tokenizer.json"), []string{
		"the little dog barks in the yard.", "the doctor helps patients in the hospital.",
		"a frog croaks near the pond at night.", "my friend is a painter who paints pictures.",
	}); err != nil {
		return err
	}
	if err := run("compare", cmdCompare, onnxPath, "--dim", "batch=8", "--dim", "sequence=24"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ndemo: done in %s; everything is in %s\n", time.Since(start).Round(time.Second), *out)
	return nil
}

// classify tokenizes sentences, runs the exported classifier on both
// providers and prints each prediction and the largest logit difference.
func classify(w io.Writer, model, tokPath string, sentences []string) error {
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return err
	}
	m, err := onnx.Load(model)
	if err != nil {
		return err
	}
	encs := make([]tokenizer.Encoding, len(sentences))
	maxLen := 0
	for i, s := range sentences {
		encs[i] = tok.Encode(s)
		maxLen = max(maxLen, len(encs[i].IDs))
	}
	n := len(sentences)
	ids, mask, types := make([]int64, n*maxLen), make([]int64, n*maxLen), make([]int64, n*maxLen)
	for i, e := range encs {
		for j, id := range e.IDs {
			ids[i*maxLen+j], mask[i*maxLen+j] = int64(id), 1
		}
	}
	feeds := map[string]*tensor.Tensor{
		"input_ids":      tensor.Must([]int{n, maxLen}, ids),
		"attention_mask": tensor.Must([]int{n, maxLen}, mask),
		"token_type_ids": tensor.Must([]int{n, maxLen}, types),
	}
	out, err := runNativeAndORT(m, feeds, nil)
	if err != nil {
		return err
	}
	logits := map[string][]float32{}
	for name, o := range out {
		logits[name] = tensor.Data[float32](o["logits"])
	}
	names := []string{"person", "animal"} // label 0 and 1 of data/tiny-topics
	worst := 0.0
	for i, s := range sentences {
		nat, ref := logits["native"][2*i:2*i+2], logits["ort"][2*i:2*i+2]
		pick := func(l []float32) string {
			if l[1] > l[0] {
				return names[1]
			}
			return names[0]
		}
		for j := range nat {
			worst = max(worst, float64(abs32(nat[j]-ref[j])))
		}
		fmt.Fprintf(w, "  %-48q native: %-7s ort: %-7s\n", s, pick(nat), pick(ref))
	}
	fmt.Fprintf(w, "largest logit difference native vs ONNX Runtime on these sentences: %.2g\n", worst)
	return nil
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
