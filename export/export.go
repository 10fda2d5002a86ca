// Package export writes trained models out: the ONNX inference graph
// (training-only nodes and dropout removed, weights as initializers,
// external data past protobuf's 2 GB, optionally optimized), the Hugging
// Face format (model.safetensors + config.json + tokenizer files) and the
// training-step graph as ONNX.
//
// # Sources
//
// Export reads what gort writes: a `gort pretrain` or `gort finetune` --out
// folder, a Hugging Face folder (config.json + weights) or an .onnx file.
//
//	export.Export("runs/sst2", export.Options{Format: export.FormatONNX, Out: "sst2.onnx"})
package export

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gort-ml/gort/finetune"
	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/train"
)

// Formats.
const (
	FormatONNX          = "onnx"
	FormatHF            = "hf"
	FormatTrainingGraph = "training-graph"
)

// Options configure Export.
type Options struct {
	Format string // onnx, hf or training-graph
	Out    string // a file (onnx, training-graph) or a folder (hf)
	// Optimize runs graphopt on the ONNX inference graph: "" or "none",
	// "basic" (constant folding, dead code, common subexpressions: standard
	// ops only) or "extended" (also com.microsoft fusions ONNX Runtime runs).
	Optimize string
	// ExternalData forces initializers of at least 1 KiB into Out + ".data"
	// (they go there anyway when the model passes 2 GB).
	ExternalData bool
	// Config is a config.json for HF export of a fine-tuned model whose
	// backbone folder has none (default: the one beside the backbone, else
	// one inferred from the weights).
	Config string
}

// Kind of a source.
type Kind int

// Source kinds.
const (
	KindONNX     Kind = iota // an .onnx file
	KindFinetune             // a gort finetune folder (finetune.json)
	KindZoo                  // a gort pretrain or Hugging Face folder (config.json + weights)
)

// Detect tells what src is.
func Detect(src string) (Kind, error) {
	st, err := os.Stat(src)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	if !st.IsDir() {
		return KindONNX, nil
	}
	if exists(filepath.Join(src, finetune.ManifestFile)) {
		return KindFinetune, nil
	}
	if exists(filepath.Join(src, "config.json")) {
		return KindZoo, nil
	}
	return 0, fmt.Errorf("export: %s is neither a finetune folder (%s) nor a model folder (config.json)", src, finetune.ManifestFile)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Export writes src in o.Format to o.Out.
func Export(src string, o Options) error {
	if o.Out == "" {
		return fmt.Errorf("export: no output path")
	}
	kind, err := Detect(src)
	if err != nil {
		return err
	}
	switch o.Format {
	case FormatONNX:
		m, err := inferenceModel(src, kind)
		if err != nil {
			return err
		}
		return ONNX(m, o.Out, o)
	case FormatHF:
		switch kind {
		case KindZoo:
			return zooHF(src, o.Out)
		case KindFinetune:
			return FinetuneHF(src, o)
		}
		return fmt.Errorf("export: hf export needs a pretrain or finetune folder (the config and tokenizer live there), not an .onnx file")
	case FormatTrainingGraph:
		m, err := trainingGraph(src, kind)
		if err != nil {
			return err
		}
		return save(m, o.Out, o.ExternalData)
	}
	return fmt.Errorf("export: format %q: use onnx, hf or training-graph", o.Format)
}

// inferenceModel loads the inference graph of a source.
func inferenceModel(src string, kind Kind) (*ir.Model, error) {
	switch kind {
	case KindFinetune:
		return onnx.Load(filepath.Join(src, "model.onnx")) // the best evaluation's, LoRA merged
	case KindZoo:
		zm, err := loadZoo(src, zoo.BuildOptions{})
		if err != nil {
			return nil, err
		}
		return zm.IR, nil
	}
	return onnx.Load(src)
}

// loadZoo builds the config's architecture and loads the folder's weights.
func loadZoo(dir string, bo zoo.BuildOptions) (*zoo.Model, error) {
	cfg, err := zoo.LoadConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	zm, err := zoo.Build(cfg, "", bo)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := zoo.LoadWeights(zm, dir); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return zm, nil
}

// ONNX writes the inference graph of m: training-only nodes removed,
// optionally optimized, with external data when forced or past 2 GB.
func ONNX(m *ir.Model, path string, o Options) error {
	m, err := StripTraining(m)
	if err != nil {
		return err
	}
	switch strings.ToLower(o.Optimize) {
	case "", "none":
	case "basic", "extended":
		lvl := graphopt.Basic
		if strings.EqualFold(o.Optimize, "extended") {
			lvl = graphopt.Extended
		}
		if m, _, err = graphopt.Optimize(m, graphopt.Options{Level: lvl}); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	default:
		return fmt.Errorf("export: optimize level %q: use none, basic or extended", o.Optimize)
	}
	return save(m, path, o.ExternalData)
}

func save(m *ir.Model, path string, external bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	so := onnx.SaveOptions{}
	if external {
		so = onnx.SaveOptions{ExternalDataFile: filepath.Base(path) + ".data", ExternalThreshold: 1024}
	}
	for _, in := range m.Graph.Initializers {
		in.External = nil
	}
	if err := onnx.Save(m, path, so); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// trainingOps are removed from inference graphs (their output takes the
// value of their first input).
var trainingOps = map[string]bool{"Dropout": true}

// StripTraining returns m without training-only nodes: Dropout nodes are
// bypassed (inference dropout is the identity), their mask outputs must be
// unused; graph outputs computed from the training step (a "loss" that
// needs labels) are dropped with the label inputs they need. m is not
// modified.
func StripTraining(m *ir.Model) (*ir.Model, error) {
	c := *m
	g := *m.Graph
	c.Graph = &g
	rename := map[string]string{}
	var nodes []*ir.Node
	for _, n := range m.Graph.Nodes {
		if trainingOps[n.OpType] && n.Domain == "" {
			if len(n.Outputs) > 1 && n.Outputs[1] != "" && used(m.Graph, n.Outputs[1]) {
				return nil, fmt.Errorf("export: dropout %q's mask is used; the graph is not an inference graph", n.Name)
			}
			rename[n.Outputs[0]] = resolve(rename, n.Inputs[0])
			continue
		}
		nodes = append(nodes, n)
	}
	for i, n := range nodes {
		changed := false
		ins := append([]string{}, n.Inputs...)
		for k, in := range ins {
			if r, ok := rename[in]; ok {
				ins[k], changed = r, true
			}
		}
		if changed {
			nn := *n
			nn.Inputs = ins
			nodes[i] = &nn
		}
	}
	g.Outputs = nil
	for _, o := range m.Graph.Outputs {
		if o.Name == "loss" || strings.HasPrefix(o.Name, "train/") {
			continue
		}
		if r, ok := rename[o.Name]; ok {
			nodes = append(nodes, &ir.Node{Name: "export/" + o.Name, OpType: "Identity", Inputs: []string{r}, Outputs: []string{o.Name}})
		}
		g.Outputs = append(g.Outputs, o)
	}
	g.Nodes = nodes
	g.ValueInfo = append([]*ir.ValueInfo{}, m.Graph.ValueInfo...)
	g.Initializers = append([]*ir.Initializer{}, m.Graph.Initializers...)
	finetune.Prune(&g) // the loss and what only it needed
	need := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			need[in] = true
		}
		for _, sg := range n.Subgraphs() {
			for _, f := range sg.FreeNames() {
				need[f] = true
			}
		}
	}
	for _, o := range g.Outputs {
		need[o.Name] = true
	}
	g.Inputs = nil
	for _, in := range m.Graph.Inputs {
		if need[in.Name] || !isLabel(in.Name) {
			g.Inputs = append(g.Inputs, in)
		}
	}
	if err := g.Validate(nil); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &c, nil
}

