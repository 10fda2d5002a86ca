package zoo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gort-ml/gort/tensor"
)

// Config is a Hugging Face config.json of a supported model type. Field
// names follow BertConfig; GPT-2's n_embd, n_layer, n_head, n_positions,
// n_inner, layer_norm_epsilon, activation_function and *_pdrop read into
// the same fields. Keys gort does not interpret are kept in Extra and
// written back unchanged by Marshal.
type Config struct {
	ModelType     string
	Architectures []string

	VocabSize        int
	HiddenSize       int
	NumLayers        int
	NumHeads         int
	IntermediateSize int // GPT-2: n_inner, 4*n_embd when null
	HiddenAct        string
	MaxPositions     int
	TypeVocabSize    int
	LayerNormEps     float64
	InitializerRange float64

	HiddenDropout    float64 // BERT/ViT hidden_dropout_prob; GPT-2 resid_pdrop
	AttentionDropout float64 // attention_probs_dropout_prob; GPT-2 attn_pdrop
	EmbeddingDropout float64 // GPT-2 embd_pdrop; BERT/ViT use HiddenDropout
	// ClassifierDropout is BERT's classifier_dropout; negative when null
	// (HiddenDropout applies then).
	ClassifierDropout float64

	NumLabels   int
	ID2Label    map[int]string
	ProblemType string // "", regression, single_label_classification, multi_label_classification

	TieWordEmbeddings bool
	PadTokenID        int // -1 when absent or null

	// ViT and ViT-MAE.
	ImageSize   int
	PatchSize   int
	NumChannels int
	QKVBias     bool

	// ViT-MAE.
	DecoderHiddenSize       int
	DecoderNumLayers        int
	DecoderNumHeads         int
	DecoderIntermediateSize int
	MaskRatio               float64
	NormPixLoss             bool

	// Extra holds the keys of config.json this type does not model.
	Extra map[string]json.RawMessage
}

// Model types ParseConfig accepts.
var modelTypes = []string{"bert", "gpt2", "vit", "vit_mae"}

// DefaultMaxParams bounds the parameters a config may describe (8 GB of
// float32), so that an untrusted config.json cannot make Build allocate
// without bound. BuildOptions.MaxParams raises it.
const DefaultMaxParams = 2_000_000_000

// Per-size sanity bounds, checked before any product is formed so that
// parameter counting cannot overflow.
const (
	maxVocab     = 1 << 24
	maxHidden    = 1 << 16
	maxLayers    = 1 << 10
	maxFFN       = 1 << 18
	maxPositions = 1 << 20
	maxLabels    = 1 << 20
	maxImage     = 1 << 14
	maxChannels  = 1 << 10
)

// ParseConfig decodes and validates a config.json. Missing keys take the
// defaults of the transformers config class of the model_type. It fails on
// unknown model types, invalid or oversized dimensions, and on configs
// whose largest supported architecture would exceed DefaultMaxParams.
func ParseConfig(data []byte) (*Config, error) {
	raw := map[string]json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("zoo: config.json: %w", err)
	}
	c := &Config{Extra: map[string]json.RawMessage{}}
	r := reader{raw: raw, used: map[string]bool{}}
	c.ModelType = r.str("model_type", "")
	if !supported(c.ModelType) {
		return nil, fmt.Errorf("zoo: model_type %q is not supported; supported: %s", c.ModelType, strings.Join(modelTypes, ", "))
	}
	r.strings("architectures", &c.Architectures)
	switch c.ModelType {
	case "bert":
		c.readBERT(&r)
	case "gpt2":
		c.readGPT2(&r)
	case "vit", "vit_mae":
		c.readViT(&r)
	}
	c.readLabels(&r)
	if r.err != nil {
		return nil, fmt.Errorf("zoo: config.json: %w", r.err)
	}
	for k, v := range raw {
		if !r.used[k] {
			c.Extra[k] = v
		}
	}
	if err := c.Validate(DefaultMaxParams); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadConfig reads and parses path (a config.json or a folder holding one).
func LoadConfig(path string) (*Config, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("zoo: %w", err)
	}
	return ParseConfig(data)
}

func supported(t string) bool {
	for _, m := range modelTypes {
		if m == t {
			return true
		}
	}
	return false
}

