package pretrain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/tokenizer"
	"github.com/gort-ml/gort/train"
)

// Options configure a pretraining run (the flags of `gort pretrain`).
type Options struct {
	Arch      string // "bert" (MLM, optionally NSP), "gpt2" (CLM) or "vit-mae"
	Config    string // HF config.json; "" means a small default (DefaultConfig)
	Data      string // text file, JSONL file, image file or a folder of them
	Tokenizer string // tokenizer.json; "" trains one on the data with VocabSize
	VocabSize int    // vocabulary size of a trained tokenizer (default 1000)
	Steps     int64
	Batch     int
	Seq       int // tokens per sequence (text)
	LR        float64
	Warmup    int64  // warmup steps (default 5% of Steps)
	Schedule  string // "linear" (default), "cosine" or "constant"
	WeightDecay,
	ClipNorm float64 // default 0.01 and 1
	Out      string
	Resume   bool // continue from the newest checkpoint in Out
	Provider runtime.Provider
	Seed     uint64

	NSP       bool    // BERT: next-sentence prediction too (BertForPreTraining)
	WholeWord bool    // BERT: whole-word masking
	MaskProb  float64 // BERT: default 0.15

	ValFraction   float64 // documents (or images) held out; default 0.05
	EvalEvery     int64   // default Steps/10
	EvalBatches   int     // default 4
	SaveEvery     int64   // checkpoint interval; default: only at the end
	ShuffleBuffer int     // examples; default 4096
	Threads       int

	// Probes are sentences with [MASK] whose predictions are shown before
	// and after training (BERT); nil means DefaultProbes.
	Probes []string

	Progress io.Writer // progress bar or lines, evaluations (stderr); nil: none
}

// Summary reports a finished run.
type Summary struct {
	Arch, Class    string
	Params         int
	Steps          int64 // completed steps
	FirstLoss      float64
	LastLoss       float64 // mean training loss of the last 10% of steps
	Baseline       float64 // unigram entropy (text) or predict-the-mean loss (MAE), nats or MSE
	EvalLoss       float64 // last evaluation (NaN without validation data)
	EvalAccuracy   float64 // masked (MLM) or next-token (CLM) accuracy
	Elapsed        time.Duration
	ItemsPerSecond float64 // tokens or images
	Before, After  []Prediction
}

// Prediction is a masked sentence and the top tokens predicted at its
// first [MASK].
type Prediction struct {
	Text string
	Top  []string
}

// DefaultProbes are masked sentences about the shipped corpus.
var DefaultProbes = []string{
	"the cat sat on the [MASK].",
	"the baker bakes [MASK] in the kitchen.",
	"a dog [MASK] when it is hungry.",
	"the farmer plants corn in the [MASK].",
}

// DefaultConfig returns a small config.json for arch, quick to train on a
// CPU. Dropout is off: models this small underfit rather than overfit, and
// with dropout MLM stays on its unigram plateau several times longer.
func DefaultConfig(arch string) ([]byte, error) {
	switch arch {
	case "bert":
		return []byte(`{"model_type":"bert","vocab_size":1000,"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":128,"max_position_embeddings":128,"type_vocab_size":2,"hidden_dropout_prob":0,"attention_probs_dropout_prob":0}`), nil
	case "gpt2":
		return []byte(`{"model_type":"gpt2","vocab_size":1000,"n_embd":64,"n_layer":2,"n_head":4,"n_positions":128,"resid_pdrop":0,"embd_pdrop":0,"attn_pdrop":0}`), nil
	case "vit-mae":
		return []byte(`{"model_type":"vit_mae","image_size":32,"patch_size":4,"num_channels":3,"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":128,"decoder_hidden_size":32,"decoder_num_hidden_layers":1,"decoder_num_attention_heads":4,"decoder_intermediate_size":64,"mask_ratio":0.75,"norm_pix_loss":true}`), nil
	}
	return nil, fmt.Errorf("pretrain: unknown arch %q (want bert, gpt2 or vit-mae)", arch)
}

var modelTypeOf = map[string]string{"bert": "bert", "gpt2": "gpt2", "vit-mae": "vit_mae"}

