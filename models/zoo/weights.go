package zoo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gort-ml/gort/tensor"
)

// File names of a Hugging Face checkpoint.
const (
	WeightsFile = "model.safetensors"
	IndexFile   = "model.safetensors.index.json"
)

// DefaultMaxShardBytes is the shard size SaveWeights starts a new file at
// (transformers' max_shard_size default of 5 GB).
const DefaultMaxShardBytes = 5_000_000_000

// ErrWeights is wrapped by every checkpoint/model mismatch LoadWeights
// reports.
var ErrWeights = errors.New("checkpoint does not match the model")

// LoadOptions configure LoadWeightsWith.
type LoadOptions struct {
	// Partial keeps the initial value of parameters the checkpoint lacks
	// (a new head on a pretrained encoder) and skips checkpoint tensors the
	// model has no use for (another class's head), as from_pretrained does
	// with a warning; the report lists both. Shapes must still match.
	Partial bool
}

// LoadReport says what LoadWeightsWith did.
type LoadReport struct {
	Loaded     int
	Missing    []string // parameters left at their initial values (Partial)
	Unexpected []string // checkpoint tensors not used (Partial)
	Converted  []string // tensors stored as float16/bfloat16/float64, converted to float32
}

// LoadWeights replaces the model's parameters with a checkpoint's: path
// is a model.safetensors file, a model.safetensors.index.json, or a folder
// holding either (the index wins). Every parameter must be present with its
// shape; checkpoint names may carry or lack the base-model prefix ("bert.",
// "transformer.", "vit.") as transformers accepts. Tied aliases
// (cls.predictions.decoder.*, lm_head.weight) and known buffers
// (embeddings.position_ids, GPT-2's attn.bias and attn.masked_bias) are
// skipped. All missing, unexpected and mis-shaped names are reported in one
// error wrapping ErrWeights; on error the model is unchanged.
func LoadWeights(m *Model, path string) error {
	_, err := LoadWeightsWith(m, path, LoadOptions{})
	return err
}