func (c *Config) readBERT(r *reader) {
	c.VocabSize = r.int("vocab_size", 30522)
	c.HiddenSize = r.int("hidden_size", 768)
	c.NumLayers = r.int("num_hidden_layers", 12)
	c.NumHeads = r.int("num_attention_heads", 12)
	c.IntermediateSize = r.int("intermediate_size", 3072)
	c.HiddenAct = r.str("hidden_act", "gelu")
	c.HiddenDropout = r.float("hidden_dropout_prob", 0.1)
	c.AttentionDropout = r.float("attention_probs_dropout_prob", 0.1)
	c.EmbeddingDropout = c.HiddenDropout
	c.ClassifierDropout = r.float("classifier_dropout", -1)
	c.MaxPositions = r.int("max_position_embeddings", 512)
	c.TypeVocabSize = r.int("type_vocab_size", 2)
	c.InitializerRange = r.float("initializer_range", 0.02)
	c.LayerNormEps = r.float("layer_norm_eps", 1e-12)
	c.PadTokenID = r.int("pad_token_id", 0)
	c.TieWordEmbeddings = r.bool("tie_word_embeddings", true)
	if pe := r.str("position_embedding_type", "absolute"); pe != "absolute" {
		r.fail(fmt.Errorf("position_embedding_type %q is not supported (only absolute)", pe))
	}
}

func (c *Config) readGPT2(r *reader) {
	c.VocabSize = r.int("vocab_size", 50257)
	c.MaxPositions = r.int("n_positions", 1024)
	c.HiddenSize = r.int("n_embd", 768)
	c.NumLayers = r.int("n_layer", 12)
	c.NumHeads = r.int("n_head", 12)
	c.IntermediateSize = r.int("n_inner", -1)
	if c.IntermediateSize == -1 && c.HiddenSize <= maxHidden {
		c.IntermediateSize = 4 * c.HiddenSize
	}
	c.HiddenAct = r.str("activation_function", "gelu_new")
	c.HiddenDropout = r.float("resid_pdrop", 0.1)
	c.EmbeddingDropout = r.float("embd_pdrop", 0.1)
	c.AttentionDropout = r.float("attn_pdrop", 0.1)
	c.LayerNormEps = r.float("layer_norm_epsilon", 1e-5)
	c.InitializerRange = r.float("initializer_range", 0.02)
	c.TieWordEmbeddings = r.bool("tie_word_embeddings", true)
	c.PadTokenID = r.int("pad_token_id", -1)
	c.ClassifierDropout = -1
	r.int("n_ctx", 0) // legacy alias of n_positions, kept in HF form by Marshal
	if r.bool("scale_attn_by_inverse_layer_idx", false) || r.bool("reorder_and_upcast_attn", false) || !r.bool("scale_attn_weights", true) {
		r.fail(fmt.Errorf("scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn and scale_attn_weights=false are not supported"))
	}
	if !c.TieWordEmbeddings {
		r.fail(fmt.Errorf("tie_word_embeddings=false is not supported for gpt2 (GPT2LMHeadModel ties lm_head to wte)"))
	}
}

func (c *Config) readViT(r *reader) {
	c.HiddenSize = r.int("hidden_size", 768)
	c.NumLayers = r.int("num_hidden_layers", 12)
	c.NumHeads = r.int("num_attention_heads", 12)
	c.IntermediateSize = r.int("intermediate_size", 3072)
	c.HiddenAct = r.str("hidden_act", "gelu")
	c.HiddenDropout = r.float("hidden_dropout_prob", 0)
	c.AttentionDropout = r.float("attention_probs_dropout_prob", 0)
	c.EmbeddingDropout = c.HiddenDropout
	c.ClassifierDropout = -1
	c.InitializerRange = r.float("initializer_range", 0.02)
	c.LayerNormEps = r.float("layer_norm_eps", 1e-12)
	c.ImageSize = r.int("image_size", 224)
	c.PatchSize = r.int("patch_size", 16)
	c.NumChannels = r.int("num_channels", 3)
	c.QKVBias = r.bool("qkv_bias", true)
	c.PadTokenID = -1
	if c.ModelType == "vit_mae" {
		c.DecoderNumHeads = r.int("decoder_num_attention_heads", 16)
		c.DecoderHiddenSize = r.int("decoder_hidden_size", 512)
		c.DecoderNumLayers = r.int("decoder_num_hidden_layers", 8)
		c.DecoderIntermediateSize = r.int("decoder_intermediate_size", 2048)
		c.MaskRatio = r.float("mask_ratio", 0.75)
		c.NormPixLoss = r.bool("norm_pix_loss", false)
	}
}