func (o *Options) defaults() error {
	if _, ok := modelTypeOf[o.Arch]; !ok {
		return fmt.Errorf("pretrain: unknown arch %q (want bert, gpt2 or vit-mae)", o.Arch)
	}
	if o.Data == "" || o.Out == "" {
		return errors.New("pretrain: --data and --out are required")
	}
	if o.Steps <= 0 || o.Batch <= 0 {
		return fmt.Errorf("pretrain: steps (%d) and batch (%d) must be positive", o.Steps, o.Batch)
	}
	if o.Arch != "vit-mae" && (o.Seq < 4 || o.Seq > 1<<16) {
		return fmt.Errorf("pretrain: --seq %d out of range [4, 65536]", o.Seq)
	}
	if o.LR <= 0 {
		o.LR = 1e-3
	}
	if o.VocabSize == 0 {
		o.VocabSize = 1000
	}
	if o.Warmup == 0 {
		o.Warmup = o.Steps / 20
	}
	if o.Schedule == "" {
		o.Schedule = "linear"
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 0.01
	}
	if o.ClipNorm == 0 {
		o.ClipNorm = 1
	}
	if o.MaskProb == 0 {
		o.MaskProb = 0.15
	}
	if o.MaskProb < 0 || o.MaskProb >= 1 {
		return fmt.Errorf("pretrain: mask probability %v outside (0, 1)", o.MaskProb)
	}
	if o.ValFraction == 0 {
		o.ValFraction = 0.05
	}
	if o.EvalEvery == 0 {
		o.EvalEvery = max(1, o.Steps/10)
	}
	if o.EvalBatches == 0 {
		o.EvalBatches = 4
	}
	if o.ShuffleBuffer == 0 {
		o.ShuffleBuffer = 4096
	}
	if o.Probes == nil {
		o.Probes = DefaultProbes
	}
	if o.NSP && o.Arch != "bert" {
		return errors.New("pretrain: next-sentence prediction is a BERT objective")
	}
	return nil
}

// run is the state of one pretraining run.
type run struct {
	o     Options
	cfg   *zoo.Config
	class string
	tok   *tokenizer.Tokenizer
	sp    specials
	model *zoo.Model // training graph (dropout on, loss)
	tr    *train.Trainer
	eval  *evaluator
	log   *progress

	// Data.
	trainEx iter.Seq[Example] // text
	valEx   []Example
	images  []string // training images
	valImgs []string
	dataErr error
}

// Run pretrains a model as Options describe and writes the checkpoint
// folder Out: config.json, tokenizer.json (text), model.safetensors,
// checkpoint-<step>/ with optimizer state, metrics.jsonl, loss.png,
// model.onnx and, for ViT-MAE, reconstruction.png.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	r := &run{o: o}
	if err := r.setup(); err != nil {
		if r.tr != nil {
			r.tr.Close()
		}
		return nil, err
	}
	defer r.tr.Close()
	defer r.eval.close()
	return r.loop(ctx)
}

func (r *run) setup() error {
	o := r.o
	var err error
	if r.cfg, err = loadConfig(o); err != nil {
		return err
	}
	if r.cfg.ModelType != modelTypeOf[o.Arch] {
		return fmt.Errorf("pretrain: --arch %s but the config's model_type is %q", o.Arch, r.cfg.ModelType)
	}
	switch {
	case o.Arch == "bert" && o.NSP:
		r.class = "BertForPreTraining"
	case o.Arch == "bert":
		r.class = "BertForMaskedLM"
	case o.Arch == "gpt2":
		r.class = "GPT2LMHeadModel"
	default:
		r.class = "ViTMAEForPreTraining"
		if r.cfg.NumChannels != 3 {
			return fmt.Errorf("pretrain: ViT-MAE from image folders needs num_channels 3, config has %d", r.cfg.NumChannels)
		}
	}
	if o.Arch == "vit-mae" {
		err = r.setupImages()
	} else {
		err = r.setupText()
	}
	if err != nil {
		return err
	}
	r.cfg.Architectures = []string{r.class}
	if r.model, err = zoo.Build(r.cfg, r.class, zoo.BuildOptions{Seed: o.Seed, Loss: true, Training: true}); err != nil {
		return err
	}
	// Train the model's parameters only: the graph's other float
	// initializers are constants (scales, masks' fill values).
	var params []string
	for _, p := range r.model.Params {
		if !r.model.IsFrozen(p) {
			params = append(params, p)
		}
	}
	st, err := train.Build(r.model.IR, train.Config{Loss: "loss", Params: params, Optimizer: train.AdamW(o.WeightDecay), ClipNorm: o.ClipNorm})
	if err != nil {
		return err
	}
	sched, err := train.ParseSchedule(o.Schedule, o.LR, o.Warmup, o.Steps)
	if err != nil {
		return err
	}
	if r.tr, err = train.New(st, train.Options{Provider: o.Provider, Schedule: sched, Seed: o.Seed, IntraOpThreads: o.Threads}); err != nil {
		return err
	}
	if o.Resume {
		if _, err := r.tr.Resume(o.Out); err != nil && !errors.Is(err, train.ErrNoCheckpoint) {
			return err
		}
	}
	r.eval, err = newEvaluator(r.cfg, r.class, st.Params, o.Provider, o.Threads)
	return err
}

