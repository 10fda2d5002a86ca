package pretrain

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/tokenizer"
)

type imageRGBA = image.RGBA

var (
	blue = color.RGBA{31, 119, 180, 255}
	red  = color.RGBA{214, 39, 40, 255}
)

// evaluator runs the inference graph of the class (no dropout, with its
// loss) with the trainer's current parameters fed as inputs, so one
// compiled session serves every evaluation.
type evaluator struct {
	sess  *runtime.Session
	class string
}

func newEvaluator(cfg *zoo.Config, class string, params []string, p runtime.Provider, threads int) (*evaluator, error) {
	m, err := zoo.Build(cfg, class, zoo.BuildOptions{Loss: true})
	if err != nil {
		return nil, err
	}
	sess, err := runtime.NewSession(paramsAsInputs(m.IR, params), runtime.Options{Provider: p, IntraOpThreads: threads})
	if err != nil {
		return nil, fmt.Errorf("pretrain: compiling the evaluation graph: %w", err)
	}
	return &evaluator{sess: sess, class: class}, nil
}

func (e *evaluator) close() {
	if e != nil {
		e.sess.Close()
	}
}

func (e *evaluator) run(ctx context.Context, batch, params map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	feeds := make(map[string]*tensor.Tensor, len(batch)+len(params))
	for k, v := range batch {
		feeds[k] = v
	}
	for k, v := range params {
		feeds[k] = v
	}
	return e.sess.Run(ctx, feeds)
}

// paramsAsInputs returns a copy of m whose named initializers are graph
// inputs instead.
func paramsAsInputs(m *ir.Model, params []string) *ir.Model {
	is := map[string]bool{}
	for _, p := range params {
		is[p] = true
	}
	c := *m
	g := *m.Graph
	g.Initializers = nil
	g.Inputs = append([]*ir.ValueInfo{}, m.Graph.Inputs...)
	for _, in := range m.Graph.Initializers {
		if is[in.Name] {
			g.Inputs = append(g.Inputs, &ir.ValueInfo{Name: in.Name, Type: tensor.TensorType(in.T.DType(), in.T.Shape()...)})
		} else {
			g.Initializers = append(g.Initializers, in)
		}
	}
	c.Graph = &g
	return &c
}

// tokenScores accumulates the negative log-likelihood and accuracy of
// logits (rows of V) against labels, skipping IgnoreIndex.
type tokenScores struct {
	nll     float64
	correct int
	n       int
}

func (s *tokenScores) add(logits []float32, V int, label int64) {
	mx := float32(math.Inf(-1))
	arg := 0
	for i, v := range logits {
		if v > mx {
			mx, arg = v, i
		}
	}
	var z float64
	for _, v := range logits {
		z += math.Exp(float64(v - mx))
	}
	s.nll += math.Log(z) - float64(logits[label]-mx)
	if int64(arg) == label {
		s.correct++
	}
	s.n++
}