// readLabels follows PretrainedConfig: id2label, when present, decides
// num_labels.
func (c *Config) readLabels(r *reader) {
	c.ProblemType = r.str("problem_type", "")
	c.NumLabels = r.int("num_labels", 2)
	if msg, ok := r.raw["id2label"]; ok && string(msg) != "null" {
		r.used["id2label"] = true
		m := map[string]string{}
		if err := json.Unmarshal(msg, &m); err != nil {
			r.fail(fmt.Errorf("id2label: %v", err))
			return
		}
		if len(m) > maxLabels {
			r.fail(fmt.Errorf("id2label has %d labels, more than %d", len(m), maxLabels))
			return
		}
		c.ID2Label = map[int]string{}
		for k, v := range m {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(m) {
				r.fail(fmt.Errorf("id2label key %q is not a label index in [0, %d)", k, len(m)))
				return
			}
			c.ID2Label[i] = v
		}
		c.NumLabels = len(m)
	}
	r.used["label2id"] = true // derived from id2label on output
	switch c.ProblemType {
	case "", "regression", "single_label_classification", "multi_label_classification":
	default:
		r.fail(fmt.Errorf("problem_type %q is not one of regression, single_label_classification, multi_label_classification", c.ProblemType))
	}
}

// Validate checks every size and that the largest architecture of the
// model type has at most maxParams parameters (0: DefaultMaxParams).
func (c *Config) Validate(maxParams int64) error {
	if maxParams <= 0 {
		maxParams = DefaultMaxParams
	}
	var errs []string
	check := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Sprintf("%s = %d outside [%d, %d]", name, v, lo, hi))
		}
	}
	prob := func(name string, v float64) {
		if !(v >= 0 && v < 1) {
			errs = append(errs, fmt.Sprintf("%s = %v outside [0, 1)", name, v))
		}
	}
	check("hidden_size", c.HiddenSize, 1, maxHidden)
	check("num_hidden_layers", c.NumLayers, 0, maxLayers)
	check("num_attention_heads", c.NumHeads, 1, maxHidden)
	check("intermediate_size", c.IntermediateSize, 1, maxFFN)
	check("num_labels", c.NumLabels, 1, maxLabels)
	if c.NumHeads > 0 && c.HiddenSize%c.NumHeads != 0 {
		errs = append(errs, fmt.Sprintf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumHeads))
	}
	if _, ok := activations[c.HiddenAct]; !ok {
		errs = append(errs, fmt.Sprintf("activation %q is not supported; supported: %s", c.HiddenAct, strings.Join(activationNames(), ", ")))
	}
	if !(c.LayerNormEps > 0 && c.LayerNormEps < 1) {
		errs = append(errs, fmt.Sprintf("layer norm epsilon %v outside (0, 1)", c.LayerNormEps))
	}
	if !(c.InitializerRange >= 0 && c.InitializerRange <= 10) {
		errs = append(errs, fmt.Sprintf("initializer_range %v outside [0, 10]", c.InitializerRange))
	}
	prob("hidden dropout", c.HiddenDropout)
	prob("attention dropout", c.AttentionDropout)
	prob("embedding dropout", c.EmbeddingDropout)
	if c.ClassifierDropout >= 0 {
		prob("classifier_dropout", c.ClassifierDropout)
	}
	switch c.ModelType {
	case "bert", "gpt2":
		check("vocab_size", c.VocabSize, 1, maxVocab)
		check("max_position_embeddings", c.MaxPositions, 1, maxPositions)
		if c.ModelType == "bert" {
			check("type_vocab_size", c.TypeVocabSize, 1, maxVocab)
		}
		if c.PadTokenID >= c.VocabSize {
			errs = append(errs, fmt.Sprintf("pad_token_id %d is not below vocab_size %d", c.PadTokenID, c.VocabSize))
		}
	case "vit", "vit_mae":
		check("image_size", c.ImageSize, 1, maxImage)
		check("patch_size", c.PatchSize, 1, maxImage)
		check("num_channels", c.NumChannels, 1, maxChannels)
		if c.PatchSize > c.ImageSize {
			errs = append(errs, fmt.Sprintf("patch_size %d exceeds image_size %d", c.PatchSize, c.ImageSize))
		}
		if c.ModelType == "vit_mae" {
			check("decoder_hidden_size", c.DecoderHiddenSize, 1, maxHidden)
			check("decoder_num_hidden_layers", c.DecoderNumLayers, 0, maxLayers)
			check("decoder_num_attention_heads", c.DecoderNumHeads, 1, maxHidden)
			check("decoder_intermediate_size", c.DecoderIntermediateSize, 1, maxFFN)
			if c.DecoderNumHeads > 0 && c.DecoderHiddenSize%c.DecoderNumHeads != 0 {
				errs = append(errs, fmt.Sprintf("decoder_hidden_size %d is not a multiple of decoder_num_attention_heads %d", c.DecoderHiddenSize, c.DecoderNumHeads))
			}
			if c.PatchSize > 0 && c.ImageSize%c.PatchSize != 0 {
				errs = append(errs, fmt.Sprintf("image_size %d is not a multiple of patch_size %d (MAE patchifies the target)", c.ImageSize, c.PatchSize))
			}
			prob("mask_ratio", c.MaskRatio)
		}
	default:
		errs = append(errs, fmt.Sprintf("model_type %q is not supported; supported: %s", c.ModelType, strings.Join(modelTypes, ", ")))
	}
	if len(errs) > 0 {
		return fmt.Errorf("zoo: invalid %s config: %s", c.ModelType, strings.Join(errs, "; "))
	}
	var most int64
	for _, a := range Architectures(c.ModelType) {
		n, err := c.ParamCount(a)
		if err != nil {
			return err
		}
		most = max(most, n)
	}
	if most > maxParams {
		return fmt.Errorf("zoo: config describes %d parameters (%.1f GB of float32), above the limit of %d; raise BuildOptions.MaxParams if this is intended", most, float64(most)*4/1e9, maxParams)
	}
	return nil
}