func loadConfig(o Options) (*zoo.Config, error) {
	path := o.Config
	if path == "" && o.Resume {
		if _, err := os.Stat(filepath.Join(o.Out, "config.json")); err == nil {
			path = filepath.Join(o.Out, "config.json")
		}
	}
	if path != "" {
		return zoo.LoadConfig(path)
	}
	js, err := DefaultConfig(o.Arch)
	if err != nil {
		return nil, err
	}
	return zoo.ParseConfig(js)
}

// docs streams the documents of one split.
func (r *run) docs(src *textDocs, val bool) iter.Seq[[]string] {
	return func(yield func([]string) bool) {
		for idx, d := range src.all(&r.dataErr) {
			if isValidation(r.o.Seed, idx, r.o.ValFraction) != val {
				continue
			}
			if !yield(d) {
				return
			}
		}
	}
}

func (r *run) setupText() error {
	o := r.o
	src, err := newTextDocs(o.Data)
	if err != nil {
		return err
	}
	tokPath := o.Tokenizer
	if tokPath == "" && o.Resume {
		if _, err := os.Stat(filepath.Join(o.Out, "tokenizer.json")); err == nil {
			tokPath = filepath.Join(o.Out, "tokenizer.json")
		}
	}
	if tokPath != "" {
		if r.tok, err = tokenizer.Load(tokPath); err != nil {
			return err
		}
	} else {
		lines := func(yield func(string) bool) {
			for d := range r.docs(src, false) {
				for _, s := range d {
					if !yield(s) {
						return
					}
				}
			}
		}
		if o.Arch == "bert" {
			r.tok, err = tokenizer.TrainWordPiece(lines, tokenizer.WordPieceOptions{VocabSize: o.VocabSize, Lowercase: true})
		} else {
			r.tok, err = tokenizer.TrainByteLevelBPE(lines, tokenizer.BPEOptions{VocabSize: o.VocabSize, SpecialTokens: []string{"<|endoftext|>"}})
		}
		if err != nil {
			return err
		}
		if r.dataErr != nil {
			return r.dataErr
		}
	}
	r.tok.Truncation, r.tok.Padding = nil, nil
	if err := r.tok.Save(filepath.Join(o.Out, "tokenizer.json")); err != nil {
		return err
	}
	if v := r.tok.VocabSize(); v != r.cfg.VocabSize {
		r.cfg.VocabSize = v
	}
	if o.Seq > r.cfg.MaxPositions {
		return fmt.Errorf("pretrain: --seq %d exceeds the config's %d positions", o.Seq, r.cfg.MaxPositions)
	}
	var examples func(docs iter.Seq[[]string], rng *rand.Rand) iter.Seq[Example]
	if o.Arch == "bert" {
		if r.sp, err = bertSpecials(r.tok); err != nil {
			return err
		}
		r.cfg.PadTokenID = int(r.sp.pad)
		examples = func(docs iter.Seq[[]string], rng *rand.Rand) iter.Seq[Example] {
			return bertExamples(docs, r.tok, r.sp, o.Seq, o.NSP, rng)
		}
	} else {
		if r.sp.eos, err = tokenID(r.tok, "<|endoftext|>", "</s>", "[SEP]"); err != nil {
			return err
		}
		r.sp.pad = r.sp.eos
		// GPT2Config defaults to GPT-2's 50256; name this vocabulary's.
		if r.cfg.Extra == nil {
			r.cfg.Extra = map[string]json.RawMessage{}
		}
		id := json.RawMessage(strconv.FormatInt(r.sp.eos, 10))
		r.cfg.Extra["bos_token_id"], r.cfg.Extra["eos_token_id"] = id, id
		examples = func(docs iter.Seq[[]string], _ *rand.Rand) iter.Seq[Example] {
			return clmBlocks(docs, r.tok, r.sp.eos, o.Seq)
		}
	}
	r.trainEx = epochs(func(e int) iter.Seq[Example] {
		rng := newRand(o.Seed, uint64(e)<<8|1)
		return shuffled(examples(r.docs(src, false), rng), o.ShuffleBuffer, rng)
	}, &r.dataErr)
	for ex := range examples(r.docs(src, true), newRand(o.Seed, 2)) {
		r.valEx = append(r.valEx, ex)
		if len(r.valEx) == o.EvalBatches*o.Batch {
			break
		}
	}
	return r.dataErr
}

