package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzTokenizerJSON: Parse must never panic on garbage, and whatever it
// accepts must encode, decode and save without panicking.
func FuzzTokenizerJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "ByteLevel", "add_prefix_space": true}]}}`))
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1}, "max_input_chars_per_word": -1}, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}, "added_tokens": [{"id": 5, "content": "a", "normalized": true, "lstrip": true, "rstrip": true, "single_word": true}]}`))
	f.Add([]byte(`{"model": {"vocab": {}}, "post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "B", "type_id": 9}}], "pair": [], "special_tokens": {}}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Parse(data)
		if err != nil {
			return
		}
		for _, s := range []string{"", "a b", "Héllo, 世界! 😀 ab\t\n x", "[UNK]<|endoftext|>ab"} {
			e, err := tk.EncodeWith(s, s, true, true)
			if err != nil {
				continue
			}
			_ = tk.Decode(e.IDs, true)
			_ = tk.Decode(e.IDs, false)
			_ = tk.Encode(s)
		}
		if _, err := tk.EncodeBatch([]string{"a", "b c"}, BatchOptions{}); err != nil {
			_ = err
		}
		out, err := tk.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed tokenizer: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("saved tokenizer does not parse: %v\n%s", err, out)
		}
	})
}