// Marshal encodes the config as Hugging Face writes config.json (GPT-2
// under its own key names), with the Extra keys restored.
func (c *Config) Marshal() ([]byte, error) {
	out := map[string]any{}
	for k, v := range c.Extra {
		out[k] = v
	}
	out["model_type"] = c.ModelType
	if c.Architectures != nil {
		out["architectures"] = c.Architectures
	}
	set := func(kv ...any) {
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	switch c.ModelType {
	case "bert":
		set("vocab_size", c.VocabSize, "hidden_size", c.HiddenSize, "num_hidden_layers", c.NumLayers,
			"num_attention_heads", c.NumHeads, "intermediate_size", c.IntermediateSize, "hidden_act", c.HiddenAct,
			"hidden_dropout_prob", c.HiddenDropout, "attention_probs_dropout_prob", c.AttentionDropout,
			"max_position_embeddings", c.MaxPositions, "type_vocab_size", c.TypeVocabSize,
			"initializer_range", c.InitializerRange, "layer_norm_eps", c.LayerNormEps,
			"pad_token_id", c.PadTokenID, "position_embedding_type", "absolute", "tie_word_embeddings", c.TieWordEmbeddings)
		if c.ClassifierDropout >= 0 {
			set("classifier_dropout", c.ClassifierDropout)
		} else {
			set("classifier_dropout", nil)
		}
	case "gpt2":
		set("vocab_size", c.VocabSize, "n_positions", c.MaxPositions, "n_embd", c.HiddenSize, "n_layer", c.NumLayers,
			"n_head", c.NumHeads, "n_inner", c.IntermediateSize, "activation_function", c.HiddenAct,
			"resid_pdrop", c.HiddenDropout, "embd_pdrop", c.EmbeddingDropout, "attn_pdrop", c.AttentionDropout,
			"layer_norm_epsilon", c.LayerNormEps, "initializer_range", c.InitializerRange, "tie_word_embeddings", c.TieWordEmbeddings)
		if c.IntermediateSize == 4*c.HiddenSize {
			set("n_inner", nil)
		}
		if c.PadTokenID >= 0 {
			set("pad_token_id", c.PadTokenID)
		}
	case "vit", "vit_mae":
		set("hidden_size", c.HiddenSize, "num_hidden_layers", c.NumLayers, "num_attention_heads", c.NumHeads,
			"intermediate_size", c.IntermediateSize, "hidden_act", c.HiddenAct, "hidden_dropout_prob", c.HiddenDropout,
			"attention_probs_dropout_prob", c.AttentionDropout, "initializer_range", c.InitializerRange,
			"layer_norm_eps", c.LayerNormEps, "image_size", c.ImageSize, "patch_size", c.PatchSize,
			"num_channels", c.NumChannels, "qkv_bias", c.QKVBias)
		if c.ModelType == "vit_mae" {
			set("decoder_num_attention_heads", c.DecoderNumHeads, "decoder_hidden_size", c.DecoderHiddenSize,
				"decoder_num_hidden_layers", c.DecoderNumLayers, "decoder_intermediate_size", c.DecoderIntermediateSize,
				"mask_ratio", c.MaskRatio, "norm_pix_loss", c.NormPixLoss)
		}
	}
	if c.ProblemType != "" {
		set("problem_type", c.ProblemType)
	}
	id2 := map[string]string{}
	label2 := map[string]int{}
	for i := 0; i < c.NumLabels; i++ {
		name, ok := c.ID2Label[i]
		if !ok {
			name = fmt.Sprintf("LABEL_%d", i)
		}
		id2[strconv.Itoa(i)] = name
		label2[name] = i
	}
	set("id2label", id2, "label2id", label2)
	delete(out, "num_labels") // implied by id2label, as HF writes it
	return json.MarshalIndent(sortedMap(out), "", "  ")
}

// Save writes config.json into dir.
func (c *Config) Save(dir string) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	return tensor.WriteFileAtomic(filepath.Join(dir, "config.json"), func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// sortedMap marshals with sorted keys (encoding/json sorts map keys already;
// the type only documents the intent).
type sortedMap map[string]any

func (m sortedMap) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m[k])
		if err != nil {
			return nil, fmt.Errorf("zoo: config key %q: %w", k, err)
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// reader decodes typed keys of a config.json, recording the first error
// and the keys it consumed.
type reader struct {
	raw  map[string]json.RawMessage
	used map[string]bool
	err  error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) get(key string) (json.RawMessage, bool) {
	msg, ok := r.raw[key]
	r.used[key] = true
	if !ok || string(msg) == "null" {
		return nil, false
	}
	return msg, true
}

func (r *reader) int(key string, def int) int {
	msg, ok := r.get(key)
	if !ok {
		return def
	}
	var n json.Number
	if err := json.Unmarshal(msg, &n); err != nil {
		r.fail(fmt.Errorf("%s must be an integer: %s", key, msg))
		return def
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			r.fail(fmt.Errorf("%s must be an integer: %s", key, msg))
			return def
		}
		v = int64(f)
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		r.fail(fmt.Errorf("%s = %d is out of range", key, v))
		return def
	}
	return int(v)
}

func (r *reader) float(key string, def float64) float64 {
	msg, ok := r.get(key)
	if !ok {
		return def
	}
	var f float64
	if err := json.Unmarshal(msg, &f); err != nil {
		r.fail(fmt.Errorf("%s must be a number: %s", key, msg))
		return def
	}
	return f
}

func (r *reader) bool(key string, def bool) bool {
	msg, ok := r.get(key)
	if !ok {
		return def
	}
	var b bool
	if err := json.Unmarshal(msg, &b); err != nil {
		r.fail(fmt.Errorf("%s must be true or false: %s", key, msg))
		return def
	}
	return b
}

func (r *reader) str(key, def string) string {
	msg, ok := r.get(key)
	if !ok {
		return def
	}
	var s string
	if err := json.Unmarshal(msg, &s); err != nil {
		r.fail(fmt.Errorf("%s must be a string: %s", key, msg))
		return def
	}
	return s
}

func (r *reader) strings(key string, dst *[]string) {
	msg, ok := r.get(key)
	if !ok {
		return
	}
	if err := json.Unmarshal(msg, dst); err != nil {
		r.fail(fmt.Errorf("%s must be a list of strings: %s", key, msg))
	}
}