func isLabel(name string) bool { return name == "labels" || name == "next_sentence_label" }

func resolve(rename map[string]string, v string) string {
	for {
		r, ok := rename[v]
		if !ok {
			return v
		}
		v = r
	}
}

func used(g *ir.Graph, v string) bool {
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == v {
				return true
			}
		}
	}
	for _, o := range g.Outputs {
		if o.Name == v {
			return true
		}
	}
	return false
}

// trainingGraph builds the training step of a source as ONNX
// (train.Step.TrainingGraph), with the newest checkpoint's parameters and
// optimizer state where the folder has one.
func trainingGraph(src string, kind Kind) (*ir.Model, error) {
	switch kind {
	case KindFinetune:
		m, _, err := finetune.Load(src)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		tr, err := m.Trainer()
		if err != nil {
			return nil, err
		}
		return tr.TrainingGraph()
	case KindZoo:
		zm, err := loadZoo(src, zoo.BuildOptions{Training: true, Loss: true})
		if err != nil {
			return nil, err
		}
		st, err := train.Build(zm.IR, train.Config{Loss: "loss", Frozen: zm.IsFrozen, ClipNorm: 1})
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		tr, err := train.New(st, train.Options{})
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		defer tr.Close()
		// Parameters and optimizer state of a pretrain run's newest
		// checkpoint; a Hugging Face folder has none (zero state).
		if _, err := tr.Resume(src); err != nil && !errors.Is(err, train.ErrNoCheckpoint) {
			return nil, fmt.Errorf("export: %w", err)
		}
		return tr.TrainingGraph()
	}
	m, err := onnx.Load(src)
	if err != nil {
		return nil, err
	}
	for _, e := range m.Metadata {
		if e.Key == "gort.training_graph" {
			return m, nil
		}
	}
	return nil, fmt.Errorf("export: %s is an inference graph; a training graph needs a loss: export a pretrain or finetune folder", src)
}

// tokenizerFiles are copied beside HF exports when present.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt"}

func copyTokenizer(dirs []string, out string) error {
	for _, f := range tokenizerFiles {
		for _, d := range dirs {
			p := filepath.Join(d, f)
			if !exists(p) {
				continue
			}
			if err := copyFile(p, filepath.Join(out, f)); err != nil {
				return err
			}
			break
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("export: %w", err)
	}
	return out.Close()
}

// zooHF writes a pretrain or HF folder's model in Hugging Face format.
func zooHF(src, out string) error {
	zm, err := loadZoo(src, zoo.BuildOptions{})
	if err != nil {
		return err
	}
	if err := zoo.SavePretrained(zm, out); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return copyTokenizer([]string{src}, out)
}
