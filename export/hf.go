package export

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/gort-ml/gort/finetune"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/tensor"
)

// FinetuneHF writes a fine-tune folder's best model (model.onnx, LoRA
// already merged) as a Hugging Face folder: BertForSequenceClassification
// for seq-cls with the pooler and for regression (num_labels 1,
// problem_type regression), BertForTokenClassification for token-cls, and
// BertModel plus sentence-transformers' mean-pooling files for embedding.
// Backbone weights get state_dict names (exporter-named MatMul weights are
// named after their nodes and transposed back to PyTorch's (out, in)).
// Where gort builds the class, the written folder is loaded back strictly
// to check every name and shape.
func FinetuneHF(src string, o Options) error {
	mf, err := finetune.ReadManifest(src)
	if err != nil {
		return err
	}
	m, err := onnx.Load(filepath.Join(src, "model.onnx"))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	state, err := StateDict(m, "bert.")
	if err != nil {
		return err
	}
	var arch string
	switch mf.Task {
	case "seq-cls", "regression":
		if mf.Pooling != string(finetune.PoolPooler) {
			return fmt.Errorf("export: a %s head on %s pooling has no transformers class (BertForSequenceClassification reads the pooler); fine-tune with --pooling pooler", mf.Task, mf.Pooling)
		}
		arch = "BertForSequenceClassification"
	case "token-cls":
		arch = "BertForTokenClassification"
	case "embedding":
		arch = "BertModel"
		for k, v := range state {
			if b, ok := strings.CutPrefix(k, "bert."); ok {
				delete(state, k)
				state[b] = v
			}
		}
	default:
		return fmt.Errorf("export: task %q has no Hugging Face class", mf.Task)
	}
	cfg, err := hfConfig(src, mf, o.Config, m, state)
	if err != nil {
		return err
	}
	raw := map[string]any{}
	if err := json.Unmarshal(cfg, &raw); err != nil {
		return fmt.Errorf("export: config: %w", err)
	}
	if raw["model_type"] != "bert" {
		return fmt.Errorf("export: hf export of fine-tuned models supports BERT backbones; this config's model_type is %v", raw["model_type"])
	}
	raw["architectures"] = []string{arch}
	if mf.Labels > 0 {
		raw["num_labels"] = mf.Labels
		names, _ := mf.Extra["label_names"].([]any)
		id2label, label2id := map[string]string{}, map[string]int{}
		for i := range mf.Labels {
			name := fmt.Sprintf("LABEL_%d", i)
			if len(names) == mf.Labels {
				if n, ok := names[i].(string); ok && n != "" {
					name = n
				}
			}
			id2label[fmt.Sprint(i)] = name
			label2id[name] = i
		}
		raw["id2label"], raw["label2id"] = id2label, label2id
	}
	if mf.Task == "regression" {
		raw["problem_type"] = "regression"
	} else if mf.Task == "seq-cls" {
		raw["problem_type"] = "single_label_classification"
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	data, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Out, "config.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	names := make([]string, 0, len(state))
	for k := range state {
		names = append(names, k)
	}
	sort.Strings(names)
	if err := tensor.SaveSafetensors(filepath.Join(o.Out, zoo.WeightsFile), names, state, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	dirs := []string{src}
	if bb, err := mf.Backbone(src); err == nil {
		dirs = append(dirs, filepath.Dir(bb))
	}
	if err := copyTokenizer(dirs, o.Out); err != nil {
		return err
	}
	if mf.Task == "embedding" {
		if err := sentenceTransformersFiles(o.Out, state); err != nil {
			return err
		}
	}
	// Load back strictly where gort builds the class.
	if arch != "BertForTokenClassification" {
		zc, err := zoo.LoadConfig(o.Out)
		if err != nil {
			return fmt.Errorf("export: written config: %w", err)
		}
		zm, err := zoo.Build(zc, arch, zoo.BuildOptions{})
		if err != nil {
			return fmt.Errorf("export: written config: %w", err)
		}
		// A feature-extraction export has no pooler; BertModel then
		// initializes one that mean pooling never reads.
		rep, err := zoo.LoadWeightsWith(zm, o.Out, zoo.LoadOptions{Partial: true})
		if err != nil {
			return fmt.Errorf("export: the written weights do not load as %s: %w", arch, err)
		}
		for _, miss := range rep.Missing {
			if arch != "BertModel" || !strings.HasPrefix(miss, "pooler.") {
				return fmt.Errorf("export: the written weights lack %s's %q (missing %v)", arch, miss, rep.Missing)
			}
		}
		if len(rep.Unexpected) > 0 {
			return fmt.Errorf("export: %s does not use the written weights %v", arch, rep.Unexpected)
		}
	}
	return nil
}

// sentenceTransformersFiles adds modules.json and 1_Pooling/config.json
// (mean pooling), so sentence-transformers loads the folder as the model
// gort trained.
func sentenceTransformersFiles(out string, state map[string]*tensor.Tensor) error {
	w := state["embeddings.word_embeddings.weight"]
	if w == nil {
		return fmt.Errorf("export: no embeddings.word_embeddings.weight for the pooling config")
	}
	modules := `[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
`
	if err := os.WriteFile(filepath.Join(out, "modules.json"), []byte(modules), 0o644); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(out, "1_Pooling"), 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	pool := fmt.Sprintf(`{"word_embedding_dimension": %d, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}
`, w.Shape()[1])
	return os.WriteFile(filepath.Join(out, "1_Pooling", "config.json"), []byte(pool), 0o644)
}

// hfConfig finds the backbone's config.json: explicit, in the fine-tune
// folder, beside the backbone, else inferred from the weights.
func hfConfig(src string, mf *finetune.Manifest, explicit string, m *ir.Model, state map[string]*tensor.Tensor) ([]byte, error) {
	cands := []string{explicit, filepath.Join(src, "config.json")}
	if bb, err := mf.Backbone(src); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(bb), "config.json"))
	}
	for _, c := range cands {
		if c == "" || !exists(c) {
			continue
		}
		data, err := os.ReadFile(c)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		if _, err := zoo.ParseConfig(data); err != nil {
			return nil, fmt.Errorf("export: %s: %w", c, err)
		}
		return data, nil
	}
	return InferBERTConfig(m, state)
}