func (r *run) setupImages() error {
	files, err := listFiles(r.o.Data, ".png", ".jpg", ".jpeg")
	if err != nil {
		return err
	}
	for i, f := range files {
		if isValidation(r.o.Seed, int64(i), r.o.ValFraction) {
			if len(r.valImgs) < r.o.EvalBatches*r.o.Batch {
				r.valImgs = append(r.valImgs, f)
			}
		} else {
			r.images = append(r.images, f)
		}
	}
	if len(r.images) == 0 {
		return fmt.Errorf("pretrain: no training images in %s", r.o.Data)
	}
	return nil
}

// imageStream yields training image paths, a fresh permutation per epoch.
func (r *run) imageStream() iter.Seq[string] {
	return func(yield func(string) bool) {
		for e := uint64(0); ; e++ {
			perm := newRand(r.o.Seed, e<<8|3).Perm(len(r.images))
			for _, i := range perm {
				if !yield(r.images[i]) {
					return
				}
			}
		}
	}
}

// maskOptions are the MLM masking settings of the run.
func (r *run) maskOptions() *MaskOptions {
	return &MaskOptions{Prob: r.o.MaskProb, WholeWord: r.o.WholeWord, MaskID: r.sp.mask, FirstNormal: r.sp.firstNormal, Vocab: int64(r.tok.VocabSize())}
}

// batchOf builds a batch's feeds from examples (text) or image paths with
// the randomness of step (masking, MAE noise).
func (r *run) textFeeds(exs []Example, rng *rand.Rand) map[string]*tensor.Tensor {
	var mask *MaskOptions
	if r.o.Arch == "bert" {
		mask = r.maskOptions()
	}
	return textBatch(exs, r.o.Seq, r.sp.pad, r.o.Arch == "bert", r.o.NSP, mask, rng)
}

func (r *run) imageFeeds(paths []string, rng *rand.Rand) (map[string]*tensor.Tensor, error) {
	pix, err := imageBatch(paths, r.cfg.ImageSize)
	if err != nil {
		return nil, err
	}
	g := r.cfg.ImageSize / r.cfg.PatchSize
	return map[string]*tensor.Tensor{"pixel_values": pix, "noise": uniformNoise(len(paths), g*g, rng)}, nil
}

func sumMask(f map[string]*tensor.Tensor) int {
	n := 0
	for _, v := range tensor.Data[int64](f["attention_mask"]) {
		n += int(v)
	}
	return n
}

