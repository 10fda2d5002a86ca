package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/train"
)

// FitOptions configure Fit (the flags of `gort finetune`).
type FitOptions struct {
	Encoder  *Encoder
	Epochs   int     // default 3
	Batch    int     // default 16
	LR       float64 // peak learning rate; default 2e-5 (1e-3 with LoRA or a frozen backbone)
	Warmup   float64 // fraction of steps warming up linearly; default 0.1
	Patience int     // evaluations without improvement before stopping; 0: never stop early
	Out      string  // folder for model.onnx, checkpoints, metrics.jsonl, finetune.json; "" writes nothing
	Seed     uint64  // shuffling
	Progress io.Writer
	Log      io.Writer
	// Manifest is extra information recorded in finetune.json (backbone path, tokenizer, fields).
	Manifest map[string]any
	// Resume continues from the newest checkpoint in Out (written at the
	// end of an epoch): the data order of the remaining epochs, the
	// learning-rate schedule and the best model so far are those of the
	// uninterrupted run; metrics.jsonl is appended to.
	Resume bool
}

// Metrics are evaluation figures (names as transformers' Trainer logs them).
type Metrics map[string]float64

// Report is the outcome of Fit.
type Report struct {
	Steps      int64
	Epochs     int
	FirstLoss  float64
	LastLoss   float64
	Best       Metrics // best evaluation (nil without eval data)
	BestStep   int64
	Stopped    bool // early stopping ended the run
	Elapsed    time.Duration
	BestMetric string
}

// Manifest is finetune.json in a fine-tune folder.
type Manifest struct {
	Format     string         `json:"format"` // "gort-finetune"
	Task       string         `json:"task"`
	Labels     int            `json:"num_labels"`
	Pooling    string         `json:"pooling,omitempty"`
	Hidden     string         `json:"hidden_output"`
	Pooled     string         `json:"pooled_output,omitempty"`
	Inputs     []string       `json:"inputs"`
	Output     string         `json:"output"`
	LoRARank   int            `json:"lora_rank,omitempty"`
	LoRAAlpha  float64        `json:"lora_alpha,omitempty"`
	Frozen     bool           `json:"freeze_backbone,omitempty"`
	Trainable  []string       `json:"trainable"`
	BestStep   int64          `json:"best_step"`
	BestMetric string         `json:"best_metric,omitempty"`
	Best       Metrics        `json:"best,omitempty"`
	Extra      map[string]any `json:"extra,omitempty"`
}

// ManifestFile is the fine-tune folder's description.
const ManifestFile = "finetune.json"

// Manifest describes the model for finetune.json.
func (m *Model) Manifest() Manifest {
	mf := Manifest{Format: "gort-finetune", Task: m.Task.Name(), Labels: m.Task.NumLabels(), Hidden: m.hidden, Pooled: m.pooled,
		Inputs: m.Inputs, Output: m.Output(), LoRARank: m.cfg.loraRank, Frozen: m.cfg.freeze, Trainable: m.Trainable()}
	if m.cfg.loraRank > 0 {
		mf.LoRAAlpha = m.cfg.loraAlpha
	}
	if _, ok := m.Task.(SeqCls); ok {
		mf.Pooling = string(m.pool)
	}
	if _, ok := m.Task.(Regression); ok {
		mf.Pooling = string(m.pool)
	}
	return mf
}