var layerRe = regexp.MustCompile(`(?:^|\.)encoder\.layer\.(\d+)\.`)

// InferBERTConfig reads a BERT config from the weights (state_dict names)
// and the graph: sizes from the weights, heads from the attention's head
// reshape ([0, 0, heads, head_size]), epsilon from LayerNormalization.
func InferBERTConfig(m *ir.Model, state map[string]*tensor.Tensor) ([]byte, error) {
	get := func(name string) (*tensor.Tensor, error) {
		for _, k := range []string{"bert." + name, name} {
			if t := state[k]; t != nil {
				return t, nil
			}
		}
		return nil, fmt.Errorf("export: no %s to infer the BERT config from; pass a config.json (--config)", name)
	}
	word, err := get("embeddings.word_embeddings.weight")
	if err != nil {
		return nil, err
	}
	pos, err := get("embeddings.position_embeddings.weight")
	if err != nil {
		return nil, err
	}
	typ, err := get("embeddings.token_type_embeddings.weight")
	if err != nil {
		return nil, err
	}
	inter, err := get("encoder.layer.0.intermediate.dense.weight")
	if err != nil {
		return nil, err
	}
	hidden := word.Shape()[1]
	layers := 0
	for k := range state {
		if mm := layerRe.FindStringSubmatch(k); mm != nil {
			var n int
			fmt.Sscan(mm[1], &n)
			layers = max(layers, n+1)
		}
	}
	heads := 0
	eps := 1e-12
	consider := func(t *tensor.Tensor) {
		if t == nil || t.DType() != tensor.Int64 || t.Len() != 4 {
			return
		}
		v := tensor.Data[int64](t)
		if v[2] > 0 && v[3] > 0 && v[2]*v[3] == int64(hidden) && heads == 0 {
			heads = int(v[2])
		}
	}
	for _, in := range m.Graph.Initializers {
		consider(in.T)
	}
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Constant":
			for _, a := range n.Attrs {
				if a.Name == "value" {
					consider(a.T)
				}
			}
		case "LayerNormalization":
			for _, a := range n.Attrs {
				if a.Name == "epsilon" {
					eps = float64(a.F)
				}
			}
		}
	}
	if heads == 0 {
		return nil, fmt.Errorf("export: the number of attention heads is not readable from the graph; pass a config.json (--config)")
	}
	cfg := map[string]any{
		"model_type": "bert", "vocab_size": word.Shape()[0], "hidden_size": hidden, "num_hidden_layers": layers,
		"num_attention_heads": heads, "intermediate_size": inter.Shape()[0], "hidden_act": "gelu",
		"max_position_embeddings": pos.Shape()[0], "type_vocab_size": typ.Shape()[0], "layer_norm_eps": roundEps(eps),
		"hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "pad_token_id": 0,
	}
	return json.Marshal(cfg)
}