// LoadWeightsWith is LoadWeights with options.
func LoadWeightsWith(m *Model, path string, opts LoadOptions) (*LoadReport, error) {
	ckpt, err := readCheckpoint(path)
	if err != nil {
		return nil, err
	}
	inits := map[string]int{}
	for i, in := range m.IR.Graph.Initializers {
		inits[in.Name] = i
	}
	params := map[string]bool{}
	for _, p := range m.Params {
		params[p] = true
	}
	base := basePrefix[m.Config.ModelType] + "."
	rep := &LoadReport{}
	var problems []string
	assign := map[string]*tensor.Tensor{}
	source := map[string]string{}
	names := make([]string, 0, len(ckpt))
	for n := range ckpt {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := ckpt[n]
		p := m.resolve(n, params, base)
		if c, ok := m.Copies[n]; ok {
			p = c
		} else if m.shadowed(p, ckpt) {
			continue
		}
		if p == "" {
			if tiedOrBuffer(m, n, base) {
				continue
			}
			rep.Unexpected = append(rep.Unexpected, n)
			continue
		}
		if prev, dup := source[p]; dup {
			problems = append(problems, fmt.Sprintf("%q and %q both give parameter %q", prev, n, p))
			continue
		}
		source[p] = n
		want := m.IR.Graph.Initializers[inits[p]].T
		if !tensor.SameShape(want.Shape(), t.Shape()) {
			problems = append(problems, fmt.Sprintf("%q has shape %v, the model needs %v", n, t.Shape(), want.Shape()))
			continue
		}
		if t.DType() != tensor.Float32 {
			if !t.DType().IsFloat() {
				problems = append(problems, fmt.Sprintf("%q is %v, not a floating-point tensor", n, t.DType()))
				continue
			}
			f := tensor.Zeros(tensor.Float32, t.Shape()...)
			if err := tensor.Convert(f, t, false); err != nil {
				problems = append(problems, fmt.Sprintf("%q: converting %v to float32: %v", n, t.DType(), err))
				continue
			}
			rep.Converted = append(rep.Converted, n)
			t = f
		}
		assign[p] = t
	}
	for _, p := range m.Params {
		if assign[p] == nil && source[p] == "" {
			rep.Missing = append(rep.Missing, p)
		}
	}
	if !opts.Partial {
		if len(rep.Missing) > 0 {
			problems = append(problems, fmt.Sprintf("missing %d parameters: %s", len(rep.Missing), list(rep.Missing)))
		}
		if len(rep.Unexpected) > 0 {
			problems = append(problems, fmt.Sprintf("%d unexpected tensors: %s (load with LoadOptions.Partial to skip them)", len(rep.Unexpected), list(rep.Unexpected)))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("zoo: %s: %w: %s", path, ErrWeights, strings.Join(problems, "; "))
	}
	for p, t := range assign {
		m.IR.Graph.Initializers[inits[p]].T = t
	}
	rep.Loaded = len(assign)
	return rep, nil
}

var basePrefix = map[string]string{"bert": "bert", "gpt2": "transformer", "vit": "vit", "vit_mae": "vit"}

// resolve maps a checkpoint name to a model parameter ("" if none),
// adding or removing the base-model prefix as transformers does.
func (m *Model) resolve(n string, params map[string]bool, base string) string {
	// transformers 5 writes MAE decoder blocks under this name (its
	// reverse key mapping rewrites "layers" inside "decoder_layers"); the
	// published checkpoints and transformers 4 use decoder.decoder_layers.
	n = strings.Replace(n, "decoder.decoder_encoder.layer.", "decoder.decoder_layers.", 1)
	// TensorFlow-era BERT checkpoints (bert-base-uncased among them) name
	// LayerNorm parameters gamma and beta; from_pretrained renames them.
	if s, ok := strings.CutSuffix(n, ".gamma"); ok {
		n = s + ".weight"
	} else if s, ok := strings.CutSuffix(n, ".beta"); ok {
		n = s + ".bias"
	}
	switch {
	case params[n]:
		return n
	case m.Prefix != "" && params[base+n]:
		return base + n
	case m.Prefix == "" && strings.HasPrefix(n, base) && params[strings.TrimPrefix(n, base)]:
		return strings.TrimPrefix(n, base)
	}
	return ""
}

// shadowed reports whether parameter p is given by one of its Copies in
// the checkpoint, which wins over p's own name.
func (m *Model) shadowed(p string, ckpt map[string]*tensor.Tensor) bool {
	for alias, target := range m.Copies {
		if target == p && ckpt[alias] != nil {
			return true
		}
	}
	return false
}

// tiedOrBuffer reports checkpoint names that are known not to be
// parameters: tied aliases and registered buffers.
func tiedOrBuffer(m *Model, n, base string) bool {
	if _, ok := m.Tied[n]; ok {
		return true
	}
	if m.Config.ModelType == "gpt2" && n == "lm_head.weight" {
		return true
	}
	short := strings.TrimPrefix(n, base)
	if short == "embeddings.position_ids" {
		return true
	}
	if m.Config.ModelType == "gpt2" && strings.HasPrefix(short, "h.") && (strings.HasSuffix(short, ".attn.bias") || strings.HasSuffix(short, ".attn.masked_bias")) {
		return true
	}
	return false
}

func list(names []string) string {
	const most = 20
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:most], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-most)
}

// readCheckpoint reads every tensor of a single or sharded checkpoint.
func readCheckpoint(path string) (map[string]*tensor.Tensor, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("zoo: %w", err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, IndexFile)); err == nil {
			return readSharded(filepath.Join(path, IndexFile))
		}
		path = filepath.Join(path, WeightsFile)
		if _, err := os.Stat(path); err != nil {
			if _, binErr := os.Stat(filepath.Join(filepath.Dir(path), "pytorch_model.bin")); binErr == nil {
				return nil, fmt.Errorf("zoo: %s holds pytorch_model.bin, not safetensors; convert it (safetensors' convert script, or save_pretrained with safe_serialization)", filepath.Dir(path))
			}
		}
	} else if strings.HasSuffix(path, ".index.json") {
		return readSharded(path)
	}
	f, err := tensor.LoadSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("zoo: %w", err)
	}
	return f.Tensors, nil
}