// Fit trains for o.Epochs over trainSet, evaluating on evalSet (may be nil)
// after every epoch. With o.Out it writes metrics.jsonl (one record per
// step and per evaluation), model.onnx (the best evaluation's inference
// graph, LoRA merged), best/ (its parameters as a checkpoint), the latest
// checkpoint-<step>/ and finetune.json.
func (m *Model) Fit(ctx context.Context, trainSet, evalSet []Example, o FitOptions) (*Report, error) {
	if o.Encoder == nil || o.Encoder.Tok == nil {
		return nil, fmt.Errorf("finetune: Fit needs an Encoder with a tokenizer")
	}
	if len(trainSet) == 0 {
		return nil, fmt.Errorf("finetune: no training examples")
	}
	if o.Epochs <= 0 {
		o.Epochs = 3
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if _, ok := m.Task.(Embedding); ok && o.Batch < 2 {
		return nil, fmt.Errorf("finetune: embedding training needs batches of at least 2 pairs (the other pairs are the negatives)")
	}
	if o.LR <= 0 {
		o.LR = 2e-5
		if m.cfg.loraRank > 0 || m.cfg.freeze {
			o.LR = 1e-3
		}
	}
	if o.Warmup < 0 || o.Warmup >= 1 {
		return nil, fmt.Errorf("finetune: warmup fraction %v outside [0, 1)", o.Warmup)
	}
	if o.Warmup == 0 {
		o.Warmup = 0.1
	}
	if o.Encoder.Inputs == nil {
		o.Encoder.Inputs = m.Inputs
	}
	perEpoch := (len(trainSet) + o.Batch - 1) / o.Batch
	total := int64(perEpoch * o.Epochs)
	if m.trainer == nil {
		if err := m.SetSchedule(train.WarmupLinear(o.LR, int64(o.Warmup*float64(total)), total)); err != nil {
			return nil, err
		}
	}
	tr, err := m.Trainer()
	if err != nil {
		return nil, err
	}
	var metrics *os.File
	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if o.Resume {
			flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		}
		if metrics, err = os.OpenFile(filepath.Join(o.Out, "metrics.jsonl"), flags, 0o644); err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		defer metrics.Close()
	}
	record := func(r map[string]any) {
		if metrics != nil {
			b, _ := json.Marshal(r)
			metrics.Write(append(b, '\n'))
		}
	}
	rep := &Report{FirstLoss: math.NaN(), BestMetric: primaryMetric(m.Task)}
	start := time.Now()
	rng := rand.New(rand.NewPCG(o.Seed, 0x73687566))
	order := make([]int, len(trainSet))
	for i := range order {
		order[i] = i
	}
	bad := 0
	startEpoch := 1
	if o.Resume {
		if o.Out == "" {
			return nil, fmt.Errorf("finetune: resuming needs the Out folder")
		}
		if _, err := tr.Resume(o.Out); err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		done := tr.Steps()
		if done%int64(perEpoch) != 0 {
			return nil, fmt.Errorf("finetune: the checkpoint is at step %d, not at the end of an epoch of %d steps (was the batch size or data changed?)", done, perEpoch)
		}
		startEpoch = int(done/int64(perEpoch)) + 1
		rep.Steps, rep.Epochs = done, startEpoch-1
		if mf, err := ReadManifest(o.Out); err == nil && mf.Best != nil {
			rep.Best, rep.BestStep = mf.Best, mf.BestStep
		}
		for range startEpoch - 1 { // replay the data order of the finished epochs
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
	}
	bar := newBar(o.Progress, total)
	var lossSum float64
	var lossN int
	for epoch := startEpoch; epoch <= o.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for i := 0; i < len(order); i += o.Batch {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			idx := order[i:min(i+o.Batch, len(order))]
			if _, ok := m.Task.(Embedding); ok && len(idx) < 2 {
				continue
			}
			exs := make([]Example, len(idx))
			for k, j := range idx {
				exs[k] = trainSet[j]
			}
			batch, err := o.Encoder.Encode(m.Task, exs)
			if err != nil {
				return rep, err
			}
			res, err := tr.Step(ctx, batch)
			if err != nil {
				return rep, fmt.Errorf("finetune: %w", err)
			}
			if math.IsNaN(rep.FirstLoss) {
				rep.FirstLoss = res.Loss
			}
			lossSum += res.Loss
			lossN++
			rep.LastLoss = res.Loss
			rep.Steps = res.Step
			record(map[string]any{"step": res.Step, "epoch": float64(epoch-1) + float64(i+len(idx))/float64(len(order)), "loss": res.Loss, "learning_rate": res.LR, "grad_norm": res.GradNorm})
			bar.update(res.Step, res.Loss)
		}
		rep.Epochs = epoch
		bar.done()
		ev := Metrics{}
		if len(evalSet) > 0 {
			// An interrupt during evaluation still lets the epoch finish with
			// its checkpoint (Resume continues from it); the next step stops.
			ev, err = m.Evaluate(context.WithoutCancel(ctx), evalSet, o.Encoder, o.Batch)
			if err != nil {
				return rep, err
			}
		}
		ev["train_loss"] = lossSum / float64(max(lossN, 1))
		lossSum, lossN = 0, 0
		r := map[string]any{"step": rep.Steps, "epoch": epoch}
		for k, v := range ev {
			r[k] = v
		}
		record(r)
		if o.Log != nil {
			fmt.Fprintf(o.Log, "epoch %d: %s\n", epoch, formatMetrics(ev))
		}
		better := rep.Best == nil || improves(rep.BestMetric, ev, rep.Best)
		if len(evalSet) == 0 {
			better = true // without evaluation the last model is kept
		}
		if better {
			rep.Best, rep.BestStep, bad = ev, rep.Steps, 0
			if err := m.saveBest(o, rep); err != nil {
				return rep, err
			}
		} else {
			bad++
		}
		if o.Out != "" {
			ck, err := tr.Save(o.Out, map[string]any{"task": m.Task.Name(), "epoch": epoch})
			if err != nil {
				return rep, fmt.Errorf("finetune: %w", err)
			}
			removeOlderCheckpoints(o.Out, filepath.Base(ck))
		}
		if o.Patience > 0 && bad >= o.Patience && epoch < o.Epochs {
			rep.Stopped = true
			if o.Log != nil {
				fmt.Fprintf(o.Log, "early stopping: %s did not improve for %d evaluations\n", rep.BestMetric, bad)
			}
			break
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// saveBest writes model.onnx, best/ and finetune.json for the best model.
func (m *Model) saveBest(o FitOptions, rep *Report) error {
	if o.Out == "" {
		return nil
	}
	inf, err := m.Inference()
	if err != nil {
		return err
	}
	if err := onnx.Save(inf, filepath.Join(o.Out, "model.onnx"), onnx.SaveOptions{}); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	params := m.Params()
	names := sortedKeys(params)
	if err := os.MkdirAll(filepath.Join(o.Out, "best"), 0o755); err != nil {
		return err
	}
	if err := tensor.SaveSafetensors(filepath.Join(o.Out, "best", "params.safetensors"), names, params, map[string]string{"format": "gort"}); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	mf := m.Manifest()
	mf.BestStep, mf.Best, mf.BestMetric, mf.Extra = rep.BestStep, rep.Best, rep.BestMetric, o.Manifest
	data, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.Out, ManifestFile), append(data, '\n'), 0o644)
}

func sortedKeys(m map[string]*tensor.Tensor) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

// primaryMetric is the figure early stopping and the best checkpoint follow.
func primaryMetric(t Task) string {
	switch t.(type) {
	case Regression:
		return "eval_mse"
	case Embedding:
		return "eval_accuracy" // in-batch retrieval accuracy@1
	}
	return "eval_f1"
}

func improves(metric string, now, best Metrics) bool {
	if metric == "eval_mse" {
		return now[metric] < best[metric]
	}
	return now[metric] > best[metric]
}

// Evaluate runs the inference graph over exs: eval_accuracy and eval_f1
// (macro) for classification, eval_mse for regression, and for Embedding
// eval_accuracy, the share of anchors whose nearest positive (cosine) over
// the whole set is their own.
func (m *Model) Evaluate(ctx context.Context, exs []Example, enc *Encoder, batch int) (Metrics, error) {
	if enc.Inputs == nil {
		enc.Inputs = m.Inputs
	}
	if batch <= 0 {
		batch = 32
	}
	s, err := m.session()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var preds, gold []int
	var se float64
	var anchors, positives [][]float32
	for i := 0; i < len(exs); i += batch {
		part := exs[i:min(i+batch, len(exs))]
		b, err := enc.Encode(m.Task, part)
		if err != nil {
			return nil, err
		}
		out, err := m.predictWith(ctx, s, b)
		if err != nil {
			return nil, err
		}
		d := tensor.Data[float32](out)
		switch m.Task.(type) {
		case SeqCls:
			c := out.Shape()[1]
			for k, ex := range part {
				preds = append(preds, argmax(d[k*c:(k+1)*c]))
				gold = append(gold, ex.Label)
			}
		case Regression:
			for k, ex := range part {
				e := float64(d[k]) - ex.Value
				se += e * e
			}
		case TokenCls:
			sh := out.Shape()
			sl, c := sh[1], sh[2]
			y := tensor.Data[int64](b[InputLabels])
			for k := range len(part) * sl {
				if y[k] != -100 {
					preds = append(preds, argmax(d[k*c:(k+1)*c]))
					gold = append(gold, int(y[k]))
				}
			}
		case Embedding:
			h := out.Shape()[1]
			n := len(part)
			for k := range n {
				anchors = append(anchors, d[k*h:(k+1)*h])
				positives = append(positives, d[(n+k)*h:(n+k+1)*h])
			}
		}
	}
	res := Metrics{}
	switch m.Task.(type) {
	case Regression:
		res["eval_mse"] = se / float64(len(exs))
	case Embedding:
		res["eval_accuracy"] = retrievalAccuracy(anchors, positives)
	default:
		res["eval_accuracy"], res["eval_f1"] = accuracyF1(preds, gold, m.Task.NumLabels())
	}
	return res, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// accuracyF1 returns accuracy and the macro F1 over classes present in
// gold or predictions (sklearn's f1_score(average="macro") on those labels).
func accuracyF1(pred, gold []int, classes int) (float64, float64) {
	if len(gold) == 0 {
		return 0, 0
	}
	tp, fp, fn := make([]int, classes), make([]int, classes), make([]int, classes)
	ok := 0
	for i := range gold {
		p, g := pred[i], gold[i]
		if p == g {
			ok++
			tp[g]++
		} else {
			fp[p]++
			fn[g]++
		}
	}
	var f1 float64
	n := 0
	for c := range classes {
		if tp[c]+fp[c]+fn[c] == 0 {
			continue
		}
		n++
		f1 += 2 * float64(tp[c]) / float64(2*tp[c]+fp[c]+fn[c])
	}
	return float64(ok) / float64(len(gold)), f1 / float64(max(n, 1))
}

func retrievalAccuracy(a, p [][]float32) float64 {
	norm := func(v []float32) float64 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s) + 1e-12
	}
	pn := make([]float64, len(p))
	for j := range p {
		pn[j] = norm(p[j])
	}
	ok := 0
	for i := range a {
		best, bestJ := math.Inf(-1), -1
		for j := range p {
			var dot float64
			for k := range a[i] {
				dot += float64(a[i][k]) * float64(p[j][k])
			}
			if c := dot / pn[j]; c > best {
				best, bestJ = c, j
			}
		}
		if bestJ == i {
			ok++
		}
	}
	return float64(ok) / float64(max(len(a), 1))
}

// removeOlderCheckpoints keeps only the newest checkpoint (for resuming);
// the best model lives in model.onnx and best/.
func removeOlderCheckpoints(dir, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*"))
	for _, p := range old {
		if filepath.Base(p) != keep {
			os.RemoveAll(p)
		}
	}
}