// evaluate runs the validation batches and returns eval_loss (the MLM or
// CLM token loss, or the MAE loss), eval_perplexity and eval_accuracy
// (masked-token or next-token accuracy), and for NSP eval_nsp_accuracy.
func (r *run) evaluate(ctx context.Context, batches []map[string]*tensor.Tensor) (map[string]float64, error) {
	var tok tokenScores
	var maeLoss float64
	nspOK, nspN := 0, 0
	for _, b := range batches {
		out, err := r.eval.run(ctx, b, r.tr.Params())
		if err != nil {
			return nil, err
		}
		if r.o.Arch == "vit-mae" {
			maeLoss += float64(tensor.Data[float32](out["loss"])[0]) / float64(len(batches))
			continue
		}
		name := "logits"
		if r.class == "BertForPreTraining" {
			name = "prediction_logits"
			nl := tensor.Data[float32](out["seq_relationship_logits"])
			for i, y := range tensor.Data[int64](b["next_sentence_label"]) {
				if (nl[2*i+1] > nl[2*i]) == (y == 1) {
					nspOK++
				}
				nspN++
			}
		}
		lg := out[name]
		sh := lg.Shape()
		B, S, V := sh[0], sh[1], sh[2]
		ld := tensor.Data[float32](lg)
		labels := tensor.Data[int64](b["labels"])
		shift := 0
		if r.o.Arch == "gpt2" {
			shift = 1 // position t predicts token t+1
		}
		for i := 0; i < B; i++ {
			for t := 0; t+shift < S; t++ {
				y := labels[i*S+t+shift]
				if y == IgnoreIndex || y < 0 || int(y) >= V {
					continue
				}
				tok.add(ld[(i*S+t)*V:(i*S+t+1)*V], V, y)
			}
		}
	}
	if r.o.Arch == "vit-mae" {
		return map[string]float64{"eval_loss": maeLoss}, nil
	}
	out := map[string]float64{}
	if tok.n > 0 {
		l := tok.nll / float64(tok.n)
		out["eval_loss"] = l
		out["eval_perplexity"] = math.Exp(l)
		out["eval_accuracy"] = float64(tok.correct) / float64(tok.n)
	}
	if nspN > 0 {
		out["eval_nsp_accuracy"] = float64(nspOK) / float64(nspN)
	}
	return out, nil
}

// UnigramEntropy is the entropy in nats of the token distribution given by
// counts: the loss of a model that predicts every token by its frequency,
// the trivial baseline of MLM and CLM.
func UnigramEntropy(counts map[int64]int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	h := 0.0
	for _, c := range counts {
		p := float64(c) / float64(total)
		h -= p * math.Log(p)
	}
	return h
}

// baseline is the trivial loss on the validation data: unigram entropy of
// the predicted tokens (text), or for MAE the loss of predicting zero for
// normalized patches (each patch's mean) or the batch mean otherwise.
func (r *run) baseline(evals []map[string]*tensor.Tensor) float64 {
	if r.o.Arch == "vit-mae" {
		if len(evals) == 0 {
			return math.NaN()
		}
		pix := evals[0]["pixel_values"]
		return maeBaseline(tensor.Data[float32](pix), pix.Shape()[0], r.cfg.ImageSize, r.cfg.PatchSize, r.cfg.NormPixLoss)
	}
	counts := map[int64]int{}
	for _, e := range r.valEx {
		for i, id := range e.IDs {
			if e.Special == nil || !e.Special[i] {
				counts[id]++
			}
		}
	}
	if len(counts) == 0 {
		return math.NaN()
	}
	return UnigramEntropy(counts)
}

// maeBaseline is the MSE of predicting each patch's mean (norm_pix_loss:
// zero after normalization) or the mean pixel.
func maeBaseline(pix []float32, b, size, patch int, normPix bool) float64 {
	grid := size / patch
	plane := size * size
	pp := patch * patch * 3
	var total float64
	var mean float64
	for _, v := range pix {
		mean += float64(v)
	}
	mean /= float64(len(pix))
	for k := 0; k < b; k++ {
		for gy := 0; gy < grid; gy++ {
			for gx := 0; gx < grid; gx++ {
				var s, s2 float64
				for ch := 0; ch < 3; ch++ {
					for y := 0; y < patch; y++ {
						for x := 0; x < patch; x++ {
							v := float64(pix[k*3*plane+ch*plane+(gy*patch+y)*size+gx*patch+x])
							if !normPix {
								v -= mean
							}
							s += v
							s2 += v * v
						}
					}
				}
				if !normPix {
					total += s2 / float64(pp)
					continue
				}
				m := s / float64(pp)
				vr := (s2 - s*m) / float64(max(pp-1, 1))
				total += (s2 - s*m) / float64(pp) / (vr + 1e-6)
			}
		}
	}
	return total / float64(b*grid*grid)
}

// predict fills the first [MASK] of each probe sentence with the model's
// five most likely tokens.
func (r *run) predict(probes []string) ([]Prediction, error) {
	name := "logits"
	if r.class == "BertForPreTraining" {
		name = "prediction_logits"
	}
	return fillMask(r.tok, r.sp, probes, func(feeds map[string]*tensor.Tensor) (*tensor.Tensor, error) {
		if r.o.NSP {
			feeds["next_sentence_label"] = tensor.Zeros(tensor.Int64, feeds["input_ids"].Shape()[0])
		}
		out, err := r.eval.run(context.Background(), feeds, r.tr.Params())
		return out[name], err
	})
}