// evalBatches returns the fixed validation batches (masking and noise
// seeded apart from training, the same at every evaluation).
func (r *run) evalBatches() ([]map[string]*tensor.Tensor, error) {
	var out []map[string]*tensor.Tensor
	b := r.o.Batch
	if r.o.Arch == "vit-mae" {
		for i := 0; i+b <= len(r.valImgs) || (i == 0 && len(r.valImgs) > 0); i += b {
			f, err := r.imageFeeds(r.valImgs[i:min(i+b, len(r.valImgs))], newRand(r.o.Seed, uint64(i)<<8|5))
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	}
	for i := 0; i < len(r.valEx); i += b {
		out = append(out, r.textFeeds(r.valEx[i:min(i+b, len(r.valEx))], newRand(r.o.Seed, uint64(i)<<8|5)))
	}
	return out, nil
}

func (r *run) loop(ctx context.Context) (*Summary, error) {
	o := r.o
	sum := &Summary{Arch: o.Arch, Class: r.class, EvalLoss: math.NaN(), EvalAccuracy: math.NaN()}
	for _, p := range r.tr.Params() {
		sum.Params += p.Len()
	}
	unit := "tokens"
	if o.Arch == "vit-mae" {
		unit = "images"
	}
	r.log = newProgress(o.Progress, o.Steps, unit)
	metricsPath := filepath.Join(o.Out, "metrics.jsonl")
	done := r.tr.Steps()
	recs, err := readMetrics(metricsPath, done)
	if err != nil {
		return nil, err
	}
	if done == 0 {
		recs = nil
	}
	mf, err := os.Create(metricsPath)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	if err := writeMetrics(mf, recs); err != nil {
		return nil, err
	}
	evals, err := r.evalBatches()
	if err != nil {
		return nil, err
	}
	sum.Baseline = r.baseline(evals)
	if o.Arch == "bert" {
		if sum.Before, err = r.predict(o.Probes); err != nil {
			return nil, err
		}
	}
	if done > 0 {
		r.log.note("resuming at step %d of %d", done, o.Steps)
	}
	var next func() (Example, bool)
	var nextImg func() (string, bool)
	if o.Arch == "vit-mae" {
		var stop func()
		nextImg, stop = iter.Pull(r.imageStream())
		defer stop()
	} else {
		var stop func()
		next, stop = iter.Pull(r.trainEx)
		defer stop()
	}
	// The data stream restarts from the beginning: skip what the resumed
	// steps consumed so that the continuation is the uninterrupted run's.
	for k := int64(0); k < done*int64(o.Batch); k++ {
		if nextImg != nil {
			nextImg()
		} else if _, ok := next(); !ok {
			break
		}
	}
	start := time.Now()
	var items int64
	var losses []float64
	for step := done + 1; step <= o.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rng := newRand(o.Seed, uint64(step)<<8|4)
		var feeds map[string]*tensor.Tensor
		n := 0
		if nextImg != nil {
			paths := make([]string, o.Batch)
			for i := range paths {
				paths[i], _ = nextImg()
			}
			if feeds, err = r.imageFeeds(paths, rng); err != nil {
				return nil, err
			}
			n = o.Batch
		} else {
			exs := make([]Example, 0, o.Batch)
			for len(exs) < o.Batch {
				ex, ok := next()
				if !ok {
					if r.dataErr != nil {
						return nil, r.dataErr
					}
					return nil, fmt.Errorf("pretrain: %s yields no %s examples of %d tokens", o.Data, o.Arch, o.Seq)
				}
				exs = append(exs, ex)
			}
			feeds = r.textFeeds(exs, rng)
			n = sumMask(feeds)
		}
		t0 := time.Now()
		res, err := r.tr.Step(ctx, feeds)
		if err != nil {
			return nil, err
		}
		dt := time.Since(t0).Seconds()
		items += int64(n)
		if step == done+1 {
			sum.FirstLoss = res.Loss
		}
		losses = append(losses, res.Loss)
		rec := Record{"step": step, "loss": res.Loss, "lr": res.LR, "grad_norm": res.GradNorm, "elapsed_s": time.Since(start).Seconds()}
		if dt > 0 {
			rec[unit+"_per_s"] = float64(n) / dt // the step alone, without data loading
		}
		r.log.update(step, res.Loss, n)
		if step%o.EvalEvery == 0 || step == o.Steps {
			if len(evals) > 0 {
				ev, err := r.evaluate(ctx, evals)
				if err != nil {
					return nil, err
				}
				for k, v := range ev {
					rec[k] = v
				}
				sum.EvalLoss = ev["eval_loss"]
				if a, ok := ev["eval_accuracy"]; ok {
					sum.EvalAccuracy = a
				}
				r.log.note("step %d: %s", step, evalLine(ev))
			}
		}
		if err := writeMetrics(mf, []Record{rec}); err != nil {
			return nil, err
		}
		if o.SaveEvery > 0 && step%o.SaveEvery == 0 && step != o.Steps {
			if err := r.save(); err != nil {
				return nil, err
			}
		}
	}
	sum.Steps = r.tr.Steps()
	sum.Elapsed = time.Since(start)
	if s := sum.Elapsed.Seconds(); s > 0 {
		sum.ItemsPerSecond = float64(items) / s
	}
	if len(losses) > 0 {
		tail := losses[len(losses)-max(1, len(losses)/10):]
		for _, l := range tail {
			sum.LastLoss += l / float64(len(tail))
		}
	}
	if err := r.save(); err != nil {
		return nil, err
	}
	if err := r.finish(evals); err != nil {
		return nil, err
	}
	if o.Arch == "bert" {
		if sum.After, err = r.predict(o.Probes); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// save writes the checkpoint (parameters and optimizer state) and the
// Hugging Face files: config.json and model.safetensors.
func (r *run) save() error {
	if _, err := r.tr.Save(r.o.Out, map[string]any{"arch": r.o.Arch, "class": r.class}); err != nil {
		return err
	}
	setParams(r.model.IR, r.tr.Params())
	return zoo.SavePretrained(r.model, r.o.Out)
}

// finish writes loss.png, model.onnx and (MAE) reconstruction.png.
func (r *run) finish(evals []map[string]*tensor.Tensor) error {
	recs, err := ReadMetrics(filepath.Join(r.o.Out, "metrics.jsonl"))
	if err != nil {
		return err
	}
	if err := writePNG(filepath.Join(r.o.Out, "loss.png"), PlotMetrics(recs, r.class)); err != nil {
		return err
	}
	if err := ExportONNX(r.cfg, r.class, r.tr.Params(), filepath.Join(r.o.Out, "model.onnx")); err != nil {
		return err
	}
	if r.o.Arch == "vit-mae" && len(evals) > 0 {
		out, err := r.eval.run(context.Background(), evals[0], r.tr.Params())
		if err != nil {
			return err
		}
		pix := evals[0]["pixel_values"]
		b := min(pix.Shape()[0], 4)
		img := reconstructionGrid(tensor.Data[float32](pix), tensor.Data[float32](out["logits"]), tensor.Data[float32](out["mask"]),
			b, r.cfg.ImageSize, r.cfg.PatchSize, r.cfg.NormPixLoss, max(1, 96/r.cfg.ImageSize))
		return writePNG(filepath.Join(r.o.Out, "reconstruction.png"), img)
	}
	return nil
}

// PlotMetrics draws the training loss (and evaluation loss where logged)
// of metrics.jsonl records.
func PlotMetrics(recs []Record, title string) *imageRGBA {
	var tr, ev Series
	tr.Name, tr.Color = "train", blue
	ev.Name, ev.Color, ev.Dots = "eval", red, true
	for _, rec := range recs {
		s, ok1 := num(rec, "step")
		l, ok2 := num(rec, "loss")
		if ok1 && ok2 {
			tr.X, tr.Y = append(tr.X, s), append(tr.Y, l)
		}
		if e, ok := num(rec, "eval_loss"); ok1 && ok {
			ev.X, ev.Y = append(ev.X, s), append(ev.Y, e)
		}
	}
	series := []Series{tr}
	if len(ev.X) > 0 {
		series = append(series, ev)
	}
	return LossPlot(title+" loss", 800, 480, series...)
}

// setParams replaces the model's initializers by the trained values.
func setParams(m *ir.Model, params map[string]*tensor.Tensor) {
	for _, in := range m.Graph.Initializers {
		if t, ok := params[in.Name]; ok {
			in.T = t
		}
	}
}

// evalLine formats an evaluation's metrics.
func evalLine(ev map[string]float64) string {
	s := fmt.Sprintf("eval loss %.4f", ev["eval_loss"])
	if p, ok := ev["eval_perplexity"]; ok {
		s += fmt.Sprintf(", perplexity %.2f, accuracy %.3f", p, ev["eval_accuracy"])
	}
	if a, ok := ev["eval_nsp_accuracy"]; ok {
		s += fmt.Sprintf(", next-sentence accuracy %.3f", a)
	}
	return s
}