type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// readSharded reads the shards an index names. Shard names must be local
// to the index's folder, also after resolving symbolic links.
func readSharded(index string) (map[string]*tensor.Tensor, error) {
	data, err := os.ReadFile(index)
	if err != nil {
		return nil, fmt.Errorf("zoo: %w", err)
	}
	var idx shardIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("zoo: %s: %w", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("zoo: %s: empty weight_map", index)
	}
	dir := filepath.Dir(index)
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("zoo: %w", err)
	}
	byShard := map[string][]string{}
	for name, file := range idx.WeightMap {
		byShard[file] = append(byShard[file], name)
	}
	shards := make([]string, 0, len(byShard))
	for f := range byShard {
		shards = append(shards, f)
	}
	sort.Strings(shards)
	out := map[string]*tensor.Tensor{}
	for _, file := range shards {
		if !filepath.IsLocal(file) {
			return nil, fmt.Errorf("zoo: %s: shard %q is not a file inside %s", index, file, dir)
		}
		p := filepath.Join(dir, file)
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, fmt.Errorf("zoo: %s: shard %q: %w", index, file, err)
		}
		if rel, err := filepath.Rel(realDir, real); err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("zoo: %s: shard %q resolves outside %s", index, file, dir)
		}
		st, err := tensor.LoadSafetensors(p)
		if err != nil {
			return nil, fmt.Errorf("zoo: %w", err)
		}
		for _, name := range byShard[file] {
			t, ok := st.Tensors[name]
			if !ok {
				return nil, fmt.Errorf("zoo: %s: weight_map puts %q in %s, which lacks it", index, name, file)
			}
			out[name] = t
		}
	}
	return out, nil
}

// SaveWeights writes the parameters into dir as transformers'
// save_pretrained does: model.safetensors with state_dict names and tied
// weights once, or, above DefaultMaxShardBytes, shards
// model-0000i-of-0000n.safetensors plus model.safetensors.index.json.
func SaveWeights(m *Model, dir string) error {
	return SaveWeightsSharded(m, dir, DefaultMaxShardBytes)
}

// SaveWeightsSharded is SaveWeights with the shard size (bytes) given. A
// shard holds tensors in state_dict order until the next would pass
// maxShard; a tensor larger than maxShard gets a shard of its own. Files of
// an earlier save into dir that this one does not write are removed.
func SaveWeightsSharded(m *Model, dir string, maxShard int64) error {
	if maxShard <= 0 {
		return fmt.Errorf("zoo: shard size %d must be positive", maxShard)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("zoo: %w", err)
	}
	tensors := map[string]*tensor.Tensor{}
	for _, in := range m.IR.Graph.Initializers {
		tensors[in.Name] = in.T
	}
	names := append([]string{}, m.Params...)
	for alias, p := range m.Copies {
		tensors[alias] = tensors[p]
		names = append(names, alias)
	}
	var shards [][]string
	var size, total int64
	for _, p := range names {
		t := tensors[p]
		if t == nil {
			return fmt.Errorf("zoo: parameter %q has no initializer", p)
		}
		n := int64(t.Len() * t.DType().Size())
		if len(shards) == 0 || (size+n > maxShard && size > 0) {
			shards = append(shards, nil)
			size = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], p)
		size += n
		total += n
	}
	meta := map[string]string{"format": "pt"}
	keep := map[string]bool{}
	if len(shards) <= 1 {
		keep[WeightsFile] = true
		if err := tensor.SaveSafetensors(filepath.Join(dir, WeightsFile), names, tensors, meta); err != nil {
			return fmt.Errorf("zoo: %w", err)
		}
	} else {
		idx := shardIndex{Metadata: map[string]any{"total_size": total}, WeightMap: map[string]string{}}
		for i, names := range shards {
			file := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
			keep[file] = true
			for _, n := range names {
				idx.WeightMap[n] = file
			}
			if err := tensor.SaveSafetensors(filepath.Join(dir, file), names, tensors, meta); err != nil {
				return fmt.Errorf("zoo: %w", err)
			}
		}
		data, err := json.MarshalIndent(idx, "", "  ")
		if err != nil {
			return err
		}
		keep[IndexFile] = true
		if err := tensor.WriteFileAtomic(filepath.Join(dir, IndexFile), func(w io.Writer) error {
			_, err := w.Write(append(data, '\n'))
			return err
		}); err != nil {
			return fmt.Errorf("zoo: %w", err)
		}
	}
	return removeStale(dir, keep)
}

// removeStale deletes weight files of an earlier save that would shadow or
// mix with this one (an index left beside a single file wins on load).
func removeStale(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("zoo: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		stale := n == WeightsFile || n == IndexFile || (strings.HasPrefix(n, "model-") && strings.Contains(n, "-of-") && strings.HasSuffix(n, ".safetensors"))
		if stale && !keep[n] && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("zoo: %w", err)
			}
		}
	}
	return nil
}

// SavePretrained writes config.json (architectures set to the model's
// class) and the weights, a folder transformers' from_pretrained loads.
func SavePretrained(m *Model, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("zoo: %w", err)
	}
	c := *m.Config
	c.Architectures = []string{m.Arch}
	if err := c.Save(dir); err != nil {
		return err
	}
	return SaveWeights(m, dir)
}
