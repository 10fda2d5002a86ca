package zoo

import (
	"strings"
	"testing"
)

// Configs that are malformed or would allocate without bound are refused
// with an error naming the problem.
func TestHostileConfigs(t *testing.T) {
	cases := []struct{ json, want string }{
		{`{"model_type": "llama"}`, "supported: bert, gpt2, vit, vit_mae"},
		{`{}`, "model_type \"\" is not supported"},
		{`[1]`, "config.json"},
		{`{"model_type": "bert", "hidden_size": -5}`, "hidden_size = -5"},
		{`{"model_type": "bert", "hidden_size": 100, "num_attention_heads": 7}`, "not a multiple"},
		{`{"model_type": "bert", "vocab_size": 1e300}`, "vocab_size"},
		{`{"model_type": "bert", "vocab_size": 16000000, "hidden_size": 65536, "num_attention_heads": 1}`, "above the limit"},
		{`{"model_type": "bert", "num_hidden_layers": 1024, "hidden_size": 8192, "intermediate_size": 32768, "num_attention_heads": 64}`, "above the limit"},
		{`{"model_type": "bert", "hidden_size": "big"}`, "must be an integer"},
		{`{"model_type": "bert", "hidden_size": 76.5}`, "must be an integer"},
		{`{"model_type": "bert", "hidden_act": "mish"}`, "activation \"mish\""},
		{`{"model_type": "bert", "layer_norm_eps": 0}`, "epsilon"},
		{`{"model_type": "bert", "hidden_dropout_prob": 1.5}`, "dropout"},
		{`{"model_type": "bert", "pad_token_id": 40000}`, "pad_token_id"},
		{`{"model_type": "bert", "position_embedding_type": "relative_key"}`, "position_embedding_type"},
		{`{"model_type": "bert", "id2label": {"0": "a", "5": "b"}}`, "id2label key"},
		{`{"model_type": "bert", "problem_type": "ranking"}`, "problem_type"},
		{`{"model_type": "bert", "num_labels": 0}`, "num_labels"},
		{`{"model_type": "gpt2", "n_head": 5}`, "not a multiple"},
		{`{"model_type": "gpt2", "n_positions": 9999999999}`, "out of range"},
		{`{"model_type": "gpt2", "scale_attn_by_inverse_layer_idx": true}`, "not supported"},
		{`{"model_type": "vit", "patch_size": 300}`, "exceeds image_size"},
		{`{"model_type": "vit", "image_size": 0}`, "image_size = 0"},
		{`{"model_type": "vit_mae", "mask_ratio": 1}`, "mask_ratio"},
		{`{"model_type": "vit_mae", "image_size": 225}`, "multiple of patch_size"},
		{`{"model_type": "vit_mae", "decoder_hidden_size": 100, "decoder_num_attention_heads": 16}`, "decoder_hidden_size"},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.json, err, c.want)
		}
	}
}

// HF defaults fill missing keys; GPT-2 key names map to the common fields.
func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.IntermediateSize != 256 || c.HiddenAct != "gelu_new" || c.LayerNormEps != 1e-5 || c.MaxPositions != 1024 || c.VocabSize != 50257 {
		t.Errorf("gpt2 defaults: %+v", c)
	}
	c, err = ParseConfig([]byte(`{"model_type": "bert", "id2label": {"0": "x", "1": "y", "2": "z"}, "num_labels": 7}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.NumLabels != 3 || c.ID2Label[2] != "z" {
		t.Errorf("id2label decides num_labels: %d %v", c.NumLabels, c.ID2Label)
	}
	if _, err := Build(c, "GPT2LMHeadModel", BuildOptions{}); err == nil {
		t.Error("GPT-2 class built from a BERT config")
	}
	if _, err := Build(c, "BertModel", BuildOptions{Opset: 13}); err == nil {
		t.Error("opset 13 accepted")
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range tinyConfigs {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if _, err := c.Marshal(); err != nil {
			t.Fatal(err)
		}
	})
}