// FillMask loads the BERT checkpoint folder dir written by Run (its
// tokenizer.json and model.onnx) and predicts the first [MASK] of each
// sentence: the five most likely tokens, best first.
func FillMask(dir string, sentences []string) ([]Prediction, error) {
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	sp, err := bertSpecials(tok)
	if err != nil {
		return nil, err
	}
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, err
	}
	sess, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	name := m.Graph.Outputs[0].Name // logits or prediction_logits
	return fillMask(tok, sp, sentences, func(feeds map[string]*tensor.Tensor) (*tensor.Tensor, error) {
		delete(feeds, "labels")
		out, err := sess.Run(context.Background(), feeds)
		return out[name], err
	})
}

// fillMask encodes the sentences as one padded batch, runs it through
// logits (returning (batch, sequence, vocab) scores) and reads the top
// tokens at each sentence's first [MASK].
func fillMask(tok *tokenizer.Tokenizer, sp specials, sentences []string, logits func(map[string]*tensor.Tensor) (*tensor.Tensor, error)) ([]Prediction, error) {
	if len(sentences) == 0 {
		return nil, nil
	}
	var exs []Example
	var at []int
	for _, p := range sentences {
		ids, _ := encodeWords(tok, p)
		e := newExample(len(ids) + 2)
		e.push(sp.cls, 0, false, true)
		pos := -1
		for _, id := range ids {
			if id == sp.mask && pos < 0 {
				pos = len(e.IDs)
			}
			e.push(id, 0, false, false)
		}
		e.push(sp.sep, 0, false, true)
		if pos < 0 {
			return nil, fmt.Errorf("pretrain: sentence %q has no [MASK]", p)
		}
		exs, at = append(exs, e), append(at, pos)
	}
	seq := 0
	for _, e := range exs {
		seq = max(seq, len(e.IDs))
	}
	feeds := textBatch(exs, seq, sp.pad, true, false, nil, nil)
	// Score the [MASK] positions so that a graph's loss is defined.
	lab := tensor.Data[int64](feeds["labels"])
	for i := range lab {
		lab[i] = IgnoreIndex
	}
	for i, p := range at {
		lab[i*seq+p] = sp.mask
	}
	out, err := logits(feeds)
	if err != nil {
		return nil, err
	}
	if out == nil || out.Rank() != 3 || out.Shape()[0] != len(exs) || out.Shape()[1] != seq {
		return nil, fmt.Errorf("pretrain: the model gives no (batch, sequence, vocab) logits")
	}
	lg := tensor.Data[float32](out)
	V := out.Shape()[2]
	var preds []Prediction
	for i, p := range at {
		row := lg[(i*seq+p)*V : (i*seq+p+1)*V]
		idx := make([]int, V)
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		var top []string
		for _, j := range idx[:min(5, V)] {
			s, _ := tok.IDToToken(j)
			top = append(top, s)
		}
		preds = append(preds, Prediction{Text: sentences[i], Top: top})
	}
	return preds, nil
}

// String shows the sentence with its best prediction and the runners-up.
func (p Prediction) String() string {
	if len(p.Top) == 0 {
		return p.Text
	}
	return fmt.Sprintf("%-42s -> %-10s (%s)", p.Text, p.Top[0], strings.Join(p.Top[1:], ", "))
}

// ExportONNX writes the inference graph of class (no dropout, no loss
// except ViT-MAE's, which needs no labels) with params as initializers.
func ExportONNX(cfg *zoo.Config, class string, params map[string]*tensor.Tensor, path string) error {
	m, err := zoo.Build(cfg, class, zoo.BuildOptions{})
	if err != nil {
		return err
	}
	setParams(m.IR, params)
	return onnx.Save(m.IR, path, onnx.SaveOptions{})
}