// roundEps undoes float32 storage of common epsilons (1e-12 reads back as 9.99999996e-13).
func roundEps(e float64) float64 {
	for _, c := range []float64{1e-12, 1e-6, 1e-5} {
		if float64(float32(c)) == e {
			return c
		}
	}
	return e
}

// StateDict names a BERT-style inference graph's weights as PyTorch's
// state_dict: initializers keep their names (with prefix added to
// embeddings./encoder./pooler. names that lack it); weights that MatMul
// reads directly are the exporter's transposed (in, out) layout and go back
// to (out, in), named after their node when the exporter gave them a
// generated name ("/bert/encoder/layer.0/attention/self/query/MatMul" →
// bert.encoder.layer.0.attention.self.query.weight). Constants (rank 0,
// non-float, generated names no node explains) are left out.
func StateDict(m *ir.Model, prefix string) (map[string]*tensor.Tensor, error) {
	g := m.Graph
	direct := map[string]*ir.Node{}
	for _, n := range g.Nodes {
		if n.OpType == "MatMul" && len(n.Inputs) == 2 {
			direct[n.Inputs[1]] = n
		}
		if n.OpType == "Gemm" && len(n.Inputs) >= 2 && !hasIntAttr(n, "transB", 1) {
			direct[n.Inputs[1]] = n
		}
	}
	out := map[string]*tensor.Tensor{}
	for _, in := range g.Initializers {
		t := in.T
		if !t.DType().IsFloat() || t.Rank() == 0 {
			continue
		}
		name := in.Name
		generated := strings.HasPrefix(name, "onnx::") || strings.HasPrefix(name, "/")
		if n := direct[name]; n != nil && t.Rank() == 2 {
			if generated {
				mod := strings.Trim(n.Name, "/")
				mod = strings.TrimSuffix(mod, "/MatMul")
				mod = strings.TrimSuffix(mod, "/Gemm")
				if mod == "" || strings.Contains(mod, "::") {
					continue
				}
				name = strings.ReplaceAll(mod, "/", ".") + ".weight"
			}
			tt, err := transpose2(t)
			if err != nil {
				return nil, err
			}
			t = tt
		} else if generated {
			continue
		}
		for _, p := range []string{"embeddings.", "encoder.", "pooler."} {
			if strings.HasPrefix(name, p) {
				name = prefix + name
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("export: two weights map to the state_dict name %q", name)
		}
		out[name] = t
	}
	return out, nil
}

func hasIntAttr(n *ir.Node, name string, v int64) bool {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.I == v
		}
	}
	return false
}

// transpose2 transposes a float32 matrix.
func transpose2(t *tensor.Tensor) (*tensor.Tensor, error) {
	if t.DType() != tensor.Float32 {
		return nil, fmt.Errorf("export: weights are %v; hf export writes float32", t.DType())
	}
	r, c := t.Shape()[0], t.Shape()[1]
	out := tensor.Zeros(tensor.Float32, c, r)
	s, d := tensor.Data[float32](t), tensor.Data[float32](out)
	for i := range r {
		for j := range c {
			d[j*r+i] = s[i*c+j]
		}
	}
	return out, nil
}
